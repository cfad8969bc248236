/* server.c: one server as Robot describes it (GET /server/N) and the address its rescue answers
 * on: the main IPv4, or ::2 of its /64 when it has none (IPv6-only, delivered so since 2022-03).
 * It never changes anything at Robot. */
#include "robot/robot-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

void robot_server_free(struct robot_server *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->ipv4);
	free(s->ipv6_net);
	free(s->product);
	free(s->dc);
	free(s->status);
	*s = (struct robot_server){0};
}

static int server_fill(json_object *o, struct robot_server *s)
{
	json_object *n = NULL;
	if (json_object_object_get_ex(o, "server_number", &n) && json_object_is_type(n, json_type_int))
		s->number = json_object_get_int(n);
	s->cancelled = robot_json_bool(o, "cancelled");
	if (robot_json_strdup(o, "server_name", &s->name) < 0 || robot_json_strdup(o, "server_ip", &s->ipv4) < 0 ||
	    robot_json_strdup(o, "server_ipv6_net", &s->ipv6_net) < 0 ||
	    robot_json_strdup(o, "product", &s->product) < 0 || robot_json_strdup(o, "dc", &s->dc) < 0 ||
	    robot_json_strdup(o, "status", &s->status) < 0)
		return -ENOMEM;
	return 0;
}

int robot_server_get(struct robot_client *c, int number, struct robot_server *s, struct nm_error *e)
{
	*s = (struct robot_server){0};
	int r = robot_check_number(number, e);
	if (r < 0)
		return r;
	char path[64];
	snprintf(path, sizeof path, "/server/%d", number);
	const struct robot_request q = {.method = "GET", .path = path, .number = number, .type = "server"};
	_cleanup_robot_reply_ struct robot_reply reply = {0};
	json_object *o;
	r = robot_call(c, &q, &reply, &o, e);
	if (r < 0)
		return r;
	if (server_fill(o, s) < 0) {
		robot_server_free(s);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (s->number != number) {
		robot_server_free(s);
		return robot_malformed("GET", path, "another server_number", e);
	}
	if (!s->ipv4 && !s->ipv6_net) {
		robot_server_free(s);
		return robot_malformed("GET", path, "neither server_ip nor server_ipv6_net", e);
	}
	return 0;
}

/* "2a01:4f8:a:b::", "2a01:4f8:a:b::/64", "2a01:4f8:a:b" -> "2a01:4f8:a:b::2". */
static char *net_host_2(const char *net)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t len = strcspn(net, "/");
	if (len + 3 > sizeof buf)
		return NULL;
	memcpy(buf, net, len);
	buf[len] = '\0';
	/* four groups without "::" name the /64 alone: complete them */
	if (!strstr(buf, "::") && strlen(buf) + 2 < sizeof buf) {
		size_t colons = 0;
		for (const char *p = buf; *p; p++)
			colons += *p == ':';
		if (colons < 7)
			strcat(buf, "::");
	}
	struct in6_addr a;
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return NULL;
	memset(a.s6_addr + 8, 0, 8);
	a.s6_addr[15] = 2;
	char out[INET6_ADDRSTRLEN];
	if (!inet_ntop(AF_INET6, &a, out, sizeof out))
		return NULL;
	return strdup(out);
}

char *robot_server_rescue_address(const struct robot_server *s)
{
	if (s->ipv4 && *s->ipv4)
		return strdup(s->ipv4);
	if (s->ipv6_net && *s->ipv6_net)
		return net_host_2(s->ipv6_net);
	return NULL;
}
