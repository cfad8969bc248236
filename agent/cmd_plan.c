/* cmd_plan.c: `nmmm-agent plan [--config FILE] [--disks LIST] [--json]` — reads the disk
 * inventory and the boot mode, makes the plan and shows it: the disks that WILL BE ERASED
 * (serial, model, size), their partitions, the arrays and the filesystems. It changes nothing
 * and opens no disk for writing. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "disk/disk.h"
#include "netcfg/netcfg.h"

static const char plan_help[] =
    "usage: nmmm-agent plan [--config FILE] [--disks LIST] [--json]\n\n"
    "Shows what install would do to the disks, and changes nothing: which disks will be erased\n"
    "(with serial and model), the GPT partitions on each, the md arrays, the filesystems and\n"
    "their mountpoints, with the UUIDs that install will use.\n\n"
    "  --config FILE   layout config (JSON): disks, raid_level, filesystem, swap_size, esp_size,\n"
    "                  extra_partitions, homehost, hostname (docs/disk-layout.md)\n"
    "  --disks LIST    comma-separated disks: nvme0n1, /dev/sda, /dev/disk/by-id/..., serial:XYZ\n"
    "                  (overrides the config's disks). Without it, exactly two eligible disks\n"
    "                  of similar size are taken as a RAID-1 pair; anything else needs --disks.\n"
    "  --json          the plan as one JSON object on stdout\n\n"
    "exit codes: 2 bad option or config, 3 a named disk is in use or unsuitable\n";

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static double gib(uint64_t bytes)
{
	return (double)bytes / (double)(1ull << 30);
}

static const char *role_name(enum disk_part_role r)
{
	switch (r) {
	case DISK_PART_BIOS_BOOT: return "BIOS boot";
	case DISK_PART_ESP: return "EFI system";
	case DISK_PART_SWAP: return "swap";
	case DISK_PART_ROOT: return "root";
	case DISK_PART_EXTRA: return "extra";
	}
	return "?";
}

static void print_human(const struct disk_plan *p)
{
	printf("boot mode: %s; md homehost: %s\n\n", p->uefi ? "UEFI" : "BIOS", or_dash(p->homehost));
	printf("THESE DISKS WILL BE ERASED:\n");
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *m = &p->disks[i];
		printf("  %-10s %9.1f GiB  serial %-20s model %s\n", m->name, gib(m->size_bytes), or_dash(m->serial),
		       or_dash(m->model));
	}
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *m = &p->disks[i];
		printf("\n%s (GPT, %u-byte sectors):\n", m->name, m->logical_sector_size);
		printf("  %-3s %-18s %12s %12s  %-11s %s\n", "#", "PARTITION", "START MiB", "SIZE MiB", "USE", "NAME");
		for (size_t j = 0; j < m->n_parts; j++) {
			const struct disk_part_plan *q = &m->parts[j];
			printf("  %-3u %-18s %12llu %12llu  %-11s %s\n", q->number, q->path,
			       (unsigned long long)(q->start >> 20), (unsigned long long)(q->size >> 20),
			       role_name(q->role), or_dash(q->name));
		}
	}
	if (p->n_arrays)
		printf("\n%-16s %-6s %-38s %s\n", "ARRAY", "LEVEL", "UUID", "MEMBERS");
	for (size_t i = 0; i < p->n_arrays; i++) {
		const struct disk_array_plan *a = &p->arrays[i];
		printf("%-16s raid%-2u %-38s", a->device, a->level, a->uuid);
		for (size_t j = 0; a->members && a->members[j]; j++)
			printf(" %s", a->members[j]);
		printf("\n");
	}
	printf("\n%-18s %-6s %-38s %-8s %s\n", "FILESYSTEM ON", "TYPE", "UUID", "LABEL", "MOUNTPOINT");
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *f = &p->filesystems[i];
		printf("%-18s %-6s %-38s %-8s %s\n", f->device, f->fstype, f->uuid, or_dash(f->label),
		       f->mountpoint ? f->mountpoint : (strcmp(f->fstype, "swap") == 0 ? "(swap)" : "(not mounted)"));
	}
	printf("\nnothing was changed; 'nmmm-agent install --yes' with the same options does this.\n");
}

/* {"erases": [{"name", "serial"}, ...]} for the done event. */
static json_object *erased_disks(const struct disk_plan *p)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	for (size_t i = 0; i < p->n_disks; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "name", json_object_new_string(p->disks[i].name));
		json_object_object_add(d, "serial",
				       p->disks[i].serial ? json_object_new_string(p->disks[i].serial) : NULL);
		json_object_array_add(a, d);
	}
	json_object_object_add(o, "erases", a);
	return o;
}

/* BOOTIF= cross-checks the uplink install would pick by itself: a disagreement is a warning and
 * the plan stands. The network is otherwise not plan's business, so a failed read is only logged. */
static void warn_bootif(const char *root)
{
	_cleanup_net_inventory_ struct net_inventory net = {0};
	struct nm_error ne = {0};
	const struct net_nic *uplink = NULL;
	if (net_inventory_read(root, &net, &ne) < 0 || net_uplink_select(&net, NULL, &uplink, &ne) < 0) {
		nm_debug("plan: no uplink to cross-check with BOOTIF: %s", ne.msg);
		return;
	}
	_cleanup_free_ char *w = net_bootif_disagreement(&net, uplink);
	if (w)
		nm_warn("%s", w);
}

int agent_cmd_plan(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"disks", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *disks = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'd': disks = optarg; break;
		case 'j': json = true; break;
		case 'h': return fputs(plan_help, stdout), 0;
		default:
			return agent_usage_error(e, "plan", "plan: unknown or incomplete option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "plan", "plan: unexpected argument '%s'", argv[optind]);

	_cleanup_disk_config_ struct disk_config cfg = {0};
	_cleanup_disk_inventory_ struct disk_inventory inv = {0};
	_cleanup_disk_plan_ struct disk_plan plan = {0};
	_cleanup_agent_config_ struct agent_config file = {0};
	int r = disk_config_init(&cfg);
	if (r < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, r, "plan: out of memory");
	if (r == 0)
		r = agent_config_read(config, &file, e);
	if (r == 0)
		r = agent_config_disk(&file, &cfg, e);
	if (r == 0)
		r = agent_config_pins_check(&file, e);
	if (r == 0 && disks)
		r = disk_config_set_disks(&cfg, disks, e);
	agent_event(ctx, "plan", "start", NULL);
	if (r == 0)
		r = disk_inventory_read(ctx->g.root, &inv, e);
	for (char **w = inv.warnings; w && *w; w++)
		nm_debug("%s", *w); /* detect shows them; here they would bury the plan */
	if (r == 0)
		r = disk_plan_make(&inv, &cfg, inv.uefi, &plan, e);
	if (r == 0)
		warn_bootif(ctx->g.root);
	if (r == 0) {
		if (json) {
			_cleanup_json_ json_object *o = disk_plan_to_json(&plan);
			agent_print_json(o);
		} else {
			print_human(&plan);
		}
		agent_event(ctx, "plan", "done", erased_disks(&plan));
	} else {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "message", json_object_new_string(e->msg));
		agent_event(ctx, "plan", "error", f);
	}
	return r;
}
