#!/usr/bin/env bash
# tests/vm/install_uefi_sata_resume.sh: `install` on two SATA disks under UEFI (OVMF), killed
# with SIGKILL as the raid, format, mount and install phases start, each time continued with
# `install --resume --yes`: the end is one clean install — the saved plan exactly on the disks,
# the RAID-1 healthy, an ESP on each disk, GRUB for EFI on /boot and mirrored to the second ESP.
# Then the layout boots by itself, with no kernel from the harness: OVMF runs each ESP's
# \EFI\BOOT\BOOTX64.EFI (GRUB installed --removable into that ESP, with the kernel and initrds
# copied next to its grub.cfg), the initrd (systemd, udev, mdadm's rules and last-resort timer)
# mounts the root by the rendered UUID and the installed system checks it and every planned device
# (both ESPs included) by UUID — with both disks, without the first (on overlays), without the
# second (for real: the first disk moves ahead). Last, in the rescue, the second disk comes back
# and the array resyncs to clean. Real: firmware, partitions, GRUB, md, the last-resort mechanism;
# stand-ins: the kernel, the initrd's builder, the toy system (tests/vm/install_raid1_bios.sh).
# shellcheck disable=SC2154 # agent, vm_keep, vm_src: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  . "$(dirname "$0")/lib/install.sh"
  . "$vm_src/tests/lib/report.sh"
  report_counting
  vm_keep_dir
  vm_channel_tarball "$vm_keep"
  # 2 GiB: the rescue in RAM plus the boot files (kernel, initrd) and the channel under OVMF
  vm_boot --keep "$vm_keep" --disks sata:6G:UEFI-A,sata:6G:UEFI-B --firmware uefi --mem 2048 --boot-files \
    --file "$vm_keep/nixexprs.tar.xz" --file "$vm_keep/nixexprs.nar" --boot 1
  vm_disk_boot both-disks uefi 0 --disks sata:6G:UEFI-A,sata:6G:UEFI-B
  vm_disk_boot without-first uefi 1 --disks sata:6G:UEFI-B --snapshot
  vm_disk_boot without-second uefi 1 --disks sata:6G:UEFI-A
  vm_boot --keep "$vm_keep" --disks sata:6G:UEFI-A,sata:6G:UEFI-B --firmware uefi --mem 2048 --boot 5 ||
    fail "the resync in the rescue exited $?"
  finish
fi
. /nmmm/lib/guest.sh
. /nmmm/lib/install.sh
if [ "$NMMM_BOOT" = 5 ]; then
  . /nmmm/lib/reboot.sh
  assemble_after_reboot
  readd_missing_members "$(disk_by_serial UEFI-B)"
  finish
fi
disks=serial:UEFI-A,serial:UEFI-B
# The rescue's own md resync limit: the install lowers it (to 10000 KiB/s, when above) and must
# put back this one, also when a resume creates the arrays again and so finds the lowered limit in
# force. Just above the install's limit, so the install lowers it without the resync eating the
# emulated CPU (the harness keeps it at 2000, which the install would leave alone).
[ -e /proc/sys/dev/raid/speed_limit_max ] || modprobe md_mod
echo 10001 >/proc/sys/dev/raid/speed_limit_max
limit_before=$(cat /proc/sys/dev/raid/speed_limit_max)
for phase in raid format mount install; do
  rm -f /tmp/install-events.jsonl
  resume=()
  [ -e /run/nmmm/state.json ] && resume=(--resume)
  guest_install "$disks" "${resume[@]}" >/tmp/install.out 2>&1 &
  pid=$!
  for _ in $(seq 3000); do
    grep -q "\"phase\":\"$phase\",\"event\":\"start\"" /tmp/install-events.jsonl 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    pkill -KILL -f "nmmm-agent --events" && ok "killed as $phase started"
  else
    fail "the install ended before $phase started: $(tail -n 5 /tmp/install.out)"
  fi
  wait "$pid"
done
guest_install "$disks" --resume || { fail "the last resume exited $?"; tail -n 20 /tmp/install.out; }
# The last resume found install unfinished: it ran install and handover itself.
for p in install handover; do
  grep -q "\"phase\":\"$p\",\"event\":\"done\"" /tmp/install-events.jsonl && ok "the last resume finished $p" ||
    fail "the last resume did not finish $p"
done
limit_after=$(cat /proc/sys/dev/raid/speed_limit_max)
[ "$limit_after" = "$limit_before" ] && ok "md resync limit restored to the rescue's $limit_before KiB/s" ||
  fail "md resync limit is $limit_after KiB/s after the install, the rescue had $limit_before"
assert_installed "grub-efi /boot
grub-mirror nodev /boot-fallback-1"
for s in UEFI-A UEFI-B; do
  d=$(disk_by_serial "$s")
  [ "$(probe PART_ENTRY_TYPE "${d}2")" = c12a7328-f81f-11d2-ba4b-00a0c93ec93b ] && ok "$s: ESP" || fail "$s: no ESP at ${d}2"
  [ "$(probe PART_ENTRY_TYPE "${d}1")" = 21686148-6449-6e6f-744e-656564454649 ] && ok "$s: bios_grub" || fail "$s: no bios_grub"
done
finish
