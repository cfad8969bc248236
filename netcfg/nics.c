/* nics.c: the network interfaces under /sys/class/net (root-prefixed): name, MAC, driver, PCI
 * slot, whether it is a physical device, up (operstate, carrier), a USB BMC NIC, and its predicted
 * NixOS name.
 * Loopback is left out. A file that cannot be read becomes a warning naming it. It never
 * brings links up or down. */
#include "netcfg/netcfg.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

#define ARPHRD_LOOPBACK_TYPE 772
#define IFF_UP_FLAG 0x1

static int read_attr(const char *root, const char *ifname, const char *attr, char **out)
{
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "/sys/class/net/%s/%s", ifname, attr);
	return nm_read_line(root, rel, out);
}

static bool is_loopback(const char *root, const char *ifname)
{
	_cleanup_free_ char *type = NULL;
	if (read_attr(root, ifname, "type", &type) == 0)
		return atoi(type) == ARPHRD_LOOPBACK_TYPE;
	return strcmp(ifname, "lo") == 0;
}

/* 1 when the link has carrier, 0 when not, -1 when the kernel does not say (down, or no file). */
static int carrier_of(const char *root, const char *ifname)
{
	_cleanup_free_ char *carrier = NULL;
	if (read_attr(root, ifname, "carrier", &carrier) < 0)
		return -1;
	return strcmp(carrier, "1") == 0 ? 1 : strcmp(carrier, "0") == 0 ? 0 : -1;
}

/* operstate "up"; or "unknown" (drivers that do not report it) with IFF_UP and carrier. */
static bool link_is_up(const char *root, const char *ifname, const struct net_nic *n)
{
	_cleanup_free_ char *flags = NULL;
	if (!n->operstate)
		return false;
	if (strcmp(n->operstate, "up") == 0)
		return true;
	if (strcmp(n->operstate, "unknown") != 0 || read_attr(root, ifname, "flags", &flags) < 0)
		return false;
	return (strtoul(flags, NULL, 16) & IFF_UP_FLAG) && n->carrier == 1;
}

static int nic_read(const char *root, const char *ifname, struct net_nic *n, char ***warnings, struct nm_error *e)
{
	char rel[PATH_MAX];
	n->name = strdup(ifname);
	if (!n->name)
		return -ENOMEM;
	snprintf(rel, sizeof rel, "/sys/class/net/%s/device", ifname);
	n->physical = nm_exists(root, rel);
	int r = read_attr(root, ifname, "address", &n->mac);
	if (r < 0)
		nm_warning_add(warnings,
			       "%s: cannot read /sys/class/net/%s/address (%s); the NIC has no MAC to match on", ifname,
			       ifname, strerror(-r));
	else if (!*n->mac) {
		free(n->mac);
		n->mac = NULL;
	}
	(void)read_attr(root, ifname, "operstate", &n->operstate); /* NULL when unreadable */
	n->carrier = carrier_of(root, ifname);
	n->up = link_is_up(root, ifname, n);
	if (n->physical) {
		snprintf(rel, sizeof rel, "/sys/class/net/%s/device/driver", ifname);
		r = nm_readlink_base(root, rel, &n->driver);
		if (r < 0)
			nm_warning_add(warnings, "%s: no driver link at /sys/class/net/%s/device/driver (%s)", ifname,
				       ifname, strerror(-r));
		n->bmc = n->driver && (strcmp(n->driver, "cdc_ether") == 0 || strcmp(n->driver, "rndis_host") == 0);
		r = net_pci_slot_of(root, ifname, &n->pci_slot);
		if (r < 0)
			return nm_fail(e, NM_ERR_RUNTIME, -r, "%s: reading the PCI slot failed", ifname);
	}
	r = net_predict_name(root, ifname, &n->predicted_name, e);
	if (r < 0)
		return r;
	if (n->physical && !n->predicted_name)
		nm_warning_add(warnings,
			       "%s: no predictable name applies (device type not covered); NixOS may keep "
			       "the kernel name, match it by MAC",
			       ifname);
	return 0;
}

int net_nics_read(const char *root, struct net_inventory *inv, struct nm_error *e)
{
	_cleanup_strv_free_ char **names = NULL;
	int r = nm_list_dir(root, "/sys/class/net", &names);
	if (r < 0) {
		nm_warning_add(&inv->warnings, "cannot list /sys/class/net (%s); no NICs found", strerror(-r));
		return 0;
	}
	inv->nics = calloc(nm_strv_len(names) + 1, sizeof *inv->nics);
	if (!inv->nics)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "network inventory: out of memory");
	for (size_t i = 0; names[i]; i++) {
		if (is_loopback(root, names[i]))
			continue;
		r = nic_read(root, names[i], &inv->nics[inv->n_nics], &inv->warnings, e);
		inv->n_nics++; /* counted even on failure, so free() sees what was filled in */
		if (r < 0)
			return r;
	}
	return 0;
}
