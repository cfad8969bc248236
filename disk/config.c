/* config.c: the layout config file (`--config FILE`, JSON via json-c) and the --disks list.
 * It checks shape and values on their own (types, units, names, mountpoints); what depends on
 * the disks (how many a RAID level needs, whether it all fits) is checked by the planner.
 * Every error names the JSON field path and says what would be accepted. It reads only the
 * config file and never looks at the machine. */
#include "disk/disk.h"
#include "disk/disk-internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

int disk_config_init(struct disk_config *c)
{
	*c = (struct disk_config){
	    .raid_level = -1,
	    .filesystem = strdup("ext4"),
	    .esp_size = DISK_DEFAULT_ESP_SIZE,
	    .homehost = strdup("nmmm"),
	    .target = strdup("/mnt"),
	};
	return c->filesystem && c->homehost && c->target ? 0 : -ENOMEM;
}

void disk_config_free(struct disk_config *c)
{
	nm_strv_free(c->disks);
	free(c->filesystem);
	for (size_t i = 0; i < c->n_extra; i++) {
		free(c->extra[i].name);
		free(c->extra[i].filesystem);
		free(c->extra[i].mountpoint);
	}
	free(c->extra);
	free(c->homehost);
	free(c->hostname);
	free(c->target);
	*c = (struct disk_config){0};
}

int disk_parse_size(const char *s, uint64_t *bytes)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return -EINVAL;
	}
	if (*end) {
		end++;
		/* "8G", "8GB" and "8GiB" all mean 8 * 2^30: operators write all three. */
		if (strcasecmp(end, "iB") != 0 && strcasecmp(end, "B") != 0 && *end != '\0')
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int disk_config_set_disks(struct disk_config *c, const char *list, struct nm_error *e)
{
	_cleanup_strv_free_ char **v = nm_strv_new();
	_cleanup_free_ char *copy = strdup(list);
	if (!v || !copy)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "--disks: out of memory");
	size_t i = 0;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++) {
		while (isspace((unsigned char)*tok))
			tok++;
		nm_sanitize_text(tok);
		if (!*tok)
			continue;
		if (nm_strv_contains(v, tok))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "--disks: \"%s\" is named twice; name each disk once",
				       tok);
		if (nm_strv_push(&v, tok) < 0)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "--disks: out of memory");
	}
	if (nm_strv_len(v) == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--disks: the list is empty; name disks like nvme0n1,nvme1n1 or serial:S1234");
	nm_strv_free(c->disks);
	c->disks = v;
	v = NULL;
	return 0;
}

/* ---- JSON fields ---- */

static const char *type_name(json_object *o)
{
	return json_type_to_name(json_object_get_type(o));
}

static int want_type(json_object *o, enum json_type t, const char *path, const char *example, struct nm_error *e)
{
	if (json_object_get_type(o) == t)
		return 0;
	return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: expected a %s (e.g. %s), found a %s", path, json_type_to_name(t),
		       example, type_name(o));
}

static int take_string(json_object *o, const char *path, const char *example, char **out, struct nm_error *e)
{
	int r = want_type(o, json_type_string, path, example, e);
	if (r < 0)
		return r;
	char *s = strdup(json_object_get_string(o));
	if (!s)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory", path);
	free(*out);
	*out = s;
	return 0;
}

/* A size is a string with a binary unit ("8G", "512M") or the number 0 (none), and at most
 * DISK_MAX_CONFIG_SIZE: "8388608T" parses, but no disk holds it, and the planner's sums must
 * stay exact. */
static int take_size(json_object *o, const char *path, uint64_t *out, struct nm_error *e)
{
	if (json_object_get_type(o) == json_type_int && json_object_get_int64(o) == 0) {
		*out = 0;
		return 0;
	}
	uint64_t v = 0;
	if (json_object_get_type(o) != json_type_string || disk_parse_size(json_object_get_string(o), &v) < 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: %s is not a size; write a string with a binary unit like \"8G\", \"512M\" or "
			       "\"1T\" (or 0 for none)",
			       path, json_object_to_json_string(o));
	if (v > DISK_MAX_CONFIG_SIZE)
		return nm_fail(e, NM_ERR_USAGE, ERANGE,
			       "%s: %s is more than any disk holds; give at most \"1048576T\" (1 EiB), in practice "
			       "less than the smallest disk",
			       path, json_object_to_json_string(o));
	*out = v;
	return 0;
}

