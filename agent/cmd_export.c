/* cmd_export.c: `nmmm-agent export` — a tar (on stdout) of the generated /etc/nixos files of the
 * current or last install (hardware-configuration.nix, configuration.nix, plan.json,
 * report.json) and, once nixpkgs was fetched, the pins of that very nixpkgs for both ways of
 * deploying: flake.nix + flake.lock, and nixpkgs.nix for the non-flake style. Ready to unpack
 * into a deploy repository. Reads only. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "agent/state.h"
#include "images/images.h"

static const char export_help[] =
    "usage: nmmm-agent export [--state-dir DIR] > nixos.tar\n\n"
    "Writes a tar of the generated /etc/nixos files (hardware-configuration.nix, configuration.nix,\n"
    "plan.json and, after an install, report.json) to stdout, with the installed nixpkgs pinned\n"
    "again as flake.nix + flake.lock and as nixpkgs.nix (fetchTarball), e.g.\n"
    "  ssh root@HOST nmmm-agent export | tar -x -C hosts/HOST/\n\n"
    "  --state-dir DIR   where the install keeps its state (default " AGENT_DEFAULT_STATE_DIR ")\n";

/* The directory the render phase wrote, and what fetch and confirm recorded (NULL before). */
struct exported {
	char *dir;
	json_object *nixpkgs; /* the fetched pin, with its release */
	char *hostname;
};

static int read_state(const char *state_dir, struct exported *x, struct agent_state *st, struct nm_error *e)
{
	int r = agent_state_load(st, state_dir, e);
	if (r == -ENOENT)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "%s/%s: no install has run here, so nothing was generated; run 'nmmm-agent install' "
			       "(or 'nmmm-agent render --out DIR' for the files alone)",
			       state_dir, AGENT_STATE_FILE);
	if (r < 0)
		return r;
	json_object *products = agent_state_products(st, "render"), *d = NULL;
	if (products && json_object_object_get_ex(products, "dir", &d)) {
		x->dir = strdup(json_object_get_string(d));
		if (!x->dir)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (!x->dir)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "the install in %s has not rendered its files yet; wait for the render phase "
			       "('nmmm-agent status')",
			       state_dir);
	json_object *fetched = agent_state_products(st, "fetch");
	if (fetched)
		json_object_object_get_ex(fetched, "nixpkgs", &x->nixpkgs);
	json_object *confirmed = agent_state_products(st, "confirm"), *h = NULL;
	if (confirmed && json_object_object_get_ex(confirmed, "hostname", &h))
		x->hostname = strdup(json_object_get_string(h));
	return 0;
}

static int add_bytes(struct archive *a, const char *name, const char *data, size_t len, struct nm_error *e)
{
	struct archive_entry *entry = archive_entry_new();
	archive_entry_set_pathname(entry, name);
	archive_entry_set_size(entry, (la_int64_t)len);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_mtime(entry, time(NULL), 0);
	int r = archive_write_header(a, entry);
	if (r == ARCHIVE_OK && len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len)
		r = ARCHIVE_FATAL;
	archive_entry_free(entry);
	if (r != ARCHIVE_OK)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "export: writing %s to the tar failed: %s", name,
			       archive_error_string(a));
	return 0;
}

/* The flake's input, as a flake reference: the branch it follows (flake.lock pins the rev), or
 * the rev itself, or the tarball's URL. */
static char *flake_input_url(const struct img_nixpkgs_pin *p)
{
	if (p->rev && !p->url)
		return nm_strdup_printf("github:%s/%s/%s", p->owner ? p->owner : "NixOS", p->repo ? p->repo : "nixpkgs",
					p->branch ? p->branch : p->rev);
	return strdup(p->url);
}

