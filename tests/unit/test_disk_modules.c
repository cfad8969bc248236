/* test_disk_modules.c: the initrd modules of the disk inventory — on the fixture machines (the
 * storage and USB controllers' drivers, never a NIC's), on a tree built here for each rule of
 * nixos-generate-config, and as the line of hardware-configuration.nix that holds them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/disk.h"
#include "sysfs_tree.h"

static void read_fixture(const char *name, struct disk_inventory *inv)
{
	char root[512];
	struct nm_error e = {0};
	fixture_root(name, root, sizeof root);
	if (disk_inventory_read(root, inv, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
}

static void fixtures_list_storage_and_usb_drivers_not_nics(void **state)
{
	struct disk_inventory inv;
	read_fixture("nvme-onboard", &inv);
	assert_true(nm_strv_contains(inv.initrd_modules, "xhci_pci"));
	assert_true(nm_strv_contains(inv.initrd_modules, "usbhid"));
	assert_false(nm_strv_contains(inv.initrd_modules, "e1000e")); /* a NIC driver is not for the initrd */
	disk_inventory_free(&inv);
	read_fixture("sata-pcie-bmc", &inv);
	assert_true(nm_strv_contains(inv.initrd_modules, "xhci_pci"));
	assert_false(nm_strv_contains(inv.initrd_modules, "cdc_ether")); /* the BMC's USB NIC */
	assert_false(nm_strv_contains(inv.initrd_modules, "igb"));
	disk_inventory_free(&inv);
	read_fixture("uefi-multifunction", &inv);
	assert_false(nm_strv_contains(inv.initrd_modules, "mlx5_core"));
	disk_inventory_free(&inv);
	read_fixture("odd-sysfs", &inv);
	assert_int_equal(nm_strv_len(inv.initrd_modules), 1);
	assert_string_equal(inv.initrd_modules[0], "virtio_pci");
	disk_inventory_free(&inv);
}

static void no_pci_bus_is_a_warning_not_a_failure(void **state)
{
	struct disk_inventory inv;
	struct nm_error e = {0};
	assert_int_equal(disk_inventory_read(tmp, &inv, &e), 0);
	assert_int_equal(nm_strv_len(inv.initrd_modules), 0);
	assert_true(has_warning(inv.warnings, "cannot list /sys/bus/pci/devices"));
	disk_inventory_free(&inv);
}

static void initrd_line_quotes_each_module(void **state)
{
	struct nm_error e = {0};
	struct nm_nix_out o;
	nm_nix_out_init(&o, &e);
	/* Hetzner's baseline first, then each detected module not in it, once. */
	char *modules[] = {"xhci_pci", "virtio_blk", "nvme", "megaraid_sas", "virtio_blk", NULL};
	disk_initrd_nix(&o, modules);
	disk_initrd_nix(&o, NULL);
	_cleanup_free_ char *text = NULL;
	assert_int_equal(nm_nix_out_finish(&o, &text), 0);
	assert_string_equal(
	    text,
	    "  boot.initrd.availableKernelModules = [ \"nvme\" \"ahci\" \"sd_mod\" \"xhci_pci\" \"usbhid\" "
	    "\"virtio_blk\" \"megaraid_sas\" ];\n"
	    "  boot.initrd.availableKernelModules = [ \"nvme\" \"ahci\" \"sd_mod\" \"xhci_pci\" \"usbhid\" ];\n");
}

/* ---- a tree built here for the module rules ---- */

/* dir/driver/module → .../module/<module>; dangling targets are fine for a readlink */
static void driver_with_module(const char *dir, const char *module)
{
	char path[1024], target[256];
	snprintf(path, sizeof path, "%s%s/driver", tmp, dir);
	mkdir_p(path);
	strcat(path, "/module");
	snprintf(target, sizeof target, "../../../../module/%s", module);
	assert_int_equal(symlink(target, path), 0);
}

