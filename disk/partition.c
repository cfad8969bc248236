/* partition.c: writes the planned GPT on each planned disk with libparted — partitions at the
 * planned start and size, numbers, names and type (by flag) — sets the planned partition UUIDs
 * (and any type GUID no libparted flag names) with sfdisk, because libparted 3.5 has no call for
 * either, tells the kernel with partx, waits for the partition nodes by polling and reads the table back
 * with libblkid to prove it. It writes only to disks the guard accepts. */
#include "disk/ops-internal.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <parted/parted.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define GUID_BIOS_BOOT "21686148-6449-6e6f-744e-656564454649"
#define GUID_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define GUID_LINUX_RAID "a19d880f-05fc-4d3b-a006-743f0f84911e"
#define GUID_LINUX_SWAP "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
#define GUID_LINUX_DATA "0fc63daf-8483-4772-8e79-3d69d8477de4"

#define PARTITION_NODE_TIMEOUT_MS 15000

/* libparted reports problems through one process-wide handler without a context pointer; the
 * last message is kept per thread so the error record can quote it. */
static _Thread_local char parted_last_message[512];

static PedExceptionOption parted_exception(PedException *ex)
{
	snprintf(parted_last_message, sizeof parted_last_message, "%s", ex->message ? ex->message : "?");
	nm_warn("libparted: %s", parted_last_message);
	/* Never answer a question in the operator's place: cancel when that is an option. */
	if (ex->options & PED_EXCEPTION_CANCEL)
		return PED_EXCEPTION_CANCEL;
	if (ex->type <= PED_EXCEPTION_WARNING && (ex->options & PED_EXCEPTION_OK))
		return PED_EXCEPTION_OK;
	return PED_EXCEPTION_UNHANDLED;
}

/* The libparted flag that gives a partition this GPT type, or -1 when none does. */
static int flag_for_type(const char *guid, bool *is_default)
{
	*is_default = strcasecmp(guid, GUID_LINUX_DATA) == 0;
	if (strcasecmp(guid, GUID_BIOS_BOOT) == 0)
		return PED_PARTITION_BIOS_GRUB;
	if (strcasecmp(guid, GUID_ESP) == 0)
		return PED_PARTITION_BOOT; /* on GPT "boot" is the EFI system partition type */
	if (strcasecmp(guid, GUID_LINUX_RAID) == 0)
		return PED_PARTITION_RAID;
	if (strcasecmp(guid, GUID_LINUX_SWAP) == 0)
		return PED_PARTITION_SWAP;
	return -1;
}

static const char *parted_message(void)
{
	return parted_last_message[0] ? parted_last_message : "no details from libparted";
}

static int add_partition(PedDisk *pd, const struct disk_member_plan *m, const struct disk_part_plan *pp,
			 struct nm_error *e)
{
	long long ss = pd->dev->sector_size;
	if (pp->start % (uint64_t)ss || pp->size % (uint64_t)ss || pp->size == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: partition %u (start %llu, size %llu bytes) is not a whole number of %lld-byte "
			       "sectors; fix the plan",
			       m->name, pp->number, (unsigned long long)pp->start, (unsigned long long)pp->size, ss);
	PedSector start = (PedSector)(pp->start / (uint64_t)ss);
	PedSector end = start + (PedSector)(pp->size / (uint64_t)ss) - 1;
	PedPartition *part = ped_partition_new(pd, PED_PARTITION_NORMAL, NULL, start, end);
	if (!part)
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "%s: partition %u: %s", m->name, pp->number,
			       parted_message());
	part->num = (int)pp->number; /* keep planned numbers even with gaps (no swap: 1, 2, 4) */
	bool is_default = false;
	int flag = flag_for_type(pp->type_guid, &is_default);
	if (flag >= 0 && !ped_partition_set_flag(part, (PedPartitionFlag)flag, 1)) {
		ped_partition_destroy(part);
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "%s: partition %u: cannot set its type: %s", m->name,
			       pp->number, parted_message());
	}
	if (pp->name && !ped_partition_set_name(part, pp->name)) {
		ped_partition_destroy(part);
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "%s: partition %u: cannot name it %s: %s", m->name,
			       pp->number, pp->name, parted_message());
	}
	PedConstraint *exact = ped_constraint_exact(&part->geom);
	int ok = exact && ped_disk_add_partition(pd, part, exact);
	ped_constraint_destroy(exact);
	if (!ok) {
		ped_partition_destroy(part);
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL,
			       "%s: partition %u does not fit at sectors %lld-%lld: %s; the disk may be smaller "
			       "than planned",
			       m->name, pp->number, (long long)start, (long long)end, parted_message());
	}
	return 0;
}

