/* test_render.c: hardware-configuration.nix and configuration.nix rendered from plans and
 * inventories built here, then parsed and evaluated by the real nix-instantiate (Debian's nix
 * 2.8) as functions of stub module arguments; the assertions are on the evaluated values
 * (addresses, routes, UUIDs, GRUB devices, mdadm.conf lines, keys), not on text. nixpkgs itself
 * cannot exist here, so `lib` is a stub with the two functions the files use. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/agent.h"
#include "disk/disk.h"
#include "netcfg/netcfg.h"
#include "nix_test_env.h"

#define KEY_ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQUMd4zOdeCgqYnBx6Q5Jq3qLx1Ux1vDbzZ8Wv3ZrC"

/* ---- a machine, built in C ---- */

struct fixture {
	struct disk_plan plan;
	struct disk_member_plan disks[2];
	struct disk_part_plan parts[2][4];
	struct disk_array_plan arrays[1];
	struct disk_fs_plan fs[4];
	struct net_inventory inv;
	struct net_nic nic;
	struct net_addr v4[2], v6[6];
	struct agent_machine_facts facts;
	char *nameservers[4];
	char *initrd[4], *kmods[2];
	char *keys[3];
	char *members[3];
	char *esp_opts[3];
	struct agent_render_input in;
	char dir[64];
};

static void add_part(struct fixture *f, int d, int i, unsigned number, enum disk_part_role role, const char *path)
{
	f->parts[d][i] = (struct disk_part_plan){.number = number, .role = role, .path = (char *)path};
	f->disks[d].n_parts = (size_t)i + 1;
}

/* A Hetzner-like dual-stack machine with two NVMe disks in RAID-1 booting legacy BIOS. Tests
 * change what they are about. */
static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->disks[0] = (struct disk_member_plan){.name = "nvme0n1",
						.path = "/dev/nvme0n1",
						.by_id = "/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ_S111",
						.by_path = "/dev/disk/by-path/pci-0000:01:00.0-nvme-1"};
	f->disks[1] = (struct disk_member_plan){.name = "nvme1n1",
						.path = "/dev/nvme1n1",
						.by_id = "/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ_S222",
						.by_path = "/dev/disk/by-path/pci-0000:02:00.0-nvme-1"};
	add_part(f, 0, 0, 1, DISK_PART_BIOS_BOOT, "/dev/nvme0n1p1");
	add_part(f, 0, 1, 2, DISK_PART_ESP, "/dev/nvme0n1p2");
	add_part(f, 0, 2, 4, DISK_PART_ROOT, "/dev/nvme0n1p4");
	add_part(f, 1, 0, 1, DISK_PART_BIOS_BOOT, "/dev/nvme1n1p1");
	add_part(f, 1, 1, 2, DISK_PART_ESP, "/dev/nvme1n1p2");
	add_part(f, 1, 2, 4, DISK_PART_ROOT, "/dev/nvme1n1p4");
	f->disks[0].parts = f->parts[0];
	f->disks[1].parts = f->parts[1];
	f->members[0] = "/dev/nvme0n1p4";
	f->members[1] = "/dev/nvme1n1p4";
	f->arrays[0] = (struct disk_array_plan){.name = "root",
						.device = "/dev/md/root",
						.level = 1,
						.metadata = "1.2",
						.uuid = "3a8e1f2c-9b7d-4e61-a0c4-5d2f8b9e7a10",
						.members = f->members};
	f->fs[0] = (struct disk_fs_plan){.device = "/dev/md/root",
					 .fstype = "ext4",
					 .uuid = "0b6f3c2a-1d4e-4f5a-8b9c-7d6e5f4a3b21",
					 .mountpoint = "/"};
	f->plan = (struct disk_plan){.uefi = false,
				     .homehost = "nmmm",
				     .disks = f->disks,
				     .n_disks = 2,
				     .arrays = f->arrays,
				     .n_arrays = 1,
				     .filesystems = f->fs,
				     .n_filesystems = 1};

	f->v4[0] = (struct net_addr){.address = "203.0.113.10", .prefix = 26};
	f->v6[0] = (struct net_addr){.address = "2a01:4f8:10a:1234::2", .prefix = 64};
	f->v6[1] = (struct net_addr){.address = "fe80::3e7c:3fff:fe12:3456", .prefix = 64, .link_local = true};
	f->nic = (struct net_nic){.name = "eth0",
				  .mac = "3c:7c:3f:12:34:56",
				  .driver = "igb",
				  .predicted_name = "enp35s0",
				  .pci_slot = "0000:23:00.0",
				  .physical = true,
				  .up = true,
				  .ipv4 = f->v4,
				  .n_ipv4 = 1,
				  .ipv6 = f->v6,
				  .n_ipv6 = 2};
	f->nameservers[0] = "185.12.64.2";
	f->nameservers[1] = "127.0.0.53";
	f->nameservers[2] = "2a01:4ff:ff00::add:1";
	f->inv = (struct net_inventory){.nics = &f->nic,
					.n_nics = 1,
					.ipv4_gateway = {.address = "203.0.113.1", .dev = "eth0"},
					.ipv6_gateway = {.address = "fe80::1", .dev = "eth0"},
					.nameservers = f->nameservers};
	f->initrd[0] = "nvme";
	f->initrd[1] = "ahci";
	f->initrd[2] = "xhci_pci";
	f->kmods[0] = "kvm-amd";
	f->facts =
	    (struct agent_machine_facts){.cpu_vendor = "amd", .virtualisation = "none", .kernel_modules = f->kmods};
	f->keys[0] = KEY_ED25519 " ops@example";
	f->in = (struct agent_render_input){.plan = &f->plan,
					    .inv = &f->inv,
					    .initrd_modules = f->initrd,
					    .facts = &f->facts,
					    .uplink = &f->nic,
					    .hostname = "web1",
					    .ssh_keys = f->keys,
					    .state_version = "25.05"};
	strcpy(f->dir, "/tmp/nix-render-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	return f;
}

