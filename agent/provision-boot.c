/* provision-boot.c: the end of provision — the hand-over into the deploy repository (the
 * exported files, the new host keys in known_hosts, the host's age recipient, the first deploy
 * command), the reboot, the installed system checked over SSH pinned to its NEW host key (never
 * trusted on first use), and the diagnosis through the rescue when it does not come back. */
#include "agent/provision.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT_FILE_MAX (16u << 20) /* a generated file is a few KiB */

/* ---- hand-over ---- */

static const char *out_dir(const struct provision_run *run, char **owned)
{
	if (run->o->out_dir)
		return run->o->out_dir;
	*owned = nm_strdup_printf("hosts/%s", run->o->hostname ? run->o->hostname : run->target.host);
	return *owned;
}

/* A name export may write: one plain file name, nothing that climbs or hides. */
static bool plain_name(const char *name)
{
	return name && *name && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

/* The export's tar into DIR: regular files with plain names only, each written atomically. */
static int unpack_export(const char *tar_path, const char *dir, unsigned *count, struct nm_error *e)
{
	struct archive *a = archive_read_new();
	if (!a)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	int r = 0;
	if (archive_read_open_filename(a, tar_path, 65536) != ARCHIVE_OK)
		r = nm_fail(
		    e, NM_ERR_RUNTIME, EIO,
		    "handover: the export is not a tar (%s); run 'nmmm-agent export' on the server to see what it says",
		    archive_error_string(a));
	struct archive_entry *ent;
	while (r == 0 && archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);
		if (name && strncmp(name, "./", 2) == 0)
			name += 2;
		la_int64_t size = archive_entry_size(ent);
		if (archive_entry_filetype(ent) != AE_IFREG || !plain_name(name) || size < 0 ||
		    (uint64_t)size > EXPORT_FILE_MAX) {
			r = nm_fail(e, NM_ERR_VERIFY, EINVAL,
				    "handover: the export holds '%s', which is not a plain file of the deploy "
				    "repository; nothing more was written",
				    name ? name : "?");
			break;
		}
		_cleanup_free_ char *data = malloc((size_t)size + 1);
		if (!data)
			return archive_read_free(a), nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		if (archive_read_data(a, data, (size_t)size) != size) {
			r = nm_fail(e, NM_ERR_RUNTIME, EIO,
				    "handover: the export's %s is cut short; run provision again with --resume (the "
				    "installed system is kept)",
				    name);
			break;
		}
		_cleanup_free_ char *path = nm_strdup_printf("%s/%s", dir, name);
		r = path ? nm_write_file_atomic(path, data, (size_t)size, 0644, e)
			 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		if (r == 0)
			(*count)++;
	}
	archive_read_free(a);
	return r;
}

static int download_export(struct provision_run *run, const char *tar_path, struct nm_error *e)
{
	_cleanup_strv_free_ char **argv = nm_strv_new();
	if (!argv || nm_strv_push(&argv, run->remote_agent) < 0 || nm_strv_push(&argv, "export") < 0 ||
	    (run->o->state_dir &&
	     (nm_strv_push(&argv, "--state-dir") < 0 || nm_strv_push(&argv, run->o->state_dir) < 0)))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct remote_run_opts ro = {.timeout_sec = 300, .stdout_path = tar_path};
	return remote_run(run->session, (const char *const *)argv, &ro, NULL, e);
}

