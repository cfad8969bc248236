/* provision-remote.c: provision's time in the rescue system — its SSH awaited and its host key
 * verified before anything is sent, the binary and the named files uploaded and checked, the
 * install started detached and followed live through its events (re-attached after a dropped
 * connection, from the event it had reached). Every remote command is an argv quoted by the
 * remote library; no secret is on any of them. */
#include "agent/provision.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/progress.h"

void provision_event(struct provision_run *run, const char *step, const char *event, json_object *fields)
{
	if (!fields)
		fields = json_object_new_object();
	if (fields && run->display)
		json_object_object_add(fields, "host", json_object_new_string(run->display));
	agent_event(run->ctx, step, event, fields);
}

json_object *provision_event_fields(json_object *ev)
{
	json_object *fields = json_object_new_object();
	json_object_object_foreach(ev, k, val)
	{
		if (fields && strcmp(k, "ts") != 0 && strcmp(k, "phase") != 0 && strcmp(k, "event") != 0)
			json_object_object_add(fields, k, json_object_get(val));
	}
	return fields;
}

void provision_step(struct provision_run *run, const char *step, const char *what)
{
	nm_info("== provision: %s (%s)", step, what);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "what", json_object_new_string(what));
	provision_event(run, step, "start", f);
}

static struct remote_session_opts session_opts(const struct provision_run *run)
{
	return (struct remote_session_opts){
	    .ssh_config = run->o->ssh_config, .identity = run->o->identity, .ssh_options = run->o->ssh_options};
}

/* ---- waiting, with a countdown ---- */

struct countdown {
	struct provision_run *run;
	const char *step;
	const char *what;
	bool tty;
	bool drew;
	unsigned last_event;
};

static void countdown_tick(void *ud, unsigned left)
{
	struct countdown *c = ud;
	if (c->tty) {
		fprintf(stderr, "\r%s: waiting for %s's SSH (%s), %u:%02u left\033[K", c->step, c->run->display,
			c->what, left / 60, left % 60);
		fflush(stderr);
		c->drew = true;
	}
	if (c->last_event == 0 || c->last_event >= left + 10) { /* an event every ten seconds */
		c->last_event = left;
		json_object *f = json_object_new_object();
		json_object_object_add(f, "waiting_for", json_object_new_string(c->what));
		json_object_object_add(f, "seconds_left", json_object_new_int((int)left));
		provision_event(c->run, c->step, "progress", f);
	}
}

/* Until the host's SSH answers (the port set from the target; ssh_config's Port is not seen). */
int provision_wait_ssh(struct provision_run *run, const char *step, const char *what, unsigned timeout,
		       struct nm_error *e)
{
	struct countdown c = {.run = run,
			      .step = step,
			      .what = what,
			      .tty = isatty(STDERR_FILENO) && run->ctx->g.verbosity >= NM_LOG_INFO};
	int r = remote_wait_ssh(&run->target, timeout, countdown_tick, &c, e);
	if (c.drew)
		fputc('\n', stderr);
	return r;
}

/* ---- the rescue's host key ---- */

/* Fingerprints the rescue must show: Robot's, or --rescue-host-key's (a key line is turned into
 * its fingerprint). NULL: none known, trust on first use. */
