#!/usr/bin/env bash
# diagnose_rescue.sh: `nmmm-agent diagnose` as provision runs it in the rescue after the installed
# system did not come back. A real install (one-disk layout on a loop device: this host has no md
# driver; the VM scenarios have md) in a network namespace with a Hetzner-like uplink eth0, then,
# standing in for the failed first boot of NixOS (which cannot run here), a real journal written
# into the installed root's /var/log/journal/<machine-id>/ by systemd-journal-remote from journal
# export text (tests/fixtures/diagnose/journal-export.py). Each case asserts the cause diagnose
# names, the disk's fingerprint unchanged and nothing left mounted or attached:
#   no carrier in the journal and none on eth0 now (its peer gw0 down)  -> no-carrier
#   eth0 given another MAC than the rendered one                       -> mac-missing
#   no journal directory                                                -> no-stage2
#   sshd failing in the journal                                         -> sshd-failed
#   networkd failing to set the gateway route                           -> no-route
#   a broken journal file                                               -> unknown, still unmounted
#   /var/log/journal a symlink out of the installed root                -> unknown, not followed
# and: diagnose killed while the root is mounted leaves no mount and no loop device (its mount
# namespace dies with it); the search without --root-uuid in a --root tree that shows only some
# devices (an ext4 without the state file is passed over); xfs with a dirty log and btrfs roots,
# mounted without replay (norecovery, rescue=nologreplay) and left byte for byte as they were.
IE_NAME=diagnose
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, network namespaces, mounts)"
journal_remote=$(command -v systemd-journal-remote || echo /lib/systemd/systemd-journal-remote)
[ -x "$journal_remote" ] || skip "systemd-journal-remote missing (Debian package systemd-journal-remote; scripts/setup)"
command -v journalctl > /dev/null || skip "journalctl missing"

EXPORT="$NMMM_FIXTURES/diagnose/journal-export.py"
MACHINE_ID=0123456789abcdef0123456789abcdef
extra_loops=()
diag_cleanup() {
	for l in "${extra_loops[@]}"; do losetup -d "$l" 2> /dev/null; done
	ie_cleanup
}
trap diag_cleanup EXIT

ie_make_disks 2G
ie_make_netns
ie_make_channels
decoy_before=$(ie_disk_sum "$IE_DECOY")
mapfile -t args < <(ie_install_args)
ie_agent install --yes "${args[@]}" --ssh-key "$IE_KEY" > "$IE_WORK/install.out" 2> "$IE_WORK/install.err" ||
	fail "install: $(tail -n 20 "$IE_WORK/install.err")"
root_uuid=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["plan"]; print([f for f in p["filesystems"] if f.get("mountpoint")=="/"][0]["uuid"])' "$IE_WORK/state/state.json")
root_part="${IE_DISK}p4"
[ "$(blkid -p -s UUID -o value "$root_part")" = "$root_uuid" ] || fail "the install's root is not on $root_part"
ok "installed: root $root_uuid on $root_part"

# The test's own mounts are made in a mount namespace of their own: a namespace another process on
# this host makes meanwhile (unshare, ip netns exec) would copy one made here, keep the filesystem
# mounted read-write after our umount, and write its superblock and journal later, when that
# process ends: in the middle of a diagnose, as far as the fingerprint can tell.
in_private_ns() {
	local fn=$1
	shift
	unshare --mount --propagation private bash -c "set -euo pipefail; $(declare -f "$fn"); $fn \"\$@\"" "$fn" "$@"
}

# The failed boot's journal, as the first boot of NixOS would leave it: CASE of journal-export.py
# written as a real journal file, "none" for no journal directory at all, "garbage" for a file
# journalctl cannot read, "symlink" for a directory that points out of the installed system.
write_journal() { # DEVICE MOUNTPOINT CASE EXPORT JOURNAL_REMOTE MACHINE_ID
	local dir="$2/var/log/journal/$6"
	mount "$1" "$2"
	rm -rf "$2/var/log/journal"
	case "$3" in
	none) ;;
	garbage) mkdir -p "$dir" && head -c 65536 /dev/urandom > "$dir/system.journal" ;;
	symlink) ln -s /var/log "$2/var/log/journal" ;; # out of the installed system: never followed
	*) mkdir -p "$dir" && python3 "$4" "$3" eth0 | "$5" --output="$dir/system.journal" - 2> /dev/null ;;
	esac
	umount "$2"
}
write_boot() {
	mkdir -p "$IE_WORK/rw"
	in_private_ns write_journal "$root_part" "$IE_WORK/rw" "$1" "$EXPORT" "$journal_remote" "$MACHINE_ID" ||
		fail "writing the $1 journal into the installed root failed"
}

