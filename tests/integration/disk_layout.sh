#!/usr/bin/env bash
# disk_layout.sh: `nmmm-agent layout` on real loop devices. A one-disk plan (root directly on
# partition 4, no md) is built and checked against the plan the agent printed in its event
# stream: partition starts, sizes, type GUIDs, names and UUIDs (sfdisk --json), filesystem
# types and UUIDs (blkid), the mount under a target of the test's own; --until partition stops
# there; running it again over its own mounted layout works. Refusals (no --yes, disk too
# small, sizes too different, a mounted partition, an unknown disk, a disk another program holds
# locked) change no byte; a RAID plan
# on this kernel without md fails before anything is erased. The decoy never changes.
set -euo pipefail
# shellcheck source=tests/integration/lib/disk-common.sh
source "$(dirname "$0")/lib/disk-common.sh"

CFG="$DISK_TMP/layout.json"
echo '{"esp_size": "64M"}' >"$CFG" # small ESP: the test disks are small
TARGET="$DISK_TMP/target"
EVENTS="$DISK_TMP/events.jsonl"

layout() {
	: >"$EVENTS"
	"$NMMM_AGENT" --events "$EVENTS" layout --config "$CFG" --target "$TARGET" "$@"
}

# check_against_plan DEV PHASE: compares the disk with the plan from the last run's events.
# PHASE "partition" expects no filesystems yet, "mount" expects them made and mounted.
check_against_plan() {
	python3 - "$EVENTS" "$1" "$2" "$TARGET" <<'EOF'
import json, subprocess, sys
events, dev, phase, target = sys.argv[1:]
plan = next(json.loads(l)["plan"] for l in open(events) if '"plan"' in l and json.loads(l).get("phase") == "plan")
disk = next(d for d in plan["disks"] if d["path"] == dev)
table = json.loads(subprocess.check_output(["sfdisk", "--json", dev]))["partitiontable"]
assert table["label"] == "gpt", table["label"]
got = {int(p["node"].rsplit("p", 1)[1]): p for p in table["partitions"]}
parts = disk["partitions"]
assert sorted(got) == sorted(p["number"] for p in parts), (sorted(got), parts)
for p in parts:
    g = got[p["number"]]
    want = (p["start"], p["size"], p["type_guid"].lower(), p["part_uuid"].lower(), p["name"])
    have = (g["start"] * 512, g["size"] * 512, g["type"].lower(), g["uuid"].lower(), g.get("name"))
    assert want == have, f"partition {p['number']}: planned {want}, on disk {have}"
mounts = {}
for line in open("/proc/self/mountinfo"):
    f = line.split()
    mounts[f[4]] = f[f.index("-") + 2]
for fs in plan["filesystems"]:
    probe = subprocess.run(["blkid", "-p", "-o", "export", fs["device"]], capture_output=True, text=True).stdout
    tags = dict(l.split("=", 1) for l in probe.split())
    if phase == "partition":
        assert "TYPE" not in tags, f"{fs['device']}: {tags.get('TYPE')} made before the format phase"
        assert not any(m.startswith(target) for m in mounts), "mounted before the mount phase"
        continue
    assert tags.get("TYPE") == fs["fstype"], (fs["device"], tags.get("TYPE"), fs["fstype"])
    assert tags.get("UUID", "").lower() == fs["uuid"].lower(), (fs["device"], tags.get("UUID"), fs["uuid"])
    mp = fs.get("mountpoint")
    if mp:
        where = target if mp == "/" else target + mp
        assert mounts.get(where) == fs["device"], f"{fs['device']} not mounted at {where}: {mounts.get(where)}"
print("plan matches:", len(parts), "partitions,", len(plan["filesystems"]), "filesystems")
EOF
}

