/* test_img_pins.c: the compiled-in pins and their overrides — nixpkgs is a rev with its NAR
 * hash, release and end of support, Nix a URL with SHA-256 and size; --mirror keeps the path
 * and comes first among the nixpkgs sources; a URL without a hash is a usage error, the config
 * file section applies like the flags; past the end of support there is a warning naming the
 * way out; and img_fetch itself refuses unpinned or malformed requests before touching anything. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "images/images.h"

static const char *const hash_a = "85d1847d06d5d56167796d3f61cd992908de84584db3e700da031a782b59ea22";

static const char *const nar_a = "sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=";

static void default_pins_are_complete(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	assert_string_equal(p.nixpkgs.release, "26.05");
	assert_string_equal(p.nixpkgs.branch, "nixos-26.05");
	assert_string_equal(p.nixpkgs.rev, "02e08985a27c65ffd33d434eeb2e660a2e4dc84d");
	assert_string_equal(p.nixpkgs.nar_hash, nar_a);
	assert_string_equal(p.nixpkgs.support_ends, "2026-12-31");
	assert_null(p.nixpkgs.url);
	assert_non_null(strstr(p.nix.url, "nix-2.35.2-x86_64-linux.tar.xz"));
	assert_true(img_sha256_hex_valid(p.nix.sha256));
	assert_int_equal(p.nix.size, 27131728);
	img_pins_free(&p);
}

/* The sources of the compiled-in pin: the GitHub archive of the rev, then the release's channel
 * tarball (reachable over IPv6); with --mirror, the same paths under the mirror first. */
