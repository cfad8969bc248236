/* diagnose-files.c: what the installed system's own files say the boot should have done —
 * hardware-configuration.nix (the uplink's MAC, its PCI path, the gateways, in the shape
 * netcfg/render-net.c writes them), plan.json (the root filesystem's UUID, the uplink's names,
 * the arrays) and the install's state.json — read from the mounted root (or plan.json from
 * --plan FILE). It only reads, and follows no symlink out of the mounted tree. */
#include "agent/diagnose.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define HW_FILE "/etc/nixos/hardware-configuration.nix"
#define PLAN_FILE "/etc/nixos/plan.json"
#define STATE_FILE "/var/lib/nmmm/state.json"

void diag_rendered_free(struct diag_rendered *r)
{
	free(r->hw_file);
	free(r->mac);
	free(r->mac_line.text);
	free(r->pci_path);
	for (size_t i = 0; i < r->n_routes; i++)
		free(r->routes[i].text);
	free(r->plan_file);
	free(r->root_uuid);
	free(r->uplink_name);
	free(r->uplink_predicted);
	nm_strv_free(r->array_uuids);
	free(r->install_result);
	nm_strv_free(r->warnings);
	*r = (struct diag_rendered){0};
}

/* The string literal after `key` on the line ("matchConfig.MACAddress = \"52:54:...\";"). */
static char *literal_after(const char *line, size_t len, const char *key)
{
	_cleanup_free_ char *copy = strndup(line, len);
	const char *p = copy ? strstr(copy, key) : NULL;
	if (!p)
		return NULL;
	p += strlen(key);
	size_t n = strcspn(p, "\"");
	return p[n] == '"' ? strndup(p, n) : NULL;
}

static char *trimmed(const char *line, size_t len)
{
	while (len > 0 && isspace((unsigned char)*line))
		line++, len--;
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	char *s = strndup(line, len);
	if (s)
		nm_sanitize_text(s);
	return s;
}

int diag_rendered_parse_hw(const char *text, struct diag_rendered *r)
{
	unsigned no = 0;
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		no++;
		if (!r->mac && memmem(p, n, "matchConfig.MACAddress = \"", 26)) {
			r->mac = literal_after(p, n, "matchConfig.MACAddress = \"");
			for (char *c = r->mac; c && *c; c++)
				*c = (char)tolower((unsigned char)*c);
			r->mac_line = (struct diag_line){no, trimmed(p, n)};
			if (!r->mac || !r->mac_line.text)
				return -ENOMEM;
		} else if (!r->pci_path && memmem(p, n, "matchConfig.Path = \"", 20)) {
			if (!(r->pci_path = literal_after(p, n, "matchConfig.Path = \"")))
				return -ENOMEM;
		} else if (r->n_routes < NM_ELEMENTSOF(r->routes) && memmem(p, n, "Gateway = \"", 11)) {
			r->routes[r->n_routes] = (struct diag_line){no, trimmed(p, n)};
			if (!r->routes[r->n_routes++].text)
				return -ENOMEM;
		}
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void diag_rendered_from_plan(json_object *doc, struct diag_rendered *r)
{
	/* render.c's record holds the disk plan under "plan"; `plan --json` is the disk plan itself */
	json_object *plan = NULL, *uplink = NULL, *fss = NULL, *arrays = NULL;
	if (!json_object_object_get_ex(doc, "plan", &plan))
		plan = doc;
	if (json_object_object_get_ex(doc, "uplink", &uplink)) {
		r->uplink_name = dup_or_null(nm_json_str(uplink, "name"));
		r->uplink_predicted = dup_or_null(nm_json_str(uplink, "predicted_name"));
	}
	if (json_object_object_get_ex(plan, "filesystems", &fss) && json_object_is_type(fss, json_type_array))
		for (size_t i = 0; !r->root_uuid && i < json_object_array_length(fss); i++) {
			json_object *f = json_object_array_get_idx(fss, i);
			const char *mp = nm_json_str(f, "mountpoint");
			if (mp && strcmp(mp, "/") == 0)
				r->root_uuid = dup_or_null(nm_json_str(f, "uuid"));
		}
	if (json_object_object_get_ex(plan, "arrays", &arrays) && json_object_is_type(arrays, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arrays); i++) {
			const char *u = nm_json_str(json_object_array_get_idx(arrays, i), "uuid");
			if (u)
				(void)nm_strv_push(&r->array_uuids, u);
		}
}

/* A file of the installed system, read under the mount (a symlink leaving it is not followed). */
static int read_installed(const char *mount_dir, const char *rel, char **text, struct diag_rendered *r)
{
	_cleanup_free_ char *real = NULL;
	size_t len = 0;
	int k = nm_realpath(mount_dir, rel, &real);
	if (k == 0)
		k = nm_read_file(mount_dir, real, 16u << 20, text, &len);
	if (k == -ENOMEM)
		return k;
	if (k == -EXDEV)
		nm_warning_add(&r->warnings, "%s: a symlink out of the installed system; not followed", rel);
	else if (k < 0)
		nm_warning_add(&r->warnings, "%s: cannot read it in the installed system (%s)", rel, strerror(-k));
	return k;
}

static json_object *parse_json(const char *rel, const char *text, struct diag_rendered *r)
{
	json_object *o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		nm_warning_add(&r->warnings, "%s: not a JSON object; its facts are left out", rel);
		return NULL;
	}
	return o;
}

int diag_rendered_read(const char *mount_dir, json_object *plan_arg, const char *plan_arg_path, struct diag_rendered *r,
		       struct nm_error *e)
{
	*r = (struct diag_rendered){.warnings = nm_strv_new(), .array_uuids = nm_strv_new()};
	_cleanup_free_ char *hw = NULL, *plan_text = NULL, *state_text = NULL;
	int k = read_installed(mount_dir, HW_FILE, &hw, r);
	if (k == 0 && !(r->hw_file = strdup(HW_FILE)))
		k = -ENOMEM;
	if (k == 0)
		k = diag_rendered_parse_hw(hw, r);
	if (k == 0 && !r->mac)
		nm_warning_add(&r->warnings, "%s: no matchConfig.MACAddress (the uplink unit) in it", HW_FILE);
	if (k != -ENOMEM && read_installed(mount_dir, PLAN_FILE, &plan_text, r) == 0) {
		_cleanup_json_ json_object *plan = parse_json(PLAN_FILE, plan_text, r);
		if (plan) {
			diag_rendered_from_plan(plan, r);
			r->plan_file = strdup(PLAN_FILE);
		}
	}
	if (!r->plan_file && plan_arg) {
		diag_rendered_from_plan(plan_arg, r);
		r->plan_file = dup_or_null(plan_arg_path);
	}
	if (k != -ENOMEM && read_installed(mount_dir, STATE_FILE, &state_text, r) == 0) {
		_cleanup_json_ json_object *st = parse_json(STATE_FILE, state_text, r);
		r->install_result = dup_or_null(nm_json_str(st, "result"));
	}
	if (k == -ENOMEM || !r->warnings || !r->array_uuids)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory reading the installed files");
	return 0;
}
