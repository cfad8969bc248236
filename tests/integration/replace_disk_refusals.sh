#!/usr/bin/env bash
# replace_disk_refusals.sh: `replace-disk` refuses before it writes, on real loop devices. A plan
# made over two images (the installed system's plan.json stands in for it) and a third, blank
# image as the replacement: the options it needs are usage errors (exit 2); no installed plan is
# a usage error naming where it looked; --root is refused (exit 3: destructive work never runs
# through a tree); this host's kernel has no md driver, so with a plan and a blank disk it refuses
# (exit 3) saying no array runs — and the blank image reads the same afterwards. What needs md
# (the arrays, the layout copy, the ESP's UUID) runs in the VM: tests/vm/replace_disk.sh.
set -euo pipefail

: "${NMMM_AGENT:?set NMMM_AGENT to the nmmm-agent binary}"
# shellcheck source=tests/lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices)"

tmp=$(mktemp -d "/tmp/replace-disk-$$.XXXXXX")
loops=()
cleanup() {
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
for n in a b c; do
	truncate -s 3G "$tmp/$n.img"
	loops+=("$(losetup --find --show "$tmp/$n.img")")
done
a=${loops[0]#/dev/} b=${loops[1]#/dev/} c=${loops[2]}
fingerprint() { { head -c 8M "$1"; tail -c 8M "$1"; } | sha256sum; stat -c '%b %y' "$1"; }

"$NMMM_AGENT" plan --disks "$a,$b" --json >"$tmp/plan.json" || fail "plan over $a,$b failed"
before=$(fingerprint "$tmp/c.img")

expect() { # WANT_RC WORDS -- ARGS...
	local want=$1 words=$2 rc=0
	shift 3
	"$NMMM_AGENT" "$@" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$words" "$tmp/out"; then
		ok "replace-disk ${*:2}: exit $rc, says '$words'"
	else
		fail "replace-disk ${*:2}: exit $rc (want $want), output: $(tr '\n' ' ' <"$tmp/out")"
	fi
}
expect 2 "are both required" -- replace-disk --new "$c"
expect 2 "resync-limit" -- replace-disk --failed "$a" --new "$c" --resync-limit fast
expect 3 "replace-disk" -- --root "$tmp" replace-disk --failed "$a" --new "$c" --plan "$tmp/plan.json"
if [ ! -e /etc/nixos/plan.json ] && [ ! -e /var/lib/nmmm/state.json ]; then
	expect 2 "no installed plan at /etc/nixos/plan.json" -- replace-disk --failed "$a" --new "$c"
fi
expect 2 "not a plan" -- replace-disk --failed "$a" --new "$c" --plan /etc/hostname
if [ ! -e /proc/mdstat ]; then
	expect 3 "no md driver" -- replace-disk --failed "$a" --new "$c" --plan "$tmp/plan.json" --yes
else
	# With md here, the planned disks hold no array: nothing runs to rebuild.
	expect 3 "not running" -- replace-disk --failed "$a" --new "$c" --plan "$tmp/plan.json" --yes
fi
[ "$(fingerprint "$tmp/c.img")" = "$before" ] && ok "the blank disk $c is untouched" || fail "$c was written"
finish
