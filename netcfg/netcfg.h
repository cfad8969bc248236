/* netcfg.h: the public face of netcfg — NIC, address, route and DNS inventory, systemd
 * predicted interface names, the uplink and the host name, and the network's part of
 * hardware-configuration.nix (the agent composes the files).
 * Everything read goes through the --root prefix (common.h); addresses and routes come from
 * the running kernel's files under /proc/net and, for IPv4 addresses, the kernel itself. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

struct net_addr {
	char *address; /* textual, without prefix */
	unsigned prefix;
	bool link_local, temporary, deprecated, tentative;
};

struct net_nic {
	char *name;
	char *mac;
	char *driver;
	char *pci_slot; /* 0000:00:1f.6, or NULL */
	char *predicted_name; /* systemd net_id name, or NULL when none applies */
	bool physical;
	bool up;
	/* The link as the kernel shows it now (diagnose): operstate ("up", "down", "lowerlayerdown",
	 * "dormant", "unknown"; NULL when unreadable) and carrier (1 a link, 0 none, -1 unknown: the
	 * kernel answers EINVAL for an interface that is administratively down). */
	char *operstate;
	int carrier;
	bool bmc; /* USB cdc_ether/rndis_host management NIC */
	struct net_addr *ipv4;
	size_t n_ipv4;
	struct net_addr *ipv6;
	size_t n_ipv6;
};

struct net_gateway {
	char *address; /* NULL when there is no default route */
	char *dev;
};

struct net_inventory {
	struct net_nic *nics;
	size_t n_nics;
	struct net_gateway ipv4_gateway, ipv6_gateway; /* the best (lowest metric) default routes */
	char **ipv4_default_devs; /* every interface with an IPv4 default route, best first */
	char **ipv6_default_devs;
	char **nameservers;
	char *boot_mac; /* the NIC the rescue booted from (BOOTIF= on /proc/cmdline), or NULL */
	char **warnings;
};

int net_inventory_read(const char *root, struct net_inventory *inv, struct nm_error *e);
void net_inventory_free(struct net_inventory *inv);
#define _cleanup_net_inventory_ _cleanup_(net_inventory_free)
/* Adds nics[] (physical NICs), virtual_nics[] (veth, bridges, ...: same shape),
 * ipv4_gateway/ipv6_gateway ({address, dev}, or null without a default route) and
 * nameservers[] (always an array) and boot_mac (BOOTIF=, or null) to `into`. */
json_object *net_inventory_to_json(const struct net_inventory *inv, json_object *into);
json_object *net_nic_to_json(const struct net_nic *n);

/* The name systemd (net_id, NamePolicy "onboard slot path") will give interface `ifname` as it
 * appears under root's /sys/class/net: eno<N>, ens<N>, enp<bus>s<slot>[f<fn>][d<port>|n<name>],
 * with a P<domain> prefix, or the USB form enp..u<port>... *name is NULL (and 0 returned) when no
 * rule applies (virtual interfaces); negative on a read error. */
int net_predict_name(const char *root, const char *ifname, char **name, struct nm_error *e);

/* Picks the uplink: `want` (a MAC or an interface name, any interface, virtual ones included)
 * when given, else the one physical, up, non-BMC NIC carrying the IPv4 default route (else the
 * IPv6 one). None or ambiguous: a usage error naming the candidates and --uplink MAC|NAME. */
int net_uplink_select(const struct net_inventory *inv, const char *want, const struct net_nic **nic,
		      struct nm_error *e);
/* When the rescue's BOOTIF= names a NIC other than the uplink: a warning naming both (and
 * --uplink), to be freed; NULL when they agree or there is no BOOTIF. */
char *net_bootif_disagreement(const struct net_inventory *inv, const struct net_nic *uplink);
/* {name, mac, predicted_name, ipv4[], ipv6[]} of the uplink, with only its usable addresses. */
json_object *net_uplink_to_json(const struct net_nic *nic);
/* Whether an address may be copied into the installed system's configuration: never
 * link-local, temporary, deprecated or tentative. */
bool net_addr_usable(const struct net_addr *a);
/* Fills out[0..max) with the NIC's usable IPv4 (ipv6 = false) or IPv6 addresses, in the
 * kernel's order; returns how many there are (may exceed max). */
size_t net_nic_usable_addrs(const struct net_nic *nic, bool ipv6, const struct net_addr **out, size_t max);

/* ---- the network's part of hardware-configuration.nix ----
 * Each appends to a Nix file the caller (agent) composes; docs/rendered-example.md explains every
 * section. */

/* The uplink matched by MAC: static usable addresses, the gateways, the resolvers. Refuses
 * (exit 3) what would leave the server unreachable: no uplink MAC, no usable address. Does
 * nothing when o already failed; returns o's error. */
int net_uplink_nix(struct nm_nix_out *o, const struct net_inventory *inv, const struct net_nic *uplink);
/* Checks a host name against RFC 1123 for one label: 1-63 characters from [a-z0-9-], not
 * starting or ending with '-'. A usage error names the rule that is broken. */
int net_hostname_check(const char *name, struct nm_error *e);
