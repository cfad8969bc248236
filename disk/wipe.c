/* wipe.c: removes every signature libblkid knows from the planned disks — the wipefs way
 * (blkid_do_probe + blkid_do_wipe) — drops the partitions from the kernel, optionally discards,
 * and then proves the result by probing again. Everything is done through the whole disk, region
 * by region: the whole disk itself and every partition an old table on it lists (read from the
 * disk before its table is wiped, whether or not the kernel ever made nodes for them) or the
 * kernel knows. It opens only what the guard accepts, and only exclusively; it never touches a
 * disk outside the plan. */
#include "disk/ops-internal.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define WIPE_MAX_SIGNATURES 256 /* a bound on the probe loop, far above any real disk */
#define WIPE_MAX_REGIONS 256 /* old partitions followed on one disk, nested ones included */
#define WIPE_MAX_PASSES 8 /* wipe passes over all regions until one finds nothing */

/* A stretch of the whole disk that libblkid is asked about on its own, in bytes. A probe of the
 * whole disk at the region's offset sees what a probe of the partition node would, and more:
 * libblkid reports the firmware RAID members (hpt37x, isw, nvidia, promise, via, ddf, ...) only
 * on a whole disk, so through a partition node they are never found, hence never wiped, while
 * the same bytes probed from the whole disk show them. One device also means one page cache for
 * the writes and the probes that check them. */
struct wipe_region {
	uint64_t start, size;
	bool whole_disk;
	char name[64]; /* the kernel's name for it, when it had one */
};

struct wipe_regions {
	struct wipe_region v[WIPE_MAX_REGIONS]; /* v[0] is the whole disk */
	size_t n;
	uint64_t disk_size;
};

static blkid_probe probe_region(int fd, uint64_t offset, uint64_t size)
{
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return NULL;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) != 0) {
		blkid_free_probe(pr);
		return NULL;
	}
	return pr;
}

static blkid_probe probe_everything(int fd, uint64_t offset, uint64_t size)
{
	blkid_probe pr = probe_region(fd, offset, size);
	if (!pr)
		return NULL;
	blkid_probe_enable_superblocks(pr, 1);
	/* BADCSUM: a stale superblock with a broken checksum is still a superblock to remove. */
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	/* FORCE_GPT: find a GPT (and its backup at the end) even behind a valid-looking MBR. */
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
	return pr;
}

static const char *probe_value(blkid_probe pr, const char *a, const char *b)
{
	const char *v = NULL;
	if (blkid_probe_lookup_value(pr, a, &v, NULL) == 0 && v)
		return v;
	if (b && blkid_probe_lookup_value(pr, b, &v, NULL) == 0 && v)
		return v;
	return "?";
}

/* Where the signature just probed lies on the whole disk, and how many bytes libblkid names
 * for it; false when it names none (then blkid_do_wipe would silently skip it). */
