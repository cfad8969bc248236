/* uplink.c: which NIC the installed system is reached through. By default the physical,
 * up, non-BMC NIC carrying the IPv4 default route (else the IPv6 one); --uplink MAC|NAME may
 * name any interface, virtual ones included. No answer or more than one is a usage error
 * that lists the candidates; it never guesses. */
#include "netcfg/netcfg.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "netcfg/netcfg-internal.h"

/* Why a NIC may not be the uplink by default, or NULL when it may. */
static const char *why_not_uplink(const struct net_nic *n)
{
	if (!n->physical)
		return "a virtual interface";
	if (n->bmc)
		return "the BMC's USB NIC";
	if (!n->up)
		return "down";
	return NULL;
}

/* "eth0 (52:54:00:12:34:56), eth1 (...)" of the physical NICs, for error messages. */
static void list_nics(const struct net_inventory *inv, bool physical_only, char *buf, size_t size)
{
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < inv->n_nics && len < size; i++) {
		const struct net_nic *n = &inv->nics[i];
		if (physical_only && !n->physical)
			continue;
		int k =
		    snprintf(buf + len, size - len, "%s%s (%s)", len ? ", " : "", n->name, n->mac ? n->mac : "no MAC");
		if (k < 0)
			break;
		len += (size_t)k;
	}
	if (!buf[0])
		snprintf(buf, size, "none");
}

static int select_wanted(const struct net_inventory *inv, const char *want, const struct net_nic **nic,
			 struct nm_error *e)
{
	const struct net_nic *found = NULL;
	size_t hits = 0;
	for (size_t i = 0; i < inv->n_nics; i++) {
		const struct net_nic *n = &inv->nics[i];
		if (strcmp(n->name, want) != 0 && !(n->mac && strcasecmp(n->mac, want) == 0))
			continue;
		/* a bond, VLAN or bridge may share the MAC of its port: the physical one wins */
		if (!found || (n->physical && !found->physical)) {
			found = n;
			hits = 1;
		} else if (n->physical == found->physical) {
			hits++;
		}
	}
	char list[1024];
	if (!found) {
		list_nics(inv, false, list, sizeof list);
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "--uplink %s: no interface has that name or MAC; interfaces here: %s", want, list);
	}
	if (hits > 1)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--uplink %s: several interfaces share that MAC; give the interface name instead", want);
	*nic = found;
	return 0;
}

/* The eligible NICs among the interfaces carrying a default route of one family. */
static size_t eligible_of(const struct net_inventory *inv, char *const *devs, const struct net_nic **first, char *why,
			  size_t why_size, size_t *why_len)
{
	size_t count = 0;
	for (size_t i = 0; devs && devs[i]; i++) {
		const struct net_nic *n = NULL;
		for (size_t j = 0; j < inv->n_nics; j++)
			if (strcmp(inv->nics[j].name, devs[i]) == 0)
				n = &inv->nics[j];
		const char *reason = n ? why_not_uplink(n) : "not found in /sys/class/net";
		if (reason) {
			int k = snprintf(why + *why_len, why_size - *why_len, "%s%s is %s", *why_len ? "; " : "",
					 devs[i], reason);
			if (k > 0 && *why_len + (size_t)k < why_size)
				*why_len += (size_t)k;
			continue;
		}
		if (count++ == 0)
			*first = n;
	}
	return count;
}

int net_uplink_select(const struct net_inventory *inv, const char *want, const struct net_nic **nic, struct nm_error *e)
{
	*nic = NULL;
	if (want && *want)
		return select_wanted(inv, want, nic, e);

	char why[1024] = "", list[1024];
	size_t why_len = 0;
	const char *family = "IPv4";
	char *const *devs = inv->ipv4_default_devs;
	const struct net_nic *first = NULL;
	size_t n = eligible_of(inv, devs, &first, why, sizeof why, &why_len);
	if (n == 0) {
		family = "IPv6";
		devs = inv->ipv6_default_devs;
		n = eligible_of(inv, devs, &first, why, sizeof why, &why_len);
	}
	list_nics(inv, true, list, sizeof list);
	if (n == 1) {
		*nic = first;
		return 0;
	}
	if (n > 1) {
		char devlist[512] = "";
		size_t len = 0;
		for (size_t i = 0; devs[i] && len < sizeof devlist; i++) {
			int k = snprintf(devlist + len, sizeof devlist - len, "%s%s", len ? ", " : "", devs[i]);
			if (k > 0)
				len += (size_t)k;
		}
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "uplink is ambiguous: %s default routes leave through %s; choose one with "
			       "--uplink MAC|NAME",
			       family, devlist);
	}
	return nm_fail(e, NM_ERR_USAGE, ENOENT,
		       "no uplink found: %s; physical NICs: %s; choose one with --uplink MAC|NAME",
		       why_len ? why : "no default route (IPv4 or IPv6)", list);
}
