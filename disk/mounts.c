/* mounts.c: the one reader of what is mounted and swapped on — /proc/self/mountinfo and
 * /proc/swaps under the --root prefix, with the kernel's octal escapes undone — for the
 * inventory (what uses a disk), teardown and mount (what sits under the target). It only reads;
 * what a mount means to a disk is for its callers to decide. */
#include "disk/disk-internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* mountinfo and /proc/swaps escape space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static void mount_clear(struct disk_mount *m)
{
	free(m->mountpoint);
	free(m->fstype);
	free(m->source);
	*m = (struct disk_mount){0};
}

void disk_mount_table_free(struct disk_mount_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		mount_clear(&t->v[i]);
	free(t->v);
	*t = (struct disk_mount_table){0};
}

/* One line: "id parent major:minor root mountpoint [optional fields] - fstype source superopts".
 * 0 when it is no mount line (skipped), 1 when *m is filled, -ENOMEM. */
static int parse_mount_line(const char *line, struct disk_mount *m)
{
	char mp[PATH_MAX], fstype[256], src[PATH_MAX];
	*m = (struct disk_mount){0};
	if (sscanf(line, "%d %*d %u:%u %*s %4095s", &m->id, &m->major, &m->minor, mp) != 4)
		return 0;
	const char *sep = strstr(line, " - ");
	bool full = sep && sscanf(sep + 3, "%*s %4095s", src) == 1 && sscanf(sep + 3, "%255s", fstype) == 1;
	if (!full)
		snprintf(src, sizeof src, "none");
	unescape_octal(mp);
	unescape_octal(src);
	m->mountpoint = strdup(mp);
	m->source = strdup(src);
	m->fstype = full ? strdup(fstype) : NULL;
	if (!m->mountpoint || !m->source || (full && !m->fstype)) {
		mount_clear(m);
		return -ENOMEM;
	}
	return 1;
}

int disk_mount_table_read(const char *root, struct disk_mount_table *t, struct nm_error *e)
{
	*t = (struct disk_mount_table){0};
	_cleanup_free_ char *buf = NULL;
	int r = nm_read_file(root, "/proc/self/mountinfo", 0, &buf, NULL);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, -r, "/proc/self/mountinfo: cannot read: %s", strerror(-r));
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct disk_mount m;
		r = parse_mount_line(line, &m);
		if (r == 0)
			continue;
		struct disk_mount *nv = r > 0 ? realloc(t->v, (t->n + 1) * sizeof *nv) : NULL;
		if (!nv) {
			mount_clear(&m);
			disk_mount_table_free(t);
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "/proc/self/mountinfo: out of memory");
		}
		t->v = nv;
		t->v[t->n++] = m;
	}
	return 0;
}

int disk_swaps_read(const char *root, char ***names, struct nm_error *e)
{
	*names = NULL;
	_cleanup_free_ char *buf = NULL;
	int r = nm_read_file(root, "/proc/swaps", 0, &buf, NULL);
	if (r < 0)
		return nm_fail(e, NM_ERR_RUNTIME, -r, "/proc/swaps: cannot read: %s", strerror(-r));
	_cleanup_strv_free_ char **v = nm_strv_new();
	if (!v)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "/proc/swaps: out of memory");
	char *save = NULL;
	strtok_r(buf, "\n", &save); /* "Filename Type Size Used Priority" */
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[PATH_MAX];
		if (sscanf(line, "%4095s", name) != 1)
			continue;
		unescape_octal(name);
		if (nm_strv_push(&v, name) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "/proc/swaps: out of memory");
	}
	*names = v;
	v = NULL;
	return 0;
}

bool disk_root_is_rootfs(const char *root)
{
	struct disk_mount_table t;
	if (disk_mount_table_read(root, &t, NULL) < 0)
		return false;
	bool rootfs = false;
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].fstype && strcmp(t.v[i].mountpoint, "/") == 0) {
			rootfs = strcmp(t.v[i].fstype, "rootfs") == 0;
			break;
		}
	disk_mount_table_free(&t);
	return rootfs;
}
