/* test_img_nixpkgs.c: nixpkgs pins from flake.lock files in the shapes Nix writes (github and
 * tarball inputs, the root's input indirection, another node by name, other types refused), the
 * handover pins written back (flake.lock as `nix flake lock` writes it, nixpkgs.nix with the
 * nix32 hash), and the fetch over its sources: a missing source falls through to the next, a
 * channel-shaped tarball of the rev verifies once its additions are gone, a channel of another
 * rev is refused, and all failing names each source and what to pass. Sources are local files
 * (file://) standing in for the origins. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "images/images.h"

#define REV_2605 "02e08985a27c65ffd33d434eeb2e660a2e4dc84d"
#define NAR_2605 "sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ="

static int lock(struct img_nixpkgs_pin *p, const char *file, const char *node, struct nm_error *e)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/flake-locks/%s", NMMM_FIXTURES, file);
	*p = (struct img_nixpkgs_pin){0};
	return img_nixpkgs_from_flake_lock(p, path, node, e);
}

static void home_manager_lock_pins_the_2605_rev(void **state)
{
	struct img_nixpkgs_pin p;
	struct nm_error e = {0};
	assert_int_equal(lock(&p, "home-manager-26.05.lock", NULL, &e), 0);
	assert_string_equal(p.rev, REV_2605);
	assert_string_equal(p.nar_hash, NAR_2605);
	assert_string_equal(p.owner, "NixOS");
	assert_string_equal(p.repo, "nixpkgs");
	assert_string_equal(p.branch, "nixos-26.05");
	assert_int_equal(p.last_modified, 1786711500);
	assert_null(p.url);
	assert_null(p.release); /* read from the tree's .version after verification */
	assert_null(p.support_ends);
	_cleanup_free_ char *url = img_nixpkgs_archive_url(&p);
	assert_string_equal(url, "https://github.com/NixOS/nixpkgs/archive/" REV_2605 ".tar.gz");
	img_nixpkgs_pin_free(&p);
}

static void nixvim_lock_follows_the_root_input(void **state)
{
	struct img_nixpkgs_pin p;
	struct nm_error e = {0};
	assert_int_equal(lock(&p, "nixvim-25.05.lock", NULL, &e), 0);
	assert_string_equal(p.rev, "ac62194c3917d5f474c1a844b6fd6da2db95077d"); /* node nixpkgs_2 */
	assert_string_equal(p.nar_hash, "sha256-16KkgfdYqjaeRGBaYsNrhPRRENs0qzkQVUooNHtoy2w=");
	assert_int_equal(p.last_modified, 0);
	img_nixpkgs_pin_free(&p);
	/* an input that follows a path ("nixpkgs-lib": ["nixpkgs"]) resolves from the root */
	assert_int_equal(lock(&p, "nixvim-25.05.lock", "flake-parts", &e), 0);
	assert_string_equal(p.owner, "hercules-ci");
	img_nixpkgs_pin_free(&p);
}

static void other_nodes_and_types(void **state)
{
	struct img_nixpkgs_pin p;
	struct nm_error e = {0};
	assert_int_equal(lock(&p, "srvos-stable.lock", "nixos-stable", &e), 0);
	assert_string_equal(p.rev, "b6018f87da91d19d0ab4cf979885689b469cdd41");
	assert_string_equal(p.branch, "nixos-25.11");
	img_nixpkgs_pin_free(&p);
	assert_int_equal(lock(&p, "srvos-stable.lock", "tarball-pkgs", &e), 0);
	assert_string_equal(p.url, "https://releases.example.invalid/nixpkgs-26.05.tar.gz");
	assert_null(p.rev);
	img_nixpkgs_pin_free(&p);
	struct nm_error e2 = {0};
	assert_int_equal(lock(&p, "srvos-stable.lock", NULL, &e2), -EINVAL);
	assert_int_equal(e2.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e2.msg, "type 'git'"));
	img_nixpkgs_pin_free(&p);
	struct nm_error e3 = {0};
	assert_int_equal(lock(&p, "home-manager-26.05.lock", "nixpkgs-unstable", &e3), -ENOENT);
	assert_non_null(strstr(e3.msg, "--nixpkgs-node"));
	assert_non_null(strstr(e3.msg, "\"nixpkgs\""));
	img_nixpkgs_pin_free(&p);
	struct nm_error e4 = {0};
	assert_int_equal(lock(&p, "README.md", NULL, &e4), -EINVAL);
	img_nixpkgs_pin_free(&p);
}

/* Byte for byte what `nix flake lock` writes for `inputs.nixpkgs.url =
 * "github:NixOS/nixpkgs/nixos-26.05"` (the home-manager fixture has exactly that node). */
