#!/usr/bin/env bash
# fetch_pins.sh: scripts/update-pins against a mirror laid out like channels.nixos.org,
# releases.nixos.org and github.com (served by the loopback server): it follows the channel
# redirect to the release, takes the rev from its git-revision, the NAR hash of the rev's GitHub
# archive (nix-prefetch-url --unpack; cross-checked with nix-hash) and its commit time, the
# release's end of support, and the Linux.x86_64 hash (not the aarch64 one) and size of Nix; the
# table it writes compiles, and its Nix pin verifies with `fetch`. A release whose git-revision
# disagrees with its name is refused with nothing written.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
command -v nix-prefetch-url >/dev/null || { echo "SKIP: Debian's nix is not installed"; exit 77; }
# shellcheck source=tests/integration/lib/nix-env.sh
source "$NMMM_SRC/tests/integration/lib/nix-env.sh"
fetch_test_tmp pins
trap fetch_test_cleanup EXIT

rev=0123456789abcdef0123456789abcdef01234567
rel=nixos/26.05/nixos-26.05.4242.0123456789ab
mkdir -p "$T/www/$rel" "$T/www/nix/nix-2.99.1" "$T/www/NixOS/nixpkgs/archive" "$T/src/nixpkgs-$rev/nixos" "$T/src/nixpkgs-$rev/lib"
echo '{ }: { }' >"$T/src/nixpkgs-$rev/nixos/default.nix"
echo 26.05 >"$T/src/nixpkgs-$rev/lib/.version"
ln -s lib/.version "$T/src/nixpkgs-$rev/.version"
echo "$rev" >"$T/www/$rel/git-revision"
tar -C "$T/src" --mtime=@1786711500 -czf "$T/www/NixOS/nixpkgs/archive/$rev.tar.gz" "nixpkgs-$rev"
tree_nar=$(nix --extra-experimental-features nix-command hash to-sri --type sha256 \
  "$(nix-hash --type sha256 --base32 "$T/src/nixpkgs-$rev")")
head -c 70000 /dev/urandom >"$T/payload" && tar -cJf "$T/www/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz" -C "$T" payload
tar -cJf "$T/www/nix/nix-2.99.1/nix-2.99.1-aarch64-linux.tar.xz" -C "$T/src" "nixpkgs-$rev"
nix_x86=$(sha "$T/www/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz")
nix_arm=$(sha "$T/www/nix/nix-2.99.1/nix-2.99.1-aarch64-linux.tar.xz")
# shaped like the install script Nix publishes with each release
cat >"$T/www/nix/nix-2.99.1/install" <<SH
#!/bin/sh
case "\$(uname -s).\$(uname -m)" in
    Linux.aarch64)
        hash=$nix_arm
        path=aaaa/nix-2.99.1-aarch64-linux.tar.xz
        system=aarch64-linux
        ;;
    Linux.x86_64)
        hash=$nix_x86
        path=bbbb/nix-2.99.1-x86_64-linux.tar.xz
        system=x86_64-linux
        ;;
esac
SH
httpd_start "$T/www" --redirect "/nixos-26.05=/$rel"
cp "$NMMM_SRC/images/pins.c" "$T/pins.c"
update() {
  python3 "$NMMM_SRC/scripts/update-pins" --channels-base "$BASE" --releases-base "$BASE" --github-base "$BASE" \
    --nix-version 2.99.1 "$@"
}

table_is_regenerated_from_published_values() {
  update --pins-file "$T/pins.c" >/dev/null || return 1
  python3 - "$T/pins.c" "$rev" "$tree_nar" "$BASE/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz" "$nix_x86" \
    "$(stat -c %s "$T/www/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz")" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = text[text.index("BEGIN GENERATED PINS"):text.index("END GENERATED PINS")]
n = re.search(r'nixpkgs_row = \{\s*"([^"]*)", "([^"]*)",\s*"([^"]*)", "([^"]*)", "([^"]*)",\s*"([^"]*)", (\d+),', block)
assert n, block
assert n.groups() == ("nixos-26.05", sys.argv[2], sys.argv[3], "26.05", "2026-12-31", "nixos-26.05.4242.0123456789ab",
                      "1786711500"), n.groups()
x = re.search(r'nix_row = \{\s*"nix", "([^"]*)",\s*"([0-9a-f]{64})", (\d+)ull, "([^"]*)"', block)
assert x and x.groups() == (sys.argv[4], sys.argv[5], sys.argv[6], "2.99.1"), x and x.groups()
assert "static void pin_free" in text  # the rest of the file is untouched
PY
}

regenerated_nix_pin_verifies_with_fetch() {
  local url hash size
  read -r url hash size < <(python3 - "$T/pins.c" <<'PY'
import re, sys
m = re.search(r'nix_row = \{\s*"nix", "([^"]*)",\s*"([0-9a-f]{64})", (\d+)ull', open(sys.argv[1]).read())
print(*m.groups())
PY
)
  run_agent 0 fetch "$url" --sha256 "$hash" --size "$size" --unpack "$T/unpacked-nix" || return 1
  cmp -s "$T/unpacked-nix/payload" "$T/payload"
}

regenerated_table_compiles() {
  # shellcheck disable=SC2046
  cc -std=c17 -fsyntax-only -Wall -Wextra -Werror -D_GNU_SOURCE -I "$NMMM_SRC" $(pkg-config --cflags json-c) "$T/pins.c"
}

given_nar_hash_is_taken_as_is() {
  update --nar-hash "sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=" --last-modified 7 --dry-run >"$T/dry.txt" &&
    grep -q '"sha256-QvnceIGTBeDvDd9oCn+GvdsnkquliuwbVgpiRH68qaQ=", "26.05", "2026-12-31"' "$T/dry.txt" &&
    grep -q '"nixos-26.05.4242.0123456789ab", 7,' "$T/dry.txt" &&
    ! update --nar-hash 1959piz48qhaaqdyr2m5mf92gnxxhrzhls6z1ppy01ckh5wdrya2 --dry-run >/dev/null 2>&1
}

git_revision_disagreeing_with_the_name_fails_loudly() {
  echo fedcba9876543210fedcba9876543210fedcba98 >"$T/www/$rel/git-revision"
  ! update --pins-file "$T/pins2.c" 2>"$T/err.txt" && [ ! -e "$T/pins2.c" ] && grep -q git-revision "$T/err.txt"
}

check table_is_regenerated_from_published_values table_is_regenerated_from_published_values
check regenerated_nix_pin_verifies_with_fetch regenerated_nix_pin_verifies_with_fetch
check regenerated_table_compiles regenerated_table_compiles
check given_nar_hash_is_taken_as_is given_nar_hash_is_taken_as_is
check git_revision_disagreeing_with_the_name_fails_loudly git_revision_disagreeing_with_the_name_fails_loudly
finish
