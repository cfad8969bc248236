/* test_disk_identity.c: a planned disk is known by what it is, not by its kernel name. Against a
 * --root tree built per run (one SATA-like disk sdq with serial, WWN, model, size, sector size and
 * diskseq): the plan records every field, the check passes for the same disk and refuses each
 * field changed alone, naming the disk, the field, both values and "run plan again"; a plan
 * without a serial is still identified by the other fields, a record with nothing but a name or
 * a disk that is gone is refused. The guard checks the descriptor it opens (a real loop device,
 * when this runs as root) and never writes through a --root tree. The install/resume paths on
 * real loop devices are tests/integration/install_disk_identity.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "disk/ops-internal.h"

static char root[64];

static void put(const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void drop(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	unlink(p);
}

/* sdq as sysfs shows a SATA disk: 8 GiB, 512-byte sectors, serial, WWN, model, diskseq 42. */
static void make_sdq(void)
{
	put("sys/block/sdq/dev", "8:64\n");
	put("sys/block/sdq/size", "16777216\n");
	put("sys/block/sdq/removable", "0\n");
	put("sys/block/sdq/queue/logical_block_size", "512\n");
	put("sys/block/sdq/device/model", "Test Model      \n");
	put("sys/block/sdq/device/serial", "SER123\n");
	put("sys/block/sdq/device/wwid", "naa.5000c500a1b2c3d4\n");
	put("sys/block/sdq/diskseq", "42\n");
}

static int make_tree(void **state)
{
	strcpy(root, "/tmp/nmmm-test-disk-identity-XXXXXX");
	assert_non_null(mkdtemp(root));
	make_sdq();
	put("proc/self/mountinfo", "22 1 254:0 / / rw - ext4 /dev/vda rw\n");
	put("proc/swaps", "Filename Type Size Used Priority\n");
	return 0;
}

static int remove_tree(void **state)
{
	const char *argv[] = {"rm", "-rf", root, NULL};
	return nm_run(argv, NULL, NULL, NULL);
}

/* Each test starts from the same sdq and leaves it so. */
static int reset_sdq(void **state)
{
	make_sdq();
	return 0;
}

struct planned {
	struct disk_inventory inv;
	struct disk_config cfg;
	struct disk_plan plan;
};

/* The plan `install --disks sdq` makes for the tree, as the planner makes it. */
static void plan_sdq(struct planned *p)
{
	struct nm_error e = {0};
	assert_int_equal(disk_inventory_read(root, &p->inv, &e), 0);
	assert_int_equal(disk_config_init(&p->cfg), 0);
	assert_int_equal(disk_config_set_disks(&p->cfg, "sdq", &e), 0);
	assert_int_equal(disk_plan_make(&p->inv, &p->cfg, false, &p->plan, &e), 0);
}

static void planned_free(struct planned *p)
{
	disk_plan_free(&p->plan);
	disk_config_free(&p->cfg);
	disk_inventory_free(&p->inv);
}

static void assert_msg_has(const struct nm_error *e, const char *needle)
{
	if (!strstr(e->msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, needle);
}

static void the_plan_records_what_the_disk_is(void **state)
{
	struct planned p = {0};
	plan_sdq(&p);
	const struct disk_member_plan *m = &p.plan.disks[0];
	assert_string_equal(m->serial, "SER123");
	assert_string_equal(m->wwid, "naa.5000c500a1b2c3d4");
	assert_string_equal(m->model, "Test Model");
	assert_int_equal(m->size_bytes, 16777216ull * 512);
	assert_int_equal(m->logical_sector_size, 512);
	assert_int_equal(m->diskseq, 42);
	struct nm_error e = {0};
	assert_int_equal(disk_identity_check(&p.plan, root, &e), 0);
	planned_free(&p);
}

static void identity_check_refuses_each_field_changed_alone(void **state)
{
	static const struct {
		const char *file, *value, *field, *planned, *now;
	} cases[] = {
	    {"sys/block/sdq/device/serial", "SER999\n", "serial", "planned SER123", "now SER999"},
	    {"sys/block/sdq/device/wwid", "naa.5000c500ffffffff\n", "WWN", "planned naa.5000c500a1b2c3d4",
	     "now naa.5000c500ffffffff"},
	    {"sys/block/sdq/device/model", "Other Model\n", "model", "planned Test Model", "now Other Model"},
	    {"sys/block/sdq/size", "16779264\n", "size", "planned 8589934592 bytes, 16777216 sectors",
	     "now 8590983168 bytes, 16779264 sectors"},
	    {"sys/block/sdq/queue/logical_block_size", "4096\n", "logical sector size", "planned 512", "now 4096"},
	    {"sys/block/sdq/diskseq", "43\n", "diskseq", "planned 42", "now 43"},
	};
	struct planned p = {0};
	plan_sdq(&p);
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		put(cases[i].file, cases[i].value);
		struct nm_error e = {0};
		assert_true(disk_identity_check(&p.plan, root, &e) < 0);
		assert_int_equal(nm_exit_code(&e), 3);
		char what[64];
		snprintf(what, sizeof what, "sdq: %s changed since the plan was made", cases[i].field);
		assert_msg_has(&e, what);
		assert_msg_has(&e, cases[i].planned);
		assert_msg_has(&e, cases[i].now);
		assert_msg_has(&e, "run plan again");
		make_sdq();
		struct nm_error ok = {0};
		assert_int_equal(disk_identity_check(&p.plan, root, &ok), 0);
	}
	planned_free(&p);
}

