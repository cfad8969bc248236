# shellcheck shell=bash
# disk-common.sh: shared by tests/integration/disk_*.sh — loop devices over sparse files in a
# directory of the test's own (in RAM, as the rescue system runs), dirty-disk makers that use
# the real tools, a decoy disk outside every plan whose checksum must never change, and
# assertions on what libblkid still finds. Everything made here is undone by the EXIT trap.
#
# This host's kernel parses no partition tables (no EFI/MSDOS partition support) and has no md
# or device-mapper driver: partitions are announced with partx (BLKPG), md superblocks are
# written from their documented format, and LVM/LUKS exist as on-disk metadata only.

set -euo pipefail

: "${NMMM_AGENT:?run through ctest (NMMM_AGENT is the agent binary)}"
: "${NMMM_SRC:?run through ctest (NMMM_SRC is the source tree)}"

DISK_TMP=$(mktemp -d /dev/shm/disk-ops-test.XXXXXX)

disk_cleanup() {
	set +e # undo everything possible, whatever fails
	local l m loops=()
	# Swap, mounts and loops of our own only: everything lives under DISK_TMP or is listed in
	# DISK_TMP/loops (disk_new runs in a subshell, so a shell array would not see them).
	[ -f "$DISK_TMP/loops" ] && mapfile -t loops <"$DISK_TMP/loops"
	for l in "${loops[@]}"; do
		while read -r m _; do
			case "$m" in "$l"p*) swapoff "$m" 2>/dev/null || true ;; esac
		done </proc/swaps
	done
	while read -r m; do umount "$m" 2>/dev/null || true; done < <(awk -v d="$DISK_TMP" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	rm -rf "$DISK_TMP"
}
trap disk_cleanup EXIT

# shellcheck source=tests/lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/report.sh"

# disk_new NAME SIZE: a sparse file attached with partition scanning; prints the device.
disk_new() {
	local f="$DISK_TMP/$1.img" dev
	truncate -s "$2" "$f"
	dev=$(losetup --find --show --partscan "$f")
	echo "$dev" >>"$DISK_TMP/loops"
	echo "$dev"
}

# disk_announce DEV: tells the kernel about the partitions on DEV (partx uses BLKPG, which works
# without a partition parser in the kernel).
disk_announce() {
	partx --update "$1"
	local n
	n=$(partx --show --noheadings "$1" | wc -l)
	[ "$(find /sys/class/block/ -maxdepth 1 -name "$(basename "$1")p*" | wc -l)" -eq "$n" ] ||
		fail "$1: the kernel did not take its $n partitions"
}

# disk_gpt DEV SIZE...: a GPT with one partition per size (sgdisk), announced to the kernel.
disk_gpt() {
	local dev=$1 i=1 args=()
	shift
	for s in "$@"; do
		args+=("--new=$i:0:+$s")
		i=$((i + 1))
	done
	sgdisk --clear "${args[@]}" "$dev" >/dev/null
	disk_announce "$dev"
}

# disk_regions DEV: "START:SIZE" in bytes for each partition the kernel knows now.
disk_regions() {
	local n p
	n=$(basename "$1")
	for p in /sys/class/block/"$n"p*; do
		[ -e "$p/partition" ] || continue
		echo "$(($(cat "$p/start") * 512)):$(($(cat "$p/size") * 512))"
	done
}

# disk_sha DEV: the checksum of a loop device's bytes, read from its backing file's data extents
# only (see fingerprint.py; sha256sum of a multi-GiB device is far too slow here).
disk_sha() {
	blockdev --flushbufs "$1"
	python3 "$NMMM_SRC/tests/integration/lib/fingerprint.py" "$(losetup --noheadings --output BACK-FILE "$1")"
}

# assert_signature DEV TYPE: libblkid sees TYPE on DEV (before a wipe: the dirt is real).
assert_signature() {
	wipefs --noheadings --output TYPE "$1" | grep -qx "$2" || fail "$1: expected a $2 signature, wipefs shows: $(wipefs "$1")"
}

# assert_clean DEV REGION...: nothing on the whole disk, no partitions, and nothing inside
# each old partition region (START:SIZE).
assert_clean() {
	local dev=$1 r rc
	shift
	[ -z "$(wipefs --noheadings "$dev")" ] || fail "$dev: signatures left: $(wipefs "$dev")"
	rc=0
	blkid -p "$dev" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "$dev: blkid still probes something (exit $rc): $(blkid -p "$dev")"
	[ -z "$(find /sys/class/block/ -maxdepth 1 -name "$(basename "$dev")p*")" ] || fail "$dev: the kernel still lists partitions"
	for r in "$@"; do
		rc=0
		blkid -p -O "${r%%:*}" -S "${r##*:}" "$dev" >/dev/null 2>&1 || rc=$?
		[ "$rc" -eq 2 ] || fail "$dev: region $r still holds: $(blkid -p -O "${r%%:*}" -S "${r##*:}" "$dev")"
	done
	# The backup GPT header lives in the last sector; its magic must be gone too.
	if tail -c 1048576 "$dev" | grep -q "EFI PART"; then fail "$dev: a GPT header is left in the last MiB"; fi
}

# expect_exit CODE REGEX CMD...: runs CMD, asserts its exit code and that its output matches.
expect_exit() {
	local want=$1 re=$2 rc=0
	shift 2
	"$@" >"$DISK_TMP/out" 2>&1 || rc=$?
	[ "$rc" -eq "$want" ] || fail "$* exited $rc, expected $want; output: $(cat "$DISK_TMP/out")"
	grep -Eq -- "$re" "$DISK_TMP/out" || fail "$*: output does not match /$re/: $(cat "$DISK_TMP/out")"
}

# The decoy: a dirty disk outside every plan. Its checksum is taken once and checked after
# every case.
DECOY=$(disk_new decoy 64M)
disk_gpt "$DECOY" 40M
mkfs.ext4 -q "${DECOY}p1"
DECOY_SHA=$(disk_sha "$DECOY")

decoy_unchanged() {
	[ "$(disk_sha "$DECOY")" = "$DECOY_SHA" ] || fail "the decoy $DECOY outside the plan changed"
}
