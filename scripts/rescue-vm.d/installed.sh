# shellcheck shell=bash
# rescue-vm.d/installed.sh: a STAND-IN for the first boot of the installed NixOS, which cannot
# happen here (the miniature channel that stands in for nixpkgs builds a toy system with no kernel,
# systemd or sshd of its own). Sourced by rescue-vm.d/init when booted with `--serve --installed`:
# the rescue image's own programs do, from the installed disks, what NixOS's boot would do for an
# observer on the network and for `diagnose` in a later rescue:
# - stage 1: the arrays assembled, the root mounted by the UUID the rendered config names
#   (NMMM_ROOT_UUID in /nmmm/installed.env; the host read it from the exported plan.json) and
#   checked against the rendered hardware-configuration.nix on it;
# - journald: the image's real systemd-journald (it runs without systemd as PID 1), writing the
#   kernel's messages (/dev/kmsg) and the programs' (/dev/log) to the installed /var/log/journal;
# - udev + networkd: the NIC with the rendered MAC renamed to the NixOS name of plan.json and
#   given the rendered addresses and on-link gateway; no NIC with that MAC: nothing configured;
# - sshd: the installed host keys (/etc/ssh/ssh_host_*_key on the root) and root's keys from the
#   installed configuration.nix (NixOS puts them in /etc/ssh/authorized_keys.d/root);
# - /run/current-system: the installed system profile's target; a `systemctl` that says
#   "running" (the toy system has no systemd to ask).
# It writes to the installed root only what that boot would: the journal and /etc/machine-id.

# The rendered uplink unit ("10-uplink") of hardware-configuration.nix, its lines.
installed_uplink_unit() { awk '/networks\."10-uplink" = \{/ {on=1} on {print} on && /^  \};/ {exit}' "$1"; }

# Stage 1: arrays up (udev may have left some inactive), the root by its rendered UUID at /sysroot.
installed_mount_root() {
  local md dev
  mdadm --assemble --scan >/dev/null 2>&1
  for md in /sys/block/md*; do
    [ -e "$md" ] || continue
    [ "$(cat "$md/md/array_state" 2>/dev/null)" != inactive ] || mdadm --run "/dev/${md##*/}" >/dev/null 2>&1
  done
  udevadm settle --timeout=30
  dev=$(blkid -U "$NMMM_ROOT_UUID" 2>/dev/null)
  [ -n "$dev" ] || { say "installed: no filesystem with the root's UUID '$NMMM_ROOT_UUID': nothing to boot"; return 1; }
  mkdir -p /sysroot
  mount "$dev" /sysroot || { say "installed: $dev does not mount"; return 1; }
  grep -q "/dev/disk/by-uuid/$NMMM_ROOT_UUID" /sysroot/etc/nixos/hardware-configuration.nix ||
    say "installed: the installed hardware-configuration.nix does not mount / by $NMMM_ROOT_UUID"
  say "installed: root $NMMM_ROOT_UUID ($dev) mounted"
}

