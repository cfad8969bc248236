#!/usr/bin/env bash
# tests/vm/vg_spanning_unplanned_disk_refused.sh: an old LVM volume group spans a planned disk
# (a PV on PLAN-A's first partition) and a disk outside the plan (OUTSIDE, whole disk), with an
# active volume on each side. `layout --yes` over PLAN-A and PLAN-B must refuse (exit 3) before
# teardown, naming the group and the PV outside the plan: a teardown would deactivate the whole
# group (taking OUTSIDE's volume down) and wipe its planned PV. Afterwards no write has reached
# any disk (disk_marks) and both volumes are still active. The decoy (NMMMDECOY) is
# checked by rescue-vm as always.
# shellcheck disable=SC2154 # agent: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:1536M:PLAN-A,nvme:1536M:PLAN-B,sata:512M:OUTSIDE --decoy
  exit
fi
. /nmmm/lib/guest.sh
part() { case $1 in *[0-9]) echo "${1}p$2" ;; *) echo "$1$2" ;; esac; }
a=$(disk_by_serial PLAN-A) b=$(disk_by_serial PLAN-B) x=$(disk_by_serial OUTSIDE)
[ -n "$a" ] && [ -n "$b" ] && [ -n "$x" ] && ok "planned $a and $b, outside the plan $x" || fail "disks missing: '$a' '$b' '$x'"

sgdisk -n1:2048:+512M -t1:8e00 "$a" >/dev/null
partprobe "$a" 2>/dev/null || true
udevadm settle 2>/dev/null || true
pv=$(part "$a" 1)
pvcreate -q -ff -y "$pv" "$x" && vgcreate -q spanvg "$pv" "$x" &&
  lvcreate -q -y -L 64M -n onplanned spanvg "$pv" && lvcreate -q -y -L 64M -n keep spanvg "$x" &&
  mkfs.ext4 -q -F -L keep /dev/spanvg/keep && ok "spanvg over $pv and $x, volumes onplanned and keep active" ||
  fail "could not make the volume group"
disks_quiet
sums() { disk_marks "$a" "$b" "$x"; }
before=$(sums)

echo '{"esp_size": "64M"}' >/tmp/small-esp.json # the disks are small; the plan must still fit
"$agent" --events /tmp/layout-events.jsonl layout --config /tmp/small-esp.json \
  --disks serial:PLAN-A,serial:PLAN-B --yes >/tmp/layout.out 2>&1
rc=$?
tail -n 3 /tmp/layout.out
[ "$rc" = 3 ] && ok "layout refused (exit 3)" || fail "layout exited $rc, not 3"
grep -q "LVM volume group spanvg has physical volume $pv on it and also $x, which is not on a disk in the plan" /tmp/layout.out &&
  ok "the refusal names spanvg and $x" || fail "the refusal does not name spanvg and $x"
grep -q '"phase":"teardown","event":"start"' /tmp/layout-events.jsonl && fail "teardown started" || ok "teardown never started"

[ "$(sums)" = "$before" ] && ok "nothing was written to $a, $b or $x, and their tables read the same" ||
  fail "a disk changed: before $before; after $(sums)"
for lv in onplanned keep; do
  [ "$(lvs --noheadings -o lv_active "spanvg/$lv" 2>/dev/null | tr -d ' ')" = active ] && ok "spanvg/$lv still active" ||
    fail "spanvg/$lv is not active any more"
done
blkid -p /dev/spanvg/keep | grep -q 'LABEL="keep"' && ok "the filesystem on spanvg/keep is there" ||
  fail "spanvg/keep lost its filesystem"
finish
