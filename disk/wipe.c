/* wipe.c: removes every signature libblkid knows from the planned disks — the wipefs way
 * (blkid_do_probe + blkid_do_wipe), partitions first, then the whole disk — drops the partitions
 * from the kernel, optionally discards, and then proves the result by probing again, the whole
 * disk and the regions where the old partitions were. It opens only what the guard accepts, and
 * only exclusively; it never touches a disk outside the plan. */
#include "disk/ops-internal.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>

#define WIPE_MAX_SIGNATURES 256 /* a bound on the probe loop, far above any real disk */

static blkid_probe probe_everything(int fd, uint64_t offset, uint64_t size)
{
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return NULL;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)offset, (blkid_loff_t)size) != 0) {
		blkid_free_probe(pr);
		return NULL;
	}
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

int wipe_device_signatures(int fd, const char *what, struct nm_error *e)
{
	blkid_probe pr = probe_everything(fd, 0, 0);
	if (!pr)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: cannot start libblkid probing", what);
	int n = 0;
	/* blkid_do_wipe steps the prober back after a wipe, so the loop re-reads the same area
	 * and finds whatever was hidden behind the signature just removed. */
	while (blkid_do_probe(pr) == 0) {
		if (n >= WIPE_MAX_SIGNATURES) {
			blkid_free_probe(pr);
			return nm_fail(e, NM_ERR_RUNTIME, ELOOP,
				       "%s: still finding signatures after removing %d; wipe it by hand with "
				       "'wipefs --all' and report this",
				       what, n);
		}
		const char *type = probe_value(pr, "TYPE", "PTTYPE");
		const char *off = probe_value(pr, "SBMAGIC_OFFSET", "PTMAGIC_OFFSET");
		nm_info("%s: removing %s signature at offset %s", what, type, off);
		if (blkid_do_wipe(pr, 0) != 0) {
			int err = errno ? errno : EIO;
			blkid_free_probe(pr);
			return nm_fail(e, NM_ERR_RUNTIME, err, "%s: cannot erase the %s signature at offset %s: %s",
				       what, type, off, strerror(err));
		}
		n++;
	}
	blkid_free_probe(pr);
	if (fsync(fd) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "%s: flushing the wipe failed: %s", what, strerror(errno));
	return n;
}

/* What libblkid still finds in [offset, offset+size) of fd (size 0 = to the end), appended to
 * *found as "TYPE at OFFSET". Reads only. */
static int probe_leftovers(int fd, uint64_t offset, uint64_t size, const char *region, char ***found)
{
	blkid_probe pr = probe_everything(fd, offset, size);
	if (!pr)
		return -ENOMEM;
	for (int i = 0; i < WIPE_MAX_SIGNATURES && blkid_do_probe(pr) == 0; i++) {
		_cleanup_free_ char *s = nm_strdup_printf("%s at offset %s of %s", probe_value(pr, "TYPE", "PTTYPE"),
							  probe_value(pr, "SBMAGIC_OFFSET", "PTMAGIC_OFFSET"), region);
		if (!s || nm_strv_push(found, s) < 0) {
			blkid_free_probe(pr);
			return -ENOMEM;
		}
	}
	blkid_free_probe(pr);
	return 0;
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

static int verify_clean(const char *root, const struct disk_stack *old, const char *disk, struct nm_error *e)
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
	int r = probe_leftovers(fd, 0, 0, "the whole disk", &found);
	uint64_t gpt_off[2];
	const struct stack_dev *d = stack_find(old, disk);
	gpt_header_offsets(fd, d ? d->size : 0, gpt_off);
	for (size_t i = 0; r == 0 && d && i < 2; i++)
		if (gpt_magic_at(fd, gpt_off[i]))
			r = nm_strv_push(&found, i ? "GPT backup header in the last sector" : "GPT header at LBA 1");
	for (size_t i = 0; r == 0 && i < old->n; i++) {
		const struct stack_dev *part = &old->devs[i];
		if (part->kind != STACK_PART || strcmp(part->disk, disk) != 0 || part->size == 0)
			continue;
		_cleanup_free_ char *region = nm_strdup_printf("old partition %s", part->name);
		r = region ? probe_leftovers(fd, part->start, part->size, region, &found) : -ENOMEM;
	}
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

static int wipe_one_disk(const struct disk_plan *plan, const struct disk_run_opts *o, const struct disk_stack *st,
			 const struct stack_dev *disk, struct nm_error *e)
{
	char node[96];
	int total = 0;
	for (size_t i = 0; i < st->n; i++) {
		const struct stack_dev *p = &st->devs[i];
		if (p->kind != STACK_PART || strcmp(p->disk, disk->name) != 0)
			continue;
		snprintf(node, sizeof node, "/dev/%s", p->name);
		_cleanup_close_ int pfd = guard_open(o->root, plan, node, e);
		if (pfd < 0)
			return pfd;
		int n = wipe_device_signatures(pfd, p->name, e);
		if (n < 0)
			return n;
		total += n;
	}
	snprintf(node, sizeof node, "/dev/%s", disk->name);
	_cleanup_close_ int fd = guard_open(o->root, plan, node, e);
	if (fd < 0)
		return fd;
	int n = wipe_device_signatures(fd, disk->name, e);
	if (n >= 0) {
		total += n;
		n = wipe_stray_gpt_headers(fd, disk, e);
	}
	if (n < 0)
		return n;
	total += n;
	int r = drop_kernel_partitions(o->root, fd, st, disk->name, e);
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
	int total = 0;
	for (size_t i = 0; r >= 0 && i < st.n; i++) {
		if (st.devs[i].kind != STACK_DISK)
			continue;
		r = wipe_one_disk(plan, o, &st, &st.devs[i], e);
		if (r >= 0) {
			total += r;
			r = verify_clean(o->root, &st, st.devs[i].name, e);
		}
	}
	stack_free(&st);
	return r < 0 ? r : total;
}
