/* install.h (private to agent/): one install run — its options, what each phase produced, and
 * the phase functions the pipeline calls in order. */
#pragma once

#include <getopt.h>

#include "agent/agent.h"
#include "agent/state.h"
#include "disk/disk.h"
#include "images/images.h"
#include "netcfg/netcfg.h"

/* install's long options (getopt_long, ends with {0}); provision passes them on. */
extern const struct option install_longopts[];

struct install_opts {
	const char *config_path;
	const char *disks;
	const char *until;
	const char *mirror;
	const char *target; /* default AGENT_DEFAULT_TARGET */
	const char *state_dir; /* default AGENT_DEFAULT_STATE_DIR */
	const char *uplink;
	const char *hostname;
	char **ssh_keys;
	char **url_args; /* copies of the URL options (their argv strings are scrubbed) */
	const char *ssh_key_file;
	const char *nix_tarball, *nix_sha256;
	const char *nixpkgs, *nixpkgs_hash, *nixpkgs_release; /* --nixpkgs URL --nixpkgs-hash HASH */
	const char *nixpkgs_from, *nixpkgs_node; /* --nixpkgs-from flake.lock [--nixpkgs-node NAME] */
	const char *substituters; /* NULL = the default binary cache */
	const char *ca_file;
	bool yes, resume, detach, no_reboot, nix_from_path, discard, build_in_target;
};

struct install_run {
	struct agent_ctx *ctx;
	const struct install_opts *o;
	struct agent_state st;
	bool mounted; /* the target is mounted: mirror the state there */

	struct disk_inventory disks;
	struct net_inventory net;
	struct agent_machine_facts facts;
	struct agent_config config; /* the --config file, read once (settle_options) */
	struct disk_config cfg;
	struct img_pins pins;
	struct disk_plan plan;
	bool have_plan;
	char **ssh_keys;
	char *hostname;
	const struct net_nic *uplink; /* chosen at confirm (which runs on every resume too) */

	struct img_nix nix;
	bool have_nix;
	struct img_system sys;
	bool built; /* sys holds built store paths (not just .drv) */
	char *rendered_dir; /* <state>/nixos */
	char *nixpkgs_parent; /* <state>/channel, holding nixos/ (registered as the `nixos` channel) */
	char *nixpkgs_dir; /* <state>/channel/nixos: the verified nixpkgs tree */
	char *release; /* of that tree: system.stateVersion (fetch) */
	struct disk_raid_throttle throttle;
	struct disk_lock disk_lock; /* held from teardown until the layout is mounted (the runner's) */
	int state_lock; /* agent_state_lock's descriptor, -1 before it is taken */
};

/* install-options.c: the options that make an install what it is, as recorded in its state at
 * the first run (no secret: URLs redacted, files by digest), and a resume's options checked
 * against that record — a recorded option not given again is taken from it, one given with
 * another value is NM_ERR_USAGE naming it. */
/* The record of a fresh run, with the digest of the config it read. */
json_object *install_options_record(const struct install_opts *o, const struct agent_config *config,
				    struct nm_error *e);
/* A resume: adopts what was not given, refuses what differs, and reads the --config file (the
 * one given or the one recorded) into *config. */
int install_options_resume(json_object *recorded, struct install_opts *o, struct agent_config *config,
			   struct nm_error *e);

/* cmd_install.c, for the pipeline's runner: writes the state file (and its mirror in the
 * target once mounted); leaves the SSH session (*is_parent: this is the foreground process,
 * which returns). */
int install_save_state(struct install_run *run, struct nm_error *e);
int install_detach(struct install_run *run, bool *is_parent, struct nm_error *e);
/* What the disk library needs for this run: root, target, lock, throttle (install-phases.c). */
struct disk_run_opts install_disk_opts(struct install_run *run);

/* The phases (install-phases.c), in pipeline.c's order; `check` verifies on --resume that a
 * finished phase's products still exist. */
int install_detect(struct install_run *run, json_object **products, struct nm_error *e);
int install_plan(struct install_run *run, json_object **products, struct nm_error *e);
int install_confirm(struct install_run *run, json_object **products, struct nm_error *e);
int install_fetch(struct install_run *run, json_object **products, struct nm_error *e);
int install_fetch_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_render(struct install_run *run, json_object **products, struct nm_error *e);
int install_render_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_build(struct install_run *run, json_object **products, struct nm_error *e);
int install_build_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_teardown(struct install_run *run, json_object **products, struct nm_error *e);
int install_wipe(struct install_run *run, json_object **products, struct nm_error *e);
int install_partition(struct install_run *run, json_object **products, struct nm_error *e);
int install_partition_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_raid(struct install_run *run, json_object **products, struct nm_error *e);
int install_raid_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_format(struct install_run *run, json_object **products, struct nm_error *e);
int install_format_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_mount(struct install_run *run, json_object **products, struct nm_error *e);
int install_mount_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_install(struct install_run *run, json_object **products, struct nm_error *e);
int install_install_check(struct install_run *run, json_object *products, struct nm_error *e);
int install_handover(struct install_run *run, json_object **products, struct nm_error *e);
