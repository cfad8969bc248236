/* test_disk_ops.c: the read-only half of the destructive disk phases, against a synthetic
 * --root tree built per run: the storage stack from sysfs (partitions, holders, depths, the
 * partitions of arrays), LVM dm names and pvs reports, the teardown refusals (mounts outside the
 * target with mountinfo escapes, foreign mounts on the target, arrays and volume groups reaching
 * a disk outside the plan), the md-driver check and the resync limit restore. Real teardown/wipe/layout on loop devices is
 * in tests/integration/disk_*.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cmocka.h>

#include "disk/ops-internal.h"

static char root[64];

static void put(const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	/* mkdir -p the parent */
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	if (content) {
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs(content, f);
		fclose(f);
	} else {
		mkdir(p, 0755);
	}
}

static void link_to(const char *rel, const char *target)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

/* A block device in the tree: its sysfs directory (dev, holders/slaves as given), the
 * /sys/dev/block and /sys/class/block links the guard resolves names by. */
static void blockdev(const char *sysdir, const char *devnum)
{
	char rel[256], target[256];
	const char *name = strrchr(sysdir, '/') + 1;
	snprintf(rel, sizeof rel, "sys/%s/dev", sysdir);
	snprintf(target, sizeof target, "%s\n", devnum);
	put(rel, target);
	snprintf(rel, sizeof rel, "sys/dev/block/%s", devnum);
	snprintf(target, sizeof target, "../../%s", sysdir);
	link_to(rel, target);
	snprintf(rel, sizeof rel, "sys/class/block/%s", name);
	link_to(rel, target);
}

static void partition_of(const char *sysdir, unsigned number, const char *devnum)
{
	char rel[256], n[16];
	snprintf(rel, sizeof rel, "sys/%s/partition", sysdir);
	snprintf(n, sizeof n, "%u\n", number);
	put(rel, n);
	blockdev(sysdir, devnum);
}

static void holder(const char *lower_sysdir, const char *upper)
{
	char rel[256];
	snprintf(rel, sizeof rel, "sys/%s/holders/%s", lower_sysdir, upper);
	put(rel, NULL);
	const char *lower = strrchr(lower_sysdir, '/') + 1;
	snprintf(rel, sizeof rel, "sys/block/%s/slaves/%s", upper, lower);
	put(rel, NULL);
}

/* sdt and sds (planned together): md126 over sdt1 and sds1, partitioned (md126p1), LUKS (dm-5)
 * on md126p1. sdv (planned) and sdu (never planned): md7 over sdv1 and sdu1, LUKS (dm-7) on md7;
 * sdv2 and sdu2 are LVM PVs (see the pvs output below). This host has no md and no
 * device-mapper, so these exist as sysfs shapes only — the shapes the kernel gives them. */
static void make_spanning_and_partitioned_arrays(void)
{
	blockdev("block/sdt", "8:64");
	partition_of("block/sdt/sdt1", 1, "8:65");
	blockdev("block/sds", "8:80");
	partition_of("block/sds/sds1", 1, "8:81");
	blockdev("block/md126", "9:126");
	holder("block/sdt/sdt1", "md126");
	holder("block/sds/sds1", "md126");
	partition_of("block/md126/md126p1", 1, "259:0");
	blockdev("block/dm-5", "253:5");
	put("sys/block/dm-5/dm/name", "secret\n");
	put("sys/block/dm-5/dm/uuid", "CRYPT-LUKS2-0f0e0d0c0b0a09080706050403020100-secret\n");
	holder("block/md126/md126p1", "dm-5");

	blockdev("block/sdv", "8:96");
	partition_of("block/sdv/sdv1", 1, "8:97");
	partition_of("block/sdv/sdv2", 2, "8:98");
	blockdev("block/sdu", "8:112");
	partition_of("block/sdu/sdu1", 1, "8:113");
	partition_of("block/sdu/sdu2", 2, "8:114");
	blockdev("block/md7", "9:7");
	holder("block/sdv/sdv1", "md7");
	holder("block/sdu/sdu1", "md7");
	blockdev("block/dm-7", "253:7");
	put("sys/block/dm-7/dm/name", "vault\n");
	put("sys/block/dm-7/dm/uuid", "CRYPT-LUKS2-00112233445566778899aabbccddeeff-vault\n");
	holder("block/md7", "dm-7");
}

