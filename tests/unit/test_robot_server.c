/* test_robot_server.c: the address a server's rescue answers on — its IPv4 when it has one, else
 * ::2 of its /64 in canonical form, whichever way Robot writes the net (a trailing "::", none, a
 * "/64" suffix, all eight groups, zeros to compress) — and none for a net that is not IPv6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "robot/robot.h"

static void check_address(const char *ipv4, const char *net, const char *want)
{
	struct robot_server s = {.number = 321, .ipv4 = (char *)ipv4, .ipv6_net = (char *)net};
	char *got = robot_server_rescue_address(&s);
	if (!want && got)
		fail_msg("ipv4 %s net %s: expected no address, got %s", ipv4, net, got);
	if (want && (!got || strcmp(got, want) != 0))
		fail_msg("ipv4 %s net %s: expected %s, got %s", ipv4, net, want, got ? got : "(none)");
	free(got);
}

static void rescue_address_is_the_ipv4_when_there_is_one(void **state)
{
	check_address("203.0.113.72", "2a01:4f8:a:b::", "203.0.113.72");
	check_address("203.0.113.72", NULL, "203.0.113.72");
}

static void rescue_address_of_an_ipv6_only_server_is_2_of_its_64(void **state)
{
	check_address(NULL, "2a01:4f8:a:b::", "2a01:4f8:a:b::2");
	check_address("", "2a01:4f8:a:b::", "2a01:4f8:a:b::2");
	check_address(NULL, "2a01:4f8:a:b::/64", "2a01:4f8:a:b::2");
	check_address(NULL, "2a01:4f8:a:b", "2a01:4f8:a:b::2");
	check_address(NULL, "2a01:4f8:a:b/64", "2a01:4f8:a:b::2");
	check_address(NULL, "2a01:04f8:000a:000b:0000:0000:0000:0000", "2a01:4f8:a:b::2");
	check_address(NULL, "2A01:4F8:A:B::", "2a01:4f8:a:b::2");
	/* the net's zeros compress where the longest run is */
	check_address(NULL, "2a01:4f8:0:1::", "2a01:4f8:0:1::2");
	check_address(NULL, "2001:db8::", "2001:db8::2");
	/* whatever the net's own interface bits, the host is ::2 of the /64 */
	check_address(NULL, "2a01:4f8:a:b::1/64", "2a01:4f8:a:b::2");
}

static void rescue_address_is_none_without_a_usable_net(void **state)
{
	check_address(NULL, NULL, NULL);
	check_address(NULL, "", NULL);
	check_address(NULL, "not-an-address", NULL);
	check_address(NULL, "203.0.113.72", NULL);
	check_address(NULL, "2a01:4f8:a:b:c:d:e:f:0", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rescue_address_is_the_ipv4_when_there_is_one),
	    cmocka_unit_test(rescue_address_of_an_ipv6_only_server_is_2_of_its_64),
	    cmocka_unit_test(rescue_address_is_none_without_a_usable_net),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