static void nixpkgs_sources_in_order(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	struct img_source *s = NULL;
	size_t n = 0;
	assert_int_equal(img_nixpkgs_sources(&p.nixpkgs, &s, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(s[0].url,
			    "https://github.com/NixOS/nixpkgs/archive/"
			    "02e08985a27c65ffd33d434eeb2e660a2e4dc84d.tar.gz");
	assert_false(s[0].channel);
	assert_string_equal(s[1].url,
			    "https://releases.nixos.org/nixos/26.05/nixos-26.05.7675.02e08985a27c/nixexprs.tar.xz");
	assert_true(s[1].channel);
	img_sources_free(s, n);
	assert_int_equal(img_nixpkgs_set_mirror(&p.nixpkgs, "http://127.0.0.1:9/m/", &e), 0);
	assert_int_equal(img_nixpkgs_sources(&p.nixpkgs, &s, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_string_equal(s[0].url,
			    "http://127.0.0.1:9/m/NixOS/nixpkgs/archive/"
			    "02e08985a27c65ffd33d434eeb2e660a2e4dc84d.tar.gz");
	assert_string_equal(s[1].url, "http://127.0.0.1:9/m/nixos/26.05/nixos-26.05.7675.02e08985a27c/nixexprs.tar.xz");
	assert_true(s[1].channel);
	assert_non_null(strstr(s[2].url, "https://github.com/"));
	img_sources_free(s, n);
	/* a tree named by URL: the mirror, then the URL itself; the rev and its channel are gone */
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "https://h/x/t.tar.gz", nar_a, NULL, &e), 0);
	assert_int_equal(img_nixpkgs_sources(&p.nixpkgs, &s, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(s[0].url, "http://127.0.0.1:9/m/x/t.tar.gz");
	assert_string_equal(s[1].url, "https://h/x/t.tar.gz");
	assert_false(s[1].channel);
	assert_null(p.nixpkgs.release);
	assert_null(p.nixpkgs.support_ends);
	img_sources_free(s, n);
	img_pins_free(&p);
}

/* A test's stand-in tree in place of the compiled-in rev: the rev and NAR hash change (the hash
 * in any form, stored as SRI), the repository, branch and release stay, the channel release and
 * commit time of the old rev go, so the sources are the new rev's archive and the branch's
 * channel. A malformed rev or hash, or a pin by URL, is refused naming `what`. */
static void set_rev_replaces_the_rev_and_its_hash(void **state)
{
	static const char rev[] = "5eed5eed5eed5eed5eed5eed5eed5eed5eed0001";
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	assert_int_equal(
	    img_nixpkgs_set_rev(&p.nixpkgs, "T", rev, "1959piz48qhaaqdyr2m5mf92gnxxhrzhls6z1ppy01ckh5wdrya2", &e), 0);
	assert_string_equal(p.nixpkgs.rev, rev);
	assert_string_equal(p.nixpkgs.nar_hash, nar_a);
	assert_string_equal(p.nixpkgs.origin, "T");
	assert_string_equal(p.nixpkgs.branch, "nixos-26.05");
	assert_string_equal(p.nixpkgs.release, "26.05");
	assert_string_equal(p.nixpkgs.owner, "NixOS");
	assert_null(p.nixpkgs.channel);
	assert_int_equal(p.nixpkgs.last_modified, 0);
	struct img_source *s = NULL;
	size_t n = 0;
	assert_int_equal(img_nixpkgs_sources(&p.nixpkgs, &s, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(s[0].url,
			    "https://github.com/NixOS/nixpkgs/archive/5eed5eed5eed5eed5eed5eed5eed5eed5eed0001.tar.gz");
	assert_string_equal(s[1].url, "https://channels.nixos.org/nixos-26.05/nixexprs.tar.xz");
	assert_true(s[1].channel);
	img_sources_free(s, n);
	static const char *const bad_revs[] = {"5eed", "5EED5EED5EED5EED5EED5EED5EED5EED5EED0001",
					       "5eed5eed5eed5eed5eed5eed5eed5eed5eed00011", NULL};
	for (size_t i = 0; i < 4; i++) {
		struct nm_error bad = {0};
		assert_int_equal(img_nixpkgs_set_rev(&p.nixpkgs, "T", bad_revs[i], nar_a, &bad), -EINVAL);
		assert_int_equal(bad.cls, NM_ERR_USAGE);
		assert_non_null(strstr(bad.msg, "T: "));
	}
	struct nm_error bad_hash = {0};
	assert_int_equal(img_nixpkgs_set_rev(&p.nixpkgs, "T", rev, "sha256-nope", &bad_hash), -EINVAL);
	assert_int_equal(bad_hash.cls, NM_ERR_USAGE);
	assert_non_null(strstr(bad_hash.msg, "T NAR hash"));
	assert_string_equal(p.nixpkgs.rev, rev); /* a refusal changes nothing */
	assert_string_equal(p.nixpkgs.nar_hash, nar_a);
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "https://h/t.tar.gz", nar_a, NULL, &e), 0);
	struct nm_error by_url = {0};
	assert_int_equal(img_nixpkgs_set_rev(&p.nixpkgs, "T", rev, nar_a, &by_url), -EINVAL);
	assert_non_null(strstr(by_url.msg, "not named by a rev"));
	img_pins_free(&p);
}

static void support_warning_after_the_end_only(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	assert_null(img_nixpkgs_support_warning(&p.nixpkgs, "2026-12-02"));
	assert_null(img_nixpkgs_support_warning(&p.nixpkgs, "2026-12-31"));
	char *w = img_nixpkgs_support_warning(&p.nixpkgs, "2027-01-01");
	assert_non_null(w);
	assert_non_null(strstr(w, "--nixpkgs-from"));
	assert_non_null(strstr(w, "scripts/update-pins"));
	assert_non_null(strstr(w, "2026-12-31"));
	free(w);
	char today[11];
	img_today_utc(today);
	assert_int_equal(strlen(today), 10);
	/* an operator's pin carries no end date: no warning about it */
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "https://h/t.tar.gz", nar_a, "25.05", &e), 0);
	assert_null(img_nixpkgs_support_warning(&p.nixpkgs, "2099-01-01"));
	img_pins_free(&p);
}

static void mirror_rewrites_only_scheme_and_host(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	const char *path = strstr(p.nix.url, "/nix/");
	assert_non_null(path);
	char *want = nm_strdup_printf("file:///srv/mirror%s", path);
	assert_int_equal(img_pin_apply_mirror(&p.nix, "file:///srv/mirror/", &e), 0);
	assert_string_equal(p.nix.url, want);
	free(want);
	assert_int_equal(img_nixpkgs_set_mirror(&p.nixpkgs, "not a url", &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	img_pins_free(&p);
}

/* A mirror's credentials and token reach the transfer (the pin's URL in memory) and nothing that
 * is written: plan.json and report.json get the pins through img_pins_to_json, messages name
 * the URL without them. The token query goes after the pin's path. */
static void mirror_secret_stays_in_memory(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	assert_non_null(strstr(p.nix.url, "/nix/"));
	_cleanup_free_ char *path = strdup(strstr(p.nix.url, "/nix/")); /* the mirror replaces the URL */
	assert_int_equal(img_pin_apply_mirror(&p.nix, "https://user:s3cr3tT0ken@mirror:8443/base/?token=s3cr3tQ", &e),
			 0);
	_cleanup_free_ char *want = nm_strdup_printf("https://user:s3cr3tT0ken@mirror:8443/base%s?token=s3cr3tQ", path);
	assert_string_equal(p.nix.url, want);
	json_object *pj = img_pins_to_json(&p);
	const char *text = json_object_to_json_string(pj);
	assert_null(strstr(text, "s3cr3t"));
	assert_non_null(strstr(text, "https:\\/\\/***@mirror:8443\\/base\\/nix\\/"));
	json_object_put(pj);
	assert_int_equal(img_nixpkgs_set_mirror(&p.nixpkgs, "user:s3cr3tT0ken@mirror/x", &e), -EINVAL);
	assert_null(strstr(e.msg, "s3cr3t"));
	assert_non_null(strstr(e.msg, "***@mirror/x"));
	struct nm_error e2 = {0};
	assert_int_equal(
	    img_pin_override(&p.nix, "--nix-tarball", "http://u:s3cr3tT0ken@h/c.tar.xz?t=s3cr3tQ", NULL, NULL, &e2),
	    -EINVAL);
	assert_null(strstr(e2.msg, "s3cr3t"));
	/* a nixpkgs URL with a token is used, but recorded without it */
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "http://u:s3cr3tT0ken@h/c.tar.gz?t=s3cr3tQ",
					      nar_a, NULL, &e2),
			 0);
	json_object *nj = img_pins_to_json(&p);
	assert_null(strstr(json_object_to_json_string(nj), "s3cr3t"));
	json_object_put(nj);
	img_pins_free(&p);
}

static void override_needs_a_hash_with_its_url(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	assert_int_equal(img_pin_override(&p.nix, "--nix-tarball", "http://h/n.tar.xz", NULL, NULL, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "--nix-tarball-sha256"));
	struct nm_error e2 = {0};
	assert_int_equal(img_pin_override(&p.nix, "--nix-tarball", "http://h/n.tar.xz", "xyz", NULL, &e2), -EINVAL);
	struct nm_error e3 = {0};
	char upper[65];
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(hash_a[i] >= 'a' ? hash_a[i] - 'a' + 'A' : hash_a[i]);
	upper[64] = '\0';
	assert_int_equal(img_pin_override(&p.nix, "--nix-tarball", "http://h/n.tar.xz", upper, NULL, &e3), 0);
	assert_string_equal(p.nix.url, "http://h/n.tar.xz");
	assert_string_equal(p.nix.sha256, hash_a); /* stored lower-case */
	assert_int_equal(p.nix.size, 0);
	/* nixpkgs: URL and NAR hash together; any hash form, stored as SRI */
	struct nm_error e4 = {0};
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "http://h/t.tar.gz", NULL, NULL, &e4), -EINVAL);
	assert_non_null(strstr(e4.msg, "--nixpkgs-hash"));
	struct nm_error e5 = {0};
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "http://h/t.tar.gz",
					      "1959piz48qhaaqdyr2m5mf92gnxxhrzhls6z1ppy01ckh5wdrya2", "24.11", &e5),
			 0);
	assert_string_equal(p.nixpkgs.nar_hash, nar_a);
	assert_string_equal(p.nixpkgs.release, "24.11");
	assert_string_equal(p.nixpkgs.origin, "--nixpkgs");
	struct nm_error e6 = {0};
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "http://h/t.tar.gz", "sha256-nope", NULL, &e6),
			 -EINVAL);
	assert_int_equal(e6.cls, NM_ERR_USAGE);
	img_pins_free(&p);
}

