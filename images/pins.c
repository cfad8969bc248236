/* pins.c: the compiled-in pins (NixOS channel and Nix binary tarball for x86_64-linux) and the
 * ways an operator overrides them: --mirror, --channel/--nix-tarball with their hashes, or the
 * config file. A pin without a hash is never fetched. Nothing here downloads anything. */
#include "images/images.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

struct pin_row {
	const char *what;
	const char *url;
	const char *sha256; /* "" = no trusted published value known */
	uint64_t size; /* 0 = not known */
	const char *release;
};

/* The block between the markers is rewritten by scripts/update-pins; keep its shape. */
/* BEGIN GENERATED PINS */
/* clang-format off */
/* Written by hand (this machine cannot reach nixos.org), not by scripts/update-pins:
 * nix: URL and SHA-256 as published in Nix 2.28.3's install script
 *   (https://releases.nixos.org/nix/nix-2.28.3/install, case Linux.x86_64); its exact byte size
 *   was not available (about 23 MiB), so the size is left unchecked (0).
 * channel: no trustworthy published SHA-256 of this release's nixexprs.tar.xz was found (flake
 *   locks carry NAR hashes of the unpacked tree, which are not file hashes), so the hash is EMPTY
 *   and install refuses the channel until scripts/update-pins fills it in or the operator passes
 *   --channel URL --channel-sha256 HEX. */
static const struct pin_row pin_rows[] = {
	{"channel", "https://releases.nixos.org/nixos/25.05/nixos-25.05.809350.0e6684e6c575/nixexprs.tar.xz",
	 "", 0ull, "25.05"},
	{"nix", "https://releases.nixos.org/nix/nix-2.28.3/nix-2.28.3-x86_64-linux.tar.xz",
	 "85d1847d06d5d56167796d3f61cd992908de84584db3e700da031a782b59ea22", 0ull, "2.28.3"},
};
/* clang-format on */
/* END GENERATED PINS */

static void pin_free(struct img_pin *pin)
{
	free(pin->what);
	free(pin->url);
	free(pin->release);
	*pin = (struct img_pin){0};
}

static int pin_from_row(struct img_pin *pin, const struct pin_row *row)
{
	pin->what = strdup(row->what);
	pin->url = strdup(row->url);
	pin->release = strdup(row->release);
	snprintf(pin->sha256, sizeof pin->sha256, "%s", row->sha256);
	pin->size = row->size;
	return pin->what && pin->url && pin->release ? 0 : -ENOMEM;
}

int img_pins_default(struct img_pins *p, struct nm_error *e)
{
	*p = (struct img_pins){0};
	int r = 0;
	for (size_t i = 0; i < NM_ELEMENTSOF(pin_rows) && r == 0; i++) {
		struct img_pin *pin = strcmp(pin_rows[i].what, "channel") == 0 ? &p->channel : &p->nix;
		r = pin_from_row(pin, &pin_rows[i]);
	}
	if (r < 0) {
		img_pins_free(p);
		return nm_fail(e, NM_ERR_RUNTIME, r, "out of memory");
	}
	return 0;
}

void img_pins_free(struct img_pins *p)
{
	pin_free(&p->channel);
	pin_free(&p->nix);
}

/* Where the path of a URL starts: after scheme://authority. NULL when it is not such a URL. */
static const char *url_path(const char *url)
{
	const char *sep = strstr(url, "://");
	if (!sep || sep == url)
		return NULL;
	const char *path = strchr(sep + 3, '/');
	return path ? path : url + strlen(url);
}

/* A URL goes into argv, logs and the target's /root/.nix-channels (one channel per line): a
 * space or control character in it is never part of a real URL, and a newline would add a line. */
static bool url_clean(const char *url)
{
	for (; *url; url++)
		if ((unsigned char)*url <= 0x20 || *url == 0x7f)
			return false;
	return true;
}

