/* test_disk_plan.c: the planner, the layout config and disk selection, on inventories built
 * here (the planner reads nothing from the machine, so no fixture tree is needed): partition
 * geometry for 1-4 disks, mixed sizes, 4096-byte sectors and disks over 2 TiB, arrays and
 * filesystems, every config error naming its field, every selection form and refusal, and the
 * plan's JSON round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "disk/disk.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define TiB (1ull << 40)

/* ---- building inventories ---- */

static struct disk_info *add_disk(struct disk_inventory *inv, const char *name, uint64_t size, unsigned sector,
				  const char *serial)
{
	inv->disks = realloc(inv->disks, (inv->n_disks + 1) * sizeof *inv->disks);
	assert_non_null(inv->disks);
	struct disk_info *d = &inv->disks[inv->n_disks++];
	*d = (struct disk_info){0};
	d->name = strdup(name);
	d->path = nm_strdup_printf("/dev/%s", name);
	d->size_bytes = size;
	d->logical_sector_size = sector;
	d->physical_sector_size = sector;
	d->serial = serial ? strdup(serial) : NULL;
	d->model = strdup("Test Disk");
	d->transport = strdup(strncmp(name, "nvme", 4) == 0 ? "nvme" : strncmp(name, "loop", 4) == 0 ? "loop" : "sata");
	d->signatures = nm_strv_new();
	d->in_use = nm_strv_new();
	d->eligible = size >= DISK_MIN_AUTO_SIZE && strncmp(name, "loop", 4) != 0;
	d->why_not = d->eligible ? NULL : strdup("not eligible in this test");
	return d;
}

static void add_partition(struct disk_info *d, const char *name, unsigned number)
{
	d->partitions = realloc(d->partitions, (d->n_partitions + 1) * sizeof *d->partitions);
	assert_non_null(d->partitions);
	d->partitions[d->n_partitions++] =
	    (struct disk_partition_info){strdup(name), number, MiB * number, GiB, nm_strv_new()};
}

static void add_use(struct disk_info *d, const char *device, const char *mountpoint)
{
	d->uses = realloc(d->uses, (d->n_uses + 1) * sizeof *d->uses);
	assert_non_null(d->uses);
	d->uses[d->n_uses++] = (struct disk_use){strdup(device), mountpoint ? strdup(mountpoint) : NULL, !mountpoint};
	if (mountpoint && strcmp(mountpoint, "/") == 0)
		d->holds_root = true;
}

struct fixture {
	struct disk_inventory inv;
	struct disk_config cfg;
	struct disk_plan plan;
	struct nm_error e;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(disk_config_init(&f->cfg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	disk_plan_free(&f->plan);
	disk_config_free(&f->cfg);
	disk_inventory_free(&f->inv);
	free(f);
	return 0;
}

static void use_disks(struct fixture *f, const char *list)
{
	assert_int_equal(disk_config_set_disks(&f->cfg, list, &f->e), 0);
}

static int config_json(struct fixture *f, const char *text)
{
	json_object *o = json_tokener_parse(text);
	assert_non_null(o);
	int r = disk_config_from_json(o, "test.json", &f->cfg, &f->e);
	json_object_put(o);
	return r;
}

static int make(struct fixture *f, bool uefi)
{
	return disk_plan_make(&f->inv, &f->cfg, uefi, &f->plan, &f->e);
}

static void assert_msg_has(const struct nm_error *e, const char *needle)
{
	if (!strstr(e->msg, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", e->msg, needle);
}

/* A fresh random UUID: canonical form, version 4. */
static bool is_uuid(const char *s)
{
	return disk_uuid_valid(s) && s[14] == '4' && strspn(s, "0123456789abcdef-") == 36;
}

static bool is_vfat_id(const char *s)
{
	return disk_vfat_id_valid(s);
}

static const struct disk_part_plan *part_role(const struct disk_member_plan *m, enum disk_part_role role)
{
	for (size_t i = 0; i < m->n_parts; i++)
		if (m->parts[i].role == role)
			return &m->parts[i];
	return NULL;
}

static const struct disk_array_plan *array_named(const struct disk_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_arrays; i++)
		if (strcmp(p->arrays[i].name, name) == 0)
			return &p->arrays[i];
	return NULL;
}

/* Every partition 1 MiB aligned, in order, not overlapping, and the last MiB of the smallest
 * disk left free for the backup GPT. */
static void assert_geometry(const struct disk_plan *p, uint64_t smallest)
{
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *m = &p->disks[i];
		uint64_t end = MiB;
		for (size_t j = 0; j < m->n_parts; j++) {
			const struct disk_part_plan *q = &m->parts[j];
			assert_int_equal(q->start % MiB, 0);
			assert_int_equal(q->size % MiB, 0);
			assert_true(q->start >= end);
			assert_true(q->size > 0);
			assert_true(is_uuid(q->part_uuid));
			end = q->start + q->size;
		}
		assert_true(end <= smallest / MiB * MiB - MiB);
		/* Same geometry on every disk: members of an array must match. */
		for (size_t j = 0; j < m->n_parts; j++) {
			assert_int_equal(m->parts[j].start, p->disks[0].parts[j].start);
			assert_int_equal(m->parts[j].size, p->disks[0].parts[j].size);
		}
	}
}

/* ---- layouts ---- */

static void one_disk_puts_root_on_partition_4_without_md(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "S1");
	use_disks(f, "sda");
	assert_int_equal(make(f, false), 0);
	assert_int_equal(f->plan.n_disks, 1);
	assert_int_equal(f->plan.n_arrays, 0);
	const struct disk_member_plan *m = &f->plan.disks[0];
	assert_int_equal(m->n_parts, 3);
	assert_int_equal(m->parts[0].number, 1);
	assert_int_equal(m->parts[0].start, MiB);
	assert_int_equal(m->parts[0].size, MiB);
	assert_string_equal(m->parts[0].type_guid, "21686148-6449-6e6f-744e-656564454649");
	assert_int_equal(m->parts[1].number, 2);
	assert_int_equal(m->parts[1].size, GiB);
	assert_string_equal(m->parts[1].type_guid, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
	const struct disk_part_plan *root = part_role(m, DISK_PART_ROOT);
	assert_int_equal(root->number, 4);
	assert_string_equal(root->path, "/dev/sda4");
	assert_string_equal(root->type_guid, "0fc63daf-8483-4772-8e79-3d69d8477de4");
	assert_int_equal(root->start + root->size, 100 * GiB - MiB);
	const struct disk_fs_plan *fs = disk_plan_fs_at(&f->plan, "/");
	assert_non_null(fs);
	assert_ptr_equal(fs, &f->plan.filesystems[0]);
	assert_string_equal(fs->device, "/dev/sda4");
	assert_string_equal(fs->fstype, "ext4");
	assert_string_equal(fs->label, "nixos");
	assert_true(is_uuid(fs->uuid));
	assert_geometry(&f->plan, 100 * GiB);
}

static void two_disks_mirror_root_with_raid1(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "nvme0n1", 512 * GiB, 512, "A1");
	add_disk(&f->inv, "nvme1n1", 512 * GiB, 512, "B2");
	assert_int_equal(make(f, false), 0); /* automatic: two eligible disks of the same size */
	assert_int_equal(f->plan.n_arrays, 1);
	const struct disk_array_plan *a = array_named(&f->plan, "root");
	assert_non_null(a);
	assert_string_equal(a->device, "/dev/md/root");
	assert_int_equal(a->level, 1);
	assert_string_equal(a->metadata, "1.2");
	assert_true(is_uuid(a->uuid));
	assert_int_equal(nm_strv_len(a->members), 2);
	assert_string_equal(a->members[0], "/dev/nvme0n1p4");
	assert_string_equal(a->members[1], "/dev/nvme1n1p4");
	assert_string_equal(f->plan.homehost, "nmmm");
	assert_string_equal(part_role(&f->plan.disks[1], DISK_PART_ROOT)->type_guid,
			    "a19d880f-05fc-4d3b-a006-743f0f84911e");
	const struct disk_fs_plan *fs = disk_plan_fs_at(&f->plan, "/");
	assert_string_equal(fs->device, "/dev/md/root");
	assert_string_equal(f->plan.disks[0].serial, "A1");
	assert_string_equal(f->plan.disks[1].serial, "B2");
	assert_geometry(&f->plan, 512 * GiB);
}

static void layout_follows_the_smaller_disk(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 600 * GiB, 512, "BIG");
	add_disk(&f->inv, "sdb", 480 * GiB, 512, "SMALL");
	use_disks(f, "sda,sdb");
	assert_int_equal(make(f, false), 0);
	const struct disk_part_plan *r0 = part_role(&f->plan.disks[0], DISK_PART_ROOT);
	assert_int_equal(r0->start + r0->size, 480 * GiB - MiB);
	assert_geometry(&f->plan, 480 * GiB);
	assert_int_equal(f->plan.disks[0].size_bytes, 600 * GiB);
}

