/* teardown.c: frees the planned disks of everything stacked on them, in dependency order — swap,
 * the agent's own mounts under the target (deepest first), then device-mapper (LUKS, LVM, other)
 * and md arrays from the top of the stack down, polling until each is gone. It never unmounts
 * anything outside the target: a mount elsewhere on a planned disk, a mount under the target that
 * is not on the planned disks, or a volume group or array reaching a disk outside the plan is a
 * refusal, decided before anything is changed. It writes no data itself. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/swap.h>

/* The stack device a mount (or swap) lives on: by device number, or by source path for
 * filesystems like btrfs that report an anonymous device number. */
static const struct stack_dev *stack_dev_of(const char *root, const struct disk_stack *st, unsigned major,
					    unsigned minor, const char *source)
{
	const struct stack_dev *d = major ? stack_find_devnum(st, major, minor) : NULL;
	if (d || strncmp(source, "/dev/", 5) != 0)
		return d;
	_cleanup_free_ char *real = NULL;
	if (nm_realpath(root, source, &real) < 0)
		return NULL;
	const char *base = strrchr(real, '/');
	return stack_find(st, base ? base + 1 : real);
}

bool path_under(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	while (l > 1 && dir[l - 1] == '/')
		l--;
	return strncmp(path, dir, l) == 0 && (path[l] == '\0' || path[l] == '/');
}

static const char *kind_word(enum stack_kind k)
{
	switch (k) {
	case STACK_DISK: return "the disk";
	case STACK_PART: return "partition";
	case STACK_HOLDER_PART: return "partition";
	case STACK_DM: return "device-mapper device";
	case STACK_MD: return "array";
	}
	return "device";
}

static int check_mounts(const char *root, const struct disk_stack *st, const struct disk_mount_table *mt,
			const char *target, struct nm_error *e)
{
	int r = 0;
	for (size_t i = 0; i < mt->n; i++) {
		const struct disk_mount *m = &mt->v[i];
		const struct stack_dev *d = stack_dev_of(root, st, m->major, m->minor, m->source);
		if (!d || path_under(m->mountpoint, target))
			continue;
		r = nm_fail(e, NM_ERR_REFUSED, EBUSY,
			    "%s: %s %s is mounted at %s; unmount it or leave the disk out of --disks", d->disk,
			    kind_word(d->kind), d->name, m->mountpoint);
	}
	return r;
}

/* The target is where the new system gets mounted, and teardown unmounts the whole tree there
 * when part of it is on the planned disks: whatever else is mounted at or below it (a tmpfs, an
 * unrelated disk) would be unmounted under its user's feet, or make the mount phase fail — after
 * the wipe, when the old data is gone already. A caller that mounts nothing (wipe) is refused
 * only in the first case. */
static int check_target_mounts(const char *root, const struct disk_stack *st, const struct disk_mount_table *mt,
			       const struct disk_run_opts *o, struct nm_error *e)
{
	const char *target = o->target;
	bool ours = false;
	for (size_t i = 0; i < mt->n; i++)
		ours |= path_under(mt->v[i].mountpoint, target) &&
		    stack_dev_of(root, st, mt->v[i].major, mt->v[i].minor, mt->v[i].source);
	for (size_t i = 0; (ours || o->mounts_target) && i < mt->n; i++) {
		const struct disk_mount *m = &mt->v[i];
		if (!path_under(m->mountpoint, target) || stack_dev_of(root, st, m->major, m->minor, m->source))
			continue;
		return nm_fail(e, NM_ERR_REFUSED, EBUSY,
			       "target %s: %s is mounted at %s and is not on a disk in the plan; the new system is "
			       "mounted there. Unmount it, or choose another --target",
			       target, m->source, m->mountpoint);
	}
	return 0;
}

