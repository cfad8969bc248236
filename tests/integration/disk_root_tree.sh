#!/usr/bin/env bash
# disk_root_tree.sh: `--root DIR` never redirects a write. A tree consistent in itself, as a
# capture of another machine would be, lists a disk under the name of this host's loop device A
# while its sysfs and its dev/ node carry the device number of loop device B. The guard would
# examine B through the tree while libparted, sfdisk and mkfs are handed /dev/<A>: so layout,
# wipe and install refuse any --root but / (exit 3, naming --root), and neither A nor B (nor the
# decoy) changes by a byte. With --root / the same wipe works.
set -euo pipefail
# shellcheck source=tests/integration/lib/disk-common.sh
source "$(dirname "$0")/lib/disk-common.sh"

CFG="$DISK_TMP/layout.json"
echo '{"esp_size": "64M"}' >"$CFG"

A=$(disk_new a 2G)
B=$(disk_new b 2G)
for d in "$A" "$B"; do
	disk_gpt "$d" 100M 100M
	mkfs.ext4 -q "${d}p2"
done
A_NAME=$(basename "$A")
A_SHA=$(disk_sha "$A")
B_SHA=$(disk_sha "$B")

# The tree: disk A_NAME with B's size, sectors, diskseq and device number; dev/A_NAME is B's node.
TREE="$DISK_TMP/tree"
b_sys=/sys/block/$(basename "$B")
devnum=$(cat "$b_sys/dev")
s="$TREE/sys/block/$A_NAME"
mkdir -p "$s/queue" "$s/holders" "$TREE/sys/dev/block" "$TREE/sys/class/block" "$TREE/dev" "$TREE/proc/self"
for f in size removable diskseq queue/logical_block_size queue/physical_block_size queue/rotational; do
	cat "$b_sys/$f" >"$s/$f"
done
echo "$devnum" >"$s/dev"
ln -s "../../block/$A_NAME" "$TREE/sys/dev/block/$devnum"
ln -s "../../block/$A_NAME" "$TREE/sys/class/block/$A_NAME"
mknod "$TREE/dev/$A_NAME" b "${devnum%%:*}" "${devnum##*:}"
cat /proc/self/mountinfo >"$TREE/proc/self/mountinfo"
cat /proc/swaps >"$TREE/proc/swaps"
# The tree plans A_NAME as the disk to erase: what the agent would do there.
"$NMMM_AGENT" --root "$TREE" plan --config "$CFG" --disks "$A_NAME" --json >"$DISK_TMP/plan.json" ||
	fail "plan --root: the tree is not one the agent can plan on"

# refused WHAT CMD...: the bytes first (what matters most), then exit 3 naming --root.
refused() {
	local what=$1 rc=0
	shift
	"$@" >"$DISK_TMP/out" 2>&1 || rc=$?
	[ "$(disk_sha "$A")" = "$A_SHA" ] || fail "$what (exit $rc): $A, the name the tree gives, changed"
	[ "$(disk_sha "$B")" = "$B_SHA" ] || fail "$what (exit $rc): $B, the node the tree holds, changed"
	decoy_unchanged
	[ "$rc" -eq 3 ] || fail "$what: exit $rc, expected 3: $(tail -n 3 "$DISK_TMP/out")"
	grep -q "refused under --root $TREE" "$DISK_TMP/out" || fail "$what: the refusal does not name --root: $(tail -n 3 "$DISK_TMP/out")"
	ok "$what: refused, no byte changed"
}

refused "layout --root TREE --yes" \
	"$NMMM_AGENT" --root "$TREE" layout --config "$CFG" --disks "$A_NAME" --target "$DISK_TMP/target" --yes --until partition
refused "wipe --root TREE --yes" "$NMMM_AGENT" --root "$TREE" wipe --disks "$A_NAME" --target "$DISK_TMP/target" --yes
refused "install --root TREE --yes" \
	"$NMMM_AGENT" --root "$TREE" install --disks "$A_NAME" --yes --state-dir "$DISK_TMP/state" --target "$DISK_TMP/target"

# The host's own root is no tree: the same wipe goes ahead there, on A only.
expect_exit 0 "wiped: no signature left on 1 disk" "$NMMM_AGENT" --root / wipe --disks "$A" --target "$DISK_TMP/target" --yes
[ "$(disk_sha "$B")" = "$B_SHA" ] || fail "wipe --root / on $A changed $B"
decoy_unchanged
ok "wipe --root / works on the host's disks"
echo "disk_root_tree: ok"