/* sdx and sdy: one partition each, an md array over both partitions, a dm device on the array;
 * sdx2 holds dm-1 directly. sdz: one plain partition, used for the mount checks. */
static int make_tree(void **state)
{
	strcpy(root, "/tmp/nmmm-test-disk-ops-XXXXXX");
	assert_non_null(mkdtemp(root));
	put("sys/block/sdx/dev", "8:0\n");
	put("sys/block/sdx/size", "4194304\n");
	put("sys/block/sdx/sdx1/partition", "1\n");
	put("sys/block/sdx/sdx1/dev", "8:1\n");
	put("sys/block/sdx/sdx1/start", "2048\n");
	put("sys/block/sdx/sdx1/size", "204800\n");
	put("sys/block/sdx/sdx1/holders/md127", NULL);
	put("sys/block/sdx/sdx2/partition", "2\n");
	put("sys/block/sdx/sdx2/dev", "8:2\n");
	put("sys/block/sdx/sdx2/holders/dm-1", NULL);
	put("sys/block/sdy/dev", "8:16\n");
	put("sys/block/sdy/sdy1/partition", "1\n");
	put("sys/block/sdy/sdy1/dev", "8:17\n");
	put("sys/block/sdy/sdy1/holders/md127", NULL);
	put("sys/block/md127/dev", "9:127\n");
	put("sys/block/md127/holders/dm-0", NULL);
	put("sys/block/dm-0/dev", "253:0\n");
	put("sys/block/dm-0/holders", NULL);
	put("sys/block/dm-1/dev", "253:1\n");
	put("sys/block/sdz/dev", "8:32\n");
	put("sys/block/sdz/sdz1/partition", "1\n");
	put("sys/block/sdz/sdz1/dev", "8:33\n");
	put("sys/dev/block/.keep", "");
	link_to("sys/dev/block/8:32", "../../block/sdz");
	put("sys/class/block/.keep", "");
	link_to("sys/class/block/sdz", "../../block/sdz");
	link_to("sys/class/block/sdz1", "../../block/sdz/sdz1");
	/* sdw: a disk outside every plan here; md5 spans sdz1 and sdw1. */
	put("sys/block/sdw/dev", "8:48\n");
	put("sys/block/sdw/sdw1/partition", "1\n");
	put("sys/block/sdw/sdw1/dev", "8:49\n");
	link_to("sys/dev/block/8:33", "../../block/sdz/sdz1");
	link_to("sys/dev/block/8:48", "../../block/sdw");
	link_to("sys/dev/block/8:49", "../../block/sdw/sdw1");
	link_to("sys/class/block/sdw", "../../block/sdw");
	link_to("sys/class/block/sdw1", "../../block/sdw/sdw1");
	put("sys/block/md5/dev", "9:5\n");
	put("sys/block/md5/slaves/sdz1", NULL);
	put("sys/block/md5/slaves/sdw1", NULL);
	link_to("sys/dev/block/9:5", "../../block/md5");
	link_to("sys/class/block/md5", "../../block/md5");
	make_spanning_and_partitioned_arrays();
	return 0;
}

static int remove_tree(void **state)
{
	const char *argv[] = {"rm", "-rf", root, NULL};
	return nm_run(argv, NULL, NULL, NULL);
}

static struct disk_member_plan members[2];
static struct disk_plan plan_of(const char *a, const char *b)
{
	memset(members, 0, sizeof members);
	members[0].name = (char *)a;
	members[0].path = nm_strdup_printf("/dev/%s", a);
	members[1].name = (char *)b;
	members[1].path = b ? nm_strdup_printf("/dev/%s", b) : NULL;
	return (struct disk_plan){.disks = members, .n_disks = b ? 2 : 1};
}

static void free_plan_paths(void)
{
	free(members[0].path);
	free(members[1].path);
}

