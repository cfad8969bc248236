/* nixout.c: the text the Nix renderers write (struct nm_nix_out, common.h), in a capped nm_buf. It
 * writes nothing to disk and never builds a Nix literal itself: values go through nm_nix_string. */
#include "common/common.h"

#include <errno.h>
#include <string.h>

void nm_nix_out_init(struct nm_nix_out *o, struct nm_error *e)
{
	*o = (struct nm_nix_out){.text = NM_BUF_INIT(NM_NIX_OUT_MAX), .e = e};
}

static void append(struct nm_nix_out *o, const char *s, size_t n)
{
	if (o->err)
		return;
	int r = nm_buf_append(&o->text, s, n);
	if (r == -EFBIG)
		o->err = nm_fail(o->e, NM_ERR_RUNTIME, EFBIG,
				 "a rendered Nix file would pass %u MiB; check the SSH keys and the config for an "
				 "oversized value",
				 NM_NIX_OUT_MAX >> 20);
	else if (r < 0)
		o->err = nm_fail(o->e, NM_ERR_RUNTIME, ENOMEM, "out of memory rendering a Nix file");
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void nm_nix_out_printf(struct nm_nix_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = vformat(fmt, ap);
	va_end(ap);
	if (!s && !o->err)
		o->err = nm_fail(o->e, NM_ERR_RUNTIME, ENOMEM, "out of memory rendering a Nix file");
	if (s)
		append(o, s, strlen(s));
}

void nm_nix_out_str(struct nm_nix_out *o, const char *field, const char *s)
{
	if (o->err)
		return;
	_cleanup_free_ char *lit = NULL;
	int r = nm_nix_string(field, s ? s : "", s ? strlen(s) : 0, &lit, o->e);
	if (r < 0)
		o->err = r;
	else
		append(o, lit, strlen(lit));
}

void nm_nix_out_items(struct nm_nix_out *o, const char *field, char *const *v)
{
	for (size_t i = 0; v && v[i]; i++) {
		nm_nix_out_printf(o, " ");
		nm_nix_out_str(o, field, v[i]);
	}
}

void nm_nix_out_comment(struct nm_nix_out *o, const char *indent, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = vformat(fmt, ap);
	va_end(ap);
	if (!s) {
		if (!o->err)
			o->err = nm_fail(o->e, NM_ERR_RUNTIME, ENOMEM, "out of memory rendering a Nix file");
		return;
	}
	nm_sanitize_text(s);
	append(o, indent, strlen(indent));
	append(o, "# ", 2);
	append(o, s, strlen(s));
	append(o, "\n", 1);
}

int nm_nix_out_finish(struct nm_nix_out *o, char **out)
{
	*out = NULL;
	if (o->err) {
		nm_buf_free(&o->text);
		return o->err;
	}
	*out = nm_buf_take(&o->text, NULL);
	return *out ? 0 : nm_fail(o->e, NM_ERR_RUNTIME, ENOMEM, "out of memory rendering a Nix file");
}
