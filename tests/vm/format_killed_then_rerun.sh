#!/usr/bin/env bash
# tests/vm/format_killed_then_rerun.sh: `layout --yes` is killed with SIGKILL as soon as its format
# phase starts (arrays made, filesystems half made); the same command run again must finish and
# leave the same layout an uninterrupted run plans: the same partition shape, healthy arrays, and
# disks that match the plan it saved.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:KILL-A,nvme:10G:KILL-B
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:KILL-A,serial:KILL-B
first_shape=$("$agent" plan --disks "$disks" --json | plan_shape)
[ -n "$first_shape" ] || fail "plan --json gave no partitions"

"$agent" --events /tmp/events.jsonl layout --disks "$disks" --yes &
pid=$!
killed=0
for _ in $(seq 1 1200); do
  if grep -q '"phase": *"format"' /tmp/events.jsonl 2>/dev/null; then
    kill -KILL "$pid" && killed=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
wait "$pid" 2>/dev/null
[ $killed = 1 ] && ok "killed layout at the start of format" ||
  fail "layout never reached the format phase (events: $(tail -n 3 /tmp/events.jsonl 2>/dev/null))"
cat /proc/mdstat

run_layout "$disks" || fail "the second layout exited $?"
layout_plan "$disks"
assert_disks_match_plan <<<"$plan"
[ "$(plan_shape <<<"$plan")" = "$first_shape" ] && ok "same partition shape as planned before the kill" ||
  fail "partition shape after the rerun differs from the plan before the kill"
for dev in $(jq -r '.arrays[].device' <<<"$plan"); do assert_array_healthy "$dev"; done
finish