# journald on the installed /var/log/journal (flushed there at once, as systemd-journal-flush does).
installed_start_journald() {
  local id
  [ -s /sysroot/etc/machine-id ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >/sysroot/etc/machine-id
  id=$(cat /sysroot/etc/machine-id)
  echo "$id" >/etc/machine-id
  # journald wants the cgroup tree (systemd as PID 1 would have mounted it)
  mkdir -p /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
  mkdir -p /sysroot/var/log/journal /var/log/journal
  mount --bind /sysroot/var/log/journal /var/log/journal
  /usr/lib/systemd/systemd-journald &
  installed_journald=$!
  for _ in $(seq 50); do
    [ -S /run/systemd/journal/dev-log ] && break
    sleep 0.1
  done
  ln -sf /run/systemd/journal/dev-log /dev/log
  kill -USR1 "$installed_journald"
}

# The uplink as the rendered unit says, once it has carrier (as networkd waits for it); sets
# installed_link, left empty when no NIC has the rendered MAC.
installed_network() {
  local hw=/sysroot/etc/nixos/hardware-configuration.nix unit mac name='' want nic a gw
  installed_link=''
  unit=$(installed_uplink_unit "$hw")
  mac=$(sed -n 's/.*matchConfig.MACAddress = "\([^"]*\)".*/\1/p' <<<"$unit" | head -n1)
  want=$(jq -r '.uplink.predicted_name // .uplink.name // empty' /sysroot/etc/nixos/plan.json 2>/dev/null)
  for nic in /sys/class/net/*; do
    [ "$(cat "$nic/address" 2>/dev/null)" = "$mac" ] && name=${nic##*/}
  done
  [ -n "$name" ] || { logger -t systemd-networkd "no link matches 10-uplink.network (MAC $mac)"; return 0; }
  ip link set lo up
  # udev gave the NIC its predictable name as an altname already (systemd's 99-default.link)
  if [ -n "$want" ] && [ "$want" != "$name" ]; then
    ip link property del dev "$name" altname "$want" 2>/dev/null
    ip link set dev "$name" name "$want" && name=$want
  fi
  ip link set dev "$name" up
  for _ in $(seq 50); do
    [ "$(cat "/sys/class/net/$name/carrier" 2>/dev/null)" = 1 ] && break
    sleep 0.2
  done
  echo "NMMM-INSTALLED-LINK $name"
  for a in $(sed -n 's/^ *address = \[\(.*\)\];/\1/p' <<<"$unit" | tr -d '"'); do
    ip addr add "$a" dev "$name" nodad 2>/dev/null || ip addr add "$a" dev "$name"
  done
  for gw in $(grep -o 'Gateway = "[^"]*"' <<<"$unit" | cut -d'"' -f2); do
    case $gw in
    *:*) ip -6 route add default via "$gw" dev "$name" 2>/dev/null ;;
    *) ip route add default via "$gw" dev "$name" onlink ;;
    esac
  done
  logger -t systemd-networkd "$name: Configuring with /etc/systemd/network/10-uplink.network."
  installed_link=$name
}

# A link that loses its carrier: the journal is synced and the filesystem's state written home.
# On a real server minutes pass before anyone resets it, and the kernel's writeback puts the
# journal on the disk meanwhile; here the reset follows within seconds, and diagnose reads the root
# without replaying its ext4 journal (noload). The freeze does what those minutes would.
installed_watch_carrier() {
  local name=$1
  until [ "$(cat "/sys/class/net/$name/carrier" 2>/dev/null)" = 0 ]; do sleep 0.5; done
  sleep 1
  kill -s RTMIN+1 "$installed_journald" 2>/dev/null
  sleep 1
  fsfreeze -f /sysroot && fsfreeze -u /sysroot
  say "installed: $name lost its carrier; the journal is on the disk"
}

installed_start_sshd() {
  local k keys=''
  mkdir -p /run/sshd /etc/ssh/installed /etc/ssh/authorized_keys.d
  for k in /sysroot/etc/ssh/ssh_host_*_key; do
    [ -s "$k" ] || continue
    cp "$k" "/etc/ssh/installed/${k##*/}" && chmod 0600 "/etc/ssh/installed/${k##*/}"
    keys="${keys}HostKey /etc/ssh/installed/${k##*/}"$'\n'
  done
  awk '/authorizedKeys.keys = \[/ {on=1; next} on && /\];/ {exit} on' /sysroot/etc/nixos/configuration.nix |
    sed -e 's/^ *"//' -e 's/"$//' >/etc/ssh/authorized_keys.d/root
  printf '%sPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPrintMotd no\nAuthorizedKeysFile /etc/ssh/authorized_keys.d/%%u\n' \
    "$keys" >/etc/ssh/sshd_config
  /usr/sbin/sshd || say "installed: sshd did not start"
}

# The installed system's generation and systemd's answer (stand-ins, see the top).
installed_system_links() {
  local gen
  gen=$(readlink /sysroot/nix/var/nix/profiles/system)
  ln -sfn "$(readlink "/sysroot/nix/var/nix/profiles/${gen##*/}")" /run/current-system
  mkdir -p /usr/local/bin
  printf '#!/bin/sh\n# Stands in for systemd on the installed NixOS (the toy system has none).\n[ "$1" = is-system-running ] && { echo running; exit 0; }\nexit 0\n' \
    >/usr/local/bin/systemctl
  chmod 0755 /usr/local/bin/systemctl
}

boot_installed() {
  # shellcheck disable=SC1091 # written per boot by the host
  [ ! -s /nmmm/installed.env ] || . /nmmm/installed.env
  hostname "${NMMM_HOSTNAME:-installed}"
  installed_mount_root || return 0
  installed_start_journald
  installed_network
  installed_system_links
  installed_start_sshd
  say "installed: up (uplink ${installed_link:-none}, system $(readlink /run/current-system))"
  [ -z "$installed_link" ] || installed_watch_carrier "$installed_link" &
}
