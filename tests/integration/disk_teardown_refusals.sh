#!/usr/bin/env bash
# disk_teardown_refusals.sh: what `layout --yes` must refuse (exit 3) before teardown starts, on
# real loop devices, each refusal changing no byte of any image: an LVM volume group with one PV
# on a planned disk and another on a disk outside the plan (real pvcreate/vgcreate: LVM metadata
# needs no device-mapper, only activation does); something foreign mounted at the --target (a
# tmpfs) or below it (an unrelated loop image) — while a mount of a planned partition under
# --target is the agent's own and does not block. A volume group wholly on the planned disk
# is torn down without complaint.
set -euo pipefail
# shellcheck source=tests/integration/lib/disk-common.sh
source "$(dirname "$0")/lib/disk-common.sh"

CFG="$DISK_TMP/layout.json"
echo '{"esp_size": "64M"}' >"$CFG"
TARGET="$DISK_TMP/target"
EVENTS="$DISK_TMP/events.jsonl"
VG="nmmmit$$" # a name no other volume group here carries
# No LVM backups or archives under /etc/lvm for a test's volume groups.
LVM_CFG=(--config 'backup { backup = 0 archive = 0 }')

cleanup_vg() {
	vgremove -f "${LVM_CFG[@]}" "$VG" >/dev/null 2>&1 || true
}
trap 'cleanup_vg; disk_cleanup' EXIT

layout() {
	: >"$EVENTS"
	"$NMMM_AGENT" --events "$EVENTS" layout --config "$CFG" --target "$TARGET" "$@"
}

no_teardown_started() {
	! grep -q '"phase":"teardown","event":"start"' "$EVENTS" || fail "teardown started: $1"
}

layout_refuses_volume_group_reaching_an_unplanned_disk() {
	local a b sa sb
	a=$(disk_new vg-planned 2560M)
	b=$(disk_new vg-outside 2560M)
	disk_gpt "$a" 64M
	pvcreate -q "${LVM_CFG[@]}" "${a}p1" "$b" >/dev/null
	vgcreate -q "${LVM_CFG[@]}" "$VG" "${a}p1" "$b" >/dev/null
	sa=$(disk_sha "$a")
	sb=$(disk_sha "$b")
	expect_exit 3 "$(basename "$a"): LVM volume group $VG has physical volume ${a}p1 on it and also $b, which is not on a disk in the plan.*Add that disk to --disks" \
		layout --disks "$(basename "$a")" --yes
	no_teardown_started "with $VG reaching $b"
	[ "$(disk_sha "$a")" = "$sa" ] || fail "a refused layout changed the planned disk $a"
	[ "$(disk_sha "$b")" = "$sb" ] || fail "a refused layout changed $b, outside the plan"
	[ "$(vgs --readonly "${LVM_CFG[@]}" --noheadings -o pv_count "$VG" 2>/dev/null | tr -d ' ')" = 2 ] || fail "$VG lost a PV"
	# Both disks in the plan: the whole group goes, nothing is left to refuse.
	expect_exit 0 "done through wipe" layout --disks "$(basename "$a"),$(basename "$b")" --yes --until wipe
	! vgs --readonly "${LVM_CFG[@]}" "$VG" >/dev/null 2>&1 || fail "$VG still there after both its disks were wiped"
	decoy_unchanged
	ok "layout refuses (3) a volume group reaching a disk outside the plan, naming the group and that PV; no byte changed"
}

layout_tears_down_a_volume_group_wholly_in_the_plan() {
	local a
	a=$(disk_new vg-inside 2560M)
	disk_gpt "$a" 64M 64M
	pvcreate -q "${LVM_CFG[@]}" "${a}p1" "${a}p2" >/dev/null
	vgcreate -q "${LVM_CFG[@]}" "$VG" "${a}p1" "${a}p2" >/dev/null
	expect_exit 0 "done through wipe" layout --disks "$(basename "$a")" --yes --until wipe
	! vgs --readonly "${LVM_CFG[@]}" "$VG" >/dev/null 2>&1 || fail "$VG still there after its only disk was wiped"
	decoy_unchanged
	ok "a volume group wholly on the planned disk is no refusal"
}

layout_refuses_foreign_mounts_on_the_target() {
	local a c sa sc
	a=$(disk_new tgt-planned 2560M)
	disk_gpt "$a" 64M
	mkfs.ext4 -q "${a}p1"
	c=$(disk_new tgt-other 64M)
	mkfs.ext4 -q "$c"
	mkdir -p "$TARGET"
	sa=$(disk_sha "$a")
	sc=$(disk_sha "$c")
	mount -t tmpfs -o size=1M nmmm-test-tmpfs "$TARGET"
	expect_exit 3 "target $TARGET: nmmm-test-tmpfs is mounted at $TARGET and is not on a disk in the plan.*choose another --target" \
		layout --disks "$(basename "$a")" --yes
	no_teardown_started "with a tmpfs on the target"
	umount "$TARGET"
	# Below the target, beside the agent's own mount of a planned partition (read-only, so
	# the image's bytes stay as they are).
	mount -o ro,noload "${a}p1" "$TARGET"
	mount -o ro,noload "$c" "$TARGET/lost+found"
	expect_exit 3 "target $TARGET: $c is mounted at $TARGET/lost\+found and is not on a disk in the plan" \
		layout --disks "$(basename "$a")" --yes
	no_teardown_started "with $c mounted below the target"
	umount "$TARGET/lost+found"
	# Another --target: the planned partition mounted at this one is then outside it.
	expect_exit 3 "partition $(basename "$a")p1 is mounted at $TARGET; unmount it" \
		"$NMMM_AGENT" layout --config "$CFG" --target "$DISK_TMP/elsewhere" --disks "$(basename "$a")" --yes
	umount "$TARGET"
	[ "$(disk_sha "$a")" = "$sa" ] || fail "a refused layout changed the planned disk $a"
	[ "$(disk_sha "$c")" = "$sc" ] || fail "a refused layout changed $c, outside the plan"
	decoy_unchanged
	ok "layout refuses (3) a tmpfs on --target and a foreign disk below it before teardown; no byte changed"
}

layout_refuses_volume_group_reaching_an_unplanned_disk
cleanup_vg
layout_tears_down_a_volume_group_wholly_in_the_plan
cleanup_vg
layout_refuses_foreign_mounts_on_the_target
decoy_unchanged
echo "disk_teardown_refusals: all passed"
