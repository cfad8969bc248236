/* nar_work_dir.h: the temporary directory the NAR hash tests (test_img_nar.c,
 * test_img_nar_nix.c) build their trees in, made before the group and removed after it.
 * Include after <cmocka.h>. */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "common/common.h"

static char work[64];

static int setup(void **state)
{
	strcpy(work, "/tmp/nmmm-test-nar-XXXXXX");
	return mkdtemp(work) ? 0 : -1;
}

static int teardown(void **state)
{
	const char *argv[] = {"rm", "-rf", work, NULL};
	struct nm_error e = {0};
	struct nm_run_result res;
	int r = nm_run(argv, NULL, &res, &e);
	nm_run_result_free(&res);
	return r;
}

/* WORK/name, malloc'd */
static char *at(const char *name)
{
	return nm_strdup_printf("%s/%s", work, name);
}
