/* replace.c: rebuilding a dead mirror member on a blank disk. It decides, changing nothing, what
 * `replace-disk` will do — the failed member found in the installed plan, the survivor found under
 * the running arrays, the new disk proved blank and large enough, the survivor's layout copied
 * with new partition UUIDs, each new partition mapped to its array, the dead disk's ESP to be
 * made again with its volume id, the boot disk line of hardware-configuration.nix that no longer
 * resolves — and then adds the new partitions to their arrays (the GPT, mkfs.vfat and the resync
 * are partition.c's, format.c's and raid.c's).
 * Every write goes through the guard with a plan holding the new disk alone: it never opens the
 * survivor or any other disk for writing (mdadm --add updates the survivor's superblock as part
 * of the array, which the kernel does, not this file). */
#include "disk/ops-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void disk_replace_free(struct disk_replace *r)
{
	if (!r)
		return;
	free(r->failed);
	free(r->failed_serial);
	free(r->survivor);
	disk_plan_free(&r->target);
	for (size_t i = 0; r->arrays && i < r->n_arrays; i++) {
		free(r->arrays[i].name);
		free(r->arrays[i].md);
		free(r->arrays[i].survivor_member);
		free(r->arrays[i].member);
	}
	free(r->arrays);
	nm_strv_free(r->boot_change);
	*r = (struct disk_replace){0};
}

static bool spec_names_member(const struct disk_member_plan *m, const char *spec)
{
	const char *serial = strncmp(spec, "serial:", 7) == 0 ? spec + 7 : spec;
	return (m->serial && *m->serial && strcmp(m->serial, serial) == 0) || (m->name && strcmp(m->name, spec) == 0) ||
	    (m->path && strcmp(m->path, spec) == 0) || (m->by_id && strcmp(m->by_id, spec) == 0) ||
	    (m->by_path && strcmp(m->by_path, spec) == 0);
}

static char *plan_disk_list(const struct disk_plan *p)
{
	_cleanup_strv_free_ char **v = nm_strv_new();
	for (size_t i = 0; v && i < p->n_disks; i++) {
		_cleanup_free_ char *s =
		    nm_strdup_printf("%s (serial %s)", p->disks[i].name, p->disks[i].serial ? p->disks[i].serial : "-");
		if (!s || nm_strv_push(&v, s) < 0)
			return NULL;
	}
	return v ? nm_strv_join(v, ", ") : NULL;
}

/* The running array the plan's array is: by UUID, else by mdadm's name "homehost:name". */
static const struct disk_md_array *running_array(const struct disk_md_status *md, const struct disk_array_plan *a)
{
	for (size_t i = 0; i < md->n_arrays; i++)
		if (md->arrays[i].uuid && strcasecmp(md->arrays[i].uuid, a->uuid) == 0)
			return &md->arrays[i];
	for (size_t i = 0; i < md->n_arrays; i++) {
		const char *n = md->arrays[i].md_name;
		const char *colon = n ? strrchr(n, ':') : NULL;
		if (n && strcmp(colon ? colon + 1 : n, a->name) == 0)
			return &md->arrays[i];
	}
	return NULL;
}

/* The disk of the inventory that has this partition (kernel name), or NULL. */
static const struct disk_info *disk_of_partition(const struct disk_inventory *inv, const char *part)
{
	for (size_t i = 0; i < inv->n_disks; i++)
		for (size_t j = 0; j < inv->disks[i].n_partitions; j++)
			if (strcmp(inv->disks[i].partitions[j].name, part) == 0)
				return &inv->disks[i];
	return NULL;
}

static const struct disk_partition_info *partition_numbered(const struct disk_info *d, unsigned number)
{
	for (size_t j = 0; j < d->n_partitions; j++)
		if (d->partitions[j].number == number)
			return &d->partitions[j];
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path;
}

static const struct disk_part_plan *failed_part_of(const struct disk_member_plan *f, const char *path)
{
	for (size_t i = 0; i < f->n_parts; i++)
		if (f->parts[i].path && strcmp(f->parts[i].path, path) == 0)
			return &f->parts[i];
	return NULL;
}

/* Each planned array with a member on the failed disk, matched to the running array; the
 * survivor is the disk under their active members. */
