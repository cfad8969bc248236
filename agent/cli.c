/* cli.c: global options, the command table, --help/--version, and the single mapping from an
 * error record to the exit code (0 done, 1 failed, 2 usage, 3 refused, 4 verification). */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include <archive.h>
#include <blkid/blkid.h>
#include <curl/curl.h>
#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <parted/parted.h>
#include <zlib.h>

struct agent_command {
	const char *name;
	agent_command_fn run;
	const char *synopsis;
};

static const struct agent_command commands[] = {
    {"detect", agent_cmd_detect, "detect  [--json]                                  inventory; changes nothing"},
    {"plan", agent_cmd_plan,
     "plan    [--config FILE] [--disks LIST] [--json]   what install would do; changes nothing"},
    {"render", agent_cmd_render, "render  [--config FILE] [--disks LIST] --out DIR  write the Nix files for that plan"},
    {"fetch", agent_cmd_fetch,
     "fetch   URL (--sha256 HEX | --nar-hash HASH) (--out FILE | --unpack DIR)  verified download"},
    {"wipe", agent_cmd_wipe,
     "wipe    --disks LIST --yes                        tear down and wipe the named disks only"},
    {"layout", agent_cmd_layout, "layout  [--config FILE] [--disks LIST] --yes [--until PHASE] [--target DIR]"},
    {"install", agent_cmd_install,
     "install [--config FILE] [--disks LIST] --yes [--resume] [--until PHASE] [--mirror URL]"},
    {"status", agent_cmd_status,
     "status  [--follow] [--json]                       progress/result of the current or last install"},
    {"export", agent_cmd_export,
     "export                                            tar of the generated /etc/nixos on stdout"},
    {"provision", agent_cmd_provision,
     "provision [--robot-server N] [install options] [--out DIR] root@HOST | --hosts FILE [-j N]\n"
     "                                                    from your machine: rescue, install, hand-over,\n"
     "                                                    reboot, verify (or diagnose)"},
    {"diagnose", agent_cmd_diagnose,
     "diagnose [--root-uuid UUID] [--plan FILE] [--json] [--mount-dir DIR]\n"
     "                                                    in the rescue: why the installed system did not come back"},
    {"replace-disk", agent_cmd_replace,
     "replace-disk --failed SERIAL|NAME --new DISK [--yes]  rebuild a dead mirror member"},
};

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: nmmm-agent [--root DIR] [--log FILE] [--events FILE|-] [-v|-q] COMMAND [options]\n\n"
		"Installs NixOS on a Hetzner dedicated server from its rescue system.\n\ncommands:\n");
	for (size_t i = 0; i < NM_ELEMENTSOF(commands); i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f,
		"\nglobal options:\n"
		"  --root DIR        read the machine under DIR instead of / (fixture trees, tests);\n"
		"                    wipe, layout and install never write disks under it (exit 3)\n"
		"  --log FILE        append a detailed log, with every program's output, to FILE\n"
		"  --events FILE|-   write JSON Lines progress events to FILE (- = stdout)\n"
		"  -v, -q            more or less on the console\n"
		"  --version         print the version and the library versions\n\n"
		"exit codes: 0 done, 1 failed while running, 2 bad usage or config,\n"
		"            3 refused for safety, 4 verification failed\n"
		"'nmmm-agent COMMAND --help' explains one command.\n");
}

static void print_version(void)
{
	printf("nmmm-agent %s (git %s)\n", NMMM_VERSION, NMMM_GIT_REV);
	const char *blkid_ver = NULL;
	blkid_get_library_version(&blkid_ver, NULL);
	printf("  libblkid %s\n  libparted %s\n  libcurl %s\n  %s\n  zlib %s\n  json-c %s\n  %s\n",
	       blkid_ver ? blkid_ver : "?", ped_get_version(), curl_version_info(CURLVERSION_NOW)->version,
	       archive_version_string(), zlibVersion(), json_c_version(), OpenSSL_version(OPENSSL_VERSION));
}

int agent_usage_error(struct nm_error *e, const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s; see 'nmmm-agent %s --help'", msg, cmd ? cmd : "");
}

