/* netcfg.h: the public face of netcfg — NIC, address, route and DNS inventory, systemd
 * predicted interface names, the machine facts the Nix files need (boot mode, CPU,
 * virtualisation, kernel modules, SSH keys), and the rendering of the Nix files.
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
	struct net_gateway ipv4_gateway, ipv6_gateway;
	char **nameservers;
	char **warnings;
};

/* Facts about the machine that the rendered configuration needs. */
struct machine_facts {
	char *boot_mode; /* "uefi" | "bios" */
	char *cpu_vendor; /* "intel" | "amd" | other vendor string */
	char *virtualisation; /* "none", "kvm", "qemu", ... */
	char **initrd_modules;
	char **kernel_modules;
	char **ssh_authorized_keys;
	char **warnings;
};

int net_inventory_read(const char *root, struct net_inventory *inv, struct nm_error *e);
void net_inventory_free(struct net_inventory *inv);
json_object *net_inventory_to_json(const struct net_inventory *inv, json_object *into);

int machine_facts_read(const char *root, struct machine_facts *m, struct nm_error *e);
void machine_facts_free(struct machine_facts *m);
json_object *machine_facts_to_json(const struct machine_facts *m, json_object *into);
