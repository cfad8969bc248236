/* state.h (private to agent/): the install's state file — which phases finished, what they
 * produced, the plan with its UUIDs, and the result — so `install --resume` can check and skip
 * finished phases and `status` can report from another process. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

#define AGENT_STATE_FILE "state.json"
#define AGENT_LOG_FILE "install.log"
#define AGENT_EVENTS_FILE "events.jsonl" /* every event of the install, one JSON object a line */

struct agent_state {
	char *dir; /* --state-dir, default AGENT_DEFAULT_STATE_DIR */
	json_object *root; /* the whole document */
};

#define AGENT_LOCK_FILE "install.lock"

/* One install per state directory: takes flock(LOCK_EX) on <dir>/install.lock (creating the
 * directory), returning the descriptor to keep open for the whole run (a detached install's
 * child shares it). Held by another install: NM_ERR_REFUSED naming its pid and phase and
 * `status --follow`. */
int agent_state_lock(const char *dir, int *fd, struct nm_error *e);

/* Loads <dir>/state.json; -ENOENT when there is none. */
int agent_state_load(struct agent_state *st, const char *dir, struct nm_error *e);
/* A fresh state for a new run (overwrites nothing until saved). */
int agent_state_new(struct agent_state *st, const char *dir, const char *command, struct nm_error *e);
/* Writes atomically (tmp + fsync + rename), to <dir> and to each mirror directory given. */
int agent_state_save(const struct agent_state *st, const char *mirror_dir, struct nm_error *e);
void agent_state_free(struct agent_state *st);
#define _cleanup_agent_state_ _cleanup_(agent_state_free)

bool agent_state_phase_done(const struct agent_state *st, const char *phase);
/* The products recorded when the phase finished (borrowed), or NULL. */
json_object *agent_state_products(const struct agent_state *st, const char *phase);
void agent_state_mark_running(struct agent_state *st, const char *phase);
/* Forgets that a phase finished (a resume that must redo it). */
void agent_state_mark_undone(struct agent_state *st, const char *phase);
void agent_state_mark_done(struct agent_state *st, const char *phase, double seconds, json_object *products);
void agent_state_mark_result(struct agent_state *st, const char *result, const struct nm_error *err);
/* Plain fields at the top level: "plan", "options", "target", ... (the object is taken). */
void agent_state_set(struct agent_state *st, const char *key, json_object *value);
json_object *agent_state_get(const struct agent_state *st, const char *key);
