/* test_common.c: the shared helpers — errors, reading under --root, string vectors, text
 * sanitising, the capped buffer, the atomic file writer and the program runner (argv, timeout,
 * clean environment, exit status). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/common.h"

static void error_keeps_first_message_and_class(void **state)
{
	struct nm_error e = {0};
	assert_int_equal(nm_fail(&e, NM_ERR_REFUSED, EBUSY, "sda: mounted at %s", "/srv"), -EBUSY);
	assert_int_equal(nm_fail(&e, NM_ERR_RUNTIME, EIO, "later"), -EIO);
	assert_string_equal(e.msg, "sda: mounted at /srv");
	assert_int_equal(nm_exit_code(&e), 3);
	nm_error_prefix(&e, "wipe");
	assert_string_equal(e.msg, "wipe: sda: mounted at /srv");
	struct nm_error ok = {0};
	assert_int_equal(nm_exit_code(&ok), 0);
	assert_int_equal(nm_fail(NULL, NM_ERR_USAGE, 0, "x"), -EIO);
}

static void root_path_joins_prefix(void **state)
{
	char buf[64];
	assert_int_equal(nm_root_path("/", "/sys/block", buf, sizeof buf), 0);
	assert_string_equal(buf, "/sys/block");
	assert_int_equal(nm_root_path("/tmp/fx/", "/sys/block", buf, sizeof buf), 0);
	assert_string_equal(buf, "/tmp/fx/sys/block");
	assert_int_equal(nm_root_path(NULL, "etc/resolv.conf", buf, sizeof buf), 0);
	assert_string_equal(buf, "/etc/resolv.conf");
	assert_int_equal(nm_root_path("/a", "/a/path/that/is/much/too/long/to/fit/in/sixty/four/bytes/of/buffer/space",
				      buf, sizeof buf),
			 -ENAMETOOLONG);
}

static char tmpdir[64];

static void write_file(const char *rel, const char *content)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int make_tree(void **state)
{
	strcpy(tmpdir, "/tmp/nmmm-test-common-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	char p[256];
	snprintf(p, sizeof p, "%s/sys", tmpdir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/sys/devices", tmpdir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/sys/class", tmpdir);
	mkdir(p, 0755);
	write_file("sys/devices/size", "1000215216\n");
	write_file("sys/devices/model", "Samsung SSD 980   \n");
	write_file("sys/devices/bad", "12x\n");
	snprintf(p, sizeof p, "%s/sys/class/link", tmpdir);
	assert_int_equal(symlink("../devices/size", p), 0);
	snprintf(p, sizeof p, "%s/sys/class/escape", tmpdir);
	assert_int_equal(symlink("../../../../../etc/hostname", p), 0);
	return 0;
}

static int remove_tree(void **state)
{
	const char *argv[] = {"rm", "-rf", tmpdir, NULL};
	return nm_run(argv, NULL, NULL, NULL) == 0 ? 0 : -1;
}

static void reads_files_under_root(void **state)
{
	uint64_t v = 0;
	assert_int_equal(nm_read_u64(tmpdir, "/sys/devices/size", &v), 0);
	assert_true(v == 1000215216ULL);
	assert_int_equal(nm_read_u64(tmpdir, "/sys/devices/bad", &v), -EINVAL);
	assert_int_equal(nm_read_u64(tmpdir, "/sys/devices/missing", &v), -ENOENT);
	char *s = NULL;
	assert_int_equal(nm_read_line(tmpdir, "/sys/devices/model", &s), 0);
	assert_string_equal(s, "Samsung SSD 980");
	free(s);
	assert_int_equal(nm_readlink_base(tmpdir, "/sys/class/link", &s), 0);
	assert_string_equal(s, "size");
	free(s);
	assert_int_equal(nm_realpath(tmpdir, "/sys/class/link", &s), 0);
	assert_string_equal(s, "/sys/devices/size");
	free(s);
	assert_true(nm_realpath(tmpdir, "/sys/class/escape", &s) < 0);
	char **names = NULL;
	assert_int_equal(nm_list_dir(tmpdir, "/sys/devices", &names), 0);
	assert_int_equal(nm_strv_len(names), 3);
	assert_string_equal(names[0], "bad");
	assert_string_equal(names[2], "size");
	nm_strv_free(names);
	assert_true(nm_exists(tmpdir, "/sys/class/link"));
	assert_false(nm_exists(tmpdir, "/proc"));
}

static void sanitize_replaces_control_and_invalid_utf8(void **state)
{
	char s1[] = "  Samsung\tSSD \"980\" \xff\xfe end  ";
	nm_sanitize_text(s1);
	assert_string_equal(s1, "Samsung?SSD \"980\" ?? end");
	char s2[] = "caf\xc3\xa9";
	nm_sanitize_text(s2);
	assert_string_equal(s2, "caf\xc3\xa9");
	assert_true(nm_utf8_valid("caf\xc3\xa9", 5));
	assert_false(nm_utf8_valid("\xc0\xaf", 2)); /* overlong */
	assert_false(nm_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(nm_utf8_valid("\xe2\x82", 2)); /* truncated */
}

