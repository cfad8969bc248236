/* images.h: the public face of images — pins, verified streaming fetch (libcurl + SHA-256),
 * safe unpack (libarchive), Nix bootstrap, system build and install. Nothing is used before its
 * hash matches. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

/* ---- SHA-256: its three texts (hash.c) and the NAR hash of a tree (nar.c) ---- */

#define IMG_SHA256_HEX_LEN 64
#define IMG_HASH_BYTES 32

/* True when `hex` is exactly 64 hexadecimal digits (either case). */
bool img_sha256_hex_valid(const char *hex);
/* Parses a SHA-256 given as SRI ("sha256-" and 44 base64 characters, as flake.lock's narHash),
 * nix32 (52 characters of Nix's alphabet, written from the last byte first, as fetchTarball's
 * sha256) or hex (64 digits, either case). A usage error names `what` ("--nar-hash") and the
 * accepted forms. */
int img_hash_parse(const char *text, const char *what, unsigned char out[IMG_HASH_BYTES], struct nm_error *e);
/* The digest as text, malloc'd (NULL when out of memory): "sha256-…=", nix32, lower-case hex. */
char *img_hash_to_sri(const unsigned char d[IMG_HASH_BYTES]);
char *img_hash_to_nix32(const unsigned char d[IMG_HASH_BYTES]);
char *img_hash_to_hex(const unsigned char d[IMG_HASH_BYTES]);
/* The NAR hash of `path` as `nix-hash --type sha256 PATH` computes it: a regular file, a symlink
 * (not followed) or a directory tree, streamed into SHA-256. Only the owner's execute bit of a
 * file counts, as in Nix. Device nodes, FIFOs and sockets are refused (NM_ERR_VERIFY, naming the
 * path); read failures are NM_ERR_RUNTIME. `path` is hashed as it is: whether a directory
 * holding one directory stands for that one (an unpacked tarball) is the caller's decision. */
int img_nar_hash_path(const char *path, unsigned char out[IMG_HASH_BYTES], struct nm_error *e);

/* ---- pins: what install downloads, compiled in, overridable ---- */

/* A file pin (the Nix binary tarball): its URL, SHA-256 and byte size. */
struct img_pin {
	char *what; /* "nix": names the pin in messages */
	char *url;
	char sha256[IMG_SHA256_HEX_LEN + 1]; /* lower-case hex */
	uint64_t size; /* bytes; 0 = not known (an operator's --nix-tarball) */
	char *release; /* its version */
};

/* The nixpkgs tree, pinned by content: a NAR hash, and where a tree with that hash is found —
 * a git revision (fetched as its GitHub archive or its channel tarball) or a URL. */
struct img_nixpkgs_pin {
	char *nar_hash; /* SRI, normalised */
	char *rev; /* 40 hex digits; NULL when the tree is named by URL alone */
	char *owner, *repo; /* the GitHub repository of rev ("NixOS", "nixpkgs") */
	char *url; /* a tree named by URL (--nixpkgs, a flake.lock tarball input); NULL = by rev */
	char *release; /* "26.05" (system.stateVersion); NULL = the verified tree's .version says */
	char *branch; /* "nixos-26.05"; NULL when not known */
	char *channel; /* the channel release holding rev ("nixos-26.05.7675.02e08985a27c") or NULL */
	char *support_ends; /* YYYY-MM-DD, the compiled-in release's end of support; NULL for others */
	char *mirror; /* --mirror base, tried first; NULL = none */
	char *origin; /* how the pin was named, for messages: IMG_NIXPKGS_COMPILED_IN, "--nixpkgs", ... */
	/* Tests only: replaces https://github.com, https://releases.nixos.org and
	 * https://channels.nixos.org in the sources (a loopback server); NULL = the real ones. */
	char *origin_base;
	int64_t last_modified; /* the rev's commit time (flake.lock lastModified); 0 = not known */
};

/* The origin of the compiled-in nixpkgs pin, until something replaces it. */
#define IMG_NIXPKGS_COMPILED_IN "compiled in"

struct img_pins {
	struct img_nixpkgs_pin nixpkgs;
	struct img_pin nix; /* Nix binary tarball, x86_64-linux */
};

/* Fills `p` with copies of the compiled-in table (pins.c). */
int img_pins_default(struct img_pins *p, struct nm_error *e);
void img_pins_free(struct img_pins *p);
#define _cleanup_img_pins_ _cleanup_(img_pins_free)
void img_nixpkgs_pin_free(struct img_nixpkgs_pin *p);
/* Rewrites the pin's scheme://host to `mirror_url`, keeping the path: a mirror is a directory
 * laid out like the origin (file:///srv/mirror, http://127.0.0.1:8080/base). */