static void three_disks_take_raid5_from_config(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "S1");
	add_disk(&f->inv, "sdb", 100 * GiB, 512, "S2");
	add_disk(&f->inv, "sdc", 100 * GiB, 512, "S3");
	assert_int_equal(config_json(f,
				     "{\"disks\": [\"sda\", \"sdb\", \"sdc\"], \"raid_level\": 5, "
				     "\"swap_size\": \"8G\"}"),
			 0);
	assert_int_equal(make(f, false), 0);
	const struct disk_array_plan *root = array_named(&f->plan, "root");
	assert_int_equal(root->level, 5);
	assert_int_equal(nm_strv_len(root->members), 3);
	const struct disk_array_plan *swap = array_named(&f->plan, "swap");
	assert_non_null(swap);
	assert_int_equal(swap->level, 5);
	/* 8 GiB of swap over RAID-5 on three disks: two data members' worth, 4 GiB each. */
	assert_int_equal(part_role(&f->plan.disks[2], DISK_PART_SWAP)->size, 4 * GiB);
	assert_string_equal(part_role(&f->plan.disks[2], DISK_PART_SWAP)->path, "/dev/sdc3");
	assert_geometry(&f->plan, 100 * GiB);
}

static void four_disks_take_raid10_and_raid6(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 4; i++) {
		char name[16], serial[16];
		snprintf(name, sizeof name, "nvme%dn1", i);
		snprintf(serial, sizeof serial, "SER%d", i);
		add_disk(&f->inv, name, 2 * TiB, 4096, serial);
	}
	use_disks(f, "nvme0n1,nvme1n1,nvme2n1,nvme3n1");
	assert_int_equal(config_json(f, "{\"raid_level\": 10}"), 0);
	assert_int_equal(make(f, true), 0);
	assert_int_equal(array_named(&f->plan, "root")->level, 10);
	assert_int_equal(nm_strv_len(array_named(&f->plan, "root")->members), 4);
	disk_plan_free(&f->plan);
	assert_int_equal(config_json(f, "{\"raid_level\": 6}"), 0);
	assert_int_equal(make(f, true), 0);
	assert_int_equal(array_named(&f->plan, "root")->level, 6);
	assert_geometry(&f->plan, 2 * TiB);
}

static void sectors_of_4096_bytes_keep_mib_alignment(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "nvme0n1", 960 * GiB, 4096, "A");
	add_disk(&f->inv, "nvme1n1", 960 * GiB, 512, "B");
	use_disks(f, "nvme0n1,nvme1n1");
	assert_int_equal(make(f, true), 0);
	assert_int_equal(f->plan.disks[0].logical_sector_size, 4096);
	for (size_t j = 0; j < f->plan.disks[0].n_parts; j++) {
		assert_int_equal(f->plan.disks[0].parts[j].start % 4096, 0);
		assert_int_equal(f->plan.disks[0].parts[j].size % 4096, 0);
	}
	assert_geometry(&f->plan, 960 * GiB);
}

static void disks_over_2_tib_use_all_of_the_smaller(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 16 * TiB + 123 * MiB + 512, 512, "HUGE1");
	add_disk(&f->inv, "sdb", 16 * TiB + 123 * MiB + 512, 512, "HUGE2");
	assert_int_equal(make(f, false), 0);
	const struct disk_part_plan *root = part_role(&f->plan.disks[0], DISK_PART_ROOT);
	/* Beyond the 2 TiB an MBR could address, up to the last whole MiB but one. */
	assert_true(root->start + root->size > 2 * TiB);
	assert_int_equal(root->start + root->size, 16 * TiB + 122 * MiB);
	assert_geometry(&f->plan, 16 * TiB + 123 * MiB + 512);
}

static void uefi_mounts_one_esp_per_disk_for_mirrored_boots(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "nvme0n1", 512 * GiB, 512, "A");
	add_disk(&f->inv, "nvme1n1", 512 * GiB, 512, "B");
	assert_int_equal(make(f, true), 0);
	assert_true(f->plan.uefi);
	const struct disk_fs_plan *boot = disk_plan_fs_at(&f->plan, "/boot");
	const struct disk_fs_plan *fb = disk_plan_fs_at(&f->plan, "/boot-fallback-1");
	assert_non_null(boot);
	assert_non_null(fb);
	assert_string_equal(boot->device, "/dev/nvme0n1p2");
	assert_string_equal(fb->device, "/dev/nvme1n1p2");
	assert_string_equal(boot->fstype, "vfat");
	assert_true(is_vfat_id(boot->uuid));
	assert_true(is_vfat_id(fb->uuid));
	assert_string_not_equal(boot->uuid, fb->uuid);
	assert_true(nm_strv_contains(fb->options, "nofail"));
	/* "/" is mounted first, then the ESPs under it. */
	assert_string_equal(f->plan.filesystems[0].mountpoint, "/");
}

