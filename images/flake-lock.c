/* flake-lock.c: a nixpkgs pin from a deploy repository's flake.lock, and the handover files
 * that pin the installed nixpkgs again (flake.lock, nixpkgs.nix) — both in the shape Nix reads
 * and writes (lock version 7). */
#include "images/images-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOWS_MAX 32 /* a longer chain of inputs is a cycle */

/* The node an input of `from` points at: a node name, or a "follows" path of input names
 * walked from the root node. */
static json_object *resolve_input(json_object *nodes, const char *root, json_object *from, const char *input,
				  unsigned depth)
{
	json_object *inputs = NULL, *ref = NULL;
	if (depth > FOLLOWS_MAX || !json_object_object_get_ex(from, "inputs", &inputs) ||
	    !json_object_object_get_ex(inputs, input, &ref))
		return NULL;
	json_object *node = NULL;
	if (json_object_is_type(ref, json_type_string)) {
		json_object_object_get_ex(nodes, json_object_get_string(ref), &node);
		return node;
	}
	if (!json_object_is_type(ref, json_type_array))
		return NULL;
	json_object_object_get_ex(nodes, root, &node);
	for (size_t i = 0; node && i < json_object_array_length(ref); i++) {
		json_object *step = json_object_array_get_idx(ref, i);
		node = json_object_is_type(step, json_type_string)
		    ? resolve_input(nodes, root, node, json_object_get_string(step), depth + 1)
		    : NULL;
	}
	return node;
}

static int lock_error(const char *path, struct nm_error *e, const char *why)
{
	return nm_fail(e, NM_ERR_USAGE, EINVAL, "--nixpkgs-from %s: %s", path, why);
}

/* The node for `name`: the root's input of that name, else a node of that name. */
static int find_node(json_object *lock, const char *path, const char *name, json_object **node, struct nm_error *e)
{
	json_object *nodes = NULL, *v = NULL;
	if (!json_object_object_get_ex(lock, "version", &v) || json_object_get_int(v) != 7)
		return lock_error(path, e, "not a flake.lock of version 7 (as Nix 2.7 and later write them)");
	const char *root = nm_json_str(lock, "root");
	json_object *root_node = NULL;
	if (!root || !json_object_object_get_ex(lock, "nodes", &nodes) ||
	    !json_object_object_get_ex(nodes, root, &root_node))
		return lock_error(path, e, "no nodes or no root node: not a flake.lock");
	*node = resolve_input(nodes, root, root_node, name, 0);
	if (!*node)
		json_object_object_get_ex(nodes, name, node);
	if (*node)
		return 0;
	json_object *inputs = NULL;
	json_object_object_get_ex(root_node, "inputs", &inputs);
	return nm_fail(e, NM_ERR_USAGE, ENOENT,
		       "--nixpkgs-from %s: no input or node '%s'; the root's inputs are %s; name one with "
		       "--nixpkgs-node NAME",
		       path, name, inputs ? json_object_to_json_string(inputs) : "none");
}

static int pin_from_locked(struct img_nixpkgs_pin *p, const char *path, const char *name, json_object *node,
			   struct nm_error *e)
{
	json_object *locked = NULL, *original = NULL, *v = NULL;
	if (!json_object_object_get_ex(node, "locked", &locked))
		return lock_error(path, e, "the node has no 'locked' entry");
	const char *type = nm_json_str(locked, "type");
	const char *nar = nm_json_str(locked, "narHash");
	if (!type || (strcmp(type, "github") != 0 && strcmp(type, "tarball") != 0))
		return nm_fail(e, NM_ERR_USAGE, EINVAL,
			       "--nixpkgs-from %s: node '%s' is locked as type '%s'; nmmm-agent fetches 'github' and "
			       "'tarball' inputs (or give --nixpkgs URL --nixpkgs-hash HASH)",
			       path, name, type ? type : "(none)");
	if (!nar)
		return lock_error(path, e, "the locked input has no narHash");
	_cleanup_free_ char *sri = img_nar_hash_normalise(nar, "narHash", e);
	if (!sri)
		return -EINVAL;
	img_nixpkgs_pin_reset(p);
	p->nar_hash = NM_TAKE_PTR(sri);
	bool ok = true;
	if (strcmp(type, "github") == 0) {
		const char *owner = nm_json_str(locked, "owner"), *repo = nm_json_str(locked, "repo");
		const char *rev = nm_json_str(locked, "rev");
		if (!owner || !repo || !img_rev_valid(rev) || strpbrk(owner, "/ ") || strpbrk(repo, "/ "))
			return lock_error(path, e, "the github input lacks owner, repo or a 40-digit rev");
		ok = (p->owner = strdup(owner)) && (p->repo = strdup(repo)) && (p->rev = strdup(rev));
	} else {
		const char *url = nm_json_str(locked, "url");
		if (!url)
			return lock_error(path, e, "the tarball input has no url");
		ok = (p->url = strdup(url)) != NULL;
		const char *rev = nm_json_str(locked, "rev");
		if (ok && img_rev_valid(rev))
			ok = (p->rev = strdup(rev)) != NULL;
	}
	if (json_object_object_get_ex(locked, "lastModified", &v))
		p->last_modified = json_object_get_int64(v);
	const char *ref = json_object_object_get_ex(node, "original", &original) ? nm_json_str(original, "ref") : NULL;
	if (ok && ref)
		ok = (p->branch = strdup(ref)) != NULL;
	if (ok)
		ok = (p->origin = nm_strdup_printf("--nixpkgs-from %s", path)) != NULL;
	return ok ? 0 : nm_fail(e, NM_ERR_RUNTIME, ENOMEM, "out of memory");
}

