/* ops-internal.h: private to the disk engine's destructive half (teardown, wipe, partition, raid,
 * format, mount). The storage stack on the planned disks as sysfs shows it, and the guard that
 * every write goes through. Nothing outside disk/ includes this. */
#pragma once

#include "disk/disk-internal.h"

#include <blkid/blkid.h>
#include <sys/types.h>

enum stack_kind {
	STACK_DISK, /* a planned whole disk */
	STACK_PART, /* a partition of a planned disk */
	STACK_DM, /* device-mapper: LUKS, LVM, other */
	STACK_MD, /* an md array */
	STACK_HOLDER_PART, /* a partition of a stacked device (md127p1): goes with its device, never
			      deleted from a planned disk's table */
};

/* One block device on (or stacked on) the planned disks. */
struct stack_dev {
	char name[64]; /* kernel name: loop0, loop0p1, dm-0, md127 */
	char disk[64]; /* the planned disk it belongs to (first one found for stacked devices) */
	enum stack_kind kind;
	unsigned major, minor;
	uint64_t start, size; /* bytes; start only for partitions */
	unsigned partno; /* partition number, for partitions */
	unsigned depth; /* 0 disk, 1 partition, 2+ stacked above */
};

struct disk_stack {
	struct stack_dev *devs;
	size_t n;
};

/* Walks /sys/block for every planned disk: its partitions, then holders recursively. */
int stack_read(const char *root, const struct disk_plan *plan, struct disk_stack *st, struct nm_error *e);
void stack_free(struct disk_stack *st);
const struct stack_dev *stack_find(const struct disk_stack *st, const char *name);
const struct stack_dev *stack_find_devnum(const struct disk_stack *st, unsigned major, unsigned minor);

/* The device node of a kernel name, under root ("/dev/loop0p1"). */
int dev_node_path(const char *root, const char *name, char *buf, size_t size);

/* ---- the guard: the one gate for writes ----
 * Resolves a device path to its kernel name and accepts it only when it is a planned disk, a
 * partition of one, or an md array whose every member is such a partition; never the disk that
 * holds the running system or the agent itself. */
int guard_check(const char *root, const struct disk_plan *plan, const char *dev_path, char *name_out, size_t name_size,
		struct nm_error *e);
/* guard_check, then open(2) O_RDWR|O_EXCL|O_CLOEXEC (exclusive: no mount, no other exclusive
 * opener meanwhile). Returns the fd. */
int guard_open(const char *root, const struct disk_plan *plan, const char *dev_path, struct nm_error *e);
/* guard_check, and what a write needs besides, for a device a tool or a kernel call opens by its
 * path: the host's root (never a --root tree), and the disks under it still the planned ones as
 * sysfs shows them now (identity.c). */
int guard_check_write(const char *root, const struct disk_plan *plan, const char *dev_path, struct nm_error *e);
/* guard_check_write on `dev_path`, then nm_run(argv). For external tools that write to the device. */
int guard_run(const char *root, const struct disk_plan *plan, const char *dev_path, const char *const argv[],
	      struct nm_error *e);

/* path is dir or below it. */
bool path_under(const char *path, const char *dir);

/* Opens a device read-only and starts a libblkid probe on it (nothing enabled yet); *fd is the
 * caller's to close, the probe to free. `why` completes "cannot reopen to ...". */
blkid_probe probe_device_ro(const char *root, const char *path, const char *why, int *fd, struct nm_error *e);

/* Removes every signature libblkid finds on an open device (blkid_do_wipe, like wipefs --all)
 * and flushes; returns how many. `what` names the device in messages. */
int wipe_device_signatures(int fd, const char *what, struct nm_error *e);

/* Polls until `done(arg)` says so or timeout_ms passes; returns true when done. */
bool poll_until(bool (*done)(const void *arg), const void *arg, unsigned timeout_ms);

/* md name of /dev/md/NAME or mdX: true when the kernel has an md driver (/proc/mdstat). */
bool md_driver_present(const char *root);

/* ---- LVM volume groups (lvm.c) ----
 * What `pvs` reports, read-only: every physical volume and the volume group it belongs to. A
 * teardown deactivates whole volume groups, so one with a PV on a planned disk and another PV
 * elsewhere is a refusal. */
struct lvm_pv {
	char *pv_name; /* /dev/sdb1, /dev/md127, /dev/mapper/crypt */
	char *vg_name; /* "" for a PV in no volume group */
	char *vg_uuid; /* VG names repeat across old disks; the UUID tells the groups apart */
};
struct lvm_pvs {
	struct lvm_pv *v;
	size_t n;
};
/* Parses `pvs --reportformat json -o pv_name,vg_name,vg_uuid` output; warnings LVM prints
 * around the report (stderr is captured with it) are skipped. */
int lvm_pvs_parse(const char *output, struct lvm_pvs *pvs, struct nm_error *e);
void lvm_pvs_free(struct lvm_pvs *pvs);
/* Refuses (NM_ERR_REFUSED) when a volume group with a PV in the stack of the planned disks
 * also has a PV outside it, naming the group, both PVs and the fix. */
int lvm_check_groups_in_plan(const char *root, const struct disk_stack *st, const struct lvm_pvs *pvs,
			     struct nm_error *e);
/* Runs pvs (read-only) and lvm_check_groups_in_plan. Only for the live machine (root "/"): LVM
 * sees the real devices, not a --root tree. */
int lvm_check_plan(const char *root, const struct disk_stack *st, struct nm_error *e);

/* Splits an LVM device-mapper name ("vg--a-lv") into the VG name ("vg-a"); false if not LVM-shaped. */
bool lvm_vg_from_dm_name(const char *dm_name, char *vg, size_t size);

/* ---- what a planned disk is (identity.c) ---- */

enum {
	DISK_ID_SERIAL = 1 << 0,
	DISK_ID_WWID = 1 << 1,
	DISK_ID_MODEL = 1 << 2,
	DISK_ID_SIZE = 1 << 3,
	DISK_ID_SECTOR = 1 << 4,
	DISK_ID_DISKSEQ = 1 << 5,
	DISK_ID_ALL = (1 << 6) - 1,
};

/* What a disk shows now; `seen` says which fields were observed (an open descriptor tells the
 * diskseq and, for a whole disk, the size and sector size, but no serial). NULL: none reported. */
struct disk_identity {
	unsigned seen;
	const char *serial, *wwid, *model;
	uint64_t size_bytes;
	unsigned logical_sector_size;
	uint64_t diskseq;
};

/* The one comparison: every observed field must equal the plan's record. NM_ERR_REFUSED naming
 * the disk, the field and both values otherwise, and for a record that holds nothing but a name. */
int identity_compare(const struct disk_member_plan *m, const struct disk_identity *now, struct nm_error *e);
/* The planned disk as sysfs (under root) shows it now, compared. */
int identity_check_sysfs(const char *root, const struct disk_member_plan *m, struct nm_error *e);
/* The open descriptor of a planned disk (whole_disk) or of one of its partitions, compared:
 * diskseq, and for the disk its size and logical sector size. */
int identity_check_fd(const struct disk_member_plan *m, int fd, bool whole_disk, struct nm_error *e);
