/* test_img_nar.c: the three texts of a SHA-256 and the NAR hash, without Nix — Nix's published
 * vectors (a file holding "hi\n", a dangling symlink, SHA-256("abc"), the nixpkgs 26.05 pin in
 * both of its published forms), every encoding reading back what it wrote for random digests,
 * malformed hashes refused with the accepted forms named, a chain of directories deeper than
 * PATH_MAX hashed like the archive this test serialises itself, and what a NAR cannot hold
 * (FIFOs, sockets, device nodes) refused by path. The cross-check against nix-hash is
 * test_img_nar_nix.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "images/images.h"
#include "nar_work_dir.h"

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(nm_write_all(fd, text, strlen(text)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static char *nar_nix32(const char *path)
{
	unsigned char d[IMG_HASH_BYTES];
	struct nm_error e = {0};
	if (img_nar_hash_path(path, d, &e) < 0)
		fail_msg("%s: %s", path, e.msg);
	return img_hash_to_nix32(d);
}

/* nix tests/functional/hash-path.sh */
static void nix_published_vectors(void **state)
{
	_cleanup_free_ char *file = at("hi");
	write_file(file, "hi\n", 0644);
	_cleanup_free_ char *h1 = nar_nix32(file);
	assert_string_equal(h1, "1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h");

	_cleanup_free_ char *link = at("link");
	assert_int_equal(symlink("/non-existent-48cujwe8ndf4as0bne", link), 0);
	_cleanup_free_ char *h2 = nar_nix32(link);
	assert_string_equal(h2, "1bl5ry3x1fcbwgr5c2x50bn572iixh4j1p6ax5isxly2ddgn8pbp");
}

struct trio {
	const char *sri, *nix32, *hex;
};

/* nix src/nix/hash-convert.md (SHA-256 of "abc"), and shared/PINS.md's nixpkgs 26.05 pin as
 * flake.lock (SRI) and fetchTarball (nix32) write it. */
static const struct trio published[] = {
    {"sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=", "1959piz48qhaaqdyr2m5mf92gnxxhrzhls6z1ppy01ckh5wdrya2",
     NULL},
};