static int expected_fingerprints(struct provision_run *run, char ***out, struct nm_error *e)
{
	*out = NULL;
	if (run->rescue_fingerprints && run->rescue_fingerprints[0]) {
		*out = nm_strv_new();
		for (size_t i = 0; *out && run->rescue_fingerprints[i]; i++)
			if (nm_strv_push(out, run->rescue_fingerprints[i]) < 0)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		return *out ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	const char *given = run->o->rescue_host_key;
	if (!given)
		return 0;
	*out = nm_strv_new();
	if (!*out)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (strchr(given, ' ')) {
		struct remote_host_key k = {0};
		int r = remote_host_key_parse(given, &k, e);
		if (r < 0) {
			struct nm_error inner = *e;
			*e = (struct nm_error){0};
			return nm_fail(e, NM_ERR_USAGE, -r, "--rescue-host-key: %s", inner.msg);
		}
		r = nm_strv_push(out, k.sha256);
		remote_host_key_free(&k);
		return r < 0 ? nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory") : 0;
	}
	return nm_strv_push(out, given) < 0 ? nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory") : 0;
}

/* "ssh-ed25519 SHA256:..., ..." for messages. */
static char *fingerprint_list(const struct remote_host_key *keys, size_t n)
{
	_cleanup_strv_free_ char **each = nm_strv_new();
	for (size_t i = 0; each && i < n; i++) {
		_cleanup_free_ char *one = nm_strdup_printf("%s %s", keys[i].type, keys[i].sha256);
		if (!one || nm_strv_push(&each, one) < 0)
			return NULL;
	}
	return each ? nm_strv_join(each, ", ") : NULL;
}

/* Picks the scanned key to pin: the one matching what is expected, or every scanned key on
 * first use. A mismatch is a refusal before any command is sent. */
static int choose_rescue_key(struct provision_run *run, struct remote_host_key *scanned, size_t n, struct nm_error *e)
{
	_cleanup_strv_free_ char **expected = NULL;
	int r = expected_fingerprints(run, &expected, e);
	if (r < 0)
		return r;
	if (!expected) {
		_cleanup_free_ char *list = fingerprint_list(scanned, n);
		nm_warn("rescue: %s's host key is trusted on first use (%s): nothing says it is the rescue "
			"system; pass --rescue-host-key, or use --robot-server, to verify it",
			run->display, list ? list : "?");
		run->rescue_keys = scanned;
		run->n_rescue_keys = n;
		return 0;
	}
	int i = remote_host_key_match(scanned, n, expected);
	if (i < 0) {
		_cleanup_free_ char *list = fingerprint_list(scanned, n);
		_cleanup_free_ char *want = nm_strv_join(expected, ", ");
		remote_host_keys_free(scanned, n);
		return nm_fail(e, NM_ERR_REFUSED, EPERM,
			       "rescue: %s answers with host key %s, but %s says %s: this is not the rescue "
			       "system you activated (or a man in the middle); nothing was sent. Check the "
			       "address, wait for the reset to finish, and run again",
			       run->display, list ? list : "?",
			       run->rescue_fingerprints ? "Robot" : "--rescue-host-key", want ? want : "?");
	}
	/* Only the verified key is pinned. */
	run->rescue_keys = calloc(1, sizeof *run->rescue_keys);
	if (!run->rescue_keys) {
		remote_host_keys_free(scanned, n);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	run->rescue_keys[0] = scanned[i];
	scanned[i] = (struct remote_host_key){0};
	run->n_rescue_keys = 1;
	remote_host_keys_free(scanned, n);
	nm_info("rescue: host key %s %s verified", run->rescue_keys[0].type, run->rescue_keys[0].sha256);
	return 0;
}

long provision_now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

/* Its SSH awaited (at most TIMEOUT seconds), its keys scanned, the one to pin chosen. */
static int scan_rescue(struct provision_run *run, unsigned timeout, struct nm_error *e)
{
	int r = provision_wait_ssh(run, "rescue", "the rescue system", timeout, e);
	struct remote_host_key *scanned = NULL;
	size_t n = 0;
	if (r == 0)
		r = remote_keyscan(&run->target, 30, &scanned, &n, e);
	if (r == 0 && n == 0)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			    "rescue: %s answers SSH but offers no host key to ssh-keyscan; check that it is the rescue "
			    "system (Robot → Server → Rescue) and that nothing filters the connection",
			    run->display);
	remote_host_keys_free(run->rescue_keys, run->n_rescue_keys);
	run->rescue_keys = NULL;
	run->n_rescue_keys = 0;
	if (r == 0)
		return choose_rescue_key(run, scanned, n, e);
	remote_host_keys_free(scanned, n);
	return r;
}

/* What `uname -s -m` says on the only machine this binary runs on (every Hetzner dedicated
 * server's rescue is one). */
#define RESCUE_MACHINE "Linux x86_64"

/* A host that is anything else (an ARM cloud server, a BSD) is refused before the upload, with
 * what it is (the last line: a login script's chatter may come before it). */
static int check_rescue_machine(struct provision_run *run, struct nm_error *e)
{
	const char *argv[] = {"uname", "-s", "-m", NULL};
	struct remote_run_opts ro = {.timeout_sec = 60};
	_cleanup_run_result_ struct nm_run_result res = {0};
	int r = remote_run(run->session, argv, &ro, &res, e);
	if (r < 0)
		return r;
	char machine[128];
	if (strcmp(nm_last_line(res.output, res.output_len, machine, sizeof machine), RESCUE_MACHINE) == 0)
		return 0;
	return nm_fail(e, NM_ERR_REFUSED, ENOEXEC,
		       "rescue: %s is '%s', not '" RESCUE_MACHINE "': this binary cannot run there and nothing "
		       "was sent. Boot the server into Hetzner's Linux rescue system (64 bit) and run again",
		       run->display, machine[0] ? machine : "(uname printed nothing)");
}

/* Right after Robot's reset the system that ran before may answer for a few seconds more, with
 * its own host key: that is asked again (nothing is sent to it) until the rescue answers or
 * --rescue-timeout ends, when the refusal stands. Without Robot nothing was reset: it stands at once. */
int provision_rescue_connect(struct provision_run *run, struct nm_error *e)
{
	provision_step(run, "rescue", run->display);
	long deadline = provision_now_sec() + (long)run->o->rescue_timeout;
	int r;
	for (bool said = false;; said = true) {
		long left = deadline - provision_now_sec();
		r = scan_rescue(run, left > 0 ? (unsigned)left : 1, e);
		if (r != -EPERM || !run->robot || provision_now_sec() + 3 >= deadline)
			break;
		if (!said)
			nm_warn("rescue: %s still answers with a host key that is not the rescue's (the system "
				"before the reset, going down?); asking again until the rescue answers",
				run->display);
		*e = (struct nm_error){0};
		sleep(3);
	}
	if (run->session) {
		remote_session_close(run->session);
		run->session = NULL;
	}
	struct remote_session_opts so = session_opts(run);
	if (r == 0)
		r = remote_session_open(&run->target, run->rescue_keys, run->n_rescue_keys, &so, &run->session, e);
	if (r == 0)
		r = check_rescue_machine(run, e);
	if (r == 0) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "host_key", json_object_new_string(run->rescue_keys[0].sha256));
		json_object_object_add(f, "machine", json_object_new_string(RESCUE_MACHINE));
		provision_event(run, "rescue", "done", f);
	}
	return r;
}

