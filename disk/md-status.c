/* md-status.c: the md arrays as the kernel shows them now — /proc/mdstat and /sys/block/mdX/md
 * under the --root prefix, and on the live machine mdadm's --detail for each array's UUID and
 * name — and their read-only assembly for diagnose (mdadm --assemble --scan --readonly, only
 * when no array is there yet: Hetzner's rescue assembles old arrays itself, as md124/md125).
 * It never starts an array read-write, never adds, removes or updates a member and never
 * writes a superblock. */
#include "disk/disk-internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static void array_clear(struct disk_md_array *a)
{
	free(a->name);
	free(a->level);
	free(a->array_state);
	nm_strv_free(a->members);
	nm_strv_free(a->failed);
	free(a->uuid);
	free(a->md_name);
	*a = (struct disk_md_array){0};
}

static bool is_level(const char *tok)
{
	static const char *const levels[] = {"raid", "linear", "multipath", "faulty"};
	for (size_t i = 0; i < NM_ELEMENTSOF(levels); i++)
		if (strncmp(tok, levels[i], strlen(levels[i])) == 0)
			return true;
	return false;
}

/* "sda4[0]", "sdb4[1](F)", "sdc4[2](S)": the member's name into the array's lists. */
static int add_member(struct disk_md_array *a, const char *tok)
{
	size_t n = strcspn(tok, "[");
	if (n == 0 || tok[n] != '[')
		return 0; /* not a member token */
	_cleanup_free_ char *name = strndup(tok, n);
	if (!name || nm_strv_push(&a->members, name) < 0)
		return -ENOMEM;
	if (strstr(tok + n, "(F)") && nm_strv_push(&a->failed, name) < 0)
		return -ENOMEM;
	return 0;
}

/* "md124 : active (auto-read-only) raid1 nvme0n1p4[0] nvme1n1p4[1]" or "md125 : inactive sdb3[1](S)". */
static int parse_array_line(char *line, struct disk_md_array *a)
{
	char *save = NULL;
	char *tok = strtok_r(line, " \t", &save);
	a->name = strdup(tok);
	a->members = nm_strv_new();
	a->failed = nm_strv_new();
	if (!a->name || !a->members || !a->failed)
		return -ENOMEM;
	strtok_r(NULL, " \t", &save); /* ":" */
	while ((tok = strtok_r(NULL, " \t", &save))) {
		int r = 0;
		if (strcmp(tok, "active") == 0)
			a->active = true;
		else if (strcmp(tok, "(read-only)") == 0 || strcmp(tok, "(auto-read-only)") == 0)
			a->readonly = true;
		else if (!a->level && is_level(tok) && !strchr(tok, '['))
			r = (a->level = strdup(tok)) ? 0 : -ENOMEM;
		else
			r = add_member(a, tok);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The status line below an array's: "... blocks super 1.2 [2/1] [U_]". */
static void parse_status_line(const char *line, struct disk_md_array *a)
{
	for (const char *p = strchr(line, '['); p; p = strchr(p + 1, '[')) {
		unsigned total = 0, working = 0;
		if (sscanf(p, "[%u/%u]", &total, &working) == 2) {
			a->raid_disks = total;
			a->working = working;
			return;
		}
	}
}

int disk_mdstat_parse(const char *text, struct disk_md_status *s)
{
	_cleanup_free_ char *copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	struct disk_md_array *cur = NULL;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "md", 2) == 0 && strstr(line, " : ")) {
			struct disk_md_array *nv = realloc(s->arrays, (s->n_arrays + 1) * sizeof *nv);
			if (!nv)
				return -ENOMEM;
			s->arrays = nv;
			cur = &s->arrays[s->n_arrays++];
			*cur = (struct disk_md_array){0};
			int r = parse_array_line(line, cur);
			if (r < 0)
				return r;
		} else if (cur && isspace((unsigned char)line[0])) {
			parse_status_line(line, cur);
		} else {
			cur = NULL; /* "Personalities", "unused devices" */
		}
	}
	return 0;
}

/* "3a0c21c4:5ce3c31d:8a2f6f63:2c5b7b8e" (mdadm) -> "3a0c21c4-5ce3-c31d-8a2f-6f632c5b7b8e". */
static char *canonical_uuid(const char *v)
{
	char hex[33];
	size_t n = 0;
	for (; *v && n < 32; v++) {
		if (*v == ':' || *v == '-')
			continue;
		if (!isxdigit((unsigned char)*v))
			return NULL;
		hex[n++] = (char)tolower((unsigned char)*v);
	}
	if (n != 32 || *v)
		return NULL;
	hex[32] = '\0';
	return nm_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

int disk_md_detail_parse(const char *output, struct disk_md_array *a)
{
	_cleanup_free_ char *copy = strdup(output);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "MD_UUID=", 8) == 0 && !a->uuid)
			a->uuid = canonical_uuid(line + 8);
		else if (strncmp(line, "MD_NAME=", 8) == 0 && !a->md_name && !(a->md_name = strdup(line + 8)))
			return -ENOMEM;
	}
	return 0;
}

/* What the array's sysfs directory adds: array_state ("clean", "read-auto", "inactive", ...) and,
 * when the kernel shows it, the UUID. */
static void read_sysfs(const char *root, struct disk_md_array *a)
{
	char rel[128];
	snprintf(rel, sizeof rel, "/sys/block/%s/md/array_state", a->name);
	(void)nm_read_line(root, rel, &a->array_state);
	_cleanup_free_ char *uuid = NULL;
	snprintf(rel, sizeof rel, "/sys/block/%s/md/uuid", a->name);
	if (!a->uuid && nm_read_line(root, rel, &uuid) == 0)
		a->uuid = canonical_uuid(uuid);
}

