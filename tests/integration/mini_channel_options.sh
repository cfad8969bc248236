#!/usr/bin/env bash
# mini_channel_options.sh: the miniature channel (tests/fixtures/mini-channel, the offline
# stand-in for nixpkgs) declares every option the renderer sets, with nixpkgs' types. Each
# rendered golden (tests/fixtures/*/expected/render) evaluates through it; the same files with
# one option misspelled or given a value of the wrong type each fail evaluation, with the
# message that names the option. Fast: evaluation only, nothing is built.
set -euo pipefail

: "${NMMM_FIXTURES:?set NMMM_FIXTURES to tests/fixtures}"
# shellcheck source=tests/lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
# shellcheck source=tests/integration/lib/nix-env.sh
source "$(dirname "$0")/lib/nix-env.sh"

tmp=$(mktemp -d /tmp/nix-mini-options.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# evaluate DIR: the channel's config of DIR/configuration.nix, forced (every check runs).
evaluate() {
	nix-instantiate --eval --strict -E "
	  let c = (import $NMMM_FIXTURES/mini-channel/nixos { configuration = $1/configuration.nix; }).config;
	  in builtins.deepSeq (builtins.removeAttrs c [ \"system\" ]) c.system.stateVersion"
}

for render in "$NMMM_FIXTURES"/*/expected/render; do
	evaluate "$render" >/dev/null 2>"$tmp/err" || fail "$render: the miniature channel refuses a golden: $(cat "$tmp/err")"
done
echo "mini_channel_options: every rendered golden evaluates"

# mutate CASE FILE SED WANT: CASE's golden with SED applied to FILE must fail with WANT.
mutate() {
	local case=$1 file=$2 edit=$3 want=$4 dir="$tmp/$1-$RANDOM"
	cp -r "$NMMM_FIXTURES/$case/expected/render" "$dir"
	chmod -R u+w "$dir"
	sed -i "$edit" "$dir/$file"
	cmp -s "$dir/$file" "$NMMM_FIXTURES/$case/expected/render/$file" && fail "$case: '$edit' changed nothing in $file"
	if evaluate "$dir" >/dev/null 2>"$tmp/err"; then
		fail "$case: $file with '$edit' evaluates; the miniature channel must refuse it"
	fi
	grep -qF -- "$want" "$tmp/err" || fail "$case: '$edit': want '$want' in: $(cat "$tmp/err")"
}

hw=hardware-configuration.nix
mutate uefi-multifunction $hw 's/matchConfig.MACAddress/matchConfig.MACAdress/' "unknown key \`MACAdress'"
mutate uefi-multifunction $hw 's/systemd.enable = true/systemd.enabled = true/' "\`boot.initrd.systemd.enabled' does not exist"
mutate uefi-multifunction $hw 's/configurationLimit = 13/configurationLimit = "13"/' "\`boot.loader.grub.configurationLimit' is not of type \`signed integer'"
mutate uefi-multifunction $hw 's/extraPrepareConfig/extraPrepareConfigs/' "\`boot.loader.grub.extraPrepareConfigs' does not exist"
mutate uefi-multifunction $hw 's/path = "\/boot-fallback-1"/pth = "\/boot-fallback-1"/' "\`boot.loader.grub.mirroredBoots.*.pth' does not exist"
mutate uefi-multifunction $hw 's/options = \[ "fmask=0077" "dmask=0077" "nofail" \]/options = "nofail"/' "\`fileSystems.\"/boot\".options' is not of type \`non-empty list"
mutate uefi-multifunction $hw 's/"always-down"/"alwaysdown"/' "\"alwaysdown\" of \`systemd.network.networks.\"30-bmc-usb\".linkConfig.ActivationPolicy' is not one of"
mutate uefi-multifunction $hw 's/matchConfig.Path/matchConfig.PciPath/' "unknown key \`PciPath'"
mutate sata-pcie-bmc $hw 's/GatewayOnLink = true/GatewayOnlink = true/' "unknown key \`GatewayOnlink'"
mutate sata-pcie-bmc $hw 's/useNetworkd = true/useNetworkd = "yes"/' "\`networking.useNetworkd' is not of type \`boolean'"
mutate sata-pcie-bmc $hw 's/availableKernelModules = \[ "nvme"/availableKernelModules = [ 1/' "\`boot.initrd.availableKernelModules.*' is not of type \`string'"
mutate nvme-onboard $hw 's/boot.swraid.mdadmConf/boot.swraid.mdadmConfig/' "\`boot.swraid.mdadmConfig' does not exist"
mutate nvme-onboard configuration.nix 's/"prohibit-password"/"prohibit_password"/' "\`services.openssh.settings.PermitRootLogin' is not of type \`one of"
mutate nvme-onboard configuration.nix 's/openssh.authorizedKeys.keys/openssh.authorisedKeys.keys/' "\`users.users.root.openssh.authorisedKeys' does not exist"
mutate nvme-onboard configuration.nix 's/system.stateVersion = "[^"]*"/system.stateVersion = 2505/' "\`system.stateVersion' is not of type \`string'"
echo "mini_channel_options: 15 misspelled or mistyped options refused, each named"