/* From report.json: the host keys made for the new system, its toplevel and host name. */
static int read_report(struct provision_run *run, const char *dir, struct nm_error *e)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/report.json", dir);
	_cleanup_json_ json_object *rep = NULL;
	int r = path ? nm_json_read_file_text(path, "the install's report", &rep, NULL, NULL, e)
		     : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r < 0)
		return r;
	json_object *keys = NULL;
	size_t n = json_object_object_get_ex(rep, "ssh_host_keys", &keys) && json_object_is_type(keys, json_type_array)
	    ? json_object_array_length(keys)
	    : 0;
	run->host_keys = calloc(n ? n : 1, sizeof *run->host_keys);
	if (!run->host_keys)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *line = nm_json_str(json_object_array_get_idx(keys, i), "public_key");
		struct nm_error why = {0}; /* the message below says what it means here */
		if (!line || remote_host_key_parse(line, &run->host_keys[run->n_host_keys], &why) < 0)
			return nm_fail(
			    e, NM_ERR_VERIFY, EINVAL,
			    "handover: %s lists a host key that cannot be read, so the new system's SSH "
			    "could not be verified; compare it with /etc/ssh on the installed root before you trust it",
			    path);
		run->n_host_keys++;
	}
	if (run->n_host_keys == 0)
		return nm_fail(e, NM_ERR_VERIFY, ENOENT,
			       "handover: %s lists no host key, so the new system's SSH could not be verified; "
			       "run provision again with --resume (the hand-over makes the keys)",
			       path);
	const char *sys = nm_json_str(rep, "system"), *host = nm_json_str(rep, "hostname");
	run->system = sys ? strdup(sys) : NULL;
	run->hostname = host ? strdup(host) : NULL;
	return 0;
}

/* Root's filesystem UUID from plan.json: what the diagnosis mounts. */
static void read_root_uuid(struct provision_run *run, const char *dir)
{
	_cleanup_free_ char *path = nm_strdup_printf("%s/plan.json", dir);
	_cleanup_json_ json_object *plan = NULL;
	struct nm_error ignored = {0};
	if (!path || nm_json_read_file_text(path, "plan", &plan, NULL, NULL, &ignored) < 0)
		return;
	json_object *inner = NULL, *fss = NULL;
	/* render's plan.json holds the plan under "plan", beside the facts it was made from */
	json_object *p = json_object_object_get_ex(plan, "plan", &inner) ? inner : plan;
	if (!json_object_object_get_ex(p, "filesystems", &fss) || !json_object_is_type(fss, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(fss); i++) {
		json_object *fs = json_object_array_get_idx(fss, i);
		const char *mp = nm_json_str(fs, "mountpoint"), *uuid = nm_json_str(fs, "uuid");
		if (mp && uuid && strcmp(mp, "/") == 0 && !run->root_uuid)
			run->root_uuid = strdup(uuid);
	}
}

static const char *known_hosts_path(const struct provision_run *run, const char *dir, char **owned)
{
	if (run->o->known_hosts)
		return run->o->known_hosts;
	*owned = nm_strdup_printf("%s/known_hosts", dir);
	return *owned;
}

/* nixos-rebuild's --target-host is user@host for ssh (no port, no brackets); a port goes into
 * NIX_SSHOPTS with the known_hosts file that pins the new keys. */
static void print_handover(const struct provision_run *run, const char *dir, const char *known_hosts, const char *age)
{
	const char *host = run->hostname ? run->hostname : "HOST";
	char port[32] = "";
	if (run->target.port)
		snprintf(port, sizeof port, " -p %u", run->target.port);
	const char *here = dir[0] == '/' ? "" : "$PWD/";
	printf("\nThe deploy repository for %s is in %s/ (new host keys in %s).\n", run->display, dir, known_hosts);
	if (age)
		printf("Age recipient of the host (agenix, sops-nix): %s\n", age);
	printf("First deploy, after the reboot (NIX_SSHOPTS pins the new host keys; or add them to your\n"
	       "known_hosts):\n"
	       "  export NIX_SSHOPTS='-o UserKnownHostsFile=%s%s%s'\n"
	       "  nixos-rebuild switch --flake %s#%s --target-host %s@%s\n"
	       "without flakes:\n"
	       "  NIXOS_CONFIG=%s%s/configuration.nix nixos-rebuild switch --target-host %s@%s \\\n"
	       "    -I nixpkgs=$(nix-instantiate --eval %s/nixpkgs.nix | tr -d '\"')\n",
	       known_hosts[0] == '/' ? "" : "$PWD/", known_hosts, port, dir, host, run->target.user, run->target.host,
	       here, dir, run->target.user, run->target.host, dir);
	fflush(stdout);
}

int provision_handover(struct provision_run *run, struct nm_error *e)
{
	provision_step(run, "handover", "the exported files, the new host keys");
	_cleanup_free_ char *dir_owned = NULL, *kh_owned = NULL, *tar = NULL, *age = NULL;
	const char *dir = out_dir(run, &dir_owned);
	if (!dir)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = nm_mkdir_p(dir, e);
	if (r < 0) { /* the operator's directory: a usage error, named by its option */
		nm_error_prefix(e, "--out %s", dir);
		e->cls = NM_ERR_USAGE;
	}
	tar = nm_strdup_printf("%s/.export.tar.part", dir);
	if (r == 0 && !tar)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	unsigned files = 0;
	if (r == 0)
		r = download_export(run, tar, e);
	if (r == 0)
		r = unpack_export(tar, dir, &files, e);
	if (tar)
		unlink(tar);
	if (r == 0)
		r = read_report(run, dir, e);
	if (r < 0)
		return r;
	read_root_uuid(run, dir);
	const char *kh = known_hosts_path(run, dir, &kh_owned);
	r = kh ? remote_known_hosts_write(kh, &run->target, run->host_keys, run->n_host_keys, e)
	       : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (r < 0)
		return r;
	for (size_t i = 0; i < run->n_host_keys && !age; i++) {
		struct nm_error ignored = {0};
		if (strcmp(run->host_keys[i].type, "ssh-ed25519") == 0)
			remote_age_recipient(&run->host_keys[i], &age, &ignored);
	}
	print_handover(run, dir, kh, age);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "out", json_object_new_string(dir));
	json_object_object_add(f, "files", json_object_new_int((int)files));
	json_object_object_add(f, "known_hosts", json_object_new_string(kh));
	json_object *fps = json_object_new_array();
	for (size_t i = 0; i < run->n_host_keys; i++)
		json_object_array_add(fps, json_object_new_string(run->host_keys[i].sha256));
	json_object_object_add(f, "host_keys", fps);
	if (age)
		json_object_object_add(f, "age_recipient", json_object_new_string(age));
	if (run->system)
		json_object_object_add(f, "system", json_object_new_string(run->system));
	provision_event(run, "handover", "done", f);
	return 0;
}

