#!/usr/bin/env bash
# install_compiled_in_pin.sh: `install --yes` with no nixpkgs option and no nixpkgs section in the
# config installs the compiled-in pin, end to end on a loop device. The compiled-in rev and NAR
# hash are those of the real nixpkgs, which cannot be fetched here, so the test replaces just
# those two (NMMM_TEST_NIXPKGS_PIN, honoured only with NMMM_TEST_ORIGIN_BASE) by the miniature
# nixpkgs' and serves it where the compiled-in pin's sources look for a rev: the GitHub archive
# NixOS/nixpkgs/archive/REV.tar.gz under the loopback origin base. Everything else is the
# compiled-in pin's own path (its sources, its release 26.05, the NAR hash check). The run says
# the test pin is in use, records its rev and NAR hash in the state and the report; the same
# archive with one byte of the tree changed is exit 4 before any disk is touched.
IE_NAME=pin
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
disk_before=$(ie_disk_sum "$IE_DISK")
decoy_before=$(ie_disk_sum "$IE_DECOY")

rev=5eed5eed5eed5eed5eed5eed5eed5eed5eed0001
archive_dir="$IE_WORK/srv/origin/NixOS/nixpkgs/archive"
mkdir -p "$IE_WORK/src/nixpkgs-$rev" "$archive_dir"
cp -a "$NMMM_FIXTURES/mini-channel/." "$IE_WORK/src/nixpkgs-$rev/"
sri=$(nix --extra-experimental-features nix-command hash to-sri --type sha256 \
	"$(nix-hash --type sha256 "$IE_WORK/src/nixpkgs-$rev")")
# serve_archive: the tree as GitHub's archive of the rev (one top directory, gzip)
serve_archive() { tar -C "$IE_WORK/src" -czf "$archive_dir/$rev.tar.gz" "nixpkgs-$rev"; }

mapfile -t args < <(ie_install_args_no_nixpkgs)
for a in "${args[@]}"; do
	case "$a" in --nixpkgs*) fail "the shared options name a nixpkgs: $a" ;; esac
done
grep -q nixpkgs "$IE_WORK/config.json" && fail "the config has a nixpkgs section: $(cat "$IE_WORK/config.json")"
export NMMM_TEST_ORIGIN_BASE="$IE_URL/origin"
export NMMM_TEST_NIXPKGS_PIN="$rev $sri"

# One byte of the tree changed (its first README byte): the archive is refused by its NAR hash
# (the channel tarball, the pin's other source, is not served here), before any disk is touched.
cp "$IE_WORK/src/nixpkgs-$rev/README.md" "$IE_WORK/README.orig"
printf 'X' | dd of="$IE_WORK/src/nixpkgs-$rev/README.md" bs=1 count=1 conv=notrunc status=none
cmp -s "$IE_WORK/README.orig" "$IE_WORK/src/nixpkgs-$rev/README.md" && fail "the byte was not changed"
serve_archive
rc=0
ie_agent install --yes "${args[@]}" --ssh-key "$IE_KEY" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || rc=$?
[ "$rc" = 4 ] || fail "a tree with one byte changed: exit $rc, expected 4: $(tail -n 5 "$IE_WORK/err.txt")"
grep -qF "archive/$rev.tar.gz" "$IE_WORK/err.txt" && grep -qF "no disk was touched" "$IE_WORK/err.txt" ||
	fail "the refusal does not name the archive: $(tail -n 5 "$IE_WORK/err.txt")"
[ ! -e "$IE_WORK/state/channel/nixos" ] || fail "the refused tree was left in place"
[ "$(ie_disk_sum "$IE_DISK")" = "$disk_before" ] || fail "the disk changed although the tree was refused"
[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy changed"
ok "the compiled-in pin's source with one byte changed is exit 4; no disk touched"

cp "$IE_WORK/README.orig" "$IE_WORK/src/nixpkgs-$rev/README.md"
serve_archive
rm -rf "$IE_WORK/state"
ie_agent install --yes "${args[@]}" --ssh-key "$IE_KEY" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" ||
	fail "install with no nixpkgs option failed: $(tail -n 20 "$IE_WORK/err.txt")"
grep -qF "NMMM_TEST_NIXPKGS_PIN: installing the test pin $rev $sri in place of the compiled-in nixpkgs" \
	"$IE_WORK/err.txt" || fail "no warning says the test pin is in use: $(head -n 5 "$IE_WORK/err.txt")"
ok "install --yes with no nixpkgs option completes, saying the test pin is in use"

mkdir -p "$IE_WORK/check"
mount "${IE_DISK}p4" "$IE_WORK/check"
python3 - "$IE_WORK/state/state.json" "$IE_WORK/check/etc/nixos/report.json" "$rev" "$sri" <<'PY' ||
import json, sys
state, report, rev, sri = sys.argv[1:]
st = json.load(open(state))
assert st["result"] == "done", st.get("error")
fetched = st["phases"]["fetch"]["products"]["nixpkgs"]
pin = json.load(open(report))["pins"]["nixpkgs"]
for n in (fetched, pin):
    # the compiled-in pin, its rev and NAR hash replaced; what named the old rev alone is gone
    assert n["rev"] == rev and n["nar_hash"] == sri, n
    assert n["origin"] == "NMMM_TEST_NIXPKGS_PIN", n
    assert (n["owner"], n["repo"], n["branch"], n["release"]) == ("NixOS", "nixpkgs", "nixos-26.05", "26.05"), n
    assert n.get("channel") is None and n.get("last_modified") is None, n
assert fetched["source"].endswith("/origin/NixOS/nixpkgs/archive/%s.tar.gz" % rev), fetched["source"]
PY
	fail "the state or the report does not record the test pin: $(cat "$IE_WORK/state/state.json")"
umount "$IE_WORK/check"
ok "the state and the installed report record the test pin's rev and NAR hash"
[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy changed"
finish
