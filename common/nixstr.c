/* nixstr.c: the one place that turns text into a Nix string literal. Every value that reaches a
 * rendered .nix file (addresses, MACs, device paths, hostnames, keys, attribute names) passes
 * through nm_nix_string(); nothing else in nmmm writes a quote, a backslash or a "${" into Nix
 * source. It never lets a byte through that could end the literal or start an interpolation, and
 * it refuses what a Nix file cannot carry (NUL) or what would not round-trip (invalid UTF-8). */
#include "common/common.h"

#include <errno.h>
#include <string.h>

/* Appends the escaped form of one byte; returns the number of bytes written. `next` is the byte
 * after it (or 0 at the end), needed because only "${" opens an interpolation: a lone '$' is
 * literal and stays readable ("$HOME", "a$"), while "${" is written "\${". */
static size_t escape_byte(char c, char next, char *dst)
{
	switch (c) {
	case '"': return memcpy(dst, "\\\"", 2), 2;
	case '\\': return memcpy(dst, "\\\\", 2), 2;
	case '\n': return memcpy(dst, "\\n", 2), 2;
	case '\r': return memcpy(dst, "\\r", 2), 2;
	case '\t': return memcpy(dst, "\\t", 2), 2;
	case '$':
		if (next == '{')
			return memcpy(dst, "\\$", 2), 2;
		dst[0] = c;
		return 1;
	default: dst[0] = c; return 1;
	}
}

int nm_nix_string(const char *field, const char *s, size_t len, char **out, struct nm_error *e)
{
	*out = NULL;
	const char *nul = memchr(s, '\0', len);
	if (nul)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: contains a NUL byte at offset %zu, which a Nix file cannot carry; fix the value",
			       field, (size_t)(nul - s));
	if (!nm_utf8_valid(s, len))
		return nm_fail(e, NM_ERR_USAGE, EILSEQ, "%s: is not valid UTF-8; fix the value (or its encoding)",
			       field);
	/* Worst case every byte doubles, plus the two quotes and the terminator. */
	char *buf = malloc(2 * len + 3);
	if (!buf)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory rendering a Nix string", field);
	size_t n = 0;
	buf[n++] = '"';
	for (size_t i = 0; i < len; i++)
		n += escape_byte(s[i], i + 1 < len ? s[i + 1] : '\0', buf + n);
	buf[n++] = '"';
	buf[n] = '\0';
	*out = buf;
	return 0;
}
