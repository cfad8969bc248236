/* cmd_status.c: `nmmm-agent status [--follow] [--json]` — progress and result of the current or
 * last install, read from its state file and log; works from any SSH session while a detached
 * install runs. Reads only. With --follow, waits for the end and exits with the install's exit
 * code. */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/pipeline.h"
#include "agent/state.h"

static const char status_help[] =
    "usage: nmmm-agent status [--follow] [--json] [--state-dir DIR]\n\n"
    "Shows which phases of the current or last install finished, which one runs, and the result.\n\n"
    "  --follow          print the install log as it grows until the install ends; exit with its\n"
    "                    exit code (0 done, 1 failed, 2 usage, 3 refused, 4 verification)\n"
    "  --json            the state file as JSON\n"
    "  --state-dir DIR   where the install keeps its state (default " AGENT_DEFAULT_STATE_DIR ")\n";

static const char *str_field(json_object *o, const char *key)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
	    ? json_object_get_string(v)
	    : NULL;
}

static bool pid_alive(json_object *root)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(root, "pid", &v))
		return false;
	pid_t pid = (pid_t)json_object_get_int(v);
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* "running" only while the recorded process lives: a killed agent leaves "running" behind. */
static const char *effective_result(const struct agent_state *st)
{
	const char *result = str_field(st->root, "result");
	if (!result)
		return "unknown";
	if (strcmp(result, "running") == 0 && !pid_alive(st->root))
		return "interrupted";
	return result;
}

static int result_exit_code(const struct agent_state *st)
{
	const char *result = effective_result(st);
	if (strcmp(result, "done") == 0)
		return 0;
	json_object *err = agent_state_get(st, "error"), *code = NULL;
	if (err && json_object_object_get_ex(err, "exit_code", &code))
		return json_object_get_int(code);
	return 1;
}

static void print_human(const struct agent_state *st)
{
	const char *result = effective_result(st);
	const char *current = str_field(st->root, "current_phase");
	printf("install: %s", result);
	if (strcmp(result, "running") == 0 && current)
		printf(" (phase %s)", current);
	printf("\n");
	for (size_t i = 0; i < agent_phase_count(); i++) {
		if (!(agent_phase_at(i)->commands & AGENT_FOR_INSTALL))
			continue;
		const char *name = agent_phase_name(i);
		json_object *phases = agent_state_get(st, "phases"), *entry = NULL, *secs = NULL;
		const char *what = "-";
		char buf[64] = "";
		if (phases && json_object_object_get_ex(phases, name, &entry)) {
			what = "done";
			if (json_object_object_get_ex(entry, "seconds", &secs))
				snprintf(buf, sizeof buf, "%.1fs", json_object_get_double(secs));
		} else if (current && strcmp(current, name) == 0) {
			what = strcmp(result, "running") == 0 ? "running" : result;
		}
		printf("  %-10s %-11s %s\n", name, what, buf);
	}
	json_object *err = agent_state_get(st, "error");
	if (err)
		printf("error: %s\n", str_field(err, "message"));
	if (strcmp(result, "interrupted") == 0)
		printf("the agent stopped without finishing; run 'nmmm-agent install --resume' to continue\n");
}

/* Copies what the log gained since *offset to stdout. */
static void follow_log(const char *dir, long *offset)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, AGENT_LOG_FILE);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fseek(f, *offset, SEEK_SET) == 0) {
		char buf[8192];
		size_t k;
		while ((k = fread(buf, 1, sizeof buf, f)) > 0) {
			fwrite(buf, 1, k, stdout);
			*offset += (long)k;
		}
	}
	fclose(f);
	fflush(stdout);
}

int agent_cmd_status(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool follow = false, json = false;
	const char *dir = AGENT_DEFAULT_STATE_DIR;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 'j': json = true; break;
		case 's': dir = optarg; break;
		case 'h': fputs(status_help, stdout); return 0;
		default: return agent_usage_error(e, "status", "status: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "status", "status: unexpected argument '%s'", argv[optind]);

	_cleanup_agent_state_ struct agent_state st = {0};
	long offset = 0;
	for (;;) {
		int r = agent_state_load(&st, dir, e);
		if (r == -ENOENT)
			return nm_fail(e, NM_ERR_USAGE, ENOENT,
				       "%s/%s: no install has run here; start one with 'nmmm-agent install --yes'", dir,
				       AGENT_STATE_FILE);
		if (r < 0)
			return r;
		bool running = strcmp(effective_result(&st), "running") == 0;
		if (!follow || !running)
			break;
		follow_log(dir, &offset);
		agent_state_free(&st);
		sleep(1);
	}
	if (follow)
		follow_log(dir, &offset);
	if (json) {
		json_object_object_add(st.root, "effective_result", json_object_new_string(effective_result(&st)));
		agent_print_json(st.root);
	} else {
		print_human(&st);
	}
	int code = result_exit_code(&st);
	if (follow && code != 0)
		return nm_fail(e, (enum nm_err_class)code, EIO, "the install ended with exit code %d (see above)",
			       code);
	return 0;
}
