#!/usr/bin/env bash
# tests/vm/replace_disk.sh: docs/replace-a-disk.md from the failed disk to a machine that boots
# from either disk, UEFI, two NVMe disks. Boot 1 installs. Boot 2 without the first disk (it
# failed): the arrays run degraded. Boot 3 with the survivor and a blank disk with a new serial:
# replace-disk without --yes changes nothing (exit 3), refuses the survivor as --new, then with
# --yes copies the layout (types and sizes, new PARTUUIDs), rebuilds the arrays (clean, two
# members after the resync) and makes the ESP again with the dead disk's volume id; then the step
# the installed system runs after its next boot (the boot loader onto every ESP, here the
# miniature channel's switch-to-configuration in a chroot of the installed root) records its
# targets on the new disk's ESP and installs real GRUB there. Boot 4 from the new disk alone,
# through that GRUB (OVMF, no kernel from the harness): the array starts degraded and the installed
# system finds its root by the rendered UUID and every planned device by UUID.
# shellcheck disable=SC2154 # agent, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  . "$(dirname "$0")/lib/install.sh"
  . "$vm_src/tests/lib/report.sh"
  report_counting
  vm_keep_dir
  vm_channel_tarball "$vm_keep"
  uefi=(--firmware uefi --mem 2048)
  # --boot-files: the installed system carries the harness's kernel and initrd and real GRUB, so
  # boot 3's boot loader step puts GRUB on the new disk's ESP for real and boot 4 boots it
  vm_boot --keep "$vm_keep" --disks nvme:6G:REP-A,nvme:6G:REP-B "${uefi[@]}" --boot-files \
    --file "$vm_keep/nixexprs.tar.xz" --file "$vm_keep/nixexprs.nar" --boot 1
  vm_boot --keep "$vm_keep" --disks nvme:6G:REP-B "${uefi[@]}" --boot 2
  vm_boot --keep "$vm_keep" --disks nvme:6G:REP-B,nvme:6G:REP-C "${uefi[@]}" --boot 3
  # Boot 4: the new disk alone, through its own boot loader: OVMF finds GRUB on REP-C's ESP, the
  # initrd starts the degraded array (mdadm's last-resort timer) and the installed system checks
  # the root's rendered UUID and every planned device by UUID (the survivor's ESP, nofail, absent).
  vm_disk_boot new-disk-alone uefi 1 --disks nvme:6G:REP-C
  finish
fi
. /nmmm/lib/guest.sh
. /nmmm/lib/install.sh
. /nmmm/lib/reboot.sh

if [ "$NMMM_BOOT" = 1 ]; then
  guest_install serial:REP-A,serial:REP-B || fail "install exited $?"
  assert_installed "grub-efi /boot
grub-mirror nodev /boot-fallback-1"
  finish
fi

