/* bootif.c: the NIC the rescue was booted from, as PXE tells it: BOOTIF= on the rescue's
 * /proc/cmdline (under --root), "01-aa-bb-cc-dd-ee-ff" (ARP type 1, Ethernet, then the MAC)
 * or a plain MAC with ':' or '-'. It cross-checks the uplink choice: a NIC other than the one
 * carrying the default route is worth a warning, never a refusal (a server may boot from one
 * NIC and be reached on another). It only reads. */
#include "netcfg/netcfg.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

/* "aa:bb:cc:dd:ee:ff" from a BOOTIF value, or NULL when it is not one of the forms above. */
static char *bootif_mac(const char *v)
{
	size_t n = strlen(v);
	if (n == 20 && strncmp(v, "01-", 3) == 0)
		v += 3, n -= 3;
	if (n != 17)
		return NULL;
	char *mac = strdup(v);
	if (!mac)
		return NULL;
	for (size_t i = 0; i < 17; i++) {
		bool sep = i % 3 == 2;
		if (sep ? (v[i] != ':' && v[i] != '-') : !isxdigit((unsigned char)v[i])) {
			free(mac);
			return NULL;
		}
		mac[i] = sep ? ':' : (char)tolower((unsigned char)v[i]);
	}
	return mac;
}

int net_bootif_read(const char *root, struct net_inventory *inv)
{
	_cleanup_free_ char *cmdline = NULL;
	if (nm_read_file(root, "/proc/cmdline", 64 * 1024, &cmdline, NULL) < 0)
		return 0; /* no cmdline, no cross-check */
	char *save = NULL;
	for (char *w = strtok_r(cmdline, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(w, "BOOTIF=", 7) != 0)
			continue;
		free(inv->boot_mac);
		inv->boot_mac = bootif_mac(w + 7);
		if (!inv->boot_mac)
			nm_warning_add(
			    &inv->warnings,
			    "/proc/cmdline: %s is not a MAC address (01-aa-bb-cc-dd-ee-ff or aa:bb:cc:dd:ee:ff); "
			    "the uplink is not cross-checked",
			    w);
	}
	return 0;
}

/* The NIC with that MAC, a physical one before a bridge or bond that took its MAC. */
static const struct net_nic *nic_by_mac(const struct net_inventory *inv, const char *mac)
{
	const struct net_nic *found = NULL;
	for (size_t i = 0; i < inv->n_nics; i++)
		if (inv->nics[i].mac && strcasecmp(inv->nics[i].mac, mac) == 0 && (!found || !found->physical))
			found = &inv->nics[i];
	return found;
}

char *net_bootif_disagreement(const struct net_inventory *inv, const struct net_nic *uplink)
{
	if (!inv->boot_mac || !uplink || (uplink->mac && strcasecmp(uplink->mac, inv->boot_mac) == 0))
		return NULL;
	const struct net_nic *boot = nic_by_mac(inv, inv->boot_mac);
	if (!boot)
		return nm_strdup_printf(
		    "the rescue booted from %s (BOOTIF= on /proc/cmdline), which no NIC has; the "
		    "uplink chosen is %s (%s): check it is the NIC that is cabled, or pick one with "
		    "--uplink MAC|NAME",
		    inv->boot_mac, uplink->name, uplink->mac ? uplink->mac : "no MAC");
	return nm_strdup_printf("the rescue booted from %s (%s, BOOTIF= on /proc/cmdline), but the uplink chosen "
				"is %s (%s), which carries the default route: check which NIC is cabled, and pick it "
				"with --uplink %s if %s is wrong",
				boot->name, boot->mac, uplink->name, uplink->mac ? uplink->mac : "no MAC", boot->mac,
				uplink->name);
}
