/* unpack.c: extracts an archive (tar with xz, gzip, zstd or bzip2) read straight from the
 * verified stream into a staging directory, with libarchive on both sides. Every entry is
 * judged before it is written: absolute paths, `..`, writing through or onto a symlink the
 * archive made, symlinks or hardlinks that leave the directory, device nodes, FIFOs, sockets
 * and setuid/setgid bits make the whole archive untrusted (an error, never a silent skip); a hardlink is judged by what it links to (a
 * symlink that stays inside from its own place may leave from the hardlink's). The number of
 * entries is capped, and so are the extracted bytes — file data plus a tar header's worth and
 * the names for each entry, so a small archive of countless empty files is a bomb too.
 * It never writes outside the staging directory and never decides where the result ends up. */
#include "images/images-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

/* No ARCHIVE_EXTRACT_SECURE_SYMLINKS: libarchive's check opens and stats every directory on
 * every entry's path, most of an unpack's system calls; check_no_symlink_on_path does the same
 * job from memory (see there). */
#define UNPACK_FLAGS (ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT)

/* The archive's times, except on a tree verified by its NAR hash: a NAR holds no times, so nothing
 * that trusts the tree by that hash can depend on them (Nix resets them in the store), and leaving
 * them out spares a utimensat per entry, about 130,000 on nixpkgs. A file verified by SHA-256 (the
 * Nix tarball) keeps them, as `tar -x` would. */
static int unpack_flags(const struct img_fetch_req *req)
{
	return req->nar_hash ? UNPACK_FLAGS : UNPACK_FLAGS | ARCHIVE_EXTRACT_TIME;
}
#define UNPACK_ENTRY_COST 512u /* charged to --max-bytes per entry, besides its names: one tar header */

struct unpack {
	struct archive *in;
	struct archive *out;
	struct img_stream *s;
	const struct img_fetch_req *req;
	const char *staging;
	uint64_t max_extracted;
	uint64_t max_entries;
	uint64_t headers; /* entries read so far, written or not */
	uint64_t charged; /* what counts against max_extracted: file bytes, headers, names */
	struct nm_error *e;
	struct img_fetch_result *res;
	struct img_decoder *dec; /* NULL: read and decompress in this thread */
	bool upstream_failed; /* the decoder or the download failed, not the extraction */
	/* every symlink written so far, by normalised path: an open-addressing set */
	char **links;
	size_t links_cap, links_count;
};

static la_ssize_t read_from_stream(struct archive *a, void *userdata, const void **buf)
{
	struct unpack *u = userdata;
	ssize_t n = u->dec ? img_decoder_read(u->dec, buf) : img_stream_read(u->s, buf);
	if (n < 0) {
		u->upstream_failed = true;
		archive_set_error(a, EIO, "download failed");
		return -1;
	}
	return (la_ssize_t)n;
}

/* The number of directory levels below the top a relative path ends at ("." ignored). */
static int path_depth(const char *p)
{
	int depth = 0;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			depth--;
		else if (len > 0 && !(len == 1 && p[0] == '.'))
			depth++;
		p += len;
		while (*p == '/')
			p++;
	}
	return depth;
}

static bool has_dotdot(const char *p)
{
	for (const char *q = p; (q = strstr(q, "..")) != NULL; q += 2)
		if ((q == p || q[-1] == '/') && (q[2] == '\0' || q[2] == '/'))
			return true;
	return false;
}

/* `path` with empty and "." components dropped ("./a//b/" → "a/b"); NULL when out of memory. */
static char *normalised(const char *path)
{
	char *out = malloc(strlen(path) + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, "/");
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, len);
			o += len;
		}
		p += len;
		p += strspn(p, "/");
	}
	*o = '\0';
	return out;
}

static size_t link_slot(const struct unpack *u, const char *path, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)path[i]) * 1099511628211ull;
	size_t slot = (size_t)h & (u->links_cap - 1);
	while (u->links[slot] && !(strlen(u->links[slot]) == len && memcmp(u->links[slot], path, len) == 0))
		slot = (slot + 1) & (u->links_cap - 1);
	return slot;
}

