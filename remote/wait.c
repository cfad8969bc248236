/* wait.c: waiting for a machine's SSH server to come up (a reset into the rescue system, the
 * reboot into NixOS): TCP connects with backoff until the port answers with an "SSH-" banner,
 * and a countdown for the caller's progress line. It opens plain TCP connections and reads the
 * banner only; it sends nothing and never runs ssh. */
#include "remote/remote-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define WAIT_STEP_MS 5000 /* one connect, and the banner after it, get this long */
#define WAIT_BACKOFF_FIRST_MS 1000
#define WAIT_BACKOFF_MAX_MS 15000
#define WAIT_BANNER_MAX 1024 /* RFC 4253: other lines may come before "SSH-"; this many bytes at most */

struct wait_clock {
	int64_t deadline;
	int64_t next_tick;
	void (*tick)(void *ud, unsigned seconds_left);
	void *ud;
};

static int64_t wait_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The countdown: once a second, the seconds left rounded up. */
static void wait_tick(struct wait_clock *c)
{
	int64_t now = wait_now_ms();
	if (!c->tick || now < c->next_tick)
		return;
	int64_t left = c->deadline > now ? c->deadline - now : 0;
	c->tick(c->ud, (unsigned)((left + 999) / 1000));
	c->next_tick = now + 1000;
}

/* Waits for `events` on fd (or only for the time, fd < 0) until `until`, ticking on the way:
 * 1 when ready, 0 at `until`. The fd is looked at once more when the time is up, so what is
 * ready at once (a connect on loopback) is seen even with no time left. */
static int wait_for(struct wait_clock *c, int fd, short events, int64_t until)
{
	for (;;) {
		wait_tick(c);
		int64_t now = wait_now_ms();
		int64_t slice = until > now ? until - now : 0;
		if (c->tick && slice > 0 && c->next_tick - now < slice)
			slice = c->next_tick - now > 0 ? c->next_tick - now : 1;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, fd >= 0 ? 1 : 0, (int)slice);
		if (r > 0)
			return 1;
		if (wait_now_ms() >= until)
			return 0;
	}
}

/* Records why an attempt failed; returns -err. */
static int why_failed(char *why, size_t why_size, int err, const char *text)
{
	snprintf(why, why_size, "%s", text ? text : strerror(err));
	return -err;
}

/* Reads until a line starts with "SSH-" (the server speaks first). */
static int read_banner(struct wait_clock *c, int fd, int64_t until, char *why, size_t why_size)
{
	char buf[WAIT_BANNER_MAX + 1];
	size_t have = 0;
	while (have < WAIT_BANNER_MAX) {
		if (!wait_for(c, fd, POLLIN, until))
			return why_failed(why, why_size, ETIMEDOUT, "connected, but no SSH banner came");
		ssize_t k = read(fd, buf + have, WAIT_BANNER_MAX - have);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return why_failed(why, why_size, errno, NULL);
		if (k == 0)
			return why_failed(why, why_size, ECONNRESET, "connected, but it closed without an SSH banner");
		have += (size_t)k;
		buf[have] = '\0';
		for (const char *line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
			if (strncmp(line, "SSH-", 4) == 0)
				return 0;
	}
	return why_failed(why, why_size, EPROTO, "it answers, but not as an SSH server");
}

/* One address: a non-blocking connect, then the banner, within WAIT_STEP_MS. */
static int try_address(struct wait_clock *c, const struct addrinfo *ai, char *why, size_t why_size)
{
	int64_t until = wait_now_ms() + WAIT_STEP_MS;
	if (until > c->deadline)
		until = c->deadline;
	_cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return why_failed(why, why_size, errno, NULL);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
		return why_failed(why, why_size, errno, NULL);
	if (!wait_for(c, fd, POLLOUT, until))
		return why_failed(why, why_size, ETIMEDOUT, "no answer to the connect");
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		return why_failed(why, why_size, err, NULL);
	return read_banner(c, fd, until, why, why_size);
}

/* One attempt over every address the name has. */
static int try_once(struct wait_clock *c, const char *host, const char *port, char *why, size_t why_size)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0)
		return why_failed(why, why_size, EHOSTUNREACH, gai_strerror(g));
	int r = -EHOSTUNREACH;
	for (const struct addrinfo *a = ai; a && r < 0 && wait_now_ms() < c->deadline; a = a->ai_next)
		r = try_address(c, a, why, why_size);
	freeaddrinfo(ai);
	return r;
}

int remote_wait_ssh(const struct remote_target *t, unsigned timeout_sec, void (*tick)(void *ud, unsigned seconds_left),
		    void *ud, struct nm_error *e)
{
	unsigned port = t->port ? t->port : 22;
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%u", port);
	bool ipv6 = strchr(t->host, ':') != NULL;
	struct wait_clock c = {.deadline = wait_now_ms() + (int64_t)timeout_sec * 1000, .tick = tick, .ud = ud};
	char why[160] = "no attempt was made";
	int64_t backoff = WAIT_BACKOFF_FIRST_MS;
	for (int attempt = 1;; attempt++) {
		if (try_once(&c, t->host, port_text, why, sizeof why) == 0) {
			nm_debug("%s port %u: SSH answers (attempt %d)", t->host, port, attempt);
			return 0;
		}
		nm_debug("%s port %u: attempt %d: %s", t->host, port, attempt, why);
		/* the pause never runs past the deadline, and no attempt starts at it */
		int64_t next = wait_now_ms() + backoff;
		wait_for(&c, -1, 0, next < c.deadline ? next : c.deadline);
		if (wait_now_ms() >= c.deadline)
			break;
		backoff = backoff * 2 > WAIT_BACKOFF_MAX_MS ? WAIT_BACKOFF_MAX_MS : backoff * 2;
	}
	return nm_fail(e, NM_ERR_RUNTIME, ETIMEDOUT, "%s%s%s:%u: no SSH server answered within %u s (last attempt: %s)",
		       ipv6 ? "[" : "", t->host, ipv6 ? "]" : "", port, timeout_sec, why);
}
