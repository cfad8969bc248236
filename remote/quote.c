/* quote.c: the one function that turns an argv into the command string ssh hands the remote
 * shell. Every word is single-quoted, so the remote shell expands nothing; no other code in
 * remote/ joins words into a shell string or writes a quote for a shell. */
#include "remote/remote.h"

#include <errno.h>
#include <string.h>

/* Inside single quotes every byte stands for itself except ' itself, which ends the quoting:
 * it is written as '\'' (close, an escaped quote, reopen). */
static int quote_word(struct nm_buf *b, const char *w)
{
	int r = nm_buf_append(b, "'", 1);
	for (const char *p = w; r == 0 && *p; p++)
		r = *p == '\'' ? nm_buf_append(b, "'\\''", 4) : nm_buf_append(b, p, 1);
	return r < 0 ? r : nm_buf_append(b, "'", 1);
}

int remote_command_line(const char *const argv[], char **out, struct nm_error *e)
{
	*out = NULL;
	if (!argv || !argv[0])
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "remote command: no program given (an empty argv)");
	/* the remote's ARG_MAX (2 MiB on Linux) bounds what a shell can take anyway */
	_cleanup_buf_ struct nm_buf b = NM_BUF_INIT(2u << 20);
	int r = 0;
	for (size_t i = 0; r == 0 && argv[i]; i++) {
		if (i)
			r = nm_buf_append(&b, " ", 1);
		if (r == 0)
			r = quote_word(&b, argv[i]);
	}
	if (r == -EFBIG)
		return nm_fail(e, NM_ERR_USAGE, E2BIG,
			       "remote command %.60s: longer than 2 MiB quoted; no shell takes it", argv[0]);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	size_t len;
	*out = nm_buf_take(&b, &len);
	return *out ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}