/* UEFI: ESPs mounted at /boot and /boot-fallback-1. */
static void fixture_uefi(struct fixture *f)
{
	f->plan.uefi = true;
	f->esp_opts[0] = "fmask=0077";
	f->esp_opts[1] = "dmask=0077";
	f->fs[1] = (struct disk_fs_plan){.device = "/dev/nvme0n1p2",
					 .fstype = "vfat",
					 .uuid = "1A2B-3C4D",
					 .mountpoint = "/boot",
					 .options = f->esp_opts};
	f->fs[2] = (struct disk_fs_plan){.device = "/dev/nvme1n1p2",
					 .fstype = "vfat",
					 .uuid = "5E6F-7A8B",
					 .mountpoint = "/boot-fallback-1",
					 .options = f->esp_opts};
	f->plan.n_filesystems = 3;
	f->parts[0][1].size = f->parts[1][1].size = 1ull << 30;
}

static void fixture_free(struct fixture *f)
{
	const char *argv[] = {"rm", "-rf", f->dir, NULL};
	nm_run(argv, NULL, NULL, NULL);
	free(f);
}

/* ---- Nix ---- */

static char *run_nix(const char *const argv[], bool must_succeed)
{
	struct nm_run_opts opts = {.timeout_sec = 120, .extra_env = nix_test_env, .allow_failure = !must_succeed};
	struct nm_run_result res = {0};
	struct nm_error e = {0};
	if (nm_run(argv, &opts, &res, &e) < 0)
		fail_msg("%s", e.msg);
	return res.output;
}

/* Renders into f->dir, requires both files to parse, and evaluates them as functions of stub
 * module arguments. Returns { hw = ...; conf = ...; } as JSON. */
