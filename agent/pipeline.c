/* pipeline.c: the phases of `install` in their one order. Nothing destructive (teardown and
 * after) runs before build has succeeded. */
#include "agent/pipeline.h"

#include <string.h>

static const char *const phase_names[] = {
    "detect", "plan",	   "confirm", "fetch",	"render", "build",   "teardown",
    "wipe",   "partition", "raid",    "format", "mount",  "install", "handover",
};

const char *const *agent_phase_names(size_t *n)
{
	*n = sizeof phase_names / sizeof phase_names[0];
	return phase_names;
}

int agent_phase_index(const char *name)
{
	for (size_t i = 0; i < sizeof phase_names / sizeof phase_names[0]; i++)
		if (strcmp(phase_names[i], name) == 0)
			return (int)i;
	return -1;
}
