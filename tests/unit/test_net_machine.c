/* test_net_machine.c: machine_facts_read on the fixture trees (boot mode, CPU vendor, KVM
 * module, virtualisation, initrd modules, SSH keys with a malformed line) and, on a tree built
 * here, each initrd-module rule of nixos-generate-config and each virtualisation clue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "netcfg/netcfg.h"
#include "net_test_tree.h"

static void read_fixture(const char *name, struct machine_facts *m)
{
	char root[512];
	struct nm_error e = {0};
	fixture_root(name, root, sizeof root);
	if (machine_facts_read(root, m, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
}

static void onboard_fixture_facts(void **state)
{
	struct machine_facts m;
	read_fixture("nvme-onboard", &m);
	assert_string_equal(m.cpu_vendor, "intel");
	assert_string_equal(m.virtualisation, "none");
	assert_int_equal(nm_strv_len(m.kernel_modules), 1);
	assert_string_equal(m.kernel_modules[0], "kvm-intel");
	assert_true(nm_strv_contains(m.initrd_modules, "xhci_pci"));
	assert_true(nm_strv_contains(m.initrd_modules, "usbhid"));
	assert_false(nm_strv_contains(m.initrd_modules, "e1000e")); /* a NIC driver is not for the initrd */
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 2);
	assert_true(strncmp(m.ssh_authorized_keys[0], "ssh-ed25519 AAAAC3", 18) == 0);
	assert_true(strncmp(m.ssh_authorized_keys[1], "ecdsa-sha2-nistp256 ", 20) == 0);
	assert_true(has_warning(m.warnings, "/root/.ssh/authorized_keys line 3 skipped"));
	assert_int_equal(nm_strv_len(m.warnings), 1);
	machine_facts_free(&m);
}

static void amd_fixture_facts(void **state)
{
	struct machine_facts m;
	read_fixture("sata-pcie-bmc", &m);
	assert_string_equal(m.cpu_vendor, "amd");
	assert_string_equal(m.virtualisation, "none");
	assert_int_equal(nm_strv_len(m.kernel_modules), 1);
	assert_string_equal(m.kernel_modules[0], "kvm-amd");
	assert_true(nm_strv_contains(m.initrd_modules, "xhci_pci"));
	assert_false(nm_strv_contains(m.initrd_modules, "cdc_ether"));
	assert_false(nm_strv_contains(m.initrd_modules, "igb"));
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 1);
	/* options kept, the CR of a Windows line end gone */
	assert_non_null(strstr(m.ssh_authorized_keys[0], "from=\"198.51.100.0/24\",no-agent-forwarding ssh-ed25519 "));
	assert_null(strchr(m.ssh_authorized_keys[0], '\r'));
	machine_facts_free(&m);
}

static void uefi_fixture_facts(void **state)
{
	struct machine_facts m;
	read_fixture("uefi-multifunction", &m);
	assert_string_equal(m.cpu_vendor, "intel");
	assert_int_equal(nm_strv_len(m.kernel_modules), 0); /* VT-x switched off: no vmx flag */
	assert_false(nm_strv_contains(m.initrd_modules, "mlx5_core"));
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 1);
	machine_facts_free(&m);
}

static void odd_fixture_facts_warn(void **state)
{
	struct machine_facts m;
	read_fixture("odd-sysfs", &m);
	assert_null(m.cpu_vendor);
	assert_string_equal(m.virtualisation, "none");
	assert_true(has_warning(m.warnings, "cannot read /proc/cpuinfo"));
	assert_true(has_warning(m.warnings, "cannot read /root/.ssh/authorized_keys"));
	json_object *o = machine_facts_to_json(&m, json_object_new_object());
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"cpu_vendor\":null,\"virtualisation\":\"none\","
			    "\"initrd_modules\":[\"virtio_pci\"],\"kernel_modules\":[],\"ssh_authorized_keys\":[]}");
	json_object_put(o);
	machine_facts_free(&m);
}

