/* cmd_replace.c: `nmmm-agent replace-disk --failed SERIAL|NAME --new DISK [--yes]` — rebuilds a
 * dead mirror member on the blank disk Hetzner put in: the installed plan read, the replacement
 * decided and shown (disk/replace.c), and with --yes the new disk's GPT, each new partition added
 * to its array, the ESP made again with the dead one's volume id, the boot loader installed (on
 * the installed system), the resync limited and followed, and the hardware-file change printed
 * when one is needed. Without --yes nothing is written (exit 3). docs/replace-a-disk.md. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/disk-phases.h"
#include "agent/progress.h"
#include "disk/disk.h"

#define PLAN_FILE "/etc/nixos/plan.json"
#define STATE_FILE "/var/lib/nmmm/state.json"
#define SWITCH "/run/current-system/bin/switch-to-configuration"
#define DEFAULT_RESYNC_LIMIT 100000UL /* KiB/s: 1 TB in about 3 hours, leaving the disks room */
#define RECOVERY_START_SEC 30

static const char replace_help[] =
    "usage: nmmm-agent replace-disk --failed SERIAL|NAME --new DISK [--yes] [--plan FILE]\n"
    "                               [--resync-limit KIB] [--no-wait]\n\n"
    "Rebuilds a dead member of the installed mirror on a blank disk, on the installed system (over\n"
    "SSH) or in the rescue: copies the surviving disk's partitions (same numbers, sizes, types,\n"
    "new partition UUIDs), adds each to its array, makes the dead disk's ESP again with the same\n"
    "volume id (fileSystems stays as it is), installs the boot loader on the new disk (installed\n"
    "system only), limits the resync and follows it. Refuses unless the arrays are degraded and\n"
    "the new disk is blank, unused, outside the plan and at least as large as the survivor.\n\n"
    "  --failed X        the dead disk: its serial (as Hetzner's mail gives it), serial:X, or its\n"
    "                    name in the plan (nvme0n1, /dev/disk/by-id/..., /dev/disk/by-path/...)\n"
    "  --new DISK        the blank disk: kernel name, /dev path, by-id or by-path link or serial:X\n"
    "  --yes             really do it; without it the replacement is shown and nothing is written\n"
    "  --plan FILE       the installed plan (default " PLAN_FILE ", else " STATE_FILE ");\n"
    "                    in the rescue: mount the installed root read-only and name its plan.json\n"
    "  --resync-limit N  resync at most N KiB/s per array while it runs (default 100000)\n"
    "  --no-wait         start the resync and return (no limit: the kernel's own applies)\n\n"
    "exit 3 when not confirmed or refused; docs/replace-a-disk.md explains each step.\n";

struct replace_opts {
	const char *failed, *new_disk, *plan_path;
	bool yes, no_wait;
	unsigned long limit;
};

