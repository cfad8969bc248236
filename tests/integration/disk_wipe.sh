#!/usr/bin/env bash
# disk_wipe.sh: `nmmm-agent wipe` on real loop devices made dirty with the real tools (GPT +
# ext4, MBR + vfat, LVM, LUKS2, active swap, stale md members at the start and the end, mounts
# under the target), each wiped and probed clean — the whole disk and the old partition regions.
# Refusals (mounted elsewhere, no --yes, unknown disk, the running system) exit 3 (2 for bad
# usage) and change no byte. A decoy disk outside every plan keeps its checksum throughout.
set -euo pipefail
# shellcheck source=tests/integration/lib/disk-common.sh
source "$(dirname "$0")/lib/disk-common.sh"

MDSB="$NMMM_SRC/tests/integration/lib/md-superblock.py"

wipe_ok() {
	expect_exit 0 "wiped: no signature left" "$NMMM_AGENT" wipe --disks "$1" --yes "${@:2}"
}

wipe_removes_gpt_ext4_vfat_and_both_gpt_headers() {
	local d regions
	d=$(disk_new gpt 192M)
	disk_gpt "$d" 64M 64M
	mkfs.ext4 -q "${d}p1"
	mkfs.vfat "${d}p2" >/dev/null
	assert_signature "${d}p1" ext4
	assert_signature "$d" gpt
	regions=$(disk_regions "$d")
	wipe_ok "$(basename "$d")"
	# shellcheck disable=SC2086
	assert_clean "$d" $regions
	decoy_unchanged
	ok "wipe removes GPT (both headers), ext4 and vfat, old partition regions probe clean"
}

wipe_removes_mbr_and_vfat() {
	local d regions
	d=$(disk_new mbr 128M)
	printf 'label: dos\n,48M,c\n,48M,83\n' | sfdisk --quiet --no-reread --no-tell-kernel "$d"
	disk_announce "$d"
	mkfs.vfat "${d}p1" >/dev/null
	mkfs.ext4 -q "${d}p2"
	assert_signature "$d" dos
	regions=$(disk_regions "$d")
	wipe_ok "$d"
	# shellcheck disable=SC2086
	assert_clean "$d" $regions
	decoy_unchanged
	ok "wipe removes an MBR with vfat and ext4 partitions"
}

wipe_removes_lvm_and_luks2() {
	local d regions
	d=$(disk_new lvm 192M)
	disk_gpt "$d" 64M 64M
	# No device-mapper in this kernel: the PV and VG exist as on-disk metadata only (active
	# VGs/LVs and open LUKS mappings are exercised in the QEMU scenarios).
	# (No LVM backup or archive of the test's group is left in the host's /etc/lvm.)
	pvcreate -q -ff -y --config 'backup { backup = 0 archive = 0 }' "${d}p1" 2>/dev/null
	vgcreate -q --config 'backup { backup = 0 archive = 0 }' "diskops$$" "${d}p1" 2>/dev/null
	head -c 32 /dev/urandom >"$DISK_TMP/luks.key"
	cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$DISK_TMP/luks.key" "${d}p2"
	assert_signature "${d}p1" LVM2_member
	assert_signature "${d}p2" crypto_LUKS
	regions=$(disk_regions "$d")
	wipe_ok "$(basename "$d")"
	# shellcheck disable=SC2086
	assert_clean "$d" $regions
	decoy_unchanged
	ok "wipe removes an LVM PV (with a VG) and a LUKS2 header (both copies)"
}

wipe_turns_off_swap_and_removes_it() {
	local d regions
	d=$(disk_new swap 128M)
	disk_gpt "$d" 32M 32M
	mkswap -q "${d}p2"
	swapon "${d}p2"
	grep -q "^${d}p2 " /proc/swaps || fail "swap on ${d}p2 did not start"
	regions=$(disk_regions "$d")
	wipe_ok "$(basename "$d")"
	! grep -q "^${d}p2 " /proc/swaps || fail "${d}p2 is still active swap"
	# shellcheck disable=SC2086
	assert_clean "$d" $regions
	decoy_unchanged
	ok "wipe turns off active swap on the disk and removes it"
}

wipe_removes_stale_md_superblocks_start_and_end() {
	local d regions
	d=$(disk_new md 192M)
	disk_gpt "$d" 64M 64M
	python3 "$MDSB" "${d}p1" 1.2 oldhost:root
	python3 "$MDSB" "${d}p2" 1.0 oldhost:boot
	mdadm --examine "${d}p1" | grep -q "Version : 1.2" || fail "mdadm does not recognise the v1.2 member"
	mdadm --examine "${d}p2" | grep -q "Version : 1.0" || fail "mdadm does not recognise the v1.0 member"
	assert_signature "${d}p1" linux_raid_member
	assert_signature "${d}p2" linux_raid_member
	regions=$(disk_regions "$d")
	# A whole-disk v1.0 member too: its superblock sits near the end, behind the backup GPT.
	python3 "$MDSB" "$d" 1.0 oldhost:whole
	mdadm --examine "$d" >/dev/null 2>&1 || fail "mdadm does not recognise the whole-disk v1.0 member"
	wipe_ok "$(basename "$d")"
	# shellcheck disable=SC2086
	assert_clean "$d" $regions
	if mdadm --examine "$d" "${d}p1" >/dev/null 2>&1; then fail "mdadm still finds a superblock"; fi
	decoy_unchanged
	ok "wipe removes stale md members (v1.2 at 4 KiB, v1.0 at the end, on partitions and the disk)"
}

