/* agent.h: the public face of the agent — the command line, the phase pipeline, state/resume,
 * events, progress and the rendered Nix files. The agent is the only place that knows the order
 * of phases, and the only library that knows disk and netcfg both: it composes their parts. */
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
	/* install's own copy, <state-dir>/events.jsonl, whatever --events says: `status --follow
	 * --events` reads it from another session (provision follows an install through it). */
	FILE *copy;
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
/* What an option parser returns when it printed --help or --version: the command ends there,
 * successfully. One value, so no caller confuses it with a count or an error. */
#define AGENT_HELP_SHOWN 1

int agent_cmd_detect(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_plan(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_render(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_fetch(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_wipe(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_layout(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_install(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_status(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_export(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
int agent_cmd_provision(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
/* In the rescue, after the installed system did not come back: the likely cause, read-only
 * (cmd_diagnose.c; docs/provision.md, "Diagnosis"). */
int agent_cmd_diagnose(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);
/* Rebuilds a dead mirror member on a blank disk (cmd_replace.c; docs/replace-a-disk.md). */
int agent_cmd_replace(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e);

/* Shared by commands: prints "usage: nmmm-agent CMD ..." help text and the bad-usage error. */
int agent_usage_error(struct nm_error *e, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ---- the --config file (config.c): read once per command, handed down ---- */
struct agent_config {
	const char *path; /* NULL: no --config (every use below then gives the defaults) */
	json_object *json;
	char *sha256; /* hex digest of the bytes parsed: what the resume record compares */
};
/* Reads and parses the file once (usage errors name the file and the byte). */
int agent_config_read(const char *path, struct agent_config *c, struct nm_error *e);
void agent_config_free(struct agent_config *c);
#define _cleanup_agent_config_ _cleanup_(agent_config_free)
/* Its layout fields into an initialised disk_config (the disk library checks each field), and
 * its host name checked as the renderer will use it. */
struct disk_config;
int agent_config_disk(const struct agent_config *c, struct disk_config *cfg, struct nm_error *e);
/* The compiled-in pins with the file's pin section applied (every key typed and checked; usage
 * errors name the file and the field). */
struct img_pins;
int agent_config_pins(const struct agent_config *c, struct img_pins *pins, struct nm_error *e);
/* The same, for commands that install nothing: the config is refused as install would, and the
 * compiled-in nixpkgs past its end of support is warned about as install does. */
int agent_config_pins_check(const struct agent_config *c, struct nm_error *e);
/* The nixpkgs options of install, applied in order: --nixpkgs-from FILE [--nixpkgs-node NAME]
 * or --nixpkgs URL --nixpkgs-hash HASH (not both), then --nixpkgs-release; and the test-only
 * environment: NMMM_TEST_ORIGIN_BASE (a loopback http:// or file:// base standing in for
 * github.com and releases.nixos.org) and, with it and only over the compiled-in pin,
 * NMMM_TEST_NIXPKGS_PIN="REV NAR_HASH" in place of the compiled-in rev and NAR hash (a warning
 * says so). Every tree is verified by its NAR hash all the same. */
struct img_nixpkgs_pin;
int agent_nixpkgs_options(struct img_nixpkgs_pin *p, const char *from, const char *node, const char *url,
			  const char *hash, const char *release, struct nm_error *e);
/* Warns when today (UTC) is past the pinned release's end of support. */
void agent_nixpkgs_support_warn(const struct img_nixpkgs_pin *p);
/* SHA-256 of a buffer in lowercase hex (malloc'd), NULL when out of memory. */
char *agent_sha256_hex(const void *data, size_t len);
/* Writes a JSON object to stdout, pretty-printed, with a newline. */
void agent_print_json(json_object *obj);

/* ---- the machine (machine.c) and root's SSH keys (ssh-keys.c, ssh-key-check.c) ---- */

/* Facts about the machine that the rendered configuration needs besides disks and network. */
struct agent_machine_facts {
	char *cpu_vendor; /* "intel" | "amd" | other vendor string */
	char *virtualisation; /* "none", "kvm", "qemu", ... */
	char **kernel_modules; /* kvm-intel / kvm-amd when the CPU offers it */
	char **ssh_authorized_keys; /* the rescue's /root/.ssh/authorized_keys, the usable lines */
	/* Why the rescue's authorized_keys cannot be used (a line holding a control character), or
	 * NULL: detect reports it as a warning, agent_ssh_keys_gather refuses with it (exit 2). */
	char *ssh_keys_refused;
	char **warnings;
};

/* Reads them under root; what cannot be read is a warning. Fails only when out of memory. */
int agent_machine_facts_read(const char *root, struct agent_machine_facts *m, struct nm_error *e);
void agent_machine_facts_free(struct agent_machine_facts *m);
#define _cleanup_agent_machine_facts_ _cleanup_(agent_machine_facts_free)
/* Adds cpu_vendor, virtualisation, initrd_modules (the disk inventory's), kernel_modules and
 * ssh_authorized_keys to `into`, in that order (detect --json, plan.json, the detect phase). */
json_object *agent_machine_facts_to_json(const struct agent_machine_facts *m, char *const *initrd_modules,
					 json_object *into);
/* The rescue's authorized keys into m (called by agent_machine_facts_read): a malformed line is
 * skipped with a warning naming its number; a line holding a control character sets
 * m->ssh_keys_refused. */
int agent_rescue_keys_read(const char *root, struct agent_machine_facts *m, struct nm_error *e);

/* Checks one authorized_keys line ("[options] TYPE BASE64 [comment]"): a known key type
 * (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com,
 * sk-ecdsa-sha2-nistp256@openssh.com), base64 data that decodes and whose embedded type matches.
 * Returns 0, or a usage error saying what is wrong with the line. */
int agent_ssh_key_check(const char *line, struct nm_error *e);
/* An authorized key is one line of text: the first byte of s[0..len) that is a control
 * character (C0 other than the tab between fields, DEL, NUL) or NULL when there is none. */
const char *agent_ssh_key_control_char(const char *s, size_t len);
/* The usage error (exit 2) for such a byte at `bad` in `line`, naming `source` ("--ssh-key-file
 * FILE line 3"): the line would smuggle a line of its own into root's authorized keys. */
int agent_ssh_key_refuse_control(const char *source, const char *line, const char *bad, struct nm_error *e);

/* ---- rendering the Nix files (render.c, render-hw.c, render-conf.c) ----
 * hardware-configuration.nix (the machine's imports, kernel modules and platform from machine.c,
 * the initrd modules, disks, RAID and boot loader from disk, the uplink from netcfg), configuration.nix (host name, sshd, root's keys,
 * stateVersion) and plan.json (what they were made from). docs/rendered-example.md explains
 * every section. */
struct disk_plan;
struct net_inventory;
struct net_nic;

/* Everything a render needs; all borrowed. */
struct agent_render_input {
	const struct disk_plan *plan;
	const struct net_inventory *inv; /* gateways and nameservers */
	char *const *initrd_modules; /* the disk inventory's (boot.initrd.availableKernelModules) */
	const struct agent_machine_facts *facts; /* CPU, virtualisation, kernel modules */
	const struct net_nic *uplink; /* the NIC the installed system must bring up */
	const char *hostname; /* checked with net_hostname_check */
	char *const *ssh_keys; /* root's authorized keys, already checked (agent_ssh_keys_gather) */
	const char *state_version; /* the pinned nixpkgs release, e.g. "26.05" */
	json_object *plan_json; /* disk_plan_to_json(), recorded in plan.json; may be NULL */
	json_object *options; /* what the operator asked for, recorded in plan.json; may be NULL */
};

/* The text of each file (caller frees). Refuses (exit 3) what would leave the server unreachable:
 * no uplink address, no SSH key. */
int agent_render_hardware(const struct agent_render_input *in, char **out, struct nm_error *e);
int agent_render_configuration(const struct agent_render_input *in, char **out, struct nm_error *e);
/* Writes hardware-configuration.nix, configuration.nix and plan.json into out_dir (created when
 * missing), each atomically (temporary file, fsync, rename). */
int agent_render(const struct agent_render_input *in, const char *out_dir, struct nm_error *e);

/* Root's authorized keys for the installed system, in order and without duplicates: the rescue's
 * keys (facts), then each --ssh-key (a malformed one is a usage error), then the lines of
 * key_file (may be NULL; malformed lines are skipped with a warning naming the file and line).
 * A control character in any key, from any source, is a usage error naming the source and line
 * (facts->ssh_keys_refused for the rescue's file): it would add a line of its own.
 * No key at all is refused (exit 3): the operator would be locked out. */
int agent_ssh_keys_gather(const struct agent_machine_facts *facts, char *const *cli_keys, const char *key_file,
			  char ***keys, struct nm_error *e);