static int map_arrays(const struct disk_plan *p, const struct disk_member_plan *f, const struct disk_inventory *inv,
		      const struct disk_md_status *md, struct disk_replace *r, const struct disk_info **survivor,
		      struct nm_error *e)
{
	r->arrays = calloc(p->n_arrays ? p->n_arrays : 1, sizeof *r->arrays);
	if (!r->arrays)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_arrays; i++) {
		const struct disk_array_plan *a = &p->arrays[i];
		const struct disk_part_plan *fp = NULL;
		for (size_t k = 0; a->members && a->members[k] && !fp; k++)
			fp = failed_part_of(f, a->members[k]);
		if (!fp)
			continue;
		const struct disk_md_array *run = running_array(md, a);
		if (!run)
			return nm_fail(e, NM_ERR_REFUSED, ENODEV,
				       "array %s (UUID %s) is not running; assemble it from the surviving disk "
				       "('mdadm --assemble --scan', then 'mdadm --run' if it stays inactive) and run "
				       "replace-disk again",
				       a->name, a->uuid);
		if (!run->active)
			return nm_fail(e, NM_ERR_REFUSED, EBUSY,
				       "array %s (%s) is inactive; start it degraded with 'mdadm --run /dev/%s' first",
				       a->name, run->name, run->name);
		if (run->raid_disks == 0 || run->working >= run->raid_disks)
			return nm_fail(e, NM_ERR_REFUSED, EEXIST,
				       "array %s (%s) is not degraded (%u of %u members working): %s is still in it; "
				       "if that disk is failing, take it out first ('mdadm /dev/%s --fail X --remove "
				       "X' for each of its partitions), else there is nothing to replace",
				       a->name, run->name, run->working, run->raid_disks, f->name, run->name);
		const char *alive = NULL;
		for (size_t k = 0; run->members && run->members[k] && !alive; k++)
			if (!nm_strv_contains(run->failed, run->members[k]))
				alive = run->members[k];
		const struct disk_info *d = alive ? disk_of_partition(inv, alive) : NULL;
		if (!d)
			return nm_fail(e, NM_ERR_REFUSED, ENODEV,
				       "array %s (%s): no working member on a disk this machine lists; check 'cat "
				       "/proc/mdstat'",
				       a->name, run->name);
		if (f->serial && d->serial && strcmp(f->serial, d->serial) == 0)
			return nm_fail(e, NM_ERR_REFUSED, EEXIST,
				       "array %s (%s) still runs on %s (serial %s), the disk named by --failed; "
				       "name the dead disk, or take this one out of the arrays first",
				       a->name, run->name, d->name, d->serial);
		if (*survivor && *survivor != d)
			return nm_fail(e, NM_ERR_REFUSED, EINVAL,
				       "the arrays run on more than one disk (%s and %s); replace-disk rebuilds a "
				       "two-disk mirror, do this one by hand (docs/replace-a-disk.md)",
				       (*survivor)->name, d->name);
		*survivor = d;
		struct disk_replace_array *ra = &r->arrays[r->n_arrays++];
		ra->name = strdup(a->name);
		ra->md = strdup(run->name);
		ra->survivor_member = strdup(alive);
		ra->number = fp->number;
		if (!ra->name || !ra->md || !ra->survivor_member)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (r->n_arrays == 0)
		return nm_fail(e, NM_ERR_REFUSED, ENOENT,
			       "%s: none of its partitions is in an array of the plan (a one-disk install has no "
			       "mirror to rebuild)",
			       f->name);
	return 0;
}

/* The new disk: a whole disk outside the plan, not the survivor, nothing on it or using it, at
 * least as large as the survivor. */
