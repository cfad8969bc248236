/* test_net_uplink.c: net_uplink_select on the fixture machines and on inventories built here:
 * the NIC with the IPv4 default route (else IPv6), never a virtual, down or BMC NIC by default,
 * --uplink by MAC or name (virtual ones too), and usage errors that name the candidates. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "netcfg/netcfg.h"
#include "sysfs_tree.h"

static void read_fixture(const char *name, struct net_inventory *inv)
{
	char root[512];
	struct nm_error e = {0};
	fixture_root(name, root, sizeof root);
	if (net_inventory_read(root, inv, &e) < 0)
		fail_msg("%s: %s", name, e.msg);
}

static const char *pick(const struct net_inventory *inv, const char *want)
{
	const struct net_nic *n = NULL;
	struct nm_error e = {0};
	if (net_uplink_select(inv, want, &n, &e) < 0)
		fail_msg("uplink: %s", e.msg);
	return n->name;
}

static void expect_usage_error(const struct net_inventory *inv, const char *want, const char *part1, const char *part2)
{
	const struct net_nic *n = (const struct net_nic *)inv; /* must be reset to NULL */
	struct nm_error e = {0};
	assert_true(net_uplink_select(inv, want, &n, &e) < 0);
	assert_null(n);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	if (!strstr(e.msg, part1) || !strstr(e.msg, part2))
		fail_msg("message '%s' lacks '%s' or '%s'", e.msg, part1, part2);
	assert_non_null(strstr(e.msg, "--uplink"));
}

static void uplink_is_the_nic_with_the_default_route(void **state)
{
	struct net_inventory inv;
	read_fixture("nvme-onboard", &inv);
	assert_string_equal(pick(&inv, NULL), "eth0");
	net_inventory_free(&inv);
	read_fixture("sata-pcie-bmc", &inv);
	assert_string_equal(pick(&inv, NULL), "eth0");
	net_inventory_free(&inv);
}

static void ipv6_only_machine_uses_the_ipv6_default_route(void **state)
{
	struct net_inventory inv;
	read_fixture("uefi-multifunction", &inv);
	assert_string_equal(pick(&inv, NULL), "eth2");
	net_inventory_free(&inv);
}

static void uplink_option_takes_mac_or_name_of_any_interface(void **state)
{
	struct net_inventory inv;
	read_fixture("uefi-multifunction", &inv);
	assert_string_equal(pick(&inv, "00:02:C9:00:00:11"), "eth1");
	assert_string_equal(pick(&inv, "eth0"), "eth0");
	assert_string_equal(pick(&inv, "br0"), "br0"); /* virtual, but named explicitly */
	expect_usage_error(&inv, "eth7", "--uplink eth7: no interface has that name or MAC",
			   "eth2 (b8:59:9f:01:02:03)");
	net_inventory_free(&inv);
}

static void no_default_route_is_a_usage_error_listing_nics(void **state)
{
	struct net_inventory inv;
	read_fixture("odd-sysfs", &inv);
	expect_usage_error(&inv, NULL, "no default route", "eth1 (52:54:00:12:34:56)");
	net_inventory_free(&inv);
}

/* ---- inventories built here ---- */

static struct net_nic mk(const char *name, const char *mac, bool physical, bool up, bool bmc)
{
	return (struct net_nic){.name = (char *)name, .mac = (char *)mac, .physical = physical, .up = up, .bmc = bmc};
}

static void default_route_on_bmc_virtual_or_down_nic_is_refused(void **state)
{
	struct net_nic nics[] = {
	    mk("eth0", "aa:00:00:00:00:01", true, false, false),
	    mk("usb0", "aa:00:00:00:00:02", true, true, true),
	    mk("veth0", "aa:00:00:00:00:03", false, true, false),
	};
	char *v4[] = {"usb0", "veth0", NULL}, *v6[] = {"eth0", NULL};
	struct net_inventory inv = {.nics = nics, .n_nics = 3, .ipv4_default_devs = v4, .ipv6_default_devs = v6};
	expect_usage_error(&inv, NULL, "usb0 is the BMC's USB NIC; veth0 is a virtual interface", "eth0 is down");
	assert_string_equal(pick(&inv, "veth0"), "veth0");
	/* with eth0 up, the IPv6 route decides */
	nics[0].up = true;
	assert_string_equal(pick(&inv, NULL), "eth0");
}

static void two_nics_with_default_routes_are_ambiguous(void **state)
{
	struct net_nic nics[] = {
	    mk("eth0", "aa:00:00:00:00:01", true, true, false),
	    mk("eth1", "aa:00:00:00:00:02", true, true, false),
	};
	char *v4[] = {"eth1", "eth0", NULL};
	struct net_inventory inv = {.nics = nics, .n_nics = 2, .ipv4_default_devs = v4};
	expect_usage_error(&inv, NULL, "ambiguous", "IPv4 default routes leave through eth1, eth0");
	assert_string_equal(pick(&inv, "aa:00:00:00:00:02"), "eth1");
}

static void shared_mac_prefers_the_physical_port(void **state)
{
	struct net_nic nics[] = {
	    mk("bond0", "aa:00:00:00:00:01", false, true, false),
	    mk("eth0", "aa:00:00:00:00:01", true, true, false),
	    mk("eth1", "aa:00:00:00:00:01", true, true, false),
	};
	struct net_inventory inv = {.nics = nics, .n_nics = 2};
	assert_string_equal(pick(&inv, "aa:00:00:00:00:01"), "eth0");
	inv.n_nics = 3;
	expect_usage_error(&inv, "aa:00:00:00:00:01", "several interfaces share that MAC", "interface name");
}

