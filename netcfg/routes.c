/* routes.c: the default routes, from /proc/net/route (IPv4) and /proc/net/ipv6_route (IPv6)
 * under --root: the best one of each family (lowest metric) becomes the gateway, and every
 * interface carrying one is kept for the uplink choice. Reject routes (the kernel's "::/0 dev
 * lo" unreachable entries) are not routes out. It never changes the routing table. */
#include "netcfg/netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

#define RTF_UP_FLAG 0x0001
#define RTF_REJECT_FLAG 0x0200

struct default_route {
	char dev[IF_NAMESIZE + 1];
	char gateway[INET6_ADDRSTRLEN]; /* "" for an on-link default route */
	unsigned metric;
	size_t seq; /* position in the kernel's table: the tie-break between equal metrics */
};

int net_route4_table_read(const char *root, struct net_route4 **v, size_t *n, char ***warnings)
{
	*v = NULL;
	*n = 0;
	_cleanup_free_ char *text = NULL;
	int r = nm_read_file(root, "/proc/net/route", 0, &text, NULL);
	if (r < 0) {
		nm_warning_add(warnings, "cannot read /proc/net/route (%s); no IPv4 routes known", strerror(-r));
		return 0;
	}
	char *save = NULL;
	unsigned lineno = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct net_route4 rt = {0};
		unsigned dest, gw, mask;
		if (++lineno == 1)
			continue; /* the header */
		if (sscanf(line, "%16s %x %x %x %*s %*s %u %x", rt.dev, &dest, &gw, &rt.flags, &rt.metric, &mask) !=
		    6) {
			nm_warning_add(warnings, "/proc/net/route line %u is not understood; skipped", lineno);
			continue;
		}
		if (!(rt.flags & RTF_UP_FLAG) || (rt.flags & RTF_REJECT_FLAG))
			continue;
		/* the kernel prints the addresses as raw 32-bit words in network byte order */
		rt.dest = ntohl(dest);
		rt.gateway = ntohl(gw);
		rt.mask = ntohl(mask);
		struct net_route4 *nv = realloc(*v, (*n + 1) * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		nv[(*n)++] = rt;
	}
	return 0;
}

static int cmp_metric(const void *a, const void *b)
{
	const struct default_route *x = a, *y = b;
	if (x->metric != y->metric)
		return x->metric < y->metric ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts by metric (equal ones in the table's order) and fills the gateway
 * and the list of interfaces. */
static int keep_defaults(struct default_route *v, size_t n, struct net_gateway *gw, char ***devs)
{
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_metric);
	*devs = nm_strv_new();
	if (!*devs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!nm_strv_contains(*devs, v[i].dev) && nm_strv_push(devs, v[i].dev) < 0)
			return -ENOMEM;
	if (n == 0)
		return 0;
	gw->dev = strdup(v[0].dev);
	gw->address = v[0].gateway[0] ? strdup(v[0].gateway) : NULL;
	return gw->dev && (gw->address || !v[0].gateway[0]) ? 0 : -ENOMEM;
}

static int ipv4_defaults(const char *root, struct net_inventory *inv)
{
	_cleanup_free_ struct net_route4 *routes = NULL;
	_cleanup_free_ struct default_route *defs = NULL;
	size_t n_routes = 0, n = 0;
	if (net_route4_table_read(root, &routes, &n_routes, &inv->warnings) < 0)
		return -ENOMEM;
	defs = calloc(n_routes + 1, sizeof *defs);
	if (!defs)
		return -ENOMEM;
	for (size_t i = 0; i < n_routes; i++) {
		if (routes[i].dest != 0 || routes[i].mask != 0)
			continue;
		struct in_addr in = {.s_addr = htonl(routes[i].gateway)};
		snprintf(defs[n].dev, sizeof defs[n].dev, "%s", routes[i].dev);
		if (routes[i].gateway)
			inet_ntop(AF_INET, &in, defs[n].gateway, sizeof defs[n].gateway);
		defs[n].seq = n;
		defs[n++].metric = routes[i].metric;
	}
	return keep_defaults(defs, n, &inv->ipv4_gateway, &inv->ipv4_default_devs);
}

static bool all_zero(const struct in6_addr *a)
{
	static const struct in6_addr zero;
	return memcmp(a, &zero, sizeof zero) == 0;
}

static int ipv6_defaults(const char *root, struct net_inventory *inv)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ struct default_route *defs = NULL;
	size_t n = 0, cap = 0;
	int r = nm_read_file(root, "/proc/net/ipv6_route", 0, &text, NULL);
	if (r < 0)
		nm_warning_add(&inv->warnings, "cannot read /proc/net/ipv6_route (%s); no IPv6 routes known",
			       strerror(-r));
	char *save = NULL;
	unsigned lineno = 0;
	for (char *line = r < 0 ? NULL : strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char dst_hex[40], hop_hex[40], dev[IF_NAMESIZE + 1];
		unsigned dst_len, metric, flags;
		struct in6_addr dst, hop;
		lineno++;
		if (sscanf(line, "%39s %x %*s %*s %39s %x %*s %*s %x %16s", dst_hex, &dst_len, hop_hex, &metric, &flags,
			   dev) != 6 ||
		    net_parse_hex_in6(dst_hex, &dst) < 0 || net_parse_hex_in6(hop_hex, &hop) < 0) {
			nm_warning_add(&inv->warnings, "/proc/net/ipv6_route line %u is not understood; skipped",
				       lineno);
			continue;
		}
		if (dst_len != 0 || !all_zero(&dst) || !(flags & RTF_UP_FLAG) || (flags & RTF_REJECT_FLAG) ||
		    strcmp(dev, "lo") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			struct default_route *nv = realloc(defs, cap * sizeof *nv);
			if (!nv)
				return -ENOMEM;
			defs = nv;
		}
		defs[n] = (struct default_route){.metric = metric, .seq = n};
		snprintf(defs[n].dev, sizeof defs[n].dev, "%s", dev);
		if (!all_zero(&hop))
			inet_ntop(AF_INET6, &hop, defs[n].gateway, sizeof defs[n].gateway);
		n++;
	}
	return keep_defaults(defs, n, &inv->ipv6_gateway, &inv->ipv6_default_devs);
}

int net_routes_read(const char *root, struct net_inventory *inv, struct nm_error *e)
{
	int r = ipv4_defaults(root, inv);
	if (r >= 0)
		r = ipv6_defaults(root, inv);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, -r, "network inventory: reading routes failed");
	if (!inv->ipv4_gateway.dev && !inv->ipv6_gateway.dev)
		nm_warning_add(&inv->warnings,
			       "no default route (IPv4 or IPv6): the uplink cannot be found by its route; "
			       "name it with --uplink MAC|NAME");
	return 0;
}
