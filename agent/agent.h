/* agent.h: the public face of the agent — the command line, the phase pipeline, state/resume,
 * events and progress. The agent is the only place that knows the order of phases. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

/* Where install keeps its state file and log, and where the new system is mounted, unless
 * --state-dir / --target say otherwise. */
#define AGENT_DEFAULT_STATE_DIR "/run/nmmm"
#define AGENT_DEFAULT_TARGET "/mnt"

/* Options every command sees (parsed before the command name). */
struct agent_globals {
	const char *root; /* --root, default "/" */
	const char *log_path; /* --log */
	const char *events_path; /* --events FILE or "-" */
	enum nm_log_level verbosity;
};

/* JSON Lines event stream (--events). */
struct agent_events {
	FILE *out;
	bool owned;
};

struct agent_ctx {
	struct agent_globals g;
	struct agent_events events;
	const char *argv0;
};

/* Runs the command line; returns the process exit code. */
int agent_main(int argc, char **argv);

void agent_event(struct agent_ctx *ctx, const char *phase, const char *event, json_object *fields);

/* Commands: each parses its own options from argv (argv[0] is the command name). */
typedef int (*agent_command_fn)(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
struct agent_command {
	const char *name;
	agent_command_fn run;
	const char *synopsis;
};
const struct agent_command *agent_commands(size_t *n);

int agent_cmd_detect(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_plan(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_render(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_fetch(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_wipe(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_layout(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_install(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_status(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_export(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);

/* Shared by commands: prints "usage: nmmm-agent CMD ..." help text and the bad-usage error. */
int agent_usage_error(struct nm_error *e, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The compiled-in pins with the --config file's pin section applied (every key typed and
 * checked; usage errors name the file and the field). config_path NULL: the defaults. */
struct img_pins;
int agent_config_pins(const char *config_path, struct img_pins *pins, struct nm_error *e);
/* The same, for commands that install nothing: the config is refused as install would. */
int agent_config_pins_check(const char *config_path, struct nm_error *e);
/* Writes a JSON object to stdout, pretty-printed, with a newline. */
void agent_print_json(json_object *obj);
