/* test_net_predict.c: net_predict_name, one naming rule per test with its known answer, on
 * small sysfs trees built in a temporary directory (the fixture trees cover whole machines):
 * onboard (acpi_index, index, out-of-range index), hotplug slot, path in decimal, P<domain>,
 * f<function> from the multi-function bit, d<dev_port>, n<phys_port_name>, USB port chains
 * with config/interface, virtio, the 15-character limit, and what has no name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "netcfg/netcfg.h"
#include "sysfs_tree.h"

/* symlink at rel pointing to the root-relative target, written relative as sysfs does */
static void link_to(const char *rel, const char *target)
{
	char path[1024], dir[1024], rtarget[1024] = "";
	snprintf(path, sizeof path, "%s%s", tmp, rel);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdir_p(dir);
	for (const char *p = rel + 1; *p; p++)
		if (*p == '/')
			strcat(rtarget, "../");
	strcat(rtarget, target + 1);
	assert_int_equal(symlink(rtarget, path), 0);
}

/* A PCI function at dev (root-relative) with a config space whose header type is `header`. */
static void pci_device(const char *dev, unsigned char header)
{
	unsigned char cfg[64] = {0x86, 0x80, 0x33, 0x15};
	char rel[512];
	cfg[0x0e] = header;
	snprintf(rel, sizeof rel, "%s/config", dev);
	put_bytes(rel, cfg, sizeof cfg);
	snprintf(rel, sizeof rel, "%s/subsystem", dev);
	link_to(rel, "/sys/bus/pci");
}

static void netdev(const char *parent, const char *ifname, unsigned dev_port)
{
	char rel[512], val[32];
	snprintf(rel, sizeof rel, "%s/net/%s/dev_port", parent, ifname);
	snprintf(val, sizeof val, "%u\n", dev_port);
	put_text(rel, val);
	snprintf(rel, sizeof rel, "%s/net/%s/device", parent, ifname);
	link_to(rel, parent);
	snprintf(rel, sizeof rel, "/sys/class/net/%s", ifname);
	char target[512];
	snprintf(target, sizeof target, "%s/net/%s", parent, ifname);
	link_to(rel, target);
}

static int make_tree(void **state)
{
	tree_make(state);
	put_text("/sys/bus/pci/.keep", "");
	return 0;
}

static void expect_name(const char *ifname, const char *want)
{
	char *name = NULL;
	struct nm_error e = {0};
	if (net_predict_name(tmp, ifname, &name, &e) < 0)
		fail_msg("%s: %s", ifname, e.msg);
	if (want == NULL) {
		if (name)
			fail_msg("%s: expected no name, got %s", ifname, name);
	} else {
		if (!name)
			fail_msg("%s: expected %s, got none", ifname, want);
		assert_string_equal(name, want);
	}
	free(name);
}

static void path_name_prints_bus_and_slot_in_decimal(void **state)
{
	pci_device("/sys/devices/pci0000:00/0000:00:01.1/0000:23:00.0", 0x00);
	netdev("/sys/devices/pci0000:00/0000:00:01.1/0000:23:00.0", "eth0", 0);
	expect_name("eth0", "enp35s0");
	pci_device("/sys/devices/pci0000:00/0000:00:1f.6", 0x00);
	netdev("/sys/devices/pci0000:00/0000:00:1f.6", "eth1", 0);
	expect_name("eth1", "enp0s31f6");
}

static void function_zero_of_multifunction_device_gets_f0(void **state)
{
	pci_device("/sys/devices/pci0000:00/0000:00:02.0/0000:04:00.0", 0x80);
	netdev("/sys/devices/pci0000:00/0000:00:02.0/0000:04:00.0", "eth0", 0);
	expect_name("eth0", "enp4s0f0");
	pci_device("/sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0", 0x00);
	netdev("/sys/devices/pci0000:00/0000:00:02.0/0000:05:00.0", "eth1", 0);
	expect_name("eth1", "enp5s0");
}

static void onboard_prefers_acpi_index_then_index(void **state)
{
	const char *a = "/sys/devices/pci0000:00/0000:00:19.0", *b = "/sys/devices/pci0000:00/0000:00:1c.0";
	pci_device(a, 0x00);
	put_text("/sys/devices/pci0000:00/0000:00:19.0/acpi_index", "3\n");
	put_text("/sys/devices/pci0000:00/0000:00:19.0/index", "1\n");
	netdev(a, "eth0", 0);
	expect_name("eth0", "eno3");
	pci_device(b, 0x80);
	put_text("/sys/devices/pci0000:00/0000:00:1c.0/index", "2\n");
	netdev(b, "eth1", 1);
	expect_name("eth1", "eno2d1"); /* no function on onboard names, but the port */
}

