/* known-hosts.c: the target's lines in an OpenSSH known_hosts file — the name ssh looks the host
 * up by, and the rewrite that puts the given keys in place of the target's old lines while every
 * other line (other hosts, comments, @revoked and @cert-authority markers, wildcards) stays as it
 * was. It writes only the file it is given, atomically; it never runs ssh-keygen. */
#include "remote/remote-internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define KNOWN_HOSTS_MAX (16u << 20)

char *remote_known_hosts_name(const struct remote_target *t)
{
	char *s = t->port && t->port != 22 ? nm_strdup_printf("[%s]:%u", t->host, t->port) : strdup(t->host);
	for (char *p = s; p && *p; p++)
		*p = (char)tolower((unsigned char)*p); /* ssh compares host names in lower case */
	return s;
}

/* A hashed name (HashKnownHosts): "|1|" base64(salt) "|" base64(HMAC-SHA1(salt, name)). */
static bool hashed_is(const char *field, size_t len, const char *name)
{
	if (len < 4 || memcmp(field, "|1|", 3) != 0)
		return false;
	const char *salt = field + 3, *bar = memchr(salt, '|', len - 3);
	if (!bar)
		return false;
	_cleanup_free_ unsigned char *key = NULL, *want = NULL;
	size_t key_len = 0, want_len = 0;
	if (remote_base64_decode(salt, (size_t)(bar - salt), &key, &key_len) < 0 ||
	    remote_base64_decode(bar + 1, (size_t)(field + len - bar - 1), &want, &want_len) < 0)
		return false;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	if (!HMAC(EVP_sha1(), key, (int)key_len, (const unsigned char *)name, strlen(name), mac, &mac_len))
		return false;
	return mac_len == want_len && memcmp(mac, want, mac_len) == 0;
}

/* One line of the old file (without its '\n') into `out`: kept as it is, kept without `name`
 * among its comma-separated names, or dropped when `name` was its only name. */
static int rewrite_line(struct nm_buf *out, const char *line, size_t len, const char *name)
{
	size_t lead = 0;
	while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	size_t end = lead;
	while (end < len && line[end] != ' ' && line[end] != '\t')
		end++;
	const char *hosts = line + lead;
	size_t hosts_len = end - lead;
	bool keep_whole = hosts_len == 0 || hosts[0] == '#' || hosts[0] == '@';
	if (!keep_whole && hashed_is(hosts, hosts_len, name))
		return 0;
	_cleanup_buf_ struct nm_buf kept = NM_BUF_INIT(KNOWN_HOSTS_MAX);
	bool removed = false;
	for (size_t i = 0; !keep_whole && i < hosts_len;) {
		const char *comma = memchr(hosts + i, ',', hosts_len - i);
		size_t n = comma ? (size_t)(comma - hosts - i) : hosts_len - i;
		if (n == strlen(name) && strncasecmp(hosts + i, name, n) == 0)
			removed = true;
		else if ((kept.len && nm_buf_append(&kept, ",", 1) < 0) || nm_buf_append(&kept, hosts + i, n) < 0)
			return -ENOMEM;
		i += n + (comma != NULL);
	}
	if (!removed)
		return nm_buf_append(out, line, len) < 0 || nm_buf_append(out, "\n", 1) < 0 ? -ENOMEM : 0;
	if (kept.len == 0)
		return 0;
	if (nm_buf_append(out, line, lead) < 0 || nm_buf_append(out, kept.data, kept.len) < 0 ||
	    nm_buf_append(out, line + end, len - end) < 0 || nm_buf_append(out, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

static int rewrite(const char *old, size_t old_len, const char *name, const struct remote_host_key *keys, size_t n,
		   struct nm_buf *out)
{
	for (size_t i = 0; i < old_len;) {
		const char *nl = memchr(old + i, '\n', old_len - i);
		size_t len = nl ? (size_t)(nl - old - i) : old_len - i;
		int r = rewrite_line(out, old + i, len, name);
		if (r < 0)
			return r;
		i += len + 1;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *line = nm_strdup_printf("%s %s %s\n", name, keys[i].type, keys[i].blob_b64);
		if (!line || nm_buf_append(out, line, strlen(line)) < 0)
			return -ENOMEM;
	}
	return 0;
}

int remote_known_hosts_write(const char *path, const struct remote_target *t, const struct remote_host_key *keys,
			     size_t n, struct nm_error *e)
{
	_cleanup_free_ char *name = remote_known_hosts_name(t);
	if (!name)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	/* the operator's file, read as named (not under --root): relative to the working directory */
	_cleanup_free_ char *old = NULL;
	size_t old_len = 0;
	int r = nm_read_file(path[0] == '/' ? "/" : ".", path, KNOWN_HOSTS_MAX, &old, &old_len);
	if (r < 0 && r != -ENOENT)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot read it: %s", path, strerror(-r));
	if (old_len >= KNOWN_HOSTS_MAX) /* read up to the cap only: writing it back would cut the file */
		return nm_fail(e, NM_ERR_USAGE, EFBIG, "%s: larger than 16 MiB; not a known_hosts file to rewrite",
			       path);
	_cleanup_buf_ struct nm_buf out = NM_BUF_INIT(KNOWN_HOSTS_MAX);
	if (rewrite(old ? old : "", old_len, name, keys, n, &out) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory (or past 16 MiB)", path);
	return nm_write_file_atomic(path, out.data ? out.data : "", out.len, 0644, e);
}
