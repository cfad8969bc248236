/* events.c: the JSON Lines event stream (--events): one object per line with ts, phase and
 * event (start|progress|done|error) plus fields. */
#include "agent/agent.h"

#include <time.h>

void agent_event(struct agent_ctx *ctx, const char *phase, const char *event, json_object *fields)
{
	if (!ctx->events.out && !ctx->events.copy) {
		json_object_put(fields);
		return;
	}
	_cleanup_json_ json_object *o = json_object_new_object();
	if (!o) {
		json_object_put(fields); /* out of memory: the event is lost, the run goes on */
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_object_add(o, "ts", json_object_new_double((double)ts.tv_sec + ts.tv_nsec / 1e9));
	json_object_object_add(o, "phase", json_object_new_string(phase));
	json_object_object_add(o, "event", json_object_new_string(event));
	if (fields) {
		json_object_object_foreach(fields, k, v) json_object_object_add(o, k, json_object_get(v));
		json_object_put(fields);
	}
	const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	FILE *sinks[] = {ctx->events.out, ctx->events.copy};
	for (size_t i = 0; i < NM_ELEMENTSOF(sinks); i++)
		if (sinks[i]) {
			fprintf(sinks[i], "%s\n", line);
			fflush(sinks[i]);
		}
}