static void config_section_applies_like_flags(void **state)
{
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	json_object *cfg = json_tokener_parse("{\"nixpkgs\": {\"url\": \"https://x/n/t.tar.gz\", \"nar_hash\": "
					      "\"sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=\"},"
					      " \"nix\": {\"url\": \"https://x/nix/n.tar.xz\", \"sha256\": "
					      "\"85d1847d06d5d56167796d3f61cd992908de84584db3e700da031a782b59ea22\"},"
					      " \"mirror\": \"http://127.0.0.1:9\"}");
	assert_non_null(cfg);
	assert_int_equal(img_pins_apply_config(&p, cfg, &e), 0);
	assert_string_equal(p.nixpkgs.url, "https://x/n/t.tar.gz");
	assert_string_equal(p.nixpkgs.mirror, "http://127.0.0.1:9");
	assert_string_equal(p.nix.url, "http://127.0.0.1:9/nix/n.tar.xz");
	assert_string_equal(p.nix.sha256, hash_a);
	json_object *pj = img_pins_to_json(&p);
	json_object *np, *url;
	assert_true(json_object_object_get_ex(pj, "nixpkgs", &np));
	assert_true(json_object_object_get_ex(np, "url", &url));
	assert_string_equal(json_object_get_string(url), p.nixpkgs.url);
	/* what the state records reads back (export writes the handover pins from it) */
	struct img_nixpkgs_pin back;
	assert_int_equal(img_nixpkgs_pin_from_json(np, &back, &e), 0);
	assert_string_equal(back.nar_hash, p.nixpkgs.nar_hash);
	assert_string_equal(back.url, p.nixpkgs.url);
	img_nixpkgs_pin_free(&back);
	json_object_put(pj);
	json_object_put(cfg);
	json_object *bad = json_tokener_parse("{\"nix\": {\"url\": \"https://x/nix.tar.xz\"}}");
	assert_int_equal(img_pins_apply_config(&p, bad, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "config"));
	json_object_put(bad);
	img_pins_free(&p);
}

