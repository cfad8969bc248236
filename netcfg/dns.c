/* dns.c: the nameservers the rescue system uses, from /etc/resolv.conf under --root. When
 * only a local stub resolver is listed (systemd-resolved's 127.0.0.53), the upstream servers
 * come from /run/systemd/resolve/resolv.conf. Missing or empty: an empty list and a warning
 * (the renderer falls back to Hetzner's resolvers). It never writes resolv.conf. */
#include "netcfg/netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "netcfg/netcfg-internal.h"

static bool is_address(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char copy[64];
	snprintf(copy, sizeof copy, "%s", s);
	char *scope = strchr(copy, '%'); /* fe80::1%eth0 */
	if (scope)
		*scope = '\0';
	return inet_pton(AF_INET, copy, buf) == 1 || inet_pton(AF_INET6, copy, buf) == 1;
}

static bool is_loopback_stub(const char *s)
{
	return strncmp(s, "127.", 4) == 0 || strcmp(s, "::1") == 0;
}

static int read_resolv_conf(const char *root, const char *rel, char ***out, char ***warnings)
{
	_cleanup_free_ char *text = NULL;
	int r = nm_read_file(root, rel, 1 << 20, &text, NULL);
	if (r < 0)
		return r;
	char *save = NULL;
	unsigned lineno = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char word[32], addr[64];
		lineno++;
		if (sscanf(line, "%31s %63s", word, addr) != 2 || strcmp(word, "nameserver") != 0)
			continue;
		if (!is_address(addr)) {
			nm_warning_add(warnings, "%s line %u: '%s' is not an IP address; skipped", rel, lineno, addr);
			continue;
		}
		if (!nm_strv_contains(*out, addr) && nm_strv_push(out, addr) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool only_stubs(char *const *v)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!is_loopback_stub(v[i]))
			return false;
	return v && v[0];
}

int net_dns_read(const char *root, struct net_inventory *inv, struct nm_error *e)
{
	int r = read_resolv_conf(root, "/etc/resolv.conf", &inv->nameservers, &inv->warnings);
	if (r == -ENOMEM)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "network inventory: out of memory");
	if (r < 0)
		nm_warning_add(&inv->warnings, "cannot read /etc/resolv.conf (%s); no nameservers known", strerror(-r));
	if (only_stubs(inv->nameservers)) {
		_cleanup_strv_free_ char **upstream = nm_strv_new();
		if (upstream &&
		    read_resolv_conf(root, "/run/systemd/resolve/resolv.conf", &upstream, &inv->warnings) == 0 &&
		    upstream[0] && !only_stubs(upstream)) {
			nm_strv_free(inv->nameservers);
			inv->nameservers = upstream;
			upstream = NULL;
		} else {
			nm_warning_add(&inv->warnings,
				       "/etc/resolv.conf lists only a local resolver (%s); the installed "
				       "system will not have it",
				       inv->nameservers[0]);
		}
	}
	if (r == 0 && !inv->nameservers[0])
		nm_warning_add(&inv->warnings, "/etc/resolv.conf lists no nameserver; none copied");
	return 0;
}