static void usable_addresses_leave_out_link_local_temporary_deprecated_tentative(void **state)
{
	struct net_addr v6[] = {
	    {.address = "fe80::1", .prefix = 64, .link_local = true},
	    {.address = "2001:db8::10", .prefix = 64, .temporary = true},
	    {.address = "2001:db8::2", .prefix = 64},
	    {.address = "2001:db8::20", .prefix = 64, .deprecated = true},
	    {.address = "2001:db8::30", .prefix = 64, .tentative = true},
	    {.address = "2001:db8::3", .prefix = 64},
	};
	struct net_nic n = {.name = "eth0", .ipv6 = v6, .n_ipv6 = 6};
	const struct net_addr *out[1];
	assert_int_equal(net_nic_usable_addrs(&n, true, out, 1), 2); /* counts past max */
	assert_string_equal(out[0]->address, "2001:db8::2");
	assert_int_equal(net_nic_usable_addrs(&n, false, out, 1), 0);
	assert_false(net_addr_usable(NULL));
}

/* sata-pcie-bmc booted from its uplink (PXE form 01-...); uefi-multifunction from eth0, a port of
 * its other card, while the default route is on eth2 (plain MAC in capitals): a warning naming
 * both and --uplink. */
static void bootif_agreeing_with_the_uplink_is_silent(void **state)
{
	(void)state;
	_cleanup_net_inventory_ struct net_inventory inv = {0};
	read_fixture("sata-pcie-bmc", &inv);
	assert_string_equal(inv.boot_mac, "a8:a1:59:12:34:56");
	const struct net_nic *n = NULL;
	struct nm_error e = {0};
	assert_int_equal(net_uplink_select(&inv, NULL, &n, &e), 0);
	assert_null(net_bootif_disagreement(&inv, n));
}

static void bootif_naming_another_nic_is_a_warning_naming_both(void **state)
{
	(void)state;
	_cleanup_net_inventory_ struct net_inventory inv = {0};
	read_fixture("uefi-multifunction", &inv);
	assert_string_equal(inv.boot_mac, "00:02:c9:00:00:10");
	const struct net_nic *n = NULL;
	struct nm_error e = {0};
	assert_int_equal(net_uplink_select(&inv, NULL, &n, &e), 0);
	assert_string_equal(n->name, "eth2");
	_cleanup_free_ char *w = net_bootif_disagreement(&inv, n);
	assert_non_null(w);
	if (!strstr(w, "eth0 (00:02:c9:00:00:10") || !strstr(w, "eth2 (b8:59:9f:01:02:03)") ||
	    !strstr(w, "--uplink 00:02:c9:00:00:10"))
		fail_msg("warning '%s' does not name both NICs and --uplink", w);
	/* --uplink eth0 agrees with BOOTIF */
	assert_int_equal(net_uplink_select(&inv, "eth0", &n, &e), 0);
	assert_null(net_bootif_disagreement(&inv, n));
}

static void bootif_forms_and_garbage(void **state)
{
	(void)state;
	static const struct {
		const char *cmdline, *mac;
		bool warned;
	} cases[] = {
	    {"quiet BOOTIF=01-AA-bb-cc-dd-ee-ff\n", "aa:bb:cc:dd:ee:ff", false},
	    {"BOOTIF=aa-bb-cc-dd-ee-0f", "aa:bb:cc:dd:ee:0f", false},
	    {"BOOTIF=aa:bb:cc:dd:ee:ff ro", "aa:bb:cc:dd:ee:ff", false},
	    {"BOOTIF=06-aa-bb-cc-dd-ee-ff", NULL, true},
	    {"BOOTIF=aa:bb:cc:dd:ee:fg", NULL, true},
	    {"BOOTIF=", NULL, true},
	    {"root=/dev/ram0 XBOOTIF=aa:bb:cc:dd:ee:ff", NULL, false},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		tree_make(NULL);
		put_text("/proc/cmdline", cases[i].cmdline);
		_cleanup_net_inventory_ struct net_inventory inv = {0};
		struct nm_error e = {0};
		assert_int_equal(net_inventory_read(tmp, &inv, &e), 0);
		if (cases[i].mac)
			assert_string_equal(inv.boot_mac, cases[i].mac);
		else
			assert_null(inv.boot_mac);
		if (has_warning(inv.warnings, "/proc/cmdline") != cases[i].warned)
			fail_msg("%s: warning expected: %d", cases[i].cmdline, cases[i].warned);
		tree_remove(NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(uplink_is_the_nic_with_the_default_route),
	    cmocka_unit_test(ipv6_only_machine_uses_the_ipv6_default_route),
	    cmocka_unit_test(uplink_option_takes_mac_or_name_of_any_interface),
	    cmocka_unit_test(no_default_route_is_a_usage_error_listing_nics),
	    cmocka_unit_test(default_route_on_bmc_virtual_or_down_nic_is_refused),
	    cmocka_unit_test(two_nics_with_default_routes_are_ambiguous),
	    cmocka_unit_test(shared_mac_prefers_the_physical_port),
	    cmocka_unit_test(usable_addresses_leave_out_link_local_temporary_deprecated_tentative),
	    cmocka_unit_test(bootif_agreeing_with_the_uplink_is_silent),
	    cmocka_unit_test(bootif_naming_another_nic_is_a_warning_naming_both),
	    cmocka_unit_test(bootif_forms_and_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
