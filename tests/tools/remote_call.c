/* remote_call.c: `remote-call OPERATION ...` drives the remote library (remote/remote.h) from shell
 * tests, one operation per call, or a session and its steps in one process, so the tests reach a
 * real sshd through exactly the code the agent uses. A test tool: built with the tests, never
 * installed. Results go to stdout (a command's output byte for byte); what each step did goes to
 * stderr as "remote-call: STEP: ok" or "remote-call: STEP: CLASS ERRNO-NAME: message"; the exit
 * code is that of the first failed step (nm_exit_code), 0 when all passed.
 *
 *   quote WORD...                   remote_command_line of the words, no newline after it
 *   target TARGET                   user, host, port, display and known_hosts name, one a line
 *   fingerprint FILE                "TYPE MD5 SHA256" for each key line of FILE
 *   age FILE                        the age recipient of each key line of FILE
 *   match FILE FINGERPRINT...       the index remote_host_key_match returns
 *   keyscan TARGET [TIMEOUT]        "TYPE MD5 SHA256 BASE64" for each key the host offers
 *   known-hosts PATH TARGET FILE    remote_known_hosts_write with the key lines of FILE
 *   wait TARGET TIMEOUT             remote_wait_ssh, the countdown on stderr ("tick N")
 *   session [--config F] [--identity F] [--option K=V]... [--keep-going] TARGET PINFILE STEP...
 *     opens a session pinned to PINFILE's keys, then the steps in order:
 *     run N WORD...     remote_run of N words, the output to stdout
 *     allow N WORD...   the same with allow_failure, "exit STATUS" on stderr
 *     follow N WORD...  remote_run with on_line: "MS LINE" per line (ms since the start), "end MS"
 *     upload LOCAL REMOTE MODE (octal)
 *     reconnect | check
 *   Without --keep-going the first failed step ends the session. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "remote/remote.h"

static int64_t started_ms;

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int report(const char *step, int r, const struct nm_error *e)
{
	if (r < 0) {
		fprintf(stderr, "remote-call: %s: %s %s: %s\n", step, nm_err_class_name(e->cls),
			strerrorname_np(-r) ? strerrorname_np(-r) : "?", e->msg);
		return nm_exit_code(e) ? nm_exit_code(e) : 1;
	}
	fprintf(stderr, "remote-call: %s: ok\n", step);
	return 0;
}

static int usage(void)
{
	fputs("usage: remote-call quote|target|fingerprint|age|match|keyscan|known-hosts|wait|session ... "
	      "(tests/tools/remote_call.c)\n",
	      stderr);
	return 2;
}

/* Every key line of a file (a .pub file, ssh-keyscan's answer); '#' and empty lines skipped. */
static int read_keys(const char *path, struct remote_host_key **keys, size_t *n, struct nm_error *e)
{
	*keys = NULL;
	*n = 0;
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return nm_fail(e, NM_ERR_USAGE, errno, "%s: %s", path, strerror(errno));
	char line[16384];
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		struct remote_host_key *grown = realloc(*keys, (*n + 1) * sizeof **keys);
		if (!grown)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		*keys = grown;
		int r = remote_host_key_parse(line, &(*keys)[*n], e);
		if (r < 0)
			return r;
		(*n)++;
	}
	return 0;
}

static int cmd_keys(const char *op, int argc, char **argv)
{
	if (argc < 1)
		return usage();
	struct nm_error e = {0};
	struct remote_host_key *keys = NULL;
	size_t n = 0;
	int r = read_keys(argv[0], &keys, &n, &e);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (strcmp(op, "fingerprint") == 0) {
			printf("%s %s %s\n", keys[i].type, keys[i].md5, keys[i].sha256);
		} else if (strcmp(op, "age") == 0) {
			_cleanup_free_ char *age = NULL;
			if ((r = remote_age_recipient(&keys[i], &age, &e)) == 0)
				printf("%s\n", age);
		}
	}
	if (r == 0 && strcmp(op, "match") == 0)
		printf("%d\n", remote_host_key_match(keys, n, argv + 1));
	remote_host_keys_free(keys, n);
	return report(op, r, &e);
}

