/* test_net_inventory.c: net_inventory_read against the captured-style fixture trees: every
 * field of every NIC (MAC, driver, PCI slot, predicted name, physical, up, BMC), the
 * addresses with their prefixes and flags (IPv4 from fib_trie + route under a fixture root),
 * the default gateways, the nameservers, and the warnings for what could not be read; the
 * carrier and operstate of a small tree; and the JSON shape of detect. */
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
	int r = net_inventory_read(root, inv, &e);
	if (r < 0)
		fail_msg("%s: %s", name, e.msg);
}

static const struct net_nic *nic(const struct net_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n_nics; i++)
		if (strcmp(inv->nics[i].name, name) == 0)
			return &inv->nics[i];
	fail_msg("no NIC %s", name);
	return NULL;
}

static void assert_addr(const struct net_addr *a, const char *address, unsigned prefix)
{
	assert_string_equal(a->address, address);
	assert_int_equal(a->prefix, prefix);
}

static void onboard_fixture_reads_hetzner_uplink(void **state)
{
	struct net_inventory inv;
	read_fixture("nvme-onboard", &inv);
	assert_int_equal(inv.n_nics, 1); /* lo is not a NIC */
	const struct net_nic *n = nic(&inv, "eth0");
	assert_string_equal(n->mac, "90:1b:0e:aa:bb:cc");
	assert_string_equal(n->driver, "e1000e");
	assert_string_equal(n->pci_slot, "0000:00:1f.6");
	assert_string_equal(n->predicted_name, "eno1");
	assert_true(n->physical);
	assert_true(n->up);
	assert_false(n->bmc);
	assert_int_equal(n->n_ipv4, 1);
	assert_addr(&n->ipv4[0], "203.0.113.10", 26);
	assert_false(n->ipv4[0].link_local);
	assert_int_equal(n->n_ipv6, 2);
	assert_addr(&n->ipv6[0], "2a01:4f8:10a:1b2::2", 64);
	assert_true(net_addr_usable(&n->ipv6[0]));
	assert_addr(&n->ipv6[1], "fe80::921b:eff:feaa:bbcc", 64);
	assert_true(n->ipv6[1].link_local);
	assert_false(net_addr_usable(&n->ipv6[1]));
	assert_string_equal(inv.ipv4_gateway.address, "203.0.113.1");
	assert_string_equal(inv.ipv4_gateway.dev, "eth0");
	assert_string_equal(inv.ipv6_gateway.address, "fe80::1");
	assert_string_equal(inv.ipv6_gateway.dev, "eth0");
	assert_int_equal(nm_strv_len(inv.nameservers), 3);
	assert_string_equal(inv.nameservers[0], "185.12.64.1");
	assert_string_equal(inv.nameservers[1], "185.12.64.2");
	assert_string_equal(inv.nameservers[2], "2a01:4ff:ff00::add:1");
	assert_int_equal(nm_strv_len(inv.warnings), 0);
	net_inventory_free(&inv);
}

static void bmc_fixture_flags_usb_nic_and_address_states(void **state)
{
	struct net_inventory inv;
	read_fixture("sata-pcie-bmc", &inv);
	assert_int_equal(inv.n_nics, 2);
	const struct net_nic *n = nic(&inv, "eth0");
	assert_string_equal(n->driver, "igb");
	assert_string_equal(n->pci_slot, "0000:23:00.0");
	assert_string_equal(n->predicted_name, "enp35s0");
	assert_addr(&n->ipv4[0], "198.51.100.77", 26);
	assert_int_equal(n->n_ipv6, 5);
	assert_addr(&n->ipv6[1], "2a01:4f8:1c1c:abcd:1d2c:3b4a:5968:7a8b", 64);
	assert_true(n->ipv6[1].temporary);
	assert_true(n->ipv6[2].deprecated); /* flags 0xa0: permanent + deprecated */
	assert_false(n->ipv6[2].temporary);
	assert_true(n->ipv6[3].tentative);
	const struct net_addr *usable[8];
	assert_int_equal(net_nic_usable_addrs(n, true, usable, 8), 1);
	assert_string_equal(usable[0]->address, "2a01:4f8:1c1c:abcd::2");
	assert_int_equal(net_nic_usable_addrs(n, false, usable, 8), 1);

	const struct net_nic *bmc = nic(&inv, "usb0");
	assert_true(bmc->bmc);
	assert_true(bmc->physical);
	assert_string_equal(bmc->driver, "cdc_ether");
	assert_null(bmc->pci_slot); /* it hangs off the xhci controller, which is not its slot */
	assert_string_equal(bmc->predicted_name, "enp43s0f3u2u1");
	assert_addr(&bmc->ipv4[0], "169.254.3.1", 24);
	assert_true(bmc->ipv4[0].link_local);
	assert_int_equal(net_nic_usable_addrs(bmc, false, usable, 8), 0);

	assert_string_equal(inv.ipv4_gateway.address, "198.51.100.65");
	/* resolv.conf names only the systemd-resolved stub: the upstream list is used */
	assert_int_equal(nm_strv_len(inv.nameservers), 2);
	assert_string_equal(inv.nameservers[0], "185.12.64.2");
	assert_true(has_warning(inv.warnings, "/run/systemd/resolve/resolv.conf line 3: 'not-an-ip'"));
	net_inventory_free(&inv);
}

