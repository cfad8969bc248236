/* test_disk_inventory.c: the disk inventory read from the fixture trees under
 * tests/fixtures/<case>/root (sysfs, /dev/disk/by-id, /proc mounts and swaps shaped like a real
 * kernel's): sizes, sectors, models, serials, transports, drivers, by-id links, partitions,
 * stacked arrays, what is mounted or swapped on, eligibility, and the warnings that odd input
 * gives instead of a crash. The fixtures have no device nodes, so signatures are not probed
 * there (a warning says so); the integration test probes real loop devices. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "disk/disk.h"

static void read_fixture(const char *name, struct disk_inventory *inv)
{
	char root[512];
	snprintf(root, sizeof root, "%s/%s/root", NMMM_FIXTURES, name);
	struct nm_error e = {0};
	assert_int_equal(disk_inventory_read(root, inv, &e), 0);
	/* whatever was read serialises to JSON that parses again */
	for (size_t i = 0; i < inv->n_disks; i++) {
		json_object *o = disk_info_to_json(&inv->disks[i]);
		json_object *back = json_tokener_parse(json_object_to_json_string(o));
		assert_non_null(back);
		json_object_put(back);
		json_object_put(o);
	}
}

static const struct disk_info *disk(const struct disk_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n_disks; i++)
		if (strcmp(inv->disks[i].name, name) == 0)
			return &inv->disks[i];
	fail_msg("no disk %s in the inventory", name);
	return NULL;
}

static bool has_warning(const struct disk_inventory *inv, const char *needle)
{
	for (size_t i = 0; inv->warnings && inv->warnings[i]; i++)
		if (strstr(inv->warnings[i], needle))
			return true;
	return false;
}

static void nvme_onboard_lists_two_eligible_nvme_disks_with_old_arrays(void **state)
{
	struct disk_inventory inv = {0};
	read_fixture("nvme-onboard", &inv);
	assert_false(inv.uefi); /* no sys/firmware/efi in the tree: booted with BIOS */
	assert_int_equal(inv.n_disks, 5); /* md0-md2 and two disks; the empty loop0 is left out */
	const struct disk_info *d = disk(&inv, "nvme0n1");
	assert_string_equal(d->path, "/dev/nvme0n1");
	assert_int_equal(d->size_bytes, 1000215216ull * 512);
	assert_int_equal(d->logical_sector_size, 512);
	assert_false(d->rotational);
	assert_false(d->removable);
	assert_string_equal(d->model, "SAMSUNG MZVL2512HCJQ-00B00");
	assert_string_equal(d->serial, "S675NX0T123456");
	assert_string_equal(d->transport, "nvme");
	assert_string_equal(d->driver, "nvme");
	assert_int_equal(d->major, 259);
	assert_int_equal(d->minor, 0);
	assert_string_equal(d->by_id, "/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ-00B00_S675NX0T123456");
	assert_int_equal(nm_strv_len(d->by_id_links), 2); /* not the -part1 link */
	assert_string_equal(d->by_path, "/dev/disk/by-path/pci-0000:01:00.0-nvme-1");
	assert_int_equal(nm_strv_len(d->by_path_links), 1); /* not the -part1 link */
	assert_true(d->eligible);
	assert_null(d->why_not);
	assert_int_equal(d->n_partitions, 3);
	assert_string_equal(d->partitions[2].name, "nvme0n1p3");
	assert_int_equal(d->partitions[2].number, 3);
	assert_int_equal(d->partitions[2].start_bytes, 69208064ull * 512);
	assert_true(nm_strv_contains(d->holders, "md0"));
	assert_true(nm_strv_contains(d->holders, "md2"));
	assert_int_equal(d->n_uses, 0); /* assembled by the rescue, not mounted */
	assert_string_equal(disk(&inv, "nvme1n1")->serial, "S675NX0T654321");
	const struct disk_info *md = disk(&inv, "md2");
	assert_false(md->eligible);
	assert_string_equal(md->why_not, "an md array");
	assert_true(has_warning(&inv, "/dev/nvme0n1: no device node"));
	disk_inventory_free(&inv);
}

