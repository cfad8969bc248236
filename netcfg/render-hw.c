/* render-hw.c: hardware-configuration.nix — the shape nixos-generate-config writes (imports,
 * initrd and kernel modules, fileSystems by UUID, swapDevices, platform, microcode) plus what
 * nmmm decides: software RAID with its mdadm.conf, GRUB on every disk (BIOS) or every ESP (UEFI)
 * and the uplink matched by MAC with static addresses and on-link gateways. It renders text
 * only; it never reads the machine (the inventory, facts and plan are given) and never copies a
 * link-local, temporary, deprecated or tentative address. */
#include "netcfg/render-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "disk/disk.h"

/* Hetzner's recursive resolvers, used when the rescue names none that the installed system can
 * reach (ANCHORS.md, "Hetzner facts"). */
static const char *const hetzner_resolvers[] = {"185.12.64.1", "185.12.64.2", "2a01:4ff:ff00::add:1",
						"2a01:4ff:ff00::add:2"};

static void render_list(struct nix_out *o, const char *field, char *const *v)
{
	nix_out_printf(o, "[");
	for (size_t i = 0; v && v[i]; i++) {
		nix_out_printf(o, " ");
		nix_out_str(o, field, v[i]);
	}
	nix_out_printf(o, " ]");
}

static bool is_qemu_guest(const struct machine_facts *m)
{
	return m->virtualisation && (strcmp(m->virtualisation, "kvm") == 0 || strcmp(m->virtualisation, "qemu") == 0);
}

static bool is_bare_metal(const struct machine_facts *m)
{
	return !m->virtualisation || strcmp(m->virtualisation, "none") == 0;
}

static void render_header(struct nix_out *o, const struct net_render_input *in)
{
	nix_out_printf(o,
		       "# hardware-configuration.nix: written by nmmm-agent render for this machine. It describes\n"
		       "# the disks (filesystems by the UUIDs of the install plan), software RAID, the boot loader on\n"
		       "# every disk and the uplink NIC. Commit it next to your configuration.nix; re-render after\n"
		       "# changing disks or NICs. docs/rendered-example.md explains each section.\n"
		       "{ config, lib, pkgs, modulesPath, ... }:\n\n{\n");
	if (is_qemu_guest(in->facts))
		nix_out_printf(o, "  imports = [ (modulesPath + \"/profiles/qemu-guest.nix\") ];\n\n");
	else
		nix_out_printf(o, "  imports = [ (modulesPath + \"/installer/scan/not-detected.nix\") ];\n\n");
	nix_out_printf(o, "  boot.initrd.availableKernelModules = ");
	render_list(o, "initrd module", in->facts->initrd_modules);
	nix_out_printf(o, ";\n  boot.initrd.kernelModules = [ ];\n  boot.kernelModules = ");
	render_list(o, "kernel module", in->facts->kernel_modules);
	nix_out_printf(o, ";\n  boot.extraModulePackages = [ ];\n\n");
}

/* The ESP partitions of the plan: a filesystem whose device is a partition with the ESP role. */
static bool fs_is_esp(const struct disk_plan *p, const struct disk_fs_plan *fs)
{
	for (size_t d = 0; d < p->n_disks; d++)
		for (size_t i = 0; i < p->disks[d].n_parts; i++)
			if (p->disks[d].parts[i].role == DISK_PART_ESP && p->disks[d].parts[i].path && fs->device &&
			    strcmp(p->disks[d].parts[i].path, fs->device) == 0)
				return true;
	return false;
}

static void render_filesystems(struct nix_out *o, const struct disk_plan *p)
{
	bool swap_seen = false;
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		if (!fs->mountpoint || (fs->fstype && strcmp(fs->fstype, "swap") == 0))
			continue;
		_cleanup_free_ char *dev = nm_strdup_printf("/dev/disk/by-uuid/%s", fs->uuid);
		nix_out_comment(o, "  ", "%s on %s", fs->mountpoint, fs->device ? fs->device : "?");
		nix_out_printf(o, "  fileSystems.");
		nix_out_str(o, "mountpoint", fs->mountpoint);
		nix_out_printf(o, " = {\n    device = ");
		nix_out_str(o, "filesystem UUID", dev);
		nix_out_printf(o, ";\n    fsType = ");
		nix_out_str(o, "filesystem type", fs->fstype);
		nix_out_printf(o, ";\n");
		/* Each ESP lives on one disk only: with a mirror, a dead disk must not stop the boot
		 * (the surviving disk boots from its own ESP), so its mount is nofail. */
		bool esp_nofail = p->n_disks > 1 && fs_is_esp(p, fs) && !nm_strv_contains(fs->options, "nofail");
		if (nm_strv_len(fs->options) > 0 || esp_nofail) {
			nix_out_printf(o, "    options = [");
			for (size_t j = 0; fs->options && fs->options[j]; j++) {
				nix_out_printf(o, " ");
				nix_out_str(o, "mount option", fs->options[j]);
			}
			if (esp_nofail)
				nix_out_printf(o, " \"nofail\"");
			nix_out_printf(o, " ];\n");
		}
		nix_out_printf(o, "  };\n\n");
	}
	nix_out_printf(o, "  swapDevices = [");
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		if (!fs->fstype || strcmp(fs->fstype, "swap") != 0)
			continue;
		_cleanup_free_ char *dev = nm_strdup_printf("/dev/disk/by-uuid/%s", fs->uuid);
		nix_out_printf(o, "\n    { device = ");
		nix_out_str(o, "swap UUID", dev);
		nix_out_printf(o, "; }");
		swap_seen = true;
	}
	nix_out_printf(o, swap_seen ? "\n  ];\n\n" : " ];\n\n");
}