static void multifunction_fixture_names_domain_function_port_and_slot(void **state)
{
	struct net_inventory inv;
	read_fixture("uefi-multifunction", &inv);
	assert_int_equal(inv.n_nics, 4);
	assert_string_equal(nic(&inv, "eth0")->predicted_name, "enP1p2s0f0");
	assert_string_equal(nic(&inv, "eth0")->pci_slot, "0001:02:00.0");
	assert_false(nic(&inv, "eth0")->up);
	assert_string_equal(nic(&inv, "eth1")->predicted_name, "enP1p2s0f1d1");
	assert_string_equal(nic(&inv, "eth2")->predicted_name, "ens3f0np0");
	assert_true(nic(&inv, "eth2")->up);
	const struct net_nic *br = nic(&inv, "br0");
	assert_false(br->physical);
	assert_null(br->predicted_name);
	assert_null(br->driver);
	/* IPv6 only */
	assert_null(inv.ipv4_gateway.dev);
	assert_null(inv.ipv4_gateway.address);
	assert_string_equal(inv.ipv6_gateway.address, "fe80::1");
	assert_string_equal(inv.ipv6_gateway.dev, "eth2");
	assert_int_equal(nic(&inv, "eth2")->n_ipv4, 0);
	assert_int_equal(nm_strv_len(inv.warnings), 0);
	net_inventory_free(&inv);
}

static void odd_fixture_gives_warnings_not_failures(void **state)
{
	struct net_inventory inv;
	read_fixture("odd-sysfs", &inv);
	assert_int_equal(inv.n_nics, 3);
	const struct net_nic *n = nic(&inv, "eth0");
	assert_null(n->mac);
	assert_null(n->driver);
	assert_false(n->up);
	assert_string_equal(n->pci_slot, "0000:00:19.0");
	assert_string_equal(n->predicted_name, "enp0s25");
	assert_null(nic(&inv, "end0")->predicted_name);
	assert_string_equal(nic(&inv, "end0")->driver, "dwmac-sun8i");
	assert_true(nic(&inv, "end0")->up); /* operstate unknown, IFF_UP and carrier */
	assert_string_equal(nic(&inv, "eth1")->predicted_name, "enp0s3");
	assert_string_equal(nic(&inv, "eth1")->driver, "virtio_net");
	assert_string_equal(nic(&inv, "eth1")->pci_slot, "0000:00:03.0");
	assert_int_equal(nic(&inv, "eth1")->n_ipv6, 1);
	assert_null(inv.ipv4_gateway.dev);
	assert_null(inv.ipv6_gateway.dev); /* the kernel's "::/0 dev lo" reject route is no route out */
	assert_int_equal(nm_strv_len(inv.nameservers), 0);
	assert_true(has_warning(inv.warnings, "eth0: cannot read /sys/class/net/eth0/address"));
	assert_true(has_warning(inv.warnings, "/proc/net/if_inet6 line 1 is not understood"));
	assert_true(has_warning(inv.warnings, "/proc/net/route line 2 is not understood"));
	assert_true(has_warning(inv.warnings, "IPv4 address 10.9.8.7: no connected route"));
	assert_true(has_warning(inv.warnings, "no default route"));
	assert_true(has_warning(inv.warnings, "/etc/resolv.conf lists no nameserver"));
	net_inventory_free(&inv);
}

static void missing_root_reads_as_empty_with_warnings(void **state)
{
	struct net_inventory inv;
	struct nm_error e = {0};
	assert_int_equal(net_inventory_read("/nonexistent-nmmm-root", &inv, &e), 0);
	assert_int_equal(inv.n_nics, 0);
	assert_true(has_warning(inv.warnings, "cannot list /sys/class/net"));
	assert_true(has_warning(inv.warnings, "cannot read /etc/resolv.conf"));
	json_object *o = net_inventory_to_json(&inv, json_object_new_object());
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"nics\":[],\"virtual_nics\":[],\"ipv4_gateway\":null,\"ipv6_gateway\":null,"
			    "\"nameservers\":[],\"boot_mac\":null}");
	json_object_put(o);
	net_inventory_free(&inv);
}