/* On the live machine, mdadm knows the array's UUID and name (homehost:name). */
static void read_detail(struct disk_md_array *a)
{
	_cleanup_free_ char *dev = nm_strdup_printf("/dev/%s", a->name);
	if (!dev)
		return;
	const char *argv[] = {"mdadm", "--detail", "--export", dev, NULL};
	struct nm_run_result res = {0};
	struct nm_error ignored = {0};
	if (nm_run(argv, &(struct nm_run_opts){.timeout_sec = 30, .allow_failure = true}, &res, &ignored) == 0 &&
	    res.exit_status == 0)
		(void)disk_md_detail_parse(res.output, a);
	nm_run_result_free(&res);
}

static bool live_root(const char *root)
{
	struct nm_error ignored = {0};
	return disk_host_root_check(root, "mdadm", &ignored) == 0;
}

static void arrays_clear(struct disk_md_status *s)
{
	for (size_t i = 0; i < s->n_arrays; i++)
		array_clear(&s->arrays[i]);
	free(s->arrays);
	s->arrays = NULL;
	s->n_arrays = 0;
}

/* The arrays now (again, after an assembly); the notes so far are kept. */
static int read_arrays(const char *root, struct disk_md_status *s, struct nm_error *e)
{
	arrays_clear(s);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = nm_read_file(root, "/proc/mdstat", 1u << 20, &text, &len);
	s->driver = r == 0;
	if (r == -ENOENT)
		return 0; /* no md driver: no arrays */
	if (r < 0) {
		nm_warning_add(&s->notes, "/proc/mdstat: cannot read it (%s); arrays unknown", strerror(-r));
		return 0;
	}
	if (disk_mdstat_parse(text, s) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "md arrays: out of memory");
	bool live = live_root(root);
	for (size_t i = 0; i < s->n_arrays; i++) {
		read_sysfs(root, &s->arrays[i]);
		if (live && s->arrays[i].active)
			read_detail(&s->arrays[i]);
	}
	return 0;
}

int disk_md_status_read(const char *root, struct disk_md_status *s, struct nm_error *e)
{
	*s = (struct disk_md_status){.notes = nm_strv_new()};
	if (!s->notes)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "md arrays: out of memory");
	return read_arrays(root, s, e);
}

/* mdadm's one-line answer ("mdadm: No arrays found in config file or automatically"). */
static void note_output(struct disk_md_status *s, const char *what, const struct nm_run_result *res)
{
	const char *out = res->output ? res->output : "";
	int n = (int)strcspn(out, "\n");
	nm_warning_add(&s->notes, "%s: exit status %d%s%.*s", what, res->exit_status, n ? ": " : "", n > 300 ? 300 : n,
		       out);
}

int disk_md_assemble_readonly(const char *root, struct disk_md_status *s, struct nm_error *e)
{
	int r = disk_md_status_read(root, s, e);
	if (r < 0 || !s->driver)
		return r;
	if (s->n_arrays > 0) {
		nm_warning_add(&s->notes, "arrays already assembled (as the rescue did): left as they are");
		return 0;
	}
	if (!live_root(root)) {
		nm_warning_add(&s->notes, "--root %s: mdadm not run (it assembles the running system's disks)", root);
		return 0;
	}
	/* --readonly: the arrays start read-only, so neither a resync nor a superblock update writes
	 * to the members; without --update nothing is rewritten at assembly either. */
	const char *argv[] = {"mdadm", "--assemble", "--scan", "--readonly", NULL};
	struct nm_run_result res = {0};
	r = nm_run(argv, &(struct nm_run_opts){.timeout_sec = 120, .allow_failure = true}, &res, e);
	if (r == 0) {
		s->assembled = res.exit_status == 0;
		note_output(s, "mdadm --assemble --scan --readonly", &res);
	}
	nm_run_result_free(&res);
	return r < 0 ? r : read_arrays(root, s, e);
}

void disk_md_status_free(struct disk_md_status *s)
{
	arrays_clear(s);
	nm_strv_free(s->notes);
	*s = (struct disk_md_status){0};
}

json_object *disk_md_status_to_json(const struct disk_md_status *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "driver", json_object_new_boolean(s->driver));
	json_object_object_add(o, "assembled_here", json_object_new_boolean(s->assembled));
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < s->n_arrays; i++) {
		const struct disk_md_array *a = &s->arrays[i];
		json_object *x = json_object_new_object();
		json_object_object_add(x, "name", json_object_new_string(a->name));
		json_object_object_add(x, "active", json_object_new_boolean(a->active));
		json_object_object_add(x, "readonly", json_object_new_boolean(a->readonly));
		json_object_object_add(x, "level", disk_json_str(a->level));
		json_object_object_add(x, "array_state", disk_json_str(a->array_state));
		json_object_object_add(x, "raid_disks", json_object_new_int((int)a->raid_disks));
		json_object_object_add(x, "working", json_object_new_int((int)a->working));
		json_object_object_add(x, "members", nm_json_strv(a->members));
		json_object_object_add(x, "failed", nm_json_strv(a->failed));
		json_object_object_add(x, "uuid", disk_json_str(a->uuid));
		json_object_object_add(x, "md_name", disk_json_str(a->md_name));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "arrays", arr);
	json_object_object_add(o, "notes", nm_json_strv(s->notes));
	return o;
}
