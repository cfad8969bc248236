/* hostkey.c: a host key from the text OpenSSH writes (a .pub line, a known_hosts or ssh-keyscan
 * line), its two fingerprints (MD5 as Robot lists it, SHA256 as ssh shows it) and the match of a
 * list of fingerprints against keys. It only reads text and hashes bytes; it never opens a file
 * or a connection and never sees a private key. */
#include "remote/remote-internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

int remote_key_blob(const struct remote_host_key *k, unsigned char **blob, size_t *len)
{
	return remote_base64_decode(k->blob_b64, strlen(k->blob_b64), blob, len);
}

/* The blob names its own type first: it must be the type written before it. */
static bool blob_has_type(const unsigned char *blob, size_t len, const char *type, size_t type_len)
{
	const unsigned char *p = blob, *name;
	size_t name_len;
	return remote_wire_string(&p, blob + len, &name, &name_len) && name_len == type_len &&
	    memcmp(name, type, type_len) == 0 && p < blob + len;
}

static char *md5_hex(const unsigned char *blob, size_t len)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	if (EVP_Digest(blob, len, d, &dn, EVP_md5(), NULL) != 1)
		return NULL;
	char *s = malloc(dn * 3);
	for (unsigned i = 0; s && i < dn; i++)
		snprintf(s + i * 3, 4, "%02x%s", d[i], i + 1 < dn ? ":" : "");
	return s;
}

static char *sha256_text(const unsigned char *blob, size_t len)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	if (EVP_Digest(blob, len, d, &dn, EVP_sha256(), NULL) != 1)
		return NULL;
	_cleanup_free_ char *b64 = remote_base64_encode(d, dn, false);
	return b64 ? nm_strdup_printf("SHA256:%s", b64) : NULL;
}

static size_t token(const char *p, const char **start)
{
	while (*p == ' ' || *p == '\t')
		p++;
	*start = p;
	size_t n = 0;
	while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n')
		n++;
	return n;
}

/* TYPE BASE64 at tokens (type, b64): 0 and k filled, -EINVAL when they are not a key. */
static int key_from_tokens(const char *type, size_t type_len, const char *b64, size_t b64_len,
			   struct remote_host_key *k)
{
	_cleanup_free_ unsigned char *blob = NULL;
	size_t len = 0;
	int r = type_len && b64_len ? remote_base64_decode(b64, b64_len, &blob, &len) : -EINVAL;
	if (r < 0)
		return r;
	if (!blob_has_type(blob, len, type, type_len))
		return -EINVAL;
	k->type = strndup(type, type_len);
	k->blob_b64 = strndup(b64, b64_len);
	k->md5 = md5_hex(blob, len);
	k->sha256 = sha256_text(blob, len);
	if (!k->type || !k->blob_b64 || !k->md5 || !k->sha256) {
		remote_host_key_free(k);
		return -ENOMEM;
	}
	return 0;
}

int remote_host_key_parse(const char *line, struct remote_host_key *k, struct nm_error *e)
{
	memset(k, 0, sizeof *k);
	for (const char *p = line; *p && *p != '\n'; p++)
		if ((unsigned char)*p < ' ' && *p != '\t' && *p != '\r')
			return nm_fail(
			    e, NM_ERR_USAGE, EINVAL,
			    "host key: a control character (0x%02x) in the line; give one OpenSSH public key "
			    "line (TYPE BASE64, as in a .pub file)",
			    (unsigned char)*p);
	const char *t[3];
	size_t n[3];
	const char *p = line;
	for (int i = 0; i < 3; i++) {
		n[i] = token(p, &t[i]);
		p = t[i] + n[i];
	}
	/* "TYPE BASE64 [comment]" first, then "HOST TYPE BASE64" (known_hosts, ssh-keyscan) */
	int r = key_from_tokens(t[0], n[0], t[1], n[1], k);
	if (r == -EINVAL)
		r = key_from_tokens(t[1], n[1], t[2], n[2], k);
	if (r == -ENOMEM)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r < 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "host key '%.60s': not an OpenSSH public key line (TYPE BASE64 [comment], or HOST TYPE "
			       "BASE64 as ssh-keyscan prints), or its key data does not name its type",
			       t[0]);
	return 0;
}

void remote_host_key_free(struct remote_host_key *k)
{
	free(k->type);
	free(k->blob_b64);
	free(k->md5);
	free(k->sha256);
	memset(k, 0, sizeof *k);
}

void remote_host_keys_free(struct remote_host_key *keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		remote_host_key_free(&keys[i]);
	free(keys);
}

/* SHA256 exactly (base64 is case-sensitive; the padding may be there or not); MD5 hex in any
 * case, with or without "MD5:". */
static bool fingerprint_is(const struct remote_host_key *k, const char *fp)
{
	if (strncmp(fp, "SHA256:", 7) == 0) {
		size_t n = strlen(fp);
		while (n > 7 && fp[n - 1] == '=')
			n--;
		return strlen(k->sha256) == n && memcmp(k->sha256, fp, n) == 0;
	}
	if (strncasecmp(fp, "MD5:", 4) == 0)
		fp += 4;
	return strcasecmp(k->md5, fp) == 0;
}

int remote_host_key_match(const struct remote_host_key *keys, size_t n, char *const *fingerprints)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; fingerprints && fingerprints[j]; j++)
			if (fingerprint_is(&keys[i], fingerprints[j]))
				return (int)i;
	return -1;
}
