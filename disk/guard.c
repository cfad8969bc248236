/* guard.c: the one gate every write of the disk engine passes. A device is written only when it
 * is a planned disk, a partition of one, or an md array built only from those, and never when it
 * holds the running system or the agent binary. Opens for writing are exclusive (O_EXCL), so
 * nothing can mount or claim the device while the engine works on it. The disk under every
 * write must still be the one planned (identity.c): the open descriptor itself is checked, and
 * sysfs before an external tool runs. Writes never go through a --root tree, whose device nodes
 * are not the ones the tools open. Never writes anything. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static const struct disk_member_plan *planned_disk(const struct disk_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_disks; i++)
		if (plan->disks[i].name && strcmp(plan->disks[i].name, name) == 0)
			return &plan->disks[i];
	return NULL;
}

static char *planned_names(const struct disk_plan *plan)
{
	size_t len = 1;
	for (size_t i = 0; i < plan->n_disks; i++)
		len += strlen(plan->disks[i].name) + 2;
	char *s = calloc(1, len);
	for (size_t i = 0; s && i < plan->n_disks; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, plan->disks[i].name);
	}
	return s;
}

/* The whole disk(s) under a block device: itself, its parent for a partition, the disks of its
 * slaves for md/dm. Appends kernel names to *disks. */