int img_pin_apply_mirror(struct img_pin *pin, const char *mirror_url, struct nm_error *e);
/* Records the mirror nixpkgs is tried from first (same URL checks as img_pin_apply_mirror). */
int img_nixpkgs_set_mirror(struct img_nixpkgs_pin *p, const char *mirror_url, struct nm_error *e);
/* Replaces the pin's URL and hash (both required: a URL without a hash is a usage error) and,
 * when given, its release. `flag` names the option in messages ("--nix-tarball"). */
int img_pin_override(struct img_pin *pin, const char *flag, const char *url, const char *sha256, const char *release,
		     struct nm_error *e);
/* Another nixpkgs tree by URL and NAR hash (both required), replacing the whole pin but its
 * mirror; `release` when given (else the tree's .version). `flag` names the option. */
int img_nixpkgs_override(struct img_nixpkgs_pin *p, const char *flag, const char *url, const char *nar_hash,
			 const char *release, struct nm_error *e);
/* A git revision as a pin names it: exactly 40 lower-case hexadecimal digits. */
bool img_rev_valid(const char *rev);
/* Replaces the rev and NAR hash of a pin by rev, keeping its repository, branch and release (a
 * test's stand-in tree in place of the compiled-in one); what belonged to the old rev alone, its
 * channel release and commit time, goes. `what` names the values in usage errors and becomes
 * the pin's origin. The tree is verified by the new NAR hash as any other. */
int img_nixpkgs_set_rev(struct img_nixpkgs_pin *p, const char *what, const char *rev, const char *nar_hash,
			struct nm_error *e);
/* Sets the release (system.stateVersion) of whatever tree is pinned. */
int img_nixpkgs_set_release(struct img_nixpkgs_pin *p, const char *flag, const char *release, struct nm_error *e);
/* The pin from a flake.lock (version 7): the root's input `node` (default "nixpkgs"), locked as
 * type github (owner, repo, rev, narHash) or tarball (url, narHash); any other type is refused
 * naming it. Replaces the whole pin but its mirror. */
int img_nixpkgs_from_flake_lock(struct img_nixpkgs_pin *p, const char *path, const char *node, struct nm_error *e);
/* A NixOS release as system.stateVersion takes it: "YY.MM", a month 01-12 ("26.05", "24.11"). */
bool img_release_valid(const char *release);
/* The warning to give when `today` (YYYY-MM-DD) is past the pin's end of support, else NULL. */
char *img_nixpkgs_support_warning(const struct img_nixpkgs_pin *p, const char *today);
/* Today's date in UTC as YYYY-MM-DD, for img_nixpkgs_support_warning. */
void img_today_utc(char out[11]);
json_object *img_pins_to_json(const struct img_pins *p);
json_object *img_nixpkgs_pin_to_json(const struct img_nixpkgs_pin *p);
/* Where a tree with the pinned NAR hash is looked for, in order (nixpkgs.c): the --mirror
 * (the origin's path under it: NixOS/nixpkgs/archive/REV.tar.gz, and for the compiled-in pin
 * also nixos/26.05/nixos-26.05.N.REV/nixexprs.tar.xz), then the GitHub archive of the rev, then
 * the release's channel tarball (releases.nixos.org; a pin from a flake.lock with a nixos-*
 * branch: channels.nixos.org/BRANCH, whose .git-revision must still be the rev); a tree named by
 * URL: the mirror, then the URL. */
struct img_source {
	char *url;
	bool channel; /* a channel tarball: its .git-revision must be the rev, its additions go */
};
int img_nixpkgs_sources(const struct img_nixpkgs_pin *p, struct img_source **out, size_t *n, struct nm_error *e);
void img_sources_free(struct img_source *s, size_t n);
/* Fetches the pinned tree into `dest` (must not exist), trying each source until one verifies
 * (img_fetch with the NAR hash; `base` lends ca_file, root, progress). All failing is
 * NM_ERR_VERIFY when any tree had the wrong hash, else NM_ERR_RUNTIME, the message naming every
 * source tried, why it failed, and what to pass instead. *used = the source that verified. */
struct img_fetch_req;
int img_nixpkgs_fetch(const struct img_nixpkgs_pin *p, const struct img_fetch_req *base, const char *dest, char **used,
		      struct nm_error *e);
