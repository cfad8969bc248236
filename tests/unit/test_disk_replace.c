/* test_disk_replace.c: what replace-disk decides before it writes anything (disk/replace.c) — the
 * failed member by serial or plan name, the survivor found under the running array (its kernel
 * name changed across the reboot), the layout copied with new partition UUIDs, each new partition
 * mapped to its array, the dead ESP's volume id kept; the refusals (not degraded, new disk not
 * blank, too small, in the plan, held by an array, failed disk unknown), each naming the disk; and
 * the boot.loader.grub.devices change, present only when the old name no longer leads to the new
 * disk. The plan, inventory and md status are built here as the libraries would read them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sys/stat.h>

#include "disk/disk-internal.h"

#define GIB (1ull << 30)
#define MIB (1ull << 20)
#define T_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define T_RAID "a19d880f-05fc-4d3b-a006-743f0f84911e"
#define T_BIOS "21686148-6449-6e6f-744e-656564454649"
#define ROOT_UUID "3f2b8a41-1c55-4e8e-9a1b-0d7c4e2f6a10"

static struct disk_part_plan parts_a[] = {
    {1, DISK_PART_BIOS_BOOT, "/dev/nvme0n1p1", MIB, MIB, T_BIOS, "11111111-0000-4000-8000-00000000000a", "bios"},
    {2, DISK_PART_ESP, "/dev/nvme0n1p2", 2 * MIB, GIB, T_ESP, "22222222-0000-4000-8000-00000000000a", "esp"},
    {4, DISK_PART_ROOT, "/dev/nvme0n1p4", GIB + 2 * MIB, 4 * GIB, T_RAID, "44444444-0000-4000-8000-00000000000a",
     "root"},
};
static struct disk_part_plan parts_b[] = {
    {1, DISK_PART_BIOS_BOOT, "/dev/nvme1n1p1", MIB, MIB, T_BIOS, "11111111-0000-4000-8000-00000000000b", "bios"},
    {2, DISK_PART_ESP, "/dev/nvme1n1p2", 2 * MIB, GIB, T_ESP, "22222222-0000-4000-8000-00000000000b", "esp"},
    {4, DISK_PART_ROOT, "/dev/nvme1n1p4", GIB + 2 * MIB, 4 * GIB, T_RAID, "44444444-0000-4000-8000-00000000000b",
     "root"},
};
static struct disk_member_plan plan_disks[] = {
    {.name = "nvme0n1",
     .path = "/dev/nvme0n1",
     .by_id = "/dev/disk/by-id/nvme-QEMU_A",
     .serial = "SER-A",
     .size_bytes = 6 * GIB,
     .parts = parts_a,
     .n_parts = 3},
    {.name = "nvme1n1",
     .path = "/dev/nvme1n1",
     .by_id = "/dev/disk/by-id/nvme-QEMU_B",
     .serial = "SER-B",
     .size_bytes = 6 * GIB,
     .parts = parts_b,
     .n_parts = 3},
};
static char *root_members[] = {"/dev/nvme0n1p4", "/dev/nvme1n1p4", NULL};
static struct disk_array_plan plan_arrays[] = {
    {.name = "root",
     .device = "/dev/md/root",
     .level = 1,
     .metadata = "1.2",
     .uuid = ROOT_UUID,
     .members = root_members},
};
static char *no_options[] = {NULL};
static struct disk_fs_plan plan_fss[] = {
    {"/dev/md/root", "ext4", ROOT_UUID, NULL, "/", no_options},
    {"/dev/nvme0n1p2", "vfat", "AAAA-0001", "ESP", "/boot", no_options},
    {"/dev/nvme1n1p2", "vfat", "BBBB-0002", "ESP", "/boot-fallback-1", no_options},
};
static struct disk_plan plan = {.uefi = true,
				.homehost = "nmmm",
				.disks = plan_disks,
				.n_disks = 2,
				.arrays = plan_arrays,
				.n_arrays = 1,
				.filesystems = plan_fss,
				.n_filesystems = 3};

/* The machine after the swap: disk B survived and is nvme0n1 now; the blank disk C is nvme1n1. */
static struct disk_partition_info survivor_parts[] = {
    {"nvme0n1p1", 1, MIB, MIB, NULL},
    {"nvme0n1p2", 2, 2 * MIB, GIB, NULL},
    {"nvme0n1p4", 4, GIB + 2 * MIB, 4 * GIB, NULL},
};
static char *gpt_sig[] = {"gpt", NULL};
static char *md_holder[] = {"md126", NULL};
static char *md_members[] = {"nvme0n1p4", NULL};
static char *none[] = {NULL};

