/* keyscan.c: the host keys a machine offers, as ssh-keyscan reports them. The answer is not
 * authenticated — anyone in the path can answer — so its keys are only candidates: the caller
 * matches them against fingerprints from a trusted channel (Robot) before pinning any. It runs
 * ssh-keyscan through nm_run and nothing else. */
#include "remote/remote-internal.h"

#include <errno.h>
#include <string.h>

#define KEYSCAN_DEFAULT_TIMEOUT 10

/* Each "HOST TYPE BASE64" line of the answer; '#' lines (the banners) and ssh-keyscan's own
 * complaints ("connect: Connection refused") are not keys. */
static int keys_from_output(const char *out, size_t len, struct remote_host_key **keys, size_t *n)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(out + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - out - i) : len - i;
		_cleanup_free_ char *line = strndup(out + i, l);
		i += l + 1;
		if (!line)
			return -ENOMEM;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		struct remote_host_key k;
		struct nm_error ignored = {0};
		if (remote_host_key_parse(line, &k, &ignored) < 0) {
			nm_debug("ssh-keyscan: not a key line: %.80s", line);
			continue;
		}
		struct remote_host_key *grown = realloc(*keys, (*n + 1) * sizeof **keys);
		if (!grown) {
			remote_host_key_free(&k);
			return -ENOMEM;
		}
		*keys = grown;
		(*keys)[(*n)++] = k;
	}
	return 0;
}

int remote_keyscan(const struct remote_target *t, unsigned timeout_sec, struct remote_host_key **keys, size_t *n,
		   struct nm_error *e)
{
	*keys = NULL;
	*n = 0;
	unsigned timeout = timeout_sec ? timeout_sec : KEYSCAN_DEFAULT_TIMEOUT;
	char timeout_text[16], port_text[16];
	snprintf(timeout_text, sizeof timeout_text, "%u", timeout);
	snprintf(port_text, sizeof port_text, "%u", t->port ? t->port : 22);
	const char *argv[] = {"ssh-keyscan", "-T",	timeout_text, "-t",    "ed25519,ecdsa,rsa",
			      "-p",	     port_text, "--",	      t->host, NULL};
	_cleanup_free_ char *who = remote_target_display(t);
	/* one connection per key type, each bounded by -T */
	struct nm_run_opts ro = {.timeout_sec = timeout * 3 + 10, .allow_failure = true};
	_cleanup_run_result_ struct nm_run_result res = {0};
	int r = nm_run(argv, &ro, &res, e);
	if (r < 0)
		return r;
	if (keys_from_output(res.output, res.output_len, keys, n) < 0) {
		remote_host_keys_free(*keys, *n);
		*keys = NULL, *n = 0;
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (*n == 0) {
		_cleanup_free_ char *tail = remote_output_tail(res.output, res.output_len);
		return nm_fail(e, NM_ERR_RUNTIME, EHOSTUNREACH,
			       "%s: ssh-keyscan got no host key from %s port %s within %u s%s%s%s; is the machine up, "
			       "in the rescue system, and the address right?",
			       who ? who : t->host, t->host, port_text, timeout, tail && *tail != '(' ? " (" : " ",
			       tail ? tail : "", tail && *tail != '(' ? ")" : "");
	}
	return 0;
}
