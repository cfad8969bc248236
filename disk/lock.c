/* lock.c: a BSD lock (flock LOCK_EX) on each planned whole disk while the engine rewrites it, as
 * systemd's block device locking convention asks of partitioning and formatting tools. udevd
 * takes LOCK_SH|LOCK_NB on the whole disk before it handles an event of the disk or of one of its
 * partitions; while we hold LOCK_EX it leaves them alone and handles the events later.
 *
 * The lock matters most for what udevd does when a writer closes a disk: it re-reads the
 * partition table (BLKRRPART), and the kernel removes and re-adds every partition node. Seen in
 * the simulated rescue without the lock: nvme0n1p1..p4 removed and added again just after the
 * partition phase, while the raid phase was about to open them. With the lock, udevd's BLKRRPART
 * finds the disk locked and only announces a change; once the arrays and mounts hold the
 * partitions open, a re-read would be refused anyway (EBUSY).
 *
 * The lock descriptors are read-only, so releasing them triggers no event of their own. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>

/* udevd holds its shared lock only while it probes a device: a few milliseconds, a few seconds
 * for a slow disk. Longer than this, someone else is at work on the disk. */
#define DISK_LOCK_WAIT_MS 10000

struct lock_try {
	int fd;
	int err; /* of the last attempt, 0 once locked */
};

static bool try_lock(const void *arg)
{
	struct lock_try *t = (struct lock_try *)arg;
	t->err = flock(t->fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
	return t->err != EWOULDBLOCK;
}

static int lock_one(const char *root, const struct disk_plan *plan, const struct disk_member_plan *m, int *out,
		    struct nm_error *e)
{
	int r = guard_check(root, plan, m->path, NULL, 0, e);
	if (r < 0)
		return r;
	char p[PATH_MAX];
	if (nm_root_path(root, m->path, p, sizeof p) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENAMETOOLONG, "%s: path too long", m->path);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open to lock it: %s", m->path, strerror(errno));
	struct lock_try t = {.fd = fd, .err = EWOULDBLOCK};
	poll_until(try_lock, &t, DISK_LOCK_WAIT_MS);
	if (t.err != 0) {
		int err = t.err;
		if (err == EWOULDBLOCK)
			return nm_fail(e, NM_ERR_REFUSED, err,
				       "%s: another program has held a lock on the disk for %u s (a partitioning "
				       "or formatting tool); find it with 'lslocks' or 'fuser -v %s', let it "
				       "finish or stop it, and run again",
				       m->path, DISK_LOCK_WAIT_MS / 1000, m->path);
		return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot lock the disk: %s", m->path, strerror(err));
	}
	*out = fd;
	fd = -1;
	return 0;
}

int disk_lock(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	struct disk_lock *l = o->lock;
	if (!l || l->fds)
		return 0;
	l->fds = calloc(plan->n_disks ? plan->n_disks : 1, sizeof *l->fds);
	if (!l->fds)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	l->n = 0;
	for (size_t i = 0; i < plan->n_disks; i++) {
		int r = lock_one(o->root, plan, &plan->disks[i], &l->fds[l->n], e);
		if (r < 0) {
			disk_unlock(l);
			return r;
		}
		l->n++;
	}
	nm_debug("locked %zu disk(s) against udev until the layout is done", l->n);
	return 0;
}

void disk_unlock(struct disk_lock *l)
{
	for (size_t i = 0; l->fds && i < l->n; i++)
		close(l->fds[i]);
	free(l->fds);
	l->fds = NULL;
	l->n = 0;
}

#define UDEV_SETTLE_TIMEOUT_S "240" /* below the program runner's 300 s, so settle says why itself */

int disk_udev_settle(struct nm_error *e)
{
	/* Always the host's udevd: destructive work never runs under another --root. */
	if (!nm_exists("/", "/run/udev/control"))
		return 0;
	const char *argv[] = {"udevadm", "settle", "--timeout=" UDEV_SETTLE_TIMEOUT_S, NULL};
	nm_info("waiting for udevd to handle the wiped disks' events");
	int r = nm_run(argv, NULL, NULL, e);
	if (r < 0)
		nm_error_prefix(e,
				"udevd did not handle its queued events within %s s (see 'udevadm monitor'); "
				"the disks are wiped and not yet partitioned: run the command again once "
				"'udevadm settle' returns",
				UDEV_SETTLE_TIMEOUT_S);
	return r;
}