static void sha256_hex_is_exactly_64_hex_digits(void **state)
{
	assert_true(img_sha256_hex_valid(hash_a));
	assert_false(img_sha256_hex_valid(NULL));
	assert_false(img_sha256_hex_valid(""));
	assert_false(img_sha256_hex_valid("85d1847d"));
	char bad[66];
	snprintf(bad, sizeof bad, "%s0", hash_a);
	assert_false(img_sha256_hex_valid(bad));
	snprintf(bad, sizeof bad, "g%s", hash_a + 1);
	assert_false(img_sha256_hex_valid(bad));
}

static void fetch_refuses_unpinned_requests_before_touching_anything(void **state)
{
	char dir[] = "/tmp/images-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *out = nm_strdup_printf("%s/out", dir);
	struct img_fetch_result res;
	struct {
		struct img_fetch_req req;
	} cases[] = {
	    {{.url = "http://127.0.0.1:9/x", .out_file = out}},
	    {{.url = "http://127.0.0.1:9/x", .sha256 = "abc", .out_file = out}},
	    {{.url = "http://127.0.0.1:9/x", .sha256 = hash_a}},
	    {{.url = "http://127.0.0.1:9/x", .sha256 = hash_a, .out_file = out, .unpack_dir = out}},
	    {{.url = "ftp://127.0.0.1/x", .sha256 = hash_a, .out_file = out}},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		struct nm_error e = {0};
		assert_int_equal(img_fetch(&cases[i].req, &res, &e), -EINVAL);
		assert_int_equal(e.cls, NM_ERR_USAGE);
	}
	struct stat st;
	char *part = nm_strdup_printf("%s.part", out);
	assert_int_equal(stat(out, &st), -1);
	assert_int_equal(stat(part, &st), -1);
	free(part);
	free(out);
	rmdir(dir);
}