bool img_release_valid(const char *release)
{
	/* NixOS releases are YY.MM (05 and 11 by convention; any month is accepted). */
	if (!release || strlen(release) != 5 || release[2] != '.')
		return false;
	for (size_t i = 0; i < 5; i++)
		if (i != 2 && (release[i] < '0' || release[i] > '9'))
			return false;
	int month = (release[3] - '0') * 10 + (release[4] - '0');
	return month >= 1 && month <= 12;
}

int img_pin_apply_mirror(struct img_pin *pin, const char *mirror_url, struct nm_error *e)
{
	if (mirror_url && !url_clean(mirror_url))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--mirror: the URL contains a space or control character; give the base, e.g. "
			       "file:///srv/mirror or http://host:8080");
	_cleanup_free_ char *shown = nm_url_redact(mirror_url ? mirror_url : "(none)");
	if (!shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (!mirror_url || !url_path(mirror_url))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--mirror %s: not a URL; give the base, e.g. file:///srv/mirror or http://host:8080",
			       shown);
	const char *path = url_path(pin->url);
	if (!path) {
		_cleanup_free_ char *pin_shown = nm_url_redact(pin->url);
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s pin: '%s' is not a URL", pin->what,
			       pin_shown ? pin_shown : "?");
	}
	/* A query on the mirror (an access token) goes after the pin's path, not before it. */
	size_t base_len = strcspn(mirror_url, "?#");
	const char *query = mirror_url[base_len] == '?' ? mirror_url + base_len : "";
	size_t query_len = strcspn(query, "#");
	while (base_len > 0 && mirror_url[base_len - 1] == '/')
		base_len--;
	char *url = nm_strdup_printf("%.*s%.*s%.*s", (int)base_len, mirror_url, (int)strcspn(path, "?#"), path,
				     (int)query_len, query);
	if (!url)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	free(pin->url);
	pin->url = url;
	return 0;
}

int img_pin_override(struct img_pin *pin, const char *flag, const char *url, const char *sha256, const char *release,
		     struct nm_error *e)
{
	_cleanup_free_ char *shown = url ? nm_url_redact(url) : NULL;
	if (url && !shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (url && !sha256)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s %s: a URL without its SHA-256 is not accepted; add %s-sha256 HEX", flag, shown,
			       flag);
	if (sha256 && !img_sha256_hex_valid(sha256))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s-sha256 %s: not a SHA-256 (64 hexadecimal digits)", flag,
			       sha256);
	if (url && !url_clean(url))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: the URL contains a space or control character; give a URL (http://, https:// or "
			       "file://)",
			       flag);
	if (url && !url_path(url))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s %s: not a URL (http://, https:// or file://)", flag, shown);
	/* The release becomes system.stateVersion and the channel's name on the target. */
	if (release && !img_release_valid(release))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s-release: not a NixOS release; write YY.MM with a month 01-12, like 25.05", flag);
	char *new_url = url ? strdup(url) : NULL;
	char *new_release = release ? strdup(release) : NULL;
	if ((url && !new_url) || (release && !new_release)) {
		free(new_url);
		free(new_release);
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	}
	if (new_url) {
		free(pin->url);
		pin->url = new_url;
		pin->size = 0; /* the compiled-in size belongs to the compiled-in file */
	}
	if (new_release) {
		free(pin->release);
		pin->release = new_release;
	}
	if (sha256) {
		for (size_t i = 0; i < IMG_SHA256_HEX_LEN; i++)
			pin->sha256[i] =
			    (char)(sha256[i] >= 'A' && sha256[i] <= 'F' ? sha256[i] - 'A' + 'a' : sha256[i]);
		pin->sha256[IMG_SHA256_HEX_LEN] = '\0';
	}
	return 0;
}

int img_pin_check(const struct img_pin *pin, struct nm_error *e)
{
	if (img_sha256_hex_valid(pin->sha256))
		return 0;
	const char *flag = strcmp(pin->what, "channel") == 0 ? "--channel" : "--nix-tarball";
	_cleanup_free_ char *shown = nm_url_redact(pin->url);
	return nm_fail(e, NM_ERR_USAGE, EINVAL,
		       "%s pin %s has no SHA-256 in this build (no trusted published value was known when it was "
		       "written); pass %s URL %s-sha256 HEX, or regenerate the table with scripts/update-pins",
		       pin->what, shown ? shown : "?", flag, flag);
}

