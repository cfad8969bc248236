/* progress.h (private to agent/): the progress of a long step — a line with bytes, total, rate
 * and ETA on a terminal, `progress` events with --events. */
#pragma once

#include "agent/agent.h"
#include "images/images.h"

struct agent_progress {
	struct agent_ctx *ctx;
	const char *phase; /* event phase, e.g. "fetch" */
	const char *label; /* what moves, e.g. "channel", or NULL */
	bool tty;
	bool drew;
};

void agent_progress_init(struct agent_progress *v, struct agent_ctx *ctx, const char *phase, const char *label);
/* An img_progress_fn: pass the struct agent_progress as userdata. */
void agent_progress_update(void *userdata, const struct img_progress *p);
/* The line alone, no event (provision shows a remote install's progress events). */
void agent_progress_draw(struct agent_progress *v, const struct img_progress *p);
/* Ends the line on a terminal. */
void agent_progress_finish(struct agent_progress *v, bool ok);
