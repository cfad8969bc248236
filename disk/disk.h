/* disk.h: the public face of the disk engine — inventory of the machine's disks (libblkid + sysfs),
 * layout planning, teardown/wipe, GPT (libparted), mdadm, mkfs and mount.
 * Everything the engine reads goes through the --root prefix (common.h). It never opens a disk
 * outside a plan for writing. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

/* One thing holding a disk: a mount or active swap on the disk, a partition, or a device
 * stacked on them (md, dm). */
struct disk_use {
	char *device; /* kernel name of what is mounted or swapped on: vda1, md127, dm-0 */
	char *mountpoint; /* NULL for swap */
	bool swap;
};

struct disk_partition_info {
	char *name; /* nvme0n1p2 */
	unsigned number;
	uint64_t start_bytes, size_bytes;
	char **signatures;
};

struct disk_info {
	char *name; /* kernel name: nvme0n1, sda, vda, loop0 */
	char *path; /* /dev/<name> */
	char *by_id; /* preferred /dev/disk/by-id link, or NULL */
	char **by_id_links; /* every /dev/disk/by-id link to the disk (--disks accepts any) */
	char *by_path; /* preferred /dev/disk/by-path link (the slot: survives a disk swap), or NULL */
	char **by_path_links; /* every /dev/disk/by-path link to the disk (--disks accepts any) */
	uint64_t size_bytes;
	unsigned logical_sector_size;
	unsigned physical_sector_size;
	bool rotational;
	bool removable;
	char *model;
	char *serial;
	char *wwid; /* WWN / EUI-64 / NGUID the device reports (sysfs wwid, device/wwid, nguid, eui), or NULL */
	uint64_t diskseq; /* the kernel's sequence number of this disk (/sys/block/X/diskseq), 0 if none */
	char *transport; /* nvme, sata, sas, scsi, virtio, usb, loop, unknown */
	char *driver;
	char **signatures; /* what libblkid finds: "gpt", "ext4", "linux_raid_member", ... */
	char **in_use; /* human reasons: "nvme0n1p2 mounted at /", "sda3 is swap", ... */
	bool eligible;
	char *why_not; /* NULL when eligible */
	unsigned major, minor;
	/* Added by the inventory for selection and `detect --json`. */
	struct disk_use *uses; /* what holds the disk: mounts and swap, structured */
	size_t n_uses;
	struct disk_partition_info *partitions;
	size_t n_partitions;
	char **holders; /* stacked devices on the disk or its partitions: md127, dm-0, ... */
	bool holds_root; /* the disk (or a stacked device on it) is mounted at "/" */
};

struct disk_inventory {
	struct disk_info *disks;
	size_t n_disks;
	char **warnings; /* what could not be read, each naming the file */
	/* The machine was booted with UEFI (/sys/firmware/efi exists): the plan mounts an ESP at
	 * /boot and GRUB is installed for EFI; else BIOS (GRUB in each disk's BIOS boot partition). */
	bool uefi;
	/* The modules the installed system's initrd needs to reach these disks: the drivers of the
	 * storage, FireWire and USB controllers, of USB mass storage and boot keyboards, virtio
	 * (modules.c, nixos-generate-config's rules). Built-in drivers need none. */
	char **initrd_modules;
};

/* Reads every block device under /sys/block (root-prefixed), the boot mode and the initrd modules. Never fails on odd or missing
 * sysfs files: what cannot be read is left empty and recorded in warnings. */
int disk_inventory_read(const char *root, struct disk_inventory *inv, struct nm_error *e);
void disk_inventory_free(struct disk_inventory *inv);
#define _cleanup_disk_inventory_ _cleanup_(disk_inventory_free)
json_object *disk_info_to_json(const struct disk_info *d);
/* Adds "boot_mode": "uefi" | "bios" to `into` (detect's machine facts). */
void disk_boot_mode_to_json(const struct disk_inventory *inv, json_object *into);
/* boot.initrd.availableKernelModules of hardware-configuration.nix, one line: Hetzner's baseline
 * (nvme ahci sd_mod xhci_pci usbhid), then the detected modules, each once. */
void disk_initrd_nix(struct nm_nix_out *o, char *const *modules);
/* Whether "/" is the initramfs itself (fstype rootfs) in /proc/self/mountinfo under root, as in
 * a rescue that never switched root; false when it cannot be read. */