/* True when the first `len` bytes of `path` name a symlink this archive wrote. */
static bool is_link(const struct unpack *u, const char *path, size_t len)
{
	return u->links_count > 0 && u->links[link_slot(u, path, len)] != NULL;
}

/* Records that `path` (normalised, taken over) is now a symlink. */
static int add_link(struct unpack *u, char *path)
{
	if (2 * (u->links_count + 1) > u->links_cap) {
		struct unpack bigger = {.links_cap = u->links_cap ? 2 * u->links_cap : 64};
		bigger.links = calloc(bigger.links_cap, sizeof *bigger.links);
		if (!bigger.links) {
			free(path);
			return -ENOMEM;
		}
		for (size_t i = 0; i < u->links_cap; i++)
			if (u->links[i])
				bigger.links[link_slot(&bigger, u->links[i], strlen(u->links[i]))] = u->links[i];
		free(u->links);
		u->links = bigger.links;
		u->links_cap = bigger.links_cap;
	}
	size_t slot = link_slot(u, path, strlen(path));
	if (u->links[slot]) {
		free(path);
		return 0;
	}
	u->links[slot] = path;
	u->links_count++;
	return 0;
}

/* A relative symlink stays inside when it first climbs ("../..") no higher than the top and
 * then only descends: a ".." after a name could climb back out through another symlink, so it
 * is not accepted. The link's own directories are real (check_no_symlink_on_path). */
static bool symlink_stays_inside(const char *entry, const char *target, const char *prefix_allowed)
{
	if (target[0] == '/')
		return prefix_allowed && strncmp(target, prefix_allowed, strlen(prefix_allowed)) == 0 &&
		    !has_dotdot(target);
	int climb = 0;
	const char *p = target;
	while (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) {
		climb++;
		p += 2;
		while (*p == '/')
			p++;
	}
	return *target && climb <= path_depth(entry) - 1 && !has_dotdot(p);
}

static int refuse(struct unpack *u, const char *path, const char *why)
{
	return nm_fail(u->e, NM_ERR_VERIFY, EPERM,
		       "%s: archive entry '%s' %s; the archive is not trusted and nothing was kept",
		       img_stream_url(u->s), path, why);
}

static int refuse_hardlink(struct unpack *u, const char *path, const char *target, const char *why)
{
	_cleanup_free_ char *what = nm_strdup_printf("is a hardlink to '%s', %s", target, why);
	return refuse(u, path, what ? what : why);
}

/* A hardlink is a second name for an entry already extracted: a regular file or a symlink, never
 * a directory, reached without passing a symlink. A hardlinked symlink is a copy of the link at
 * the hardlink's place, where its relative target may climb out: it is judged from there. */
