#!/usr/bin/env bash
# fetch_archive.sh: `nmmm-agent fetch --unpack` on archives made at test time — every filter
# (xz, gzip, bzip2, zstd) gives the same tree as tar; unsafe entries (.., absolute paths,
# escaping symlinks and hardlinks, device nodes, FIFOs, setuid/setgid, writing through a
# symlink) make the archive untrusted: exit 4, nothing outside DIR, no DIR and no staging dir;
# 10,000 files unpack completely; a decompression bomb stops at --max-bytes.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
fetch_test_tmp archive
trap 'fetch_test_cleanup; rm -f /tmp/nmmm-images-absolute-escape' EXIT

mkdir -p "$T/www" "$T/work/a/b"
python3 "$NMMM_SRC/tests/httpd/make_archives.py" "$T/www" >/dev/null
httpd_start "$T/www"

every_filter_gives_the_tar_tree() {
  mkdir -p "$T/ref-good" && tar -xf "$T/www/good.tar" -C "$T/ref-good" || return 1
  local want ext
  want=$(tree_digest "$T/ref-good")
  for ext in xz gz bz2 zst; do
    run_agent 0 fetch "$BASE/good.tar.$ext" --sha256 "$(sha "$T/www/good.tar.$ext")" --unpack "$T/good-$ext" || return 1
    [ "$(tree_digest "$T/good-$ext")" = "$want" ] || { echo "tree differs for .$ext" >&2; return 1; }
  done
  [ "$(stat -c %a "$T/good-xz/pkgs/bin-tool")" = 755 ] && [ "$(readlink "$T/good-xz/pkgs/lib/up")" = ../default.nix ] &&
    [ "$(stat -c %i "$T/good-xz/pkgs/hard")" = "$(stat -c %i "$T/good-xz/pkgs/default.nix")" ]
}

# unsafe KIND WORDS: the archive evil-KIND.tar is refused with a message containing WORDS
unsafe() {
  local kind=$1 words=$2 dir="$T/work/a/b/evil-$1"
  run_agent 4 fetch "$BASE/evil-$kind.tar" --sha256 "$(sha "$T/www/evil-$kind.tar")" --unpack "$dir" &&
    expect_in "$ERR" "$words" && expect_in "$ERR" "nothing was kept" && nothing_left "$dir" &&
    [ -z "$(ls -A "$T/work/a/b")" ] && [ ! -e "$T/work/a/escaped" ] && [ ! -e "$T/work/escaped" ] &&
    [ ! -e "$T/work/a/outside" ] && [ ! -e /tmp/nmmm-images-absolute-escape ]
}

ten_thousand_files_unpack_completely() {
  mkdir -p "$T/ref-many" && tar -xf "$T/www/many.tar.zst" -C "$T/ref-many" || return 1
  run_agent 0 --events "$T/many.events" fetch "$BASE/many.tar.zst" --sha256 "$(sha "$T/www/many.tar.zst")" --unpack "$T/many" &&
    [ "$(find "$T/many" -type f | wc -l)" = 10000 ] &&
    [ "$(tree_digest "$T/many")" = "$(tree_digest "$T/ref-many")" ] &&
    grep -q '"entries":10100' "$T/many.events"
}

decompression_bomb_stops_at_the_limit() {
  run_agent 4 fetch "$BASE/bomb.tar.xz" --sha256 "$(sha "$T/www/bomb.tar.xz")" --unpack "$T/bomb" --max-bytes 64M &&
    expect_in "$ERR" "unpacks to more than 67108864 bytes" && nothing_left "$T/bomb"
}

not_an_archive_is_refused() {
  head -c 5000 /dev/urandom >"$T/www/noise.bin"
  run_agent 4 fetch "$BASE/noise.bin" --sha256 "$(sha "$T/www/noise.bin")" --unpack "$T/noise" && nothing_left "$T/noise"
}

check every_filter_gives_the_tar_tree every_filter_gives_the_tar_tree
check refuses_dotdot unsafe dotdot "contains '..'"
check refuses_absolute_path unsafe absolute "absolute path"
check refuses_escaping_symlink unsafe symlink-escape "symlink that leaves"
check refuses_absolute_symlink unsafe symlink-absolute "symlink that leaves"
check refuses_symlink_climbing_after_a_name unsafe symlink-dotdot-after-name "symlink that leaves"
check refuses_escaping_hardlink unsafe hardlink-escape "hardlink that leaves"
check refuses_char_device unsafe chardev "device node"
check refuses_block_device unsafe blockdev "device node"
check refuses_fifo unsafe fifo "FIFO"
check refuses_setuid unsafe setuid "setuid"
check refuses_setgid unsafe setgid "setgid"
check refuses_write_through_symlink unsafe write-through-symlink "via/file"
check ten_thousand_files_unpack_completely ten_thousand_files_unpack_completely
check decompression_bomb_stops_at_the_limit decompression_bomb_stops_at_the_limit
check not_an_archive_is_refused not_an_archive_is_refused
finish
