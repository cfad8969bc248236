/* upload.c: a local file onto the remote, whole or not at all: its directory made if missing,
 * streamed into a temporary name beside the destination, hashed there with sha256sum, compared
 * with the local SHA-256, and only then renamed into place, all in one remote command. It reads
 * only the file it uploads and runs only the fixed remote command below (through remote_run, so
 * through remote_command_line). */
#include "remote/remote-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#define UPLOAD_TIMEOUT 1800 /* a 20 MiB agent over a slow link takes minutes, never half an hour */

/* The local file's SHA-256 as lower-case hex. */
static int local_sha256(const char *path, char hex[65], struct nm_error *e)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nm_fail(e, NM_ERR_USAGE, errno, "%s: cannot read it: %s", path, strerror(errno));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	char buf[65536];
	ssize_t k;
	while ((k = read(fd, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR))
		if (k > 0)
			EVP_DigestUpdate(md, buf, (size_t)k);
	int err = k < 0 ? errno : 0;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	int ok = EVP_DigestFinal_ex(md, d, &dn);
	EVP_MD_CTX_free(md);
	if (err)
		return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot read it: %s", path, strerror(err));
	if (ok != 1 || dn != 32)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "%s: SHA-256 failed", path);
	for (unsigned i = 0; i < dn; i++)
		snprintf(hex + i * 2, 3, "%02x", d[i]);
	return 0;
}

/* sha256sum's answer for stdin: the last line that is 64 hex digits and "  -" (a login script's
 * chatter may come before it). */
static bool remote_digest(const char *out, size_t len, char hex[65])
{
	bool found = false;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(out + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - out - i) : len - i;
		const char *p = out + i;
		if (l == 67 && strspn(p, "0123456789abcdef") == 64 && memcmp(p + 64, "  -", 3) == 0) {
			memcpy(hex, p, 64);
			hex[64] = '\0';
			found = true;
		}
		i += l + 1;
	}
	return found;
}

/* "<remote_path>.nmmm-<16 hex digits>": beside the destination, so the rename stays on its file
 * system, and unguessable, so nothing else there has that name. */
static char *temporary_name(const char *remote_path)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		return NULL;
	return nm_strdup_printf("%s.nmmm-%016llx", remote_path, (unsigned long long)r);
}

/* The directory remote_path is in: "." for a bare name, "/" for one at the top. */
static char *directory_of(const char *remote_path)
{
	const char *slash = strrchr(remote_path, '/');
	if (!slash)
		return strdup(".");
	if (slash == remote_path)
		return strdup("/");
	return strndup(remote_path, (size_t)(slash - remote_path));
}

/* One remote command, so one round trip over the emulated or slow far side: the destination's
 * directory made if missing (0700, by the umask: what goes there is the operator's), the bytes
 * to the temporary (its mode set), its digest printed, and only when that is the local file's
 * the rename into place; any failure removes the temporary. */
static int send_file(struct remote_session *s, const char *local_path, const char *tmp, unsigned mode, const char *want,
		     const char *remote_path, struct nm_run_result *res, struct nm_error *e)
{
	static const char script[] = "umask 077 && mkdir -p -- \"$5\" && cat > \"$1\" && chmod \"$2\" \"$1\" && "
				     "d=$(sha256sum < \"$1\") && printf '%s\\n' \"$d\" && [ \"$d\" = \"$3  -\" ] && "
				     "mv -f -- \"$1\" \"$4\" || { rm -f -- \"$1\"; exit 1; }";
	char mode_text[8];
	snprintf(mode_text, sizeof mode_text, "%o", mode);
	_cleanup_free_ char *dir = directory_of(remote_path);
	if (!dir)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *argv[] = {"sh", "-c", script, "sh", tmp, mode_text, want, remote_path, dir, NULL};
	struct remote_run_opts ro = {.timeout_sec = UPLOAD_TIMEOUT, .stdin_path = local_path, .allow_failure = true};
	return remote_run(s, argv, &ro, res, e);
}

int remote_upload(struct remote_session *s, const char *local_path, const char *remote_path, unsigned mode,
		  struct nm_error *e)
{
	size_t len = remote_path ? strlen(remote_path) : 0;
	if (len == 0 || remote_path[len - 1] == '/')
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "upload of %s: the remote path '%s' names no file", local_path,
			       remote_path ? remote_path : "");
	if (mode > 07777)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "upload of %s: mode %o is not a file mode", local_path, mode);
	char want[65], got[65];
	int r = local_sha256(local_path, want, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *tmp = temporary_name(remote_path);
	if (!tmp)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	_cleanup_run_result_ struct nm_run_result res = {0};
	if ((r = send_file(s, local_path, tmp, mode, want, remote_path, &res, e)) < 0) {
		nm_error_prefix(e, "upload of %s to %s", local_path, remote_path);
		return r;
	}
	bool have_digest = remote_digest(res.output, res.output_len, got);
	if (have_digest && strcmp(want, got) != 0)
		return nm_fail(e, NM_ERR_VERIFY, EBADMSG,
			       "upload of %s to %s: the remote copy's SHA-256 is %s, the local file's is %s; the copy "
			       "was removed and %s left as it was. Upload again; if it recurs, the remote's storage "
			       "or the link changes data",
			       local_path, remote_path, got, want, remote_path);
	if (res.exit_status != 0)
		return nm_fail(e, NM_ERR_RUNTIME, EIO,
			       "upload of %s to %s: %s (remote exit status %d); the copy was removed and %s left as "
			       "it was. Check that its directory can be made there and has room",
			       local_path, remote_path,
			       have_digest ? "the verified copy could not be renamed into place"
					   : "the copy could not be written or hashed",
			       res.exit_status, remote_path);
	if (!have_digest)
		return nm_fail(e, NM_ERR_RUNTIME, EPROTO,
			       "upload of %s to %s: the remote sha256sum printed no digest; is coreutils there?",
			       local_path, remote_path);
	nm_info("uploaded %s to %s (SHA-256 %s)", local_path, remote_path, want);
	return 0;
}
