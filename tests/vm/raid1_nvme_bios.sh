#!/usr/bin/env bash
# tests/vm/raid1_nvme_bios.sh: two fresh NVMe disks, legacy BIOS. After `render` and `layout --yes`
# both disks carry the planned GPT (offsets, sizes, types, PARTUUIDs), both members sit in a
# healthy RAID-1 with the planned array UUID, every filesystem has the planned type and UUID; the
# render plans the same shape, its hardware-configuration.nix mounts exactly its plan's UUIDs and
# puts GRUB on both disks. (render and layout plan separately: install will share one plan.)
# shellcheck disable=SC2154 # agent, plan, vm_keep: set by the sourced tests/vm/lib files
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:10G:NVME-A,nvme:10G:NVME-B --firmware bios
  exit
fi
. /nmmm/lib/guest.sh
disks=serial:NVME-A,serial:NVME-B

step "$agent" plan --disks "$disks" || fail "plan exited $?"
step "$agent" render --disks "$disks" --out /tmp/render || fail "render exited $?"
run_layout "$disks" || fail "layout exited $?"

layout_plan "$disks"
assert_disks_match_plan <<<"$plan"
[ "$(jq -r .boot_mode <<<"$plan")" = bios ] && ok "plan is for BIOS" || fail "plan boot_mode is not bios"
for dev in $(jq -r '.arrays[].device' <<<"$plan"); do
  assert_array_healthy "$dev"
  mdadm --detail "$dev"
done
hw=/tmp/render/hardware-configuration.nix
assert_render_has_layout_shape "$plan" /tmp/render
for s in NVME-A NVME-B; do
  slot=$(by_path_of "$s")
  [ -n "$slot" ] && grep -qF "\"$slot\"" "$hw" && ok "GRUB goes on the disk $s by its slot $slot" ||
    fail "$hw: no GRUB device for $s (slot '$slot')"
done
lsblk -o NAME,SIZE,TYPE,FSTYPE,UUID,MOUNTPOINTS
finish