/* mdadm writes and reads array UUIDs as four groups of eight hex digits separated by ':'
 * (mdadm.conf(5), "uuid="); the plan keeps the canonical 8-4-4-4-12 form. Same bytes, same order. */
static int mdadm_uuid(const char *canonical, char out[36], struct nm_error *e)
{
	size_t n = 0;
	for (const char *c = canonical; *c; c++) {
		if (*c == '-')
			continue;
		if (n == 35 || !strchr("0123456789abcdefABCDEF", *c))
			return nm_fail(e, NM_ERR_USAGE, EINVAL, "array UUID '%s' is not a UUID; re-make the plan",
				       canonical);
		if (n == 8 || n == 17 || n == 26)
			out[n++] = ':';
		out[n++] = *c;
	}
	if (n != 35)
		return nm_fail(e, NM_ERR_USAGE, EINVAL, "array UUID '%s' is not a UUID; re-make the plan", canonical);
	out[n] = '\0';
	return 0;
}

static void render_swraid(struct nix_out *o, const struct disk_plan *p)
{
	if (p->n_arrays == 0)
		return;
	nix_out_printf(o,
		       "  # Software RAID. The initrd assembles the arrays listed here by UUID; mdmonitor needs\n"
		       "  # a PROGRAM (or MAILADDR) line and reports array events to the journal through logger.\n"
		       "  boot.swraid.enable = true;\n  boot.swraid.mdadmConf = builtins.concatStringsSep \"\\n\" [\n");
	_cleanup_free_ char *homehost = nm_strdup_printf("HOMEHOST %s", p->homehost ? p->homehost : "<system>");
	nix_out_printf(o, "    ");
	nix_out_str(o, "homehost", homehost);
	nix_out_printf(o, "\n    \"PROGRAM /run/current-system/sw/bin/logger\"\n");
	for (size_t i = 0; i < p->n_arrays && !o->err; i++) {
		const struct disk_array_plan *a = &p->arrays[i];
		char uuid[36];
		if (mdadm_uuid(a->uuid, uuid, o->e) < 0) {
			o->err = -EINVAL;
			return;
		}
		_cleanup_free_ char *line =
		    nm_strdup_printf("ARRAY %s metadata=%s UUID=%s", a->device, a->metadata, uuid);
		nix_out_printf(o, "    ");
		nix_out_str(o, "mdadm ARRAY line", line);
		nix_out_printf(o, "\n");
	}
	nix_out_printf(o, "    \"\"\n  ];\n\n");
}

static const char *disk_boot_path(const struct disk_member_plan *d)
{
	return d->by_id && *d->by_id ? d->by_id : d->path;
}

static void render_bootloader_bios(struct nix_out *o, const struct disk_plan *p)
{
	nix_out_printf(o,
		       "  # Legacy BIOS boot: GRUB goes into the BIOS boot partition of every disk, so each one\n"
		       "  # boots alone. Disks by /dev/disk/by-id, which does not change between boots.\n"
		       "  boot.loader.grub.enable = true;\n  boot.loader.grub.devices = [\n");
	for (size_t i = 0; i < p->n_disks; i++) {
		const struct disk_member_plan *d = &p->disks[i];
		if (!d->by_id || !*d->by_id)
			nix_out_comment(o, "    ", "%s has no /dev/disk/by-id link: by kernel name, which can change",
					d->name);
		nix_out_printf(o, "    ");
		nix_out_str(o, "boot disk", disk_boot_path(d));
		nix_out_printf(o, "\n");
	}
	nix_out_printf(o, "  ];\n\n");
}

/* UEFI: GRUB on every ESP. The first disk's ESP is /boot; the others are mirrored to their own
 * mountpoints. efiInstallAsRemovable writes EFI/BOOT/BOOTX64.EFI, which firmware finds without
 * an NVRAM entry (many boards lose or ignore them, and a replaced disk has none). */
