/* render-hw.c: hardware-configuration.nix — the shape nixos-generate-config writes (imports,
 * initrd and kernel modules, fileSystems by UUID, swapDevices, platform, microcode) plus what
 * nmmm decides: software RAID with its mdadm.conf, GRUB on every disk (BIOS) or every ESP (UEFI)
 * and the uplink matched by MAC. The agent writes the file's frame and the machine's part
 * (imports, kernel modules, platform: machine.c's facts) and composes the rest: the initrd
 * modules and the storage from disk, the network from netcfg. It renders text only. */
#include "agent/agent.h"

#include <errno.h>
#include <string.h>

#include "disk/disk.h"
#include "netcfg/netcfg.h"

static bool is_qemu_guest(const struct agent_machine_facts *m)
{
	return m->virtualisation && (strcmp(m->virtualisation, "kvm") == 0 || strcmp(m->virtualisation, "qemu") == 0);
}

static bool is_bare_metal(const struct agent_machine_facts *m)
{
	return !m->virtualisation || strcmp(m->virtualisation, "none") == 0;
}

static void render_imports(struct nm_nix_out *o, const struct agent_machine_facts *m)
{
	if (is_qemu_guest(m))
		nm_nix_out_printf(o, "  imports = [ (modulesPath + \"/profiles/qemu-guest.nix\") ];\n\n");
	else
		nm_nix_out_printf(o, "  imports = [ (modulesPath + \"/installer/scan/not-detected.nix\") ];\n\n");
}

static void render_kernel_modules(struct nm_nix_out *o, const struct agent_machine_facts *m)
{
	nm_nix_out_printf(o, "  boot.initrd.kernelModules = [ ];\n  boot.kernelModules = [");
	nm_nix_out_items(o, "kernel module", m->kernel_modules);
	nm_nix_out_printf(o, " ];\n  boot.extraModulePackages = [ ];\n\n");
}

/* nixpkgs.hostPlatform and, on bare metal, the CPU's microcode. */
static void render_platform(struct nm_nix_out *o, const struct agent_machine_facts *m)
{
	nm_nix_out_printf(o, "  nixpkgs.hostPlatform = lib.mkDefault \"x86_64-linux\";\n");
	if (!is_bare_metal(m) || !m->cpu_vendor)
		return;
	if (strcmp(m->cpu_vendor, "intel") == 0 || strcmp(m->cpu_vendor, "amd") == 0)
		nm_nix_out_printf(o,
				  "  hardware.cpu.%s.updateMicrocode = lib.mkDefault "
				  "config.hardware.enableRedistributableFirmware;\n",
				  strcmp(m->cpu_vendor, "intel") == 0 ? "intel" : "amd");
}

int agent_render_hardware(const struct agent_render_input *in, char **out, struct nm_error *e)
{
	*out = NULL;
	if (!in->plan || !in->facts || !in->inv)
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "render: plan, inventory and machine facts are all needed");
	struct nm_nix_out o;
	nm_nix_out_init(&o, e);
	nm_nix_out_printf(&o,
			  "# hardware-configuration.nix: written by nmmm-agent render for this machine. It describes\n"
			  "# the disks (filesystems by the UUIDs of the install plan), software RAID, the boot loader "
			  "on\n"
			  "# every disk and the uplink NIC. Commit it next to your configuration.nix; re-render after\n"
			  "# changing disks or NICs. docs/rendered-example.md explains each section.\n"
			  "{ config, lib, pkgs, modulesPath, ... }:\n\n{\n");
	render_imports(&o, in->facts);
	disk_initrd_nix(&o, in->initrd_modules);
	render_kernel_modules(&o, in->facts);
	disk_plan_nix(in->plan, &o);
	net_uplink_nix(&o, in->inv, in->uplink);
	render_platform(&o, in->facts);
	nm_nix_out_printf(&o, "}\n");
	return nm_nix_out_finish(&o, out);
}
