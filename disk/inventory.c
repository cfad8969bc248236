/* inventory.c: what disks this machine has — size, sectors, model, serial, transport, driver,
 * by-id links, partitions, stacked devices, mounts and swap on them, signatures (libblkid,
 * read-only) — and whether an install may use each one. Everything is read through the --root
 * prefix. It never writes and never fails on odd sysfs content: what cannot be read is left
 * empty and recorded as a warning naming the file. */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

/* dir + "/" + leaf into buf; false (and an empty buf) when it does not fit. */
static bool join(char *buf, size_t size, const char *dir, const char *leaf)
{
	int n = snprintf(buf, size, "%s/%s", dir, leaf);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return false;
	}
	return true;
}

/* ---- what is mounted and swapped on, from /proc (mounts.c) ---- */

struct machine_uses {
	struct disk_mount_table mounts;
	char **swaps; /* active swap devices and files */
};

static void machine_uses_read(const char *root, struct machine_uses *u, char ***warnings)
{
	if (disk_mount_table_read(root, &u->mounts, NULL) < 0)
		nm_strv_push(warnings, "/proc/self/mountinfo: cannot read it; mounted disks are not detected");
	if (disk_swaps_read(root, &u->swaps, NULL) < 0)
		nm_strv_push(warnings, "/proc/swaps: cannot read it; active swap on disks is not detected");
}

static void machine_uses_free(struct machine_uses *u)
{
	disk_mount_table_free(&u->mounts);
	nm_strv_free(u->swaps);
	*u = (struct machine_uses){0};
}

/* The kernel name a /dev source names (vda1, md127, vg-root for /dev/mapper/vg-root), or NULL. */
static const char *dev_base(const char *source)
{
	if (!source || strncmp(source, "/dev/", 5) != 0)
		return NULL;
	return strrchr(source, '/') + 1;
}

/* ---- the block devices belonging to one disk: itself, its partitions, stacked devices ---- */

struct member_dev {
	char name[64];
	char dm_name[128]; /* device-mapper name (/dev/mapper/<name>), or empty */
	unsigned major, minor;
};

struct dev_set {
	struct member_dev v[128];
	size_t n;
};

static bool read_dev_numbers(const char *root, const char *sysdir, unsigned *major, unsigned *minor)
{
	char rel[PATH_MAX];
	join(rel, sizeof rel, sysdir, "dev");
	_cleanup_free_ char *s = NULL;
	return nm_read_line(root, rel, &s) == 0 && sscanf(s, "%u:%u", major, minor) == 2;
}

static bool dev_set_has(const struct dev_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return true;
	return false;
}

static void dev_set_add(const char *root, struct dev_set *s, const char *name, const char *sysdir)
{
	if (s->n >= NM_ELEMENTSOF(s->v) || dev_set_has(s, name))
		return;
	struct member_dev *d = &s->v[s->n++];
	*d = (struct member_dev){.major = UINT_MAX, .minor = UINT_MAX};
	snprintf(d->name, sizeof d->name, "%s", name);
	read_dev_numbers(root, sysdir, &d->major, &d->minor);
	char rel[PATH_MAX];
	join(rel, sizeof rel, sysdir, "dm/name");
	_cleanup_free_ char *dm = NULL;
	if (nm_read_line(root, rel, &dm) == 0)
		snprintf(d->dm_name, sizeof d->dm_name, "%s", dm);
}

/* Adds the devices stacked on sysdir (its holders/), their partitions and what is stacked on
 * those in turn: md on partitions, LVM or LUKS on md, ... */
static void add_holders(const char *root, struct dev_set *s, const char *sysdir, unsigned depth)
{
	char rel[PATH_MAX];
	join(rel, sizeof rel, sysdir, "holders");
	_cleanup_strv_free_ char **holders = NULL;
	if (depth > 8 || nm_list_dir(root, rel, &holders) < 0)
		return;
	for (size_t i = 0; holders[i]; i++) {
		if (dev_set_has(s, holders[i]))
			continue;
		char hdir[PATH_MAX];
		snprintf(hdir, sizeof hdir, "/sys/block/%s", holders[i]);
		dev_set_add(root, s, holders[i], hdir);
		add_holders(root, s, hdir, depth + 1);
		_cleanup_strv_free_ char **sub = NULL;
		if (nm_list_dir(root, hdir, &sub) < 0)
			continue;
		for (size_t j = 0; sub[j]; j++) {
			char pdir[PATH_MAX], pfile[PATH_MAX];
			join(pdir, sizeof pdir, hdir, sub[j]);
			join(pfile, sizeof pfile, pdir, "partition");
			if (nm_exists(root, pfile)) {
				dev_set_add(root, s, sub[j], pdir);
				add_holders(root, s, pdir, depth + 1);
			}
		}
	}
}

