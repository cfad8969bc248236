/* plan.c: the planner — from the inventory, the config and the boot mode to a struct
 * disk_plan: GPT partitions per disk (1 MiB aligned, sized by the smallest disk), md arrays,
 * filesystems, mountpoints, and every UUID, chosen once here. It decides and validates only:
 * it never opens, reads or writes a device (the inventory was read before). */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <errno.h>
#include <string.h>

#define MiB (1ull << 20)

/* GPT partition type GUIDs (UEFI spec and freedesktop discoverable partitions). */
#define GUID_BIOS_BOOT "21686148-6449-6e6f-744e-656564454649"
#define GUID_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define GUID_LINUX_RAID "a19d880f-05fc-4d3b-a006-743f0f84911e"
#define GUID_LINUX_SWAP "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
#define GUID_LINUX_FS "0fc63daf-8483-4772-8e79-3d69d8477de4"

/* Sizes follow the smallest disk up to this ratio; beyond it most of the larger disk would
 * lie unused, which is rarely what an operator meant. */
#define MAX_SIZE_RATIO 2

/* One partition of the per-disk template, before it gets a path and a UUID. */
struct slot {
	unsigned number;
	enum disk_part_role role;
	uint64_t size;
	const char *gpt_name;
	const char *type_guid;
	const char *array; /* md array name with two or more disks */
	const char *fstype; /* NULL for the BIOS boot partition and the ESP (per disk) */
	const char *label;
	const char *mountpoint;
};

struct layout {
	struct slot slots[8 + 64];
	char fields[8 + 64][48]; /* per slot, the config field its size comes from ("" when fixed) */
	size_t n_slots;
	unsigned level; /* meaningful with two or more disks */
	size_t n_disks;
};

static unsigned min_disks(unsigned level)
{
	switch (level) {
	case 5: return 3;
	case 6:
	case 10: return 4;
	default: return 2;
	}
}

static uint64_t div_round_up(uint64_t v, uint64_t d)
{
	return v / d + (v % d != 0);
}

/* The member partition size that gives an array of `capacity` bytes; false when it does not
 * fit in 64 bits (the caller names the config field). */
static bool member_size(uint64_t capacity, unsigned level, size_t n, uint64_t *out)
{
	uint64_t per = capacity;
	if (n >= 2) {
		switch (level) {
		case 0: per = div_round_up(capacity, n); break;
		case 5: per = div_round_up(capacity, n - 1); break;
		case 6: per = div_round_up(capacity, n - 2); break;
		case 10: /* near=2: two copies of each block */
			if (!disk_mul_u64(capacity, 2, &per))
				return false;
			per = div_round_up(per, n);
			break;
		default: break;
		}
	}
	return disk_round_up_mib(per, out);
}

static void chosen_list(const struct disk_inventory *inv, const size_t *idx, size_t n, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && off < size; i++) {
		int k = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", inv->disks[idx[i]].name);
		if (k > 0)
			off += (size_t)k;
	}
}

static int choose_level(const struct disk_inventory *inv, const struct disk_config *cfg, const size_t *idx, size_t n,
			unsigned *level, struct nm_error *e)
{
	char names[512];
	chosen_list(inv, idx, n, names, sizeof names);
	if (cfg->raid_level < 0) {
		*level = 1;
		return 0;
	}
	*level = (unsigned)cfg->raid_level;
	if (n < min_disks(*level))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "raid_level: %u needs at least %u disks, you chose %zu (%s); name more disks or choose "
			       "another level%s",
			       *level, min_disks(*level), n, names,
			       n == 1 ? " (leave raid_level out for one disk)" : "");
	return 0;
}

/* Sizes: the disks must be within MAX_SIZE_RATIO of each other, and the smallest must hold
 * the layout with at least DISK_MIN_ROOT_SIZE for "/". */