static json_object *pin_to_json(const struct img_pin *pin)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *shown = nm_url_redact(pin->url); /* plan.json, report.json: no secret */
	json_object_object_add(o, "url", shown ? json_object_new_string(shown) : NULL);
	json_object_object_add(o, "sha256", pin->sha256[0] ? json_object_new_string(pin->sha256) : NULL);
	json_object_object_add(o, "size", pin->size ? json_object_new_int64((int64_t)pin->size) : NULL);
	json_object_object_add(o, "release", json_object_new_string(pin->release ? pin->release : ""));
	return o;
}

json_object *img_pins_to_json(const struct img_pins *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "channel", pin_to_json(&p->channel));
	json_object_object_add(o, "nix", pin_to_json(&p->nix));
	return o;
}

/* One pin of the config file: an object of string fields, each known; a mistyped or unknown
 * field is an error naming it, never silently the compiled-in pin. vals[i] is keys[i]'s value
 * or NULL. */
static int config_pin(json_object *o, const char *name, const char *const *keys, size_t n_keys, const char *known,
		      const char **vals, struct nm_error *e)
{
	if (!json_object_is_type(o, json_type_object))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: expected an object ({\"url\": ..., \"sha256\": ...}), found a %s", name,
			       json_type_to_name(json_object_get_type(o)));
	json_object_object_foreach(o, key, val)
	{
		size_t i = 0;
		while (i < n_keys && strcmp(keys[i], key) != 0)
			i++;
		if (i == n_keys)
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s.%s: unknown field; the %s pin has %s", name, key,
				       name, known);
		if (!json_object_is_type(val, json_type_string))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s.%s: expected a string, found a %s", name, key,
				       json_type_to_name(json_object_get_type(val)));
		vals[i] = json_object_get_string(val);
	}
	if (n_keys > 2 && vals[2] && !img_release_valid(vals[2]))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s.release: %s is not a NixOS release; write YY.MM with a month 01-12, like \"25.05\"",
			       name, json_object_to_json_string(json_object_object_get(o, "release")));
	return 0;
}

int img_pins_apply_config(struct img_pins *p, json_object *cfg, struct nm_error *e)
{
	static const char *const channel_keys[] = {"url", "sha256", "release"};
	static const char *const nix_keys[] = {"url", "sha256"};
	json_object *sub;
	int r = 0;
	if (json_object_object_get_ex(cfg, "channel", &sub)) {
		const char *v[3] = {0};
		r = config_pin(sub, "channel", channel_keys, 3, "url, sha256 and release", v, e);
		if (r == 0)
			r = img_pin_override(&p->channel, "channel", v[0], v[1], v[2], e);
	}
	if (r == 0 && json_object_object_get_ex(cfg, "nix", &sub)) {
		const char *v[2] = {0};
		r = config_pin(sub, "nix", nix_keys, 2, "url and sha256", v, e);
		if (r == 0)
			r = img_pin_override(&p->nix, "nix", v[0], v[1], NULL, e);
	}
	if (r == 0 && json_object_object_get_ex(cfg, "mirror", &sub)) {
		if (!json_object_is_type(sub, json_type_string))
			r = nm_fail(e, NM_ERR_USAGE, EINVAL,
				    "mirror: expected a string (a URL like \"http://host:8080\"), found a %s",
				    json_type_to_name(json_object_get_type(sub)));
		if (r == 0)
			r = img_pin_apply_mirror(&p->channel, json_object_get_string(sub), e);
		if (r == 0)
			r = img_pin_apply_mirror(&p->nix, json_object_get_string(sub), e);
	}
	if (r < 0)
		nm_error_prefix(e, "config");
	return r;
}
