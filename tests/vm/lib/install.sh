# shellcheck shell=bash disable=SC2154 # agent: set by guest.sh
# tests/vm/lib/install.sh: the install scenarios' shared parts. On the host: the miniature
# channel packed like nixexprs.tar.xz for the guest (vm_channel_tarball). In the guest: one
# `nmmm-agent install` with Debian's nix and that channel (guest_install) and the checks of what
# it left on the disks (assert_installed).

KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1t8eX2JmQvUo0wUqXkYy5YkqfYv0bq3j7n9b1c2d3 operator@laptop"

# Host: packs tests/fixtures/mini-channel (the stand-in for nixpkgs) into DIR/nixexprs.tar.xz,
# and its tree's NAR hash (as a flake.lock pins it, by Debian's nix-hash) into DIR/nixexprs.nar;
# both go into the guest (--file), whose image has no xz to unpack the tarball itself.
vm_channel_tarball() {
  local dir=$1
  mkdir -p "$dir/stage"
  cp -a "$vm_src/tests/fixtures/mini-channel" "$dir/stage/nixos-26.05.4242.test"
  tar -C "$dir/stage" -cJf "$dir/nixexprs.tar.xz" nixos-26.05.4242.test
  nix-hash --type sha256 "$dir/stage/nixos-26.05.4242.test" >"$dir/nixexprs.nar"
  rm -rf "$dir/stage"
}

# Host: the miniature nixpkgs where the compiled-in pin's first source looks for its rev, the
# GitHub archive origin/NixOS/nixpkgs/archive/REV.tar.gz (one top directory, gzip), under DIR, and
# DIR/pin: "REV NAR_HASH" for NMMM_TEST_NIXPKGS_PIN. With both in the guest (--file DIR/origin
# --file DIR/pin), guest_install runs `install --yes` with no nixpkgs option at all: the
# compiled-in pin's own path (its sources, release and NAR hash check) with only the rev and hash
# replaced, as README says tests do (NMMM_TEST_ORIGIN_BASE, a file:/// base here).
vm_pin_archive() {
  local dir=$1 rev=5eed5eed5eed5eed5eed5eed5eed5eed5eed0002
  mkdir -p "$dir/stage/nixpkgs-$rev" "$dir/origin/NixOS/nixpkgs/archive"
  cp -a "$vm_src/tests/fixtures/mini-channel/." "$dir/stage/nixpkgs-$rev/"
  tar -C "$dir/stage" -czf "$dir/origin/NixOS/nixpkgs/archive/$rev.tar.gz" "nixpkgs-$rev"
  echo "$rev $(nix-hash --type sha256 "$dir/stage/nixpkgs-$rev")" >"$dir/pin"
  rm -rf "$dir/stage"
}

# Guest: install onto DISKS with the channel from /nmmm/nixexprs.tar.xz, or, where the host put
# /nmmm/pin (vm_pin_archive), with no nixpkgs option: the compiled-in pin's path; extra arguments
# follow.
guest_install() {
  local disks=$1 nar
  shift
  if [ -s /nmmm/pin ]; then
    NMMM_TEST_ORIGIN_BASE=file:///nmmm/origin NMMM_TEST_NIXPKGS_PIN=$(cat /nmmm/pin) guest_install_with "$disks" "$@"
    return
  fi
  nar=$(cat /nmmm/nixexprs.nar)
  guest_install_with "$disks" --nixpkgs file:///nmmm/nixexprs.tar.xz --nixpkgs-hash "$nar" "$@"
}

# Guest: `install --yes` onto DISKS with Debian's nix, no binary cache, and the given options.
guest_install_with() {
  local disks=$1
  shift
  # On a real rescue the operator is logged in over this link; here e1000e may still be
  # negotiating right after boot.
  for _ in $(seq 150); do
    [ "$(cat /sys/class/net/eth0/operstate 2>/dev/null)" = up ] && break
    sleep 0.1
  done
  step "$agent" --events /tmp/install-events.jsonl install --yes --disks "$disks" --nix-from-path --substituters '' \
    --hostname web1 --ssh-key "$KEY" --no-reboot "$@"
}

# Guest: the plan the install saved, laid out exactly; arrays healthy; the installed root holds the
# rendered files, the system profile, the channel, host keys and the report; the boot loader went
# to every target named in BOOT_TARGETS (lines "kind device [path]").
assert_installed() {
  local boot_targets=$1 plan root m
  plan=$(jq .plan /run/nmmm/state.json)
  [ "$(jq -r .result /run/nmmm/state.json)" = "done" ] && ok "state: done" || fail "state: $(jq -c '.result, .error' /run/nmmm/state.json)"
  assert_disks_match_plan <<<"$plan"
  for dev in $(jq -r '.arrays[].device' <<<"$plan"); do assert_array_healthy "$dev"; done
  root=$(jq -r '.filesystems[] | select(.mountpoint == "/") | .device' <<<"$plan")
  m=$(mktemp -d)
  mount "$root" "$m" || { fail "$root does not mount"; return; }
  for f in configuration.nix hardware-configuration.nix plan.json report.json; do
    [ -s "$m/etc/nixos/$f" ] && ok "/etc/nixos/$f" || fail "/etc/nixos/$f missing"
  done
  [ -L "$m/nix/var/nix/profiles/system" ] && ok "system profile: $(readlink "$m/nix/var/nix/profiles/system-1-link")" ||
    fail "no system profile on the target"
  [ -e "$m/nix/var/nix/profiles/per-user/root/channels/nixos/nixos/default.nix" ] && ok "nixos channel registered" ||
    fail "no nixos channel on the target"
  [ "$(jq '.ssh_host_keys | length' "$m/etc/nixos/report.json")" = 2 ] && ok "report lists 2 host keys" ||
    fail "report.json host keys: $(jq -c .ssh_host_keys "$m/etc/nixos/report.json")"
  if [ -s /nmmm/pin ]; then
    # no nixpkgs option: the compiled-in pin's path, its rev replaced by the test tree's
    local pinned
    pinned=$(jq -r '.pins.nixpkgs | "\(.origin) \(.rev) \(.release) \(.branch)"' "$m/etc/nixos/report.json")
    [ "$pinned" = "NMMM_TEST_NIXPKGS_PIN $(cut -d' ' -f1 /nmmm/pin) 26.05 nixos-26.05" ] &&
      ok "installed from the compiled-in pin's sources (test rev): $pinned" || fail "report.json pins.nixpkgs: $pinned"
  fi
  local bootfile=$m/boot/nmmm-toy-bootloader
  if [ -n "$(jq -r '.filesystems[] | select(.mountpoint == "/boot") | .device' <<<"$plan")" ]; then
    mount "$(jq -r '.filesystems[] | select(.mountpoint == "/boot") | .device' <<<"$plan")" "$m/boot" || fail "ESP does not mount"
  fi
  if [ "$(sort "$bootfile" 2>/dev/null)" = "$(sort <<<"$boot_targets")" ]; then
    ok "boot loader installed on: $(tr '\n' ';' <"$bootfile")"
  else
    fail "boot loader targets '$(tr '\n' ';' <"$bootfile" 2>/dev/null)', expected '$(tr '\n' ';' <<<"$boot_targets")'"
  fi
  umount -R "$m"
}
