/* disk-phases.h: private to agent/ — what `wipe` and `layout` share: the confirmation listing
 * of the disks about to be erased, and the refusals before the disk phases run (pipeline.c runs them). */
#pragma once

#include "agent/agent.h"
#include "disk/disk.h"

/* Prints the disks with serial, model, size and what is on them now, under a heading that says
 * they will be erased. */
void agent_disk_confirm_print(const struct disk_plan *plan, const struct disk_inventory *inv);

/* --target must be an absolute directory other than "/" (usage error otherwise). */
int agent_disk_target_check(const char *cmd, const char *target, struct nm_error *e);

/* The refusal when --yes is missing: exit 3, nothing written. */
int agent_disk_unconfirmed(const char *cmd, struct nm_error *e);
