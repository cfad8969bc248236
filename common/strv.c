/* strv.c: NULL-terminated string vectors and small string helpers. */
#include "common/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>

char **nm_strv_new(void)
{
	return calloc(1, sizeof(char *));
}

size_t nm_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

int nm_strv_push(char ***v, const char *s)
{
	size_t n = nm_strv_len(*v);
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	char **nv = realloc(*v, (n + 2) * sizeof(char *));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	nv[n] = copy;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

bool nm_strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void nm_warning_add(char ***warnings, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (!nm_strv_contains(*warnings, s))
		(void)nm_strv_push(warnings, s);
	free(s);
}

void nm_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

char *nm_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not valid. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool nm_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void nm_sanitize_text(char *s)
{
	if (!s)
		return;
	unsigned char *p = (unsigned char *)s;
	size_t len = strlen(s), i = 0;
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			p[i] = '?';
			n = 1;
		}
		i += n;
	}
	size_t start = 0;
	while (p[start] && isspace(p[start]))
		start++;
	size_t end = len;
	while (end > start && isspace(p[end - 1]))
		end--;
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
}

const char *nm_last_line(const char *out, size_t len, char *buf, size_t size)
{
	while (out && len > 0 && isspace((unsigned char)out[len - 1]))
		len--;
	size_t start = len;
	while (start > 0 && out[start - 1] != '\n')
		start--;
	snprintf(buf, size, "%.*s", (int)(len - start), out ? out + start : "");
	nm_sanitize_text(buf);
	return buf;
}

char *nm_strv_join(char *const *v, const char *sep)
{
	struct nm_buf b = NM_BUF_INIT(SIZE_MAX);
	for (size_t i = 0; v && v[i]; i++)
		if ((i && nm_buf_append(&b, sep, strlen(sep)) < 0) || nm_buf_append(&b, v[i], strlen(v[i])) < 0) {
			free(b.data);
			return NULL;
		}
	size_t len = 0;
	char *s = nm_buf_take(&b, &len);
	return s ? s : strdup("");
}
