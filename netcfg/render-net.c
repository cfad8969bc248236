/* render-net.c: the network's part of hardware-configuration.nix — the uplink matched by MAC
 * (and, after a mainboard swap, by PCI path) with static addresses, on-link gateways and
 * resolvers, and a BMC's USB NIC kept down. It appends text to the caller's Nix
 * file (struct nm_nix_out); it never reads the machine (the inventory and facts are given) and
 * never copies a link-local, temporary, deprecated or tentative address. */
#include "netcfg/netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* Hetzner's recursive resolvers, used when the rescue names none that the installed system can
 * reach: Hetzner publishes these for its network, reachable over IPv4 and IPv6 (docs/network.md). */
static const char *const hetzner_resolvers[] = {"185.12.64.1", "185.12.64.2", "2a01:4ff:ff00::add:1",
						"2a01:4ff:ff00::add:2"};

static bool gateway_on(const struct net_gateway *g, const struct net_nic *nic)
{
	return g->address && (!g->dev || strcmp(g->dev, nic->name) == 0);
}

static bool is_ipv6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

/* A resolver the installed system can use: not a loopback stub (the rescue's 127.0.0.53), not
 * link-local, and of a family the host has an address in. */
static bool resolver_usable(const char *ns, bool have4, bool have6)
{
	unsigned char buf[16];
	if (is_ipv6(ns)) {
		if (!have6 || inet_pton(AF_INET6, ns, buf) != 1)
			return false;
		static const unsigned char loop6[16] = {[15] = 1};
		return memcmp(buf, loop6, 16) != 0 && !(buf[0] == 0xfe && (buf[1] & 0xc0) == 0x80);
	}
	if (!have4 || inet_pton(AF_INET, ns, buf) != 1)
		return false;
	return buf[0] != 127 && !(buf[0] == 169 && buf[1] == 254);
}

static void render_nameservers(struct nm_nix_out *o, const struct net_inventory *inv, bool have4, bool have6)
{
	_cleanup_strv_free_ char **use = nm_strv_new();
	for (size_t i = 0; use && inv->nameservers && inv->nameservers[i]; i++)
		if (resolver_usable(inv->nameservers[i], have4, have6) && !nm_strv_contains(use, inv->nameservers[i]))
			nm_strv_push(&use, inv->nameservers[i]);
	if (nm_strv_len(use) == 0) {
		nm_nix_out_printf(o, "  # The rescue names no resolver this system can reach: Hetzner's.\n");
		for (size_t i = 0; use && i < NM_ELEMENTSOF(hetzner_resolvers); i++)
			if (resolver_usable(hetzner_resolvers[i], have4, have6))
				nm_strv_push(&use, hetzner_resolvers[i]);
	} else {
		nm_nix_out_printf(o, "  # The rescue's resolvers.\n");
	}
	nm_nix_out_printf(o, "  networking.nameservers = [");
	nm_nix_out_items(o, "nameserver", use);
	nm_nix_out_printf(o, " ];\n");
}

static void render_route(struct nm_nix_out *o, const char *gateway, bool on_link)
{
	nm_nix_out_printf(o, "      { Gateway = ");
	nm_nix_out_str(o, "gateway", gateway);
	nm_nix_out_printf(o, on_link ? "; GatewayOnLink = true; }\n" : "; }\n");
}

/* The uplink's configuration, the same for every unit that may match it: the usable
 * addresses, the default routes and static-only behaviour. */
