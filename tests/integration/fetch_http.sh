#!/usr/bin/env bash
# fetch_http.sh: `nmmm-agent fetch` against the loopback server with injected faults — resume
# after a drop (identical bytes and tree, Range really used), servers ignoring Range, corrupt
# bytes, truncated bodies, wrong Content-Length, stalls, HTTP errors, redirect loops and
# redirects to file://. Every failure must leave nothing behind.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
fetch_test_tmp http
trap fetch_test_cleanup EXIT

mkdir -p "$T/www" "$T/ref"
head -c 3145728 /dev/urandom >"$T/www/blob.bin"
python3 "$NMMM_SRC/tests/httpd/make_archives.py" "$T/www" >/dev/null
tar -xf "$T/www/many.tar.zst" -C "$T/ref"
BLOB=$(sha "$T/www/blob.bin")
MANY=$(sha "$T/www/many.tar.zst")
MANY_SIZE=$(stat -c %s "$T/www/many.tar.zst")
HALF=$((MANY_SIZE / 2))
httpd_start "$T/www"

requests_for() { # the log lines of the server for one URL path+query
  curl -s "$BASE/_log" | python3 -c 'import json,sys; [print(e["status"], e["range"]) for e in json.load(sys.stdin) if e["path"] == sys.argv[1]]' "$1"
}

out_file_is_verified_copy() {
  run_agent 0 fetch "$BASE/blob.bin" --sha256 "$BLOB" --out "$T/o1" && cmp -s "$T/o1" "$T/www/blob.bin" && nothing_left "$T/o1.missing"
}

file_url_is_fetched() {
  run_agent 0 fetch "file://$T/www/blob.bin" --sha256 "$BLOB" --out "$T/o-file" && cmp -s "$T/o-file" "$T/www/blob.bin"
}

# resumed_tree_is_identical QUERY DIR EXPECTED_REQUESTS: unpack many.tar.zst?QUERY after a drop
resumed_tree_is_identical() {
  local q="/many.tar.zst?$1"
  run_agent 0 fetch "$BASE$q" --sha256 "$MANY" --unpack "$T/$2" &&
    [ "$(tree_digest "$T/$2")" = "$(tree_digest "$T/ref")" ] &&
    [ "$(requests_for "$q" | tr '\n' ' ')" = "$3" ]
}

resume_after_drop_gives_identical_file() {
  run_agent 0 fetch "$BASE/blob.bin?drop=1000000" --sha256 "$BLOB" --out "$T/o-drop" && cmp -s "$T/o-drop" "$T/www/blob.bin"
}

corrupt_byte_exits_4_and_leaves_nothing() {
  run_agent 4 fetch "$BASE/many.tar.zst?corrupt=$HALF" --sha256 "$MANY" --unpack "$T/u-corrupt" &&
    expect_in "$ERR" "SHA-256 mismatch" && nothing_left "$T/u-corrupt" &&
    run_agent 4 fetch "$BASE/blob.bin?corrupt=5" --sha256 "$BLOB" --out "$T/o-corrupt" &&
    expect_in "$ERR" "$BASE/blob.bin?***: SHA-256 mismatch" && nothing_left "$T/o-corrupt"
}

truncated_body_gives_up_after_retries() {
  run_agent 1 fetch "$BASE/blob.bin?truncate=1000" --sha256 "$BLOB" --out "$T/o-trunc" --retries 2 &&
    expect_in "$ERR" "gave up after 3 attempts" && nothing_left "$T/o-trunc"
}

content_length_too_long_fails_cleanly() {
  local rc=0
  "$NMMM_AGENT" fetch "$BASE/blob.bin?len=100" --sha256 "$BLOB" --out "$T/o-long" --retries 1 2>/dev/null || rc=$?
  [ "$rc" = 1 ] || [ "$rc" = 4 ] || { fail "exit $rc"; return 1; }
  nothing_left "$T/o-long"
}