int disk_teardown_check(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	for (size_t i = 0; i < plan->n_disks; i++) {
		int r = guard_check(o->root, plan, plan->disks[i].path, NULL, 0, e);
		if (r < 0)
			return r;
	}
	struct disk_stack st;
	int r = stack_read(o->root, plan, &st, e);
	if (r < 0)
		return r;
	struct disk_mount_table mt;
	r = disk_mount_table_read(o->root, &mt, e);
	if (r == 0)
		r = check_mounts(o->root, &st, &mt, o->target, e);
	if (r == 0)
		r = check_target_mounts(o->root, &st, &mt, o, e);
	/* A stacked device reaching a disk outside the plan (an array or VG spanning it) would be
	 * torn down under that disk's feet: refuse. */
	for (size_t i = 0; r == 0 && i < st.n; i++) {
		if (st.devs[i].kind != STACK_DM && st.devs[i].kind != STACK_MD)
			continue;
		char path[96];
		snprintf(path, sizeof path, "/dev/%s", st.devs[i].name);
		r = guard_check(o->root, plan, path, NULL, 0, e);
		if (r < 0)
			nm_error_prefix(e, "%s: %s %s is stacked on it and", st.devs[i].disk,
					kind_word(st.devs[i].kind), st.devs[i].name);
	}
	/* A volume group is deactivated whole: one reaching past the plan's disks is refused, active
	 * or not (its PV labels on the planned disks are wiped either way). */
	if (r == 0)
		r = lvm_check_plan(o->root, &st, e);
	disk_mount_table_free(&mt);
	stack_free(&st);
	return r;
}

static int swapoff_planned(const char *root, const struct disk_stack *st, const char *target, struct nm_error *e)
{
	_cleanup_strv_free_ char **swaps = NULL;
	if (disk_swaps_read(root, &swaps, NULL) < 0)
		return 0; /* no swap support at all */
	for (size_t i = 0; swaps[i]; i++) {
		const char *file = swaps[i];
		const struct stack_dev *d = stack_dev_of(root, st, 0, 0, file);
		if (!d && !path_under(file, target))
			continue;
		nm_info("%s: swapoff %s", d ? d->disk : target, file);
		char p[PATH_MAX];
		nm_root_path(root, file, p, sizeof p);
		if (swapoff(p) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno,
				       "%s: swapoff failed: %s; the system may need that swap — free memory or "
				       "run swapoff by hand",
				       file, strerror(errno));
	}
	return 0;
}

static int depth_of(const char *path)
{
	int n = 0;
	for (; *path; path++)
		n += *path == '/';
	return n;
}

static int cmp_deepest_first(const void *a, const void *b)
{
	const struct disk_mount *x = a, *y = b;
	int dx = depth_of(x->mountpoint), dy = depth_of(y->mountpoint);
	if (dx != dy)
		return dy - dx;
	return y->id - x->id; /* stacked on the same path: the later mount first */
}

/* Unmounts the whole target tree, deepest first — but only when some of it sits on the planned
 * disks: the target is the agent's own, anything else there was mounted by the agent too. */
static int unmount_target(const char *root, const struct disk_stack *st, const char *target, struct nm_error *e)
{
	struct disk_mount_table mt;
	int r = disk_mount_table_read(root, &mt, e);
	if (r < 0)
		return r;
	bool ours = false;
	size_t n = 0;
	for (size_t i = 0; i < mt.n; i++) {
		if (!path_under(mt.v[i].mountpoint, target)) {
			free(mt.v[i].mountpoint);
			free(mt.v[i].fstype);
			free(mt.v[i].source);
			continue;
		}
		ours |= stack_dev_of(root, st, mt.v[i].major, mt.v[i].minor, mt.v[i].source) != NULL;
		mt.v[n++] = mt.v[i]; /* n <= i: that slot was moved or freed already */
	}
	mt.n = n;
	qsort(mt.v, mt.n, sizeof *mt.v, cmp_deepest_first);
	for (size_t i = 0; ours && i < mt.n; i++) {
		nm_info("unmounting %s (%s)", mt.v[i].mountpoint, mt.v[i].source);
		if (umount2(mt.v[i].mountpoint, UMOUNT_NOFOLLOW) < 0) {
			r = nm_fail(e, NM_ERR_RUNTIME, errno,
				    "%s: cannot unmount: %s; a process may still use it (see 'fuser -vm %s')",
				    mt.v[i].mountpoint, strerror(errno), mt.v[i].mountpoint);
			break;
		}
	}
	disk_mount_table_free(&mt);
	return r;
}

struct gone_arg {
	const char *root;
	const char *name;
};

