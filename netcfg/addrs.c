/* addrs.c: the addresses of each NIC. IPv6 comes from /proc/net/if_inet6 (prefix, scope and
 * the kernel's flags: temporary, deprecated, tentative). IPv4 has no such file: on the live
 * machine (--root /) it comes from the kernel through getifaddrs(); under any other root it is
 * derived from /proc/net/fib_trie (the local addresses) and /proc/net/route (the connected
 * route that holds each one gives the interface and prefix), so captured trees work too.
 * It never adds or removes an address. */
#include "netcfg/netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

#define IFA_TEMPORARY 0x01
#define IFA_DEPRECATED 0x20
#define IFA_TENTATIVE 0x40
#define IPV6_SCOPE_LINK 0x20

static bool root_is_live(const char *root)
{
	return !root || !*root || strcmp(root, "/") == 0;
}

static int add_addr(struct net_inventory *inv, const char *ifname, bool v6, const struct net_addr *a)
{
	struct net_nic *n = net_nic_find(inv, ifname);
	if (!n)
		return 0; /* loopback or an interface that vanished meanwhile */
	return v6 ? net_addr_append(&n->ipv6, &n->n_ipv6, a) : net_addr_append(&n->ipv4, &n->n_ipv4, a);
}

/* "fe800000000000000000000000000001" → binary; false when it is not 32 hex digits */
int net_parse_hex_in6(const char *hex, struct in6_addr *out)
{
	if (strlen(hex) != 32)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out->s6_addr[i] = (uint8_t)v;
	}
	return 0;
}

static int ipv6_read(const char *root, struct net_inventory *inv)
{
	_cleanup_free_ char *text = NULL;
	int r = nm_read_file(root, "/proc/net/if_inet6", 0, &text, NULL);
	if (r < 0) {
		nm_warning_add(&inv->warnings, "cannot read /proc/net/if_inet6 (%s); no IPv6 addresses listed",
			       strerror(-r));
		return 0;
	}
	unsigned lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char hex[40], ifname[IF_NAMESIZE + 1];
		unsigned ifindex, prefix, scope, flags;
		struct in6_addr bin;
		char buf[INET6_ADDRSTRLEN];
		lineno++;
		if (sscanf(line, "%39s %x %x %x %x %16s", hex, &ifindex, &prefix, &scope, &flags, ifname) != 6 ||
		    net_parse_hex_in6(hex, &bin) < 0 || prefix > 128) {
			nm_warning_add(&inv->warnings, "/proc/net/if_inet6 line %u is not understood; skipped", lineno);
			continue;
		}
		inet_ntop(AF_INET6, &bin, buf, sizeof buf);
		struct net_addr a = {
		    .address = buf,
		    .prefix = prefix,
		    .link_local = scope == IPV6_SCOPE_LINK || IN6_IS_ADDR_LINKLOCAL(&bin),
		    .temporary = flags & IFA_TEMPORARY,
		    .deprecated = flags & IFA_DEPRECATED,
		    .tentative = flags & IFA_TENTATIVE,
		};
		if (add_addr(inv, ifname, true, &a) < 0)
			return -ENOMEM;
	}
	return 0;
}

static unsigned mask_prefix(uint32_t mask_host_order)
{
	return (unsigned)__builtin_popcount(mask_host_order);
}

/* 169.254.0.0/16: what a BMC's USB NIC or a failed DHCP leaves; never copied */
static bool ipv4_link_local(uint32_t host_order)
{
	return (host_order >> 16) == 0xa9fe;
}

static int ipv4_read_live(struct net_inventory *inv)
{
	struct ifaddrs *all = NULL;
	if (getifaddrs(&all) < 0) {
		nm_warning_add(&inv->warnings, "cannot ask the kernel for IPv4 addresses (%s); none listed",
			       strerror(errno));
		return 0;
	}
	int r = 0;
	for (struct ifaddrs *i = all; i && r >= 0; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		char buf[INET_ADDRSTRLEN];
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
		const struct sockaddr_in *mask = (const struct sockaddr_in *)(const void *)i->ifa_netmask;
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
		struct net_addr a = {.address = buf,
				     .prefix = mask_prefix(ntohl(mask->sin_addr.s_addr)),
				     .link_local = ipv4_link_local(ntohl(sin->sin_addr.s_addr))};
		r = add_addr(inv, i->ifa_name, false, &a);
	}
	freeifaddrs(all);
	return r;
}

