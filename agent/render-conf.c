/* render-conf.c: configuration.nix — the smallest system an operator can log into and deploy
 * to: the host name, sshd with keys only, root's authorized keys and system.stateVersion.
 * Nothing else belongs here: everything about the hardware is in hardware-configuration.nix,
 * everything else is the operator's own configuration. It renders text only. */
#include "agent/agent.h"

#include <errno.h>

#include "netcfg/netcfg.h"

int agent_render_configuration(const struct agent_render_input *in, char **out, struct nm_error *e)
{
	*out = NULL;
	int r = net_hostname_check(in->hostname, e);
	if (r < 0)
		return r;
	if (nm_strv_len(in->ssh_keys) == 0)
		return nm_fail(e, NM_ERR_REFUSED, ENOKEY,
			       "no SSH key for root: the installed system would lock you out; give --ssh-key or "
			       "--ssh-key-file");
	if (!in->state_version || !*in->state_version)
		return nm_fail(e, NM_ERR_RUNTIME, EINVAL, "render: no NixOS release for system.stateVersion");
	struct nm_nix_out o;
	nm_nix_out_init(&o, e);
	nm_nix_out_printf(&o,
			  "# configuration.nix: written by nmmm-agent render. The smallest system you can log into\n"
			  "# and deploy to (nixos-rebuild switch --target-host root@HOST); replace it with your own.\n"
			  "{ config, lib, pkgs, ... }:\n\n{\n  imports = [ ./hardware-configuration.nix ];\n\n"
			  "  networking.hostName = ");
	nm_nix_out_str(&o, "host name", in->hostname);
	nm_nix_out_printf(&o,
			  ";\n\n  # Keys only: no passwords, root only with a key.\n"
			  "  services.openssh.enable = true;\n"
			  "  services.openssh.settings.PasswordAuthentication = false;\n"
			  "  services.openssh.settings.PermitRootLogin = \"prohibit-password\";\n"
			  "  users.users.root.openssh.authorizedKeys.keys = [\n");
	for (size_t i = 0; in->ssh_keys[i]; i++) {
		nm_nix_out_printf(&o, "    ");
		nm_nix_out_str(&o, "SSH key", in->ssh_keys[i]);
		nm_nix_out_printf(&o, "\n");
	}
	nm_nix_out_printf(&o,
			  "  ];\n\n"
			  "  # The release of the NixOS channel this system was installed from (the installer's pin).\n"
			  "  # It fixes the defaults of stateful data (databases, file layouts); keep it when you\n"
			  "  # upgrade NixOS later.\n"
			  "  system.stateVersion = ");
	nm_nix_out_str(&o, "state version", in->state_version);
	nm_nix_out_printf(&o, ";\n}\n");
	return nm_nix_out_finish(&o, out);
}