static int check_sizes(const struct disk_inventory *inv, const size_t *idx, size_t n, size_t *smallest,
		       struct nm_error *e)
{
	size_t small = idx[0], big = idx[0];
	for (size_t i = 1; i < n; i++) {
		if (inv->disks[idx[i]].size_bytes < inv->disks[small].size_bytes)
			small = idx[i];
		if (inv->disks[idx[i]].size_bytes > inv->disks[big].size_bytes)
			big = idx[i];
	}
	const struct disk_info *s = &inv->disks[small], *b = &inv->disks[big];
	char ss[32], bs[32];
	if (b->size_bytes / MAX_SIZE_RATIO > s->size_bytes)
		return nm_fail(e, NM_ERR_REFUSED, EINVAL,
			       "%s (%s) is more than %dx the size of %s (%s): partitions follow the smaller disk, so "
			       "most of %s would stay unused; choose disks of similar size in --disks",
			       b->name, disk_human_size(b->size_bytes, bs, sizeof bs), MAX_SIZE_RATIO, s->name,
			       disk_human_size(s->size_bytes, ss, sizeof ss), b->name);
	for (size_t i = 0; i < n; i++) {
		const struct disk_info *d = &inv->disks[idx[i]];
		if (d->size_bytes < DISK_MIN_AUTO_SIZE)
			nm_warn("%s: only %s; fine for a rehearsal, too small for a real NixOS system", d->name,
				disk_human_size(d->size_bytes, ss, sizeof ss));
	}
	*smallest = small;
	return 0;
}

static void add_slot(struct layout *l, struct slot s, const char *field)
{
	snprintf(l->fields[l->n_slots], sizeof l->fields[l->n_slots], "%s", field);
	l->slots[l->n_slots++] = s;
}

static int too_big(const char *field, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_USAGE, ERANGE,
		       "%s: too large; the partition it asks for does not fit in 64 bits; give a size below the "
		       "disks' size",
		       field);
}

/* A size the config chose that cannot fit beside the rest: named, as a config error. A disk too
 * small for the default layout (BIOS boot, the default ESP, 1 GiB for /) is a refusal instead:
 * nothing in the config is wrong, the disk is. */
static bool default_sized(const struct slot *s, const struct disk_config *cfg)
{
	return s->role == DISK_PART_BIOS_BOOT || (s->role == DISK_PART_ESP && cfg->esp_size == DISK_DEFAULT_ESP_SIZE);
}

static int too_small_disk(const struct disk_info *d, const struct layout *l, struct nm_error *e)
{
	uint64_t need = 2 * MiB + DISK_MIN_ROOT_SIZE;
	for (size_t i = 0; i < l->n_slots; i++)
		if (!disk_add_u64(need, l->slots[i].size, &need))
			need = UINT64_MAX;
	char have[32], needs[32];
	return nm_fail(e, NM_ERR_REFUSED, ENOSPC,
		       "%s: %s is too small for this layout, which needs at least %s (ESP, swap and extra "
		       "partitions, and %llu GiB for /); choose a bigger disk or a smaller esp_size, "
		       "swap_size or extra_partitions",
		       d->name, disk_human_size(d->size_bytes, have, sizeof have),
		       disk_human_size(need, needs, sizeof needs), (unsigned long long)(DISK_MIN_ROOT_SIZE >> 30));
}

/* Every partition but root must fit, with the first and last MiB and DISK_MIN_ROOT_SIZE for /,
 * on the smallest disk: first each on its own (an absurd value is named as such), then all
 * together, in checked arithmetic, naming the field where the sum no longer fits. */