struct world {
	struct disk_info disks[2];
	struct disk_inventory inv;
	struct disk_md_array arrays[1];
	struct disk_md_status md;
	struct disk_replace_input in;
	struct disk_replace r;
	struct nm_error e;
};

static int world_make(void **state)
{
	struct world *w = calloc(1, sizeof *w);
	w->disks[0] = (struct disk_info){.name = "nvme0n1",
					 .path = "/dev/nvme0n1",
					 .serial = "SER-B",
					 .size_bytes = 6 * GIB,
					 .partitions = survivor_parts,
					 .n_partitions = 3,
					 .holders = md_members,
					 .signatures = gpt_sig};
	w->disks[1] = (struct disk_info){.name = "nvme1n1",
					 .path = "/dev/nvme1n1",
					 .by_id = "/dev/disk/by-id/nvme-QEMU_C",
					 .serial = "SER-C",
					 .size_bytes = 8 * GIB,
					 .logical_sector_size = 512};
	w->inv = (struct disk_inventory){.disks = w->disks, .n_disks = 2};
	w->arrays[0] = (struct disk_md_array){.name = "md127",
					      .active = true,
					      .level = "raid1",
					      .raid_disks = 2,
					      .working = 1,
					      .members = md_members,
					      .failed = none,
					      .uuid = ROOT_UUID};
	w->md = (struct disk_md_status){.driver = true, .arrays = w->arrays, .n_arrays = 1};
	w->in = (struct disk_replace_input){.root = "/nonexistent-root",
					    .installed = &plan,
					    .inv = &w->inv,
					    .md = &w->md,
					    .failed = "SER-A",
					    .new_disk = "nvme1n1"};
	*state = w;
	return 0;
}

static int world_free(void **state)
{
	struct world *w = *state;
	disk_replace_free(&w->r);
	free(w);
	plan.uefi = true;
	return 0;
}

static void decides(struct world *w)
{
	assert_int_equal(disk_replace_plan(&w->in, &w->r, &w->e), 0);
}

static void refused_naming(struct world *w, const char *disk, const char *words)
{
	assert_true(disk_replace_plan(&w->in, &w->r, &w->e) < 0);
	assert_int_equal(w->e.cls, NM_ERR_REFUSED);
	assert_non_null(strstr(w->e.msg, disk));
	assert_non_null(strstr(w->e.msg, words));
}