static void onboard_index_out_of_range_falls_back_to_path(void **state)
{
	const char *a = "/sys/devices/pci0000:00/0000:00:19.0";
	pci_device(a, 0x00);
	put_text("/sys/devices/pci0000:00/0000:00:19.0/acpi_index", "16384\n");
	netdev(a, "eth0", 0);
	expect_name("eth0", "enp0s25");
}

static void hotplug_slot_beats_path_and_onboard_beats_slot(void **state)
{
	const char *a = "/sys/devices/pci0000:00/0000:00:03.0/0000:3b:00.1";
	pci_device(a, 0x80);
	put_text("/sys/bus/pci/slots/6/address", "0000:3b:00\n");
	put_text("/sys/bus/pci/slots/2/address", "0000:3a:00\n");
	netdev(a, "eth0", 0);
	expect_name("eth0", "ens6f1");
	put_text("/sys/devices/pci0000:00/0000:00:03.0/0000:3b:00.1/acpi_index", "5\n");
	expect_name("eth0", "eno5");
}

static void domain_prefix_and_port_name(void **state)
{
	const char *a = "/sys/devices/pci0002:00/0002:00:00.0/0002:10:01.0";
	pci_device(a, 0x00);
	netdev(a, "eth0", 2);
	expect_name("eth0", "enP2p16s1d2");
	put_text("/sys/devices/pci0002:00/0002:00:00.0/0002:10:01.0/net/eth0/phys_port_name", "p1\n");
	expect_name("eth0", "enP2p16s1np1"); /* the driver's port name wins over dev_port */
}

static void virtio_nic_is_named_by_its_pci_parent(void **state)
{
	const char *pci = "/sys/devices/pci0000:00/0000:00:03.0";
	pci_device(pci, 0x00);
	link_to("/sys/devices/pci0000:00/0000:00:03.0/virtio0/subsystem", "/sys/bus/virtio");
	netdev("/sys/devices/pci0000:00/0000:00:03.0/virtio0", "eth0", 0);
	expect_name("eth0", "enp0s3");
}

static void usb_nic_appends_port_chain_config_and_interface(void **state)
{
	pci_device("/sys/devices/pci0000:00/0000:00:1d.0", 0x00);
	const char *intf = "/sys/devices/pci0000:00/0000:00:1d.0/usb2/2-1/2-1.4/2-1.4:2.1";
	link_to("/sys/devices/pci0000:00/0000:00:1d.0/usb2/2-1/2-1.4/2-1.4:2.1/subsystem", "/sys/bus/usb");
	netdev(intf, "usb0", 0);
	expect_name("usb0", "enp0s29u1u4c2i1");
	/* config 1 and interface 0 are left out; the controller's f0 stays */
	pci_device("/sys/devices/pci0000:00/0000:00:14.0", 0x80);
	const char *plain = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0";
	link_to("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/subsystem", "/sys/bus/usb");
	netdev(plain, "usb1", 0);
	expect_name("usb1", "enp0s20f0u1");
}

static void name_longer_than_ifnamsiz_is_dropped(void **state)
{
	const char *a = "/sys/devices/pci0000:00/0000:00:14.0";
	pci_device(a, 0x80);
	const char *deep = "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2.3/1-1.2.3.4:1.0";
	link_to("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2.3/1-1.2.3.4:1.0/subsystem", "/sys/bus/usb");
	netdev(deep, "usb0", 0);
	expect_name("usb0", NULL); /* enp0s20f0u1u2u3u4 has 17 characters */
}

static void virtual_and_unknown_devices_have_no_name(void **state)
{
	put_text("/sys/devices/virtual/net/veth0/dev_port", "0\n");
	link_to("/sys/class/net/veth0", "/sys/devices/virtual/net/veth0");
	expect_name("veth0", NULL);
	link_to("/sys/devices/platform/eth/subsystem", "/sys/bus/platform");
	netdev("/sys/devices/platform/eth", "end0", 0);
	expect_name("end0", NULL);
	char *name = NULL;
	struct nm_error e = {0};
	assert_int_equal(net_predict_name(tmp, "eth9", &name, &e), -ENOENT);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "eth9: no such network interface"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, make_tree, tree_remove)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(path_name_prints_bus_and_slot_in_decimal),       T(function_zero_of_multifunction_device_gets_f0),
	    T(onboard_prefers_acpi_index_then_index),	       T(onboard_index_out_of_range_falls_back_to_path),
	    T(hotplug_slot_beats_path_and_onboard_beats_slot), T(domain_prefix_and_port_name),
	    T(virtio_nic_is_named_by_its_pci_parent),	       T(usb_nic_appends_port_chain_config_and_interface),
	    T(name_longer_than_ifnamsiz_is_dropped),	       T(virtual_and_unknown_devices_have_no_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