/* ---- a tree built here for the module and virtualisation rules ---- */

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
	put_text("/proc/cpuinfo", "vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx hypervisor\n");

	struct machine_facts m;
	struct nm_error e = {0};
	assert_int_equal(machine_facts_read(tmp, &m, &e), 0);
	const char *want[] = {"xhci_pci",    "ahci",	    "nvme", "firewire_ohci", "virtio_pci", "virtio_blk",
			      "virtio_scsi", "usb_storage", "uas",  "usbhid",	     "sd_mod"};
	assert_int_equal(nm_strv_len(m.initrd_modules), NM_ELEMENTSOF(want));
	for (size_t i = 0; i < NM_ELEMENTSOF(want); i++)
		assert_string_equal(m.initrd_modules[i], want[i]);
	assert_string_equal(m.virtualisation, "vm-other"); /* hypervisor flag, nothing else known */
	machine_facts_free(&m);
}

static void virtualisation_from_clock_then_dmi(void **state)
{
	struct machine_facts m;
	struct nm_error e = {0};
	put_text("/proc/cpuinfo", "vendor_id\t: AuthenticAMD\nflags\t\t: fpu svm hypervisor\n");
	put_text("/sys/class/dmi/id/sys_vendor", "QEMU\n");
	put_text("/sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
	assert_int_equal(machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.virtualisation, "qemu"); /* QEMU without KVM (TCG) */
	machine_facts_free(&m);
	put_text("/sys/devices/system/clocksource/clocksource0/available_clocksource", "kvm-clock tsc acpi_pm \n");
	assert_int_equal(machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.virtualisation, "kvm");
	assert_string_equal(m.cpu_vendor, "amd");
	assert_string_equal(m.kernel_modules[0], "kvm-amd");
	machine_facts_free(&m);
	put_text("/proc/cpuinfo", "vendor_id\t: HygonGenuine\nflags\t\t: fpu\n");
	assert_int_equal(machine_facts_read(tmp, &m, &e), 0);
	assert_string_equal(m.cpu_vendor, "HygonGenuine");
	assert_int_equal(nm_strv_len(m.kernel_modules), 0);
	machine_facts_free(&m);
}

static void authorized_keys_skip_bad_lines_by_number(void **state)
{
	put_text("/root/.ssh/authorized_keys",
		 "\n# comment\nssh-rsa "
		 "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDB20KZ8FOdUX2hPecY9d/rDqFRNRTvQhhlEcg08mK11nnnygorl0Px0Uv2evtr"
		 "mzWOv9V7XfU2rcu/XA4zI6YI0Vj0swy9va7zCFEwba9eJtFH4iCT0DdPNxV6LcTMmNWbXU2bW3zjQ0dvt1zxiqsUA+c/"
		 "iu3wsvj6dimTC3wy"
		 "2w== op@rsa\nssh-dss AAAA old@key\n   \nnot a key at all");
	struct machine_facts m;
	struct nm_error e = {0};
	assert_int_equal(machine_facts_read(tmp, &m, &e), 0);
	assert_int_equal(nm_strv_len(m.ssh_authorized_keys), 1);
	assert_true(strncmp(m.ssh_authorized_keys[0], "ssh-rsa AAAAB3", 14) == 0);
	assert_true(has_warning(m.warnings, "line 4 skipped: ssh key: unknown key type 'ssh-dss'"));
	assert_true(has_warning(m.warnings, "line 6 skipped"));
	assert_false(has_warning(m.warnings, "line 2 "));
	machine_facts_free(&m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tree_make, tree_remove)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(onboard_fixture_facts),	    cmocka_unit_test(amd_fixture_facts),
	    cmocka_unit_test(uefi_fixture_facts),	    cmocka_unit_test(odd_fixture_facts_warn),
	    T(initrd_modules_follow_nixos_generate_config), T(virtualisation_from_clock_then_dmi),
	    T(authorized_keys_skip_bad_lines_by_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
