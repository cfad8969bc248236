#!/usr/bin/env bash
# tests/vm/reboot_arrays_assemble.sh: boot 1 lays out two NVMe disks, renders the config and
# stores it, with a marker file, on the new root. Boot 2, with the same disks: the arrays assemble
# (`mdadm --assemble --scan`, udev running), every /dev/disk/by-uuid device the plan gives to
# fileSystems/swapDevices exists and mounts, and the marker written in boot 1 is there.
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_keep_dir
  vm_boot --keep "$vm_keep" --disks nvme:10G:KEEP-A,nvme:10G:KEEP-B --boot 1
  vm_boot --keep "$vm_keep" --disks nvme:10G:KEEP-A,nvme:10G:KEEP-B --boot 2
  exit
fi
. /nmmm/lib/guest.sh
. /nmmm/lib/reboot.sh
if [ "$NMMM_BOOT" = 1 ]; then
  lay_out_and_leave_marker serial:KEEP-A,serial:KEEP-B
  finish
fi
assemble_after_reboot
mounts_planned_devices
for dev in $(mdadm --detail --scan | awk '{print $2}'); do assert_array_healthy "$dev"; done
finish
