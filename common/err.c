/* err.c: the error record every nmmm function fills, and the one mapping from its class to an
 * exit code. Nothing else decides exit codes. */
#include "common/common.h"

#include <errno.h>
#include <string.h>

int nm_fail(struct nm_error *e, enum nm_err_class cls, int code, const char *fmt, ...)
{
	int neg = code == 0 ? -EIO : (code < 0 ? code : -code);
	if (!e)
		return neg;
	if (e->cls == NM_ERR_NONE) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->cls = cls;
		e->code = neg;
	}
	return neg;
}

void nm_error_prefix(struct nm_error *e, const char *fmt, ...)
{
	if (!e || e->cls == NM_ERR_NONE)
		return;
	char prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	size_t pl = strnlen(prefix, sizeof prefix - 1);
	size_t ml = strnlen(e->msg, sizeof e->msg - 1);
	if (pl + 2 + ml >= sizeof e->msg)
		ml = sizeof e->msg - 1 - pl - 2;
	memmove(e->msg + pl + 2, e->msg, ml);
	memcpy(e->msg, prefix, pl);
	memcpy(e->msg + pl, ": ", 2);
	e->msg[pl + 2 + ml] = '\0';
}

int nm_exit_code(const struct nm_error *e)
{
	if (!e || e->cls == NM_ERR_NONE)
		return 0;
	return (int)e->cls;
}

enum nm_err_class nm_err_class_of_exit(int code)
{
	switch (code) {
	case NM_ERR_USAGE:
	case NM_ERR_REFUSED:
	case NM_ERR_VERIFY: return (enum nm_err_class)code;
	default: return NM_ERR_RUNTIME;
	}
}

const char *nm_err_class_name(enum nm_err_class cls)
{
	switch (cls) {
	case NM_ERR_NONE: return "none";
	case NM_ERR_RUNTIME: return "runtime";
	case NM_ERR_USAGE: return "usage";
	case NM_ERR_REFUSED: return "refused";
	case NM_ERR_VERIFY: return "verification";
	}
	return "runtime";
}

void nm_freep(void *p)
{
	free(*(void **)p);
}

void nm_closep(const int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

void nm_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

void nm_strv_freep(char ***v)
{
	nm_strv_free(*v);
}

void nm_json_putp(json_object **o)
{
	json_object_put(*o);
}
