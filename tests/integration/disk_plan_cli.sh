#!/usr/bin/env bash
# disk_plan_cli.sh: `detect` and `plan` on real state. Two sparse images on loop devices carry a
# real GPT and real filesystems (sgdisk, mkfs.ext4, mkswap), which libblkid must report; a plan
# over them must follow the smaller image and change nothing (hash of both ends, allocated blocks and mtime of each image, before and after); a
# mounted partition on a named disk is refused (exit 3) naming partition and
# mountpoint; this host's /dev/vda holds / and is refused and never eligible. Also on the
# fixture trees: detect --json is valid JSON even on odd-sysfs, the automatic pair on
# nvme-onboard erases the two serials, leftover swap on sata-pcie-bmc is planned over (teardown
# turns it off), an unknown
# disk and a bad config are usage errors (exit 2) naming the spec or field.
set -euo pipefail

: "${NMMM_AGENT:?set NMMM_AGENT to the nmmm-agent binary}"
: "${NMMM_FIXTURES:?set NMMM_FIXTURES to tests/fixtures}"
# shellcheck source=tests/lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices)"

tag="disk-plan-$$"
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
loops=()
cleanup() {
	swapoff "${loops[1]:-none}p3" 2>/dev/null || true
	umount "$tmp/mnt" 2>/dev/null || true
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT


# What a write through a loop device would change in its sparse image: the first and last
# 8 MiB (GPT, superblocks), the allocated blocks and the modification time. Reading all of a
# 1.5 GiB image takes tens of seconds on this shared machine; this takes milliseconds.
fingerprint() {
	local f
	for f in "$@"; do
		{ head -c 8M "$f"; tail -c 8M "$f"; } | sha256sum
		stat -c '%b %y' "$f"
	done
}

# expect CODE NEEDLE -- command...: runs it, checks the exit code and that stderr names NEEDLE.
expect() {
	local code=$1 needle=$2
	shift 3
	local rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -eq "$code" ] || fail "$* exited $rc, wanted $code: $(cat "$tmp/err")"
	grep -qF -- "$needle" "$tmp/err" || fail "$*: stderr does not mention '$needle': $(cat "$tmp/err")"
}

# ---- fixture trees ----
for t in nvme-onboard sata-pcie-bmc uefi-multifunction odd-sysfs; do
	"$NMMM_AGENT" --root "$NMMM_FIXTURES/$t/root" detect --json >"$tmp/$t.json" 2>/dev/null ||
		fail "detect --json on $t failed"
	python3 -m json.tool "$tmp/$t.json" >/dev/null || fail "detect --json on $t is not valid JSON"
done
"$NMMM_AGENT" --root "$NMMM_FIXTURES/nvme-onboard/root" plan --json >"$tmp/plan-a.json" 2>/dev/null ||
	fail "automatic plan on nvme-onboard failed"
python3 - "$tmp/plan-a.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert [d["serial"] for d in p["erases"]] == ["S675NX0T123456", "S675NX0T654321"], p["erases"]
assert p["arrays"][0]["members"] == ["/dev/nvme0n1p4", "/dev/nvme1n1p4"], p["arrays"]
PY
"$NMMM_AGENT" --root "$NMMM_FIXTURES/sata-pcie-bmc/root" plan >/dev/null 2>&1 ||
	fail "a disk with active swap must be planned (teardown turns swap off)"
expect 2 'disks[1]: "sdz" is not a disk here (disks: nvme0n1, nvme1n1)' -- \
	"$NMMM_AGENT" --root "$NMMM_FIXTURES/nvme-onboard/root" plan --disks nvme0n1,sdz
printf '{"raid_level": 5}\n' >"$tmp/r5.json"
expect 2 "raid_level: 5 needs at least 3 disks, you chose 2 (nvme0n1, nvme1n1)" -- \
	"$NMMM_AGENT" --root "$NMMM_FIXTURES/uefi-multifunction/root" plan --config "$tmp/r5.json"
printf '{"swap": "8G"}\n' >"$tmp/bad.json"
expect 2 "$tmp/bad.json: swap: unknown field" -- "$NMMM_AGENT" plan --config "$tmp/bad.json"

# ---- this host: / is on vda (the development and CI machines boot from it), never eligible, refused when named ----
"$NMMM_AGENT" detect --json >"$tmp/host.json" 2>/dev/null || fail "detect --json on this host failed"
python3 - "$tmp/host.json" <<'PY'
import json, sys
d = {x["name"]: x for x in json.load(open(sys.argv[1]))["disks"]}
if "vda" in d:
    assert not d["vda"]["eligible"], d["vda"]
    assert "holds the running system" in d["vda"]["why_not"], d["vda"]["why_not"]
