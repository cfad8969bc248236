/* plan-nix.c: the storage part of hardware-configuration.nix, written from the plan alone:
 * fileSystems by UUID (the ESPs of a mirror nofail), swapDevices, software RAID with its
 * mdadm.conf and the systemd initrd that starts a degraded array, and GRUB on every disk (BIOS)
 * or every ESP (UEFI, with a check that names a missing ESP and a generation limit that fits
 * the ESP). It appends text to the caller's Nix file and never reads the machine.
 * docs/rendered-example.md explains each section. */
#include "disk/disk.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* The ESP partitions of the plan: a filesystem whose device is a partition with the ESP role. */
static bool fs_is_esp(const struct disk_plan *p, const struct disk_fs_plan *fs)
{
	for (size_t d = 0; d < p->n_disks; d++)
		for (size_t i = 0; i < p->disks[d].n_parts; i++)
			if (p->disks[d].parts[i].role == DISK_PART_ESP && p->disks[d].parts[i].path && fs->device &&
			    strcmp(p->disks[d].parts[i].path, fs->device) == 0)
				return true;
	return false;
}

static void render_filesystems(struct nm_nix_out *o, const struct disk_plan *p)
{
	bool swap_seen = false;
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		if (!fs->mountpoint || (fs->fstype && strcmp(fs->fstype, "swap") == 0))
			continue;
		_cleanup_free_ char *dev = nm_strdup_printf("/dev/disk/by-uuid/%s", fs->uuid);
		nm_nix_out_comment(o, "  ", "%s on %s", fs->mountpoint, fs->device ? fs->device : "?");
		nm_nix_out_printf(o, "  fileSystems.");
		nm_nix_out_str(o, "mountpoint", fs->mountpoint);
		nm_nix_out_printf(o, " = {\n    device = ");
		nm_nix_out_str(o, "filesystem UUID", dev);
		nm_nix_out_printf(o, ";\n    fsType = ");
		nm_nix_out_str(o, "filesystem type", fs->fstype);
		nm_nix_out_printf(o, ";\n");
		/* Each ESP lives on one disk only: with a mirror, a dead disk must not stop the boot
		 * (the surviving disk boots from its own ESP), so its mount is nofail. */
		bool esp_nofail = p->n_disks > 1 && fs_is_esp(p, fs) && !nm_strv_contains(fs->options, "nofail");
		if (nm_strv_len(fs->options) > 0 || esp_nofail) {
			nm_nix_out_printf(o, "    options = [");
			nm_nix_out_items(o, "mount option", fs->options);
			if (esp_nofail)
				nm_nix_out_printf(o, " \"nofail\"");
			nm_nix_out_printf(o, " ];\n");
		}
		nm_nix_out_printf(o, "  };\n\n");
	}
	nm_nix_out_printf(o, "  swapDevices = [");
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		if (!fs->fstype || strcmp(fs->fstype, "swap") != 0)
			continue;
		_cleanup_free_ char *dev = nm_strdup_printf("/dev/disk/by-uuid/%s", fs->uuid);
		nm_nix_out_printf(o, "\n    { device = ");
		nm_nix_out_str(o, "swap UUID", dev);
		nm_nix_out_printf(o, "; }");
		swap_seen = true;
	}
	nm_nix_out_printf(o, swap_seen ? "\n  ];\n\n" : " ];\n\n");
}

/* mdadm writes and reads array UUIDs as four groups of eight hex digits separated by ':'
 * (mdadm.conf(5), "uuid="); the plan keeps the canonical 8-4-4-4-12 form. Same bytes, same order. */
static int mdadm_uuid(const char *canonical, char out[36], struct nm_error *e)
{
	size_t n = 0;
	for (const char *c = canonical; *c; c++) {
		if (*c == '-')
			continue;
		if (n == 35 || !strchr("0123456789abcdefABCDEF", *c))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "array UUID '%s' is not a UUID; re-make the plan",
				       canonical);
		if (n == 8 || n == 17 || n == 26)
			out[n++] = ':';
		out[n++] = *c;
	}
	if (n != 35)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "array UUID '%s' is not a UUID; re-make the plan", canonical);
	out[n] = '\0';
	return 0;
}

