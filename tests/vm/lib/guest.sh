# shellcheck shell=bash
# tests/vm/lib/guest.sh: assertions the VM scenarios run inside the simulated rescue (sourced from
# /nmmm/lib/guest.sh). They read the disks with the rescue's own tools (blkid -p, mdadm, lsblk,
# wipefs) and compare with what the agent planned (plan --json, the saved state) and rendered.
# They only read; the agent is the only writer. Each failure names the disk or field.
# ok/fail/skip/finish are tests/lib/report.sh (shipped beside this file by scripts/rescue-vm), in
# counting mode: a scenario reports every assertion that failed, and `finish` ends it.
set -uo pipefail
agent=${NMMM_AGENT:-/nmmm/bin/nmmm-agent}
# shellcheck source=tests/lib/report.sh
. "$(dirname "${BASH_SOURCE[0]}")/report.sh"
report_counting

# Runs a command, echoing it; its status is returned.
step() {
  echo "+ $*"
  "$@"
}

# The kernel name of the disk with this serial (nvme0n1, sda, vdb), empty if none.
disk_by_serial() {
  lsblk -dnpo NAME,SERIAL | awk -v s="$1" '$2==s {print $1; exit}'
}

# The disk's slot as udev names it, where GRUB goes on BIOS machines: the /dev/disk/by-path
# link of the disk with this serial that the agent prefers (pci-..., the longest: udev's current
# form, not an older alias). SERIAL.
by_path_of() {
  local dev l
  dev=$(disk_by_serial "$1")
  [ -n "$dev" ] || return 0
  for l in /dev/disk/by-path/*; do
    case $l in *-part[0-9]*) continue ;; esac
    [ "$(readlink -f "$l")" = "$dev" ] && echo "$l"
  done | awk '{ print (index($0, "/dev/disk/by-path/pci-") == 1 ? 0 : 1), -length($0), $0 }' | sort -k1,1n -k2,2n -k3 | head -n1 | cut -d' ' -f3
}

# A property of a block device as blkid's low-level probe sees it (no cache): KEY DEV.
probe() { blkid -p -o export "$2" 2>/dev/null | sed -n "s/^$1=//p" | head -n1; }

# mdadm prints array UUIDs as 4 groups of 8 hex digits joined by ':'.
md_uuid() { local u=${1//-/}; echo "${u:0:8}:${u:8:8}:${u:16:8}:${u:24:8}"; }

# The plan the agent used for the disks it laid out: the saved state (DESIGN: /run/nmmm/state.json)
# or, for `layout`, the plan in its "plan done" event (run_layout keeps the events).
saved_plan() {
  local f
  for f in /run/nmmm/state.json /mnt/var/lib/nmmm/state.json; do
    if [ -s "$f" ] && jq -e '.plan' "$f" >/dev/null 2>&1; then
      jq '.plan' "$f"
      return 0
    fi
  done
  [ -s /tmp/layout-events.jsonl ] &&
    jq -c 'select(.phase == "plan" and .event == "done") | .plan' /tmp/layout-events.jsonl | tail -n1 | grep .
}

# `nmmm-agent layout --disks DISKS --yes [ARGS]`, keeping its events for saved_plan.
run_layout() {
  local disks=$1
  shift
  step "$agent" --events /tmp/layout-events.jsonl layout --disks "$disks" --yes "$@"
}

# Asserts that the disks carry the plan (JSON on stdin): every partition at its offset, size,
# type and PARTUUID; every array with its UUID, level and members; every filesystem with its
# type and UUID. With CHECK_UUIDS=0 only the structure (offsets, sizes, types) is compared.
assert_disks_match_plan() {
  local plan dev n i j want got part
  plan=$(cat)
  n=$(jq ".disks | length" <<<"$plan" 2>/dev/null)
  n=${n:-0}
  [ "$n" -gt 0 ] || { fail "the plan names no disks"; return; }
  for ((i = 0; i < n; i++)); do
    for ((j = 0; j < $(jq ".disks[$i].partitions | length" <<<"$plan"); j++)); do
      part=$(jq -r ".disks[$i].partitions[$j].path" <<<"$plan")
      [ -b "$part" ] || { fail "$part: planned partition does not exist"; continue; }
      want=$(jq -r ".disks[$i].partitions[$j] | \"\(.start / 512) \(.size / 512) \(.type_guid | ascii_downcase)\"" <<<"$plan")
      got="$(probe PART_ENTRY_OFFSET "$part") $(probe PART_ENTRY_SIZE "$part") $(probe PART_ENTRY_TYPE "$part")"
      [ "$want" = "$got" ] && ok "$part: offset/size/type $got" || fail "$part: offset/size/type '$got', planned '$want'"
      if [ "${CHECK_UUIDS:-1}" = 1 ]; then
        want=$(jq -r ".disks[$i].partitions[$j].part_uuid | ascii_downcase" <<<"$plan")
        got=$(probe PART_ENTRY_UUID "$part")
        [ "$want" = "$got" ] && ok "$part: PARTUUID $got" || fail "$part: PARTUUID '$got', planned '$want'"
      fi
    done
  done
  for ((i = 0; i < $(jq '.arrays | length' <<<"$plan"); i++)); do
    dev=$(jq -r ".arrays[$i].device" <<<"$plan")
    [ -e "$dev" ] || { fail "$dev: planned array is not there"; continue; }
    local md
    md=$(mdadm --detail --export "$dev")
    want="raid$(jq -r ".arrays[$i].level" <<<"$plan") $(jq -r ".arrays[$i].members | length" <<<"$plan")"
    got="$(sed -n 's/^MD_LEVEL=//p' <<<"$md") $(sed -n 's/^MD_DEVICES=//p' <<<"$md")"
    [ "$want" = "$got" ] && ok "$dev: $got members" || fail "$dev: level/members '$got', planned '$want'"
    for part in $(jq -r ".arrays[$i].members[]" <<<"$plan"); do
      grep -q "=$part\$" <<<"$md" && ok "$dev: member $part" || fail "$dev: $part is not a member"
    done
    if [ "${CHECK_UUIDS:-1}" = 1 ]; then
      want=$(md_uuid "$(jq -r ".arrays[$i].uuid" <<<"$plan")")
      got=$(sed -n 's/^MD_UUID=//p' <<<"$md")
      [ "$want" = "$got" ] && ok "$dev: array UUID $got" || fail "$dev: array UUID '$got', planned '$want'"
    fi
  done
  for ((i = 0; i < $(jq '.filesystems | length' <<<"$plan"); i++)); do
    dev=$(jq -r ".filesystems[$i].device" <<<"$plan")
    want=$(jq -r ".filesystems[$i].fstype" <<<"$plan")
    got=$(probe TYPE "$dev")
    [ "$want" = "$got" ] && ok "$dev: $got" || fail "$dev: filesystem '$got', planned '$want'"
    if [ "${CHECK_UUIDS:-1}" = 1 ]; then
      want=$(jq -r ".filesystems[$i].uuid" <<<"$plan")
      got=$(probe UUID "$dev")
      [ "${want,,}" = "${got,,}" ] && ok "$dev: UUID $got" || fail "$dev: UUID '$got', planned '$want'"
    fi
  done
}

# Asserts that a render in DIR is self-consistent and has the layout's shape: its
# hardware-configuration.nix mounts exactly the UUIDs of its plan.json, and that plan has the same
# partitions, arrays and filesystem types as PLAN (the layout's). `render` and `layout` each plan
# afresh, so their UUIDs differ; `install` renders and lays out from one plan.
assert_render_has_layout_shape() {
  local plan=$1 dir=$2 rplan
  rplan=$(jq -c '.plan' "$dir/plan.json" 2>/dev/null)
  [ -n "$rplan" ] && [ "$rplan" != null ] || { fail "$dir/plan.json: no plan"; return; }
  assert_rendered_matches_plan "$rplan" "$dir/hardware-configuration.nix"
  [ "$(plan_shape <<<"$rplan")" = "$(plan_shape <<<"$plan")" ] && ok "render planned the layout's partitions" ||
    fail "render's plan has other partitions than the layout's"
  [ "$(jq -c '[.arrays[] | [.name, .level, (.members | length)]], [.filesystems[] | [.fstype, .mountpoint]]' <<<"$rplan")" = \
    "$(jq -c '[.arrays[] | [.name, .level, (.members | length)]], [.filesystems[] | [.fstype, .mountpoint]]' <<<"$plan")" ] &&
    ok "render planned the layout's arrays and filesystems" || fail "render's arrays/filesystems differ from the layout's"
}

# Asserts that every filesystem UUID of the plan is what the rendered config mounts:
# fileSystems."<mountpoint>".device = "/dev/disk/by-uuid/<uuid>".
assert_rendered_matches_plan() {
  local plan=$1 hw=$2 i uuid mp
  [ -s "$hw" ] || { fail "$hw: not rendered"; return; }
  for ((i = 0; i < $(jq '.filesystems | length' <<<"$plan"); i++)); do
    uuid=$(jq -r ".filesystems[$i].uuid" <<<"$plan")
    mp=$(jq -r ".filesystems[$i].mountpoint // \"\"" <<<"$plan")
    # An ESP of a BIOS plan is formatted but not mounted: not in fileSystems.
    [ -n "$mp" ] || [ "$(jq -r ".filesystems[$i].fstype" <<<"$plan")" = swap ] || continue
    grep -q "/dev/disk/by-uuid/$uuid" "$hw" && ok "rendered $mp by-uuid/$uuid" ||
      fail "$hw: no /dev/disk/by-uuid/$uuid for $mp"
  done
}

# Asserts that the md array is clean or still resyncing with all members active.
assert_array_healthy() {
  local dev=$1 state
  state=$(mdadm --detail "$dev" | sed -n 's/^ *State : //p')
  case $state in
  clean | active | "clean, resyncing"* | "active, resyncing"*)
    ok "$dev: state '$state'" ;;
  *) fail "$dev: state '$state' (want clean or resyncing)" ;;
  esac
}

# One line per DISK: what the kernel has been asked to write to it, and a checksum of its ends.
# The kernel counts every write and discard that reaches a disk, from any layer (a partition, md,
# dm, LVM, a filesystem), in /sys/block/DISK/stat (fields 5, 7: write I/Os and sectors; 12, 14:
# discard I/Os and sectors): equal lines before and after a command mean it wrote nothing there,
# exactly, without reading the disks whole through emulated hardware (3.5 GB took about 450 s).
# The checksum of the first and last 4 MiB (GPT and its backup, md superblocks 4 KiB into a
# partition) covers a path the counters would not see (a passthrough command).
disk_marks() {
  local d n
  for d in "$@"; do
    n=$(($(blockdev --getsz "$d") / 2048))
    echo "$d $(awk '{ print "writes", $5, $7, "discards", $12, $14 }' "/sys/block/${d#/dev/}/stat")" \
      "$( (dd if="$d" bs=1M count=4 iflag=direct status=none
        dd if="$d" bs=1M skip=$((n - 4)) count=4 iflag=direct status=none) | md5sum | cut -d' ' -f1)"
  done
}

# Waits until the setup's writes are on the disks and nothing more is coming: page cache flushed,
# udev idle, and every md array back from active to clean (md writes its superblock once more
# 200 ms after an array's last write; that write must not land after a disk_marks "before").
disks_quiet() {
  local state _
  sync
  udevadm settle 2>/dev/null || true
  for state in /sys/block/md*/md/array_state; do
    [ -e "$state" ] || continue
    for _ in $(seq 300); do
      case $(cat "$state") in active | write-pending | active-idle) sleep 0.1 ;; *) break ;; esac
    done
  done
}

# Sets $plan to the plan the layout used, or — when the agent saved none — to a fresh
# `plan --json` for the same disks with UUID checks off (the structure is still compared; the
# missing state is a failure of its own).
layout_plan() {
  local disks=$1
  if plan=$(saved_plan); then
    ok "layout saved its plan"
    return 0
  fi
  fail "layout left no plan (no state file, no plan event); comparing the structure with plan --json only"
  CHECK_UUIDS=0
  plan=$("$agent" plan --disks "$disks" --json)
}

# Partition sizes of a plan by disk, "number:role:size" per line, for comparing two plans' shapes.
plan_shape() { jq -r '.disks[] | .partitions[] | "\(.number):\(.role):\(.start):\(.size)"' | sort -u; }
