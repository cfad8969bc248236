/* lvm.c: which LVM volume groups reach the planned disks, from `pvs` (read-only, --readonly takes
 * no lock and writes no metadata). Teardown deactivates a whole volume group at once and the wipe
 * erases its PV labels, so a group with one PV on a planned disk and another PV elsewhere would
 * lose the other disk's volumes: that is refused here, before anything is changed. Never writes. */
#include "disk/ops-internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

void lvm_pvs_free(struct lvm_pvs *pvs)
{
	for (size_t i = 0; i < pvs->n; i++) {
		free(pvs->v[i].pv_name);
		free(pvs->v[i].vg_name);
		free(pvs->v[i].vg_uuid);
	}
	free(pvs->v);
	*pvs = (struct lvm_pvs){0};
}

static int add_pv(struct lvm_pvs *pvs, json_object *o)
{
	const char *pv = nm_json_str(o, "pv_name"), *vg = nm_json_str(o, "vg_name"), *uuid = nm_json_str(o, "vg_uuid");
	if (!pv)
		return 0;
	struct lvm_pv *nv = realloc(pvs->v, (pvs->n + 1) * sizeof *nv);
	if (!nv)
		return -ENOMEM;
	pvs->v = nv;
	struct lvm_pv *p = &pvs->v[pvs->n++];
	*p = (struct lvm_pv){strdup(pv), strdup(vg ? vg : ""), strdup(uuid ? uuid : "")};
	return p->pv_name && p->vg_name && p->vg_uuid ? 0 : -ENOMEM;
}