static bool probe_magic(blkid_probe pr, uint64_t region_start, uint64_t *at)
{
	const char *off = NULL;
	size_t len = 0;
	bool pt = blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", &off, NULL) == 0;
	if (!pt && blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", &off, NULL) != 0)
		return false;
	if (blkid_probe_lookup_value(pr, pt ? "PTMAGIC" : "SBMAGIC", NULL, &len) != 0 || len == 0 || !off)
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(off, &end, 10);
	if (errno || end == off)
		return false;
	*at = region_start + v;
	return true;
}

/* Adds [start, start+size) to the list unless it is there already; clamped to the disk (an
 * entry reaching past the end still has its start to probe). 1 added, 0 not, <0 errno. */
static int regions_add(struct wipe_regions *rl, uint64_t start, uint64_t size, const char *name)
{
	if (start >= rl->disk_size || size == 0)
		return 0;
	if (size > rl->disk_size - start)
		size = rl->disk_size - start;
	for (size_t i = 0; i < rl->n; i++)
		if (rl->v[i].start == start && rl->v[i].size == size)
			return 0;
	if (rl->n == WIPE_MAX_REGIONS)
		return -E2BIG;
	struct wipe_region *r = &rl->v[rl->n++];
	*r = (struct wipe_region){.start = start, .size = size, .whole_disk = rl->n == 1};
	snprintf(r->name, sizeof r->name, "%s", name ? name : "");
	return 1;
}

/* Adds every partition listed by the tables inside region `in`, one table type at a time:
 * libblkid stops at the first table it accepts, so a valid MBR would hide a GPT left behind it.
 * For a GPT libblkid reads the primary header and falls back to the backup one. Logical and
 * nested partitions (a BSD label inside an MBR partition) come in the same list. */
static int regions_add_tables(int fd, struct wipe_region in, struct wipe_regions *rl)
{
	const char *type;
	for (size_t t = 0; blkid_partitions_get_name(t, &type) == 0; t++) {
		blkid_probe pr = probe_region(fd, in.start, in.size);
		if (!pr)
			return -ENOMEM;
		char *only[] = {(char *)type, NULL};
		blkid_probe_enable_superblocks(pr, 0);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT);
		blkid_probe_filter_partitions_type(pr, BLKID_FLTR_ONLYIN, only);
		blkid_partlist ls = blkid_probe_get_partitions(pr);
		int n = ls ? blkid_partlist_numof_partitions(ls) : 0, r = 0;
		for (int i = 0; r >= 0 && i < n; i++) {
			blkid_partition p = blkid_partlist_get_partition(ls, i);
			blkid_loff_t s = p ? blkid_partition_get_start(p) : -1; /* 512-byte sectors */
			blkid_loff_t z = p ? blkid_partition_get_size(p) : -1;
			if (s < 0 || z <= 0 || (uint64_t)s > rl->disk_size / 512 || (uint64_t)z > rl->disk_size / 512)
				continue; /* nothing of it on this disk */
			r = regions_add(rl, in.start + (uint64_t)s * 512, (uint64_t)z * 512, NULL);
		}
		blkid_free_probe(pr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int regions_fail(struct nm_error *e, const char *disk, int r)
{
	if (r == -E2BIG)
		return nm_fail(e, NM_ERR_RUNTIME, E2BIG,
			       "%s: the old partition tables list more than %d partitions; nothing more was "
			       "wiped — wipe it by hand with 'wipefs --all' and report this",
			       disk, WIPE_MAX_REGIONS);
	return nm_fail(e, NM_ERR_RUNTIME, -r, "%s: reading the old partition tables failed: %s", disk, strerror(-r));
}

/* The regions of one disk, before any byte of it is written: the whole disk, the partitions the
 * kernel knows, and those the tables on the disk list (followed into nested tables). Once a
 * table is wiped its partitions cannot be found again. */
static int collect_old_regions(int fd, const struct disk_stack *st, const struct stack_dev *disk,
			       struct wipe_regions *rl, struct nm_error *e)
{
	rl->n = 0;
	rl->disk_size = disk->size;
	int r = regions_add(rl, 0, disk->size, NULL);
	for (size_t i = 0; r >= 0 && i < st->n; i++) {
		const struct stack_dev *p = &st->devs[i];
		if (p->kind == STACK_PART && strcmp(p->disk, disk->name) == 0)
			r = regions_add(rl, p->start, p->size, p->name);
	}
	for (size_t i = 0; r >= 0 && i < rl->n; i++)
		r = regions_add_tables(fd, rl->v[i], rl);
	return r < 0 ? regions_fail(e, disk->name, r) : 0;
}

/* "loop0", "loop0, old partition loop0p2 at bytes 1048576+16777216", "loop0, old partition at
 * bytes 1048576+16777216". */
static char *region_label(const char *disk, const struct wipe_region *r)
{
	if (r->whole_disk)
		return nm_strdup_printf("%s", disk);
	return nm_strdup_printf("%s, old partition %s%sbytes %" PRIu64 "+%" PRIu64, disk, r->name,
				r->name[0] ? " at " : "at ", r->start, r->size);
}

/* Removes every signature libblkid reports in [start, start+size) of fd (size 0: to the end),
 * the wipefs way, and flushes; returns how many. Before a partition table is wiped, the
 * partitions it lists are added to `rl` (when given). */
static int wipe_region(int fd, const char *what, uint64_t start, uint64_t size, struct wipe_regions *rl,
		       struct nm_error *e)
{
	blkid_probe pr = probe_everything(fd, start, size);
	if (!pr)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: cannot start libblkid probing", what);
	int n = 0, rc;
	/* blkid_do_wipe steps the prober back after a wipe, so the loop re-reads the same area
	 * and finds whatever was hidden behind the signature just removed. */
	while ((rc = blkid_do_probe(pr)) == 0) {
		const char *type = probe_value(pr, "TYPE", "PTTYPE");
		uint64_t at = 0;
		int r = 0;
		if (n >= WIPE_MAX_SIGNATURES)
			r = nm_fail(e, NM_ERR_RUNTIME, ELOOP,
				    "%s: still finding signatures after removing %d; wipe it by hand with "
				    "'wipefs --all' and report this",
				    what, n);
		else if (!probe_magic(pr, start, &at))
			r = nm_fail(e, NM_ERR_VERIFY, ENODATA,
				    "%s: libblkid finds a %s signature but names no bytes to erase; nothing was "
				    "partitioned — inspect with 'wipefs' and report this",
				    what, type);
		else if (rl && blkid_probe_lookup_value(pr, "PTTYPE", NULL, NULL) == 0) {
			int a = regions_add_tables(fd, (struct wipe_region){.start = start, .size = size}, rl);
			if (a < 0)
				r = regions_fail(e, what, a);
		}
		if (r < 0) {
			blkid_free_probe(pr);
			return r;
		}
		nm_info("%s: removing %s signature at offset %" PRIu64, what, type, at);
		if (blkid_do_wipe(pr, 0) != 0) {
			int err = errno ? errno : EIO;
			blkid_free_probe(pr);
			return nm_fail(e, NM_ERR_RUNTIME, err,
				       "%s: cannot erase the %s signature at offset %" PRIu64 ": %s", what, type, at,
				       strerror(err));
		}
		n++;
	}
	int err = errno ? errno : EIO;
	blkid_free_probe(pr);
	if (rc < 0)
		return nm_fail(e, NM_ERR_RUNTIME, err, "%s: probing for signatures failed: %s", what, strerror(err));
	if (fsync(fd) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: flushing the wipe failed: %s", what, strerror(errno));
	return n;
}

int wipe_device_signatures(int fd, const char *what, struct nm_error *e)
{
	return wipe_region(fd, what, 0, 0, NULL, e);
}

/* Wipes every region, the whole disk first, in passes until a pass finds nothing: wiping one
 * signature can uncover another that a different chain or region already looked past (a GPT
 * behind an MBR, the partitions of a backup GPT once the primary is gone). */
static int wipe_all_regions(int fd, const char *disk, struct wipe_regions *rl, struct nm_error *e)
{
	int total = 0;
	for (int pass = 0; pass < WIPE_MAX_PASSES; pass++) {
		int found = 0;
		for (size_t i = 0; i < rl->n; i++) {
			struct wipe_region r = rl->v[i]; /* a copy: wipe_region may add to the list */
			_cleanup_free_ char *what = region_label(disk, &r);
			if (!what)
				return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
			int n = wipe_region(fd, what, r.start, r.size, rl, e);
			if (n < 0)
				return n;
			found += n;
		}
		if (!found)
			return total;
		total += found;
	}
	return nm_fail(e, NM_ERR_RUNTIME, ELOOP,
		       "%s: still finding signatures after %d wipe passes; wipe it by hand with 'wipefs --all' "
		       "and report this",
		       disk, WIPE_MAX_PASSES);
}

/* What libblkid still finds in one region of fd, appended to *found as "TYPE at offset N of
 * REGION" (N from the start of the disk). Reads only. */
static int probe_leftovers(int fd, const char *disk, const struct wipe_region *region, char ***found)
{
	_cleanup_free_ char *label = region->whole_disk ? strdup("the whole disk") : region_label(disk, region);
	if (!label)
		return -ENOMEM;
	blkid_probe pr = probe_everything(fd, region->start, region->size);
	if (!pr)
		return -ENOMEM;
	int rc = 0;
	for (int i = 0; i < WIPE_MAX_SIGNATURES && (rc = blkid_do_probe(pr)) == 0; i++) {
		uint64_t at = 0;
		char off[24] = "?";
		if (probe_magic(pr, region->start, &at))
			snprintf(off, sizeof off, "%" PRIu64, at);
		_cleanup_free_ char *s =
		    nm_strdup_printf("%s at offset %s of %s", probe_value(pr, "TYPE", "PTTYPE"), off, label);
		if (!s || nm_strv_push(found, s) < 0) {
			blkid_free_probe(pr);
			return -ENOMEM;
		}
	}
	int err = errno ? errno : EIO;
	blkid_free_probe(pr);
	return rc < 0 ? -err : 0;
}

/* A GPT header whose partition array no longer checks out (an md v1.0 superblock written over
 * the backup array does that) is not a GPT to libblkid, so blkid_do_wipe leaves it — yet gdisk
 * and others "recover" the old table from it. The headers live at LBA 1 and the last LBA; their
 * magic is removed here, the same 8 bytes wipefs would erase. */
#define GPT_MAGIC "EFI PART"

static int gpt_header_offsets(int fd, uint64_t disk_size, uint64_t off[2])
{
	int lss = 512;
	if (ioctl(fd, BLKSSZGET, &lss) < 0 || lss < 512)
		lss = 512;
	off[0] = (uint64_t)lss;
	off[1] = disk_size - (uint64_t)lss;
	return lss;
}

static bool gpt_magic_at(int fd, uint64_t off)
{
	char buf[8];
	return pread(fd, buf, sizeof buf, (off_t)off) == (ssize_t)sizeof buf && memcmp(buf, GPT_MAGIC, 8) == 0;
}

static int wipe_stray_gpt_headers(int fd, const struct stack_dev *disk, struct nm_error *e)
{
	uint64_t off[2];
	gpt_header_offsets(fd, disk->size, off);
	static const char zero[8];
	int n = 0;
	for (size_t i = 0; i < 2; i++) {
		if (!gpt_magic_at(fd, off[i]))
			continue;
		nm_info("%s: removing a GPT header libblkid did not accept (offset %llu)", disk->name,
			(unsigned long long)off[i]);
		if (pwrite(fd, zero, sizeof zero, (off_t)off[i]) != (ssize_t)sizeof zero)
			return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot erase the GPT header at offset %llu: %s",
				       disk->name, (unsigned long long)off[i], strerror(errno));
		n++;
	}
	if (n && fsync(fd) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: flushing the wipe failed: %s", disk->name,
			       strerror(errno));
	return n;
}

static int count_kernel_partitions(const char *root, const char *disk)
{
	struct disk_plan one = {0};
	struct disk_member_plan m = {.name = (char *)disk};
	one.disks = &m;
	one.n_disks = 1;
	struct disk_stack st;
	struct nm_error ignore = {0};
	if (stack_read(root, &one, &st, &ignore) < 0)
		return -ENOENT;
	int n = 0;
	for (size_t i = 0; i < st.n; i++)
		n += st.devs[i].kind == STACK_PART;
	stack_free(&st);
	return n;
}

#define PART_DELETE_GRACE_MS 5000

struct part_delete {
	int fd;
	int pno;
	int err;
};

static bool try_delete_partition(const void *arg)
{
	struct part_delete *d = (struct part_delete *)arg;
	struct blkpg_partition part = {.pno = d->pno};
	struct blkpg_ioctl_arg a = {.op = BLKPG_DEL_PARTITION, .datalen = sizeof part, .data = &part};
	d->err = ioctl(d->fd, BLKPG, &a) < 0 ? errno : 0;
	return d->err != EBUSY; /* ENXIO: already gone */
}

/* Removes the partitions from the kernel's view. The table on disk is already gone; BLKPG
 * deletes each partition explicitly (kernels built without a partition parser would otherwise
 * keep them), BLKRRPART re-reads what is left (nothing). */
static int drop_kernel_partitions(const char *root, int fd, const struct disk_stack *st, const char *disk,
				  struct nm_error *e)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct stack_dev *p = &st->devs[i];
		if (p->kind != STACK_PART || strcmp(p->disk, disk) != 0 || p->partno == 0)
			continue;
		struct part_delete del = {.fd = fd, .pno = (int)p->partno};
		/* A probe by another program (blkid, udev) holds a partition open for a moment: only a
		 * partition busy for PART_DELETE_GRACE_MS is really in use. */
		if (!poll_until(try_delete_partition, &del, PART_DELETE_GRACE_MS) || (del.err && del.err != ENXIO))
			return nm_fail(e, NM_ERR_RUNTIME, del.err,
				       "%s: the kernel refused to forget partition %s: %s; something still uses it "
				       "(see 'ls /sys/class/block/%s/holders')",
				       disk, p->name, strerror(del.err), p->name);
	}
	if (ioctl(fd, BLKRRPART) < 0 && errno != EINVAL)
		nm_warn("%s: re-reading the partition table failed: %s", disk, strerror(errno));
	int left = count_kernel_partitions(root, disk);
	if (left > 0)
		return nm_fail(e, NM_ERR_RUNTIME, EBUSY,
			       "%s: the kernel still lists %d partition(s) after the wipe; check "
			       "'ls /sys/block/%s' and run 'partx -d /dev/%s'",
			       disk, left, disk, disk);
	return 0;
}

static int discard_disk(const char *root, int fd, const struct stack_dev *d, struct nm_error *e)
{
	char rel[160];
	uint64_t max = 0;
	snprintf(rel, sizeof rel, "/sys/block/%s/queue/discard_max_bytes", d->name);
	if (nm_read_u64(root, rel, &max) < 0 || max == 0) {
		nm_info("%s: does not support discard; skipped", d->name);
		return 0;
	}
	uint64_t range[2] = {0, d->size};
	nm_info("%s: discarding all %llu bytes", d->name, (unsigned long long)d->size);
	if (ioctl(fd, BLKDISCARD, range) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: discard failed: %s; run without --discard", d->name,
			       strerror(errno));
	return 0;
}

/* Probes every region again, read-only, after the kernel forgot the partitions (and after a
 * discard): anything left is a verification failure listing what and where. */
static int verify_clean(const char *root, const struct wipe_regions *rl, const char *disk, struct nm_error *e)
{
	char p[PATH_MAX];
	dev_node_path(root, disk, p, sizeof p);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot reopen to check the wipe: %s", disk,
			       strerror(errno));
	_cleanup_strv_free_ char **found = nm_strv_new();
	if (!found)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = 0;
	uint64_t gpt_off[2];
	gpt_header_offsets(fd, rl->disk_size, gpt_off);
	for (size_t i = 0; r == 0 && i < 2; i++)
		if (gpt_magic_at(fd, gpt_off[i]))
			r = nm_strv_push(&found, i ? "GPT backup header in the last sector" : "GPT header at LBA 1");
	for (size_t i = 0; r == 0 && i < rl->n; i++)
		r = probe_leftovers(fd, disk, &rl->v[i], &found);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, -r, "%s: probing after the wipe failed: %s", disk, strerror(-r));
	if (!found[0])
		return 0;
	size_t len = 1;
	for (size_t i = 0; found[i]; i++)
		len += strlen(found[i]) + 2;
	_cleanup_free_ char *list = calloc(1, len);
	for (size_t i = 0; list && found[i]; i++) {
		if (i)
			strcat(list, "; ");
		strcat(list, found[i]);
	}
	return nm_fail(e, NM_ERR_VERIFY, EEXIST,
		       "%s: signatures left after the wipe: %s; nothing was partitioned — inspect with "
		       "'wipefs /dev/%s' and report this",
		       disk, list ? list : "?", disk);
}