static void json_lists_physical_nics_and_gateways(void **state)
{
	struct net_inventory inv;
	read_fixture("uefi-multifunction", &inv);
	json_object *o = net_inventory_to_json(&inv, json_object_new_object());
	json_object *nics, *virt, *gw, *v;
	assert_true(json_object_object_get_ex(o, "nics", &nics));
	assert_int_equal(json_object_array_length(nics), 3);
	assert_true(json_object_object_get_ex(o, "virtual_nics", &virt));
	assert_int_equal(json_object_array_length(virt), 1);
	json_object *first = json_object_array_get_idx(nics, 0);
	assert_true(json_object_object_get_ex(first, "name", &v));
	assert_string_equal(json_object_get_string(v), "eth0");
	assert_true(json_object_object_get_ex(first, "predicted_name", &v));
	assert_string_equal(json_object_get_string(v), "enP1p2s0f0");
	assert_true(json_object_object_get_ex(o, "ipv4_gateway", &gw));
	assert_null(gw);
	assert_true(json_object_object_get_ex(o, "ipv6_gateway", &gw));
	assert_true(json_object_object_get_ex(gw, "dev", &v));
	assert_string_equal(json_object_get_string(v), "eth2");
	json_object *eth2 = json_object_array_get_idx(nics, 2), *ipv6, *a;
	assert_true(json_object_object_get_ex(eth2, "ipv6", &ipv6));
	a = json_object_array_get_idx(ipv6, 0);
	assert_true(json_object_object_get_ex(a, "address", &v));
	assert_string_equal(json_object_get_string(v), "2a01:4f8:2b0:77::2");
	assert_true(json_object_object_get_ex(a, "prefix", &v));
	assert_int_equal(json_object_get_int(v), 64);
	json_object_put(o);
	net_inventory_free(&inv);
}

/* Random bytes (fixed seeds) and over-long lines in every file the inventory parses: it must
 * return 0 with valid JSON each time (run under ASan/UBSan to catch overreads). */
static void garbage_files_never_crash(void **state)
{
	static const char *const files[] = {"/proc/net/if_inet6",
					    "/proc/net/route",
					    "/proc/net/ipv6_route",
					    "/proc/net/fib_trie",
					    "/etc/resolv.conf",
					    "/proc/cmdline",
					    "/sys/class/net/eth0/address",
					    "/sys/class/net/eth0/operstate",
					    "/sys/class/net/eth0/dev_port"};
	put_text("/sys/class/net/eth0/flags", "0x1003\n");
	for (unsigned seed = 1; seed <= 40; seed++) {
		srandom(seed);
		for (size_t f = 0; f < NM_ELEMENTSOF(files); f++)
			put_garbage(files[f]);
		struct net_inventory inv;
		struct nm_error e = {0};
		assert_int_equal(net_inventory_read(tmp, &inv, &e), 0);
		json_object *o = json_object_new_object();
		net_inventory_to_json(&inv, o);
		json_object *back = json_tokener_parse(json_object_to_json_string(o));
		assert_non_null(back);
		json_object_put(back);
		json_object_put(o);
		net_inventory_free(&inv);
	}
}

/* The link as the kernel shows it: carrier 1 or 0, unknown when the file cannot be read (the
 * kernel answers EINVAL while the interface is down: here, no file), and operstate as given. */
static void carrier_and_operstate(void **state)
{
	static const struct {
		const char *name, *operstate, *carrier;
		int want;
	} links[] = {{"eth0", "up", "1\n", 1}, {"eth1", "lowerlayerdown", "0\n", 0}, {"eth2", "down", NULL, -1}};
	for (size_t i = 0; i < NM_ELEMENTSOF(links); i++) {
		char rel[128];
		snprintf(rel, sizeof rel, "/sys/class/net/%s/operstate", links[i].name);
		put_text(rel, links[i].operstate);
		snprintf(rel, sizeof rel, "/sys/class/net/%s/address", links[i].name);
		put_text(rel, "52:54:00:12:34:56\n");
		if (links[i].carrier) {
			snprintf(rel, sizeof rel, "/sys/class/net/%s/carrier", links[i].name);
			put_text(rel, links[i].carrier);
		}
	}
	struct net_inventory inv;
	struct nm_error e = {0};
	assert_int_equal(net_inventory_read(tmp, &inv, &e), 0);
	for (size_t i = 0; i < NM_ELEMENTSOF(links); i++) {
		const struct net_nic *n = nic(&inv, links[i].name);
		assert_string_equal(n->operstate, links[i].operstate);
		assert_int_equal(n->carrier, links[i].want);
		assert_int_equal(n->up, i == 0);
	}
	net_inventory_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(onboard_fixture_reads_hetzner_uplink),
	    cmocka_unit_test(bmc_fixture_flags_usb_nic_and_address_states),
	    cmocka_unit_test(multifunction_fixture_names_domain_function_port_and_slot),
	    cmocka_unit_test(odd_fixture_gives_warnings_not_failures),
	    cmocka_unit_test(missing_root_reads_as_empty_with_warnings),
	    cmocka_unit_test(json_lists_physical_nics_and_gateways),
	    cmocka_unit_test_setup_teardown(garbage_files_never_crash, tree_make, tree_remove),
	    cmocka_unit_test_setup_teardown(carrier_and_operstate, tree_make, tree_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
