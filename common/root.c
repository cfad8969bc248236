/* root.c: the one reader of the machine. Every path nmmm reads (/sys, /proc, /etc, /dev, /root)
 * is resolved under the --root prefix here, so detection runs unchanged against fixture trees.
 * It only reads; it never writes or creates anything. */
#include "common/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int nm_root_path(const char *root, const char *rel, char *buf, size_t size)
{
	if (!root || !*root)
		root = "/";
	while (*rel == '/')
		rel++;
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	int n;
	if (rl == 1 && root[0] == '/')
		n = snprintf(buf, size, "/%s", rel);
	else
		n = snprintf(buf, size, "%.*s/%s", (int)rl, root, rel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int nm_read_file(const char *root, const char *rel, size_t max, char **out, size_t *len)
{
	char path[PATH_MAX];
	int r = nm_root_path(root, rel, path, sizeof path);
	if (r < 0)
		return r;
	if (max == 0)
		max = 4u << 20;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct nm_buf b = NM_BUF_INIT(max);
	for (;;) {
		/* Fill what is free, else double (4 KiB first): small sysfs files take one read. */
		size_t room = b.cap > b.len ? b.cap - b.len : (b.len ? b.len : 4096);
		if (room > max - b.len)
			room = max - b.len;
		if (room == 0)
			break; /* max bytes read: the rest is not wanted */
		if (nm_buf_reserve(&b, room) < 0) {
			nm_buf_free(&b);
			return -ENOMEM;
		}
		ssize_t k = read(fd, b.data + b.len, b.cap - b.len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			nm_buf_free(&b);
			return -err;
		}
		if (k == 0)
			break;
		nm_buf_grew(&b, (size_t)k);
	}
	size_t n = 0;
	char *text = nm_buf_take(&b, &n);
	if (!text)
		return -ENOMEM;
	*out = text;
	if (len)
		*len = n;
	return 0;
}

int nm_read_line(const char *root, const char *rel, char **out)
{
	char *s = NULL;
	size_t len = 0;
	int r = nm_read_file(root, rel, 64 * 1024, &s, &len);
	if (r < 0)
		return r;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	*out = s;
	return 0;
}

int nm_read_u64(const char *root, const char *rel, uint64_t *out)
{
	_cleanup_free_ char *s = NULL;
	int r = nm_read_line(root, rel, &s);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int nm_readlink(const char *root, const char *rel, char **target)
{
	char path[PATH_MAX], buf[PATH_MAX];
	int r = nm_root_path(root, rel, path, sizeof path);
	if (r < 0)
		return r;
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	*target = strdup(buf);
	return *target ? 0 : -ENOMEM;
}

int nm_readlink_base(const char *root, const char *rel, char **base)
{
	_cleanup_free_ char *t = NULL;
	int r = nm_readlink(root, rel, &t);
	if (r < 0)
		return r;
	const char *slash = strrchr(t, '/');
	*base = strdup(slash ? slash + 1 : t);
	return *base ? 0 : -ENOMEM;
}

int nm_realpath(const char *root, const char *rel, char **out)
{
	char path[PATH_MAX], rootreal[PATH_MAX], real[PATH_MAX];
	int r = nm_root_path(root, rel, path, sizeof path);
	if (r < 0)
		return r;
	if (!realpath(root && *root ? root : "/", rootreal) || !realpath(path, real))
		return -errno;
	size_t rl = strlen(rootreal);
	if (strcmp(rootreal, "/") == 0)
		rl = 0;
	if (strncmp(real, rootreal, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
		return -EXDEV; /* the link leaves the tree: a fixture bug, never followed */
	*out = strdup(real[rl] ? real + rl : "/");
	return *out ? 0 : -ENOMEM;
}

bool nm_exists(const char *root, const char *rel)
{
	char path[PATH_MAX];
	if (nm_root_path(root, rel, path, sizeof path) < 0)
		return false;
	return access(path, F_OK) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int nm_list_dir(const char *root, const char *rel, char ***names)
{
	char path[PATH_MAX];
	int r = nm_root_path(root, rel, path, sizeof path);
	if (r < 0)
		return r;
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	char **v = nm_strv_new();
	struct dirent *de;
	while (v && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (nm_strv_push(&v, de->d_name) < 0) {
			nm_strv_free(v);
			v = NULL;
		}
	}
	closedir(d);
	if (!v)
		return -ENOMEM;
	qsort(v, nm_strv_len(v), sizeof(char *), cmp_str);
	*names = v;
	return 0;
}
