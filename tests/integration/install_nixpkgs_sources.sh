#!/usr/bin/env bash
# install_nixpkgs_sources.sh: install's fetch phase takes nixpkgs from its sources in order, over
# the loopback HTTP server standing in for the origins (NMMM_TEST_ORIGIN_BASE): a flake.lock's
# github input (--nixpkgs-from) whose GitHub archive is missing falls through to the branch's
# channel tarball, which verifies once its .git-revision is the rev and its additions are gone; a
# failing --mirror falls through to the GitHub archive; a channel of another rev with no archive
# is refused before any disk is touched, naming every source and what to pass. The release comes
# from the verified tree's .version. Nothing leaves the namespace's loopback.
IE_NAME=sources
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
disk_before=$(ie_disk_sum "$IE_DISK")
decoy_before=$(ie_disk_sum "$IE_DECOY")

rev=abcdefabcdefabcdefabcdefabcdefabcdef0001
origin="$IE_WORK/srv/origin"
mkdir -p "$IE_WORK/src/nixpkgs-$rev" "$origin/NixOS/nixpkgs/archive" "$origin/nixos-26.05"
cp -a "$NMMM_FIXTURES/mini-channel/." "$IE_WORK/src/nixpkgs-$rev/"
nar=$(nix-hash --type sha256 --base32 "$IE_WORK/src/nixpkgs-$rev")
python3 - "$NMMM_FIXTURES/flake-locks/home-manager-26.05.lock" "$IE_WORK/flake.lock" "$rev" \
	"$(nix --extra-experimental-features nix-command hash to-sri --type sha256 "$nar")" <<'PY'
import json, sys
lock = json.load(open(sys.argv[1]))
lock["nodes"]["nixpkgs"]["locked"].update(rev=sys.argv[3], narHash=sys.argv[4])
json.dump(lock, open(sys.argv[2], "w"), indent=2)
PY
github_archive() { tar -C "$IE_WORK/src" -czf "$origin/NixOS/nixpkgs/archive/$rev.tar.gz" "nixpkgs-$rev"; }
# channel_tarball GIT_REVISION: the tree as the channel ships it, at the branch's channel URL
channel_tarball() {
	rm -rf "$IE_WORK/ch" && mkdir "$IE_WORK/ch"
	cp -a "$IE_WORK/src/nixpkgs-$rev" "$IE_WORK/ch/nixos-26.05.4242.abcdefabcdef"
	(cd "$IE_WORK/ch/nixos-26.05.4242.abcdefabcdef" && echo "$1" > .git-revision &&
		echo .4242.abcdefabcdef > .version-suffix && ln -s . nixpkgs && echo sqlite > programs.sqlite)
	tar -C "$IE_WORK/ch" -cJf "$origin/nixos-26.05/nixexprs.tar.xz" nixos-26.05.4242.abcdefabcdef
}

mapfile -t args < <(ie_install_args_no_nixpkgs)
args+=(--until fetch --nixpkgs-from "$IE_WORK/flake.lock")
export NMMM_TEST_ORIGIN_BASE="$IE_URL/origin"

# fetched EXPECTED_SOURCE_SUFFIX: the run succeeded from that source; the tree is the git tree
fetched() {
	local rc=0
	ie_agent install --yes "${args[@]}" "$@" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || rc=$?
	[ "$rc" = 0 ] || { fail "fetch failed (exit $rc): $(tail -n 5 "$IE_WORK/err.txt")"; return 1; }
	python3 - "$IE_WORK/state/state.json" "$expected" "$rev" <<'PY' || { fail "state: $(cat "$IE_WORK/state/state.json")"; return 1; }
import json, sys
n = json.load(open(sys.argv[1]))["phases"]["fetch"]["products"]["nixpkgs"]
assert n["source"].endswith(sys.argv[2]), n["source"]
assert n["release"] == "26.05" and n["rev"] == sys.argv[3], n
PY
	local tree="$IE_WORK/state/channel/nixos"
	[ -f "$tree/nixos/default.nix" ] && [ ! -e "$tree/.git-revision" ] && [ ! -e "$tree/nixpkgs" ] &&
		[ ! -e "$tree/programs.sqlite" ] || { fail "the placed tree is not the git tree"; return 1; }
	[ "$(nix-hash --type sha256 --base32 "$tree")" = "$nar" ] || { fail "the placed tree has another NAR hash"; return 1; }
	rm -rf "$IE_WORK/state"
}

channel_tarball "$rev"
expected=/origin/nixos-26.05/nixexprs.tar.xz
fetched && ok "no GitHub archive (an IPv6-only server): the channel tarball of the rev verifies"

github_archive
expected=/origin/NixOS/nixpkgs/archive/$rev.tar.gz
fetched --mirror "$IE_URL/no-such-mirror" && ok "a failing --mirror falls through to the GitHub archive"

rm "$origin/NixOS/nixpkgs/archive/$rev.tar.gz"
channel_tarball 1234567890123456789012345678901234567890
rc=0
ie_agent install --yes "${args[@]}" --mirror "$IE_URL/no-such-mirror" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || rc=$?
[ "$rc" = 4 ] || fail "a channel of another rev: exit $rc, expected 4: $(tail -n 3 "$IE_WORK/err.txt")"
msg=$(grep 'no source gave the pinned tree' "$IE_WORK/err.txt" || true)
for want in "no-such-mirror/NixOS/nixpkgs/archive/$rev.tar.gz" "no-such-mirror/nixos-26.05/nixexprs.tar.xz" \
	"/origin/NixOS/nixpkgs/archive/$rev.tar.gz" "is of rev 1234567890123456789012345678901234567890" \
	"--mirror URL" "--nixpkgs URL --nixpkgs-hash HASH" "--nixpkgs-from FILE" "no disk was touched"; do
	grep -qF -- "$want" "$IE_WORK/err.txt" || fail "the refusal does not name '$want': $msg"
done
[ ! -e "$IE_WORK/state/channel/nixos" ] || fail "a refused tree was left in place"
ok "every source failing is one refusal naming each and the way out (exit 4)"
[ "$(ie_disk_sum "$IE_DISK")" = "$disk_before" ] || fail "the disk changed"
[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy changed"
ok "no disk touched"
echo "install_nixpkgs_sources: ok"