static bool block_dev_gone(const void *arg)
{
	const struct gone_arg *g = arg;
	char rel[128];
	snprintf(rel, sizeof rel, "/sys/block/%s", g->name);
	if (nm_exists(g->root, rel))
		return false;
	/* md: the array also leaves /proc/mdstat only once it is really stopped. */
	_cleanup_free_ char *mdstat = NULL;
	if (strncmp(g->name, "md", 2) != 0 || nm_read_file(g->root, "/proc/mdstat", 0, &mdstat, NULL) < 0)
		return true;
	char needle[80];
	snprintf(needle, sizeof needle, "\n%s :", g->name);
	return strstr(mdstat, needle) == NULL && strncmp(mdstat, needle + 1, strlen(needle + 1)) != 0;
}

static int read_sys_attr(const char *root, const char *name, const char *attr, char **out)
{
	char rel[160];
	snprintf(rel, sizeof rel, "/sys/block/%s/%s", name, attr);
	return nm_read_line(root, rel, out);
}

static int stop_md(const char *root, const struct stack_dev *d, struct nm_error *e)
{
	char dev[96];
	snprintf(dev, sizeof dev, "/dev/%s", d->name);
	nm_info("%s: stopping array %s", d->disk, d->name);
	const char *argv[] = {"mdadm", "--stop", dev, NULL};
	int r = nm_run(argv, &(struct nm_run_opts){.timeout_sec = 60}, NULL, e);
	if (r < 0)
		return r;
	/* md stop is asynchronous: the device lingers after mdadm returns. */
	struct gone_arg g = {root, d->name};
	if (!poll_until(block_dev_gone, &g, 30000))
		return nm_fail(e, NM_ERR_RUNTIME, ETIME,
			       "%s: array %s is still present 30 s after 'mdadm --stop'; check 'cat /proc/mdstat' "
			       "and stop it by hand",
			       d->disk, d->name);
	return 0;
}