static char *flake_nix(const struct img_nixpkgs_pin *p, const char *hostname)
{
	_cleanup_free_ char *input = flake_input_url(p);
	if (!input)
		return NULL;
	/* configuration.nix imports hardware-configuration.nix: the module system takes a file once.
	 * The install built the system from the tree as a channel; nixpkgs' nixosSystem adds the
	 * flake's version and registry pin (docs/install.md), which the commented module undoes for
	 * an operator who wants the first switch to be the installed system itself. */
	return nm_strdup_printf(
	    "{\n"
	    "  description = \"NixOS on %s, as nmmm-agent installed it\";\n\n"
	    "  # The nixpkgs the server was installed from; flake.lock pins its rev and NAR hash.\n"
	    "  inputs.nixpkgs.url = \"%s\";\n\n"
	    "  outputs = { nixpkgs, ... }: {\n"
	    "    nixosConfigurations.\"%s\" = nixpkgs.lib.nixosSystem {\n"
	    "      modules = [\n"
	    "        ./configuration.nix\n"
	    "        ./hardware-configuration.nix\n"
	    "        # The install built this system from the same nixpkgs tree as a channel. nixosSystem\n"
	    "        # adds what that build did not have: the flake's version suffix (.YYYYMMDD.REV) and\n"
	    "        # revision, and nixpkgs' source in the system's flake registry and NIX_PATH. So the\n"
	    "        # first switch from this flake builds a new generation. For the installed system\n"
	    "        # itself (a no-op switch), uncomment:\n"
	    "        # ({ lib, ... }: let tree = import (nixpkgs.outPath + \"/lib\"); in {\n"
	    "        #   system.nixos.versionSuffix = lib.mkForce tree.trivial.versionSuffix;\n"
	    "        #   system.nixos.revision = lib.mkForce (tree.trivial.revisionWithDefault null);\n"
	    "        #   nixpkgs.flake.source = lib.mkForce null;\n"
	    "        # })\n"
	    "      ];\n"
	    "    };\n"
	    "  };\n"
	    "}\n",
	    hostname, input, hostname);
}

/* flake.nix, flake.lock and nixpkgs.nix for the nixpkgs the install fetched and verified. */
static int add_pins(struct archive *a, const struct exported *x, struct nm_error *e)
{
	struct img_nixpkgs_pin pin = {0};
	int r = img_nixpkgs_pin_from_json(x->nixpkgs, &pin, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *flake = flake_nix(&pin, x->hostname ? x->hostname : "nixos");
	_cleanup_free_ char *lock = img_nixpkgs_flake_lock(&pin);
	_cleanup_free_ char *pin_nix = img_nixpkgs_pin_nix(&pin);
	img_nixpkgs_pin_free(&pin);
	if (!flake || !lock || !pin_nix)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	r = add_bytes(a, "flake.nix", flake, strlen(flake), e);
	if (r == 0)
		r = add_bytes(a, "flake.lock", lock, strlen(lock), e);
	if (r == 0)
		r = add_bytes(a, "nixpkgs.nix", pin_nix, strlen(pin_nix), e);
	return r;
}

static int add_file(struct archive *a, const char *dir, const char *name, struct nm_error *e)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_free_ char *rel = nm_strdup_printf("%s/%s", dir, name);
	int r = nm_read_file("/", rel, 16u << 20, &data, &len);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot read: %s", rel, strerror(-r));
	return add_bytes(a, name, data, len, e);
}

int agent_cmd_export(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"state-dir", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *state_dir = AGENT_DEFAULT_STATE_DIR;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 's')
			state_dir = optarg;
		else if (c == 'h')
			return fputs(export_help, stdout), 0;
		else
			return agent_usage_error(e, "export", "export: unknown option '%s'", argv[optind - 1]);
	}
	if (optind < argc)
		return agent_usage_error(e, "export", "export: unexpected argument '%s'", argv[optind]);
	if (isatty(STDOUT_FILENO))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "export writes a tar to stdout; redirect it: 'nmmm-agent export > nixos.tar' or "
			       "'| tar -x -C DIR'");

	_cleanup_agent_state_ struct agent_state st = {0};
	struct exported x = {0};
	int r = read_state(state_dir, &x, &st, e);
	_cleanup_free_ char *dir = x.dir;
	_cleanup_free_ char *hostname = x.hostname;
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **names = NULL;
	r = nm_list_dir("/", dir, &names);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot list the generated files: %s", dir, strerror(-r));
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, STDOUT_FILENO) != ARCHIVE_OK) {
		r = nm_fail(e, NM_ERR_RUNTIME, EIO, "export: cannot write to stdout: %s", archive_error_string(a));
		archive_write_free(a);
		return r;
	}
	for (size_t i = 0; r == 0 && names[i]; i++) {
		if (names[i][0] == '.')
			continue; /* temporary files of an atomic write */
		r = add_file(a, dir, names[i], e);
	}
	if (r == 0 && x.nixpkgs)
		r = add_pins(a, &x, e);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = nm_fail(e, NM_ERR_RUNTIME, EIO, "export: finishing the tar failed: %s", archive_error_string(a));
	archive_write_free(a);
	return r;
}