static int write_table(const struct disk_member_plan *m, struct nm_error *e)
{
	parted_last_message[0] = '\0';
	PedDevice *dev = ped_device_get(m->path);
	if (!dev)
		return nm_fail(e, NM_ERR_RUNTIME, ENODEV, "%s: libparted cannot use %s: %s", m->name, m->path,
			       parted_message());
	PedDisk *pd = ped_disk_new_fresh(dev, ped_disk_type_get("gpt"));
	int r = 0;
	if (!pd)
		r = nm_fail(e, NM_ERR_RUNTIME, EIO, "%s: cannot start a GPT: %s", m->name, parted_message());
	for (size_t i = 0; r == 0 && i < m->n_parts; i++)
		r = add_partition(pd, m, &m->parts[i], e);
	if (r == 0 && !ped_disk_commit_to_dev(pd))
		r = nm_fail(e, NM_ERR_RUNTIME, EIO, "%s: writing the GPT failed: %s", m->name, parted_message());
	if (pd)
		ped_disk_destroy(pd);
	ped_device_destroy(dev);
	return r;
}

/* The kernel learns the new partitions from partx (util-linux), partition by partition through
 * BLKPG, which works even on kernels that parse no partition tables themselves. --add, as the
 * wipe phase has made the kernel forget every old partition of the disk (an old one still there
 * is EBUSY, exit 1); not --update, which in util-linux 2.38 stops quietly, with exit 0, at the
 * first gap in the numbers (1, 2, 4 without swap: no partition 4). Not through
 * libparted's commit_to_os: Debian's libparted runs `udevadm settle` around it, and settle waits
 * for udevd's queue, where udevd keeps the events of a locked disk until the lock goes — so the
 * commit would either stall for settle's 120 s or need the disk lock let go. A let-go lock is
 * a window in which udevd, answering the writer's close of the disk, re-reads the partition
 * table (BLKRRPART) and the kernel drops and re-adds every partition node behind our back: seen
 * once in the simulated rescue (tests/vm/partitions_stay_put_under_udev.sh), the kernel there
 * not refusing the re-read although the disk was open exclusively. With partx the lock is held
 * from partition to mount (the pipeline lets it go only after the wipe, for udevd to drain its
 * queue), and udevd's re-read never runs on a partitioned disk. */
static int tell_kernel(const char *root, const struct disk_plan *plan, const struct disk_member_plan *m,
		       struct nm_error *e)
{
	const char *argv[] = {"partx", "--add", m->path, NULL};
	int r = guard_run(root, plan, m->path, argv, e);
	if (r < 0)
		nm_error_prefix(e,
				"%s: the kernel did not take the new partitions (something may still hold the "
				"disk; see 'ls /sys/block/%s')",
				m->name, m->name);
	return r;
}

/* sfdisk edits only the table on disk here (--no-tell-kernel): the kernel's view of the
 * partitions' geometry does not change with a UUID or type. */