static void last_line_skips_chatter_and_sanitizes(void **state)
{
	char buf[32];
	const char out[] = "Welcome to the rescue\nLinux x86_64\n\n";
	assert_string_equal(nm_last_line(out, sizeof out - 1, buf, sizeof buf), "Linux x86_64");
	const char esc[] = "x\n\033[2Jowned \n";
	assert_string_equal(nm_last_line(esc, sizeof esc - 1, buf, sizeof buf), "?[2Jowned");
	assert_string_equal(nm_last_line("no newline", 10, buf, sizeof buf), "no newline");
	assert_string_equal(nm_last_line("\n \n", 3, buf, sizeof buf), "");
	assert_string_equal(nm_last_line(NULL, 0, buf, sizeof buf), "");
	/* a long line is cut to the buffer, never past it */
	const char longer[] = "0123456789012345678901234567890123456789";
	assert_string_equal(nm_last_line(longer, sizeof longer - 1, buf, 8), "0123456");
}

static void strv_grows_and_finds(void **state)
{
	_cleanup_strv_free_ char **v = nm_strv_new();
	assert_int_equal(nm_strv_push(&v, "ahci"), 0);
	assert_int_equal(nm_strv_push(&v, "nvme"), 0);
	assert_int_equal(nm_strv_len(v), 2);
	assert_true(nm_strv_contains(v, "nvme"));
	assert_false(nm_strv_contains(v, "sd_mod"));
}

static void warning_said_once(void **state)
{
	_cleanup_strv_free_ char **w = nm_strv_new();
	nm_warning_add(&w, "%s: cannot read it", "/proc/net/route");
	nm_warning_add(&w, "%s: cannot read it", "/proc/net/route");
	nm_warning_add(&w, "%s: cannot read it", "/etc/resolv.conf");
	assert_int_equal(nm_strv_len(w), 2);
	assert_string_equal(w[0], "/proc/net/route: cannot read it");
	assert_string_equal(w[1], "/etc/resolv.conf: cannot read it");
}

static void run_captures_output_and_status(void **state)
{
	struct nm_run_result res;
	struct nm_error e = {0};
	const char *ok[] = {"sh", "-c", "echo out; echo err >&2", NULL};
	assert_int_equal(nm_run(ok, NULL, &res, &e), 0);
	assert_string_equal(res.output, "out\nerr\n");
	assert_int_equal(res.exit_status, 0);
	nm_run_result_free(&res);

	const char *fail[] = {"sh", "-c", "echo broken disk; exit 3", NULL};
	assert_int_equal(nm_run(fail, NULL, &res, &e), -EIO);
	assert_int_equal(res.exit_status, 3);
	assert_non_null(strstr(e.msg, "exited with status 3"));
	assert_non_null(strstr(e.msg, "broken disk"));
	nm_run_result_free(&res);

	struct nm_error e2 = {0};
	struct nm_run_opts allow = {.allow_failure = true};
	assert_int_equal(nm_run(fail, &allow, &res, &e2), 0);
	assert_int_equal(res.exit_status, 3);
	assert_int_equal(e2.cls, NM_ERR_NONE);
	nm_run_result_free(&res);
}

