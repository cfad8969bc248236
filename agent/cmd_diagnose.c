/* cmd_diagnose.c: `nmmm-agent diagnose` — run in the rescue after the installed system did not
 * come back: finds the installed root (by UUID, or by searching for the install's state file),
 * mounts it read-only without journal replay in a private mount namespace, reads the failed
 * boot's journal and the installed uplink, looks at the NICs and arrays as they are now, and
 * names the likely cause with its evidence. It never writes to a disk: arrays are assembled
 * read-only, the mount goes through a read-only loop device, and it is unmounted on every path
 * (a killed diagnose takes its mount namespace, and so the mount, with it). */
#include "agent/agent.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "agent/diagnose.h"

#define STATE_FILE "/var/lib/nmmm/state.json" /* what marks a root nmmm installed (search) */

static const char diagnose_help[] =
    "usage: nmmm-agent diagnose [--root-uuid UUID] [--plan FILE] [--json] [--mount-dir DIR]\n\n"
    "Run in the rescue system after a server installed by nmmm did not come back from its first\n"
    "boot (provision does this itself). Names the likely cause, with its evidence and what to do:\n"
    "  array-not-started  stage 1 did not start the root array (or find the root device)\n"
    "  no-stage2          no journal: the boot ended in stage 1 or earlier (boot loader)\n"
    "  mac-missing        no NIC here has the MAC hardware-configuration.nix matches the uplink by\n"
    "  no-carrier         the uplink NIC has no link (now, or in the failed boot)\n"
    "  no-route           systemd-networkd could not set the gateway route\n"
    "  sshd-failed        sshd did not start\n"
    "  unknown            nothing matched: the last journal lines of networkd, mdadm, sshd, systemd\n\n"
    "It never writes to a disk. md arrays are assembled read-only (mdadm --assemble --scan\n"
    "--readonly), and not at all when the rescue assembled them already. The installed root is\n"
    "mounted read-only without journal replay (ext4 noload, xfs norecovery, btrfs\n"
    "rescue=nologreplay) through a read-only loop device, in a mount namespace of its own, and\n"
    "unmounted at the end. It reads the journal of the last boot in /var/log/journal (journalctl\n"
    "--directory), /etc/nixos/hardware-configuration.nix (the uplink's MAC, PCI path, gateways),\n"
    "/etc/nixos/plan.json and /var/lib/nmmm/state.json there, and this machine's NICs (MAC,\n"
    "carrier, operstate) and arrays now.\n\n"
    "  --root-uuid UUID   the installed root filesystem's UUID (plan.json: the filesystem mounted at\n"
    "                     \"/\"); without it (and without --plan) every ext4, xfs and btrfs filesystem\n"
    "                     is searched for " STATE_FILE "\n"
    "  --plan FILE        the plan.json of the install (nmmm-agent export): the root's UUID when\n"
    "                     --root-uuid is not given, and the plan when the installed one is missing\n"
    "  --json             one JSON object on stdout (fields: docs/provision.md, \"Diagnosis\")\n"
    "  --mount-dir DIR    mount the root at DIR (an existing empty directory) instead of a fresh\n"
    "                     directory under /tmp\n\n"
    "exit status: 0 a diagnosis was made (\"unknown\" too), 1 it could not look (no root found, the\n"
    "mount failed: the message names what was searched and what to pass), 2 bad usage.\n";

struct diagnose_opts {
	const char *root_uuid;
	const char *plan_path;
	const char *mount_dir;
	bool json;
};