/* Each partition the kernel lists is opened exclusively (through the guard, which waits out a
 * claim the kernel is still releasing after an unmount) and closed again: a partition still in
 * use is refused by its own name, before the whole disk is opened. */
static int kernel_partitions_free(const struct disk_plan *plan, const char *root, const struct disk_stack *st,
				  const char *disk, struct nm_error *e)
{
	char node[96];
	for (size_t i = 0; i < st->n; i++) {
		const struct stack_dev *p = &st->devs[i];
		if (p->kind != STACK_PART || strcmp(p->disk, disk) != 0)
			continue;
		snprintf(node, sizeof node, "/dev/%s", p->name);
		int pfd = guard_open(root, plan, node, e);
		if (pfd < 0)
			return pfd;
		close(pfd);
	}
	return 0;
}

static int wipe_one_disk(const struct disk_plan *plan, const struct disk_run_opts *o, const struct disk_stack *st,
			 const struct stack_dev *disk, struct wipe_regions *rl, struct nm_error *e)
{
	int r = kernel_partitions_free(plan, o->root, st, disk->name, e);
	if (r < 0)
		return r;
	char node[96];
	snprintf(node, sizeof node, "/dev/%s", disk->name);
	_cleanup_close_ int fd = guard_open(o->root, plan, node, e);
	if (fd < 0)
		return fd;
	/* Drop what the whole disk's page cache may hold from before: writes made meanwhile through
	 * partitions or arrays went around it, and every read from here on must see the disk. */
	if (ioctl(fd, BLKFLSBUF) < 0)
		nm_warn("%s: flushing the buffer cache failed: %s", disk->name, strerror(errno));
	r = collect_old_regions(fd, st, disk, rl, e);
	if (r < 0)
		return r;
	nm_info("%s: wiping the whole disk and %zu old partition region(s)", disk->name, rl->n - 1);
	int total = wipe_all_regions(fd, disk->name, rl, e);
	if (total < 0)
		return total;
	int n = wipe_stray_gpt_headers(fd, disk, e);
	if (n < 0)
		return n;
	total += n;
	r = drop_kernel_partitions(o->root, fd, st, disk->name, e);
	if (r == 0 && o->discard)
		r = discard_disk(o->root, fd, disk, e);
	if (r < 0)
		return r;
	nm_info("%s: %d signature(s) removed", disk->name, total);
	return total;
}

int disk_wipe(const struct disk_plan *plan, const struct disk_run_opts *o, struct nm_error *e)
{
	struct disk_stack st;
	int r = stack_read(o->root, plan, &st, e);
	if (r < 0)
		return r;
	_cleanup_free_ struct wipe_regions *rl = calloc(1, sizeof *rl);
	if (!rl)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int total = 0;
	for (size_t i = 0; r >= 0 && i < st.n; i++) {
		if (st.devs[i].kind != STACK_DISK)
			continue;
		r = wipe_one_disk(plan, o, &st, &st.devs[i], rl, e);
		if (r >= 0) {
			total += r;
			r = verify_clean(o->root, rl, st.devs[i].name, e);
		}
	}
	stack_free(&st);
	return r < 0 ? r : total;
}
