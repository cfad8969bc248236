/* test_nixstr.c: nm_nix_string, the one Nix string renderer. The property test renders
 * thousands of random and hostile strings, has the real nix-instantiate (Debian's nix-bin)
 * evaluate them all in one call, and requires every value back byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/common.h"
#include "nix_test_env.h"

/* Offline settings for Debian's nix 2.8 as root (tests/unit/nix_test_env.h says why): no build users,
 * no sandbox, and no substituters, or every call spends seconds retrying the public cache. */

/* Pieces that have broken Nix string escaping somewhere: quotes, backslashes, interpolation
 * openers in every neighbourhood, indented-string quotes, comment markers, control characters
 * and multibyte UTF-8 (2, 3 and 4 bytes). */
static const char *const hostile[] = {
    "\"", "\\", "${", "$${",	     "$$",   "$",   "{",   "}",	   "''",      "'",     "''${",	   "\\${", "\\$", "$\\",
    "\n", "\r", "\t", "\r\n",	     "é",    "€",   "𝄞",   "\x01", "\x1b[0m", "\x7f",  "a",	   " ",	   "#",	  "/*",
    "*/", ";",	"=",  "ssh-ed25519", "\\\\", "\\n", "$\"", "\"$",  "${x}",    "$${x}", "${\"a\"}", "\\\"",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	/* xorshift64*: deterministic, so a failure is reproducible from the index it names. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A random valid UTF-8 code point (no NUL, no surrogates), written to dst; returns its length. */
static size_t random_code_point(char *dst)
{
	uint32_t ranges[][2] = {{0x01, 0x7f}, {0x80, 0x7ff}, {0x800, 0xd7ff}, {0xe000, 0xffff}, {0x10000, 0x10ffff}};
	uint32_t *r = ranges[rng_next() % NM_ELEMENTSOF(ranges)];
	uint32_t cp = r[0] + (uint32_t)(rng_next() % (r[1] - r[0] + 1));
	unsigned char *p = (unsigned char *)dst;
	if (cp < 0x80)
		return p[0] = (unsigned char)cp, 1;
	if (cp < 0x800)
		return p[0] = 0xc0 | (cp >> 6), p[1] = 0x80 | (cp & 0x3f), 2;
	if (cp < 0x10000)
		return p[0] = 0xe0 | (cp >> 12), p[1] = 0x80 | ((cp >> 6) & 0x3f), p[2] = 0x80 | (cp & 0x3f), 3;
	p[0] = 0xf0 | (cp >> 18);
	p[1] = 0x80 | ((cp >> 12) & 0x3f);
	p[2] = 0x80 | ((cp >> 6) & 0x3f);
	p[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static char *random_string(size_t *len)
{
	size_t pieces = rng_next() % 14, n = 0;
	char *s = malloc(pieces * 16 + 1);
	assert_non_null(s);
	for (size_t i = 0; i < pieces; i++) {
		if (rng_next() % 3 == 0) {
			n += random_code_point(s + n);
		} else {
			const char *h = hostile[rng_next() % NM_ELEMENTSOF(hostile)];
			memcpy(s + n, h, strlen(h));
			n += strlen(h);
		}
	}
	s[n] = '\0';
	*len = n;
	return s;
}

/* Evaluates `[ lit0 lit1 ... ]` with nix-instantiate --eval --strict --json and returns the
 * parsed JSON array. */
static json_object *nix_eval_list(char **literals, size_t n)
{
	char path[] = "/tmp/nix-render-nixstr-XXXXXX.nix";
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("[\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %s\n", literals[i]);
	fputs("]\n", f);
	fclose(f);
	const char *argv[] = {"nix-instantiate", "--eval", "--strict", "--json", path, NULL};
	struct nm_run_opts opts = {.timeout_sec = 120, .extra_env = nix_test_env};
	struct nm_run_result res = {0};
	struct nm_error e = {0};
	int r = nm_run(argv, &opts, &res, &e);
	if (r < 0)
		fail_msg("nix-instantiate failed on %s: %s", path, e.msg);
	unlink(path);
	/* The value is the last line; anything before it would be a warning on stderr. */
	char *start = res.output;
	for (char *nl = strchr(start, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n'))
		start = nl + 1;
	json_object *v = json_tokener_parse(start);
	nm_run_result_free(&res);
	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), n);
	return v;
}

static void random_and_hostile_strings_round_trip_through_real_nix(void **state)
{
	enum { N = 3000 };
	char **orig = calloc(N, sizeof *orig), **lit = calloc(N, sizeof *lit);
	size_t *len = calloc(N, sizeof *len);
	assert_true(orig && lit && len);
	for (size_t i = 0; i < N; i++) {
		if (i < NM_ELEMENTSOF(hostile)) {
			/* Each hostile piece alone, and at the very end of a string, once. */
			orig[i] = strdup(hostile[i]);
			len[i] = strlen(orig[i]);
		} else {
			orig[i] = random_string(&len[i]);
		}
		struct nm_error e = {0};
		assert_int_equal(nm_nix_string("test", orig[i], len[i], &lit[i], &e), 0);
		/* A literal never spans lines: a rendered value cannot break out into the file. */
		assert_null(strchr(lit[i], '\n'));
	}
	json_object *v = nix_eval_list(lit, N);
	for (size_t i = 0; i < N; i++) {
		json_object *got = json_object_array_get_idx(v, i);
		if (!json_object_is_type(got, json_type_string) || (size_t)json_object_get_string_len(got) != len[i] ||
		    memcmp(json_object_get_string(got), orig[i], len[i]) != 0)
			fail_msg("string %zu did not round-trip: rendered %s, nix gave %s", i, lit[i],
				 json_object_to_json_string(got));
		free(orig[i]);
		free(lit[i]);
	}
	json_object_put(v);
	free(orig);
	free(lit);
	free(len);
}

static void interpolation_is_escaped_and_lone_dollar_kept_readable(void **state)
{
	struct nm_error e = {0};
	char *out = NULL;
	assert_int_equal(nm_nix_string("f", "a${b}$c$", 8, &out, &e), 0);
	assert_string_equal(out, "\"a\\${b}$c$\"");
	free(out);
	assert_int_equal(nm_nix_string("f", "", 0, &out, &e), 0);
	assert_string_equal(out, "\"\"");
	free(out);
}

static void nul_byte_is_refused_naming_the_field(void **state)
{
	struct nm_error e = {0};
	char *out = (char *)1;
	assert_int_equal(nm_nix_string("--hostname", "ab\0c", 4, &out, &e), -EINVAL);
	assert_null(out);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, "--hostname"));
	assert_non_null(strstr(e.msg, "NUL"));
}

static void invalid_utf8_is_refused_naming_the_field(void **state)
{
	const char *bad[] = {"\xc0\xaf", "\x80", "\xed\xa0\x80", "abc\xe2\x82", "\xf5\x80\x80\x80", "\xff"};
	for (size_t i = 0; i < NM_ELEMENTSOF(bad); i++) {
		struct nm_error e = {0};
		char *out = NULL;
		assert_int_equal(nm_nix_string("ssh key comment", bad[i], strlen(bad[i]), &out, &e), -EILSEQ);
		assert_null(out);
		assert_int_equal(nm_exit_code(&e), 2);
		assert_non_null(strstr(e.msg, "ssh key comment"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(random_and_hostile_strings_round_trip_through_real_nix),
	    cmocka_unit_test(interpolation_is_escaped_and_lone_dollar_kept_readable),
	    cmocka_unit_test(nul_byte_is_refused_naming_the_field),
	    cmocka_unit_test(invalid_utf8_is_refused_naming_the_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