static void render_uplink_body(struct nm_nix_out *o, const struct net_inventory *inv, const struct net_nic *nic,
			       const struct net_addr *const *v4, size_t n4, const struct net_addr *const *v6, size_t n6)
{
	bool gw4 = n4 > 0 && gateway_on(&inv->ipv4_gateway, nic);
	bool gw6 = n6 > 0 && gateway_on(&inv->ipv6_gateway, nic);
	if (n4 > 0)
		nm_nix_out_printf(o,
				  "    # IPv4 as /32 with the gateway on-link: Hetzner routes the main address alone,\n"
				  "    # whatever prefix the rescue shows.\n");
	nm_nix_out_printf(o, "    address = [");
	for (size_t i = 0; i < n4; i++) {
		_cleanup_free_ char *a = nm_strdup_printf("%s/32", v4[i]->address);
		nm_nix_out_printf(o, " ");
		nm_nix_out_str(o, "uplink IPv4 address", a);
	}
	for (size_t i = 0; i < n6; i++) {
		_cleanup_free_ char *a = nm_strdup_printf("%s/%u", v6[i]->address, v6[i]->prefix);
		nm_nix_out_printf(o, " ");
		nm_nix_out_str(o, "uplink IPv6 address", a);
	}
	nm_nix_out_printf(o, " ];\n    routes = [\n");
	if (gw4)
		render_route(o, inv->ipv4_gateway.address, true);
	else if (n4 > 0)
		nm_nix_out_printf(o, "      # no IPv4 default route in the rescue: none rendered\n");
	if (gw6)
		render_route(o, inv->ipv6_gateway.address, false);
	else if (n6 > 0)
		nm_nix_out_printf(o, "      # no IPv6 default route in the rescue: none rendered\n");
	nm_nix_out_printf(o,
			  "    ];\n    # Addresses and gateways are static; router advertisements are not needed.\n"
			  "    networkConfig.IPv6AcceptRA = false;\n"
			  "    linkConfig.RequiredForOnline = \"routable\";\n  };\n");
}

/* The uplink's PCI function, when it identifies the uplink alone: a PCI NIC (not USB, not
 * virtual) whose function no other interface shares (a multi-port card with one function per
 * port pair gives two interfaces one ID_PATH, and the path would then match both). */
static const char *uplink_pci_path_slot(const struct net_inventory *inv, const struct net_nic *nic)
{
	if (!nic->pci_slot || !*nic->pci_slot)
		return NULL;
	for (size_t i = 0; i < inv->n_nics; i++)
		if (&inv->nics[i] != nic && inv->nics[i].pci_slot && strcmp(inv->nics[i].pci_slot, nic->pci_slot) == 0)
			return NULL;
	return nic->pci_slot;
}

/* A BMC's USB NIC (cdc_ether, rndis_host) is kept down: brought up, it takes the BMC's router
 * advertisements and adds a second IPv6 default route that leads nowhere. always-down (not
 * Unmanaged, which would leave the link to whoever brings it up) sets it down whenever it
 * comes up; without router advertisements or link-local addresses should it be up anyway.
 * Ordered after the uplink's units, so an uplink chosen on such a NIC (--uplink) still wins. */
static void render_bmc_usb(struct nm_nix_out *o, const struct net_inventory *inv)
{
	const struct net_nic *bmc = NULL;
	for (size_t i = 0; i < inv->n_nics && !bmc; i++)
		if (inv->nics[i].bmc)
			bmc = &inv->nics[i];
	nm_nix_out_printf(
	    o, "  # A BMC's USB NIC stays down: up, it adds a second IPv6 default route that leads nowhere.\n");
	if (bmc)
		nm_nix_out_comment(o, "  ", "the rescue has one: %s (%s)", bmc->name, bmc->driver ? bmc->driver : "?");
	else
		nm_nix_out_printf(o, "  # (none in the rescue; a BMC may expose one once it is enabled)\n");
	nm_nix_out_printf(o,
			  "  systemd.network.networks.\"30-bmc-usb\" = {\n"
			  "    matchConfig.Driver = \"cdc_ether rndis_host\";\n"
			  "    linkConfig.ActivationPolicy = \"always-down\";\n"
			  "    linkConfig.RequiredForOnline = \"no\";\n"
			  "    networkConfig.IPv6AcceptRA = false;\n"
			  "    networkConfig.LinkLocalAddressing = \"no\";\n  };\n\n");
}