static int close_dm(const char *root, const struct stack_dev *d, char ***vgs_done, struct nm_error *e)
{
	_cleanup_free_ char *dm_name = NULL, *dm_uuid = NULL;
	if (read_sys_attr(root, d->name, "dm/name", &dm_name) < 0)
		return 0; /* already gone, e.g. with its volume group */
	if (read_sys_attr(root, d->name, "dm/uuid", &dm_uuid) < 0)
		dm_uuid = strdup("");
	int r = 0;
	char vg[128];
	if (dm_uuid && strncmp(dm_uuid, "CRYPT-", 6) == 0) {
		nm_info("%s: closing LUKS/dm-crypt mapping %s (%s)", d->disk, dm_name, d->name);
		const char *argv[] = {"cryptsetup", "close", dm_name, NULL};
		r = nm_run(argv, NULL, NULL, e);
	} else if (dm_uuid && strncmp(dm_uuid, "LVM-", 4) == 0 && lvm_vg_from_dm_name(dm_name, vg, sizeof vg)) {
		if (nm_strv_contains(*vgs_done, vg))
			return 0;
		nm_info("%s: deactivating LVM volume group %s (holds %s)", d->disk, vg, dm_name);
		const char *argv[] = {"vgchange", "--activate", "n", vg, NULL};
		r = nm_run(argv, NULL, NULL, e);
		if (r == 0 && nm_strv_push(vgs_done, vg) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	} else {
		nm_info("%s: removing device-mapper device %s (%s)", d->disk, dm_name, d->name);
		const char *argv[] = {"dmsetup", "remove", dm_name, NULL};
		r = nm_run(argv, NULL, NULL, e);
	}
	if (r < 0)
		return r;
	struct gone_arg g = {root, d->name};
	if (!poll_until(block_dev_gone, &g, 10000))
		return nm_fail(e, NM_ERR_RUNTIME, ETIME,
			       "%s: device-mapper device %s (%s) is still present after closing it; check "
			       "'dmsetup info %s'",
			       d->disk, d->name, dm_name, dm_name);
	return 0;
}

static int cmp_top_of_stack_first(const void *a, const void *b)
{
	const struct stack_dev *x = a, *y = b;
	return (int)y->depth - (int)x->depth;
}

/* An md array that is not running has no content to read or write: one that was never started
 * (members missing) or one whose `mdadm --create` was killed half-way, which leaves the array in
 * the kernel with its members but "inactive" and of size 0 — writing to it fails with EIO. */
static bool md_array_running(const char *root, const char *name, char **state)
{
	_cleanup_free_ char *size = NULL;
	if (read_sys_attr(root, name, "md/array_state", state) < 0)
		return false;
	return strcmp(*state, "clear") != 0 && strcmp(*state, "inactive") != 0 &&
	    read_sys_attr(root, name, "size", &size) == 0 && strcmp(size, "0") != 0;
}

/* What an array or volume holds (an LVM PV label inside an md array, a filesystem on an LV)
 * lies past the member's own superblock, where no probe of the member finds it again: it is
 * wiped through the stacked device itself, while that still exists. */
static int wipe_stacked_content(const struct disk_plan *plan, const char *root, const struct stack_dev *d,
				struct nm_error *e)
{
	char path[96];
	snprintf(path, sizeof path, "/dev/%s", d->name);
	char rel[128];
	snprintf(rel, sizeof rel, "/sys/block/%s", d->name);
	if (!nm_exists(root, rel))
		return 0; /* already gone with its volume group */
	_cleanup_free_ char *state = NULL;
	if (d->kind == STACK_MD && !md_array_running(root, d->name, &state)) {
		nm_info("%s: array %s is not running (%s): nothing to wipe inside it; it is stopped and its "
			"members' superblocks are wiped",
			d->disk, d->name, state ? state : "no md state");
		return 0;
	}
	int fd = guard_open(root, plan, path, e);
	if (fd < 0)
		return fd;
	int n = wipe_device_signatures(fd, d->name, e);
	close(fd);
	return n < 0 ? n : 0;
}

/* Level by level from the top of the stack: first wipe what every device of a level holds,
 * then close them all (one vgchange takes all LVs of a VG at once, so wiping must come first). */
static int close_stacked(const struct disk_plan *plan, const char *root, struct disk_stack *st, struct nm_error *e)
{
	qsort(st->devs, st->n, sizeof *st->devs, cmp_top_of_stack_first);
	_cleanup_strv_free_ char **vgs_done = nm_strv_new();
	if (!vgs_done)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t lo = 0; lo < st->n;) {
		size_t hi = lo;
		while (hi < st->n && st->devs[hi].depth == st->devs[lo].depth)
			hi++;
		for (size_t i = lo; i < hi; i++) {
			if (st->devs[i].kind != STACK_MD && st->devs[i].kind != STACK_DM)
				continue;
			int r = wipe_stacked_content(plan, root, &st->devs[i], e);
			if (r < 0)
				return r;
		}
		for (size_t i = lo; i < hi; i++) {
			int r = 0;
			if (st->devs[i].kind == STACK_MD)
				r = stop_md(root, &st->devs[i], e);
			else if (st->devs[i].kind == STACK_DM)
				r = close_dm(root, &st->devs[i], &vgs_done, e);
			if (r < 0)
				return r;
		}
		lo = hi;
	}
	return 0;
}

/* After teardown nothing may remain stacked or mounted on the planned disks. */
static int assert_free(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	struct disk_stack st;
	int r = stack_read(o->root, plan, &st, e);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < st.n; i++)
		if (st.devs[i].kind == STACK_DM || st.devs[i].kind == STACK_MD)
			r = nm_fail(e, NM_ERR_RUNTIME, EBUSY,
				    "%s: %s %s is still stacked on it after teardown; remove it by hand",
				    st.devs[i].disk, kind_word(st.devs[i].kind), st.devs[i].name);
	struct disk_mount_table mt = {0};
	if (r == 0)
		r = disk_mount_table_read(o->root, &mt, e);
	if (r == 0)
		r = check_mounts(o->root, &st, &mt, "/nonexistent/\x01", e);
	disk_mount_table_free(&mt);
	stack_free(&st);
	return r;
}

int disk_teardown(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	int r = disk_teardown_check(plan, o, e);
	if (r < 0)
		return r;
	struct disk_stack st;
	r = stack_read(o->root, plan, &st, e);
	if (r < 0)
		return r;
	r = swapoff_planned(o->root, &st, o->target, e);
	if (r == 0)
		r = unmount_target(o->root, &st, o->target, e);
	if (r == 0)
		r = close_stacked(plan, o->root, &st, e);
	stack_free(&st);
	if (r == 0)
		r = assert_free(plan, o, e);
	return r;
}
