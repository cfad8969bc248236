/* nar.c: the NAR hash of a path — the SHA-256 of its Nix archive (NAR) serialisation, the
 * hash flake.lock's narHash, fetchTarball's sha256 and `nix-hash --type sha256` give a tree.
 * The serialisation is streamed straight into SHA-256 while the tree is walked; no archive is
 * ever built in memory or on disk. It only reads: it never changes the tree.
 *
 * The format (Nix manual, "Nix Archive"): every string is its length as a little-endian u64,
 * its bytes and zero padding to a multiple of 8. The archive is "nix-archive-1" and one node:
 *   regular:   ( type regular [executable ""] contents <bytes> )
 *   symlink:   ( type symlink target <target, verbatim> )
 *   directory: ( type directory { entry ( name <name> node <node> ) }... )
 * with a directory's entries sorted bytewise by name (any byte but '/' and NUL may be in one).
 * "executable" is there when the owner's execute bit is set: Nix looks at that bit alone
 * (a mode 0645 file hashes like 0644). Owners, times and the other mode bits are not part of
 * the archive; device nodes, FIFOs and sockets cannot be, and are refused by name.
 * Example: a file holding "hi\n" is the archive
 *   13 "nix-archive-1" 1 "(" 4 "type" 7 "regular" 8 "contents" 3 "hi\n" 1 ")"
 * (each string padded to 8 bytes), whose SHA-256 in nix32 is
 * 1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h.
 *
 * The walk is iterative, with a stack of open directories, each read once into a sorted list of
 * names: no path is ever built, so depth is not bounded by PATH_MAX, and below NAR_FD_DEPTH
 * levels a directory's descriptor is closed while its subdirectory is walked and reopened from
 * there through "..", checked by device and inode, so the number of open files stays bounded.
 * Memory is a few blocks plus the name lists of the directories on the current path.
 *
 * Two stages, like the unpack: this thread walks and reads (system calls), a second one runs
 * SHA-256 over the filled blocks in order, so on two cores the one overlaps the other. Without
 * the thread (it could not be started) the walker hashes each block itself. */
#include "images/images-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <openssl/evp.h>

#define NAR_BUF_SIZE (256u << 10) /* framing and file bytes gather in a block, hashed at once */
#define NAR_BLOCKS 4 /* one being filled, the others queued for or in the hashing thread */
#define NAR_FD_DEPTH 32 /* directories deeper than this keep no descriptor while below them */

/* One directory on the current path: its entries, sorted, and how far the walk has got. */
struct nar_dir {
	int fd; /* -1 while closed (deeper than NAR_FD_DEPTH), reopened from the child */
	dev_t dev;
	ino_t ino;
	const char *name; /* in the parent's list, or the path given for the root */
	char *names; /* entries back to back, each a d_type byte, the name and a NUL */
	char **entries; /* into names, sorted by name */
	size_t count, next;
};

struct nar {
	EVP_MD_CTX *md; /* the hashing thread's while it runs */
	unsigned char *blocks; /* NAR_BLOCKS of NAR_BUF_SIZE */
	unsigned char *buf; /* the block being filled */
	size_t len;
	/* the hand-over to the hashing thread: filled blocks in order, free blocks back */
	bool threaded, closing;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled, freed;
	int current; /* index of buf */
	int queue[NAR_BLOCKS];
	size_t queue_len[NAR_BLOCKS];
	unsigned head, queued;
	int free_list[NAR_BLOCKS];
	unsigned free_count;
	struct nar_dir *dirs; /* dirs[0] is the root */
	size_t depth, cap;
	char *link; /* readlink buffer */
	size_t link_cap;
	struct nm_error *e;
};

