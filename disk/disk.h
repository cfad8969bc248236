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
