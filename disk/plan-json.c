/* plan-json.c: the plan as JSON — what `plan --json` prints and what the state file keeps, so
 * a resumed install re-reads the very same partitions, arrays and UUIDs. Reading is strict:
 * a missing or mistyped field is an error naming its path, never a default. It never looks
 * at the machine. */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <errno.h>
#include <string.h>

static const char *const role_names[] = {
    [DISK_PART_BIOS_BOOT] = "bios_boot", [DISK_PART_ESP] = "esp",     [DISK_PART_SWAP] = "swap",
    [DISK_PART_ROOT] = "root",		 [DISK_PART_EXTRA] = "extra",
};

/* ---- writing ---- */

static json_object *part_json(const struct disk_part_plan *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "number", json_object_new_int64(p->number));
	json_object_object_add(o, "role", json_object_new_string(role_names[p->role]));
	json_object_object_add(o, "path", disk_json_str(p->path));
	json_object_object_add(o, "start", json_object_new_int64((int64_t)p->start));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)p->size));
	json_object_object_add(o, "type_guid", json_object_new_string(p->type_guid));
	json_object_object_add(o, "part_uuid", json_object_new_string(p->part_uuid));
	json_object_object_add(o, "name", disk_json_str(p->name));
	return o;
}

static json_object *member_json(const struct disk_member_plan *m)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", disk_json_str(m->name));
	json_object_object_add(o, "path", disk_json_str(m->path));
	json_object_object_add(o, "by_id", disk_json_str(m->by_id));
	json_object_object_add(o, "by_path", disk_json_str(m->by_path));
	json_object_object_add(o, "serial", disk_json_str(m->serial));
	json_object_object_add(o, "model", disk_json_str(m->model));
	json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t)m->size_bytes));
	json_object_object_add(o, "logical_sector_size", json_object_new_int64(m->logical_sector_size));
	json_object_object_add(o, "wwid", disk_json_str(m->wwid));
	json_object_object_add(o, "diskseq", json_object_new_int64((int64_t)m->diskseq));
	json_object *parts = json_object_new_array();
	for (size_t i = 0; i < m->n_parts; i++)
		json_object_array_add(parts, part_json(&m->parts[i]));
	json_object_object_add(o, "partitions", parts);
	return o;
}

static json_object *array_json(const struct disk_array_plan *a)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", disk_json_str(a->name));
	json_object_object_add(o, "device", disk_json_str(a->device));
	json_object_object_add(o, "level", json_object_new_int64(a->level));
	json_object_object_add(o, "metadata", json_object_new_string(a->metadata));
	json_object_object_add(o, "uuid", json_object_new_string(a->uuid));
	json_object_object_add(o, "members", nm_json_strv(a->members));
	return o;
}

static json_object *fs_json(const struct disk_fs_plan *f)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "device", disk_json_str(f->device));
	json_object_object_add(o, "fstype", disk_json_str(f->fstype));
	json_object_object_add(o, "uuid", json_object_new_string(f->uuid));
	json_object_object_add(o, "label", disk_json_str(f->label));
	json_object_object_add(o, "mountpoint", disk_json_str(f->mountpoint));
	json_object_object_add(o, "options", nm_json_strv(f->options));
	return o;
}

json_object *disk_plan_to_json(const struct disk_plan *plan)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "boot_mode", json_object_new_string(plan->uefi ? "uefi" : "bios"));
	json_object_object_add(o, "homehost", disk_json_str(plan->homehost));
	/* What will be erased, by serial: the line an operator checks before confirming. */
	json_object *erase = json_object_new_array();
	json_object *disks = json_object_new_array();
	for (size_t i = 0; i < plan->n_disks; i++) {
		const struct disk_member_plan *m = &plan->disks[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "name", disk_json_str(m->name));
		json_object_object_add(x, "serial", disk_json_str(m->serial));
		json_object_object_add(x, "model", disk_json_str(m->model));
		json_object_object_add(x, "size_bytes", json_object_new_int64((int64_t)m->size_bytes));
		json_object_array_add(erase, x);
		json_object_array_add(disks, member_json(m));
	}
	json_object_object_add(o, "erases", erase);
	json_object_object_add(o, "disks", disks);
	json_object *arrays = json_object_new_array();
	for (size_t i = 0; i < plan->n_arrays; i++)
		json_object_array_add(arrays, array_json(&plan->arrays[i]));
	json_object_object_add(o, "arrays", arrays);
	json_object *fss = json_object_new_array();
	for (size_t i = 0; i < plan->n_filesystems; i++)
		json_object_array_add(fss, fs_json(&plan->filesystems[i]));
	json_object_object_add(o, "filesystems", fss);
	return o;
}

/* ---- reading ---- */

