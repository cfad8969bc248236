/* test_img_nixos.c: building and installing with real Nix (Debian's nix-bin) against the
 * miniature channel (tests/fixtures/mini-channel, the stand-in for nixpkgs), bootstrapping Nix
 * from a tarball laid out like the official one, and registering the channel on a target. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "images/images.h"
#include "nix_test_env.h"

static char work[64];
static char channel[512];

static void sh(const char *script)
{
	const char *argv[] = {"sh", "-ec", script, NULL};
	struct nm_error e = {0};
	struct nm_run_result res;
	struct nm_run_opts opts = {.extra_env = nix_test_env};
	int r = nm_run(argv, &opts, &res, &e);
	if (r < 0)
		fail_msg("%s: %s", script, e.msg);
	nm_run_result_free(&res);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	char *s = NULL;
	if (nm_read_file("/", path, 0, &s, NULL) < 0)
		return NULL;
	return s;
}

static int setup(void **state)
{
	strcpy(work, "/tmp/nmmm-test-nixos-XXXXXX");
	assert_non_null(mkdtemp(work));
	/* The channel as install lays it out: <parent>/nixos is the channel tree. */
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "mkdir -p %s/channel && cp -a %s/mini-channel %s/channel/nixos && mkdir %s/target %s/gc", work,
		 NMMM_FIXTURES, work, work, work);
	sh(cmd);
	snprintf(channel, sizeof channel, "%s/channel/nixos", work);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", work);
	sh(cmd);
	return 0;
}

static void write_config(const char *grub_device, const char *extra)
{
	char p[256], text[2048];
	snprintf(p, sizeof p, "%s/hardware-configuration.nix", work);
	snprintf(
	    text, sizeof text,
	    "{ config, lib, pkgs, modulesPath, ... }: {\n"
	    "  imports = [ (modulesPath + \"/installer/scan/not-detected.nix\") ];\n"
	    "  fileSystems.\"/\" = { device = \"/dev/disk/by-uuid/5b2c0f4e-0000-4000-8000-000000000001\"; fsType = "
	    "\"ext4\"; };\n"
	    "  boot.loader.grub.devices = [ \"%s\" ];\n"
	    "  %s\n"
	    "}\n",
	    grub_device, extra);
	write_text(p, text);
	snprintf(p, sizeof p, "%s/configuration.nix", work);
	write_text(p,
		   "{ config, lib, pkgs, ... }: {\n  imports = [ ./hardware-configuration.nix ];\n"
		   "  networking.hostName = \"web1\";\n  system.stateVersion = \"26.05\";\n}\n");
}

static void nix_offline(struct img_nix *nix)
{
	struct nm_error e = {0};
	assert_int_equal(img_nix_from_path(nix, &e), 0);
	free(nix->substituters);
	nix->substituters = strdup(""); /* no network here */
}

static void build_install_and_register_channel(void **state)
{
	struct img_nix nix = {0};
	struct img_system sys = {0};
	struct nm_error e = {0};
	char cfg[256], target[256], gc[256], parent[256], p[512];
	nix_offline(&nix);
	/* /dev/null is a device that exists in the chroot's bind-mounted /dev: GRUB's stand-in target. */
	write_config("/dev/null", "");
	snprintf(cfg, sizeof cfg, "%s/configuration.nix", work);
	snprintf(target, sizeof target, "%s/target", work);
	snprintf(gc, sizeof gc, "%s/gc", work);
	snprintf(parent, sizeof parent, "%s/channel", work);

	assert_int_equal(img_system_build(&nix, channel, cfg, NULL, gc, &sys, &e), 0);
	assert_non_null(strstr(sys.toplevel, "-nixos-system-web1-26.05pre-git"));
	assert_non_null(strstr(sys.installer, "-nixos-install-toy"));
	snprintf(p, sizeof p, "%s/config.json", sys.toplevel);
	_cleanup_free_ char *built = slurp(p);
	assert_non_null(built);
	assert_non_null(strstr(built, "\"device\":\"/dev/disk/by-uuid/5b2c0f4e-0000-4000-8000-000000000001\""));

	assert_int_equal(img_system_install(&nix, &sys, target, &e), 0);
	snprintf(p, sizeof p, "%s/boot/nmmm-toy-bootloader", target);
	_cleanup_free_ char *boot = slurp(p);
	assert_non_null(boot);
	assert_string_equal(boot, "grub-bios /dev/null\n");
	snprintf(p, sizeof p, "%s/var/log/nmmm-toy-switch.log", target);
	_cleanup_free_ char *sw = slurp(p);
	assert_non_null(sw);
	assert_string_equal(sw, "switch-to-configuration boot NIXOS_INSTALL_BOOTLOADER=1\n");

	assert_int_equal(img_channel_register(&nix, parent, "https://channels.nixos.org/nixos-26.05", target, &e), 0);
	snprintf(p, sizeof p, "%s/nix/var/nix/profiles/per-user/root/channels/nixos/nixos/default.nix", target);
	char real[512];
	assert_non_null(realpath(p, real) ? real : NULL);
	snprintf(p, sizeof p, "%s/root/.nix-channels", target);
	_cleanup_free_ char *channels = slurp(p);
	assert_string_equal(channels, "https://channels.nixos.org/nixos-26.05 nixos\n");

	/* The system profile in the target points at the built system, and the target store holds
	 * the whole closure with intact contents. */
	char link[512];
	snprintf(p, sizeof p, "%s/nix/var/nix/profiles/system-1-link", target);
	ssize_t n = readlink(p, link, sizeof link - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal(link, sys.toplevel);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "nix-store --store %s --verify --check-contents", target);
	sh(cmd);
	img_system_free(&sys);
	img_nix_free(&nix);
}

