/* cmd_layout.c: `nmmm-agent layout` — the disk phases of install and nothing else (its slice of
 * pipeline.c's table), stopping cleanly after --until PHASE. For rehearsing a
 * layout in QEMU or on spare disks without fetching or installing. Without --yes it lists the
 * disks and exits 3 having written nothing. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "agent/disk-phases.h"
#include "agent/pipeline.h"
#include "disk/disk.h"
#include "netcfg/netcfg.h"

static void print_help(void)
{
	_cleanup_free_ char *bar = agent_phase_list(AGENT_FOR_LAYOUT, "|");
	fputs("usage: nmmm-agent layout [--config FILE] [--disks LIST] --yes [--until PHASE] [--target DIR]\n\n"
	      "Plans the layout (as 'nmmm-agent plan' shows it), then erases the planned disks and builds it:\n",
	      stdout);
	agent_phase_list_print(stdout, AGENT_FOR_LAYOUT, "", ", ", "", 96);
	printf(" (under --target). Nothing is fetched or installed.\n\n"
	       "  --config FILE   layout config (JSON, docs/disk-layout.md)\n"
	       "  --disks LIST    comma-separated disks: kernel names, /dev paths, by-id links, serial:X\n"
	       "  --yes           really erase the disks; without it the plan is listed and nothing is changed\n"
	       "  --until PHASE   stop after %s (default %s)\n"
	       "  --target DIR    where the new filesystems are mounted (default " AGENT_DEFAULT_TARGET ")\n",
	       bar ? bar : "", agent_phase_name((size_t)agent_phase_last(AGENT_FOR_LAYOUT)));
}

static void print_layout(const struct disk_plan *plan)
{
	for (size_t i = 0; i < plan->n_disks; i++)
		for (size_t j = 0; j < plan->disks[i].n_parts; j++) {
			const struct disk_part_plan *q = &plan->disks[i].parts[j];
			printf("  new %-16s %8llu MiB at %8llu MiB  %s\n", q->path, (unsigned long long)(q->size >> 20),
			       (unsigned long long)(q->start >> 20), q->name ? q->name : "");
		}
	for (size_t i = 0; i < plan->n_arrays; i++)
		printf("  new array %s raid%u\n", plan->arrays[i].device, plan->arrays[i].level);
	for (size_t i = 0; i < plan->n_filesystems; i++)
		printf("  new %s on %s, UUID %s, %s\n", plan->filesystems[i].fstype, plan->filesystems[i].device,
		       plan->filesystems[i].uuid,
		       plan->filesystems[i].mountpoint ? plan->filesystems[i].mountpoint : "not mounted");
	printf("('nmmm-agent plan' with the same options shows every detail)\n");
}

static int run_phases(struct agent_ctx *ctx, const struct disk_plan *plan, const struct disk_run_opts *opts,
		      const char *until, struct nm_error *e)
{
	struct disk_raid_throttle throttle = {0};
	struct disk_lock lock = {0};
	struct agent_pipeline p = {
	    .ctx = ctx,
	    .command = AGENT_FOR_LAYOUT,
	    .until = until,
	    .plan = plan,
	    .disk = *opts,
	    .teardown_checked = true, /* just before the confirmation */
	};
	p.disk.throttle = &throttle;
	p.disk.lock = &lock;
	int r = agent_pipeline_run(&p, e);
	/* layout installs nothing: the resync may run at full speed again. */
	struct nm_error restore_err = {0};
	if (disk_raid_unthrottle(&p.disk, &throttle, &restore_err) < 0)
		nm_warn("%s", restore_err.msg);
	bool mounted = agent_phase_index(until) == agent_phase_last(AGENT_FOR_LAYOUT);
	if (r == 0)
		printf("layout: done through %s%s%s\n", until, mounted ? ", mounted under " : "",
		       mounted ? opts->target : "");
	return r;
}

int agent_cmd_layout(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"disks", required_argument, NULL, 'd'},
	    {"yes", no_argument, NULL, 'y'},
	    {"until", required_argument, NULL, 'u'},
	    {"target", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *disks = NULL;
	const char *until = agent_phase_name((size_t)agent_phase_last(AGENT_FOR_LAYOUT));
	struct disk_run_opts o = {.root = ctx->g.root, .target = AGENT_DEFAULT_TARGET};
	bool yes = false;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': disks = optarg; break;
		case 'y': yes = true; break;
		case 'u': until = optarg; break;
		case 't': o.target = optarg; break;
		case 'h': print_help(); return 0;
		default:
			return agent_usage_error(e, "layout", "layout: unknown or incomplete option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "layout", "layout: unexpected argument '%s'", argv[optind]);
	int last = agent_phase_until(AGENT_FOR_LAYOUT, "layout", until, e);
	if (last < 0)
		return e->code;
	if (agent_disk_target_check("layout", o.target, e) < 0 || disk_host_root_check(ctx->g.root, "layout", e) < 0)
		return e->code;
	o.mounts_target = last >= agent_phase_index("mount");

	_cleanup_disk_config_ struct disk_config cfg = {0};
	_cleanup_disk_inventory_ struct disk_inventory inv = {0};
	_cleanup_disk_plan_ struct disk_plan plan = {0};
	_cleanup_agent_config_ struct agent_config file = {0};
	int r = disk_config_init(&cfg);
	if (r < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, r, "layout: out of memory");
	if (r == 0)
		r = agent_config_read(config, &file, e);
	if (r == 0)
		r = agent_config_disk(&file, &cfg, e);
	if (r == 0)
		r = agent_config_pins_check(&file, e); /* the pins are install's, the file is one */
	if (r == 0 && disks)
		r = disk_config_set_disks(&cfg, disks, e);
	if (r == 0) {
		free(cfg.target);
		cfg.target = strdup(o.target);
		if (!cfg.target)
			r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "layout: out of memory");
	}
	if (r == 0)
		r = disk_inventory_read(ctx->g.root, &inv, e);
	if (r == 0)
		r = disk_plan_make(&inv, &cfg, inv.uefi, &plan, e);
	if (r == 0) {
		/* The plan (with its UUIDs, fresh each run) in the event stream, for scripts and tests. */
		json_object *f = json_object_new_object();
		json_object_object_add(f, "plan", disk_plan_to_json(&plan));
		agent_event(ctx, "plan", "done", f);
		agent_disk_confirm_print(&plan, &inv);
		print_layout(&plan);
		r = disk_teardown_check(&plan, &o, e);
	}
	/* An array this kernel cannot build must fail before the disks are erased. */
	if (r == 0 && last >= agent_phase_index("raid"))
		r = disk_raid_check(&plan, &o, e);
	if (r == 0 && !yes)
		r = agent_disk_unconfirmed("layout", e);
	if (r == 0)
		r = run_phases(ctx, &plan, &o, until, e);
	return r < 0 ? r : 0;
}
