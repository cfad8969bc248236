#!/usr/bin/env bash
# tests/vm/inactive_array_torn_down.sh: an md array that sits in the kernel but does not run —
# as `mdadm --create` leaves one when the agent is killed in the middle of its raid phase, or as
# an old array assembled without all its members is left — has no content to wipe (size 0,
# writes fail with EIO). `layout` stops it and lays out the plan instead of failing in teardown.
# shellcheck disable=SC2154 # agent, plan: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:HALF-A,nvme:10G:HALF-B --firmware bios
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:HALF-A,serial:HALF-B
a=$(disk_by_serial HALF-A) b=$(disk_by_serial HALF-B)

for d in "$a" "$b"; do sgdisk -n1:2048:+1G -t1:fd00 "$d" >/dev/null || fail "sgdisk $d"; done
partprobe "$a" "$b" 2>/dev/null
udevadm settle
mdadm --create /dev/md9 --run --assume-clean --level=1 --raid-devices=2 --homehost=oldbox "${a}p1" "${b}p1" ||
  fail "could not create md9"
udevadm settle
# The second member forgotten, so neither this assembly nor udev's incremental one can complete
# the array: one member of two, without --run — in the kernel, but not started. udev's event
# queue is held from the stop until the zeroing: otherwise its incremental assembly can start
# the array again from both members in between (seen once: "Couldn't open ... for write - not
# zeroing"). An array made degraded from the start would not do: mdadm starts one that was
# already degraded when it stopped.
udevadm control --stop-exec-queue
mdadm --stop /dev/md9
mdadm --zero-superblock "${b}p1" || fail "could not zero ${b}p1's superblock"
udevadm control --start-exec-queue
mdadm --assemble /dev/md9 "${a}p1" 2>&1
udevadm settle
cat /proc/mdstat
md=$(awk '$2 == ":" && /inactive/ {print $1; exit}' /proc/mdstat)
md=${md:-md9}
state=$(cat "/sys/block/$md/md/array_state" 2>/dev/null)
[ "$state" = inactive ] && ok "$md is in the kernel and inactive, size $(cat "/sys/block/$md/size")" ||
  fail "$md: array_state '$state', wanted inactive (setup)"

old_uuid=$(mdadm --examine --export "${a}p1" | sed -n 's/^MD_UUID=//p')

run_layout "$disks" || fail "layout exited $?"
# The planned array may take the same kernel name: the old one is recognised by its UUID.
[ -n "$old_uuid" ] && ! mdadm --detail --scan | grep -q "$old_uuid" && ok "the old array ($old_uuid) is gone" ||
  fail "the old array '$old_uuid' is still assembled: $(cat /proc/mdstat)"
layout_plan "$disks"
assert_disks_match_plan <<<"$plan"
finish