/* major UINT_MAX: no device number to match (swap). */
static bool use_matches(unsigned major, unsigned minor, const char *source, const struct member_dev *d)
{
	if (major != UINT_MAX && d->major != UINT_MAX && major == d->major && minor == d->minor)
		return true;
	/* btrfs and swap report no device number: match the source name (/dev/X or /dev/mapper/X). */
	const char *base = dev_base(source);
	return base && (strcmp(base, d->name) == 0 || (d->dm_name[0] && strcmp(base, d->dm_name) == 0));
}

/* Records that dev is mounted at mountpoint, or active swap when mountpoint is NULL. */
static int add_use(struct disk_info *d, const char *dev, const char *mountpoint)
{
	struct disk_use *nv = realloc(d->uses, (d->n_uses + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	d->uses = nv;
	struct disk_use *u = &d->uses[d->n_uses++];
	*u = (struct disk_use){strdup(dev), mountpoint ? strdup(mountpoint) : NULL, !mountpoint};
	_cleanup_free_ char *what = u->swap ? nm_strdup_printf("%s is active swap", u->device)
					    : nm_strdup_printf("%s mounted at %s", u->device, u->mountpoint);
	if (what)
		nm_strv_push(&d->in_use, what);
	if (u->mountpoint && strcmp(u->mountpoint, "/") == 0)
		d->holds_root = true;
	return 0;
}

static int record_uses(struct disk_info *d, const struct dev_set *s, const struct machine_uses *mu)
{
	/* A line without its source part says too little to pin on a disk. */
	for (size_t i = 0; i < mu->mounts.n; i++) {
		const struct disk_mount *m = &mu->mounts.v[i];
		for (size_t j = 0; m->fstype && j < s->n; j++)
			if (use_matches(m->major, m->minor, m->source, &s->v[j])) {
				if (add_use(d, s->v[j].name, m->mountpoint) < 0)
					return -ENOMEM;
				break;
			}
	}
	/* Swap files live on a mounted filesystem, which mountinfo already reports. */
	for (size_t i = 0; mu->swaps && mu->swaps[i]; i++)
		for (size_t j = 0; dev_base(mu->swaps[i]) && j < s->n; j++)
			if (use_matches(UINT_MAX, UINT_MAX, mu->swaps[i], &s->v[j])) {
				if (add_use(d, s->v[j].name, NULL) < 0)
					return -ENOMEM;
				break;
			}
	return 0;
}

/* ---- sysfs facts about one disk ---- */

struct disk_reader {
	const char *root;
	char sysdir[PATH_MAX]; /* /sys/block/<name> */
	char ***warnings;
};

static void warnf(struct disk_reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(struct disk_reader *rd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0) {
		nm_strv_push(rd->warnings, s);
		free(s);
	}
	va_end(ap);
}

/* A text attribute of the disk, sanitised; non-UTF-8 bytes become '?' with a warning. Empty
 * (or all blanks, as unset SCSI fields are) gives NULL. */
static char *read_text(struct disk_reader *rd, const char *attr)
{
	char rel[PATH_MAX];
	join(rel, sizeof rel, rd->sysdir, attr);
	char *s = NULL;
	size_t len = 0;
	if (nm_read_file(rd->root, rel, 4096, &s, &len) < 0)
		return NULL;
	/* sysfs ends values with a newline, which the sanitiser would turn into '?'. */
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	if (!nm_utf8_valid(s, len) || strlen(s) != len)
		warnf(rd, "%s: not UTF-8 text; unreadable bytes are shown as '?'", rel);
	nm_sanitize_text(s);
	if (!*s) {
		free(s);
		return NULL;
	}
	return s;
}

static bool read_number(struct disk_reader *rd, const char *attr, uint64_t *out, bool warn)
{
	char rel[PATH_MAX];
	join(rel, sizeof rel, rd->sysdir, attr);
	int r = nm_read_u64(rd->root, rel, out);
	if (r < 0 && warn)
		warnf(rd, "%s: cannot read it (%s)", rel, strerror(-r));
	return r == 0;
}

/* SCSI/SATA unit serial number VPD page: a 4-byte header (page length in bytes 2-3), then the
 * serial in ASCII, usually padded with spaces. */
static char *serial_from_vpd80(struct disk_reader *rd)
{
	char rel[PATH_MAX];
	join(rel, sizeof rel, rd->sysdir, "device/vpd_pg80");
	_cleanup_free_ char *raw = NULL;
	size_t len = 0;
	if (nm_read_file(rd->root, rel, 4096, &raw, &len) < 0 || len < 4)
		return NULL;
	const unsigned char *b = (const unsigned char *)raw;
	size_t n = ((size_t)b[2] << 8) | b[3];
	if (b[1] != 0x80 || n > len - 4) {
		warnf(rd, "%s: not a unit serial number page; serial taken from elsewhere", rel);
		return NULL;
	}
	char *s = strndup(raw + 4, n);
	if (s)
		nm_sanitize_text(s);
	if (s && !*s) {
		free(s);
		s = NULL;
	}
	return s;
}

static char *read_serial(struct disk_reader *rd, bool nvme)
{
	char *s = read_text(rd, "device/serial"); /* NVMe */
	if (!s && nvme)
		s = read_text(rd, "../serial"); /* NVMe multipath head under nvme-subsysN */
	if (!s)
		s = read_text(rd, "serial"); /* virtio */
	if (!s)
		s = serial_from_vpd80(rd); /* SCSI, SATA behind libata */
	if (!s)
		s = read_text(rd, "device/wwid");
	return s;
}

static bool path_has_component(const char *path, const char *prefix, bool digit_after)
{
	size_t n = strlen(prefix);
	for (const char *p = strstr(path, prefix); p; p = strstr(p + 1, prefix))
		if (p[-1] == '/' && (!digit_after || (p[n] >= '0' && p[n] <= '9')))
			return true;
	return false;
}

/* The bus a disk hangs on, from the path of its sysfs device directory. */
static const char *transport_of(const char *name, const char *devpath)
{
	if (strncmp(name, "loop", 4) == 0)
		return "loop";
	if (!devpath)
		return "unknown";
	if (path_has_component(devpath, "nvme", false))
		return "nvme";
	if (path_has_component(devpath, "usb", true))
		return "usb";
	if (path_has_component(devpath, "ata", true))
		return "sata";
	if (path_has_component(devpath, "end_device-", false) || path_has_component(devpath, "port-", false))
		return "sas";
	if (path_has_component(devpath, "host", true) && path_has_component(devpath, "target", true))
		return "scsi";
	if (path_has_component(devpath, "virtio", true))
		return "virtio";
	return "unknown";
}

/* The driver of the controller: the nearest device above the disk with a driver that is not
 * the SCSI disk driver itself (nvme, ahci, virtio_blk, mpt3sas, usb-storage, ...). */
static char *controller_driver(struct disk_reader *rd)
{
	char rel[PATH_MAX];
	join(rel, sizeof rel, rd->sysdir, "device");
	_cleanup_free_ char *dev = NULL;
	if (nm_realpath(rd->root, rel, &dev) < 0)
		return NULL;
	for (char *end = dev + strlen(dev); strncmp(dev, "/sys/devices/", 13) == 0 && strlen(dev) > 13;) {
		char drv[PATH_MAX];
		join(drv, sizeof drv, dev, "driver");
		char *base = NULL;
		if (nm_readlink_base(rd->root, drv, &base) == 0) {
			if (strcmp(base, "sd") != 0 && strcmp(base, "sr") != 0)
				return base;
			free(base);
		}
		end = strrchr(dev, '/');
		if (!end)
			break;
		*end = '\0';
	}
	return NULL;
}

/* ---- /dev/disk/by-id and by-path ---- */

/* Lower is better: names that carry model and serial first, then WWNs, then the rest. */
static int by_id_rank(const char *link)
{
	static const char *const human[] = {"nvme-", "ata-", "virtio-", "usb-", "mmc-", "scsi-S"};
	if (strncmp(link, "nvme-eui.", 9) == 0 || strncmp(link, "nvme-nvme.", 10) == 0)
		return 3;
	for (size_t i = 0; i < NM_ELEMENTSOF(human); i++)
		if (strncmp(link, human[i], strlen(human[i])) == 0)
			return 0;
	if (strncmp(link, "wwn-", 4) == 0)
		return 1;
	if (strncmp(link, "scsi-", 5) == 0)
		return 2;
	return 4;
}

/* Lower is better among /dev/disk/by-path links: udev's own ID_PATH ("pci-...") before the
 * "virtio-pci-..." alias, and the longer name first, which is the current form where udev keeps
 * an older one as a compatibility alias (ATA: "...-ata-1.0" is ID_PATH, "...-ata-1" the alias,
 * which a later udev may drop). */
static int by_path_rank(const char *link)
{
	return (strncmp(link, "pci-", 4) == 0 ? 0 : 1 << 16) - (int)strlen(link);
}

/* The links in DIR (under root) that point at the disk itself, into *all (never NULL after), and
 * the best by RANK as "DIR/link" into *best (NULL when there is none). */
static void read_disk_links(const char *root, const char *dir, const struct disk_info *d, int (*rank)(const char *),
			    char ***all, char **best)
{
	*all = nm_strv_new();
	_cleanup_strv_free_ char **links = NULL;
	if (nm_list_dir(root, dir, &links) < 0)
		return; /* no udev (rescue without it, this host): no links, not an error */
	const char *top = NULL;
	for (size_t i = 0; links[i]; i++) {
		_cleanup_free_ char *rel = nm_strdup_printf("%s/%s", dir, links[i]);
		_cleanup_free_ char *target = NULL;
		if (nm_readlink_base(root, rel, &target) < 0 || strcmp(target, d->name) != 0)
			continue;
		nm_strv_push(all, rel);
		if (!top || rank(links[i]) < rank(top) || (rank(links[i]) == rank(top) && strcmp(links[i], top) < 0))
			top = links[i];
	}
	if (top)
		*best = nm_strdup_printf("%s/%s", dir, top);
}

static void read_disk_names(const char *root, struct disk_info *d)
{
	read_disk_links(root, "/dev/disk/by-id", d, by_id_rank, &d->by_id_links, &d->by_id);
	read_disk_links(root, "/dev/disk/by-path", d, by_path_rank, &d->by_path_links, &d->by_path);
}

/* ---- signatures (libblkid, read-only) ---- */

/* Every signature libblkid finds on a device: partition table types and superblocks, the way
 * wipefs lists them. -ENOENT when the device node is not there (fixture trees). */
static int probe_signatures(const char *root, const char *name, char ***types)
{
	char rel[PATH_MAX], path[PATH_MAX];
	snprintf(rel, sizeof rel, "/dev/%s", name);
	if (nm_root_path(root, rel, path, sizeof path) < 0 || !nm_exists(root, rel))
		return -ENOENT;
	blkid_probe pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return -errno ? -errno : -EIO;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	while (blkid_do_probe(pr) == 0) {
		const char *t = NULL;
		if (blkid_probe_lookup_value(pr, "TYPE", &t, NULL) == 0 ||
		    blkid_probe_lookup_value(pr, "PTTYPE", &t, NULL) == 0)
			if (!nm_strv_contains(*types, t))
				nm_strv_push(types, t);
	}
	blkid_free_probe(pr);
	return 0;
}

/* ---- partitions ---- */

static void read_partitions(struct disk_reader *rd, struct disk_info *d, struct dev_set *set)
{
	_cleanup_strv_free_ char **entries = NULL;
	if (nm_list_dir(rd->root, rd->sysdir, &entries) < 0)
		return;
	for (size_t i = 0; entries[i]; i++) {
		char pdir[PATH_MAX], rel[PATH_MAX];
		join(pdir, sizeof pdir, rd->sysdir, entries[i]);
		join(rel, sizeof rel, pdir, "partition");
		uint64_t number = 0, start = 0, size = 0;
		if (nm_read_u64(rd->root, rel, &number) < 0)
			continue;
		struct disk_partition_info *nv = realloc(d->partitions, (d->n_partitions + 1) * sizeof *nv);
		if (!nv)
			return;
		d->partitions = nv;
		join(rel, sizeof rel, pdir, "start");
		nm_read_u64(rd->root, rel, &start);
		join(rel, sizeof rel, pdir, "size");
		nm_read_u64(rd->root, rel, &size);
		struct disk_partition_info *p = &d->partitions[d->n_partitions++];
		*p = (struct disk_partition_info){strdup(entries[i]), (unsigned)number, start * 512, size * 512,
						  nm_strv_new()};
		dev_set_add(rd->root, set, entries[i], pdir);
		add_holders(rd->root, set, pdir, 1);
	}
}

/* ---- one disk ---- */

static void set_why_not(struct disk_info *d, bool size_known)
{
	const char *kind = disk_virtual_kind(d->name);
	char sz[32];
	if (kind)
		d->why_not = nm_strdup_printf("%s", kind);
	else if (strcmp(d->transport, "loop") == 0)
		d->why_not = strdup("a loop device (used only when named in --disks)");
	else if (d->removable)
		d->why_not = strdup("removable (USB stick, card reader); name it in --disks to use it anyway");
	else if (d->holds_root) {
		const char *dev = d->name;
		for (size_t i = 0; i < d->n_uses; i++)
			if (d->uses[i].mountpoint && strcmp(d->uses[i].mountpoint, "/") == 0)
				dev = d->uses[i].device;
		d->why_not = nm_strdup_printf("holds the running system (%s is mounted at /)", dev);
	} else if (!size_known)
		d->why_not = nm_strdup_printf("size unknown (/sys/block/%s/size unreadable)", d->name);
	else if (d->size_bytes < DISK_MIN_AUTO_SIZE)
		d->why_not =
		    nm_strdup_printf("too small (%s; at least 8 GiB)", disk_human_size(d->size_bytes, sz, sizeof sz));
	d->eligible = d->why_not == NULL;
}

static void read_signatures(struct disk_reader *rd, struct disk_info *d)
{
	d->signatures = nm_strv_new();
	int r = probe_signatures(rd->root, d->name, &d->signatures);
	if (r == -ENOENT) {
		warnf(rd, "/dev/%s: no device node; signatures not probed", d->name);
		return;
	}
	if (r < 0)
		warnf(rd, "/dev/%s: cannot probe signatures (%s)", d->name, strerror(-r));
	for (size_t i = 0; i < d->n_partitions; i++) {
		struct disk_partition_info *p = &d->partitions[i];
		if (probe_signatures(rd->root, p->name, &p->signatures) < 0)
			continue;
		for (size_t j = 0; p->signatures[j]; j++)
			if (!nm_strv_contains(d->signatures, p->signatures[j]))
				nm_strv_push(&d->signatures, p->signatures[j]);
	}
}

/* Returns whether the size could be read. */
static bool read_sizes(struct disk_reader *rd, struct disk_info *d)
{
	uint64_t v = 0;
	bool size_known = read_number(rd, "size", &v, true);
	if (size_known)
		d->size_bytes = v * 512; /* sysfs counts 512-byte units whatever the sector size */
	d->logical_sector_size = read_number(rd, "queue/logical_block_size", &v, true) ? (unsigned)v : 512;
	d->physical_sector_size =
	    read_number(rd, "queue/physical_block_size", &v, false) ? (unsigned)v : d->logical_sector_size;
	d->rotational = read_number(rd, "queue/rotational", &v, false) && v != 0;
	d->removable = read_number(rd, "removable", &v, true) && v != 0;
	return size_known;
}

/* WWN (SCSI/SATA naa./t10.), EUI-64 or NGUID (NVMe): what the device itself reports as its
 * world-wide name, in the order the kernel offers them. */
static char *read_wwid(struct disk_reader *rd)
{
	static const char *const attrs[] = {"wwid", "device/wwid", "nguid", "eui"};
	for (size_t i = 0; i < NM_ELEMENTSOF(attrs); i++) {
		char *s = read_text(rd, attrs[i]);
		if (s)
			return s;
	}
	return NULL;
}

int disk_identity_read(const char *root, const char *name, struct disk_info *d, bool *size_known, char ***warnings)
{
	struct disk_reader rd = {.root = root, .warnings = warnings};
	snprintf(rd.sysdir, sizeof rd.sysdir, "/sys/block/%s", name);
	if (!nm_exists(root, rd.sysdir))
		return -ENOENT;
	d->name = strdup(name);
	d->path = nm_strdup_printf("/dev/%s", name);
	d->in_use = nm_strv_new();
	if (!d->name || !d->path || !d->in_use)
		return -ENOMEM;
	bool known = read_sizes(&rd, d);
	if (size_known)
		*size_known = known;
	if (!read_dev_numbers(root, rd.sysdir, &d->major, &d->minor))
		warnf(&rd, "%s/dev: cannot read the device number; mounts on %s may go unnoticed", rd.sysdir, name);
	_cleanup_free_ char *devpath = NULL;
	nm_realpath(root, rd.sysdir, &devpath);
	d->transport = strdup(transport_of(name, devpath));
	if (!d->transport)
		return -ENOMEM;
	bool nvme = strcmp(d->transport, "nvme") == 0;
	d->model = read_text(&rd, "device/model");
	if (!d->model && nvme)
		d->model = read_text(&rd, "../model");
	d->serial = read_serial(&rd, nvme);
	d->wwid = read_wwid(&rd);
	/* Kernels before 5.15 keep no diskseq: 0, and the other fields identify the disk. */
	if (!read_number(&rd, "diskseq", &d->diskseq, false))
		d->diskseq = 0;
	return 0;
}

static int read_disk(const char *root, const char *name, const struct machine_uses *mounts, struct disk_info *d,
		     char ***warnings)
{
	struct disk_reader rd = {.root = root, .warnings = warnings};
	snprintf(rd.sysdir, sizeof rd.sysdir, "/sys/block/%s", name);
	bool size_known = false;
	int r = disk_identity_read(root, name, d, &size_known, warnings);
	if (r < 0)
		return r;
	d->driver = controller_driver(&rd);
	if (!d->serial && !disk_virtual_kind(name) && strcmp(d->transport, "loop") != 0)
		warnf(&rd,
		      "%s: no serial in device/serial, serial, device/vpd_pg80 or device/wwid; name it by kernel "
		      "name or by-id link",
		      rd.sysdir);
	read_disk_names(root, d);

	struct dev_set set = {0};
	dev_set_add(root, &set, name, rd.sysdir);
	add_holders(root, &set, rd.sysdir, 1);
	read_partitions(&rd, d, &set);
	d->holders = nm_strv_new();
	for (size_t i = 0; i < set.n; i++)
		if (set.v[i].name[0] && strcmp(set.v[i].name, name) != 0 &&
		    strncmp(set.v[i].name, name, strlen(name)) != 0)
			nm_strv_push(&d->holders, set.v[i].name);
	r = record_uses(d, &set, mounts);
	if (r < 0)
		return r;
	read_signatures(&rd, d);
	set_why_not(d, size_known);
	return 0;
}

void disk_info_clear(struct disk_info *d)
{
	free(d->name);
	free(d->path);
	free(d->by_id);
	nm_strv_free(d->by_id_links);
	free(d->by_path);
	nm_strv_free(d->by_path_links);
	free(d->model);
	free(d->serial);
	free(d->wwid);
	free(d->transport);
	free(d->driver);
	nm_strv_free(d->signatures);
	nm_strv_free(d->in_use);
	free(d->why_not);
	for (size_t i = 0; i < d->n_uses; i++) {
		free(d->uses[i].device);
		free(d->uses[i].mountpoint);
	}
	free(d->uses);
	for (size_t i = 0; i < d->n_partitions; i++) {
		free(d->partitions[i].name);
		nm_strv_free(d->partitions[i].signatures);
	}
	free(d->partitions);
	nm_strv_free(d->holders);
	*d = (struct disk_info){0};
}

/* Unattached loop devices and empty card readers report size 0: nothing to show. */
static bool has_no_medium(const char *root, const char *name)
{
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "/sys/block/%s/size", name);
	uint64_t v = 0;
	return nm_read_u64(root, rel, &v) == 0 && v == 0;
}

int disk_inventory_read(const char *root, struct disk_inventory *inv, struct nm_error *e)
{
	*inv = (struct disk_inventory){.warnings = nm_strv_new(), .uefi = nm_exists(root, "/sys/firmware/efi")};
	if (!inv->warnings || disk_initrd_modules_read(root, inv) < 0) {
		disk_inventory_free(inv);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "disk inventory: out of memory listing initrd modules");
	}
	_cleanup_strv_free_ char **names = NULL;
	int r = nm_list_dir(root, "/sys/block", &names);
	if (r < 0) {
		nm_strv_push(&inv->warnings, "/sys/block: cannot list it; no disks found");
		return 0;
	}
	struct machine_uses mounts = {0};
	machine_uses_read(root, &mounts, &inv->warnings);
	inv->disks = calloc(nm_strv_len(names) + 1, sizeof *inv->disks);
	if (!inv->disks) {
		machine_uses_free(&mounts);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "disk inventory: out of memory");
	}
	for (size_t i = 0; names[i]; i++) {
		if (has_no_medium(root, names[i]))
			continue;
		r = read_disk(root, names[i], &mounts, &inv->disks[inv->n_disks++], &inv->warnings);
		if (r < 0)
			break;
	}
	machine_uses_free(&mounts);
	if (r < 0) {
		disk_inventory_free(inv);
		return nm_fail(e, NM_ERR_RUNTIME, -r, "disk inventory: %s", strerror(-r));
	}
	return 0;
}