struct reader {
	struct nm_error *e;
	char path[128]; /* JSON path of the object being read, for messages */
};

static int bad(struct reader *rd, const char *key, const char *what)
{
	return nm_fail(rd->e, NM_ERR_RUNTIME, EINVAL,
		       "saved plan: %s%s%s: %s; the state file is damaged: remove it and plan again before any "
		       "disk is touched",
		       rd->path, rd->path[0] ? "." : "", key, what);
}

static json_object *field(struct reader *rd, json_object *o, const char *key, enum json_type t, bool nullable, int *r)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v)) {
		*r = bad(rd, key, "missing");
		return NULL;
	}
	if (v == NULL && nullable)
		return NULL;
	if (json_object_get_type(v) != t) {
		*r = bad(rd, key,
			 t == json_type_string	    ? "not a string"
			     : t == json_type_int   ? "not a number"
			     : t == json_type_array ? "not a list"
						    : "of the wrong type");
		return NULL;
	}
	return v;
}

static int get_str(struct reader *rd, json_object *o, const char *key, bool nullable, char **out)
{
	int r = 0;
	json_object *v = field(rd, o, key, json_type_string, nullable, &r);
	if (r < 0 || !v)
		return r;
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : nm_fail(rd->e, NM_ERR_RUNTIME, ENOMEM, "saved plan: out of memory");
}

/* A string field that plans saved before it existed lack: absent or null is NULL. */
static int get_str_since(struct reader *rd, json_object *o, const char *key, char **out)
{
	if (!json_object_object_get_ex(o, key, NULL))
		return 0;
	return get_str(rd, o, key, true, out);
}

