/* config.c: the --config file, read once per command and handed down: the disk library takes
 * its layout fields, the pins their section (nixpkgs, nix, mirror), the resume record its
 * digest — all of the same bytes, so a file that changes while the agent runs cannot give the
 * planner one version and the pins or the record another. Every command that takes --config
 * checks the whole file the same way, so `plan` refuses a config that `install` would refuse. */
#include "agent/agent.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "disk/disk.h"
#include "images/images.h"
#include "netcfg/netcfg.h"

char *agent_sha256_hex(const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
		return NULL;
	char *hex = malloc(2 * n + 1);
	for (unsigned i = 0; hex && i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

int agent_config_read(const char *path, struct agent_config *c, struct nm_error *e)
{
	*c = (struct agent_config){.path = path};
	if (!path)
		return 0;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = nm_json_read_file_text(path, "--config", &c->json, &text, &len, e);
	if (r < 0)
		return r;
	c->sha256 = agent_sha256_hex(text, len);
	if (!c->sha256) {
		agent_config_free(c);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "--config %s: out of memory", path);
	}
	return 0;
}

void agent_config_free(struct agent_config *c)
{
	json_object_put(c->json);
	free(c->sha256);
	*c = (struct agent_config){0};
}

int agent_config_disk(const struct agent_config *c, struct disk_config *cfg, struct nm_error *e)
{
	if (!c->json)
		return 0;
	int r = disk_config_from_json(c->json, c->path, cfg, e);
	/* The host name is the renderer's, but the file is one: refused here as install would. */
	if (r == 0 && cfg->hostname) {
		r = net_hostname_check(cfg->hostname, e);
		if (r < 0)
			nm_error_prefix(e, "--config %s: \"hostname\"", c->path);
	}
	return r;
}

int agent_config_pins(const struct agent_config *c, struct img_pins *pins, struct nm_error *e)
{
	int r = img_pins_default(pins, e);
	if (r < 0 || !c->json)
		return r;
	r = img_pins_apply_config(pins, c->json, e);
	if (r < 0)
		nm_error_prefix(e, "%s", c->path);
	return r;
}

int agent_config_pins_check(const struct agent_config *c, struct nm_error *e)
{
	struct img_pins pins = {0};
	int r = agent_config_pins(c, &pins, e);
	if (r == 0)
		agent_nixpkgs_support_warn(&pins.nixpkgs);
	img_pins_free(&pins);
	return r;
}

void agent_nixpkgs_support_warn(const struct img_nixpkgs_pin *p)
{
	char today[11];
	img_today_utc(today);
	_cleanup_free_ char *w = img_nixpkgs_support_warning(p, today);
	if (w)
		nm_warn("%s", w);
}

/* A test's stand-in for the origins: loopback or a local directory, nothing else. */
static int test_origin(struct img_nixpkgs_pin *p, struct nm_error *e)
{
	const char *base = getenv("NMMM_TEST_ORIGIN_BASE");
	if (!base || !*base)
		return 0;
	static const char *const allowed[] = {"http://127.0.0.1:", "http://[::1]:", "file:///"};
	for (size_t i = 0; i < NM_ELEMENTSOF(allowed); i++)
		if (strncmp(base, allowed[i], strlen(allowed[i])) == 0) {
			free(p->origin_base);
			p->origin_base = strdup(base);
			return p->origin_base ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
		}
	return nm_fail(e, NM_ERR_USAGE, EINVAL,
		       "NMMM_TEST_ORIGIN_BASE=%s: for tests only, and only a loopback http:// or a file:/// base; "
		       "unset it",
		       base);
}

/* A test's stand-in for the compiled-in pin: "REV NAR_HASH" of a tree the test serves at the
 * compiled-in pin's own sources under the test origin base, so `install --yes` with no nixpkgs
 * option runs as it does with the real pin. Never with the real origins, never over a pin the
 * operator named. */
static int test_pin(struct img_nixpkgs_pin *p, struct nm_error *e)
{
	static const char var[] = "NMMM_TEST_NIXPKGS_PIN";
	const char *value = getenv(var);
	if (!value || !*value)
		return 0;
	if (!p->origin_base)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: for tests only, and only with NMMM_TEST_ORIGIN_BASE (a loopback http:// or a "
			       "file:/// base serving the tree); unset it",
			       var);
	if (!p->origin || strcmp(p->origin, IMG_NIXPKGS_COMPILED_IN) != 0)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s replaces the compiled-in nixpkgs pin, but %s names the nixpkgs already; unset %s "
			       "or drop the other",
			       var, p->origin ? p->origin : "an option", var);
	char rev[64] = "", hash[128] = "", extra = 0;
	/* exactly two fields; a longer one would not fit and fails the same */
	if (sscanf(value, "%63s %127s %c", rev, hash, &extra) != 2)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: expected \"REV NAR_HASH\" (40 hexadecimal digits, a space, a sha256 in SRI, "
			       "nix32 or hex)",
			       var);
	int r = img_nixpkgs_set_rev(p, var, rev, hash, e);
	if (r == 0)
		nm_warn("%s: installing the test pin %s %s in place of the compiled-in nixpkgs (tests only; verified "
			"by its NAR hash)",
			var, p->rev, p->nar_hash);
	return r;
}

int agent_nixpkgs_options(struct img_nixpkgs_pin *p, const char *from, const char *node, const char *url,
			  const char *hash, const char *release, struct nm_error *e)
{
	if (from && (url || hash))
		return nm_fail(
		    e, NM_ERR_USAGE, EINVAL,
		    "--nixpkgs-from and --nixpkgs/--nixpkgs-hash both name the nixpkgs to install; give one");
	if (node && !from)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--nixpkgs-node names an input of --nixpkgs-from FILE; give both");
	int r = 0;
	if (from)
		r = img_nixpkgs_from_flake_lock(p, from, node, e);
	else if (url || hash)
		r = img_nixpkgs_override(p, "--nixpkgs", url, hash, release, e);
	if (r == 0 && release)
		r = img_nixpkgs_set_release(p, "--nixpkgs-release", release, e);
	if (r == 0)
		r = test_origin(p, e);
	if (r == 0)
		r = test_pin(p, e);
	return r;
}
