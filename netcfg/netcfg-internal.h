/* netcfg-internal.h: helpers shared by the inventory files of netcfg (nics, addresses, routes,
 * DNS, names, machine facts); not part of the library's public face. */
#pragma once

#include "netcfg/netcfg.h"

/* Appends a formatted warning to a NULL-terminated list; out of memory loses the warning. */
void net_warn(char ***warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int net_nics_read(const char *root, struct net_inventory *inv, struct nm_error *e);
int net_addrs_read(const char *root, struct net_inventory *inv, struct nm_error *e);
int net_routes_read(const char *root, struct net_inventory *inv, struct nm_error *e);
int net_dns_read(const char *root, struct net_inventory *inv, struct nm_error *e);
struct net_nic *net_nic_find(struct net_inventory *inv, const char *name);
int net_addr_append(struct net_addr **v, size_t *n, const struct net_addr *a);

int machine_ssh_keys_read(const char *root, struct machine_facts *m, struct nm_error *e);
int machine_modules_read(const char *root, struct machine_facts *m, struct nm_error *e);