static int check_new_disk(const struct disk_plan *p, const struct disk_info *n, const struct disk_info *survivor,
			  struct nm_error *e)
{
	if (n == survivor)
		return nm_fail(e, NM_ERR_REFUSED, EBUSY,
			       "%s: is the surviving disk (serial %s) that holds the arrays; --new names the blank "
			       "replacement disk",
			       n->name, n->serial ? n->serial : "-");
	for (size_t i = 0; i < p->n_disks; i++)
		if (n->serial && p->disks[i].serial && strcmp(n->serial, p->disks[i].serial) == 0)
			return nm_fail(e, NM_ERR_REFUSED, EEXIST,
				       "%s: serial %s is a disk of the installed plan (%s); --new names a blank disk "
				       "Hetzner put in, with a serial the plan does not know",
				       n->name, n->serial, p->disks[i].name);
	if (n->holds_root || n->n_uses > 0 || nm_strv_len(n->holders) > 0) {
		_cleanup_free_ char *why = nm_strv_join(n->in_use, "; ");
		_cleanup_free_ char *holders = nm_strv_join(n->holders, ", ");
		return nm_fail(e, NM_ERR_REFUSED, EBUSY,
			       "%s: in use (%s%s%s); replace-disk takes only a disk nothing holds", n->name,
			       why && *why ? why : "", holders && *holders ? " held by " : "",
			       holders && *holders ? holders : "");
	}
	_cleanup_strv_free_ char **found = nm_strv_new();
	for (size_t i = 0; found && n->signatures && n->signatures[i]; i++)
		nm_strv_push(&found, n->signatures[i]);
	for (size_t j = 0; found && j < n->n_partitions; j++) {
		_cleanup_free_ char *s = nm_strdup_printf("partition %s", n->partitions[j].name);
		if (s)
			nm_strv_push(&found, s);
	}
	if (!found)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (found[0]) {
		_cleanup_free_ char *list = nm_strv_join(found, ", ");
		return nm_fail(e, NM_ERR_REFUSED, ENOTEMPTY,
			       "%s: not blank (found %s); replace-disk writes only to an empty disk — if it really "
			       "is the replacement, erase it with 'nmmm-agent wipe --disks %s --yes' first",
			       n->name, list ? list : "signatures", n->name);
	}
	if (n->size_bytes < survivor->size_bytes)
		return nm_fail(e, NM_ERR_REFUSED, ENOSPC,
			       "%s: %llu bytes, smaller than the surviving disk %s (%llu bytes); ask for a disk at "
			       "least as large",
			       n->name, (unsigned long long)n->size_bytes, survivor->name,
			       (unsigned long long)survivor->size_bytes);
	return 0;
}

/* The survivor's table must be the plan's layout, which is what gets copied. */
static int check_survivor_layout(const struct disk_member_plan *f, const struct disk_info *s, struct nm_error *e)
{
	for (size_t i = 0; i < f->n_parts; i++) {
		const struct disk_part_plan *pp = &f->parts[i];
		const struct disk_partition_info *sp = partition_numbered(s, pp->number);
		if (!sp || sp->start_bytes != pp->start || sp->size_bytes != pp->size)
			return nm_fail(e, NM_ERR_REFUSED, EINVAL,
				       "%s: partition %u on the surviving disk %s is not the planned one (start %llu, "
				       "size %llu bytes); the plan does not describe this machine — check --plan",
				       s->name, pp->number, s->name, (unsigned long long)pp->start,
				       (unsigned long long)pp->size);
	}
	return 0;
}

static char *dev_path_of(const char *name)
{
	return nm_strdup_printf("/dev/%s", name);
}

/* The new disk alone with the failed member's partitions (new UUIDs) and, when it had one, its ESP
 * with the same volume id: the guard's whole world for the writes. */