static void build_fails_on_evaluation_error(void **state)
{
	struct img_nix nix = {0};
	struct img_system sys = {0};
	struct nm_error e = {0};
	char cfg[256], gc[256];
	nix_offline(&nix);
	write_config("/dev/null", "boot.initrd.availableKernelModules = [ \"nvme\" ] ++ undefinedThing;");
	snprintf(cfg, sizeof cfg, "%s/configuration.nix", work);
	snprintf(gc, sizeof gc, "%s/gc", work);
	assert_true(img_system_build(&nix, channel, cfg, NULL, gc, &sys, &e) < 0);
	assert_int_equal(e.cls, NM_ERR_RUNTIME);
	assert_non_null(strstr(e.msg, "building the system failed (nothing was touched on the disks)"));
	assert_non_null(strstr(e.msg, "error: undefined variable 'undefinedThing'"));
	assert_null(sys.toplevel);
	img_nix_free(&nix);
}

static void instantiate_evaluates_without_building(void **state)
{
	struct img_nix nix = {0};
	struct img_system sys = {0};
	struct nm_error e = {0};
	char cfg[256], gc[256];
	nix_offline(&nix);
	write_config("/dev/null", "");
	snprintf(cfg, sizeof cfg, "%s/configuration.nix", work);
	snprintf(gc, sizeof gc, "%s/gc", work);
	assert_int_equal(img_system_instantiate(&nix, channel, cfg, gc, &sys, &e), 0);
	assert_non_null(strstr(sys.toplevel, "-nixos-system-web1-26.05pre-git.drv"));
	assert_non_null(strstr(sys.installer, "-nixos-install-toy.drv"));
	img_system_free(&sys);

	/* A failed NixOS assertion is an evaluation error: caught without building anything. */
	write_config("/dev/null", "boot.swraid.enable = true; boot.swraid.mdadmConf = \"HOMEHOST nmmm\";");
	struct nm_error e2 = {0};
	assert_true(img_system_instantiate(&nix, channel, cfg, gc, &sys, &e2) < 0);
	assert_non_null(strstr(e2.msg, "Neither MAILADDR nor PROGRAM has been set"));
	img_nix_free(&nix);
}

static void install_fails_when_boot_loader_fails(void **state)
{
	struct img_nix nix = {0};
	struct img_system sys = {0};
	struct nm_error e = {0};
	char cfg[256], gc[256], target[256];
	nix_offline(&nix);
	write_config("/dev/disk/by-id/nmmm-no-such-disk", "");
	snprintf(cfg, sizeof cfg, "%s/configuration.nix", work);
	snprintf(gc, sizeof gc, "%s/gc", work);
	snprintf(target, sizeof target, "%s/target", work);
	assert_int_equal(img_system_build(&nix, channel, cfg, NULL, gc, &sys, &e), 0);
	assert_true(img_system_install(&nix, &sys, target, &e) < 0);
	assert_non_null(strstr(e.msg, "nixos-install onto"));
	assert_non_null(strstr(e.msg, "cannot find a GRUB drive for /dev/disk/by-id/nmmm-no-such-disk"));
	img_system_free(&sys);
	img_nix_free(&nix);
}

/* The official Nix tarball cannot be fetched here; this one has its layout (a top directory,
 * store/ with the nix-<version> package, .reginfo from nix-store --dump-db) and its nix-store
 * is a wrapper around Debian's. */
static void bootstrap_registers_tarball_store(void **state)
{
	char cmd[2048];
	snprintf(
	    cmd, sizeof cmd,
	    "cd %s && mkdir -p pkg/nix-2.8.0/bin && "
	    "printf '#!/bin/sh\\nexec /usr/bin/nix-store \"$@\"\\n' > pkg/nix-2.8.0/bin/nix-store && "
	    "chmod +x pkg/nix-2.8.0/bin/nix-store && "
	    "p=$(nix-store --store local?root=%s/src --add pkg/nix-2.8.0) && "
	    "mkdir -p tarball/nix-2.8.0-x86_64-linux/store && cp -a src$p tarball/nix-2.8.0-x86_64-linux/store/ && "
	    "nix-store --store local?root=%s/src --dump-db $p > tarball/nix-2.8.0-x86_64-linux/.reginfo",
	    work, work, work);
	sh(cmd);
	struct img_nix nix = {0};
	struct nm_error e = {0};
	char tarball[256], root[256];
	snprintf(tarball, sizeof tarball, "%s/tarball", work);
	snprintf(root, sizeof root, "%s/newroot", work);
	assert_int_equal(img_nix_bootstrap(tarball, root, &nix, &e), 0);
	assert_non_null(strstr(nix.bin_dir, "/newroot/nix/store/"));
	assert_non_null(strstr(nix.bin_dir, "-nix-2.8.0/bin"));
	snprintf(cmd, sizeof cmd,
		 "nix-store --store local?root=%s --verify --check-contents && "
		 "nix-store --store local?root=%s -q --references $(dirname %s | sed 's|^%s||') >/dev/null",
		 root, root, nix.bin_dir, root);
	sh(cmd);
	img_nix_free(&nix);

	struct nm_error e2 = {0};
	snprintf(tarball, sizeof tarball, "%s/gc", work);
	assert_true(img_nix_bootstrap(tarball, root, &nix, &e2) < 0);
	assert_int_equal(e2.cls, NM_ERR_VERIFY);
	assert_non_null(strstr(e2.msg, "not a Nix binary tarball"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(build_install_and_register_channel, setup, teardown),
	    cmocka_unit_test_setup_teardown(build_fails_on_evaluation_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(instantiate_evaluates_without_building, setup, teardown),
	    cmocka_unit_test_setup_teardown(install_fails_when_boot_loader_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(bootstrap_registers_tarball_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
