/* test_remote_quote.c: remote_command_line, the one quoting of a remote command. Each line is
 * handed to a real /bin/sh (sh -c LINE, through nm_run), which must give the program exactly the
 * words it was built from: `printf '%s\0' WORDS` prints them back, NUL-separated, byte for byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "remote/remote.h"

/* What a remote shell could expand, split, redirect or run, and what is not text at all. */
static const char *const hostile[] = {
    "it's",
    "\"double\"",
    "$(touch /tmp/nmmm-quote-pwned)",
    "`touch /tmp/nmmm-quote-pwned`",
    "a;b",
    "x|y",
    "two\nlines",
    "  spaced  out  ",
    "*",
    "~",
    "~root",
    "-n",
    "--",
    "",
    "\xff\xfe not utf-8",
    "\\",
    "\\n",
    "$HOME",
    "${HOME}",
    "tab\there",
    "!",
    "#c",
    "{a,b}",
    "&",
    ">out",
    "'",
    "''",
    "'\\''",
    "%s",
    "\r",
    "\x01\x1b[31m",
    "a'b\"c$d`e\\f",
};

static void round_trips_through_sh(const char *const *words, size_t n)
{
	const char **argv = calloc(n + 3, sizeof *argv);
	assert_non_null(argv);
	argv[0] = "printf";
	argv[1] = "%s\\0";
	for (size_t i = 0; i < n; i++)
		argv[2 + i] = words[i];
	char *line = NULL;
	struct nm_error e = {0};
	assert_int_equal(remote_command_line(argv, &line, &e), 0);
	const char *sh[] = {"sh", "-c", line, NULL};
	struct nm_run_result res;
	assert_int_equal(nm_run(sh, NULL, &res, &e), 0);
	size_t want_len = 0;
	for (size_t i = 0; i < n; i++)
		want_len += strlen(words[i]) + 1;
	assert_int_equal(res.output_len, want_len);
	const char *p = res.output;
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(p, words[i]);
		p += strlen(words[i]) + 1;
	}
	nm_run_result_free(&res);
	free(line);
	free(argv);
}

static void hostile_words_reach_the_program_intact(void **state)
{
	unlink("/tmp/nmmm-quote-pwned");
	round_trips_through_sh(hostile, NM_ELEMENTSOF(hostile));
	for (size_t i = 0; i < NM_ELEMENTSOF(hostile); i++)
		round_trips_through_sh(&hostile[i], 1);
	assert_int_equal(access("/tmp/nmmm-quote-pwned", F_OK), -1);
}

/* The exact text: every word quoted, a quote as '\'' , one space between words. */
static void quoting_is_single_quotes_joined_by_spaces(void **state)
{
	const char *argv[] = {"echo", "it's", "", "$x", NULL};
	char *line = NULL;
	assert_int_equal(remote_command_line(argv, &line, NULL), 0);
	assert_string_equal(line, "'echo' 'it'\\''s' '' '$x'");
	free(line);
}

static void empty_argv_is_refused(void **state)
{
	const char *argv[] = {NULL};
	char *line = NULL;
	struct nm_error e = {0};
	assert_int_equal(remote_command_line(argv, &line, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_null(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hostile_words_reach_the_program_intact),
	    cmocka_unit_test(quoting_is_single_quotes_joined_by_spaces),
	    cmocka_unit_test(empty_argv_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
