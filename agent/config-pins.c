/* config-pins.c: the pin section of the --config file (channel, nix, mirror), read the same way
 * by every command that takes --config, so `plan` refuses a config that `install` would refuse.
 * The disk library reads the layout fields of the same file and skips these keys. It reads only
 * the config file. */
#include "agent/agent.h"

#include "images/images.h"

int agent_config_pins(const char *config_path, struct img_pins *pins, struct nm_error *e)
{
	int r = img_pins_default(pins, e);
	if (r < 0 || !config_path)
		return r;
	json_object *cfg = NULL;
	r = nm_json_read_file(config_path, "--config", &cfg, e);
	if (r == 0) {
		r = img_pins_apply_config(pins, cfg, e);
		if (r < 0)
			nm_error_prefix(e, "%s", config_path);
	}
	json_object_put(cfg);
	return r;
}

int agent_config_pins_check(const char *config_path, struct nm_error *e)
{
	struct img_pins pins = {0};
	int r = agent_config_pins(config_path, &pins, e);
	img_pins_free(&pins);
	return r;
}