static void ca_bundle_is_found_under_root(void **state)
{
	char dir[] = "/tmp/images-unit-ca-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = NULL;
	assert_int_equal(img_ca_bundle(dir, &path), 0);
	assert_null(path);
	char *d1 = nm_strdup_printf("%s/etc/pki/tls/certs", dir);
	char *cmd_dirs[] = {nm_strdup_printf("%s/etc", dir), nm_strdup_printf("%s/etc/pki", dir),
			    nm_strdup_printf("%s/etc/pki/tls", dir), d1};
	for (size_t i = 0; i < NM_ELEMENTSOF(cmd_dirs); i++)
		assert_int_equal(mkdir(cmd_dirs[i], 0755), 0);
	char *bundle = nm_strdup_printf("%s/ca-bundle.crt", d1);
	FILE *f = fopen(bundle, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(img_ca_bundle(dir, &path), 0);
	assert_non_null(path);
	assert_string_equal(path, bundle); /* the Red Hat path when the Debian one is absent */
	free(path);
	unlink(bundle);
	free(bundle);
	for (size_t i = NM_ELEMENTSOF(cmd_dirs); i-- > 0;) {
		rmdir(cmd_dirs[i]);
		free(cmd_dirs[i]);
	}
	rmdir(dir);
}

/* The pin section is typed: a value of the wrong type, an unknown key inside a pin, a release
 * that is not YY.MM or a URL with a control character is a config error naming the field —
 * never silently the compiled-in pin, never "24.11\nx" in system.stateVersion. */
static void config_pins_are_typed_and_checked(void **state)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
	    {"{\"nixpkgs\": \"https://x/nixexprs.tar.xz\"}", "nixpkgs: expected an object"},
	    {"{\"nixpkgs\": {\"url\": 5, \"nar_hash\": \"HASH\"}}", "nixpkgs.url: expected a string, found a int"},
	    {"{\"nixpkgs\": {\"url\": \"https://x/c.tar.xz\", \"nar_hash\": [\"HASH\"]}}",
	     "nixpkgs.nar_hash: expected a string"},
	    {"{\"nixpkgs\": {\"release\": 24.11}}", "nixpkgs.release: expected a string"},
	    {"{\"nixpkgs\": {\"release\": \"24.11\\nx\"}}", "nixpkgs.release: \"24.11\\nx\" is not a NixOS release"},
	    {"{\"nixpkgs\": {\"release\": \"24.13\"}}", "nixpkgs.release: \"24.13\" is not"},
	    {"{\"nixpkgs\": {\"release\": \"24.00\"}}", "nixpkgs.release: \"24.00\" is not"},
	    {"{\"nixpkgs\": {\"release\": \"2411\"}}", "nixpkgs.release"},
	    {"{\"nixpkgs\": {\"release\": \"24.1\"}}", "nixpkgs.release"},
	    {"{\"nixpkgs\": {\"release\": \"unstable\"}}", "nixpkgs.release"},
	    {"{\"nixpkgs\": {\"release\": \" 24.11\"}}", "nixpkgs.release"},
	    {"{\"nixpkgs\": {\"rev\": \"abc\"}}",
	     "nixpkgs.rev: unknown field; the nixpkgs pin has url, nar_hash and release"},
	    {"{\"nixpkgs\": {\"url\": \"https://x/c.tar.xz\\n[x]\", \"nar_hash\": "
	     "\"sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=\"}}",
	     "nixpkgs.url: the URL contains a space or control character"},
	    {"{\"nix\": {\"sha256\": true}}", "nix.sha256: expected a string, found a boolean"},
	    {"{\"nix\": {\"release\": \"2.28.3\"}}", "nix.release: unknown field; the nix pin has url and sha256"},
	    {"{\"nix\": null}", "nix: expected an object"},
	    {"{\"nixpkgs\": {\"nar_hash\": \"HASH\"}}", "URL and its NAR hash together"},
	    {"{\"mirror\": 8080}", "mirror: expected a string"},
	    {"{\"mirror\": [\"http://127.0.0.1:9\"]}", "mirror: expected a string"},
	    {"{\"mirror\": \"http://127.0.0.1:9/\\r\\nx\"}", "--mirror: the URL contains a space or control character"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		/* HASH stands for a valid SHA-256, so only the field under test is wrong. */
		char json[512];
		const char *h = strstr(cases[i].json, "HASH");
		if (h)
			snprintf(json, sizeof json, "%.*s%s%s", (int)(h - cases[i].json), cases[i].json, hash_a, h + 4);
		else
			snprintf(json, sizeof json, "%s", cases[i].json);
		json_object *cfg = json_tokener_parse(json);
		if (!cfg)
			fail_msg("case %zu is not JSON: %s", i, json);
		struct img_pins p;
		struct nm_error e = {0};
		assert_int_equal(img_pins_default(&p, &e), 0);
		if (img_pins_apply_config(&p, cfg, &e) == 0)
			fail_msg("%s: accepted (nixpkgs release now \"%s\")", json, p.nixpkgs.release);
		assert_int_equal(e.cls, NM_ERR_USAGE);
		if (!strstr(e.msg, cases[i].needle))
			fail_msg("%s: message \"%s\" does not mention \"%s\"", json, e.msg, cases[i].needle);
		json_object_put(cfg);
		img_pins_free(&p);
	}
}