static void bios_creates_esps_without_mounting_them(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 512 * GiB, 512, "A");
	add_disk(&f->inv, "sdb", 512 * GiB, 512, "B");
	assert_int_equal(make(f, false), 0);
	assert_null(disk_plan_fs_at(&f->plan, "/boot"));
	size_t esps = 0;
	for (size_t i = 0; i < f->plan.n_filesystems; i++)
		if (strcmp(f->plan.filesystems[i].fstype, "vfat") == 0) {
			esps++;
			assert_null(f->plan.filesystems[i].mountpoint);
		}
	assert_int_equal(esps, 2);
	assert_int_equal(part_role(&f->plan.disks[1], DISK_PART_BIOS_BOOT)->size, MiB);
}

static void swap_and_extra_partitions_get_their_own_arrays(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 1 * TiB, 512, "A");
	add_disk(&f->inv, "sdb", 1 * TiB, 512, "B");
	assert_int_equal(config_json(f,
				     "{\"swap_size\": \"16G\", \"filesystem\": \"xfs\", \"homehost\": \"web1\","
				     "\"extra_partitions\": ["
				     "{\"name\": \"db\", \"size\": \"100G\", \"mountpoint\": \"/srv/db\"},"
				     "{\"name\": \"data\", \"size\": \"200G\", \"filesystem\": \"btrfs\", "
				     "\"mountpoint\": \"/srv\"}]}"),
			 0);
	assert_int_equal(make(f, false), 0);
	assert_string_equal(f->plan.homehost, "web1");
	assert_int_equal(f->plan.n_arrays, 4);
	assert_non_null(array_named(&f->plan, "swap"));
	assert_non_null(array_named(&f->plan, "db"));
	assert_string_equal(array_named(&f->plan, "data")->members[1], "/dev/sdb6");
	const struct disk_member_plan *m = &f->plan.disks[0];
	assert_int_equal(part_role(m, DISK_PART_SWAP)->size, 16 * GiB);
	assert_int_equal(m->parts[4].number, 5);
	assert_int_equal(m->parts[4].size, 100 * GiB);
	assert_string_equal(m->parts[5].name, "data");
	/* root takes what the others leave */
	assert_int_equal(m->parts[5].start + m->parts[5].size, 1 * TiB - MiB);
	assert_string_equal(disk_plan_fs_at(&f->plan, "/")->fstype, "xfs");
	assert_string_equal(disk_plan_fs_at(&f->plan, "/srv")->fstype, "btrfs");
	/* mount order: "/" first, a parent before its child */
	size_t srv = 0, db = 0;
	for (size_t i = 0; i < f->plan.n_filesystems; i++) {
		const char *mp = f->plan.filesystems[i].mountpoint;
		if (mp && strcmp(mp, "/srv") == 0)
			srv = i;
		if (mp && strcmp(mp, "/srv/db") == 0)
			db = i;
	}
	assert_true(srv > 0 && srv < db);
	bool swap_fs = false;
	for (size_t i = 0; i < f->plan.n_filesystems; i++)
		if (strcmp(f->plan.filesystems[i].fstype, "swap") == 0) {
			swap_fs = true;
			assert_string_equal(f->plan.filesystems[i].device, "/dev/md/swap");
			assert_null(f->plan.filesystems[i].mountpoint);
		}
	assert_true(swap_fs);
	assert_geometry(&f->plan, 1 * TiB);
}

static void every_uuid_is_fresh(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "A");
	add_disk(&f->inv, "sdb", 100 * GiB, 512, "B");
	assert_int_equal(config_json(f, "{\"swap_size\": \"1G\"}"), 0);
	assert_int_equal(make(f, true), 0);
	struct disk_plan second = {0};
	assert_int_equal(disk_plan_make(&f->inv, &f->cfg, true, &second, &f->e), 0);
	char *const all[] = {f->plan.arrays[0].uuid,
			     f->plan.arrays[1].uuid,
			     second.arrays[0].uuid,
			     f->plan.filesystems[0].uuid,
			     second.filesystems[0].uuid,
			     f->plan.disks[0].parts[0].part_uuid,
			     f->plan.disks[1].parts[0].part_uuid,
			     second.disks[0].parts[0].part_uuid};
	for (size_t i = 0; i < NM_ELEMENTSOF(all); i++)
		for (size_t j = i + 1; j < NM_ELEMENTSOF(all); j++)
			assert_string_not_equal(all[i], all[j]);
	disk_plan_free(&second);
}

static void partition_names_follow_kernel_naming(void **state)
{
	static const char *const cases[][2] = {{"sda", "sda3"},	     {"vdb", "vdb3"},	       {"nvme0n1", "nvme0n1p3"},
					       {"loop7", "loop7p3"}, {"mmcblk0", "mmcblk0p3"}, {"xvda", "xvda3"}};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		char *n = disk_partition_name(cases[i][0], 3);
		assert_string_equal(n, cases[i][1]);
		free(n);
	}
}

/* ---- JSON ---- */

static void plan_json_round_trips_with_the_same_uuids(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "nvme0n1", 512 * GiB, 512, "A \"quoted\" serial");
	add_disk(&f->inv, "nvme1n1", 512 * GiB, 4096, "B");
	/* What identifies a disk besides its serial travels with the plan (the second has no WWN). */
	f->inv.disks[0].wwid = strdup("eui.0025388b71b2c3d4");
	f->inv.disks[0].diskseq = 17;
	f->inv.disks[1].diskseq = 18;
	assert_int_equal(config_json(f,
				     "{\"swap_size\": \"4G\", \"extra_partitions\": [{\"name\": \"srv\", "
				     "\"size\": \"10G\", \"mountpoint\": \"/srv\"}]}"),
			 0);
	assert_int_equal(make(f, true), 0);
	json_object *o = disk_plan_to_json(&f->plan);
	_cleanup_free_ char *first = strdup(json_object_to_json_string(o));
	/* through text, as the state file does */
	json_object *back = json_tokener_parse(first);
	json_object_put(o);
	struct disk_plan again = {0};
	assert_int_equal(disk_plan_from_json(back, &again, &f->e), 0);
	json_object_put(back);
	json_object *o2 = disk_plan_to_json(&again);
	assert_string_equal(json_object_to_json_string(o2), first);
	json_object_put(o2);
	assert_string_equal(again.arrays[0].uuid, f->plan.arrays[0].uuid);
	assert_string_equal(again.filesystems[1].uuid, f->plan.filesystems[1].uuid);
	assert_int_equal(again.disks[1].parts[3].start, f->plan.disks[1].parts[3].start);
	assert_int_equal(again.disks[1].parts[3].role, DISK_PART_ROOT);
	assert_string_equal(again.disks[0].wwid, "eui.0025388b71b2c3d4");
	assert_null(again.disks[1].wwid);
	assert_int_equal(again.disks[0].diskseq, 17);
	assert_int_equal(again.disks[1].diskseq, 18);
	assert_int_equal(again.disks[1].logical_sector_size, 4096);
	assert_true(again.uefi);
	disk_plan_free(&again);
}