static int build_target(const struct disk_plan *p, const struct disk_member_plan *f, const struct disk_info *n,
			struct disk_replace *r, struct nm_error *e)
{
	struct disk_plan *t = &r->target;
	t->uefi = p->uefi;
	t->homehost = p->homehost ? strdup(p->homehost) : NULL;
	t->disks = calloc(1, sizeof *t->disks);
	if (!t->disks)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	t->n_disks = 1;
	struct disk_member_plan *m = &t->disks[0];
	*m = (struct disk_member_plan){
	    .name = strdup(n->name),
	    .path = strdup(n->path),
	    .by_id = n->by_id ? strdup(n->by_id) : NULL,
	    .by_path = n->by_path ? strdup(n->by_path) : NULL,
	    .serial = n->serial ? strdup(n->serial) : NULL,
	    .model = n->model ? strdup(n->model) : NULL,
	    .size_bytes = n->size_bytes,
	    .logical_sector_size = n->logical_sector_size,
	    .wwid = n->wwid ? strdup(n->wwid) : NULL,
	    .diskseq = n->diskseq,
	    .parts = calloc(f->n_parts ? f->n_parts : 1, sizeof *m->parts),
	};
	if (!m->name || !m->path || !m->parts)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; i < f->n_parts; i++) {
		const struct disk_part_plan *src = &f->parts[i];
		struct disk_part_plan *pp = &m->parts[m->n_parts++];
		*pp = *src;
		_cleanup_free_ char *pn = disk_partition_name(n->name, src->number);
		pp->path = pn ? dev_path_of(pn) : NULL;
		pp->name = src->name ? strdup(src->name) : NULL;
		if (!pp->path || (src->name && !pp->name) || disk_random_uuid(pp->part_uuid) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: cannot plan partition %u", n->name, src->number);
		for (size_t k = 0; k < r->n_arrays; k++)
			if (r->arrays[k].number == src->number && !(r->arrays[k].member = strdup(pp->path)))
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		for (size_t k = 0; k < p->n_filesystems; k++) {
			const struct disk_fs_plan *fs = &p->filesystems[k];
			if (src->role != DISK_PART_ESP || !fs->device || !src->path ||
			    strcmp(fs->device, src->path) != 0)
				continue;
			struct disk_fs_plan *nf = realloc(t->filesystems, (t->n_filesystems + 1) * sizeof *nf);
			if (!nf)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
			t->filesystems = nf;
			nf = &t->filesystems[t->n_filesystems++];
			*nf = (struct disk_fs_plan){
			    .device = strdup(pp->path),
			    .fstype = strdup(fs->fstype),
			    .label = fs->label ? strdup(fs->label) : NULL,
			    .mountpoint = fs->mountpoint ? strdup(fs->mountpoint) : NULL,
			    .options = nm_strv_new(),
			};
			memcpy(nf->uuid, fs->uuid, sizeof nf->uuid);
			for (size_t o = 0; fs->options && fs->options[o]; o++)
				nm_strv_push(&nf->options, fs->options[o]);
			if (!nf->device || !nf->fstype)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		}
	}
	return 0;
}

/* BIOS: boot.loader.grub.devices names each disk as disk_member_boot_name does (its slot, else
 * by-id, else its /dev path). The failed disk's entry needs a change when that name no longer
 * leads to the new disk (a by-id name, or the new disk in another slot). UEFI names ESPs by
 * mountpoint and the new ESP keeps its UUID: nothing changes. */
