#!/usr/bin/env bash
# tests/vm/degraded_boot_without_first_disk.sh: boot 1 lays out two NVMe disks and leaves a marker
# on the new root; boot 2 has only the second disk (the first one failed): the arrays start
# degraded, every rendered filesystem that lives on them mounts by UUID and the marker is there.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_keep_dir
  vm_boot --keep "$vm_keep" --disks nvme:10G:DEG-A,nvme:10G:DEG-B --boot 1
  vm_boot --keep "$vm_keep" --disks nvme:10G:DEG-B --boot 2
  exit
fi
. /nmmm/lib/guest.sh
. /nmmm/lib/reboot.sh
if [ "$NMMM_BOOT" = 1 ]; then
  lay_out_and_leave_marker serial:DEG-A,serial:DEG-B
  finish
fi
[ -z "$(disk_by_serial DEG-A)" ] && ok "the first disk is gone" || fail "DEG-A is still attached"
assemble_after_reboot
for dev in $(mdadm --detail --scan | awk '{print $2}'); do
  state=$(mdadm --detail "$dev" | sed -n 's/^ *State : //p')
  case $state in *degraded*) ok "$dev runs degraded ($state)" ;; *) fail "$dev: state '$state', want degraded" ;; esac
done
mounts_planned_devices
finish