static void *hash_blocks(void *arg)
{
	struct nar *w = arg;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->queued == 0 && !w->closing)
			pthread_cond_wait(&w->filled, &w->lock);
		if (w->queued == 0)
			break;
		int block = w->queue[w->head];
		size_t len = w->queue_len[w->head];
		w->head = (w->head + 1) % NAR_BLOCKS;
		w->queued--;
		pthread_mutex_unlock(&w->lock);
		EVP_DigestUpdate(w->md, w->blocks + (size_t)block * NAR_BUF_SIZE, len);
		pthread_mutex_lock(&w->lock);
		w->free_list[w->free_count++] = block;
		pthread_cond_signal(&w->freed);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Hands the filled block on (or hashes it here without the thread) and takes an empty one. */
static void flush(struct nar *w)
{
	if (!w->len)
		return;
	if (!w->threaded) {
		EVP_DigestUpdate(w->md, w->buf, w->len);
		w->len = 0;
		return;
	}
	pthread_mutex_lock(&w->lock);
	unsigned tail = (w->head + w->queued) % NAR_BLOCKS;
	w->queue[tail] = w->current;
	w->queue_len[tail] = w->len;
	w->queued++;
	pthread_cond_signal(&w->filled);
	while (w->free_count == 0)
		pthread_cond_wait(&w->freed, &w->lock);
	w->current = w->free_list[--w->free_count];
	pthread_mutex_unlock(&w->lock);
	w->buf = w->blocks + (size_t)w->current * NAR_BUF_SIZE;
	w->len = 0;
}

static void start_hashing(struct nar *w)
{
	w->buf = w->blocks;
	w->current = 0;
	for (int i = 1; i < NAR_BLOCKS; i++)
		w->free_list[w->free_count++] = i;
	w->threaded = pthread_mutex_init(&w->lock, NULL) == 0;
	if (w->threaded && pthread_cond_init(&w->filled, NULL) != 0) {
		pthread_mutex_destroy(&w->lock);
		w->threaded = false;
	}
	if (w->threaded && pthread_cond_init(&w->freed, NULL) != 0) {
		pthread_cond_destroy(&w->filled);
		pthread_mutex_destroy(&w->lock);
		w->threaded = false;
	}
	if (w->threaded && pthread_create(&w->thread, NULL, hash_blocks, w) != 0) {
		pthread_cond_destroy(&w->freed);
		pthread_cond_destroy(&w->filled);
		pthread_mutex_destroy(&w->lock);
		w->threaded = false; /* the same work in this thread */
	}
}

/* Hashes what is queued and ends the thread; the digest is this thread's again. */
static void stop_hashing(struct nar *w)
{
	if (!w->threaded)
		return;
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_signal(&w->filled);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->freed);
	pthread_cond_destroy(&w->filled);
	pthread_mutex_destroy(&w->lock);
	w->threaded = false;
}

static void put_bytes(struct nar *w, const void *p, size_t n)
{
	const unsigned char *from = p;
	while (n > 0) {
		if (w->len == NAR_BUF_SIZE)
			flush(w);
		size_t take = n < NAR_BUF_SIZE - w->len ? n : NAR_BUF_SIZE - w->len;
		memcpy(w->buf + w->len, from, take);
		w->len += take;
		from += take;
		n -= take;
	}
}

static void put_u64(struct nar *w, uint64_t v)
{
	unsigned char le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	put_bytes(w, le, sizeof le);
}

static void put_padding(struct nar *w, uint64_t len)
{
	static const unsigned char zeros[8];
	if (len % 8)
		put_bytes(w, zeros, 8 - len % 8);
}

static void put_str_n(struct nar *w, const char *s, size_t n)
{
	put_u64(w, n);
	put_bytes(w, s, n);
	put_padding(w, n);
}

static void put_str(struct nar *w, const char *s)
{
	put_str_n(w, s, strlen(s));
}

/* "ROOT/a/b/NAME" for messages: the names of the directories on the path and `name`. */
static char *shown_path(const struct nar *w, const char *name)
{
	size_t len = strlen(name) + 1;
	for (size_t i = 0; i < w->depth; i++)
		len += strlen(w->dirs[i].name) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	char *p = s;
	for (size_t i = 0; i < w->depth; i++)
		p = stpcpy(stpcpy(p, w->dirs[i].name), "/");
	strcpy(p, name);
	if (!*name && p > s)
		p[-1] = '\0'; /* the directory itself */
	return s;
}