static int get_fixed(struct reader *rd, json_object *o, const char *key, char *buf, size_t size)
{
	int r = 0;
	json_object *v = field(rd, o, key, json_type_string, false, &r);
	if (r < 0)
		return r;
	const char *s = json_object_get_string(v);
	if (strlen(s) >= size || !*s)
		return bad(rd, key, "empty or too long");
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int get_u64(struct reader *rd, json_object *o, const char *key, uint64_t *out)
{
	int r = 0;
	json_object *v = field(rd, o, key, json_type_int, false, &r);
	if (r < 0)
		return r;
	if (json_object_get_int64(v) < 0)
		return bad(rd, key, "negative");
	*out = (uint64_t)json_object_get_int64(v);
	return 0;
}

static int get_unsigned(struct reader *rd, json_object *o, const char *key, unsigned *out)
{
	uint64_t v = 0;
	int r = get_u64(rd, o, key, &v);
	if (r == 0 && v > UINT32_MAX)
		return bad(rd, key, "too large");
	*out = (unsigned)v;
	return r;
}

static int get_strv(struct reader *rd, json_object *o, const char *key, char ***out)
{
	int r = 0;
	json_object *v = field(rd, o, key, json_type_array, false, &r);
	if (r < 0)
		return r;
	*out = nm_strv_new();
	for (size_t i = 0; *out && i < json_object_array_length(v); i++) {
		json_object *s = json_object_array_get_idx(v, i);
		if (json_object_get_type(s) != json_type_string)
			return bad(rd, key, "holds something that is not a string");
		if (nm_strv_push(out, json_object_get_string(s)) < 0)
			return nm_fail(rd->e, NM_ERR_RUNTIME, ENOMEM, "saved plan: out of memory");
	}
	return *out ? 0 : nm_fail(rd->e, NM_ERR_RUNTIME, ENOMEM, "saved plan: out of memory");
}

/* The list under key, with rd->path set to key for the elements' messages. */
static json_object *get_list(struct reader *rd, json_object *o, const char *key, size_t *n, int *r)
{
	json_object *v = field(rd, o, key, json_type_array, false, r);
	*n = v ? json_object_array_length(v) : 0;
	return v;
}

static void enter(struct reader *rd, const char *outer, const char *key, size_t i)
{
	int n = snprintf(rd->path, sizeof rd->path, "%s%s%s[%zu]", outer, outer[0] ? "." : "", key, i);
	if (n < 0 || (size_t)n >= sizeof rd->path)
		rd->path[sizeof rd->path - 1] = '\0';
}

static int read_role(struct reader *rd, json_object *o, enum disk_part_role *role)
{
	char *s = NULL;
	int r = get_str(rd, o, "role", false, &s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < NM_ELEMENTSOF(role_names); i++)
		if (strcmp(s, role_names[i]) == 0) {
			*role = (enum disk_part_role)i;
			free(s);
			return 0;
		}
	free(s);
	return bad(rd, "role", "unknown role");
}

static int read_part(struct reader *rd, json_object *o, struct disk_part_plan *p)
{
	int r = get_unsigned(rd, o, "number", &p->number);
	if (r == 0)
		r = read_role(rd, o, &p->role);
	if (r == 0)
		r = get_str(rd, o, "path", false, &p->path);
	if (r == 0)
		r = get_u64(rd, o, "start", &p->start);
	if (r == 0)
		r = get_u64(rd, o, "size", &p->size);
	if (r == 0)
		r = get_fixed(rd, o, "type_guid", p->type_guid, sizeof p->type_guid);
	if (r == 0)
		r = get_fixed(rd, o, "part_uuid", p->part_uuid, sizeof p->part_uuid);
	if (r == 0)
		r = get_str(rd, o, "name", true, &p->name);
	return r;
}

static int read_member(struct reader *rd, json_object *o, struct disk_member_plan *m)
{
	int r = get_str(rd, o, "name", false, &m->name);
	if (r == 0)
		r = get_str(rd, o, "path", false, &m->path);
	if (r == 0)
		r = get_str(rd, o, "by_id", true, &m->by_id);
	if (r == 0)
		r = get_str_since(rd, o, "by_path", &m->by_path);
	if (r == 0)
		r = get_str(rd, o, "serial", true, &m->serial);
	if (r == 0)
		r = get_str(rd, o, "model", true, &m->model);
	if (r == 0)
		r = get_u64(rd, o, "size_bytes", &m->size_bytes);
	if (r == 0)
		r = get_unsigned(rd, o, "logical_sector_size", &m->logical_sector_size);
	if (r == 0)
		r = get_str(rd, o, "wwid", true, &m->wwid);
	if (r == 0)
		r = get_u64(rd, o, "diskseq", &m->diskseq);
	size_t n = 0;
	json_object *parts = r == 0 ? get_list(rd, o, "partitions", &n, &r) : NULL;
	if (r < 0)
		return r;
	m->parts = calloc(n ? n : 1, sizeof *m->parts);
	if (!m->parts)
		return nm_fail(rd->e, NM_ERR_RUNTIME, ENOMEM, "saved plan: out of memory");
	char outer[128];
	snprintf(outer, sizeof outer, "%s", rd->path);
	for (size_t i = 0; r == 0 && i < n; i++) {
		m->n_parts = i + 1;
		enter(rd, outer, "partitions", i);
		r = read_part(rd, json_object_array_get_idx(parts, i), &m->parts[i]);
	}
	return r;
}

static int read_array(struct reader *rd, json_object *o, struct disk_array_plan *a)
{
	int r = get_str(rd, o, "name", false, &a->name);
	if (r == 0)
		r = get_str(rd, o, "device", false, &a->device);
	if (r == 0)
		r = get_unsigned(rd, o, "level", &a->level);
	if (r == 0)
		r = get_fixed(rd, o, "metadata", a->metadata, sizeof a->metadata);
	if (r == 0)
		r = get_fixed(rd, o, "uuid", a->uuid, sizeof a->uuid);
	if (r == 0)
		r = get_strv(rd, o, "members", &a->members);
	return r;
}

static int read_fs(struct reader *rd, json_object *o, struct disk_fs_plan *f)
{
	int r = get_str(rd, o, "device", false, &f->device);
	if (r == 0)
		r = get_str(rd, o, "fstype", false, &f->fstype);
	if (r == 0)
		r = get_fixed(rd, o, "uuid", f->uuid, sizeof f->uuid);
	if (r == 0)
		r = get_str(rd, o, "label", true, &f->label);
	if (r == 0)
		r = get_str(rd, o, "mountpoint", true, &f->mountpoint);
	if (r == 0)
		r = get_strv(rd, o, "options", &f->options);
	return r;
}

/* Reads a top-level list of n elements of `size` bytes with one reader per element. */
static int read_list(struct reader *rd, json_object *o, const char *key, size_t size, void **items, size_t *count,
		     int (*one)(struct reader *, json_object *, void *))
{
	size_t n = 0;
	int r = 0;
	json_object *list = get_list(rd, o, key, &n, &r);
	if (r < 0)
		return r;
	*items = calloc(n ? n : 1, size);
	if (!*items)
		return nm_fail(rd->e, NM_ERR_RUNTIME, ENOMEM, "saved plan: out of memory");
	for (size_t i = 0; r == 0 && i < n; i++) {
		*count = i + 1;
		enter(rd, "", key, i);
		r = one(rd, json_object_array_get_idx(list, i), (char *)*items + i * size);
	}
	rd->path[0] = '\0';
	return r;
}

static int one_member(struct reader *rd, json_object *o, void *item)
{
	return read_member(rd, o, item);
}

static int one_array(struct reader *rd, json_object *o, void *item)
{
	return read_array(rd, o, item);
}

static int one_fs(struct reader *rd, json_object *o, void *item)
{
	return read_fs(rd, o, item);
}

/* ---- checking what was read ----
 * A plan read back must be one the planner could have made: well-formed UUIDs, MiB-aligned
 * partitions inside their disk, array members and filesystem devices that are the plan's own
 * partitions or arrays. Anything else means the file was edited or damaged, and acting on it
 * could touch the wrong thing. */

static bool is_planned_partition(const struct disk_plan *p, const char *path)
{
	for (size_t i = 0; i < p->n_disks; i++)
		for (size_t j = 0; j < p->disks[i].n_parts; j++)
			if (strcmp(p->disks[i].parts[j].path, path) == 0)
				return true;
	return false;
}

static bool is_planned_array(const struct disk_plan *p, const char *device)
{
	for (size_t i = 0; i < p->n_arrays; i++)
		if (strcmp(p->arrays[i].device, device) == 0)
			return true;
	return false;
}

/* Extents and mountpoints: the planner's own check (plan-check.c), so a state file passes
 * exactly what a fresh plan must. */
static int check_disks(struct reader *rd, const struct disk_plan *p)
{
	struct nm_error why = {0};
	if (disk_plan_check(p, NM_ERR_RUNTIME, &why) == 0)
		return 0;
	return nm_fail(rd->e, NM_ERR_RUNTIME, EINVAL,
		       "saved plan: %s; the state file is damaged: remove it and plan again before any disk is touched",
		       why.msg);
}

static int check_arrays(struct reader *rd, const struct disk_plan *p)
{
	for (size_t i = 0; i < p->n_arrays; i++) {
		const struct disk_array_plan *a = &p->arrays[i];
		snprintf(rd->path, sizeof rd->path, "arrays[%zu]", i);
		if (!disk_uuid_valid(a->uuid))
			return bad(rd, "uuid", "not a UUID");
		if (a->level != 0 && a->level != 1 && a->level != 5 && a->level != 6 && a->level != 10)
			return bad(rd, "level", "not an md level nmmm plans (0, 1, 5, 6, 10)");
		for (size_t j = 0; a->members && a->members[j]; j++)
			if (!is_planned_partition(p, a->members[j]))
				return bad(rd, "members", "names a device that is no partition of the plan's disks");
	}
	return 0;
}

static int check_filesystems(struct reader *rd, const struct disk_plan *p)
{
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *f = &p->filesystems[i];
		snprintf(rd->path, sizeof rd->path, "filesystems[%zu]", i);
		bool vfat = strcmp(f->fstype, "vfat") == 0;
		if (vfat ? !disk_vfat_id_valid(f->uuid) : !disk_uuid_valid(f->uuid))
			return bad(rd, "uuid", vfat ? "not a FAT volume id (XXXX-XXXX)" : "not a UUID");
		if (!is_planned_partition(p, f->device) && !is_planned_array(p, f->device))
			return bad(rd, "device", "is neither a partition nor an array of the plan");
	}
	return 0;
}