/* The release of a verified tree: its .version ("26.05", "26.11pre..." gives "26.11"). */
int img_nixpkgs_tree_release(const char *tree, char **release, struct nm_error *e);
/* The URL fetchTarball and a flake's tarball input name the pinned tree by: the GitHub archive
 * of the rev, else the pin's URL. */
char *img_nixpkgs_archive_url(const struct img_nixpkgs_pin *p);
/* The handover pins of the installed tree: a flake.lock whose input nixpkgs is locked as
 * `nix flake lock` writes it (github: owner, repo, rev, narHash, lastModified; else tarball),
 * and nixpkgs.nix, `builtins.fetchTarball { url; sha256 = nix32; }`. NULL when out of memory. */
char *img_nixpkgs_flake_lock(const struct img_nixpkgs_pin *p);
char *img_nixpkgs_pin_nix(const struct img_nixpkgs_pin *p);
/* Reads back img_nixpkgs_pin_to_json's object (the state file's record, for export). */
int img_nixpkgs_pin_from_json(json_object *o, struct img_nixpkgs_pin *p, struct nm_error *e);
/* Applies the config file's pin section: {"nixpkgs": {"url", "nar_hash", "release"},
 * "nix": {"url", "sha256"}, "mirror": URL} (every key optional; a url needs its hash). Each
 * value must be a string (the pins objects), a release YY.MM, URLs free of spaces and control
 * characters; an unknown key inside a pin is an error, as anywhere in the config. */
int img_pins_apply_config(struct img_pins *p, json_object *cfg, struct nm_error *e);

/* ---- verified streaming fetch ---- */

#define IMG_DEFAULT_RETRIES 5
#define IMG_DEFAULT_MAX_BYTES (8ull << 30) /* compressed stream and extracted total */
#define IMG_DEFAULT_MAX_ENTRIES 1000000ull /* archive entries; nixpkgs has about 60,000 */
#define IMG_DEFAULT_STALL_SEC 30 /* below 1 KiB/s for this long = stalled */

struct img_progress {
	uint64_t bytes; /* verified-stream bytes received so far */
	uint64_t total; /* expected total, 0 = unknown */
	double elapsed_sec;
	unsigned attempt; /* 1 for the first try */
	bool done; /* last call: the transfer finished (hash not yet judged) */
};
/* Called at most ~4 times a second and once with done=true. */
typedef void (*img_progress_fn)(void *userdata, const struct img_progress *p);

struct img_fetch_req {
	const char *url; /* http, https or file */
	const char *sha256; /* the file's SHA-256, 64 hex digits; or: */
	const char *nar_hash; /* the unpacked tree's NAR hash (SRI, nix32 or hex); needs unpack_dir */
	/* nar_hash: called on the tree's root in staging before it is hashed (the channel tarball's
	 * additions are removed there); a failure ends the fetch with nothing left. NULL = none. */
	int (*tree_prepare)(void *data, const char *root, struct nm_error *e);
	void *tree_prepare_data;
	const char *out_file; /* exactly one of out_file and unpack_dir */
	const char *unpack_dir; /* must not exist yet; with nar_hash it becomes the tree's root */
	unsigned retries; /* further attempts after the first; IMG_DEFAULT_RETRIES when retries_set is false */
	bool retries_set;
	uint64_t max_bytes; /* 0 = IMG_DEFAULT_MAX_BYTES; unpacked, each entry also counts 512 bytes + its names */
	uint64_t max_entries; /* unpack: 0 = IMG_DEFAULT_MAX_ENTRIES */
	uint64_t expected_size; /* 0 = unknown; else the stream must be exactly this long */
	const char *ca_file; /* NULL = the first of the usual Debian and Red Hat bundles */
	const char *root; /* where to look for the CA bundle; NULL = "/" */
	unsigned stall_sec; /* 0 = IMG_DEFAULT_STALL_SEC */
	unsigned backoff_ms; /* first retry delay, doubled each time; 0 = 500 */
	/* Absolute symlink targets starting with this prefix are allowed in an unpacked archive
	 * (the Nix tarball's store links point into /nix/store/); NULL = none are. */
	const char *symlink_prefix_allowed;
	img_progress_fn progress;
	void *progress_data;
};

struct img_fetch_result {
	uint64_t bytes; /* length of the verified stream */
	unsigned attempts;
	uint64_t entries; /* unpack: archive entries written */
	uint64_t extracted_bytes; /* unpack: file bytes written */
	char sha256[IMG_SHA256_HEX_LEN + 1]; /* of the downloaded file, verified when it was asked for */
	unsigned char nar_hash[IMG_HASH_BYTES]; /* nar_hash: of the tree, verified */
	bool have_nar_hash;
};

