/* inventory.c: placeholder until the NIC inventory lands. */
#include "netcfg/netcfg.h"

#include <errno.h>

int net_inventory_read(const char *root, struct net_inventory *inv, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOSYS, "network inventory: not available in this build yet");
}

void net_inventory_free(struct net_inventory *inv)
{
}

json_object *net_inventory_to_json(const struct net_inventory *inv, json_object *into)
{
	return into;
}

int machine_facts_read(const char *root, struct machine_facts *m, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOSYS, "machine facts: not available in this build yet");
}

void machine_facts_free(struct machine_facts *m)
{
}

json_object *machine_facts_to_json(const struct machine_facts *m, json_object *into)
{
	return into;
}
