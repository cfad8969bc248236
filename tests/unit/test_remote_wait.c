/* test_remote_wait.c: remote_wait_ssh against real TCP servers on loopback (forked children):
 * a banner after other lines, IPv6, a server that comes up while we wait (found on a later
 * attempt), one that answers but is not SSH, a closed port — and the countdown ticks. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "remote/remote.h"

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int bound_socket(int family, unsigned *port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)*port);
		len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons((uint16_t)*port);
		len = sizeof *a;
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port =
	    ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A child that, after `delay_ms`, listens on the port and answers every connection with
 * `greeting`, then closes it. Returns its pid. */
static pid_t serve(int family, unsigned *port, int delay_ms, const char *greeting)
{
	int fd = bound_socket(family, port);
	if (delay_ms) {
		close(fd); /* the port is free (connections are refused) until the child binds it again */
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (delay_ms) {
			usleep((useconds_t)delay_ms * 1000);
			fd = bound_socket(family, port);
		}
		if (listen(fd, 8) < 0)
			_exit(1);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				_exit(1);
			(void)!write(c, greeting, strlen(greeting));
			close(c);
		}
	}
	if (!delay_ms)
		close(fd);
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

struct ticks {
	unsigned seen[64];
	size_t n;
};

static void count_tick(void *ud, unsigned left)
{
	struct ticks *t = ud;
	if (t->n < NM_ELEMENTSOF(t->seen))
		t->seen[t->n++] = left;
}

/* A server on 127.0.0.1 (after delay_ms, answering `greeting`) and remote_wait_ssh on it, the
 * countdown recorded; how long the wait took in *took_ms, the port in *port. */
static int wait_for_server(int delay_ms, const char *greeting, unsigned timeout, struct ticks *ticks,
			   struct nm_error *e, int64_t *took_ms, unsigned *port)
{
	*port = 0;
	pid_t pid = serve(AF_INET, port, delay_ms, greeting);
	struct remote_target t = {.user = "root", .host = "127.0.0.1", .port = *port};
	int64_t t0 = mono_ms();
	int r = remote_wait_ssh(&t, timeout, count_tick, ticks, e);
	*took_ms = mono_ms() - t0;
	stop(pid);
	return r;
}

static void finds_a_banner_after_other_lines(void **state)
{
	unsigned port = 0;
	pid_t pid = serve(AF_INET, &port, 0, "a greeting first\r\nSSH-2.0-OpenSSH_9.2\r\n");
	struct remote_target t = {.user = "root", .host = "127.0.0.1", .port = port};
	struct nm_error e = {0};
	assert_int_equal(remote_wait_ssh(&t, 5, NULL, NULL, &e), 0);
	stop(pid);
	port = 0;
	pid = serve(AF_INET6, &port, 0, "SSH-2.0-x\r\n");
	struct remote_target t6 = {.user = "root", .host = "::1", .port = port};
	assert_int_equal(remote_wait_ssh(&t6, 5, NULL, NULL, &e), 0);
	stop(pid);
}

/* Refused at 0 s, 1 s (then 2 s later): up after 1.5 s, so found by the attempt at about 3 s. */
static void finds_a_server_that_comes_up_later(void **state)
{
	struct ticks ticks = {0};
	struct nm_error e = {0};
	int64_t took;
	unsigned port;
	assert_int_equal(wait_for_server(1500, "SSH-2.0-late\r\n", 20, &ticks, &e, &took, &port), 0);
	assert_true(took >= 1500 && took < 5000);
	assert_true(ticks.n >= 2);
	assert_int_equal(ticks.seen[0], 20);
	assert_true(ticks.seen[ticks.n - 1] >= 15);
}

static void times_out_on_what_is_not_ssh(void **state)
{
	struct ticks ticks = {0};
	struct nm_error e = {0};
	int64_t took;
	unsigned port;
	assert_int_equal(wait_for_server(0, "HTTP/1.0 400 Bad Request\r\n\r\n", 3, &ticks, &e, &took, &port),
			 -ETIMEDOUT);
	assert_true(took >= 2900 && took < 4500);
	assert_int_equal(e.cls, NM_ERR_RUNTIME);
	char want[128];
	snprintf(want, sizeof want,
		 "127.0.0.1:%u: no SSH server answered within 3 s (last attempt: connected, but it "
		 "closed without an SSH banner)",
		 port);
	assert_string_equal(e.msg, want);
	/* a countdown: about once a second, from 3 down */
	assert_true(ticks.n >= 3 && ticks.n <= 5);
	assert_int_equal(ticks.seen[0], 3);
	for (size_t i = 1; i < ticks.n; i++)
		assert_true(ticks.seen[i] < ticks.seen[i - 1]);
}

static void times_out_on_a_closed_port(void **state)
{
	unsigned port = 0;
	close(bound_socket(AF_INET6, &port));
	struct remote_target t = {.user = "root", .host = "::1", .port = port};
	struct nm_error e = {0};
	assert_int_equal(remote_wait_ssh(&t, 2, NULL, NULL, &e), -ETIMEDOUT);
	char want[128];
	snprintf(want, sizeof want, "[::1]:%u: no SSH server answered within 2 s (last attempt: Connection refused)",
		 port);
	assert_string_equal(e.msg, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(finds_a_banner_after_other_lines),
	    cmocka_unit_test(finds_a_server_that_comes_up_later),
	    cmocka_unit_test(times_out_on_what_is_not_ssh),
	    cmocka_unit_test(times_out_on_a_closed_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