static void stack_has_partitions_and_holders_at_their_depth(void **state)
{
	struct disk_plan plan = plan_of("sdx", "sdy");
	struct disk_stack st;
	struct nm_error e = {0};
	assert_int_equal(stack_read(root, &plan, &st, &e), 0);
	const struct stack_dev *p = stack_find(&st, "sdx1");
	assert_non_null(p);
	assert_int_equal(p->kind, STACK_PART);
	assert_int_equal(p->partno, 1);
	assert_int_equal(p->start, 2048ull * 512);
	assert_int_equal(p->size, 204800ull * 512);
	assert_string_equal(p->disk, "sdx");
	const struct stack_dev *md = stack_find(&st, "md127");
	assert_non_null(md);
	assert_int_equal(md->kind, STACK_MD);
	assert_int_equal(md->depth, 2);
	const struct stack_dev *dm = stack_find(&st, "dm-0");
	assert_non_null(dm);
	assert_int_equal(dm->kind, STACK_DM);
	assert_int_equal(dm->depth, 3); /* above the array: closed before it */
	assert_ptr_equal(stack_find_devnum(&st, 253, 0), dm);
	assert_non_null(stack_find(&st, "dm-1"));
	size_t arrays = 0;
	for (size_t i = 0; i < st.n; i++)
		arrays += strcmp(st.devs[i].name, "md127") == 0;
	assert_int_equal(arrays, 1); /* reached from both disks, listed once */
	assert_int_equal(st.devs[0].size, 4194304ull * 512);
	stack_free(&st);
	free_plan_paths();
}