static int check_fit(const struct disk_config *cfg, const struct disk_info *d, const struct layout *l, uint64_t usable,
		     struct nm_error *e)
{
	/* A disk that cannot hold even the smallest layout (BIOS boot, the smallest ESP, 1 GiB for /)
	 * is refused as such, whatever the config asks. */
	if (usable < 2 * MiB + MiB + DISK_MIN_ESP_SIZE + DISK_MIN_ROOT_SIZE)
		return too_small_disk(d, l, e);
	uint64_t room = usable - DISK_MIN_ROOT_SIZE - 2 * MiB;
	char have[32], size[32], left[32], before_s[32];
	for (size_t i = 0; i < l->n_slots; i++) {
		const struct slot *s = &l->slots[i];
		if (s->size > room && !default_sized(s, cfg))
			return nm_fail(e, NM_ERR_USAGE, ENOSPC,
				       "%s: %s per disk does not fit on %s (%s), which has room for at most %s beside "
				       "1 GiB for / and the GPT; choose a smaller size",
				       l->fields[i], disk_human_size(s->size, size, sizeof size), d->name,
				       disk_human_size(d->size_bytes, have, sizeof have),
				       disk_human_size(room, left, sizeof left));
	}
	uint64_t used = 0;
	for (size_t i = 0; i < l->n_slots; i++) {
		const struct slot *s = &l->slots[i];
		uint64_t before = used;
		if (disk_add_u64(used, s->size, &used) && used <= room)
			continue;
		if (default_sized(s, cfg))
			return too_small_disk(d, l, e);
		return nm_fail(e, NM_ERR_USAGE, ENOSPC,
			       "%s: %s per disk does not fit on %s (%s) after the partitions before it (%s); with 1 "
			       "GiB for / and the GPT at most %s is left; choose smaller sizes or fewer extra "
			       "partitions",
			       l->fields[i], disk_human_size(s->size, size, sizeof size), d->name,
			       disk_human_size(d->size_bytes, have, sizeof have),
			       disk_human_size(before, before_s, sizeof before_s),
			       disk_human_size(room - before, left, sizeof left));
	}
	return 0;
}

/* The per-disk template: numbers, roles, sizes and types, the same on every disk. */
static int make_layout(const struct disk_config *cfg, const struct disk_info *smallest_disk, size_t n, struct layout *l,
		       struct nm_error *e)
{
	uint64_t smallest = smallest_disk->size_bytes;
	bool raid = n >= 2;
	const char *data_guid = raid ? GUID_LINUX_RAID : GUID_LINUX_FS;
	uint64_t size = 0;
	add_slot(l, (struct slot){1, DISK_PART_BIOS_BOOT, MiB, "bios", GUID_BIOS_BOOT, NULL, NULL, NULL, NULL}, "");
	if (!disk_round_up_mib(cfg->esp_size, &size))
		return too_big("esp_size", e);
	add_slot(l, (struct slot){2, DISK_PART_ESP, size, "esp", GUID_ESP, NULL, NULL, NULL, NULL}, "esp_size");
	if (cfg->swap_size) {
		if (!member_size(cfg->swap_size, l->level, n, &size))
			return too_big("swap_size", e);
		add_slot(l,
			 (struct slot){3, DISK_PART_SWAP, size, "swap", raid ? GUID_LINUX_RAID : GUID_LINUX_SWAP,
				       "swap", "swap", "swap", NULL},
			 "swap_size");
	}
	size_t root_slot = l->n_slots;
	add_slot(l, (struct slot){4, DISK_PART_ROOT, 0, "root", data_guid, "root", cfg->filesystem, "nixos", "/"}, "");
	if (cfg->n_extra > NM_ELEMENTSOF(l->slots) - l->n_slots)
		return nm_fail(e, NM_ERR_USAGE, E2BIG, "extra_partitions: %zu is too many; at most %zu", cfg->n_extra,
			       NM_ELEMENTSOF(l->slots) - l->n_slots);
	for (size_t i = 0; i < cfg->n_extra; i++) {
		const struct disk_extra_part *x = &cfg->extra[i];
		char field[48];
		snprintf(field, sizeof field, "extra_partitions[%zu].size", i);
		if (!member_size(x->size, l->level, n, &size))
			return too_big(field, e);
		add_slot(l,
			 (struct slot){(unsigned)(5 + i), DISK_PART_EXTRA, size, x->name, data_guid, x->name,
				       x->filesystem, x->name, x->mountpoint},
			 field);
	}

