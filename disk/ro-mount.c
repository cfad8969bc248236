/* ro-mount.c: an installed system's filesystems, looked at without writing a byte — every ext4,
 * xfs or btrfs filesystem libblkid finds on the block devices under the --root prefix (probed
 * read-only), and a read-only mount of one without journal or log replay (ext4 noload, xfs
 * norecovery, btrfs rescue=nologreplay) through a read-only loop device in between: a read-only
 * mount alone still lets ext4 clean up orphan inodes on the device, a read-only block device
 * does not. The loop device detaches itself when the mount goes (autoclear). Nothing here opens
 * a disk for writing. */
#include "disk/disk-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>

#include <blkid/blkid.h>

/* The loop devices are the running kernel's, whatever --root says (like mount's own). */
#define LOOP_CONTROL "/dev/loop-control"
#define UMOUNT_TRIES 50 /* 100 ms apart: a program that just exited may still hold the mount */

void disk_fs_list_free(struct disk_fs_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].device);
		free(l->v[i].fstype);
		free(l->v[i].uuid);
		free(l->v[i].label);
	}
	free(l->v);
	nm_strv_free(l->probed);
	*l = (struct disk_fs_list){0};
}

static bool wanted_type(const char *t)
{
	return strcmp(t, "ext4") == 0 || strcmp(t, "xfs") == 0 || strcmp(t, "btrfs") == 0;
}

static char *probe_value(blkid_probe pr, const char *name)
{
	const char *v = NULL;
	return blkid_probe_lookup_value(pr, name, &v, NULL) == 0 && v ? strdup(v) : NULL;
}

/* One device: what libblkid finds on it, recorded in l->probed, and kept when it is a filesystem
 * a root can be. A device that cannot be opened (no node, no medium) is recorded as such. */
static int probe_one(const char *root, const char *name, struct disk_fs_list *l)
{
	char rel[PATH_MAX], path[PATH_MAX];
	snprintf(rel, sizeof rel, "/dev/%s", name);
	if (nm_root_path(root, rel, path, sizeof path) < 0)
		return 0;
	blkid_probe pr = blkid_new_probe_from_filename(path); /* opens O_RDONLY */
	if (!pr) {
		nm_warning_add(&l->probed, "%s: cannot open (%s)", name, strerror(errno ? errno : EIO));
		return 0;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
	int found = blkid_do_safeprobe(pr);
	_cleanup_free_ char *type = found == 0 ? probe_value(pr, "TYPE") : NULL;
	_cleanup_free_ char *uuid = type ? probe_value(pr, "UUID") : NULL;
	_cleanup_free_ char *label = type ? probe_value(pr, "LABEL") : NULL;
	blkid_free_probe(pr);
	nm_warning_add(&l->probed, "%s: %s%s%s", name,
		       type		 ? type
			   : found == -2 ? "ambiguous"
					 : "nothing",
		       uuid ? " UUID " : "", uuid ? uuid : "");
	if (!type || !uuid || !wanted_type(type))
		return 0;
	struct disk_fs_found *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	l->v = nv;
	l->v[l->n] = (struct disk_fs_found){.name = strdup(name), .device = strdup(rel)};
	struct disk_fs_found *f = &l->v[l->n++];
	f->fstype = NM_TAKE_PTR(type);
	f->uuid = NM_TAKE_PTR(uuid);
	f->label = NM_TAKE_PTR(label);
	return f->name && f->device ? 0 : -ENOMEM;
}

static bool has_medium(const char *root, const char *sysdir)
{
	char rel[PATH_MAX];
	uint64_t size = 0;
	int n = snprintf(rel, sizeof rel, "%s/size", sysdir);
	return n > 0 && (size_t)n < sizeof rel && nm_read_u64(root, rel, &size) == 0 && size > 0;
}

/* The device and each of its partitions (the subdirectories with a "partition" file). */
static int probe_disk(const char *root, const char *name, struct disk_fs_list *l)
{
	char sysdir[PATH_MAX];
	snprintf(sysdir, sizeof sysdir, "/sys/block/%s", name);
	if (!has_medium(root, sysdir))
		return 0; /* unattached loop devices, empty drives, stopped arrays */
	int r = probe_one(root, name, l);
	_cleanup_strv_free_ char **entries = NULL;
	if (r < 0 || nm_list_dir(root, sysdir, &entries) < 0)
		return r;
	for (size_t i = 0; r == 0 && entries[i]; i++) {
		char rel[PATH_MAX];
		int n = snprintf(rel, sizeof rel, "%s/%s/partition", sysdir, entries[i]);
		if (n > 0 && (size_t)n < sizeof rel && nm_exists(root, rel))
			r = probe_one(root, entries[i], l);
	}
	return r;
}

int disk_filesystems_find(const char *root, struct disk_fs_list *l, struct nm_error *e)
{
	*l = (struct disk_fs_list){.probed = nm_strv_new()};
	_cleanup_strv_free_ char **names = NULL;
	int r = nm_list_dir(root, "/sys/block", &names);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "/sys/block: cannot list the block devices: %s", strerror(-r));
	for (size_t i = 0; r == 0 && names[i]; i++)
		r = probe_disk(root, names[i], l);
	if (r < 0 || !l->probed) {
		disk_fs_list_free(l);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "probing filesystems: out of memory");
	}
	return 0;
}

