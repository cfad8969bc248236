/* cmd_install.c: `nmmm-agent install` — parses the options, runs the phases of pipeline.c in
 * order with the state file after each, resumes, detaches, stops after --until. The promise it
 * keeps: every phase before teardown only reads the machine and writes under the state
 * directory, so any failure before then leaves the disks as they were. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/install.h"
#include "agent/pipeline.h"

static void print_help(void)
{
	fputs("usage: nmmm-agent install [--config FILE] [--disks LIST] --yes [--resume] [--until PHASE]\n"
	      "                          [--mirror URL] [options]\n\n",
	      stdout);
	agent_phase_list_print(stdout, AGENT_FOR_INSTALL, "Installs NixOS: ", " → ", ".", 96);
	fputs(" Nothing is written to a disk before\n"
	      "the system has been built; any failure before then leaves the disks untouched.\n\n"
	      "  --yes                  confirm erasing the planned disks (without it: show them, exit 3)\n"
	      "  --config FILE          layout and pins as JSON (docs/disk-layout.md)\n"
	      "  --disks LIST           disks to use: nvme0n1,/dev/sdb,/dev/disk/by-id/…,serial:XYZ\n"
	      "  --hostname NAME        the installed system's host name (default: config, else nixos)\n"
	      "  --ssh-key 'KEY'        an authorized key for root (repeatable), besides the rescue's\n"
	      "  --ssh-key-file FILE    authorized keys for root from FILE\n"
	      "  --uplink MAC|NAME      the NIC the installed system brings up (default: default route)\n"
	      "  --resume               continue an interrupted install: finished phases are checked, not redone\n"
	      "  --until PHASE          stop cleanly after PHASE\n"
	      "  --detach               after confirm, keep running in the background (follow with status)\n"
	      "  --mirror URL           try nixpkgs and Nix from a mirror laid out like the origin first\n"
	      "                         (credentials as user:token@ or ?token= are used, never written or shown)\n"
	      "  --nixpkgs-from FILE    install the nixpkgs a flake.lock pins (github or tarball input)\n"
	      "  --nixpkgs-node NAME    the flake.lock input to take (default nixpkgs)\n"
	      "  --nixpkgs URL --nixpkgs-hash HASH   another nixpkgs tree (tarball URL, NAR hash: SRI, nix32, hex)\n"
	      "  --nixpkgs-release YY.MM             its release (system.stateVersion; default: its .version)\n"
	      "  --nix-tarball URL --nix-sha256 HEX                            another Nix binary tarball\n"
	      "  --nix-from-path        use the Nix installed here instead of the pinned tarball\n"
	      "  --substituters LIST    binary caches for the build ('' for none; default cache.nixos.org)\n"
	      "  --build-in-target      build into the target store after mount, even with RAM to spare\n"
	      "  --ca-file FILE         CA bundle for HTTPS\n"
	      "  --target DIR           where the new system is mounted (default " AGENT_DEFAULT_TARGET ")\n"
	      "  --state-dir DIR        state file and log (default " AGENT_DEFAULT_STATE_DIR ")\n"
	      "  --discard              discard (TRIM) SSD/NVMe blocks while wiping\n"
	      "  --no-reboot            stay in the rescue system at the end\n",
	      stdout);
}

enum {
	OPT_CONFIG = 0x100,
	OPT_DISKS,
	OPT_YES,
	OPT_RESUME,
	OPT_UNTIL,
	OPT_MIRROR,
	OPT_TARGET,
	OPT_STATE_DIR,
	OPT_UPLINK,
	OPT_HOSTNAME,
	OPT_SSH_KEY,
	OPT_SSH_KEY_FILE,
	OPT_NIX_TARBALL,
	OPT_NIX_SHA256,
	OPT_NIXPKGS,
	OPT_NIXPKGS_HASH,
	OPT_NIXPKGS_RELEASE,
	OPT_NIXPKGS_FROM,
	OPT_NIXPKGS_NODE,
	OPT_NIX_FROM_PATH,
	OPT_SUBSTITUTERS,
	OPT_BUILD_IN_TARGET,
	OPT_CA_FILE,
	OPT_DISCARD,
	OPT_NO_REBOOT,
	OPT_DETACH,
};

const struct option install_longopts[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"disks", required_argument, NULL, OPT_DISKS},
    {"yes", no_argument, NULL, OPT_YES},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"mirror", required_argument, NULL, OPT_MIRROR},
    {"target", required_argument, NULL, OPT_TARGET},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"uplink", required_argument, NULL, OPT_UPLINK},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"ssh-key", required_argument, NULL, OPT_SSH_KEY},
    {"ssh-key-file", required_argument, NULL, OPT_SSH_KEY_FILE},
    {"nix-tarball", required_argument, NULL, OPT_NIX_TARBALL},
    {"nix-sha256", required_argument, NULL, OPT_NIX_SHA256},
    {"nixpkgs", required_argument, NULL, OPT_NIXPKGS},
    {"nixpkgs-hash", required_argument, NULL, OPT_NIXPKGS_HASH},
    {"nixpkgs-release", required_argument, NULL, OPT_NIXPKGS_RELEASE},
    {"nixpkgs-from", required_argument, NULL, OPT_NIXPKGS_FROM},
    {"nixpkgs-node", required_argument, NULL, OPT_NIXPKGS_NODE},
    {"nix-from-path", no_argument, NULL, OPT_NIX_FROM_PATH},
    {"substituters", required_argument, NULL, OPT_SUBSTITUTERS},
    {"build-in-target", no_argument, NULL, OPT_BUILD_IN_TARGET},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"discard", no_argument, NULL, OPT_DISCARD},
    {"no-reboot", no_argument, NULL, OPT_NO_REBOOT},
    {"detach", no_argument, NULL, OPT_DETACH},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* A URL option may carry credentials: the copy is used, the argv string is scrubbed in place so
 * the process list (ps, /proc/PID/cmdline) shows the URL without its userinfo and query. */
