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
json_object *disk_json_strv(char *const *v);

/* Reads what identifies one disk — size and sector sizes, removable, rotational, device number,
 * transport, model, serial, WWN, diskseq — into a zeroed d, exactly as the inventory does, and
 * nothing else. -ENOENT when /sys/block/<name> is not there; *size_known (may be NULL) says
 * whether the size could be read. Free with disk_info_clear. */
int disk_identity_read(const char *root, const char *name, struct disk_info *d, bool *size_known, char ***warnings);
void disk_info_clear(struct disk_info *d);
