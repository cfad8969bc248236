/* ssh-keys.c: reads the rescue's /root/.ssh/authorized_keys (under --root) and gathers root's
 * authorized keys for the installed system — the rescue's keys, each --ssh-key and the lines of
 * --ssh-key-file — checked with agent_ssh_key_check (ssh-key-check.c). It reads those two files
 * and nothing else; it never writes a key anywhere. No key is a refusal:
 * a system without one cannot be logged into after the reboot. */
#include "agent/agent.h"

#include <errno.h>
#include <string.h>

/* Keeps each valid line of /root/.ssh/authorized_keys; a malformed one is skipped with a
 * warning naming its line number, so one typo does not lock the operator out of the rest. A line
 * holding a control character is not a typo but a second line hidden in the first: it is
 * recorded in m->ssh_keys_refused, which detect shows and every use of the keys refuses. */
int agent_rescue_keys_read(const char *root, struct agent_machine_facts *m, struct nm_error *e)
{
	static const char path[] = "/root/.ssh/authorized_keys";
	_cleanup_free_ char *text = NULL;
	size_t text_len = 0;
	int r = nm_read_file(root, path, 1 << 20, &text, &text_len);
	if (r < 0) {
		nm_warning_add(&m->warnings,
			       "cannot read %s (%s); no SSH keys for the installed system, pass --ssh-key", path,
			       strerror(-r));
		return 0;
	}
	unsigned lineno = 0;
	for (char *line = text, *next; line < text + text_len; line = next) {
		next = memchr(line, '\n', (size_t)(text + text_len - line));
		size_t len = next ? (size_t)(next - line) : (size_t)(text + text_len - line);
		next = next ? next + 1 : text + text_len;
		line[len] = '\0'; /* the '\n', or the terminating NUL nm_read_file adds */
		lineno++;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		const char *bad = agent_ssh_key_control_char(line, len); /* a NUL inside the line too */
		if (bad) {
			_cleanup_free_ char *source = nm_strdup_printf("%s line %u", path, lineno);
			struct nm_error why = {0};
			agent_ssh_key_refuse_control(source ? source : path, line, bad, &why);
			nm_warning_add(&m->warnings, "%s; install and render refuse the file until the line is fixed",
				       why.msg);
			if (!m->ssh_keys_refused && !(m->ssh_keys_refused = strdup(why.msg)))
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "machine facts: out of memory");
			continue;
		}
		const char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		struct nm_error why = {0};
		if (agent_ssh_key_check(p, &why) < 0) {
			nm_warning_add(&m->warnings, "%s line %u skipped: %s", path, lineno, why.msg);
			continue;
		}
		if (!nm_utf8_valid(p, strlen(p))) {
			nm_warning_add(&m->warnings, "%s line %u skipped: not valid UTF-8", path, lineno);
			continue;
		}
		if (nm_strv_push(&m->ssh_authorized_keys, p) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "machine facts: out of memory");
	}
	if (!m->ssh_authorized_keys[0])
		nm_warning_add(&m->warnings, "%s holds no usable key; pass --ssh-key", path);
	return 0;
}

static int add_key(char ***keys, const char *key, struct nm_error *e)
{
	if (nm_strv_contains(*keys, key))
		return 0;
	if (nm_strv_push(keys, key) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory gathering SSH keys");
	return 0;
}

/* Strips the line end and surrounding blanks in place; returns the start of the content. */
static char *trim(char *line)
{
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* The operator's key file: a comment, a blank line or a malformed line is skipped; a malformed
 * one with a warning naming the file and the line number, so one typo does not stop an install
 * that other keys can still log into. A control character inside a line (a NUL, a lone CR) is
 * refused, naming the file and line: that is not a typo. */
static int add_key_file(char ***keys, const char *path, struct nm_error *e)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return nm_fail(e, NM_ERR_USAGE, errno,
			       "--ssh-key-file %s: cannot open: %s; give a readable authorized_keys file", path,
			       strerror(errno));
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		size_t text_len = strlen(line); /* short of n: a NUL inside the line */
		char *key = trim(line);
		const char *ctl = text_len < (size_t)n ? line + text_len : agent_ssh_key_control_char(key, strlen(key));
		if (ctl) {
			_cleanup_free_ char *source = nm_strdup_printf("--ssh-key-file %s line %zu", path, lineno);
			return agent_ssh_key_refuse_control(source ? source : path, line, ctl, e);
		}
		if (*key == '\0' || *key == '#')
			continue;
		struct nm_error bad = {0};
		if (agent_ssh_key_check(key, &bad) < 0) {
			nm_warn("%s:%zu: skipped, not a usable SSH public key: %s", path, lineno, bad.msg);
			continue;
		}
		int r = add_key(keys, key, e);
		if (r < 0)
			return r;
	}
	if (ferror(f))
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "--ssh-key-file %s: read error; check the file", path);
	return 0;
}

int agent_ssh_keys_gather(const struct agent_machine_facts *facts, char *const *cli_keys, const char *key_file,
			  char ***keys, struct nm_error *e)
{
	_cleanup_strv_free_ char **all = nm_strv_new();
	if (!all)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory gathering SSH keys");
	if (facts && facts->ssh_keys_refused)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s", facts->ssh_keys_refused);
	int r = 0;
	for (size_t i = 0; r >= 0 && facts && facts->ssh_authorized_keys && facts->ssh_authorized_keys[i]; i++)
		r = add_key(&all, facts->ssh_authorized_keys[i], e);
	for (size_t i = 0; r >= 0 && cli_keys && cli_keys[i]; i++) {
		_cleanup_free_ char *copy = strdup(cli_keys[i]);
		if (!copy)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory gathering SSH keys");
		const char *key = trim(copy);
		const char *bad = agent_ssh_key_control_char(key, strlen(key));
		if (bad) {
			_cleanup_free_ char *source = nm_strdup_printf("--ssh-key #%zu", i + 1);
			return agent_ssh_key_refuse_control(source ? source : "--ssh-key", key, bad, e);
		}
		r = agent_ssh_key_check(key, e);
		if (r < 0) {
			nm_error_prefix(e, "--ssh-key #%zu", i + 1);
			return r;
		}
		r = add_key(&all, key, e);
	}
	if (r >= 0 && key_file)
		r = add_key_file(&all, key_file, e);
	if (r < 0)
		return r;
	if (nm_strv_len(all) == 0)
		return nm_fail(e, NM_ERR_REFUSED, ENOKEY,
			       "no SSH key for root: the rescue has none in /root/.ssh/authorized_keys and none was "
			       "given; the installed system would lock you out. Give --ssh-key 'ssh-ed25519 AAAA...' "
			       "or --ssh-key-file FILE");
	*keys = all;
	all = NULL;
	return 0;
}
