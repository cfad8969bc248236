#!/usr/bin/env bash
# tests/vm/decoy_disk_untouched.sh: two NVMe disks plus a third, eligible SATA disk holding data
# (the decoy, NMMMDECOY). Without --disks the agent refuses to choose among three disks; with
# --disks it lays out the two and never writes to the decoy: rescue-vm fails the run unless the
# decoy's SHA-256 (the whole image on the host, its ends inside the guest) is unchanged.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:NVME-A,nvme:10G:NVME-B --decoy
  exit
fi
. /nmmm/lib/guest.sh
decoy=$(disk_by_serial NMMMDECOY)
[ -n "$decoy" ] && ok "the decoy is $decoy" || fail "no decoy disk in the guest"
"$agent" layout --yes
rc=$?
[ "$rc" -ne 0 ] && ok "layout without --disks refused (exit $rc) with three disks" ||
  fail "layout without --disks went ahead on a machine with three eligible disks"
"$agent" wipe --disks serial:NMMMDECOY
rc=$?
[ "$rc" = 3 ] && ok "wipe without --yes refused (exit 3)" || fail "wipe of the decoy without --yes exited $rc, not 3"
run_layout serial:NVME-A,serial:NVME-B || fail "layout exited $?"
layout_plan serial:NVME-A,serial:NVME-B
assert_disks_match_plan <<<"$plan"
jq -e --arg d "$decoy" '[.disks[].path] | index($d) == null' <<<"$plan" >/dev/null &&
  ok "the decoy is not in the plan" || fail "the plan names the decoy $decoy"
finish
