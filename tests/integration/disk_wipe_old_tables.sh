#!/usr/bin/env bash
# disk_wipe_old_tables.sh: `nmmm-agent wipe` finds the old partitions on the disk itself, not only
# in the kernel. Loop disks are attached without partition scanning (as a disk whose table the
# kernel refused, or a loop set up without -P): the kernel has no partition nodes for them, yet
# the GPT (primary or backup alone) or MBR on the disk lists partitions holding a filesystem or
# old firmware RAID metadata. After the wipe (exit 0) libblkid finds nothing on the whole disk
# nor inside any old partition, probed from the whole disk at the partition's offset, and the
# GPT headers, the protective MBR and the MBR are gone. Firmware RAID members (HighPoint,
# Intel, NVIDIA, Promise, DDF, VIA, Silicon Image, LSI, JMicron, Adaptec) are reported by
# libblkid only on a whole disk: they are written both on the disk and inside old partitions,
# also with the partitions known to the kernel, where a wipe through the partition nodes never
# saw them. Two decoys outside every plan (the shared one, and one of this file's kind:
# unscanned, with old tables and members) keep their bytes.
set -euo pipefail
# shellcheck source=tests/integration/lib/disk-common.sh
source "$(dirname "$0")/lib/disk-common.sh"

RAIDSIG="$NMMM_SRC/tests/integration/lib/raid-signatures.py"
MIB=$((1 << 20))

# disk_new_unscanned NAME SIZE: a sparse file attached without partition scanning; prints the
# device. The image is made first (write_image NAME SIZE is the caller's job).
disk_new_unscanned() {
	local f="$DISK_TMP/$1.img" dev
	[ -f "$f" ] || truncate -s "$2" "$f"
	dev=$(losetup --find --show "$f")
	echo "$dev" >>"$DISK_TMP/loops"
	[ -z "$(find /sys/class/block/ -maxdepth 1 -name "$(basename "$dev")p*")" ] ||
		fail "$dev: the kernel made partition nodes for an unscanned loop device"
	echo "$dev"
}

# region_types DEV START SIZE: every signature type libblkid lists in [START, START+SIZE) of DEV,
# one a line, probed through a read-only loop device over that stretch of DEV (a whole disk to
# libblkid, as DEV itself is).
region_types() {
	local r
	r=$(losetup --read-only --find --show --offset "$2" --sizelimit "$3" "$1")
	wipefs --noheadings --output TYPE "$r" || true
	losetup -d "$r"
}

# assert_region_has DEV START SIZE TYPE...: each TYPE is there (before the wipe: the dirt is real).
assert_region_has() {
	local dev=$1 start=$2 size=$3 t types
	shift 3
	types=$(region_types "$dev" "$start" "$size")
	for t in "$@"; do
		grep -qx "$t" <<<"$types" || fail "$dev: expected $t in bytes $start+$size, libblkid lists: $types"
	done
}

# assert_wiped DEV START:SIZE...: nothing anywhere (assert_clean), nothing listed in any region
# either, and no GPT header at LBA 1 or in the last sector, no 0x55AA at the end of the MBR.
assert_wiped() {
	local dev=$1 r left size
	shift
	assert_clean "$dev" "$@"
	for r in "$@"; do
		left=$(region_types "$dev" "${r%%:*}" "${r##*:}")
		[ -z "$left" ] || fail "$dev: bytes $r still hold: $left"
	done
	size=$(blockdev --getsize64 "$dev")
	if dd if="$dev" bs=512 skip=1 count=1 status=none | grep -q "EFI PART"; then fail "$dev: GPT header left at LBA 1"; fi
	if dd if="$dev" bs=512 skip=$((size / 512 - 1)) count=1 status=none | grep -q "EFI PART"; then
		fail "$dev: backup GPT header left in the last sector"
	fi
	[ "$(dd if="$dev" bs=1 skip=510 count=2 status=none | od -An -tx1 | tr -d ' ')" != 55aa ] ||
		fail "$dev: the MBR boot signature 55AA is left"
}

wipe_ok() {
	expect_exit 0 "wiped: no signature left" "$NMMM_AGENT" wipe --disks "$1" --yes
}