bool disk_root_is_rootfs(const char *root);

/* ---- the layout config (--config FILE, JSON) ----
 * What an operator may choose; docs/disk-layout.md documents the format. Sizes in bytes. */

struct disk_extra_part {
	char *name; /* GPT name and, with several disks, the md array name */
	uint64_t size;
	char *filesystem; /* ext4, xfs, btrfs */
	char *mountpoint; /* absolute, not "/" */
};

struct disk_config {
	char **disks; /* disk specs (name, /dev path, by-id path, serial:X), NULL = automatic */
	int raid_level; /* -1: default (1 with two or more disks) */
	char *filesystem; /* root filesystem: ext4 (default), xfs, btrfs */
	uint64_t swap_size; /* 0 = no swap (default) */
	uint64_t esp_size; /* default 1 GiB */
	struct disk_extra_part *extra;
	size_t n_extra;
	char *homehost; /* md homehost, default "nmmm" */
	char *hostname; /* NULL when the config does not set one (the renderer reads it) */
	char *target; /* the agent's own mount root (default /mnt): mounts under it do not block */
};

#define DISK_MIN_AUTO_SIZE (8ull << 30) /* automatic selection and eligibility */
#define DISK_MIN_ROOT_SIZE (1ull << 30) /* the root partition (or member) at least */
#define DISK_MIN_ESP_SIZE (32ull << 20)

/* Fills the defaults (everything automatic, ext4, no swap, 1 GiB ESP, homehost "nmmm"). */
int disk_config_init(struct disk_config *c);
/* The layout fields of the parsed --config file (`what` names it in messages; the agent reads
 * the file once and hands the JSON down); every error names the JSON field path and the fix
 * (usage class). Keys of other sections (pins, host name) are left to their owners. */
int disk_config_from_json(json_object *o, const char *what, struct disk_config *c, struct nm_error *e);
/* Replaces c->disks with the comma-separated --disks LIST. */
int disk_config_set_disks(struct disk_config *c, const char *list, struct nm_error *e);
void disk_config_free(struct disk_config *c);
#define _cleanup_disk_config_ _cleanup_(disk_config_free)
/* "8G", "512M", "1T", "1GiB", "0" -> bytes (binary units; plain numbers are bytes). */
int disk_parse_size(const char *s, uint64_t *bytes);

/* ---- selection ----
 * Resolves disk specs against the inventory (names, /dev paths, /dev/disk/by-id links,
 * serial:X); specs NULL picks automatically (exactly two eligible disks within 10% of each
 * other). Refuses (exit 3) disks that hold the running system or have a mount (outside
 * `target`) or active swap. Fills *idx with indexes into inv->disks, in the order given. */
int disk_select(const struct disk_inventory *inv, char *const *specs, const char *target, size_t **idx, size_t *n,
		struct nm_error *e);
/* The inventory entry a spec names, or NULL. */
const struct disk_info *disk_find(const struct disk_inventory *inv, const char *spec);

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

/* A planned disk is known by what it is — serial, WWN, model, size, sector size and the kernel's
 * diskseq, recorded when the plan is made — and checked against the machine before every
 * destructive step (disk_identity_check), never by its kernel name alone. */
