/* test_img_nar_nix.c: img_nar_hash_path against Debian's `nix-hash --type sha256 --base32` on
 * trees made here: every combination of execute bits, symlinks to anything (dangling, absolute,
 * to directories, odd bytes, 4,000 characters), empty directories, names holding every byte
 * value Linux allows (1 to 255 but '/'), 300 levels of nesting, 10,000 entries in one directory
 * and a 2 GiB sparse file — each tree alone and all of them together. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "images/images.h"
#include "nar_work_dir.h"
#include "nix_test_env.h"

static void make_file(int dirfd, const char *name, const char *text, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		fail_msg("%s: %s", name, strerror(errno));
	assert_int_equal(nm_write_all(fd, text, strlen(text)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int make_dir(int dirfd, const char *name)
{
	assert_int_equal(mkdirat(dirfd, name, 0755), 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

/* The same tree hashed by nix-hash and by img_nar_hash_path gives the same nix32 text. */
static void expect_same_as_nix(const char *path)
{
	const char *argv[] = {"nix-hash", "--type", "sha256", "--base32", path, NULL};
	struct nm_run_opts opts = {.extra_env = nix_test_env, .timeout_sec = 100};
	struct nm_run_result res;
	struct nm_error e = {0};
	if (nm_run(argv, &opts, &res, &e) < 0)
		fail_msg("nix-hash %s: %s", path, e.msg);
	char *nl = strchr(res.output, '\n');
	if (nl)
		*nl = '\0';
	unsigned char d[IMG_HASH_BYTES];
	if (img_nar_hash_path(path, d, &e) < 0)
		fail_msg("%s: %s", path, e.msg);
	_cleanup_free_ char *ours = img_hash_to_nix32(d);
	if (strcmp(ours, res.output) != 0)
		fail_msg("%s: nix-hash says %s, img_nar_hash_path %s", path, res.output, ours);
	nm_run_result_free(&res);
}

/* Every mode from 0000 to 0777 in steps that flip each execute bit alone and together; Nix
 * marks a file executable by its owner's bit, so 0645 and 0654 hash like 0644. */
static void execute_bits_agree(void **state)
{
	_cleanup_free_ char *top = at("modes");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	static const mode_t modes[] = {0644, 0755, 0700, 0744, 0645, 0654, 0111, 0100, 0010, 0001, 0444, 0600, 0777, 0};
	for (size_t i = 0; i < NM_ELEMENTSOF(modes); i++) {
		char name[32];
		snprintf(name, sizeof name, "f%04o", (unsigned)modes[i]);
		make_file(fd, name, i % 2 ? "#!/bin/sh\nexit 0\n" : "", modes[i]);
		_cleanup_free_ char *one = nm_strdup_printf("%s/%s", top, name);
		expect_same_as_nix(one); /* the file alone: the top node of the archive */
	}
	close(fd);
	expect_same_as_nix(top);
}

static void symlinks_to_anything_agree(void **state)
{
	_cleanup_free_ char *top = at("links");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	int sub = make_dir(fd, "sub");
	make_file(sub, "file", "x\n", 0644);
	close(sub);
	char long_target[4001];
	memset(long_target, 'a', 4000);
	for (size_t i = 100; i < 4000; i += 100)
		long_target[i] = '/';
	long_target[4000] = '\0';
	const char *targets[][2] = {
	    {"dangling", "no/such/thing"},
	    {"absolute", "/etc/passwd"},
	    {"absolute-dangling", "/non-existent-48cujwe8ndf4as0bne"},
	    {"to-dir", "sub"},
	    {"to-dot", "."},
	    {"to-parent", ".."},
	    {"to-file", "sub/file"},
	    {"odd-bytes", "line\nbreak \xff\x01 tab\t"},
	    {"long", long_target},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(targets); i++) {
		assert_int_equal(symlinkat(targets[i][1], fd, targets[i][0]), 0);
		_cleanup_free_ char *one = nm_strdup_printf("%s/%s", top, targets[i][0]);
		expect_same_as_nix(one); /* a symlink as the top node is not followed */
	}
	close(fd);
	expect_same_as_nix(top);
}

static void empty_directories_agree(void **state)
{
	_cleanup_free_ char *top = at("empty");
	assert_int_equal(mkdir(top, 0755), 0);
	expect_same_as_nix(top);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	int a = make_dir(fd, "a");
	close(make_dir(a, "b"));
	close(make_dir(a, "c"));
	close(a);
	close(make_dir(fd, "z"));
	make_file(fd, "m", "", 0644);
	close(fd);
	expect_same_as_nix(top);
}

/* Names of one byte (every value but NUL, '/' and '.'), of that byte before and after letters
 * (so '.' is in too), and of high bytes that sort after ASCII (bytewise, not by locale). */
static void names_with_every_byte_agree(void **state)
{
	_cleanup_free_ char *top = at("names");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int b = 1; b < 256; b++) {
		if (b == '/')
			continue;
		char single[2] = {(char)b, 0}, before[3] = {(char)b, 'n', 0}, after[4] = {'q', 'q', (char)b, 0};
		if (b != '.')
			make_file(fd, single, single, b % 3 ? 0644 : 0755);
		make_file(fd, before, "b", 0644);
		if (b % 2)
			close(make_dir(fd, after));
		else
			assert_int_equal(symlinkat(before, fd, after), 0);
	}
	close(fd);
	expect_same_as_nix(top);
}

static void deep_nesting_agrees(void **state)
{
	_cleanup_free_ char *top = at("deep");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int level = 0; level < 300; level++) {
		/* a sibling at each level, so the walk comes back up through every one */
		make_file(fd, level % 2 ? "a-file" : "z-file", "level\n", 0644);
		int next = make_dir(fd, "d");
		close(fd);
		fd = next;
	}
	make_file(fd, "bottom", "the end\n", 0755);
	close(fd);
	expect_same_as_nix(top);
}

static void ten_thousand_entries_agree(void **state)
{
	_cleanup_free_ char *top = at("many");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int i = 0; i < 10000; i++) {
		char name[32], text[32];
		/* not created in sorted order: the hash must not depend on the directory's own order */
		snprintf(name, sizeof name, "entry-%d", (i * 7919) % 10000);
		snprintf(text, sizeof text, "%d\n", i);
		make_file(fd, name, text, i % 10 ? 0644 : 0755);
	}
	close(fd);
	expect_same_as_nix(top);
}

static void sparse_two_gib_file_agrees(void **state)
{
	_cleanup_free_ char *top = at("sparse");
	assert_int_equal(mkdir(top, 0755), 0);
	_cleanup_free_ char *file = at("sparse/disk.img");
	int fd = open(file, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "MBR", 3, 510), 3);
	assert_int_equal(ftruncate(fd, 2ll << 30), 0);
	close(fd);
	expect_same_as_nix(top);
}

static void all_together_agree(void **state)
{
	expect_same_as_nix(work);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(execute_bits_agree),	  cmocka_unit_test(symlinks_to_anything_agree),
	    cmocka_unit_test(empty_directories_agree),	  cmocka_unit_test(names_with_every_byte_agree),
	    cmocka_unit_test(deep_nesting_agrees),	  cmocka_unit_test(ten_thousand_entries_agree),
	    cmocka_unit_test(sparse_two_gib_file_agrees), cmocka_unit_test(all_together_agree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