static void plan_json_names_a_missing_field(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "A");
	use_disks(f, "sda");
	assert_int_equal(make(f, false), 0);
	json_object *o = disk_plan_to_json(&f->plan);
	json_object *disks = json_object_object_get(o, "disks");
	json_object *parts = json_object_object_get(json_object_array_get_idx(disks, 0), "partitions");
	json_object_object_del(json_object_array_get_idx(parts, 1), "part_uuid");
	struct disk_plan p = {0};
	assert_true(disk_plan_from_json(o, &p, &f->e) < 0);
	assert_msg_has(&f->e, "disks[0].partitions[1].part_uuid: missing");
	json_object_put(o);
	disk_plan_free(&p);
}

/* Edits a field of a fresh plan's JSON and expects disk_plan_from_json to name it. */
static void expect_rejected(struct fixture *f, const char *list, size_t index, const char *key, json_object *value,
			    const char *needle)
{
	json_object *o = disk_plan_to_json(&f->plan);
	json_object *arr = json_object_object_get(o, list);
	json_object *item = json_object_array_get_idx(arr, index);
	if (strcmp(list, "disks") == 0) /* edit the disk's second partition */
		item = json_object_array_get_idx(json_object_object_get(item, "partitions"), 1);
	json_object_object_add(item, key, value);
	struct disk_plan p = {0};
	struct nm_error e = {0};
	assert_true(disk_plan_from_json(o, &p, &e) < 0);
	assert_msg_has(&e, needle);
	json_object_put(o);
	disk_plan_free(&p);
}

static void plan_json_rejects_a_plan_the_planner_could_not_make(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "A");
	add_disk(&f->inv, "sdb", 100 * GiB, 512, "B");
	assert_int_equal(make(f, true), 0);
	json_object *members = json_object_new_array();
	json_object_array_add(members, json_object_new_string("/dev/sda4"));
	json_object_array_add(members, json_object_new_string("/dev/sdz4"));
	expect_rejected(f, "arrays", 0, "members", members, "arrays[0].members: names a device that is no partition");
	expect_rejected(f, "arrays", 0, "uuid", json_object_new_string("root"), "arrays[0].uuid: not a UUID");
	expect_rejected(f, "arrays", 0, "level", json_object_new_int(4), "arrays[0].level");
	expect_rejected(f, "filesystems", 1, "uuid", json_object_new_string("1234-abcd"),
			"filesystems[1].uuid: not a FAT volume id");
	expect_rejected(f, "filesystems", 0, "device", json_object_new_string("/dev/sdc4"),
			"filesystems[0].device: is neither a partition nor an array");
	expect_rejected(f, "disks", 0, "start", json_object_new_int64(3 * MiB + 512),
			"disks[0].partitions[1].start: not a MiB-aligned extent");
	expect_rejected(f, "disks", 0, "size", json_object_new_int64(200 * GiB),
			"disks[0].partitions[1].start: not a MiB-aligned extent inside the disk");
}

/* ---- config errors: each message names the JSON field ---- */

static void config_errors_name_the_field(void **state)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
	    {"{\"raid\": 1}", "raid: unknown field"},
	    {"{\"raid_level\": \"1\"}", "raid_level: \"1\" is not a level"},
	    {"{\"raid_level\": 4}", "raid_level: 4 is not a level; choose 0, 1, 5, 6 or 10"},
	    {"{\"filesystem\": \"zfs\"}", "filesystem: \"zfs\" is not supported"},
	    {"{\"filesystem\": 4}", "filesystem: expected a string"},
	    {"{\"swap_size\": \"8X\"}", "swap_size: \"8X\" is not a size"},
	    {"{\"swap_size\": 8}", "swap_size: 8 is not a size"},
	    {"{\"esp_size\": \"1M\"}", "esp_size: too small"},
	    {"{\"disks\": \"sda\"}", "disks: expected a array"},
	    {"{\"disks\": []}", "disks: empty"},
	    {"{\"disks\": [\"sda\", 3]}", "disks[1]: expected a string"},
	    {"{\"disks\": [\"sda\", \"sda\"]}", "disks[1]: \"sda\" is named twice"},
	    {"{\"extra_partitions\": {}}", "extra_partitions: expected a array"},
	    {"{\"extra_partitions\": [{\"name\": \"x\", \"size\": \"1G\"}]}",
	     "extra_partitions[0].mountpoint: missing"},
	    {"{\"extra_partitions\": [{\"name\": \"root\", \"size\": \"1G\", \"mountpoint\": \"/x\"}]}",
	     "extra_partitions[0].name: \"root\" cannot be used"},
	    {"{\"extra_partitions\": [{\"name\": \"a b\", \"size\": \"1G\", \"mountpoint\": \"/x\"}]}",
	     "extra_partitions[0].name"},
	    {"{\"extra_partitions\": [{\"name\": \"x\", \"size\": \"1G\", \"mountpoint\": \"srv\"}]}",
	     "extra_partitions[0].mountpoint: \"srv\" is not a usable mountpoint"},
	    {"{\"extra_partitions\": [{\"name\": \"x\", \"size\": \"1G\", \"mountpoint\": \"/boot\"}]}",
	     "extra_partitions[0].mountpoint: \"/boot\" is used by the layout"},
	    {"{\"extra_partitions\": [{\"name\": \"x\", \"size\": \"1G\", \"mountpoint\": \"/x\", \"fs\": 1}]}",
	     "extra_partitions[0].fs: unknown field"},
	    {"{\"extra_partitions\": [{\"name\": \"x\", \"size\": \"1G\", \"mountpoint\": \"/x\"},"
	     "{\"name\": \"y\", \"size\": \"1G\", \"mountpoint\": \"/x\"}]}",
	     "extra_partitions[1].mountpoint: \"/x\" is also extra_partitions[0].mountpoint"},
	    {"{\"extra_partitions\": [{\"name\": \"x\", \"size\": \"1G\", \"mountpoint\": \"/x\"},"
	     "{\"name\": \"x\", \"size\": \"1G\", \"mountpoint\": \"/y\"}]}",
	     "extra_partitions[1].name: \"x\" is also"},
	    {"{\"homehost\": \"a:b\"}", "homehost: \"a:b\" cannot be used"},
	    {"[1]", "the config must be a JSON object"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		struct disk_config c;
		struct nm_error e = {0};
		assert_int_equal(disk_config_init(&c), 0);
		json_object *o = json_tokener_parse(cases[i].json);
		assert_non_null(o);
		assert_true(disk_config_from_json(o, "test.json", &c, &e) < 0);
		assert_int_equal(e.cls, NM_ERR_USAGE);
		assert_msg_has(&e, cases[i].needle);
		assert_msg_has(&e, "test.json: ");
		json_object_put(o);
		disk_config_free(&c);
	}
}