# gpt_image NAME SIZE: a GPT (sgdisk, both headers) with a 32 MiB and a 64 MiB partition, ext4
# inside partition 2 (mke2fs at that offset of the image); prints partition 2 as START:SIZE.
gpt_image() {
	local f="$DISK_TMP/$1.img" start size
	truncate -s "$2" "$f"
	sgdisk --clear --new=1:0:+32M --new=2:0:+64M "$f" >/dev/null
	start=$(($(sgdisk --info=2 "$f" | awk '/^First sector/ { print $3 }') * 512))
	size=$((64 * MIB))
	mkfs.ext4 -q -F -E offset="$start" "$f" 64M
	echo "$start:$size"
}

# raid_image NAME: an MBR with four 16 MiB partitions (from 1 MiB on, none up to the end), each
# holding some firmware RAID members, and more of them on the whole disk. Members sharing a
# place in libblkid's probing (the last sector, the one before it) go to different regions.
raid_image() {
	local f="$DISK_TMP/$1.img" s=$((16 * MIB))
	truncate -s 80M "$f"
	printf 'label: dos\n1MiB,16MiB,83\n,16MiB,83\n,16MiB,83\n,16MiB,83\n' | sfdisk --quiet "$f"
	python3 "$RAIDSIG" "$f" 0 $((80 * MIB)) hpt37x nvidia hpt45x promise ddf adaptec
	python3 "$RAIDSIG" "$f" $((1 * MIB)) $s hpt37x isw via
	python3 "$RAIDSIG" "$f" $((17 * MIB)) $s hpt37x silicon
	python3 "$RAIDSIG" "$f" $((33 * MIB)) $s hpt45x promise lsi
	python3 "$RAIDSIG" "$f" $((49 * MIB)) $s hpt37x nvidia ddf jmicron
}

RAID_REGIONS="$((1 * MIB)):$((16 * MIB)) $((17 * MIB)):$((16 * MIB)) $((33 * MIB)):$((16 * MIB)) $((49 * MIB)):$((16 * MIB))"

# assert_raid_dirt DEV: what raid_image wrote is what libblkid sees.
assert_raid_dirt() {
	local s=$((16 * MIB))
	assert_region_has "$1" 0 $((80 * MIB)) hpt37x_raid_member nvidia_raid_member hpt45x_raid_member \
		promise_fasttrack_raid_member ddf_raid_member adaptec_raid_member dos
	assert_region_has "$1" $((1 * MIB)) $s hpt37x_raid_member isw_raid_member via_raid_member
	assert_region_has "$1" $((17 * MIB)) $s hpt37x_raid_member silicon_medley_raid_member
	assert_region_has "$1" $((33 * MIB)) $s hpt45x_raid_member promise_fasttrack_raid_member lsi_mega_raid_member
	assert_region_has "$1" $((49 * MIB)) $s hpt37x_raid_member nvidia_raid_member ddf_raid_member jmicron_raid_member
}

# This file's decoy: unscanned, a GPT with ext4 in an old partition and RAID members inside it.
OLD_DECOY_P2=$(gpt_image old-decoy 128M)
python3 "$RAIDSIG" "$DISK_TMP/old-decoy.img" "${OLD_DECOY_P2%%:*}" "${OLD_DECOY_P2##*:}" hpt37x nvidia
OLD_DECOY=$(disk_new_unscanned old-decoy 128M)
assert_region_has "$OLD_DECOY" "${OLD_DECOY_P2%%:*}" "${OLD_DECOY_P2##*:}" ext4 hpt37x_raid_member nvidia_raid_member
OLD_DECOY_SHA=$(disk_sha "$OLD_DECOY")

decoys_unchanged() {
	decoy_unchanged
	[ "$(disk_sha "$OLD_DECOY")" = "$OLD_DECOY_SHA" ] || fail "the decoy $OLD_DECOY outside the plan changed"
}

wipe_removes_ext4_in_a_gpt_partition_the_kernel_never_listed() {
	local d p2
	p2=$(gpt_image gpt-unscanned 192M)
	d=$(disk_new_unscanned gpt-unscanned 192M)
	assert_signature "$d" gpt
	assert_signature "$d" PMBR
	assert_region_has "$d" "${p2%%:*}" "${p2##*:}" ext4
	wipe_ok "$d"
	assert_wiped "$d" "$p2" "$MIB:$((32 * MIB))"
	decoys_unchanged
	ok "wipe reads the GPT on the disk: ext4 in partition 2 (no kernel partition node) is removed, both GPT headers and the PMBR too"
}

