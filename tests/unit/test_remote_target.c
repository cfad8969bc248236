/* test_remote_target.c: remote_target_parse and remote_target_display — the forms an operator
 * writes (root@HOST, bare HOST, IPv4, IPv6 with and without brackets, ports) and the refusals
 * (empty parts, an option in the host's place, spaces and control characters, bad ports). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "remote/remote.h"

static void parses(const char *s, const char *user, const char *host, unsigned port, const char *shown)
{
	struct remote_target t;
	struct nm_error e = {0};
	assert_int_equal(remote_target_parse(s, &t, &e), 0);
	assert_string_equal(t.user, user);
	assert_string_equal(t.host, host);
	assert_int_equal(t.port, port);
	char *d = remote_target_display(&t);
	assert_string_equal(d, shown);
	free(d);
	remote_target_free(&t);
}

static void refuses(const char *s, const char *why)
{
	struct remote_target t;
	struct nm_error e = {0};
	assert_int_equal(remote_target_parse(s, &t, &e), -EINVAL);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	if (!strstr(e.msg, why))
		fail_msg("%s: '%s' does not say '%s'", s, e.msg, why);
	assert_null(t.user);
	assert_null(t.host);
}

static void the_forms_an_operator_writes(void **state)
{
	parses("root@web1.example.com", "root", "web1.example.com", 0, "root@web1.example.com");
	parses("root@1.2.3.4", "root", "1.2.3.4", 0, "root@1.2.3.4");
	parses("root@[2a01:4f8::2]", "root", "2a01:4f8::2", 0, "root@2a01:4f8::2");
	parses("root@[::1]:2222", "root", "::1", 2222, "root@[::1]:2222");
	parses("root@host:22", "root", "host", 22, "root@host:22");
	parses("HOST", "root", "HOST", 0, "root@HOST");
	parses("2a01:4f8:10a:1b2::2", "root", "2a01:4f8:10a:1b2::2", 0, "root@2a01:4f8:10a:1b2::2");
	parses("deploy_1@[fe80::1%eth0]:65535", "deploy_1", "fe80::1%eth0", 65535, "deploy_1@[fe80::1%eth0]:65535");
	parses("[web1]:2200", "root", "web1", 2200, "root@web1:2200");
}

static void refusals_name_the_problem(void **state)
{
	refuses("root@-oProxyCommand=x", "starts with '-', which ssh would read as an option");
	refuses("-oProxyCommand=x", "starts with '-'");
	refuses("-l@host", "the user starts with '-'");
	refuses("", "an empty target");
	refuses("root@", "the host is empty");
	refuses("@host", "the user is empty");
	refuses("root@[]", "the host is empty");
	refuses("root@host:", "the port '' is not a number");
	refuses("root@host:0", "the port '0'");
	refuses("root@host:65536", "the port '65536'");
	refuses("root@host:22x", "the port '22x'");
	refuses("root@[::1", "'[' without ']'");
	refuses("root@[::1]x", "only ':PORT' may follow ']'");
	refuses("root@host name", "a space, control character or non-ASCII byte (0x20) at byte 10");
	refuses("root@host\n-oProxyCommand=x", "(0x0a) at byte 10");
	refuses("root@h\xc3\xa9", "non-ASCII byte (0xc3)");
	refuses("a@b@c", "more than one '@'");
	refuses("root@host;reboot", "';' in the host");
	refuses("root@$(id)", "'$' in the host");
	refuses("ro:ot@host", "':' in the user");
	refuses("root@host%1", "'%' in the host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_forms_an_operator_writes),
	    cmocka_unit_test(refusals_name_the_problem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