static int parse(int argc, char **argv, struct replace_opts *o, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"failed", required_argument, NULL, 'f'},
	    {"new", required_argument, NULL, 'n'},
	    {"yes", no_argument, NULL, 'y'},
	    {"plan", required_argument, NULL, 'p'},
	    {"resync-limit", required_argument, NULL, 'l'},
	    {"no-wait", no_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	o->limit = DEFAULT_RESYNC_LIMIT;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'f': o->failed = optarg; break;
		case 'n': o->new_disk = optarg; break;
		case 'y': o->yes = true; break;
		case 'p': o->plan_path = optarg; break;
		case 'W': o->no_wait = true; break;
		case 'l':
			errno = 0;
			o->limit = strtoul(optarg, &end, 10);
			if (errno || !end || *end || o->limit == 0)
				return agent_usage_error(
				    e, "replace-disk",
				    "replace-disk: --resync-limit %s is not a positive number of KiB/s", optarg);
			break;
		case 'h': return fputs(replace_help, stdout), AGENT_HELP_SHOWN;
		default:
			return agent_usage_error(e, "replace-disk", "replace-disk: unknown or incomplete option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "replace-disk", "replace-disk: unexpected argument '%s'", argv[optind]);
	if (!o->failed || !*o->failed || !o->new_disk || !*o->new_disk)
		return agent_usage_error(e, "replace-disk",
					 "replace-disk: --failed SERIAL|NAME and --new DISK are both required");
	return 0;
}

/* The installed plan: --plan, else the installed system's plan.json, else its state mirror. Both
 * files hold the disk plan under "plan"; `plan --json` is the plan itself. */
static int read_plan(const char *path, struct disk_plan *plan, struct nm_error *e)
{
	const char *tries[] = {path, path ? NULL : PLAN_FILE, path ? NULL : STATE_FILE};
	for (size_t i = 0; i < NM_ELEMENTSOF(tries); i++) {
		if (!tries[i])
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		int r = nm_read_file("/", tries[i], 16u << 20, &text, &len);
		if (r == -ENOENT && !path)
			continue;
		if (r < 0)
			return nm_fail(e, NM_ERR_USAGE, -r, "--plan %s: cannot read: %s", tries[i], strerror(-r));
		_cleanup_json_ json_object *doc = json_tokener_parse(text);
		json_object *p = NULL;
		if (doc && !json_object_object_get_ex(doc, "plan", &p))
			p = doc;
		if (!p || disk_plan_from_json(p, plan, e) < 0)
			return nm_error_prefix(e, "%s: ", tries[i]),
			       e->cls ? e->code : nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: not a plan (JSON)", tries[i]);
		nm_info("installed plan from %s", tries[i]);
		return 0;
	}
	return nm_fail(e, NM_ERR_USAGE, ENOENT,
		       "no installed plan at " PLAN_FILE " or " STATE_FILE
		       " (is this the installed system?); in the rescue, mount the installed root read-only "
		       "(mount -o ro /dev/md/root /mnt) and pass --plan /mnt" PLAN_FILE);
}

static void print_replacement(const struct disk_replace *r)
{
	const struct disk_member_plan *m = &r->target.disks[0];
	printf("replace-disk: the dead disk %s (serial %s) is rebuilt on %s (serial %s, %.1f GiB)\n", r->failed,
	       r->failed_serial ? r->failed_serial : "-", m->name, m->serial ? m->serial : "-",
	       (double)m->size_bytes / (1u << 30));
	printf("  surviving disk: %s (nothing on it is written)\n", r->survivor);
	printf("  THE NEW DISK %s IS PARTITIONED (a copy of the survivor's layout, new partition UUIDs):\n", m->name);
	for (size_t i = 0; i < m->n_parts; i++)
		printf("    %-18s start %12llu  size %14llu  type %s\n", m->parts[i].path,
		       (unsigned long long)m->parts[i].start, (unsigned long long)m->parts[i].size,
		       m->parts[i].type_guid);
	for (size_t i = 0; i < r->n_arrays; i++)
		printf("  array %s (/dev/%s, now on %s): add %s\n", r->arrays[i].name, r->arrays[i].md,
		       r->arrays[i].survivor_member, r->arrays[i].member);
	for (size_t i = 0; i < r->target.n_filesystems; i++)
		printf("  ESP %s: vfat with the dead disk's volume id %s (mounted at %s)\n",
		       r->target.filesystems[i].device, r->target.filesystems[i].uuid,
		       r->target.filesystems[i].mountpoint ? r->target.filesystems[i].mountpoint : "-");
}

static void step_event(struct agent_ctx *ctx, const char *phase, const char *event, const char *device)
{
	json_object *f = json_object_new_object();
	if (device)
		json_object_object_add(f, "device", json_object_new_string(device));
	agent_event(ctx, phase, event, f);
}

/* The boot loader on the new disk. On the installed system: its ESP mounted where the plan puts it,
 * then the current generation's boot loader installed on every disk. In the rescue the installed
 * system is not running: what to run after it boots is printed. */
static int boot_loader(struct agent_ctx *ctx, const struct disk_replace *r, struct nm_error *e)
{
	const struct disk_fs_plan *esp = r->target.n_filesystems ? &r->target.filesystems[0] : NULL;
	if (!nm_exists("/", SWITCH)) {
		printf("\nboot loader: not installed from here (no " SWITCH ": this is not the installed\n"
		       "system). Boot it (it boots from %s), then run there:\n",
		       r->survivor);
		if (esp && esp->mountpoint)
			printf("  mountpoint -q %s || mount /dev/disk/by-uuid/%s %s\n", esp->mountpoint, esp->uuid,
			       esp->mountpoint);
		if (r->boot_change[0])
			printf("  (first apply the hardware-configuration.nix change below and deploy: that installs "
			       "GRUB on the new disk)\n");
		else
			printf("  NIXOS_INSTALL_BOOTLOADER=1 " SWITCH " boot\n");
		return 0;
	}
	if (r->boot_change[0]) {
		printf("\nboot loader: boot.loader.grub.devices names the dead disk by a name that no longer\n"
		       "leads to a disk; apply the change below and deploy (nixos-rebuild boot or switch),\n"
		       "which installs GRUB on the new disk.\n");
		return 0;
	}
	step_event(ctx, "bootloader", "start", r->target.disks[0].path);
	if (esp && esp->mountpoint) {
		struct disk_run_opts o = {.root = "/"};
		if (disk_mount_in_place(&r->target, esp, &o, e) < 0)
			return nm_error_prefix(e, "ESP %s: ", esp->device), e->code;
	}
	char *env[] = {"NIXOS_INSTALL_BOOTLOADER=1", NULL};
	const char *argv[] = {SWITCH, "boot", NULL};
	nm_info("installing the boot loader on every disk: " SWITCH " boot");
	int k = nm_run(argv, &(struct nm_run_opts){.timeout_sec = 900, .extra_env = env}, NULL, e);
	if (k < 0) {
		nm_error_prefix(e,
				"the boot loader was not installed on %s (the arrays are rebuilding; run "
				"'NIXOS_INSTALL_BOOTLOADER=1 " SWITCH " boot' again once the cause is fixed): ",
				r->target.disks[0].name);
		return k;
	}
	step_event(ctx, "bootloader", "done", r->target.disks[0].path);
	return 0;
}

/* Follows every rebuilt array until it is in sync, with its own resync limit meanwhile (the kernel's
 * one back afterwards, whatever happens). */
static int resync(struct agent_ctx *ctx, const struct disk_replace *r, const struct replace_opts *ro,
		  struct nm_error *e)
{
	for (size_t i = 0; i < r->n_arrays; i++)
		if (disk_md_sync_limit("/", r->arrays[i].md, ro->limit, e) < 0)
			nm_warn("%s", e->msg), *e = (struct nm_error){0};
	nm_info("resync limited to %lu KiB/s per array while it runs", ro->limit);
	struct agent_progress pr;
	agent_progress_init(&pr, ctx, "resync", "resync");
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = 0;
	for (;;) {
		uint64_t done = 0, total = 0;
		bool all_clean = true;
		const char *stuck = NULL; /* an array idle but still degraded: its recovery did not start */
		for (size_t i = 0; i < r->n_arrays; i++) {
			struct disk_md_sync s;
			if (disk_md_sync_read("/", r->arrays[i].md, &s) < 0) {
				rc = nm_fail(e, NM_ERR_RUNTIME, ENOENT,
					     "array %s: /sys/block/%s/md is gone; check "
					     "'cat /proc/mdstat'",
					     r->arrays[i].name, r->arrays[i].md);
				break;
			}
			if (!s.idle || s.degraded)
				all_clean = false;
			if (s.idle && s.degraded)
				stuck = r->arrays[i].md;
			done += s.done_sectors * 512;
			total += s.total_sectors * 512;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (rc < 0 || all_clean)
			break;
		if (stuck && el > RECOVERY_START_SEC) {
			rc = nm_fail(e, NM_ERR_RUNTIME, EIO,
				     "/dev/%s is still degraded and not recovering %d s after the add; check 'cat "
				     "/proc/mdstat' and 'mdadm --detail /dev/%s', then 'mdadm /dev/%s --add' the new "
				     "partition again",
				     stuck, RECOVERY_START_SEC, stuck, stuck);
			break;
		}
		if (total)
			agent_progress_update(&pr,
					      &(struct img_progress){.bytes = done, .total = total, .elapsed_sec = el});
		sleep(2);
	}
	agent_progress_finish(&pr, rc == 0);
	for (size_t i = 0; i < r->n_arrays; i++) {
		struct nm_error le = {0};
		if (disk_md_sync_limit("/", r->arrays[i].md, 0, &le) < 0)
			nm_warn("%s", le.msg);
	}
	if (rc == 0)
		printf("resync: done, every array has all its members\n");
	return rc;
}

static void print_boot_change(const struct disk_replace *r)
{
	if (!r->boot_change[0]) {
		printf("hardware-configuration.nix: no change needed (filesystems by UUID, the ESP kept its "
		       "volume id%s)\n",
		       r->target.uefi ? "" : ", the boot disk's name still leads to the new disk");
		return;
	}
	printf("\nhardware-configuration.nix needs this change in boot.loader.grub.devices (commit it to your\n"
	       "deploy repository and deploy; GRUB then goes on the new disk too):\n");
	for (size_t i = 0; r->boot_change[i]; i++)
		printf("  %s\n", r->boot_change[i]);
}

static int run_replacement(struct agent_ctx *ctx, const struct disk_replace *r, const struct replace_opts *ro,
			   struct nm_error *e)
{
	struct disk_lock lock = {0};
	struct disk_run_opts o = {.root = "/", .target = AGENT_DEFAULT_TARGET, .lock = &lock};
	const struct disk_plan *t = &r->target;
	/* Under the lock: the new disk is still the one listed (serial, size, diskseq). */
	int rc = disk_lock(t, &o, e);
	if (rc == 0)
		rc = disk_identity_check(t, "/", e);
	if (rc == 0) {
		step_event(ctx, "partition", "start", t->disks[0].path);
		rc = disk_partition(t, &o, e);
	}
	disk_unlock(&lock);
	if (rc == 0) {
		step_event(ctx, "partition", "done", t->disks[0].path);
		rc = disk_udev_settle(e);
	}
	if (rc == 0) {
		step_event(ctx, "raid", "start", NULL);
		rc = disk_replace_add(r, &o, e);
	}
	if (rc == 0)
		step_event(ctx, "raid", "done", NULL);
	if (rc == 0 && t->n_filesystems) {
		step_event(ctx, "format", "start", t->filesystems[0].device);
		rc = disk_format(t, &o, e);
		if (rc == 0)
			step_event(ctx, "format", "done", t->filesystems[0].device);
	}
	if (rc == 0)
		rc = boot_loader(ctx, r, e);
	if (rc == 0 && !ro->no_wait)
		rc = resync(ctx, r, ro, e);
	else if (rc == 0)
		printf("resync: started; follow it with 'cat /proc/mdstat'\n");
	if (rc == 0)
		print_boot_change(r);
	return rc;
}

int agent_cmd_replace(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	struct replace_opts ro = {0};
	int r = parse(argc, argv, &ro, e);
	if (r == AGENT_HELP_SHOWN)
		return 0;
	if (r < 0 || disk_host_root_check(ctx->g.root, "replace-disk", e) < 0)
		return e->code;
	_cleanup_disk_plan_ struct disk_plan installed = {0};
	_cleanup_disk_inventory_ struct disk_inventory inv = {0};
	_cleanup_disk_md_status_ struct disk_md_status md = {0};
	_cleanup_disk_replace_ struct disk_replace rep = {0};
	r = read_plan(ro.plan_path, &installed, e);
	if (r == 0)
		r = disk_inventory_read("/", &inv, e);
	if (r == 0)
		r = disk_md_status_read("/", &md, e);
	if (r == 0 && !md.driver)
		r = nm_fail(e, NM_ERR_REFUSED, ENODEV,
			    "this kernel has no md driver (no /proc/mdstat): no array runs to rebuild; load raid1 "
			    "('modprobe raid1') and assemble the arrays from the surviving disk");
	struct disk_replace_input in = {
	    .root = "/", .installed = &installed, .inv = &inv, .md = &md, .failed = ro.failed, .new_disk = ro.new_disk};
	if (r == 0)
		r = disk_replace_plan(&in, &rep, e);
	if (r < 0)
		return r;
	print_replacement(&rep);
	json_object *f = disk_replace_to_json(&rep);
	agent_event(ctx, "plan", "done", f);
	if (!ro.yes) {
		printf("\nnothing was changed; run again with --yes to partition %s and rebuild the arrays.\n",
		       rep.target.disks[0].name);
		return nm_fail(e, NM_ERR_REFUSED, EPERM,
			       "replace-disk: not confirmed; check the serials above and add --yes");
	}
	return run_replacement(ctx, &rep, &ro, e);
}