layout_refuses_without_yes() {
	local d before
	d=$(disk_new noyes 2560M)
	disk_gpt "$d" 64M
	mkfs.ext4 -q "${d}p1"
	before=$(disk_sha "$d")
	expect_exit 3 "not confirmed" layout --disks "$(basename "$d")"
	grep -q "THESE DISKS WILL BE ERASED" "$DISK_TMP/out" || fail "no confirmation listing"
	[ "$(disk_sha "$d")" = "$before" ] || fail "an unconfirmed layout changed $d"
	decoy_unchanged
	ok "layout without --yes lists the plan, exits 3 and changes nothing"
}

layout_until_partition_stops_with_the_planned_table() {
	local d
	d=$(disk_new until 2560M)
	disk_gpt "$d" 100M 100M
	mkfs.ext4 -q "${d}p2"
	expect_exit 0 "done through partition" layout --disks "$d" --yes --until partition
	check_against_plan "$d" partition >/dev/null || fail "partitions differ from the plan"
	grep -q '"phase":"partition","event":"done"' "$EVENTS" || fail "no partition done event"
	! grep -q '"phase":"format"' "$EVENTS" || fail "--until partition ran the format phase"
	decoy_unchanged
	ok "layout --until partition writes exactly the planned GPT and stops"
}

layout_one_disk_builds_and_mounts_the_plan() {
	local d
	d=$(disk_new onedisk 2560M)
	# Dirty: an old layout with a stale md member and a filesystem where the new root goes.
	disk_gpt "$d" 512M 512M
	python3 "$NMMM_SRC/tests/integration/lib/md-superblock.py" "${d}p1" 1.2 old:root
	mkfs.ext4 -q "${d}p2"
	expect_exit 0 "done through mount" layout --disks "$(basename "$d")" --yes
	check_against_plan "$d" mount >/dev/null || fail "the layout differs from the plan"
	for p in teardown wipe partition raid format mount; do
		grep -q "\"phase\":\"$p\",\"event\":\"done\"" "$EVENTS" || fail "no done event for $p"
	done
	# install's event shape: each disk phase starts with its disks and is done with its seconds.
	python3 - "$EVENTS" "$(basename "$d")" <<-'EOF' || fail "the disk phases' events are not install's shape"
	import json, sys
	ev = [json.loads(l) for l in open(sys.argv[1])][-12:]
	assert [(e["phase"], e["event"]) for e in ev[::2]] == [(p, "start") for p in
	        ("teardown", "wipe", "partition", "raid", "format", "mount")], ev
	assert all(e["disks"] == [sys.argv[2]] for e in ev[::2]), ev
	assert all(e["event"] == "done" and isinstance(e["seconds"], float) for e in ev[1::2]), ev
	EOF
	# Again, over its own mounted layout: the target is the agent's, so it is unmounted first.
	expect_exit 0 "done through mount" layout --disks "$(basename "$d")" --yes
	check_against_plan "$d" mount >/dev/null || fail "the second layout differs from its plan"
	umount "$TARGET"
	decoy_unchanged
	ok "layout builds a one-disk plan (GPT, ext4/vfat UUIDs, mount), and again over its own mounts"
}

layout_refuses_disk_too_small() {
	local d before
	d=$(disk_new small 1G)
	before=$(disk_sha "$d")
	expect_exit 3 "too small" layout --disks "$(basename "$d")" --yes
	[ "$(disk_sha "$d")" = "$before" ] || fail "a refused layout changed $d"
	decoy_unchanged
	ok "layout refuses a disk too small for the plan, changing nothing"
}

layout_refuses_sizes_too_different() {
	local a b sa sb
	a=$(disk_new small2 2560M)
	b=$(disk_new big2 8G)
	sa=$(disk_sha "$a")
	sb=$(disk_sha "$b")
	expect_exit 3 "size of" layout --disks "$(basename "$a"),$(basename "$b")" --yes
	[ "$(disk_sha "$a")" = "$sa" ] && [ "$(disk_sha "$b")" = "$sb" ] || fail "a refused layout changed a disk"
	decoy_unchanged
	ok "layout refuses disks of too different sizes, changing nothing"
}

