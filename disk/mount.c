/* mount.c: mounts the planned filesystems under the agent's target (default /mnt), "/" first and
 * parents before children, creating the mountpoints, and enables planned swap when asked; or one
 * planned filesystem at its own mountpoint on the running system (replace-disk's new ESP). It
 * refuses a target that already has something mounted (it would hide it), and mounts only devices
 * the guard accepts. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/swap.h>

static int refuse_busy_target(const char *root, const char *target, struct nm_error *e)
{
	struct disk_mount_table mt;
	int r = disk_mount_table_read(root, &mt, e);
	for (size_t i = 0; r == 0 && i < mt.n; i++)
		if (path_under(mt.v[i].mountpoint, target))
			r = nm_fail(e, NM_ERR_REFUSED, EBUSY,
				    "target %s: %s is already mounted at %s; unmount it or choose another --target",
				    target, mt.v[i].source, mt.v[i].mountpoint);
	disk_mount_table_free(&mt);
	return r;
}

static int mount_depth(const char *mp)
{
	if (strcmp(mp, "/") == 0)
		return 0;
	int n = 0;
	for (; *mp; mp++)
		n += *mp == '/';
	return n;
}

static char *join_options(char *const *opts)
{
	size_t len = 1;
	for (size_t i = 0; opts && opts[i]; i++)
		len += strlen(opts[i]) + 1;
	char *s = calloc(1, len);
	for (size_t i = 0; s && opts && opts[i]; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, opts[i]);
	}
	return s;
}

static int mount_one(const char *root, const struct disk_plan *plan, const char *target, const struct disk_fs_plan *fs,
		     struct nm_error *e)
{
	char dir[PATH_MAX];
	int n = snprintf(dir, sizeof dir, "%s%s", target, strcmp(fs->mountpoint, "/") == 0 ? "" : fs->mountpoint);
	if (n < 0 || (size_t)n >= sizeof dir)
		return nm_fail(e, NM_ERR_USAGE, ENAMETOOLONG, "%s: mountpoint too long", fs->mountpoint);
	int r = nm_mkdir_p(dir, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *opts = join_options(fs->options);
	if (!opts)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *argv[] = {"mount", "-t", fs->fstype, "-o", opts[0] ? opts : "defaults", fs->device, dir, NULL};
	nm_info("mounting %s (%s) at %s", fs->device, fs->fstype, dir);
	return guard_run(root, plan, fs->device, argv, e);
}

int disk_mount_in_place(const struct disk_plan *plan, const struct disk_fs_plan *fs, const struct disk_run_opts *o,
			struct nm_error *e)
{
	if (!fs->mountpoint || fs->mountpoint[0] != '/' || strcmp(fs->mountpoint, "/") == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: no mountpoint other than / to mount it at", fs->device);
	struct disk_mount_table mt;
	int r = disk_mount_table_read(o->root, &mt, e);
	bool there = false;
	for (size_t i = 0; r == 0 && i < mt.n; i++)
		there = there || strcmp(mt.v[i].mountpoint, fs->mountpoint) == 0;
	disk_mount_table_free(&mt);
	if (r < 0 || there)
		return r;
	return mount_one(o->root, plan, "", fs, e);
}

int disk_mount(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	const char *target = o->target && *o->target ? o->target : "/mnt";
	if (strcmp(target, "/") == 0 || target[0] != '/')
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "--target %s: must be an absolute directory other than /",
			       target);
	int r = refuse_busy_target(o->root, target, e);
	if (r < 0)
		return r;
	/* Parents before children whatever the plan's order: "/" first, then /boot, then deeper. */
	for (int depth = 0; depth < 64; depth++)
		for (size_t i = 0; i < plan->n_filesystems; i++) {
			const struct disk_fs_plan *fs = &plan->filesystems[i];
			if (!fs->mountpoint || strcmp(fs->fstype, "swap") == 0 || mount_depth(fs->mountpoint) != depth)
				continue;
			r = mount_one(o->root, plan, target, fs, e);
			if (r < 0)
				return r;
		}
	for (size_t i = 0; o->swapon && i < plan->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &plan->filesystems[i];
		if (strcmp(fs->fstype, "swap") != 0)
			continue;
		r = guard_check_write(o->root, plan, fs->device, e);
		if (r < 0)
			return r;
		char p[PATH_MAX];
		nm_root_path(o->root, fs->device, p, sizeof p);
		nm_info("swapon %s", fs->device);
		if (swapon(p, 0) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: swapon failed: %s", fs->device, strerror(errno));
	}
	return 0;
}

int disk_swapoff(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	for (size_t i = 0; i < plan->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &plan->filesystems[i];
		if (strcmp(fs->fstype, "swap") != 0)
			continue;
		char p[PATH_MAX];
		nm_root_path(o->root, fs->device, p, sizeof p);
		if (swapoff(p) == 0) {
			nm_info("swapoff %s", fs->device);
			continue;
		}
		/* EINVAL: not a swap area in use; ENOENT: an array not assembled (never swapped on). */
		if (errno != EINVAL && errno != ENOENT)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: swapoff failed: %s", fs->device, strerror(errno));
	}
	return 0;
}
