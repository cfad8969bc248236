#!/usr/bin/env bash
# install_disk_identity.sh: a disk is known by what it is, not by its kernel name. The same
# /dev/loopN re-attached to another image of the same size (no serial, same size: only the
# kernel's diskseq tells them apart) between the plan and the wipe must be refused with exit 3,
# naming the disk, the field and "run plan again", with both images byte-for-byte unchanged:
# after `install --until build` (then `install --resume --yes`), and inside one install run,
# stopped after the plan and before teardown (fetch and build take minutes on a real server).
IE_NAME=ident
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
mapfile -t args < <(ie_install_args)
name=$(basename "$IE_DISK")

# Another disk image of the same size with something of its own on it.
other="$IE_WORK/other.img"
truncate -s 2G "$other"
head -c 4M /dev/urandom | dd of="$other" bs=1M conv=notrunc status=none
fp() { python3 "$NMMM_SRC/tests/integration/lib/fingerprint.py" "$1"; }
disk_img_before=$(ie_disk_sum "$IE_DISK")
other_before=$(fp "$other")
decoy_before=$(ie_disk_sum "$IE_DECOY")

# swap_to IMAGE: the same /dev/loopN, now over IMAGE — what a re-attach does, or a disk
# hot-swapped under the same kernel name.
swap_to() {
	local seq
	seq=$(cat "/sys/block/$name/diskseq")
	losetup -d "$IE_DISK"
	for _ in $(seq 100); do
		losetup -P "$IE_DISK" "$1" 2>/dev/null && break
		sleep 0.1
	done
	[ "$(losetup -n -O BACK-FILE "$IE_DISK")" = "$1" ] ||
		fail "could not re-attach $IE_DISK to $1 (another program may have taken it)"
	[ "$(cat "/sys/block/$name/diskseq")" != "$seq" ] || fail "re-attaching $IE_DISK did not change its diskseq"
}

# Both images (whichever is attached) and the decoy exactly as they were.
images_unchanged() {
	local what=$1
	blockdev --flushbufs "$IE_DISK"
	[ "$(fp "$IE_WORK/disk.img")" = "$disk_img_before" ] || fail "$what: the planned image changed"
	[ "$(fp "$other")" = "$other_before" ] || fail "$what: the other image, never planned, changed"
	[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "$what: the decoy changed"
}

# expect_refusal WHAT FILE: exit 3 with a message naming the disk, the field and what to do.
expect_refusal() {
	local what=$1 rc=$2 out=$3
	[ "$rc" = 3 ] || fail "$what: exit $rc, expected 3: $(tail -n 5 "$out")"
	grep -q "$name: diskseq changed since the plan was made (planned [0-9]*, now [0-9]*)" "$out" ||
		fail "$what: the refusal does not name $name, diskseq and both values: $(tail -n 3 "$out")"
	grep -q "run plan again" "$out" || fail "$what: the refusal does not say to run plan again: $(tail -n 3 "$out")"
	images_unchanged "$what"
	ok "$what: $(grep -o "$name: diskseq changed[^:]*" "$out" | head -n 1)"
}

# 1. Planned and built, then the disk is swapped, then resumed.
ie_agent install --yes "${args[@]}" --until build > "$IE_WORK/out.txt" 2>&1 ||
	fail "install --until build: $(tail -n 5 "$IE_WORK/out.txt")"
images_unchanged "install --until build"
swap_to "$other"
rc=0
ie_agent install --resume --yes "${args[@]}" > "$IE_WORK/out.txt" 2>&1 || rc=$?
expect_refusal "resume after the disk was swapped" "$rc" "$IE_WORK/out.txt"

# 2. One run: the plan is made, the disk is swapped while the system builds, then teardown.
swap_to "$IE_WORK/disk.img"
rm -rf "$IE_WORK/state"
ev="$IE_WORK/events.jsonl"
: > "$ev"
ie_agent --events "$ev" install --yes "${args[@]}" > "$IE_WORK/out.txt" 2>&1 &
job=$!
for _ in $(seq 3000); do
	grep -q '"phase":"render","event":"start"' "$ev" && break
	kill -0 "$job" 2>/dev/null || break
	sleep 0.01
done
pid=$(pgrep -f "^$NMMM_AGENT --events $ev " | head -n 1 || true)
[ -n "$pid" ] || fail "the install ended before render: $(tail -n 5 "$IE_WORK/out.txt")"
kill -STOP "$pid"
if grep -q '"phase":"teardown"' "$ev"; then
	kill -CONT "$pid"
	fail "the install reached teardown before it could be stopped"
fi
swap_to "$other"
kill -CONT "$pid"
rc=0
wait "$job" || rc=$?
grep -q '"phase":"build","event":"done"' "$ev" || fail "the install did not build before teardown: $(tail -n 5 "$IE_WORK/out.txt")"
expect_refusal "disk swapped between plan and teardown" "$rc" "$IE_WORK/out.txt"
grep -q "teardown: $name: diskseq changed" "$IE_WORK/out.txt" || fail "the refusal did not come at teardown"
echo "install_disk_identity: ok"
