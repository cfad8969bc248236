/* stack.c: what sits on the planned disks, as sysfs tells it — their partitions and, recursively,
 * the device-mapper and md devices holding them and those devices' own partitions. Reads only
 * (through the --root prefix); the teardown decides what to do with it. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int read_devnum(const char *root, const char *sysdir, unsigned *major, unsigned *minor)
{
	_cleanup_free_ char *rel = nm_strdup_printf("%s/dev", sysdir);
	_cleanup_free_ char *s = NULL;
	if (!rel)
		return -ENOMEM;
	int r = nm_read_line(root, rel, &s);
	if (r < 0)
		return r;
	return sscanf(s, "%u:%u", major, minor) == 2 ? 0 : -EINVAL;
}

const struct stack_dev *stack_find(const struct disk_stack *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->devs[i].name, name) == 0)
			return &st->devs[i];
	return NULL;
}

const struct stack_dev *stack_find_devnum(const struct disk_stack *st, unsigned major, unsigned minor)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->devs[i].major == major && st->devs[i].minor == minor)
			return &st->devs[i];
	return NULL;
}

static int stack_add(struct disk_stack *st, const struct stack_dev *d)
{
	/* A device reached twice (an array over two planned disks) keeps its deepest position, so
	 * it is torn down before everything it sits on. */
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->devs[i].name, d->name) == 0) {
			if (d->depth > st->devs[i].depth)
				st->devs[i].depth = d->depth;
			return 0;
		}
	struct stack_dev *nv = realloc(st->devs, (st->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	st->devs = nv;
	st->devs[st->n++] = *d;
	return 1;
}

static int add_holder_partitions(const char *root, struct disk_stack *st, const char *hdir, const char *disk,
				 unsigned depth, struct nm_error *e);

/* Adds the holders of the device whose sysfs directory is `sysdir`, then theirs. */
static int add_holders(const char *root, struct disk_stack *st, const char *sysdir, const char *disk, unsigned depth,
		       struct nm_error *e)
{
	if (depth > 16)
		return nm_fail(e, NM_ERR_RUNTIME, ELOOP, "%s: device stack deeper than 16 levels; tear it down by hand",
			       disk);
	char rel[512];
	snprintf(rel, sizeof rel, "%s/holders", sysdir);
	_cleanup_strv_free_ char **holders = NULL;
	if (nm_list_dir(root, rel, &holders) < 0)
		return 0;
	for (size_t i = 0; holders[i]; i++) {
		struct stack_dev h = {.depth = depth};
		snprintf(h.name, sizeof h.name, "%s", holders[i]);
		snprintf(h.disk, sizeof h.disk, "%s", disk);
		h.kind = strncmp(h.name, "md", 2) == 0 ? STACK_MD : STACK_DM;
		char hdir[512];
		snprintf(hdir, sizeof hdir, "/sys/block/%s", h.name);
		if (read_devnum(root, hdir, &h.major, &h.minor) < 0)
			continue; /* vanished meanwhile */
		if (stack_add(st, &h) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		int r = add_holders(root, st, hdir, disk, depth + 1, e);
		if (r == 0)
			r = add_holder_partitions(root, st, hdir, disk, depth + 1, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A partitioned array (md127p1) or volume: its partitions and what sits on them belong to the
 * stack too, so a mount or LUKS mapping on md127p1 is found before teardown starts — as the
 * inventory finds them. */
static int add_holder_partitions(const char *root, struct disk_stack *st, const char *hdir, const char *disk,
				 unsigned depth, struct nm_error *e)
{
	_cleanup_strv_free_ char **entries = NULL;
	if (nm_list_dir(root, hdir, &entries) < 0)
		return 0; /* vanished meanwhile */
	for (size_t i = 0; entries[i]; i++) {
		_cleanup_free_ char *pdir = nm_strdup_printf("%s/%s", hdir, entries[i]);
		_cleanup_free_ char *rel = nm_strdup_printf("%s/partition", pdir ? pdir : "");
		if (!pdir || !rel)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		if (!nm_exists(root, rel))
			continue;
		struct stack_dev p = {.kind = STACK_HOLDER_PART, .depth = depth};
		snprintf(p.name, sizeof p.name, "%s", entries[i]);
		snprintf(p.disk, sizeof p.disk, "%s", disk);
		if (read_devnum(root, pdir, &p.major, &p.minor) < 0)
			continue;
		if (stack_add(st, &p) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		int r = add_holders(root, st, pdir, disk, depth + 1, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_disk(const char *root, struct disk_stack *st, const char *disk, struct nm_error *e)
{
	char sysdir[128];
	snprintf(sysdir, sizeof sysdir, "/sys/block/%s", disk);
	struct stack_dev d = {.kind = STACK_DISK};
	snprintf(d.name, sizeof d.name, "%s", disk);
	snprintf(d.disk, sizeof d.disk, "%s", disk);
	if (read_devnum(root, sysdir, &d.major, &d.minor) < 0)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "%s: no such disk in /sys/block; check the name with 'nmmm-agent detect'", disk);
	char rel[600];
	snprintf(rel, sizeof rel, "%s/size", sysdir);
	if (nm_read_u64(root, rel, &d.size) == 0)
		d.size *= 512;
	if (stack_add(st, &d) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = add_holders(root, st, sysdir, disk, 1, e);
	if (r < 0)
		return r;

	_cleanup_strv_free_ char **entries = NULL;
	r = nm_list_dir(root, sysdir, &entries);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, -r, "%s: cannot list %s: %s", disk, sysdir, strerror(-r));
	for (size_t i = 0; entries[i]; i++) {
		snprintf(rel, sizeof rel, "%s/%s/partition", sysdir, entries[i]);
		if (!nm_exists(root, rel))
			continue;
		struct stack_dev p = {.kind = STACK_PART, .depth = 1};
		snprintf(p.name, sizeof p.name, "%s", entries[i]);
		snprintf(p.disk, sizeof p.disk, "%s", disk);
		char pdir[300];
		snprintf(pdir, sizeof pdir, "%s/%s", sysdir, entries[i]);
		if (read_devnum(root, pdir, &p.major, &p.minor) < 0)
			continue;
		uint64_t partno = 0;
		if (nm_read_u64(root, rel, &partno) == 0)
			p.partno = (unsigned)partno;
		snprintf(rel, sizeof rel, "%s/start", pdir);
		if (nm_read_u64(root, rel, &p.start) == 0)
			p.start *= 512; /* sysfs counts 512-byte sectors whatever the logical size */
		snprintf(rel, sizeof rel, "%s/size", pdir);
		if (nm_read_u64(root, rel, &p.size) == 0)
			p.size *= 512;
		if (stack_add(st, &p) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		r = add_holders(root, st, pdir, disk, 2, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int stack_read(const char *root, const struct disk_plan *plan, struct disk_stack *st, struct nm_error *e)
{
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i < plan->n_disks; i++) {
		int r = add_disk(root, st, plan->disks[i].name, e);
		if (r < 0) {
			stack_free(st);
			return r;
		}
	}
	return 0;
}

void stack_free(struct disk_stack *st)
{
	free(st->devs);
	st->devs = NULL;
	st->n = 0;
}

int dev_node_path(const char *root, const char *name, char *buf, size_t size)
{
	char rel[128];
	snprintf(rel, sizeof rel, "/dev/%s", name);
	return nm_root_path(root, rel, buf, size);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool poll_until(bool (*done)(const void *arg), const void *arg, unsigned timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	for (;;) {
		if (done(arg))
			return true;
		if (monotonic_ms() >= deadline)
			return false;
		struct timespec nap = {.tv_nsec = 20 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

bool md_driver_present(const char *root)
{
	return nm_exists(root, "/proc/mdstat");
}

bool lvm_vg_from_dm_name(const char *dm_name, char *vg, size_t size)
{
	/* LVM names its dm devices VG-LV with every '-' inside VG or LV doubled; the first single
	 * '-' separates them. */
	size_t o = 0;
	for (const char *p = dm_name; *p; p++) {
		if (*p == '-' && p[1] == '-') {
			if (o + 1 >= size)
				return false;
			vg[o++] = '-';
			p++;
			continue;
		}
		if (*p == '-') {
			vg[o] = '\0';
			return o > 0 && p[1] != '\0';
		}
		if (o + 1 >= size)
			return false;
		vg[o++] = *p;
	}
	return false;
}

blkid_probe probe_device_ro(const char *root, const char *path, const char *why, int *fd, struct nm_error *e)
{
	char p[PATH_MAX];
	*fd = -1;
	if (nm_root_path(root, path, p, sizeof p) < 0 || (*fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		nm_fail(e, NM_ERR_RUNTIME, errno, "%s: cannot reopen to %s: %s", path, why, strerror(errno));
		return NULL;
	}
	blkid_probe pr = blkid_new_probe();
	if (!pr || blkid_probe_set_device(pr, *fd, 0, 0) != 0) {
		blkid_free_probe(pr);
		nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: cannot start libblkid probing", path);
		return NULL;
	}
	return pr;
}
