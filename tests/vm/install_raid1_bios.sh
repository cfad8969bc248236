#!/usr/bin/env bash
# tests/vm/install_raid1_bios.sh: the whole `install --yes` in the simulated rescue, two NVMe
# disks, legacy BIOS, with Debian's nix and no nixpkgs option (the compiled-in pin's sources serve
# the miniature nixpkgs under a test rev, tests/vm/lib/install.sh): the disks carry the saved plan,
# the RAID-1 is healthy, the root holds the system, the channel, host keys and report, and GRUB
# went to both disks by slot (/dev/disk/by-path). Boot 2 with the same disks: the arrays assemble and every device the
# installed hardware-configuration.nix mounts exists and mounts.
# shellcheck disable=SC2154 # agent, vm_keep, vm_src: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  . "$(dirname "$0")/lib/install.sh"
  vm_keep_dir
  # no nixpkgs option: the compiled-in pin's sources, the miniature nixpkgs under its test rev
  vm_pin_archive "$vm_keep"
  vm_boot --keep "$vm_keep" --disks nvme:6G:INST-A,nvme:6G:INST-B --mem 2048 --file "$vm_keep/origin" --file "$vm_keep/pin" --boot 1
  vm_boot --keep "$vm_keep" --disks nvme:6G:INST-A,nvme:6G:INST-B --mem 2048 --boot 2
  exit
fi
. /nmmm/lib/guest.sh
. /nmmm/lib/install.sh
if [ "$NMMM_BOOT" = 1 ]; then
  guest_install serial:INST-A,serial:INST-B || fail "install exited $?"
  assert_installed "grub-bios $(by_path_of INST-A)
grub-bios $(by_path_of INST-B)"
  finish
fi
. /nmmm/lib/reboot.sh
assemble_after_reboot
mkdir -p /target
for dev in /dev/md/*; do mount -o ro "$dev" /target 2>/dev/null && [ -f /target/etc/nixos/hardware-configuration.nix ] && break; umount /target 2>/dev/null; done
hw=/target/etc/nixos/hardware-configuration.nix
[ -f "$hw" ] || { fail "no assembled array holds the installed /etc/nixos"; finish; }
devs=$(grep -o '/dev/disk/by-uuid/[0-9A-Fa-f-]*' "$hw" | sort -u)
[ -n "$devs" ] || fail "$hw names no /dev/disk/by-uuid device"
for dev in $devs; do
  [ -e "$dev" ] || { fail "$dev (from $hw) missing after the reboot"; continue; }
  [ "$(probe TYPE "$dev")" = swap ] && { ok "$dev: swap"; continue; }
  m=$(mktemp -d)
  mount -o ro "$dev" "$m" && ok "$dev ($(probe TYPE "$dev")) mounts" || fail "$dev does not mount"
  umount "$m" 2>/dev/null
done
[ -L /target/nix/var/nix/profiles/system ] && ok "installed system profile present after the reboot" || fail "no system profile"
umount /target
finish