static int boot_change(const char *root, const struct disk_plan *p, const struct disk_member_plan *f,
		       const struct disk_info *n, struct disk_replace *r, struct nm_error *e)
{
	r->boot_change = nm_strv_new();
	if (!r->boot_change)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (p->uefi)
		return 0;
	const char *old = disk_member_boot_name(f);
	char pbuf[PATH_MAX], real[PATH_MAX];
	if (old && nm_root_path(root, old, pbuf, sizeof pbuf) == 0 && realpath(pbuf, real) &&
	    strcmp(base_name(real), n->name) == 0)
		return 0; /* a by-path name in the same slot, or a kernel name the new disk took */
	const char *now = disk_member_boot_name(&r->target.disks[0]);
	_cleanup_free_ char *minus = nm_strdup_printf("-    \"%s\"", old ? old : "?");
	_cleanup_free_ char *plus = nm_strdup_printf("+    \"%s\"", now);
	if (!minus || !plus || nm_strv_push(&r->boot_change, minus) < 0 || nm_strv_push(&r->boot_change, plus) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return 0;
}

int disk_replace_plan(const struct disk_replace_input *in, struct disk_replace *r, struct nm_error *e)
{
	const struct disk_plan *p = in->installed;
	const struct disk_member_plan *f = NULL;
	for (size_t i = 0; i < p->n_disks && !f; i++)
		if (spec_names_member(&p->disks[i], in->failed))
			f = &p->disks[i];
	if (!f) {
		_cleanup_free_ char *list = plan_disk_list(p);
		return nm_fail(e, NM_ERR_REFUSED, ENOENT,
			       "--failed %s: no disk of the installed plan has that serial or name (the plan has %s); "
			       "name the dead disk as Hetzner's mail or the plan does",
			       in->failed, list ? list : "no disks");
	}
	r->failed = strdup(f->name);
	r->failed_serial = f->serial ? strdup(f->serial) : NULL;
	const struct disk_info *survivor = NULL;
	int rc = map_arrays(p, f, in->inv, in->md, r, &survivor, e);
	if (rc < 0)
		return rc;
	const struct disk_info *n = disk_find(in->inv, in->new_disk);
	if (!n)
		return nm_fail(e, NM_ERR_REFUSED, ENODEV,
			       "--new %s: not a whole disk on this machine; list them with 'nmmm-agent detect' and "
			       "name the blank one by kernel name, /dev path, by-id link or serial:SERIAL",
			       in->new_disk);
	rc = check_new_disk(p, n, survivor, e);
	if (rc == 0)
		rc = check_survivor_layout(f, survivor, e);
	if (rc < 0)
		return rc;
	r->survivor = strdup(survivor->name);
	if (!r->failed || !r->survivor)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	rc = build_target(p, f, n, r, e);
	if (rc == 0)
		rc = boot_change(in->root, p, f, n, r, e);
	return rc;
}

json_object *disk_replace_to_json(const struct disk_replace *r)
{
	json_object *o = json_object_new_object();
	const struct disk_member_plan *m = &r->target.disks[0];
	json_object_object_add(o, "failed", disk_json_str(r->failed));
	json_object_object_add(o, "failed_serial", disk_json_str(r->failed_serial));
	json_object_object_add(o, "survivor", disk_json_str(r->survivor));
	json_object_object_add(o, "new", disk_json_str(m->name));
	json_object_object_add(o, "new_serial", disk_json_str(m->serial));
	json_object *parts = json_object_new_array();
	for (size_t i = 0; i < m->n_parts; i++) {
		json_object *pp = json_object_new_object();
		json_object_object_add(pp, "path", disk_json_str(m->parts[i].path));
		json_object_object_add(pp, "start", json_object_new_int64((int64_t)m->parts[i].start));
		json_object_object_add(pp, "size", json_object_new_int64((int64_t)m->parts[i].size));
		json_object_object_add(pp, "type_guid", json_object_new_string(m->parts[i].type_guid));
		json_object_object_add(pp, "part_uuid", json_object_new_string(m->parts[i].part_uuid));
		json_object_array_add(parts, pp);
	}
	json_object_object_add(o, "partitions", parts);
	json_object *arrays = json_object_new_array();
	for (size_t i = 0; i < r->n_arrays; i++) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "name", disk_json_str(r->arrays[i].name));
		json_object_object_add(a, "md", disk_json_str(r->arrays[i].md));
		json_object_object_add(a, "survivor_member", disk_json_str(r->arrays[i].survivor_member));
		json_object_object_add(a, "add", disk_json_str(r->arrays[i].member));
		json_object_array_add(arrays, a);
	}
	json_object_object_add(o, "arrays", arrays);
	const struct disk_fs_plan *esp = r->target.n_filesystems ? &r->target.filesystems[0] : NULL;
	json_object_object_add(o, "esp_device", disk_json_str(esp ? esp->device : NULL));
	json_object_object_add(o, "esp_uuid", disk_json_str(esp ? esp->uuid : NULL));
	json_object_object_add(o, "esp_mountpoint", disk_json_str(esp ? esp->mountpoint : NULL));
	json_object_object_add(o, "boot_change", nm_json_strv(r->boot_change));
	return o;
}

int disk_replace_add(const struct disk_replace *r, const struct disk_run_opts *o, struct nm_error *e)
{
	for (size_t i = 0; i < r->n_arrays; i++) {
		const struct disk_replace_array *a = &r->arrays[i];
		if (!a->member)
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "array %s: no new partition planned for it", a->name);
		int rc = guard_check_write(o->root, &r->target, a->member, e);
		if (rc < 0)
			return nm_error_prefix(e, "array %s: ", a->name), rc;
		_cleanup_free_ char *md = dev_path_of(a->md);
		if (!md)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		const char *argv[] = {"mdadm", md, "--add", a->member, NULL};
		nm_info("array %s: adding %s to %s", a->name, a->member, md);
		rc = nm_run(argv, &(struct nm_run_opts){.timeout_sec = 120}, NULL, e);
		if (rc < 0)
			return nm_error_prefix(e, "array %s: mdadm --add %s to %s failed: ", a->name, a->member, md),
			       rc;
	}
	return 0;
}