static void run_uses_clean_environment(void **state)
{
	setenv("NMMM_LEAK", "secret", 1);
	char *extra[] = {"EXTRA=1", "LC_ALL=POSIX", NULL};
	struct nm_run_opts o = {.extra_env = extra};
	struct nm_run_result res;
	const char *argv[] = {"env", NULL};
	assert_int_equal(nm_run(argv, &o, &res, NULL), 0);
	assert_null(strstr(res.output, "NMMM_LEAK"));
	assert_non_null(strstr(res.output, "EXTRA=1\n"));
	assert_non_null(strstr(res.output, "LC_ALL=POSIX\n"));
	assert_null(strstr(res.output, "LC_ALL=C\n"));
	assert_non_null(strstr(res.output, "PATH=/usr/local/sbin"));
	nm_run_result_free(&res);
}

/* What on_line saw: each call's bytes and when it came. */
struct seen_lines {
	char *text[8];
	size_t len[8];
	int64_t at_ms[8];
	size_t n;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record_line(void *ud, const char *line, size_t len)
{
	struct seen_lines *s = ud;
	assert_true(s->n < NM_ELEMENTSOF(s->text));
	assert_int_equal(line[len], '\0');
	s->text[s->n] = malloc(len + 1);
	assert_non_null(s->text[s->n]);
	memcpy(s->text[s->n], line, len + 1);
	s->len[s->n] = len;
	s->at_ms[s->n++] = mono_ms();
}

static void seen_lines_free(struct seen_lines *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
}

/* "a" is a whole line at once; "b" waits for the rest of its line ("c", 0.3 s later); an empty
 * line is a line; the unterminated "d" comes when the output ends; a NUL stays inside its line. */
static void run_delivers_lines_as_they_arrive(void **state)
{
	struct seen_lines s = {0};
	struct nm_run_opts o = {.on_line = record_line, .on_line_ud = &s};
	struct nm_run_result res;
	struct nm_error e = {0};
	const char *argv[] = {"sh", "-c", "printf 'a\\nb'; sleep 0.3; printf 'c\\n\\nx\\0y\\nd'", NULL};
	assert_int_equal(nm_run(argv, &o, &res, &e), 0);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.text[0], "a");
	assert_string_equal(s.text[1], "bc");
	assert_int_equal(s.len[2], 0);
	assert_int_equal(s.len[3], 3);
	assert_memory_equal(s.text[3], "x\0y", 3);
	assert_string_equal(s.text[4], "d");
	assert_true(s.at_ms[1] - s.at_ms[0] >= 250); /* "a" came before the program went on */
	/* the kept output is the same as without a callback */
	assert_int_equal(res.output_len, 11);
	assert_memory_equal(res.output, "a\nbc\n\nx\0y\nd", 11);
	nm_run_result_free(&res);
	seen_lines_free(&s);
}

/* 131072 bytes are two whole pieces (no empty third); 65537 are a piece and one byte. */
static void run_delivers_long_lines_in_pieces(void **state)
{
	struct seen_lines s = {0};
	struct nm_run_opts o = {.on_line = record_line, .on_line_ud = &s};
	const char *argv[] = {"sh", "-c",
			      "head -c 131072 /dev/zero | tr '\\0' x; echo; head -c 65537 /dev/zero | tr '\\0' y; echo",
			      NULL};
	assert_int_equal(nm_run(argv, &o, NULL, NULL), 0);
	assert_int_equal(s.n, 4);
	size_t want[] = {NM_RUN_LINE_MAX, NM_RUN_LINE_MAX, NM_RUN_LINE_MAX, 1};
	char byte[] = {'x', 'x', 'y', 'y'};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(s.len[i], want[i]);
		assert_int_equal(s.text[i][0], byte[i]);
		assert_int_equal(s.text[i][s.len[i] - 1], byte[i]);
	}
	seen_lines_free(&s);
}

/* Several programs at once: at most max_parallel run together (each holds a slot file while it
 * runs, the most seen at once is counted), each keeps its own exit status and lines, a failing
 * one does not stop the others, and one past its timeout is stopped with 124. */
struct many_lines {
	int n;
	char last[64];
};

static void many_on_line(void *ud, const char *line, size_t len)
{
	struct many_lines *l = ud;
	l->n++;
	snprintf(l->last, sizeof l->last, "%.*s", (int)len, line);
}

