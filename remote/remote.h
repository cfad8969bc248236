/* remote.h: another machine over the system's OpenSSH client — its address, its host keys and
 * their fingerprints, a session (one ControlMaster connection), commands quoted by one function,
 * uploads checked by SHA-256, and a long command followed line by line. Every program (ssh,
 * ssh-keyscan) runs through nm_run; nothing here links an SSH library or writes a shell string
 * except remote_command_line. */
#pragma once

#include "common/common.h"

/* ---- quoting (quote.c): the one function that turns argv into a remote shell command ----
 * ssh hands the remote user's login shell one string; this builds it. Each word is single-quoted
 * POSIX-style ('' around it, a ' inside as '\''), words joined by one space, so every byte of
 * every word reaches the remote program as it is: spaces, $(...), backticks, ;, |, *, ~, a leading
 * '-', newlines, an empty word, bytes that are not UTF-8. (A C string cannot hold a NUL.) A POSIX
 * shell is assumed on the remote (Hetzner's rescue: bash). An empty argv is a usage error. *out
 * is malloc'd. */
int remote_command_line(const char *const argv[], char **out, struct nm_error *e);

/* ---- targets (target.c) ---- */
struct remote_target {
	char *user;
	char *host; /* without brackets: "2a01:4f8::2" */
	unsigned port; /* 0 = ssh's default or the operator's ssh_config */
};
/* "root@HOST", "root@1.2.3.4", "root@[2a01:4f8::2]", "root@[::1]:2222", "root@HOST:2222", "HOST"
 * (user root), "2a01:4f8::2" (an IPv6 address without brackets takes no port). Refused (usage):
 * empty parts, a user or host starting with '-' (ssh would read an option: "-oProxyCommand=x"),
 * whitespace, control characters and any character a user name or host name (letters, digits,
 * '.', '-', '_'; ':' and '%' in IPv6 addresses) does not have, a port outside 1..65535. */
int remote_target_parse(const char *s, struct remote_target *t, struct nm_error *e);
void remote_target_free(struct remote_target *t);
#define _cleanup_remote_target_ _cleanup_(remote_target_free)
/* "root@host", "root@host:2222", "root@2a01:4f8::2" or "root@[2a01:4f8::2]:2222", for messages.
 * malloc'd (NULL when out of memory). */
char *remote_target_display(const struct remote_target *t);

/* ---- host keys (hostkey.c; keyscan.c, known-hosts.c, age.c) ---- */
struct remote_host_key {
	char *type; /* "ssh-ed25519" */
	char *blob_b64; /* the key blob, base64 as in a .pub file */
	char *md5; /* "aa:bb:..": lower-case hex, colon-separated (Robot's form) */
	char *sha256; /* "SHA256:base64-no-padding" (OpenSSH's form) */
};
/* From an OpenSSH public key line ("TYPE BASE64 [comment]") or a known_hosts / ssh-keyscan line
 * ("HOST TYPE BASE64"). The blob must decode and name TYPE. Usage error otherwise. */
int remote_host_key_parse(const char *line, struct remote_host_key *k, struct nm_error *e);
void remote_host_key_free(struct remote_host_key *k);
void remote_host_keys_free(struct remote_host_key *keys, size_t n);
#define _cleanup_remote_host_key_ _cleanup_(remote_host_key_free)
/* The age recipient ("age1...") of an ssh-ed25519 key, as ssh-to-age derives it: the Ed25519
 * point's Montgomery u-coordinate (u = (1+y)/(1-y) mod 2^255-19, libcrypto BIGNUM), bech32 with
 * HRP "age". Another key type is a usage error; 32 bytes that are not a point of the curve are a
 * verification error. *out malloc'd. */
int remote_age_recipient(const struct remote_host_key *k, char **out, struct nm_error *e);
/* The host's keys as ssh-keyscan sees them (ed25519, ecdsa, rsa), each attempt bounded by
 * timeout_sec (0 = 10). ssh-keyscan reads no ssh_config: it connects to t->host at t->port (22
 * when 0). No key in the answer is a runtime error naming the target. *keys malloc'd. */
int remote_keyscan(const struct remote_target *t, unsigned timeout_sec, struct remote_host_key **keys, size_t *n,
		   struct nm_error *e);
/* Which of `keys` matches one of the fingerprints (a NULL-terminated list, either form: MD5 as
 * colon-separated hex with or without "MD5:", any case; SHA256 with "SHA256:", base64 with or
 * without its '=' padding), or -1. */
int remote_host_key_match(const struct remote_host_key *keys, size_t n, char *const *fingerprints);
/* The known_hosts name of the target, as ssh looks it up: host, or "[host]:port" when a port
 * other than 22 is set. malloc'd (NULL when out of memory). */
