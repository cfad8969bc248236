/* cmd_provision.c: `nmmm-agent provision` — the whole flow from the operator's machine, in
 * order: Robot (rescue, reset), the rescue's SSH with its host key verified, upload, install
 * followed live, hand-over into the deploy repository, reboot, and the check of the installed
 * system with its new host key (or a diagnosis when it does not come back). Options and order
 * only; the steps are in provision-*.c. Never passes a secret on a command line. */
#include "agent/provision.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "agent/install.h"

static void print_help(void)
{
	fputs("usage: nmmm-agent provision [--robot-server N] [provision options] [install options] root@HOST\n"
	      "       nmmm-agent provision --hosts FILE.json [-j N]\n\n"
	      "From your machine (Linux, OpenSSH's ssh in PATH), installs NixOS on a Hetzner server:\n"
	      "  1. robot     with --robot-server N: checks the server, registers your SSH keys with Robot\n"
	      "               when missing, activates the rescue system with them, resets the server,\n"
	      "               and records the rescue's host key fingerprints from Robot's answer\n"
	      "  2. rescue    waits for the rescue's SSH (countdown), verifies its host key against\n"
	      "               Robot's fingerprints or --rescue-host-key (else trusts it on first use,\n"
	      "               with a warning); a mismatch is refused (exit 3) before anything is sent;\n"
	      "               so is a host that 'uname -s -m' says is not 'Linux x86_64'\n"
	      "  3. upload    sends this binary and the files the install options name, each checked\n"
	      "               by SHA-256 on the server\n"
	      "  4. install   runs 'install --detach' there with your install options and shows its\n"
	      "               progress here; a dropped connection is re-established and re-attached\n"
	      "               ('status --follow'); the install itself never notices\n"
	      "  5. handover  unpacks 'export' into --out DIR (the Nix files, flake.nix + flake.lock,\n"
	      "               nixpkgs.nix, plan.json, report.json), adds the new host keys to\n"
	      "               --known-hosts, prints the host's age recipient and the first deploy command\n"
	      "  6. reboot    reboots into NixOS\n"
	      "  7. verify    waits for the installed system's SSH, pinned to the NEW host key (no trust\n"
	      "               on first use), checks that it runs the installed system and that\n"
	      "               'systemctl is-system-running --wait' says running; exit 0 only then\n"
	      "  8. diagnose  when it does not answer within --boot-timeout: with Robot, back into the\n"
	      "               rescue, the installed root read-only, the failed boot's journal read and\n"
	      "               the likely cause named; the server stays in the rescue (exit 1)\n\n"
	      "provision options:\n"
	      "  --robot-server N         the server's number in Robot\n"
	      "  --robot-url URL          Robot's address (default " ROBOT_DEFAULT_URL ")\n"
	      "  --robot-credentials FILE two lines, the web service user and its password (mode 0600);\n"
	      "                           default: NMMM_ROBOT_USER and NMMM_ROBOT_PASSWORD; never on argv\n"
	      "  --out DIR                the deploy repository's directory for this host\n"
	      "                           (default hosts/HOSTNAME, HOSTNAME from --hostname, else HOST)\n"
	      "  --known-hosts FILE       where the new host keys go (default DIR/known_hosts)\n"
	      "  --rescue-host-key KEY    the rescue's host key ('ssh-ed25519 AAAA...') or fingerprint\n"
	      "                           (SHA256:... or MD5 aa:bb:...), when Robot does not give it\n"
	      "  --ssh-config FILE        ssh -F FILE\n"
	      "  --identity FILE          ssh -i FILE\n"
	      "  --ssh-option OPT         ssh -o OPT (repeatable), e.g. ProxyJump=bastion\n"
	      "  --remote-dir DIR         where the binary and files go on the server "
	      "(default " PROVISION_DEFAULT_REMOTE_DIR ")\n"
	      "  --rescue-timeout SEC     how long to wait for the rescue's SSH (default 600)\n"
	      "  --boot-timeout SEC       how long to wait for the installed system (default 600)\n"
	      "  --no-reboot              stop after the hand-over; the server stays in the rescue\n"
	      "  --hosts FILE.json        provision many servers: [{\"host\": \"root@HOST\", \"robot_server\": N,\n"
	      "                           \"config\": FILE, \"out\": DIR, \"args\": [install options...]}, ...]\n"
	      "  -j, --jobs N             with --hosts: at most N at once (default 4)\n\n"
	      "install options (passed on; see 'nmmm-agent install --help'): --yes, --config, --disks,\n"
	      "  --hostname, --ssh-key, --ssh-key-file, --uplink, --nixpkgs-from, --nixpkgs ... --nixpkgs-hash,\n"
	      "  --mirror, --ca-file, ... Files they name are uploaded. Without --yes the install shows\n"
	      "  the disks it would erase and nothing is written (exit 3).\n\n"
	      "exit codes: 0 installed and verified, 1 failed (or did not come back), 2 bad usage,\n"
	      "            3 refused (unconfirmed, host key mismatch, disk in use), 4 verification failed\n",
	      stdout);
}

