/* ssh-key-check.c: checks OpenSSH authorized_keys lines (the rescue's /root/.ssh/authorized_keys,
 * --ssh-key and --ssh-key-file) before they go into the rendered configuration: one line of text (no control
 * character: a line break would add an unchecked line such as command="..." to root's keys),
 * options, a known key type, a base64 blob that decodes and names the same type. It only reads
 * text; it never loads, converts or stores keys anywhere. */
#include "agent/agent.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

static const char *const ssh_key_types[] = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

static bool is_key_type(const char *s, size_t len)
{
	for (size_t i = 0; i < NM_ELEMENTSOF(ssh_key_types); i++)
		if (strlen(ssh_key_types[i]) == len && memcmp(ssh_key_types[i], s, len) == 0)
			return true;
	return false;
}

/* Skips the options field (comma-separated, double quotes may hold spaces and commas);
 * returns the position after it, or NULL when a quote is left open. */
static const char *skip_options(const char *p)
{
	bool quoted = false;
	for (; *p; p++) {
		if (*p == '\\' && quoted && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == ' ' || *p == '\t'))
			break;
	}
	return quoted ? NULL : p;
}

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static size_t token_len(const char *p)
{
	size_t n = 0;
	while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n')
		n++;
	return n;
}

static bool is_base64_text(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alpha =
		    (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
		/* '=' only as padding, in the last two places */
		if (!alpha && !(c == '=' && i >= len - 2 && (i == len - 1 || s[len - 1] == '=')))
			return false;
	}
	return true;
}

/* The key blob starts with the key type as an SSH string: a 32-bit big-endian length, then the
 * bytes. It must name the same type as the text before it. */
static int check_blob(const char *type, size_t type_len, const char *b64, size_t b64_len, struct nm_error *e)
{
	if (!is_base64_text(b64, b64_len))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "ssh key: the key data after '%.*s' is not base64; paste the whole public key line "
			       "(as in id_ed25519.pub)",
			       (int)type_len, type);
	_cleanup_free_ unsigned char *raw = malloc(b64_len / 4 * 3 + 1);
	if (!raw)
		return -ENOMEM;
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
	if (n < 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: the key data after '%.*s' does not decode as base64",
			       (int)type_len, type);
	/* EVP_DecodeBlock counts padding as zero bytes */
	n -= (b64[b64_len - 1] == '=') + (b64[b64_len - 2] == '=');
	if (n < 4)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: the key data after '%.*s' is too short to be a key",
			       (int)type_len, type);
	uint32_t inner = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
	if (inner > (uint32_t)n - 4 || inner != type_len || memcmp(raw + 4, type, type_len) != 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "ssh key: the key data does not hold a '%.*s' key (damaged or mismatched type); "
			       "copy the line again from the .pub file",
			       (int)type_len, type);
	if ((size_t)n - 4 - inner < 16)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: the '%.*s' key data is truncated", (int)type_len,
			       type);
	return 0;
}

const char *agent_ssh_key_control_char(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return s + i;
	}
	return NULL;
}

static const char *control_char_name(unsigned char c)
{
	switch (c) {
	case '\n': return "a line break";
	case '\r': return "a carriage return";
	case '\0': return "a NUL byte";
	default: return "a control character";
	}
}

int agent_ssh_key_refuse_control(const char *source, const char *line, const char *bad, struct nm_error *e)
{
	unsigned char c = (unsigned char)*bad;
	return nm_fail(e, NM_ERR_USAGE, EINVAL,
		       "%s: %s (0x%02x) at byte %zu of the line; an authorized key is one line of printable text, "
		       "and what follows would become a line of its own in root's authorized keys. Give each key "
		       "as its own line (as in id_ed25519.pub)",
		       source, control_char_name(c), c, (size_t)(bad - line) + 1);
}

int agent_ssh_key_check(const char *line, struct nm_error *e)
{
	if (!line)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: empty");
	const char *bad = agent_ssh_key_control_char(line, strlen(line));
	if (bad)
		return agent_ssh_key_refuse_control("ssh key", line, bad, e);
	const char *p = skip_blanks(line);
	if (!*p || *p == '\n' || *p == '\r')
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "ssh key: empty line; give a public key such as "
			       "'ssh-ed25519 AAAA... user@host'");
	if (*p == '#')
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: the line is a comment, not a key");
	size_t len = token_len(p);
	if (!is_key_type(p, len)) {
		/* not a key type: then it must be an options field followed by one */
		const char *after = skip_options(p);
		if (!after)
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: unbalanced quotes in the options field");
		const char *first = p;
		size_t first_len = len;
		p = skip_blanks(after);
		len = token_len(p);
		if (!is_key_type(p, len)) {
			/* "ssh-dss AAAA...": the first word was meant as the type, not as options */
			if (strncmp(p, "AAAA", 4) == 0 || len == 0)
				p = first, len = first_len;
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "ssh key: unknown key type '%.*s'; expected ssh-ed25519, ssh-rsa, "
				       "ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com or "
				       "sk-ecdsa-sha2-nistp256@openssh.com",
				       (int)(len > 64 ? 64 : len), p);
		}
	}
	const char *type = p;
	size_t type_len = len;
	p = skip_blanks(p + len);
	len = token_len(p);
	if (len == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "ssh key: '%.*s' is not followed by the key data",
			       (int)type_len, type);
	return check_blob(type, type_len, p, len, e);
}
