# shellcheck shell=bash disable=SC2154 # agent, plan: set by guest.sh
# tests/vm/lib/reboot.sh: the rescue's part after the installed disks booted by themselves (run
# inside the guest, sourced after guest.sh): the arrays assembled, a disk that was away added back.

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

# After a boot without DISK wrote to the arrays: DISK's members are stale. Each array running
# degraded gets DISK's partition with its UUID back (--re-add: the bitmap's dirty blocks only;
# else --add: a full copy), the resync runs at
# full speed until it ends, and the array is clean with every member active.
readd_missing_members() {
  local disk=$1 md part u t0 deg state how
  echo 200000 >/proc/sys/dev/raid/speed_limit_max
  echo 200000 >/proc/sys/dev/raid/speed_limit_min
  for md in $(mdadm --detail --scan | awk '{print $2}'); do
    u=$(mdadm --detail --export "$md" | sed -n 's/^MD_UUID=//p')
    # mdadm --detail --export has no degraded count: the kernel's, from sysfs.
    deg=/sys/block/$(basename "$(readlink -f "$md")")/md/degraded
    [ "$(cat "$deg")" != 0 ] ||
      { fail "$md: not degraded after a boot without $disk"; continue; }
    for part in $(lsblk -lnpo NAME "$disk" | tail -n +2); do
      [ "$(mdadm --examine --export "$part" 2>/dev/null | sed -n 's/^MD_UUID=//p')" = "$u" ] || continue
      t0=$SECONDS how=re-added
      step mdadm --manage "$md" --re-add "$part" || { how=added; step mdadm --manage "$md" --add "$part"; } ||
        { fail "$md: $part cannot be added back"; continue; }
      mdadm --wait "$md"
      ok "$md: $part $how, resync took $((SECONDS - t0)) s"
    done
    state=$(mdadm --detail "$md" | sed -n 's/^ *State : \(.*[^ ]\) *$/\1/p')
    [ "$state" = clean ] && [ "$(cat "$deg")" = 0 ] &&
      ok "$md: clean with all members after the resync" || fail "$md: state '$state' after the resync"
  done
}