static void handover_lock_is_what_nix_writes(void **state)
{
	struct img_pins pins;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&pins, &e), 0);
	_cleanup_free_ char *text = img_nixpkgs_flake_lock(&pins.nixpkgs);
	assert_non_null(text);
	_cleanup_free_ char *want = NULL;
	size_t len = 0;
	_cleanup_free_ char *path = nm_strdup_printf("%s/flake-locks/home-manager-26.05.lock", NMMM_FIXTURES);
	assert_int_equal(nm_read_file("/", path, 1 << 20, &want, &len), 0);
	assert_string_equal(text, want);
	_cleanup_free_ char *pin_nix = img_nixpkgs_pin_nix(&pins.nixpkgs);
	assert_non_null(strstr(pin_nix, "url = \"https://github.com/NixOS/nixpkgs/archive/" REV_2605 ".tar.gz\";"));
	/* the nix32 form PINS.md gives for this NAR hash (fetchTarball pins of the same archive) */
	assert_non_null(strstr(pin_nix, "sha256 = \"1959piz48qhaaqdyr2m5mf92gnxxhrzhls6z1ppy01ckh5wdrya2\";"));
	img_pins_free(&pins);
}

/* ---- fetch over the sources ---- */

static char work[] = "/tmp/images-nixpkgs-XXXXXX";

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
	free(cmd);
}

/* A nixpkgs-shaped tree, its NAR hash, a pin of it by rev with its channel release, and the
 * origins under file://WORK/origin. */
static void make_tree(struct img_nixpkgs_pin *p, const char *rev)
{
	sh("rm -rf %s/* && mkdir -p %s/src/nixpkgs-%s/nixos %s/src/nixpkgs-%s/lib %s/origin", work, work, rev, work,
	   rev, work);
	sh("cd %s/src/nixpkgs-%s && echo '{ }: { }' > nixos/default.nix && echo 26.05 > lib/.version && "
	   "ln -s lib/.version .version && printf '#!/bin/sh\\n' > nixos/run && chmod +x nixos/run && mkdir empty",
	   work, rev);
	_cleanup_free_ char *tree = nm_strdup_printf("%s/src/nixpkgs-%s", work, rev);
	unsigned char d[IMG_HASH_BYTES];
	struct nm_error e = {0};
	assert_int_equal(img_nar_hash_path(tree, d, &e), 0);
	*p = (struct img_nixpkgs_pin){0};
	p->nar_hash = img_hash_to_sri(d);
	p->rev = strdup(rev);
	p->owner = strdup("NixOS");
	p->repo = strdup("nixpkgs");
	p->release = strdup("26.05");
	p->channel = strdup("nixos-26.05.7675.0123456789ab");
	p->origin = strdup("test");
	p->origin_base = nm_strdup_printf("file://%s/origin", work);
}

/* The channel tarball: the tree plus what the channel scripts add, under nixos-26.05.N.REV/. */
static void make_channel(const char *src_rev, const char *git_revision)
{
	const char *top = "nixos-26.05.7675.0123456789ab";
	sh("cd %s && rm -rf ch && mkdir ch && cp -a src/nixpkgs-%s ch/%s && cd ch/%s && echo %s > .git-revision && "
	   "echo .7675.0123456789ab > .version-suffix && ln -s . nixpkgs && echo db > programs.sqlite && "
	   "mkdir -p %s/origin/nixos/26.05/%s && tar -C %s/ch -cJf %s/origin/nixos/26.05/%s/nixexprs.tar.xz %s",
	   work, src_rev, top, top, git_revision, work, top, work, work, top, top);
}

static void make_github(const char *rev)
{
	sh("mkdir -p %s/origin/NixOS/nixpkgs/archive && tar -C %s/src -czf %s/origin/NixOS/nixpkgs/archive/%s.tar.gz "
	   "nixpkgs-%s",
	   work, work, work, rev, rev);
}

static int fetch(const struct img_nixpkgs_pin *p, char **used, struct nm_error *e)
{
	_cleanup_free_ char *dest = nm_strdup_printf("%s/tree", work);
	sh("rm -rf %s", dest);
	struct img_fetch_req base = {.retries_set = true, .retries = 0};
	return img_nixpkgs_fetch(p, &base, dest, used, e);
}

static bool tree_exists(const char *rel)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/tree%s", work, rel);
	struct stat st;
	return lstat(path, &st) == 0;
}