int img_nixpkgs_from_flake_lock(struct img_nixpkgs_pin *p, const char *path, const char *node_name, struct nm_error *e)
{
	_cleanup_free_ char *text = NULL, *abs = realpath(path, NULL); /* a relative path is the operator's */
	size_t len = 0;
	int r = abs ? nm_read_file("/", abs, 16u << 20, &text, &len) : -errno;
	if (r < 0)
		return nm_fail(e, NM_ERR_USAGE, r, "--nixpkgs-from %s: cannot read: %s", path, strerror(-r));
	_cleanup_json_ json_object *lock = json_tokener_parse(text);
	if (!lock || !json_object_is_type(lock, json_type_object))
		return lock_error(path, e, "not JSON (a flake.lock is)");
	const char *name = node_name ? node_name : "nixpkgs";
	json_object *node = NULL;
	r = find_node(lock, path, name, &node, e);
	if (r == 0)
		r = pin_from_locked(p, path, name, node, e);
	return r;
}

/* JSON string literal of s (flake.lock's keys and values are plain ASCII in practice). */
static char *quoted(const char *s)
{
	_cleanup_json_ json_object *o = json_object_new_string(s);
	return o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE)) : NULL;
}

char *img_nixpkgs_flake_lock(const struct img_nixpkgs_pin *p)
{
	/* Keys sorted, two spaces, as `nix flake lock` writes them. */
	_cleanup_free_ char *nar = quoted(p->nar_hash);
	_cleanup_free_ char *locked = NULL, *original = NULL;
	_cleanup_free_ char *lm = p->last_modified
	    ? nm_strdup_printf("        \"lastModified\": %" PRId64 ",\n", p->last_modified)
	    : strdup("");
	if (p->rev && !p->url) {
		_cleanup_free_ char *owner = quoted(p->owner ? p->owner : "NixOS");
		_cleanup_free_ char *repo = quoted(p->repo ? p->repo : "nixpkgs");
		_cleanup_free_ char *rev = quoted(p->rev);
		_cleanup_free_ char *ref = p->branch ? quoted(p->branch) : NULL;
		locked = nm_strdup_printf("%s        \"narHash\": %s,\n        \"owner\": %s,\n        \"repo\": %s,\n"
					  "        \"rev\": %s,\n        \"type\": \"github\"\n",
					  lm, nar, owner, repo, rev);
		/* the flake's input names the branch (ref) when known, else the rev itself */
		original = ref
		    ? nm_strdup_printf("        \"owner\": %s,\n        \"ref\": %s,\n        \"repo\": %s,\n"
				       "        \"type\": \"github\"\n",
				       owner, ref, repo)
		    : nm_strdup_printf("        \"owner\": %s,\n        \"repo\": %s,\n        \"rev\": %s,\n"
				       "        \"type\": \"github\"\n",
				       owner, repo, rev);
	} else {
		_cleanup_free_ char *url = quoted(p->url);
		locked = nm_strdup_printf(
		    "%s        \"narHash\": %s,\n        \"type\": \"tarball\",\n        \"url\": %s\n", lm, nar, url);
		original = nm_strdup_printf("        \"type\": \"tarball\",\n        \"url\": %s\n", url);
	}
	if (!locked || !original)
		return NULL;
	return nm_strdup_printf("{\n  \"nodes\": {\n    \"nixpkgs\": {\n      \"locked\": {\n%s      },\n"
				"      \"original\": {\n%s      }\n    },\n    \"root\": {\n      \"inputs\": {\n"
				"        \"nixpkgs\": \"nixpkgs\"\n      }\n    }\n  },\n  \"root\": \"root\",\n"
				"  \"version\": 7\n}\n",
				locked, original);
}

char *img_nixpkgs_pin_nix(const struct img_nixpkgs_pin *p)
{
	unsigned char d[IMG_HASH_BYTES];
	struct nm_error e = {0};
	if (img_hash_parse(p->nar_hash, "narHash", d, &e) < 0)
		return NULL;
	_cleanup_free_ char *nix32 = img_hash_to_nix32(d);
	_cleanup_free_ char *url = img_nixpkgs_archive_url(p);
	if (!nix32 || !url)
		return NULL;
	return nm_strdup_printf("# The nixpkgs this server was installed from (%s%s%s), pinned by content:\n"
				"#   nixos-rebuild switch -I nixpkgs=\"$(nix-instantiate --eval nixpkgs.nix | tr -d "
				"'\"')\" ...\n"
				"builtins.fetchTarball {\n  url = \"%s\";\n  sha256 = \"%s\";\n}\n",
				p->branch ? p->branch : "", p->branch && p->rev ? " " : "", p->rev ? p->rev : "", url,
				nix32);
}
