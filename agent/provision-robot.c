/* provision-robot.c: the operator's public keys, and the Robot step of provision — the server
 * checked, the keys registered with Robot when missing, the rescue activated with them, the
 * server reset, and the rescue's host key fingerprints kept to verify its SSH. Robot's rescue
 * password is never printed, logged or kept: the keys are the way in. */
#include "agent/provision.h"

#include "images/images.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the operator's keys ---- */

static int push_key_line(char ***keys, const char *line, const char *source, struct nm_error *e)
{
	const char *p = line + strspn(line, " \t");
	if (!*p || *p == '#' || nm_strv_contains(*keys, p))
		return 0;
	struct nm_error why = {0};
	if (agent_ssh_key_check(p, &why) < 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: %s", source, why.msg);
	return nm_strv_push(keys, p) < 0 ? nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory") : 0;
}

static int push_key_text(char ***keys, char *text, const char *source, struct nm_error *e)
{
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		int r = push_key_line(keys, line, source, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static int keys_from_options(struct provision_run *run, struct nm_error *e)
{
	const struct provision_opts *o = run->o;
	for (size_t i = 0; o->install_args && o->install_args[i]; i++)
		if (strcmp(o->install_args[i], "--ssh-key") == 0 && o->install_args[i + 1]) {
			int r = push_key_line(&run->operator_keys, o->install_args[++i], "--ssh-key", e);
			if (r < 0)
				return r;
		}
	for (size_t i = 0; i < o->n_files; i++) {
		if (strcmp(o->files[i].option, "ssh-key-file") != 0)
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		int r = nm_read_file("/", o->files[i].local, 1 << 20, &text, &len);
		if (r < 0)
			return nm_fail(e, NM_ERR_USAGE, -r, "--ssh-key-file %s: cannot read it: %s", o->files[i].local,
				       strerror(-r));
		_cleanup_free_ char *source = nm_strdup_printf("--ssh-key-file %s", o->files[i].local);
		r = push_key_text(&run->operator_keys, text, source ? source : "--ssh-key-file", e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The agent's keys (exit 1: none in it, 2: no agent), else the usual public key files. */
static int keys_from_agent_or_home(struct provision_run *run, struct nm_error *e)
{
	const char *sock = getenv("SSH_AUTH_SOCK");
	if (sock && *sock) {
		_cleanup_free_ char *env_sock = nm_strdup_printf("SSH_AUTH_SOCK=%s", sock);
		char *env[] = {env_sock, NULL};
		const char *argv[] = {"ssh-add", "-L", NULL};
		struct nm_run_opts ro = {.timeout_sec = 30, .extra_env = env, .allow_failure = true};
		_cleanup_run_result_ struct nm_run_result res = {0};
		struct nm_error ignored = {0};
		if (env_sock && nm_run(argv, &ro, &res, &ignored) == 0 && res.exit_status == 0) {
			int r = push_key_text(&run->operator_keys, res.output, "ssh-add -L", e);
			if (r < 0 || run->operator_keys[0])
				return r;
		}
	}
	const char *home = getenv("HOME");
	static const char *const names[] = {"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"};
	for (size_t i = 0; home && i < NM_ELEMENTSOF(names); i++) {
		_cleanup_free_ char *path = nm_strdup_printf("%s/.ssh/%s", home, names[i]);
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (path && nm_read_file("/", path, 1 << 20, &text, &len) == 0) {
			int r = push_key_text(&run->operator_keys, text, path, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int provision_operator_keys(struct provision_run *run, struct nm_error *e)
{
	run->operator_keys = nm_strv_new();
	if (!run->operator_keys)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = keys_from_options(run, e);
	if (r == 0 && !run->operator_keys[0])
		r = keys_from_agent_or_home(run, e);
	if (r == 0 && !run->operator_keys[0] && run->o->robot_server)
		r = nm_fail(e, NM_ERR_USAGE, ENOENT,
			    "no SSH public key to give the rescue system: pass --ssh-key 'ssh-ed25519 ...' or "
			    "--ssh-key-file FILE, or load a key into your ssh-agent");
	return r;
}

/* ---- the target ---- */

static int set_target(struct provision_run *run, const char *spec, struct nm_error *e)
{
	remote_target_free(&run->target);
	int r = remote_target_parse(spec, &run->target, e);
	if (r < 0)
		return r;
	free(run->display);
	run->display = remote_target_display(&run->target);
	return run->display ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* root@ADDRESS for the address Robot gives (an IPv6 address in brackets). */
static int target_from_server(struct provision_run *run, const struct robot_server *s, struct nm_error *e)
{
	_cleanup_free_ char *addr = robot_server_rescue_address(s);
	if (!addr)
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			       "Robot gives server %d neither an IPv4 address nor an IPv6 net; name it as root@HOST",
			       s->number);
	_cleanup_free_ char *spec =
	    strchr(addr, ':') ? nm_strdup_printf("root@[%s]", addr) : nm_strdup_printf("root@%s", addr);
	return spec ? set_target(run, spec, e) : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

/* ---- Robot ---- */

static void on_robot_wait(void *ud, unsigned seconds, const char *why)
{
	struct provision_run *run = ud;
	nm_info("robot: %s; waiting %u s before asking again", why, seconds);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "wait_seconds", json_object_new_int((int)seconds));
	json_object_object_add(f, "why", json_object_new_string(why));
	provision_event(run, "robot", "progress", f);
}

static int robot_open(struct provision_run *run, struct nm_error *e)
{
	struct robot_credentials cred = {0};
	int r = robot_credentials_read(run->o->robot_credentials, &cred, e);
	/* The static binary's libcurl has no CA bundle of its own: the system's is found here. */
	_cleanup_free_ char *ca = NULL;
	if (r == 0 && strncmp(run->o->robot_url, "https:", 6) == 0)
		(void)img_ca_bundle("/", &ca);
	if (r == 0) {
		struct robot_client_opts ro = {.ca_file = ca, .on_wait = on_robot_wait, .ud = run};
		r = robot_client_new(run->o->robot_url, &cred, &ro, &run->robot, e);
	}
	robot_credentials_free(&cred);
	return r;
}

static bool key_registered(const struct robot_key *keys, size_t n, const char *md5)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].fingerprint && strcasecmp(keys[i].fingerprint, md5) == 0)
			return true;
	return false;
}

/* Robot's rescue takes keys by fingerprint: each of the operator's keys is registered first
 * when Robot does not know it yet. */
static int robot_fingerprints(struct provision_run *run, char ***fps, struct nm_error *e)
{
	struct robot_key *keys = NULL;
	size_t n = 0;
	int r = robot_keys_list(run->robot, &keys, &n, e);
	*fps = nm_strv_new();
	for (size_t i = 0; r == 0 && run->operator_keys[i]; i++) {
		struct remote_host_key k = {0};
		r = remote_host_key_parse(run->operator_keys[i], &k, e);
		if (r == 0 && !key_registered(keys, n, k.md5)) {
			_cleanup_free_ char *name = nm_strdup_printf("nmmm %s", k.sha256);
			struct robot_key added = {0};
			r = robot_key_add(run->robot, name ? name : "nmmm", run->operator_keys[i], &added, e);
			if (r == 0)
				nm_info("robot: registered your key %s with Robot", k.sha256);
			robot_key_free(&added);
		}
		if (r == 0 && nm_strv_push(fps, k.md5) < 0)
			r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		remote_host_key_free(&k);
	}
	robot_keys_free(keys, n);
	return r;
}

/* Activates the rescue with the operator's keys and resets the server into it; keeps the
 * rescue's host key fingerprints. Used before the install and again for a diagnosis. */
static int rescue_and_reset(struct provision_run *run, struct nm_error *e)
{
	const int n = run->o->robot_server;
	_cleanup_strv_free_ char **fps = NULL;
	int r = robot_fingerprints(run, &fps, e);
	struct robot_rescue rescue = {0};
	if (r == 0)
		r = robot_rescue_activate(run->robot, n, fps, &rescue, e);
	if (r == 0) {
		nm_strv_free(run->rescue_fingerprints);
		run->rescue_fingerprints = nm_strv_new();
		for (size_t i = 0; rescue.host_key_fingerprints && rescue.host_key_fingerprints[i]; i++)
			if (nm_strv_push(&run->rescue_fingerprints, rescue.host_key_fingerprints[i]) < 0)
				r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		nm_info("robot: rescue system activated for server %d with %zu key(s)", n, nm_strv_len(fps));
	}
	robot_rescue_free(&rescue);
	_cleanup_strv_free_ char **types = NULL;
	if (r == 0)
		r = robot_reset_types(run->robot, n, &types, e);
	const char *type = r == 0 ? robot_reset_choose(types) : NULL;
	if (r == 0 && !type)
		r = nm_fail(e, NM_ERR_RUNTIME, ENOTSUP,
			    "Robot offers server %d no reset that restarts it (hw, sw or power_long); reset it "
			    "yourself (Robot → Server → Reset) and run provision again without --robot-server",
			    n);
	if (r == 0)
		r = robot_reset(run->robot, n, type, e);
	if (r == 0) {
		nm_info("robot: server %d reset (%s); it boots into the rescue system", n, type);
		json_object *f = json_object_new_object();
		json_object_object_add(f, "server", json_object_new_int(n));
		json_object_object_add(f, "reset", json_object_new_string(type));
		json_object_object_add(f, "rescue_host_keys", nm_json_strv(run->rescue_fingerprints));
		provision_event(run, "robot", "done", f);
	}
	return r;
}

int provision_robot_rescue(struct provision_run *run, struct nm_error *e)
{
	const struct provision_opts *o = run->o;
	if (!o->robot_server)
		return set_target(run, o->target, e);
	provision_step(run, "robot", "rescue system and reset through Robot");
	int r = robot_open(run, e);
	struct robot_server s = {0};
	if (r == 0)
		r = robot_server_get(run->robot, o->robot_server, &s, e);
	if (r == 0)
		r = o->target ? set_target(run, o->target, e) : target_from_server(run, &s, e);
	if (r == 0 && s.cancelled)
		nm_warn("robot: server %d (%s) is cancelled", s.number, s.name ? s.name : "");
	if (r == 0 && s.status && strcmp(s.status, "ready") != 0)
		nm_warn("robot: server %d is '%s', not 'ready'", s.number, s.status);
	robot_server_free(&s);
	if (r == 0)
		r = rescue_and_reset(run, e);
	return r;
}

/* For the diagnosis: the same server back into the rescue. */
int provision_robot_rescue_again(struct provision_run *run, struct nm_error *e)
{
	return rescue_and_reset(run, e);
}