# Runs diagnose like provision does and checks what must hold whatever the cause: exit 0, the disk
# unchanged, the root unmounted and its loop device gone. The JSON is left in $IE_WORK/$1.json.
diagnose() {
	local name=$1 before after rc=0
	shift
	mkdir -p "$IE_WORK/dmnt"
	before=$(ie_disk_sum "$IE_DISK")
	ie_agent diagnose --root-uuid "$root_uuid" --json --mount-dir "$IE_WORK/dmnt" "$@" \
		> "$IE_WORK/$name.json" 2> "$IE_WORK/$name.err" || rc=$?
	[ "$rc" = 0 ] || fail "$name: diagnose exited $rc: $(cat "$IE_WORK/$name.err")"
	after=$(ie_disk_sum "$IE_DISK")
	[ "$before" = "$after" ] || fail "$name: diagnose changed the disk"
	! grep -q "$IE_WORK/dmnt" /proc/self/mounts || fail "$name: $IE_WORK/dmnt still mounted"
	python3 - "$IE_WORK/$name.json" <<-'EOF' || fail "$name: the root was not unmounted"
	import json, sys
	root = json.load(open(sys.argv[1]))["root"]
	assert root["unmounted"] is True, root
	assert root["mount_options"] == "ro,noload", root
	EOF
	local loop
	loop=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["root"]["loop_device"])' "$IE_WORK/$name.json")
	loop_released "${loop#/dev/}" || fail "$name: $loop still reads $root_part after diagnose ended"
}

# loop_released LOOP: true once LOOP no longer reads the root partition. The kernel lets an
# autoclear loop device go as its last user closes it; tests running in parallel may take the
# freed number for a device of their own at once, so the check is what it reads, not that it exists.
loop_released() {
	local backing=/sys/block/$1/loop/backing_file
	for _ in $(seq 50); do
		[ "$(cat "$backing" 2> /dev/null)" = "$root_part" ] || return 0
		sleep 0.1
	done
	return 1
}

# cause JSON EXPECTED [PYTHON]: the likely cause is EXPECTED, and PYTHON (on `d`, the JSON) holds.
cause() {
	python3 - "$IE_WORK/$1.json" "$2" "${3:-True}" <<-'EOF' || fail "$1: $(cat "$IE_WORK/$1.json")"
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["cause"] == sys.argv[2] == d["findings"][0]["cause"], (d["cause"], sys.argv[2])
	assert eval("(" + sys.argv[3] + ")"), sys.argv[3]
	EOF
	ok "$1: $2"
}

# (a) the journal lost the carrier, and the rescue's eth0 has none either (its peer is down).
write_boot no-carrier
ip -n "$IE_NS" link set gw0 down
diagnose no-carrier
ip -n "$IE_NS" link set gw0 up
cause no-carrier no-carrier '[n for n in d["nics"] if n["name"] == "eth0"][0]["carrier"] is False and
  [n for n in d["nics"] if n["name"] == "eth0"][0]["rendered_uplink"] and
  any(e["source"] == "journal" and e["text"] == "eth0: Lost carrier" and e["unit"] == "systemd-networkd.service"
      for e in d["findings"][0]["evidence"]) and d["journal"]["boot_id"] == "6f2b4ad1c0e94f4c8a1f3b2e5d6c7a89"'

# (b) the machine's NIC has another MAC than the rendered one (a mainboard swap).
write_boot mac-missing
ip -n "$IE_NS" link set eth0 address 52:54:00:ab:cd:ef
diagnose mac-missing
ip -n "$IE_NS" link set eth0 address 52:54:00:12:34:56
cause mac-missing mac-missing 'd["rendered"]["uplink_mac"] == "52:54:00:12:34:56" and
  "\"52:54:00:ab:cd:ef\" (eth0, which has carrier now)" in d["findings"][0]["fix"] and
  not any(n["rendered_uplink"] for n in d["nics"])'

# (c) no journal at all: the boot never reached stage 2.
write_boot none
diagnose no-journal
cause no-journal no-stage2 'd["journal"]["present"] is False and d["root"]["install_result"] == "done" and
  "did not reach stage 2" in d["findings"][0]["summary"]'

