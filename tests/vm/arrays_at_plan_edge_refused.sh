#!/usr/bin/env bash
# tests/vm/arrays_at_plan_edge_refused.sh: live md arrays at the edge of the plan, each refused by
# `layout --yes` (exit 3) before teardown, with no write reaching any disk (the kernel's counts)
# and their tables reading the same: (1) md100 over a partition of planned PLAN-B and a partition of OUTSIDE (not planned),
# with a device-mapper device on it — stopping it would break OUTSIDE's array; (2) md101 over partitions of
# PLAN-A and PLAN-B, itself partitioned, with md101p1 mounted at /srv/p1 — a mount the teardown
# must find on the array's partition, not only on the array. The decoy is checked by rescue-vm.
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
for d in "$a" "$b" "$x"; do sgdisk -n1:2048:+200M -t1:fd00 "$d" >/dev/null; done
partprobe "$a" "$b" "$x" 2>/dev/null || true
udevadm settle 2>/dev/null || true

sums() { disk_marks "$a" "$b" "$x"; }
echo '{"esp_size": "64M"}' >/tmp/small-esp.json # the disks are small; the plan must still fit
# refused REGEX WHAT: layout over PLAN-A and PLAN-B exits 3 naming REGEX, never starts the
# teardown, and writes nothing to any disk.
refused() {
  local rc
  disks_quiet
  before=$(sums)
  "$agent" --events /tmp/layout-events.jsonl layout --config /tmp/small-esp.json \
    --disks serial:PLAN-A,serial:PLAN-B --yes >/tmp/layout.out 2>&1
  rc=$?
  tail -n 2 /tmp/layout.out
  [ "$rc" = 3 ] && ok "$2: layout refused (exit 3)" || fail "$2: layout exited $rc, not 3"
  grep -Eq "$1" /tmp/layout.out && ok "$2: the refusal names it" || fail "$2: the refusal does not match /$1/"
  grep -q '"phase":"teardown","event":"start"' /tmp/layout-events.jsonl && fail "$2: teardown started" ||
    ok "$2: teardown never started"
  [ "$(sums)" = "$before" ] && ok "$2: nothing was written to $a, $b or $x, and their tables read the same" ||
    fail "$2: a disk changed: before $before; after $(sums)"
}

# (1) An array with a member on a partition of the disk outside the plan, LUKS open on it.
mdadm --create /dev/md100 --run --assume-clean --level=1 --raid-devices=2 --metadata=1.2 \
  "$(part "$b" 1)" "$(part "$x" 1)" </dev/null >/dev/null 2>&1 && ok "md100 over $(part "$b" 1) and $(part "$x" 1)" ||
  fail "could not create md100"
# A device-mapper device on the array (dmsetup linear: this image's kernel has dm but not the
# ciphers LUKS2 needs; the check treats every dm device alike, and test_disk_ops covers LUKS's
# shape in sysfs).
dmsetup create edgelin --table "0 $(blockdev --getsz /dev/md100) linear /dev/md100 0" && ok "dm device on md100" ||
  fail "no dm device on md100"
md100=$(basename "$(readlink -f /dev/md100)")
refused "array $md100 is stacked on it and.*sits on $(basename "$x"), which is not in the plan" "md100 reaching $x"
grep -q "^$md100 : active" /proc/mdstat && ok "md100 still active" || fail "md100 is not active any more"
[ -b /dev/mapper/edgelin ] && ok "the dm device on md100 is still there" || fail "the dm device on md100 was removed"
dmsetup remove edgelin
mdadm --stop /dev/md100 >/dev/null 2>&1
mdadm --zero-superblock "$(part "$b" 1)" "$(part "$x" 1)" 2>/dev/null
# The check can fail: zeroing two superblocks is seen on both disks.
disks_quiet
[ "$(disk_marks "$b" "$x")" != "$(grep -v "^$a " <<<"$before")" ] && ok "disk_marks sees the superblocks zeroed on $b and $x" ||
  fail "disk_marks did not change after writing to $b and $x"

# (2) A partitioned array over both planned disks, its first partition mounted outside the target.
mdadm --create /dev/md101 --run --assume-clean --level=1 --raid-devices=2 --metadata=1.2 \
  "$(part "$a" 1)" "$(part "$b" 1)" </dev/null >/dev/null 2>&1 && ok "md101 over $(part "$a" 1) and $(part "$b" 1)" ||
  fail "could not create md101"
md101=$(basename "$(readlink -f /dev/md101)")
sgdisk -n1:0:+64M /dev/md101 >/dev/null && partprobe /dev/md101 2>/dev/null
udevadm settle 2>/dev/null || true
mkdir -p /srv/p1
# Read-only and fully initialised: a mounted ext4 must not write to the disks by itself.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "/dev/${md101}p1" &&
  mount -o ro,noload "/dev/${md101}p1" /srv/p1 && ok "${md101}p1 mounted at /srv/p1" || fail "could not mount ${md101}p1"
refused "${md101}p1.* is mounted at /srv/p1" "${md101}p1 mounted"
grep -q " /srv/p1 " /proc/mounts && ok "${md101}p1 still mounted" || fail "${md101}p1 is not mounted any more"
umount /srv/p1
finish
