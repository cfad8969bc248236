/* render-hw.c: hardware-configuration.nix — the shape nixos-generate-config writes (imports,
 * initrd and kernel modules, fileSystems by UUID, swapDevices, platform, microcode) plus what
 * nmmm decides: software RAID with its mdadm.conf, GRUB on every disk (BIOS) or every ESP (UEFI)
 * and the uplink matched by MAC. The agent writes the file's frame and composes the parts: the
 * machine and the network from netcfg, the storage from the plan (disk). It renders text only. */
#include "agent/agent.h"

#include <errno.h>

#include "disk/disk.h"
#include "netcfg/netcfg.h"

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
	net_machine_nix(&o, in->facts);
	disk_plan_nix(in->plan, &o);
	net_uplink_nix(&o, in->inv, in->uplink);
	net_platform_nix(&o, in->facts);
	nm_nix_out_printf(&o, "}\n");
	return nm_nix_out_finish(&o, out);
}
