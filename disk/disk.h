/* disk.h: the public face of the disk engine — inventory of the machine's disks (libblkid + sysfs),
 * layout planning, teardown/wipe, GPT (libparted), mdadm, mkfs and mount.
 * Everything the engine reads goes through the --root prefix (common.h). It never opens a disk
 * outside a plan for writing. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

struct disk_info {
	char *name; /* kernel name: nvme0n1, sda, vda, loop0 */
	char *path; /* /dev/<name> */
	char *by_id; /* preferred /dev/disk/by-id link, or NULL */
	uint64_t size_bytes;
	unsigned logical_sector_size;
	unsigned physical_sector_size;
	bool rotational;
	bool removable;
	char *model;
	char *serial;
	char *transport; /* nvme, sata, sas, scsi, virtio, usb, loop, unknown */
	char *driver;
	char **signatures; /* what libblkid finds: "gpt", "ext4", "linux_raid_member", ... */
	char **in_use; /* human reasons: "nvme0n1p2 mounted at /", "sda3 is swap", ... */
	bool eligible;
	char *why_not; /* NULL when eligible */
	unsigned major, minor;
};

struct disk_inventory {
	struct disk_info *disks;
	size_t n_disks;
	char **warnings; /* what could not be read, each naming the file */
};

/* Reads every block device under /sys/block (root-prefixed). Never fails on odd or missing
 * sysfs files: what cannot be read is left empty and recorded in warnings. */
int disk_inventory_read(const char *root, struct disk_inventory *inv, struct nm_error *e);
void disk_inventory_free(struct disk_inventory *inv);
json_object *disk_info_to_json(const struct disk_info *d);

/* ---- the plan ----
 * What `layout`/`install` will do, decided before anything is touched. UUIDs (arrays,
 * filesystems, partitions) are chosen once per plan and kept in the state file, so a resumed
 * install re-reads the same plan instead of making a new one. Sizes and offsets in bytes,
 * every partition 1 MiB aligned. */

enum disk_part_role {
	DISK_PART_BIOS_BOOT, /* 1 MiB, EF02, GRUB core for legacy boot */
	DISK_PART_ESP, /* EF00, vfat, one per disk */
	DISK_PART_SWAP, /* md member (or plain swap on one disk) */
	DISK_PART_ROOT, /* md member (or the root filesystem on one disk) */
	DISK_PART_EXTRA, /* from the config's extra partitions */
};

struct disk_part_plan {
	unsigned number; /* GPT partition number */
	enum disk_part_role role;
	char *path; /* /dev/nvme0n1p2, /dev/sda2, /dev/loop0p2 */
	uint64_t start; /* bytes from the start of the disk */
	uint64_t size; /* bytes */
	char type_guid[37];
	char part_uuid[37];
	char *name; /* GPT partition name */
};

struct disk_member_plan {
	char *name; /* kernel name */
	char *path;
	char *by_id;
	char *serial;
	char *model;
	uint64_t size_bytes;
	unsigned logical_sector_size;
	struct disk_part_plan *parts;
	size_t n_parts;
};

struct disk_array_plan {
	char *name; /* "root", "swap", ... : /dev/md/<name> */
	char *device; /* /dev/md/<name> */
	unsigned level; /* 0, 1, 5, 6, 10 */
	char metadata[8];
	char uuid[37]; /* md array UUID (canonical 8-4-4-4-12 form) */
	char **members; /* partition paths */
};

struct disk_fs_plan {
	char *device; /* the md device or the partition */
	char *fstype; /* ext4, xfs, btrfs, vfat, swap */
	char uuid[37]; /* for vfat: XXXX-XXXX */
	char *label;
	char *mountpoint; /* "/", "/boot", "/boot-fallback-1", ... NULL for swap */
	char **options; /* mount options for fileSystems, may be empty */
};

struct disk_plan {
	bool uefi;
	char *homehost;
	struct disk_member_plan *disks;
	size_t n_disks;
	struct disk_array_plan *arrays;
	size_t n_arrays;
	struct disk_fs_plan *filesystems; /* in mount order: "/" first */
	size_t n_filesystems;
};