static void config_reads_every_field(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(config_json(f,
				     "{\"disks\": [\"nvme0n1\", \"serial:S 1\"], \"raid_level\": 0, "
				     "\"filesystem\": \"btrfs\", \"swap_size\": \"8GiB\", \"esp_size\": \"512M\", "
				     "\"homehost\": \"fra1\", \"hostname\": \"web-1\", \"extra_partitions\": "
				     "[{\"name\": \"data\", \"size\": \"1T\", \"mountpoint\": \"/data\"}]}"),
			 0);
	assert_string_equal(f->cfg.disks[1], "serial:S 1");
	assert_int_equal(f->cfg.raid_level, 0);
	assert_string_equal(f->cfg.filesystem, "btrfs");
	assert_int_equal(f->cfg.swap_size, 8 * GiB);
	assert_int_equal(f->cfg.esp_size, 512 * MiB);
	assert_string_equal(f->cfg.homehost, "fra1");
	assert_string_equal(f->cfg.hostname, "web-1");
	assert_int_equal(f->cfg.n_extra, 1);
	assert_int_equal(f->cfg.extra[0].size, TiB);
	assert_string_equal(f->cfg.extra[0].filesystem, "ext4");
}

static void raid_level_needs_enough_disks(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "nvme0n1", 512 * GiB, 512, "A");
	add_disk(&f->inv, "nvme1n1", 512 * GiB, 512, "B");
	assert_int_equal(config_json(f, "{\"raid_level\": 5}"), 0);
	assert_true(make(f, false) < 0);
	assert_int_equal(f->e.cls, NM_ERR_USAGE);
	assert_msg_has(&f->e, "raid_level: 5 needs at least 3 disks, you chose 2 (nvme0n1, nvme1n1)");
	struct nm_error e = {0};
	f->cfg.raid_level = 1;
	use_disks(f, "nvme1n1");
	assert_true(disk_plan_make(&f->inv, &f->cfg, false, &f->plan, &e) < 0);
	assert_msg_has(&e, "raid_level: 1 needs at least 2 disks, you chose 1 (nvme1n1)");
}

static void sizes_parse_with_binary_units(void **state)
{
	uint64_t v = 0;
	assert_int_equal(disk_parse_size("8G", &v), 0);
	assert_int_equal(v, 8 * GiB);
	assert_int_equal(disk_parse_size("512MiB", &v), 0);
	assert_int_equal(v, 512 * MiB);
	assert_int_equal(disk_parse_size("2tb", &v), 0);
	assert_int_equal(v, 2 * TiB);
	assert_int_equal(disk_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(disk_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_true(disk_parse_size("", &v) < 0);
	assert_true(disk_parse_size("-1G", &v) < 0);
	assert_true(disk_parse_size("1.5G", &v) < 0);
	assert_true(disk_parse_size("99999999999T", &v) < 0);
}

/* ---- selection ---- */

static void disks_are_named_by_name_path_by_id_by_path_or_serial(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "WD-1");
	struct disk_info *b = add_disk(&f->inv, "sdb", 100 * GiB, 512, "WD 2 \"x\"");
	b->by_id = strdup("/dev/disk/by-id/ata-WDC_WD-2");
	b->by_id_links = nm_strv_new();
	nm_strv_push(&b->by_id_links, "/dev/disk/by-id/ata-WDC_WD-2");
	nm_strv_push(&b->by_id_links, "/dev/disk/by-id/wwn-0x5000");
	struct disk_info *nv = add_disk(&f->inv, "nvme0n1", 100 * GiB, 512, "N1");
	nv->by_path = strdup("/dev/disk/by-path/pci-0000:01:00.0-nvme-1");
	nv->by_path_links = nm_strv_new();
	nm_strv_push(&nv->by_path_links, "/dev/disk/by-path/pci-0000:01:00.0-nvme-1");
	add_disk(&f->inv, "loop3", 10 * GiB, 512, NULL);
	static const struct {
		const char *spec, *name;
	} cases[] = {{"sda", "sda"},
		     {"/dev/nvme0n1", "nvme0n1"},
		     {"/dev/disk/by-id/ata-WDC_WD-2", "sdb"},
		     {"/dev/disk/by-id/wwn-0x5000", "sdb"},
		     {"/dev/disk/by-path/pci-0000:01:00.0-nvme-1", "nvme0n1"},
		     {"serial:WD-1", "sda"},
		     {"serial:WD 2 \"x\"", "sdb"},
		     {"loop3", "loop3"}};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++) {
		char *specs[] = {(char *)cases[i].spec, NULL};
		_cleanup_free_ size_t *idx = NULL;
		size_t n = 0;
		struct nm_error e = {0};
		assert_int_equal(disk_select(&f->inv, specs, "/mnt", &idx, &n, &e), 0);
		assert_int_equal(n, 1);
		assert_string_equal(f->inv.disks[idx[0]].name, cases[i].name);
	}
}

static void select_error(struct fixture *f, const char *list, enum nm_err_class cls, const char *needle)
{
	struct nm_error e = {0};
	disk_plan_free(&f->plan);
	nm_strv_free(f->cfg.disks);
	f->cfg.disks = NULL;
	if (list)
		use_disks(f, list);
	assert_true(disk_plan_make(&f->inv, &f->cfg, false, &f->plan, &e) < 0);
	if (e.cls != cls)
		fail_msg("--disks %s: class %d, wanted %d: %s", list ? list : "(auto)", e.cls, cls, e.msg);
	assert_msg_has(&e, needle);
}

