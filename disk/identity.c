/* identity.c: whether a planned disk is still the disk the plan was made for. A kernel name
 * (sda, nvme0n1, loop0) says only where a disk sits today: a hot-swapped disk or a loop device
 * attached to another image takes the same name. The plan records what the disk is — serial,
 * WWN/EUI, model, size, logical sector size and the kernel's diskseq (a number the kernel gives
 * each disk it attaches and bumps whenever it attaches other media under the same name) — and
 * this file compares that record with what the machine shows now: from sysfs before a
 * destructive phase, from the open descriptor in the guard. One comparison for every caller.
 * It never writes. */
#include "disk/disk-internal.h"
#include "disk/ops-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#ifndef BLKGETDISKSEQ
#define BLKGETDISKSEQ _IOR(0x12, 128, __u64) /* Linux 5.15; older headers lack it */
#endif

static const char *or_none(const char *s)
{
	return s ? s : "none";
}

static bool same_text(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

static int changed(const struct disk_member_plan *m, const char *field, const char *planned, const char *now,
		   struct nm_error *e)
{
	return nm_fail(e, NM_ERR_REFUSED, ESTALE,
		       "%s: %s changed since the plan was made (planned %s, now %s): another disk may sit under "
		       "the name %s; nothing was written. Check the disks and run plan again (an install: start "
		       "over without --resume)",
		       m->name, field, planned, now, m->name);
}

static int changed_number(const struct disk_member_plan *m, const char *field, uint64_t planned, uint64_t now,
			  struct nm_error *e)
{
	char a[32], b[32];
	snprintf(a, sizeof a, "%" PRIu64, planned);
	snprintf(b, sizeof b, "%" PRIu64, now);
	return changed(m, field, a, b, e);
}

/* A size as bytes and logical sectors, the two ways an operator may read it. */
static int changed_size(const struct disk_member_plan *m, uint64_t now, unsigned now_sector, struct nm_error *e)
{
	char a[64], b[64];
	unsigned ps = m->logical_sector_size ? m->logical_sector_size : 512, ns = now_sector ? now_sector : 512;
	snprintf(a, sizeof a, "%" PRIu64 " bytes, %" PRIu64 " sectors", m->size_bytes, m->size_bytes / ps);
	snprintf(b, sizeof b, "%" PRIu64 " bytes, %" PRIu64 " sectors", now, now / ns);
	return changed(m, "size", a, b, e);
}

int identity_compare(const struct disk_member_plan *m, const struct disk_identity *now, struct nm_error *e)
{
	/* A record with nothing but a name would make the name the identity. */
	if (!m->serial && !m->wwid && !m->diskseq && !m->size_bytes)
		return nm_fail(e, NM_ERR_REFUSED, EINVAL,
			       "%s: the plan records nothing that identifies this disk (no serial, WWN, diskseq or "
			       "size), and nmmm never knows a disk by its name alone; run plan again",
			       m->name);
	unsigned seen = now->seen;
	if ((seen & DISK_ID_SERIAL) && !same_text(m->serial, now->serial))
		return changed(m, "serial", or_none(m->serial), or_none(now->serial), e);
	if ((seen & DISK_ID_WWID) && !same_text(m->wwid, now->wwid))
		return changed(m, "WWN", or_none(m->wwid), or_none(now->wwid), e);
	if ((seen & DISK_ID_MODEL) && !same_text(m->model, now->model))
		return changed(m, "model", or_none(m->model), or_none(now->model), e);
	if ((seen & DISK_ID_SIZE) && m->size_bytes != now->size_bytes)
		return changed_size(m, now->size_bytes, now->logical_sector_size, e);
	if ((seen & DISK_ID_SECTOR) && m->logical_sector_size != now->logical_sector_size)
		return changed_number(m, "logical sector size", m->logical_sector_size, now->logical_sector_size, e);
	if ((seen & DISK_ID_DISKSEQ) && m->diskseq != now->diskseq)
		return changed_number(m, "diskseq", m->diskseq, now->diskseq, e);
	return 0;
}

int identity_check_sysfs(const char *root, const struct disk_member_plan *m, struct nm_error *e)
{
	struct disk_info d = {0};
	_cleanup_strv_free_ char **warnings = nm_strv_new();
	int r = warnings ? disk_identity_read(root, m->name, &d, NULL, &warnings) : -ENOMEM;
	if (r == -ENOENT) {
		disk_info_clear(&d);
		return nm_fail(e, NM_ERR_REFUSED, ENODEV,
			       "%s: the planned disk (serial %s) is not here any more; nothing was written. Check the "
			       "disks and run plan again (an install: start over without --resume)",
			       m->name, or_none(m->serial));
	}
	if (r < 0) {
		disk_info_clear(&d);
		return nm_fail(e, NM_ERR_RUNTIME, -r, "%s: cannot read what the disk is: %s", m->name, strerror(-r));
	}
	struct disk_identity now = {
	    .seen = DISK_ID_ALL,
	    .serial = d.serial,
	    .wwid = d.wwid,
	    .model = d.model,
	    .size_bytes = d.size_bytes,
	    .logical_sector_size = d.logical_sector_size,
	    .diskseq = d.diskseq,
	};
	r = identity_compare(m, &now, e);
	disk_info_clear(&d);
	return r;
}

int identity_check_fd(const struct disk_member_plan *m, int fd, bool whole_disk, struct nm_error *e)
{
	struct disk_identity now = {.seen = DISK_ID_DISKSEQ};
	/* A partition's descriptor answers with its disk's diskseq; only the disk's has its size. */
	if (ioctl(fd, BLKGETDISKSEQ, &now.diskseq) < 0) {
		if (errno != ENOTTY && errno != EINVAL)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot read the diskseq of the open disk: %s",
				       m->name, strerror(errno));
		now.diskseq = 0; /* a kernel before 5.15: its sysfs has none either */
	}
	if (whole_disk) {
		int sector = 0;
		if (ioctl(fd, BLKGETSIZE64, &now.size_bytes) < 0 || ioctl(fd, BLKSSZGET, &sector) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot read the size of the open disk: %s",
				       m->name, strerror(errno));
		now.logical_sector_size = (unsigned)sector;
		now.seen |= DISK_ID_SIZE | DISK_ID_SECTOR;
	}
	return identity_compare(m, &now, e);
}

int disk_identity_check(const struct disk_plan *plan, const char *root, struct nm_error *e)
{
	for (size_t i = 0; i < plan->n_disks; i++) {
		int r = identity_check_sysfs(root, &plan->disks[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}
