/* sysfs_tree.h: helpers shared by the unit tests that read machine trees (test_net_*.c,
 * test_agent_machine.c, test_disk_modules.c): the path of a fixture tree, warning lookup, and
 * small sysfs-shaped trees built in a temporary directory for the rules the fixture machines do
 * not cover. Include after <cmocka.h>. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"

static char tmp[64]; /* the tree of the running test, made by tree_make */

static inline void fixture_root(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/root", NMMM_FIXTURES, name);
}

static inline bool has_warning(char *const *w, const char *part)
{
	for (size_t i = 0; w && w[i]; i++)
		if (strstr(w[i], part))
			return true;
	return false;
}

static inline void mkdir_p(const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	mkdir(buf, 0755);
}

/* Writes rel (root-relative) under the test tree, making its directories. */
static inline void put_bytes(const char *rel, const void *data, size_t len)
{
	char path[1024], dir[1024];
	snprintf(path, sizeof path, "%s%s", tmp, rel);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdir_p(dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static inline void put_text(const char *rel, const char *text)
{
	put_bytes(rel, text, strlen(text));
}

/* Writes rel with up to 3000 random bytes (srandom() first for a fixed seed): mostly text the
 * parsers look for, some raw bytes, often no newline at all. */
static inline void put_garbage(const char *rel)
{
	size_t len = (size_t)(random() % 3000);
	char *buf = malloc(len + 1);
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++) {
		long k = random() % 10;
		buf[i] = k < 3 ? " \t\n:/%|-"[random() % 9]
		    : k < 8    ? "0123456789abcdefABCDEF"[random() % 22]
			       : (char)(random() % 256);
	}
	put_bytes(rel, buf, len);
	free(buf);
}

static inline int tree_make(void **state)
{
	strcpy(tmp, "/tmp/nmmm-tree-test-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static inline int tree_remove(void **state)
{
	const char *argv[] = {"rm", "-rf", tmp, NULL};
	return nm_run(argv, NULL, NULL, NULL) == 0 ? 0 : -1;
}