void agent_print_json(json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	fputs(s, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static int events_open(struct agent_ctx *ctx, struct nm_error *e)
{
	const char *p = ctx->g.events_path;
	if (!p)
		return 0;
	if (strcmp(p, "-") == 0) {
		ctx->events.out = stdout;
		return 0;
	}
	ctx->events.out = fopen(p, "ae");
	if (!ctx->events.out)
		return nm_fail(e, NM_ERR_USAGE, errno, "--events %s: cannot open for appending: %s", p,
			       strerror(errno));
	setvbuf(ctx->events.out, NULL, _IOLBF, 0);
	ctx->events.owned = true;
	return 0;
}

static int parse_globals(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	enum { OPT_ROOT = 0x100, OPT_LOG, OPT_EVENTS, OPT_VERSION };
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"log", required_argument, NULL, OPT_LOG},
	    {"events", required_argument, NULL, OPT_EVENTS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	ctx->g.root = "/";
	ctx->g.verbosity = NM_LOG_INFO;
	optind = 0;
	opterr = 0;
	int c;
	/* '+': stop at the command name; the command parses the rest. */
	while ((c = getopt_long(argc, argv, "+vqh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: ctx->g.root = optarg; break;
		case OPT_LOG: ctx->g.log_path = optarg; break;
		case OPT_EVENTS: ctx->g.events_path = optarg; break;
		case 'v': ctx->g.verbosity = NM_LOG_DEBUG; break;
		case 'q': ctx->g.verbosity = NM_LOG_WARN; break;
		case 'h': print_usage(stdout); return AGENT_HELP_SHOWN;
		case OPT_VERSION: print_version(); return AGENT_HELP_SHOWN;
		default:
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "unknown or incomplete option '%s'; see 'nmmm-agent --help'", argv[optind - 1]);
		}
	}
	return 0;
}

int agent_main(int argc, char **argv)
{
	struct agent_ctx ctx = {.argv0 = argv[0]};
	struct nm_error err = {0};
	int r = parse_globals(&ctx, argc, argv, &err);
	if (r == AGENT_HELP_SHOWN)
		return 0;
	if (r == 0 && optind >= argc) {
		print_usage(stderr);
		nm_fail(&err, NM_ERR_USAGE, EINVAL, "no command given");
	}
	const struct agent_command *cmd = NULL;
	if (err.cls == NM_ERR_NONE) {
		for (size_t i = 0; i < NM_ELEMENTSOF(commands); i++)
			if (strcmp(commands[i].name, argv[optind]) == 0)
				cmd = &commands[i];
		if (!cmd)
			nm_fail(&err, NM_ERR_USAGE, EINVAL,
				"unknown command '%s'; commands: detect, plan, render, fetch, wipe, "
				"layout, install, status, export, provision, diagnose, replace-disk (see 'nmmm-agent "
				"--help')",
				argv[optind]);
	}
	if (err.cls == NM_ERR_NONE && nm_log_open(ctx.g.log_path, ctx.g.verbosity, &err) == 0 &&
	    events_open(&ctx, &err) == 0) {
		int cargc = argc - optind;
		char **cargv = argv + optind;
		optind = 0;
		int rc = cmd->run(&ctx, cargc, cargv, &err);
		/* The contract: a failure always comes with its record. One without is a bug here, and
		 * must never look like success (exit 0, no message). */
		if (rc < 0 && err.cls == NM_ERR_NONE)
			nm_fail(&err, NM_ERR_RUNTIME, -rc,
				"internal error: '%s' failed (%s) without saying why; this is a bug in "
				"nmmm-agent — please report it with the log",
				cmd->name, strerror(-rc));
	}
	if (err.cls != NM_ERR_NONE)
		fprintf(stderr, "nmmm-agent: %s\n", err.msg);
	if (ctx.events.owned)
		fclose(ctx.events.out);
	if (ctx.events.copy)
		fclose(ctx.events.copy);
	nm_log_close();
	return nm_exit_code(&err);
}