static void sata_disks_read_serial_from_vpd_page_and_see_swap(void **state)
{
	struct disk_inventory inv = {0};
	read_fixture("sata-pcie-bmc", &inv);
	const struct disk_info *a = disk(&inv, "sda");
	assert_int_equal(a->size_bytes, 7814037168ull * 512);
	assert_true(a->rotational);
	assert_int_equal(a->physical_sector_size, 4096);
	assert_string_equal(a->serial, "ZC1AB2CD");
	assert_string_equal(a->model, "ST4000NM0245-1Z2");
	assert_string_equal(a->transport, "sata");
	assert_string_equal(a->driver, "ahci");
	assert_string_equal(a->by_id, "/dev/disk/by-id/ata-ST4000NM0245-1Z2107_ZC1AB2CD");
	assert_true(nm_strv_contains(a->by_id_links, "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"));
	/* udev's current ATA form, not the older alias it keeps next to it */
	assert_string_equal(a->by_path, "/dev/disk/by-path/pci-0000:2c:00.0-ata-1.0");
	assert_true(nm_strv_contains(a->by_path_links, "/dev/disk/by-path/pci-0000:2c:00.0-ata-1"));
	assert_true(a->eligible);
	const struct disk_info *b = disk(&inv, "sdb");
	assert_int_equal(b->n_uses, 1);
	assert_true(b->uses[0].swap);
	assert_string_equal(b->uses[0].device, "sdb2");
	assert_string_equal(b->in_use[0], "sdb2 is active swap");
	const struct disk_info *c = disk(&inv, "sdc");
	assert_true(c->removable);
	assert_false(c->eligible);
	assert_string_equal(c->transport, "usb");
	assert_string_equal(c->driver, "usb-storage");
	assert_non_null(strstr(c->why_not, "removable"));
	assert_true(has_warning(&inv, "/sys/block/sdc: no serial"));
	disk_inventory_free(&inv);
}

static void uefi_machine_mixes_512_and_4096_byte_sectors(void **state)
{
	struct disk_inventory inv = {0};
	read_fixture("uefi-multifunction", &inv);
	assert_true(inv.uefi); /* sys/firmware/efi in the tree */
	assert_int_equal(inv.n_disks, 2);
	const struct disk_info *intel = disk(&inv, "nvme1n1");
	assert_int_equal(intel->logical_sector_size, 4096);
	assert_int_equal(intel->size_bytes, 1953525168ull * 512);
	assert_string_equal(intel->model, "INTEL SSDPE2KX010T8");
	assert_string_equal(intel->by_id, "/dev/disk/by-id/nvme-INTEL_SSDPE2KX010T8_PHLJ9123004M1P0FGN");
	assert_int_equal(disk(&inv, "nvme0n1")->logical_sector_size, 512);
	/* The automatic pick takes both (within 10%); the layout follows the smaller Samsung. */
	struct disk_config cfg;
	struct disk_plan plan = {0};
	struct nm_error e = {0};
	disk_config_init(&cfg);
	assert_int_equal(disk_plan_make(&inv, &cfg, true, &plan, &e), 0);
	assert_int_equal(plan.n_disks, 2);
	assert_string_equal(plan.disks[1].serial, "PHLJ9123004M1P0FGN");
	const struct disk_part_plan *root = &plan.disks[1].parts[2];
	assert_int_equal(root->start + root->size, 1875385008ull * 512 / (1 << 20) * (1 << 20) - (1 << 20));
	disk_plan_free(&plan);
	disk_config_free(&cfg);
	disk_inventory_free(&inv);
}