	/* Partitions start at 1 MiB; the last MiB stays free for the backup GPT (33 sectors of
	 * 512 bytes, or 6 of 4096, both far below 1 MiB). */
	uint64_t usable = smallest / MiB * MiB;
	int r = check_fit(cfg, smallest_disk, l, usable, e);
	if (r < 0)
		return r;
	uint64_t fixed = 2 * MiB; /* the first MiB and the last; check_fit proved the sum fits */
	for (size_t i = 0; i < l->n_slots; i++)
		fixed += l->slots[i].size;
	l->slots[root_slot].size = usable - fixed;
	return 0;
}

/* ---- filling the plan ---- */

static int oom(struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "plan: out of memory");
}

static int fill_member(const struct disk_info *d, const struct layout *l, struct disk_member_plan *m,
		       struct nm_error *e)
{
	m->name = strdup(d->name);
	m->path = strdup(d->path ? d->path : "");
	m->by_id = d->by_id ? strdup(d->by_id) : NULL;
	m->by_path = d->by_path ? strdup(d->by_path) : NULL;
	m->serial = d->serial ? strdup(d->serial) : NULL;
	m->model = d->model ? strdup(d->model) : NULL;
	m->size_bytes = d->size_bytes;
	m->logical_sector_size = d->logical_sector_size;
	m->wwid = d->wwid ? strdup(d->wwid) : NULL;
	m->diskseq = d->diskseq;
	m->parts = calloc(l->n_slots, sizeof *m->parts);
	if (!m->name || !m->path || !m->parts)
		return oom(e);
	m->n_parts = l->n_slots;
	uint64_t at = MiB;
	for (size_t i = 0; i < l->n_slots; i++) {
		const struct slot *s = &l->slots[i];
		struct disk_part_plan *p = &m->parts[i];
		p->number = s->number;
		p->role = s->role;
		p->start = at;
		p->size = s->size;
		if (!disk_add_u64(at, s->size, &at))
			return nm_fail(e, NM_ERR_USAGE, ERANGE, "%s: partition %u ends beyond 64 bits", d->name,
				       s->number);
		_cleanup_free_ char *pname = disk_partition_name(d->name, s->number);
		p->path = pname ? nm_strdup_printf("/dev/%s", pname) : NULL;
		p->name = strdup(s->gpt_name);
		snprintf(p->type_guid, sizeof p->type_guid, "%s", s->type_guid);
		if (!p->path || !p->name)
			return oom(e);
		if (disk_random_uuid(p->part_uuid) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, EIO, "plan: no randomness for partition UUIDs (getrandom)");
	}
	return 0;
}

static int add_array(struct disk_plan *p, const struct slot *s, unsigned level, size_t slot_index, struct nm_error *e)
{
	struct disk_array_plan *a = &p->arrays[p->n_arrays++];
	a->name = strdup(s->array);
	a->device = nm_strdup_printf("/dev/md/%s", s->array);
	a->level = level;
	snprintf(a->metadata, sizeof a->metadata, "1.2");
	a->members = nm_strv_new();
	if (!a->name || !a->device || !a->members)
		return oom(e);
	for (size_t i = 0; i < p->n_disks; i++)
		if (nm_strv_push(&a->members, p->disks[i].parts[slot_index].path) < 0)
			return oom(e);
	if (disk_random_uuid(a->uuid) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "plan: no randomness for array UUIDs (getrandom)");
	return 0;
}

