/* nar-interim.c: INTERIM stand-in for the NAR hash and hash encodings (images.h "NAR hash"),
 * so the pins and sources code compiles and is tested before the library's own streaming
 * implementation lands; that implementation replaces this whole file. Straightforward and
 * path-based: correct, not fast. */
#include "images/images.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

static const char nix32_chars[] = "0123456789abcdfghijklmnpqrsvwxyz";
#define NIX32_LEN 52 /* ceil(256 / 5) */

static char *b64_encode(const unsigned char *d, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v =
		    (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
		*o++ = t[v >> 18 & 63];
		*o++ = t[v >> 12 & 63];
		*o++ = i + 1 < n ? t[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? t[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

char *img_hash_to_sri(const unsigned char d[IMG_HASH_BYTES])
{
	_cleanup_free_ char *b = b64_encode(d, IMG_HASH_BYTES);
	return b ? nm_strdup_printf("sha256-%s", b) : NULL;
}

char *img_hash_to_nix32(const unsigned char d[IMG_HASH_BYTES])
{
	char *out = malloc(NIX32_LEN + 1);
	if (!out)
		return NULL;
	for (int n = NIX32_LEN - 1; n >= 0; n--) {
		unsigned b = (unsigned)n * 5, i = b / 8, j = b % 8;
		unsigned c = (unsigned)(d[i] >> j) | (i + 1 < IMG_HASH_BYTES ? (unsigned)d[i + 1] << (8 - j) : 0);
		out[NIX32_LEN - 1 - n] = nix32_chars[c & 0x1f];
	}
	out[NIX32_LEN] = '\0';
	return out;
}

char *img_hash_to_hex(const unsigned char d[IMG_HASH_BYTES])
{
	char *out = malloc(2 * IMG_HASH_BYTES + 1);
	for (size_t i = 0; out && i < IMG_HASH_BYTES; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	return out;
}

static int parse_nix32(const char *s, unsigned char out[IMG_HASH_BYTES])
{
	memset(out, 0, IMG_HASH_BYTES);
	for (size_t k = 0; k < NIX32_LEN; k++) {
		const char *p = strchr(nix32_chars, s[k]);
		if (!s[k] || !p)
			return -EINVAL;
		unsigned v = (unsigned)(p - nix32_chars), n = NIX32_LEN - 1 - (unsigned)k, b = n * 5, i = b / 8,
			 j = b % 8;
		out[i] |= (unsigned char)(v << j);
		if (i + 1 < IMG_HASH_BYTES)
			out[i + 1] |= (unsigned char)(v >> (8 - j));
		else if (v >> (8 - j))
			return -EINVAL;
	}
	return 0;
}

static int parse_b64(const char *s, unsigned char out[IMG_HASH_BYTES])
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (strlen(s) != 44 || strcmp(s + 43, "=") != 0)
		return -EINVAL;
	unsigned char buf[33];
	for (size_t i = 0; i < 44; i += 4) {
		unsigned v = 0;
		for (size_t k = 0; k < 4; k++) {
			const char *p = s[i + k] == '=' ? t : strchr(t, s[i + k]);
			if (!p || !s[i + k])
				return -EINVAL;
			v = v << 6 | (unsigned)(p - t);
		}
		size_t o = i / 4 * 3;
		buf[o] = (unsigned char)(v >> 16);
		buf[o + 1] = (unsigned char)(v >> 8);
		if (o + 2 < sizeof buf)
			buf[o + 2] = (unsigned char)v;
	}
	memcpy(out, buf, IMG_HASH_BYTES);
	return 0;
}

int img_hash_parse(const char *text, const char *what, unsigned char out[IMG_HASH_BYTES], struct nm_error *e)
{
	int r = -EINVAL;
	size_t len = text ? strlen(text) : 0;
	if (len > 7 && strncmp(text, "sha256-", 7) == 0)
		r = parse_b64(text + 7, out);
	else if (len == NIX32_LEN)
		r = parse_nix32(text, out);
	else if (len == 2 * IMG_HASH_BYTES && img_sha256_hex_valid(text))
		for (size_t i = 0; i < IMG_HASH_BYTES; i++)
			r = sscanf(text + 2 * i, "%2hhx", &out[i]) == 1 ? 0 : -EINVAL;
	if (r < 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: '%s' is not a SHA-256 (SRI sha256-..., 52 nix32 characters or 64 hex digits)", what,
			       text ? text : "");
	return 0;
}

static void nar_str(EVP_MD_CTX *md, const void *s, uint64_t n)
{
	unsigned char len[8], pad[8] = {0};
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (8 * i));
	EVP_DigestUpdate(md, len, 8);
	EVP_DigestUpdate(md, s, n);
	if (n % 8)
		EVP_DigestUpdate(md, pad, 8 - n % 8);
}

#define NAR_S(md, lit) nar_str(md, lit, strlen(lit))

static int by_bytes(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int no_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static int nar_file(EVP_MD_CTX *md, const char *path, const struct stat *st, struct nm_error *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot open: %s", path, strerror(errno));
	NAR_S(md, "type");
	NAR_S(md, "regular");
	if (st->st_mode & S_IXUSR) {
		NAR_S(md, "executable");
		NAR_S(md, "");
	}
	NAR_S(md, "contents");
	uint64_t n = (uint64_t)st->st_size, done = 0;
	unsigned char len[8], buf[65536], pad[8] = {0};
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (8 * i));
	EVP_DigestUpdate(md, len, 8);
	while (done < n) {
		ssize_t k = read(fd, buf, sizeof buf);
		if (k <= 0)
			return nm_fail(e, NM_ERR_RUNTIME, k < 0 ? errno : EIO, "%s: read failed", path);
		EVP_DigestUpdate(md, buf, (size_t)k);
		done += (uint64_t)k;
	}
	if (n % 8)
		EVP_DigestUpdate(md, pad, 8 - n % 8);
	return 0;
}

static int nar_node(EVP_MD_CTX *md, const char *path, struct nm_error *e)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: %s", path, strerror(errno));
	NAR_S(md, "(");
	int r = 0;
	if (S_ISREG(st.st_mode)) {
		r = nar_file(md, path, &st, e);
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof target);
		if (n < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: readlink: %s", path, strerror(errno));
		NAR_S(md, "type");
		NAR_S(md, "symlink");
		NAR_S(md, "target");
		nar_str(md, target, (uint64_t)n);
	} else if (S_ISDIR(st.st_mode)) {
		struct dirent **list = NULL;
		int n = scandir(path, &list, no_dots, by_bytes);
		if (n < 0)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot list: %s", path, strerror(errno));
		NAR_S(md, "type");
		NAR_S(md, "directory");
		for (int i = 0; i < n; i++) {
			if (r == 0) {
				_cleanup_free_ char *sub = nm_strdup_printf("%s/%s", path, list[i]->d_name);
				NAR_S(md, "entry");
				NAR_S(md, "(");
				NAR_S(md, "name");
				NAR_S(md, list[i]->d_name);
				NAR_S(md, "node");
				r = sub ? nar_node(md, sub, e) : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
				NAR_S(md, ")");
			}
			free(list[i]);
		}
		free(list);
	} else {
		return nm_fail(e, NM_ERR_VERIFY, EINVAL, "%s: neither file, directory nor symlink: no NAR for it",
			       path);
	}
	NAR_S(md, ")");
	return r;
}

int img_nar_hash_path(const char *path, unsigned char out[IMG_HASH_BYTES], struct nm_error *e)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "SHA-256 unavailable");
	}
	NAR_S(md, "nix-archive-1");
	int r = nar_node(md, path, e);
	unsigned len = 0;
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	return r;
}