static void layout_copied_with_new_uuids_and_mapped_to_arrays(void **state)
{
	struct world *w = *state;
	decides(w);
	assert_string_equal(w->r.failed, "nvme0n1");
	assert_string_equal(w->r.survivor, "nvme0n1"); /* B, renamed */
	const struct disk_member_plan *m = &w->r.target.disks[0];
	assert_string_equal(m->name, "nvme1n1");
	assert_string_equal(m->serial, "SER-C");
	assert_int_equal(m->n_parts, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(m->parts[i].number, parts_a[i].number);
		assert_int_equal(m->parts[i].start, parts_a[i].start);
		assert_int_equal(m->parts[i].size, parts_a[i].size);
		assert_string_equal(m->parts[i].type_guid, parts_a[i].type_guid);
		assert_string_equal(m->parts[i].name, parts_a[i].name);
		assert_true(disk_uuid_valid(m->parts[i].part_uuid));
		assert_string_not_equal(m->parts[i].part_uuid, parts_a[i].part_uuid);
		assert_string_not_equal(m->parts[i].part_uuid, parts_b[i].part_uuid);
	}
	assert_string_equal(m->parts[2].path, "/dev/nvme1n1p4");
	assert_int_equal(w->r.n_arrays, 1);
	assert_string_equal(w->r.arrays[0].name, "root");
	assert_string_equal(w->r.arrays[0].md, "md127");
	assert_string_equal(w->r.arrays[0].survivor_member, "nvme0n1p4");
	assert_string_equal(w->r.arrays[0].member, "/dev/nvme1n1p4");
	/* The dead disk's ESP again, with its volume id, label and mountpoint. */
	assert_int_equal(w->r.target.n_filesystems, 1);
	assert_string_equal(w->r.target.filesystems[0].device, "/dev/nvme1n1p2");
	assert_string_equal(w->r.target.filesystems[0].uuid, "AAAA-0001");
	assert_string_equal(w->r.target.filesystems[0].mountpoint, "/boot");
	assert_string_equal(w->r.target.filesystems[0].fstype, "vfat");
	assert_null(w->r.boot_change[0]); /* UEFI: ESPs by mountpoint */
	json_object *j = disk_replace_to_json(&w->r);
	assert_string_equal(nm_json_str(j, "esp_uuid"), "AAAA-0001");
	json_object_put(j);
}

static void failed_by_serial_or_any_name_in_the_plan(void **state)
{
	struct world *w = *state;
	w->in.failed = "serial:SER-A";
	decides(w);
	disk_replace_free(&w->r);
	w->in.failed = "/dev/disk/by-id/nvme-QEMU_A";
	decides(w);
	assert_string_equal(w->r.failed, "nvme0n1");
	disk_replace_free(&w->r);
	/* the slot name the plan (and hardware-configuration.nix) has for it */
	plan_disks[0].by_path = "/dev/disk/by-path/pci-0000:01:00.0-nvme-1";
	w->in.failed = "/dev/disk/by-path/pci-0000:01:00.0-nvme-1";
	int rc = disk_replace_plan(&w->in, &w->r, &w->e);
	plan_disks[0].by_path = NULL;
	assert_int_equal(rc, 0);
	assert_string_equal(w->r.failed, "nvme0n1");
}

static void refuses_failed_disk_not_in_plan(void **state)
{
	struct world *w = *state;
	w->in.failed = "SER-Z";
	refused_naming(w, "SER-Z", "SER-A");
}

static void refuses_array_not_degraded(void **state)
{
	struct world *w = *state;
	w->arrays[0].working = 2;
	refused_naming(w, "md127", "not degraded");
}

static void refuses_array_not_running(void **state)
{
	struct world *w = *state;
	w->md.n_arrays = 0;
	refused_naming(w, "root", "not running");
}

static void refuses_new_disk_not_blank(void **state)
{
	struct world *w = *state;
	w->disks[1].signatures = gpt_sig;
	refused_naming(w, "nvme1n1", "not blank");
}

static void refuses_new_disk_with_partitions(void **state)
{
	struct world *w = *state;
	w->disks[1].partitions = survivor_parts;
	w->disks[1].n_partitions = 1;
	refused_naming(w, "nvme1n1", "not blank");
}

static void refuses_new_disk_too_small(void **state)
{
	struct world *w = *state;
	w->disks[1].size_bytes = 6 * GIB - MIB;
	refused_naming(w, "nvme1n1", "smaller than the surviving disk nvme0n1");
}

static void refuses_new_disk_in_plan(void **state)
{
	struct world *w = *state;
	w->disks[1].serial = "SER-A"; /* the dead disk came back */
	refused_naming(w, "nvme1n1", "installed plan");
}

