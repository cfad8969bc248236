/* disk-phases.h: private to agent/ — what `wipe` and `layout` share: the confirmation listing
 * of the disks about to be erased, and running one disk phase with its start/done/error events. */
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

typedef int (*agent_disk_phase_fn)(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
/* Emits "start", runs fn, emits "done" (or "error" with the message and exit class). */
int agent_disk_phase_run(struct agent_ctx *ctx, const char *phase, agent_disk_phase_fn fn, const struct disk_plan *plan,
			 const struct disk_run_opts *o, struct nm_error *e);
