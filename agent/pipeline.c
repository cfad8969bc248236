/* pipeline.c: the phases of `install` in their one order, as DESIGN.md lists them. Nothing
 * destructive (teardown and after) runs before build has succeeded; `layout` runs the disk
 * phases alone, `status` names them from here. */
#include "agent/pipeline.h"

#include <string.h>

#include "agent/install.h"

static const struct install_phase phases[] = {
    {"detect", install_detect, NULL, true},
    {"plan", install_plan, NULL, true},
    {"confirm", install_confirm, NULL, true},
    {"fetch", install_fetch, install_fetch_check, false},
    {"render", install_render, install_render_check, false},
    {"build", install_build, install_build_check, false},
    {"teardown", install_teardown, NULL, false},
    {"wipe", install_wipe, NULL, false},
    {"partition", install_partition, install_partition_check, false},
    {"raid", install_raid, install_raid_check, false},
    {"format", install_format, install_format_check, false},
    {"mount", install_mount, install_mount_check, false},
    {"install", install_install, install_install_check, false},
    {"handover", install_handover, NULL, false},
};

#define N_PHASES (sizeof phases / sizeof phases[0])

const struct install_phase *install_phases(size_t *n)
{
	*n = N_PHASES;
	return phases;
}

size_t agent_phase_count(void)
{
	return N_PHASES;
}

const char *agent_phase_name(size_t i)
{
	return i < N_PHASES ? phases[i].name : NULL;
}

int agent_phase_index(const char *name)
{
	for (size_t i = 0; i < N_PHASES; i++)
		if (strcmp(phases[i].name, name) == 0)
			return (int)i;
	return -1;
}