static void pci(const char *name, const char *cls, const char *vendor, const char *device, const char *module)
{
	char dir[256], rel[300];
	snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s", name);
	snprintf(rel, sizeof rel, "%s/class", dir);
	put_text(rel, cls);
	snprintf(rel, sizeof rel, "%s/vendor", dir);
	put_text(rel, vendor);
	snprintf(rel, sizeof rel, "%s/device", dir);
	put_text(rel, device);
	if (module)
		driver_with_module(dir, module);
}

static void usb_intf(const char *name, const char *cls, const char *sub, const char *proto, const char *module)
{
	char dir[256], rel[300];
	snprintf(dir, sizeof dir, "/sys/bus/usb/devices/%s", name);
	snprintf(rel, sizeof rel, "%s/bInterfaceClass", dir);
	put_text(rel, cls);
	snprintf(rel, sizeof rel, "%s/bInterfaceSubClass", dir);
	put_text(rel, sub);
	snprintf(rel, sizeof rel, "%s/bInterfaceProtocol", dir);
	put_text(rel, proto);
	driver_with_module(dir, module);
}

static void initrd_modules_follow_nixos_generate_config(void **state)
{
	pci("0000:00:14.0", "0x0c0330\n", "0x8086\n", "0xa36d\n", "xhci_pci");
	pci("0000:00:17.0", "0x010601\n", "0x8086\n", "0xa352\n", "ahci");
	pci("0000:00:1f.6", "0x020000\n", "0x8086\n", "0x15bb\n", "e1000e");
	pci("0000:00:1f.3", "0x040300\n", "0x8086\n", "0xa348\n", "snd_hda_intel");
	pci("0000:01:00.0", "0x010802\n", "0x144d\n", "0xa808\n", "nvme");
	pci("0000:02:00.0", "0x010400\n", "0x1000\n", "0x005f\n", NULL); /* RAID, driver built in */
	pci("0000:03:00.0", "0x0c0010\n", "0x1106\n", "0x3044\n", "firewire_ohci");
	pci("0000:04:00.0", "0x010000\n", "0x1af4\n", "0x1001\n", "virtio_pci");
	pci("0000:05:00.0", "0x010000\n", "0x1af4\n", "0x1048\n", "virtio_pci");
	usb_intf("1-1:1.0", "08\n", "06\n", "50\n", "usb_storage");
	usb_intf("1-2:1.0", "08\n", "06\n", "62\n", "uas");
	usb_intf("1-3:1.0", "03\n", "01\n", "01\n", "usbhid");
	usb_intf("1-4:1.0", "03\n", "01\n", "02\n", "usbmouse_driver"); /* a mouse: not needed */
	usb_intf("1-5:1.0", "02\n", "06\n", "00\n", "cdc_ether");
	put_text("/sys/bus/usb/devices/usb1/idVendor", "1d6b\n"); /* a device, not an interface */
	driver_with_module("/sys/class/block/sda/device", "sd_mod");
	put_text("/sys/class/block/sda1/partition", "1\n");

	struct disk_inventory inv;
	struct nm_error e = {0};
	assert_int_equal(disk_inventory_read(tmp, &inv, &e), 0);
	const char *want[] = {"xhci_pci",    "ahci",	    "nvme", "firewire_ohci", "virtio_pci", "virtio_blk",
			      "virtio_scsi", "usb_storage", "uas",  "usbhid",	     "sd_mod"};
	assert_int_equal(nm_strv_len(inv.initrd_modules), NM_ELEMENTSOF(want));
	for (size_t i = 0; i < NM_ELEMENTSOF(want); i++)
		assert_string_equal(inv.initrd_modules[i], want[i]);
	disk_inventory_free(&inv);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tree_make, tree_remove)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fixtures_list_storage_and_usb_drivers_not_nics),
	    T(no_pci_bus_is_a_warning_not_a_failure),
	    cmocka_unit_test(initrd_line_quotes_each_module),
	    T(initrd_modules_follow_nixos_generate_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
