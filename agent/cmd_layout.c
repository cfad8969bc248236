/* cmd_layout.c: `nmmm-agent layout`. Not written yet: it refuses with exit 1 and says so. */
#include "agent/agent.h"

#include <errno.h>

int agent_cmd_layout(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOSYS, "layout: not available in this build yet");
}
