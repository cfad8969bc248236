/* robot_call.c: `robot-call [options] OPERATION ARGS...` calls the robot library for one
 * operation and prints its result as one JSON line on stdout (each rate-limit wait as a line of
 * its own before it), for tests/integration/robot_client.sh. Credentials come as the library
 * takes them: NMMM_ROBOT_USER/NMMM_ROBOT_PASSWORD, or --credentials FILE. It never prints the
 * rescue password: --check-password FILE says only whether it equals FILE's first line. A test
 * tool: built with the tests, never installed.
 *
 * Operations: server N | keys | key-add NAME DATA | rescue N | rescue-activate N [FP...] |
 * rescue-deactivate N | reset-types N | reset N [TYPE] (default: robot_reset_choose's). */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "robot/robot.h"

struct call {
	struct robot_client *client;
	const char *check_password; /* file with the expected rescue password, or NULL */
	int argc;
	char **argv;
};

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

static void on_wait(void *ud, unsigned seconds, const char *why)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("wait"));
	json_object_object_add(o, "seconds", json_object_new_int((int)seconds));
	json_object_object_add(o, "why", json_object_new_string(why));
	print_json(o);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static int number_arg(const struct call *c, int i, struct nm_error *e)
{
	if (i >= c->argc)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: a server number is missing", c->argv[0]);
	char *end;
	long n = strtol(c->argv[i], &end, 10);
	if (*end || n < -1000000 || n > 1000000000)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: not a number", c->argv[i]);
	return (int)n;
}

static int op_server(const struct call *c, json_object *out, struct nm_error *e)
{
	int n = number_arg(c, 1, e);
	_cleanup_robot_server_ struct robot_server s = {0};
	int r = n < 0 ? n : robot_server_get(c->client, n, &s, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *address = robot_server_rescue_address(&s);
	json_object_object_add(out, "number", json_object_new_int(s.number));
	json_object_object_add(out, "name", str_or_null(s.name));
	json_object_object_add(out, "ipv4", str_or_null(s.ipv4));
	json_object_object_add(out, "ipv6_net", str_or_null(s.ipv6_net));
	json_object_object_add(out, "product", str_or_null(s.product));
	json_object_object_add(out, "dc", str_or_null(s.dc));
	json_object_object_add(out, "status", str_or_null(s.status));
	json_object_object_add(out, "cancelled", json_object_new_boolean(s.cancelled));
	json_object_object_add(out, "rescue_address", str_or_null(address));
	return 0;
}

static json_object *key_json(const struct robot_key *k)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", str_or_null(k->name));
	json_object_object_add(o, "fingerprint", str_or_null(k->fingerprint));
	json_object_object_add(o, "type", str_or_null(k->type));
	json_object_object_add(o, "data", str_or_null(k->data));
	return o;
}

static int op_keys(const struct call *c, json_object *out, struct nm_error *e)
{
	struct robot_key *keys = NULL;
	size_t n = 0;
	int r = robot_keys_list(c->client, &keys, &n, e);
	if (r < 0)
		return r;
	json_object *list = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(list, key_json(&keys[i]));
	json_object_object_add(out, "keys", list);
	robot_keys_free(keys, n);
	return 0;
}

static int op_key_add(const struct call *c, json_object *out, struct nm_error *e)
{
	if (c->argc < 3)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "key-add NAME DATA");
	_cleanup_robot_key_ struct robot_key k = {0};
	int r = robot_key_add(c->client, c->argv[1], c->argv[2], &k, e);
	if (r < 0)
		return r;
	json_object_object_add(out, "key", key_json(&k));
	return 0;
}

/* Whether the password equals the first line of the file, without printing either. */
static bool password_matches(const char *file, const char *password)
{
	char want[512] = "";
	FILE *f = fopen(file, "re");
	bool ok = f && fgets(want, sizeof want, f) && password;
	if (f)
		fclose(f);
	want[strcspn(want, "\n")] = '\0';
	ok = ok && strcmp(want, password) == 0;
	explicit_bzero(want, sizeof want);
	return ok;
}

static void rescue_json(const struct call *c, const struct robot_rescue *rs, json_object *out)
{
	json_object_object_add(out, "active", json_object_new_boolean(rs->active));
	json_object_object_add(out, "os", str_or_null(rs->os));
	json_object_object_add(out, "os_offered", rs->os_offered ? nm_json_strv(rs->os_offered) : NULL);
	json_object_object_add(out, "password_set", json_object_new_boolean(rs->password != NULL));
	if (c->check_password)
		json_object_object_add(out, "password_matches",
				       json_object_new_boolean(password_matches(c->check_password, rs->password)));
	json_object_object_add(out, "authorized_fingerprints", nm_json_strv(rs->authorized_fingerprints));
	json_object_object_add(out, "host_key_fingerprints", nm_json_strv(rs->host_key_fingerprints));
}

static int op_rescue(const struct call *c, json_object *out, struct nm_error *e)
{
	int n = number_arg(c, 1, e);
	if (n < 0)
		return n;
	_cleanup_robot_rescue_ struct robot_rescue rs = {0};
	int r = strcmp(c->argv[0], "rescue") == 0 ? robot_rescue_get(c->client, n, &rs, e)
						  : robot_rescue_activate(c->client, n, c->argv + 2, &rs, e);
	if (r < 0)
		return r;
	rescue_json(c, &rs, out);
	return 0;
}

static int op_rescue_deactivate(const struct call *c, json_object *out, struct nm_error *e)
{
	int n = number_arg(c, 1, e);
	return n < 0 ? n : robot_rescue_deactivate(c->client, n, e);
}