static int set_uuid_and_type(const char *root, const struct disk_plan *plan, const struct disk_member_plan *m,
			     struct nm_error *e)
{
	for (size_t i = 0; i < m->n_parts; i++) {
		const struct disk_part_plan *pp = &m->parts[i];
		char num[16];
		snprintf(num, sizeof num, "%u", pp->number);
		if (pp->part_uuid[0]) {
			const char *argv[] = {"sfdisk", "--no-reread", "--no-tell-kernel", "--part-uuid",
					      m->path,	num,	       pp->part_uuid,	   NULL};
			int r = guard_run(root, plan, m->path, argv, e);
			if (r < 0)
				return r;
		}
		bool is_default = false;
		if (flag_for_type(pp->type_guid, &is_default) < 0 && !is_default) {
			const char *argv[] = {"sfdisk", "--no-reread", "--no-tell-kernel", "--part-type",
					      m->path,	num,	       pp->type_guid,	   NULL};
			int r = guard_run(root, plan, m->path, argv, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

struct node_wait {
	const char *root;
	const char *path;
};

static bool partition_node_ready(const void *arg)
{
	const struct node_wait *w = arg;
	const char *base = strrchr(w->path, '/');
	base = base ? base + 1 : w->path;
	char rel[160];
	snprintf(rel, sizeof rel, "/sys/class/block/%s/dev", base);
	_cleanup_free_ char *devnum = NULL;
	if (nm_read_line(w->root, rel, &devnum) < 0)
		return false;
	char p[PATH_MAX];
	struct stat sb;
	if (nm_root_path(w->root, w->path, p, sizeof p) < 0 || stat(p, &sb) < 0 || !S_ISBLK(sb.st_mode))
		return false;
	char want[32];
	snprintf(want, sizeof want, "%u:%u", major(sb.st_rdev), minor(sb.st_rdev));
	return strcmp(want, devnum) == 0;
}

static int wait_for_nodes(const char *root, const struct disk_member_plan *m, struct nm_error *e)
{
	for (size_t i = 0; i < m->n_parts; i++) {
		struct node_wait w = {root, m->parts[i].path};
		if (!poll_until(partition_node_ready, &w, PARTITION_NODE_TIMEOUT_MS))
			return nm_fail(e, NM_ERR_RUNTIME, ETIME,
				       "%s: %s did not appear within %u s after partitioning; check that devtmpfs "
				       "(or udev) runs and 'ls /sys/class/block'",
				       m->name, m->parts[i].path, PARTITION_NODE_TIMEOUT_MS / 1000);
	}
	return 0;
}

static const struct disk_part_plan *planned_part(const struct disk_member_plan *m, int number)
{
	for (size_t i = 0; i < m->n_parts; i++)
		if ((int)m->parts[i].number == number)
			return &m->parts[i];
	return NULL;
}

static int check_one(const struct disk_member_plan *m, blkid_partition bp, struct nm_error *e)
{
	int num = blkid_partition_get_partno(bp);
	const struct disk_part_plan *pp = planned_part(m, num);
	if (!pp)
		return nm_fail(e, NM_ERR_VERIFY, EEXIST, "%s: partition %d is on the disk but not in the plan", m->name,
			       num);
	uint64_t start = (uint64_t)blkid_partition_get_start(bp) * 512;
	uint64_t size = (uint64_t)blkid_partition_get_size(bp) * 512;
	const char *type = blkid_partition_get_type_string(bp);
	const char *uuid = blkid_partition_get_uuid(bp);
	const char *name = blkid_partition_get_name(bp);
	const char *what = NULL;
	if (start != pp->start || size != pp->size)
		what = "start or size";
	else if (!type || strcasecmp(type, pp->type_guid) != 0)
		what = "type GUID";
	else if (pp->part_uuid[0] && (!uuid || strcasecmp(uuid, pp->part_uuid) != 0))
		what = "partition UUID";
	else if (pp->name && strcmp(name ? name : "", pp->name) != 0)
		what = "name";
	if (what)
		return nm_fail(e, NM_ERR_VERIFY, EIO,
			       "%s: partition %d reads back with a different %s than planned (start %llu size %llu "
			       "type %s uuid %s name %s)",
			       m->name, num, what, (unsigned long long)start, (unsigned long long)size,
			       type ? type : "-", uuid ? uuid : "-", name ? name : "-");
	return 0;
}

/* Reads the table back with libblkid (independent of libparted) and compares it to the plan. */
static int check_table(const char *root, const struct disk_member_plan *m, struct nm_error *e)
{
	_cleanup_close_ int fd = -1;
	blkid_probe pr = probe_device_ro(root, m->path, "check the GPT", &fd, e);
	if (!pr)
		return -EIO;
	blkid_partlist ls = blkid_probe_get_partitions(pr);
	blkid_parttable tab = ls ? blkid_partlist_get_table(ls) : NULL;
	const char *tt = tab ? blkid_parttable_get_type(tab) : NULL;
	int r = 0;
	if (!tt || strcmp(tt, "gpt") != 0)
		r = nm_fail(e, NM_ERR_VERIFY, EIO, "%s: no GPT found after partitioning (found %s)", m->name,
			    tt ? tt : "nothing");
	int n = ls ? blkid_partlist_numof_partitions(ls) : 0;
	if (r == 0 && n != (int)m->n_parts)
		r = nm_fail(e, NM_ERR_VERIFY, EIO, "%s: %d partitions on disk, %zu planned", m->name, n, m->n_parts);
	for (int i = 0; r == 0 && i < n; i++)
		r = check_one(m, blkid_partlist_get_partition(ls, i), e);
	blkid_free_probe(pr);
	return r;
}

int disk_partition(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	ped_exception_set_handler(parted_exception);
	for (size_t i = 0; i < plan->n_disks; i++) {
		const struct disk_member_plan *m = &plan->disks[i];
		/* Held exclusively while libparted and sfdisk work on it, so nothing mounts or claims
		 * the disk meanwhile; their own (non-exclusive) opens still work. */
		_cleanup_close_ int fd = guard_open(o->root, plan, m->path, e);
		if (fd < 0)
			return fd;
		nm_info("%s: writing GPT with %zu partitions", m->name, m->n_parts);
		int r = write_table(m, e);
		if (r == 0)
			r = set_uuid_and_type(o->root, plan, m, e);
		if (r == 0)
			r = tell_kernel(o->root, plan, m, e);
		if (r == 0)
			r = wait_for_nodes(o->root, m, e);
		if (r == 0)
			r = check_table(o->root, m, e);
		if (r < 0)
			return r;
	}
	return 0;
}
