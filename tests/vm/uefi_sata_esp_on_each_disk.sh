#!/usr/bin/env bash
# tests/vm/uefi_sata_esp_on_each_disk.sh: two SATA (AHCI) disks booted with UEFI (OVMF). The plan is
# for UEFI; each disk gets its own vfat ESP and a BIOS boot partition (so a later switch to legacy
# boot works); the disks match the plan; the rendered config mounts every ESP by UUID and mirrors
# GRUB onto the second ESP (mirroredBoots, /boot-fallback-1).
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks sata:10G:SATA-A,sata:10G:SATA-B --firmware uefi
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:SATA-A,serial:SATA-B
esp_type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b
bios_boot_type=21686148-6449-6e6f-744e-656564454649

[ -d /sys/firmware/efi ] && ok "booted with UEFI" || fail "the guest did not boot with UEFI"
step "$agent" render --disks "$disks" --out /tmp/render || fail "render exited $?"
run_layout "$disks" || fail "layout exited $?"
layout_plan "$disks"
[ "$(jq -r .boot_mode <<<"$plan")" = uefi ] && ok "plan is for UEFI" || fail "plan boot_mode is not uefi"
assert_disks_match_plan <<<"$plan"
for s in SATA-A SATA-B; do
  d=$(disk_by_serial "$s")
  types=$(lsblk -lnpo PARTTYPE "$d")
  grep -qi "$esp_type" <<<"$types" && ok "$s ($d): ESP" || fail "$s ($d): no ESP partition"
  grep -qi "$bios_boot_type" <<<"$types" && ok "$s ($d): BIOS boot partition" || fail "$s ($d): no BIOS boot partition"
  esp=$(lsblk -lnpo NAME,PARTTYPE "$d" | awk -v t="$esp_type" 'tolower($2)==t {print $1; exit}')
  [ -n "$esp" ] && [ "$(probe TYPE "$esp")" = vfat ] && ok "$esp: vfat" || fail "$s: ESP ${esp:-?} is not vfat"
done
hw=/tmp/render/hardware-configuration.nix
assert_render_has_layout_shape "$plan" /tmp/render
grep -q 'efiSupport = true' "$hw" && ok "GRUB with EFI support" || fail "$hw: no boot.loader.grub.efiSupport = true"
grep -q 'mirroredBoots' "$hw" && grep -q '/boot-fallback-1' "$hw" && ok "GRUB mirrored to /boot-fallback-1" ||
  fail "$hw: GRUB not mirrored onto the second ESP (mirroredBoots /boot-fallback-1)"
sed -n '/boot.loader/,$p' "$hw" | head -20
finish