static bool fs_supported(const char *fs)
{
	return strcmp(fs, "ext4") == 0 || strcmp(fs, "xfs") == 0 || strcmp(fs, "btrfs") == 0;
}

static int take_filesystem(json_object *o, const char *path, char **out, struct nm_error *e)
{
	int r = take_string(o, path, "\"ext4\"", out, e);
	if (r < 0)
		return r;
	if (!fs_supported(*out))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: \"%s\" is not supported; choose ext4, xfs or btrfs", path,
			       *out);
	return 0;
}

/* md array names and GPT names of extra partitions: short, plain, usable in /dev/md/<name>. */
static bool plain_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* Text that names something to the machine: no control characters (they would reach messages,
 * and through them terminals and logs, as if they were the agent's own). */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* s as a JSON string literal, for messages: a newline in it is shown as \n, not printed. */
static const char *quoted(const char *s, char *buf, size_t size)
{
	json_object *q = json_object_new_string(s);
	snprintf(buf, size, "%s", q ? json_object_to_json_string_ext(q, JSON_C_TO_STRING_NOSLASHESCAPE) : "\"\"");
	json_object_put(q);
	return buf;
}

static int check_mountpoint(const char *mp, const char *path, struct nm_error *e)
{
	const char *why = disk_mountpoint_problem(mp);
	char q[600];
	if (why)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: %s %s; give a plain absolute path like \"/srv\" or \"/var/lib/postgresql\"", path,
			       quoted(mp, q, sizeof q), why);
	return 0;
}

static int take_extra(json_object *o, const char *path, struct disk_extra_part *x, struct nm_error *e)
{
	int r = want_type(o, json_type_object, path, "{\"name\": \"data\", \"size\": \"100G\", ...}", e);
	if (r < 0)
		return r;
	char fp[128];
	json_object_object_foreach(o, key, val)
	{
		snprintf(fp, sizeof fp, "%s.%s", path, key);
		if (strcmp(key, "name") == 0)
			r = take_string(val, fp, "\"data\"", &x->name, e);
		else if (strcmp(key, "size") == 0)
			r = take_size(val, fp, &x->size, e);
		else if (strcmp(key, "filesystem") == 0)
			r = take_filesystem(val, fp, &x->filesystem, e);
		else if (strcmp(key, "mountpoint") == 0)
			r = take_string(val, fp, "\"/srv\"", &x->mountpoint, e);
		else
			r = nm_fail(e, NM_ERR_USAGE, EINVAL,
				    "%s: unknown field; an extra partition has name, size, filesystem, mountpoint", fp);
		if (r < 0)
			return r;
	}
	static const char *const required[] = {"name", "size", "mountpoint"};
	for (size_t i = 0; i < NM_ELEMENTSOF(required); i++)
		if (!json_object_object_get_ex(o, required[i], NULL))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s.%s: missing; every extra partition needs it", path,
				       required[i]);
	char q[600];
	if (!plain_name(x->name) || strcmp(x->name, "root") == 0 || strcmp(x->name, "swap") == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s.name: %s cannot be used; choose 1-32 letters, digits, '-' or '_', starting "
			       "with a letter or digit, other than \"root\" and \"swap\"",
			       path, quoted(x->name, q, sizeof q));
	if (x->size < (1ull << 20))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s.size: too small; an extra partition needs at least \"1M\"",
			       path);
	if (!x->filesystem && !(x->filesystem = strdup("ext4")))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "%s: out of memory", path);
	snprintf(fp, sizeof fp, "%s.mountpoint", path);
	return check_mountpoint(x->mountpoint, fp, e);
}

static int take_extras(json_object *o, struct disk_config *c, struct nm_error *e)
{
	int r = want_type(o, json_type_array, "extra_partitions",
			  "[{\"name\": \"data\", \"size\": \"100G\", \"mountpoint\": \"/srv\"}]", e);
	if (r < 0)
		return r;
	size_t n = json_object_array_length(o);
	c->extra = calloc(n ? n : 1, sizeof *c->extra);
	if (!c->extra)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "extra_partitions: out of memory");
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof path, "extra_partitions[%zu]", i);
		c->n_extra = i + 1;
		struct disk_extra_part *x = &c->extra[i];
		r = take_extra(json_object_array_get_idx(o, i), path, x, e);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->extra[j].name, x->name) == 0)
				return nm_fail(e, NM_ERR_USAGE, EINVAL,
					       "%s.name: \"%s\" is also extra_partitions[%zu].name; names must differ",
					       path, x->name, j);
			if (strcmp(c->extra[j].mountpoint, x->mountpoint) == 0)
				return nm_fail(e, NM_ERR_USAGE, EINVAL,
					       "%s.mountpoint: \"%s\" is also extra_partitions[%zu].mountpoint; "
					       "mountpoints must differ",
					       path, x->mountpoint, j);
		}
	}
	return 0;
}

