/* pipeline.h (private to agent/): the phases of `install`, in the one order that exists. */
#pragma once

#include <stddef.h>

/* detect → plan → confirm → fetch → render → build → teardown → wipe → partition → raid →
 * format → mount → install → handover */
size_t agent_phase_count(void);
const char *agent_phase_name(size_t i);
/* Index of a phase name, or -1. */
int agent_phase_index(const char *name);
