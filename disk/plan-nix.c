/* plan-nix.c: the storage part of hardware-configuration.nix, written from the plan alone:
 * fileSystems by UUID (the ESPs of a mirror nofail), swapDevices, software RAID with its
 * mdadm.conf, and GRUB on every disk (BIOS) or every ESP (UEFI). It appends text to the caller's
 * Nix file and never reads the machine. docs/rendered-example.md explains each section. */
#include "disk/disk.h"

#include <errno.h>
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
			for (size_t j = 0; fs->options && fs->options[j]; j++) {
				nm_nix_out_printf(o, " ");
				nm_nix_out_str(o, "mount option", fs->options[j]);
			}
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
}

static const char *disk_boot_path(const struct disk_member_plan *d)
{
	return d->by_id && *d->by_id ? d->by_id : d->path;
}

static void render_bootloader_bios(struct nm_nix_out *o, const struct disk_plan *p)
{
	nm_nix_out_printf(o,
			  "  # Legacy BIOS boot: GRUB goes into the BIOS boot partition of every disk, so each one\n"
			  "  # boots alone. Disks by /dev/disk/by-id, which does not change between boots.\n"
			  "  boot.loader.grub.enable = true;\n  boot.loader.grub.devices = [\n");
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *d = &p->disks[i];
		if (!d->by_id || !*d->by_id)
			nm_nix_out_comment(o, "    ",
					   "%s has no /dev/disk/by-id link: by kernel name, which can change", d->name);
		nm_nix_out_printf(o, "    ");
		nm_nix_out_str(o, "boot disk", disk_boot_path(d));
		nm_nix_out_printf(o, "\n");
	}
	nm_nix_out_printf(o, "  ];\n\n");
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
	nm_nix_out_printf(o, "  ];\n\n");
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