static void published_pairs_convert(void **state)
{
	for (size_t i = 0; i < NM_ELEMENTSOF(published); i++) {
		const struct trio *t = &published[i];
		unsigned char a[IMG_HASH_BYTES], b[IMG_HASH_BYTES];
		struct nm_error e = {0};
		assert_int_equal(img_hash_parse(t->sri, "sri", a, &e), 0);
		assert_int_equal(img_hash_parse(t->nix32, "nix32", b, &e), 0);
		assert_memory_equal(a, b, IMG_HASH_BYTES);
		_cleanup_free_ char *sri = img_hash_to_sri(b);
		_cleanup_free_ char *nix32 = img_hash_to_nix32(a);
		assert_string_equal(sri, t->sri);
		assert_string_equal(nix32, t->nix32);
		if (t->hex) {
			_cleanup_free_ char *hex = img_hash_to_hex(a);
			assert_string_equal(hex, t->hex);
		}
	}
	/* the digest of "abc" itself, so the pair above is not only consistent but right */
	unsigned char md[IMG_HASH_BYTES], want[IMG_HASH_BYTES];
	unsigned len = 0;
	struct nm_error e = {0};
	assert_int_equal(EVP_Digest("abc", 3, md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(img_hash_parse(published[0].nix32, "nix32", want, &e), 0);
	assert_memory_equal(md, want, IMG_HASH_BYTES);
}

static void encodings_round_trip(void **state)
{
	srand(2605);
	for (int n = 0; n < 2000; n++) {
		unsigned char d[IMG_HASH_BYTES], back[IMG_HASH_BYTES];
		for (size_t i = 0; i < IMG_HASH_BYTES; i++)
			/* the extremes too: all zero, all ones */
			d[i] = n == 0 ? 0 : n == 1 ? 0xff : (unsigned char)(rand() & 0xff);
		char *texts[] = {img_hash_to_sri(d), img_hash_to_nix32(d), img_hash_to_hex(d)};
		for (size_t k = 0; k < NM_ELEMENTSOF(texts); k++) {
			struct nm_error e = {0};
			assert_non_null(texts[k]);
			memset(back, 0x5a, sizeof back);
			assert_int_equal(img_hash_parse(texts[k], "hash", back, &e), 0);
			assert_memory_equal(back, d, IMG_HASH_BYTES);
			free(texts[k]);
		}
	}
	/* hex in capitals is the same digest */
	unsigned char lower[IMG_HASH_BYTES], upper[IMG_HASH_BYTES];
	struct nm_error e = {0};
	assert_int_equal(img_hash_parse(published[0].hex, "hex", lower, &e), 0);
	assert_int_equal(
	    img_hash_parse("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "hex", upper, &e), 0);
	assert_memory_equal(lower, upper, IMG_HASH_BYTES);
}

static void malformed_hashes_are_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    "sha256-",
	    /* wrong length */
	    "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5",
	    "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5ss",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",
	    "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
	    "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0==",
	    /* alphabet: e, o, t, u are not nix32 digits; g is not hex; '-' and '.' not base64 */
	    "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5e",
	    "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5o",
	    "1B8M03R63ZQHNJF7L5WNLDHH7C134AP5VPJ0850YMKQ1IYZICY5S",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\x11",
	    "sha256-ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	    "sha256-ungWv48Bz.pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	    /* bits beyond the 256th: a nix32 text starts with 0 or 1; base64's last digit ends in 00 */
	    "2b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s",
	    "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1=",
	    "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa3=",
	    /* another algorithm, or a prefix Nix writes but this parser does not take */
	    "sha512-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	    "sha1-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	    "SHA256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	    " sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(bad); i++) {
		unsigned char d[IMG_HASH_BYTES];
		struct nm_error e = {0};
		if (img_hash_parse(bad[i], "--nar-hash", d, &e) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(e.cls, NM_ERR_USAGE);
		assert_non_null(strstr(e.msg, "--nar-hash: "));
		assert_non_null(strstr(e.msg, "SRI (sha256-"));
		assert_non_null(strstr(e.msg, "nix32"));
		assert_non_null(strstr(e.msg, "hex (64 digits)"));
	}
	struct nm_error e = {0};
	unsigned char d[IMG_HASH_BYTES];
	assert_int_equal(img_hash_parse("sha512-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", "--nar-hash", d, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "another algorithm"));
	assert_int_equal(img_hash_parse(NULL, "--nar-hash", d, &e), -EINVAL);
	assert_false(img_sha256_hex_valid("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a\x11"));
	assert_true(img_sha256_hex_valid(published[0].hex));
}

/* A NAR serialised here, independently of nar.c, for the chain test below. */
struct nar_text {
	unsigned char *data;
	size_t len, cap;
};

static void text_put(struct nar_text *t, const void *s, size_t n)
{
	size_t padded = n + 8 + (8 - n % 8) % 8;
	if (t->len + padded > t->cap) {
		t->cap = 2 * (t->len + padded);
		t->data = realloc(t->data, t->cap);
		assert_non_null(t->data);
	}
	for (int i = 0; i < 8; i++)
		t->data[t->len++] = (unsigned char)((uint64_t)n >> (8 * i));
	memcpy(t->data + t->len, s, n);
	t->len += n;
	while (t->len % 8)
		t->data[t->len++] = 0;
}

static void text_str(struct nar_text *t, const char *s)
{
	text_put(t, s, strlen(s));
}

/* A chain of directories named by 200-character names, 40 deep (more than 8,000 characters of
 * path, past PATH_MAX, and deeper than the walk keeps descriptors open), ending in an executable
 * file: hashed without the path ever being built. */
static void chain_past_path_max_hashes_like_its_archive(void **state)
{
	char name[201];
	memset(name, 'n', 200);
	name[200] = '\0';
	const int levels = 40;
	_cleanup_free_ char *top = at("chain");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	struct nar_text want = {0};
	text_str(&want, "nix-archive-1");
	for (int i = 0; i < levels; i++) {
		assert_int_equal(mkdirat(fd, name, 0755), 0);
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
		const char *open_dir[] = {"(", "type", "directory", "entry", "(", "name", name, "node"};
		for (size_t k = 0; k < NM_ELEMENTSOF(open_dir); k++)
			text_str(&want, open_dir[k]);
	}
	int f = openat(fd, "run", O_WRONLY | O_CREAT, 0755);
	assert_true(f >= 0);
	assert_int_equal(nm_write_all(f, "#!/bin/sh\n", 10), 0);
	close(f);
	close(fd);
	const char *dir_file[] = {"(",	 "type",     "directory",   "entry", "(",	"name",
				  "run", "node",     "(",	    "type",  "regular", "executable",
				  "",	 "contents", "#!/bin/sh\n", ")",     ")",	")"};
	for (size_t k = 0; k < NM_ELEMENTSOF(dir_file); k++)
		text_str(&want, dir_file[k]);
	for (int i = 0; i < levels; i++) {
		text_str(&want, ")"); /* the entry */
		text_str(&want, ")"); /* the directory */
	}
	unsigned char md[IMG_HASH_BYTES], got[IMG_HASH_BYTES];
	unsigned len = 0;
	assert_int_equal(EVP_Digest(want.data, want.len, md, &len, EVP_sha256(), NULL), 1);
	free(want.data);
	struct nm_error e = {0};
	assert_int_equal(img_nar_hash_path(top, got, &e), 0);
	assert_memory_equal(got, md, IMG_HASH_BYTES);
}

/* refused KIND: a tree holding one of what a NAR cannot hold is refused, naming its path */
static void expect_refused(const char *dir, const char *leaf, const char *words)
{
	unsigned char d[IMG_HASH_BYTES];
	struct nm_error e = {0};
	assert_int_equal(img_nar_hash_path(dir, d, &e), -ENOTSUP);
	assert_int_equal(e.cls, NM_ERR_VERIFY);
	_cleanup_free_ char *path = nm_strdup_printf("%s/sub/%s", dir, leaf);
	if (!strstr(e.msg, path) || !strstr(e.msg, words))
		fail_msg("message lacks '%s' or '%s': %s", path, words, e.msg);
}

static void special_files_are_refused_by_path(void **state)
{
	_cleanup_free_ char *fifo_dir = at("with-fifo");
	_cleanup_free_ char *fifo = at("with-fifo/sub/pipe");
	_cleanup_free_ char *fifo_sub = at("with-fifo/sub");
	assert_int_equal(mkdir(fifo_dir, 0755), 0);
	assert_int_equal(mkdir(fifo_sub, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	expect_refused(fifo_dir, "pipe", "is a FIFO");
	/* the FIFO itself, named as the path: refused without being opened (opening would block) */
	unsigned char d[IMG_HASH_BYTES];
	struct nm_error e = {0};
	assert_int_equal(img_nar_hash_path(fifo, d, &e), -ENOTSUP);

	_cleanup_free_ char *sock_dir = at("with-socket");
	_cleanup_free_ char *sock_sub = at("with-socket/sub");
	assert_int_equal(mkdir(sock_dir, 0755), 0);
	assert_int_equal(mkdir(sock_sub, 0755), 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", sock_sub);
	assert_true(n > 0 && (size_t)n < sizeof sa.sun_path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	close(s);
	expect_refused(sock_dir, "sock", "is a socket");

	_cleanup_free_ char *dev_dir = at("with-device");
	_cleanup_free_ char *dev_sub = at("with-device/sub");
	_cleanup_free_ char *dev = at("with-device/sub/null");
	assert_int_equal(mkdir(dev_dir, 0755), 0);
	assert_int_equal(mkdir(dev_sub, 0755), 0);
	if (mknod(dev, S_IFCHR | 0644, makedev(1, 3)) < 0) {
		assert_int_equal(errno, EPERM); /* not root: the FIFO and the socket have made the point */
		return;
	}
	expect_refused(dev_dir, "null", "is a device node");
}

static void missing_path_is_a_runtime_error(void **state)
{
	_cleanup_free_ char *missing = at("missing");
	unsigned char d[IMG_HASH_BYTES];
	struct nm_error e = {0};
	assert_int_equal(img_nar_hash_path(missing, d, &e), -ENOENT);
	assert_int_equal(e.cls, NM_ERR_RUNTIME);
	assert_non_null(strstr(e.msg, missing));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nix_published_vectors),
	    cmocka_unit_test(published_pairs_convert),
	    cmocka_unit_test(encodings_round_trip),
	    cmocka_unit_test(malformed_hashes_are_refused),
	    cmocka_unit_test(chain_past_path_max_hashes_like_its_archive),
	    cmocka_unit_test(special_files_are_refused_by_path),
	    cmocka_unit_test(missing_path_is_a_runtime_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
