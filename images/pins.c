/* pins.c: the compiled-in pins (nixpkgs by content, the Nix binary tarball for x86_64-linux)
 * and the ways an operator overrides them: --mirror, --nixpkgs URL --nixpkgs-hash HASH,
 * --nixpkgs-from flake.lock, --nix-tarball with its hash, or the config file. Every pin carries
 * its hash; nothing here downloads anything (nixpkgs.c fetches). */
#include "images/images-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

struct nixpkgs_row {
	const char *branch, *rev, *nar_hash, *release, *support_ends, *channel;
	int64_t last_modified;
};

struct pin_row {
	const char *what;
	const char *url;
	const char *sha256;
	uint64_t size;
	const char *release;
};

/* The block between the markers is rewritten by scripts/update-pins; keep its shape. */
/* BEGIN GENERATED PINS */
/* clang-format off */
/* Written by hand from published material (this machine cannot reach nixos.org or GitHub):
 * nixpkgs: the rev and NAR hash three independent flake.lock files record for nixos-26.05
 *   (home-manager release-26.05, nixvim nixos-26.05, srvos), the channel release holding that
 *   rev, and 26.05's end of support.
 * nix: URL and SHA-256 from Nix 2.35.2's install script (case Linux.x86_64), and its size. */
static const struct nixpkgs_row nixpkgs_row = {
	"nixos-26.05", "02e08985a27c65ffd33d434eeb2e660a2e4dc84d",
	"sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=", "26.05", "2026-12-31",
	"nixos-26.05.7675.02e08985a27c", 1786711500,
};
static const struct pin_row nix_row = {
	"nix", "https://releases.nixos.org/nix/nix-2.35.2/nix-2.35.2-x86_64-linux.tar.xz",
	"0c3960a9792331a22081c3c7a5d8465db9b17c50b3acdf18587fa4c6f2cb1158", 27131728ull, "2.35.2",
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

void img_nixpkgs_pin_free(struct img_nixpkgs_pin *p)
{
	char **fields[] = {&p->nar_hash, &p->rev,     &p->owner,	&p->repo,   &p->url,	&p->release,
			   &p->branch,	 &p->channel, &p->support_ends, &p->mirror, &p->origin, &p->origin_base};
	for (size_t i = 0; i < NM_ELEMENTSOF(fields); i++)
		free(*fields[i]);
	*p = (struct img_nixpkgs_pin){0};
}

/* *field = a copy of value (NULL stays NULL); false when out of memory. */
static bool set_str(char **field, const char *value)
{
	char *copy = value ? strdup(value) : NULL;
	if (value && !copy)
		return false;
	free(*field);
	*field = copy;
	return true;
}

static int nixpkgs_from_row(struct img_nixpkgs_pin *p, const struct nixpkgs_row *row)
{
	bool ok = set_str(&p->branch, row->branch) && set_str(&p->rev, row->rev) &&
	    set_str(&p->nar_hash, row->nar_hash) && set_str(&p->release, row->release) &&
	    set_str(&p->support_ends, row->support_ends) && set_str(&p->channel, row->channel) &&
	    set_str(&p->owner, "NixOS") && set_str(&p->repo, "nixpkgs") && set_str(&p->origin, IMG_NIXPKGS_COMPILED_IN);
	p->last_modified = row->last_modified;
	return ok ? 0 : -ENOMEM;
}

int img_pins_default(struct img_pins *p, struct nm_error *e)
{
	*p = (struct img_pins){0};
	int r = nixpkgs_from_row(&p->nixpkgs, &nixpkgs_row);
	if (r == 0)
		r = pin_from_row(&p->nix, &nix_row);
	if (r < 0) {
		img_pins_free(p);
		return nm_fail(e, NM_ERR_RUNTIME, r, "out of memory");
	}
	return 0;
}

void img_pins_free(struct img_pins *p)
{
	img_nixpkgs_pin_free(&p->nixpkgs);
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

static int mirror_check(const char *mirror_url, struct nm_error *e)
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
	return 0;
}

char *img_mirrored_url(const char *mirror_url, const char *origin_url)
{
	const char *path = url_path(origin_url);
	if (!path)
		return NULL;
	/* A query on the mirror (an access token) goes after the origin's path, not before it. */
	size_t base_len = strcspn(mirror_url, "?#");
	const char *query = mirror_url[base_len] == '?' ? mirror_url + base_len : "";
	size_t query_len = strcspn(query, "#");
	while (base_len > 0 && mirror_url[base_len - 1] == '/')
		base_len--;
	return nm_strdup_printf("%.*s%.*s%.*s", (int)base_len, mirror_url, (int)strcspn(path, "?#"), path,
				(int)query_len, query);
}

int img_pin_apply_mirror(struct img_pin *pin, const char *mirror_url, struct nm_error *e)
{
	int r = mirror_check(mirror_url, e);
	if (r < 0)
		return r;
	if (!url_path(pin->url)) {
		_cleanup_free_ char *pin_shown = nm_url_redact(pin->url);
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s pin: '%s' is not a URL", pin->what,
			       pin_shown ? pin_shown : "?");
	}
	char *url = img_mirrored_url(mirror_url, pin->url);
	if (!url)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	free(pin->url);
	pin->url = url;
	return 0;
}