/* ---- reboot and verify ---- */

int provision_reboot(struct provision_run *run, struct nm_error *e)
{
	provision_step(run, "reboot", "into the installed system");
	const char *argv[] = {"reboot", NULL};
	struct remote_run_opts ro = {.timeout_sec = 60, .allow_failure = true};
	_cleanup_run_result_ struct nm_run_result res = {0};
	int r = remote_run(run->session, argv, &ro, &res, e);
	/* The connection may drop under the command (255): that is the reboot. */
	if (r == 0 && res.exit_status != 0 && res.exit_status != 255)
		r = nm_fail(e, NM_ERR_RUNTIME, EIO,
			    "reboot on %s exited with %d: %s; reboot it yourself (Robot → Server → Reset); the "
			    "hand-over's known_hosts holds its new host keys",
			    run->display, res.exit_status, res.output ? res.output : "");
	remote_session_close(run->session);
	run->session = NULL;
	if (r == 0)
		provision_event(run, "reboot", "done", NULL);
	return r;
}

enum answer { ANSWER_NEW_SYSTEM, ANSWER_RESCUE, ANSWER_STRANGER };

/* A failed scan is an answer too (going down, coming up): ask again. */
static enum answer who_answers(struct provision_run *run)
{
	struct remote_host_key *scanned = NULL;
	size_t n = 0;
	struct nm_error ignored = {0};
	if (remote_keyscan(&run->target, 30, &scanned, &n, &ignored) < 0 || n == 0) {
		remote_host_keys_free(scanned, n);
		return ANSWER_RESCUE;
	}
	_cleanup_strv_free_ char **want = nm_strv_new();
	for (size_t i = 0; want && i < run->n_host_keys; i++)
		nm_strv_push(&want, run->host_keys[i].sha256);
	enum answer a = ANSWER_STRANGER;
	if (want && remote_host_key_match(scanned, n, want) >= 0)
		a = ANSWER_NEW_SYSTEM;
	else {
		_cleanup_strv_free_ char **old = nm_strv_new();
		for (size_t i = 0; old && i < run->n_rescue_keys; i++)
			nm_strv_push(&old, run->rescue_keys[i].sha256);
		if (old && remote_host_key_match(scanned, n, old) >= 0)
			a = ANSWER_RESCUE;
	}
	remote_host_keys_free(scanned, n);
	return a;
}

