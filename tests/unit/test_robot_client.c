/* test_robot_client.c: which base URLs a Robot client takes, decided before anything is sent:
 * https:// to any host (a path prefix kept), http:// only to a loopback address written as one
 * (127.0.0.0/8, [::1]); http:// to any other host or to a name (localhost included), another
 * scheme, a user name, a query or a fragment in the URL, and missing credentials are usage
 * errors that say what to do, show no password and leave no client behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "robot/robot.h"

static struct robot_credentials cred = {.user = "#ws+AbC", .password = "s3cr3t-pw", .source = "test"};

static void check_taken(const char *url)
{
	struct robot_client *c = NULL;
	struct nm_error e = {0};
	if (robot_client_new(url, &cred, NULL, &c, &e) < 0)
		fail_msg("%s: refused: %s", url ? url : "(default)", e.msg);
	assert_non_null(c);
	robot_client_free(c);
}

static void check_refused(const char *url, const struct robot_credentials *with, const char *why)
{
	struct robot_client *c = (struct robot_client *)&c; /* must be set to NULL */
	struct nm_error e = {0};
	assert_true(robot_client_new(url, with, NULL, &c, &e) < 0);
	assert_null(c);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	if (!strstr(e.msg, why))
		fail_msg("%s: message '%s' does not say '%s'", url, e.msg, why);
	if (strstr(e.msg, "s3cr3t") || strstr(e.msg, "tok3n"))
		fail_msg("%s: message '%s' holds a secret", url, e.msg);
}

static void client_takes_https_and_loopback_http(void **state)
{
	check_taken(NULL);
	check_taken(ROBOT_DEFAULT_URL);
	check_taken("https://robot-ws.your-server.de/");
	check_taken("HTTPS://proxy.example.org:8443/robot");
	check_taken("http://127.0.0.1:8080");
	check_taken("http://127.9.8.7/robot/");
	check_taken("http://[::1]:8080/");
	check_taken("http://[0:0:0:0:0:0:0:1]");
}

static void client_refuses_http_elsewhere(void **state)
{
	const char *clear = "http:// would send the Robot password in clear";
	check_refused("http://robot-ws.your-server.de", &cred, clear);
	check_refused("http://localhost:8080", &cred, clear);
	check_refused("http://10.0.0.1", &cred, clear);
	check_refused("http://128.0.0.1", &cred, clear);
	check_refused("http://127.0.0.1.example.org", &cred, clear);
	check_refused("http://[::ffff:127.0.0.1]", &cred, clear);
	check_refused("http://[2001:db8::1]:80", &cred, clear);
	check_refused("http://", &cred, "no host");
}

static void client_refuses_other_urls(void **state)
{
	check_refused("ftp://127.0.0.1/", &cred, "Robot is reached over https://");
	check_refused("robot-ws.your-server.de", &cred, "Robot is reached over https://");
	check_refused("https://user:s3cr3t@robot-ws.your-server.de", &cred, "carries a user name");
	check_refused("https://robot-ws.your-server.de/?token=tok3n", &cred, "without a query or fragment");
	check_refused("https://robot-ws.your-server.de/#x", &cred, "without a query or fragment");
}

static void client_refuses_missing_credentials(void **state)
{
	const char *none = "no web service user and password";
	check_refused(ROBOT_DEFAULT_URL, NULL, none);
	check_refused(ROBOT_DEFAULT_URL, &(struct robot_credentials){.user = "#ws+AbC"}, none);
	check_refused(ROBOT_DEFAULT_URL, &(struct robot_credentials){.user = "", .password = "x"}, none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(client_takes_https_and_loopback_http),
	    cmocka_unit_test(client_refuses_http_elsewhere),
	    cmocka_unit_test(client_refuses_other_urls),
	    cmocka_unit_test(client_refuses_missing_credentials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