static int check_hardlink_target(struct unpack *u, const char *path, const char *target)
{
	if (!*target || strcmp(target, ".") == 0)
		return refuse_hardlink(u, path, target, "not an entry of the archive");
	_cleanup_close_ int dir = open(u->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return nm_fail(u->e, NM_ERR_RUNTIME, errno, "%s: cannot open it: %s", u->staging, strerror(errno));
	_cleanup_free_ char *copy = strdup(target);
	if (!copy)
		return nm_fail(u->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	/* component by component, never following a symlink on the way */
	struct stat st;
	char *name = copy;
	for (;;) {
		while (*name == '/')
			name++;
		char *slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		bool last = !slash || slash[1 + strspn(slash + 1, "/")] == '\0';
		if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return refuse_hardlink(u, path, target, "which is not (yet) in the archive");
		if (last)
			break;
		if (S_ISLNK(st.st_mode))
			return refuse_hardlink(u, path, target, "a path through a symlink");
		int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return refuse_hardlink(u, path, target, "which is not (yet) in the archive");
		close(dir);
		dir = next;
		name = slash + 1;
	}
	if (S_ISDIR(st.st_mode))
		return refuse_hardlink(u, path, target, "a directory");
	if (!S_ISLNK(st.st_mode))
		return 0;
	char link[PATH_MAX];
	ssize_t n = readlinkat(dir, name, link, sizeof link - 1);
	if (n < 0)
		return nm_fail(u->e, NM_ERR_RUNTIME, errno, "%s: cannot read the symlink %s: %s", u->staging, target,
			       strerror(errno));
	link[n] = '\0';
	if (!symlink_stays_inside(path, link, u->req->symlink_prefix_allowed))
		return refuse_hardlink(u, path, target, "a symlink that leaves the directory from there");
	return 0;
}

/* Refuses an entry that would be written through a symlink — one of its directories is a
 * symlink — or onto one (its own name is a symlink already: libarchive would follow it for a
 * directory's mode and times). The staging directory is new and ours, so the only symlinks in
 * it are those this archive wrote, and they are all in u->links: no system call is needed. */
static int check_no_symlink_on_path(struct unpack *u, const char *path)
{
	if (u->links_count == 0)
		return 0;
	_cleanup_free_ char *norm = normalised(path);
	if (!norm)
		return nm_fail(u->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t len = strcspn(norm, "/");; len += 1 + strcspn(norm + len + 1, "/")) {
		if (is_link(u, norm, len)) {
			_cleanup_free_ char *why = nm_strdup_printf("would be written %s the symlink '%.*s'",
								    norm[len] ? "through" : "onto", (int)len, norm);
			return refuse(u, path, why ? why : "would be written through a symlink");
		}
		if (!norm[len])
			return 0;
	}
}

/* Judges one entry; 0 when it may be written. */
static int check_entry(struct unpack *u, struct archive_entry *ent)
{
	const char *path = archive_entry_pathname(ent);
	if (!path || !*path)
		return refuse(u, "", "has no name");
	if (path[0] == '/')
		return refuse(u, path, "is an absolute path");
	if (has_dotdot(path))
		return refuse(u, path, "contains '..'");
	const char *hardlink = archive_entry_hardlink(ent);
	if (hardlink && (hardlink[0] == '/' || has_dotdot(hardlink)))
		return refuse(u, path, "is a hardlink that leaves the directory");
	mode_t type = archive_entry_filetype(ent);
	mode_t mode = archive_entry_mode(ent);
	if (mode & (S_ISUID | S_ISGID))
		return refuse(u, path, "has a setuid or setgid bit");
	int r = check_no_symlink_on_path(u, path);
	if (r < 0)
		return r;
	if (hardlink)
		return check_hardlink_target(u, path, hardlink);
	switch (type) {
	case AE_IFREG:
	case AE_IFDIR: return 0;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(ent);
		if (!target || !symlink_stays_inside(path, target, u->req->symlink_prefix_allowed))
			return refuse(u, path, "is a symlink that leaves the directory");
		return 0;
	}
	case AE_IFCHR:
	case AE_IFBLK: return refuse(u, path, "is a device node");
	case AE_IFIFO: return refuse(u, path, "is a FIFO");
	case AE_IFSOCK: return refuse(u, path, "is a socket");
	default: return refuse(u, path, "has an unknown file type");
	}
}

static char *under_staging(const char *staging, const char *rel)
{
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	return nm_strdup_printf("%s/%s", staging, rel);
}

/* Failures of the machine (full, read-only, out of memory) as opposed to refusals. */
static bool err_is_system(int err)
{
	static const int system_errors[] = {ENOSPC, EDQUOT, EIO, EROFS, ENOMEM, EMFILE, ENFILE, EACCES, ENAMETOOLONG};
	for (size_t i = 0; i < NM_ELEMENTSOF(system_errors); i++)
		if (err == system_errors[i])
			return true;
	return false;
}

static int archive_failed(struct unpack *u, struct archive *a, const char *doing)
{
	if (u->e->cls != NM_ERR_NONE) /* the stream already said what went wrong */
		return u->e->code;
	int err = archive_errno(a);
	const char *msg = archive_error_string(a);
	if (a == u->in)
		/* a corrupt stream shows up here first; the hash decides how it is reported */
		return nm_fail(u->e, NM_ERR_VERIFY, EBADMSG, "%s: %s: %s", img_stream_url(u->s), doing,
			       msg ? msg : "error");
	if (err_is_system(err))
		return nm_fail(u->e, NM_ERR_RUNTIME, err, "%s: %s: %s", u->staging, doing, msg ? msg : "error");
	/* libarchive's own secure-extraction refusals (writing through a symlink, ...) */
	return nm_fail(u->e, NM_ERR_VERIFY, EPERM,
		       "%s: archive entry '%s' refused by secure extraction (%s); the archive is not trusted and "
		       "nothing was kept",
		       img_stream_url(u->s), doing, msg ? msg : "error");
}

static int too_big(struct unpack *u, const char *path)
{
	return nm_fail(u->e, NM_ERR_VERIFY, EFBIG,
		       "%s: unpacks to more than %" PRIu64
		       " bytes (file data plus %u bytes and the names for each entry; at '%s'; --max-bytes); "
		       "stopped: a decompression bomb or a larger archive than expected",
		       img_stream_url(u->s), u->max_extracted, UNPACK_ENTRY_COST, path);
}

/* Counts one header against --max-entries and charges it to --max-bytes, before anything of it
 * is written: a few bytes of compressed archive can announce any number of empty entries. */
static int charge_header(struct unpack *u, struct archive_entry *ent)
{
	const char *path = archive_entry_pathname(ent);
	const char *hardlink = archive_entry_hardlink(ent);
	const char *symlink = archive_entry_symlink(ent);
	if (++u->headers > u->max_entries)
		return nm_fail(u->e, NM_ERR_VERIFY, EFBIG,
			       "%s: holds more than %" PRIu64
			       " entries (at '%s'; --max-entries); stopped: an archive of countless small files, or "
			       "a larger one than expected",
			       img_stream_url(u->s), u->max_entries, path ? path : "");
	u->charged += UNPACK_ENTRY_COST + (path ? strlen(path) : 0) + (hardlink ? strlen(hardlink) : 0) +
	    (symlink ? strlen(symlink) : 0);
	return u->charged > u->max_extracted ? too_big(u, path ? path : "") : 0;
}

static int copy_data(struct unpack *u, const char *path)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(u->in, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return archive_failed(u, u->in, "reading the archive");
		u->res->extracted_bytes += size;
		u->charged += size;
		if (u->charged > u->max_extracted)
			return too_big(u, path);
		if (archive_write_data_block(u->out, buf, size, offset) < ARCHIVE_WARN)
			return archive_failed(u, u->out, path);
	}
}