enum {
	OPT_ROBOT_SERVER = 0x200,
	OPT_ROBOT_URL,
	OPT_ROBOT_CREDENTIALS,
	OPT_OUT,
	OPT_KNOWN_HOSTS,
	OPT_RESCUE_HOST_KEY,
	OPT_SSH_CONFIG,
	OPT_IDENTITY,
	OPT_SSH_OPTION,
	OPT_REMOTE_DIR,
	OPT_RESCUE_TIMEOUT,
	OPT_BOOT_TIMEOUT,
	OPT_PROV_NO_REBOOT,
	OPT_HOSTS,
	OPT_JOBS,
	OPT_INSTALL_BASE = 0x400, /* + the index in install_longopts */
};

static const struct option provision_own[] = {
    {"robot-server", required_argument, NULL, OPT_ROBOT_SERVER},
    {"robot-url", required_argument, NULL, OPT_ROBOT_URL},
    {"robot-credentials", required_argument, NULL, OPT_ROBOT_CREDENTIALS},
    {"out", required_argument, NULL, OPT_OUT},
    {"known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS},
    {"rescue-host-key", required_argument, NULL, OPT_RESCUE_HOST_KEY},
    {"ssh-config", required_argument, NULL, OPT_SSH_CONFIG},
    {"identity", required_argument, NULL, OPT_IDENTITY},
    {"ssh-option", required_argument, NULL, OPT_SSH_OPTION},
    {"remote-dir", required_argument, NULL, OPT_REMOTE_DIR},
    {"rescue-timeout", required_argument, NULL, OPT_RESCUE_TIMEOUT},
    {"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
    {"no-reboot", no_argument, NULL, OPT_PROV_NO_REBOOT},
    {"hosts", required_argument, NULL, OPT_HOSTS},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"help", no_argument, NULL, 'h'},
};

/* Install options that name a file here: uploaded, then named by their remote copy. */
static const struct {
	const char *option;
	const char *remote_name;
} uploaded_files[] = {
    {"config", "config.json"},
    {"ssh-key-file", "authorized_keys"},
    {"nixpkgs-from", "flake.lock"},
    {"ca-file", "ca.pem"},
};

/* Install options provision decides itself. */
static const char *const install_refused[] = {"detach", "no-reboot", NULL};
/* Install options whose value may be a URL with credentials (never sent on a command line). */
static const char *const install_urls[] = {"mirror", "nixpkgs", "nix-tarball", "substituters", NULL};

static size_t install_opt_count(void)
{
	size_t n = 0;
	while (install_longopts[n].name)
		n++;
	return n;
}

/* provision's options and install's in one table, install's codes offset by OPT_INSTALL_BASE;
 * install's --help is provision's own. */
static struct option *build_longopts(void)
{
	size_t own = NM_ELEMENTSOF(provision_own), inst = install_opt_count();
	struct option *all = calloc(own + inst + 1, sizeof *all);
	if (!all)
		return NULL;
	memcpy(all, provision_own, sizeof provision_own);
	size_t k = own;
	for (size_t i = 0; i < inst; i++) {
		if (strcmp(install_longopts[i].name, "help") == 0)
			continue;
		all[k] = install_longopts[i];
		all[k].flag = NULL;
		all[k].val = OPT_INSTALL_BASE + (int)i;
		k++;
	}
	return all;
}

static int parse_seconds(const char *opt, const char *s, unsigned *out, struct nm_error *e)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > 86400)
		return agent_usage_error(e, "provision", "%s takes seconds (1 to 86400), not '%s'", opt, s);
	*out = (unsigned)v;
	return 0;
}