static void stack_of_unknown_disk_is_a_usage_error(void **state)
{
	struct disk_plan plan = plan_of("nosuch0", NULL);
	struct disk_stack st;
	struct nm_error e = {0};
	assert_true(stack_read(root, &plan, &st, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 2);
	assert_non_null(strstr(e.msg, "nosuch0"));
	free_plan_paths();
}

static void lvm_vg_name_is_split_at_the_single_dash(void **state)
{
	char vg[64];
	assert_true(lvm_vg_from_dm_name("vg0-root", vg, sizeof vg));
	assert_string_equal(vg, "vg0");
	assert_true(lvm_vg_from_dm_name("my--vg-lv--x", vg, sizeof vg));
	assert_string_equal(vg, "my-vg");
	assert_false(lvm_vg_from_dm_name("nodash", vg, sizeof vg));
	assert_false(lvm_vg_from_dm_name("vg-", vg, sizeof vg));
	assert_false(lvm_vg_from_dm_name("-lv", vg, sizeof vg));
	assert_false(lvm_vg_from_dm_name("averyveryverylongvolumegroupname-lv", vg, 8));
}

/* The guard stats the device node: real block nodes (mknod) in the tree, when allowed. They
 * point at device numbers the fixture's sysfs describes; nothing ever opens them here. */
static bool make_node(const char *name, unsigned ma, unsigned mi)
{
	char p[512];
	snprintf(p, sizeof p, "%s/dev", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/dev/%s", root, name);
	return mknod(p, S_IFBLK | 0600, makedev(ma, mi)) == 0 || errno == EEXIST;
}

static bool make_sdz_node(void)
{
	return make_node("sdz", 8, 32);
}

static void guard_accepts_only_planned_disks_and_their_partitions(void **state)
{
	if (!make_node("sdz", 8, 32) || !make_node("sdz1", 8, 33) || !make_node("sdw", 8, 48) ||
	    !make_node("sdw1", 8, 49) || !make_node("md5", 9, 5))
		skip();
	struct disk_plan plan = plan_of("sdz", NULL);
	char name[64];
	struct nm_error e = {0};
	assert_int_equal(guard_check(root, &plan, "/dev/sdz1", name, sizeof name, &e), 0);
	assert_string_equal(name, "sdz1");
	assert_int_equal(guard_check(root, &plan, "/dev/sdz", NULL, 0, &e), 0);

	struct nm_error outside = {0};
	assert_true(guard_check(root, &plan, "/dev/sdw1", NULL, 0, &outside) < 0);
	assert_int_equal(nm_exit_code(&outside), 3);
	assert_non_null(strstr(outside.msg, "sits on sdw, which is not in the plan (planned: sdz)"));

	/* An array is written only when every member is on a planned disk. */
	struct nm_error spans = {0};
	assert_true(guard_check(root, &plan, "/dev/md5", NULL, 0, &spans) < 0);
	assert_int_equal(nm_exit_code(&spans), 3);
	assert_non_null(strstr(spans.msg, "sdw"));
	free_plan_paths();
	struct disk_plan both = plan_of("sdz", "sdw");
	struct nm_error ok = {0};
	assert_int_equal(guard_check(root, &both, "/dev/md5", NULL, 0, &ok), 0);
	free_plan_paths();
}

static void format_refuses_a_device_outside_the_plan_before_running_mkfs(void **state)
{
	if (!make_node("sdw1", 8, 49))
		skip();
	struct disk_plan plan = plan_of("sdz", NULL);
	struct disk_fs_plan fs = {
	    .device = "/dev/sdw1", .fstype = "ext4", .uuid = "0fc63daf-8483-4772-8e79-3d69d8477de4"};
	plan.filesystems = &fs;
	plan.n_filesystems = 1;
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	assert_true(disk_format(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3); /* refused by the guard, not a failed mkfs (1) */
	assert_non_null(strstr(e.msg, "not in the plan"));
	free_plan_paths();
}

static void teardown_refuses_mount_outside_target(void **state)
{
	if (!make_sdz_node())
		skip();
	struct disk_plan plan = plan_of("sdz", NULL);
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	put("proc/self/mountinfo",
	    "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
	    "40 22 8:33 / /srv\\040data rw,relatime - ext4 /dev/sdz1 rw\n");
	assert_true(disk_teardown_check(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_string_equal(e.msg,
			    "sdz: partition sdz1 is mounted at /srv data; unmount it or leave the disk out of --disks");
	free_plan_paths();
}

static void teardown_accepts_mounts_under_its_target(void **state)
{
	if (!make_sdz_node())
		skip();
	struct disk_plan plan = plan_of("sdz", NULL);
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	put("proc/self/mountinfo",
	    "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
	    "41 22 8:33 / /mnt/boot rw - ext4 /dev/sdz1 rw\n"
	    "42 22 8:34 / /mntx rw - ext4 /dev/other rw\n");
	assert_int_equal(disk_teardown_check(&plan, &o, &e), 0);
	/* /mntx is not under /mnt: a prefix of the name is not a parent directory. */
	assert_false(path_under("/mntx", "/mnt"));
	assert_true(path_under("/mnt/boot", "/mnt/"));
	free_plan_paths();
}

static void mountinfo(const char *extra)
{
	_cleanup_free_ char *text = nm_strdup_printf("22 1 254:0 / / rw - ext4 /dev/vda rw\n%s", extra);
	put("proc/self/mountinfo", text);
}

static bool make_array_nodes(void)
{
	return make_node("sdt", 8, 64) && make_node("sds", 8, 80) && make_node("md126", 9, 126) &&
	    make_node("dm-5", 253, 5) && make_node("sdv", 8, 96) && make_node("md7", 9, 7) && make_node("dm-7", 253, 7);
}

/* md126p1 and what sits on it are part of the planned disks' stack, above the array. */
static void stack_descends_into_partitions_of_arrays(void **state)
{
	struct disk_plan plan = plan_of("sdt", "sds");
	struct disk_stack st;
	struct nm_error e = {0};
	assert_int_equal(stack_read(root, &plan, &st, &e), 0);
	const struct stack_dev *md = stack_find(&st, "md126");
	const struct stack_dev *p = stack_find(&st, "md126p1");
	const struct stack_dev *luks = stack_find(&st, "dm-5");
	assert_non_null(md);
	assert_non_null(p);
	assert_non_null(luks);
	assert_int_not_equal(p->kind, STACK_PART); /* never deleted from sdt's own table */
	assert_true(p->depth > md->depth);
	assert_true(luks->depth > p->depth); /* closed before the array is stopped */
	assert_int_equal(luks->kind, STACK_DM);
	assert_ptr_equal(stack_find_devnum(&st, 259, 0), p);
	stack_free(&st);
	free_plan_paths();
}

static void teardown_refuses_mount_on_partition_of_array(void **state)
{
	if (!make_array_nodes())
		skip();
	struct disk_plan plan = plan_of("sdt", "sds");
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	mountinfo("40 22 259:0 / /srv/data rw - ext4 /dev/md126p1 rw\n");
	assert_true(disk_teardown_check(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_string_equal(e.msg,
			    "sdt: partition md126p1 is mounted at /srv/data; unmount it or leave the disk out "
			    "of --disks");
	struct nm_error luks = {0};
	mountinfo("40 22 253:5 / /srv/secret rw - ext4 /dev/mapper/secret rw\n");
	assert_true(disk_teardown_check(&plan, &o, &luks) < 0);
	assert_int_equal(nm_exit_code(&luks), 3);
	assert_non_null(strstr(luks.msg, "device-mapper device dm-5 is mounted at /srv/secret"));
	free_plan_paths();
}

/* LUKS on md126p1 over planned disks only: nothing is refused (the guard follows md126p1 down
 * through md126 to sdt1 and sds1). */
static void teardown_accepts_luks_on_partition_of_planned_array(void **state)
{
	if (!make_array_nodes())
		skip();
	struct disk_plan plan = plan_of("sdt", "sds");
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	mountinfo("");
	assert_int_equal(disk_teardown_check(&plan, &o, &e), 0);
	char name[64];
	assert_int_equal(guard_check(root, &plan, "/dev/dm-5", name, sizeof name, &e), 0);
	assert_string_equal(name, "dm-5");
	free_plan_paths();
}

/* md7 has a member (sdu1) on a disk outside the plan: refused before anything, and LUKS on md7
 * is never written either. */
static void teardown_refuses_array_with_member_on_unplanned_disk(void **state)
{
	if (!make_array_nodes())
		skip();
	struct disk_plan plan = plan_of("sdv", NULL);
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	mountinfo("");
	assert_true(disk_teardown_check(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_non_null(strstr(e.msg, "sdv: array md7 is stacked on it and"));
	assert_non_null(strstr(e.msg, "sits on sdu, which is not in the plan"));
	struct nm_error luks = {0};
	assert_true(guard_check(root, &plan, "/dev/dm-7", NULL, 0, &luks) < 0);
	assert_non_null(strstr(luks.msg, "sits on sdu, which is not in the plan"));
	free_plan_paths();
}

static void teardown_refuses_foreign_mount_on_target(void **state)
{
	if (!make_sdz_node())
		skip();
	struct disk_plan plan = plan_of("sdz", NULL);
	struct disk_run_opts o = {.root = root, .target = "/srv/target", .mounts_target = true};
	struct nm_error e = {0};
	mountinfo("41 22 0:52 / /srv/target rw - tmpfs tmpfs rw\n");
	assert_true(disk_teardown_check(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_string_equal(e.msg,
			    "target /srv/target: tmpfs is mounted at /srv/target and is not on a disk in the "
			    "plan; the new system is mounted there. Unmount it, or choose another --target");
	/* wipe mounts nothing there, and teardown leaves a target without planned mounts alone. */
	struct nm_error wipe = {0};
	o.mounts_target = false;
	assert_int_equal(disk_teardown_check(&plan, &o, &wipe), 0);
	/* Below the target, beside the agent's own mount of a planned partition: teardown would
	 * unmount it with the target tree, whoever calls. */
	struct nm_error below = {0};
	mountinfo("41 22 8:33 / /srv/target rw - ext4 /dev/sdz1 rw\n"
		  "42 41 8:49 / /srv/target/data rw - ext4 /dev/sdw1 rw\n");
	assert_true(disk_teardown_check(&plan, &o, &below) < 0);
	assert_int_equal(nm_exit_code(&below), 3);
	assert_non_null(strstr(below.msg, "target /srv/target: /dev/sdw1 is mounted at /srv/target/data"));
	/* The same mounts with another target: the one under /srv/target is now outside it. */
	struct nm_error other = {0};
	o.target = "/mnt";
	mountinfo("42 22 8:49 / /srv/target/data rw - ext4 /dev/sdw1 rw\n");
	assert_int_equal(disk_teardown_check(&plan, &o, &other), 0);
	free_plan_paths();
}

/* Captured from `pvs --readonly --reportformat json -o pv_name,vg_name,vg_uuid` (lvm2 2.03.16)
 * on a host without device-mapper, device names changed to the fixture's: LVM cannot activate
 * anything on this host, so pvs output is the stand-in for a live volume group (the loop-device
 * and VM tests run the real pvs). The warnings are what LVM prints on stderr, which nm_run
 * captures with the report. oldvg spans sdv2 (planned) and sdu2 (not); a second, unrelated
 * "oldvg" lives on sdu1 alone; sdv1 is a PV in no group. */
static const char pvs_output[] = "  /dev/mapper/control: open failed: No such device\n"
				 "  Failure to communicate with kernel device-mapper driver.\n"
				 "  {\n"
				 "      \"report\": [\n"
				 "          {\n"
				 "              \"pv\": [\n"
				 "                  {\"pv_name\":\"/dev/sdu1\", \"vg_name\":\"oldvg\", "
				 "\"vg_uuid\":\"ja1sr8-xhR5-wjfi-e415-bjrq-N6Ix-3wLmr9\"},\n"
				 "                  {\"pv_name\":\"/dev/sdu2\", \"vg_name\":\"oldvg\", "
				 "\"vg_uuid\":\"UWHjIX-hINs-gefc-pOLj-KLQD-2BvA-nNP7ZE\"},\n"
				 "                  {\"pv_name\":\"/dev/sdv1\", \"vg_name\":\"\", \"vg_uuid\":\"\"},\n"
				 "                  {\"pv_name\":\"/dev/sdv2\", \"vg_name\":\"oldvg\", "
				 "\"vg_uuid\":\"UWHjIX-hINs-gefc-pOLj-KLQD-2BvA-nNP7ZE\"}\n"
				 "              ]\n"
				 "          }\n"
				 "      ]\n"
				 "  }\n";

static void lvm_pvs_report_is_parsed_past_the_warnings(void **state)
{
	struct lvm_pvs pvs;
	struct nm_error e = {0};
	assert_int_equal(lvm_pvs_parse(pvs_output, &pvs, &e), 0);
	assert_int_equal(pvs.n, 4);
	assert_string_equal(pvs.v[1].pv_name, "/dev/sdu2");
	assert_string_equal(pvs.v[1].vg_name, "oldvg");
	assert_string_equal(pvs.v[1].vg_uuid, "UWHjIX-hINs-gefc-pOLj-KLQD-2BvA-nNP7ZE");
	assert_string_equal(pvs.v[2].vg_name, "");
	lvm_pvs_free(&pvs);
	struct nm_error none = {0};
	assert_true(lvm_pvs_parse("  WARNING: {locking} failed\n", &pvs, &none) < 0);
	assert_int_equal(nm_exit_code(&none), 1);
	assert_non_null(strstr(none.msg, "no JSON report"));
}

static void lvm_group_reaching_an_unplanned_disk_is_refused(void **state)
{
	struct disk_plan plan = plan_of("sdv", NULL);
	struct disk_stack st;
	struct lvm_pvs pvs;
	struct nm_error e = {0};
	assert_int_equal(stack_read(root, &plan, &st, &e), 0);
	assert_int_equal(lvm_pvs_parse(pvs_output, &pvs, &e), 0);
	assert_true(lvm_check_groups_in_plan(root, &st, &pvs, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_non_null(strstr(e.msg,
			       "sdv: LVM volume group oldvg has physical volume /dev/sdv2 on it and also "
			       "/dev/sdu2, which is not on a disk in the plan"));
	assert_non_null(strstr(e.msg, "Add that disk to --disks"));
	assert_null(strstr(e.msg, "sdu1")); /* the other "oldvg" is another group */
	stack_free(&st);
	free_plan_paths();

	/* With both disks planned, or with only the unrelated groups: nothing to refuse. */
	struct disk_plan both = plan_of("sdv", "sdu");
	struct nm_error ok = {0};
	assert_int_equal(stack_read(root, &both, &st, &ok), 0);
	assert_int_equal(lvm_check_groups_in_plan(root, &st, &pvs, &ok), 0);
	stack_free(&st);
	free_plan_paths();
	struct disk_plan other = plan_of("sdt", NULL);
	assert_int_equal(stack_read(root, &other, &st, &ok), 0);
	assert_int_equal(lvm_check_groups_in_plan(root, &st, &pvs, &ok), 0);
	stack_free(&st);
	free_plan_paths();
	lvm_pvs_free(&pvs);
}

static void raid_without_md_driver_fails_naming_the_fix(void **state)
{
	struct disk_array_plan array = {.name = "root", .device = "/dev/md/root"};
	struct disk_plan plan = {.arrays = &array, .n_arrays = 1};
	struct disk_run_opts o = {.root = root};
	struct nm_error e = {0};
	assert_true(disk_raid_check(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 1);
	assert_non_null(strstr(e.msg, "no md driver"));
	assert_non_null(strstr(e.msg, "/dev/md/root"));
	assert_non_null(strstr(e.msg, "choose a one-disk layout"));
	put("proc/mdstat", "Personalities : [raid1]\nunused devices: <none>\n");
	struct nm_error ok = {0};
	assert_int_equal(disk_raid_check(&plan, &o, &ok), 0);
	plan.n_arrays = 0;
	assert_int_equal(disk_raid(&plan, &o, &ok), 0); /* nothing planned: nothing done */
}

static void unthrottle_writes_back_the_saved_limit(void **state)
{
	put("proc/sys/dev/raid/speed_limit_max", "10000\n");
	struct disk_run_opts o = {.root = root};
	struct disk_raid_throttle t = {.saved = true, .speed_limit_max = 200000};
	struct nm_error e = {0};
	assert_int_equal(disk_raid_unthrottle(&o, &t, &e), 0);
	uint64_t v = 0;
	assert_int_equal(nm_read_u64(root, "/proc/sys/dev/raid/speed_limit_max", &v), 0);
	assert_int_equal(v, 200000);
	struct disk_raid_throttle none = {0};
	assert_int_equal(disk_raid_unthrottle(&o, &none, &e), 0);
	assert_int_equal(nm_read_u64(root, "/proc/sys/dev/raid/speed_limit_max", &v), 0);
	assert_int_equal(v, 200000);
}

/* mounts.c reads mountinfo as the kernel writes it: space, tab, newline and backslash in a path
 * come as \040 \011 \012 \134; a bind mount shows its subtree in the root field and the same
 * device number as the mount it came from; a line without " - fstype source" keeps its device
 * number, source "none". */
static void mount_table_unescapes_paths_and_keeps_bind_mounts(void **state)
{
	put("proc/self/mountinfo",
	    "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
	    "40 22 8:33 / /srv/my\\040data rw,relatime shared:1 - ext4 /dev/sdz1 rw\n"
	    "41 22 8:33 /exports/a\\011b /mnt/bind\\012ed rw master:2 - ext4 /dev/sdz1 rw\n"
	    "42 22 0:52 / /srv/back\\134slash\\400 rw - tmpfs tmp\\040fs rw\n"
	    "43 22 0:53 / /odd rw\n"
	    "not a mount line\n");
	struct disk_mount_table t;
	struct nm_error e = {0};
	assert_int_equal(disk_mount_table_read(root, &t, &e), 0);
	assert_int_equal(t.n, 5);
	assert_int_equal(t.v[0].id, 22);
	assert_string_equal(t.v[0].mountpoint, "/");
	assert_string_equal(t.v[0].fstype, "ext4");
	assert_string_equal(t.v[1].mountpoint, "/srv/my data");
	assert_string_equal(t.v[1].source, "/dev/sdz1");
	assert_int_equal(t.v[1].major, 8);
	assert_int_equal(t.v[1].minor, 33);
	/* the bind mount: the same device, its own mountpoint */
	assert_int_equal(t.v[2].id, 41);
	assert_int_equal(t.v[2].major, 8);
	assert_int_equal(t.v[2].minor, 33);
	assert_string_equal(t.v[2].mountpoint, "/mnt/bind\ned");
	assert_string_equal(t.v[2].source, "/dev/sdz1");
	/* \400 is no escape (above \377): kept as written */
	assert_string_equal(t.v[3].mountpoint, "/srv/back\\slash\\400");
	assert_string_equal(t.v[3].source, "tmp fs");
	assert_string_equal(t.v[3].fstype, "tmpfs");
	assert_string_equal(t.v[4].mountpoint, "/odd");
	assert_null(t.v[4].fstype);
	assert_string_equal(t.v[4].source, "none");
	assert_int_equal(t.v[4].minor, 53);
	disk_mount_table_free(&t);

	put("proc/swaps",
	    "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	    "/dev/sdz2                               partition\t1048572\t\t0\t\t-2\n"
	    "/swap\\040file\\011x                        file\t\t65532\t\t0\t\t-3\n");
	char **swaps = NULL;
	assert_int_equal(disk_swaps_read(root, &swaps, &e), 0);
	assert_int_equal(nm_strv_len(swaps), 2);
	assert_string_equal(swaps[0], "/dev/sdz2");
	assert_string_equal(swaps[1], "/swap file\tx");
	nm_strv_free(swaps);
	assert_int_equal(e.cls, NM_ERR_NONE);
}

/* A bind mount of a planned partition outside the target is a mount of that partition. */
static void teardown_refuses_bind_mount_of_planned_partition(void **state)
{
	if (!make_sdz_node())
		skip();
	struct disk_plan plan = plan_of("sdz", NULL);
	struct disk_run_opts o = {.root = root, .target = "/mnt"};
	struct nm_error e = {0};
	mountinfo("41 22 8:33 / /mnt rw - ext4 /dev/sdz1 rw\n"
		  "42 22 8:33 /home /srv/a\\011b rw - ext4 /dev/sdz1 rw\n");
	assert_true(disk_teardown_check(&plan, &o, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_string_equal(e.msg,
			    "sdz: partition sdz1 is mounted at /srv/a\tb; unmount it or leave the disk out of --disks");
	free_plan_paths();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stack_has_partitions_and_holders_at_their_depth),
	    cmocka_unit_test(stack_of_unknown_disk_is_a_usage_error),
	    cmocka_unit_test(lvm_vg_name_is_split_at_the_single_dash),
	    cmocka_unit_test(guard_accepts_only_planned_disks_and_their_partitions),
	    cmocka_unit_test(format_refuses_a_device_outside_the_plan_before_running_mkfs),
	    cmocka_unit_test(teardown_refuses_mount_outside_target),
	    cmocka_unit_test(teardown_accepts_mounts_under_its_target),
	    cmocka_unit_test(mount_table_unescapes_paths_and_keeps_bind_mounts),
	    cmocka_unit_test(teardown_refuses_bind_mount_of_planned_partition),
	    cmocka_unit_test(stack_descends_into_partitions_of_arrays),
	    cmocka_unit_test(teardown_refuses_mount_on_partition_of_array),
	    cmocka_unit_test(teardown_accepts_luks_on_partition_of_planned_array),
	    cmocka_unit_test(teardown_refuses_array_with_member_on_unplanned_disk),
	    cmocka_unit_test(teardown_refuses_foreign_mount_on_target),
	    cmocka_unit_test(lvm_pvs_report_is_parsed_past_the_warnings),
	    cmocka_unit_test(lvm_group_reaching_an_unplanned_disk_is_refused),
	    cmocka_unit_test(raid_without_md_driver_fails_naming_the_fix),
	    cmocka_unit_test(unthrottle_writes_back_the_saved_limit),
	};
	return cmocka_run_group_tests(tests, make_tree, remove_tree);
}
