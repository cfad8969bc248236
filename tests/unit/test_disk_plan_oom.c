/* test_disk_plan_oom.c: out of memory while reading a plan back from its JSON (the state file of
 * a resumed install). The test is linked with --wrap for the allocators the libraries call
 * (malloc, calloc, realloc, strdup, strndup, vasprintf), so the Nth allocation can be made to fail;
 * for every N up to the count a whole parse needs, disk_plan_from_json either succeeds or returns
 * a negative code with the error record filled, and leaves nothing to leak (ASan checks that). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "disk/disk.h"

/* ---- the failing allocator: armed only around the call under test ---- */

static long allocations_left = -1; /* -1: never fail; 0: the next allocation fails */
static long allocations_seen;

static bool allocation_fails(void)
{
	allocations_seen++;
	if (allocations_left < 0)
		return false;
	return allocations_left-- == 0;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);

void *__wrap_malloc(size_t n)
{
	return allocation_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return allocation_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return allocation_fails() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return allocation_fails() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return allocation_fails() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	if (allocation_fails()) {
		*out = NULL;
		return -1;
	}
	return __real_vasprintf(out, fmt, ap);
}

/* A two-disk mirror: partitions, an array and filesystems, so every part of the parser runs. */
static json_object *mirror_plan_json(void)
{
	struct disk_inventory inv = {0};
	inv.disks = calloc(2, sizeof *inv.disks);
	assert_non_null(inv.disks);
	const char *names[] = {"sda", "sdb"};
	for (size_t i = 0; i < 2; i++) {
		struct disk_info *d = &inv.disks[inv.n_disks++];
		d->name = strdup(names[i]);
		d->path = nm_strdup_printf("/dev/%s", names[i]);
		d->serial = nm_strdup_printf("SERIAL%zu", i);
		d->model = strdup("Test Disk");
		d->transport = strdup("sata");
		d->size_bytes = 64ull << 30;
		d->logical_sector_size = d->physical_sector_size = 512;
		d->signatures = nm_strv_new();
		d->in_use = nm_strv_new();
		d->eligible = true;
	}
	_cleanup_disk_config_ struct disk_config cfg = {0};
	_cleanup_disk_plan_ struct disk_plan plan = {0};
	struct nm_error e = {0};
	assert_int_equal(disk_config_init(&cfg), 0);
	assert_int_equal(disk_config_set_disks(&cfg, "sda,sdb", &e), 0);
	assert_int_equal(disk_plan_make(&inv, &cfg, true, &plan, &e), 0);
	assert_true(plan.n_arrays > 0);
	json_object *o = disk_plan_to_json(&plan);
	assert_non_null(o);
	disk_inventory_free(&inv);
	return o;
}

static void plan_from_json_fills_the_record_on_every_failed_allocation(void **state)
{
	(void)state;
	_cleanup_json_ json_object *o = mirror_plan_json();

	/* How many allocations a whole parse makes: the failures below cover each of them. */
	allocations_seen = 0;
	{
		_cleanup_disk_plan_ struct disk_plan plan = {0};
		struct nm_error e = {0};
		assert_int_equal(disk_plan_from_json(o, &plan, &e), 0);
	}
	long total = allocations_seen;
	assert_true(total > 10);

	long failed = 0;
	for (long n = 0; n < total; n++) {
		_cleanup_disk_plan_ struct disk_plan plan = {0};
		struct nm_error e = {0};
		allocations_left = n;
		int r = disk_plan_from_json(o, &plan, &e);
		allocations_left = -1;
		if (r < 0) {
			failed++;
			assert_int_equal(e.code, -ENOMEM);
			assert_true(e.msg[0] != '\0');
			assert_non_null(strstr(e.msg, "out of memory"));
		} else {
			assert_int_equal(r, 0);
		}
	}
	/* Each allocation the parser makes is one it needs: failing it must fail the parse. */
	assert_int_equal(failed, total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plan_from_json_fills_the_record_on_every_failed_allocation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
