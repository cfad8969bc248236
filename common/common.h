/* common.h: what every nmmm library needs and nothing domain-specific — error records,
 * cleanup helpers, logging, reading files under the --root prefix, and running external
 * programs. Nothing here knows about disks, NICs, Nix or phases. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

/* ---- cleanup helpers (systemd style) ---- */

void nm_freep(void *p);
void nm_closep(const int *fd);
void nm_fclosep(FILE **f);
void nm_strv_freep(char ***v);
void nm_json_putp(json_object **o);
/* The project's own types are cleared by their library's *_free(struct x *), which takes the
 * address of a caller-owned struct: exactly what the cleanup attribute passes. Each library
 * header names its own helpers with this (e.g. _cleanup_disk_plan_). */
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ __attribute__((cleanup(nm_freep)))
#define _cleanup_close_ __attribute__((cleanup(nm_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(nm_fclosep)))
#define _cleanup_strv_free_ __attribute__((cleanup(nm_strv_freep)))
/* Drops the caller's reference to a json-c object (json_object_put). */
#define _cleanup_json_ __attribute__((cleanup(nm_json_putp)))

/* Hands a cleanup-owned pointer over (to a structure, to the caller): returns it and leaves
 * NULL behind, so the cleanup at scope exit does nothing. */
#define NM_TAKE_PTR(p)                                                                                                 \
	({                                                                                                             \
		__typeof__(p) nm_take_ = (p);                                                                          \
		(p) = NULL;                                                                                            \
		nm_take_;                                                                                              \
	})

#define NM_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ----
 * Every fallible function returns 0 (or a non-negative count) on success and a negative
 * errno-style code on failure, and fills the caller's record with a message that names the
 * thing and the fix. The class decides the exit code, and only main() maps it. */

enum nm_err_class {
	NM_ERR_NONE = 0,
	NM_ERR_RUNTIME = 1, /* exit 1: failed while running */
	NM_ERR_USAGE = 2, /* exit 2: bad usage or config */
	NM_ERR_REFUSED = 3, /* exit 3: refused for safety */
	NM_ERR_VERIFY = 4, /* exit 4: verification failed (hash, signature, size) */
};

struct nm_error {
	enum nm_err_class cls;
	int code; /* negative errno */
	char msg[1536];
};

/* Records the first error (later ones are appended as context) and returns -abs(code)
 * (or -EIO when code is 0), so callers can write `return nm_fail(e, ...)`. */