static void unknown_or_wrong_disks_are_usage_errors(void **state)
{
	struct fixture *f = *state;
	struct disk_info *a = add_disk(&f->inv, "nvme0n1", 512 * GiB, 512, "A");
	add_partition(a, "nvme0n1p1", 1);
	add_disk(&f->inv, "nvme1n1", 512 * GiB, 512, "B");
	add_disk(&f->inv, "md127", 512 * GiB, 512, NULL);
	select_error(f, "nvme0n1,sdz", NM_ERR_USAGE, "disks[1]: \"sdz\" is not a disk here (disks: nvme0n1, nvme1n1)");
	select_error(f, "/dev/nvme0n1p1", NM_ERR_USAGE, "\"/dev/nvme0n1p1\" is partition nvme0n1p1 of nvme0n1");
	select_error(f, "md127", NM_ERR_USAGE, "md127 is an md array, not a disk");
	select_error(f, "nvme0n1,serial:A", NM_ERR_USAGE, "disks[1]: \"serial:A\" is the same disk as disks[0]");
	select_error(f, "serial:NOPE", NM_ERR_USAGE, "\"serial:NOPE\" is not a disk here");
}

static void automatic_selection_needs_exactly_two_similar_disks(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 4 * TiB, 512, "BIG1");
	select_error(f, NULL, NM_ERR_USAGE, "1 eligible disks (sda (serial BIG1, 4.0 TiB))");
	add_disk(&f->inv, "sdb", 3 * TiB, 512, "BIG2");
	select_error(f, NULL, NM_ERR_USAGE, "differ in size by more than 10%");
	add_disk(&f->inv, "sdc", 4 * TiB, 512, "BIG3");
	select_error(f, NULL, NM_ERR_USAGE, "3 eligible disks");
	/* small and loop disks are never picked by themselves */
	disk_inventory_free(&f->inv);
	add_disk(&f->inv, "sda", 4 * GiB, 512, "SMALL");
	add_disk(&f->inv, "loop0", 100 * GiB, 512, NULL);
	add_disk(&f->inv, "sdb", 100 * GiB, 512, "OK");
	select_error(f, NULL, NM_ERR_USAGE, "pass --disks");
}

static void disks_in_use_are_refused(void **state)
{
	struct fixture *f = *state;
	struct disk_info *vda = add_disk(&f->inv, "vda", 100 * GiB, 512, "V");
	add_use(vda, "vda", "/");
	struct disk_info *a = add_disk(&f->inv, "nvme0n1", 512 * GiB, 512, "A");
	add_partition(a, "nvme0n1p2", 2);
	add_use(a, "nvme0n1p2", "/srv");
	struct disk_info *b = add_disk(&f->inv, "nvme1n1", 512 * GiB, 512, "B");
	add_partition(b, "nvme1n1p3", 3);
	add_use(b, "nvme1n1p3", NULL);
	struct disk_info *c = add_disk(&f->inv, "sda", 512 * GiB, 512, "C");
	add_use(c, "md127", "/home");
	struct disk_info *d = add_disk(&f->inv, "sdb", 512 * GiB, 512, "D");
	add_partition(d, "sdb4", 4);
	add_use(d, "sdb4", "/mnt/boot"); /* the agent's own target from an earlier run */
	add_disk(&f->inv, "sdc", 512 * GiB, 512, "E");
	select_error(f, "vda", NM_ERR_REFUSED, "vda: holds the running system (vda is mounted at /)");
	select_error(f, "sdc,nvme0n1", NM_ERR_REFUSED,
		     "nvme0n1: partition nvme0n1p2 is mounted at /srv; unmount it or leave nvme0n1 out of --disks");
	select_error(f, "sda,sdc", NM_ERR_REFUSED, "sda: md127 (stacked on it) is mounted at /home; unmount it");
	use_disks(f, "sdb,sdc");
	assert_int_equal(make(f, false), 0);
}

static void sizes_too_different_or_too_small_are_refused(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 4 * TiB, 512, "A");
	add_disk(&f->inv, "sdb", 1 * TiB, 512, "B");
	add_disk(&f->inv, "loop0", 2 * GiB, 512, NULL);
	add_disk(&f->inv, "loop1", 3 * GiB, 512, NULL);
	select_error(f, "sda,sdb", NM_ERR_REFUSED, "sda (4.0 TiB) is more than 2x the size of sdb (1.0 TiB)");
	select_error(f, "loop0", NM_ERR_REFUSED, "loop0: 2.0 GiB is too small for this layout");
	/* a small loop device named explicitly is fine for a rehearsal when the layout fits */
	nm_strv_free(f->cfg.disks);
	f->cfg.disks = NULL;
	assert_int_equal(config_json(f, "{\"disks\": [\"loop1\"], \"esp_size\": \"64M\"}"), 0);
	assert_int_equal(make(f, false), 0);
	assert_int_equal(f->plan.n_disks, 1);
	assert_string_equal(f->plan.disks[0].parts[2].path, "/dev/loop1p4");
}

/* ---- absurd sizes, bad mountpoints, mistyped fields: config errors naming the field ---- */

/* A config error (exit 2) naming `needle`, from the config itself or from the planner. */
static void expect_config_error(const char *json, const char *needle)
{
	struct fixture f = {0};
	assert_int_equal(disk_config_init(&f.cfg), 0);
	add_disk(&f.inv, "sda", 100 * GiB, 512, "A");
	add_disk(&f.inv, "sdb", 100 * GiB, 512, "B");
	json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	int r = disk_config_from_json(o, "test.json", &f.cfg, &f.e);
	json_object_put(o);
	if (r == 0)
		r = make(&f, true);
	if (r == 0)
		fail_msg("%s: accepted, planned %zu partitions per disk", json, f.plan.disks[0].n_parts);
	if (f.e.cls != NM_ERR_USAGE)
		fail_msg("%s: class %d, wanted usage: %s", json, f.e.cls, f.e.msg);
	assert_msg_has(&f.e, needle);
	disk_plan_free(&f.plan);
	disk_config_free(&f.cfg);
	disk_inventory_free(&f.inv);
}

