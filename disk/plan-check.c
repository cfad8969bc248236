/* plan-check.c: the one check every plan passes before anything acts on it — a fresh one from
 * the planner and one read back from the state file alike: extents that are non-empty, MiB
 * aligned, inside the disk and apart from each other, the same on every disk, and mountpoints
 * that stay inside the target (no "." or ".." components) without colliding with each other or
 * with the layout's own. It only looks at the plan; it never opens anything.
 *
 * Why both paths: a plan is shown for confirmation and then carried out; a value that slipped
 * past the config checks (or an edited state file) must stop here, before any disk is touched,
 * and not at partitioning, after the wipe. */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <errno.h>
#include <string.h>

#define MiB (1ull << 20)
#define MAX_MOUNTPOINT_LEN 255

/* Whether path is p or below it ("/boot" holds "/boot" and "/boot/x", not "/bootx"). */
static bool at_or_below(const char *path, const char *p)
{
	size_t n = strlen(p);
	return strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Why mp is not a clean absolute path: "/" alone is clean here; callers decide who may have it. */
static const char *path_problem(const char *mp)
{
	if (mp[0] != '/')
		return "is not a usable mountpoint: not an absolute path";
	if (strlen(mp) > MAX_MOUNTPOINT_LEN)
		return "is not a usable mountpoint: longer than 255 bytes";
	for (const char *p = mp; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f || *p == '"' || *p == '\\')
			return "is not a usable mountpoint: it contains a space, quote, backslash or control character";
	if (strcmp(mp, "/") == 0)
		return NULL;
	/* Component by component: "/srv/.." is "/", and "/.." the rescue's own root. */
	for (const char *c = mp + 1;; c++) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0)
			return "is not a usable mountpoint: it has an empty component (\"//\" or a trailing \"/\")";
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return "is not a usable mountpoint: it has a \".\" or \"..\" component";
		if (!end)
			return NULL;
		c = end;
	}
}

/* The layout's own mountpoints: "/" (root), /boot and the ESPs' /boot-fallback-N, and /nix,
 * where the install puts the store. */
static bool reserved(const char *mp)
{
	return strcmp(mp, "/") == 0 || at_or_below(mp, "/boot") || strncmp(mp, "/boot-fallback", 14) == 0 ||
	    strcmp(mp, "/nix") == 0;
}

const char *disk_mountpoint_problem(const char *mp)
{
	const char *why = path_problem(mp);
	if (why)
		return why;
	if (reserved(mp))
		return "is used by the layout itself (/, /boot, /boot-fallback*, /nix)";
	return NULL;
}

static int fail_at(struct nm_error *e, enum nm_err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct nm_error *e, enum nm_err_class cls, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nm_fail(e, cls, EINVAL, "%s", msg);
}

static int check_extent(const struct disk_member_plan *m, size_t i, size_t j, enum nm_err_class cls, struct nm_error *e)
{
	const struct disk_part_plan *q = &m->parts[j];
	if (!disk_uuid_valid(q->part_uuid) || !disk_uuid_valid(q->type_guid))
		return fail_at(e, cls, "disks[%zu].partitions[%zu].part_uuid: part_uuid or type_guid is not a UUID", i,
			       j);
	/* The first MiB holds the GPT, the last MiB the backup GPT (the planner leaves both). */
	uint64_t last = m->size_bytes / MiB * MiB, end = 0;
	if (q->start % MiB || q->size % MiB || q->size == 0 || q->start < MiB || last < MiB ||
	    !disk_add_u64(q->start, q->size, &end) || end > last - MiB)
		return fail_at(
		    e, cls,
		    "disks[%zu].partitions[%zu].start: not a MiB-aligned extent inside the disk (start %llu, "
		    "size %llu bytes, %s has %llu bytes and keeps its first and last MiB for the GPT)",
		    i, j, (unsigned long long)q->start, (unsigned long long)q->size, m->name,
		    (unsigned long long)m->size_bytes);
	for (size_t k = 0; k < j; k++) {
		const struct disk_part_plan *o = &m->parts[k];
		if (o->number == q->number)
			return fail_at(e, cls, "disks[%zu].partitions[%zu].number: %u is also partitions[%zu].number",
				       i, j, q->number, k);
		/* Both extents are known not to wrap (checked above, in order). */
		if (q->start < o->start + o->size && o->start < end)
			return fail_at(e, cls,
				       "disks[%zu].partitions[%zu].start: overlaps partitions[%zu] (partition %u)", i,
				       j, k, o->number);
	}
	return 0;
}

/* Members of one array must match: the planner lays out every disk alike. */
static int check_same_geometry(const struct disk_plan *p, size_t i, enum nm_err_class cls, struct nm_error *e)
{
	const struct disk_member_plan *m = &p->disks[i], *first = &p->disks[0];
	if (m->n_parts != first->n_parts)
		return fail_at(e, cls,
			       "disks[%zu].partitions: %zu partitions, disks[0] has %zu; every disk gets the same", i,
			       m->n_parts, first->n_parts);
	for (size_t j = 0; j < m->n_parts; j++)
		if (m->parts[j].number != first->parts[j].number || m->parts[j].start != first->parts[j].start ||
		    m->parts[j].size != first->parts[j].size)
			return fail_at(e, cls,
				       "disks[%zu].partitions[%zu]: differs from disks[0].partitions[%zu]; every "
				       "disk gets the same geometry",
				       i, j, j);
	return 0;
}