int disk_plan_from_json(json_object *o, struct disk_plan *plan, struct nm_error *e)
{
	*plan = (struct disk_plan){0};
	struct reader rd = {.e = e};
	if (json_object_get_type(o) != json_type_object)
		return bad(&rd, "plan", "not a JSON object");
	_cleanup_free_ char *mode = NULL;
	int r = get_str(&rd, o, "boot_mode", false, &mode);
	if (r == 0 && strcmp(mode, "uefi") != 0 && strcmp(mode, "bios") != 0)
		r = bad(&rd, "boot_mode", "neither \"uefi\" nor \"bios\"");
	plan->uefi = r == 0 && strcmp(mode, "uefi") == 0;
	if (r == 0)
		r = get_str(&rd, o, "homehost", false, &plan->homehost);
	if (r == 0)
		r = read_list(&rd, o, "disks", sizeof *plan->disks, (void **)&plan->disks, &plan->n_disks, one_member);
	if (r == 0)
		r = read_list(&rd, o, "arrays", sizeof *plan->arrays, (void **)&plan->arrays, &plan->n_arrays,
			      one_array);
	if (r == 0)
		r = read_list(&rd, o, "filesystems", sizeof *plan->filesystems, (void **)&plan->filesystems,
			      &plan->n_filesystems, one_fs);
	if (r == 0 && plan->n_disks == 0)
		r = bad(&rd, "disks", "empty");
	if (r == 0)
		r = check_disks(&rd, plan);
	if (r == 0)
		r = check_arrays(&rd, plan);
	if (r == 0)
		r = check_filesystems(&rd, plan);
	if (r < 0)
		disk_plan_free(plan);
	return r;
}
