/* render.c: writes the rendered files into the output directory — hardware-configuration.nix,
 * configuration.nix and plan.json (the plan and the facts they were made from) — each
 * atomically (nm_write_file_atomic: temporary file in the same directory, fsync, rename, fsync
 * of the directory), so a reader never sees half a file and a failed render leaves the previous
 * files as they were. It writes only into
 * out_dir and reads nothing of the machine. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "disk/disk.h"
#include "netcfg/netcfg.h"

static int write_atomic(const char *dir, const char *name, const char *text, struct nm_error *e)
{
	_cleanup_free_ char *dst = nm_strdup_printf("%s/%s", dir, name);
	if (!dst)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory writing %s", name);
	return nm_write_file_atomic(dst, text, strlen(text), 0644, e);
}

static void json_add_str(json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

/* plan.json: what the files were made from, so a reviewer (or a resumed install) can tell. */
static json_object *render_record(const struct agent_render_input *in)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "plan", in->plan_json ? json_object_get(in->plan_json) : NULL);
	json_object *facts = json_object_new_object();
	if (in->plan) /* the boot mode the plan was made for (read with the disk inventory) */
		json_object_object_add(facts, "boot_mode", json_object_new_string(in->plan->uefi ? "uefi" : "bios"));
	if (in->facts)
		agent_machine_facts_to_json(in->facts, in->initrd_modules, facts);
	if (in->inv)
		net_inventory_to_json(in->inv, facts);
	json_object_object_add(o, "facts", facts);
	json_object *up = json_object_new_object();
	if (in->uplink) {
		json_add_str(up, "name", in->uplink->name);
		json_add_str(up, "mac", in->uplink->mac);
		json_add_str(up, "predicted_name", in->uplink->predicted_name);
	}
	json_object_object_add(o, "uplink", up);
	json_add_str(o, "hostname", in->hostname);
	json_object_object_add(o, "ssh_authorized_keys", nm_json_strv(in->ssh_keys));
	json_add_str(o, "state_version", in->state_version);
	json_object_object_add(o, "options", in->options ? json_object_get(in->options) : NULL);
	return o;
}

int agent_render(const struct agent_render_input *in, const char *out_dir, struct nm_error *e)
{
	_cleanup_free_ char *hw = NULL, *conf = NULL;
	int r = agent_render_hardware(in, &hw, e);
	if (r >= 0)
		r = agent_render_configuration(in, &conf, e);
	if (r < 0)
		return r;
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST)
		return nm_fail(e, NM_ERR_USAGE, errno, "--out %s: cannot create the directory: %s", out_dir,
			       strerror(errno));
	json_object *rec = render_record(in);
	const char *json =
	    json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	_cleanup_free_ char *json_nl = nm_strdup_printf("%s\n", json);
	json_object_put(rec);
	if (!json_nl)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory writing plan.json");
	r = write_atomic(out_dir, "hardware-configuration.nix", hw, e);
	if (r >= 0)
		r = write_atomic(out_dir, "configuration.nix", conf, e);
	if (r >= 0)
		r = write_atomic(out_dir, "plan.json", json_nl, e);
	return r;
}
