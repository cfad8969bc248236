/* write.c: the one writer of whole files. A file nmmm produces (state, report, rendered
 * configuration) is written to a temporary file beside it, flushed, renamed over the old one and
 * the directory flushed, so a reader (or the next run after a power cut) sees the old file or the
 * new one, never half of one. It writes only the file it is given and its temporary, which it
 * removes when anything fails. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int nm_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The rename is durable only once the directory holding it is flushed. A directory whose
 * filesystem cannot fsync it (EINVAL) has nothing more to flush. */
static int fsync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/* The temporary's data: written, given its mode (mkostemp makes 0600) and flushed. */
static int fill_temporary(int fd, const void *data, size_t len, unsigned mode)
{
	int r = nm_write_all(fd, data, len);
	if (r == 0 && fchmod(fd, (mode_t)mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	return r;
}

int nm_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode, struct nm_error *e)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	const char *base = slash ? slash + 1 : path;
	_cleanup_free_ char *tmp = dir ? nm_strdup_printf("%s/.%s.XXXXXX", dir, base) : NULL;
	if (!tmp)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory writing it", path);
	if (!*base)
		return nm_fail(e, NM_ERR_RUNTIME, EISDIR, "%s: cannot write: it names a directory", path);
	/* O_EXCL under the hood: never follows or reuses a file someone else left there. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot write: %s; check free space and permissions of %s",
			       path, strerror(errno), dir);
	int r = fill_temporary(fd, data, len, mode);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: cannot write: %s; check free space and permissions of %s",
			       path, strerror(-r), dir);
	}
	r = fsync_dir(dir);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, r, "%s: written, but its directory %s cannot be flushed: %s", path,
			       dir, strerror(-r));
	return 0;
}

int nm_mkdir_p(const char *path, struct nm_error *e)
{
	_cleanup_free_ char *buf = strdup(path);
	if (!buf)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (char *p = buf + 1;; p++) {
		bool end = *p == '\0';
		if (!end && *p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot create: %s", buf, strerror(errno));
		if (end)
			return 0;
		*p = '/';
	}
}
