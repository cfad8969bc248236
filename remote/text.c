/* text.c: the encodings remote/ reads and writes — base64 both ways (libcrypto), SSH wire strings
 * inside a key blob, and the end of a program's output made safe for an error message. Pure
 * functions over memory: no file, no program, no connection. */
#include "remote/remote-internal.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

static bool base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int remote_base64_decode(const char *b64, size_t len, unsigned char **out, size_t *out_len)
{
	*out = NULL;
	if (len == 0 || len % 4 != 0 || len > (1u << 20))
		return -EINVAL;
	size_t pad = (b64[len - 1] == '=') + (b64[len - 1] == '=' && b64[len - 2] == '=');
	for (size_t i = 0; i < len - pad; i++)
		if (!base64_char(b64[i]))
			return -EINVAL;
	unsigned char *raw = malloc(len / 4 * 3 + 1);
	if (!raw)
		return -ENOMEM;
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0) {
		free(raw);
		return -EINVAL;
	}
	*out = raw;
	*out_len = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
	return 0;
}

char *remote_base64_encode(const unsigned char *p, size_t n, bool pad)
{
	char *s = malloc((n + 2) / 3 * 4 + 1);
	if (!s)
		return NULL;
	int k = EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	while (!pad && k > 0 && s[k - 1] == '=')
		s[--k] = '\0';
	return s;
}

bool remote_wire_string(const unsigned char **p, const unsigned char *end, const unsigned char **s, size_t *len)
{
	if (end - *p < 4)
		return false;
	uint32_t n = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 | (*p)[3];
	if ((size_t)(end - *p - 4) < n)
		return false;
	*s = *p + 4;
	*len = n;
	*p += 4 + (size_t)n;
	return true;
}

char *remote_output_tail(const char *out, size_t len)
{
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
		len--;
	if (len == 0)
		return strdup("(no output)");
	size_t start = len, lines = 0;
	while (start > 0 && len - start < 300 && !(out[start - 1] == '\n' && ++lines == 2))
		start--;
	char *s = strndup(out + start, len - start);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if (*p == '\n')
			*p = ' '; /* one line in the message; nm_sanitize_text replaces the rest */
	nm_sanitize_text(s);
	return s;
}