static void absurd_sizes_are_config_errors_naming_the_field(void **state)
{
	(void)state;
	expect_config_error("{\"swap_size\": \"8388608T\"}", "swap_size: \"8388608T\" is more than any disk");
	expect_config_error("{\"swap_size\": \"18446744073709551615\"}", "swap_size: \"18446744073709551615\"");
	expect_config_error("{\"esp_size\": \"8388608T\"}", "esp_size: \"8388608T\"");
	expect_config_error("{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"1G\", \"mountpoint\": \"/a\"},"
			    "{\"name\": \"b\", \"size\": \"8388608T\", \"mountpoint\": \"/b\"}]}",
			    "extra_partitions[1].size: \"8388608T\"");
	/* Under the cap, but bigger than the disks: named by the planner. */
	expect_config_error("{\"swap_size\": \"200G\"}", "swap_size: 200.0 GiB per disk does not fit on sda");
	expect_config_error("{\"esp_size\": \"99G\"}", "esp_size: 99.0 GiB per disk does not fit");
	expect_config_error("{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"1T\", \"mountpoint\": \"/a\"}]}",
			    "extra_partitions[0].size: 1.0 TiB per disk does not fit");
	/* Each fits alone; together (with the ESP and swap) they do not. */
	expect_config_error("{\"esp_size\": \"30G\", \"swap_size\": \"30G\", \"extra_partitions\": "
			    "[{\"name\": \"a\", \"size\": \"30G\", \"mountpoint\": \"/a\"},"
			    "{\"name\": \"b\", \"size\": \"10G\", \"mountpoint\": \"/b\"}]}",
			    "extra_partitions[1].size: 10.0 GiB per disk does not fit on sda (100.0 GiB) after the "
			    "partitions before it");
	expect_config_error("{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"60G\", \"mountpoint\": \"/a\"},"
			    "{\"name\": \"b\", \"size\": \"60G\", \"mountpoint\": \"/b\"}]}",
			    "extra_partitions[1].size");
}

/* Sixteen extra partitions of 1 EiB (each within the cap and each smaller than this 16 EiB
 * inventory entry) add up past 2^64: a wrapped sum would leave a small "fixed" part and plan
 * partitions far beyond the disk's end. */
static void sums_that_overflow_are_refused_not_wrapped(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", UINT64_MAX / MiB * MiB, 512, "A");
	use_disks(f, "sda");
	char json[4096] = "{\"esp_size\": \"64M\", \"extra_partitions\": [";
	for (int i = 0; i < 16; i++) {
		char one[128];
		snprintf(one, sizeof one, "%s{\"name\": \"x%d\", \"size\": \"1048576T\", \"mountpoint\": \"/x%d\"}",
			 i ? "," : "", i, i);
		strcat(json, one);
	}
	strcat(json, "]}");
	assert_int_equal(config_json(f, json), 0);
	assert_true(make(f, false) < 0);
	assert_int_equal(f->e.cls, NM_ERR_USAGE);
	assert_msg_has(&f->e, "extra_partitions[15].size");
}

/* What the planner computes from a size — rounding up to a MiB, RAID-10's two copies — must
 * not wrap either, even for a value no config parser would pass (the planner is a library). */
static void planner_arithmetic_is_checked(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 4; i++) {
		char name[8];
		snprintf(name, sizeof name, "sd%c", 'a' + i);
		add_disk(&f->inv, name, 100 * GiB, 512, name);
	}
	use_disks(f, "sda");
	f->cfg.esp_size = UINT64_MAX; /* rounds up past 2^64 */
	assert_true(make(f, true) < 0);
	assert_int_equal(f->e.cls, NM_ERR_USAGE);
	assert_msg_has(&f->e, "esp_size: too large");
	struct nm_error e = {0};
	f->cfg.esp_size = 64 * MiB;
	f->cfg.swap_size = (1ull << 63) + MiB; /* doubled for RAID-10 */
	f->cfg.raid_level = 10;
	use_disks(f, "sda,sdb,sdc,sdd");
	assert_true(disk_plan_make(&f->inv, &f->cfg, true, &f->plan, &e) < 0);
	assert_int_equal(e.cls, NM_ERR_USAGE);
	assert_msg_has(&e, "swap_size: too large");
}

static void mountpoints_stay_inside_the_target(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "/srv/..", "/..", "/srv/.", "/.",	 "/srv/../etc", "/./srv",	    "//srv", "/srv//db", "/srv/",
	    "srv",     "",    "/",	"/boot", "/boot/efi",	"/boot-fallback-1", "/nix",  "/srv db",	 "/srv\\n",
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(bad); i++) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "name", json_object_new_string("data"));
		json_object_object_add(x, "size", json_object_new_string("1G"));
		json_object_object_add(x, "mountpoint", json_object_new_string(bad[i]));
		json_object *extras = json_object_new_array();
		json_object_array_add(extras, x);
		json_object *o = json_object_new_object();
		json_object_object_add(o, "extra_partitions", extras);
		expect_config_error(json_object_to_json_string(o), "extra_partitions[0].mountpoint: ");
		json_object_put(o);
	}
	expect_config_error("{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"1G\", \"mountpoint\": \"/srv\"},"
			    "{\"name\": \"b\", \"size\": \"1G\", \"mountpoint\": \"/srv\"}]}",
			    "extra_partitions[1].mountpoint: \"/srv\" is also extra_partitions[0].mountpoint");
	/* A control character is refused, and shown escaped rather than printed. */
	expect_config_error(
	    "{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"1G\", \"mountpoint\": \"/a\\nb\"}]}",
	    "extra_partitions[0].mountpoint: \"/a\\nb\" is not a usable mountpoint: it contains a space, "
	    "quote, backslash or control character");
}

static void mistyped_fields_are_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *json, *needle;
	} cases[] = {
	    {"{\"raid_level\": 1.0}", "raid_level: "},
	    {"{\"raid_level\": true}", "raid_level: "},
	    {"{\"raid_level\": null}", "raid_level: "},
	    {"{\"filesystem\": [\"ext4\"]}", "filesystem: expected a string"},
	    {"{\"swap_size\": {\"size\": \"8G\"}}", "swap_size: "},
	    {"{\"swap_size\": -1}", "swap_size: "},
	    {"{\"esp_size\": 1073741824}", "esp_size: "},
	    {"{\"homehost\": 5}", "homehost: expected a string"},
	    {"{\"hostname\": [\"web1\"]}", "hostname: expected a string"},
	    {"{\"disks\": [\"sda\\nsdb\"]}", "disks[0]: contains a control character"},
	    {"{\"disks\": [{\"name\": \"sda\"}]}", "disks[0]: expected a string"},
	    {"{\"extra_partitions\": [\"data\"]}", "extra_partitions[0]: expected a object"},
	    {"{\"extra_partitions\": [{\"name\": 1, \"size\": \"1G\", \"mountpoint\": \"/a\"}]}",
	     "extra_partitions[0].name: expected a string"},
	    {"{\"extra_partitions\": [{\"name\": \"a\", \"size\": 1, \"mountpoint\": \"/a\"}]}",
	     "extra_partitions[0].size: 1 is not a size"},
	    {"{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"1G\", \"mountpoint\": [\"/a\"]}]}",
	     "extra_partitions[0].mountpoint: expected a string"},
	    {"{\"extra_partitions\": [{\"name\": \"a\", \"size\": \"1G\", \"mountpoint\": \"/a\", \"filesystem\": 4}]}",
	     "extra_partitions[0].filesystem: expected a string"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(cases); i++)
		expect_config_error(cases[i].json, cases[i].needle);
}