static void render_swraid(struct nm_nix_out *o, const struct disk_plan *p)
{
	if (p->n_arrays == 0)
		return;
	nm_nix_out_printf(
	    o,
	    "  # Software RAID. The initrd assembles the arrays listed here by UUID; mdmonitor needs\n"
	    "  # a PROGRAM (or MAILADDR) line and reports array events to the journal through logger.\n"
	    "  boot.swraid.enable = true;\n  boot.swraid.mdadmConf = builtins.concatStringsSep \"\\n\" [\n");
	_cleanup_free_ char *homehost = nm_strdup_printf("HOMEHOST %s", p->homehost ? p->homehost : "<system>");
	nm_nix_out_printf(o, "    ");
	nm_nix_out_str(o, "homehost", homehost);
	nm_nix_out_printf(o, "\n    \"PROGRAM /run/current-system/sw/bin/logger\"\n");
	for (size_t i = 0; i < p->n_arrays && !o->err; i++) {
		const struct disk_array_plan *a = &p->arrays[i];
		char uuid[36];
		if (mdadm_uuid(a->uuid, uuid, o->e) < 0) {
			o->err = -EINVAL;
			return;
		}
		_cleanup_free_ char *line =
		    nm_strdup_printf("ARRAY %s metadata=%s UUID=%s", a->device, a->metadata, uuid);
		nm_nix_out_printf(o, "    ");
		nm_nix_out_str(o, "mdadm ARRAY line", line);
		nm_nix_out_printf(o, "\n");
	}
	nm_nix_out_printf(o, "    \"\"\n  ];\n\n");
	/* The scripted initrd assembles arrays only through udev's incremental rules and never
	 * starts one with a member missing; the systemd initrd runs mdadm's last-resort timer,
	 * which starts the array degraded after a grace period. mdadm.conf reaches it from
	 * boot.swraid.mdadmConf as before. */
	nm_nix_out_printf(o,
			  "  # The systemd initrd starts a degraded array (mdadm's last-resort timer), so the\n"
			  "  # machine boots with a disk dead; the scripted initrd would wait for it forever.\n"
			  "  boot.initrd.systemd.enable = true;\n\n");
}

/* Where GRUB goes: the disk's slot (/dev/disk/by-path) when udev names one, so a disk swapped in
 * the same slot needs no edit; else its /dev/disk/by-id name (follows the serial); else the kernel
 * name. docs/replace-a-disk.md has the trade-off. */
const char *disk_member_boot_name(const struct disk_member_plan *d)
{
	if (d->by_path && *d->by_path)
		return d->by_path;
	return d->by_id && *d->by_id ? d->by_id : d->path;
}

static void render_bootloader_bios(struct nm_nix_out *o, const struct disk_plan *p)
{
	nm_nix_out_printf(o,
			  "  # Legacy BIOS boot: GRUB goes into the BIOS boot partition of every disk, so each one\n"
			  "  # boots alone. Disks by /dev/disk/by-path, the slot: a disk replaced in the same slot\n"
			  "  # needs no change here (after a mainboard swap the slots may; `nmmm-agent replace-disk`\n"
			  "  # prints the lines to write).\n"
			  "  boot.loader.grub.enable = true;\n  boot.loader.grub.devices = [\n");
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *d = &p->disks[i];
		if ((!d->by_path || !*d->by_path) && d->by_id && *d->by_id)
			nm_nix_out_comment(o, "    ",
					   "%s has no /dev/disk/by-path link: by id, which follows the serial (a "
					   "replacement disk needs this line changed)",
					   d->name);
		else if (!d->by_path || !*d->by_path)
			nm_nix_out_comment(
			    o, "    ", "%s has no /dev/disk/by-path or by-id link: by kernel name, which can change",
			    d->name);
		nm_nix_out_printf(o, "    ");
		nm_nix_out_str(o, "boot disk", disk_member_boot_name(d));
		nm_nix_out_printf(o, "\n");
	}
	nm_nix_out_printf(o, "  ];\n\n");
}