static int op_reset_types(const struct call *c, json_object *out, struct nm_error *e)
{
	int n = number_arg(c, 1, e);
	_cleanup_strv_free_ char **types = NULL;
	int r = n < 0 ? n : robot_reset_types(c->client, n, &types, e);
	if (r < 0)
		return r;
	json_object_object_add(out, "types", nm_json_strv(types));
	json_object_object_add(out, "chosen", str_or_null(robot_reset_choose(types)));
	return 0;
}

static int op_reset(const struct call *c, json_object *out, struct nm_error *e)
{
	int n = number_arg(c, 1, e);
	if (n < 0)
		return n;
	_cleanup_strv_free_ char **types = NULL;
	const char *type = c->argc > 2 ? c->argv[2] : NULL;
	if (!type) {
		int r = robot_reset_types(c->client, n, &types, e);
		if (r < 0)
			return r;
		if (!(type = robot_reset_choose(types)))
			return nm_fail(e, NM_ERR_REFUSED, EINVAL, "server %d: no reset type that restarts it", n);
	}
	json_object_object_add(out, "type", json_object_new_string(type));
	return robot_reset(c->client, n, type, e);
}

static const struct {
	const char *name;
	int (*run)(const struct call *c, json_object *out, struct nm_error *e);
} ops[] = {
    {"server", op_server},	     {"keys", op_keys},
    {"key-add", op_key_add},	     {"rescue", op_rescue},
    {"rescue-activate", op_rescue},  {"rescue-deactivate", op_rescue_deactivate},
    {"reset-types", op_reset_types}, {"reset", op_reset},
};

/* One call: {"ok":true,...} or {"ok":false,"class":...,"exit":...,"message":...}; its exit code. */
static int run_one(const struct call *c)
{
	struct nm_error e = {0};
	_cleanup_json_ json_object *out = json_object_new_object();
	int r = -EINVAL;
	bool known = false;
	for (size_t i = 0; i < NM_ELEMENTSOF(ops); i++)
		if (strcmp(ops[i].name, c->argv[0]) == 0) {
			known = true;
			r = ops[i].run(c, out, &e);
		}
	if (!known)
		nm_fail(&e, NM_ERR_USAGE, EINVAL, "%s: no such operation", c->argv[0]);
	json_object_object_add(out, "ok", json_object_new_boolean(r >= 0 && e.cls == NM_ERR_NONE));
	if (e.cls != NM_ERR_NONE) {
		json_object_object_add(out, "class", json_object_new_string(nm_err_class_name(e.cls)));
		json_object_object_add(out, "exit", json_object_new_int(nm_exit_code(&e)));
		json_object_object_add(out, "message", json_object_new_string(e.msg));
		fprintf(stderr, "robot-call: %s\n", e.msg);
	}
	print_json(out);
	return nm_exit_code(&e);
}

static int usage(void)
{
	fputs("usage: robot-call [--url URL] [--credentials FILE] [--ca-file FILE] [--wait-max SEC] [--timeout SEC]\n"
	      "                  [--log FILE] [-v] [--repeat N] [--check-password FILE] OPERATION ARGS...\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"url", required_argument, NULL, 'u'},     {"credentials", required_argument, NULL, 'c'},
	    {"ca-file", required_argument, NULL, 'a'}, {"wait-max", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'}, {"log", required_argument, NULL, 'l'},
	    {"repeat", required_argument, NULL, 'r'},  {"check-password", required_argument, NULL, 'p'},
	    {"verbose", no_argument, NULL, 'v'},       {NULL, 0, NULL, 0},
	};
	const char *url = ROBOT_DEFAULT_URL, *credentials = NULL, *log = NULL;
	struct robot_client_opts o = {.on_wait = on_wait};
	struct call call = {0};
	int repeat = 1, opt;
	bool verbose = false;
	while ((opt = getopt_long(argc, argv, "v", options, NULL)) != -1) {
		switch (opt) {
		case 'u': url = optarg; break;
		case 'c': credentials = optarg; break;
		case 'a': o.ca_file = optarg; break;
		case 'w': o.rate_limit_wait_max_sec = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o.timeout_sec = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': log = optarg; break;
		case 'r': repeat = atoi(optarg); break;
		case 'p': call.check_password = optarg; break;
		case 'v': verbose = true; break;
		default: return usage();
		}
	}
	if (optind >= argc)
		return usage();
	struct nm_error e = {0};
	if (nm_log_open(log, verbose ? NM_LOG_DEBUG : NM_LOG_WARN, &e) < 0) {
		fprintf(stderr, "robot-call: %s\n", e.msg);
		return 2;
	}
	_cleanup_robot_credentials_ struct robot_credentials cred = {0};
	_cleanup_robot_client_ struct robot_client *client = NULL;
	if (robot_credentials_read(credentials, &cred, &e) < 0 || robot_client_new(url, &cred, &o, &client, &e) < 0) {
		_cleanup_json_ json_object *out = json_object_new_object();
		json_object_object_add(out, "ok", json_object_new_boolean(false));
		json_object_object_add(out, "class", json_object_new_string(nm_err_class_name(e.cls)));
		json_object_object_add(out, "message", json_object_new_string(e.msg));
		fprintf(stderr, "robot-call: %s\n", e.msg);
		print_json(out);
		nm_log_close();
		return nm_exit_code(&e);
	}
	call.client = client;
	call.argc = argc - optind;
	call.argv = argv + optind;
	int rc = 0;
	for (int i = 0; i < repeat; i++)
		rc = run_one(&call);
	nm_log_close();
	return rc;
}