static bool url_has_secret(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *auth = scheme ? scheme + 3 : url;
	const char *end = auth + strcspn(auth, "/?#");
	return memchr(auth, '@', (size_t)(end - auth)) != NULL || strchr(url, '?') != NULL;
}

/* One install option: refused, kept for the upload, or passed on as given. */
static int take_install_opt(struct provision_opts *o, const struct option *io, const char *arg, struct nm_error *e)
{
	const char *name = io->name;
	if (nm_strv_contains((char *const *)install_refused, name))
		return agent_usage_error(e, "provision",
					 "--%s: provision detaches the install and reboots itself (use provision's "
					 "--no-reboot to stay in the rescue)",
					 name);
	if (arg && nm_strv_contains((char *const *)install_urls, name) && url_has_secret(arg))
		return agent_usage_error(e, "provision",
					 "--%s: the URL carries credentials (user:token@ or ?query), which provision "
					 "would have to pass on the server's command line; give the server the "
					 "credentials another way (a mirror without them, reachable from the server)",
					 name);
	if (strcmp(name, "state-dir") == 0)
		o->state_dir = arg;
	if (strcmp(name, "hostname") == 0)
		o->hostname = arg;
	if (strcmp(name, "yes") == 0)
		o->yes = true;
	for (size_t i = 0; i < NM_ELEMENTSOF(uploaded_files); i++) {
		if (strcmp(name, uploaded_files[i].option) != 0)
			continue;
		for (size_t j = 0; j < o->n_files; j++)
			if (strcmp(o->files[j].option, name) == 0)
				return agent_usage_error(e, "provision", "--%s given twice", name);
		o->files[o->n_files++] = (struct provision_file_arg){
		    .option = uploaded_files[i].option, .local = arg, .remote_name = uploaded_files[i].remote_name};
		return 0; /* added to the remote argv after the upload */
	}
	_cleanup_free_ char *flag = nm_strdup_printf("--%s", name);
	if (!flag || nm_strv_push(&o->install_args, flag) < 0 || (arg && nm_strv_push(&o->install_args, arg) < 0))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return 0;
}

