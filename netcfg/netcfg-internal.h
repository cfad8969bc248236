/* netcfg-internal.h: helpers shared by the inventory files of netcfg (nics, addresses, routes,
 * DNS, names); not part of the library's public face. */
#pragma once

#include "netcfg/netcfg.h"

int net_nics_read(const char *root, struct net_inventory *inv, struct nm_error *e);
int net_addrs_read(const char *root, struct net_inventory *inv, struct nm_error *e);
int net_routes_read(const char *root, struct net_inventory *inv, struct nm_error *e);
int net_dns_read(const char *root, struct net_inventory *inv, struct nm_error *e);
/* inv->boot_mac from BOOTIF= on /proc/cmdline; a malformed value is a warning. */
int net_bootif_read(const char *root, struct net_inventory *inv);
struct net_nic *net_nic_find(struct net_inventory *inv, const char *name);
int net_addr_append(struct net_addr **v, size_t *n, const struct net_addr *a);

/* PCI address ("0000:00:1f.6") of the NIC's device, NULL for virtual and USB NICs. */
int net_pci_slot_of(const char *root, const char *ifname, char **slot);

/* One line of /proc/net/route, addresses in host byte order. */
struct net_route4 {
	char dev[17];
	uint32_t dest, gateway, mask;
	unsigned flags, metric;
};
/* The usable (up, not reject) routes of /proc/net/route; unreadable → warning and none. */
int net_route4_table_read(const char *root, struct net_route4 **v, size_t *n, char ***warnings);
struct in6_addr;
int net_parse_hex_in6(const char *hex, struct in6_addr *out);
