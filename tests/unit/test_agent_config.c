/* test_agent_config.c: the test-only environment of agent_nixpkgs_options. NMMM_TEST_NIXPKGS_PIN
 * replaces the compiled-in rev and NAR hash only together with NMMM_TEST_ORIGIN_BASE, only over
 * the compiled-in pin (not over --nixpkgs, --nixpkgs-from or the config's nixpkgs section), keeps
 * the release and --nixpkgs-release, and a malformed value is a usage error naming it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "images/images.h"

static const char rev[] = "5eed5eed5eed5eed5eed5eed5eed5eed5eed0001";
static const char nar[] = "sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=";
static const char nar_hex[] = "42f9dc78819305e0ef0ddf680a7f86bddb2792aba58aec1b560a62447ebca9a4";

static int clear_env(void **state)
{
	unsetenv("NMMM_TEST_ORIGIN_BASE");
	unsetenv("NMMM_TEST_NIXPKGS_PIN");
	return 0;
}

/* The test environment: the origin base (NULL: none) and the pin "rev HASH". */
static void set_env(const char *origin_base, const char *hash)
{
	char value[160];
	snprintf(value, sizeof value, "%s %s", rev, hash);
	if (origin_base)
		setenv("NMMM_TEST_ORIGIN_BASE", origin_base, 1);
	setenv("NMMM_TEST_NIXPKGS_PIN", value, 1);
}

/* agent_nixpkgs_options over the compiled-in pins (after the config's section, when given). */
static int options(struct img_pins *p, const char *config_json, const char *url, const char *release,
		   struct nm_error *e)
{
	if (img_pins_default(p, e) < 0)
		return -ENOMEM;
	if (config_json) {
		json_object *cfg = json_tokener_parse(config_json);
		int r = img_pins_apply_config(p, cfg, e);
		json_object_put(cfg);
		if (r < 0)
			return r;
	}
	return agent_nixpkgs_options(&p->nixpkgs, NULL, NULL, url, url ? nar : NULL, release, e);
}

static void test_pin_replaces_the_compiled_in_rev(void **state)
{
	set_env("http://127.0.0.1:9/origin", nar_hex);
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(options(&p, NULL, NULL, NULL, &e), 0);
	assert_string_equal(p.nixpkgs.rev, rev);
	assert_string_equal(p.nixpkgs.nar_hash, nar); /* the hex form, as SRI */
	assert_string_equal(p.nixpkgs.origin, "NMMM_TEST_NIXPKGS_PIN");
	assert_string_equal(p.nixpkgs.release, "26.05");
	assert_string_equal(p.nixpkgs.origin_base, "http://127.0.0.1:9/origin");
	img_pins_free(&p);
	/* --nixpkgs-release (or the config's release alone) keeps the compiled-in pin replaceable */
	assert_int_equal(options(&p, "{\"nixpkgs\": {\"release\": \"26.11\"}}", NULL, "26.11", &e), 0);
	assert_string_equal(p.nixpkgs.rev, rev);
	assert_string_equal(p.nixpkgs.release, "26.11");
	img_pins_free(&p);
}

static void test_pin_needs_the_test_origin(void **state)
{
	set_env(NULL, nar);
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(options(&p, NULL, NULL, NULL, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "NMMM_TEST_NIXPKGS_PIN"));
	assert_non_null(strstr(e.msg, "NMMM_TEST_ORIGIN_BASE"));
	img_pins_free(&p);
}

static void test_pin_never_replaces_a_named_nixpkgs(void **state)
{
	set_env("file:///srv/origin", nar);
	struct img_pins p;
	struct nm_error e = {0};
	assert_int_equal(options(&p, NULL, "http://127.0.0.1:9/t.tar.gz", NULL, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "but --nixpkgs names the nixpkgs already"));
	img_pins_free(&p);
	struct nm_error e2 = {0};
	char cfg[256];
	snprintf(cfg, sizeof cfg, "{\"nixpkgs\": {\"url\": \"http://127.0.0.1:9/t.tar.gz\", \"nar_hash\": \"%s\"}}",
		 nar);
	assert_int_equal(options(&p, cfg, NULL, NULL, &e2), -EINVAL);
	assert_non_null(strstr(e2.msg, "but nixpkgs.url names the nixpkgs already"));
	img_pins_free(&p);
}

static void malformed_test_pin_is_a_usage_error_naming_it(void **state)
{
	setenv("NMMM_TEST_ORIGIN_BASE", "http://[::1]:9", 1);
	char two_hashes[200], bad_rev[160], bad_hash[160];
	snprintf(two_hashes, sizeof two_hashes, "%s %s %s", rev, nar, nar);
	snprintf(bad_rev, sizeof bad_rev, "%.39sg %s", rev, nar);
	snprintf(bad_hash, sizeof bad_hash, "%s sha256-nope", rev);
	const char *const values[] = {rev, two_hashes, bad_rev, bad_hash, "  "};
	for (size_t i = 0; i < NM_ELEMENTSOF(values); i++) {
		setenv("NMMM_TEST_NIXPKGS_PIN", values[i], 1);
		struct img_pins p;
		struct nm_error e = {0};
		int r = options(&p, NULL, NULL, NULL, &e);
		assert_int_equal(r, -EINVAL);
		assert_int_equal(e.cls, NM_ERR_USAGE);
		assert_non_null(strstr(e.msg, "NMMM_TEST_NIXPKGS_PIN"));
		assert_string_equal(p.nixpkgs.rev, "02e08985a27c65ffd33d434eeb2e660a2e4dc84d");
		img_pins_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_pin_replaces_the_compiled_in_rev, clear_env),
	    cmocka_unit_test_setup(test_pin_needs_the_test_origin, clear_env),
	    cmocka_unit_test_setup(test_pin_never_replaces_a_named_nixpkgs, clear_env),
	    cmocka_unit_test_setup(malformed_test_pin_is_a_usage_error_naming_it, clear_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