static void run_many_bounds_parallelism_and_keeps_each_result(void **state)
{
	(void)state;
	char dir[] = "/tmp/nmmm-test-many-XXXXXX";
	assert_non_null(mkdtemp(dir));
	/* Each job: take a slot (a file), record how many slots are taken, work, free the slot. */
	_cleanup_free_ char *job = nm_strdup_printf(
	    "touch %s/$$; ls %s | wc -l >> %s.seen; sleep 0.3; rm %s/$$; echo \"job $0\"; exit $1", dir, dir, dir, dir);
	const char *a0[] = {"sh", "-c", job, "a", "0", NULL};
	const char *a1[] = {"sh", "-c", job, "b", "3", NULL};
	const char *a2[] = {"sh", "-c", job, "c", "0", NULL};
	const char *a3[] = {"sh", "-c", "sleep 5", NULL};
	struct many_lines lines[4] = {0};
	struct nm_run_job jobs[4] = {
	    {.argv = a0, .opts = {.on_line = many_on_line, .on_line_ud = &lines[0]}},
	    {.argv = a1, .opts = {.on_line = many_on_line, .on_line_ud = &lines[1]}},
	    {.argv = a2, .opts = {.on_line = many_on_line, .on_line_ud = &lines[2]}},
	    {.argv = a3, .opts = {.timeout_sec = 1}},
	};
	struct nm_error e = {0};
	assert_int_equal(nm_run_many(jobs, 4, 2, &e), 0);
	assert_int_equal(jobs[0].exit_status, 0);
	assert_int_equal(jobs[1].exit_status, 3);
	assert_int_equal(jobs[2].exit_status, 0);
	assert_int_equal(jobs[3].exit_status, 124);
	assert_true(jobs[3].seconds >= 1.0 && jobs[3].seconds < 4.0);
	assert_string_equal(lines[0].last, "job a");
	assert_string_equal(lines[1].last, "job b");
	assert_string_equal(lines[2].last, "job c");
	assert_int_equal(lines[0].n, 1);
	_cleanup_free_ char *seen_path = nm_strdup_printf("%s.seen", dir);
	_cleanup_free_ char *seen = NULL;
	size_t len = 0;
	assert_int_equal(nm_read_file("/", seen_path, 4096, &seen, &len), 0);
	int most = 0;
	for (char *save = NULL, *t = strtok_r(seen, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
		most = atoi(t) > most ? atoi(t) : most;
	assert_int_equal(most, 2); /* two at once, never three */
	unlink(seen_path);
	rmdir(dir);
}

static void strv_join_json_str_and_exit_classes(void **state)
{
	(void)state;
	char *v[] = {"a", "b c", "", NULL};
	_cleanup_free_ char *joined = nm_strv_join(v, ", ");
	assert_string_equal(joined, "a, b c, ");
	_cleanup_free_ char *none = nm_strv_join(NULL, ", ");
	assert_string_equal(none, "");
	_cleanup_json_ json_object *o = json_tokener_parse("{\"s\": \"x\", \"n\": 1, \"z\": null}");
	assert_string_equal(nm_json_str(o, "s"), "x");
	assert_null(nm_json_str(o, "n"));
	assert_null(nm_json_str(o, "z"));
	assert_null(nm_json_str(o, "missing"));
	assert_null(nm_json_str(NULL, "s"));
	_cleanup_json_ json_object *arr = json_tokener_parse("[\"s\"]");
	assert_null(nm_json_str(arr, "s"));
	assert_int_equal(nm_err_class_of_exit(2), NM_ERR_USAGE);
	assert_int_equal(nm_err_class_of_exit(3), NM_ERR_REFUSED);
	assert_int_equal(nm_err_class_of_exit(4), NM_ERR_VERIFY);
	assert_int_equal(nm_err_class_of_exit(1), NM_ERR_RUNTIME);
	assert_int_equal(nm_err_class_of_exit(255), NM_ERR_RUNTIME);
	assert_int_equal(nm_err_class_of_exit(0), NM_ERR_RUNTIME);
}

static void mkdir_p_makes_each_missing_directory(void **state)
{
	(void)state;
	char dir[] = "/tmp/nmmm-test-mkdir-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *deep = nm_strdup_printf("%s/a/b/c", dir);
	struct nm_error e = {0};
	assert_int_equal(nm_mkdir_p(deep, &e), 0);
	assert_int_equal(nm_mkdir_p(deep, &e), 0); /* there already: fine */
	struct stat st;
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* A file in the way: an error naming the directory that could not be made. */
	_cleanup_free_ char *file = nm_strdup_printf("%s/f", dir);
	assert_int_equal(nm_write_file_atomic(file, "x", 1, 0644, &e), 0);
	_cleanup_free_ char *below = nm_strdup_printf("%s/f/g", dir);
	assert_true(nm_mkdir_p(below, &e) < 0);
	assert_non_null(strstr(e.msg, below));
	_cleanup_free_ char *cleanup = nm_strdup_printf("rm -rf %s", dir);
	const char *rm[] = {"sh", "-c", cleanup, NULL};
	assert_int_equal(nm_run(rm, NULL, NULL, NULL), 0);
}

static void run_kills_on_timeout(void **state)
{
	struct nm_error e = {0};
	struct nm_run_opts o = {.timeout_sec = 1};
	const char *argv[] = {"sh", "-c", "echo started; sleep 30", NULL};
	assert_int_equal(nm_run(argv, &o, NULL, &e), -ETIME);
	assert_non_null(strstr(e.msg, "still running after 1 s"));
	assert_non_null(strstr(e.msg, "started"));
}

static void run_reports_missing_program(void **state)
{
	struct nm_error e = {0};
	const char *argv[] = {"nmmm-no-such-program", NULL};
	assert_int_equal(nm_run(argv, NULL, NULL, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "nmmm-no-such-program: not found"));
}

/* The agent is SIGKILLed while a program runs (as a dropped session or an operator's kill -9
 * would): the program must die too, or it goes on writing while a resumed run repeats its step.
 * This test process adopts orphans (a subreaper), so it can reap the program and see how it ended. */
static void run_child_dies_with_the_agent(void **state)
{
	char pidfile[] = "/tmp/nmmm-run-pdeath-XXXXXX";
	int fd = mkstemp(pidfile);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	pid_t agent = fork();
	assert_true(agent >= 0);
	if (agent == 0) {
		_cleanup_free_ char *script = nm_strdup_printf("echo $$ > %s; exec sleep 60", pidfile);
		const char *argv[] = {"sh", "-c", script, NULL};
		_exit(nm_run(argv, NULL, NULL, NULL) == 0 ? 0 : 1);
	}
	pid_t program = 0;
	for (int i = 0; i < 500 && program <= 0; i++) {
		_cleanup_free_ char *text = NULL;
		if (nm_read_line("/", pidfile, &text) == 0)
			program = atoi(text);
		if (program <= 0)
			usleep(10000);
	}
	assert_true(program > 0);
	assert_int_equal(kill(agent, SIGKILL), 0);
	int status = 0;
	assert_int_equal(waitpid(agent, &status, 0), agent);
	/* Orphaned, the program comes to us; it must end by the kernel's SIGKILL, not run its 60 s. */
	pid_t got = 0;
	for (int i = 0; i < 1000 && got == 0; i++) {
		got = waitpid(program, &status, WNOHANG);
		if (got == 0)
			usleep(10000);
	}
	if (got == 0)
		kill(program, SIGKILL), waitpid(program, NULL, 0);
	assert_int_equal(got, program);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	unlink(pidfile);
}

static void assert_redacted(const char *url, const char *want)
{
	_cleanup_free_ char *got = nm_url_redact(url);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void url_redact_hides_userinfo_and_query(void **state)
{
	assert_redacted("https://user:s3cr3t@mirror.example/nix/x.tar.xz?token=abc#frag",
			"https://***@mirror.example/nix/x.tar.xz?***");
	assert_redacted("http://tok@127.0.0.1:8080", "http://***@127.0.0.1:8080");
	/* a password with an unescaped '@': the last one ends the userinfo */
	assert_redacted("http://u:p@ss@host/a@b", "http://***@host/a@b");
	assert_redacted("https://releases.nixos.org/nix/nix-2.28.3.tar.xz",
			"https://releases.nixos.org/nix/nix-2.28.3.tar.xz");
	assert_redacted("file:///srv/mirror/x.tar", "file:///srv/mirror/x.tar");
	assert_redacted("http://host/path?", "http://host/path");
	assert_redacted("http://host?k=v", "http://host?***");
	/* no scheme: still an authority */
	assert_redacted("user:pw@host/x", "***@host/x");
	assert_redacted("", "");
	assert_redacted(NULL, "");

	char arg[] = "http://user:s3cr3t@host:1/p?token=abc";
	nm_url_scrub(arg);
	assert_string_equal(arg, "http://***********@host:1/p?*********");
	char plain[] = "https://host/p";
	nm_url_scrub(plain);
	assert_string_equal(plain, "https://host/p");

	/* a list (--substituters): a secret in any of its URLs is hidden */
	assert_redacted("https://cache.nixos.org https://u:p@b.example/x?tok=1",
			"https://cache.nixos.org https://***@b.example/x?***");
	assert_redacted("  http://a/  \thttp://t@c ", "  http://a/  \thttp://***@c ");
	char list[] = "https://cache.nixos.org https://u:p@b/x";
	nm_url_scrub(list);
	assert_string_equal(list, "https://cache.nixos.org https://***@b/x");
}

/* Entries of a directory other than "." and "..". */
static size_t count_entries(const char *dir)
{
	char **names = NULL;
	assert_int_equal(nm_list_dir("/", dir, &names), 0);
	size_t n = nm_strv_len(names);
	nm_strv_free(names);
	return n;
}

static void write_atomic_replaces_whole_file_with_mode(void **state)
{
	char dir[256], path[300];
	snprintf(dir, sizeof dir, "%s/out", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof path, "%s/state.json", dir);
	struct nm_error e = {0};
	assert_int_equal(nm_write_file_atomic(path, "old and longer\n", 15, 0600, &e), 0);
	assert_int_equal(nm_write_file_atomic(path, "{\"a\":1}", 7, 0600, &e), 0);
	char *s = NULL;
	size_t len = 0;
	assert_int_equal(nm_read_file("/", path, 0, &s, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(s, "{\"a\":1}");
	free(s);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the mode is the one asked for, whatever the umask */
	mode_t old = umask(077);
	assert_int_equal(nm_write_file_atomic(path, "x", 1, 0644, &e), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(dir), 1); /* no temporary left */

	/* A link at the path is replaced, never followed: its target keeps its bytes. */
	char link[300], target[300];
	snprintf(link, sizeof link, "%s/report.json", dir);
	snprintf(target, sizeof target, "%s/sys/devices/model", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(nm_write_file_atomic(link, "new", 3, 0644, &e), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(nm_read_line("/", target, &s), 0);
	assert_string_equal(s, "Samsung SSD 980");
	free(s);
	assert_int_equal(e.cls, NM_ERR_NONE);
}

static void write_atomic_failure_names_the_path(void **state)
{
	/* A directory that cannot hold the file (a regular file in its place; root ignores modes). */
	char path[300];
	snprintf(path, sizeof path, "%s/sys/devices/size/state.json", tmpdir);
	struct nm_error e = {0};
	assert_int_equal(nm_write_file_atomic(path, "x", 1, 0600, &e), -ENOTDIR);
	assert_int_equal(e.cls, NM_ERR_RUNTIME);
	assert_non_null(strstr(e.msg, path));
	snprintf(path, sizeof path, "%s/missing/plan.json", tmpdir);
	struct nm_error e2 = {0};
	assert_int_equal(nm_write_file_atomic(path, "x", 1, 0644, &e2), -ENOENT);
	assert_non_null(strstr(e2.msg, path));
	char devices[300];
	snprintf(devices, sizeof devices, "%s/sys/devices", tmpdir);
	assert_int_equal(count_entries(devices), 3); /* nothing created beside the files */
}

static void buf_grows_to_its_cap_and_refuses_past_it(void **state)
{
	struct nm_buf b = NM_BUF_INIT(10000);
	size_t len = 99;
	char *s = nm_buf_take(&b, &len); /* nothing added: an empty string, not NULL */
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	char block[3000];
	memset(block, 'x', sizeof block);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nm_buf_append(&b, block, sizeof block), 0);
	assert_int_equal(b.len, 9000);
	assert_true(b.cap <= 10000);
	/* past the cap: refused whole, what is there stays */
	assert_int_equal(nm_buf_append(&b, block, sizeof block), -EFBIG);
	assert_int_equal(b.len, 9000);
	assert_int_equal(b.data[9000], '\0');
	assert_int_equal(nm_buf_reserve(&b, 1001), -EFBIG);
	/* read in place up to the cap exactly */
	assert_int_equal(nm_buf_reserve(&b, 1000), 0);
	memset(b.data + b.len, 'y', 1000);
	nm_buf_grew(&b, 1000);
	assert_int_equal(b.cap, 10000);
	assert_int_equal(nm_buf_append(&b, "", 0), 0);
	assert_int_equal(nm_buf_append(&b, "z", 1), -EFBIG);
	s = nm_buf_take(&b, &len);
	assert_int_equal(len, 10000);
	assert_int_equal(strlen(s), 10000);
	assert_int_equal(s[8999], 'x');
	assert_int_equal(s[9999], 'y');
	free(s);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* taken buffers start over under the same cap */
	assert_int_equal(nm_buf_append(&b, "ab", 2), 0);
	assert_string_equal(b.data, "ab");
	nm_buf_free(&b);
	assert_null(b.data);
	struct nm_buf none = NM_BUF_INIT(0);
	assert_int_equal(nm_buf_append(&none, "a", 1), -EFBIG);
	nm_buf_free(&none);
}

/* The operator's JSON file: errors name the file and what is wrong; the text handed back is the
 * text parsed (its digest is the resume record's). */
static void json_file_reader_names_the_file(void **state)
{
	(void)state;
	char path[] = "/tmp/common-test-json-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"raid_level\": 1,,}", 19), 19);
	close(fd);
	json_object *o = NULL;
	struct nm_error e = {0};
	assert_true(nm_json_read_file_text(path, "--config", &o, NULL, NULL, &e) < 0);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "not valid JSON"));
	assert_null(o);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"a\": 1}\n", 9), 9);
	close(fd);
	char *text = NULL;
	size_t len = 0;
	struct nm_error ok = {0};
	assert_int_equal(nm_json_read_file_text(path, "--config", &o, &text, &len, &ok), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(text, "{\"a\": 1}\n", 9);
	assert_int_equal(json_object_get_int(json_object_object_get(o, "a")), 1);
	json_object_put(o);
	free(text);
	unlink(path);
	struct nm_error gone = {0};
	assert_true(nm_json_read_file_text(path, "--config", &o, NULL, NULL, &gone) < 0);
	assert_non_null(strstr(gone.msg, "cannot read it"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(error_keeps_first_message_and_class),
	    cmocka_unit_test(root_path_joins_prefix),
	    cmocka_unit_test(json_file_reader_names_the_file),
	    cmocka_unit_test_setup_teardown(reads_files_under_root, make_tree, remove_tree),
	    cmocka_unit_test_setup_teardown(write_atomic_replaces_whole_file_with_mode, make_tree, remove_tree),
	    cmocka_unit_test_setup_teardown(write_atomic_failure_names_the_path, make_tree, remove_tree),
	    cmocka_unit_test(sanitize_replaces_control_and_invalid_utf8),
	    cmocka_unit_test(last_line_skips_chatter_and_sanitizes),
	    cmocka_unit_test(strv_grows_and_finds),
	    cmocka_unit_test(warning_said_once),
	    cmocka_unit_test(buf_grows_to_its_cap_and_refuses_past_it),
	    cmocka_unit_test(run_captures_output_and_status),
	    cmocka_unit_test(run_child_dies_with_the_agent),
	    cmocka_unit_test(run_uses_clean_environment),
	    cmocka_unit_test(run_delivers_lines_as_they_arrive),
	    cmocka_unit_test(run_delivers_long_lines_in_pieces),
	    cmocka_unit_test(run_kills_on_timeout),
	    cmocka_unit_test(run_many_bounds_parallelism_and_keeps_each_result),
	    cmocka_unit_test(strv_join_json_str_and_exit_classes),
	    cmocka_unit_test(mkdir_p_makes_each_missing_directory),
	    cmocka_unit_test(run_reports_missing_program),
	    cmocka_unit_test(url_redact_hides_userinfo_and_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
