/* cmd_wipe.c: `nmmm-agent wipe --disks LIST --yes [--discard] [--target DIR]` — tears down and
 * wipes the named disks and only those. Without --yes it lists the disks (with serials) and
 * exits 3 having written nothing. The disks are resolved against the inventory; the work is the
 * disk library's teardown and wipe, the same functions install runs. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "agent/disk-phases.h"
#include "agent/pipeline.h"
#include "disk/disk.h"

static const char wipe_help[] =
    "usage: nmmm-agent wipe --disks LIST --yes [--discard] [--target DIR]\n\n"
    "Tears down everything on the named disks and removes every signature from them, and touches\n"
    "no other disk: unmounts the agent's own target tree (a mount anywhere else is a refusal),\n"
    "swapoff, closes LUKS/dm, deactivates LVM, stops md arrays, then wipes partitions and disks\n"
    "(GPT both copies, MBR, md superblocks, LVM, LUKS, filesystems) and probes them again.\n\n"
    "  --disks LIST   comma-separated: kernel names (sda), /dev paths, /dev/disk/by-id links, serial:X\n"
    "  --yes          really erase them; without it the disks are listed and nothing is changed\n"
    "  --discard      also discard (TRIM) the whole disk when it supports it (SSD, NVMe)\n"
    "  --target DIR   the agent's own mount tree, unmounted when on these disks (default " AGENT_DEFAULT_TARGET ")\n\n"
    "exit 3 when not confirmed or a disk is in use; docs/disk-safety.md explains each refusal.\n";

static int resolve_disks(const struct disk_inventory *inv, char *const *specs, struct disk_plan *plan,
			 struct nm_error *e)
{
	size_t n = nm_strv_len(specs);
	plan->disks = calloc(n ? n : 1, sizeof *plan->disks);
	if (!plan->disks)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "wipe: out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct disk_info *d = disk_find(inv, specs[i]);
		if (!d)
			return nm_fail(e, NM_ERR_USAGE, ENODEV,
				       "wipe: --disks \"%s\" is not a whole disk here; list them with 'nmmm-agent "
				       "detect' and name one by kernel name, /dev path, by-id link or serial:SERIAL",
				       specs[i]);
		for (size_t j = 0; j < plan->n_disks; j++)
			if (strcmp(plan->disks[j].name, d->name) == 0)
				return nm_fail(e, NM_ERR_USAGE, EINVAL,
					       "wipe: --disks names %s twice; name each disk once", d->name);
		/* Borrowed from the inventory, which outlives the plan. */
		plan->disks[plan->n_disks++] = (struct disk_member_plan){
		    .name = d->name,
		    .path = d->path,
		    .by_id = d->by_id,
		    .serial = d->serial,
		    .model = d->model,
		    .size_bytes = d->size_bytes,
		    .logical_sector_size = d->logical_sector_size,
		    .wwid = d->wwid,
		    .diskseq = d->diskseq,
		};
	}
	return 0;
}

int agent_cmd_wipe(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"disks", required_argument, NULL, 'd'}, {"yes", no_argument, NULL, 'y'},
	    {"discard", no_argument, NULL, 'D'},     {"target", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},	     {0},
	};
	const char *disks = NULL;
	struct disk_run_opts o = {.root = ctx->g.root, .target = AGENT_DEFAULT_TARGET};
	bool yes = false;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': disks = optarg; break;
		case 'y': yes = true; break;
		case 'D': o.discard = true; break;
		case 't': o.target = optarg; break;
		case 'h': return fputs(wipe_help, stdout), 0;
		default:
			return agent_usage_error(e, "wipe", "wipe: unknown or incomplete option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "wipe", "wipe: unexpected argument '%s'", argv[optind]);
	if (!disks || !*disks)
		return agent_usage_error(e, "wipe", "wipe: --disks LIST is required; wipe never picks disks itself");
	if (agent_disk_target_check("wipe", o.target, e) < 0 || disk_host_root_check(ctx->g.root, "wipe", e) < 0)
		return e->code;

	_cleanup_disk_config_ struct disk_config cfg = {0};
	_cleanup_disk_inventory_ struct disk_inventory inv = {0};
	struct disk_plan plan = {0};
	int r = disk_config_init(&cfg);
	if (r < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, r, "wipe: out of memory");
	if (r == 0)
		r = disk_config_set_disks(&cfg, disks, e);
	if (r == 0)
		r = disk_inventory_read(ctx->g.root, &inv, e);
	if (r == 0)
		r = resolve_disks(&inv, cfg.disks, &plan, e);
	if (r == 0)
		agent_disk_confirm_print(&plan, &inv);
	/* Refusals (mounted elsewhere, running system) come before the confirmation question. */
	if (r == 0)
		r = disk_teardown_check(&plan, &o, e);
	if (r == 0 && !yes)
		r = agent_disk_unconfirmed("wipe", e);
	/* The runner locks the disks and, under the lock, checks the ones listed above are still the
	 * ones about to be erased. */
	struct disk_lock lock = {0};
	o.lock = &lock;
	struct agent_pipeline p = {
	    .ctx = ctx, .command = AGENT_FOR_WIPE, .plan = &plan, .disk = o, .teardown_checked = true};
	if (r == 0)
		r = agent_pipeline_run(&p, e);
	if (r == 0)
		printf("wiped: no signature left on %zu disk(s)\n", plan.n_disks);
	free(plan.disks); /* the plan's members are the inventory's names, not its own */
	return r < 0 ? r : 0;
}
