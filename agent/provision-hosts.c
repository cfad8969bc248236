/* provision-hosts.c: `provision --hosts FILE.json [-j N]` — one provisioning per entry, each a
 * child `nmmm-agent provision` of its own (run by the one program runner, at most N at once),
 * followed through its events: a status line per host on a terminal, the events passed on with
 * the host otherwise, and a summary table at the end. One host failing never stops the others.
 * Past one machine, an orchestrator drives single provisions the same way (docs/fleet.md). */
#include "agent/provision.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOSTS_MAX 256

struct host_job {
	char *name; /* "root@HOST" or the Robot number, for the table */
	char **argv;
	char phase[48]; /* the last step or phase reached */
	char message[256]; /* the last error message */
	struct agent_ctx *ctx;
	struct hosts_view *view;
	size_t index;
};

struct hosts_view {
	struct host_job *jobs;
	size_t n;
	bool tty;
	bool drawn;
};

static int push(char ***v, const char *s, struct nm_error *e)
{
	return nm_strv_push(v, s) < 0 ? nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory") : 0;
}

/* The options given once for all hosts (ssh, timeouts), passed to every child. */
static int push_common(char ***argv, const struct provision_opts *o, struct nm_error *e)
{
	char num[32];
	int r = 0;
	const char *pairs[][2] = {
	    {"--ssh-config", o->ssh_config},
	    {"--identity", o->identity},
	    {"--robot-url", strcmp(o->robot_url, ROBOT_DEFAULT_URL) ? o->robot_url : NULL},
	    {"--robot-credentials", o->robot_credentials},
	    {"--remote-dir", strcmp(o->remote_dir, PROVISION_DEFAULT_REMOTE_DIR) ? o->remote_dir : NULL}};
	for (size_t i = 0; r == 0 && i < NM_ELEMENTSOF(pairs); i++)
		if (pairs[i][1])
			r = push(argv, pairs[i][0], e) ?: push(argv, pairs[i][1], e);
	for (size_t i = 0; r == 0 && o->ssh_options && o->ssh_options[i]; i++)
		r = push(argv, "--ssh-option", e) ?: push(argv, o->ssh_options[i], e);
	snprintf(num, sizeof num, "%u", o->rescue_timeout);
	if (r == 0)
		r = push(argv, "--rescue-timeout", e) ?: push(argv, num, e);
	snprintf(num, sizeof num, "%u", o->boot_timeout);
	if (r == 0)
		r = push(argv, "--boot-timeout", e) ?: push(argv, num, e);
	if (r == 0 && o->no_reboot)
		r = push(argv, "--no-reboot", e);
	return r;
}

/* One entry: {"host", "robot_server", "config", "out", "args": [...]}; anything else is a
 * usage error naming the entry, so a typo never provisions a server with defaults. */
