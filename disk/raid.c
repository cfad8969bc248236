/* raid.c: creates the planned md arrays with mdadm — name, homehost, UUID and metadata from the
 * plan, so the rendered configuration finds them — waits for their device nodes, and throttles
 * the initial resync while the install writes (restored afterwards); and reads an array's resync
 * and sets its own limit (replace-disk's rebuild). Every member must pass the guard; it never
 * creates an array over anything outside the plan. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define ARRAY_NODE_TIMEOUT_MS 30000
#define SPEED_LIMIT_MAX "/proc/sys/dev/raid/speed_limit_max"
/* KiB/s per device while installing: resync keeps going but leaves the disks to the install. */
#define INSTALL_RESYNC_LIMIT 10000UL

/* TEXT and a newline into a /proc or /sys file (under root), checked at the flush, where the
 * kernel reports a refused write. */
static int write_text(const char *root, const char *rel, const char *text, struct nm_error *e)
{
	char p[PATH_MAX];
	if (nm_root_path(root, rel, p, sizeof p) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENAMETOOLONG, "%s: path too long", rel);
	FILE *f = fopen(p, "we");
	if (!f)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open for writing: %s", rel, strerror(errno));
	bool ok = fprintf(f, "%s\n", text) > 0;
	ok = fclose(f) == 0 && ok;
	if (!ok)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot write %s: %s", rel, text, strerror(errno));
	return 0;
}

static int write_proc(const char *root, const char *rel, unsigned long value, struct nm_error *e)
{
	char text[32];
	snprintf(text, sizeof text, "%lu", value);
	return write_text(root, rel, text, e);
}

int disk_raid_throttle_read(const struct disk_run_opts *o, struct disk_raid_throttle *t)
{
	uint64_t cur = 0;
	if (nm_read_u64(o->root, SPEED_LIMIT_MAX, &cur) < 0)
		return 0; /* no md driver yet, or none at all: nothing to keep */
	t->speed_limit_max = (unsigned long)cur;
	t->saved = true;
	return 0;
}

/* Lowers the limit for the install. The limit to restore is the one already in *t when the
 * caller read it earlier (an interrupted run lowered the current one), else the current one. */
static int throttle_resync(const char *root, struct disk_raid_throttle *t, struct nm_error *e)
{
	uint64_t cur = 0;
	if (nm_read_u64(root, SPEED_LIMIT_MAX, &cur) < 0)
		return 0; /* nothing to throttle: the kernel decides */
	if (!t->saved) {
		t->speed_limit_max = (unsigned long)cur;
		t->saved = true;
	}
	if (cur <= INSTALL_RESYNC_LIMIT)
		return 0; /* already at or below the install's limit: never raise it */
	nm_info("md resync limited to %lu KiB/s during the install (was %lu)", INSTALL_RESYNC_LIMIT,
		t->speed_limit_max);
	return write_proc(root, SPEED_LIMIT_MAX, INSTALL_RESYNC_LIMIT, e);
}

int disk_raid_unthrottle(const struct disk_run_opts *o, const struct disk_raid_throttle *t, struct nm_error *e)
{
	if (!t || !t->saved)
		return 0;
	nm_info("md resync limit restored to %lu KiB/s", t->speed_limit_max);
	return write_proc(o->root, SPEED_LIMIT_MAX, t->speed_limit_max, e);
}

struct array_wait {
	const char *root;
	const char *device;
};

static bool array_node_ready(const void *arg)
{
	const struct array_wait *w = arg;
	char p[PATH_MAX];
	struct stat sb;
	return nm_root_path(w->root, w->device, p, sizeof p) == 0 && stat(p, &sb) == 0 && S_ISBLK(sb.st_mode);
}