/* A loop device or a virtual disk has no serial: diskseq, size and sector size still tell. */
static void a_plan_without_a_serial_is_identified_by_the_other_fields(void **state)
{
	drop("sys/block/sdq/device/serial");
	drop("sys/block/sdq/device/wwid");
	struct planned p = {0};
	plan_sdq(&p);
	assert_null(p.plan.disks[0].serial);
	assert_null(p.plan.disks[0].wwid);
	struct nm_error e = {0};
	assert_int_equal(disk_identity_check(&p.plan, root, &e), 0);

	put("sys/block/sdq/diskseq", "57\n");
	struct nm_error seq = {0};
	assert_true(disk_identity_check(&p.plan, root, &seq) < 0);
	assert_int_equal(nm_exit_code(&seq), 3);
	assert_msg_has(&seq, "sdq: diskseq changed since the plan was made (planned 42, now 57)");
	put("sys/block/sdq/diskseq", "42\n");

	/* A disk that reports a serial where the planned one had none is another disk. */
	put("sys/block/sdq/device/serial", "NEW1\n");
	struct nm_error serial = {0};
	assert_true(disk_identity_check(&p.plan, root, &serial) < 0);
	assert_msg_has(&serial, "sdq: serial changed since the plan was made (planned none, now NEW1)");
	drop("sys/block/sdq/device/serial");

	/* Without diskseq (a kernel before 5.15) the size still tells. */
	drop("sys/block/sdq/diskseq");
	p.plan.disks[0].diskseq = 0;
	struct nm_error ok = {0};
	assert_int_equal(disk_identity_check(&p.plan, root, &ok), 0);
	put("sys/block/sdq/size", "33554432\n");
	struct nm_error size = {0};
	assert_true(disk_identity_check(&p.plan, root, &size) < 0);
	assert_msg_has(&size, "sdq: size changed");
	planned_free(&p);
}

