/* pipeline.h (private to agent/): the phases of `install`, in the one order that exists. */
#pragma once

#include <stddef.h>

/* detect → plan → confirm → fetch → render → build → teardown → wipe → partition → raid →
 * format → mount → install → handover */
const char *const *agent_phase_names(size_t *n);
/* Index of a phase name, or -1. */
int agent_phase_index(const char *name);