static int cmd_target(int argc, char **argv)
{
	if (argc != 1)
		return usage();
	struct nm_error e = {0};
	_cleanup_remote_target_ struct remote_target t = {0};
	int r = remote_target_parse(argv[0], &t, &e);
	if (r == 0) {
		_cleanup_free_ char *shown = remote_target_display(&t);
		_cleanup_free_ char *name = remote_known_hosts_name(&t);
		printf("%s\n%s\n%u\n%s\n%s\n", t.user, t.host, t.port, shown, name);
	}
	return report("target", r, &e);
}

static int cmd_keyscan(int argc, char **argv)
{
	if (argc < 1)
		return usage();
	struct nm_error e = {0};
	_cleanup_remote_target_ struct remote_target t = {0};
	struct remote_host_key *keys = NULL;
	size_t n = 0;
	int r = remote_target_parse(argv[0], &t, &e);
	if (r == 0)
		r = remote_keyscan(&t, argc > 1 ? (unsigned)atoi(argv[1]) : 5, &keys, &n, &e);
	for (size_t i = 0; r == 0 && i < n; i++)
		printf("%s %s %s %s\n", keys[i].type, keys[i].md5, keys[i].sha256, keys[i].blob_b64);
	remote_host_keys_free(keys, n);
	return report("keyscan", r, &e);
}

static int cmd_known_hosts(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	struct nm_error e = {0};
	_cleanup_remote_target_ struct remote_target t = {0};
	struct remote_host_key *keys = NULL;
	size_t n = 0;
	int r = remote_target_parse(argv[1], &t, &e);
	if (r == 0)
		r = read_keys(argv[2], &keys, &n, &e);
	if (r == 0)
		r = remote_known_hosts_write(argv[0], &t, keys, n, &e);
	remote_host_keys_free(keys, n);
	return report("known-hosts", r, &e);
}

static void print_tick(void *ud, unsigned left)
{
	fprintf(stderr, "tick %u\n", left);
}

static int cmd_wait(int argc, char **argv)
{
	if (argc != 2)
		return usage();
	struct nm_error e = {0};
	_cleanup_remote_target_ struct remote_target t = {0};
	int r = remote_target_parse(argv[0], &t, &e);
	if (r == 0)
		r = remote_wait_ssh(&t, (unsigned)atoi(argv[1]), print_tick, NULL, &e);
	return report("wait", r, &e);
}

/* ---- a session and its steps ---- */

static void print_line(void *ud, const char *line, size_t len)
{
	printf("%lld %.*s\n", (long long)(ms_now() - started_ms), (int)len, line);
	fflush(stdout);
}

/* "run N WORD..." and the like: N words after the count, as a NULL-terminated argv (in place:
 * the slot after the last word is borrowed and given back). */
static int step_words(int argc, char **argv, int *used, const char ***words)
{
	if (argc < 2)
		return -EINVAL;
	int n = atoi(argv[1]);
	if (n < 1 || n > argc - 2)
		return -EINVAL;
	*words = calloc((size_t)n + 1, sizeof **words);
	if (!*words)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		(*words)[i] = argv[2 + i];
	*used = 2 + n;
	return 0;
}

static int step_run(struct remote_session *s, const char *op, const char *const *words, struct nm_error *e)
{
	struct remote_run_opts o = {.timeout_sec = 120};
	_cleanup_run_result_ struct nm_run_result res = {0};
	if (strcmp(op, "allow") == 0)
		o.allow_failure = true;
	if (strcmp(op, "follow") == 0)
		o.on_line = print_line;
	int r = remote_run(s, words, &o, &res, e);
	if (!o.on_line && res.output)
		fwrite(res.output, 1, res.output_len, stdout);
	if (o.on_line)
		printf("end %lld\n", (long long)(ms_now() - started_ms));
	fflush(stdout);
	if (o.allow_failure)
		fprintf(stderr, "remote-call: %s: exit %d\n", op, res.exit_status);
	return r;
}