layout_refuses_mounted_partition_and_unknown_disk() {
	local d before m="$DISK_TMP/srv2"
	d=$(disk_new busy 2560M)
	disk_gpt "$d" 64M
	mkfs.ext4 -q "${d}p1"
	mkdir -p "$m"
	before=$(disk_sha "$d")
	mount -o ro,noload "${d}p1" "$m"
	expect_exit 3 "mounted at $m" layout --disks "$(basename "$d")" --yes
	umount "$m"
	[ "$(disk_sha "$d")" = "$before" ] || fail "a refused layout changed $d"
	expect_exit 2 "nosuchdisk0" layout --disks nosuchdisk0 --yes
	expect_exit 2 "not a layout phase" layout --disks "$(basename "$d")" --yes --until install
	decoy_unchanged
	ok "layout refuses a mounted partition (3), an unknown disk and an unknown phase (2)"
}

layout_raid_without_md_driver_fails_before_erasing() {
	local a b sa sb
	if [ -e /proc/mdstat ]; then
		ok "# skip: this kernel has md (arrays are tested in the QEMU scenarios)"
		return
	fi
	a=$(disk_new raid-a 2560M)
	b=$(disk_new raid-b 2560M)
	disk_gpt "$a" 64M
	mkfs.ext4 -q "${a}p1"
	sa=$(disk_sha "$a")
	sb=$(disk_sha "$b")
	expect_exit 1 "no md driver.*choose a one-disk layout" layout --disks "$(basename "$a"),$(basename "$b")" --yes
	[ "$(disk_sha "$a")" = "$sa" ] && [ "$(disk_sha "$b")" = "$sb" ] || fail "the failed RAID layout changed a disk"
	# Up to the partitions a RAID plan needs no md: both disks get the planned members.
	expect_exit 0 "done through partition" layout --disks "$(basename "$a"),$(basename "$b")" --yes --until partition
	check_against_plan "$a" partition >/dev/null || fail "$a differs from the plan"
	check_against_plan "$b" partition >/dev/null || fail "$b differs from the plan"
	decoy_unchanged
	ok "a RAID layout on a kernel without md fails before erasing; --until partition still works"
}

layout_refuses_disk_locked_by_another_program() {
	local d before holder
	d=$(disk_new locked 2560M)
	disk_gpt "$d" 64M
	mkfs.ext4 -q "${d}p1"
	before=$(disk_sha "$d")
	# Another partitioning tool at work: it holds the BSD lock on the whole disk (as systemd's
	# block device locking convention has such tools do) — one process, so killing it lets go.
	python3 -c 'import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); time.sleep(60)' "$d" &
	holder=$!
	for _ in $(seq 100); do python3 -c 'import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)' "$d" 2>/dev/null || break; sleep 0.05; done
	expect_exit 3 "$d: another program has held a lock on the disk for 10 s.*lslocks" layout --disks "$(basename "$d")" --yes
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	[ "$(disk_sha "$d")" = "$before" ] || fail "a layout refused for a locked disk changed $d"
	! grep -q '"phase":"teardown","event":"start"' "$EVENTS" || fail "teardown started on a disk another program had locked"
	# The refusal is teardown's error event, in install's shape: message, exit code and class.
	python3 - "$EVENTS" "$d" <<-'EOF' || fail "no teardown error event with the refusal's exit code"
	import json, sys
	e = json.loads(open(sys.argv[1]).readlines()[-1])
	assert (e["phase"], e["event"], e["exit_code"], e["class"]) == ("teardown", "error", 3, "refused"), e
	assert sys.argv[2] in e["message"], e
	EOF
	decoy_unchanged
	ok "layout refuses (3) a disk another program holds locked, naming it and lslocks, changing nothing"
}


layout_refuses_without_yes
layout_until_partition_stops_with_the_planned_table
layout_one_disk_builds_and_mounts_the_plan
layout_refuses_disk_too_small
layout_refuses_sizes_too_different
layout_refuses_mounted_partition_and_unknown_disk
layout_raid_without_md_driver_fails_before_erasing
layout_refuses_disk_locked_by_another_program
decoy_unchanged
echo "disk_layout: all passed"
