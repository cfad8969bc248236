/* disk-internal.h: helpers shared by the files of the disk library (inventory, selection,
 * config, planner); not part of its public face. */
#pragma once

#include "disk/disk.h"

/* "931.5 GiB", "512.0 MiB": sizes as an operator reads them. buf of at least 32 bytes. */
const char *disk_human_size(uint64_t bytes, char *buf, size_t size);
/* A fresh random (version 4) UUID in canonical lower-case 8-4-4-4-12 form. */
int disk_random_uuid(char out[37]);
/* A fresh random FAT volume id, "XXXX-XXXX" (upper-case hex, as blkid shows it). */
int disk_random_vfat_id(char out[37]);
/* Kinds of block devices that are never disks to install to (md, dm, ram, zram, sr, ...):
 * returns what they are ("an md array") or NULL for a disk. Loop devices return NULL. */
const char *disk_virtual_kind(const char *name);
/* JSON helpers for the inventory and plan writers: a string or null, a list of strings. */
json_object *disk_json_str(const char *s);

/* Reads what identifies one disk — size and sector sizes, removable, rotational, device number,
 * transport, model, serial, WWN, diskseq — into a zeroed d, exactly as the inventory does, and
 * nothing else. -ENOENT when /sys/block/<name> is not there; *size_known (may be NULL) says
 * whether the size could be read. Free with disk_info_clear. */
int disk_identity_read(const char *root, const char *name, struct disk_info *d, bool *size_known, char ***warnings);
void disk_info_clear(struct disk_info *d);

/* ---- checked size arithmetic ----
 * Every place that combines sizes or offsets (the planner, the plan check) goes through these:
 * a config can ask for "8388608T", and a wrapped sum would plan partitions that fit on paper. */
static inline bool disk_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}
static inline bool disk_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
/* v rounded up to a whole MiB; false when that does not fit in 64 bits. */
static inline bool disk_round_up_mib(uint64_t v, uint64_t *out)
{
	uint64_t t;
	if (!disk_add_u64(v, (1ull << 20) - 1, &t))
		return false;
	*out = t / (1ull << 20) * (1ull << 20);
	return true;
}

#define DISK_DEFAULT_ESP_SIZE (1ull << 30)

/* The largest size a config may ask for (1 EiB): far above any disk, and low enough that the
 * plan's JSON (signed 64-bit numbers) and sums of a few of them stay exact. */
#define DISK_MAX_CONFIG_SIZE (1ull << 60)

/* Why `mp` is not a mountpoint an extra partition may take, or NULL when it is: absolute,
 * no empty, "." or ".." component, no trailing slash, no space, quote or control character,
 * and none of the layout's own (/, /boot and below, /boot-fallback*, /nix). */
const char *disk_mountpoint_problem(const char *mp);

/* The one check of a plan's geometry and mounts, for a fresh plan (disk_plan_make) and one read
 * back from the state file (disk_plan_from_json): partition UUIDs well-formed, every partition
 * non-empty, MiB aligned, after the first MiB and before the last, no two overlapping, the same
 * geometry on every disk; names, devices, labels and options free of control characters, known
 * filesystem types; mountpoints clean, "/" exactly once, /boot and /boot-fallback-N
 * only for ESPs, no mountpoint twice, parents mounted before children. Fails with class `cls`,
 * the message "<field path>: <what is wrong>". */
int disk_plan_check(const struct disk_plan *p, enum nm_err_class cls, struct nm_error *e);

/* What is mounted, from /proc/self/mountinfo under root (mounts.c), in the kernel's order.
 * mountpoint and source are unescaped (\040 is a space, \011 a tab, \012 a newline, \134 a
 * backslash). A line without its " - fstype source" part is kept by its device number alone:
 * fstype NULL, source "none". */
struct disk_mount {
	int id;
	unsigned major, minor; /* btrfs and other anonymous devices show 0:N */
	char *mountpoint;
	char *fstype;
	char *source; /* /dev/vda1, /dev/mapper/vg-root, tmpfs, ... */
};
struct disk_mount_table {
	struct disk_mount *v;
	size_t n;
};
int disk_mount_table_read(const char *root, struct disk_mount_table *t, struct nm_error *e);
void disk_mount_table_free(struct disk_mount_table *t);
/* The active swap areas of /proc/swaps under root, unescaped: devices and files, as listed. */
int disk_swaps_read(const char *root, char ***names, struct nm_error *e);

/* Fills inv->initrd_modules from the controllers and block devices under root's /sys (modules.c);
 * an unlistable PCI bus is a warning. Fails only when out of memory. */
int disk_initrd_modules_read(const char *root, struct disk_inventory *inv);

/* ---- md status (md-status.c), parsers exposed for the unit tests ---- */
/* Appends the arrays of a /proc/mdstat text to s (name, active, readonly, level, raid_disks,
 * working, members, failed). 0 or -ENOMEM. */
int disk_mdstat_parse(const char *text, struct disk_md_status *s);
/* MD_UUID (as a canonical UUID) and MD_NAME of `mdadm --detail --export` output into a. */
int disk_md_detail_parse(const char *output, struct disk_md_array *a);