static int take_url_arg(struct install_opts *o, char *arg, const char **field, struct nm_error *e)
{
	if (nm_strv_push(&o->url_args, arg) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	*field = o->url_args[nm_strv_len(o->url_args) - 1];
	nm_url_scrub(arg);
	return 0;
}

static int parse_options(int argc, char **argv, struct install_opts *o, struct nm_error *e)
{
	/* --target's default is applied after a resume took the recorded one (settle_options). */
	*o = (struct install_opts){.state_dir = AGENT_DEFAULT_STATE_DIR};
	int c;
	while ((c = getopt_long(argc, argv, "+h", install_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: o->config_path = optarg; break;
		case OPT_DISKS: o->disks = optarg; break;
		case OPT_YES: o->yes = true; break;
		case OPT_RESUME: o->resume = true; break;
		case OPT_UNTIL: o->until = optarg; break;
		case OPT_MIRROR:
			if (take_url_arg(o, optarg, &o->mirror, e) < 0)
				return -ENOMEM;
			break;
		case OPT_TARGET: o->target = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_UPLINK: o->uplink = optarg; break;
		case OPT_HOSTNAME: o->hostname = optarg; break;
		case OPT_SSH_KEY:
			if (nm_strv_push(&o->ssh_keys, optarg) < 0)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
			break;
		case OPT_SSH_KEY_FILE: o->ssh_key_file = optarg; break;
		case OPT_NIX_TARBALL:
			if (take_url_arg(o, optarg, &o->nix_tarball, e) < 0)
				return -ENOMEM;
			break;
		case OPT_NIX_SHA256: o->nix_sha256 = optarg; break;
		case OPT_NIXPKGS:
			if (take_url_arg(o, optarg, &o->nixpkgs, e) < 0)
				return -ENOMEM;
			break;
		case OPT_NIXPKGS_HASH: o->nixpkgs_hash = optarg; break;
		case OPT_NIXPKGS_RELEASE: o->nixpkgs_release = optarg; break;
		case OPT_NIXPKGS_FROM: o->nixpkgs_from = optarg; break;
		case OPT_NIXPKGS_NODE: o->nixpkgs_node = optarg; break;
		case OPT_NIX_FROM_PATH: o->nix_from_path = true; break;
		case OPT_SUBSTITUTERS:
			if (take_url_arg(o, optarg, &o->substituters, e) < 0)
				return -ENOMEM;
			break;
		case OPT_BUILD_IN_TARGET: o->build_in_target = true; break;
		case OPT_CA_FILE: o->ca_file = optarg; break;
		case OPT_DISCARD: o->discard = true; break;
		case OPT_NO_REBOOT: o->no_reboot = true; break;
		case OPT_DETACH: o->detach = true; break;
		case 'h': print_help(); return AGENT_HELP_SHOWN;
		default: return agent_usage_error(e, "install", "install: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "install", "install: unexpected argument '%s'", argv[optind]);
	if (o->until && agent_phase_until(AGENT_FOR_INSTALL, "install", o->until, e) < 0)
		return e->code;
	if ((o->target && o->target[0] != '/') || o->state_dir[0] != '/')
		return agent_usage_error(e, "install", "--target and --state-dir take absolute paths");
	return 0;
}

/* A run that may reach teardown never works through a --root tree (disk_host_root_check says
 * why); one that stops before it (--until build) only reads the tree. */
static int refuse_root_tree(const struct agent_ctx *ctx, const struct install_opts *o, struct nm_error *e)
{
	if (o->until && agent_phase_index(o->until) < agent_phase_first_destructive(AGENT_FOR_INSTALL))
		return 0;
	return disk_host_root_check(ctx->g.root, "install", e);
}

/* Config file, --disks and the pins with their overrides: all checked before any phase runs. */
static int prepare(struct install_run *run, struct nm_error *e)
{
	const struct install_opts *o = run->o;
	int r = disk_config_init(&run->cfg);
	if (r == 0)
		r = agent_config_disk(&run->config, &run->cfg, e);
	if (r == 0 && o->disks)
		r = disk_config_set_disks(&run->cfg, o->disks, e);
	if (r == 0) {
		/* Disk selection lets mounts under the agent's own target pass: that is --target. */
		free(run->cfg.target);
		run->cfg.target = strdup(o->target);
		if (!run->cfg.target)
			r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (r == 0)
		r = agent_config_pins(&run->config, &run->pins, e);
	if (r == 0)
		r = agent_nixpkgs_options(&run->pins.nixpkgs, o->nixpkgs_from, o->nixpkgs_node, o->nixpkgs,
					  o->nixpkgs_hash, o->nixpkgs_release, e);
	if (r == 0 && o->mirror)
		r = img_nixpkgs_set_mirror(&run->pins.nixpkgs, o->mirror, e);
	if (r == 0 && o->mirror && !o->nix_from_path)
		r = img_pin_apply_mirror(&run->pins.nix, o->mirror, e);
	if (r == 0 && (o->nix_tarball || o->nix_sha256))
		r = img_pin_override(&run->pins.nix, "--nix-tarball", o->nix_tarball, o->nix_sha256, NULL, e);
	if (r == 0)
		agent_nixpkgs_support_warn(&run->pins.nixpkgs);
	run->rendered_dir = nm_strdup_printf("%s/nixos", o->state_dir);
	run->nixpkgs_parent = nm_strdup_printf("%s/channel", o->state_dir);
	run->nixpkgs_dir = nm_strdup_printf("%s/channel/nixos", o->state_dir);
	if (r == 0 && (!run->rendered_dir || !run->nixpkgs_parent || !run->nixpkgs_dir))
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return r;
}

/* The events' copy in the state directory: a new install starts it afresh, a resume goes on
 * appending, so a follower counting lines (provision) never sees an old run's events. */
static int open_events_copy(struct install_run *run, struct nm_error *e)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/%s", run->o->state_dir, AGENT_EVENTS_FILE);
	if (!path)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	FILE *f = fopen(path, run->o->resume ? "ae" : "we");
	if (!f)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open for writing: %s", path, strerror(errno));
	setvbuf(f, NULL, _IOLBF, 0);
	run->ctx->events.copy = f;
	return 0;
}

static int open_state(struct install_run *run, struct nm_error *e)
{
	const struct install_opts *o = run->o;
	if (!o->resume)
		return agent_state_new(&run->st, o->state_dir, "install", e);
	int r = agent_state_load(&run->st, o->state_dir, e);
	if (r == -ENOENT)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "--resume: no install to resume in %s (no %s); run without --resume", o->state_dir,
			       AGENT_STATE_FILE);
	return r;
}

/* A resume is the install it resumes: its recorded options fill in what was not given again,
 * and one given with another value is refused. A fresh run records its options (defaults
 * applied first, so a resume that spells out the default is the same install). */
static int settle_options(struct install_run *run, struct install_opts *o, struct nm_error *e)
{
	if (o->resume) {
		int r = install_options_resume(agent_state_get(&run->st, "options"), o, &run->config, e);
		if (r < 0)
			return r;
	}
	if (!o->target)
		o->target = AGENT_DEFAULT_TARGET;
	if (o->resume)
		return 0;
	int r = agent_config_read(o->config_path, &run->config, e);
	if (r < 0)
		return r;
	json_object *rec = install_options_record(o, &run->config, e);
	if (!rec)
		return -EINVAL;
	agent_state_set(&run->st, "options", rec);
	return 0;
}

/* After agent_state_lock, which made the state directory. */
static int open_log(const struct install_run *run, struct nm_error *e)
{
	if (run->ctx->g.log_path)
		return 0;
	_cleanup_free_ char *log = nm_strdup_printf("%s/%s", run->o->state_dir, AGENT_LOG_FILE);
	return nm_log_open(log, run->ctx->g.verbosity, e);
}

/* Leaves the SSH session: the parent returns once the child has recorded its own pid in the
 * state (so `status` and a second install name the process that really runs), the child carries
 * on with its output in the log only. */
int install_detach(struct install_run *run, bool *is_parent, struct nm_error *e)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "--detach: cannot make a pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(ready[0]);
		close(ready[1]);
		return nm_fail(e, NM_ERR_RUNTIME, err, "--detach: cannot fork: %s", strerror(err));
	}
	if (pid > 0) {
		close(ready[1]);
		char c;
		ssize_t k;
		while ((k = read(ready[0], &c, 1)) < 0 && errno == EINTR)
			;
		close(ready[0]);
		if (k != 1)
			return nm_fail(e, NM_ERR_RUNTIME, ECHILD,
				       "--detach: the background install (pid %d) ended before it started; see %s/%s",
				       (int)pid, run->o->state_dir, AGENT_LOG_FILE);
		*is_parent = true;
		printf("install continues in the background (pid %d); follow it with: nmmm-agent status --follow%s%s\n",
		       (int)pid, strcmp(run->o->state_dir, AGENT_DEFAULT_STATE_DIR) ? " --state-dir " : "",
		       strcmp(run->o->state_dir, AGENT_DEFAULT_STATE_DIR) ? run->o->state_dir : "");
		return 0;
	}
	close(ready[0]);
	setsid();
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	agent_state_set(&run->st, "pid", json_object_new_int((int)getpid()));
	int r = install_save_state(run, e);
	if (r == 0 && write(ready[1], "", 1) != 1)
		r = nm_fail(e, NM_ERR_RUNTIME, errno, "--detach: cannot tell the foreground: %s", strerror(errno));
	close(ready[1]);
	return r;
}

int install_save_state(struct install_run *run, struct nm_error *e)
{
	_cleanup_free_ char *mirror = run->mounted ? nm_strdup_printf("%s/var/lib/nmmm", run->o->target) : NULL;
	return agent_state_save(&run->st, mirror, e);
}

static void print_next_steps(const struct install_run *run)
{
	printf("\nNixOS is installed on:");
	for (size_t i = 0; i < run->plan.n_disks; i++)
		printf(" %s", run->plan.disks[i].name);
	printf("\nNext, from your machine:\n"
	       "  ssh root@HOST nmmm-agent export | tar -x -C hosts/%s/   # before the reboot: the generated files\n"
	       "  # pin the new host keys listed in report.json in known_hosts, then after the reboot:\n"
	       "  nixos-rebuild switch --target-host root@HOST -I nixos-config=hosts/%s/configuration.nix\n",
	       run->hostname ? run->hostname : "HOST", run->hostname ? run->hostname : "HOST");
}

static void install_run_free(struct install_run *run)
{
	disk_unlock(&run->disk_lock);
	if (run->state_lock >= 0)
		close(run->state_lock);
	agent_state_free(&run->st);
	disk_inventory_free(&run->disks);
	net_inventory_free(&run->net);
	agent_machine_facts_free(&run->facts);
	disk_config_free(&run->cfg);
	agent_config_free(&run->config);
	img_pins_free(&run->pins);
	if (run->have_plan)
		disk_plan_free(&run->plan);
	nm_strv_free(run->ssh_keys);
	free(run->hostname);
	if (run->have_nix)
		img_nix_free(&run->nix);
	img_system_free(&run->sys);
	free(run->rendered_dir);
	free(run->nixpkgs_parent);
	free(run->nixpkgs_dir);
	free(run->release);
}

static int reboot_now(struct nm_error *e)
{
	const char *argv[] = {"reboot", NULL};
	return nm_run(argv, NULL, NULL, e);
}

static int run_pipeline(struct install_run *run, struct nm_error *e)
{
	struct agent_pipeline p = {
	    .ctx = run->ctx,
	    .command = AGENT_FOR_INSTALL,
	    .until = run->o->until,
	    .plan = &run->plan,
	    .disk = install_disk_opts(run),
	    .install = run,
	};
	int r = agent_pipeline_run(&p, e);
	if (r < 0 || p.stopped || p.detached)
		return r;
	print_next_steps(run);
	if (!run->o->no_reboot)
		r = reboot_now(e);
	return r;
}

int agent_cmd_install(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	struct install_opts o;
	int r = parse_options(argc, argv, &o, e);
	if (r != 0) {
		nm_strv_free(o.ssh_keys);
		nm_strv_free(o.url_args);
		return r == AGENT_HELP_SHOWN ? 0 : r;
	}
	struct install_run run = {.ctx = ctx, .o = &o, .state_lock = -1};
	r = refuse_root_tree(ctx, &o, e);
	if (r == 0)
		r = agent_state_lock(o.state_dir, &run.state_lock, e);
	if (r == 0)
		r = open_log(&run, e);
	if (r == 0)
		r = open_state(&run, e);
	if (r == 0)
		r = open_events_copy(&run, e);
	if (r == 0)
		r = settle_options(&run, &o, e);
	if (r == 0)
		r = prepare(&run, e);
	if (r == 0)
		r = run_pipeline(&run, e);
	install_run_free(&run);
	nm_strv_free(o.ssh_keys);
	nm_strv_free(o.url_args);
	return r;
}