static void github_archive_verifies(void **state)
{
	struct img_nixpkgs_pin p;
	make_tree(&p, "1111111111111111111111111111111111111111");
	make_github(p.rev);
	_cleanup_free_ char *used = NULL;
	struct nm_error e = {0};
	assert_int_equal(fetch(&p, &used, &e), 0);
	assert_non_null(strstr(used, "/NixOS/nixpkgs/archive/"));
	assert_true(tree_exists("/nixos/default.nix")); /* the tree itself, not its top directory */
	_cleanup_free_ char *release = NULL, *tree = nm_strdup_printf("%s/tree", work);
	assert_int_equal(img_nixpkgs_tree_release(tree, &release, &e), 0);
	assert_string_equal(release, "26.05");
	img_nixpkgs_pin_free(&p);
}

static void missing_github_falls_through_to_the_channel(void **state)
{
	struct img_nixpkgs_pin p;
	make_tree(&p, "2222222222222222222222222222222222222222");
	make_channel(p.rev, p.rev); /* no GitHub archive at all (an IPv6-only server) */
	_cleanup_free_ char *used = NULL;
	struct nm_error e = {0};
	if (fetch(&p, &used, &e) != 0)
		fail_msg("%s", e.msg);
	assert_non_null(strstr(used, "/nixexprs.tar.xz"));
	assert_true(tree_exists("/nixos/default.nix"));
	assert_false(tree_exists("/.git-revision"));
	assert_false(tree_exists("/nixpkgs"));
	assert_false(tree_exists("/programs.sqlite"));
	img_nixpkgs_pin_free(&p);
}

static void channel_of_another_rev_is_refused(void **state)
{
	struct img_nixpkgs_pin p;
	make_tree(&p, "3333333333333333333333333333333333333333");
	make_channel(p.rev, "4444444444444444444444444444444444444444");
	_cleanup_free_ char *used = NULL;
	struct nm_error e = {0};
	assert_int_equal(fetch(&p, &used, &e), -EBADMSG);
	assert_int_equal(e.cls, NM_ERR_VERIFY);
	assert_non_null(strstr(e.msg, "is of rev 4444444444444444444444444444444444444444"));
	assert_false(tree_exists(""));
	img_nixpkgs_pin_free(&p);
}

static void channel_with_changed_content_is_refused(void **state)
{
	struct img_nixpkgs_pin p;
	make_tree(&p, "5555555555555555555555555555555555555555");
	sh("chmod -x %s/src/nixpkgs-%s/nixos/run", work, p.rev); /* one executable bit, after hashing */
	make_channel(p.rev, p.rev);
	_cleanup_free_ char *used = NULL;
	struct nm_error e = {0};
	assert_int_equal(fetch(&p, &used, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "NAR hash mismatch"));
	assert_false(tree_exists(""));
	img_nixpkgs_pin_free(&p);
}

static void all_failing_names_every_source_and_the_way_out(void **state)
{
	struct img_nixpkgs_pin p;
	make_tree(&p, "6666666666666666666666666666666666666666");
	p.mirror = nm_strdup_printf("file://%s/no-mirror", work);
	_cleanup_free_ char *used = NULL;
	struct nm_error e = {0};
	assert_int_equal(fetch(&p, &used, &e), -EIO);
	assert_int_equal(e.cls, NM_ERR_RUNTIME);
	assert_non_null(strstr(e.msg, "1. file://"));
	assert_non_null(strstr(e.msg, "/no-mirror/NixOS/nixpkgs/archive/6666"));
	assert_non_null(strstr(e.msg, "2. file://"));
	assert_non_null(strstr(e.msg, "3. file://"));
	assert_non_null(strstr(e.msg, "4. file://"));
	assert_non_null(strstr(e.msg, "/nixexprs.tar.xz"));
	assert_non_null(strstr(e.msg, "--mirror"));
	assert_non_null(strstr(e.msg, "--nixpkgs-hash"));
	assert_non_null(strstr(e.msg, "--nixpkgs-from"));
	assert_false(tree_exists(""));
	img_nixpkgs_pin_free(&p);
}

static int setup(void **state)
{
	return mkdtemp(work) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", work);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(home_manager_lock_pins_the_2605_rev),
	    cmocka_unit_test(nixvim_lock_follows_the_root_input),
	    cmocka_unit_test(other_nodes_and_types),
	    cmocka_unit_test(handover_lock_is_what_nix_writes),
	    cmocka_unit_test(github_archive_verifies),
	    cmocka_unit_test(missing_github_falls_through_to_the_channel),
	    cmocka_unit_test(channel_of_another_rev_is_refused),
	    cmocka_unit_test(channel_with_changed_content_is_refused),
	    cmocka_unit_test(all_failing_names_every_source_and_the_way_out),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
