#!/usr/bin/env bash
# tests/vm/install_raid1_bios.sh: the whole `install --yes` in the simulated rescue, two NVMe
# disks, legacy BIOS, with Debian's nix and no nixpkgs option (the compiled-in pin's sources serve
# the miniature nixpkgs under a test rev, tests/vm/lib/install.sh): the disks carry the saved plan,
# the RAID-1 is healthy, the root holds the system, the channel, host keys and report, and GRUB
# went to both disks by slot (/dev/disk/by-path). Then the layout boots by itself, with no kernel from the harness:
# SeaBIOS runs a disk's MBR, GRUB's core from its BIOS boot partition reads /boot on the RAID-1,
# the initrd (systemd, udev, mdadm's rules and last-resort timer) mounts the root by the rendered
# UUID and the installed system checks it and every planned device by UUID — with both disks,
# without the first (on overlays: the disks stay as they were), without the second (for real: the
# root is written, the first disk moves ahead). Last, in the rescue, the second disk comes back:
# it is added to the array again, the resync ends, the array is clean with both members.
# Real: firmware, partitions, GRUB (Debian's, installed by the system's switch-to-configuration as
# NixOS's install-grub does), md, udev and the last-resort mechanism. Stand-ins: the kernel (the
# harness's), the initrd's builder (Debian's dracut) and the toy system (busybox).
# shellcheck disable=SC2154 # agent, vm_keep, vm_src: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  . "$(dirname "$0")/lib/install.sh"
  . "$vm_src/tests/lib/report.sh"
  report_counting
  vm_keep_dir
  # no nixpkgs option: the compiled-in pin's sources, the miniature nixpkgs under its test rev
  vm_pin_archive "$vm_keep"
  vm_boot --keep "$vm_keep" --disks nvme:6G:INST-A,nvme:6G:INST-B --mem 2048 --boot-files \
    --file "$vm_keep/origin" --file "$vm_keep/pin" --boot 1
  vm_disk_boot both-disks bios 0 --disks nvme:6G:INST-A,nvme:6G:INST-B
  vm_disk_boot without-first bios 1 --disks nvme:6G:INST-B --snapshot
  vm_disk_boot without-second bios 1 --disks nvme:6G:INST-A
  vm_boot --keep "$vm_keep" --disks nvme:6G:INST-A,nvme:6G:INST-B --boot 5 || fail "the resync in the rescue exited $?"
  finish
fi
. /nmmm/lib/guest.sh
. /nmmm/lib/install.sh
if [ "$NMMM_BOOT" = 1 ]; then
  guest_install serial:INST-A,serial:INST-B || fail "install exited $?"
  assert_installed "grub-bios $(by_path_of INST-A)
grub-bios $(by_path_of INST-B)"
  finish
fi
. /nmmm/lib/reboot.sh
assemble_after_reboot
readd_missing_members "$(disk_by_serial INST-B)"
finish
