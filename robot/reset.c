/* reset.c: restarting a server through Robot (GET, POST /reset/N) and the choice of the reset
 * type. It resets only when asked, with the type the caller names; the choice never picks a type
 * that leaves the server off or calls a technician. */
#include "robot/robot-internal.h"

#include <errno.h>
#include <string.h>

/* In order of preference: both restart a running server. */
static const char *const restarting_types[] = {"hw", "sw"};

const char *robot_reset_choose(char *const *types)
{
	for (size_t i = 0; i < NM_ELEMENTSOF(restarting_types); i++)
		if (nm_strv_contains(types, restarting_types[i]))
			return restarting_types[i];
	return NULL;
}

static void reset_path(char *buf, size_t size, int number)
{
	snprintf(buf, size, "/reset/%d", number);
}

int robot_reset_types(struct robot_client *c, int number, char ***types, struct nm_error *e)
{
	*types = NULL;
	int r = robot_check_number(number, e);
	if (r < 0)
		return r;
	char path[64];
	reset_path(path, sizeof path, number);
	const struct robot_request q = {.method = "GET", .path = path, .number = number, .type = "reset"};
	_cleanup_robot_reply_ struct robot_reply reply = {0};
	json_object *o, *type = NULL;
	r = robot_call(c, &q, &reply, &o, e);
	if (r < 0)
		return r;
	json_object_object_get_ex(o, "type", &type);
	if (robot_json_strv(type, types) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return 0;
}

int robot_reset(struct robot_client *c, int number, const char *type, struct nm_error *e)
{
	int r = robot_check_number(number, e);
	if (r < 0)
		return r;
	if (!type || !*type)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "server %d: no reset type given (the types Robot offers: GET /reset/%d)", number,
			       number);
	char path[64];
	reset_path(path, sizeof path, number);
	_cleanup_buf_ struct nm_buf form = NM_BUF_INIT(4096);
	if (robot_form_add(&form, "type", type) < 0)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	const struct robot_request q = {
	    .method = "POST", .path = path, .form = form.data, .number = number, .type = "reset"};
	_cleanup_robot_reply_ struct robot_reply reply = {0};
	json_object *o;
	r = robot_call(c, &q, &reply, &o, e);
	if (r < 0)
		return r;
	nm_info("server %d: Robot accepted a reset of type %s", number, type);
	return 0;
}