static int underlying_disks(const char *root, const char *name, char ***disks, unsigned depth)
{
	char rel[256];
	if (depth > 16)
		return -ELOOP;
	snprintf(rel, sizeof rel, "/sys/class/block/%s/partition", name);
	if (nm_exists(root, rel)) {
		_cleanup_free_ char *target = NULL;
		snprintf(rel, sizeof rel, "/sys/class/block/%s", name);
		int r = nm_readlink(root, rel, &target);
		if (r < 0)
			return r;
		/* .../block/<disk>/<partition> */
		char *slash = strrchr(target, '/');
		if (!slash)
			return -EINVAL;
		*slash = '\0';
		const char *parent = strrchr(target, '/');
		parent = parent ? parent + 1 : target;
		/* The parent is a stacked device itself for md127p1: follow it down to its disks. */
		return underlying_disks(root, parent, disks, depth + 1);
	}
	_cleanup_strv_free_ char **slaves = NULL;
	snprintf(rel, sizeof rel, "/sys/block/%s/slaves", name);
	if (nm_list_dir(root, rel, &slaves) == 0 && slaves[0]) {
		for (size_t i = 0; slaves[i]; i++) {
			int r = underlying_disks(root, slaves[i], disks, depth + 1);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return nm_strv_contains(*disks, name) ? 0 : nm_strv_push(disks, name);
}

static int name_of_devnum(const char *root, dev_t dev, char **name)
{
	char rel[64];
	snprintf(rel, sizeof rel, "/sys/dev/block/%u:%u", major(dev), minor(dev));
	return nm_readlink_base(root, rel, name);
}

/* Refuses `disk` when it carries the running system ("/") or the agent's own binary (the
 * rescue's media). Both sit on block devices only when the machine runs from a disk. */
static int refuse_running_system(const char *root, const char *disk, struct nm_error *e)
{
	static const struct {
		const char *path;
		const char *what;
	} held[] = {
	    {"/", "the running system's root filesystem"},
	    {"/proc/self/exe", "the nmmm-agent binary being run"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(held); i++) {
		char p[PATH_MAX];
		struct stat sb;
		if (nm_root_path(root, held[i].path, p, sizeof p) < 0 || stat(p, &sb) < 0 || major(sb.st_dev) == 0)
			continue;
		_cleanup_free_ char *name = NULL;
		_cleanup_strv_free_ char **disks = nm_strv_new();
		if (!disks)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		if (name_of_devnum(root, sb.st_dev, &name) < 0 || underlying_disks(root, name, &disks, 0) < 0)
			continue;
		if (nm_strv_contains(disks, disk))
			return nm_fail(e, NM_ERR_REFUSED, EBUSY,
				       "%s: holds %s (%s); nmmm never writes to it — run from the rescue system "
				       "or leave %s out of --disks",
				       disk, held[i].what, held[i].path, disk);
	}
	return 0;
}

/* What the guard found a device path to be: its kernel name and device number, and the
 * planned disks it sits on. */
struct guard_target {
	char name[64];
	dev_t rdev;
	char **disks;
};

static int guard_examine(const char *root, const struct disk_plan *plan, const char *dev_path, struct guard_target *t,
			 struct nm_error *e)
{
	char p[PATH_MAX];
	struct stat sb;
	if (nm_root_path(root, dev_path, p, sizeof p) < 0 || stat(p, &sb) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno ? errno : ENAMETOOLONG, "%s: cannot find the device node: %s",
			       dev_path, strerror(errno));
	if (!S_ISBLK(sb.st_mode))
		return nm_fail(e, NM_ERR_REFUSED, ENOTBLK, "%s: not a block device; nmmm writes only to planned disks",
			       dev_path);
	_cleanup_free_ char *name = NULL;
	if (name_of_devnum(root, sb.st_rdev, &name) < 0)
		return nm_fail(e, NM_ERR_REFUSED, ENODEV,
			       "%s: the kernel does not list device %u:%u in /sys/dev/block; refusing to write to it",
			       dev_path, major(sb.st_rdev), minor(sb.st_rdev));
	t->disks = nm_strv_new();
	if (!t->disks)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = underlying_disks(root, name, &t->disks, 0);
	if (r < 0)
		return nm_fail(e, NM_ERR_REFUSED, -r, "%s: cannot tell which disks it sits on (%s); refusing to write",
			       dev_path, strerror(-r));
	for (size_t i = 0; t->disks[i]; i++) {
		if (!planned_disk(plan, t->disks[i])) {
			_cleanup_free_ char *planned = planned_names(plan);
			return nm_fail(e, NM_ERR_REFUSED, EPERM,
				       "%s: sits on %s, which is not in the plan (planned: %s); nmmm never writes to "
				       "a disk outside --disks",
				       dev_path, t->disks[i], planned ? planned : "?");
		}
		r = refuse_running_system(root, t->disks[i], e);
		if (r < 0)
			return r;
	}
	snprintf(t->name, sizeof t->name, "%s", name);
	t->rdev = sb.st_rdev;
	return 0;
}

int guard_check(const char *root, const struct disk_plan *plan, const char *dev_path, char *name_out, size_t name_size,
		struct nm_error *e)
{
	struct guard_target t = {0};
	int r = guard_examine(root, plan, dev_path, &t, e);
	nm_strv_free(t.disks);
	if (r == 0 && name_out)
		snprintf(name_out, name_size, "%s", t.name);
	return r;
}

int disk_host_root_check(const char *root, const char *what, struct nm_error *e)
{
	if (!root || !*root)
		return 0;
	_cleanup_free_ char *real = realpath(root, NULL);
	if (real && strcmp(real, "/") == 0)
		return 0;
	return nm_fail(e, NM_ERR_REFUSED, EPERM,
		       "%s: refused under --root %s: nmmm writes disks only of the machine it runs on (libparted, "
		       "sfdisk, mkfs, mdadm and mount open the running system's /dev, not the tree's). Run it "
		       "without --root; 'nmmm-agent --root DIR plan' shows what it would do there",
		       what, root);
}

/* Every planned disk under a device, as sysfs shows it now. */
static int check_disks_now(const char *root, const struct disk_plan *plan, char *const *disks, struct nm_error *e)
{
	for (size_t i = 0; disks[i]; i++) {
		int r = identity_check_sysfs(root, planned_disk(plan, disks[i]), e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The descriptor about to be written: the node examined (same device number), and for a
 * planned disk or a partition of one, the disk the plan was made for. Stacked devices (md, dm)
 * have a diskseq of their own: the disks under them are checked in sysfs instead. */
static int check_open(const char *root, const struct disk_plan *plan, const char *dev_path,
		      const struct guard_target *t, int fd, struct nm_error *e)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISBLK(sb.st_mode) || sb.st_rdev != t->rdev)
		return nm_fail(e, NM_ERR_REFUSED, ESTALE,
			       "%s: the device node changed between the check and the open (was %u:%u); nothing was "
			       "written — check what replaces nodes in /dev and run again",
			       dev_path, major(t->rdev), minor(t->rdev));
	const struct disk_member_plan *m = planned_disk(plan, t->name);
	if (m)
		return identity_check_fd(m, fd, true, e);
	char rel[128];
	snprintf(rel, sizeof rel, "/sys/class/block/%s/partition", t->name);
	if (t->disks[0] && !t->disks[1] && nm_exists(root, rel))
		return identity_check_fd(planned_disk(plan, t->disks[0]), fd, false, e);
	return check_disks_now(root, plan, t->disks, e);
}

#define EXCL_OPEN_GRACE_MS 5000

struct excl_open {
	char path[PATH_MAX];
	int fd;
	int err;
};

static bool try_open_exclusive(const void *arg)
{
	struct excl_open *eo = (struct excl_open *)arg;
	eo->fd = open(eo->path, O_RDWR | O_EXCL | O_CLOEXEC);
	eo->err = eo->fd < 0 ? errno : 0;
	return eo->fd >= 0 || eo->err != EBUSY;
}

/* What every write needs first: the device is planned (guard_examine) and the root is the host's. */
static int examine_for_write(const char *root, const struct disk_plan *plan, const char *dev_path,
			     struct guard_target *t, struct nm_error *e)
{
	int r = guard_examine(root, plan, dev_path, t, e);
	return r < 0 ? r : disk_host_root_check(root, dev_path, e);
}

int guard_open(const char *root, const struct disk_plan *plan, const char *dev_path, struct nm_error *e)
{
	struct guard_target t = {0};
	_cleanup_strv_free_ char **disks = NULL;
	int r = examine_for_write(root, plan, dev_path, &t, e);
	disks = t.disks;
	if (r < 0)
		return r;
	struct excl_open eo = {.fd = -1};
	nm_root_path(root, dev_path, eo.path, sizeof eo.path);
	/* The kernel may drop a just-unmounted filesystem's claim on its device a moment after
	 * umount returns (the last reference is released asynchronously): a device still busy
	 * after EXCL_OPEN_GRACE_MS is really in use. */
	poll_until(try_open_exclusive, &eo, EXCL_OPEN_GRACE_MS);
	int fd = eo.fd;
	if (fd < 0) {
		int err = eo.err;
		if (err == EBUSY)
			return nm_fail(e, NM_ERR_REFUSED, err,
				       "%s: busy — mounted, part of an array, or held open by a program; find the "
				       "holder with 'fuser -vm %s' or 'ls /sys/class/block/%s/holders'",
				       dev_path, dev_path, t.name);
		return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot open for writing: %s", dev_path, strerror(err));
	}
	r = check_open(root, plan, dev_path, &t, fd, e);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int guard_check_write(const char *root, const struct disk_plan *plan, const char *dev_path, struct nm_error *e)
{
	struct guard_target t = {0};
	_cleanup_strv_free_ char **disks = NULL;
	int r = examine_for_write(root, plan, dev_path, &t, e);
	disks = t.disks;
	return r < 0 ? r : check_disks_now(root, plan, t.disks, e);
}

int guard_run(const char *root, const struct disk_plan *plan, const char *dev_path, const char *const argv[],
	      struct nm_error *e)
{
	int r = guard_check_write(root, plan, dev_path, e);
	if (r < 0)
		return r;
	return nm_run(argv, NULL, NULL, e);
}