static int entry_argv(const struct provision_opts *o, json_object *ent, size_t i, const char *file, struct host_job *j,
		      struct nm_error *e)
{
	if (!json_object_is_type(ent, json_type_object))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: entry %zu is not an object; write {\"host\": \"root@HOST\", ...}", file, i + 1);
	json_object_object_foreach(ent, key, val)
	{
		(void)val;
		static const char *const known[] = {"host", "robot_server", "config", "out", "args", NULL};
		if (!nm_strv_contains((char *const *)known, key))
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "%s: entry %zu: unknown field '%s' (host, robot_server, config, out, args)",
				       file, i + 1, key);
	}
	const char *host = nm_json_str(ent, "host"), *config = nm_json_str(ent, "config"),
		   *out = nm_json_str(ent, "out");
	json_object *num = NULL, *args = NULL;
	bool has_num = json_object_object_get_ex(ent, "robot_server", &num);
	if (has_num && !json_object_is_type(num, json_type_int))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: entry %zu: robot_server is a number (Robot → Server), not a string", file, i + 1);
	if (!host && !has_num)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: entry %zu names neither host nor robot_server; give one of them", file, i + 1);
	j->argv = nm_strv_new();
	char self[] = "/proc/self/exe", numbuf[32];
	int r = j->argv ? push(&j->argv, self, e) : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r == 0)
		r = push(&j->argv, "--events", e) ?: push(&j->argv, "-", e) ?: push(&j->argv, "provision", e);
	if (r == 0)
		r = push_common(&j->argv, o, e);
	if (r == 0 && has_num) {
		snprintf(numbuf, sizeof numbuf, "%d", json_object_get_int(num));
		r = push(&j->argv, "--robot-server", e) ?: push(&j->argv, numbuf, e);
	}
	if (r == 0 && config)
		r = push(&j->argv, "--config", e) ?: push(&j->argv, config, e);
	if (r == 0 && out)
		r = push(&j->argv, "--out", e) ?: push(&j->argv, out, e);
	if (r == 0 && json_object_object_get_ex(ent, "args", &args)) {
		if (!json_object_is_type(args, json_type_array))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: entry %zu: args is a list of strings", file,
				       i + 1);
		for (size_t k = 0; r == 0 && k < json_object_array_length(args); k++) {
			json_object *a = json_object_array_get_idx(args, k);
			if (!json_object_is_type(a, json_type_string))
				return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: entry %zu: args[%zu] is not a string",
					       file, i + 1, k);
			r = push(&j->argv, json_object_get_string(a), e);
		}
	}
	if (r == 0 && host)
		r = push(&j->argv, host, e);
	j->name = host ? strdup(host) : nm_strdup_printf("robot server %s", numbuf);
	snprintf(j->phase, sizeof j->phase, "waiting");
	return r == 0 && !j->name ? nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory") : r;
}

static void draw(struct hosts_view *v)
{
	if (!v->tty)
		return;
	if (v->drawn)
		fprintf(stderr, "\033[%zuA", v->n);
	for (size_t i = 0; i < v->n; i++)
		fprintf(stderr, "\r%-28.28s %-12.12s %.60s\033[K\n", v->jobs[i].name, v->jobs[i].phase,
			v->jobs[i].message);
	fflush(stderr);
	v->drawn = true;
}

/* A child's line: an event updates its status line and is passed on under the entry's name, the
 * name the table and the summary show, so one host's events are found by one value; the child's
 * own "host" (the address it connected to), when it says something else, becomes "target". */
static void on_child_line(void *ud, const char *line, size_t len)
{
	struct host_job *j = ud;
	json_object *ev = len && line[0] == '{' ? json_tokener_parse(line) : NULL;
	if (!ev || !json_object_is_type(ev, json_type_object)) {
		json_object_put(ev);
		nm_debug("%s: %.*s", j->name, (int)len, line);
		return;
	}
	const char *phase = nm_json_str(ev, "phase"), *what = nm_json_str(ev, "event"),
		   *msg = nm_json_str(ev, "message");
	if (phase && what && strcmp(what, "start") == 0)
		snprintf(j->phase, sizeof j->phase, "%s", phase);
	if (msg && what && strcmp(what, "error") == 0)
		snprintf(j->message, sizeof j->message, "%s", msg);
	if (phase && what) {
		json_object *f = provision_event_fields(ev);
		json_object *child_host = NULL;
		if (f && json_object_object_get_ex(f, "host", &child_host) &&
		    strcmp(json_object_get_string(child_host), j->name) != 0)
			json_object_object_add(f, "target", json_object_get(child_host));
		if (f)
			json_object_object_add(f, "host", json_object_new_string(j->name));
		agent_event(j->ctx, phase, what, f);
	}
	json_object_put(ev);
	draw(j->view);
}

/* The child gets the operator's environment for ssh and Robot: its agent, its home, the
 * credentials (the environment, never argv); and a sanitizer build's options, the child being
 * the same build. */
