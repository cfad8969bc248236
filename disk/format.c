/* format.c: makes the planned filesystems and swap with the UUIDs and labels the plan chose (the
 * rendered configuration refers to them by UUID), then probes each device to prove it. No mkfs
 * is ever forced: a device that still carries a signature was not wiped, and mkfs refusing is
 * the right answer. Only devices the guard accepts are formatted. */
#include "disk/ops-internal.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

/* vfat volume ids are 32 bits, planned as "XXXX-XXXX"; mkfs.vfat -i wants "XXXXXXXX". */
static int vfat_volume_id(const char *uuid, char out[9])
{
	size_t o = 0;
	for (const char *p = uuid; *p; p++) {
		if (*p == '-')
			continue;
		if (o >= 8 || !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
			return -EINVAL;
		out[o++] = *p;
	}
	out[o] = '\0';
	return o == 8 ? 0 : -EINVAL;
}

static int mkfs_argv(const struct disk_fs_plan *fs, const char *argv[16], char *scratch, size_t scratch_size,
		     struct nm_error *e)
{
	size_t n = 0;
	const char *label = fs->label && *fs->label ? fs->label : NULL;
	if (strcmp(fs->fstype, "ext4") == 0) {
		argv[n++] = "mkfs.ext4";
		argv[n++] = "-q";
		argv[n++] = "-U";
		argv[n++] = fs->uuid;
		if (label)
			argv[n++] = "-L", argv[n++] = label;
	} else if (strcmp(fs->fstype, "xfs") == 0) {
		snprintf(scratch, scratch_size, "uuid=%s", fs->uuid);
		argv[n++] = "mkfs.xfs";
		argv[n++] = "-q";
		argv[n++] = "-m";
		argv[n++] = scratch;
		if (label)
			argv[n++] = "-L", argv[n++] = label;
	} else if (strcmp(fs->fstype, "btrfs") == 0) {
		argv[n++] = "mkfs.btrfs";
		argv[n++] = "-q";
		argv[n++] = "-U";
		argv[n++] = fs->uuid;
		if (label)
			argv[n++] = "-L", argv[n++] = label;
	} else if (strcmp(fs->fstype, "vfat") == 0) {
		if (vfat_volume_id(fs->uuid, scratch) < 0)
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "%s: vfat UUID \"%s\" is not XXXX-XXXX (hex); fix the plan", fs->device,
				       fs->uuid);
		argv[n++] = "mkfs.vfat";
		argv[n++] = "-F";
		argv[n++] = "32";
		argv[n++] = "-i";
		argv[n++] = scratch;
		if (label)
			argv[n++] = "-n", argv[n++] = label;
	} else if (strcmp(fs->fstype, "swap") == 0) {
		argv[n++] = "mkswap";
		argv[n++] = "-U";
		argv[n++] = fs->uuid;
		if (label)
			argv[n++] = "-L", argv[n++] = label;
	} else
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: filesystem \"%s\" is not one nmmm makes (ext4, xfs, btrfs, vfat, swap)", fs->device,
			       fs->fstype);
	argv[n++] = fs->device;
	argv[n] = NULL;
	return 0;
}

/* What libblkid sees on the device now must be what was planned. */
static int check_filesystem(const char *root, const struct disk_fs_plan *fs, struct nm_error *e)
{
	_cleanup_close_ int fd = -1;
	blkid_probe pr = probe_device_ro(root, fs->device, "check the new filesystem", &fd, e);
	if (!pr)
		return -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
	const char *type = NULL, *uuid = NULL;
	int r = blkid_do_safeprobe(pr);
	if (r == 0) {
		blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
		blkid_probe_lookup_value(pr, "UUID", &uuid, NULL);
	}
	bool ok = r == 0 && type && strcmp(type, fs->fstype) == 0 && uuid && strcasecmp(uuid, fs->uuid) == 0;
	if (!ok)
		r = nm_fail(e, NM_ERR_VERIFY, EIO,
			    "%s: after mkfs libblkid sees %s with UUID %s, planned %s with UUID %s", fs->device,
			    type ? type : "nothing", uuid ? uuid : "-", fs->fstype, fs->uuid);
	else
		r = 0;
	blkid_free_probe(pr);
	return r;
}

int disk_format(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	for (size_t i = 0; i < plan->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &plan->filesystems[i];
		const char *argv[16];
		char scratch[64];
		int r = mkfs_argv(fs, argv, scratch, sizeof scratch, e);
		if (r < 0)
			return r;
		nm_info("%s: making %s (UUID %s)", fs->device, fs->fstype, fs->uuid);
		r = guard_run(o->root, plan, fs->device, argv, e);
		if (r == 0)
			r = check_filesystem(o->root, fs, e);
		if (r < 0)
			return r;
	}
	return 0;
}
