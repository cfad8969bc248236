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
    "usage: nmmm-agent status [--follow [--events [--from N]]] [--json] [--state-dir DIR]\n\n"
    "Shows which phases of the current or last install finished, which one runs, and the result.\n\n"
    "  --follow          print the install log as it grows until the install ends; exit with its\n"
    "                    exit code (0 done, 1 failed, 2 usage, 3 refused, 4 verification)\n"
    "  --events          with --follow: print the install's events (JSON Lines, " AGENT_EVENTS_FILE ")\n"
    "                    instead of its log, each complete line once\n"
    "  --from N          with --events: start after the first N events (a follower that\n"
    "                    re-attaches after a dropped connection passes how many it has seen)\n"
    "  --json            the state file as JSON\n"
    "  --state-dir DIR   where the install keeps its state (default " AGENT_DEFAULT_STATE_DIR ")\n";

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
	const char *result = nm_json_str(st->root, "result");
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
	const char *current = nm_json_str(st->root, "current_phase");
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
		printf("error: %s\n", nm_json_str(err, "message"));
	if (strcmp(result, "interrupted") == 0)
		printf("the agent stopped without finishing; run 'nmmm-agent install --resume' to continue\n");
}

/* What --follow copies to stdout and how far it got: the log byte for byte, or the events
 * file a complete line at a time (a line being written is left for the next round), skipping
 * the first `skip` lines. */
struct follow {
	const char *file; /* AGENT_LOG_FILE or AGENT_EVENTS_FILE */
	bool whole_lines;
	long offset;
	unsigned long skip; /* lines still to pass over */
};

static void follow_copy(const char *dir, struct follow *fw)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, fw->file);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fseek(f, fw->offset, SEEK_SET) == 0) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t k;
		while ((k = getline(&line, &cap, f)) > 0) {
			if (fw->whole_lines && line[k - 1] != '\n')
				break;
			fw->offset += (long)k;
			if (fw->whole_lines && fw->skip > 0) {
				fw->skip--;
				continue;
			}
			fwrite(line, 1, (size_t)k, stdout);
		}
		free(line);
	}
	fclose(f);
	fflush(stdout);
}

int agent_cmd_status(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"events", no_argument, NULL, 'e'},
	    {"from", required_argument, NULL, 'F'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	bool follow = false, json = false, events = false;
	const char *dir = AGENT_DEFAULT_STATE_DIR, *from = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 'j': json = true; break;
		case 'e': events = true; break;
		case 'F': from = optarg; break;
		case 's': dir = optarg; break;
		case 'h': fputs(status_help, stdout); return 0;
		default: return agent_usage_error(e, "status", "status: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "status", "status: unexpected argument '%s'", argv[optind]);
	if ((events && !follow) || (from && !events))
		return agent_usage_error(e, "status", "status: --events needs --follow, and --from needs --events");
	struct follow fw = {.file = events ? AGENT_EVENTS_FILE : AGENT_LOG_FILE, .whole_lines = events};
	if (from) {
		char *end = NULL;
		errno = 0;
		unsigned long n = strtoul(from, &end, 10);
		if (errno || end == from || *end || from[0] == '-')
			return agent_usage_error(e, "status", "status: --from takes a number of events, not '%s'",
						 from);
		fw.skip = n;
	}

	_cleanup_agent_state_ struct agent_state st = {0};
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
		follow_copy(dir, &fw);
		agent_state_free(&st);
		sleep(1);
	}
	if (follow)
		follow_copy(dir, &fw);
	/* With --events stdout holds events only; the result is the exit code. */
	if (json && !events) {
		json_object_object_add(st.root, "effective_result", json_object_new_string(effective_result(&st)));
		agent_print_json(st.root);
	} else if (!events) {
		print_human(&st);
	}
	int code = result_exit_code(&st);
	if (follow && code != 0)
		return nm_fail(e, nm_err_class_of_exit(code), EIO, "the install ended with exit code %d (see above)",
			       code);
	return 0;
}
