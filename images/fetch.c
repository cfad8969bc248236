/* fetch.c: img_fetch — one verified download into a file or an unpacked directory. Owns the
 * all-or-nothing promise: bytes go to FILE.part or a staging directory DIR.part-XXXXXX beside
 * the destination, and only after the file's SHA-256 or the unpacked tree's NAR hash matches
 * are they fsync'd and renamed into place;
 * on every failure the partial result is removed. It never replaces an existing directory and
 * never touches anything but the destination and its .part. */
#include "images/images-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <curl/curl.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0) /* linux/fs.h; not every libc exports it */
#endif

static int check_request(const struct img_fetch_req *req, struct nm_error *e)
{
	if (!req->url || !*req->url)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "fetch: no URL given");
	_cleanup_free_ char *shown = nm_url_redact(req->url);
	if (!shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	bool file_hash = req->sha256 && *req->sha256, tree_hash = req->nar_hash && *req->nar_hash;
	if (!file_hash && !tree_hash)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: no hash given; an unpinned fetch does not exist: pass --sha256 HEX (the file's) or "
			       "--nar-hash HASH (the unpacked tree's)",
			       shown);
	if (file_hash && tree_hash)
		return nm_fail(
		    e, NM_ERR_USAGE, EINVAL,
		    "%s: give one of --sha256 (the file's hash) and --nar-hash (the unpacked tree's), not both", shown);
	if (file_hash && !img_sha256_hex_valid(req->sha256))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: '%s' is not a SHA-256 (64 hexadecimal digits)", shown,
			       req->sha256);
	unsigned char nar[IMG_HASH_BYTES];
	if (tree_hash && img_hash_parse(req->nar_hash, "--nar-hash", nar, e) < 0)
		return e->code;
	if (!req->out_file == !req->unpack_dir)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: give exactly one of --out FILE and --unpack DIR", shown);
	if (tree_hash && !req->unpack_dir)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: --nar-hash is the hash of an unpacked tree: it needs --unpack DIR (a file is "
			       "verified with --sha256)",
			       shown);
	static const char *const schemes[] = {"http://", "https://", "file://"};
	for (size_t i = 0; i < NM_ELEMENTSOF(schemes); i++)
		if (strncasecmp(req->url, schemes[i], strlen(schemes[i])) == 0)
			return 0;
	return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: only http://, https:// and file:// URLs are fetched", shown);
}

static int fsync_parent(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	_cleanup_close_ int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/* syncfs of the file system holding path's parent, and the parent's entry for path. */
static void sync_filesystem_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return;
	_cleanup_close_ int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (syncfs(fd) < 0 || fsync(fd) < 0))
		nm_warn("%s: sync failed: %s", path, strerror(errno));
}

static int fetch_to_file(struct img_stream *s, const struct img_fetch_req *req, struct img_fetch_result *res,
			 struct nm_error *e)
{
	_cleanup_free_ char *part = nm_strdup_printf("%s.part", req->out_file);
	if (!part)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	/* A .part left by a killed earlier run is ours to replace; never follow a link there. */
	int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot create it: %s; check the directory of --out", part,
			       strerror(errno));
	int r = 0;
	const void *buf;
	ssize_t n;
	while (r == 0 && (n = img_stream_read(s, &buf)) != 0) {
		if (n < 0)
			r = (int)n;
		else if ((r = nm_write_all(fd, buf, (size_t)n)) < 0)
			nm_fail(e, NM_ERR_RUNTIME, r, "%s: write failed: %s", part, strerror(-r));
	}
	if (r == 0)
		r = img_stream_finish(s, res);
	if (r == 0 && fsync(fd) < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, errno, "%s: fsync failed: %s", part, strerror(errno));
	if (close(fd) < 0 && r == 0)
		r = nm_fail(e, NM_ERR_RUNTIME, errno, "%s: close failed: %s", part, strerror(errno));
	if (r == 0 && rename(part, req->out_file) < 0)
		r = nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot rename it to %s: %s", part, req->out_file,
			    strerror(errno));
	if (r < 0) {
		unlink(part);
		return r;
	}
	fsync_parent(req->out_file);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

/* rm -rf of a staging directory we created; symlinks inside are removed, never followed. */
static void remove_tree(const char *dir)
{
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		nm_warn("%s: could not remove it completely (%s); remove it by hand", dir, strerror(errno));
}

/* DIR.part-XXXXXX beside DIR, under the canonical (symlink-free) path of DIR's parent, so that
 * libarchive's symlink checks see no symlink in the prefix. */
static int make_staging(const char *dir, char **staging, struct nm_error *e)
{
	_cleanup_free_ char *copy1 = strdup(dir);
	_cleanup_free_ char *copy2 = strdup(dir);
	if (!copy1 || !copy2)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const char *base = basename(copy2);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0)
		/* cppcheck-suppress memleak ; _cleanup_free_ frees copy1 */
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "--unpack %s: name a new directory", dir);
	_cleanup_free_ char *parent = realpath(dirname(copy1), NULL);
	if (!parent)
		return nm_fail(e, NM_ERR_USAGE, errno, "--unpack %s: its parent directory is not usable: %s", dir,
			       strerror(errno));
	*staging = nm_strdup_printf("%s/%s.part-XXXXXX", strcmp(parent, "/") == 0 ? "" : parent, base);
	if (!*staging)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (!mkdtemp(*staging)) {
		int err = errno;
		free(*staging);
		*staging = NULL;
		return nm_fail(e, NM_ERR_RUNTIME, err, "--unpack %s: cannot create a staging directory beside it: %s",
			       dir, strerror(err));
	}
	return 0;
}