/* The partition and disk that hold a filesystem, or NULL. */
static const struct disk_part_plan *fs_part(const struct disk_plan *p, const struct disk_fs_plan *fs,
					    const struct disk_member_plan **disk)
{
	for (size_t d = 0; d < p->n_disks; d++)
		for (size_t i = 0; i < p->disks[d].n_parts; i++)
			if (p->disks[d].parts[i].path && fs->device &&
			    strcmp(p->disks[d].parts[i].path, fs->device) == 0) {
				*disk = &p->disks[d];
				return &p->disks[d].parts[i];
			}
	return NULL;
}

/* Generations GRUB keeps in its menu, so that the kernels and initrds it copies onto every ESP
 * never fill the smallest one. One generation with its own kernel and systemd initrd takes at
 * most 64 MiB (a NixOS kernel is 10-16 MiB, a systemd initrd with mdadm 20-40 MiB); GRUB's own
 * files (its EFI image, modules, fonts) get 64 MiB; and while switching, the new generation is
 * copied before the obsolete files go, so two more than the limit can be there at once.
 * A 1 GiB ESP: (1024 - 64) / 64 - 2 = 13 generations. Never below 1. */
#define GENERATION_MIB 64
#define GRUB_FILES_MIB 64

static uint64_t smallest_esp_mib(const struct disk_plan *p)
{
	uint64_t smallest = 0;
	for (size_t d = 0; d < p->n_disks; d++)
		for (size_t i = 0; i < p->disks[d].n_parts; i++)
			if (p->disks[d].parts[i].role == DISK_PART_ESP &&
			    (smallest == 0 || p->disks[d].parts[i].size < smallest))
				smallest = p->disks[d].parts[i].size;
	return smallest >> 20;
}

unsigned disk_plan_grub_configuration_limit(const struct disk_plan *p)
{
	uint64_t mib = smallest_esp_mib(p);
	if (mib <= GRUB_FILES_MIB + 3 * GENERATION_MIB)
		return 1;
	return (unsigned)((mib - GRUB_FILES_MIB) / GENERATION_MIB - 2);
}

/* Characters a value may have to go into a single-quoted shell word of the ESP check unchanged:
 * plan-made mountpoints, vfat UUIDs and /dev/disk/by-path and by-id names never have others. */
static bool shell_word_safe(const char *s)
{
	return s && *s &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_.:+,=@-") == strlen(s);
}

/* Before GRUB is updated, every ESP must be mounted: with a disk dead its nofail mount is missing
 * and the mountpoint is a plain directory on /, where grub-install refuses to install ("doesn't
 * look like an EFI partition") and the whole switch fails. install-grub runs extraPrepareConfig
 * before it writes grub.cfg and installs GRUB (and ignores its exit status), so the operator
 * reads, just above that refusal, which ESP and disk are missing and where the repair is. */