/* Downloads `url` in one streaming pass — SHA-256 and (for unpack_dir) libarchive read the same
 * bytes as they arrive — resuming with HTTP Range after a dropped connection. Exactly one of
 * sha256 (the file) and nar_hash (the unpacked tree) is given. Only when the hash matches is
 * FILE.part renamed to out_file, or the staging directory DIR.part-XXXXXX renamed to unpack_dir.
 * With nar_hash, as Nix does for fetchTarball and GitHub archives, a staging directory holding
 * exactly one entry that is a directory (nixpkgs-<rev>/) stands for that directory: its NAR hash
 * is judged and it becomes unpack_dir (unpack_dir/default.nix). Any failure leaves nothing behind. Errors: NM_ERR_USAGE for a bad request,
 * NM_ERR_VERIFY for a hash/size mismatch, a size limit or an unsafe archive entry,
 * NM_ERR_RUNTIME for network and file-system failures. */
int img_fetch(const struct img_fetch_req *req, struct img_fetch_result *res, struct nm_error *e);

/* The CA bundle a fetch uses when none is given: the first present of
 * /etc/ssl/certs/ca-certificates.crt (Debian) and /etc/pki/tls/certs/ca-bundle.crt (Red Hat)
 * under `root`; *path is NULL when neither exists. */
int img_ca_bundle(const char *root, char **path);

/* ---- Nix: bootstrap, system build, install (nixos.c) ----
 * Nix runs single-user as root. Every nix command goes through nm_run with the environment
 * img_nix_env() makes; nothing here touches a disk: the target is a directory (the mounted
 * target root) given by the caller. */

struct img_nix {
	char *bin_dir; /* holds nix-build, nix-env, nix-store */
	char *substituters; /* "" for none (tests, offline), else a space-separated list */
	char *trusted_keys; /* trusted-public-keys for those substituters */
};

struct img_system {
	char *toplevel; /* store path of config.system.build.toplevel */
	char *installer; /* store path of config.system.build.nixos-install */
};

/* --nix-from-path: a Nix already installed (Debian's nix-bin in the tests). */
int img_nix_from_path(struct img_nix *nix, struct nm_error *e);
/* The official binary tarball, already verified and unpacked in `unpacked_dir` (holding
 * `store/` and `.reginfo`, possibly under one top directory): its store paths are copied into
 * <nix_root>/nix/store and registered. nix_root is "/" on a rescue system. */
int img_nix_bootstrap(const char *unpacked_dir, const char *nix_root, struct img_nix *nix, struct nm_error *e);
/* A Nix whose tools are in bin_dir (a resumed install re-creates its Nix this way). */
int img_nix_at(const char *bin_dir, struct img_nix *nix, struct nm_error *e);
void img_nix_free(struct img_nix *nix);
#define _cleanup_img_nix_ _cleanup_(img_nix_free)
/* NULL-terminated "NAME=value" list for nm_run (NIX_CONFIG, PATH); caller frees with nm_strv_free. */
char **img_nix_env(const struct img_nix *nix);

/* Builds toplevel and nixos-install of `configuration_nix` against the channel at channel_dir
 * (a nixpkgs tree: default.nix, nixos/, .version) into the local store, or into the store
 * under store_root when it is not NULL. gcroot_dir keeps out-links so nothing is collected. */
int img_system_build(const struct img_nix *nix, const char *channel_dir, const char *configuration_nix,
		     const char *store_root, const char *gcroot_dir, struct img_system *sys, struct nm_error *e);
/* Evaluates the same system without building it (nix-instantiate): catches every error in the
 * rendered files before the disks are touched when the build itself must wait for the target
 * store. sys->toplevel and sys->installer are then .drv paths. */
int img_system_instantiate(const struct img_nix *nix, const char *channel_dir, const char *configuration_nix,
			   const char *gcroot_dir, struct img_system *sys, struct nm_error *e);
void img_system_free(struct img_system *sys);
#define _cleanup_img_system_ _cleanup_(img_system_free)
/* Runs the channel's nixos-install for the built system onto target_root: copies the closure,
 * installs the boot loader (a failure fails the install). */
int img_system_install(const struct img_nix *nix, const struct img_system *sys, const char *target_root,
		       struct nm_error *e);
/* Registers the channel as root's `nixos` channel on the target: `channel_parent` is a directory
 * whose only entry `nixos/` is the channel tree; channel_url goes into /root/.nix-channels. */
int img_channel_register(const struct img_nix *nix, const char *channel_parent, const char *channel_url,
			 const char *target_root, struct nm_error *e);