static int parse_options(int argc, char **argv, struct diagnose_opts *o, struct nm_error *e)
{
	static const struct option longopts[] = {
	    {"root-uuid", required_argument, NULL, 'u'},
	    {"plan", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"mount-dir", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': o->root_uuid = optarg; break;
		case 'p': o->plan_path = optarg; break;
		case 'j': o->json = true; break;
		case 'm': o->mount_dir = optarg; break;
		case 'h': fputs(diagnose_help, stdout); return AGENT_HELP_SHOWN;
		default: return agent_usage_error(e, "diagnose", "diagnose: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return agent_usage_error(e, "diagnose", "diagnose: unexpected argument '%s'", argv[optind]);
	if (o->root_uuid && !disk_uuid_valid(o->root_uuid))
		return agent_usage_error(e, "diagnose",
					 "--root-uuid %s: not a filesystem UUID (8-4-4-4-12 hex digits, as plan.json "
					 "records the root's)",
					 o->root_uuid);
	return 0;
}

/* ---- where the root is mounted ---- */

struct mount_dir {
	char *path;
	bool made; /* a fresh directory of ours: removed at the end */
};

static void mount_dir_free(struct mount_dir *d)
{
	if (d->made && d->path && rmdir(d->path) < 0)
		nm_warn("%s: cannot remove the mount directory: %s", d->path, strerror(errno));
	free(d->path);
	*d = (struct mount_dir){0};
}

static int mount_dir_make(const char *given, struct mount_dir *d, struct nm_error *e)
{
	if (!given) {
		d->path = strdup("/tmp/nmmm-diagnose-XXXXXX");
		if (!d->path || !mkdtemp(d->path))
			return nm_fail(e, NM_ERR_RUNTIME, errno ? errno : ENOMEM,
				       "cannot make a mount directory under /tmp: %s; pass --mount-dir DIR",
				       strerror(errno ? errno : ENOMEM));
		d->made = true;
		return 0;
	}
	struct stat st;
	_cleanup_strv_free_ char **entries = NULL;
	if (stat(given, &st) < 0 || !S_ISDIR(st.st_mode))
		return nm_fail(e, NM_ERR_USAGE, ENOTDIR, "--mount-dir %s: not an existing directory", given);
	if (nm_list_dir("/", given, &entries) < 0 || entries[0])
		return nm_fail(e, NM_ERR_USAGE, ENOTEMPTY,
			       "--mount-dir %s: not empty; the mount would hide what is there. Pass an empty directory",
			       given);
	d->path = strdup(given);
	return d->path ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* The mount is made in a mount namespace of this process alone (propagation private): it is
 * never seen by the rescue's other sessions, and when diagnose dies, however it dies, the kernel
 * takes the namespace, the mount and the loop device under it away. */
static int private_mount_namespace(struct nm_error *e)
{
	if (unshare(CLONE_NEWNS) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno,
			       "diagnose mounts the installed root read-only and needs root (CAP_SYS_ADMIN): "
			       "unshare(CLONE_NEWNS): %s",
			       strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "making the mount namespace private: %s", strerror(errno));
	return 0;
}

/* ---- finding the installed root ---- */

static char *probed_list(const struct disk_fs_list *l)
{
	struct nm_buf b = NM_BUF_INIT(8192);
	for (size_t i = 0; l->probed && l->probed[i]; i++) {
		if (i)
			(void)nm_buf_append(&b, "; ", 2);
		(void)nm_buf_append(&b, l->probed[i], strlen(l->probed[i]));
	}
	size_t n = 0;
	char *s = nm_buf_take(&b, &n);
	nm_buf_free(&b);
	return s;
}

static int no_root(const struct disk_fs_list *l, const char *uuid, struct nm_error *e)
{
	_cleanup_free_ char *probed = probed_list(l);
	if (uuid)
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			       "no filesystem with UUID %s on this machine (probed: %s); check the UUID (plan.json: "
			       "the filesystem mounted at \"/\"), assemble the arrays if the rescue did not "
			       "('cat /proc/mdstat'), or leave --root-uuid out to search",
			       uuid, probed && *probed ? probed : "no block devices");
	return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
		       "no ext4, xfs or btrfs filesystem on this machine holds %s (probed: %s); pass --root-uuid "
		       "UUID (plan.json: the filesystem mounted at \"/\") or --plan FILE",
		       STATE_FILE, probed && *probed ? probed : "no block devices");
}

/* Mounts the root: the one with the UUID, or the first filesystem holding the state file. */
static int mount_root(const char *root, const struct disk_fs_list *l, const char *uuid, const char *dir,
		      struct disk_ro_mount *m, const struct disk_fs_found **found, struct nm_error *e)
{
	if (uuid) {
		*found = disk_fs_list_find_uuid(l, uuid);
		return *found ? disk_mount_readonly(root, *found, dir, m, e) : no_root(l, uuid, e);
	}
	for (size_t i = 0; i < l->n; i++) {
		struct nm_error err = {0};
		if (disk_mount_readonly(root, &l->v[i], dir, m, &err) < 0) {
			nm_warn("%s", err.msg); /* not the root, maybe: the search goes on */
			disk_ro_mount_free(m);
			continue;
		}
		if (nm_exists(dir, STATE_FILE)) {
			*found = &l->v[i];
			return 0;
		}
		disk_ro_mount_free(m);
	}
	return no_root(l, NULL, e);
}

/* ---- what was read, and the answer ---- */

struct diagnosis {
	struct disk_md_status md;
	struct disk_fs_list fs;
	const struct disk_fs_found *root_fs;
	bool searched;
	struct diag_journal journal;
	struct diag_rendered rendered;
	struct net_inventory net;
	struct diag_report report;
};

static void diagnosis_free(struct diagnosis *d)
{
	disk_md_status_free(&d->md);
	disk_fs_list_free(&d->fs);
	diag_journal_free(&d->journal);
	diag_rendered_free(&d->rendered);
	net_inventory_free(&d->net);
	diag_report_free(&d->report);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *root_to_json(const struct diagnosis *d, const struct disk_ro_mount *m)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "device", json_object_new_string(d->root_fs->device));
	json_object_object_add(o, "uuid", json_object_new_string(d->root_fs->uuid));
	json_object_object_add(o, "fstype", json_object_new_string(d->root_fs->fstype));
	json_object_object_add(o, "label", str_or_null(d->root_fs->label));
	json_object_object_add(o, "found_by", json_object_new_string(d->searched ? "search" : "uuid"));
	json_object_object_add(o, "mount_dir", json_object_new_string(m->dir));
	json_object_object_add(o, "loop_device", str_or_null(m->loop));
	json_object_object_add(o, "mount_options", str_or_null(m->options));
	json_object_object_add(o, "unmounted", json_object_new_boolean(!m->mounted));
	json_object_object_add(o, "install_result", str_or_null(d->rendered.install_result));
	return o;
}

static json_object *journal_to_json(const struct diag_journal *j)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "dir", json_object_new_string(DIAG_JOURNAL_DIR));
	json_object_object_add(o, "present", json_object_new_boolean(j->present));
	json_object_object_add(o, "has_files", json_object_new_boolean(j->has_files));
	json_object_object_add(o, "boots", json_object_new_int((int)j->n_boots));
	json_object_object_add(o, "boot_id", str_or_null(j->boot_id));
	json_object_object_add(o, "entries", json_object_new_int((int)j->n_entries));
	json_object_object_add(o, "limit_reached", json_object_new_boolean(j->limit_reached));
	json_object_object_add(o, "messages", nm_json_strv(j->messages));
	json_object_object_add(o, "error", str_or_null(j->error));
	return o;
}