static void render_esp_check(struct nm_nix_out *o, const struct disk_plan *p)
{
	nm_nix_out_printf(o,
			  "  # Before GRUB is updated: an ESP that is not mounted (its disk is dead or missing) is\n"
			  "  # named, with the repair, just above GRUB's own refusal to install there.\n"
			  "  boot.loader.grub.extraPrepareConfig = builtins.concatStringsSep \"\\n\" [\n");
	for (size_t i = 0; i < p->n_filesystems && !o->err; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		const struct disk_member_plan *disk = NULL;
		if (!fs->mountpoint || !fs_is_esp(p, fs) || !fs_part(p, fs, &disk))
			continue;
		/* The disk as the boot loader names it, or by kernel name where that name has a
		 * character a single-quoted word cannot hold (the message is for a human). */
		const char *where =
		    shell_word_safe(disk_member_boot_name(disk)) ? disk_member_boot_name(disk) : disk->name;
		if (!shell_word_safe(fs->mountpoint) || !shell_word_safe(fs->uuid) || !shell_word_safe(where)) {
			o->err =
			    nm_fail(o->e, NM_ERR_USAGE, EINVAL,
				    "ESP %s: its mountpoint, UUID or disk path has a character the ESP check cannot "
				    "quote; re-make the plan",
				    fs->mountpoint);
			return;
		}
		_cleanup_free_ char *line = nm_strdup_printf(
		    "mountpoint -q %s || echo 'nmmm: the ESP %s (vfat UUID %s) on %s is not mounted: that disk "
		    "is dead or missing and GRUB cannot be updated on it. Replace the disk and rebuild its mirror "
		    "and ESP with nmmm-agent replace-disk (docs/replace-a-disk.md), then run nixos-rebuild "
		    "again.' >&2",
		    fs->mountpoint, fs->mountpoint, fs->uuid, where);
		nm_nix_out_printf(o, "    ");
		nm_nix_out_str(o, "ESP check", line);
		nm_nix_out_printf(o, "\n");
	}
	nm_nix_out_printf(o, "    \"\"\n  ];\n");
}

/* UEFI: GRUB on every ESP. The first disk's ESP is /boot; the others are mirrored to their own
 * mountpoints. efiInstallAsRemovable writes EFI/BOOT/BOOTX64.EFI, which firmware finds without
 * an NVRAM entry (many boards lose or ignore them, and a replaced disk has none). */
static void render_bootloader_uefi(struct nm_nix_out *o, const struct disk_plan *p)
{
	nm_nix_out_printf(
	    o,
	    "  # UEFI boot: GRUB on the ESP of every disk, installed at the removable-media path\n"
	    "  # (EFI/BOOT/BOOTX64.EFI) so firmware finds it without NVRAM entries.\n"
	    "  boot.loader.grub.enable = true;\n  boot.loader.grub.efiSupport = true;\n"
	    "  boot.loader.grub.efiInstallAsRemovable = true;\n  boot.loader.efi.canTouchEfiVariables = false;\n"
	    "  boot.loader.grub.device = \"nodev\";\n  boot.loader.grub.mirroredBoots = [\n");
	bool first = true;
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		if (!fs->mountpoint || !fs_is_esp(p, fs))
			continue;
		if (first && strcmp(fs->mountpoint, "/boot") == 0) {
			/* /boot is GRUB's own entry (device = "nodev" above). */
			first = false;
			continue;
		}
		first = false;
		nm_nix_out_comment(o, "    ", "the ESP on %s", fs->device);
		nm_nix_out_printf(o, "    { devices = [ \"nodev\" ]; path = ");
		nm_nix_out_str(o, "ESP mountpoint", fs->mountpoint);
		nm_nix_out_printf(o, "; efiSysMountPoint = ");
		nm_nix_out_str(o, "ESP mountpoint", fs->mountpoint);
		nm_nix_out_printf(o, "; }\n");
	}
	nm_nix_out_printf(o, "  ];\n");
	nm_nix_out_printf(o,
			  "  # Kernels and initrds are copied onto every ESP (%" PRIu64
			  " MiB): at most 64 MiB a generation,\n"
			  "  # 64 MiB for GRUB's own files, room for the new generation while switching.\n"
			  "  boot.loader.grub.configurationLimit = %u;\n",
			  smallest_esp_mib(p), disk_plan_grub_configuration_limit(p));
	if (p->n_disks > 1)
		render_esp_check(o, p);
	nm_nix_out_printf(o, "\n");
}

int disk_plan_nix(const struct disk_plan *p, struct nm_nix_out *o)
{
	render_filesystems(o, p);
	render_swraid(o, p);
	if (p->uefi)
		render_bootloader_uefi(o, p);
	else
		render_bootloader_bios(o, p);
	return o->err;
}
