/* cmd_install.c: `nmmm-agent install`. Not written yet: it refuses with exit 1 and says so. */
#include "agent/agent.h"

#include <errno.h>

int agent_cmd_install(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOSYS, "install: not available in this build yet");
}
