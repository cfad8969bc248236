/* select.c: which disks an install uses. Resolves --disks / config specs (kernel names, /dev
 * paths, /dev/disk/by-id links, serial:X) against the inventory, picks the two disks itself
 * only when the choice is obvious, and refuses disks that are in use. It only reads the
 * inventory: it never opens a device. */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <errno.h>
#include <string.h>

/* Two disks are "similar" for automatic selection when the larger is at most 10% bigger:
 * the same model bought twice differs by far less, and a mirror wastes the difference. */
#define AUTO_SIZE_SLACK_PERCENT 10

static bool spec_names_disk(const struct disk_info *d, const char *spec)
{
	if (strncmp(spec, "serial:", 7) == 0)
		return d->serial && *d->serial && strcmp(d->serial, spec + 7) == 0;
	if (strncmp(spec, "/dev/disk/", 10) == 0)
		return (d->by_id && strcmp(d->by_id, spec) == 0) || nm_strv_contains(d->by_id_links, spec) ||
		    nm_strv_contains(d->by_path_links, spec);
	if (strncmp(spec, "/dev/", 5) == 0)
		spec += 5;
	return strcmp(d->name, spec) == 0;
}

const struct disk_info *disk_find(const struct disk_inventory *inv, const char *spec)
{
	for (size_t i = 0; i < inv->n_disks; i++)
		if (spec_names_disk(&inv->disks[i], spec))
			return &inv->disks[i];
	return NULL;
}

/* The disk one of whose partitions the spec names ("sda1", "/dev/nvme0n1p2"), or NULL. */
static const struct disk_info *disk_of_partition(const struct disk_inventory *inv, const char *spec, const char **part)
{
	const char *name = strncmp(spec, "/dev/", 5) == 0 ? spec + 5 : spec;
	for (size_t i = 0; i < inv->n_disks; i++)
		for (size_t j = 0; j < inv->disks[i].n_partitions; j++)
			if (strcmp(inv->disks[i].partitions[j].name, name) == 0) {
				*part = inv->disks[i].partitions[j].name;
				return &inv->disks[i];
			}
	return NULL;
}

/* "nvme0n1, nvme1n1": the disks here, for messages that say what could have been named. */
static void list_disks(const struct disk_inventory *inv, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < inv->n_disks && off < size; i++) {
		if (disk_virtual_kind(inv->disks[i].name))
			continue;
		int k = snprintf(buf + off, size - off, "%s%s", off ? ", " : "", inv->disks[i].name);
		if (k > 0)
			off += (size_t)k;
	}
	if (!buf[0])
		snprintf(buf, size, "none found");
}

static int resolve_spec(const struct disk_inventory *inv, const char *spec, size_t pos, size_t *out, struct nm_error *e)
{
	char here[512];
	const struct disk_info *d = disk_find(inv, spec);
	if (!d) {
		const char *part = NULL;
		const struct disk_info *whole = disk_of_partition(inv, spec, &part);
		if (whole)
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "disks[%zu]: \"%s\" is partition %s of %s; name the whole disk (%s)", pos, spec,
				       part, whole->name, whole->name);
		list_disks(inv, here, sizeof here);
		return nm_fail(e, NM_ERR_USAGE, ENODEV,
			       "disks[%zu]: \"%s\" is not a disk here (disks: %s); name one by kernel name, /dev path, "
			       "/dev/disk/by-id link or serial:SERIAL",
			       pos, spec, here);
	}
	const char *kind = disk_virtual_kind(d->name);
	if (kind)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "disks[%zu]: %s is %s, not a disk; name the disks underneath it instead", pos, d->name,
			       kind);
	*out = (size_t)(d - inv->disks);
	return 0;
}

static bool under_target(const char *mountpoint, const char *target)
{
	if (!target || !*target || strcmp(target, "/") == 0)
		return false;
	size_t n = strlen(target);
	while (n > 1 && target[n - 1] == '/')
		n--;
	return strncmp(mountpoint, target, n) == 0 && (mountpoint[n] == '\0' || mountpoint[n] == '/');
}

/* Refuses a disk the install must not take: it carries the running system, or something on
 * it is mounted outside the agent's own target. Active swap, stacked arrays and volumes that
 * are merely active are fine: teardown turns them off and stops them. */