# The installed plan from the root on the arrays (the rescue's way: mounted read-only).
installed_plan() {
  local m
  m=$(mktemp -d)
  for dev in /dev/md/*; do
    mount -o ro "$dev" "$m" 2>/dev/null || continue
    [ -f "$m/etc/nixos/plan.json" ] && cp "$m/etc/nixos/plan.json" /tmp/plan.json
    umount "$m"
    [ -f /tmp/plan.json ] && break
  done
  [ -s /tmp/plan.json ] && ok "installed plan read from the root" || fail "no array holds /etc/nixos/plan.json"
}

assert_degraded() {
  local dev state
  for dev in $(mdadm --detail --scan | awk '{print $2}'); do
    state=$(mdadm --detail "$dev" | sed -n 's/^ *State : //p')
    case $state in *degraded*) ok "$dev runs degraded ($state)" ;; *) fail "$dev: state '$state', want degraded" ;; esac
  done
}

# "number type size" of each partition of a disk, as the kernel's table says.
layout_of() { sfdisk -J "$1" | jq -r '.partitiontable.partitions[] | "\(.node | sub(".*[^0-9]"; "")) \(.type | ascii_downcase) \(.start) \(.size)"'; }
partuuids_of() { sfdisk -J "$1" | jq -r '.partitiontable.partitions[].uuid | ascii_downcase' | sort; }

if [ "$NMMM_BOOT" = 2 ]; then
  [ -z "$(disk_by_serial REP-A)" ] && ok "the first disk is gone" || fail "REP-A is still attached"
  assemble_after_reboot
  assert_degraded
  finish
fi

if [ "$NMMM_BOOT" = 3 ]; then
  survivor=$(disk_by_serial REP-B)
  new=$(disk_by_serial REP-C)
  [ -n "$survivor" ] && [ -n "$new" ] && ok "survivor $survivor, blank disk $new" || fail "disks: REP-B '$survivor', REP-C '$new'"
  assemble_after_reboot
  assert_degraded
  installed_plan
  before=$(disk_marks "$new")
  step "$agent" replace-disk --failed REP-A --new serial:REP-C --plan /tmp/plan.json
  rc=$?
  [ "$rc" = 3 ] && ok "without --yes: exit 3" || fail "without --yes: exit $rc, want 3"
  step "$agent" replace-disk --failed REP-A --new serial:REP-B --plan /tmp/plan.json --yes
  rc=$?
  [ "$rc" = 3 ] && ok "the survivor as --new: exit 3" || fail "the survivor as --new: exit $rc, want 3"
  disks_quiet
  [ "$(disk_marks "$new")" = "$before" ] && ok "$new untouched by the refused runs" || fail "$new was written by a refused run"
  start=$(date +%s)
  step "$agent" --events /tmp/replace-events.jsonl replace-disk --failed REP-A --new serial:REP-C \
    --plan /tmp/plan.json --resync-limit 1000000 --yes
  rc=$?
  [ "$rc" = 0 ] && ok "replace-disk --yes: done in $(($(date +%s) - start)) s" || fail "replace-disk --yes exited $rc"
  # The layout: the survivor's, partition by partition; every PARTUUID new.
  [ "$(layout_of "$new")" = "$(layout_of "$survivor")" ] && ok "$new: the survivor's layout ($(layout_of "$new" | tr '\n' ';'))" ||
    fail "$new layout '$(layout_of "$new" | tr '\n' ';')', survivor '$(layout_of "$survivor" | tr '\n' ';')'"
  planned=$(jq -r '.plan.disks[].partitions[].part_uuid | ascii_downcase' /tmp/plan.json)
  dup=$(comm -12 <(partuuids_of "$new") <(sort <<<"$planned"$'\n'"$(partuuids_of "$survivor")"))
  [ -z "$dup" ] && [ "$(partuuids_of "$new" | wc -l)" -gt 0 ] && ok "$new: new PARTUUIDs" || fail "$new reuses PARTUUIDs: $dup"
  # The arrays: in sync, two members, one of them on the new disk.
  for dev in $(mdadm --detail --scan | awk '{print $2}'); do
    state=$(mdadm --detail "$dev" | sed -n 's/^ *State : //p' | sed 's/ *$//')
    n=$(mdadm --detail "$dev" | sed -n 's/^ *Active Devices : //p')
    case $state in clean | active) ok "$dev: $state, $n active" ;; *) fail "$dev: state '$state'" ;; esac
    [ "$n" = 2 ] || fail "$dev: $n active devices, want 2"
    mdadm --detail "$dev" | grep -q "${new}p" && ok "$dev has a member on $new" || fail "$dev: no member on $new"
  done
  # The ESP: the dead disk's volume id, on the new disk.
  dead_esp=$(jq -r '.plan as $p | $p.disks[] | select(.serial == "REP-A") | .partitions[] | select(.role == "esp") | .path as $d | $p.filesystems[] | select(.device == $d) | "\(.uuid) \(.mountpoint)"' /tmp/plan.json)
  read -r esp_uuid esp_mp <<<"$dead_esp"
  new_esp=$(blkid -t UUID="$esp_uuid" -o device | grep "^$new" | head -n1)
  [ -n "$new_esp" ] && [ "$(probe TYPE "$new_esp")" = vfat ] && ok "$new_esp: vfat with the dead ESP's UUID $esp_uuid" ||
    fail "no vfat with UUID $esp_uuid on $new ($(blkid "$new"* | tr '\n' ';'))"
  jq -e 'select(.phase == "resync" and .event == "progress")' /tmp/replace-events.jsonl >/dev/null &&
    ok "resync progress events" || skip "no resync progress event (the resync ended between two looks)"
  # What the installed system runs after its next boot (the agent printed it): the new ESP mounted
  # by UUID where the plan puts it, then the boot loader on every ESP. Here: the installed root in
  # a chroot, the miniature channel's switch-to-configuration standing in for NixOS's.
  root_dev=/dev/disk/by-uuid/$(jq -r '.plan.filesystems[] | select(.mountpoint == "/") | .uuid' /tmp/plan.json)
  mount "$root_dev" /mnt || fail "$root_dev does not mount"
  jq -r '.plan.filesystems[] | select(.fstype == "vfat") | "\(.uuid) \(.mountpoint)"' /tmp/plan.json | while read -r u mp; do
    [ -e "/dev/disk/by-uuid/$u" ] && mount "/dev/disk/by-uuid/$u" "/mnt$mp"
  done
  for d in dev proc sys; do mount --rbind "/$d" "/mnt/$d"; done
  # NixOS has it in bin/; the miniature channel's toy system beside its other files.
  stc=/nix/var/nix/profiles/system/bin/switch-to-configuration
  [ -e "/mnt$stc" ] || stc=/nix/var/nix/profiles/system/switch-to-configuration
  step env NIXOS_INSTALL_BOOTLOADER=1 chroot /mnt "$stc" boot ||
    fail "switch-to-configuration boot exited $?"
  [ "$(findmnt -no SOURCE "/mnt$esp_mp")" = "$new_esp" ] && grep -qx "grub-efi $esp_mp" "/mnt$esp_mp/nmmm-toy-bootloader" 2>/dev/null &&
    ok "boot loader recorded on the new ESP $new_esp ($esp_mp): $(tr '\n' ';' <"/mnt$esp_mp/nmmm-toy-bootloader")" ||
    fail "no boot loader record for $esp_mp on $new_esp"
  umount -R /mnt
  mdadm --stop --scan >/dev/null 2>&1
  sync
  finish
fi