const struct disk_fs_found *disk_fs_list_find_uuid(const struct disk_fs_list *l, const char *uuid)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].uuid, uuid) == 0)
			return &l->v[i];
	return NULL;
}

/* ---- the read-only mount ---- */

/* A free loop device bound read-only to the open backing device, detaching itself on its last
 * close; returns its descriptor and fills path. Another program may take the free device
 * between the two calls: then the next one. */
static int loop_attach_readonly(int backing, const char *what, char *path, size_t size, struct nm_error *e)
{
	_cleanup_close_ int ctl = open(LOOP_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open (%s); load the loop module ('modprobe loop')",
			       LOOP_CONTROL, strerror(errno));
	for (int attempt = 0; attempt < 16; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "no free loop device: %s", strerror(errno));
		snprintf(path, size, "/dev/loop%d", n);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open: %s", path, strerror(errno));
		struct loop_config cfg = {.fd = (uint32_t)backing};
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", what);
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		int err = errno;
		close(fd);
		if (err != EBUSY)
			return nm_fail(
			    e, NM_ERR_RUNTIME, err,
			    "%s: cannot bind it read-only to %s: %s (LOOP_CONFIGURE needs Linux 5.8 or later)", path,
			    what, strerror(err));
	}
	return nm_fail(e, NM_ERR_RUNTIME, EBUSY, "no free loop device stayed free for %s; try again", what);
}

/* The options that keep each filesystem from replaying its journal or log, in the order tried:
 * btrfs spells it rescue=nologreplay since Linux 5.9 and nologreplay before. */
static const char *const *no_replay_options(const char *fstype)
{
	static const char *const ext4[] = {"noload", NULL};
	static const char *const xfs[] = {"norecovery", NULL};
	static const char *const btrfs[] = {"rescue=nologreplay", "nologreplay", NULL};
	if (strcmp(fstype, "ext4") == 0)
		return ext4;
	if (strcmp(fstype, "xfs") == 0)
		return xfs;
	if (strcmp(fstype, "btrfs") == 0)
		return btrfs;
	return NULL;
}

static int mount_loop(const char *loop, const struct disk_fs_found *fs, const char *dir, struct disk_ro_mount *m,
		      struct nm_error *e)
{
	const char *const *opts = no_replay_options(fs->fstype);
	if (!opts)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: %s is not a filesystem diagnose mounts (ext4, xfs, btrfs)",
			       fs->device, fs->fstype);
	int err = EINVAL;
	for (size_t i = 0; opts[i]; i++) {
		if (mount(loop, dir, fs->fstype, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, opts[i]) == 0) {
			m->options = nm_strdup_printf("ro,%s", opts[i]);
			m->mounted = true;
			return 0;
		}
		err = errno;
		if (err != EINVAL)
			break; /* EINVAL: the kernel does not know this spelling; try the next */
	}
	return nm_fail(e, NM_ERR_RUNTIME, err,
		       "%s (%s, UUID %s): read-only mount at %s without journal replay failed: %s; the kernel log "
		       "('dmesg | tail') says why",
		       fs->device, fs->fstype, fs->uuid, dir, strerror(err));
}

int disk_mount_readonly(const char *root, const struct disk_fs_found *fs, const char *dir, struct disk_ro_mount *m,
			struct nm_error *e)
{
	*m = (struct disk_ro_mount){.dir = strdup(dir)};
	char path[PATH_MAX];
	if (!m->dir || nm_root_path(root, fs->device, path, sizeof path) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory", fs->device);
	_cleanup_close_ int backing = open(path, O_RDONLY | O_CLOEXEC);
	if (backing < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open it read-only: %s", fs->device,
			       strerror(errno));
	char loop[64];
	_cleanup_close_ int loop_fd = loop_attach_readonly(backing, fs->device, loop, sizeof loop, e);
	if (loop_fd < 0)
		return loop_fd;
	m->loop = strdup(loop);
	if (!m->loop)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	nm_info("mounting %s (%s, UUID %s) read-only at %s through %s", fs->device, fs->fstype, fs->uuid, dir, loop);
	/* Once mounted, the mount holds the loop device; closing ours leaves it to go with the mount. */
	return mount_loop(loop, fs, dir, m, e);
}

int disk_unmount_readonly(struct disk_ro_mount *m, struct nm_error *e)
{
	if (!m->mounted)
		return 0;
	int err = 0;
	for (int i = 0; i < UMOUNT_TRIES; i++) {
		if (umount2(m->dir, UMOUNT_NOFOLLOW) == 0) {
			m->mounted = false;
			nm_info("unmounted %s", m->dir);
			return 0;
		}
		err = errno;
		if (err != EBUSY)
			break;
		usleep(100000);
	}
	return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot unmount: %s; 'umount %s' (it is read-only)", m->dir,
		       strerror(err), m->dir);
}

void disk_ro_mount_free(struct disk_ro_mount *m)
{
	struct nm_error e = {0};
	if (disk_unmount_readonly(m, &e) < 0)
		nm_warn("%s", e.msg);
	free(m->dir);
	free(m->loop);
	free(m->options);
	*m = (struct disk_ro_mount){0};
}