PY
if [ -e /sys/block/vda ] && grep -q ' / .* /dev/vda' /proc/self/mountinfo; then
	expect 3 "vda: holds the running system" -- "$NMMM_AGENT" plan --disks vda
fi

# ---- loop devices with real signatures ----
truncate -s 1600M "$tmp/a.img"
truncate -s 1400M "$tmp/b.img"
# The table goes on the image before it is attached: partition scanning of a loop device that
# is written to while attached proved unreliable on this kernel, and there is no udev.
sgdisk -n1:1M:+200M -t1:8300 -n2:0:+100M -t2:8300 -n3:0:+64M -t3:8200 "$tmp/b.img" >/dev/null
loops+=("$(losetup -P --find --show "$tmp/a.img")")
loops+=("$(losetup -P --find --show "$tmp/b.img")")
a=${loops[0]#/dev/}
b=${loops[1]#/dev/}
partx -u "${loops[1]}" 2>/dev/null || partx -a "${loops[1]}" 2>/dev/null || true
for _ in $(seq 50); do [ -b "${loops[1]}p3" ] && break; sleep 0.1; done
[ -b "${loops[1]}p3" ] || fail "no partition nodes for ${loops[1]} after partx"
mkfs.ext4 -q "${loops[1]}p1"
mkswap -q "${loops[1]}p3" >/dev/null 2>&1 || mkswap "${loops[1]}p3" >/dev/null

"$NMMM_AGENT" detect --json >"$tmp/loops.json" 2>/dev/null
python3 - "$tmp/loops.json" "$b" <<'PY'
import json, sys
d = {x["name"]: x for x in json.load(open(sys.argv[1]))["disks"]}[sys.argv[2]]
assert d["transport"] == "loop" and not d["eligible"], d
assert "gpt" in d["signatures"] and "ext4" in d["signatures"] and "swap" in d["signatures"], d["signatures"]
parts = {p["name"]: p for p in d["partitions"]}
assert parts[sys.argv[2] + "p1"]["signatures"] == ["ext4"], parts
assert parts[sys.argv[2] + "p1"]["start_bytes"] == 1 << 20, parts
PY

printf '{"esp_size": "64M", "swap_size": "32M"}\n' >"$tmp/small.json"
sha_before=$(fingerprint "$tmp/a.img" "$tmp/b.img")
"$NMMM_AGENT" plan --config "$tmp/small.json" --disks "$a,/dev/$b" --json >"$tmp/plan-loop.json" 2>/dev/null ||
	fail "plan over two loop devices failed"
"$NMMM_AGENT" plan --config "$tmp/small.json" --disks "$a,$b" >/dev/null 2>&1 || fail "human plan failed"
[ "$sha_before" = "$(fingerprint "$tmp/a.img" "$tmp/b.img")" ] || fail "plan changed the disks"
python3 - "$tmp/plan-loop.json" "$a" "$b" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
a, b = sys.argv[2], sys.argv[3]
small = 1400 << 20
for d in p["disks"]:
    end = max(q["start"] + q["size"] for q in d["partitions"])
    assert end <= small - (1 << 20), (d["name"], end)
    assert all(q["start"] % (1 << 20) == 0 for q in d["partitions"])
root = [q for q in p["disks"][0]["partitions"] if q["role"] == "root"][0]
assert root["path"] == "/dev/%sp4" % a and root["start"] + root["size"] == small - (1 << 20), root
assert p["arrays"][0]["members"] == ["/dev/%sp4" % a, "/dev/%sp4" % b]
PY

mkdir -p "$tmp/mnt"
mount "${loops[1]}p1" "$tmp/mnt"
expect 3 "$b: partition ${b}p1 is mounted at $tmp/mnt; unmount it or leave $b out of --disks" -- \
	"$NMMM_AGENT" plan --config "$tmp/small.json" --disks "$a,$b"
umount "$tmp/mnt"
swapon "${loops[1]}p3"
"$NMMM_AGENT" plan --config "$tmp/small.json" --disks "$a,$b" >/dev/null 2>&1 ||
	fail "active swap on $b refused; teardown turns it off"
swapoff "${loops[1]}p3"
[ "$(fingerprint "$tmp/a.img")" = "$(echo "$sha_before" | head -n2)" ] || fail "a refused plan changed $a"
echo "disk_plan_cli: ok"
