/* test_robot_reset.c: the reset type chosen to restart a server — "hw" whenever it is offered,
 * else "sw", and nothing at all when only types that leave the server off or call a technician
 * are offered (power, power_long, man). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "robot/robot.h"

static void check_choice(char *const *types, const char *want)
{
	const char *got = robot_reset_choose(types);
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void reset_choice_prefers_the_reset_button(void **state)
{
	check_choice((char *[]){"sw", "hw", "man", NULL}, "hw");
	check_choice((char *[]){"power", "power_long", "hw", "man", NULL}, "hw");
	check_choice((char *[]){"hw", NULL}, "hw");
}

static void reset_choice_falls_back_to_ctrl_alt_del(void **state)
{
	check_choice((char *[]){"power", "sw", "man", NULL}, "sw");
}

static void reset_choice_never_powers_off_or_calls_a_technician(void **state)
{
	check_choice((char *[]){"power", "power_long", "man", NULL}, NULL);
	check_choice((char *[]){"man", NULL}, NULL);
	check_choice((char *[]){"power", NULL}, NULL);
	check_choice((char *[]){NULL}, NULL);
	check_choice(NULL, NULL);
	/* names are matched exactly */
	check_choice((char *[]){"HW", "hw ", "hardware", NULL}, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reset_choice_prefers_the_reset_button),
	    cmocka_unit_test(reset_choice_falls_back_to_ctrl_alt_del),
	    cmocka_unit_test(reset_choice_never_powers_off_or_calls_a_technician),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
