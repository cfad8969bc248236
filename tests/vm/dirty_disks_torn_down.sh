#!/usr/bin/env bash
# tests/vm/dirty_disks_torn_down.sh: the disks carry a live old installation (md arrays assembled,
# an LVM root on md mounted at /mnt with /boot on md metadata 1.0 at /mnt/boot, swap on md switched
# on, an xfs volume active; see scripts/rescue-vm.d/dirty/old-install.sh). While the old /boot is
# also mounted outside the target (/srv/old), `layout --yes` refuses (exit 3) and changes nothing.
# Once that mount is gone it tears everything down and lays out the plan: no old UUID on any
# device nor in any old partition region, nothing old mounted, swapped on, active or assembled.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:OLD-A,nvme:10G:OLD-B --dirty old-install
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:OLD-A,serial:OLD-B
mapfile -t old < /run/nmmm-dirty/old-uuids

# Refused while something on the disks is mounted outside the target, and nothing changed.
# (same options as the mount at /mnt/boot: a second mount of one filesystem must not differ in ro/rw)
mkdir -p /srv/old
mount /dev/md0 /srv/old && grep -q ' /srv/old ' /proc/mounts && ok "old /boot (md0) also mounted at /srv/old" ||
  fail "could not mount md0 at /srv/old as well"
"$agent" layout --disks "$disks" --yes
rc=$?
[ "$rc" = 3 ] && ok "refused with /dev/md0 mounted at /srv/old (exit 3)" || fail "layout with md0 mounted at /srv/old exited $rc, not 3"
still=$(for d in $(lsblk -lnpo NAME); do probe UUID "$d"; done | sort -u | grep -cxF -f /run/nmmm-dirty/old-uuids)
[ "$still" = "${#old[@]}" ] && ok "after the refusal all ${#old[@]} old UUIDs are still there" ||
  fail "after the refusal only $still of ${#old[@]} old UUIDs are left: the refusal changed the disks"
umount /srv/old

run_layout "$disks" || fail "layout exited $?"
layout_plan "$disks"
assert_disks_match_plan <<<"$plan"

old_mounts=$(grep -E '^/dev/(md[0-2]|mapper/vg0-[a-z]+) ' /proc/mounts)
[ -z "$old_mounts" ] && ok "nothing old mounted" || fail "old filesystems still mounted: $old_mounts"
[ -z "$(swapon --show --noheadings)" ] && ok "no swap on" || fail "swap still on: $(swapon --show --noheadings)"
# The only arrays assembled now are the planned ones.
planned_md=$(jq -r '.arrays[].uuid' <<<"$plan" | while read -r u; do md_uuid "$u"; done | sort)
[ "$(mdadm --detail --scan | grep -o 'UUID=[0-9a-f:]*' | cut -d= -f2 | sort)" = "$planned_md" ] &&
  ok "only the planned arrays are assembled" || fail "arrays assembled: $(mdadm --detail --scan)"
[ -z "$(lvs --noheadings 2>/dev/null)" ] && ok "no LVM volume left" || fail "LVM volumes left: $(lvs --noheadings)"
# Every block device the kernel knows now, and every region where an old partition lay.
while read -r dev; do
  u=$(probe UUID "$dev")
  if [ -n "$u" ] && printf '%s\n' "${old[@]}" | grep -qx "$u"; then fail "$dev: old UUID $u survived"; fi
done < <(lsblk -lnpo NAME)
ok "no old UUID on any device ($(lsblk -lnpo NAME | wc -l) probed)"
# On the whole disks only the new partition table is left (wipefs sees the whole-disk signatures).
for s in OLD-A OLD-B; do
  d=$(disk_by_serial "$s")
  sigs=$(wipefs -n -O TYPE --noheadings "$d" 2>/dev/null | LC_ALL=C sort -u | tr '\n' ' ')
  [ "$sigs" = "PMBR gpt " ] && ok "$d: only the new GPT (wipefs: $sigs)" || fail "$d: wipefs finds '$sigs', want only gpt and PMBR"
done
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