static void releases_are_yy_mm(void **state)
{
	assert_true(img_release_valid("25.05"));
	assert_true(img_release_valid("24.11"));
	assert_true(img_release_valid("26.01"));
	assert_true(img_release_valid("99.12"));
	assert_false(img_release_valid(NULL));
	assert_false(img_release_valid(""));
	assert_false(img_release_valid("24.11\n"));
	assert_false(img_release_valid("24.11x"));
	assert_false(img_release_valid("24-11"));
	assert_false(img_release_valid("2.28.3"));
	assert_false(img_release_valid("24.00"));
	assert_false(img_release_valid("24.13"));
	assert_false(img_release_valid("a4.11"));
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(img_pins_default(&p, &e), 0);
	/* --nixpkgs-release takes the same rule, as does --nixpkgs with a newline in it. */
	assert_int_equal(img_nixpkgs_set_release(&p.nixpkgs, "--nixpkgs-release", "24.11\nx", &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "--nixpkgs-release: not a NixOS release"));
	assert_string_equal(p.nixpkgs.release, "26.05");
	struct nm_error e2 = {0};
	assert_int_equal(img_nixpkgs_override(&p.nixpkgs, "--nixpkgs", "http://h/c\n.tar.gz", nar_a, NULL, &e2),
			 -EINVAL);
	assert_non_null(strstr(e2.msg, "control character"));
	struct nm_error e3 = {0};
	json_object *ok = json_tokener_parse("{\"nixpkgs\": {\"release\": \"24.11\"}}");
	assert_int_equal(img_pins_apply_config(&p, ok, &e3), 0);
	assert_string_equal(p.nixpkgs.release, "24.11");
	assert_string_equal(p.nixpkgs.nar_hash, nar_a); /* the release alone leaves the tree pinned as it was */
	json_object_put(ok);
	img_pins_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(default_pins_are_complete),
	    cmocka_unit_test(nixpkgs_sources_in_order),
	    cmocka_unit_test(set_rev_replaces_the_rev_and_its_hash),
	    cmocka_unit_test(support_warning_after_the_end_only),
	    cmocka_unit_test(mirror_rewrites_only_scheme_and_host),
	    cmocka_unit_test(mirror_secret_stays_in_memory),
	    cmocka_unit_test(override_needs_a_hash_with_its_url),
	    cmocka_unit_test(config_section_applies_like_flags),
	    cmocka_unit_test(sha256_hex_is_exactly_64_hex_digits),
	    cmocka_unit_test(fetch_refuses_unpinned_requests_before_touching_anything),
	    cmocka_unit_test(ca_bundle_is_found_under_root),
	    cmocka_unit_test(config_pins_are_typed_and_checked),
	    cmocka_unit_test(releases_are_yy_mm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
