/* session.c: one ssh ControlMaster connection to a target whose host keys are pinned, and the
 * commands run through it. The session owns a private 0700 directory (the pinned known_hosts,
 * the control socket); every ssh it starts gets the same pinning options first, so no option of
 * the operator's (ssh takes the first value it sees) can loosen them. It runs the system's ssh
 * through nm_run only; it never builds a shell string but through remote_command_line, never
 * asks for a password and never touches the operator's known_hosts. */
#include "remote/remote-internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define SESSION_CONNECT_TIMEOUT 15
/* a master left behind by a killed agent exits after this long without a client */
#define SESSION_PERSIST "15m"
#define SESSION_TMP_MAX 64 /* the control socket's path must fit sun_path (108) with ssh's suffix */
#define SESSION_RUN_TIMEOUT 300

struct remote_session {
	struct remote_target t;
	char *who; /* remote_target_display, for messages */
	char *alias; /* remote_known_hosts_name: the one name in the private known_hosts */
	char *dir, *known_hosts, *control;
	char *ssh_config, *identity;
	char **ssh_options;
	char **env; /* HOME, USER, SSH_AUTH_SOCK from the caller's environment */
	char *pinned; /* the pinned keys' SHA256 fingerprints, comma-separated, for messages */
	unsigned connect_timeout;
};

/* ---- the ssh command line ---- */

/* "-o KEY=VALUE"; with value NULL, key is the whole "KEY=VALUE". */
static int push_opt(char ***v, const char *key, const char *value)
{
	_cleanup_free_ char *o = value ? nm_strdup_printf("%s=%s", key, value) : strdup(key);
	return o && nm_strv_push(v, "-o") == 0 ? nm_strv_push(v, o) : -ENOMEM;
}

/* What keeps the host pinned: only the private known_hosts (found by the alias, whatever HostName
 * or Port the operator's config gives), strict checking, nothing learned or looked up elsewhere,
 * no forwarding a rescue system could use. */
static int push_pinning(const struct remote_session *s, char ***v)
{
	static const char *const fixed[] = {
	    "BatchMode=yes",	   "StrictHostKeyChecking=yes",	     "UpdateHostKeys=no",      "CheckHostIP=no",
	    "VerifyHostKeyDNS=no", "GlobalKnownHostsFile=/dev/null", "KnownHostsCommand=none", "ForwardAgent=no",
	    "ForwardX11=no",	   "ClearAllForwardings=yes",	     "PermitLocalCommand=no",  "RequestTTY=no",
	};
	int r = 0;
	if (s->ssh_config && (nm_strv_push(v, "-F") < 0 || nm_strv_push(v, s->ssh_config) < 0))
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < NM_ELEMENTSOF(fixed); i++)
		r = push_opt(v, fixed[i], NULL);
	if (r == 0)
		r = push_opt(v, "HostKeyAlias", s->alias);
	if (r == 0)
		r = push_opt(v, "UserKnownHostsFile", s->known_hosts);
	if (r == 0)
		r = push_opt(v, "ControlPath", s->control);
	return r;
}

/* The caller's choices, then the defaults they may override: a dead link is noticed after 3
 * unanswered keepalives 10 s apart. */
static int push_tunables(const struct remote_session *s, char ***v)
{
	int r = 0;
	if (s->identity)
		r = nm_strv_push(v, "-i") == 0 && nm_strv_push(v, s->identity) == 0
		    ? push_opt(v, "IdentitiesOnly=yes", NULL)
		    : -ENOMEM;
	for (size_t i = 0; r == 0 && s->ssh_options && s->ssh_options[i]; i++)
		r = push_opt(v, s->ssh_options[i], NULL);
	char timeout[32];
	snprintf(timeout, sizeof timeout, "ConnectTimeout=%u", s->connect_timeout);
	const char *const defaults[] = {timeout, "ServerAliveInterval=10", "ServerAliveCountMax=3", "LogLevel=ERROR"};
	for (size_t i = 0; r == 0 && i < NM_ELEMENTSOF(defaults); i++)
		r = push_opt(v, defaults[i], NULL);
	return r;
}