content_length_too_short_is_a_hash_mismatch() {
  run_agent 4 fetch "$BASE/blob.bin?len=-100" --sha256 "$BLOB" --out "$T/o-short" && nothing_left "$T/o-short"
}

stall_times_out_then_retry_succeeds() {
  run_agent 0 --events "$T/stall.events" fetch "$BASE/blob.bin?stall=500000&stall_sec=15" --sha256 "$BLOB" \
    --out "$T/o-stall" --stall-timeout 1 && cmp -s "$T/o-stall" "$T/www/blob.bin" &&
    expect_in "$ERR" "retrying from byte" &&
    [ "$(python3 -c 'import json,sys; print([json.loads(l)["attempts"] for l in open(sys.argv[1]) if json.loads(l)["event"] == "done"][0])' "$T/stall.events")" = 2 ]
}

http_404_names_url_and_status() {
  run_agent 1 fetch "$BASE/missing.tar.xz" --sha256 "$BLOB" --unpack "$T/u-404" &&
    expect_in "$ERR" "$BASE/missing.tar.xz" && expect_in "$ERR" "HTTP 404" && nothing_left "$T/u-404"
}

http_500_is_retried_then_reported() {
  run_agent 1 fetch "$BASE/blob.bin?status=500" --sha256 "$BLOB" --out "$T/o-500" --retries 1 &&
    expect_in "$ERR" "HTTP 500" && expect_in "$ERR" "gave up after 2 attempts" && nothing_left "$T/o-500" &&
    [ "$(requests_for "/blob.bin?status=500" | wc -l)" = 2 ]
}

redirect_is_followed() {
  run_agent 0 fetch "$BASE/redirect?to=/blob.bin" --sha256 "$BLOB" --out "$T/o-redir" && cmp -s "$T/o-redir" "$T/www/blob.bin"
}

redirect_loop_is_refused() {
  run_agent 1 fetch "$BASE/redirect-loop" --sha256 "$BLOB" --out "$T/o-loop" && expect_in "$ERR" "redirects" && nothing_left "$T/o-loop"
}

redirect_to_file_url_is_refused() {
  run_agent 1 fetch "$BASE/redirect-file" --sha256 "$BLOB" --out "$T/o-rfile" && expect_in "$ERR" "refused a redirect" && nothing_left "$T/o-rfile"
}

max_bytes_limits_the_download() {
  run_agent 4 fetch "$BASE/blob.bin" --sha256 "$BLOB" --out "$T/o-max" --max-bytes 1M && expect_in "$ERR" "--max-bytes" && nothing_left "$T/o-max"
}

unpinned_or_malformed_requests_are_usage_errors() {
  run_agent 2 fetch "$BASE/blob.bin" --out "$T/o-nohash" && expect_in "$ERR" "--sha256" &&
    run_agent 2 fetch "$BASE/blob.bin" --sha256 abc --out "$T/o-badhash" &&
    run_agent 2 fetch "$BASE/blob.bin" --sha256 "$BLOB" &&
    run_agent 2 fetch "$BASE/blob.bin" --sha256 "$BLOB" --out "$T/x" --unpack "$T/y" &&
    run_agent 2 fetch "$BASE/blob.bin" --sha256 "$BLOB" --out "$T/x" --bogus &&
    run_agent 2 fetch "ftp://127.0.0.1/x" --sha256 "$BLOB" --out "$T/x" &&
    run_agent 2 fetch "$BASE/blob.bin" --sha256 "$BLOB" --out "$T/x" --ca-file "$T/no-such-ca.pem" &&
    nothing_left "$T/o-nohash" && nothing_left "$T/x"
}

