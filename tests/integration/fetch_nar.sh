#!/usr/bin/env bash
# fetch_nar.sh: `nmmm-agent fetch URL --nar-hash HASH --unpack DIR` over the loopback server, on a
# nixpkgs-shaped tree (tests/httpd/make_nixpkgs_tree.py) served as GitHub serves a rev
# (.tar.gz, one top directory nixpkgs-<rev>/) and as a channel tarball (.tar.xz, top directory
# nixos-<version>/ with the files the channel adds). The expected hashes come from Debian's
# nix-hash, in each of the three encodings. A right hash gives the tree itself at DIR
# (DIR/default.nix); a tree with one byte changed, one file's executable bit flipped or one extra
# file is exit 4 naming both hashes (the actual one is nix-hash's of the changed tree), with
# nothing left: no DIR, no DIR.part-*. A resumed download still works; the usage rules hold.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
command -v nix-hash >/dev/null || skip "nix-hash (Debian's nix-bin) is not installed; scripts/setup installs it"
fetch_test_tmp nar
trap fetch_test_cleanup EXIT

rev=02e08985a27c65ffd33d434eeb2e660a2e4dc84d
chan=nixos-26.05.7675.02e08985a27c
mkdir -p "$T/src" "$T/www/archive" "$T/www/channel"
python3 "$NMMM_SRC/tests/httpd/make_nixpkgs_tree.py" "$T/src/nixpkgs-$rev"
tar -czf "$T/www/archive/$rev.tar.gz" -C "$T/src" "nixpkgs-$rev"
# the channel's tree: the same files under another top directory, plus what the channel adds
cp -a "$T/src/nixpkgs-$rev" "$T/src/$chan"
printf '.7675.02e08985a27c' >"$T/src/$chan/.version-suffix"
printf '%s' "$rev" >"$T/src/$chan/.git-revision"
ln -s . "$T/src/$chan/nixpkgs"
head -c 20000 /dev/urandom >"$T/src/$chan/programs.sqlite"
tar -cJf "$T/www/channel/nixexprs.tar.xz" -C "$T/src" "$chan"
# the tree's contents with no top directory
tar -czf "$T/www/archive/flat.tar.gz" -C "$T/src/nixpkgs-$rev" .
httpd_start "$T/www"