int img_nixpkgs_set_mirror(struct img_nixpkgs_pin *p, const char *mirror_url, struct nm_error *e)
{
	int r = mirror_check(mirror_url, e);
	if (r == 0 && !set_str(&p->mirror, mirror_url))
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return r;
}

static int url_check(const char *flag, const char *url, struct nm_error *e)
{
	_cleanup_free_ char *shown = nm_url_redact(url);
	if (!shown)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (!url_clean(url))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: the URL contains a space or control character; give a URL (http://, https:// or "
			       "file://)",
			       flag);
	if (!url_path(url))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s %s: not a URL (http://, https:// or file://)", flag, shown);
	return 0;
}

static int release_check(const char *flag, const char *release, struct nm_error *e)
{
	/* The release becomes system.stateVersion and the channel's name on the target. */
	if (release && !img_release_valid(release))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: not a NixOS release; write YY.MM with a month 01-12, like 26.05", flag);
	return 0;
}

bool img_rev_valid(const char *rev)
{
	if (!rev || strlen(rev) != 40)
		return false;
	for (const char *c = rev; *c; c++)
		if (!strchr("0123456789abcdef", *c))
			return false;
	return true;
}

int img_nixpkgs_set_rev(struct img_nixpkgs_pin *p, const char *what, const char *rev, const char *nar_hash,
			struct nm_error *e)
{
	if (!p->rev || p->url)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: the nixpkgs pin is not named by a rev; nothing to replace",
			       what);
	if (!img_rev_valid(rev))
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "%s: '%.64s' is not a rev (40 lower-case hexadecimal digits)",
			       what, rev ? rev : "");
	_cleanup_free_ char *hash_what = nm_strdup_printf("%s NAR hash", what);
	if (!hash_what)
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	_cleanup_free_ char *sri = img_nar_hash_normalise(nar_hash ? nar_hash : "", hash_what, e);
	if (!sri)
		return e->code < 0 ? e->code : -EINVAL;
	if (!set_str(&p->rev, rev) || !set_str(&p->origin, what))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	free(p->nar_hash);
	p->nar_hash = NM_TAKE_PTR(sri);
	/* "nixos-26.05.7675.02e08985a27c" and the commit time describe the old rev, not this one. */
	free(p->channel);
	p->channel = NULL;
	p->last_modified = 0;
	return 0;
}

int img_nixpkgs_set_release(struct img_nixpkgs_pin *p, const char *flag, const char *release, struct nm_error *e)
{
	int r = release_check(flag, release, e);
	if (r == 0 && !set_str(&p->release, release))
		r = nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return r;
}

/* A NAR hash in any accepted form, normalised to SRI; NULL after a usage error. */
char *img_nar_hash_normalise(const char *text, const char *what, struct nm_error *e)
{
	unsigned char d[IMG_HASH_BYTES];
	if (img_hash_parse(text, what, d, e) < 0)
		return NULL;
	char *sri = img_hash_to_sri(d);
	if (!sri)
		nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return sri;
}

/* Everything but the mirror goes: a pin from elsewhere says nothing of the compiled-in rev. */
void img_nixpkgs_pin_reset(struct img_nixpkgs_pin *p)
{
	char *mirror = p->mirror, *origin_base = p->origin_base;
	p->mirror = p->origin_base = NULL;
	img_nixpkgs_pin_free(p);
	p->mirror = mirror;
	p->origin_base = origin_base;
}

int img_nixpkgs_override(struct img_nixpkgs_pin *p, const char *flag, const char *url, const char *nar_hash,
			 const char *release, struct nm_error *e)
{
	if (!url || !nar_hash)
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "%s: a tree is named by its URL and its NAR hash together; give both (--nixpkgs URL "
			       "--nixpkgs-hash HASH, or nixpkgs.url and nixpkgs.nar_hash in the config)",
			       flag);
	_cleanup_free_ char *what = nm_strdup_printf("%s hash", flag);
	_cleanup_free_ char *sri = what ? img_nar_hash_normalise(nar_hash, what, e) : NULL;
	if (!sri)
		return what ? -EINVAL : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	int r = url_check(flag, url, e);
	_cleanup_free_ char *rflag = nm_strdup_printf("%s-release", flag);
	if (r == 0)
		r = release_check(rflag ? rflag : flag, release, e);
	if (r < 0)
		return r;
	img_nixpkgs_pin_reset(p);
	p->nar_hash = NM_TAKE_PTR(sri);
	if (!set_str(&p->url, url) || !set_str(&p->release, release) || !set_str(&p->origin, flag))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	return 0;
}

void img_today_utc(char out[11])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

