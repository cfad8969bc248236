#!/usr/bin/env bash
# tests/vm/dirty_disks_torn_down.sh: the disks carry a live old installation (md arrays assembled,
# /boot on md metadata 1.0 and an LVM root on md mounted, swap on md switched on, an xfs volume
# active; see scripts/rescue-vm.d/dirty/old-install.sh). `layout --yes` tears it all down and lays
# out the plan; afterwards no old UUID is found on any device nor in any old partition region,
# nothing old is mounted, swapped on, active in LVM or assembled.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:OLD-A,nvme:10G:OLD-B --dirty old-install
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:OLD-A,serial:OLD-B
run_layout "$disks" || fail "layout exited $?"
layout_plan "$disks"
assert_disks_match_plan <<<"$plan"

grep -qE ' /old(boot)? ' /proc/mounts && fail "old filesystems still mounted: $(grep -E ' /old(boot)? ' /proc/mounts)" ||
  ok "nothing old mounted"
[ -z "$(swapon --show --noheadings)" ] && ok "no swap on" || fail "swap still on: $(swapon --show --noheadings)"
[ -z "$(lvs --noheadings 2>/dev/null)" ] && ok "no LVM volume left" || fail "LVM volumes left: $(lvs --noheadings)"
mapfile -t old < /run/nmmm-dirty/old-uuids
# Every block device the kernel knows now, and every region where an old partition lay.
while read -r dev; do
  u=$(probe UUID "$dev")
  if [ -n "$u" ] && printf '%s\n' "${old[@]}" | grep -qx "$u"; then fail "$dev: old UUID $u survived"; fi
done < <(lsblk -lnpo NAME)
ok "no old UUID on any device ($(lsblk -lnpo NAME | wc -l) probed)"
while read -r disk off size; do
  u=$(blkid -p -O "$off" -S "$size" -o export "$disk" 2>/dev/null | sed -n 's/^UUID=//p')
  if [ -n "$u" ] && printf '%s\n' "${old[@]}" | grep -qx "$u"; then
    fail "$disk @$off: the old partition's signature (UUID $u) is still there"
  else
    ok "$disk @$off: no old signature"
  fi
  # metadata 1.0 keeps its superblock at the end of the old partition: probe the last 128 KiB too
  u=$(blkid -p -O $((off + size - 131072)) -S 131072 -o export "$disk" 2>/dev/null | sed -n 's/^UUID=//p')
  if [ -n "$u" ] && printf '%s\n' "${old[@]}" | grep -qx "$u"; then fail "$disk @$((off + size)): old end-of-partition superblock $u"; fi
done < /run/nmmm-dirty/old-regions
cat /proc/mdstat
finish