static void refuses_new_disk_holding_an_array(void **state)
{
	struct world *w = *state;
	w->disks[1].holders = md_holder;
	refused_naming(w, "nvme1n1", "md126");
}

static void refuses_the_survivor_as_new(void **state)
{
	struct world *w = *state;
	w->in.new_disk = "nvme0n1";
	refused_naming(w, "nvme0n1", "surviving disk");
}

static void refuses_unknown_new_disk(void **state)
{
	struct world *w = *state;
	w->in.new_disk = "sdx";
	refused_naming(w, "sdx", "not a whole disk");
}

static void bios_by_id_name_gone_gives_the_change(void **state)
{
	struct world *w = *state;
	plan.uefi = false;
	decides(w);
	assert_int_equal(nm_strv_len(w->r.boot_change), 2);
	assert_string_equal(w->r.boot_change[0], "-    \"/dev/disk/by-id/nvme-QEMU_A\"");
	assert_string_equal(w->r.boot_change[1], "+    \"/dev/disk/by-id/nvme-QEMU_C\"");
}

/* The plan names the dead disk by its slot (what the renderer writes when udev names one) and the
 * new disk sits in another slot: the change is slot to slot. */
static void bios_slot_name_gone_gives_the_new_slot(void **state)
{
	struct world *w = *state;
	plan.uefi = false;
	plan_disks[0].by_path = "/dev/disk/by-path/pci-0000:01:00.0-nvme-1";
	w->disks[1].by_path = "/dev/disk/by-path/pci-0000:03:00.0-nvme-1";
	decides(w);
	plan_disks[0].by_path = NULL;
	assert_int_equal(nm_strv_len(w->r.boot_change), 2);
	assert_string_equal(w->r.boot_change[0], "-    \"/dev/disk/by-path/pci-0000:01:00.0-nvme-1\"");
	assert_string_equal(w->r.boot_change[1], "+    \"/dev/disk/by-path/pci-0000:03:00.0-nvme-1\"");
}

static void bios_name_still_leading_to_new_disk_needs_none(void **state)
{
	struct world *w = *state;
	plan.uefi = false;
	char root[] = "/tmp/nmmm-replace.XXXXXX";
	assert_non_null(mkdtemp(root));
	char p[512];
	const char *dirs[] = {"/dev/disk/by-id", "/dev/disk", "/dev", ""};
	for (size_t i = 3; i-- > 0;) {
		snprintf(p, sizeof p, "%s%s", root, dirs[i]);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof p, "%s/dev/nvme1n1", root);
	fclose(fopen(p, "w"));
	snprintf(p, sizeof p, "%s/dev/disk/by-id/nvme-QEMU_A", root);
	assert_int_equal(symlink("../../nvme1n1", p), 0); /* as a by-path name in the same slot does */
	w->in.root = root;
	decides(w);
	assert_null(w->r.boot_change[0]);
	unlink(p);
	snprintf(p, sizeof p, "%s/dev/nvme1n1", root);
	unlink(p);
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", root, dirs[i]);
		rmdir(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, world_make, world_free)
	    T(layout_copied_with_new_uuids_and_mapped_to_arrays),
	    T(failed_by_serial_or_any_name_in_the_plan),
	    T(refuses_failed_disk_not_in_plan),
	    T(refuses_array_not_degraded),
	    T(refuses_array_not_running),
	    T(refuses_new_disk_not_blank),
	    T(refuses_new_disk_with_partitions),
	    T(refuses_new_disk_too_small),
	    T(refuses_new_disk_in_plan),
	    T(refuses_new_disk_holding_an_array),
	    T(refuses_the_survivor_as_new),
	    T(refuses_unknown_new_disk),
	    T(bios_by_id_name_gone_gives_the_change),
	    T(bios_slot_name_gone_gives_the_new_slot),
	    T(bios_name_still_leading_to_new_disk_needs_none),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
