/* disk_phases.c: the parts of `wipe` and `layout` that are about talking to the operator — the
 * confirmation listing (serials, so the operator can match the disks to the Hetzner robot) and
 * the refusals before the phases run. The disk work itself is the disk library's; nothing here writes a disk. */
#include "agent/disk-phases.h"

#include <errno.h>
#include <string.h>

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static const struct disk_info *inventory_entry(const struct disk_inventory *inv, const char *name)
{
	for (size_t i = 0; inv && i < inv->n_disks; i++)
		if (strcmp(inv->disks[i].name, name) == 0)
			return &inv->disks[i];
	return NULL;
}

static void print_list(const char *what, char *const *v)
{
	if (!v || !v[0])
		return;
	printf("             %s:", what);
	for (size_t i = 0; v[i]; i++)
		printf("%s %s", i ? "," : "", v[i]);
	printf("\n");
}

void agent_disk_confirm_print(const struct disk_plan *plan, const struct disk_inventory *inv)
{
	printf("THESE DISKS WILL BE ERASED (everything on them is lost):\n");
	for (size_t i = 0; i < plan->n_disks; i++) {
		const struct disk_member_plan *m = &plan->disks[i];
		printf("  %-10s %9.1f GiB  serial %-20s model %s\n", m->name, (double)m->size_bytes / (1u << 30),
		       or_dash(m->serial), or_dash(m->model));
		const struct disk_info *d = inventory_entry(inv, m->name);
		if (d) {
			print_list("found on it", d->signatures);
			print_list("in use", d->in_use);
		}
	}
}

int agent_disk_target_check(const char *cmd, const char *target, struct nm_error *e)
{
	if (target[0] == '/' && strcmp(target, "/") != 0)
		return 0;
	return agent_usage_error(e, cmd, "%s: --target %s must be an absolute directory other than /", cmd, target);
}

int agent_disk_unconfirmed(const char *cmd, struct nm_error *e)
{
	printf("\nnothing was changed; run again with --yes to erase these disks.\n");
	return nm_fail(e, NM_ERR_REFUSED, EPERM, "%s: not confirmed; check the serials above and add --yes", cmd);
}
