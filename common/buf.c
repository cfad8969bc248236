/* buf.c: the one growable buffer — bytes appended (or read in place) up to a cap its owner
 * sets, always NUL-terminated so text can be used as a string. Program output, files read under
 * --root and rendered Nix text grow in it. It never writes anywhere but its own memory. */
#include "common/common.h"

#include <errno.h>
#include <string.h>

#define NM_BUF_FIRST 4096

int nm_buf_reserve(struct nm_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return -EFBIG;
	size_t need = b->len + extra;
	if (b->data && need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : NM_BUF_FIRST;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max)
		cap = b->max;
	char *d = realloc(b->data, cap + 1); /* + the NUL */
	if (!d)
		return -ENOMEM;
	if (!b->data)
		d[0] = '\0';
	b->data = d;
	b->cap = cap;
	return 0;
}

int nm_buf_append(struct nm_buf *b, const void *p, size_t n)
{
	int r = nm_buf_reserve(b, n);
	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	nm_buf_grew(b, n);
	return 0;
}

void nm_buf_grew(struct nm_buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

char *nm_buf_take(struct nm_buf *b, size_t *len)
{
	char *d = b->data ? b->data : calloc(1, 1);
	if (len)
		*len = b->data ? b->len : 0;
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}

void nm_buf_free(struct nm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