static int create_array(const char *root, const struct disk_plan *plan, const struct disk_array_plan *a,
			struct nm_error *e)
{
	size_t n = nm_strv_len(a->members);
	if (n == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "array %s: no members in the plan", a->name);
	for (size_t i = 0; i < n; i++) {
		int r = guard_check_write(root, plan, a->members[i], e); /* mdadm opens them itself */
		if (r < 0)
			return nm_error_prefix(e, "array %s: ", a->name), r;
	}
	char level[24], count[24];
	snprintf(level, sizeof level, "%u", a->level);
	snprintf(count, sizeof count, "%zu", n);
	const char *head[] = {
	    "mdadm",
	    "--create",
	    a->device,
	    "--name",
	    a->name,
	    "--homehost",
	    plan->homehost ? plan->homehost : "any",
	    "--uuid",
	    a->uuid,
	    "--metadata",
	    a->metadata[0] ? a->metadata : "1.2",
	    "--level",
	    level,
	    "--raid-devices",
	    count,
	    "--run", /* no question about members that look used: the wipe proved they are not */
	};
	const char **argv = calloc(NM_ELEMENTSOF(head) + n + 1, sizeof *argv);
	if (!argv)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	memcpy(argv, head, sizeof head);
	for (size_t i = 0; i < n; i++)
		argv[NM_ELEMENTSOF(head) + i] = a->members[i];
	nm_info("array %s: creating RAID-%u over %zu members as %s", a->name, a->level, n, a->device);
	int r = nm_run(argv, &(struct nm_run_opts){.timeout_sec = 120}, NULL, e);
	free(argv);
	if (r < 0)
		return r;
	/* mdadm makes /dev/md/NAME itself (no udev needed), but the node can trail its exit. */
	struct array_wait w = {root, a->device};
	if (!poll_until(array_node_ready, &w, ARRAY_NODE_TIMEOUT_MS))
		return nm_fail(e, NM_ERR_RUNTIME, ETIME,
			       "array %s: %s did not appear within %u s after mdadm --create; check "
			       "'cat /proc/mdstat' and 'ls /dev/md'",
			       a->name, a->device, ARRAY_NODE_TIMEOUT_MS / 1000);
	return 0;
}

int disk_raid_check(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	if (plan->n_arrays == 0 || md_driver_present(o->root))
		return 0;
	return nm_fail(e, NM_ERR_RUNTIME, ENODEV,
		       "this kernel has no md driver (no /proc/mdstat) for the planned array %s; load "
		       "md_mod/raid1 ('modprobe raid1') or choose a one-disk layout",
		       plan->arrays[0].device);
}

int disk_raid(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	if (plan->n_arrays == 0)
		return 0;
	int r = disk_raid_check(plan, o, e);
	if (r < 0)
		return r;
	struct disk_raid_throttle ignored = {0};
	r = throttle_resync(o->root, o->throttle ? o->throttle : &ignored, e);
	for (size_t i = 0; r == 0 && i < plan->n_arrays; i++)
		r = create_array(o->root, plan, &plan->arrays[i], e);
	return r;
}

/* ---- the resync: /sys/block/mdX/md ---- */

int disk_md_sync_read(const char *root, const char *md, struct disk_md_sync *s)
{
	*s = (struct disk_md_sync){0};
	char rel[128];
	_cleanup_free_ char *action = NULL, *completed = NULL, *degraded = NULL;
	snprintf(rel, sizeof rel, "/sys/block/%s/md/sync_action", md);
	if (nm_read_line(root, rel, &action) < 0)
		return -ENOENT;
	s->idle = strcmp(action, "idle") == 0;
	snprintf(rel, sizeof rel, "/sys/block/%s/md/sync_completed", md);
	unsigned long long done = 0, total = 0;
	if (nm_read_line(root, rel, &completed) == 0 && sscanf(completed, "%llu / %llu", &done, &total) == 2) {
		s->done_sectors = done;
		s->total_sectors = total;
	}
	snprintf(rel, sizeof rel, "/sys/block/%s/md/degraded", md);
	s->degraded = nm_read_line(root, rel, &degraded) == 0 && strcmp(degraded, "0") != 0;
	return 0;
}

int disk_md_sync_limit(const char *root, const char *md, unsigned long kib, struct nm_error *e)
{
	char rel[128];
	snprintf(rel, sizeof rel, "/sys/block/%s/md/sync_speed_max", md);
	if (!kib)
		return write_text(root, rel, "system", e);
	return write_proc(root, rel, kib, e);
}