static int add_fs(struct disk_plan *p, const char *device, const char *fstype, const char *label,
		  const char *mountpoint, char *const *options, struct nm_error *e)
{
	struct disk_fs_plan *f = &p->filesystems[p->n_filesystems++];
	f->device = strdup(device);
	f->fstype = strdup(fstype);
	f->label = strdup(label);
	f->mountpoint = mountpoint ? strdup(mountpoint) : NULL;
	f->options = nm_strv_new();
	if (!f->device || !f->fstype || !f->label || (mountpoint && !f->mountpoint) || !f->options)
		return oom(e);
	for (size_t i = 0; options && options[i]; i++)
		if (nm_strv_push(&f->options, options[i]) < 0)
			return oom(e);
	int r = strcmp(fstype, "vfat") == 0 ? disk_random_vfat_id(f->uuid) : disk_random_uuid(f->uuid);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, EIO, "plan: no randomness for filesystem UUIDs (getrandom)");
	return 0;
}

/* The filesystem of a template slot: on the md array with two or more disks, else on the
 * one disk's partition. */
static int add_slot_fs(struct disk_plan *p, const struct slot *s, size_t slot_index, struct nm_error *e)
{
	_cleanup_free_ char *dev =
	    p->n_disks >= 2 ? nm_strdup_printf("/dev/md/%s", s->array) : strdup(p->disks[0].parts[slot_index].path);
	if (!dev)
		return oom(e);
	return add_fs(p, dev, s->fstype, s->label, s->mountpoint, NULL, e);
}

/* One ESP per disk. On UEFI the first is /boot and the others /boot-fallback-N, which GRUB's
 * mirroredBoots keeps in step; "nofail" so that a machine with a dead disk still boots. On
 * BIOS they are formatted but not mounted, ready for a later switch of the firmware. */
