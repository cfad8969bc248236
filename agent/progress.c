/* progress.c: how long steps show progress — one self-updating line on a terminal (bytes, total,
 * rate, ETA), JSON Lines `progress` events for scripts. Shared by `fetch` and `install`. */
#include "agent/progress.h"

#include <inttypes.h>

static void human_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < NM_ELEMENTSOF(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void agent_progress_init(struct agent_progress *v, struct agent_ctx *ctx, const char *phase, const char *label)
{
	/* -q keeps the terminal quiet; events still flow. */
	*v = (struct agent_progress){.ctx = ctx,
				     .phase = phase,
				     .label = label,
				     .tty = isatty(STDERR_FILENO) && ctx->g.verbosity >= NM_LOG_INFO};
}

static void draw_line(struct agent_progress *v, const struct img_progress *p, double rate)
{
	char got[32], total[32], speed[32], eta[32] = "";
	human_bytes(p->bytes, got, sizeof got);
	human_bytes(p->total, total, sizeof total);
	human_bytes((uint64_t)rate, speed, sizeof speed);
	if (p->total > p->bytes && rate > 0) {
		uint64_t s = (uint64_t)((double)(p->total - p->bytes) / rate);
		snprintf(eta, sizeof eta, "  ETA %" PRIu64 ":%02" PRIu64, s / 60, s % 60);
	}
	fprintf(stderr, "\r%s%s%s: %s / %s  %s/s%s%s\033[K", v->phase, v->label ? " " : "", v->label ? v->label : "",
		got, p->total ? total : "?", speed, eta, p->attempt > 1 ? "  (resumed)" : "");
	fflush(stderr);
	v->drew = true;
}

void agent_progress_draw(struct agent_progress *v, const struct img_progress *p)
{
	if (v->tty)
		draw_line(v, p, p->elapsed_sec > 0 ? (double)p->bytes / p->elapsed_sec : 0);
}

void agent_progress_update(void *userdata, const struct img_progress *p)
{
	struct agent_progress *v = userdata;
	double rate = p->elapsed_sec > 0 ? (double)p->bytes / p->elapsed_sec : 0;
	agent_progress_draw(v, p);
	if (p->done)
		return;
	json_object *f = json_object_new_object();
	if (v->label)
		json_object_object_add(f, "what", json_object_new_string(v->label));
	json_object_object_add(f, "bytes", json_object_new_int64((int64_t)p->bytes));
	json_object_object_add(f, "total", p->total ? json_object_new_int64((int64_t)p->total) : NULL);
	json_object_object_add(f, "rate", json_object_new_int64((int64_t)rate));
	json_object_object_add(f, "attempt", json_object_new_int((int)p->attempt));
	agent_event(v->ctx, v->phase, "progress", f);
}

void agent_progress_finish(struct agent_progress *v, bool ok)
{
	if (v->tty && v->drew)
		fputc('\n', stderr);
	v->drew = false;
}