/* ssh PINNING CALL TUNABLES -l USER [-p PORT] -- HOST [COMMAND] */
static char **session_argv(const struct remote_session *s, const char *const *call, const char *command)
{
	_cleanup_strv_free_ char **v = nm_strv_new();
	if (!v || nm_strv_push(&v, "ssh") < 0 || push_pinning(s, &v) < 0)
		return NULL;
	for (size_t i = 0; call && call[i]; i++)
		if (nm_strv_push(&v, call[i]) < 0)
			return NULL;
	if (push_tunables(s, &v) < 0 || nm_strv_push(&v, "-l") < 0 || nm_strv_push(&v, s->t.user) < 0)
		return NULL;
	char port[16];
	snprintf(port, sizeof port, "%u", s->t.port);
	if (s->t.port && (nm_strv_push(&v, "-p") < 0 || nm_strv_push(&v, port) < 0))
		return NULL;
	if (nm_strv_push(&v, "--") < 0 || nm_strv_push(&v, s->t.host) < 0 || (command && nm_strv_push(&v, command) < 0))
		return NULL;
	return NM_TAKE_PTR(v);
}

/* Runs ssh with `call` (and a command), failure being an answer the caller reads. */
static int session_ssh(const struct remote_session *s, const char *const *call, const char *command,
		       const struct nm_run_opts *base, struct nm_run_result *res, struct nm_error *e)
{
	_cleanup_strv_free_ char **argv = session_argv(s, call, command);
	if (!argv)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct nm_run_opts ro = base ? *base : (struct nm_run_opts){0};
	ro.extra_env = s->env;
	ro.allow_failure = true;
	return nm_run((const char *const *)argv, &ro, res, e);
}

/* ---- opening ---- */

/* The fingerprint ssh printed for the key the host sent ("... sent by the remote host is\n
 * SHA256:....\n"), or NULL when it printed none (the host offered no key of a pinned type). */
static char *shown_fingerprint(const char *out)
{
	const char *p = out ? strstr(out, "sent by the remote host is") : NULL;
	p = p ? strstr(p, "SHA256:") : NULL;
	if (!p)
		return NULL;
	size_t n = strcspn(p, " \r\n");
	while (n > 7 && p[n - 1] == '.')
		n--;
	char *fp = strndup(p, n);
	if (fp)
		nm_sanitize_text(fp);
	return fp;
}

static int open_failed(const struct remote_session *s, const struct nm_run_result *res, struct nm_error *e)
{
	const char *out = res->output ? res->output : "";
	_cleanup_free_ char *tail = remote_output_tail(res->output, res->output_len);
	if (strstr(out, "Host key verification failed")) {
		_cleanup_free_ char *shown = shown_fingerprint(out);
		return nm_fail(e, NM_ERR_REFUSED, EKEYREJECTED,
			       "%s: the host's key is not the pinned one (pinned: %s; the host showed %s). ssh stopped "
			       "at the key exchange: no login, no command. A server booted into a new rescue system "
			       "has new keys: take its fingerprints from Robot again; otherwise this address is not "
			       "that server",
			       s->who, s->pinned, shown ? shown : "a key of another type");
	}
	if (strstr(out, "Permission denied"))
		return nm_fail(e, NM_ERR_RUNTIME, EACCES,
			       "%s: the host refused the login (%s); activate the rescue system with your key "
			       "(Robot), or name the key (identity) or the agent (SSH_AUTH_SOCK) that holds it",
			       s->who, tail ? tail : "");
	return nm_fail(e, NM_ERR_RUNTIME, ECONNREFUSED, "%s: ssh could not connect (exit status %d: %s)", s->who,
		       res->exit_status, tail ? tail : "");
}

static int open_master(struct remote_session *s, struct nm_error *e)
{
	static const char *const call[] = {
	    "-o", "ControlMaster=yes", "-o", "ControlPersist=" SESSION_PERSIST, "-N", "-f", NULL};
	struct nm_run_opts ro = {.timeout_sec = s->connect_timeout + 30};
	_cleanup_run_result_ struct nm_run_result res = {0};
	int r = session_ssh(s, call, NULL, &ro, &res, e);
	if (r < 0)
		return r;
	if (res.exit_status != 0)
		return open_failed(s, &res, e);
	nm_info("%s: connected (host key %s)", s->who, s->pinned);
	return 0;
}