/* The root of the unpacked tree, as Nix takes it for fetchTarball and GitHub archives
 * (nix's dereferenceSingletonDirectory): when the staging directory holds exactly one entry and
 * that entry is a directory (not a symlink to one), that directory is the root; otherwise the
 * staging directory itself is. */
static int tree_root(const char *staging, char **root, struct nm_error *e)
{
	_cleanup_close_ int fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot read it: %s", staging, strerror(errno));
	fd = -1; /* closedir closes it */
	_cleanup_free_ char *only = NULL;
	size_t count = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (++count == 1)
			only = strdup(de->d_name);
	}
	struct stat st;
	bool singleton =
	    count == 1 && only && fstatat(dirfd(dir), only, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
	closedir(dir);
	if (count == 1 && !only)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	*root = singleton ? nm_strdup_printf("%s/%s", staging, only) : strdup(staging);
	return *root ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* Computes the NAR hash of the tree's root and compares it with the one asked for. */
static int verify_tree(struct img_stream *s, const char *root, const struct img_fetch_req *req,
		       struct img_fetch_result *res, struct nm_error *e)
{
	unsigned char want[IMG_HASH_BYTES];
	int r = img_hash_parse(req->nar_hash, "--nar-hash", want, e);
	if (r == 0)
		r = img_nar_hash_path(root, res->nar_hash, e);
	if (r < 0)
		return r;
	res->have_nar_hash = true;
	if (memcmp(want, res->nar_hash, IMG_HASH_BYTES) == 0)
		return 0;
	_cleanup_free_ char *want_sri = img_hash_to_sri(want);
	_cleanup_free_ char *got_sri = img_hash_to_sri(res->nar_hash);
	return nm_fail(e, NM_ERR_VERIFY, EBADMSG,
		       "%s: NAR hash mismatch: expected %s, got %s (the tree unpacked from %" PRIu64 " bytes, %" PRIu64
		       " entries); the download is not the pinned tree or the pin is wrong; "
		       "nothing was kept",
		       img_stream_url(s), want_sri ? want_sri : "?", got_sri ? got_sri : "?", res->bytes, res->entries);
}

static int rename_noreplace(const char *from, const char *to, struct nm_error *e)
{
	if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot rename it to %s: %s", from, to, strerror(errno));
	return 0;
}

/* Moves the verified result into place: the staging directory itself, or (nar_hash) the root
 * found inside it, after which the emptied staging directory goes. */
static int place_unpacked(struct img_stream *s, const char *staging, const struct img_fetch_req *req,
			  struct img_fetch_result *res, struct nm_error *e)
{
	_cleanup_free_ char *root = NULL;
	int r = req->nar_hash ? tree_root(staging, &root, e) : 0;
	if (r == 0 && req->nar_hash && req->tree_prepare)
		r = req->tree_prepare(req->tree_prepare_data, root, e);
	if (r == 0 && req->nar_hash)
		r = verify_tree(s, root, req, res, e);
	if (r < 0)
		return r;
	bool inside = root && strcmp(root, staging) != 0;
	/* mkdtemp made it 0700; the result is an ordinary directory unless the archive said otherwise */
	if (!inside && chmod(staging, 0755) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: chmod failed: %s", staging, strerror(errno));
	r = rename_noreplace(inside ? root : staging, req->unpack_dir, e);
	if (r == 0 && inside && rmdir(staging) < 0)
		nm_warn("%s: could not remove the emptied staging directory: %s", staging, strerror(errno));
	return r;
}

static int fetch_unpacked(struct img_stream *s, const struct img_fetch_req *req, uint64_t max_bytes,
			  struct img_fetch_result *res, struct nm_error *e)
{
	struct stat st;
	if (lstat(req->unpack_dir, &st) == 0)
		return nm_fail(e, NM_ERR_USAGE, EEXIST,
			       "--unpack %s: it exists already; remove it or name a new directory", req->unpack_dir);
	_cleanup_free_ char *staging = NULL;
	int r = make_staging(req->unpack_dir, &staging, e);
	if (r < 0)
		return r;
	r = img_unpack(s, staging, req, max_bytes, res, e);
	if (r < 0 && e->cls == NM_ERR_VERIFY && e->code == -EBADMSG) {
		/* The archive reader choked: read the rest so the hash says whether the bytes were
		 * wrong (the usual case) or the pinned archive itself is broken. */
		struct nm_error why = *e;
		*e = (struct nm_error){0};
		if (img_stream_finish(s, res) == 0)
			*e = why;
	} else if (r == 0) {
		r = img_stream_finish(s, res);
	}
	if (r == 0)
		r = place_unpacked(s, staging, req, res, e);
	if (r < 0 || e->cls != NM_ERR_NONE) {
		remove_tree(staging);
		return r < 0 ? r : e->code;
	}
	sync_filesystem_of(req->unpack_dir); /* the extracted files, before anyone relies on them */
	return 0;
}

int img_fetch(const struct img_fetch_req *req, struct img_fetch_result *res, struct nm_error *e)
{
	*res = (struct img_fetch_result){0};
	int r = check_request(req, e);
	if (r < 0)
		return r;
	uint64_t max_bytes = req->max_bytes ? req->max_bytes : IMG_DEFAULT_MAX_BYTES;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "libcurl failed to initialise");
	struct img_stream *s = NULL;
	r = img_stream_open(req, max_bytes, e, &s);
	if (r >= 0)
		r = req->out_file ? fetch_to_file(s, req, res, e) : fetch_unpacked(s, req, max_bytes, res, e);
	img_stream_free(s);
	curl_global_cleanup();
	return r;
}