struct disk_member_plan {
	char *name; /* kernel name */
	char *path;
	char *by_id;
	char *by_path; /* the slot's name, where the boot loader goes (NULL: none; plans before it) */
	char *serial;
	char *model;
	uint64_t size_bytes;
	unsigned logical_sector_size;
	char *wwid; /* NULL when the disk reports none */
	uint64_t diskseq; /* changes whenever the kernel attaches other media under the name; 0 if none */
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

/* Plans the layout for the config (disks chosen by disk_select from cfg->disks) on a UEFI or
 * BIOS machine. Fresh random UUIDs each call; nothing on the machine is read or changed. */
int disk_plan_make(const struct disk_inventory *inv, const struct disk_config *cfg, bool uefi, struct disk_plan *plan,
		   struct nm_error *e);
void disk_plan_free(struct disk_plan *plan);
#define _cleanup_disk_plan_ _cleanup_(disk_plan_free)
/* `plan --json` and the state file: every field, so disk_plan_from_json gives the same plan. */
json_object *disk_plan_to_json(const struct disk_plan *plan);
int disk_plan_from_json(json_object *o, struct disk_plan *plan, struct nm_error *e);
/* The storage part of hardware-configuration.nix, appended to the caller's Nix file (plan-nix.c):
 * fileSystems by UUID, swapDevices, boot.swraid with its mdadm.conf, and the boot loader (GRUB
 * on every disk for BIOS, on every ESP for UEFI). Returns o's first error (a malformed array
 * UUID is a usage error: re-make the plan). */
int disk_plan_nix(const struct disk_plan *plan, struct nm_nix_out *o);
/* boot.loader.grub.configurationLimit for a UEFI plan: the generations whose kernels and initrds
 * fit on its smallest ESP (13 for 1 GiB), at least 1. */
unsigned disk_plan_grub_configuration_limit(const struct disk_plan *plan);
/* Checks, changing nothing, that each planned disk is still the disk the plan was made for: its
 * serial, WWN, model, size, logical sector size and diskseq, read now from sysfs under root,
 * are the recorded ones. Any difference (or a planned disk that is gone, or a plan member with
 * nothing but a name) is NM_ERR_REFUSED naming the disk, the field and both values. Run it
 * before anything destructive; the guard repeats it on every write. */
int disk_identity_check(const struct disk_plan *plan, const char *root, struct nm_error *e);
/* The planned filesystem mounted at mountpoint, or NULL. */
const struct disk_fs_plan *disk_plan_fs_at(const struct disk_plan *plan, const char *mountpoint);
/* Names a partition of a disk the way the kernel does: sda1, nvme0n1p1, loop0p1, mmcblk0p1. */
char *disk_partition_name(const char *disk, unsigned number);

/* ---- the destructive phases: teardown, wipe, partition, raid, format, mount ----
 * One function per phase, each taking the plan; agent/ sequences them. Every write passes one
 * guard that accepts only planned disks, their partitions and arrays built from them; opens for
 * writing are exclusive. A refusal (disk in use outside the target, running system) is
 * NM_ERR_REFUSED and happens before anything is changed. */

/* A BSD lock on every planned whole disk (systemd's block device locking), held from teardown
 * until the layout is mounted (let go once after the wipe, while disk_udev_settle waits): udevd then neither probes the disks mid-write nor re-reads their
 * partition tables when a writer closes them (which removes and re-adds every partition node
 * under the next phase's feet). Read-only opens of planned disks only. */
struct disk_lock {
	int *fds;
	size_t n;
};

/* The md resync speed limit (/proc/sys/dev/raid/speed_limit_max) before disk_raid lowered it. */
struct disk_raid_throttle {
	bool saved;
	unsigned long speed_limit_max;
};

struct disk_run_opts {
	const char *root; /* --root; device nodes and /sys, /proc are read under it */
	const char *target; /* the agent's own mount tree (--target), default "/mnt" */
	bool discard; /* wipe: BLKDISCARD the whole disk when it supports discard */
	bool swapon; /* mount: also enable planned swap */
	bool mounts_target; /* the caller mounts the layout at target later (layout, install): anything
			       foreign mounted there is refused by disk_teardown_check */
	struct disk_raid_throttle *throttle; /* raid: where the resync limit it replaced is kept, or NULL */
	struct disk_lock *lock; /* the caller's disk_lock, held or not */
};

/* Destructive work never goes through a --root tree: libparted, sfdisk, mkfs, mdadm and mount
 * open the running system's /dev paths, not the tree's, so a tree's device node could send a
 * write to a disk the guard never examined. NM_ERR_REFUSED unless root resolves to "/". */
int disk_host_root_check(const char *root, const char *what, struct nm_error *e);

/* Takes that lock on every planned disk into o->lock (nothing when o->lock is NULL or already
 * held). Waits up to 10 s for udevd's own short lock; a lock held longer by another program is
 * NM_ERR_REFUSED naming the disk. */
int disk_lock(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
void disk_unlock(struct disk_lock *l);
/* Waits (up to 4 min) until udevd has handled every queued event (`udevadm settle`); at once
 * when no udevd runs (no /run/udev/control). Call with the disk lock let go: udevd keeps a
 * locked disk's events queued. A queue that does not drain is an error naming the command. */
int disk_udev_settle(struct nm_error *e);

/* Checks, changing nothing, that teardown may proceed: no partition or stacked device of a
 * planned disk is mounted outside the target; no planned disk holds the running system; no md
 * array, dm device or LVM volume group on the planned disks reaches a disk outside the plan;
 * nothing foreign is mounted under the target when teardown would unmount it (the target also
 * holds planned mounts) or, with o->mounts_target, at all. */
int disk_teardown_check(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Unmounts the target tree (deepest first) when it sits on the planned disks, swapoff, closes
 * dm (LUKS, LVM VGs, other) and stops md arrays on them, polling until each is gone. */
int disk_teardown(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Removes every signature libblkid finds on each partition, then on each disk (both GPT headers,
 * MBR, md superblocks at start and end, LVM, LUKS, filesystems, ZFS labels), removes the
 * partitions from the kernel, optionally discards, then probes again — the whole disk and the
 * regions of the old partitions. Any signature left is NM_ERR_VERIFY. */
int disk_wipe(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Writes a fresh GPT with the planned partitions (start, size, type GUID, name, UUID), tells the
 * kernel, waits for the partition nodes and reads the table back to check it. */
int disk_partition(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);

/* Creates the planned md arrays (mdadm --create ... --run), waits for their device nodes and
 * lowers the resync speed for the install (the old limit kept in o->throttle); NM_ERR_RUNTIME
 * naming md_mod when the kernel has no md driver. A plan without arrays does nothing. */
int disk_raid(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Checks, changing nothing, that disk_raid can run: with arrays planned the kernel must have
 * an md driver. Run it before teardown so a missing driver fails before anything is erased. */
int disk_raid_check(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Reads the resync speed limit in force into *t (saved stays false when the kernel has none), so
 * the caller can keep the rescue's own limit before disk_raid lowers it: a resumed install that
 * creates the arrays again then restores that one, not the lowered one it finds. */
int disk_raid_throttle_read(const struct disk_run_opts *o, struct disk_raid_throttle *t);
/* Puts the resync speed limit back (after the install). */
int disk_raid_unthrottle(const struct disk_run_opts *o, const struct disk_raid_throttle *t, struct nm_error *e);
/* Makes the planned filesystems and swap with the planned UUIDs and labels, then checks them. */
int disk_format(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Mounts the planned filesystems under the target, "/" first, and swapon when asked. */
int disk_mount(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* FS (of PLAN) at its own mountpoint on the running system unless something is mounted there
 * already; the device must pass the guard (replace-disk's new ESP on the installed system). */
int disk_mount_in_place(const struct disk_plan *plan, const struct disk_fs_plan *fs, const struct disk_run_opts *o,
			struct nm_error *e);
/* Turns off the planned swap where it is on (mount's swapon); never any other swap. */
int disk_swapoff(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Canonical 8-4-4-4-12 hex UUID; FAT volume id "XXXX-XXXX" (upper-case hex, as blkid prints). */
bool disk_uuid_valid(const char *s);
bool disk_vfat_id_valid(const char *s);

/* ---- an installed system, read-only (md-status.c, ro-mount.c) ----
 * For `diagnose`, run in the rescue after a first boot that did not come back. Nothing here writes
 * to a disk: arrays are assembled read-only (or left as the rescue assembled them), filesystems
 * are found by libblkid's read-only probe and mounted read-only, without journal replay, through
 * a read-only loop device. */

struct disk_md_array {
	char *name; /* kernel name: md127 */
	bool active; /* /proc/mdstat "active"; else "inactive" (members known, not started) */
	bool readonly; /* "(read-only)" or "(auto-read-only)" */
	char *level; /* "raid1"; NULL when inactive */
	char *array_state; /* /sys/block/<name>/md/array_state ("clean", "read-auto", ...), or NULL */
	unsigned raid_disks, working; /* "[2/1]"; 0 when mdstat shows none */
	char **members; /* kernel names, as mdstat lists them */
	char **failed; /* the members marked (F) */
	char *uuid; /* canonical 8-4-4-4-12 (mdadm --detail, or sysfs), NULL when unknown */
	char *md_name; /* mdadm's "homehost:name", NULL when unknown */
};

struct disk_md_status {
	bool driver; /* the kernel has an md driver (/proc/mdstat under root) */
	bool assembled; /* this run assembled arrays (mdadm --assemble --scan --readonly said so) */
	struct disk_md_array *arrays;
	size_t n_arrays;
	char **notes; /* what was done, and what could not be read */
};

/* The arrays as /proc/mdstat and /sys/block/mdX/md under root show them; on the live machine
 * (root "/") also each active array's UUID and name from `mdadm --detail --export`. No md driver
 * is no arrays, not an error. Fails only when out of memory. */
int disk_md_status_read(const char *root, struct disk_md_status *s, struct nm_error *e);
/* disk_md_status_read, and when the kernel has an md driver but no array is there yet (Hetzner's
 * rescue assembles old arrays itself, as md124/md125: those are left as they are), on the live
 * machine `mdadm --assemble --scan --readonly`, then the status again. mdadm's answer (also
 * "No arrays found") is a note, not an error. */
int disk_md_assemble_readonly(const char *root, struct disk_md_status *s, struct nm_error *e);
void disk_md_status_free(struct disk_md_status *s);
#define _cleanup_disk_md_status_ _cleanup_(disk_md_status_free)
/* {driver, assembled_here, arrays[] {name, active, readonly, level, array_state, raid_disks,
 * working, members[], failed[], uuid, md_name}, notes[]} (docs/provision.md). */
json_object *disk_md_status_to_json(const struct disk_md_status *s);

/* A filesystem a root can be (ext4, xfs, btrfs) as libblkid finds it. */
struct disk_fs_found {
	char *name; /* kernel name: sda4, md127, loop0p4 */
	char *device; /* /dev/<name> (under root) */
	char *fstype;
	char *uuid;
	char *label; /* NULL without one */
};

struct disk_fs_list {
	struct disk_fs_found *v;
	size_t n;
	char **probed; /* every device probed and what it holds ("sda4: linux_raid_member"), in order */
};

/* Probes, read-only, every block device under root's /sys/block and each of its partitions
 * (disks, md arrays, dm and loop devices; those without medium are skipped). */
int disk_filesystems_find(const char *root, struct disk_fs_list *l, struct nm_error *e);
void disk_fs_list_free(struct disk_fs_list *l);
#define _cleanup_disk_fs_list_ _cleanup_(disk_fs_list_free)
/* The filesystem with this UUID (case does not matter), or NULL. */
const struct disk_fs_found *disk_fs_list_find_uuid(const struct disk_fs_list *l, const char *uuid);

/* A read-only mount made by disk_mount_readonly. */
struct disk_ro_mount {
	char *dir; /* where it is mounted */
	char *loop; /* the read-only loop device in between (/dev/loopN); it goes with the mount */
	char *options; /* what the kernel took: "ro,noload", "ro,norecovery", "ro,rescue=nologreplay" */
	bool mounted;
};

/* Mounts fs read-only at dir (an existing directory) without journal or log replay — ext4
 * noload, xfs norecovery, btrfs rescue=nologreplay (nologreplay before Linux 5.9) — also nosuid,
 * nodev, noexec, through a read-only loop device bound to the device opened read-only (so not even
 * ext4's orphan cleanup can write) that detaches itself when the mount goes. Neither the device
 * nor the loop device is ever opened for writing. The mount lands in the caller's mount namespace:
 * a caller that may be killed makes that namespace private first, so its death takes the mount
 * (and the loop device) with it. */
int disk_mount_readonly(const char *root, const struct disk_fs_found *fs, const char *dir, struct disk_ro_mount *m,
			struct nm_error *e);
/* Unmounts it (waiting up to 5 s while a program that just exited lets go); nothing when not
 * mounted. The error names the directory and the command that finishes the job. */
int disk_unmount_readonly(struct disk_ro_mount *m, struct nm_error *e);
/* Unmounts when still mounted (a failure is a warning in the log) and frees. */
void disk_ro_mount_free(struct disk_ro_mount *m);
#define _cleanup_disk_ro_mount_ _cleanup_(disk_ro_mount_free)

/* The name boot.loader.grub.devices gives a planned disk on BIOS machines: its slot
 * (/dev/disk/by-path) when udev names one, else its by-id link, else its /dev path. */
const char *disk_member_boot_name(const struct disk_member_plan *d);

/* ---- replacing a dead mirror member (replace.c) ----
 * `replace-disk` on the installed system (or the rescue): the dead disk's partitions rebuilt on
 * a blank disk from the installed plan. Deciding changes nothing; the writes go through the guard
 * with `target` — the new disk alone — as their plan. docs/replace-a-disk.md. */

struct disk_replace_array {
	char *name; /* the plan's array name: "root" */
	char *md; /* the running array's kernel name: md127 */
	char *survivor_member; /* its working member now: nvme0n1p4 */
	char *member; /* the new partition to add: /dev/nvme1n1p4 */
	unsigned number; /* its partition number */
};

struct disk_replace {
	char *failed; /* the dead disk's name in the plan */
	char *failed_serial;
	char *survivor; /* kernel name, now, of the disk under the arrays' working members */
	/* The new disk (its identity as the inventory reads it now) with the dead disk's partitions —
	 * same numbers, start, size, type and name, new partition UUIDs — and, when it had one, the dead
	 * disk's ESP: vfat with the same volume id, label and mountpoint, so fileSystems stays right. */
	struct disk_plan target;
	struct disk_replace_array *arrays;
	size_t n_arrays;
	/* BIOS: the lines of boot.loader.grub.devices in hardware-configuration.nix to change, as
	 * "-    \"old\"" and "+    \"new\""; empty when the dead disk's name leads to the new one
	 * (a by-path name in the same slot) and always on UEFI (ESPs by mountpoint). */
	char **boot_change;
};

struct disk_replace_input {
	const char *root; /* --root, for reading the names in boot.loader.grub.devices */
	const struct disk_plan *installed; /* the installed system's plan */
	const struct disk_inventory *inv; /* the machine now */
	const struct disk_md_status *md; /* the running arrays, with their UUIDs */
	const char *failed; /* --failed: serial, serial:X, kernel name, /dev path or by-id link from the plan */
	const char *new_disk; /* --new: a disk of the inventory */
};

/* Decides the replacement, changing nothing. NM_ERR_REFUSED, naming the disk and what to do, when
 * --failed names no disk of the plan, an array on it is not running, inactive or not degraded (or
 * still runs on the failed disk), the arrays run on more than one other disk, --new is no whole
 * disk here, is the survivor or a disk of the plan, is in use (mounted, swap, holders), not blank
 * (a signature or a partition), smaller than the survivor, or the survivor's partitions are not
 * the planned ones. */
int disk_replace_plan(const struct disk_replace_input *in, struct disk_replace *r, struct nm_error *e);
void disk_replace_free(struct disk_replace *r);
#define _cleanup_disk_replace_ _cleanup_(disk_replace_free)
/* {failed, failed_serial, survivor, new, new_serial, partitions[] {path, start, size, type_guid,
 * part_uuid}, arrays[] {name, md, survivor_member, add}, esp_device, esp_uuid, esp_mountpoint,
 * boot_change[]}. */
json_object *disk_replace_to_json(const struct disk_replace *r);
/* mdadm /dev/mdX --add for each new partition (each passing the guard with r->target). The
 * partitions come from disk_partition(&r->target, ...), the ESP from disk_format(&r->target, ...). */
int disk_replace_add(const struct disk_replace *r, const struct disk_run_opts *o, struct nm_error *e);

/* An array's resync as /sys/block/<md>/md shows it (raid.c). */
struct disk_md_sync {
	bool idle; /* sync_action "idle": no resync or recovery running */
	bool degraded; /* md/degraded is not 0 */
	uint64_t done_sectors, total_sectors; /* sync_completed; 0 and 0 when "none" */
};
/* -ENOENT when the array has no md directory under root. */
int disk_md_sync_read(const char *root, const char *md, struct disk_md_sync *s);
/* Sets the array's own resync limit (md/sync_speed_max) to kib KiB/s, or back to the system-wide
 * one (/proc/sys/dev/raid/speed_limit_max) with kib 0. */
int disk_md_sync_limit(const char *root, const char *md, unsigned long kib, struct nm_error *e);
