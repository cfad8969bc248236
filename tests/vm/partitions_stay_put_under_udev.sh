#!/usr/bin/env bash
# tests/vm/partitions_stay_put_under_udev.sh: with systemd-udevd running (as in Hetzner's rescue),
# the partition nodes the agent creates are never removed and re-added behind its back. udevd
# answers a writer closing a whole disk by re-reading its partition table, which drops and
# re-creates every partition node — without the agent's BSD lock on the disks this happened
# right after the partition phase, racing the raid phase's mdadm. Fresh disks, so any kernel
# "remove" of a block partition during `layout` is such a re-read. Afterwards udevd has caught up
# with the deferred events: the by-partuuid and by-uuid links of the plan exist.
# shellcheck disable=SC2154 # agent, plan: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:NVME-A,nvme:10G:NVME-B --firmware bios
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:NVME-A,serial:NVME-B

pidof systemd-udevd >/dev/null && ok "systemd-udevd runs" || fail "systemd-udevd is not running; this scenario needs it"
udevadm monitor --kernel --subsystem-match=block >/tmp/uevents.txt 2>&1 &
monitor=$!
# One waiter for a shared lock per disk, as udevd takes one: flock(2) hands a released lock to a
# waiter at once, so every moment the agent lets go of a disk's lock mid-layout is a line here —
# whether or not udevd happened to re-read the table in it (that race is rare; this is not).
watchers=()
for d in /dev/nvme0n1 /dev/nvme1n1; do
  (while :; do flock --shared "$d" date +%s.%N; sleep 0.02; done >"/tmp/lockwatch.${d##*/}") &
  watchers+=($!)
done
sleep 1
started=$(date +%s)
run_layout "$disks" >/tmp/layout.out 2>&1 || fail "layout exited $?"
cat /tmp/layout.out
# Generous: udevd lets events of a locked disk wait (up to 3 min) and handles them once unlocked.
udevadm settle --timeout=60 || fail "udevd's queue did not drain within 60 s after layout"
took=$(($(date +%s) - started))
sleep 1
kill "$monitor" "${watchers[@]}"
echo "layout and settle took ${took} s"
# From the partition phase's start (the lock is taken again before it, after udevd drained its
# queue behind the wipe) to the mount's done (the lock goes after it) no one else held a lock
# on a planned disk.
locked_from=$(jq -r 'select(.phase == "partition" and .event == "start") | .ts' /tmp/layout-events.jsonl)
locked_to=$(jq -r 'select(.phase == "mount" and .event == "done") | .ts' /tmp/layout-events.jsonl)
[ -n "$locked_from" ] && [ -n "$locked_to" ] || fail "no partition start or mount done event in the layout's events"
for d in nvme0n1 nvme1n1; do
  inside=$(awk -v a="$locked_from" -v b="$locked_to" '$1 > a && $1 < b' "/tmp/lockwatch.$d")
  [ -s "/tmp/lockwatch.$d" ] && [ -z "$inside" ] && ok "$d stayed locked from partition to mount" ||
    fail "$d: another program got the disk's lock while layout ran (between $locked_from and $locked_to) at:
${inside:-(the watcher never got the lock at all)}"
done
# Debian's libparted runs `udevadm settle` around each commit; a lock held across it would stall
# every commit for settle's 120 s, and settle says so on the agent's output.
! grep -q "Timed out for waiting the udev queue" /tmp/layout.out && ok "no udevadm settle timed out behind the disk lock" ||
  fail "a udevadm settle inside libparted timed out (${took} s in all): the disk lock was held across its commit"

layout_plan "$disks"
planned=$(jq '[.disks[].partitions[]] | length' <<<"$plan")
adds=$(grep -cE '^KERNEL.* add +/.*/nvme[0-9]n1p[0-9]+ \(block\)' /tmp/uevents.txt)
removes=$(grep -E '^KERNEL.* remove +/.*/nvme[0-9]n1p[0-9]+ \(block\)' /tmp/uevents.txt)
[ "$planned" -gt 0 ] && [ "$adds" -eq "$planned" ] && ok "$planned planned partitions added once each" ||
  fail "partition add events: $adds ($planned planned)"
[ -z "$removes" ] && ok "no partition node was removed behind the agent's back" ||
  fail "partition nodes removed during layout (a partition table re-read):
$removes"

assert_disks_match_plan <<<"$plan"
for u in $(jq -r '.disks[].partitions[].part_uuid | ascii_downcase' <<<"$plan"); do
  [ -L "/dev/disk/by-partuuid/$u" ] && ok "by-partuuid/$u" || fail "/dev/disk/by-partuuid/$u missing: udevd never handled the deferred add"
done
for u in $(jq -r '.filesystems[].uuid' <<<"$plan"); do
  [ -L "/dev/disk/by-uuid/$u" ] && ok "by-uuid/$u" || fail "/dev/disk/by-uuid/$u missing"
done
finish