/* Until the host answers with the installed system's key: the rescue's key means the reboot has
 * not happened yet; any other key is a refusal (someone else answers at that address). */
static int wait_new_system(struct provision_run *run, struct nm_error *e)
{
	long deadline = provision_now_sec() + (long)run->o->boot_timeout;
	for (;;) {
		long left = deadline - provision_now_sec();
		if (left <= 0)
			break;
		int r = provision_wait_ssh(run, "verify", "the installed system", (unsigned)left, e);
		if (r == -ETIMEDOUT) {
			*e = (struct nm_error){0}; /* said better below */
			break;
		}
		if (r < 0)
			return r;
		switch (who_answers(run)) {
		case ANSWER_NEW_SYSTEM: return 0;
		case ANSWER_STRANGER:
			return nm_fail(e, NM_ERR_REFUSED, EPERM,
				       "verify: %s answers with a host key that is neither the installed system's "
				       "(report.json) nor the rescue's; nothing was sent. Find out who answers "
				       "there before you deploy",
				       run->display);
		case ANSWER_RESCUE: sleep(3); break;
		}
	}
	return nm_fail(e, NM_ERR_RUNTIME, ETIMEDOUT,
		       "%s did not come back as the installed system within %u s (--boot-timeout)", run->display,
		       run->o->boot_timeout);
}

static char *trimmed(const char *s)
{
	if (!s)
		return strdup("");
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	return strndup(s, n);
}