terminal_shows_one_progress_line() {
  # stderr on a pseudo-terminal: one line rewritten with \r, bytes / total, rate and ETA
  python3 - "$NMMM_AGENT" "$BASE/blob.bin?rate=3000000" "$BLOB" "$T/o-tty" <<'PY'
import os, pty, sys, subprocess
master, slave = pty.openpty()
p = subprocess.Popen([sys.argv[1], "fetch", sys.argv[2], "--sha256", sys.argv[3], "--out", sys.argv[4]],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
out = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
assert p.wait() == 0, out
text = out.decode()
lines = [l for l in text.split("\r") if l.startswith("fetch: ")]
assert len(lines) >= 2, text
assert "/ 3.0 MiB" in lines[-1] and "/s" in lines[-1], lines[-1]
assert any("ETA" in l for l in lines), lines
PY
}

help_names_every_option() {
  local help
  help=$("$NMMM_AGENT" fetch --help) || return 1
  for opt in --sha256 --out --unpack --retries --max-bytes --size --ca-file --stall-timeout; do
    expect_in "$help" "$opt" || return 1
  done
}

unpack_into_existing_dir_is_refused() {
  mkdir -p "$T/exists" && run_agent 2 fetch "$BASE/good.tar.xz" --sha256 "$(sha "$T/www/good.tar.xz")" --unpack "$T/exists" &&
    [ -z "$(ls -A "$T/exists")" ] && [ -z "$(compgen -G "$T/exists.part*" || true)" ]
}

events_report_progress_and_done() {
  run_agent 0 --events "$T/ev.jsonl" fetch "$BASE/blob.bin?rate=4000000" --sha256 "$BLOB" --out "$T/o-ev" &&
    python3 - "$T/ev.jsonl" "$BLOB" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds[0] == "start" and kinds[-1] == "done", kinds
prog = [e for e in ev if e["event"] == "progress"]
assert len(prog) >= 2, len(prog)
assert all(a["bytes"] <= b["bytes"] for a, b in zip(prog, prog[1:]))
assert all(e["phase"] == "fetch" and e["total"] == 3145728 for e in prog)
# at most 4 updates a second (throttled by the stream), whatever the machine's speed
span = ev[-1]["ts"] - ev[0]["ts"]
assert len(prog) <= 4 * span + 1, (len(prog), span)
assert ev[-1]["sha256"] == sys.argv[2] and ev[-1]["bytes"] == 3145728
PY
}

check out_file_is_verified_copy out_file_is_verified_copy
check file_url_is_fetched file_url_is_fetched
check resume_after_drop_gives_identical_tree resumed_tree_is_identical "drop=$HALF" u-drop "200 None 206 bytes=$HALF- "
check resume_after_drop_gives_identical_file resume_after_drop_gives_identical_file
check resume_when_range_ignored_gives_identical_tree resumed_tree_is_identical "drop=$HALF&norange=1" u-norange "200 None 200 bytes=$HALF- "
check corrupt_byte_exits_4_and_leaves_nothing corrupt_byte_exits_4_and_leaves_nothing
check truncated_body_gives_up_after_retries truncated_body_gives_up_after_retries
check content_length_too_long_fails_cleanly content_length_too_long_fails_cleanly
check content_length_too_short_is_a_hash_mismatch content_length_too_short_is_a_hash_mismatch
check stall_times_out_then_retry_succeeds stall_times_out_then_retry_succeeds
check http_404_names_url_and_status http_404_names_url_and_status
check http_500_is_retried_then_reported http_500_is_retried_then_reported
check redirect_is_followed redirect_is_followed
check redirect_loop_is_refused redirect_loop_is_refused
check redirect_to_file_url_is_refused redirect_to_file_url_is_refused
check max_bytes_limits_the_download max_bytes_limits_the_download
check unpinned_or_malformed_requests_are_usage_errors unpinned_or_malformed_requests_are_usage_errors
check terminal_shows_one_progress_line terminal_shows_one_progress_line
check help_names_every_option help_names_every_option
check unpack_into_existing_dir_is_refused unpack_into_existing_dir_is_refused
check events_report_progress_and_done events_report_progress_and_done
finish