static void a_record_with_only_a_name_is_refused(void **state)
{
	struct disk_member_plan m = {.name = "sdq", .path = "/dev/sdq"};
	struct disk_plan plan = {.disks = &m, .n_disks = 1};
	struct nm_error e = {0};
	assert_true(disk_identity_check(&plan, root, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_msg_has(&e, "sdq: the plan records nothing that identifies this disk");
	assert_msg_has(&e, "run plan again");
}

static void a_planned_disk_that_is_gone_is_refused(void **state)
{
	struct disk_member_plan m = {.name = "sdgone", .path = "/dev/sdgone", .serial = "GONE1", .size_bytes = 1 << 30};
	struct disk_plan plan = {.disks = &m, .n_disks = 1};
	struct nm_error e = {0};
	assert_true(disk_identity_check(&plan, root, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_msg_has(&e, "sdgone: the planned disk (serial GONE1) is not here any more");
	assert_msg_has(&e, "run plan again");
}

/* The library itself never writes through a tree: its tools open the running system's /dev. */
static void writes_never_go_through_a_root_tree(void **state)
{
	struct nm_error e = {0};
	assert_int_equal(disk_host_root_check("/", "layout", &e), 0);
	assert_int_equal(disk_host_root_check("//", "layout", &e), 0);
	assert_int_equal(disk_host_root_check(NULL, "layout", &e), 0);
	assert_true(disk_host_root_check(root, "layout", &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_msg_has(&e, "layout: refused under --root");

	/* A node in the tree the guard accepts (sdq is planned) is still not written. */
	char node[128];
	snprintf(node, sizeof node, "%s/dev", root);
	mkdir(node, 0755);
	snprintf(node, sizeof node, "%s/dev/sdq", root);
	if (mknod(node, S_IFBLK | 0600, makedev(8, 64)) < 0 && errno != EEXIST)
		skip();
	put("sys/dev/block/.keep", "");
	char link[128];
	snprintf(link, sizeof link, "%s/sys/dev/block/8:64", root);
	assert_int_equal(symlink("../../block/sdq", link) == 0 || errno == EEXIST, 1);
	struct planned p = {0};
	plan_sdq(&p);
	struct nm_error guarded = {0};
	assert_int_equal(guard_check(root, &p.plan, "/dev/sdq", NULL, 0, &guarded), 0);
	const char *argv[] = {"true", NULL};
	struct nm_error run = {0};
	assert_true(guard_run(root, &p.plan, "/dev/sdq", argv, &run) < 0);
	assert_int_equal(nm_exit_code(&run), 3);
	assert_msg_has(&run, "/dev/sdq: refused under --root");
	struct nm_error open = {0};
	assert_true(guard_open(root, &p.plan, "/dev/sdq", &open) < 0);
	assert_int_equal(nm_exit_code(&open), 3);
	assert_msg_has(&open, "/dev/sdq: refused under --root");
	planned_free(&p);
}

/* ---- the guard's descriptor, on a real loop device ---- */

static char loop_image[64];
static char *loop_dev; /* attached by the test, detached by its teardown whatever happened */

static char *attach_loop(void)
{
	strcpy(loop_image, "/dev/shm/nmmm-test-identity-XXXXXX");
	int fd = mkstemp(loop_image);
	if (fd < 0)
		return NULL;
	int ok = ftruncate(fd, 16 << 20) == 0;
	close(fd);
	const char *argv[] = {"losetup", "--find", "--show", loop_image, NULL};
	struct nm_run_result res = {0};
	struct nm_run_opts ro = {.allow_failure = true, .timeout_sec = 30};
	struct nm_error e = {0};
	char *dev = NULL;
	if (ok && nm_run(argv, &ro, &res, &e) == 0 && res.exit_status == 0 && strncmp(res.output, "/dev/loop", 9) == 0)
		dev = strndup(res.output, strcspn(res.output, "\n"));
	nm_run_result_free(&res);
	if (!dev)
		unlink(loop_image);
	return dev;
}

static int detach_loop(void **state)
{
	if (!loop_dev)
		return 0;
	const char *argv[] = {"losetup", "-d", loop_dev, NULL};
	struct nm_error e = {0};
	int r = nm_run(argv, NULL, NULL, &e);
	unlink(loop_image);
	free(loop_dev);
	loop_dev = NULL;
	return r;
}

static void guard_open_checks_the_descriptor_it_opens(void **state)
{
	if (geteuid() != 0)
		skip();
	const char *dev = loop_dev = attach_loop();
	if (!dev)
		skip(); /* no free loop device or no loop driver here */
	const char *name = dev + strlen("/dev/");
	struct disk_inventory inv = {0};
	struct nm_error e = {0};
	assert_int_equal(disk_inventory_read("/", &inv, &e), 0);
	const struct disk_info *d = disk_find(&inv, name);
	assert_non_null(d);
	struct disk_member_plan m = {
	    .name = d->name,
	    .path = d->path,
	    .size_bytes = d->size_bytes,
	    .logical_sector_size = d->logical_sector_size,
	    .diskseq = d->diskseq,
	};
	struct disk_plan plan = {.disks = &m, .n_disks = 1};
	int fd = guard_open("/", &plan, dev, &e);
	assert_true(fd >= 0);
	close(fd);

	/* Sysfs can agree and the descriptor still not: the open itself is compared. */
	if (d->diskseq) {
		m.diskseq = d->diskseq + 1;
		struct nm_error seq = {0};
		assert_true(guard_open("/", &plan, dev, &seq) < 0);
		assert_int_equal(nm_exit_code(&seq), 3);
		assert_msg_has(&seq, "diskseq changed since the plan was made");
		assert_msg_has(&seq, "run plan again");
		m.diskseq = d->diskseq;
	}
	m.size_bytes = d->size_bytes + (1 << 20);
	struct nm_error size = {0};
	assert_true(guard_open("/", &plan, dev, &size) < 0);
	assert_int_equal(nm_exit_code(&size), 3);
	assert_msg_has(&size, ": size changed since the plan was made");
	disk_inventory_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(the_plan_records_what_the_disk_is, reset_sdq),
	    cmocka_unit_test_setup(identity_check_refuses_each_field_changed_alone, reset_sdq),
	    cmocka_unit_test_setup(a_plan_without_a_serial_is_identified_by_the_other_fields, reset_sdq),
	    cmocka_unit_test_setup(a_record_with_only_a_name_is_refused, reset_sdq),
	    cmocka_unit_test_setup(a_planned_disk_that_is_gone_is_refused, reset_sdq),
	    cmocka_unit_test_setup(writes_never_go_through_a_root_tree, reset_sdq),
	    cmocka_unit_test_teardown(guard_open_checks_the_descriptor_it_opens, detach_loop),
	};
	return cmocka_run_group_tests(tests, make_tree, remove_tree);
}