/* "partition sdb2", "the disk sdb", "md127 (stacked on it)": what holds the disk. */
static const char *use_what(const struct disk_info *d, const struct disk_use *u, char *buf, size_t size)
{
	bool partition = false;
	for (size_t i = 0; i < d->n_partitions; i++)
		partition |= strcmp(d->partitions[i].name, u->device) == 0;
	if (strcmp(u->device, d->name) == 0)
		snprintf(buf, size, "the disk %s", u->device);
	else if (partition)
		snprintf(buf, size, "partition %s", u->device);
	else
		snprintf(buf, size, "%s (stacked on it)", u->device);
	return buf;
}

static int check_not_in_use(const struct disk_info *d, const char *target, struct nm_error *e)
{
	for (size_t i = 0; i < d->n_uses; i++) {
		const struct disk_use *u = &d->uses[i];
		char what[96];
		if (u->swap)
			continue; /* teardown turns it off, as DESIGN's order says; the confirmation lists it */
		if (strcmp(u->mountpoint, "/") == 0)
			return nm_fail(e, NM_ERR_REFUSED, EBUSY,
				       "%s: holds the running system (%s is mounted at /); boot the rescue system to "
				       "install on it, or leave %s out of --disks",
				       d->name, u->device, d->name);
		if (!under_target(u->mountpoint, target))
			return nm_fail(e, NM_ERR_REFUSED, EBUSY,
				       "%s: %s is mounted at %s; unmount it or leave %s out of --disks", d->name,
				       use_what(d, u, what, sizeof what), u->mountpoint, d->name);
	}
	return 0;
}

static int choose_automatically(const struct disk_inventory *inv, size_t **idx, size_t *n, struct nm_error *e)
{
	size_t found[2], n_eligible = 0;
	char list[1024];
	size_t off = 0;
	list[0] = '\0';
	for (size_t i = 0; i < inv->n_disks; i++) {
		const struct disk_info *d = &inv->disks[i];
		if (!d->eligible)
			continue;
		char sz[32];
		int k = snprintf(list + off, sizeof list - off, "%s%s (serial %s, %s)", off ? ", " : "", d->name,
				 d->serial && *d->serial ? d->serial : "unknown",
				 disk_human_size(d->size_bytes, sz, sizeof sz));
		if (k > 0 && (size_t)k < sizeof list - off)
			off += (size_t)k;
		if (n_eligible < 2)
			found[n_eligible] = i;
		n_eligible++;
	}
	if (n_eligible != 2)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%zu eligible disks (%s); automatic selection needs exactly two of similar size: pass "
			       "--disks to name the disks to erase (see 'nmmm-agent detect' for why others are not "
			       "eligible)",
			       n_eligible, n_eligible ? list : "none");
	uint64_t a = inv->disks[found[0]].size_bytes, b = inv->disks[found[1]].size_bytes;
	uint64_t small = a < b ? a : b, big = a < b ? b : a;
	if ((big - small) * 100 > small * AUTO_SIZE_SLACK_PERCENT)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "the two eligible disks differ in size by more than %d%% (%s); a mirror would waste the "
			       "difference, so pass --disks to confirm the choice",
			       AUTO_SIZE_SLACK_PERCENT, list);
	*idx = malloc(2 * sizeof **idx);
	if (!*idx)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "disk selection: out of memory");
	(*idx)[0] = found[0];
	(*idx)[1] = found[1];
	*n = 2;
	return 0;
}

int disk_select(const struct disk_inventory *inv, char *const *specs, const char *target, size_t **idx, size_t *n,
		struct nm_error *e)
{
	*idx = NULL;
	*n = 0;
	_cleanup_free_ size_t *chosen = NULL;
	size_t count = 0;
	int r;
	if (!specs || !specs[0]) {
		r = choose_automatically(inv, &chosen, &count, e);
		if (r < 0)
			return r;
	} else {
		count = nm_strv_len(specs);
		chosen = calloc(count, sizeof *chosen);
		if (!chosen)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "disk selection: out of memory");
		for (size_t i = 0; i < count; i++) {
			r = resolve_spec(inv, specs[i], i, &chosen[i], e);
			if (r < 0)
				return r;
			for (size_t j = 0; j < i; j++)
				if (chosen[j] == chosen[i])
					return nm_fail(
					    e, NM_ERR_USAGE, EINVAL,
					    "disks[%zu]: \"%s\" is the same disk as disks[%zu] (\"%s\", %s); "
					    "name each disk once",
					    i, specs[i], j, specs[j], inv->disks[chosen[i]].name);
		}
	}
	for (size_t i = 0; i < count; i++) {
		r = check_not_in_use(&inv->disks[chosen[i]], target, e);
		if (r < 0)
			return r;
	}
	*idx = chosen;
	chosen = NULL;
	*n = count;
	return 0;
}