static char **operator_env(void)
{
	static const char *const names[] = {"HOME", "USER", "SSH_AUTH_SOCK"};
	_cleanup_strv_free_ char **env = nm_strv_new();
	for (size_t i = 0; env && i < NM_ELEMENTSOF(names); i++) {
		const char *v = getenv(names[i]);
		_cleanup_free_ char *kv = v ? nm_strdup_printf("%s=%s", names[i], v) : NULL;
		if (v && (!kv || nm_strv_push(&env, kv) < 0))
			return NULL;
	}
	return NM_TAKE_PTR(env);
}

static char *pinned_list(const struct remote_host_key *keys, size_t n)
{
	_cleanup_buf_ struct nm_buf b = NM_BUF_INIT(1u << 20);
	for (size_t i = 0; i < n; i++)
		if ((i && nm_buf_append(&b, ", ", 2) < 0) ||
		    nm_buf_append(&b, keys[i].sha256, strlen(keys[i].sha256)) < 0)
			return NULL;
	return nm_buf_take(&b, NULL);
}

/* The private directory: $TMPDIR when it is short enough for a socket path and plain enough for
 * ssh's options (UserKnownHostsFile splits at spaces, ControlPath expands '%'), else /tmp. */
static int session_dir(struct remote_session *s, struct nm_error *e)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || tmp[0] != '/' || strlen(tmp) > SESSION_TMP_MAX ||
	    tmp[strspn(tmp, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-")] != '\0')
		tmp = "/tmp";
	_cleanup_free_ char *dir = nm_strdup_printf("%s/nmmm-ssh.XXXXXX", tmp);
	if (!dir)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (!mkdtemp(dir)) /* 0700 */
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot create a private directory there: %s", tmp,
			       strerror(errno));
	s->dir = NM_TAKE_PTR(dir);
	s->known_hosts = nm_strdup_printf("%s/known_hosts", s->dir);
	s->control = nm_strdup_printf("%s/control", s->dir);
	return s->known_hosts && s->control ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

static int session_fill(struct remote_session *s, const struct remote_target *t, const struct remote_host_key *keys,
			size_t n, const struct remote_session_opts *o)
{
	s->t.user = strdup(t->user);
	s->t.host = strdup(t->host);
	s->t.port = t->port;
	s->who = remote_target_display(t);
	s->alias = remote_known_hosts_name(t);
	s->env = operator_env();
	s->pinned = pinned_list(keys, n);
	s->connect_timeout = o && o->connect_timeout_sec ? o->connect_timeout_sec : SESSION_CONNECT_TIMEOUT;
	s->ssh_config = o && o->ssh_config ? strdup(o->ssh_config) : NULL;
	s->identity = o && o->identity ? strdup(o->identity) : NULL;
	s->ssh_options = nm_strv_new();
	for (size_t i = 0; o && o->ssh_options && o->ssh_options[i] && s->ssh_options; i++)
		if (nm_strv_push(&s->ssh_options, o->ssh_options[i]) < 0)
			return -ENOMEM;
	if (!s->t.user || !s->t.host || !s->who || !s->alias || !s->env || !s->pinned || !s->ssh_options ||
	    (o && o->ssh_config && !s->ssh_config) || (o && o->identity && !s->identity))
		return -ENOMEM;
	return 0;
}

int remote_session_open(const struct remote_target *t, const struct remote_host_key *keys, size_t n,
			const struct remote_session_opts *o, struct remote_session **out, struct nm_error *e)
{
	*out = NULL;
	_cleanup_free_ char *who = remote_target_display(t);
	if (n == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: no host key to pin; scan and match the keys first",
			       who ? who : t->host);
	_cleanup_remote_session_ struct remote_session *s = calloc(1, sizeof *s);
	if (!s || session_fill(s, t, keys, n, o) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = session_dir(s, e);
	if (r < 0 || (r = remote_known_hosts_write(s->known_hosts, t, keys, n, e)) < 0 || (r = open_master(s, e)) < 0)
		return r;
	*out = NM_TAKE_PTR(s);
	return 0;
}

/* ---- the master's life ---- */

int remote_session_check(struct remote_session *s)
{
	static const char *const call[] = {"-O", "check", NULL};
	struct nm_run_opts ro = {.timeout_sec = 10};
	_cleanup_run_result_ struct nm_run_result res = {0};
	struct nm_error ignored = {0};
	if (session_ssh(s, call, NULL, &ro, &res, &ignored) < 0 || res.exit_status != 0)
		return -ENOTCONN;
	return 0;
}

/* Asks the master to exit (it may be gone already) and removes its socket. */
static void stop_master(struct remote_session *s)
{
	static const char *const call[] = {"-O", "exit", NULL};
	struct nm_run_opts ro = {.timeout_sec = 10};
	struct nm_error ignored = {0};
	(void)session_ssh(s, call, NULL, &ro, NULL, &ignored);
	if (s->control)
		(void)unlink(s->control);
}

int remote_session_reconnect(struct remote_session *s, struct nm_error *e)
{
	stop_master(s);
	int r = open_master(s, e);
	if (r < 0)
		nm_error_prefix(e, "reconnecting");
	return r;
}

void remote_session_close(struct remote_session *s)
{
	if (!s)
		return;
	if (s->dir) {
		stop_master(s);
		if (s->known_hosts)
			(void)unlink(s->known_hosts);
		(void)rmdir(s->dir);
	}
	remote_target_free(&s->t);
	free(s->who);
	free(s->alias);
	free(s->dir);
	free(s->known_hosts);
	free(s->control);
	free(s->ssh_config);
	free(s->identity);
	nm_strv_free(s->ssh_options);
	nm_strv_free(s->env);
	free(s->pinned);
	free(s);
}

void remote_session_closep(struct remote_session **s)
{
	remote_session_close(*s);
	*s = NULL;
}

/* ---- commands ---- */

/* What a failed run means: ssh's own 255 with the master gone is a lost connection, anything else
 * the command's own exit. */
static int run_failed(struct remote_session *s, const char *cmd, const struct nm_run_result *res, struct nm_error *e)
{
	_cleanup_free_ char *tail = remote_output_tail(res->output, res->output_len);
	if (res->exit_status == 255 && remote_session_check(s) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ECONNRESET,
			       "%s: the connection was lost while running %.200s (%s%s); reconnect and look at what "
			       "the command left: it may have gone on running",
			       s->who, cmd, res->output_len ? "last output: " : "no output",
			       res->output_len && tail ? tail : "");
	return nm_fail(e, NM_ERR_RUNTIME, EIO, "%s: %.200s exited with status %d: %s", s->who, cmd, res->exit_status,
		       tail ? tail : "");
}

int remote_run(struct remote_session *s, const char *const argv[], const struct remote_run_opts *o,
	       struct nm_run_result *res, struct nm_error *e)
{
	static const char *const call[] = {"-o", "ControlMaster=no", NULL};
	static const struct remote_run_opts defaults = {0};
	if (!o)
		o = &defaults;
	struct nm_run_result local = {0};
	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	_cleanup_free_ char *cmd = NULL;
	int r = remote_command_line(argv, &cmd, e);
	if (r < 0)
		return r;
	unsigned timeout = o->timeout_sec ? o->timeout_sec : SESSION_RUN_TIMEOUT;
	struct nm_run_opts ro = {.timeout_sec = timeout,
				 .stdin_path = o->stdin_path,
				 .on_line = o->on_line,
				 .on_line_ud = o->on_line_ud,
				 .stdout_path = o->stdout_path};
	struct nm_error sub = {0};
	r = session_ssh(s, call, cmd, &ro, res, &sub);
	if (r == -ETIME)
		r = nm_fail(e, NM_ERR_RUNTIME, ETIME,
			    "%s: %.200s still running after %u s and stopped here (it may go on "
			    "running on the remote)",
			    s->who, cmd, timeout);
	else if (r < 0)
		r = nm_fail(e, sub.cls, sub.code, "%s: %s", s->who, sub.msg);
	else if (res->exit_status != 0 && !o->allow_failure)
		r = run_failed(s, cmd, res, e);
	if (res == &local)
		nm_run_result_free(&local);
	return r;
}