static json_object *render_and_eval(struct fixture *f)
{
	struct nm_error e = {0};
	if (agent_render(&f->in, f->dir, &e) < 0)
		fail_msg("render failed: %s", e.msg);
	const char *names[] = {"hardware-configuration.nix", "configuration.nix"};
	for (size_t i = 0; i < NM_ELEMENTSOF(names); i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
		const char *argv[] = {"nix-instantiate", "--parse", path, NULL};
		free(run_nix(argv, true));
	}
	/* The stub module arguments live in one place for the unit and integration tests. */
	const char *argv[] = {"nix-instantiate", "--eval", "--strict", "--json", NMMM_FIXTURES "/render-eval.nix",
			      "--argstr",	 "dir",	   f->dir,     NULL};
	char *out = run_nix(argv, true);
	char *last = out;
	for (char *nl = strchr(out, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n'))
		last = nl + 1;
	json_object *v = json_tokener_parse(last);
	if (!v)
		fail_msg("nix output is not JSON: %s", out);
	free(out);
	return v;
}

/* The value at a dotted path ("hw.boot.loader.grub.devices"); attribute names with dots are
 * given as separate components with '|' ("hw|fileSystems|/|device"). */
static json_object *at(json_object *root, const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	json_object *cur = root;
	char *save = NULL;
	for (char *k = strtok_r(copy, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
		if (json_object_is_type(cur, json_type_array)) {
			cur = json_object_array_get_idx(cur, (size_t)atoi(k));
		} else if (!json_object_object_get_ex(cur, k, &cur)) {
			return NULL;
		}
		if (!cur)
			return NULL;
	}
	return cur;
}

static void assert_str_at(json_object *root, const char *path, const char *want)
{
	json_object *v = at(root, path);
	if (!v || !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), want) != 0)
		fail_msg("%s: want \"%s\", got %s", path, want, v ? json_object_to_json_string(v) : "(absent)");
}

static void assert_bool_at(json_object *root, const char *path, bool want)
{
	json_object *v = at(root, path);
	if (!v || !json_object_is_type(v, json_type_boolean) || json_object_get_boolean(v) != want)
		fail_msg("%s: want %s, got %s", path, want ? "true" : "false",
			 v ? json_object_to_json_string(v) : "(absent)");
}

static void assert_len_at(json_object *root, const char *path, size_t want)
{
	json_object *v = at(root, path);
	if (!v || !json_object_is_type(v, json_type_array) || json_object_array_length(v) != want)
		fail_msg("%s: want a list of %zu, got %s", path, want, v ? json_object_to_json_string(v) : "(absent)");
}

static void assert_int_at(json_object *root, const char *path, int want)
{
	json_object *v = at(root, path);
	if (!v || !json_object_is_type(v, json_type_int) || json_object_get_int(v) != want)
		fail_msg("%s: want %d, got %s", path, want, v ? json_object_to_json_string(v) : "(absent)");
}

static const char *str_at(json_object *root, const char *path)
{
	json_object *v = at(root, path);
	if (!v || !json_object_is_type(v, json_type_string))
		fail_msg("%s: want a string, got %s", path, v ? json_object_to_json_string(v) : "(absent)");
	return json_object_get_string(v);
}

static void assert_absent(json_object *root, const char *path)
{
	json_object *v = at(root, path);
	if (v)
		fail_msg("%s: want absent, got %s", path, json_object_to_json_string(v));
}

/* ---- cases ---- */

static void dual_stack_bios_mirror_renders_addresses_routes_raid_and_grub_on_both_disks(void **state)
{
	struct fixture *f = fixture_new();
	json_object *v = render_and_eval(f);
	const char *net = "hw|systemd|network|networks|10-uplink";
	char p[256];
	snprintf(p, sizeof p, "%s|matchConfig|MACAddress", net);
	assert_str_at(v, p, "3c:7c:3f:12:34:56");
	snprintf(p, sizeof p, "%s|address", net);
	assert_len_at(v, p, 2);
	snprintf(p, sizeof p, "%s|address|0", net);
	assert_str_at(v, p, "203.0.113.10/32");
	snprintf(p, sizeof p, "%s|address|1", net);
	assert_str_at(v, p, "2a01:4f8:10a:1234::2/64");
	snprintf(p, sizeof p, "%s|routes", net);
	assert_len_at(v, p, 2);
	snprintf(p, sizeof p, "%s|routes|0|Gateway", net);
	assert_str_at(v, p, "203.0.113.1");
	snprintf(p, sizeof p, "%s|routes|0|GatewayOnLink", net);
	assert_bool_at(v, p, true);
	snprintf(p, sizeof p, "%s|routes|1|Gateway", net);
	assert_str_at(v, p, "fe80::1");
	assert_bool_at(v, "hw|networking|useDHCP", false);
	assert_bool_at(v, "hw|networking|useNetworkd", true);
	/* The rescue's stub resolver 127.0.0.53 is not copied; the real ones are. */
	assert_len_at(v, "hw|networking|nameservers", 2);
	assert_str_at(v, "hw|networking|nameservers|0", "185.12.64.2");
	assert_str_at(v, "hw|networking|nameservers|1", "2a01:4ff:ff00::add:1");

	assert_str_at(v, "hw|imports|0", "/m/installer/scan/not-detected.nix");
	/* Hetzner's baseline, then what was detected and is not in it (the inventory's nvme, ahci,
	 * xhci_pci are all in it). */
	assert_str_at(v, "hw|boot|initrd|availableKernelModules|0", "nvme");
	assert_str_at(v, "hw|boot|initrd|availableKernelModules|2", "sd_mod");
	assert_str_at(v, "hw|boot|initrd|availableKernelModules|4", "usbhid");
	assert_len_at(v, "hw|boot|initrd|availableKernelModules", 5);
	assert_str_at(v, "hw|boot|kernelModules|0", "kvm-amd");
	assert_len_at(v, "hw|boot|initrd|kernelModules", 0);
	assert_len_at(v, "hw|boot|extraModulePackages", 0);
	assert_bool_at(v, "hw|hardware|cpu|amd|updateMicrocode", true);
	assert_absent(v, "hw|hardware|cpu|intel");
	assert_str_at(v, "hw|nixpkgs|hostPlatform", "x86_64-linux");

	assert_str_at(v, "hw|fileSystems|/|device", "/dev/disk/by-uuid/0b6f3c2a-1d4e-4f5a-8b9c-7d6e5f4a3b21");
	assert_str_at(v, "hw|fileSystems|/|fsType", "ext4");
	assert_len_at(v, "hw|swapDevices", 0);
	assert_bool_at(v, "hw|boot|swraid|enable", true);
	assert_str_at(v, "hw|boot|swraid|mdadmConf",
		      "HOMEHOST nmmm\nPROGRAM /run/current-system/sw/bin/logger\n"
		      "ARRAY /dev/md/root metadata=1.2 UUID=3a8e1f2c:9b7d4e61:a0c45d2f:8b9e7a10\n");
	/* A mirror boots degraded only with the systemd initrd (mdadm's last-resort timer). */
	assert_bool_at(v, "hw|boot|initrd|systemd|enable", true);
	assert_bool_at(v, "hw|boot|loader|grub|enable", true);
	assert_len_at(v, "hw|boot|loader|grub|devices", 2);
	/* By slot: a disk swapped into the same slot needs no edit of the hardware file. */
	assert_str_at(v, "hw|boot|loader|grub|devices|0", "/dev/disk/by-path/pci-0000:01:00.0-nvme-1");
	assert_str_at(v, "hw|boot|loader|grub|devices|1", "/dev/disk/by-path/pci-0000:02:00.0-nvme-1");
	assert_absent(v, "hw|boot|loader|grub|efiSupport");

	/* ./hardware-configuration.nix, a path: absolute after toString. */
	char want[128];
	snprintf(want, sizeof want, "%s/hardware-configuration.nix", f->dir);
	assert_str_at(v, "conf|imports|0", want);
	assert_str_at(v, "conf|networking|hostName", "web1");
	assert_bool_at(v, "conf|services|openssh|enable", true);
	assert_bool_at(v, "conf|services|openssh|settings|PasswordAuthentication", false);
	assert_str_at(v, "conf|services|openssh|settings|PermitRootLogin", "prohibit-password");
	assert_len_at(v, "conf|users|users|root|openssh|authorizedKeys|keys", 1);
	assert_str_at(v, "conf|users|users|root|openssh|authorizedKeys|keys|0", KEY_ED25519 " ops@example");
	assert_str_at(v, "conf|system|stateVersion", "25.05");
	json_object_put(v);
	fixture_free(f);
}

static void ipv6_only_host_gets_no_ipv4_address_route_or_resolver(void **state)
{
	struct fixture *f = fixture_new();
	f->nic.n_ipv4 = 0;
	f->inv.ipv4_gateway = (struct net_gateway){0};
	json_object *v = render_and_eval(f);
	assert_len_at(v, "hw|systemd|network|networks|10-uplink|address", 1);
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|address|0", "2a01:4f8:10a:1234::2/64");
	assert_len_at(v, "hw|systemd|network|networks|10-uplink|routes", 1);
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|routes|0|Gateway", "fe80::1");
	assert_absent(v, "hw|systemd|network|networks|10-uplink|routes|0|GatewayOnLink");
	assert_len_at(v, "hw|networking|nameservers", 1);
	assert_str_at(v, "hw|networking|nameservers|0", "2a01:4ff:ff00::add:1");
	json_object_put(v);
	fixture_free(f);
}

static void ipv4_only_host_gets_no_ipv6_part_and_hetzner_resolvers_when_rescue_has_only_a_stub(void **state)
{
	struct fixture *f = fixture_new();
	f->nic.n_ipv6 = 1;
	f->nic.ipv6 = &f->v6[1]; /* only the link-local one */
	f->inv.ipv6_gateway = (struct net_gateway){0};
	f->nameservers[0] = "127.0.0.53";
	f->nameservers[1] = NULL;
	json_object *v = render_and_eval(f);
	assert_len_at(v, "hw|systemd|network|networks|10-uplink|address", 1);
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|address|0", "203.0.113.10/32");
	assert_len_at(v, "hw|systemd|network|networks|10-uplink|routes", 1);
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|routes|0|Gateway", "203.0.113.1");
	assert_len_at(v, "hw|networking|nameservers", 2);
	assert_str_at(v, "hw|networking|nameservers|0", "185.12.64.1");
	assert_str_at(v, "hw|networking|nameservers|1", "185.12.64.2");
	json_object_put(v);
	fixture_free(f);
}

static void temporary_deprecated_tentative_and_link_local_ipv6_are_never_rendered(void **state)
{
	struct fixture *f = fixture_new();
	f->v6[2] =
	    (struct net_addr){.address = "2a01:4f8:10a:1234:aaaa:bbbb:cccc:dddd", .prefix = 64, .temporary = true};
	f->v6[3] = (struct net_addr){.address = "2a01:4f8:10a:1234::dead", .prefix = 64, .deprecated = true};
	f->v6[4] = (struct net_addr){.address = "2a01:4f8:10a:1234::beef", .prefix = 64, .tentative = true};
	f->v6[5] = (struct net_addr){.address = "2a01:4f8:10a:1234::3", .prefix = 64};
	f->nic.n_ipv6 = 6;
	json_object *v = render_and_eval(f);
	assert_len_at(v, "hw|systemd|network|networks|10-uplink|address", 3);
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|address|0", "203.0.113.10/32");
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|address|1", "2a01:4f8:10a:1234::2/64");
	assert_str_at(v, "hw|systemd|network|networks|10-uplink|address|2", "2a01:4f8:10a:1234::3/64");
	json_object_put(v);
	fixture_free(f);
}

static void uefi_mirror_installs_grub_on_every_esp_with_mirrored_boots(void **state)
{
	struct fixture *f = fixture_new();
	fixture_uefi(f);
	json_object *v = render_and_eval(f);
	assert_bool_at(v, "hw|boot|loader|grub|efiSupport", true);
	assert_bool_at(v, "hw|boot|loader|grub|efiInstallAsRemovable", true);
	assert_bool_at(v, "hw|boot|loader|efi|canTouchEfiVariables", false);
	assert_str_at(v, "hw|boot|loader|grub|device", "nodev");
	assert_absent(v, "hw|boot|loader|grub|devices");
	assert_len_at(v, "hw|boot|loader|grub|mirroredBoots", 1);
	assert_str_at(v, "hw|boot|loader|grub|mirroredBoots|0|path", "/boot-fallback-1");
	assert_str_at(v, "hw|boot|loader|grub|mirroredBoots|0|efiSysMountPoint", "/boot-fallback-1");
	assert_str_at(v, "hw|boot|loader|grub|mirroredBoots|0|devices|0", "nodev");
	assert_str_at(v, "hw|fileSystems|/boot|device", "/dev/disk/by-uuid/1A2B-3C4D");
	assert_str_at(v, "hw|fileSystems|/boot|fsType", "vfat");
	assert_str_at(v, "hw|fileSystems|/boot-fallback-1|device", "/dev/disk/by-uuid/5E6F-7A8B");
	/* A dead disk must not stop the boot: each ESP mount is nofail. */
	assert_len_at(v, "hw|fileSystems|/boot-fallback-1|options", 3);
	assert_str_at(v, "hw|fileSystems|/boot-fallback-1|options|2", "nofail");
	assert_str_at(v, "hw|fileSystems|/boot|options|2", "nofail");
	/* 1 GiB ESPs: 13 generations of 64 MiB beside GRUB's 64 MiB and two in flight. */
	assert_int_at(v, "hw|boot|loader|grub|configurationLimit", 13);
	/* Before GRUB is updated, each ESP that is not mounted is named with its disk and the repair. */
	const char *check = str_at(v, "hw|boot|loader|grub|extraPrepareConfig");
	const char *boot = strstr(check, "mountpoint -q /boot ||"),
		   *fallback = strstr(check, "mountpoint -q /boot-fallback-1 ||");
	assert_non_null(boot);
	assert_non_null(fallback);
	assert_non_null(strstr(boot, "1A2B-3C4D) on /dev/disk/by-path/pci-0000:01:00.0-nvme-1 is not mounted"));
	assert_non_null(strstr(fallback, "5E6F-7A8B) on /dev/disk/by-path/pci-0000:02:00.0-nvme-1 is not mounted"));
	assert_non_null(strstr(fallback, "nmmm-agent replace-disk (docs/replace-a-disk.md)"));
	json_object_put(v);
	fixture_free(f);
}

/* The limit follows the smallest ESP of the plan and never drops below one generation. */
static void grub_generation_limit_fits_the_smallest_esp(void **state)
{
	struct fixture *f = fixture_new();
	fixture_uefi(f);
	assert_int_equal(disk_plan_grub_configuration_limit(&f->plan), 13);
	f->parts[1][1].size = 512ull << 20; /* (512 - 64) / 64 - 2 */
	assert_int_equal(disk_plan_grub_configuration_limit(&f->plan), 5);
	f->parts[0][1].size = 4ull << 30;
	assert_int_equal(disk_plan_grub_configuration_limit(&f->plan), 5);
	f->parts[1][1].size = 256ull << 20;
	assert_int_equal(disk_plan_grub_configuration_limit(&f->plan), 1);
	f->parts[1][1].size = 32ull << 20;
	assert_int_equal(disk_plan_grub_configuration_limit(&f->plan), 1);
	fixture_free(f);
}

/* The uplink by MAC (Ethernet only), then by PCI path with the same configuration; the BMC's
 * USB NIC down; no path unit when another interface shares the uplink's PCI function. */
static void uplink_by_mac_then_pci_path_and_bmc_usb_nic_down(void **state)
{
	struct fixture *f = fixture_new();
	json_object *v = render_and_eval(f);
	const char *mac = "hw|systemd|network|networks|10-uplink",
		   *path = "hw|systemd|network|networks|20-uplink-pci-path",
		   *bmc = "hw|systemd|network|networks|30-bmc-usb";
	char p[160];
	snprintf(p, sizeof p, "%s|matchConfig|Type", mac);
	assert_str_at(v, p, "ether");
	snprintf(p, sizeof p, "%s|matchConfig|Path", path);
	assert_str_at(v, p, "pci-0000:23:00.0");
	snprintf(p, sizeof p, "%s|matchConfig|Type", path);
	assert_str_at(v, p, "ether");
	snprintf(p, sizeof p, "%s|matchConfig|MACAddress", path);
	assert_absent(v, p);
	snprintf(p, sizeof p, "%s|address", mac);
	json_object *m = at(v, p);
	snprintf(p, sizeof p, "%s|address", path);
	assert_non_null(m);
	assert_true(json_object_equal(m, at(v, p)));
	snprintf(p, sizeof p, "%s|routes", mac);
	json_object *r = at(v, p);
	snprintf(p, sizeof p, "%s|routes", path);
	assert_non_null(r);
	assert_true(json_object_equal(r, at(v, p)));
	snprintf(p, sizeof p, "%s|matchConfig|Driver", bmc);
	assert_str_at(v, p, "cdc_ether rndis_host");
	snprintf(p, sizeof p, "%s|linkConfig|ActivationPolicy", bmc);
	assert_str_at(v, p, "always-down");
	snprintf(p, sizeof p, "%s|networkConfig|IPv6AcceptRA", bmc);
	assert_bool_at(v, p, false);
	json_object_put(v);

	/* a second port on the same PCI function: ID_PATH would match both */
	struct net_nic nics[2] = {
	    f->nic, {.name = "eth1", .mac = "3c:7c:3f:12:34:57", .pci_slot = "0000:23:00.0", .physical = true}};
	f->inv.nics = nics;
	f->inv.n_nics = 2;
	f->in.uplink = &nics[0];
	v = render_and_eval(f);
	assert_absent(v, path);
	snprintf(p, sizeof p, "%s|matchConfig|MACAddress", mac);
	assert_str_at(v, p, "3c:7c:3f:12:34:56");
	json_object_put(v);
	fixture_free(f);
}

static void one_disk_has_no_swraid_and_grub_on_that_disk_with_swap(void **state)
{
	struct fixture *f = fixture_new();
	f->plan.n_disks = 1;
	f->plan.n_arrays = 0;
	f->disks[0].by_id = NULL; /* no by-id or by-path link: the kernel path, with a comment */
	f->disks[0].by_path = NULL;
	f->fs[0].device = "/dev/nvme0n1p4";
	f->fs[1] = (struct disk_fs_plan){
	    .device = "/dev/nvme0n1p3", .fstype = "swap", .uuid = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"};
	f->plan.n_filesystems = 2;
	json_object *v = render_and_eval(f);
	assert_absent(v, "hw|boot|swraid");
	assert_len_at(v, "hw|boot|loader|grub|devices", 1);
	assert_str_at(v, "hw|boot|loader|grub|devices|0", "/dev/nvme0n1");
	assert_len_at(v, "hw|swapDevices", 1);
	assert_str_at(v, "hw|swapDevices|0|device", "/dev/disk/by-uuid/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a");
	json_object_put(v);
	fixture_free(f);
}

static void qemu_guest_imports_qemu_profile_and_no_microcode(void **state)
{
	struct fixture *f = fixture_new();
	f->facts.virtualisation = "kvm";
	json_object *v = render_and_eval(f);
	assert_str_at(v, "hw|imports|0", "/m/profiles/qemu-guest.nix");
	assert_absent(v, "hw|hardware");
	json_object_put(v);
	fixture_free(f);
}

static void hostile_strings_in_keys_paths_and_names_survive_escaping(void **state)
{
	struct fixture *f = fixture_new();
	const char *key = KEY_ED25519 " \"${builtins.abort \"x\"}\" \\ $${y} ''${z} 'é\ttab";
	const char *by_path = "/dev/disk/by-path/pci-\"${x}\\n''";
	f->keys[0] = (char *)key;
	f->disks[0].by_path = (char *)by_path;
	f->nic.name = "eth0\n}; evil = true; #";
	f->nic.predicted_name = "enp35s0\"${x}";
	f->inv.ipv4_gateway.dev = NULL;
	f->inv.ipv6_gateway.dev = NULL;
	f->fs[0].mountpoint = "/";
	json_object *v = render_and_eval(f);
	assert_str_at(v, "conf|users|users|root|openssh|authorizedKeys|keys|0", key);
	assert_str_at(v, "hw|boot|loader|grub|devices|0", by_path);
	assert_absent(v, "hw|evil");
	json_object_put(v);
	fixture_free(f);
}

static void invalid_hostname_is_a_usage_error_naming_the_rule(void **state)
{
	struct {
		const char *name, *rule;
	} bad[] = {
	    {"", "empty"},
	    {"-web", "starts with '-'"},
	    {"web-", "ends with '-'"},
	    {"Web1", "RFC 1123"},
	    {"web_1", "RFC 1123"},
	    {"web1.example.com", "one label"},
	    {"a234567890123456789012345678901234567890123456789012345678901234", "at most 63"},
	};
	for (size_t i = 0; i < NM_ELEMENTSOF(bad); i++) {
		struct nm_error e = {0};
		assert_true(net_hostname_check(bad[i].name, &e) < 0);
		assert_int_equal(nm_exit_code(&e), 2);
		if (!strstr(e.msg, bad[i].rule))
			fail_msg("'%s': message does not name '%s': %s", bad[i].name, bad[i].rule, e.msg);
	}
	struct nm_error ok = {0};
	assert_int_equal(net_hostname_check("a", &ok), 0);
	assert_int_equal(net_hostname_check("web-01", &ok), 0);
	assert_int_equal(net_hostname_check("a23456789012345678901234567890123456789012345678901234567890123", &ok), 0);

	struct fixture *f = fixture_new();
	f->in.hostname = "bad_name";
	struct nm_error e = {0};
	assert_true(agent_render(&f->in, f->dir, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 2);
	char path[128];
	snprintf(path, sizeof path, "%s/configuration.nix", f->dir);
	assert_false(nm_exists("/", path)); /* nothing written on a refusal */
	fixture_free(f);
}

static void uplink_without_global_address_is_refused(void **state)
{
	struct fixture *f = fixture_new();
	f->nic.n_ipv4 = 0;
	f->nic.ipv6 = &f->v6[1];
	f->nic.n_ipv6 = 1;
	struct nm_error e = {0};
	assert_true(agent_render(&f->in, f->dir, &e) < 0);
	assert_int_equal(nm_exit_code(&e), 3);
	assert_non_null(strstr(e.msg, "eth0"));
	assert_non_null(strstr(e.msg, "--uplink"));
	fixture_free(f);
}

static char *read_all(const char *dir, const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	char *text = NULL;
	assert_int_equal(nm_read_file("/", path, 0, &text, NULL), 0);
	return text;
}

/* A disk udev gives no slot name (some controllers): GRUB goes to it by id, and the file says
 * that a replacement needs the line changed. */
static void disk_without_by_path_is_named_by_id_with_a_comment(void **state)
{
	struct fixture *f = fixture_new();
	f->disks[1].by_path = NULL;
	json_object *v = render_and_eval(f);
	assert_str_at(v, "hw|boot|loader|grub|devices|0", "/dev/disk/by-path/pci-0000:01:00.0-nvme-1");
	assert_str_at(v, "hw|boot|loader|grub|devices|1", "/dev/disk/by-id/nvme-SAMSUNG_MZVL2512HCJQ_S222");
	_cleanup_free_ char *hw = read_all(f->dir, "hardware-configuration.nix");
	assert_non_null(strstr(hw, "# nvme1n1 has no /dev/disk/by-path link: by id, which follows the serial"));
	json_object_put(v);
	fixture_free(f);
}

static void render_writes_exactly_three_files_and_a_refused_render_keeps_them(void **state)
{
	struct fixture *f = fixture_new();
	struct nm_error e = {0};
	assert_int_equal(agent_render(&f->in, f->dir, &e), 0);
	char **names = NULL;
	assert_int_equal(nm_list_dir("/", f->dir, &names), 0);
	/* No temporary file is left behind. */
	assert_int_equal(nm_strv_len(names), 3);
	assert_string_equal(names[0], "configuration.nix");
	assert_string_equal(names[1], "hardware-configuration.nix");
	assert_string_equal(names[2], "plan.json");
	nm_strv_free(names);
	char path[128];
	snprintf(path, sizeof path, "%s/configuration.nix", f->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	_cleanup_free_ char *conf = read_all(f->dir, "configuration.nix");
	_cleanup_free_ char *hw = read_all(f->dir, "hardware-configuration.nix");
	f->in.ssh_keys = NULL; /* refused: no key */
	struct nm_error e2 = {0};
	assert_true(agent_render(&f->in, f->dir, &e2) < 0);
	assert_int_equal(nm_exit_code(&e2), 3);
	_cleanup_free_ char *conf2 = read_all(f->dir, "configuration.nix");
	_cleanup_free_ char *hw2 = read_all(f->dir, "hardware-configuration.nix");
	assert_string_equal(conf, conf2);
	assert_string_equal(hw, hw2);
	fixture_free(f);
}

/* ---- keys ---- */

static void key_file_malformed_lines_are_skipped_and_no_key_is_refused(void **state)
{
	char path[] = "/tmp/nix-render-keys-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# a comment\n\n" KEY_ED25519 " first\nssh-ed25519 not-base64!!\n"
			   "ssh-rsa\n  " KEY_ED25519 " first\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char *rescue[] = {KEY_ED25519 " rescue", NULL};
	struct agent_machine_facts m = {.ssh_authorized_keys = rescue};
	char **keys = NULL;
	struct nm_error e = {0};
	assert_int_equal(agent_ssh_keys_gather(&m, NULL, path, &keys, &e), 0);
	assert_int_equal(nm_strv_len(keys), 2); /* the rescue's, the file's (its duplicate dropped) */
	assert_string_equal(keys[0], KEY_ED25519 " rescue");
	assert_string_equal(keys[1], KEY_ED25519 " first");
	nm_strv_free(keys);

	char *bad_cli[] = {"ssh-ed25519 AAAA", NULL};
	struct nm_error e2 = {0};
	assert_true(agent_ssh_keys_gather(NULL, bad_cli, NULL, &keys, &e2) < 0);
	assert_int_equal(nm_exit_code(&e2), 2);
	assert_non_null(strstr(e2.msg, "--ssh-key"));

	struct nm_error e3 = {0};
	const char *only_bad = "ssh-ed25519 nope\n";
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, only_bad, strlen(only_bad)), (ssize_t)strlen(only_bad));
	close(fd);
	assert_true(agent_ssh_keys_gather(NULL, NULL, path, &keys, &e3) < 0);
	assert_int_equal(nm_exit_code(&e3), 3);
	assert_non_null(strstr(e3.msg, "--ssh-key"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(dual_stack_bios_mirror_renders_addresses_routes_raid_and_grub_on_both_disks),
	    cmocka_unit_test(ipv6_only_host_gets_no_ipv4_address_route_or_resolver),
	    cmocka_unit_test(ipv4_only_host_gets_no_ipv6_part_and_hetzner_resolvers_when_rescue_has_only_a_stub),
	    cmocka_unit_test(temporary_deprecated_tentative_and_link_local_ipv6_are_never_rendered),
	    cmocka_unit_test(uefi_mirror_installs_grub_on_every_esp_with_mirrored_boots),
	    cmocka_unit_test(grub_generation_limit_fits_the_smallest_esp),
	    cmocka_unit_test(uplink_by_mac_then_pci_path_and_bmc_usb_nic_down),
	    cmocka_unit_test(one_disk_has_no_swraid_and_grub_on_that_disk_with_swap),
	    cmocka_unit_test(disk_without_by_path_is_named_by_id_with_a_comment),
	    cmocka_unit_test(qemu_guest_imports_qemu_profile_and_no_microcode),
	    cmocka_unit_test(hostile_strings_in_keys_paths_and_names_survive_escaping),
	    cmocka_unit_test(invalid_hostname_is_a_usage_error_naming_the_rule),
	    cmocka_unit_test(uplink_without_global_address_is_refused),
	    cmocka_unit_test(render_writes_exactly_three_files_and_a_refused_render_keeps_them),
	    cmocka_unit_test(key_file_malformed_lines_are_skipped_and_no_key_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
