/* keys.c: the account's SSH keys at Robot (GET /key, POST /key), the ones a rescue activation
 * names by MD5 fingerprint. It adds keys, never deletes one: the account's keys belong to the
 * operator. An account without keys (404 NOT_FOUND) and a key already there (409
 * KEY_ALREADY_EXISTS) are answers, not failures. */
#include "robot/robot-internal.h"

#include <errno.h>
#include <string.h>

void robot_key_free(struct robot_key *k)
{
	if (!k)
		return;
	free(k->name);
	free(k->fingerprint);
	free(k->type);
	free(k->data);
	*k = (struct robot_key){0};
}

void robot_keys_free(struct robot_key *keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		robot_key_free(&keys[i]);
	free(keys);
}

static int key_fill(json_object *o, struct robot_key *k)
{
	if (robot_json_strdup(o, "name", &k->name) < 0 || robot_json_strdup(o, "fingerprint", &k->fingerprint) < 0 ||
	    robot_json_strdup(o, "type", &k->type) < 0 || robot_json_strdup(o, "data", &k->data) < 0) {
		robot_key_free(k);
		return -ENOMEM;
	}
	return 0;
}

int robot_keys_list(struct robot_client *c, struct robot_key **keys, size_t *n, struct nm_error *e)
{
	*keys = NULL;
	*n = 0;
	const struct robot_request q = {
	    .method = "GET", .path = "/key", .accept_status = 404, .accept_code = "NOT_FOUND"};
	_cleanup_robot_reply_ struct robot_reply reply = {0};
	json_object *all;
	int r = robot_call(c, &q, &reply, &all, e);
	if (r != 0)
		return r < 0 ? r : 0; /* 404 NOT_FOUND: no keys */
	if (!json_object_is_type(all, json_type_array))
		return robot_malformed("GET", "/key", "not a list", e);
	size_t len = json_object_array_length(all);
	struct robot_key *list = calloc(len ? len : 1, sizeof *list);
	if (!list)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i++) {
		json_object *k = robot_unwrap(json_object_array_get_idx(all, i), "key");
		r = k ? key_fill(k, &list[i]) : robot_malformed("GET", "/key", "an item without its \"key\" object", e);
		if (r == -ENOMEM)
			r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		if (r < 0) {
			robot_keys_free(list, i);
			return r;
		}
	}
	*keys = list;
	*n = len;
	return 0;
}

/* After a 409: the key is there, Robot did not say with which fingerprint. */
static int key_known(const char *name, const char *data, struct robot_key *out, struct nm_error *e)
{
	if (!out)
		return 0;
	out->name = strdup(name);
	out->data = strdup(data);
	if (!out->name || !out->data) {
		robot_key_free(out);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	return 0;
}

int robot_key_add(struct robot_client *c, const char *name, const char *data, struct robot_key *out, struct nm_error *e)
{
	if (out)
		*out = (struct robot_key){0};
	if (!name || !*name || !data || !*data)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "POST /key: a key to add to Robot needs a name and its data");
	_cleanup_buf_ struct nm_buf form = NM_BUF_INIT(1u << 20);
	if (robot_form_add(&form, "name", name) < 0 || robot_form_add(&form, "data", data) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const struct robot_request q = {.method = "POST",
					.path = "/key",
					.form = form.data,
					.type = "key",
					.accept_status = 409,
					.accept_code = "KEY_ALREADY_EXISTS"};
	_cleanup_robot_reply_ struct robot_reply reply = {0};
	json_object *k;
	int r = robot_call(c, &q, &reply, &k, e);
	if (r != 0)
		return r < 0 ? r : key_known(name, data, out, e);
	if (out && key_fill(k, out) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return 0;
}
