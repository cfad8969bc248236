#!/usr/bin/env bash
# fetch_pins.sh: scripts/update-pins against a mirror laid out like releases.nixos.org and
# channels.nixos.org (served by the loopback server): it follows the channel redirect, reads the
# published nixexprs.tar.xz.sha256 and the Linux.x86_64 hash of Nix's install script (not the
# aarch64 one), and the table it writes holds pins that `fetch` then verifies end to end.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
fetch_test_tmp pins
trap fetch_test_cleanup EXIT

rel=nixos/25.05/nixos-25.05.4242.0123456789ab
mkdir -p "$T/www/$rel" "$T/www/nix/nix-2.99.1" "$T/src/nixos-25.05/nixos"
echo '{ }: { }' >"$T/src/nixos-25.05/nixos/default.nix"
tar -cJf "$T/www/$rel/nixexprs.tar.xz" -C "$T/src" nixos-25.05
printf '%s\n' "$(sha "$T/www/$rel/nixexprs.tar.xz")" >"$T/www/$rel/nixexprs.tar.xz.sha256"
head -c 70000 /dev/urandom >"$T/payload" && tar -cJf "$T/www/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz" -C "$T" payload
tar -cJf "$T/www/nix/nix-2.99.1/nix-2.99.1-aarch64-linux.tar.xz" -C "$T/src" nixos-25.05
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
httpd_start "$T/www" --redirect "/nixos-25.05=/$rel"
cp "$NMMM_SRC/images/pins.c" "$T/pins.c"

table_is_regenerated_from_published_values() {
  python3 "$NMMM_SRC/scripts/update-pins" --channels-base "$BASE" --releases-base "$BASE" --nix-version 2.99.1 \
    --pins-file "$T/pins.c" >/dev/null || return 1
  python3 - "$T/pins.c" "$BASE/$rel/nixexprs.tar.xz" "$(sha "$T/www/$rel/nixexprs.tar.xz")" \
    "$(stat -c %s "$T/www/$rel/nixexprs.tar.xz")" "$BASE/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz" "$nix_x86" \
    "$(stat -c %s "$T/www/nix/nix-2.99.1/nix-2.99.1-x86_64-linux.tar.xz")" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = text[text.index("BEGIN GENERATED PINS"):text.index("END GENERATED PINS")]
rows = re.findall(r'\{"(\w+)",\s*"([^"]*)",\s*"([0-9a-f]*)",\s*(\d+)ull,\s*"([^"]*)"\}', block)
got = {r[0]: r[1:] for r in rows}
assert got["channel"] == (sys.argv[2], sys.argv[3], sys.argv[4], "25.05"), got["channel"]
assert got["nix"] == (sys.argv[5], sys.argv[6], sys.argv[7], "2.99.1"), got["nix"]
assert "static void pin_free" in text  # the rest of the file is untouched
PY
}

regenerated_pins_verify_with_fetch() {
  local what url hash size
  for what in channel nix; do
    read -r url hash size < <(python3 - "$T/pins.c" "$what" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for r in re.findall(r'\{"(\w+)",\s*"([^"]*)",\s*"([0-9a-f]*)",\s*(\d+)ull', text):
    if r[0] == sys.argv[2]:
        print(r[1], r[2], r[3])
PY
)
    run_agent 0 fetch "$url" --sha256 "$hash" --size "$size" --unpack "$T/unpacked-$what" || return 1
  done
  [ -f "$T/unpacked-channel/nixos-25.05/nixos/default.nix" ] && cmp -s "$T/unpacked-nix/payload" "$T/payload"
}

regenerated_table_compiles() {
  # shellcheck disable=SC2046
  cc -std=c17 -fsyntax-only -Wall -Wextra -Werror -D_GNU_SOURCE -I "$NMMM_SRC" $(pkg-config --cflags json-c) "$T/pins.c"
}

missing_hash_file_fails_loudly() {
  rm "$T/www/$rel/nixexprs.tar.xz.sha256"
  ! python3 "$NMMM_SRC/scripts/update-pins" --channels-base "$BASE" --releases-base "$BASE" --nix-version 2.99.1 \
    --pins-file "$T/pins2.c" 2>/dev/null && [ ! -e "$T/pins2.c" ]
}

check table_is_regenerated_from_published_values table_is_regenerated_from_published_values
check regenerated_pins_verify_with_fetch regenerated_pins_verify_with_fetch
check regenerated_table_compiles regenerated_table_compiles
check missing_hash_file_fails_loudly missing_hash_file_fails_loudly
finish