/* The local addresses of /proc/net/fib_trie: "|-- A.B.C.D" followed by "/32 host LOCAL". */
static int fib_trie_locals(const char *root, struct net_inventory *inv, char ***locals)
{
	_cleanup_free_ char *text = NULL;
	int r = nm_read_file(root, "/proc/net/fib_trie", 0, &text, NULL);
	if (r < 0) {
		nm_warning_add(&inv->warnings, "cannot read /proc/net/fib_trie (%s); no IPv4 addresses listed",
			       strerror(-r));
		return 0;
	}
	char last[INET_ADDRSTRLEN] = "", *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *leaf = strstr(line, "|-- ");
		if (leaf) {
			snprintf(last, sizeof last, "%s", leaf + 4);
			continue;
		}
		if (last[0] && strstr(line, "/32 host LOCAL") && !nm_strv_contains(*locals, last))
			if (nm_strv_push(locals, last) < 0)
				return -ENOMEM;
	}
	return 0;
}

static int ipv4_read_captured(const char *root, struct net_inventory *inv)
{
	_cleanup_strv_free_ char **locals = nm_strv_new();
	_cleanup_free_ struct net_route4 *routes = NULL;
	size_t n_routes = 0;
	if (!locals || fib_trie_locals(root, inv, &locals) < 0)
		return -ENOMEM;
	if (!locals[0])
		return 0;
	if (net_route4_table_read(root, &routes, &n_routes, &inv->warnings) < 0)
		return -ENOMEM;
	for (size_t i = 0; locals[i]; i++) {
		struct in_addr in;
		if (inet_pton(AF_INET, locals[i], &in) != 1 || (ntohl(in.s_addr) >> 24) == 127)
			continue;
		uint32_t host = ntohl(in.s_addr);
		const struct net_route4 *best = NULL;
		for (size_t j = 0; j < n_routes; j++) {
			const struct net_route4 *rt = &routes[j];
			if (rt->gateway || (host & rt->mask) != rt->dest)
				continue;
			if (!best || mask_prefix(rt->mask) > mask_prefix(best->mask))
				best = rt;
		}
		if (!best) {
			nm_warning_add(
			    &inv->warnings,
			    "IPv4 address %s: no connected route in /proc/net/route says which interface holds "
			    "it; left out",
			    locals[i]);
			continue;
		}
		struct net_addr a = {
		    .address = locals[i], .prefix = mask_prefix(best->mask), .link_local = ipv4_link_local(host)};
		if (add_addr(inv, best->dev, false, &a) < 0)
			return -ENOMEM;
	}
	return 0;
}

int net_addrs_read(const char *root, struct net_inventory *inv, struct nm_error *e)
{
	int r = ipv6_read(root, inv);
	if (r >= 0)
		r = root_is_live(root) ? ipv4_read_live(inv) : ipv4_read_captured(root, inv);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, -r, "network inventory: reading addresses failed");
	return 0;
}

bool net_addr_usable(const struct net_addr *a)
{
	return a && a->address && !a->link_local && !a->temporary && !a->deprecated && !a->tentative;
}

size_t net_nic_usable_addrs(const struct net_nic *nic, bool ipv6, const struct net_addr **out, size_t max)
{
	const struct net_addr *v = ipv6 ? nic->ipv6 : nic->ipv4;
	size_t n = ipv6 ? nic->n_ipv6 : nic->n_ipv4, count = 0;
	for (size_t i = 0; i < n; i++) {
		if (!net_addr_usable(&v[i]))
			continue;
		if (count < max)
			out[count] = &v[i];
		count++;
	}
	return count;
}
