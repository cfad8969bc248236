/* test_robot_credentials.c: where the Robot web service user and password come from — the
 * environment (both variables, non-empty) or a file of two lines, user then password, taken
 * verbatim, with a trailing newline, CRLF or blank lines after it; the one-line "user:password",
 * an empty line, a third line and a NUL byte are refused with a message that says which; the file
 * must be a regular file of the caller's own (a symlink to one is fine) with mode 0600 or
 * stricter; no message ever holds the password. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "robot/robot.h"

#define SECRET "pa:ss w0rd+/="

struct dir {
	char path[64];
	char file[128];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof *d);
	assert_non_null(d);
	strcpy(d->path, "/tmp/test-robot-cred-XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->file, sizeof d->file, "%s/credentials", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char link[160];
	snprintf(link, sizeof link, "%s/link", d->path);
	unlink(link);
	unlink(d->file);
	rmdir(d->path);
	free(d);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void check_read(const char *file, const char *user, const char *password)
{
	struct robot_credentials c;
	struct nm_error e = {0};
	int r = robot_credentials_read(file, &c, &e);
	if (r < 0)
		fail_msg("%s: refused: %s", file ? file : "(environment)", e.msg);
	assert_string_equal(c.user, user);
	assert_string_equal(c.password, password);
	assert_string_equal(c.source, file ? file : "NMMM_ROBOT_USER/NMMM_ROBOT_PASSWORD");
	robot_credentials_free(&c);
	assert_null(c.password);
}

static void check_refused(const char *file, const char *why)
{
	struct robot_credentials c;
	struct nm_error e = {0};
	assert_true(robot_credentials_read(file, &c, &e) < 0);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_null(c.user);
	assert_null(c.password);
	if (!strstr(e.msg, why))
		fail_msg("message '%s' does not say '%s'", e.msg, why);
	if (strstr(e.msg, SECRET) || strstr(e.msg, "pa:ss"))
		fail_msg("message '%s' holds the password", e.msg);
}

#define TEXT(s) s, sizeof(s) - 1

static void credentials_file_of_two_lines(void **state)
{
	struct dir *d = *state;
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n"), 0600);
	check_read(d->file, "#ws+AbC", SECRET);
	write_file(d->file, TEXT("#ws+AbC\n" SECRET), 0600);
	check_read(d->file, "#ws+AbC", SECRET);
	write_file(d->file, TEXT("#ws+AbC\r\n" SECRET "\r\n"), 0400);
	check_read(d->file, "#ws+AbC", SECRET);
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n\n\n"), 0600);
	check_read(d->file, "#ws+AbC", SECRET);
	/* blanks belong to the password */
	write_file(d->file, TEXT("#ws+AbC\n " SECRET " \n"), 0600);
	check_read(d->file, "#ws+AbC", " " SECRET " ");
}

static void credentials_file_of_another_shape_is_refused(void **state)
{
	struct dir *d = *state;
	write_file(d->file, TEXT("#ws+AbC:" SECRET "\n"), 0600);
	check_refused(d->file, "the form user:password is not read");
	write_file(d->file, TEXT("#ws+AbC\n"), 0600);
	check_refused(d->file, "holds one line");
	write_file(d->file, TEXT(""), 0600);
	check_refused(d->file, "the first line (the web service user) is empty");
	write_file(d->file, TEXT("\n" SECRET "\n"), 0600);
	check_refused(d->file, "the first line (the web service user) is empty");
	write_file(d->file, TEXT("#ws+AbC\n\n"), 0600);
	check_refused(d->file, "the second line (the password) is empty");
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\nthird\n"), 0600);
	check_refused(d->file, "holds more than two lines");
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\0\n"), 0600);
	check_refused(d->file, "holds a NUL byte");
}

static void credentials_file_others_can_read_is_refused(void **state)
{
	struct dir *d = *state;
	char want[512];
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n"), 0644);
	snprintf(want, sizeof want, "%s: mode 0644 lets others read the Robot password; run chmod 600 %s", d->file,
		 d->file);
	check_refused(d->file, want);
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n"), 0640);
	check_refused(d->file, "mode 0640");
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n"), 0602);
	check_refused(d->file, "mode 0602");
	check_refused(d->path, "not a regular file");
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none", d->path);
	check_refused(missing, "cannot open the Robot credentials file");
}

static void credentials_file_through_a_symlink_is_judged_by_its_target(void **state)
{
	struct dir *d = *state;
	char link[160];
	snprintf(link, sizeof link, "%s/link", d->path);
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n"), 0600);
	assert_int_equal(symlink(d->file, link), 0);
	check_read(link, "#ws+AbC", SECRET);
	assert_int_equal(chmod(d->file, 0644), 0);
	check_refused(link, "mode 0644");
}

static void credentials_file_of_another_user_is_refused(void **state)
{
	struct dir *d = *state;
	if (geteuid() != 0)
		skip(); /* chown to another user needs root */
	write_file(d->file, TEXT("#ws+AbC\n" SECRET "\n"), 0600);
	assert_int_equal(chown(d->file, 65534, (gid_t)-1), 0);
	check_refused(d->file, "owned by uid 65534, not by you (uid 0)");
}

static void credentials_from_the_environment(void **state)
{
	setenv("NMMM_ROBOT_USER", "#ws+Env", 1);
	setenv("NMMM_ROBOT_PASSWORD", SECRET, 1);
	check_read(NULL, "#ws+Env", SECRET);
	unsetenv("NMMM_ROBOT_PASSWORD");
	check_refused(NULL, "NMMM_ROBOT_PASSWORD is not set");
	setenv("NMMM_ROBOT_PASSWORD", "", 1);
	check_refused(NULL, "NMMM_ROBOT_PASSWORD is not set");
	unsetenv("NMMM_ROBOT_USER");
	check_refused(NULL, "neither NMMM_ROBOT_USER nor NMMM_ROBOT_PASSWORD is set");
	setenv("NMMM_ROBOT_PASSWORD", SECRET, 1);
	check_refused(NULL, "NMMM_ROBOT_USER is not set");
	unsetenv("NMMM_ROBOT_PASSWORD");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(credentials_file_of_two_lines, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(credentials_file_of_another_shape_is_refused, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(credentials_file_others_can_read_is_refused, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(credentials_file_through_a_symlink_is_judged_by_its_target, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(credentials_file_of_another_user_is_refused, dir_setup, dir_teardown),
	    cmocka_unit_test(credentials_from_the_environment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
