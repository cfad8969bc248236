/* inventory.c: placeholder until the disk inventory lands. */
#include "disk/disk.h"

#include <errno.h>

int disk_inventory_read(const char *root, struct disk_inventory *inv, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOSYS, "disk inventory: not available in this build yet");
}

void disk_inventory_free(struct disk_inventory *inv)
{
}

json_object *disk_info_to_json(const struct disk_info *d)
{
	return json_object_new_object();
}