static char **child_env(void)
{
	static const char *const names[] = {
	    "HOME", "USER", "SSH_AUTH_SOCK", "NMMM_ROBOT_USER", "NMMM_ROBOT_PASSWORD", "ASAN_OPTIONS", "UBSAN_OPTIONS"};
	char **env = nm_strv_new();
	for (size_t i = 0; env && i < NM_ELEMENTSOF(names); i++) {
		const char *v = getenv(names[i]);
		_cleanup_free_ char *kv = v ? nm_strdup_printf("%s=%s", names[i], v) : NULL;
		if (kv && nm_strv_push(&env, kv) < 0)
			return nm_strv_free(env), NULL;
	}
	return env;
}

static const char *result_name(int status)
{
	switch (status) {
	case 0: return "installed";
	case 2: return "bad usage";
	case 3: return "refused";
	case 4: return "verification failed";
	default: return "failed";
	}
}

static void print_summary(const struct host_job *jobs, const struct nm_run_job *runs, size_t n)
{
	printf("\n%-28s %-20s %8s %4s\n", "host", "result", "time", "exit");
	for (size_t i = 0; i < n; i++)
		printf("%-28.28s %-20s %7.0fs %4d\n", jobs[i].name, result_name(runs[i].exit_status), runs[i].seconds,
		       runs[i].exit_status);
	fflush(stdout);
}

static int read_hosts(const char *file, json_object **arr, struct nm_error *e)
{
	int r = nm_json_read_file_text(file, "--hosts", arr, NULL, NULL, e);
	if (r < 0)
		return r;
	size_t n = json_object_is_type(*arr, json_type_array) ? json_object_array_length(*arr) : 0;
	if (n == 0 || n > HOSTS_MAX)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: a list of 1 to %d servers, e.g. [{\"host\": \"root@HOST\"}]", file, HOSTS_MAX);
	return 0;
}

int provision_hosts(struct agent_ctx *ctx, const struct provision_opts *o, struct nm_error *e)
{
	_cleanup_json_ json_object *arr = NULL;
	int r = read_hosts(o->hosts_file, &arr, e);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(arr);
	struct host_job *jobs = calloc(n, sizeof *jobs);
	struct nm_run_job *runs = calloc(n, sizeof *runs);
	_cleanup_strv_free_ char **env = child_env();
	struct hosts_view view = {
	    .jobs = jobs, .n = n, .tty = isatty(STDERR_FILENO) && ctx->g.verbosity >= NM_LOG_INFO};
	if (!jobs || !runs || !env)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < n; i++) {
		jobs[i] = (struct host_job){.ctx = ctx, .view = &view, .index = i};
		r = entry_argv(o, json_object_array_get_idx(arr, i), i, o->hosts_file, &jobs[i], e);
		runs[i] = (struct nm_run_job){
		    .argv = (const char *const *)jobs[i].argv,
		    .opts = {.timeout_sec = 8 * 3600,
			     .extra_env = env,
			     .allow_failure = true,
			     .on_line = on_child_line,
			     .on_line_ud = &jobs[i]},
		};
	}
	unsigned failed = 0;
	if (r == 0) {
		nm_info("provision: %zu servers, at most %u at once", n, o->jobs);
		draw(&view);
		r = nm_run_many(runs, n, o->jobs, e);
	}
	if (r == 0) {
		for (size_t i = 0; i < n; i++) {
			snprintf(jobs[i].phase, sizeof jobs[i].phase, "%s", result_name(runs[i].exit_status));
			failed += runs[i].exit_status != 0;
		}
		draw(&view);
		print_summary(jobs, runs, n);
	}
	for (size_t i = 0; jobs && i < n; i++) {
		free(jobs[i].name);
		nm_strv_free(jobs[i].argv);
	}
	free(jobs);
	free(runs);
	if (r == 0 && failed)
		r = nm_fail(e, NM_ERR_RUNTIME, EIO,
			    "provision: %u of %zu servers failed (see the table and their events); run them again "
			    "alone to see why",
			    failed, n);
	return r;
}