wipe_follows_the_backup_gpt_when_the_primary_is_gone() {
	local d p2 f="$DISK_TMP/gpt-backup.img"
	p2=$(gpt_image gpt-backup 192M)
	# The primary header and entries destroyed (as a half-done wipe or dd leaves them): only
	# the backup at the end of the disk still lists the partitions.
	dd if=/dev/zero of="$f" bs=512 seek=1 count=33 conv=notrunc status=none
	d=$(disk_new_unscanned gpt-backup 192M)
	assert_signature "$d" gpt
	assert_region_has "$d" "${p2%%:*}" "${p2##*:}" ext4
	wipe_ok "$(basename "$d")"
	assert_wiped "$d" "$p2"
	decoys_unchanged
	ok "wipe reads the partitions of a backup GPT whose primary is gone, and removes the ext4 inside"
}

wipe_follows_a_stale_backup_gpt_that_differs_from_the_primary() {
	local d f="$DISK_TMP/gpt-stale.img" old_start=$((120 * MIB)) p2
	truncate -s 192M "$f"
	# An older layout: one partition at 120 MiB with ext4 in it; its backup GPT is kept aside
	# and put back after a newer layout is written (a tool that rewrote only the primary).
	sgdisk --clear --new=1:$((old_start / 512)):+40M "$f" >/dev/null
	mkfs.ext4 -q -F -E offset="$old_start" "$f" 40M
	dd if="$f" of="$DISK_TMP/backup-gpt" bs=512 skip=$((192 * 2048 - 33)) count=33 status=none
	p2=$(gpt_image gpt-stale 192M)
	dd if="$DISK_TMP/backup-gpt" of="$f" bs=512 seek=$((192 * 2048 - 33)) count=33 conv=notrunc status=none
	d=$(disk_new_unscanned gpt-stale 192M)
	assert_region_has "$d" "${p2%%:*}" "${p2##*:}" ext4
	assert_region_has "$d" "$old_start" $((40 * MIB)) ext4
	wipe_ok "$d"
	assert_wiped "$d" "$p2" "$old_start:$((40 * MIB))"
	decoys_unchanged
	ok "wipe reads the backup GPT once the primary is wiped: the ext4 in a partition only the stale backup lists is removed"
}

wipe_follows_a_gpt_behind_an_mbr() {
	local d p2 f="$DISK_TMP/hybrid.img"
	p2=$(gpt_image hybrid 192M)
	# An MBR written over the GPT's protective one, leaving the GPT: libblkid's partition
	# probing stops at the MBR, whose one partition is elsewhere.
	printf 'label: dos\n1MiB,16MiB,83\n' | sfdisk --quiet --wipe never "$f"
	d=$(disk_new_unscanned hybrid 192M)
	assert_signature "$d" dos
	assert_region_has "$d" "${p2%%:*}" "${p2##*:}" ext4
	wipe_ok "$d"
	assert_wiped "$d" "$p2"
	decoys_unchanged
	ok "wipe reads a GPT hidden behind a newer MBR and removes the ext4 in its partition"
}

wipe_removes_raid_members_in_old_partitions_and_on_the_disk() {
	local d
	raid_image raid-unscanned
	d=$(disk_new_unscanned raid-unscanned 80M)
	assert_raid_dirt "$d"
	wipe_ok "$d"
	# shellcheck disable=SC2086
	assert_wiped "$d" $RAID_REGIONS
	decoys_unchanged
	ok "wipe removes firmware RAID members (hpt37x, hpt45x, isw, nvidia, promise, ddf, via, silicon, lsi, jmicron, adaptec) on the disk and in old MBR partitions"
}

wipe_removes_raid_members_in_partitions_the_kernel_knows() {
	local d
	raid_image raid-announced
	d=$(disk_new raid-announced 80M)
	disk_announce "$d"
	assert_raid_dirt "$d"
	wipe_ok "$(basename "$d")"
	# shellcheck disable=SC2086
	assert_wiped "$d" $RAID_REGIONS
	decoys_unchanged
	ok "wipe removes firmware RAID members inside partitions the kernel lists (no 'signatures left', exit 0)"
}

wipe_removes_ext4_in_a_gpt_partition_the_kernel_never_listed
wipe_follows_the_backup_gpt_when_the_primary_is_gone
wipe_follows_a_stale_backup_gpt_that_differs_from_the_primary
wipe_follows_a_gpt_behind_an_mbr
wipe_removes_raid_members_in_old_partitions_and_on_the_disk
wipe_removes_raid_members_in_partitions_the_kernel_knows
decoys_unchanged
echo "disk_wipe_old_tables: all passed"
