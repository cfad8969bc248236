/* nixos.c: Nix as the installer uses it — finding or bootstrapping a single-user Nix, building
 * the NixOS system of the rendered configuration, running the channel's nixos-install onto the
 * mounted target and registering the pinned channel there. It runs Nix's own tools through
 * nm_run and never opens a disk: the target is a directory the caller has mounted. */
#include "images/images.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define NIX_BUILD_TIMEOUT (4 * 3600)
#define NIX_STEP_TIMEOUT 1800

static const char *const nix_search_dirs[] = {
    "/nix/var/nix/profiles/default/bin",
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
};

static bool is_executable(const char *dir, const char *name)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, X_OK) == 0;
}

static int nix_init(struct img_nix *nix, const char *bin_dir)
{
	nix->bin_dir = strdup(bin_dir);
	nix->substituters = strdup("https://cache.nixos.org");
	nix->trusted_keys = strdup("cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=");
	return nix->bin_dir && nix->substituters && nix->trusted_keys ? 0 : -ENOMEM;
}

int img_nix_from_path(struct img_nix *nix, struct nm_error *e)
{
	for (size_t i = 0; i < NM_ELEMENTSOF(nix_search_dirs); i++)
		if (is_executable(nix_search_dirs[i], "nix-build") && is_executable(nix_search_dirs[i], "nix-env") &&
		    is_executable(nix_search_dirs[i], "nix-store"))
			return nix_init(nix, nix_search_dirs[i]);
	return nm_fail(e, NM_ERR_USAGE, ENOENT,
		       "--nix-from-path: no nix-build/nix-env/nix-store in /nix/var/nix/profiles/default/bin, "
		       "/usr/local/bin or /usr/bin; install Nix or drop --nix-from-path to use the pinned tarball");
}

int img_nix_at(const char *bin_dir, struct img_nix *nix, struct nm_error *e)
{
	if (!is_executable(bin_dir, "nix-build") || !is_executable(bin_dir, "nix-store"))
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			       "%s: no nix-build/nix-store there any more; start over without --resume", bin_dir);
	return nix_init(nix, bin_dir) < 0 ? nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory") : 0;
}

void img_nix_free(struct img_nix *nix)
{
	free(nix->bin_dir);
	free(nix->substituters);
	free(nix->trusted_keys);
	memset(nix, 0, sizeof *nix);
}

char **img_nix_env(const struct img_nix *nix)
{
	char **env = nm_strv_new();
	_cleanup_free_ char *path =
	    nm_strdup_printf("PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", nix->bin_dir);
	/* Single-user root, no build users, no daemon; substitution tuned for a fast first install. */
	_cleanup_free_ char *conf = nm_strdup_printf("NIX_CONFIG=build-users-group =\n"
						     "experimental-features = nix-command\n"
						     "sandbox = false\n"
						     "http-connections = 64\n"
						     "connect-timeout = 10\n"
						     "substituters = %s\n"
						     "trusted-public-keys = %s\n",
						     nix->substituters, nix->trusted_keys);
	if (!env || !path || !conf || nm_strv_push(&env, path) < 0 || nm_strv_push(&env, conf) < 0 ||
	    nm_strv_push(&env, "NIX_PATH=") < 0) {
		nm_strv_free(env);
		return NULL;
	}
	return env;
}

static int run_nix(const struct img_nix *nix, const char *const argv[], unsigned timeout, const char *stdin_path,
		   struct nm_run_result *res, struct nm_error *e)
{
	_cleanup_strv_free_ char **env = img_nix_env(nix);
	if (!env)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct nm_run_opts o = {.timeout_sec = timeout, .extra_env = env, .stdin_path = stdin_path};
	return nm_run(argv, &o, res, e);
}

/* The tarball's content directory: the one holding `store/` and `.reginfo`, at the top or
 * under a single directory (nix-<ver>-x86_64-linux/). */
