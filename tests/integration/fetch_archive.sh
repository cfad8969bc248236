#!/usr/bin/env bash
# fetch_archive.sh: `nmmm-agent fetch --unpack` on archives made at test time — every filter
# (xz, gzip, bzip2, zstd) gives the same tree as tar; unsafe entries (.., absolute paths,
# escaping symlinks and hardlinks, device nodes, FIFOs, setuid/setgid, writing through a
# symlink, a directory entry onto a symlink, a hardlink to a symlink that escapes from the
# hardlink's place, a hardlink to a directory, to a missing entry or through a symlink) make the
# archive untrusted: exit 4, nothing
# outside DIR, no DIR and no staging dir; 10,000 files unpack completely; a decompression bomb
# stops at --max-bytes; 100,000 empty files in 77 KB stop at --max-entries or at --max-bytes
# (each entry counts 512 bytes) before the hash is judged, and unpack within the defaults.
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
    [ "$(tree_digest "$T/good-$ext")" = "$want" ] || { fail "tree differs for .$ext"; return 1; }
  done
  [ "$(stat -c %a "$T/good-xz/pkgs/bin-tool")" = 755 ] && [ "$(readlink "$T/good-xz/pkgs/lib/up")" = ../default.nix ] &&
    [ "$(stat -c %i "$T/good-xz/pkgs/hard")" = "$(stat -c %i "$T/good-xz/pkgs/default.nix")" ] &&
    [ "$(readlink "$T/good-xz/pkgs/here-again")" = lib/default.nix ] &&
    # a file verified by SHA-256 keeps the archive's times, as tar -x does (a NAR-verified tree
    # need not: a NAR holds none)
    [ "$(stat -c %Y "$T/good-xz/pkgs/default.nix")" = "$(stat -c %Y "$T/ref-good/pkgs/default.nix")" ]
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

bad_sha=0000000000000000000000000000000000000000000000000000000000000000

# A wrong hash too: the refusal comes from the count, before the hash could be judged.
empty_files_stop_at_max_entries() {
  run_agent 4 fetch "$BASE/empties.tar.xz" --sha256 "$bad_sha" --unpack "$T/empties" --max-entries 50000 &&
    expect_in "$ERR" "more than 50000 entries" && expect_in "$ERR" "--max-entries" && nothing_left "$T/empties" &&
    case "$ERR" in *"SHA-256 mismatch"*) echo "judged the hash first: $ERR" >&2; false ;; esac
}

# The right hash: 100,000 headers of 512 bytes are more than 16 MiB although no file holds a byte.
empty_files_count_toward_max_bytes() {
  run_agent 4 fetch "$BASE/empties.tar.xz" --sha256 "$(sha "$T/www/empties.tar.xz")" --unpack "$T/empties" --max-bytes 16M &&
    expect_in "$ERR" "unpacks to more than 16777216 bytes" && expect_in "$ERR" "512 bytes" && nothing_left "$T/empties"
}

# Beyond nixpkgs' size (about 60,000 entries), within the defaults.
empty_files_unpack_within_the_defaults() {
  run_agent 0 --events "$T/empties.events" fetch "$BASE/empties.tar.xz" --sha256 "$(sha "$T/www/empties.tar.xz")" --unpack "$T/empties" &&
    [ "$(find "$T/empties" -type f | wc -l)" = 100000 ] && grep -q '"entries":100100' "$T/empties.events" &&
    rm -rf "$T/empties"
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
check refuses_write_through_symlink unsafe write-through-symlink "would be written through the symlink 'via'"
check refuses_directory_onto_symlink unsafe dir-onto-symlink "would be written onto the symlink 'via'"
check refuses_hardlink_to_escaping_symlink unsafe hardlink-to-escaping-symlink "symlink that leaves the directory from there"
check refuses_hardlink_to_directory unsafe hardlink-to-directory "hardlink to 'real', a directory"
check refuses_hardlink_to_missing_entry unsafe hardlink-to-missing "not (yet) in the archive"
check refuses_hardlink_through_symlink unsafe hardlink-through-symlink "a path through a symlink"
check refuses_hardlink_to_dot unsafe hardlink-to-dot "hardlink to '.'"
check ten_thousand_files_unpack_completely ten_thousand_files_unpack_completely
check empty_files_stop_at_max_entries empty_files_stop_at_max_entries
check empty_files_count_toward_max_bytes empty_files_count_toward_max_bytes
check empty_files_unpack_within_the_defaults empty_files_unpack_within_the_defaults
check decompression_bomb_stops_at_the_limit decompression_bomb_stops_at_the_limit
check not_an_archive_is_refused not_an_archive_is_refused
finish