wipe_unmounts_its_own_target_tree() {
	local d t="$DISK_TMP/target" regions
	d=$(disk_new target 192M)
	disk_gpt "$d" 64M 64M
	# ext4 for both: this host's kernel has no vfat driver.
	mkfs.ext4 -q "${d}p2"
	mkfs.ext4 -q "${d}p1"
	mkdir -p "$t"
	mount "${d}p2" "$t"
	mkdir -p "$t/boot"
	mount "${d}p1" "$t/boot"
	regions=$(disk_regions "$d")
	wipe_ok "$(basename "$d")" --target "$t"
	! grep -q " $t" /proc/self/mountinfo || fail "$t is still mounted"
	# shellcheck disable=SC2086
	assert_clean "$d" $regions
	decoy_unchanged
	ok "wipe unmounts the agent's own target tree (deepest first) and wipes"
}

wipe_refuses_mounted_partition() {
	local d before m="$DISK_TMP/srv"
	d=$(disk_new mounted 128M)
	disk_gpt "$d" 64M
	mkfs.ext4 -q "${d}p1"
	mkdir -p "$m"
	# Read-only and without the journal, so mounting itself writes nothing and the checksum
	# shows only what the agent would have done.
	before=$(disk_sha "$d")
	mount -o ro,noload "${d}p1" "$m"
	expect_exit 3 "$(basename "$d")p1 is mounted at $m; unmount it" \
		"$NMMM_AGENT" wipe --disks "$(basename "$d")" --yes
	umount "$m"
	[ "$(disk_sha "$d")" = "$before" ] || fail "a refused wipe changed $d"
	decoy_unchanged
	ok "wipe refuses a disk with a partition mounted outside the target, changing nothing"
}

wipe_refuses_without_yes() {
	local d before
	d=$(disk_new unconfirmed 128M)
	disk_gpt "$d" 64M
	mkfs.ext4 -q "${d}p1"
	before=$(disk_sha "$d")
	expect_exit 3 "not confirmed" "$NMMM_AGENT" wipe --disks "$d"
	grep -q "THESE DISKS WILL BE ERASED" "$DISK_TMP/out" || fail "no confirmation listing"
	[ "$(disk_sha "$d")" = "$before" ] || fail "an unconfirmed wipe changed $d"
	decoy_unchanged
	ok "wipe without --yes lists the disk, exits 3 and changes nothing"
}

wipe_refuses_unknown_disk_and_bad_usage() {
	expect_exit 2 "not a whole disk here" "$NMMM_AGENT" wipe --disks nosuchdisk0 --yes
	expect_exit 2 "--disks LIST is required" "$NMMM_AGENT" wipe --yes
	expect_exit 2 "unknown or incomplete option" "$NMMM_AGENT" wipe --disks "$DECOY" --bogus
	decoy_unchanged
	ok "wipe rejects an unknown disk, a missing --disks and unknown options (exit 2)"
}

wipe_refuses_running_system_disk() {
	local root_dev root_disk head tail_sum
	root_dev=$(findmnt -n -o SOURCE /)
	case "$root_dev" in /dev/*) ;; *)
		ok "# skip: / is not on a block device here ($root_dev)"
		return
		;;
	esac
	root_disk=/dev/$(lsblk -no PKNAME "$root_dev" 2>/dev/null | head -n1)
	[ "$root_disk" != /dev/ ] || root_disk=$root_dev
	# Where the root disk can be read, its first and last MiB must not change; some VMs let
	# not even root read it (then the refusal itself is what is checked).
	head=$(head -c 1048576 "$root_disk" 2>/dev/null | sha256sum) || head=unreadable
	tail_sum=$(tail -c 1048576 "$root_disk" 2>/dev/null | sha256sum) || tail_sum=unreadable
	expect_exit 3 "running system|mounted at /[;,]" "$NMMM_AGENT" wipe --disks "$root_disk" --yes
	if [ "$head" != unreadable ]; then
		[ "$(head -c 1048576 "$root_disk" | sha256sum)" = "$head" ] || fail "$root_disk: first MiB changed"
		[ "$(tail -c 1048576 "$root_disk" | sha256sum)" = "$tail_sum" ] || fail "$root_disk: last MiB changed"
	fi
	decoy_unchanged
	ok "wipe refuses the disk holding the running system ($root_disk)"
}

wipe_discard_frees_the_blocks() {
	local d f
	d=$(disk_new discard 128M)
	f="$DISK_TMP/discard.img"
	disk_gpt "$d" 96M
	head -c 64M /dev/urandom >"${d}p1"
	sync
	[ "$(du -k "$f" | cut -f1)" -ge 60000 ] || fail "test setup: $f should hold 64 MiB of data"
	[ "$(cat "/sys/block/$(basename "$d")/queue/discard_max_bytes")" -gt 0 ] || {
		ok "# skip: loop devices here do not support discard"
		return
	}
	wipe_ok "$(basename "$d")" --discard
	[ "$(du -k "$f" | cut -f1)" -lt 1024 ] || fail "--discard left $(du -k "$f" | cut -f1) KiB allocated in $f"
	assert_clean "$d"
	decoy_unchanged
	ok "wipe --discard discards the whole disk (the sparse file is emptied)"
}

wipe_removes_gpt_ext4_vfat_and_both_gpt_headers
wipe_removes_mbr_and_vfat
wipe_removes_lvm_and_luks2
wipe_turns_off_swap_and_removes_it
wipe_removes_stale_md_superblocks_start_and_end
wipe_unmounts_its_own_target_tree
wipe_refuses_mounted_partition
wipe_refuses_without_yes
wipe_refuses_unknown_disk_and_bad_usage
wipe_refuses_running_system_disk
wipe_discard_frees_the_blocks
decoy_unchanged
echo "disk_wipe: all passed"