int nm_fail(struct nm_error *e, enum nm_err_class cls, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes an existing message with context ("nvme0n1: ..."). */
void nm_error_prefix(struct nm_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int nm_exit_code(const struct nm_error *e);
/* The class an exit code of nmmm-agent stands for (another nmmm-agent's: a remote install, a
 * child provision): 2, 3, 4 their own, anything else runtime. */
enum nm_err_class nm_err_class_of_exit(int code);
const char *nm_err_class_name(enum nm_err_class cls);

/* ---- logging ----
 * One process-wide sink, configured once from the parsed options (--log, -v, -q). */

enum nm_log_level { NM_LOG_ERROR = 0, NM_LOG_WARN, NM_LOG_INFO, NM_LOG_DEBUG };
int nm_log_open(const char *path, enum nm_log_level console_level, struct nm_error *e);
void nm_log_close(void);
void nm_log(enum nm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes raw text (captured program output) to the log file only. */
void nm_log_raw(const char *prefix, const char *buf, size_t len);
#define nm_warn(...) nm_log(NM_LOG_WARN, __VA_ARGS__)
#define nm_info(...) nm_log(NM_LOG_INFO, __VA_ARGS__)
#define nm_debug(...) nm_log(NM_LOG_DEBUG, __VA_ARGS__)

/* ---- reading under the root prefix ----
 * Every read of the machine goes through these, so tests can point --root at a fixture tree.
 * `rel` is an absolute-looking path ("/sys/block") resolved under `root`. */

int nm_root_path(const char *root, const char *rel, char *buf, size_t size);
/* Reads a whole file (up to max bytes; 0 = 4 MiB); *out is NUL-terminated, *len excludes it. */
int nm_read_file(const char *root, const char *rel, size_t max, char **out, size_t *len);
/* Reads a small file and strips trailing whitespace; -ENOENT when absent. */
int nm_read_line(const char *root, const char *rel, char **out);
int nm_read_u64(const char *root, const char *rel, uint64_t *out);
/* Target of a symlink under root, and its last component. */
int nm_readlink(const char *root, const char *rel, char **target);
int nm_readlink_base(const char *root, const char *rel, char **base);
/* Resolves a path under root following symlinks within the tree (realpath semantics, result
 * relative to root, starting with '/'). */
int nm_realpath(const char *root, const char *rel, char **out);
bool nm_exists(const char *root, const char *rel);
/* Sorted names of the entries of a directory (no "." or ".."); NULL-terminated. */
int nm_list_dir(const char *root, const char *rel, char ***names);

/* ---- writing whole files ----
 * The one way nmmm writes a file it produces: a temporary beside `path`, fsync, rename over
 * `path`, fsync of the directory, so `path` holds the old content or the new, never part of it.
 * `mode` is the file's permission bits (0600, 0644), independent of the umask. Errors name the
 * path; on failure no temporary is left. */
int nm_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode, struct nm_error *e);
/* mkdir -p with mode 0755: each missing directory of path made, an existing one fine; a runtime
 * error naming the directory that could not be made. */
int nm_mkdir_p(const char *path, struct nm_error *e);
/* write(2) until all of buf is written (EINTR retried); 0 or -errno. */
int nm_write_all(int fd, const void *buf, size_t len);

/* ---- the operator's JSON files ----
 * A file named on the command line (--config): read as given (relative to the working
 * directory), never under --root. Errors name `what` and the byte where parsing stopped. */
/* text_out (may be NULL) gets the text that was parsed (NUL-terminated, *len_out bytes): a
 * caller that digests the file digests exactly what it parsed. */
int nm_json_read_file_text(const char *path, const char *what, json_object **out, char **text, size_t *len,
			   struct nm_error *e);
/* A string list as a JSON array of strings (NULL: an empty array). */
json_object *nm_json_strv(char *const *v);
/* The string at o[key] (borrowed), or NULL when o is not an object, has no such key, or holds
 * another type there: the one reader of a string field in nmmm's JSON. */
const char *nm_json_str(json_object *o, const char *key);

/* ---- a growable buffer with a size cap ----
 * Bytes appended, or read in place after nm_buf_reserve, up to `max`: what would pass it is
 * refused (-EFBIG) and the buffer keeps what it has. data is NUL-terminated whenever it is
 * non-NULL. Start one with `struct nm_buf b = NM_BUF_INIT(max);`. */
struct nm_buf {
	char *data;
	size_t len, cap, max;
};
#define NM_BUF_INIT(max_)                                                                                              \
	{                                                                                                              \
		.data = NULL, .len = 0, .cap = 0, .max = (max_)                                                        \
	}
/* Room for `extra` more bytes after len: 0, -EFBIG past max, -ENOMEM. */
int nm_buf_reserve(struct nm_buf *b, size_t extra);
int nm_buf_append(struct nm_buf *b, const void *p, size_t n);
/* Counts n bytes written in place after len (within what nm_buf_reserve made room for). */
void nm_buf_grew(struct nm_buf *b, size_t n);
/* Hands the text over (an empty string when nothing was added; NULL only when out of memory),
 * its length in *len, and leaves the buffer empty. */
char *nm_buf_take(struct nm_buf *b, size_t *len);
void nm_buf_free(struct nm_buf *b);
#define _cleanup_buf_ _cleanup_(nm_buf_free)

/* ---- strings ---- */

char **nm_strv_new(void);
int nm_strv_push(char ***v, const char *s);
size_t nm_strv_len(char *const *v);
bool nm_strv_contains(char *const *v, const char *s);
void nm_strv_free(char **v);
/* Appends a formatted warning to a NULL-terminated list unless it is there already (two readers
 * of one broken file say it once). Out of memory loses the warning, never the caller's work. */
void nm_warning_add(char ***warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *nm_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The strings of v joined by sep (v may be NULL: ""); NULL when out of memory. */
char *nm_strv_join(char *const *v, const char *sep);
/* Replaces bytes that are not printable UTF-8 with '?' and trims whitespace at both ends. */
void nm_sanitize_text(char *s);
/* The last non-blank line of a program's output out[0..len) (out may be NULL) into buf,
 * sanitized (nm_sanitize_text: what a remote host or a tool prints reaches messages), "" when
 * there is none; returns buf. Output before it (a login script's chatter) is skipped. */
const char *nm_last_line(const char *out, size_t len, char *buf, size_t size);
bool nm_utf8_valid(const char *s, size_t len);

/* ---- Nix source text (nixstr.c, nixout.c) ----
 * The one writer of Nix literals. nm_nix_string renders s[0..len) as a Nix double-quoted string
 * literal, quotes included, into *out (caller frees); it refuses a NUL byte or invalid UTF-8
 * (usage error naming `field`, e.g. "--hostname" or "uplink MAC"). No other function in nmmm
 * writes a quote, a backslash or a "${" into Nix source. */
int nm_nix_string(const char *field, const char *s, size_t len, char **out, struct nm_error *e);

/* A Nix file being written, by the renderers of every library in turn. Nix syntax (attribute
 * paths, brackets, numbers) comes from the renderers' own constant text through
 * nm_nix_out_printf; every value that came from the machine, the plan or the operator goes
 * through nm_nix_out_str (nm_nix_string) or, in comments, nm_nix_out_comment, which keeps it on
 * one line. The first failure sticks: later writes do nothing and nm_nix_out_finish returns it. */
#define NM_NIX_OUT_MAX (16u << 20) /* a rendered file is a few KiB; past this a value was absurd */
struct nm_nix_out {
	struct nm_buf text; /* capped at NM_NIX_OUT_MAX */
	int err; /* the first failure (negative errno); later writes do nothing */
	struct nm_error *e;
};
void nm_nix_out_init(struct nm_nix_out *o, struct nm_error *e);
/* Nix syntax from the renderer's own text; never a value from outside (use nm_nix_out_str). */
void nm_nix_out_printf(struct nm_nix_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value as a Nix string literal; `field` names it in an error. */
void nm_nix_out_str(struct nm_nix_out *o, const char *field, const char *s);
/* The items of a Nix list, each as ` "value"` (the caller writes the brackets); v may be NULL. */
void nm_nix_out_items(struct nm_nix_out *o, const char *field, char *const *v);
/* "<indent># text\n" with control characters and invalid UTF-8 in the text replaced by '?', so a
 * value quoted in a comment cannot start a new line of Nix. */
void nm_nix_out_comment(struct nm_nix_out *o, const char *indent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hands the text to *out, or frees it and returns the first error. */
int nm_nix_out_finish(struct nm_nix_out *o, char **out);

/* ---- running programs ----
 * The one way nmmm starts another program: an argv array (never a shell), a timeout, a minimal
 * environment, stdout and stderr captured into the log (and returned), the exit status checked.
 * The program dies with the agent (parent-death SIGKILL); call it from the main thread only. */

struct nm_run_opts {
	unsigned timeout_sec; /* 0 = 300 s */
	char *const *extra_env; /* "NAME=value" added to the minimal environment, or NULL */
	const char *stdin_path; /* file to feed on stdin, or NULL for /dev/null */
	bool allow_failure; /* a non-zero exit is returned, not turned into an error */
	/* Called as the output arrives, for each complete line of the combined output (without its
	 * '\n'; line[len] is a NUL, the line itself may hold NULs), and once more for what follows the
	 * last '\n' when the output ends (end of file, or the program stopped at its timeout). A line
	 * longer than NM_RUN_LINE_MAX comes in pieces of NM_RUN_LINE_MAX bytes, the last piece holding
	 * the rest, so a callback never sees an empty piece of a long line. NULL: no callback. The log,
	 * the kept output and the errors are the same with or without it. */
	void (*on_line)(void *ud, const char *line, size_t len);
	void *on_line_ud;
	/* stdout into this file (created 0600 or truncated) instead of the output: a program's data
	 * (a tar) kept apart from its messages; stderr is captured as usual. */
	const char *stdout_path;
};
#define NM_RUN_LINE_MAX (64u << 10)

struct nm_run_result {
	int exit_status; /* exit code, or 128+signal */
	char *output; /* combined stdout+stderr, NUL-terminated (caller frees) */
	size_t output_len;
};

int nm_run(const char *const argv[], const struct nm_run_opts *opts, struct nm_run_result *res, struct nm_error *e);

/* Several programs at once, each started and watched as nm_run does (its own process group, the
 * minimal environment, its timeout, its output in the log and to its on_line), at most
 * max_parallel running at a time, in order. Returns when all have ended; a program that failed
 * is an exit status in its job (128+signal; 124 when its timeout stopped it), not an error:
 * one job failing never stops the others. Fails only when a program cannot be started. */
struct nm_run_job {
	const char *const *argv;
	struct nm_run_opts opts; /* timeout_sec, extra_env, stdin_path, on_line */
	int exit_status; /* out */
	double seconds; /* out: how long it ran */
};
int nm_run_many(struct nm_run_job *jobs, size_t n, unsigned max_parallel, struct nm_error *e);
void nm_run_result_free(struct nm_run_result *res);
#define _cleanup_run_result_ _cleanup_(nm_run_result_free)

/* ---- URLs in output ----
 * A URL may carry a secret (https://user:token@mirror/...?token=...). Everything nmmm writes,
 * logs or emits (JSON files, the log, events, error messages) shows a URL through this: the
 * userinfo becomes "***@", the query "?***", the fragment is dropped; the real URL stays in
 * memory for the transfer. A string without "://" is treated as an authority and path (a
 * mistyped "user:pw@host/x" is redacted too). Returns a new string, NULL when out of memory. */
char *nm_url_redact(const char *url);
/* Overwrites the userinfo and query of a URL in place with '*' (same length): for argv, so the
 * process list does not show them. */
void nm_url_scrub(char *url);
