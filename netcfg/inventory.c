/* inventory.c: assembles the network inventory (NICs, addresses, default routes, nameservers,
 * the boot NIC) from the readers in nics.c, addrs.c, routes.c, dns.c and bootif.c, frees it
 * and turns it into the JSON of `detect`. What cannot be read becomes a warning, never a crash or a guess; it never
 * changes the machine. */
#include "netcfg/netcfg.h"

#include <errno.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

struct net_nic *net_nic_find(struct net_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n_nics; i++)
		if (strcmp(inv->nics[i].name, name) == 0)
			return &inv->nics[i];
	return NULL;
}

int net_addr_append(struct net_addr **v, size_t *n, const struct net_addr *a)
{
	struct net_addr *nv = realloc(*v, (*n + 1) * sizeof **v);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = *a;
	nv[*n].address = strdup(a->address);
	if (!nv[*n].address)
		return -ENOMEM;
	(*n)++;
	return 0;
}

int net_inventory_read(const char *root, struct net_inventory *inv, struct nm_error *e)
{
	*inv = (struct net_inventory){0};
	inv->warnings = nm_strv_new();
	inv->nameservers = nm_strv_new();
	if (!inv->warnings || !inv->nameservers)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "network inventory: out of memory");
	int r = net_nics_read(root, inv, e);
	if (r >= 0)
		r = net_addrs_read(root, inv, e);
	if (r >= 0)
		r = net_routes_read(root, inv, e);
	if (r >= 0)
		r = net_dns_read(root, inv, e);
	if (r >= 0)
		r = net_bootif_read(root, inv);
	if (r < 0) {
		net_inventory_free(inv);
		return r;
	}
	return 0;
}

static void addrs_free(struct net_addr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].address);
	free(v);
}

void net_inventory_free(struct net_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n_nics; i++) {
		struct net_nic *n = &inv->nics[i];
		free(n->name);
		free(n->mac);
		free(n->driver);
		free(n->pci_slot);
		free(n->predicted_name);
		free(n->operstate);
		addrs_free(n->ipv4, n->n_ipv4);
		addrs_free(n->ipv6, n->n_ipv6);
	}
	free(inv->nics);
	free(inv->ipv4_gateway.address);
	free(inv->ipv4_gateway.dev);
	free(inv->ipv6_gateway.address);
	free(inv->ipv6_gateway.dev);
	nm_strv_free(inv->ipv4_default_devs);
	nm_strv_free(inv->ipv6_default_devs);
	nm_strv_free(inv->nameservers);
	free(inv->boot_mac);
	nm_strv_free(inv->warnings);
	*inv = (struct net_inventory){0};
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *addrs_to_json(const struct net_addr *v, size_t n)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "address", json_object_new_string(v[i].address));
		json_object_object_add(a, "prefix", json_object_new_int((int)v[i].prefix));
		json_object_object_add(a, "link_local", json_object_new_boolean(v[i].link_local));
		json_object_object_add(a, "temporary", json_object_new_boolean(v[i].temporary));
		json_object_object_add(a, "deprecated", json_object_new_boolean(v[i].deprecated));
		json_object_object_add(a, "tentative", json_object_new_boolean(v[i].tentative));
		json_object_object_add(a, "usable", json_object_new_boolean(net_addr_usable(&v[i])));
		json_object_array_add(arr, a);
	}
	return arr;
}

json_object *net_nic_to_json(const struct net_nic *n)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(n->name));
	json_object_object_add(o, "mac", str_or_null(n->mac));
	json_object_object_add(o, "driver", str_or_null(n->driver));
	json_object_object_add(o, "pci_slot", str_or_null(n->pci_slot));
	json_object_object_add(o, "predicted_name", str_or_null(n->predicted_name));
	json_object_object_add(o, "physical", json_object_new_boolean(n->physical));
	json_object_object_add(o, "up", json_object_new_boolean(n->up));
	json_object_object_add(o, "bmc", json_object_new_boolean(n->bmc));
	json_object_object_add(o, "ipv4", addrs_to_json(n->ipv4, n->n_ipv4));
	json_object_object_add(o, "ipv6", addrs_to_json(n->ipv6, n->n_ipv6));
	return o;
}

/* A gateway is an object when there is a default route, else null. */
static json_object *gateway_to_json(const struct net_gateway *g)
{
	if (!g->dev)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "address", str_or_null(g->address));
	json_object_object_add(o, "dev", json_object_new_string(g->dev));
	return o;
}

json_object *net_inventory_to_json(const struct net_inventory *inv, json_object *into)
{
	json_object *phys = json_object_new_array(), *virt = json_object_new_array();
	for (size_t i = 0; i < inv->n_nics; i++)
		json_object_array_add(inv->nics[i].physical ? phys : virt, net_nic_to_json(&inv->nics[i]));
	json_object_object_add(into, "nics", phys);
	json_object_object_add(into, "virtual_nics", virt);
	json_object_object_add(into, "ipv4_gateway", gateway_to_json(&inv->ipv4_gateway));
	json_object_object_add(into, "ipv6_gateway", gateway_to_json(&inv->ipv6_gateway));
	json_object_object_add(into, "nameservers", nm_json_strv(inv->nameservers));
	json_object_object_add(into, "boot_mac", str_or_null(inv->boot_mac));
	return into;
}

static json_object *usable_to_json(const struct net_nic *nic, bool ipv6)
{
	const struct net_addr *v[64];
	size_t n = net_nic_usable_addrs(nic, ipv6, v, NM_ELEMENTSOF(v));
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n && i < NM_ELEMENTSOF(v); i++) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "address", json_object_new_string(v[i]->address));
		json_object_object_add(a, "prefix", json_object_new_int((int)v[i]->prefix));
		json_object_array_add(arr, a);
	}
	return arr;
}

json_object *net_uplink_to_json(const struct net_nic *nic)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(nic->name));
	json_object_object_add(o, "mac", str_or_null(nic->mac));
	json_object_object_add(o, "predicted_name", str_or_null(nic->predicted_name));
	json_object_object_add(o, "ipv4", usable_to_json(nic, false));
	json_object_object_add(o, "ipv6", usable_to_json(nic, true));
	return o;
}