static json_object *rendered_to_json(const struct diag_rendered *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "hardware_configuration", str_or_null(r->hw_file));
	json_object_object_add(o, "uplink_mac", str_or_null(r->mac));
	json_object_object_add(o, "uplink_pci_path", str_or_null(r->pci_path));
	json_object_object_add(o, "plan", str_or_null(r->plan_file));
	json_object_object_add(o, "uplink_name", str_or_null(r->uplink_name));
	json_object_object_add(o, "uplink_predicted_name", str_or_null(r->uplink_predicted));
	json_object_object_add(o, "root_uuid", str_or_null(r->root_uuid));
	json_object_object_add(o, "warnings", nm_json_strv(r->warnings));
	return o;
}

static json_object *nics_to_json(const struct net_inventory *net, const char *rendered_mac)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < net->n_nics; i++) {
		const struct net_nic *n = &net->nics[i];
		json_object *o = net_nic_to_json(n);
		json_object_object_add(o, "carrier", n->carrier < 0 ? NULL : json_object_new_boolean(n->carrier == 1));
		json_object_object_add(o, "operstate", str_or_null(n->operstate));
		json_object_object_add(
		    o, "rendered_uplink",
		    json_object_new_boolean(rendered_mac && n->mac && strcasecmp(n->mac, rendered_mac) == 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void print_json(const struct diagnosis *d, const struct disk_ro_mount *m)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "root", root_to_json(d, m));
	json_object_object_add(o, "arrays", disk_md_status_to_json(&d->md));
	json_object_object_add(o, "journal", journal_to_json(&d->journal));
	json_object_object_add(o, "rendered", rendered_to_json(&d->rendered));
	json_object_object_add(o, "cause", json_object_new_string(diag_cause_name(d->report.v[0].cause)));
	json_object_object_add(o, "findings", diag_report_to_json(&d->report));
	json_object_object_add(o, "nics", nics_to_json(&d->net, d->rendered.mac));
	agent_print_json(o);
}

static void print_text(const struct diagnosis *d, const struct disk_ro_mount *m)
{
	const struct disk_fs_found *f = d->root_fs;
	printf("root: %s (%s, UUID %s), found by %s, mounted %s at %s, %s\n", f->device, f->fstype, f->uuid,
	       d->searched ? "search" : "UUID", m->options ? m->options : "ro", m->dir,
	       m->mounted ? "STILL MOUNTED" : "unmounted");
	const struct diag_journal *j = &d->journal;
	if (j->boot_id)
		printf("journal: boot %s, %zu entries read%s\n", j->boot_id, j->n_entries,
		       j->limit_reached ? " (the last ones)" : "");
	else
		printf("journal: %s\n", !j->present ? "none" : j->error ? j->error : "no boot in it");
	printf("uplink in hardware-configuration.nix: %s\n", d->rendered.mac ? d->rendered.mac : "not found");
	for (size_t i = 0; i < d->net.n_nics; i++) {
		const struct net_nic *n = &d->net.nics[i];
		printf("NIC now: %s %s carrier %s, operstate %s\n", n->name, n->mac ? n->mac : "-",
		       n->carrier == 1	     ? "on"
			   : n->carrier == 0 ? "off"
					     : "unknown",
		       n->operstate ? n->operstate : "-");
	}
	for (size_t i = 0; i < d->md.n_arrays; i++)
		printf("array now: %s %s [%u/%u]\n", d->md.arrays[i].name,
		       d->md.arrays[i].active ? "active" : "inactive", d->md.arrays[i].raid_disks,
		       d->md.arrays[i].working);
	printf("\n");
	diag_report_print(&d->report, stdout);
	for (char *const *w = d->rendered.warnings; w && *w; w++)
		nm_warn("%s", *w);
	for (char *const *w = d->md.notes; w && *w; w++)
		nm_info("arrays: %s", *w);
}

/* Everything that is read under the mounted root, and the findings. */
static int read_and_decide(const char *root, const char *dir, json_object *plan, const char *plan_path,
			   struct diagnosis *d, struct nm_error *e)
{
	int r = diag_journal_read(dir, &d->journal, e);
	if (r == 0)
		r = diag_rendered_read(dir, plan, plan_path, &d->rendered, e);
	if (r == 0)
		r = net_inventory_read(root, &d->net, e);
	if (r < 0)
		return r;
	struct diag_input in = {&d->journal, &d->rendered, &d->net, &d->md};
	return diag_report_make(&in, &d->report, e);
}

static int root_uuid_from_plan(json_object *plan, const char *path, char **uuid, struct nm_error *e)
{
	_cleanup_diag_rendered_ struct diag_rendered tmp = {0};
	diag_rendered_from_plan(plan, &tmp);
	if (!tmp.root_uuid || !disk_uuid_valid(tmp.root_uuid))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--plan %s: no filesystem mounted at \"/\" with a UUID in it; pass --root-uuid UUID",
			       path);
	*uuid = NM_TAKE_PTR(tmp.root_uuid);
	return 0;
}

