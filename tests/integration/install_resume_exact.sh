#!/usr/bin/env bash
# install_resume_exact.sh: a resume is the install it resumes. Stopped after render (--until),
# a resume given another host name, other disks, a changed config file (named again or not), other --ssh-key keys or
# a changed rescue authorized_keys is refused (exit 2) naming what differs, with both disks
# byte-for-byte unchanged; `install --resume --yes` with no other option finishes the install
# with the recorded options (host name, disks, channel...). Handover leaves the rescue's own
# swap on (it turns off only the planned swap).
IE_NAME=rexact
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

RESCUE_SWAP=""
cleanup_swap() {
	[ -n "$RESCUE_SWAP" ] || return 0
	swapoff "$RESCUE_SWAP" 2>/dev/null || true
	losetup -d "$RESCUE_SWAP" 2>/dev/null || true
}
trap 'cleanup_swap; ie_cleanup' EXIT

ie_make_disks 2G
ie_make_netns
ie_make_channels
mapfile -t args < <(ie_install_args)
state="$IE_WORK/state"

ie_agent install --yes "${args[@]}" --until render > "$IE_WORK/out.txt" 2>&1 ||
	fail "install --until render: $(tail -n 5 "$IE_WORK/out.txt")"
disk_before=$(ie_disk_sum "$IE_DISK")
decoy_before=$(ie_disk_sum "$IE_DECOY")

# Replaces the value after OPTION in the install arguments.
args_with() {
	local opt=$1 value=$2 out=() i
	for ((i = 0; i < ${#args[@]}; i++)); do
		out+=("${args[i]}")
		if [ "${args[i]}" = "$opt" ]; then
			out+=("$value")
			i=$((i + 1))
		fi
	done
	printf '%s\n' "${out[@]}"
}

# refused WHAT PATTERN -- agent arguments: exit 2, the message matches PATTERN, no disk changed,
# and the state still says where the install stopped.
refused() {
	local what=$1 pattern=$2 rc=0
	shift 3
	ie_agent "$@" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || rc=$?
	[ "$rc" = 2 ] || fail "$what: exit $rc, expected 2: $(tail -n 5 "$IE_WORK/err.txt")"
	grep -q -- "$pattern" "$IE_WORK/err.txt" || fail "$what: the message does not name $pattern: $(tail -n 3 "$IE_WORK/err.txt")"
	[ "$(ie_disk_sum "$IE_DISK")" = "$disk_before" ] || fail "$what: the disk changed"
	[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "$what: the decoy changed"
	ok "$what refused: $(grep 'nmmm-agent:' "$IE_WORK/err.txt" | tail -n 1 | cut -c1-200)"
}

mapfile -t other_host < <(args_with --hostname web2)
refused "another --hostname" "--hostname is web2 now but was web1" -- install --resume --yes "${other_host[@]}"
mapfile -t other_disks < <(args_with --disks "$IE_DECOY")
refused "other --disks" "--disks is $IE_DECOY now" -- install --resume --yes "${other_disks[@]}"
refused "a new --ssh-key" "the --ssh-key keys differ" -- install --resume --yes "${args[@]}" \
	--ssh-key "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjx1M8dX8c3F9vS0lB4q9Xb3mW7pK1Zc2Nq6Rr5Tt8U other@laptop"
refused "a flag not given before" "--discard is given now but was not given" -- install --resume --yes "${args[@]}" --discard
cp "$IE_WORK/config.json" "$IE_WORK/config.orig"
echo '{ "esp_size": "96M" }' > "$IE_WORK/config.json"
refused "a changed --config" "--config $IE_WORK/config.json: the file changed" -- install --resume --yes "${args[@]}"
# Not given again, the recorded path is adopted — and its contents are compared all the same.
refused "a changed --config, not given again" "--config $IE_WORK/config.json: the file changed" -- \
	install --resume --yes --state-dir "$state" --no-reboot
cp "$IE_WORK/config.orig" "$IE_WORK/config.json"
IE_RESCUE_KEYS="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1nC2bq8mZ4eW7x9Qy3Vt6Ls0Kp5Jd2Fh8Gk4Rz1Ya7 someone-else"
refused "a changed rescue authorized_keys" "root's SSH keys .*: not the same as in the install being resumed" -- install --resume --yes "${args[@]}"
unset IE_RESCUE_KEYS

# The options are recorded as the first run had them, and what it finished is still finished.
python3 - "$state/state.json" "$IE_DISK" <<-'EOF' || fail "options not recorded as given"
	import json, sys
	s = json.load(open(sys.argv[1]))
	o = s["options"]
	assert o["hostname"] == "web1", o
	assert o["disks"] == sys.argv[2], o
	assert o["nix-from-path"] is True, o
	assert "done" in s["phases"]["render"], s["phases"]
EOF

# The rescue's own swap (a small loop device outside the plan) is on during the install.
truncate -s 32M "$IE_WORK/rescue-swap.img"
RESCUE_SWAP=$(losetup -f --show "$IE_WORK/rescue-swap.img")
mkswap -q "$RESCUE_SWAP"
swapon "$RESCUE_SWAP"

# Resumed with nothing but --resume --yes (and where the state is): the recorded options finish it.
ie_agent install --resume --yes --state-dir "$state" --no-reboot > "$IE_WORK/out.txt" 2>&1 ||
	fail "bare resume: $(tail -n 5 "$IE_WORK/out.txt")"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["result"]=="done", s.get("error")' "$state/state.json" ||
	fail "bare resume: not done"
mnt="$IE_WORK/check"
mkdir -p "$mnt"
mount "${IE_DISK}p4" "$mnt"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["hostname"]=="web1", r["hostname"]' \
	"$mnt/etc/nixos/report.json" || fail "bare resume: installed with another host name"
umount "$mnt"
[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "bare resume: the decoy changed"
grep -q "^$RESCUE_SWAP " /proc/swaps || fail "handover turned off the rescue's own swap ($RESCUE_SWAP)"
ok "bare resume finished with the recorded options; the rescue's swap is still on"
