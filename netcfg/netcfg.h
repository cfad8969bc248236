/* netcfg.h: the public face of netcfg — NIC, address, route and DNS inventory, systemd
 * predicted interface names, the machine facts the Nix files need (CPU,
 * virtualisation, kernel modules, SSH keys), and the machine's and the network's part of
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
	char **warnings;
};

/* Facts about the machine that the rendered configuration needs. */
struct machine_facts {
	char *cpu_vendor; /* "intel" | "amd" | other vendor string */
	char *virtualisation; /* "none", "kvm", "qemu", ... */
	char **initrd_modules;
	char **kernel_modules;
	char **ssh_authorized_keys;
	/* Why the rescue's authorized_keys cannot be used (a line holding a control character), or
	 * NULL: detect reports it as a warning, agent_ssh_keys_gather refuses with it (exit 2). */
	char *ssh_keys_refused;
	char **warnings;
};

int net_inventory_read(const char *root, struct net_inventory *inv, struct nm_error *e);
void net_inventory_free(struct net_inventory *inv);
#define _cleanup_net_inventory_ _cleanup_(net_inventory_free)
/* Adds nics[] (physical NICs), virtual_nics[] (veth, bridges, ...: same shape),
 * ipv4_gateway/ipv6_gateway ({address, dev}, or null without a default route) and
 * nameservers[] (always an array) to `into`. */
json_object *net_inventory_to_json(const struct net_inventory *inv, json_object *into);
json_object *net_nic_to_json(const struct net_nic *n);

int machine_facts_read(const char *root, struct machine_facts *m, struct nm_error *e);
void machine_facts_free(struct machine_facts *m);
#define _cleanup_machine_facts_ _cleanup_(machine_facts_free)
json_object *machine_facts_to_json(const struct machine_facts *m, json_object *into);

/* Checks one authorized_keys line ("[options] TYPE BASE64 [comment]"): a known key type
 * (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com,
 * sk-ecdsa-sha2-nistp256@openssh.com), base64 data that decodes and whose embedded type matches.
 * Returns 0, or a usage error saying what is wrong with the line. */
int machine_ssh_key_check(const char *line, struct nm_error *e);

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
/* {name, mac, predicted_name, ipv4[], ipv6[]} of the uplink, with only its usable addresses. */
json_object *net_uplink_to_json(const struct net_nic *nic);
/* Whether an address may be copied into the installed system's configuration: never
 * link-local, temporary, deprecated or tentative. */
bool net_addr_usable(const struct net_addr *a);
/* Fills out[0..max) with the NIC's usable IPv4 (ipv6 = false) or IPv6 addresses, in the
 * kernel's order; returns how many there are (may exceed max). */
size_t net_nic_usable_addrs(const struct net_nic *nic, bool ipv6, const struct net_addr **out, size_t max);

/* ---- the machine's and the network's part of hardware-configuration.nix ----
 * Each appends to a Nix file the caller (agent) composes; docs/rendered-example.md explains every
 * section. */

/* The imports (qemu-guest profile or not-detected) and the initrd and kernel modules. */
void net_machine_nix(struct nm_nix_out *o, const struct machine_facts *m);
/* The uplink matched by MAC: static usable addresses, the gateways, the resolvers. Refuses
 * (exit 3) what would leave the server unreachable: no uplink MAC, no usable address. Does
 * nothing when o already failed; returns o's error. */
int net_uplink_nix(struct nm_nix_out *o, const struct net_inventory *inv, const struct net_nic *uplink);
/* nixpkgs.hostPlatform and, on bare metal, the CPU's microcode. */
void net_platform_nix(struct nm_nix_out *o, const struct machine_facts *m);

/* Checks a host name against RFC 1123 for one label: 1-63 characters from [a-z0-9-], not
 * starting or ending with '-'. A usage error names the rule that is broken. */
int net_hostname_check(const char *name, struct nm_error *e);

/* An authorized key is one line of text: the first byte of s[0..len) that is a control
 * character (C0 other than the tab between fields, DEL, NUL) or NULL when there is none. */
const char *net_ssh_key_control_char(const char *s, size_t len);
/* The usage error (exit 2) for such a byte at `bad` in `line`, naming `source` ("--ssh-key-file
 * FILE line 3"): the line would smuggle a line of its own into root's authorized keys. */
int net_ssh_key_refuse_control(const char *source, const char *line, const char *bad, struct nm_error *e);