void disk_inventory_free(struct disk_inventory *inv)
{
	for (size_t i = 0; inv->disks && i < inv->n_disks; i++)
		disk_info_clear(&inv->disks[i]);
	free(inv->disks);
	nm_strv_free(inv->warnings);
	nm_strv_free(inv->initrd_modules);
	*inv = (struct disk_inventory){0};
}

/* ---- JSON (detect --json) ---- */

void disk_boot_mode_to_json(const struct disk_inventory *inv, json_object *into)
{
	json_object_object_add(into, "boot_mode", json_object_new_string(inv->uefi ? "uefi" : "bios"));
}

json_object *disk_info_to_json(const struct disk_info *d)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", disk_json_str(d->name));
	json_object_object_add(o, "path", disk_json_str(d->path));
	json_object_object_add(o, "by_id", disk_json_str(d->by_id));
	json_object_object_add(o, "by_id_links", nm_json_strv(d->by_id_links));
	json_object_object_add(o, "by_path", disk_json_str(d->by_path));
	json_object_object_add(o, "by_path_links", nm_json_strv(d->by_path_links));
	json_object_object_add(o, "size_bytes", json_object_new_int64((int64_t)d->size_bytes));
	json_object_object_add(o, "logical_sector_size", json_object_new_int64(d->logical_sector_size));
	json_object_object_add(o, "physical_sector_size", json_object_new_int64(d->physical_sector_size));
	json_object_object_add(o, "rotational", json_object_new_boolean(d->rotational));
	json_object_object_add(o, "removable", json_object_new_boolean(d->removable));
	json_object_object_add(o, "model", disk_json_str(d->model));
	json_object_object_add(o, "serial", disk_json_str(d->serial));
	json_object_object_add(o, "wwid", disk_json_str(d->wwid));
	json_object_object_add(o, "diskseq", json_object_new_int64((int64_t)d->diskseq));
	json_object_object_add(o, "transport", disk_json_str(d->transport));
	json_object_object_add(o, "driver", disk_json_str(d->driver));
	json_object_object_add(o, "signatures", nm_json_strv(d->signatures));
	json_object_object_add(o, "eligible", json_object_new_boolean(d->eligible));
	json_object_object_add(o, "why_not", disk_json_str(d->why_not));
	json_object_object_add(o, "in_use", nm_json_strv(d->in_use));
	json_object_object_add(o, "holders", nm_json_strv(d->holders));
	char dev[32];
	snprintf(dev, sizeof dev, "%u:%u", d->major, d->minor);
	json_object_object_add(o, "dev", json_object_new_string(dev));
	json_object *parts = json_object_new_array();
	for (size_t i = 0; i < d->n_partitions; i++) {
		const struct disk_partition_info *p = &d->partitions[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "name", disk_json_str(p->name));
		json_object_object_add(x, "number", json_object_new_int64(p->number));
		json_object_object_add(x, "start_bytes", json_object_new_int64((int64_t)p->start_bytes));
		json_object_object_add(x, "size_bytes", json_object_new_int64((int64_t)p->size_bytes));
		json_object_object_add(x, "signatures", nm_json_strv(p->signatures));
		json_object_array_add(parts, x);
	}
	json_object_object_add(o, "partitions", parts);
	return o;
}
