/* target.c: the machine to reach, as the operator writes it (root@HOST, root@[v6]:port) — parsed
 * into user, host and port, and shown back in messages. It refuses anything ssh could read as an
 * option or a shell could read as syntax; it never resolves a name or opens a connection. */
#include "remote/remote.h"

#include <errno.h>
#include <string.h>

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
	    c == '_';
}

/* A user or host name: letters, digits, '.', '-', '_' (and ':' and '%' when it is an IPv6
 * address), never a leading '-' that ssh would take for an option. */
static int check_name(const char *target, const char *what, const char *p, size_t len, bool ipv6, struct nm_error *e)
{
	if (len == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "target '%s': the %s is empty; give root@HOST", target, what);
	if (p[0] == '-')
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "target '%s': the %s starts with '-', which ssh would read as an option; give root@HOST",
			       target, what);
	for (size_t i = 0; i < len; i++)
		if (!name_char(p[i]) && !(ipv6 && (p[i] == ':' || p[i] == '%')))
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "target '%s': '%c' in the %s; a %s has letters, digits, '.', '-' and '_'%s",
				       target, p[i], what, what, ipv6 ? " (and ':' in an IPv6 address)" : "");
	return 0;
}

static int parse_port(const char *target, const char *p, unsigned *port, struct nm_error *e)
{
	unsigned long v = 0;
	size_t i = 0;
	for (; p[i] >= '0' && p[i] <= '9' && v <= 65535; i++)
		v = v * 10 + (unsigned long)(p[i] - '0');
	if (i == 0 || p[i] != '\0' || v < 1 || v > 65535)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "target '%s': the port '%s' is not a number from 1 to 65535",
			       target, p);
	*port = (unsigned)v;
	return 0;
}

/* HOST, HOST:PORT, [HOST]:PORT, [V6] or a bare V6 (two colons or more: no port). */
static int split_host_port(const char *target, const char *rest, const char **host, size_t *host_len, const char **port,
			   struct nm_error *e)
{
	*port = NULL;
	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');
		if (!close)
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "target '%s': '[' without ']'; give root@[ADDRESS]:PORT", target);
		if (close[1] && close[1] != ':')
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "target '%s': only ':PORT' may follow ']'", target);
		*host = rest + 1;
		*host_len = (size_t)(close - rest - 1);
		*port = close[1] ? close + 2 : NULL;
		return 0;
	}
	const char *colon = strchr(rest, ':');
	*host = rest;
	*host_len = strlen(rest);
	if (colon && !strchr(colon + 1, ':')) {
		*host_len = (size_t)(colon - rest);
		*port = colon + 1;
	}
	return 0;
}

int remote_target_parse(const char *s, struct remote_target *t, struct nm_error *e)
{
	memset(t, 0, sizeof *t);
	if (!s || !*s)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "an empty target; give root@HOST");
	for (size_t i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return nm_fail(
			    e, NM_ERR_USAGE, EINVAL,
			    "target: a space, control character or non-ASCII byte (0x%02x) at byte %zu; give "
			    "root@HOST",
			    (unsigned char)s[i], i + 1);
	const char *at = strchr(s, '@');
	if (at && strchr(at + 1, '@'))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "target '%s': more than one '@'; give root@HOST", s);
	const char *user = at ? s : "root", *rest = at ? at + 1 : s;
	size_t user_len = at ? (size_t)(at - s) : 4;
	const char *host = NULL, *port = NULL;
	size_t host_len = 0;
	int r = split_host_port(s, rest, &host, &host_len, &port, e);
	if (r < 0)
		return r;
	bool ipv6 = memchr(host, ':', host_len) != NULL;
	if ((r = check_name(s, "user", user, user_len, false, e)) < 0 ||
	    (r = check_name(s, "host", host, host_len, ipv6, e)) < 0 ||
	    (port && (r = parse_port(s, port, &t->port, e)) < 0))
		return r;
	t->user = strndup(user, user_len);
	t->host = strndup(host, host_len);
	if (!t->user || !t->host) {
		remote_target_free(t);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

void remote_target_free(struct remote_target *t)
{
	free(t->user);
	free(t->host);
	t->user = t->host = NULL;
	t->port = 0;
}

char *remote_target_display(const struct remote_target *t)
{
	if (!t->port)
		return nm_strdup_printf("%s@%s", t->user, t->host);
	bool ipv6 = strchr(t->host, ':') != NULL;
	return nm_strdup_printf("%s@%s%s%s:%u", t->user, ipv6 ? "[" : "", t->host, ipv6 ? "]" : "", t->port);
}