static void render_bootloader_uefi(struct nix_out *o, const struct disk_plan *p)
{
	nix_out_printf(
	    o,
	    "  # UEFI boot: GRUB on the ESP of every disk, installed at the removable-media path\n"
	    "  # (EFI/BOOT/BOOTX64.EFI) so firmware finds it without NVRAM entries.\n"
	    "  boot.loader.grub.enable = true;\n  boot.loader.grub.efiSupport = true;\n"
	    "  boot.loader.grub.efiInstallAsRemovable = true;\n  boot.loader.efi.canTouchEfiVariables = false;\n"
	    "  boot.loader.grub.device = \"nodev\";\n  boot.loader.grub.mirroredBoots = [\n");
	bool first = true;
	for (size_t i = 0; i < p->n_filesystems; i++) {
		const struct disk_fs_plan *fs = &p->filesystems[i];
		if (!fs->mountpoint || !fs_is_esp(p, fs))
			continue;
		if (first && strcmp(fs->mountpoint, "/boot") == 0) {
			/* /boot is GRUB's own entry (device = "nodev" above). */
			first = false;
			continue;
		}
		first = false;
		nix_out_comment(o, "    ", "the ESP on %s", fs->device);
		nix_out_printf(o, "    { devices = [ \"nodev\" ]; path = ");
		nix_out_str(o, "ESP mountpoint", fs->mountpoint);
		nix_out_printf(o, "; efiSysMountPoint = ");
		nix_out_str(o, "ESP mountpoint", fs->mountpoint);
		nix_out_printf(o, "; }\n");
	}
	nix_out_printf(o, "  ];\n\n");
}

static bool gateway_on(const struct net_gateway *g, const struct net_nic *nic)
{
	return g->address && (!g->dev || strcmp(g->dev, nic->name) == 0);
}

static bool is_ipv6(const char *addr)
{
	return strchr(addr, ':') != NULL;
}

/* A resolver the installed system can use: not a loopback stub (the rescue's 127.0.0.53), not
 * link-local, and of a family the host has an address in. */
static bool resolver_usable(const char *ns, bool have4, bool have6)
{
	unsigned char buf[16];
	if (is_ipv6(ns)) {
		if (!have6 || inet_pton(AF_INET6, ns, buf) != 1)
			return false;
		static const unsigned char loop6[16] = {[15] = 1};
		return memcmp(buf, loop6, 16) != 0 && !(buf[0] == 0xfe && (buf[1] & 0xc0) == 0x80);
	}
	if (!have4 || inet_pton(AF_INET, ns, buf) != 1)
		return false;
	return buf[0] != 127 && !(buf[0] == 169 && buf[1] == 254);
}

static void render_nameservers(struct nix_out *o, const struct net_inventory *inv, bool have4, bool have6)
{
	_cleanup_strv_free_ char **use = nm_strv_new();
	for (size_t i = 0; use && inv->nameservers && inv->nameservers[i]; i++)
		if (resolver_usable(inv->nameservers[i], have4, have6) && !nm_strv_contains(use, inv->nameservers[i]))
			nm_strv_push(&use, inv->nameservers[i]);
	if (nm_strv_len(use) == 0) {
		nix_out_printf(o, "  # The rescue names no resolver this system can reach: Hetzner's.\n");
		for (size_t i = 0; use && i < NM_ELEMENTSOF(hetzner_resolvers); i++)
			if (resolver_usable(hetzner_resolvers[i], have4, have6))
				nm_strv_push(&use, hetzner_resolvers[i]);
	} else {
		nix_out_printf(o, "  # The rescue's resolvers.\n");
	}
	nix_out_printf(o, "  networking.nameservers = ");
	render_list(o, "nameserver", use);
	nix_out_printf(o, ";\n");
}

static void render_route(struct nix_out *o, const char *gateway, bool on_link)
{
	nix_out_printf(o, "      { Gateway = ");
	nix_out_str(o, "gateway", gateway);
	nix_out_printf(o, on_link ? "; GatewayOnLink = true; }\n" : "; }\n");
}

