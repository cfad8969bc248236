/* robot-internal.h: what the files of robot/ share — one exchange with Robot (client.c), the
 * mapping of its error answers (answer.c) and the reading of its JSON wrappers. Private to robot/. */
#pragma once

#include "robot/robot.h"

/* One answer of Robot. json owns what code points into. */
struct robot_reply {
	long status;
	json_object *json; /* the parsed body; NULL when empty or not JSON */
	const char *code; /* error.code of an error answer, else NULL */
};
/* Drops the answer, first overwriting every "password" string in it (the rescue's). */
void robot_reply_free(struct robot_reply *r);
#define _cleanup_robot_reply_ _cleanup_(robot_reply_free)

/* Sends one request (form: an application/x-www-form-urlencoded body for POST, else NULL) and
 * answers every HTTP status but the two it handles itself: 401 (an error, and the client then
 * refuses every later request) and 403 RATE_LIMIT_EXCEEDED (waited out and retried within the
 * allowed total wait, else an error). Transport failures are errors naming the URL. */
int robot_exchange(struct robot_client *c, const char *method, const char *path, const char *form,
		   struct robot_reply *r, struct nm_error *e);
/* What a call asks and which answer it takes besides success. */
struct robot_request {
	const char *method, *path;
	const char *form; /* POST body (robot_form_add), or NULL */
	int number; /* the server, named in errors; 0 for none */
	const char *type; /* the wrapper of the answer ("server"), or NULL for the whole answer */
	long accept_status; /* an error answer that is an answer (404 NOT_FOUND: no keys), or 0 */
	const char *accept_code;
};
/* The exchange, then: the accepted error answer returns 1 (*obj NULL); any other status but 2xx
 * is an error (robot_reply_fail); else 0 with the object inside its wrapper {"<type>": {...}}
 * (or the whole answer) in *obj, owned by r. */
int robot_call(struct robot_client *c, const struct robot_request *q, struct robot_reply *r, json_object **obj,
	       struct nm_error *e);
/* Turns an error answer (status >= 300) into the error that says what it means and what to do;
 * number > 0 names the server. */
int robot_reply_fail(const struct robot_reply *r, const char *method, const char *path, int number, struct nm_error *e);
/* "The answer to GET /x is not what Robot sends": the endpoint named, a runtime error. */
int robot_malformed(const char *method, const char *path, const char *what, struct nm_error *e);

/* Appends "name=value" (value escaped, '&' between fields) to a form body. */
int robot_form_add(struct nm_buf *form, const char *name, const char *value);
/* A server number as Robot takes it: a usage error for 0 or less. */
int robot_check_number(int number, struct nm_error *e);

/* ---- reading answers (answer.c) ---- */

/* {"<type>": {...}} -> the inner object, or NULL when it is not of that shape. */
json_object *robot_unwrap(json_object *item, const char *type);
/* A copy of a string member in *out (NULL when absent or null): 0 or -ENOMEM. */
int robot_json_strdup(json_object *o, const char *key, char **out);
bool robot_json_bool(json_object *o, const char *key);
/* The fingerprints of a list of keys: each item a string, {"key":{"fingerprint":...}} or
 * {"fingerprint":...}; *out is NULL-terminated (empty for an absent or empty list). */
int robot_json_fingerprints(json_object *list, char ***out);
/* A string or a list of strings as a NULL-terminated list (empty when absent). */
int robot_json_strv(json_object *v, char ***out);