static int one_step(struct remote_session *s, int argc, char **argv, int *used, struct nm_error *e)
{
	const char *op = argv[0];
	*used = 1;
	if (strcmp(op, "reconnect") == 0)
		return remote_session_reconnect(s, e);
	if (strcmp(op, "check") == 0) {
		int r = remote_session_check(s);
		return r < 0 ? nm_fail(e, NM_ERR_RUNTIME, -r, "the master is not running") : 0;
	}
	if (strcmp(op, "upload") == 0) {
		if (argc < 4)
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "upload LOCAL REMOTE MODE");
		*used = 4;
		return remote_upload(s, argv[1], argv[2], (unsigned)strtoul(argv[3], NULL, 8), e);
	}
	if (strcmp(op, "run") == 0 || strcmp(op, "allow") == 0 || strcmp(op, "follow") == 0) {
		_cleanup_free_ const char **words = NULL;
		if (step_words(argc, argv, used, &words) < 0)
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s N WORD...: N words must follow", op);
		return step_run(s, op, words, e);
	}
	return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: not a step (run, allow, follow, upload, reconnect, check)", op);
}

static int cmd_session(int argc, char **argv)
{
	struct remote_session_opts so = {.connect_timeout_sec = 10};
	_cleanup_strv_free_ char **options = nm_strv_new();
	bool keep_going = false;
	int i = 0;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--keep-going") == 0)
			keep_going = true;
		else if (strcmp(argv[i], "--config") == 0)
			so.ssh_config = argv[++i];
		else if (strcmp(argv[i], "--identity") == 0)
			so.identity = argv[++i];
		else if (strcmp(argv[i], "--option") == 0 && nm_strv_push(&options, argv[++i]) < 0)
			return 1;
	}
	so.ssh_options = options;
	if (argc - i < 2)
		return usage();
	struct nm_error e = {0};
	_cleanup_remote_target_ struct remote_target t = {0};
	struct remote_host_key *keys = NULL;
	size_t n = 0;
	_cleanup_remote_session_ struct remote_session *s = NULL;
	int r = remote_target_parse(argv[i], &t, &e);
	if (r == 0)
		r = read_keys(argv[i + 1], &keys, &n, &e);
	if (r == 0)
		r = remote_session_open(&t, keys, n, &so, &s, &e);
	remote_host_keys_free(keys, n);
	int rc = report("open", r, &e);
	if (rc)
		return rc;
	int first = 0;
	for (i += 2; i < argc;) {
		struct nm_error se = {0};
		int used = 1;
		r = one_step(s, argc - i, argv + i, &used, &se);
		int step_rc = report(argv[i], r, &se);
		first = first ? first : step_rc;
		if (step_rc && !keep_going)
			break;
		i += used;
	}
	return first;
}

int main(int argc, char **argv)
{
	started_ms = ms_now();
	if (argc < 2)
		return usage();
	const char *op = argv[1];
	if (strcmp(op, "quote") == 0) {
		_cleanup_free_ char *line = NULL;
		struct nm_error e = {0};
		int r = remote_command_line((const char *const *)argv + 2, &line, &e);
		if (r == 0)
			fputs(line, stdout);
		return r < 0 ? report("quote", r, &e) : 0;
	}
	if (strcmp(op, "target") == 0)
		return cmd_target(argc - 2, argv + 2);
	if (strcmp(op, "fingerprint") == 0 || strcmp(op, "age") == 0 || strcmp(op, "match") == 0)
		return cmd_keys(op, argc - 2, argv + 2);
	if (strcmp(op, "keyscan") == 0)
		return cmd_keyscan(argc - 2, argv + 2);
	if (strcmp(op, "known-hosts") == 0)
		return cmd_known_hosts(argc - 2, argv + 2);
	if (strcmp(op, "wait") == 0)
		return cmd_wait(argc - 2, argv + 2);
	if (strcmp(op, "session") == 0)
		return cmd_session(argc - 2, argv + 2);
	return usage();
}