static int render_network(struct nix_out *o, const struct net_render_input *in)
{
	const struct net_nic *nic = in->uplink;
	if (!nic || !nic->mac || !*nic->mac)
		return nm_fail(o->e, NM_ERR_REFUSED, ENONET,
			       "no uplink NIC with a MAC address: the installed system would have no network; "
			       "pick one with --uplink MAC|NAME");
	const struct net_addr *v4[16], *v6[16];
	size_t n4 = net_nic_usable_addrs(nic, false, v4, NM_ELEMENTSOF(v4));
	size_t n6 = net_nic_usable_addrs(nic, true, v6, NM_ELEMENTSOF(v6));
	n4 = n4 < NM_ELEMENTSOF(v4) ? n4 : NM_ELEMENTSOF(v4);
	n6 = n6 < NM_ELEMENTSOF(v6) ? n6 : NM_ELEMENTSOF(v6);
	if (n4 + n6 == 0)
		return nm_fail(o->e, NM_ERR_REFUSED, EADDRNOTAVAIL,
			       "uplink %s has no global address to configure (only link-local, temporary, deprecated "
			       "or tentative ones): the installed system would be unreachable; configure the rescue's "
			       "address or pick another NIC with --uplink",
			       nic->name);
	bool gw4 = n4 > 0 && gateway_on(&in->inv->ipv4_gateway, nic);
	bool gw6 = n6 > 0 && gateway_on(&in->inv->ipv6_gateway, nic);

	nix_out_printf(o,
		       "  # Network: systemd-networkd with static addresses. The NIC is matched by MAC because\n"
		       "  # the rescue's names (eth0) differ from the names NixOS gives.\n");
	if (nic->predicted_name)
		nix_out_comment(o, "  ", "rescue %s → NixOS will name it %s", nic->name, nic->predicted_name);
	else
		nix_out_comment(o, "  ", "rescue %s; no predictable name applies, NixOS keeps a kernel name",
				nic->name);
	nix_out_printf(o, "  networking.useDHCP = false;\n  networking.useNetworkd = true;\n");
	render_nameservers(o, in->inv, n4 > 0, n6 > 0);
	nix_out_printf(o, "  systemd.network.networks.\"10-uplink\" = {\n    matchConfig.MACAddress = ");
	nix_out_str(o, "uplink MAC", nic->mac);
	nix_out_printf(o, ";\n");
	if (n4 > 0)
		nix_out_printf(o,
			       "    # IPv4 as /32 with the gateway on-link: Hetzner routes the main address alone,\n"
			       "    # whatever prefix the rescue shows.\n");
	nix_out_printf(o, "    address = [");
	for (size_t i = 0; i < n4; i++) {
		_cleanup_free_ char *a = nm_strdup_printf("%s/32", v4[i]->address);
		nix_out_printf(o, " ");
		nix_out_str(o, "uplink IPv4 address", a);
	}
	for (size_t i = 0; i < n6; i++) {
		_cleanup_free_ char *a = nm_strdup_printf("%s/%u", v6[i]->address, v6[i]->prefix);
		nix_out_printf(o, " ");
		nix_out_str(o, "uplink IPv6 address", a);
	}
	nix_out_printf(o, " ];\n    routes = [\n");
	if (gw4)
		render_route(o, in->inv->ipv4_gateway.address, true);
	else if (n4 > 0)
		nix_out_printf(o, "      # no IPv4 default route in the rescue: none rendered\n");
	if (gw6)
		render_route(o, in->inv->ipv6_gateway.address, false);
	else if (n6 > 0)
		nix_out_printf(o, "      # no IPv6 default route in the rescue: none rendered\n");
	nix_out_printf(o,
		       "    ];\n    # Addresses and gateways are static; router advertisements are not needed.\n"
		       "    networkConfig.IPv6AcceptRA = false;\n"
		       "    linkConfig.RequiredForOnline = \"routable\";\n  };\n\n");
	return 0;
}

static void render_platform(struct nix_out *o, const struct machine_facts *m)
{
	nix_out_printf(o, "  nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\";\n");
	if (!is_bare_metal(m) || !m->cpu_vendor)
		return;
	if (strcmp(m->cpu_vendor, "intel") == 0 || strcmp(m->cpu_vendor, "amd") == 0)
		nix_out_printf(o,
			       "  hardware.cpu.%s.updateMicrocode = lib.mkDefault "
			       "config.hardware.enableRedistributableFirmware;\n",
			       strcmp(m->cpu_vendor, "intel") == 0 ? "intel" : "amd");
}

int net_render_hardware(const struct net_render_input *in, char **out, struct nm_error *e)
{
	*out = NULL;
	if (!in->plan || !in->facts || !in->inv)
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "render: plan, inventory and machine facts are all needed");
	struct nix_out o;
	nix_out_init(&o, e);
	render_header(&o, in);
	render_filesystems(&o, in->plan);
	render_swraid(&o, in->plan);
	if (in->plan->uefi)
		render_bootloader_uefi(&o, in->plan);
	else
		render_bootloader_bios(&o, in->plan);
	if (!o.err) {
		int r = render_network(&o, in);
		if (r < 0)
			o.err = r;
	}
	render_platform(&o, in->facts);
	nix_out_printf(&o, "}\n");
	return nix_out_finish(&o, out);
}