# nix32 / sri / hex DIR: the NAR hash of DIR as Debian's nix-hash computes it
nix32() { nix-hash --type sha256 --base32 "$1"; }
hex() { nix-hash --type sha256 "$1"; }
sri() { python3 -c 'import base64, sys; print("sha256-" + base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$(hex "$1")"; }

gh_url="$BASE/archive/$rev.tar.gz"
gh_nix32=$(nix32 "$T/src/nixpkgs-$rev")

# same_tree DIR REF: DIR holds exactly REF's tree (modes, links, bytes), and no staging dir is left
same_tree() {
  [ "$(tree_digest "$1")" = "$(tree_digest "$2")" ] || { fail "$1 differs from $2"; return 1; }
  [ -z "$(compgen -G "$1.part*" || true)" ] || { fail "staging left beside $1"; return 1; }
}

github_archive_unpacks_to_the_tree_itself() {
  run_agent 0 --events "$T/gh.events" fetch "$gh_url" --nar-hash "$gh_nix32" --unpack "$T/gh" &&
    [ -f "$T/gh/default.nix" ] && [ ! -e "$T/gh/nixpkgs-$rev" ] && same_tree "$T/gh" "$T/src/nixpkgs-$rev" &&
    grep -q '"event":"done".*"verified":"nar_hash"' "$T/gh.events" &&
    grep -qF "\"nar_hash\":\"$(sri "$T/src/nixpkgs-$rev")\"" "$T/gh.events"
}

channel_tarball_verifies_in_sri_and_hex() {
  local want_sri want_hex
  want_sri=$(sri "$T/src/$chan") want_hex=$(hex "$T/src/$chan")
  [ "$want_sri" != "$(sri "$T/src/nixpkgs-$rev")" ] || { fail "the channel's extra files should change the hash"; return 1; }
  run_agent 0 fetch "$BASE/channel/nixexprs.tar.xz" --nar-hash "$want_sri" --unpack "$T/ch-sri" &&
    same_tree "$T/ch-sri" "$T/src/$chan" && [ "$(readlink "$T/ch-sri/nixpkgs")" = . ] &&
    run_agent 0 fetch "$BASE/channel/nixexprs.tar.xz" --nar-hash "$want_hex" --unpack "$T/ch-hex" &&
    same_tree "$T/ch-hex" "$T/src/$chan"
}

# No single top directory: the staging directory itself is the tree, and it is the same tree.
archive_without_top_directory_is_the_tree() {
  run_agent 0 fetch "$BASE/archive/flat.tar.gz" --nar-hash "$gh_nix32" --unpack "$T/flat" &&
    same_tree "$T/flat" "$T/src/nixpkgs-$rev"
}

# A dropped connection is resumed as for --sha256; the tree is judged once, at the end.
resumed_download_verifies() {
  run_agent 0 fetch "$gh_url?drop=40000" --nar-hash "$gh_nix32" --unpack "$T/resumed" --retries 2 &&
    same_tree "$T/resumed" "$T/src/nixpkgs-$rev"
}

# tampered NAME CHANGE...: a copy of the tree changed by the command CHANGE (run inside it),
# served as a GitHub archive and fetched with the original hash: exit 4 naming both hashes in
# SRI form, the actual one being nix-hash's of the changed tree, and nothing left behind.
tampered() {
  local name=$1 src="$T/bad-$1/nixpkgs-$rev" dir="$T/out/$1"
  shift
  mkdir -p "$T/bad-$name" "$T/out" && cp -a "$T/src/nixpkgs-$rev" "$src" && (cd "$src" && "$@") || return 1
  tar -czf "$T/www/archive/bad-$name.tar.gz" -C "$T/bad-$name" "nixpkgs-$rev"
  run_agent 4 fetch "$BASE/archive/bad-$name.tar.gz" --nar-hash "$gh_nix32" --unpack "$dir" &&
    expect_in "$ERR" "NAR hash mismatch" && expect_in "$ERR" "expected $(sri "$T/src/nixpkgs-$rev")" &&
    expect_in "$ERR" "got $(sri "$src")" && expect_in "$ERR" "nothing was kept" && nothing_left "$dir" &&
    [ -z "$(ls -A "$T/out")" ]
}
flip_one_byte() { python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 1; open(p, "wb").write(b)' lib/default.nix; }

usage_rules_hold() {
  run_agent 2 fetch "$gh_url" --nar-hash "$gh_nix32" --out "$T/usage-file" && expect_in "$ERR" "needs --unpack DIR" &&
    run_agent 2 fetch "$gh_url" --nar-hash "$gh_nix32" --sha256 "$(sha "$T/www/archive/$rev.tar.gz")" --unpack "$T/usage" &&
    expect_in "$ERR" "not both" &&
    run_agent 2 fetch "$gh_url" --nar-hash "sha512-${gh_nix32}" --unpack "$T/usage" && expect_in "$ERR" "nix32" &&
    run_agent 2 fetch "$gh_url" --unpack "$T/usage" && expect_in "$ERR" "--nar-hash HASH" &&
    nothing_left "$T/usage" && nothing_left "$T/usage-file" &&
    "$NMMM_AGENT" fetch --help | grep -q -- "--nar-hash HASH"
}

check "a GitHub archive (nix32) unpacks to the tree itself" github_archive_unpacks_to_the_tree_itself
check "a channel tarball verifies with SRI and hex" channel_tarball_verifies_in_sri_and_hex
check "an archive without a top directory is the same tree" archive_without_top_directory_is_the_tree
check "a resumed download is verified the same way" resumed_download_verifies
check "one byte changed: exit 4, nothing left" tampered byte flip_one_byte
check "one executable bit flipped: exit 4, nothing left" tampered exec chmod +x lib/default.nix
check "one extra file: exit 4, nothing left" tampered extra sh -c 'echo extra >pkgs/extra.nix'
check "usage: --nar-hash needs --unpack, one hash only, a valid hash" usage_rules_hold
finish
