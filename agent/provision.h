/* provision.h (private to agent/): `nmmm-agent provision`, from the operator's machine — the
 * Robot step (rescue and reset), the rescue's SSH with its host key verified, the upload, the
 * install followed live, the hand-over into the deploy repository, the reboot and the check of
 * the installed system, and the diagnosis when it does not come back. Only the steps' order
 * lives in cmd_provision.c; each step is a function here. */
#pragma once

#include "agent/agent.h"
#include "remote/remote.h"
#include "robot/robot.h"

#define PROVISION_DEFAULT_REMOTE_DIR "/root/nmmm"
#define PROVISION_DEFAULT_RESCUE_TIMEOUT 600
#define PROVISION_DEFAULT_BOOT_TIMEOUT 600
#define PROVISION_RECONNECT_TIMEOUT 600 /* a dropped session: how long to wait for SSH again */

/* An install option that names a file on the operator's machine: uploaded into the remote
 * directory under `remote_name`, and the option rewritten to point there. */
struct provision_file_arg {
	const char *option; /* "--config" */
	const char *local; /* as given */
	const char *remote_name; /* "config.json" */
};

struct provision_opts {
	const char *target; /* root@HOST, or NULL with --robot-server (the address comes from Robot) */
	int robot_server; /* 0: no Robot */
	const char *robot_url;
	const char *robot_credentials; /* FILE, or NULL for the environment */
	const char *out_dir; /* the deploy repository directory for this host */
	const char *known_hosts; /* default <out_dir>/known_hosts */
	const char *rescue_host_key; /* a key line or a fingerprint, or NULL */
	const char *ssh_config, *identity;
	char **ssh_options; /* -o values for ssh */
	const char *remote_dir;
	unsigned rescue_timeout, boot_timeout;
	bool no_reboot; /* stop after the hand-over, the server left in the rescue */
	/* Install's options, passed on in order (files rewritten to their uploaded copies). */
	char **install_args;
	struct provision_file_arg files[8];
	size_t n_files;
	const char *state_dir; /* the remote install's --state-dir (NULL: its default) */
	const char *hostname; /* --hostname, for the hand-over's messages */
	bool yes;
	const char *hosts_file; /* --hosts FILE: many servers */
	unsigned jobs;
};

struct provision_run {
	struct agent_ctx *ctx;
	const struct provision_opts *o;
	struct robot_client *robot; /* NULL without --robot-server */
	struct remote_target target;
	char *display; /* "root@host" for messages */
	char **operator_keys; /* the operator's public keys (Robot's rescue, the installed root) */
	char **rescue_fingerprints; /* the rescue's host key fingerprints, from Robot */
	struct remote_host_key *rescue_keys; /* the verified host key(s) of the rescue */
	size_t n_rescue_keys;
	struct remote_session *session;
	char *remote_agent; /* <remote_dir>/nmmm-agent */
	unsigned long events_seen; /* of the remote install, for re-attaching */
	int remote_exit; /* the remote install's exit code */
	/* From the hand-over (report.json): the new system's host keys, its toplevel, root's UUID. */
	struct remote_host_key *host_keys;
	size_t n_host_keys;
	char *system; /* the installed toplevel store path */
	char *root_uuid;
	char *hostname;
};

/* Steps, in the order cmd_provision.c runs them. Each emits its own events. */
int provision_robot_rescue(struct provision_run *run, struct nm_error *e);
/* The server back into the rescue (the diagnosis): activation and reset again. */
int provision_robot_rescue_again(struct provision_run *run, struct nm_error *e);
/* Waits for the rescue's SSH, verifies its host key, opens the session (also for a diagnosis). */
int provision_rescue_connect(struct provision_run *run, struct nm_error *e);
/* Uploads this binary into the remote directory (checked by SHA-256 there). */
int provision_upload_agent(struct provision_run *run, struct nm_error *e);
int provision_upload(struct provision_run *run, struct nm_error *e);
int provision_install(struct provision_run *run, struct nm_error *e);
int provision_handover(struct provision_run *run, struct nm_error *e);
int provision_reboot(struct provision_run *run, struct nm_error *e);
/* -ETIMEDOUT when the installed system did not answer within --boot-timeout. */
int provision_verify(struct provision_run *run, struct nm_error *e);
int provision_diagnose(struct provision_run *run, const struct nm_error *why, struct nm_error *e);
void provision_run_free(struct provision_run *run);
/* The remote agent's last "nmmm-agent: ..." line in OUT: its error message (LEN bytes), or NULL. */
const char *provision_remote_error_line(const char *out, size_t *len);
/* Seconds on the monotonic clock, for the steps' deadlines. */
long provision_now_sec(void);

/* The operator's public keys: --ssh-key / --ssh-key-file among the install options, else the
 * SSH agent's (ssh-add -L), else ~/.ssh/id_{ed25519,ecdsa,rsa}.pub. */
int provision_operator_keys(struct provision_run *run, struct nm_error *e);

/* One remote install event (a JSON line) shown as a local install shows it, and passed on as
 * a provision event with the host added. Lines that are not events go to the log. */
void provision_remote_line(void *ud, const char *line, size_t len);

/* Until the target's SSH answers (a countdown on the terminal, progress events); -ETIMEDOUT. */
int provision_wait_ssh(struct provision_run *run, const char *step, const char *what, unsigned timeout,
		       struct nm_error *e);

/* An event's fields without its ts, phase and event (a new object), to emit again elsewhere. */
json_object *provision_event_fields(json_object *ev);
/* Emits a provision step's event (phase = the step) with the host in it. */
void provision_event(struct provision_run *run, const char *step, const char *event, json_object *fields);
/* A step's start: the event and "== provision: STEP (what)" on the console. */
void provision_step(struct provision_run *run, const char *step, const char *what);

/* Many servers: `provision --hosts FILE [-j N]`. */
int provision_hosts(struct agent_ctx *ctx, const struct provision_opts *o, struct nm_error *e);