static int render_network(struct nm_nix_out *o, const struct net_inventory *inv, const struct net_nic *nic)
{
	if (!nic || !nic->mac || !*nic->mac)
		return nm_fail(o->e, NM_ERR_REFUSED, ENONET,
			       "no uplink NIC with a MAC address: the installed system would have no network; "
			       "pick one with --uplink MAC|NAME");
	const struct net_addr *v4[16], *v6[16];
	size_t n4 = net_nic_usable_addrs(nic, false, v4, NM_ELEMENTSOF(v4));
	size_t n6 = net_nic_usable_addrs(nic, true, v6, NM_ELEMENTSOF(v6));
	n4 = n4 < NM_ELEMENTSOF(v4) ? n4 : NM_ELEMENTSOF(v4);
	n6 = n6 < NM_ELEMENTSOF(v6) ? n6 : NM_ELEMENTSOF(v6);
	if (n4 + n6 == 0)
		return nm_fail(o->e, NM_ERR_REFUSED, EADDRNOTAVAIL,
			       "uplink %s has no global address to configure (only link-local, temporary, deprecated "
			       "or tentative ones): the installed system would be unreachable; configure the rescue's "
			       "address or pick another NIC with --uplink",
			       nic->name);

	nm_nix_out_printf(o,
			  "  # Network: systemd-networkd with static addresses. The NIC is matched by MAC because\n"
			  "  # the rescue's names (eth0) differ from the names NixOS gives.\n");
	if (nic->predicted_name)
		nm_nix_out_comment(o, "  ", "rescue %s → NixOS will name it %s", nic->name, nic->predicted_name);
	else
		nm_nix_out_comment(o, "  ", "rescue %s; no predictable name applies, NixOS keeps a kernel name",
				   nic->name);
	nm_nix_out_printf(o, "  networking.useDHCP = false;\n  networking.useNetworkd = true;\n");
	render_nameservers(o, inv, n4 > 0, n6 > 0);
	/* networkd gives each link the first unit (by name) that matches it. Type = ether keeps
	 * VLAN and macvlan children, which inherit the MAC, out of the match. */
	nm_nix_out_printf(o,
			  "  # The uplink by its MAC. Only the Ethernet device itself: VLAN and macvlan links on it\n"
			  "  # inherit the MAC and must not take its addresses.\n"
			  "  systemd.network.networks.\"10-uplink\" = {\n    matchConfig.MACAddress = ");
	nm_nix_out_str(o, "uplink MAC", nic->mac);
	nm_nix_out_printf(o, ";\n    matchConfig.Type = \"ether\";\n");
	render_uplink_body(o, inv, nic, v4, n4, v6, n6);
	const char *slot = uplink_pci_path_slot(inv, nic);
	if (slot) {
		_cleanup_free_ char *path = nm_strdup_printf("pci-%s", slot);
		nm_nix_out_printf(
		    o,
		    "  # The same NIC by its PCI address (udev's ID_PATH), for when a mainboard swap changed\n"
		    "  # its MAC: the first unit then matches nothing and this one keeps the server reachable.\n"
		    "  # While the MAC matches, the first unit wins (networkd applies one unit per link).\n"
		    "  systemd.network.networks.\"20-uplink-pci-path\" = {\n    matchConfig.Path = ");
		nm_nix_out_str(o, "uplink PCI path", path);
		nm_nix_out_printf(o, ";\n    matchConfig.Type = \"ether\";\n");
		render_uplink_body(o, inv, nic, v4, n4, v6, n6);
	} else {
		nm_nix_out_printf(
		    o,
		    nic->pci_slot ? "  # No match by PCI path: another interface shares the uplink's PCI function.\n"
				  : "  # No match by PCI path: the uplink is not a PCI device.\n");
	}
	nm_nix_out_printf(o, "\n");
	render_bmc_usb(o, inv);
	return 0;
}

int net_uplink_nix(struct nm_nix_out *o, const struct net_inventory *inv, const struct net_nic *uplink)
{
	if (o->err)
		return o->err;
	int r = render_network(o, inv, uplink);
	if (r < 0)
		o->err = r;
	return o->err;
}