char *img_nixpkgs_support_warning(const struct img_nixpkgs_pin *p, const char *today)
{
	/* YYYY-MM-DD compares as text */
	if (!p->support_ends || !today || strcmp(today, p->support_ends) <= 0)
		return NULL;
	return nm_strdup_printf("the compiled-in nixpkgs (%s, NixOS %s) has been out of support since %s: it gets "
				"no more security fixes. Install from your deploy repository's pin with "
				"--nixpkgs-from flake.lock, or rebuild nmmm-agent after scripts/update-pins",
				p->branch ? p->branch : "?", p->release ? p->release : "?", p->support_ends);
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
	int r = url ? url_check(flag, url, e) : 0;
	if (r == 0)
		r = release_check(flag, release, e);
	if (r < 0)
		return r;
	if ((url && !set_str(&pin->url, url)) || (release && !set_str(&pin->release, release)))
		return nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
	if (url)
		pin->size = 0; /* the compiled-in size belongs to the compiled-in file */
	if (sha256) {
		for (size_t i = 0; i < IMG_SHA256_HEX_LEN; i++)
			pin->sha256[i] =
			    (char)(sha256[i] >= 'A' && sha256[i] <= 'F' ? sha256[i] - 'A' + 'a' : sha256[i]);
		pin->sha256[IMG_SHA256_HEX_LEN] = '\0';
	}
	return 0;
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

/* The fields of a nixpkgs pin as recorded (plan.json, report.json, the state for export). */
#define NIXPKGS_FIELDS(X)                                                                                              \
	X(nar_hash) X(rev) X(owner) X(repo) X(url) X(release) X(branch) X(channel) X(support_ends) X(origin)

json_object *img_nixpkgs_pin_to_json(const struct img_nixpkgs_pin *p)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *url = p->url ? nm_url_redact(p->url) : NULL; /* no secret is written */
	const struct img_nixpkgs_pin shown = {.nar_hash = p->nar_hash,
					      .rev = p->rev,
					      .owner = p->owner,
					      .repo = p->repo,
					      .url = url,
					      .release = p->release,
					      .branch = p->branch,
					      .channel = p->channel,
					      .support_ends = p->support_ends,
					      .origin = p->origin};
#define TO_JSON(f) json_object_object_add(o, #f, shown.f ? json_object_new_string(shown.f) : NULL);
	NIXPKGS_FIELDS(TO_JSON)
#undef TO_JSON
	json_object_object_add(o, "last_modified", p->last_modified ? json_object_new_int64(p->last_modified) : NULL);
	return o;
}

int img_nixpkgs_pin_from_json(json_object *o, struct img_nixpkgs_pin *p, struct nm_error *e)
{
	*p = (struct img_nixpkgs_pin){0};
	json_object *v = NULL;
	bool ok = json_object_is_type(o, json_type_object);
#define FROM_JSON(f)                                                                                                   \
	if (ok && json_object_object_get_ex(o, #f, &v) && json_object_is_type(v, json_type_string))                    \
		ok = set_str(&p->f, json_object_get_string(v));
	NIXPKGS_FIELDS(FROM_JSON)
#undef FROM_JSON
	if (ok && json_object_object_get_ex(o, "last_modified", &v))
		p->last_modified = json_object_get_int64(v);
	if (ok && p->nar_hash)
		return 0;
	img_nixpkgs_pin_free(p);
	return nm_fail(e, NM_ERR_RUNTIME, EBADMSG, "the recorded nixpkgs pin is not readable");
}

json_object *img_pins_to_json(const struct img_pins *p)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "nixpkgs", img_nixpkgs_pin_to_json(&p->nixpkgs));
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
			       "%s.release: %s is not a NixOS release; write YY.MM with a month 01-12, like \"26.05\"",
			       name, json_object_to_json_string(json_object_object_get(o, "release")));
	return 0;
}

int img_pins_apply_config(struct img_pins *p, json_object *cfg, struct nm_error *e)
{
	static const char *const nixpkgs_keys[] = {"url", "nar_hash", "release"};
	static const char *const nix_keys[] = {"url", "sha256"};
	json_object *sub;
	int r = 0;
	if (json_object_object_get_ex(cfg, "nixpkgs", &sub)) {
		const char *v[3] = {0};
		r = config_pin(sub, "nixpkgs", nixpkgs_keys, 3, "url, nar_hash and release", v, e);
		if (r == 0 && (v[0] || v[1]))
			r = img_nixpkgs_override(&p->nixpkgs, "nixpkgs.url", v[0], v[1], v[2], e);
		else if (r == 0 && v[2])
			r = img_nixpkgs_set_release(&p->nixpkgs, "nixpkgs.release", v[2], e);
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
			r = img_nixpkgs_set_mirror(&p->nixpkgs, json_object_get_string(sub), e);
		if (r == 0)
			r = img_pin_apply_mirror(&p->nix, json_object_get_string(sub), e);
	}
	if (r < 0)
		nm_error_prefix(e, "config");
	return r;
}