static int add_esps(struct disk_plan *p, bool mounted, struct nm_error *e)
{
	char *const options[] = {"fmask=0077", "dmask=0077", "nofail", NULL};
	for (size_t i = 0; i < p->n_disks; i++) {
		char label[32], mp[48];
		snprintf(label, sizeof label, "ESP%u", (unsigned)(i + 1) % 100000000u);
		if (i == 0)
			snprintf(mp, sizeof mp, "/boot");
		else
			snprintf(mp, sizeof mp, "/boot-fallback-%zu", i);
		int r = add_fs(p, p->disks[i].parts[1].path, "vfat", label, mounted ? mp : NULL, options, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int fill_filesystems(struct disk_plan *p, const struct layout *l, struct nm_error *e)
{
	p->filesystems = calloc(l->n_slots + p->n_disks, sizeof *p->filesystems);
	if (!p->filesystems)
		return oom(e);
	size_t root = 0, swap = SIZE_MAX;
	for (size_t i = 0; i < l->n_slots; i++) {
		if (l->slots[i].role == DISK_PART_ROOT)
			root = i;
		if (l->slots[i].role == DISK_PART_SWAP)
			swap = i;
	}
	int r = add_slot_fs(p, &l->slots[root], root, e);
	if (r == 0 && p->uefi)
		r = add_esps(p, true, e);
	/* Extras in mount order: a parent sorts before its children ("/srv" < "/srv/db"). */
	size_t extras[NM_ELEMENTSOF(l->slots)], n_extras = 0;
	for (size_t i = 0; i < l->n_slots; i++) {
		if (l->slots[i].role != DISK_PART_EXTRA)
			continue;
		size_t k = n_extras++;
		while (k > 0 && strcmp(l->slots[extras[k - 1]].mountpoint, l->slots[i].mountpoint) > 0) {
			extras[k] = extras[k - 1];
			k--;
		}
		extras[k] = i;
	}
	for (size_t i = 0; r == 0 && i < n_extras; i++)
		r = add_slot_fs(p, &l->slots[extras[i]], extras[i], e);
	if (r == 0 && swap != SIZE_MAX)
		r = add_slot_fs(p, &l->slots[swap], swap, e);
	if (r == 0 && !p->uefi)
		r = add_esps(p, false, e);
	return r;
}

static int fill_plan(const struct disk_inventory *inv, const struct disk_config *cfg, const size_t *idx, size_t n,
		     const struct layout *l, struct disk_plan *p, struct nm_error *e)
{
	p->homehost = strdup(cfg->homehost ? cfg->homehost : "nmmm");
	p->disks = calloc(n, sizeof *p->disks);
	p->arrays = calloc(l->n_slots, sizeof *p->arrays);
	if (!p->homehost || !p->disks || !p->arrays)
		return oom(e);
	for (size_t i = 0; i < n; i++) {
		p->n_disks = i + 1;
		int r = fill_member(&inv->disks[idx[i]], l, &p->disks[i], e);
		if (r < 0)
			return r;
	}
	/* "root" first, as the one array every plan has; then swap and the extras. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; n >= 2 && i < l->n_slots; i++) {
			if (!l->slots[i].array || (l->slots[i].role == DISK_PART_ROOT) != (pass == 0))
				continue;
			int r = add_array(p, &l->slots[i], l->level, i, e);
			if (r < 0)
				return r;
		}
	return fill_filesystems(p, l, e);
}

int disk_plan_make(const struct disk_inventory *inv, const struct disk_config *cfg, bool uefi, struct disk_plan *plan,
		   struct nm_error *e)
{
	*plan = (struct disk_plan){.uefi = uefi};
	_cleanup_free_ size_t *idx = NULL;
	size_t n = 0;
	int r = disk_select(inv, cfg->disks, cfg->target, &idx, &n, e);
	if (r < 0)
		return r;
	struct layout l = {.n_disks = n};
	size_t smallest = 0;
	r = n >= 2 || cfg->raid_level >= 0 ? choose_level(inv, cfg, idx, n, &l.level, e) : 0;
	if (r == 0)
		r = check_sizes(inv, idx, n, &smallest, e);
	if (r == 0)
		r = make_layout(cfg, &inv->disks[smallest], n, &l, e);
	if (r == 0)
		r = fill_plan(inv, cfg, idx, n, &l, plan, e);
	/* The same check a plan read back from the state file gets, before anyone sees this one. */
	if (r == 0) {
		r = disk_plan_check(plan, NM_ERR_USAGE, e);
		if (r < 0)
			nm_error_prefix(e, "plan");
	}
	if (r < 0)
		disk_plan_free(plan);
	return r;
}

static void free_member(struct disk_member_plan *m)
{
	free(m->name);
	free(m->path);
	free(m->by_id);
	free(m->by_path);
	free(m->serial);
	free(m->model);
	free(m->wwid);
	for (size_t j = 0; j < m->n_parts; j++) {
		free(m->parts[j].path);
		free(m->parts[j].name);
	}
	free(m->parts);
}

void disk_plan_free(struct disk_plan *plan)
{
	if (!plan)
		return;
	free(plan->homehost);
	for (size_t i = 0; plan->disks && i < plan->n_disks; i++)
		free_member(&plan->disks[i]);
	free(plan->disks);
	for (size_t i = 0; plan->arrays && i < plan->n_arrays; i++) {
		free(plan->arrays[i].name);
		free(plan->arrays[i].device);
		nm_strv_free(plan->arrays[i].members);
	}
	free(plan->arrays);
	for (size_t i = 0; plan->filesystems && i < plan->n_filesystems; i++) {
		struct disk_fs_plan *f = &plan->filesystems[i];
		free(f->device);
		free(f->fstype);
		free(f->label);
		free(f->mountpoint);
		nm_strv_free(f->options);
	}
	free(plan->filesystems);
	*plan = (struct disk_plan){0};
}

const struct disk_fs_plan *disk_plan_fs_at(const struct disk_plan *plan, const char *mountpoint)
{
	for (size_t i = 0; i < plan->n_filesystems; i++)
		if (plan->filesystems[i].mountpoint && strcmp(plan->filesystems[i].mountpoint, mountpoint) == 0)
			return &plan->filesystems[i];
	return NULL;
}