/* {"report": [{"pv": [{"pv_name": ..., "vg_name": ..., "vg_uuid": ...}, ...]}, ...]} */
static int add_report(struct lvm_pvs *pvs, json_object *doc)
{
	json_object *reports = NULL;
	if (!json_object_object_get_ex(doc, "report", &reports) || !json_object_is_type(reports, json_type_array))
		return -EINVAL;
	for (size_t i = 0; i < json_object_array_length(reports); i++) {
		json_object *list = NULL;
		if (!json_object_object_get_ex(json_object_array_get_idx(reports, i), "pv", &list) ||
		    !json_object_is_type(list, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(list); j++) {
			int r = add_pv(pvs, json_object_array_get_idx(list, j));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int lvm_pvs_parse(const char *output, struct lvm_pvs *pvs, struct nm_error *e)
{
	*pvs = (struct lvm_pvs){0};
	/* Warnings ("/dev/mapper/control: open failed", "WARNING: ...") come before the report;
	 * the report is the first object that has a "report" array. */
	for (const char *p = strchr(output, '{'); p; p = strchr(p + 1, '{')) {
		json_tokener *tok = json_tokener_new();
		if (!tok)
			return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		json_object *doc = json_tokener_parse_ex(tok, p, (int)strlen(p));
		json_tokener_free(tok);
		if (!doc)
			continue;
		int r = add_report(pvs, doc);
		json_object_put(doc);
		if (r == -EINVAL)
			continue;
		if (r < 0) {
			lvm_pvs_free(pvs);
			return nm_fail(e, NM_ERR_RUNTIME, -r, "out of memory");
		}
		return 0;
	}
	return nm_fail(e, NM_ERR_RUNTIME, EINVAL,
		       "pvs printed no JSON report; cannot tell which disks the LVM volume groups span. Check "
		       "'pvs --reportformat json' by hand");
}

/* The stack device a PV path names: /dev/sdb1, /dev/md/name or /dev/mapper/x resolved to the
 * kernel name (their links point at it), else the path's last component. */
static const struct stack_dev *stack_dev_of_pv(const char *root, const struct disk_stack *st, const char *pv_name)
{
	_cleanup_free_ char *real = NULL;
	const char *path = nm_realpath(root, pv_name, &real) == 0 ? real : pv_name;
	const char *base = strrchr(path, '/');
	return stack_find(st, base ? base + 1 : path);
}

int lvm_check_groups_in_plan(const char *root, const struct disk_stack *st, const struct lvm_pvs *pvs,
			     struct nm_error *e)
{
	for (size_t i = 0; i < pvs->n; i++) {
		const struct lvm_pv *in = &pvs->v[i];
		const struct stack_dev *d = in->vg_name[0] ? stack_dev_of_pv(root, st, in->pv_name) : NULL;
		if (!d)
			continue;
		for (size_t j = 0; j < pvs->n; j++) {
			const struct lvm_pv *out = &pvs->v[j];
			/* "[unknown]": a PV whose disk is gone already; nothing of it can be harmed. */
			if (strcmp(out->vg_uuid, in->vg_uuid) != 0 || strcmp(out->vg_name, in->vg_name) != 0 ||
			    out->pv_name[0] != '/' || stack_dev_of_pv(root, st, out->pv_name))
				continue;
			return nm_fail(
			    e, NM_ERR_REFUSED, EXDEV,
			    "%s: LVM volume group %s has physical volume %s on it and also %s, which is not "
			    "on a disk in the plan; tearing the group down would take the volumes on %s with "
			    "it. Add that disk to --disks, or move its data off and split the group "
			    "(pvmove/vgsplit), or remove the group by hand (vgremove %s), then run again",
			    d->disk, in->vg_name, in->pv_name, out->pv_name, out->pv_name, in->vg_name);
		}
	}
	return 0;
}

/* An LVM device-mapper device on the planned disks: then LVM is in use and pvs must answer. */
static bool stack_has_lvm(const char *root, const struct disk_stack *st)
{
	for (size_t i = 0; i < st->n; i++) {
		if (st->devs[i].kind != STACK_DM)
			continue;
		char rel[128];
		snprintf(rel, sizeof rel, "/sys/block/%s/dm/uuid", st->devs[i].name);
		_cleanup_free_ char *uuid = NULL;
		if (nm_read_line(root, rel, &uuid) == 0 && strncmp(uuid, "LVM-", 4) == 0)
			return true;
	}
	return false;
}

/* The last line of what pvs printed, for a message. */
static const char *last_line(const struct nm_run_result *res, char *buf, size_t size)
{
	return nm_last_line(res->output, res->output_len, buf, size)[0] ? buf : "(no output)";
}

#define PVS_ATTEMPTS 3 /* a device vanishing mid-scan (a loop detached, a disk unplugged) spoils one run */

/* Runs pvs until it prints a report. -ENOENT (nothing in *e) when pvs is not installed. */
static int read_pvs(struct lvm_pvs *pvs, struct nm_error *e)
{
	const char *argv[] = {"pvs", "--readonly", "--reportformat", "json", "-o", "pv_name,vg_name,vg_uuid", NULL};
	char *const env[] = {"LVM_SUPPRESS_FD_WARNINGS=1", NULL};
	struct nm_run_opts ro = {.timeout_sec = 60, .extra_env = env, .allow_failure = true};
	int r = 0;
	for (int attempt = 1; attempt <= PVS_ATTEMPTS; attempt++) {
		struct nm_run_result res = {0};
		struct nm_error run_err = {0};
		r = nm_run(argv, &ro, &res, &run_err);
		if (r == -ENOENT) {
			nm_run_result_free(&res);
			return r;
		}
		if (r < 0) {
			nm_run_result_free(&res);
			*e = run_err;
			nm_error_prefix(e, "listing LVM physical volumes");
			return r;
		}
		struct nm_error parse_err = {0};
		r = lvm_pvs_parse(res.output ? res.output : "", pvs, &parse_err);
		if (r < 0) {
			char tail[320];
			nm_fail(
			    e, NM_ERR_RUNTIME, -r,
			    "pvs --readonly --reportformat json (exit status %d) printed no report, last: %s; cannot "
			    "tell which disks the LVM volume groups span. Check 'pvs' by hand and run again",
			    res.exit_status, last_line(&res, tail, sizeof tail));
			nm_debug("%s (attempt %d of %d)", e->msg, attempt, PVS_ATTEMPTS);
		}
		nm_run_result_free(&res);
		if (r == 0)
			return 0;
		struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	return r;
}

int lvm_check_plan(const char *root, const struct disk_stack *st, struct nm_error *e)
{
	if (strcmp(root, "/") != 0) {
		nm_debug("--root %s: LVM volume groups are not listed (pvs sees this machine's devices only)", root);
		return 0;
	}
	struct lvm_pvs pvs;
	int r = read_pvs(&pvs, e);
	if (r == -ENOENT && !stack_has_lvm(root, st)) {
		nm_info("pvs is not installed and no LVM volume is active on the planned disks: no volume group "
			"to check");
		return 0;
	}
	if (r == -ENOENT)
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			       "pvs: not found, but LVM volumes are active on the planned disks; install lvm2 so the "
			       "volume groups they belong to can be checked, then run again");
	if (r < 0)
		return r;
	r = lvm_check_groups_in_plan(root, st, &pvs, e);
	lvm_pvs_free(&pvs);
	return r;
}
