#!/usr/bin/env bash
# tests/vm/unequal_disks_follow_smaller.sh: a 16G and a 20G NVMe disk. The plan gives both the
# same partitions, sized by the smaller disk: every partition of the larger disk has the same
# start and size as its twin, and the last one ends within the 16G disk.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:16G:SMALL-16G,nvme:20G:LARGE-20G
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:SMALL-16G,serial:LARGE-20G
run_layout "$disks" || fail "layout exited $?"
layout_plan "$disks"
assert_disks_match_plan <<<"$plan"
small=$(disk_by_serial SMALL-16G) large=$(disk_by_serial LARGE-20G)
shape() { lsblk -lnbo NAME,START,SIZE "$1" 2>/dev/null || true; }
for p in $(lsblk -lnpo NAME,TYPE "$large" | awk '$2=="part" {print $1}'); do
  n=${p##*[a-z]}
  q=$(lsblk -lnpo NAME,TYPE "$small" | awk -v n="$n" '$2=="part" && $1 ~ ("[^0-9]" n "$") {print $1}')
  a="$(cat "/sys/class/block/${p#/dev/}/start") $(cat "/sys/class/block/${p#/dev/}/size")"
  b="$(cat "/sys/class/block/${q#/dev/}/start" 2>/dev/null) $(cat "/sys/class/block/${q#/dev/}/size" 2>/dev/null)"
  [ "$a" = "$b" ] && ok "partition $n: start/size $a on both" || fail "partition $n: $large '$a' vs $small '$b'"
  end=$(( ($(cat "/sys/class/block/${p#/dev/}/start") + $(cat "/sys/class/block/${p#/dev/}/size")) * 512 ))
  [ "$end" -le "$(blockdev --getsize64 "$small")" ] && ok "partition $n ends within the 16G disk" ||
    fail "$p ends at $end, beyond the smaller disk"
done
[ -n "$(lsblk -lnpo TYPE "$large" | grep -x part)" ] || fail "$large: no partitions"
shape "$small"; shape "$large"
finish