/* A symlink entry, or a hardlink to a symlink (a second symlink), wrote a new symlink at dst. */
static bool wrote_symlink(struct archive_entry *ent, const char *dst)
{
	struct stat st;
	if (!archive_entry_hardlink(ent))
		return archive_entry_filetype(ent) == AE_IFLNK;
	return lstat(dst, &st) == 0 && S_ISLNK(st.st_mode);
}

static int extract_entry(struct unpack *u, struct archive_entry *ent)
{
	_cleanup_free_ char *orig = strdup(archive_entry_pathname(ent));
	if (!orig)
		return -ENOMEM;
	int r = check_entry(u, ent);
	if (r < 0)
		/* cppcheck-suppress memleak ; _cleanup_free_ frees orig */
		return r;
	if (archive_entry_filetype(ent) == AE_IFREG && archive_entry_size_is_set(ent) &&
	    u->charged + (uint64_t)archive_entry_size(ent) > u->max_extracted)
		return too_big(u, orig);
	_cleanup_free_ char *dst = under_staging(u->staging, orig);
	if (!dst)
		return -ENOMEM;
	archive_entry_set_pathname(ent, dst);
	const char *hardlink = archive_entry_hardlink(ent);
	if (hardlink) {
		_cleanup_free_ char *hdst = under_staging(u->staging, hardlink);
		if (!hdst)
			return -ENOMEM;
		archive_entry_set_hardlink(ent, hdst);
	}
	archive_entry_set_perm(ent, archive_entry_perm(ent) & 0777);
	if (archive_write_header(u->out, ent) < ARCHIVE_WARN)
		return archive_failed(u, u->out, orig);
	if (archive_entry_size(ent) > 0 && (r = copy_data(u, orig)) < 0)
		return r;
	if (archive_write_finish_entry(u->out) < ARCHIVE_WARN)
		return archive_failed(u, u->out, orig);
	u->res->entries++;
	if (wrote_symlink(ent, dst)) {
		char *norm = normalised(orig);
		if (!norm || add_link(u, norm) < 0)
			return nm_fail(u->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

static int unpack_all(struct unpack *u)
{
	if (archive_read_support_format_tar(u->in) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(u->in) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(u->in) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(u->in) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(u->in) != ARCHIVE_OK ||
	    archive_write_disk_set_options(u->out, unpack_flags(u->req)) != ARCHIVE_OK)
		return nm_fail(u->e, NM_ERR_RUNTIME, ENOTSUP,
			       "this libarchive lacks tar, xz, gzip, zstd or bzip2 support");
	if (archive_read_open(u->in, u, NULL, read_from_stream, NULL) != ARCHIVE_OK)
		return archive_failed(u, u->in, "not a tar archive (xz, gzip, zstd, bzip2 or plain)");
	for (;;) {
		struct archive_entry *ent;
		int r = archive_read_next_header(u->in, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return archive_failed(u, u->in, "reading the archive");
		if ((r = charge_header(u, ent)) < 0 || (r = extract_entry(u, ent)) < 0)
			return r;
	}
	if (archive_write_close(u->out) != ARCHIVE_OK) /* applies directory modes and times */
		return archive_failed(u, u->out, "finishing the extraction");
	return 0;
}

/* Two threads: the decoder downloads, hashes and decompresses; this one extracts. The stream
 * records its failures in `e` from the decoder's thread, so extraction failures go to a record
 * of their own until the decoder is joined. */
static int unpack_two_stages(struct unpack *u, struct nm_error *e)
{
	const struct nm_error *mine = u->e; /* the extraction's own record, not e */
	int r = unpack_all(u);
	bool cancel = r < 0 && !u->upstream_failed;
	int dr = img_decoder_stop(u->dec, cancel, e);
	u->dec = NULL;
	if (cancel || (r < 0 && e->cls == NM_ERR_NONE) || (dr == 0 && r < 0)) {
		if (e->cls == NM_ERR_NONE)
			*e = *mine;
		return r;
	}
	if (dr < 0 || r < 0)
		return e->code ? e->code : -EIO;
	return 0;
}

int img_unpack(struct img_stream *s, const char *staging, const struct img_fetch_req *req, uint64_t max_extracted,
	       struct img_fetch_result *res, struct nm_error *e)
{
	struct unpack u = {
	    .in = archive_read_new(),
	    .out = archive_write_disk_new(),
	    .s = s,
	    .req = req,
	    .staging = staging,
	    .max_extracted = max_extracted,
	    .max_entries = req->max_entries ? req->max_entries : IMG_DEFAULT_MAX_ENTRIES,
	    .e = e,
	    .res = res,
	};
	struct nm_error extraction = {0};
	int r;
	if (!u.in || !u.out) {
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	} else if (img_decoder_start(s, &u.dec) == 0) {
		u.e = &extraction;
		r = unpack_two_stages(&u, e);
	} else {
		r = unpack_all(&u); /* no thread: the same work in one */
	}
	if (u.in)
		archive_read_free(u.in);
	if (u.out)
		archive_write_free(u.out);
	for (size_t i = 0; i < u.links_cap; i++)
		free(u.links[i]);
	free(u.links);
	return r;
}
