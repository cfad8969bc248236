/* cmd_export.c: `nmmm-agent export` — a tar (on stdout) of the generated /etc/nixos files of the
 * current or last install (hardware-configuration.nix, configuration.nix, plan.json,
 * report.json), ready to unpack into a deploy repository. Reads only. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "agent/state.h"

static const char export_help[] =
    "usage: nmmm-agent export [--state-dir DIR] > nixos.tar\n\n"
    "Writes a tar of the generated /etc/nixos files (hardware-configuration.nix, configuration.nix,\n"
    "plan.json and, after an install, report.json) to stdout, e.g.\n"
    "  ssh root@HOST nmmm-agent export | tar -x -C hosts/HOST/\n\n"
    "  --state-dir DIR   where the install keeps its state (default " AGENT_DEFAULT_STATE_DIR ")\n";

/* The directory the render phase wrote, as recorded in the state file. */
static int rendered_dir(const char *state_dir, char **dir, struct nm_error *e)
{
	_cleanup_agent_state_ struct agent_state st = {0};
	int r = agent_state_load(&st, state_dir, e);
	if (r == -ENOENT)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "%s/%s: no install has run here, so nothing was generated; run 'nmmm-agent install' "
			       "(or 'nmmm-agent render --out DIR' for the files alone)",
			       state_dir, AGENT_STATE_FILE);
	if (r < 0)
		return r;
	json_object *products = agent_state_products(&st, "render"), *d = NULL;
	if (products && json_object_object_get_ex(products, "dir", &d)) {
		*dir = strdup(json_object_get_string(d));
		if (!*dir)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (!*dir)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "the install in %s has not rendered its files yet; wait for the render phase "
			       "('nmmm-agent status')",
			       state_dir);
	return 0;
}

static int add_file(struct archive *a, const char *dir, const char *name, struct nm_error *e)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_free_ char *rel = nm_strdup_printf("%s/%s", dir, name);
	int r = nm_read_file("/", rel, 16u << 20, &data, &len);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot read: %s", rel, strerror(-r));
	struct archive_entry *entry = archive_entry_new();
	archive_entry_set_pathname(entry, name);
	archive_entry_set_size(entry, (la_int64_t)len);
	archive_entry_set_filetype(entry, AE_IFREG);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_mtime(entry, time(NULL), 0);
	r = archive_write_header(a, entry);
	if (r == ARCHIVE_OK && len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len)
		r = ARCHIVE_FATAL;
	archive_entry_free(entry);
	if (r != ARCHIVE_OK)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "export: writing %s to the tar failed: %s", name,
			       archive_error_string(a));
	return 0;
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

	_cleanup_free_ char *dir = NULL;
	int r = rendered_dir(state_dir, &dir, e);
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
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = nm_fail(e, NM_ERR_RUNTIME, EIO, "export: finishing the tar failed: %s", archive_error_string(a));
	archive_write_free(a);
	return r;
}
