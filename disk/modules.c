/* modules.c: the kernel modules the installed system's initrd needs to reach its disks (and
 * a keyboard), by nixos-generate-config's rules: the drivers of PCI mass-storage (class 0x01), FireWire (0x0c00) and USB (0x0c03)
 * controllers, virtio_pci/virtio_blk/virtio_scsi for virtio devices, the USB mass-storage
 * (usb_storage, uas) and boot-keyboard (usbhid) interface drivers, and the drivers of the
 * block devices (sd_mod). Module names come from each driver's `module` link under --root; a
 * driver built into the kernel has none and needs no module. The rendered list always starts
 * with Hetzner's baseline. It never loads a module. */
#include "disk/disk.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "disk/disk-internal.h"

#define VIRTIO_VENDOR "0x1af4"

static int add_module(struct disk_inventory *inv, const char *module)
{
	if (!module || nm_strv_contains(inv->initrd_modules, module))
		return 0;
	return nm_strv_push(&inv->initrd_modules, module);
}

/* The module behind dir/driver, or NULL (no driver bound, or built in). */
static char *driver_module(const char *root, const char *dir)
{
	char rel[PATH_MAX];
	char *module = NULL;
	snprintf(rel, sizeof rel, "%s/driver/module", dir);
	return nm_readlink_base(root, rel, &module) == 0 ? module : NULL;
}

static char *attr(const char *root, const char *dir, const char *name)
{
	char rel[PATH_MAX];
	char *s = NULL;
	snprintf(rel, sizeof rel, "%s/%s", dir, name);
	return nm_read_line(root, rel, &s) == 0 ? s : NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int pci_modules(const char *root, struct disk_inventory *inv)
{
	_cleanup_strv_free_ char **devs = NULL;
	int r = nm_list_dir(root, "/sys/bus/pci/devices", &devs);
	if (r < 0) {
		nm_warning_add(&inv->warnings,
			       "cannot list /sys/bus/pci/devices (%s); initrd modules of storage and USB controllers "
			       "unknown",
			       strerror(-r));
		return 0;
	}
	for (size_t i = 0; devs[i] && r >= 0; i++) {
		char dir[1024];
		snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s", devs[i]);
		_cleanup_free_ char *cls = attr(root, dir, "class"), *vendor = attr(root, dir, "vendor"),
				    *device = attr(root, dir, "device"), *module = driver_module(root, dir);
		if (starts_with(cls, "0x01") || starts_with(cls, "0x0c00") || starts_with(cls, "0x0c03"))
			r = add_module(inv, module);
		if (r >= 0 && vendor && strcmp(vendor, VIRTIO_VENDOR) == 0) {
			r = add_module(inv, "virtio_pci");
			/* transitional and modern device ids of virtio block and SCSI */
			if (r >= 0 && device && (strcmp(device, "0x1001") == 0 || strcmp(device, "0x1042") == 0))
				r = add_module(inv, "virtio_blk");
			if (r >= 0 && device && (strcmp(device, "0x1004") == 0 || strcmp(device, "0x1048") == 0))
				r = add_module(inv, "virtio_scsi");
		}
	}
	return r;
}

static int usb_modules(const char *root, struct disk_inventory *inv)
{
	_cleanup_strv_free_ char **devs = NULL;
	if (nm_list_dir(root, "/sys/bus/usb/devices", &devs) < 0)
		return 0; /* no USB bus at all is normal in a VM */
	int r = 0;
	for (size_t i = 0; devs[i] && r >= 0; i++) {
		char dir[1024];
		snprintf(dir, sizeof dir, "/sys/bus/usb/devices/%s", devs[i]);
		_cleanup_free_ char *cls = attr(root, dir, "bInterfaceClass"),
				    *sub = attr(root, dir, "bInterfaceSubClass"),
				    *proto = attr(root, dir, "bInterfaceProtocol"), *module = NULL;
		if (!cls)
			continue; /* a device, not an interface */
		bool storage = strcmp(cls, "08") == 0;
		bool keyboard = strcmp(cls, "03") == 0 && starts_with(sub, "01") && starts_with(proto, "01");
		if (storage || keyboard) {
			module = driver_module(root, dir);
			r = add_module(inv, module);
		}
	}
	return r;
}

static int block_modules(const char *root, struct disk_inventory *inv)
{
	_cleanup_strv_free_ char **devs = NULL;
	if (nm_list_dir(root, "/sys/class/block", &devs) < 0)
		return 0;
	int r = 0;
	for (size_t i = 0; devs[i] && r >= 0; i++) {
		char dir[1024];
		snprintf(dir, sizeof dir, "/sys/class/block/%s/device", devs[i]);
		_cleanup_free_ char *module = driver_module(root, dir);
		r = add_module(inv, module);
	}
	return r;
}

int disk_initrd_modules_read(const char *root, struct disk_inventory *inv)
{
	if (!inv->initrd_modules && !(inv->initrd_modules = nm_strv_new()))
		return -ENOMEM;
	int r = pci_modules(root, inv);
	if (r >= 0)
		r = usb_modules(root, inv);
	if (r >= 0)
		r = block_modules(root, inv);
	return r;
}

/* Hetzner's baseline, always in the initrd whatever the rescue saw: NVMe and SATA (AHCI) disks,
 * the SCSI disk driver behind SATA and USB storage, the xHCI controller and a USB keyboard for
 * the console. A disk or board swapped later (NVMe for SATA, another controller) still boots. */
static char *const hetzner_baseline[] = {"nvme", "ahci", "sd_mod", "xhci_pci", "usbhid", NULL};

void disk_initrd_nix(struct nm_nix_out *o, char *const *modules)
{
	nm_nix_out_printf(o, "  boot.initrd.availableKernelModules = [");
	nm_nix_out_items(o, "initrd module", hetzner_baseline);
	/* then each detected module the baseline (or an earlier entry) does not already name */
	for (size_t i = 0; modules && modules[i]; i++) {
		bool seen = nm_strv_contains(hetzner_baseline, modules[i]);
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(modules[j], modules[i]) == 0;
		if (!seen)
			nm_nix_out_items(o, "initrd module", (char *const[]){modules[i], NULL});
	}
	nm_nix_out_printf(o, " ];\n");
}