static int remote_output(struct provision_run *run, const char *const argv[], unsigned timeout, int *status, char **out,
			 struct nm_error *e)
{
	struct remote_run_opts ro = {.timeout_sec = timeout, .allow_failure = true};
	_cleanup_run_result_ struct nm_run_result res = {0};
	int r = remote_run(run->session, argv, &ro, &res, e);
	if (r < 0)
		return r;
	*status = res.exit_status;
	*out = trimmed(res.output);
	return *out ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* It runs the system that was installed, and systemd says it is up. */
static int smoke_check(struct provision_run *run, struct nm_error *e)
{
	int status = 0;
	_cleanup_free_ char *current = NULL, *state = NULL, *failed = NULL;
	const char *readlink_argv[] = {"readlink", "/run/current-system", NULL};
	int r = remote_output(run, readlink_argv, 60, &status, &current, e);
	if (r == 0 && run->system && (status != 0 || strcmp(current, run->system) != 0))
		return nm_fail(e, NM_ERR_RUNTIME, EIO,
			       "verify: %s runs %s, not the installed system %s: it booted something else (an "
			       "older generation, another disk?)",
			       run->display, status == 0 ? current : "no /run/current-system", run->system);
	const char *running_argv[] = {"systemctl", "is-system-running", "--wait", NULL};
	if (r == 0)
		r = remote_output(run, running_argv, 600, &status, &state, e);
	if (r < 0)
		return r;
	if (strcmp(state, "running") == 0) {
		nm_info("verify: %s runs %s; systemd says running", run->display, current);
		return 0;
	}
	const char *failed_argv[] = {"systemctl", "--failed", "--no-legend", "--plain", NULL};
	struct nm_error ignored = {0}; /* the list only adds to the message below */
	if (remote_output(run, failed_argv, 60, &status, &failed, &ignored) < 0)
		failed = NULL;
	return nm_fail(e, NM_ERR_RUNTIME, EIO,
		       "verify: %s booted the installed system, but systemd says '%s'%s%s; look with: ssh %s "
		       "systemctl --failed",
		       run->display, state, failed && *failed ? "; failed units: " : "", failed ? failed : "",
		       run->display);
}

int provision_verify(struct provision_run *run, struct nm_error *e)
{
	provision_step(run, "verify", "the installed system, pinned to its new host key");
	int r = wait_new_system(run, e);
	if (r < 0)
		return r;
	struct remote_session_opts so = {
	    .ssh_config = run->o->ssh_config, .identity = run->o->identity, .ssh_options = run->o->ssh_options};
	r = remote_session_open(&run->target, run->host_keys, run->n_host_keys, &so, &run->session, e);
	if (r == 0)
		r = smoke_check(run, e);
	if (r == 0) {
		json_object *f = json_object_new_object();
		if (run->system)
			json_object_object_add(f, "system", json_object_new_string(run->system));
		provision_event(run, "verify", "done", f);
		printf("\nNixOS is up on %s.\n", run->display);
	}
	return r;
}

/* ---- diagnosis ---- */

static void print_manual_diagnosis(const struct provision_run *run)
{
	const struct remote_target *t = &run->target;
	bool v6 = strchr(t->host, ':') != NULL;
	char sp[32] = "", cp[32] = "";
	if (t->port) {
		snprintf(sp, sizeof sp, "-p %u ", t->port);
		snprintf(cp, sizeof cp, "-P %u ", t->port);
	}
	fprintf(stderr,
		"\nTo see why, without Robot access from here:\n"
		"  1. Robot → Server → Rescue: activate the Linux rescue system with your key\n"
		"  2. Robot → Server → Reset: execute a hardware reset\n"
		"  3. scp %snmmm-agent %s@%s%s%s:/root/\n"
		"     ssh %s%s@%s /root/nmmm-agent diagnose%s%s\n"
		"     (it mounts the installed root read-only and reads the failed boot's journal)\n"
		"or run provision with --robot-server N, which does this itself.\n",
		cp, t->user, v6 ? "[" : "", t->host, v6 ? "]" : "", sp, t->user, t->host,
		run->root_uuid ? " --root-uuid " : "", run->root_uuid ? run->root_uuid : "");
}

static void print_findings(json_object *diag)
{
	json_object *findings = NULL;
	if (!json_object_object_get_ex(diag, "findings", &findings) || !json_object_is_type(findings, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(findings); i++) {
		json_object *f = json_object_array_get_idx(findings, i), *ev = NULL;
		fprintf(stderr, "\n%s: %s\n", nm_json_str(f, "cause") ? nm_json_str(f, "cause") : "?",
			nm_json_str(f, "summary") ? nm_json_str(f, "summary") : "");
		if (nm_json_str(f, "fix"))
			fprintf(stderr, "  what to do: %s\n", nm_json_str(f, "fix"));
		if (json_object_object_get_ex(f, "evidence", &ev) && json_object_is_type(ev, json_type_array))
			for (size_t j = 0; j < json_object_array_length(ev) && j < 12; j++) {
				json_object *item = json_object_array_get_idx(ev, j);
				const char *src = nm_json_str(item, "source"), *unit = nm_json_str(item, "unit"),
					   *path = nm_json_str(item, "path"), *text = nm_json_str(item, "text");
				fprintf(stderr, "  | %s%s%s: %s\n", src ? src : "?", unit || path ? " " : "",
					unit	   ? unit
					    : path ? path
						   : "",
					text ? text : "");
			}
	}
}

static int run_remote_diagnose(struct provision_run *run, json_object **diag, struct nm_error *e)
{
	char tmpl[] = "/tmp/nmmm-diagnose-XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return nm_fail(e, NM_ERR_RUNTIME, errno, "diagnose: cannot make a temporary file: %s", strerror(errno));
	close(fd);
	_cleanup_strv_free_ char **argv = nm_strv_new();
	int r = argv && nm_strv_push(&argv, run->remote_agent) == 0 && nm_strv_push(&argv, "diagnose") == 0 &&
		nm_strv_push(&argv, "--json") == 0 &&
		(!run->root_uuid ||
		 (nm_strv_push(&argv, "--root-uuid") == 0 && nm_strv_push(&argv, run->root_uuid) == 0))
	    ? 0
	    : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	struct remote_run_opts ro = {.timeout_sec = 600, .allow_failure = true, .stdout_path = tmpl};
	_cleanup_run_result_ struct nm_run_result res = {0};
	if (r == 0)
		r = remote_run(run->session, (const char *const *)argv, &ro, &res, e);
	if (r == 0 && res.exit_status != 0) { /* it could not look: its own message says why */
		size_t len = 0;
		const char *msg = provision_remote_error_line(res.output, &len);
		r = msg ? nm_fail(e, NM_ERR_RUNTIME, EIO, "diagnose on %s exited with %d: %.*s", run->display,
				  res.exit_status, (int)len, msg)
			: nm_fail(e, NM_ERR_RUNTIME, EIO, "diagnose on %s exited with %d without a message",
				  run->display, res.exit_status);
	}
	if (r == 0)
		r = nm_json_read_file_text(tmpl, "the diagnosis", diag, NULL, NULL, e);
	unlink(tmpl);
	return r;
}

static const char *first_cause(json_object *diag, const char **summary, const char **fix)
{
	json_object *findings = NULL;
	*summary = *fix = NULL;
	if (!json_object_object_get_ex(diag, "findings", &findings) ||
	    !json_object_is_type(findings, json_type_array) || json_object_array_length(findings) == 0)
		return NULL;
	json_object *f = json_object_array_get_idx(findings, 0);
	*summary = nm_json_str(f, "summary");
	*fix = nm_json_str(f, "fix");
	return nm_json_str(f, "cause");
}

int provision_diagnose(struct provision_run *run, const struct nm_error *why, struct nm_error *e)
{
	if (!run->robot) {
		print_manual_diagnosis(run);
		return nm_fail(e, NM_ERR_RUNTIME, ETIMEDOUT, "%s; see above for how to find out why", why->msg);
	}
	provision_step(run, "diagnose", "back into the rescue, the failed boot read");
	int r = provision_robot_rescue_again(run, e);
	if (r == 0)
		r = provision_rescue_connect(run, e);
	if (r == 0)
		r = provision_upload_agent(run, e);
	_cleanup_json_ json_object *diag = NULL;
	if (r == 0)
		r = run_remote_diagnose(run, &diag, e);
	if (r < 0) {
		struct nm_error inner = *e;
		*e = (struct nm_error){0};
		return nm_fail(e, inner.cls, -r, "%s, and the diagnosis failed: %s", why->msg, inner.msg);
	}
	print_findings(diag);
	const char *summary = NULL, *fix = NULL, *cause = first_cause(diag, &summary, &fix);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "diagnosis", json_object_get(diag));
	provision_event(run, "diagnose", "done", f);
	return nm_fail(e, NM_ERR_RUNTIME, EHOSTUNREACH,
		       "%s: %s%s%s%s%s. The server is left in the rescue system (ssh %s)", why->msg,
		       cause ? cause : "no cause found", summary ? " — " : "", summary ? summary : "", fix ? "; " : "",
		       fix ? fix : "", run->display);
}

void provision_run_free(struct provision_run *run)
{
	if (run->session)
		remote_session_close(run->session);
	robot_client_free(run->robot);
	remote_target_free(&run->target);
	free(run->display);
	nm_strv_free(run->operator_keys);
	nm_strv_free(run->rescue_fingerprints);
	remote_host_keys_free(run->rescue_keys, run->n_rescue_keys);
	remote_host_keys_free(run->host_keys, run->n_host_keys);
	free(run->remote_agent);
	free(run->system);
	free(run->root_uuid);
	free(run->hostname);
}