int agent_cmd_diagnose(struct agent_ctx *ctx, int argc, char **argv, struct nm_error *e)
{
	struct diagnose_opts o = {0};
	int r = parse_options(argc, argv, &o, e);
	if (r != 0)
		return r == AGENT_HELP_SHOWN ? 0 : r;
	_cleanup_json_ json_object *plan = NULL;
	_cleanup_free_ char *plan_uuid = NULL;
	if (o.plan_path && (r = nm_json_read_file_text(o.plan_path, "--plan", &plan, NULL, NULL, e)) < 0)
		return r;
	if (plan && !o.root_uuid && (r = root_uuid_from_plan(plan, o.plan_path, &plan_uuid, e)) < 0)
		return r;
	const char *uuid = o.root_uuid ? o.root_uuid : plan_uuid;

	agent_event(ctx, "diagnose", "start", NULL);
	_cleanup_(diagnosis_free) struct diagnosis d = {.searched = !uuid};
	_cleanup_(mount_dir_free) struct mount_dir dir = {0};
	r = private_mount_namespace(e);
	if (r == 0)
		r = disk_md_assemble_readonly(ctx->g.root, &d.md, e);
	if (r == 0)
		r = disk_filesystems_find(ctx->g.root, &d.fs, e);
	if (r == 0)
		r = mount_dir_make(o.mount_dir, &dir, e);
	/* Declared after dir: unmounted before the directory goes, on every path. */
	_cleanup_disk_ro_mount_ struct disk_ro_mount m = {0};
	if (r == 0)
		r = mount_root(ctx->g.root, &d.fs, uuid, dir.path, &m, &d.root_fs, e);
	if (r == 0)
		r = read_and_decide(ctx->g.root, dir.path, plan, o.plan_path, &d, e);
	/* Before the answer is printed, so "unmounted" says how it ended. A mount that will not go is
	 * no reason to withhold the diagnosis: it lives in this process's namespace and goes with it. */
	struct nm_error umount_err = {0};
	if (disk_unmount_readonly(&m, &umount_err) < 0)
		nm_warn("%s; it goes when diagnose exits (the mount is in its own namespace)", umount_err.msg);
	if (r == 0) {
		if (o.json)
			print_json(&d, &m);
		else
			print_text(&d, &m);
	}
	json_object *f = json_object_new_object();
	if (r == 0)
		json_object_object_add(f, "cause", json_object_new_string(diag_cause_name(d.report.v[0].cause)));
	else
		json_object_object_add(f, "message", json_object_new_string(e->msg));
	agent_event(ctx, "diagnose", r == 0 ? "done" : "error", f);
	return r;
}