static void odd_sysfs_gives_warnings_not_failures(void **state)
{
	struct disk_inventory inv = {0};
	read_fixture("odd-sysfs", &inv);
	const struct disk_info *a = disk(&inv, "sda");
	assert_string_equal(a->model, "Disk??Model ?X"); /* non-UTF-8 and control bytes as '?' */
	assert_string_equal(a->serial, "SN \"12 34\" 'x'");
	assert_int_equal(a->logical_sector_size, 512); /* queue/ missing: the usual default */
	assert_string_equal(a->driver, "megaraid_sas");
	assert_string_equal(a->transport, "scsi");
	assert_true(has_warning(&inv, "/sys/block/sda/device/model: not UTF-8"));
	assert_true(has_warning(&inv, "/sys/block/sda/queue/logical_block_size: cannot read it"));
	assert_true(has_warning(&inv, "/sys/block/sda/removable: cannot read it"));
	/* mounted under the agent's target (/mnt) and swap on sda2 */
	assert_int_equal(a->n_uses, 2);
	assert_string_equal(a->uses[0].mountpoint, "/mnt/boot");
	assert_true(a->uses[1].swap);

	const struct disk_info *b = disk(&inv, "sdb");
	assert_false(b->eligible);
	assert_string_equal(b->why_not, "size unknown (/sys/block/sdb/size unreadable)");
	assert_null(b->serial);
	assert_null(b->model); /* all blanks */
	assert_true(has_warning(&inv, "/sys/block/sdb/device/vpd_pg80: not a unit serial number page"));
	/* btrfs reports no device number: matched by its source, mountpoint unescaped */
	assert_int_equal(b->n_uses, 1);
	assert_string_equal(b->uses[0].device, "sdb1");
	assert_string_equal(b->uses[0].mountpoint, "/srv/my data");
	assert_int_equal(b->n_partitions, 1); /* sdb9 has no partition file */

	const struct disk_info *v = disk(&inv, "vda");
	assert_true(v->holds_root);
	assert_false(v->eligible);
	assert_string_equal(v->why_not, "holds the running system (vda1 is mounted at /)");
	assert_string_equal(v->serial, "os-disk");

	/* md127 on nvme0n1p1 is mounted, and LVM on md127 by its /dev/mapper name */
	const struct disk_info *n = disk(&inv, "nvme0n1");
	assert_true(nm_strv_contains(n->holders, "md127"));
	assert_true(nm_strv_contains(n->holders, "dm-0"));
	assert_true(nm_strv_contains(n->in_use, "md127 mounted at /home"));
	assert_true(nm_strv_contains(n->in_use, "dm-0 mounted at /data"));
	assert_false(disk(&inv, "dm-0")->eligible);
	assert_null(n->driver); /* the device link dangles */
	assert_null(n->serial);
	assert_true(has_warning(&inv, "/sys/block/nvme0n1: no serial"));
	assert_false(disk(&inv, "zram0")->eligible);
	disk_inventory_free(&inv);
}

static void odd_sysfs_takes_swap_but_refuses_a_mounted_stacked_array(void **state)
{
	struct disk_inventory inv = {0};
	read_fixture("odd-sysfs", &inv);
	char *specs[] = {"sda", NULL};
	_cleanup_free_ size_t *idx = NULL;
	size_t n = 0;
	struct nm_error e = {0};
	/* Active swap is no refusal: teardown turns it off. */
	assert_int_equal(disk_select(&inv, specs, "/mnt", &idx, &n, &e), 0);
	assert_int_equal(n, 1);
	char *stacked[] = {"/dev/nvme0n1", NULL};
	struct nm_error e2 = {0};
	_cleanup_free_ size_t *idx2 = NULL;
	assert_true(disk_select(&inv, stacked, "/mnt", &idx2, &n, &e2) < 0);
	assert_int_equal(e2.cls, NM_ERR_REFUSED);
	assert_non_null(strstr(e2.msg, "nvme0n1: md127 (stacked on it) is mounted at /home"));
	disk_inventory_free(&inv);
}

static void missing_root_gives_an_empty_inventory_with_a_warning(void **state)
{
	struct disk_inventory inv = {0};
	struct nm_error e = {0};
	assert_int_equal(disk_inventory_read("/nonexistent-disk-plan-root", &inv, &e), 0);
	assert_int_equal(inv.n_disks, 0);
	assert_true(has_warning(&inv, "/sys/block: cannot list it"));
	disk_inventory_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nvme_onboard_lists_two_eligible_nvme_disks_with_old_arrays),
	    cmocka_unit_test(sata_disks_read_serial_from_vpd_page_and_see_swap),
	    cmocka_unit_test(uefi_machine_mixes_512_and_4096_byte_sectors),
	    cmocka_unit_test(odd_sysfs_gives_warnings_not_failures),
	    cmocka_unit_test(odd_sysfs_takes_swap_but_refuses_a_mounted_stacked_array),
	    cmocka_unit_test(missing_root_gives_an_empty_inventory_with_a_warning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
