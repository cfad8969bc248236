/* run.c: the one way nmmm starts another program. argv arrays only (no shell), a minimal
 * environment, a timeout that kills the whole process group, stdout+stderr captured into the log
 * and handed back, and the exit status checked: a non-zero exit is an error naming the program
 * and quoting the end of its output, unless the caller says failure is an answer. A caller that
 * follows a long program gets its output line by line as it arrives (on_line). */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#define RUN_DEFAULT_TIMEOUT 300
#define RUN_KEEP_MAX (8u << 20) /* output kept in memory; the log gets all of it */

extern char **environ;

/* The rescue's (Debian's) directories, then an installed NixOS's system profile, where its mdadm,
 * mkfs and util-linux are (replace-disk runs there; NixOS has no /usr/sbin). */
static const char *const base_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/current-system/sw/bin:/run/current-system/"
    "sw/sbin",
    "LC_ALL=C",
    "HOME=/root",
};

static bool env_name_eq(const char *a, const char *b)
{
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");
	return la == lb && strncmp(a, b, la) == 0;
}

/* The minimal environment: base_env with extra_env entries added or replacing by name. */
static char **build_env(char *const *extra)
{
	char **env = nm_strv_new();
	for (size_t i = 0; env && i < NM_ELEMENTSOF(base_env); i++) {
		bool overridden = false;
		for (size_t j = 0; extra && extra[j]; j++)
			overridden |= env_name_eq(base_env[i], extra[j]);
		if (!overridden && nm_strv_push(&env, base_env[i]) < 0)
			return nm_strv_free(env), NULL;
	}
	for (size_t j = 0; env && extra && extra[j]; j++)
		if (nm_strv_push(&env, extra[j]) < 0)
			return nm_strv_free(env), NULL;
	return env;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child dies with the agent: a killed agent (SIGKILL, a dropped session without --detach)
 * must not leave an mkfs, a wipe or an ssh-keygen running on the disks while a resumed run starts
 * the same step again. The child sits in its own process group (so a timeout can kill all of it),
 * which keeps the terminal's signals from reaching it, so the kernel's parent-death signal is the
 * one that ends it. `parent` is checked after the prctl because the agent may already be gone.
 * The signal follows the thread that forked, so programs are run from the main thread only. */
static void child_exec(const char *const argv[], char **env, const struct nm_run_opts *opts, int out_fd, pid_t parent)
{
	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	int in = open(opts->stdin_path ? opts->stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC);
	int data = opts->stdout_path ? open(opts->stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : out_fd;
	if (in < 0 || data < 0 || dup2(in, 0) < 0 || dup2(data, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(127);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	environ = env;
	execvp(argv[0], (char *const *)argv);
	dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static char *describe_argv(const char *const argv[])
{
	size_t len = 1;
	for (size_t i = 0; argv[i]; i++)
		len += strlen(argv[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* The caller's line callback (opts->on_line): bytes gathered up to each '\n', or in pieces of
 * NM_RUN_LINE_MAX when a line is longer. A piece is handed over only when a further byte of the
 * same line arrives, so a line of exactly NM_RUN_LINE_MAX bytes is one piece, not one plus an
 * empty one. */
struct run_lines {
	void (*cb)(void *ud, const char *line, size_t len);
	void *ud;
	char *buf; /* NM_RUN_LINE_MAX + 1 bytes when cb is set */
	size_t len;
};

static void lines_emit(struct run_lines *l)
{
	l->buf[l->len] = '\0';
	l->cb(l->ud, l->buf, l->len);
	l->len = 0;
}

static void lines_feed(struct run_lines *l, const char *p, size_t n)
{
	if (!l->cb)
		return;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		n -= take;
		while (take > 0) {
			if (l->len == NM_RUN_LINE_MAX)
				lines_emit(l);
			size_t k = NM_RUN_LINE_MAX - l->len;
			k = take < k ? take : k;
			memcpy(l->buf + l->len, p, k);
			l->len += k;
			p += k;
			take -= k;
		}
		if (nl) {
			lines_emit(l);
			p++;
			n--;
		}
	}
}

/* What follows the last '\n' when the output ends. */
static void lines_finish(struct run_lines *l)
{
	if (l->cb && l->len > 0)
		lines_emit(l);
}

/* The last few lines of output, for an error message. */
static const char *output_tail(const char *out, size_t len)
{
	if (!out || len == 0)
		return "(no output)";
	const char *p = out + len;
	int lines = 0;
	while (p > out) {
		p--;
		if (*p == '\n' && p != out + len - 1 && ++lines == 4) {
			p++;
			break;
		}
	}
	if (out + len - p > 600)
		p = out + len - 600;
	return p;
}

/* The first line that says "error", which tools like nix print well before their last lines. */
static int first_error_line(const char *out, size_t len, const char **line)
{
	const char *p = out;
	while (p && p < out + len) {
		const char *nl = memchr(p, '\n', (size_t)(out + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(out + len - p);
		const char *hit = memmem(p, n, "error", 5);
		if (hit) {
			*line = p;
			return (int)(n > 300 ? 300 : n);
		}
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* One running program as the runner watches it: its pipe, its deadline, what it printed. */
struct run_child {
	const char *const *argv;
	const struct nm_run_opts *opts;
	pid_t pid;
	int fd; /* the read end of its output, -1 once at EOF */
	int64_t started, deadline;
	bool timed_out;
	struct nm_buf kept; /* capped at RUN_KEEP_MAX; the log gets everything */
	struct run_lines lines; /* for opts->on_line */
};

static int child_start(struct run_child *c, const char *const argv[], const struct nm_run_opts *opts,
		       struct nm_error *e)
{
	*c = (struct run_child){.argv = argv,
				.opts = opts,
				.fd = -1,
				.kept = NM_BUF_INIT(RUN_KEEP_MAX),
				.lines = {.cb = opts->on_line, .ud = opts->on_line_ud}};
	_cleanup_strv_free_ char **env = build_env(opts->extra_env);
	if (!env)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	_cleanup_free_ char *line_buf = opts->on_line ? malloc(NM_RUN_LINE_MAX + 1) : NULL;
	if (opts->on_line && !line_buf)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot create a pipe: %s", argv[0], strerror(errno));
	_cleanup_free_ char *cmdline = describe_argv(argv);
	nm_debug("running: %s", cmdline ? cmdline : argv[0]);
	pid_t self = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot fork: %s", argv[0], strerror(err));
	}
	if (pid == 0)
		child_exec(argv, env, opts, pfd[1], self);
	setpgid(pid, pid);
	close(pfd[1]);
	c->pid = pid;
	c->fd = pfd[0];
	c->lines.buf = NM_TAKE_PTR(line_buf);
	c->started = now_ms();
	c->deadline = c->started + (int64_t)(opts->timeout_sec ? opts->timeout_sec : RUN_DEFAULT_TIMEOUT) * 1000;
	return 0;
}

/* Reads what is there; false at EOF (or a read error: the program's output is over). */
static bool child_read(struct run_child *c)
{
	char chunk[16384];
	ssize_t k = read(c->fd, chunk, sizeof chunk);
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (k <= 0)
		return false;
	nm_log_raw(c->argv[0], chunk, (size_t)k);
	(void)nm_buf_append(&c->kept, chunk, (size_t)k); /* out of memory or past the cap: log only */
	lines_feed(&c->lines, chunk, (size_t)k);
	return true;
}

/* The program's output ended or its time is up: stop it if needed, reap it, give its status. */
static int child_finish(struct run_child *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	lines_finish(&c->lines);
	if (c->timed_out) {
		kill(-c->pid, SIGTERM);
		for (int i = 0; i < 50 && waitpid(c->pid, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		kill(-c->pid, SIGKILL);
	}
	int status = 0;
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	free(c->lines.buf);
	c->lines.buf = NULL;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int nm_run(const char *const argv[], const struct nm_run_opts *opts, struct nm_run_result *res, struct nm_error *e)
{
	static const struct nm_run_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	struct nm_run_result local = {0};
	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	_cleanup_free_ char *cmdline = describe_argv(argv);
	if (!cmdline)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct run_child c;
	int r = child_start(&c, argv, opts, e);
	if (r < 0)
		return r;
	for (;;) {
		int64_t left = c.deadline - now_ms();
		if (left <= 0) {
			c.timed_out = true;
			break;
		}
		struct pollfd p = {.fd = c.fd, .events = POLLIN};
		int pr = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		if (!child_read(&c))
			break;
	}
	res->exit_status = child_finish(&c);
	unsigned timeout = opts->timeout_sec ? opts->timeout_sec : RUN_DEFAULT_TIMEOUT;
	size_t n = 0;
	char *out = nm_buf_take(&c.kept, &n);
	res->output = out;
	res->output_len = n;
	nm_debug("%s: exit status %d", argv[0], res->exit_status);

	if (c.timed_out)
		r = nm_fail(e, NM_ERR_RUNTIME, ETIME, "%s: still running after %u s and was stopped; last output: %s",
			    cmdline, timeout, output_tail(out, n));
	else if (res->exit_status == 127 && n > 0 && strstr(out, "cannot execute"))
		r = nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			    "%s: not found in PATH; install it (scripts/setup does on a dev machine)", argv[0]);
	else if (res->exit_status != 0 && !opts->allow_failure) {
		const char *tail = output_tail(out, n), *err_line = NULL;
		int err_len = first_error_line(out, n, &err_line);
		if (err_len > 0 && err_line < tail)
			r = nm_fail(e, NM_ERR_RUNTIME, EIO, "%s: exited with status %d: %.*s ... %s", cmdline,
				    res->exit_status, err_len, err_line, tail);
		else
			r = nm_fail(e, NM_ERR_RUNTIME, EIO, "%s: exited with status %d: %s", cmdline, res->exit_status,
				    tail);
	}
	if (res == &local)
		nm_run_result_free(&local);
	return r;
}

/* Starts jobs in order while fewer than max run; watches all their pipes in one poll. */
int nm_run_many(struct nm_run_job *jobs, size_t n, unsigned max_parallel, struct nm_error *e)
{
	if (max_parallel == 0)
		max_parallel = 1;
	struct run_child *kids = calloc(n ? n : 1, sizeof *kids);
	struct pollfd *fds = calloc(n ? n : 1, sizeof *fds);
	size_t *which = calloc(n ? n : 1, sizeof *which);
	if (!kids || !fds || !which) {
		free(kids), free(fds), free(which);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	size_t next = 0, running = 0, ended = 0;
	int r = 0;
	while (ended < n) {
		while (r == 0 && next < n && running < max_parallel) {
			r = child_start(&kids[next], jobs[next].argv, &jobs[next].opts, e);
			if (r == 0)
				running++, next++;
		}
		if (r < 0 && running == 0)
			break; /* a start failed and what did start has ended */
		size_t k = 0;
		int64_t soonest = INT64_MAX, now = now_ms();
		for (size_t i = 0; i < next; i++)
			if (kids[i].fd >= 0) {
				fds[k] = (struct pollfd){.fd = kids[i].fd, .events = POLLIN};
				which[k++] = i;
				if (kids[i].deadline < soonest)
					soonest = kids[i].deadline;
			}
		int64_t wait = soonest - now;
		int pr = poll(fds, k, wait > 1000 ? 1000 : wait < 0 ? 0 : (int)wait);
		if (pr < 0 && errno != EINTR)
			break;
		now = now_ms();
		for (size_t j = 0; j < k; j++) {
			struct run_child *c = &kids[which[j]];
			bool open = true;
			if (pr > 0 && (fds[j].revents & (POLLIN | POLLHUP | POLLERR)))
				open = child_read(c);
			if (open && now >= c->deadline)
				c->timed_out = true, open = false;
			if (!open) {
				jobs[which[j]].exit_status = child_finish(c);
				if (c->timed_out)
					jobs[which[j]].exit_status = 124;
				jobs[which[j]].seconds = (double)(now_ms() - c->started) / 1000.0;
				free(c->kept.data);
				c->kept.data = NULL;
				running--, ended++;
			}
		}
		if (r < 0 && running == 0)
			break;
	}
	for (size_t i = next; i < n; i++)
		jobs[i].exit_status = 127; /* never started: the error says why */
	free(kids), free(fds), free(which);
	return r;
}

void nm_run_result_free(struct nm_run_result *res)
{
	free(res->output);
	res->output = NULL;
	res->output_len = 0;
}