static int take_disks(json_object *o, struct disk_config *c, struct nm_error *e)
{
	int r = want_type(o, json_type_array, "disks", "[\"nvme0n1\", \"serial:S1234\"]", e);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **v = nm_strv_new();
	for (size_t i = 0; v && i < json_object_array_length(o); i++) {
		char path[32];
		snprintf(path, sizeof path, "disks[%zu]", i);
		_cleanup_free_ char *s = NULL;
		r = take_string(json_object_array_get_idx(o, i), path, "\"nvme0n1\"", &s, e);
		if (r < 0)
			return r;
		if (!*s)
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: empty; name a disk like \"nvme0n1\"", path);
		if (has_control(s))
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "%s: contains a control character; name a disk like \"nvme0n1\" or "
				       "\"serial:S1234\"",
				       path);
		if (nm_strv_contains(v, s))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: \"%s\" is named twice; name each disk once", path,
				       s);
		if (nm_strv_push(&v, s) < 0)
			v = NULL;
	}
	if (!v)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "disks: out of memory");
	if (nm_strv_len(v) == 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "disks: empty; leave the field out to choose automatically");
	nm_strv_free(c->disks);
	c->disks = v;
	v = NULL;
	return 0;
}

static int take_raid_level(json_object *o, struct disk_config *c, struct nm_error *e)
{
	int64_t v = json_object_get_int64(o);
	if (json_object_get_type(o) != json_type_int || (v != 0 && v != 1 && v != 5 && v != 6 && v != 10))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "raid_level: %s is not a level; choose 0, 1, 5, 6 or 10",
			       json_object_to_json_string(o));
	c->raid_level = (int)v;
	return 0;
}

static int take_field(const char *key, json_object *val, struct disk_config *c, struct nm_error *e)
{
	int r;
	if (strcmp(key, "disks") == 0)
		return take_disks(val, c, e);
	if (strcmp(key, "raid_level") == 0)
		return take_raid_level(val, c, e);
	if (strcmp(key, "filesystem") == 0)
		return take_filesystem(val, key, &c->filesystem, e);
	if (strcmp(key, "swap_size") == 0)
		return take_size(val, key, &c->swap_size, e);
	if (strcmp(key, "esp_size") == 0) {
		r = take_size(val, key, &c->esp_size, e);
		if (r == 0 && c->esp_size < DISK_MIN_ESP_SIZE)
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "esp_size: too small for a FAT32 ESP; give at least \"32M\" (default \"1G\")");
		return r;
	}
	if (strcmp(key, "extra_partitions") == 0)
		return take_extras(val, c, e);
	if (strcmp(key, "homehost") == 0) {
		r = take_string(val, key, "\"nmmm\"", &c->homehost, e);
		char q[600];
		if (r == 0 && !plain_name(c->homehost))
			return nm_fail(e, NM_ERR_USAGE, EINVAL,
				       "homehost: %s cannot be used; choose 1-32 letters, digits, '-' or '_'",
				       quoted(c->homehost, q, sizeof q));
		return r;
	}
	/* Kept as given: render and install judge it with net_hostname_check, the one rule. */
	if (strcmp(key, "hostname") == 0)
		return take_string(val, key, "\"web1\"", &c->hostname, e);
	/* The same file pins what is installed; images reads those keys (img_pins_apply_config). */
	if (strcmp(key, "nixpkgs") == 0 || strcmp(key, "nix") == 0 || strcmp(key, "mirror") == 0)
		return 0;
	return nm_fail(e, NM_ERR_USAGE, EINVAL,
		       "%s: unknown field; the config knows disks, raid_level, filesystem, swap_size, esp_size, "
		       "extra_partitions, homehost, hostname, nixpkgs, nix, mirror (see docs/disk-layout.md)",
		       key);
}

int disk_config_from_json(json_object *o, const char *what, struct disk_config *c, struct nm_error *e)
{
	if (json_object_get_type(o) != json_type_object)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: the config must be a JSON object ({...}), found a %s",
			       what, type_name(o));
	json_object_object_foreach(o, key, val)
	{
		int r = take_field(key, val, c, e);
		if (r < 0) {
			nm_error_prefix(e, "%s", what);
			return r;
		}
	}
	return 0;
}
