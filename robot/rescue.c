/* rescue.c: the rescue boot of a server (GET, POST, DELETE /boot/N/rescue): whether it is
 * active, the keys it lets in, its host keys and its root password. The password is a secret: it
 * is kept only in struct robot_rescue, overwritten when that is freed, and never logged, shown or
 * put in a message. Activating does not reboot the server (reset.c does). */
#include "robot/robot-internal.h"

#include <errno.h>
#include <string.h>

void robot_rescue_free(struct robot_rescue *r)
{
	if (!r)
		return;
	if (r->password)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r->os);
	nm_strv_free(r->os_offered);
	nm_strv_free(r->authorized_fingerprints);
	nm_strv_free(r->host_key_fingerprints);
	*r = (struct robot_rescue){0};
}

/* Inactive, "os" lists the choices; active, it is the one chosen. */
static int rescue_fill(json_object *o, struct robot_rescue *r)
{
	json_object *os = NULL, *authorized = NULL, *host = NULL;
	r->active = robot_json_bool(o, "active");
	json_object_object_get_ex(o, "os", &os);
	json_object_object_get_ex(o, "authorized_key", &authorized);
	json_object_object_get_ex(o, "host_key", &host);
	if (json_object_is_type(os, json_type_array) ? robot_json_strv(os, &r->os_offered) < 0
						     : robot_json_strdup(o, "os", &r->os) < 0)
		return -ENOMEM;
	if (robot_json_strdup(o, "password", &r->password) < 0 ||
	    robot_json_fingerprints(authorized, &r->authorized_fingerprints) < 0 ||
	    robot_json_fingerprints(host, &r->host_key_fingerprints) < 0)
		return -ENOMEM;
	return 0;
}

static int rescue_call(struct robot_client *c, const char *method, int number, const char *form,
		       struct robot_rescue *out, struct nm_error *e)
{
	int r = robot_check_number(number, e);
	if (r < 0)
		return r;
	char path[64];
	snprintf(path, sizeof path, "/boot/%d/rescue", number);
	const struct robot_request q = {
	    .method = method, .path = path, .form = form, .number = number, .type = "rescue"};
	_cleanup_robot_reply_ struct robot_reply reply = {0};
	json_object *o;
	r = robot_call(c, &q, &reply, &o, e);
	if (r < 0 || !out)
		return r;
	if (rescue_fill(o, out) < 0) {
		robot_rescue_free(out);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	/* an activation answers with the rescue it made: active, with its password */
	if (strcmp(method, "POST") == 0 && (!out->active || !out->password)) {
		robot_rescue_free(out);
		return robot_malformed(method, path, "the rescue is not active or has no password", e);
	}
	return 0;
}

int robot_rescue_get(struct robot_client *c, int number, struct robot_rescue *r, struct nm_error *e)
{
	*r = (struct robot_rescue){0};
	return rescue_call(c, "GET", number, NULL, r, e);
}

int robot_rescue_activate(struct robot_client *c, int number, char *const *fingerprints, struct robot_rescue *r,
			  struct nm_error *e)
{
	*r = (struct robot_rescue){0};
	_cleanup_buf_ struct nm_buf form = NM_BUF_INIT(1u << 20);
	int ret = robot_form_add(&form, "os", "linux");
	for (size_t i = 0; ret == 0 && fingerprints && fingerprints[i]; i++)
		ret = robot_form_add(&form, "authorized_key[]", fingerprints[i]);
	if (ret < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return rescue_call(c, "POST", number, form.data, r, e);
}

int robot_rescue_deactivate(struct robot_client *c, int number, struct nm_error *e)
{
	return rescue_call(c, "DELETE", number, NULL, NULL, e);
}