# (d) sshd failed.
write_boot sshd-failed
diagnose sshd-failed
cause sshd-failed sshd-failed 'len(d["findings"]) == 1 and
  any("Failed to start SSH Daemon." == e["text"] for e in d["findings"][0]["evidence"])'

# (e) networkd could not set the gateway route.
write_boot no-route
diagnose no-route
cause no-route no-route 'any(e["source"] == "file" and "Gateway" in e["text"] for e in d["findings"][0]["evidence"])'

# (f) a journal file journalctl cannot read: a diagnosis all the same, and unmounted (diagnose checks).
write_boot garbage
diagnose garbage
cause garbage unknown 'd["journal"]["has_files"] and d["journal"]["boot_id"] is None and
  "could not be read" in d["findings"][0]["summary"]'

# (g) a journal directory that is a symlink out of the installed root is not followed.
write_boot symlink
diagnose symlink
cause symlink unknown '"symlink out of the installed system" in d["journal"]["error"] and not d["journal"]["has_files"]'

# The text output names the cause and the evidence too (in a fresh directory under /tmp).
tmp_dirs=$(ls -d /tmp/nmmm-diagnose-* 2> /dev/null || true)
ie_agent diagnose --root-uuid "$root_uuid" > "$IE_WORK/text.out" 2> "$IE_WORK/text.err" || fail "diagnose (text): $(cat "$IE_WORK/text.err")"
grep -q '^diagnosis: unknown: ' "$IE_WORK/text.out" || fail "text output: $(cat "$IE_WORK/text.out")"
ok "text output names the cause"

# No root with that UUID: exit 1, naming what was searched and what to pass.
rc=0
ie_agent diagnose --root-uuid 01234567-89ab-4def-8123-456789abcdef > /dev/null 2> "$IE_WORK/noroot.err" || rc=$?
[ "$rc" = 1 ] || fail "diagnose with an unknown UUID exited $rc"
grep -q "no filesystem with UUID 01234567-89ab-4def-8123-456789abcdef.*$(basename "$root_part"): ext4 UUID $root_uuid" "$IE_WORK/noroot.err" ||
	fail "no-root message: $(cat "$IE_WORK/noroot.err")"
ok "unknown UUID: exit 1 naming what was probed"

# Killed while the root is mounted: the mount lived in diagnose's own mount namespace, never in
# the caller's, and goes with the process, and the read-only loop device with it. A busy journal
# keeps journalctl (and so the mount) busy long enough to be seen.
write_boot busy
before=$(ie_disk_sum "$IE_DISK")
caught=""
for _ in 1 2 3 4 5; do
	# Run in this shell's own mount namespace, as provision runs it over SSH (ie_agent and ip
	# netns exec would add namespaces of their own, which would take the mount away all the same).
	"$NMMM_AGENT" diagnose --root-uuid "$root_uuid" --json --mount-dir "$IE_WORK/dmnt" > /dev/null 2>&1 &
	pid=$!
	while kill -0 "$pid" 2> /dev/null; do
		line=$(grep " $IE_WORK/dmnt " "/proc/$pid/mountinfo" 2> /dev/null) && { caught=$line; break; }
	done
	if [ -n "$caught" ]; then
		grep -q " $IE_WORK/dmnt " /proc/self/mountinfo && fail "the mount shows in the caller's namespace"
		# While the root is mounted, its loop device reads the root partition: what
		# loop_released waits to end.
		live=$(echo "$caught" | sed -n 's/.* - ext4 \/dev\/\(loop[0-9]*\) .*/\1/p')
		[ "$(cat "/sys/block/$live/loop/backing_file" 2> /dev/null)" = "$root_part" ] ||
			fail "diagnose's loop device ${live:-?} does not read $root_part"
		kill -KILL "$pid"
	fi
	wait "$pid" 2> /dev/null || true
	[ -n "$caught" ] && break
done
[ -n "$caught" ] || fail "diagnose never seen with the root mounted (5 tries)"
loop=$(echo "$caught" | sed -n 's/.* - ext4 \/dev\/\(loop[0-9]*\) .*/\1/p')
[ -n "$loop" ] || fail "no loop device in the mount line: $caught"
loop_released "$loop" || fail "$loop still reads $root_part after diagnose was killed"
grep -q " $IE_WORK/dmnt " /proc/self/mounts && fail "$IE_WORK/dmnt mounted after diagnose was killed"
[ "$(ie_disk_sum "$IE_DISK")" = "$before" ] || fail "killed diagnose changed the disk"
ok "killed mid-way: no mount, $loop detached, disk unchanged"

