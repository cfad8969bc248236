/* pipeline.h (private to agent/): the one table of phases, in the one order that exists, and
 * the one runner that `install`, `layout` and `wipe` use, each on its slice of the table
 * (pipeline.c holds the list; `install --help` prints it). */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "agent/agent.h"
#include "disk/disk.h"

struct install_run;

/* The commands a phase belongs to (a phase's slices). */
enum {
	AGENT_FOR_INSTALL = 1u << 0,
	AGENT_FOR_LAYOUT = 1u << 1,
	AGENT_FOR_WIPE = 1u << 2,
};

struct agent_phase {
	const char *name;
	unsigned commands; /* AGENT_FOR_* */
	bool destructive; /* writes a disk or the target; false: reads the machine, writes only state */
	bool disk_lock; /* runs under the disk lock (taken before the first, released after the last) */
	bool disk_sequence; /* cut short, it may leave half a step: a resume redoes all of these */
	bool udev_drain_after; /* the lock is let go after it until udevd has handled every queued event */
	bool detach_point; /* --detach leaves the SSH session after this phase */
	bool always; /* runs again on --resume (read-only phases that rebuild memory state) */
	/* install: does the work and returns what it produced (recorded in the state file) */
	int (*run)(struct install_run *run, json_object **products, struct nm_error *e);
	/* install --resume: verifies that a finished phase's products still exist (may be NULL) */
	int (*check)(struct install_run *run, json_object *products, struct nm_error *e);
	/* layout and wipe: the disk library's step (NULL for phases that are not disk work) */
	int (*disk)(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e);
};

/* All phases, in order (status, and index arithmetic on names). */
size_t agent_phase_count(void);
const struct agent_phase *agent_phase_at(size_t i);
const char *agent_phase_name(size_t i);
/* Index of a phase name, or -1. */
int agent_phase_index(const char *name);
/* Index of the first destructive phase of a command's slice. */
int agent_phase_first_destructive(unsigned command);
/* Index of the last phase of a command's slice. */
int agent_phase_last(unsigned command);

/* The names of a command's phases joined with sep (for --help), malloc'd; NULL on ENOMEM. */
char *agent_phase_list(unsigned command, const char *sep);
/* Prints that list after indent, wrapped before width columns, each line ending in a newline. */
void agent_phase_list_print(FILE *f, unsigned command, const char *lead, const char *sep, const char *tail,
			    size_t width);
/* --until NAME: the index of the phase when it is in the command's slice, else a usage error
 * (listing the slice) returned as a negative errno. */
int agent_phase_until(unsigned command, const char *cmd, const char *until, struct nm_error *e);

/* One run of a slice. */
struct agent_pipeline {
	struct agent_ctx *ctx;
	unsigned command; /* AGENT_FOR_*: the slice to run */
	const char *until; /* the last phase to run; NULL: the slice's last */
	const struct disk_plan *plan; /* install: filled by its plan phase */
	struct disk_run_opts disk; /* with .lock: the lock the runner takes and releases */
	bool teardown_checked; /* disk_teardown_check already ran just before (layout, wipe) */
	struct install_run *install; /* install only: state file, --resume, --detach */
	/* out */
	bool stopped; /* stopped after --until */
	bool detached; /* the foreground process after --detach: it returns, the child goes on */
};

/* Runs the slice: emits each phase's start/done/error events (the only place that does), takes
 * the disk lock before the first phase that needs it (after disk_teardown_check, then checks the
 * disks are still the planned ones under it) and releases it after the last one, stops after
 * --until, and for install saves the state around each phase, skips finished phases on
 * --resume (after their check) and detaches at the detach point. */
int agent_pipeline_run(struct agent_pipeline *p, struct nm_error *e);