char *remote_known_hosts_name(const struct remote_target *t);
/* Writes/updates known_hosts lines for the target (remote_known_hosts_name): existing lines for
 * that name are replaced — the name is taken out of a line that lists several, a hashed line
 * ("|1|salt|hash", HashKnownHosts) for it is removed, @cert-authority and @revoked lines are
 * kept — every other line is kept as it is, then one line per key is added. Written atomically
 * (nm_write_file_atomic), mode 0644; a missing file is created (its directory must exist). */
int remote_known_hosts_write(const char *path, const struct remote_target *t, const struct remote_host_key *keys,
			     size_t n, struct nm_error *e);

/* ---- sessions (session.c) ---- */
struct remote_session_opts {
	const char *ssh_config; /* ssh -F FILE, or NULL for the operator's default */
	const char *identity; /* ssh -i FILE (and IdentitiesOnly=yes), or NULL (agent / config) */
	/* extra "-o Key=Value" values (without -o), or NULL: they come after the pinning options,
	 * and ssh takes the first value it sees of each, so they cannot undo the pin */
	char *const *ssh_options;
	unsigned connect_timeout_sec; /* 0 = 15 */
};
struct remote_session;
/* Pins the host to exactly `keys` (a private known_hosts in the session's own 0700 temp dir,
 * HostKeyAlias naming its line, StrictHostKeyChecking=yes, UpdateHostKeys=no, the operator's
 * known_hosts files NOT consulted), opens the ControlMaster (ControlPath in that dir,
 * ControlPersist 15 min once idle), BatchMode=yes, ServerAliveInterval 10 s × 3 so a dead link is
 * noticed within ~30 s. ssh runs with HOME, USER and SSH_AUTH_SOCK from the caller's environment
 * (when set). A host key mismatch is a REFUSED error (exit 3) naming the host, the pinned
 * fingerprints and the one the host showed; nothing is sent before the key is verified. */
int remote_session_open(const struct remote_target *t, const struct remote_host_key *keys, size_t n,
			const struct remote_session_opts *o, struct remote_session **out, struct nm_error *e);
/* Re-opens the master after a drop (same pinned keys, same options). */
int remote_session_reconnect(struct remote_session *s, struct nm_error *e);
/* 0 while the master connection is up, -ENOTCONN when it is gone (ssh -O check). */
int remote_session_check(struct remote_session *s);
void remote_session_close(struct remote_session *s); /* ssh -O exit, removes the temp dir; NULL ok */
void remote_session_closep(struct remote_session **s);
#define _cleanup_remote_session_ _cleanup_(remote_session_closep)

struct remote_run_opts {
	unsigned timeout_sec; /* 0 = nm_run's 300 s */
	const char *stdin_path; /* fed to the remote command's stdin, or NULL (none) */
	bool allow_failure; /* a non-zero exit (255 too) is returned, not turned into an error */
	/* each line of output as it arrives (nm_run_opts.on_line): following a long command */
	void (*on_line)(void *ud, const char *line, size_t len);
	void *on_line_ud;
	/* the remote command's stdout into this local file (nm_run_opts.stdout_path): data, such as
	 * a tar, kept apart from messages; stderr stays the output */
	const char *stdout_path;
};
/* Runs argv on the remote (remote_command_line), through the master; output is stdout and stderr
 * together. res (may be NULL) gets the output and exit status. Exit status 255 is ssh's own: when
 * the master is gone afterwards the connection failed or dropped, a runtime error -ECONNRESET
 * ("reconnect"); when it is up, the command itself exited 255. A non-zero exit is a runtime error
 * (-EIO) naming the target, the command and the end of its output. allow_failure returns both. */
int remote_run(struct remote_session *s, const char *const argv[], const struct remote_run_opts *o,
	       struct nm_run_result *res, struct nm_error *e);
/* Copies a local file to remote_path: its directory made if missing (mode 0700), written under a
 * temporary name beside it, given `mode`, checked by `sha256sum` against the local SHA-256
 * (libcrypto), and only then renamed onto remote_path, so remote_path never holds a file that did not arrive whole. A mismatch is a
 * VERIFICATION error (exit 4) naming both digests, and the temporary is removed. */
int remote_upload(struct remote_session *s, const char *local_path, const char *remote_path, unsigned mode,
		  struct nm_error *e);

/* ---- waiting (wait.c) ---- */
/* Until the target's SSH port answers with an "SSH-" banner, or timeout: attempts with backoff
 * (1 s doubling to 15 s), `tick` (may be NULL) called about once a second with the seconds left
 * (a countdown for the caller's progress line). Plain TCP connect + read of the banner
 * (getaddrinfo; IPv6 literals). The port is t->port, 22 when 0: a Port from the operator's
 * ssh_config is not seen here (set t->port). -ETIMEDOUT runtime error naming host:port, the time
 * and the last failure. */
int remote_wait_ssh(const struct remote_target *t, unsigned timeout_sec, void (*tick)(void *ud, unsigned seconds_left),
		    void *ud, struct nm_error *e);