static int take_own_opt(struct provision_opts *o, int c, const char *arg, struct nm_error *e)
{
	switch (c) {
	case OPT_ROBOT_SERVER: {
		char *end = NULL;
		long n = strtol(arg, &end, 10);
		if (end == arg || *end || n <= 0 || n > 100000000)
			return agent_usage_error(e, "provision", "--robot-server takes the server's number, not '%s'",
						 arg);
		o->robot_server = (int)n;
		return 0;
	}
	case OPT_ROBOT_URL: o->robot_url = arg; return 0;
	case OPT_ROBOT_CREDENTIALS: o->robot_credentials = arg; return 0;
	case OPT_OUT: o->out_dir = arg; return 0;
	case OPT_KNOWN_HOSTS: o->known_hosts = arg; return 0;
	case OPT_RESCUE_HOST_KEY: o->rescue_host_key = arg; return 0;
	case OPT_SSH_CONFIG: o->ssh_config = arg; return 0;
	case OPT_IDENTITY: o->identity = arg; return 0;
	case OPT_SSH_OPTION:
		if (nm_strv_push(&o->ssh_options, arg) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		return 0;
	case OPT_REMOTE_DIR:
		if (arg[0] != '/')
			return agent_usage_error(e, "provision", "--remote-dir takes an absolute path, not '%s'", arg);
		o->remote_dir = arg;
		return 0;
	case OPT_RESCUE_TIMEOUT: return parse_seconds("--rescue-timeout", arg, &o->rescue_timeout, e);
	case OPT_BOOT_TIMEOUT: return parse_seconds("--boot-timeout", arg, &o->boot_timeout, e);
	case OPT_PROV_NO_REBOOT: o->no_reboot = true; return 0;
	case OPT_HOSTS: o->hosts_file = arg; return 0;
	case OPT_JOBS: {
		unsigned j = 0;
		if (parse_seconds("--jobs", arg, &j, e) < 0 || j > 64)
			return agent_usage_error(e, "provision", "--jobs takes 1 to 64, not '%s'", arg);
		o->jobs = j;
		return 0;
	}
	}
	return agent_usage_error(e, "provision", "provision: unknown option");
}

static int check_options(struct provision_opts *o, struct nm_error *e)
{
	if (o->hosts_file) {
		if (o->target || o->robot_server || o->install_args || o->n_files)
			return agent_usage_error(e, "provision",
						 "--hosts takes each server's options from its file; give only -j "
						 "and provision options meant for all (--ssh-config, --identity, "
						 "--ssh-option, timeouts)");
		return 0;
	}
	if (!o->target && !o->robot_server)
		return agent_usage_error(e, "provision", "provision: name the server (root@HOST) or --robot-server N");
	if (o->robot_credentials && !o->robot_server)
		return agent_usage_error(e, "provision", "--robot-credentials needs --robot-server");
	return 0;
}

static int parse_options(int argc, char **argv, struct provision_opts *o, struct nm_error *e)
{
	*o = (struct provision_opts){.robot_url = ROBOT_DEFAULT_URL,
				     .remote_dir = PROVISION_DEFAULT_REMOTE_DIR,
				     .rescue_timeout = PROVISION_DEFAULT_RESCUE_TIMEOUT,
				     .boot_timeout = PROVISION_DEFAULT_BOOT_TIMEOUT,
				     .jobs = 4};
	_cleanup_free_ struct option *longopts = build_longopts();
	if (!longopts)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int c, r = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "hj:", longopts, NULL)) != -1) {
		if (c == 'h') {
			print_help();
			return AGENT_HELP_SHOWN;
		}
		if (c == 'j')
			c = OPT_JOBS;
		if (c >= OPT_INSTALL_BASE)
			r = take_install_opt(o, &install_longopts[c - OPT_INSTALL_BASE], optarg, e);
		else if (c >= OPT_ROBOT_SERVER && c < OPT_INSTALL_BASE)
			r = take_own_opt(o, c, optarg, e);
		else
			r = agent_usage_error(e, "provision", "provision: unknown option '%s'", argv[optind - 1]);
	}
	if (r != 0)
		return r;
	if (optind < argc)
		o->target = argv[optind++];
	if (optind < argc)
		return agent_usage_error(e, "provision", "provision: unexpected argument '%s'", argv[optind]);
	return check_options(o, e);
}

static void provision_opts_free(struct provision_opts *o)
{
	nm_strv_free(o->install_args);
	nm_strv_free(o->ssh_options);
}

/* The product in order. A failure after the reboot that is a silence (the system did not come
 * back) leads to the diagnosis; anything else ends the run with its own message. */
static int provision_one(struct agent_ctx *ctx, const struct provision_opts *o, struct nm_error *e)
{
	struct provision_run run = {.ctx = ctx, .o = o};
	int r = provision_operator_keys(&run, e);
	if (r == 0)
		r = provision_robot_rescue(&run, e);
	if (r == 0)
		r = provision_rescue_connect(&run, e);
	if (r == 0)
		r = provision_upload(&run, e);
	if (r == 0)
		r = provision_install(&run, e);
	if (r == 0)
		r = provision_handover(&run, e);
	if (r == 0 && !o->no_reboot)
		r = provision_reboot(&run, e);
	if (r == 0 && !o->no_reboot) {
		r = provision_verify(&run, e);
		if (r == -ETIMEDOUT) {
			struct nm_error silence = *e;
			*e = (struct nm_error){0};
			r = provision_diagnose(&run, &silence, e);
		}
	}
	if (r == 0)
		provision_event(&run, "provision", "done", NULL);
	provision_run_free(&run);
	return r;
}

int agent_cmd_provision(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	struct provision_opts o;
	int r = parse_options(argc, argv, &o, e);
	if (r == 0)
		r = o.hosts_file ? provision_hosts(ctx, &o, e) : provision_one(ctx, &o, e);
	provision_opts_free(&o);
	return r == AGENT_HELP_SHOWN ? 0 : r;
}