static int find_tarball_content(const char *dir, char **content, struct nm_error *e)
{
	if (nm_exists(dir, "/store") && nm_exists(dir, "/.reginfo"))
		return (*content = strdup(dir)) ? 0 : -ENOMEM;
	_cleanup_strv_free_ char **names = NULL;
	int r = nm_list_dir(dir, "/", &names);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot list the unpacked Nix tarball: %s", dir, strerror(-r));
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *sub = nm_strdup_printf("%s/%s", dir, names[i]);
		if (sub && nm_exists(sub, "/store") && nm_exists(sub, "/.reginfo"))
			return (*content = strdup(sub)) ? 0 : -ENOMEM;
	}
	return nm_fail(e, NM_ERR_VERIFY, ENOENT,
		       "%s: not a Nix binary tarball (no store/ and .reginfo); check the --nix-tarball URL and hash",
		       dir);
}

/* The store path of Nix itself inside the tarball: *-nix-<version> with bin/nix-store. */
static int find_nix_package(const char *content, char *const *paths, char **name, struct nm_error *e)
{
	for (size_t i = 0; paths[i]; i++) {
		const char *dash = strchr(paths[i], '-');
		if (!dash || strncmp(dash, "-nix-", 5) != 0)
			continue;
		_cleanup_free_ char *rel = nm_strdup_printf("/store/%s/bin/nix-store", paths[i]);
		if (rel && nm_exists(content, rel))
			return (*name = strdup(paths[i])) ? 0 : -ENOMEM;
	}
	return nm_fail(e, NM_ERR_VERIFY, ENOENT, "%s/store: no nix-<version> package with bin/nix-store in the tarball",
		       content);
}

int img_nix_bootstrap(const char *unpacked_dir, const char *nix_root, struct img_nix *nix, struct nm_error *e)
{
	_cleanup_free_ char *content = NULL, *nixpkg = NULL;
	_cleanup_strv_free_ char **paths = NULL;
	int r = find_tarball_content(unpacked_dir, &content, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *store_src = nm_strdup_printf("%s/store", content);
	r = nm_list_dir(content, "/store", &paths);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot list: %s", store_src, strerror(-r));
	r = find_nix_package(content, paths, &nixpkg, e);
	if (r < 0)
		return r;

	char store_dst[PATH_MAX];
	nm_root_path(nix_root, "/nix/store", store_dst, sizeof store_dst);
	_cleanup_free_ char *nix_dir =
	    nm_strdup_printf("%.*s/nix", (int)(strlen(store_dst) - strlen("/store")), store_dst);
	const char *mk[] = {"mkdir", "-p", "-m", "0755", store_dst, NULL};
	r = nm_run(mk, NULL, NULL, e);
	if (r < 0)
		return r;
	/* cp -a of each store path: -n keeps paths that are already there (a rerun). */
	size_t n = nm_strv_len(paths);
	_cleanup_free_ const char **cp = calloc(n + 5, sizeof(char *));
	_cleanup_strv_free_ char **srcs = nm_strv_new();
	if (!cp || !srcs)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	cp[0] = "cp";
	cp[1] = "-a";
	cp[2] = "-n";
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *s = nm_strdup_printf("%s/%s", store_src, paths[i]);
		if (!s || nm_strv_push(&srcs, s) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		cp[3 + i] = srcs[i];
	cp[3 + n] = store_dst;
	struct nm_run_opts o = {.timeout_sec = NIX_STEP_TIMEOUT};
	r = nm_run(cp, &o, NULL, e);
	if (r < 0)
		return r;

	_cleanup_free_ char *bin = nm_strdup_printf("%s/%s/bin", store_dst, nixpkg);
	_cleanup_free_ char *reginfo = nm_strdup_printf("%s/.reginfo", content);
	r = nix_init(nix, bin);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "out of memory");
	_cleanup_free_ char *nix_store = nm_strdup_printf("%s/nix-store", bin);
	_cleanup_free_ char *store_opt = nm_strdup_printf("local?root=%s", nix_root && *nix_root ? nix_root : "/");
	const char *load[] = {nix_store, "--store", store_opt, "--load-db", NULL};
	r = run_nix(nix, load, NIX_STEP_TIMEOUT, reginfo, NULL, e);
	if (r < 0) {
		nm_error_prefix(e, "registering the Nix tarball's store paths in %s", nix_dir);
		img_nix_free(nix);
		return r;
	}
	nm_info("nix: bootstrapped %s into %s", nixpkg, store_dst);
	return 0;
}

/* The last `count` lines of nix-build's output that are store paths, in order; -ENOENT when
 * fewer were printed, -ENOMEM when a copy failed (the caller frees paths either way). */
static int parse_out_paths(const char *out, char **paths, size_t count)
{
	size_t found = 0;
	const char *p = out;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 11 && strncmp(p, "/nix/store/", 11) == 0 && !memchr(p, ' ', len)) {
			if (found == count) {
				free(paths[0]);
				memmove(paths, paths + 1, (count - 1) * sizeof(char *));
				found--;
			}
			paths[found] = strndup(p, len);
			if (!paths[found++])
				return -ENOMEM;
		}
		p = nl ? nl + 1 : NULL;
	}
	return found == count ? 0 : -ENOENT;
}

