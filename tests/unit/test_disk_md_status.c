/* test_disk_md_status.c: the md arrays as diagnose sees them in the rescue — /proc/mdstat as the
 * kernel prints it (Hetzner's rescue auto-assembling old arrays read-only as md124/md125, a
 * degraded mirror with a failed member, an inactive array holding a spare), the array_state of
 * sysfs, mdadm --detail --export's UUID and name — in small trees, and no md driver at all. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "disk/disk-internal.h"
#include "sysfs_tree.h"

static const char rescue_mdstat[] = "Personalities : [raid1] [raid0] [raid6] [raid5] [raid4] [raid10] \n"
				    "md124 : active (auto-read-only) raid1 nvme1n1p4[1] nvme0n1p4[0]\n"
				    "      1951852544 blocks super 1.2 [2/2] [UU]\n"
				    "      bitmap: 0/15 pages [0KB], 65536KB chunk\n"
				    "\n"
				    "md125 : active raid1 sdb4[1](F) sda4[0]\n"
				    "      976630464 blocks super 1.2 [2/1] [U_]\n"
				    "      \n"
				    "md126 : inactive sdc3[2](S)\n"
				    "      8380416 blocks super 1.2\n"
				    "       \n"
				    "unused devices: <none>\n";

static void rescue_arrays_parse(void **state)
{
	struct disk_md_status s = {0};
	assert_int_equal(disk_mdstat_parse(rescue_mdstat, &s), 0);
	assert_int_equal(s.n_arrays, 3);
	const struct disk_md_array *a = &s.arrays[0];
	assert_string_equal(a->name, "md124");
	assert_true(a->active);
	assert_true(a->readonly);
	assert_string_equal(a->level, "raid1");
	assert_int_equal(a->raid_disks, 2);
	assert_int_equal(a->working, 2);
	assert_int_equal(nm_strv_len(a->members), 2);
	assert_string_equal(a->members[0], "nvme1n1p4");
	assert_int_equal(nm_strv_len(a->failed), 0);
	a = &s.arrays[1];
	assert_false(a->readonly);
	assert_int_equal(a->working, 1);
	assert_int_equal(nm_strv_len(a->failed), 1);
	assert_string_equal(a->failed[0], "sdb4");
	a = &s.arrays[2];
	assert_string_equal(a->name, "md126");
	assert_false(a->active);
	assert_null(a->level);
	assert_int_equal(a->raid_disks, 0);
	assert_string_equal(a->members[0], "sdc3");
	disk_md_status_free(&s);
}

static void detail_export_gives_uuid_and_name(void **state)
{
	struct disk_md_array a = {0};
	assert_int_equal(disk_md_detail_parse("MD_LEVEL=raid1\nMD_DEVICES=2\nMD_METADATA=1.2\n"
					      "MD_UUID=3A0C21C4:5ce3c31d:8a2f6f63:2c5b7b8e\nMD_DEVNAME=root\n"
					      "MD_NAME=nmmm:root\nMD_DEVICE_dev_sda4_ROLE=0\n",
					      &a),
			 0);
	assert_string_equal(a.uuid, "3a0c21c4-5ce3-c31d-8a2f-6f632c5b7b8e");
	assert_string_equal(a.md_name, "nmmm:root");
	free(a.uuid);
	free(a.md_name);
	struct disk_md_array bad = {0};
	assert_int_equal(disk_md_detail_parse("MD_UUID=3a0c21c4:5ce3\n", &bad), 0);
	assert_null(bad.uuid);
}

static void tree_status_reads_mdstat_and_sysfs(void **state)
{
	put_text("/proc/mdstat", rescue_mdstat);
	put_text("/sys/block/md124/md/array_state", "read-auto\n");
	put_text("/sys/block/md124/md/uuid", "3a0c21c4-5ce3-c31d-8a2f-6f632c5b7b8e\n");
	struct disk_md_status s;
	struct nm_error e = {0};
	assert_int_equal(disk_md_status_read(tmp, &s, &e), 0);
	assert_true(s.driver);
	assert_int_equal(s.n_arrays, 3);
	assert_string_equal(s.arrays[0].array_state, "read-auto");
	assert_string_equal(s.arrays[0].uuid, "3a0c21c4-5ce3-c31d-8a2f-6f632c5b7b8e");
	assert_null(s.arrays[1].array_state);
	/* a tree is not the live machine: mdadm is not run to assemble anything */
	disk_md_status_free(&s);
	assert_int_equal(disk_md_assemble_readonly(tmp, &s, &e), 0);
	assert_false(s.assembled);
	assert_true(has_warning(s.notes, "already assembled"));
	json_object *o = disk_md_status_to_json(&s);
	assert_non_null(strstr(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			       "{\"name\":\"md125\",\"active\":true,\"readonly\":false,\"level\":\"raid1\","
			       "\"array_state\":null,\"raid_disks\":2,\"working\":1,\"members\":[\"sdb4\",\"sda4\"],"
			       "\"failed\":[\"sdb4\"],\"uuid\":null,\"md_name\":null}"));
	json_object_put(o);
	disk_md_status_free(&s);
}

/* No md driver (no /proc/mdstat): no arrays and nothing to say. A driver without arrays in a tree:
 * mdadm is not run (it would assemble the running system's disks, not the tree's). */
static void assembly_in_a_tree_runs_no_mdadm(void **state)
{
	static const struct {
		const char *mdstat;
		bool driver;
		const char *note;
	} cases[] = {{NULL, false, NULL}, {"Personalities : \nunused devices: <none>\n", true, "mdadm not run"}};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		if (cases[i].mdstat) /* after the case without it */
			put_text("/proc/mdstat", cases[i].mdstat);
		struct disk_md_status s;
		struct nm_error e = {0};
		assert_int_equal(disk_md_assemble_readonly(tmp, &s, &e), 0);
		assert_int_equal(s.driver, cases[i].driver);
		assert_int_equal(s.n_arrays, 0);
		assert_int_equal(nm_strv_len(s.notes), cases[i].note ? 1 : 0);
		if (cases[i].note)
			assert_true(has_warning(s.notes, cases[i].note));
		disk_md_status_free(&s);
	}
}

static void filesystems_of_a_tree_without_nodes(void **state)
{
	/* sysfs shows a disk with a partition, the tree has no device nodes: each is probed and
	 * says why nothing was found */
	put_text("/sys/block/sda/size", "2097152\n");
	put_text("/sys/block/sda/sda1/partition", "1\n");
	put_text("/sys/block/loop7/size", "0\n"); /* unattached: skipped */
	struct disk_fs_list l;
	struct nm_error e = {0};
	assert_int_equal(disk_filesystems_find(tmp, &l, &e), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(nm_strv_len(l.probed), 2);
	assert_true(has_warning(l.probed, "sda: cannot open"));
	assert_true(has_warning(l.probed, "sda1: cannot open"));
	disk_fs_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rescue_arrays_parse),
	    cmocka_unit_test(detail_export_gives_uuid_and_name),
	    cmocka_unit_test_setup_teardown(tree_status_reads_mdstat_and_sysfs, tree_make, tree_remove),
	    cmocka_unit_test_setup_teardown(assembly_in_a_tree_runs_no_mdadm, tree_make, tree_remove),
	    cmocka_unit_test_setup_teardown(filesystems_of_a_tree_without_nodes, tree_make, tree_remove),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
