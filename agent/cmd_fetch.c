/* cmd_fetch.c: `nmmm-agent fetch`. Not written yet: it refuses with exit 1 and says so. */
#include "agent/agent.h"

#include <errno.h>

int agent_cmd_fetch(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOSYS, "fetch: not available in this build yet");
}