/* A state file can be edited: what it says is checked as a fresh plan is. */
static void plan_json_rejects_overlaps_and_escaping_mountpoints(void **state)
{
	struct fixture *f = *state;
	add_disk(&f->inv, "sda", 100 * GiB, 512, "A");
	add_disk(&f->inv, "sdb", 100 * GiB, 512, "B");
	assert_int_equal(config_json(f,
				     "{\"extra_partitions\": [{\"name\": \"srv\", \"size\": \"10G\", "
				     "\"mountpoint\": \"/srv\"}]}"),
			 0);
	assert_int_equal(make(f, true), 0);
	/* disks[0].partitions[1] is the ESP at 2 MiB; move it onto the BIOS boot partition. */
	expect_rejected(f, "disks", 0, "start", json_object_new_int64(1 * MiB),
			"disks[0].partitions[1].start: overlaps partitions[0]");
	/* Up to the disk's very end: the backup GPT's last MiB is the disk's, not a partition's. */
	expect_rejected(f, "disks", 0, "size", json_object_new_int64(100 * GiB - 2 * MiB),
			"disks[0].partitions[1].start: not a MiB-aligned extent inside the disk");
	/* A size that wraps start + size past 2^64 back into the disk. */
	expect_rejected(f, "disks", 0, "size", json_object_new_int64(INT64_MAX / MiB * MiB),
			"disks[0].partitions[1].start: not a MiB-aligned extent inside the disk");
	expect_rejected(f, "disks", 0, "number", json_object_new_int(1), "disks[0].partitions[1].number: 1 is also");
	size_t srv = 0;
	for (size_t i = 0; i < f->plan.n_filesystems; i++)
		if (f->plan.filesystems[i].mountpoint && strcmp(f->plan.filesystems[i].mountpoint, "/srv") == 0)
			srv = i;
	assert_true(srv > 0);
	char needle[64];
	snprintf(needle, sizeof needle, "filesystems[%zu].mountpoint: ", srv);
	static const char *const bad[] = {"/srv/..", "/..",   "srv",  "/srv/",
					  "//srv",   "/boot", "/nix", "/boot-fallback-1"};
	for (size_t i = 0; i < NM_ELEMENTSOF(bad); i++)
		expect_rejected(f, "filesystems", srv, "mountpoint", json_object_new_string(bad[i]), needle);
	expect_rejected(f, "filesystems", srv, "mountpoint", json_object_new_string("/"),
			"mountpoint: \"/\" again; a plan has one root");
	/* The second ESP (vfat) moved over the first's /boot. */
	expect_rejected(f, "filesystems", 2, "mountpoint", json_object_new_string("/boot"),
			"filesystems[2].mountpoint: \"/boot\" is also filesystems[1].mountpoint");
	expect_rejected(f, "filesystems", srv, "fstype", json_object_new_string("ext4\nx"),
			"filesystems[3].fstype: not one of");
	expect_rejected(f, "filesystems", srv, "label", json_object_new_string("srv\n"),
			"filesystems[3]: device, label or options contain a control character");
	/* The two disks must keep one geometry: md members of different sizes are not this plan. */
	json_object *o = disk_plan_to_json(&f->plan);
	json_object *d1 = json_object_array_get_idx(json_object_object_get(o, "disks"), 1);
	json_object *root = json_object_array_get_idx(json_object_object_get(d1, "partitions"), 2);
	json_object_object_add(root, "size", json_object_new_int64(10 * GiB));
	struct disk_plan p = {0};
	struct nm_error e = {0};
	assert_true(disk_plan_from_json(o, &p, &e) < 0);
	assert_msg_has(&e, "disks[1].partitions[2]: differs from disks[0].partitions[2]");
	json_object_put(o);
	disk_plan_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(one_disk_puts_root_on_partition_4_without_md, setup, teardown),
	    cmocka_unit_test_setup_teardown(two_disks_mirror_root_with_raid1, setup, teardown),
	    cmocka_unit_test_setup_teardown(layout_follows_the_smaller_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(three_disks_take_raid5_from_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(four_disks_take_raid10_and_raid6, setup, teardown),
	    cmocka_unit_test_setup_teardown(sectors_of_4096_bytes_keep_mib_alignment, setup, teardown),
	    cmocka_unit_test_setup_teardown(disks_over_2_tib_use_all_of_the_smaller, setup, teardown),
	    cmocka_unit_test_setup_teardown(uefi_mounts_one_esp_per_disk_for_mirrored_boots, setup, teardown),
	    cmocka_unit_test_setup_teardown(bios_creates_esps_without_mounting_them, setup, teardown),
	    cmocka_unit_test_setup_teardown(swap_and_extra_partitions_get_their_own_arrays, setup, teardown),
	    cmocka_unit_test_setup_teardown(every_uuid_is_fresh, setup, teardown),
	    cmocka_unit_test(partition_names_follow_kernel_naming),
	    cmocka_unit_test_setup_teardown(plan_json_round_trips_with_the_same_uuids, setup, teardown),
	    cmocka_unit_test_setup_teardown(plan_json_names_a_missing_field, setup, teardown),
	    cmocka_unit_test_setup_teardown(plan_json_rejects_a_plan_the_planner_could_not_make, setup, teardown),
	    cmocka_unit_test(config_errors_name_the_field),
	    cmocka_unit_test_setup_teardown(config_reads_every_field, setup, teardown),
	    cmocka_unit_test_setup_teardown(raid_level_needs_enough_disks, setup, teardown),
	    cmocka_unit_test(sizes_parse_with_binary_units),
	    cmocka_unit_test_setup_teardown(disks_are_named_by_name_path_by_id_by_path_or_serial, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_or_wrong_disks_are_usage_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(automatic_selection_needs_exactly_two_similar_disks, setup, teardown),
	    cmocka_unit_test_setup_teardown(disks_in_use_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(sizes_too_different_or_too_small_are_refused, setup, teardown),
	    cmocka_unit_test(absurd_sizes_are_config_errors_naming_the_field),
	    cmocka_unit_test_setup_teardown(sums_that_overflow_are_refused_not_wrapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(planner_arithmetic_is_checked, setup, teardown),
	    cmocka_unit_test(mountpoints_stay_inside_the_target),
	    cmocka_unit_test(mistyped_fields_are_config_errors),
	    cmocka_unit_test_setup_teardown(plan_json_rejects_overlaps_and_escaping_mountpoints, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
