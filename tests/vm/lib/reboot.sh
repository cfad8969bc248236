# shellcheck shell=bash disable=SC2154 # agent, plan: set by guest.sh
# tests/vm/lib/reboot.sh: the two halves of the reboot scenarios, run inside the guest (sourced
# after guest.sh). Boot 1 keeps what boot 2 needs on the new root itself: the rendered config
# (where install would put it) and a marker, so nothing but the disks crosses the reboot.

# Boot 1: layout (mounting the target at /mnt), render, copy the config and a marker onto the root.
lay_out_and_leave_marker() {
  local disks=$1
  step "$agent" render --disks "$disks" --out /tmp/render || fail "render exited $?"
  run_layout "$disks" || fail "layout exited $?"
  layout_plan "$disks"
  assert_disks_match_plan <<<"$plan"
  if mountpoint -q /mnt; then
    mkdir -p /mnt/etc/nixos /mnt/var/lib/nmmm-test
    cp /tmp/render/*.nix /mnt/etc/nixos/ 2>/dev/null || fail "no rendered files to keep"
    echo "$plan" >/mnt/var/lib/nmmm-test/plan.json
    echo "written in boot 1" >/mnt/var/lib/nmmm-test/marker
    ok "config and marker stored on the new root"
  else
    fail "layout left no target mounted at /mnt"
  fi
  sync
  umount -R /mnt 2>/dev/null
  mdadm --stop --scan >/dev/null 2>&1
  sync
}

# Boot 2: arrays up (udev may have assembled them incrementally; those stay inactive until run).
assemble_after_reboot() {
  mdadm --assemble --scan 2>&1
  for md in /sys/block/md*; do
    [ -e "$md" ] || continue
    [ "$(cat "$md/md/array_state" 2>/dev/null)" = inactive ] && mdadm --run "/dev/${md##*/}" 2>&1
  done
  udevadm settle --timeout=30
  cat /proc/mdstat
  [ -n "$(mdadm --detail --scan)" ] && ok "arrays assembled: $(mdadm --detail --scan | awk '{print $2}' | tr '\n' ' ')" ||
    fail "no array assembled after the reboot"
}

# Boot 2: the root found by boot 1's marker, then every device the layout's plan puts into
# fileSystems/swapDevices (/dev/disk/by-uuid/..., what install renders from that plan) exists and
# mounts. `render` run separately plans its own UUIDs, so its file is kept but not the reference.
mounts_planned_devices() {
  local root_uuid dev t
  mkdir -p /target
  root_uuid=$(blkid -t TYPE=ext4 -o value -s UUID | while read -r u; do
    m=$(mktemp -d) && mount -o ro "/dev/disk/by-uuid/$u" "$m" 2>/dev/null &&
      { [ -f "$m/var/lib/nmmm-test/marker" ] && echo "$u"; umount "$m"; }
  done | head -n1)
  [ -n "$root_uuid" ] || { fail "no filesystem holds boot 1's marker"; return; }
  mount -o ro "/dev/disk/by-uuid/$root_uuid" /target
  ok "root $root_uuid mounted: $(cat /target/var/lib/nmmm-test/marker)"
  local kept=/target/var/lib/nmmm-test/plan.json devs
  devs=$(plan_devices <"$kept")
  [ -n "$devs" ] || { fail "$kept: no planned filesystem device"; umount /target; return; }
  for dev in $devs; do
    [ -e "$dev" ] || { fail "$dev: planned for fileSystems but missing after the reboot"; continue; }
    t=$(probe TYPE "$dev")
    if [ "$t" = swap ]; then ok "$dev: swap present"; continue; fi
    m=$(mktemp -d)
    mount -o ro "$dev" "$m" && ok "$dev ($t) mounts" || fail "$dev ($t) does not mount"
    umount "$m" 2>/dev/null
  done
  umount /target
}