static int fail_at(struct nar *w, const char *name, enum nm_err_class cls, int err, const char *what)
{
	_cleanup_free_ char *path = shown_path(w, name);
	return nm_fail(w->e, cls, err, "%s: %s", path ? path : name, what);
}

/* A failed system call on `name`: errno says why. */
static int fail_sys(struct nar *w, const char *name, const char *doing)
{
	int err = errno;
	_cleanup_free_ char *path = shown_path(w, name);
	return nm_fail(w->e, NM_ERR_RUNTIME, err, "%s: %s: %s", path ? path : name, doing, strerror(err));
}

/* Reads exactly `size` bytes of fd into the archive, through the buffer. */
static int put_contents(struct nar *w, int fd, uint64_t size, const char *name)
{
	put_u64(w, size);
	for (uint64_t left = size; left > 0;) {
		size_t want = left < NAR_BUF_SIZE ? (size_t)left : NAR_BUF_SIZE;
		if (NAR_BUF_SIZE - w->len < want)
			flush(w);
		ssize_t n = read(fd, w->buf + w->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_sys(w, name, "read failed");
		if (n == 0)
			return fail_at(w, name, NM_ERR_RUNTIME, EIO, "the file shrank while it was being hashed");
		w->len += (size_t)n;
		left -= (uint64_t)n;
	}
	put_padding(w, size);
	return 0;
}

static int put_regular(struct nar *w, int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail_sys(w, name, "cannot open it");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail_sys(w, name, "cannot stat it");
	if (!S_ISREG(st.st_mode))
		return fail_at(w, name, NM_ERR_RUNTIME, EAGAIN, "it changed type while it was being hashed");
	put_str(w, "(");
	put_str(w, "type");
	put_str(w, "regular");
	if (st.st_mode & S_IXUSR) {
		put_str(w, "executable");
		put_str(w, "");
	}
	put_str(w, "contents");
	int r = put_contents(w, fd, (uint64_t)st.st_size, name);
	if (r < 0)
		return r;
	put_str(w, ")");
	return 0;
}

static int put_symlink(struct nar *w, int dirfd, const char *name)
{
	for (;;) {
		ssize_t n = readlinkat(dirfd, name, w->link, w->link_cap);
		if (n < 0)
			return fail_sys(w, name, "cannot read the symlink");
		if ((size_t)n < w->link_cap) {
			put_str(w, "(");
			put_str(w, "type");
			put_str(w, "symlink");
			put_str(w, "target");
			put_str_n(w, w->link, (size_t)n);
			put_str(w, ")");
			return 0;
		}
		char *bigger = realloc(w->link, 2 * w->link_cap);
		if (!bigger)
			return nm_fail(w->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		w->link = bigger;
		w->link_cap *= 2;
	}
}

static const char *type_refused(mode_t mode)
{
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "is a device node, which a NAR cannot hold";
	if (S_ISFIFO(mode))
		return "is a FIFO, which a NAR cannot hold";
	if (S_ISSOCK(mode))
		return "is a socket, which a NAR cannot hold";
	return "has a file type a NAR cannot hold";
}

static unsigned char dtype_of(mode_t mode)
{
	return S_ISREG(mode) ? DT_REG : S_ISDIR(mode) ? DT_DIR : S_ISLNK(mode) ? DT_LNK : DT_UNKNOWN;
}

static struct nar_dir *top(struct nar *w)
{
	return &w->dirs[w->depth - 1];
}

static void free_dir(struct nar_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->names);
	free(d->entries);
}

static int by_name(const void *a, const void *b)
{
	/* past the type byte; strcmp compares as unsigned char: Nix's bytewise order */
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/* Reads the entries of the directory fd into d (names, then the sorted list). */
static int list_entries(struct nar *w, struct nar_dir *d, int fd, const char *name)
{
	int copy = dup(fd); /* closedir closes it: the walk keeps its own */
	DIR *dir = copy < 0 ? NULL : fdopendir(copy);
	if (!dir) {
		int r = fail_sys(w, name, "cannot read the directory");
		if (copy >= 0)
			close(copy);
		return r;
	}
	size_t used = 0, cap = 0, offs_cap = 0;
	_cleanup_free_ size_t *offs = NULL;
	int r = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(dir);
		if (!de) {
			if (errno)
				r = fail_sys(w, name, "cannot read the directory");
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t need = strlen(de->d_name) + 2;
		if (used + need > cap || d->count == offs_cap) {
			size_t ncap = cap ? cap : 4096, nocap = offs_cap ? offs_cap : 64;
			while (ncap < used + need)
				ncap *= 2;
			if (d->count == offs_cap)
				nocap *= 2;
			char *names = realloc(d->names, ncap);
			if (names)
				d->names = names;
			size_t *more = names ? realloc(offs, nocap * sizeof *more) : NULL;
			if (more)
				offs = more;
			if (!names || !more) {
				r = nm_fail(w->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
				break;
			}
			cap = ncap;
			offs_cap = nocap;
		}
		offs[d->count++] = used;
		d->names[used] = (char)de->d_type;
		memcpy(d->names + used + 1, de->d_name, need - 1);
		used += need;
	}
	closedir(dir);
	if (r < 0 || d->count == 0)
		return r;
	/* the names no longer move: point at them */
	d->entries = malloc(d->count * sizeof *d->entries);
	if (!d->entries)
		return nm_fail(w->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; i < d->count; i++)
		d->entries[i] = d->names + offs[i];
	qsort(d->entries, d->count, sizeof *d->entries, by_name);
	return 0;
}

/* Opens the directory `name` in dirfd, lists it and makes it the top of the stack. */
static int push_dir(struct nar *w, int dirfd, const char *name)
{
	if (w->depth == w->cap) {
		size_t ncap = w->cap ? 2 * w->cap : 16;
		struct nar_dir *dirs = realloc(w->dirs, ncap * sizeof *dirs);
		if (!dirs)
			return nm_fail(w->e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		w->dirs = dirs;
		w->cap = ncap;
	}
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail_sys(w, name, "cannot open the directory");
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = fail_sys(w, name, "cannot stat it");
		close(fd);
		return r;
	}
	struct nar_dir *d = &w->dirs[w->depth];
	*d = (struct nar_dir){.fd = fd, .dev = st.st_dev, .ino = st.st_ino, .name = name};
	int r = list_entries(w, d, fd, name);
	if (r < 0) {
		free_dir(d);
		return r;
	}
	w->depth++;
	put_str(w, "(");
	put_str(w, "type");
	put_str(w, "directory");
	/* deep down, the parent waits without a descriptor: it is reopened through ".." */
	if (w->depth > NAR_FD_DEPTH && w->dirs[w->depth - 2].fd >= 0) {
		close(w->dirs[w->depth - 2].fd);
		w->dirs[w->depth - 2].fd = -1;
	}
	return 0;
}

/* Leaves the top directory; its parent gets its descriptor back if it had to give it up. */
static int pop_dir(struct nar *w)
{
	struct nar_dir *d = top(w);
	int r = 0;
	if (w->depth > 1 && w->dirs[w->depth - 2].fd < 0) {
		struct nar_dir *parent = &w->dirs[w->depth - 2];
		struct stat st;
		int fd = openat(d->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != parent->dev || st.st_ino != parent->ino)) {
			close(fd);
			fd = -1;
			errno = ESTALE;
		}
		parent->fd = fd;
		if (fd < 0)
			r = fail_sys(
			    w, "",
			    "cannot go back to its parent directory (did the tree move while it was being hashed?)");
	}
	free_dir(d);
	w->depth--;
	return r;
}

/* Writes the node `name` in dirfd. A directory is only opened and listed here: *pushed says
 * so, and the walk writes its entries. */
static int put_node(struct nar *w, int dirfd, const char *name, unsigned char type, bool *pushed)
{
	*pushed = false;
	if (type == DT_UNKNOWN) {
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail_sys(w, name, "cannot stat it");
		type = dtype_of(st.st_mode);
		if (type == DT_UNKNOWN)
			return fail_at(w, name, NM_ERR_VERIFY, ENOTSUP, type_refused(st.st_mode));
	}
	switch (type) {
	case DT_REG: return put_regular(w, dirfd, name);
	case DT_LNK: return put_symlink(w, dirfd, name);
	case DT_DIR: {
		int r = push_dir(w, dirfd, name);
		*pushed = r == 0;
		return r;
	}
	case DT_CHR:
	case DT_BLK: return fail_at(w, name, NM_ERR_VERIFY, ENOTSUP, type_refused(S_IFCHR));
	case DT_FIFO: return fail_at(w, name, NM_ERR_VERIFY, ENOTSUP, type_refused(S_IFIFO));
	case DT_SOCK: return fail_at(w, name, NM_ERR_VERIFY, ENOTSUP, type_refused(S_IFSOCK));
	default: return fail_at(w, name, NM_ERR_VERIFY, ENOTSUP, type_refused(0));
	}
}

/* The next step of the walk: the next entry of the top directory, or the end of it. */
static int walk_step(struct nar *w)
{
	struct nar_dir *d = top(w);
	if (d->next == d->count) {
		put_str(w, ")"); /* the directory node */
		int r = pop_dir(w);
		if (r == 0 && w->depth > 0)
			put_str(w, ")"); /* the entry holding it */
		return r;
	}
	const char *entry = d->entries[d->next++];
	const char *name = entry + 1;
	put_str(w, "entry");
	put_str(w, "(");
	put_str(w, "name");
	put_str(w, name);
	put_str(w, "node");
	bool pushed;
	int r = put_node(w, d->fd, name, (unsigned char)entry[0], &pushed);
	if (r == 0 && !pushed)
		put_str(w, ")");
	return r;
}

static int nar_hash(struct nar *w, const char *path, unsigned char out[IMG_HASH_BYTES])
{
	struct stat st;
	if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return nm_fail(w->e, NM_ERR_RUNTIME, errno, "%s: cannot stat it: %s", path, strerror(errno));
	put_str(w, "nix-archive-1");
	unsigned char type = dtype_of(st.st_mode);
	if (type == DT_UNKNOWN)
		return fail_at(w, path, NM_ERR_VERIFY, ENOTSUP, type_refused(st.st_mode));
	bool pushed;
	int r = put_node(w, AT_FDCWD, path, type, &pushed);
	while (r == 0 && w->depth > 0)
		r = walk_step(w);
	if (r < 0)
		return r;
	flush(w);
	stop_hashing(w);
	unsigned len = 0;
	if (EVP_DigestFinal_ex(w->md, out, &len) != 1 || len != IMG_HASH_BYTES)
		return nm_fail(w->e, NM_ERR_RUNTIME, EIO, "%s: SHA-256 failed", path);
	return 0;
}

int img_nar_hash_path(const char *path, unsigned char out[IMG_HASH_BYTES], struct nm_error *e)
{
	struct nar w = {.md = EVP_MD_CTX_new(),
			.blocks = malloc((size_t)NAR_BLOCKS * NAR_BUF_SIZE),
			.link = malloc(4096),
			.link_cap = 4096,
			.e = e};
	int r;
	if (!w.md || !w.blocks || !w.link || EVP_DigestInit_ex(w.md, EVP_sha256(), NULL) != 1) {
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "cannot set up SHA-256");
	} else {
		start_hashing(&w);
		r = nar_hash(&w, path, out);
		stop_hashing(&w); /* after a failure too: the thread has to end */
	}
	while (w.depth > 0)
		free_dir(&w.dirs[--w.depth]);
	free(w.dirs);
	free(w.link);
	free(w.blocks);
	EVP_MD_CTX_free(w.md);
	return r;
}