/* nix-build or nix-instantiate of toplevel and nixos-install; both print the two paths. */
static int system_eval(const struct img_nix *nix, const char *tool, const char *channel_dir,
		       const char *configuration_nix, const char *store_root, const char *gcroot_dir,
		       struct img_system *sys, struct nm_error *e)
{
	memset(sys, 0, sizeof *sys);
	_cleanup_free_ char *nixpkgs = nm_strdup_printf("nixpkgs=%s", channel_dir);
	_cleanup_free_ char *config = nm_strdup_printf("nixos-config=%s", configuration_nix);
	_cleanup_free_ char *out_link = nm_strdup_printf("%s/system", gcroot_dir);
	_cleanup_free_ char *program = nm_strdup_printf("%s/%s", nix->bin_dir, tool);
	if (!nixpkgs || !config || !out_link || !program)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *argv[16] = {program, "<nixpkgs/nixos>",
				"-A",	 "config.system.build.toplevel",
				"-A",	 "config.system.build.nixos-install",
				"-I",	 nixpkgs,
				"-I",	 config};
	size_t n = 10;
	if (strcmp(tool, "nix-build") == 0) {
		argv[n++] = "--out-link";
		argv[n++] = out_link;
	} /* nix-instantiate: with --add-root it would print the links, not the .drv paths */
	if (store_root) {
		argv[n++] = "--store";
		argv[n++] = store_root;
	}
	struct nm_run_result res = {0};
	int r = run_nix(nix, argv, NIX_BUILD_TIMEOUT, NULL, &res, e);
	if (r < 0) {
		nm_run_result_free(&res);
		nm_error_prefix(e,
				"building the system failed (nothing was touched on the disks); fix the configuration "
				"or the channel and run again");
		return r;
	}
	char *paths[2] = {NULL, NULL};
	r = parse_out_paths(res.output, paths, 2);
	nm_run_result_free(&res);
	if (r < 0) {
		free(paths[0]);
		free(paths[1]);
		if (r == -ENOMEM)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		return nm_fail(e, NM_ERR_RUNTIME, EPROTO, "%s finished but printed no store paths; see the log", tool);
	}
	sys->toplevel = paths[0];
	sys->installer = paths[1];
	return 0;
}

int img_system_build(const struct img_nix *nix, const char *channel_dir, const char *configuration_nix,
		     const char *store_root, const char *gcroot_dir, struct img_system *sys, struct nm_error *e)
{
	nm_info("build: building the NixOS system of %s%s%s", configuration_nix, store_root ? " into " : "",
		store_root ? store_root : "");
	int r = system_eval(nix, "nix-build", channel_dir, configuration_nix, store_root, gcroot_dir, sys, e);
	if (r == 0)
		nm_info("build: system %s", sys->toplevel);
	return r;
}

