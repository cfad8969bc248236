/* images.h: the public face of images — pins, verified streaming fetch (libcurl + SHA-256),
 * safe unpack (libarchive), Nix bootstrap, system build and install. Nothing is used before its
 * hash matches. */
#pragma once

#include <json-c/json.h>

#include "common/common.h"

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
/* Runs the channel's nixos-install for the built system onto target_root: copies the closure,
 * installs the boot loader (a failure fails the install). */
int img_system_install(const struct img_nix *nix, const struct img_system *sys, const char *target_root,
		       struct nm_error *e);
/* Registers the channel as root's `nixos` channel on the target: `channel_parent` is a directory
 * whose only entry `nixos/` is the channel tree; channel_url goes into /root/.nix-channels. */
int img_channel_register(const struct img_nix *nix, const char *channel_parent, const char *channel_url,
			 const char *target_root, struct nm_error *e);