/* ---- upload ---- */

int provision_upload_agent(struct provision_run *run, struct nm_error *e)
{
	free(run->remote_agent);
	run->remote_agent = nm_strdup_printf("%s/nmmm-agent", run->o->remote_dir);
	if (!run->remote_agent)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	/* the upload makes --remote-dir (0700) when it is missing */
	return remote_upload(run->session, "/proc/self/exe", run->remote_agent, 0755, e);
}

int provision_upload(struct provision_run *run, struct nm_error *e)
{
	provision_step(run, "upload", "the agent and the files the install options name");
	int r = provision_upload_agent(run, e);
	for (size_t i = 0; r == 0 && i < run->o->n_files; i++) {
		const struct provision_file_arg *f = &run->o->files[i];
		_cleanup_free_ char *dest = nm_strdup_printf("%s/%s", run->o->remote_dir, f->remote_name);
		if (!dest)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		r = remote_upload(run->session, f->local, dest, 0600, e);
		if (r < 0)
			return r;
	}
	if (r == 0)
		provision_event(run, "upload", "done", NULL);
	return r;
}

/* ---- the install, followed ---- */

static int push_all(char ***v, const char *const *items, struct nm_error *e)
{
	for (size_t i = 0; items[i]; i++)
		if (nm_strv_push(v, items[i]) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return 0;
}

/* nmmm-agent install --detach --no-reboot [options, files named by their uploaded copies]. */
static int install_argv(const struct provision_run *run, char ***argv, struct nm_error *e)
{
	*argv = nm_strv_new();
	const char *head[] = {run->remote_agent, "install", "--detach", "--no-reboot", NULL};
	int r = *argv ? push_all(argv, head, e) : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < run->o->n_files; i++) {
		_cleanup_free_ char *flag = nm_strdup_printf("--%s", run->o->files[i].option);
		_cleanup_free_ char *path = nm_strdup_printf("%s/%s", run->o->remote_dir, run->o->files[i].remote_name);
		const char *pair[] = {flag, path, NULL};
		r = flag && path ? push_all(argv, pair, e) : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (r == 0 && run->o->install_args)
		r = push_all(argv, (const char *const *)run->o->install_args, e);
	return r;
}

const char *provision_remote_error_line(const char *out, size_t *len)
{
	const char *last = NULL;
	for (const char *p = out; p && *p;) {
		if (strncmp(p, "nmmm-agent: ", 12) == 0)
			last = p + 12;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	*len = last ? strcspn(last, "\n") : 0;
	return last;
}

/* Starts it; it confirms in the foreground (the disks it will erase are shown here) and
 * detaches. Without --yes it stops there with exit 3, having written nothing. */
static int install_start(struct provision_run *run, struct nm_error *e)
{
	_cleanup_strv_free_ char **argv = NULL;
	int r = install_argv(run, &argv, e);
	if (r < 0)
		return r;
	struct remote_run_opts ro = {.timeout_sec = 1800, .allow_failure = true};
	_cleanup_run_result_ struct nm_run_result res = {0};
	r = remote_run(run->session, (const char *const *)argv, &ro, &res, e);
	if (r < 0)
		return r;
	if (res.output_len)
		fwrite(res.output, 1, res.output_len, stdout);
	fflush(stdout);
	if (res.exit_status == 0)
		return 0;
	size_t len = 0;
	const char *msg = provision_remote_error_line(res.output, &len);
	if (!msg)
		return nm_fail(e, nm_err_class_of_exit(res.exit_status), EIO,
			       "install on %s exited with %d without an error of its own (its output is above)",
			       run->display, res.exit_status);
	return nm_fail(e, nm_err_class_of_exit(res.exit_status), EIO, "install on %s: %.*s", run->display, (int)len,
		       msg);
}

/* ---- remote events shown here ---- */

struct remote_view {
	struct provision_run *run;
	struct agent_progress progress;
	bool in_progress;
	char phase[64];
};

/* A remote event's own fields, marked as the remote install's, to pass on as provision's. */
static json_object *remote_fields(json_object *ev)
{
	json_object *fields = provision_event_fields(ev);
	if (fields)
		json_object_object_add(fields, "remote", json_object_new_boolean(1));
	return fields;
}

static int64_t field_i64(json_object *o, const char *k)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static void show_progress(struct remote_view *v, const char *phase, json_object *ev)
{
	if (!v->in_progress || strcmp(v->phase, phase) != 0) {
		snprintf(v->phase, sizeof v->phase, "%s", phase);
		agent_progress_init(&v->progress, v->run->ctx, v->phase, NULL);
		v->in_progress = true;
	}
	v->progress.label = nm_json_str(ev, "what");
	int64_t bytes = field_i64(ev, "bytes"), rate = field_i64(ev, "rate");
	struct img_progress p = {.bytes = (uint64_t)bytes,
				 .total = (uint64_t)field_i64(ev, "total"),
				 .elapsed_sec = rate > 0 ? (double)bytes / (double)rate : 0,
				 .attempt = (unsigned)field_i64(ev, "attempt")};
	agent_progress_draw(&v->progress, &p);
	v->progress.label = NULL;
	provision_event(v->run, phase, "progress", remote_fields(ev));
}

static void end_progress(struct remote_view *v)
{
	if (v->in_progress)
		agent_progress_finish(&v->progress, true);
	v->in_progress = false;
}

/* An event of the remote install, on this console as a local install shows it. */
static void show_event(struct remote_view *v, json_object *ev)
{
	const char *phase = nm_json_str(ev, "phase"), *what = nm_json_str(ev, "event");
	if (!phase || !what)
		return;
	if (strcmp(what, "progress") == 0) {
		show_progress(v, phase, ev);
		return;
	}
	end_progress(v);
	if (strcmp(what, "start") == 0)
		nm_info("== %s", phase);
	else if (strcmp(what, "error") == 0)
		nm_log(NM_LOG_ERROR, "%s: %s", phase,
		       nm_json_str(ev, "message") ? nm_json_str(ev, "message") : "failed");
	provision_event(v->run, phase, what, remote_fields(ev));
}

void provision_remote_line(void *ud, const char *line, size_t len)
{
	struct remote_view *v = ud;
	if (len == 0)
		return;
	json_object *ev = line[0] == '{' ? json_tokener_parse(line) : NULL;
	if (!ev || !json_object_is_type(ev, json_type_object)) {
		json_object_put(ev);
		nm_debug("%s: %.*s", v->run->display, (int)len, line);
		return;
	}
	v->run->events_seen++;
	show_event(v, ev);
	json_object_put(ev);
}

/* status --follow --events --from N: the install's events from the N-th on, until it ends. */
static int follow_once(struct provision_run *run, struct remote_view *view, int *exit_status, struct nm_error *e)
{
	char from[32];
	snprintf(from, sizeof from, "%lu", run->events_seen);
	_cleanup_strv_free_ char **argv = nm_strv_new();
	const char *head[] = {run->remote_agent, "status", "--follow", "--events", "--from", from, NULL};
	int r = argv ? push_all(&argv, head, e) : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r == 0 && run->o->state_dir) {
		const char *sd[] = {"--state-dir", run->o->state_dir, NULL};
		r = push_all(&argv, sd, e);
	}
	if (r < 0)
		return r;
	struct remote_run_opts ro = {
	    .timeout_sec = 6 * 3600, .allow_failure = true, .on_line = provision_remote_line, .on_line_ud = view};
	_cleanup_run_result_ struct nm_run_result res = {0};
	r = remote_run(run->session, (const char *const *)argv, &ro, &res, e);
	end_progress(view);
	*exit_status = res.exit_status;
	if (r == 0 && res.exit_status != 0 && res.exit_status != 255) {
		size_t len = 0;
		const char *msg = provision_remote_error_line(res.output, &len);
		nm_debug("install on %s ended with %d: %.*s", run->display, res.exit_status, (int)len, msg ? msg : "");
	}
	return r;
}

/* The connection dropped: wait for SSH again and re-open the session (same pinned key). */
static int reattach(struct provision_run *run, struct nm_error *e)
{
	nm_warn("install: the connection to %s dropped after %lu events; reconnecting (the install goes on)",
		run->display, run->events_seen);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "events_seen", json_object_new_int64((int64_t)run->events_seen));
	provision_event(run, "install", "reconnect", f);
	int r = provision_wait_ssh(run, "install", "the rescue system again", PROVISION_RECONNECT_TIMEOUT, e);
	if (r == 0)
		r = remote_session_reconnect(run->session, e);
	return r;
}

int provision_install(struct provision_run *run, struct nm_error *e)
{
	provision_step(run, "install", "install --detach, followed");
	int r = install_start(run, e);
	if (r < 0)
		return r;
	struct remote_view view = {.run = run};
	int status = 255;
	for (unsigned drops = 0; r == 0; drops++) {
		r = follow_once(run, &view, &status, e);
		if (r < 0 || status != 255)
			break;
		if (drops >= 20)
			return nm_fail(e, NM_ERR_RUNTIME, ECONNRESET,
				       "install: the connection to %s dropped %u times; the install may still run "
				       "there: ssh %s %s status --follow",
				       run->display, drops, run->display, run->remote_agent);
		r = reattach(run, e);
	}
	if (r < 0)
		return r;
	run->remote_exit = status;
	if (status != 0)
		return nm_fail(e, nm_err_class_of_exit(status), EIO,
			       "install on %s ended with exit code %d (its error is above; the log is %s/install.log "
			       "there); fix the cause and run provision again with --resume",
			       run->display, status, run->o->state_dir ? run->o->state_dir : AGENT_DEFAULT_STATE_DIR);
	provision_event(run, "install", "done", NULL);
	return 0;
}
