/* answer.c: reading Robot's answers — the wrapper around each object ({"server":{...}}), its
 * fields, and what an error answer ({"error":{"status","code","message",...}}) means for the
 * operator: the class, the server, the endpoint and what to do. Robot's own message text is
 * shown sanitised and cut short; nothing here sends a request. */
#include "robot/robot-internal.h"

#include <errno.h>
#include <string.h>

#define ROBOT_MESSAGE_MAX 200 /* of Robot's own text, in our message */

json_object *robot_unwrap(json_object *item, const char *type)
{
	json_object *inner = NULL;
	if (!item || !json_object_is_type(item, json_type_object) || !json_object_object_get_ex(item, type, &inner) ||
	    !json_object_is_type(inner, json_type_object))
		return NULL;
	return inner;
}

int robot_json_strdup(json_object *o, const char *key, char **out)
{
	const char *s = nm_json_str(o, key);
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

bool robot_json_bool(json_object *o, const char *key)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

int robot_json_strv(json_object *v, char ***out)
{
	_cleanup_strv_free_ char **list = nm_strv_new();
	if (!list)
		return -ENOMEM;
	if (v && json_object_is_type(v, json_type_string) && nm_strv_push(&list, json_object_get_string(v)) < 0)
		return -ENOMEM;
	for (size_t i = 0; v && json_object_is_type(v, json_type_array) && i < json_object_array_length(v); i++) {
		json_object *item = json_object_array_get_idx(v, i);
		if (json_object_is_type(item, json_type_string) &&
		    nm_strv_push(&list, json_object_get_string(item)) < 0)
			return -ENOMEM;
	}
	*out = NM_TAKE_PTR(list);
	return 0;
}

int robot_json_fingerprints(json_object *v, char ***out)
{
	_cleanup_strv_free_ char **list = nm_strv_new();
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; v && json_object_is_type(v, json_type_array) && i < json_object_array_length(v); i++) {
		json_object *item = json_object_array_get_idx(v, i);
		json_object *key = robot_unwrap(item, "key");
		const char *fp = json_object_is_type(item, json_type_string)
		    ? json_object_get_string(item)
		    : nm_json_str(key ? key : item, "fingerprint");
		if (fp && nm_strv_push(&list, fp) < 0)
			return -ENOMEM;
	}
	*out = NM_TAKE_PTR(list);
	return 0;
}

/* ---- dropping an answer ---- */

static void wipe_passwords(json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			wipe_passwords(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, val)
	{
		if (strcmp(key, "password") == 0 && json_object_is_type(val, json_type_string))
			/* our own copy, freed right after: json-c lends it as const */
			explicit_bzero((char *)json_object_get_string(val), (size_t)json_object_get_string_len(val));
		else
			wipe_passwords(val);
	}
}

void robot_reply_free(struct robot_reply *r)
{
	if (!r)
		return;
	if (r->json) {
		wipe_passwords(r->json);
		json_object_put(r->json);
	}
	*r = (struct robot_reply){0};
}

/* ---- error answers ---- */

int robot_malformed(const char *method, const char *path, const char *what, struct nm_error *e)
{
	return nm_fail(e, NM_ERR_RUNTIME, EPROTO,
		       "Robot's answer to %s %s is not what its web service sends (%s); try again later, and check "
		       "--robot-url if given",
		       method, path, what);
}

/* Robot's message, made printable and short. */
static void robot_message(json_object *err, char *buf, size_t size)
{
	const char *m = nm_json_str(err, "message");
	snprintf(buf, size, "%.*s", ROBOT_MESSAGE_MAX, m ? m : "");
	nm_sanitize_text(buf);
}

/* "a, b" of a list of field names, or "" when it is null or empty. */
static void field_list(json_object *err, const char *key, char *buf, size_t size)
{
	json_object *v = NULL;
	buf[0] = '\0';
	if (!json_object_object_get_ex(err, key, &v) || !json_object_is_type(v, json_type_array))
		return;
	size_t used = 0;
	for (size_t i = 0; i < json_object_array_length(v) && used < size; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(v, i));
		int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", s ? s : "?");
		used += n > 0 ? (size_t)n : 0;
	}
	nm_sanitize_text(buf);
}

static int invalid_input(json_object *err, const char *code, const char *what, struct nm_error *e)
{
	char missing[256], invalid[256], message[ROBOT_MESSAGE_MAX + 1];
	field_list(err, "missing", missing, sizeof missing);
	field_list(err, "invalid", invalid, sizeof invalid);
	robot_message(err, message, sizeof message);
	return nm_fail(e, NM_ERR_USAGE, EINVAL, "Robot rejected the input of %s (%s%s%s%s%s%s%s)", what, code,
		       *missing ? "; missing: " : "", missing, *invalid ? "; invalid: " : "", invalid,
		       !*missing && !*invalid && *message ? ": " : "", !*missing && !*invalid ? message : "");
}

static int not_found(const char *code, int number, const char *what, const char *message, struct nm_error *e)
{
	if (number > 0 && strcmp(code, "BOOT_NOT_AVAILABLE") == 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			       "Robot offers no rescue boot for server %d (BOOT_NOT_AVAILABLE on %s): check the server "
			       "in Robot, or ask Hetzner's support",
			       number, what);
	if (number > 0 && strcmp(code, "RESET_NOT_AVAILABLE") == 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOENT,
			       "Robot offers no reset for server %d (RESET_NOT_AVAILABLE on %s): reboot it another way "
			       "or ask Hetzner's support",
			       number, what);
	if (number > 0)
		return nm_fail(e, NM_ERR_USAGE, ENOENT,
			       "Robot has no server %d in this account (%s on %s): check --robot-server", number, code,
			       what);
	return nm_fail(e, NM_ERR_USAGE, ENOENT, "Robot knows no %s (HTTP 404 %s%s%s)", what, code, *message ? ": " : "",
		       message);
}

int robot_reply_fail(const struct robot_reply *r, const char *method, const char *path, int number, struct nm_error *e)
{
	json_object *err = NULL;
	if (r->json && json_object_is_type(r->json, json_type_object))
		json_object_object_get_ex(r->json, "error", &err);
	const char *code = r->code ? r->code : "no error code";
	char message[ROBOT_MESSAGE_MAX + 1], what[160];
	robot_message(err, message, sizeof message);
	snprintf(what, sizeof what, "%s %s", method, path);
	const char *sep = *message ? ": " : "";
	if (r->status == 400)
		return invalid_input(err, code, what, e);
	if (r->status == 404)
		return not_found(code, number, what, message, e);
	if (r->status == 409 && strcmp(code, "RESET_MANUAL_ACTIVE") == 0)
		return nm_fail(
		    e, NM_ERR_RUNTIME, EBUSY,
		    "a manual reset by a technician is pending for server %d (RESET_MANUAL_ACTIVE on %s); wait "
		    "for it or cancel it in Robot, then run again",
		    number, what);
	if (r->status >= 500)
		return nm_fail(e, NM_ERR_RUNTIME, EIO,
			       "Robot failed %s (HTTP %ld %s%s%s): Robot may be in maintenance; try again later", what,
			       r->status, code, sep, message);
	if (r->status == 403 || r->status == 409)
		return nm_fail(e, NM_ERR_RUNTIME, r->status == 403 ? EPERM : EBUSY,
			       "Robot refused %s (HTTP %ld %s%s%s)", what, r->status, code, sep, message);
	return nm_fail(e, NM_ERR_RUNTIME, EPROTO, "Robot answered HTTP %ld to %s (%s%s%s); expected success", r->status,
		       what, code, sep, message);
}