int img_system_instantiate(const struct img_nix *nix, const char *channel_dir, const char *configuration_nix,
			   const char *gcroot_dir, struct img_system *sys, struct nm_error *e)
{
	nm_info("build: evaluating the NixOS system of %s", configuration_nix);
	return system_eval(nix, "nix-instantiate", channel_dir, configuration_nix, NULL, gcroot_dir, sys, e);
}

void img_system_free(struct img_system *sys)
{
	free(sys->toplevel);
	free(sys->installer);
	memset(sys, 0, sizeof *sys);
}

int img_system_install(const struct img_nix *nix, const struct img_system *sys, const char *target_root,
		       struct nm_error *e)
{
	_cleanup_free_ char *installer = nm_strdup_printf("%s/bin/nixos-install", sys->installer);
	if (!installer)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *argv[] = {installer,     "--root",		 target_root,	      "--system",
			      sys->toplevel, "--no-root-passwd", "--no-channel-copy", NULL};
	int r = run_nix(nix, argv, NIX_BUILD_TIMEOUT, NULL, NULL, e);
	if (r < 0)
		nm_error_prefix(e,
				"nixos-install onto %s failed (boot loader or closure copy); the target is mounted "
				"for inspection, run 'nmmm-agent install --resume' after fixing",
				target_root);
	return r;
}

int img_channel_register(const struct img_nix *nix, const char *channel_parent, const char *channel_url,
			 const char *target_root, struct nm_error *e)
{
	if (!nm_exists(channel_parent, "/nixos/nixos/default.nix"))
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT, "%s/nixos: not a NixOS channel (no nixos/default.nix)",
			       channel_parent);
	_cleanup_free_ char *nix_store = nm_strdup_printf("%s/nix-store", nix->bin_dir);
	_cleanup_free_ char *nix_env = nm_strdup_printf("%s/nix-env", nix->bin_dir);
	_cleanup_free_ char *profile = nm_strdup_printf("%s/nix/var/nix/profiles/per-user/root/channels", target_root);
	_cleanup_free_ char *profile_dir = nm_strdup_printf("%s/nix/var/nix/profiles/per-user/root", target_root);
	if (!nix_store || !nix_env || !profile || !profile_dir)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct nm_run_result res = {0};
	const char *add[] = {nix_store, "--add", channel_parent, NULL};
	int r = run_nix(nix, add, NIX_STEP_TIMEOUT, NULL, &res, e);
	char *path[1] = {NULL};
	if (r == 0) {
		r = parse_out_paths(res.output, path, 1);
		if (r == -ENOMEM)
			r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		else if (r < 0)
			r = nm_fail(e, NM_ERR_RUNTIME, EPROTO, "nix-store --add %s printed no store path",
				    channel_parent);
	}
	nm_run_result_free(&res);
	_cleanup_free_ char *store_path = path[0];
	if (r < 0)
		return r;
	const char *mk[] = {"mkdir", "-p", profile_dir, NULL};
	r = nm_run(mk, NULL, NULL, e);
	if (r < 0)
		return r;
	const char *set[] = {nix_env,	       "--store", target_root, "-p",
			     profile,	       "--set",	  store_path,  "--extra-substituters",
			     "auto?trusted=1", NULL};
	r = run_nix(nix, set, NIX_STEP_TIMEOUT, NULL, NULL, e);
	if (r < 0)
		return r;
	/* So that `nix-channel --update` on the installed system follows the same channel. */
	char p[PATH_MAX];
	nm_root_path(target_root, "/root", p, sizeof p);
	mkdir(p, 0700);
	nm_root_path(target_root, "/root/.nix-channels", p, sizeof p);
	_cleanup_free_ char *line = nm_strdup_printf("%s nixos\n", channel_url);
	if (!line)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	r = nm_write_file_atomic(p, line, strlen(line), 0644, e);
	if (r < 0)
		return r;
	nm_info("install: registered %s as root's nixos channel on the target", channel_url);
	return 0;
}