static bool clean(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool is_esp(const struct disk_fs_plan *f)
{
	return f->fstype && strcmp(f->fstype, "vfat") == 0;
}

static int check_mount(const struct disk_plan *p, size_t i, bool *have_root, enum nm_err_class cls, struct nm_error *e)
{
	const struct disk_fs_plan *f = &p->filesystems[i];
	const char *mp = f->mountpoint;
	if (!mp)
		return 0;
	const char *why = path_problem(mp);
	if (why) {
		/* Quoted as JSON: a newline in an edited state file is shown as \n, not printed. */
		json_object *quoted = json_object_new_string(mp);
		int r = fail_at(
		    e, cls, "filesystems[%zu].mountpoint: %s %s", i,
		    quoted ? json_object_to_json_string_ext(quoted, JSON_C_TO_STRING_NOSLASHESCAPE) : "\"\"", why);
		json_object_put(quoted);
		return r;
	}
	if (strcmp(mp, "/") == 0) {
		if (*have_root || is_esp(f))
			return fail_at(e, cls, "filesystems[%zu].mountpoint: \"/\" again; a plan has one root", i);
		*have_root = true;
	} else if (is_esp(f) ? !(strcmp(mp, "/boot") == 0 || strncmp(mp, "/boot-fallback-", 15) == 0) : reserved(mp)) {
		return fail_at(e, cls, "filesystems[%zu].mountpoint: \"%s\" %s", i, mp,
			       is_esp(f) ? "is not an ESP's mountpoint (/boot, /boot-fallback-N)"
					 : "is used by the layout itself (/boot, /boot-fallback*, /nix)");
	}
	for (size_t k = 0; k < i; k++)
		if (p->filesystems[k].mountpoint && strcmp(p->filesystems[k].mountpoint, mp) == 0)
			return fail_at(e, cls,
				       "filesystems[%zu].mountpoint: \"%s\" is also filesystems[%zu].mountpoint", i, mp,
				       k);
	return 0;
}

/* The plan's own words reach mdadm's and mkfs's argv, fstab-like Nix attributes and the log: no
 * control characters in them, and only filesystems the format phase knows. */
static int check_words(const struct disk_plan *p, enum nm_err_class cls, struct nm_error *e)
{
	static const char *const fstypes[] = {"ext4", "xfs", "btrfs", "vfat", "swap"};
	if (!clean(p->homehost))
		return fail_at(e, cls, "homehost: contains a control character");
	for (size_t i = 0; i < p->n_disks; i++)
		for (size_t j = 0; j < p->disks[i].n_parts; j++)
			if (!clean(p->disks[i].parts[j].name) || !clean(p->disks[i].parts[j].path))
				return fail_at(e, cls,
					       "disks[%zu].partitions[%zu]: name or path contains a control character",
					       i, j);
	for (size_t i = 0; i < p->n_arrays; i++)
		if (!clean(p->arrays[i].name) || !clean(p->arrays[i].device))
			return fail_at(e, cls, "arrays[%zu]: name or device contains a control character", i);
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *f = &p->filesystems[i];
		bool known = false;
		for (size_t k = 0; k < NM_ELEMENTSOF(fstypes); k++)
			known = known || (f->fstype && strcmp(f->fstype, fstypes[k]) == 0);
		if (!known)
			return fail_at(e, cls, "filesystems[%zu].fstype: not one of ext4, xfs, btrfs, vfat, swap", i);
		bool ok = clean(f->device) && clean(f->label);
		for (size_t k = 0; ok && f->options && f->options[k]; k++)
			ok = clean(f->options[k]);
		if (!ok)
			return fail_at(e, cls, "filesystems[%zu]: device, label or options contain a control character",
				       i);
	}
	return 0;
}

int disk_plan_check(const struct disk_plan *p, enum nm_err_class cls, struct nm_error *e)
{
	if (p->n_disks == 0)
		return fail_at(e, cls, "disks: empty");
	int r = check_words(p, cls, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *m = &p->disks[i];
		for (size_t j = 0; j < m->n_parts; j++) {
			r = check_extent(m, i, j, cls, e);
			if (r < 0)
				return r;
		}
		r = check_same_geometry(p, i, cls, e);
		if (r < 0)
			return r;
	}
	bool have_root = false;
	for (size_t i = 0; i < p->n_filesystems; i++) {
		r = check_mount(p, i, &have_root, cls, e);
		if (r < 0)
			return r;
	}
	if (!have_root)
		return fail_at(e, cls, "filesystems: none is mounted at \"/\"");
	return 0;
}
