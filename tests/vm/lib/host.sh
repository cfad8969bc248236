# shellcheck shell=bash
# tests/vm/lib/host.sh: the host side of a VM scenario. A scenario file runs twice: on the host
# (ctest) it boots the simulated rescue with itself as the --run script; inside the guest
# (NMMM_GUEST=1) it runs the assertions. Sourced by tests/vm/*.sh when not in the guest.
set -euo pipefail
vm_src=${NMMM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
vm_script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
[ -z "${NMMM_AGENT:-}" ] || export NMMM_AGENT

# Boots the rescue with these options and this very scenario as the script; returns its status.
vm_boot() { "$vm_src/scripts/rescue-vm" --run "$vm_script" "$@"; }

# A directory for disks kept between boots, removed when the scenario ends.
vm_keep_dir() {
  vm_keep=$(mktemp -d "${TMPDIR:-/var/tmp}/nmmm-vm-keep.XXXXXX")
  trap 'rm -rf "$vm_keep"' EXIT
}

# Boots the installed disks with no rescue (scripts/rescue-vm --boot-from-disks): LABEL names the
# boot and its console log ($vm_keep/LABEL.log); FIRMWARE is bios or uefi; DEGRADED is how many
# members the root array must miss; the rest goes to rescue-vm (--disks, --snapshot). The
# installed system's stage 2 checks the root and the planned devices itself (its result is the
# status); here: the firmware it came up with, the root array's degraded count, whether mdadm's
# last-resort service started it, and how long stage 1 took. Counts failures (report.sh).
vm_disk_boot() {
  local label=$1 firmware=$2 degraded=$3 log rc=0 md line lr t0=$SECONDS
  shift 3
  log=$vm_keep/$label.log
  "$vm_src/scripts/rescue-vm" --boot-from-disks --keep "$vm_keep" --firmware "$firmware" --timeout 600 \
    --log "$log" --quiet "$@" || rc=$?
  sed -n '/^NMMM-/p' "$log"
  [ "$rc" = 0 ] && ok "$label: booted from the disks, the installed system's checks passed ($((SECONDS - t0)) s)" ||
    { fail "$label: the boot from the disks ended with $rc"; tail -n 40 "$log"; return 0; }
  grep -q "^NMMM-BOOTED firmware=$firmware " "$log" && ok "$label: booted by $firmware firmware" ||
    fail "$label: not booted by $firmware firmware"
  md=$(sed -n 's/^NMMM-ROOT dev=\([^ ]*\) .*/\1/p' "$log")
  line=$(grep "^NMMM-ARRAY $md " "$log")
  grep -q " degraded=$degraded " <<<"$line" && ok "$label: root $md runs with $degraded member(s) missing" ||
    fail "$label: root array '$line', want degraded=$degraded"
  lr=$(sed -n "s/^NMMM-STAGE1 last_resort_$md=//p" "$log")
  if [ "$degraded" = 0 ]; then
    [ "${lr:-0}" = 0 ] && ok "$label: no last-resort start" || fail "$label: mdadm-last-resort started $md with all disks there"
  else
    [ "${lr:-0}" != 0 ] && ok "$label: mdadm-last-resort@$md started the array after $((lr / 1000000)) s" ||
      fail "$label: $md runs degraded but mdadm-last-resort@$md.service never ran"
  fi
  local mounted
  mounted=$(sed -n 's/^NMMM-STAGE1 sysroot_mounted_us=//p' "$log")
  echo "$label: stage 1 mounted the root $((${mounted:-0} / 1000000)) s and ended" \
    "$(sed -n 's/^NMMM-STAGE1 stage1_end_s=//p' "$log") s after the kernel started"
}
