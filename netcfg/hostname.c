/* hostname.c: checks the installed system's host name (--hostname or the config's "hostname")
 * against RFC 1123 for a single label, the form networking.hostName accepts. It only judges the
 * text; it never sets or reads the running machine's name. */
#include "netcfg/netcfg.h"

#include <errno.h>
#include <string.h>

int net_hostname_check(const char *name, struct nm_error *e)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "host name is empty; give --hostname NAME (1-63 characters a-z, 0-9 and '-')");
	if (len > 63)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "host name is %zu characters long; RFC 1123 allows at most 63 per label "
			       "(give a short name with --hostname, not a domain)",
			       len);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			continue;
		if (c == '.')
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "host name contains '.' at position %zu; networking.hostName is one label: "
				       "give the part before the first dot with --hostname (the domain goes in "
				       "networking.domain)",
				       i + 1);
		unsigned char u = (unsigned char)c;
		if (u > 0x20 && u < 0x7f)
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "host name: character %zu ('%c') is not allowed by RFC 1123 (only lower-case "
				       "a-z, 0-9 and '-'); fix --hostname",
				       i + 1, c);
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "host name: byte %zu (0x%02x) is not allowed by RFC 1123 (only lower-case a-z, 0-9 "
			       "and '-'); fix --hostname",
			       i + 1, u);
	}
	if (name[0] == '-' || name[len - 1] == '-')
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "host name '%s' %s with '-', which RFC 1123 forbids; fix --hostname", name,
			       name[0] == '-' ? "starts" : "ends");
	return 0;
}
