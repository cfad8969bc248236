/* state.c: the state file of an install (<state-dir>/state.json, mirrored into the target once
 * it is mounted). Written atomically after every phase so a killed agent leaves a state that
 * says exactly what finished. Never decides what runs next: the pipeline does. */
#include "agent/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the state file says of the install holding the lock, for the refusal. */
static char *running_install(const char *dir)
{
	_cleanup_agent_state_ struct agent_state other = {0};
	struct nm_error ignored = {0};
	if (agent_state_load(&other, dir, &ignored) < 0)
		return strdup("");
	json_object *pid = agent_state_get(&other, "pid"), *phase = agent_state_get(&other, "current_phase");
	char *s = nm_strdup_printf(" (pid %d, phase %s)", pid ? json_object_get_int(pid) : 0,
				   phase ? json_object_get_string(phase) : "?");
	return s;
}

#define STATE_LOCK_GRACE_MS 3000

int agent_state_lock(const char *dir, int *fd, struct nm_error *e)
{
	const char *mk[] = {"mkdir", "-p", dir, NULL};
	int r = nm_run(mk, NULL, NULL, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = nm_strdup_printf("%s/%s", dir, AGENT_LOCK_FILE);
	_cleanup_close_ int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open: %s", path, strerror(errno));
	/* A killed install's lock goes with it, but not always at the same instant: a program it was
	 * starting (between fork and exec, the lock's descriptor still open) dies a moment later by
	 * its parent-death signal. A lock held past STATE_LOCK_GRACE_MS is a running install. */
	int tries = STATE_LOCK_GRACE_MS / 50, got;
	while ((got = flock(lfd, LOCK_EX | LOCK_NB)) < 0 && errno == EWOULDBLOCK && --tries > 0) {
		const struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	if (got < 0) {
		int err = errno;
		if (err != EWOULDBLOCK)
			return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot lock: %s", path, strerror(err));
		_cleanup_free_ char *who = running_install(dir);
		return nm_fail(e, NM_ERR_REFUSED, EBUSY,
			       "another install is running with the state in %s%s; follow it with 'nmmm-agent "
			       "status --follow', or wait for it to end before starting again",
			       dir, who ? who : "");
	}
	*fd = lfd;
	lfd = -1;
	return 0;
}

int agent_state_load(struct agent_state *st, const char *dir, struct nm_error *e)
{
	memset(st, 0, sizeof *st);
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *rel = nm_strdup_printf("%s/%s", dir, AGENT_STATE_FILE);
	if (!rel)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = nm_read_file("/", rel, 64u << 20, &text, NULL);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot read: %s", rel, strerror(-r));
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	st->root = json_tokener_parse_ex(tok, text, (int)strlen(text));
	bool complete = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	if (!st->root || !complete || !json_object_is_type(st->root, json_type_object)) {
		json_object_put(st->root);
		st->root = NULL;
		return nm_fail(e, NM_ERR_RUNTIME, EBADMSG,
			       "%s: not a valid state file; move it away to start over (the disks were not touched by "
			       "reading it)",
			       rel);
	}
	st->dir = strdup(dir);
	return st->dir ? 0 : -ENOMEM;
}

int agent_state_new(struct agent_state *st, const char *dir, const char *command, struct nm_error *e)
{
	memset(st, 0, sizeof *st);
	st->dir = strdup(dir);
	st->root = json_object_new_object();
	if (!st->dir || !st->root)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	json_object_object_add(st->root, "version", json_object_new_int(1));
	json_object_object_add(st->root, "command", json_object_new_string(command));
	json_object_object_add(st->root, "started", json_object_new_double(now_seconds()));
	json_object_object_add(st->root, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(st->root, "result", json_object_new_string("running"));
	json_object_object_add(st->root, "phases", json_object_new_object());
	return 0;
}

static int write_atomically(const char *dir, const char *text, struct nm_error *e)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/%s", dir, AGENT_STATE_FILE);
	if (!path)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *mk[] = {"mkdir", "-p", dir, NULL};
	int r = nm_run(mk, NULL, NULL, e);
	if (r < 0)
		return r;
	return nm_write_file_atomic(path, text, strlen(text), 0600, e);
}

int agent_state_save(const struct agent_state *st, const char *mirror_dir, struct nm_error *e)
{
	const char *text =
	    json_object_to_json_string_ext(st->root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = write_atomically(st->dir, text, e);
	if (r == 0 && mirror_dir)
		r = write_atomically(mirror_dir, text, e);
	return r;
}

void agent_state_free(struct agent_state *st)
{
	json_object_put(st->root);
	free(st->dir);
	memset(st, 0, sizeof *st);
}

static json_object *phase_entry(const struct agent_state *st, const char *phase)
{
	json_object *phases = NULL, *entry = NULL;
	if (!json_object_object_get_ex(st->root, "phases", &phases) ||
	    !json_object_object_get_ex(phases, phase, &entry))
		return NULL;
	return entry;
}

bool agent_state_phase_done(const struct agent_state *st, const char *phase)
{
	json_object *entry = phase_entry(st, phase), *done = NULL;
	return entry && json_object_object_get_ex(entry, "done", &done);
}

json_object *agent_state_products(const struct agent_state *st, const char *phase)
{
	json_object *entry = phase_entry(st, phase), *products = NULL;
	if (entry && json_object_object_get_ex(entry, "products", &products))
		return products;
	return NULL;
}

void agent_state_mark_running(struct agent_state *st, const char *phase)
{
	json_object_object_add(st->root, "current_phase", json_object_new_string(phase));
	json_object_object_add(st->root, "result", json_object_new_string("running"));
	json_object_object_add(st->root, "pid", json_object_new_int((int)getpid()));
}

void agent_state_mark_undone(struct agent_state *st, const char *phase)
{
	json_object *phases = NULL;
	if (json_object_object_get_ex(st->root, "phases", &phases))
		json_object_object_del(phases, phase);
}

void agent_state_mark_done(struct agent_state *st, const char *phase, double seconds, json_object *products)
{
	json_object *phases = NULL;
	if (!json_object_object_get_ex(st->root, "phases", &phases)) {
		phases = json_object_new_object();
		json_object_object_add(st->root, "phases", phases);
	}
	json_object *entry = json_object_new_object();
	json_object_object_add(entry, "done", json_object_new_double(now_seconds()));
	json_object_object_add(entry, "seconds", json_object_new_double(seconds));
	if (products)
		json_object_object_add(entry, "products", products);
	json_object_object_add(phases, phase, entry);
}

void agent_state_mark_result(struct agent_state *st, const char *result, const struct nm_error *err)
{
	json_object_object_add(st->root, "result", json_object_new_string(result));
	json_object_object_add(st->root, "finished", json_object_new_double(now_seconds()));
	if (err && err->cls != NM_ERR_NONE) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "class", json_object_new_string(nm_err_class_name(err->cls)));
		json_object_object_add(o, "exit_code", json_object_new_int(nm_exit_code(err)));
		json_object_object_add(o, "message", json_object_new_string(err->msg));
		json_object_object_add(st->root, "error", o);
	} else {
		json_object_object_del(st->root, "error");
	}
}

void agent_state_set(struct agent_state *st, const char *key, json_object *value)
{
	json_object_object_add(st->root, key, value);
}

json_object *agent_state_get(const struct agent_state *st, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(st->root, key, &v) ? v : NULL;
}