# The search without --root-uuid, in a --root tree that shows this disk and an ext4 without the
# state file (no other device of the host: other tests' disks are none of this test's business).
truncate -s 64M "$IE_WORK/other.img"
mkfs.ext4 -q "$IE_WORK/other.img"
other=$(losetup -f --show "$IE_WORK/other.img")
extra_loops+=("$other")
tree="$IE_WORK/tree"
mkdir -p "$tree/sys/block" "$tree/sys/class" "$tree/dev"
ln -s /proc "$tree/proc"
ln -s /sys/class/net "$tree/sys/class/net"
for dev in "$IE_DISK" "$other"; do
	ln -s "/sys/block/$(basename "$dev")" "$tree/sys/block/$(basename "$dev")"
	for node in "$dev" "$dev"p*; do
		[ -b "$node" ] && ln -s "$node" "$tree/dev/$(basename "$node")"
	done
done
write_boot sshd-failed
before=$(ie_disk_sum "$IE_DISK")
other_before=$(ie_disk_sum "$other")
ie_agent --root "$tree" diagnose --json > "$IE_WORK/search.json" 2> "$IE_WORK/search.err" ||
	fail "search: $(cat "$IE_WORK/search.err")"
[ "$(ie_disk_sum "$IE_DISK")" = "$before" ] || fail "the search changed the disk"
[ "$(ie_disk_sum "$other")" = "$other_before" ] || fail "the search changed the other ext4"
cause search sshd-failed "d['root']['found_by'] == 'search' and d['root']['device'] == '/dev/$(basename "$root_part")'"
[ "$(ls -d /tmp/nmmm-diagnose-* 2> /dev/null)" = "$tmp_dirs" ] || fail "diagnose left a mount directory in /tmp"
ok "no mount directory left in /tmp"

# xfs with a dirty log, and btrfs: the root mounted without replay, and the image unchanged.
# The files reach their home blocks (a clean unmount) before the log is dirtied again: what is
# only in the log is what norecovery does not show.
make_other_root() { # FS DEVICE MOUNTPOINT HW_FILE EXPORT JOURNAL_REMOTE MACHINE_ID
	local mnt=$3
	mount "$2" "$mnt"
	mkdir -p "$mnt/var/lib/nmmm" "$mnt/etc/nixos" "$mnt/var/log/journal/$7"
	echo '{"result": "done"}' > "$mnt/var/lib/nmmm/state.json"
	cp "$4" "$mnt/etc/nixos/"
	python3 "$5" sshd-failed eth0 | "$6" --output="$mnt/var/log/journal/$7/system.journal" - 2> /dev/null
	umount "$mnt"
	if [ "$1" = xfs ]; then
		mount "$2" "$mnt"
		echo after > "$mnt/only-in-the-log"
		xfs_io -x -c shutdown "$mnt" # the log now needs recovery
		umount "$mnt"
	fi
}
other_root() {
	local fs=$1 img="$IE_WORK/$1.img" uuid dev
	uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
	truncate -s 512M "$img"
	case "$fs" in
	xfs) mkfs.xfs -q -m uuid="$uuid" "$img" ;;
	btrfs) mkfs.btrfs -q -U "$uuid" "$img" > /dev/null ;;
	esac
	dev=$(losetup -f --show "$img")
	extra_loops+=("$dev")
	mkdir -p "$IE_WORK/$fs-rw"
	in_private_ns make_other_root "$fs" "$dev" "$IE_WORK/$fs-rw" "$IE_WORK/state/nixos/hardware-configuration.nix" \
		"$EXPORT" "$journal_remote" "$MACHINE_ID" || fail "$fs: making the root failed"
	before=$(ie_disk_sum "$dev")
	ie_agent diagnose --root-uuid "$uuid" --json > "$IE_WORK/$fs.json" 2> "$IE_WORK/$fs.err" ||
		fail "$fs: $(cat "$IE_WORK/$fs.err")"
	[ "$(ie_disk_sum "$dev")" = "$before" ] || fail "$fs: diagnose changed the image"
}
other_root xfs
cause xfs sshd-failed 'd["root"]["fstype"] == "xfs" and d["root"]["mount_options"] == "ro,norecovery" and d["root"]["unmounted"]'
other_root btrfs
cause btrfs sshd-failed 'd["root"]["fstype"] == "btrfs" and d["root"]["mount_options"] in ("ro,rescue=nologreplay", "ro,nologreplay")'

[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy disk changed"
echo "diagnose_rescue: ok"
