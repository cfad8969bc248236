#!/usr/bin/env bash
# fetch_secret_url.sh: a URL's credentials and token reach the server and nothing else. The
# loopback server demands both (basic auth, ?token=), so a fetch that succeeds used them; then
# neither the events, nor the log, nor the terminal, nor an error message (hash mismatch, HTTP
# 404, a retried drop, an untrusted archive, bad usage), nor the unpacked tree, nor the process
# list (/proc/PID/cmdline of the running agent) holds them: every URL shows as
# http://***@host/path?***.
set -euo pipefail
# shellcheck source=tests/httpd/lib.sh
source "${NMMM_SRC:-$(dirname "$0")/../..}/tests/httpd/lib.sh"
fetch_test_tmp secret
trap fetch_test_cleanup EXIT

mkdir -p "$T/www"
python3 "$NMMM_SRC/tests/httpd/make_archives.py" "$T/www" >/dev/null
head -c 3000000 /dev/urandom >"$T/www/blob.bin"
httpd_start "$T/www" --auth user:s3cr3tT0ken --require-query token=s3cr3tQ
# The secrets in a file, so that no grep below carries them on its own command line.
printf '%s\n' s3cr3tT0ken s3cr3tQ >"$T/secrets"
SECRET_BASE="http://user:s3cr3tT0ken@127.0.0.1:$HTTPD_PORT"
SHOWN_BASE="http://***@127.0.0.1:$HTTPD_PORT"
bad_sha=0000000000000000000000000000000000000000000000000000000000000000

# no_secret_in FILE...: none of the files (or trees) holds a secret
no_secret_in() {
  local hits
  hits=$(grep -r -a -l -F -f "$T/secrets" "$@" 2>/dev/null || true)
  [ -z "$hits" ] || { fail "the secret is written to: $hits"; grep -r -a -h -F -f "$T/secrets" "$@" | head -n 3 >&2; return 1; }
}

# fetch_logged RC ARGS...: one fetch with its events, log and terminal output kept apart
fetch_logged() {
  local want=$1
  shift
  rm -f "$T/events" "$T/log" "$T/stderr"
  run_agent "$want" --events "$T/events" --log "$T/log" "$@" || return 1
  printf '%s\n' "$ERR" >"$T/stderr"
}

the_server_demands_the_credentials() {
  run_agent 1 fetch "http://127.0.0.1:$HTTPD_PORT/blob.bin?token=s3cr3tQ" --sha256 "$(sha "$T/www/blob.bin")" --out "$T/x" &&
    expect_in "$ERR" "HTTP 401" &&
    run_agent 1 fetch "$SECRET_BASE/blob.bin" --sha256 "$(sha "$T/www/blob.bin")" --out "$T/x" &&
    expect_in "$ERR" "HTTP 403" && nothing_left "$T/x"
}

verified_fetch_shows_the_url_without_secrets() {
  fetch_logged 0 fetch "$SECRET_BASE/good.tar.xz?token=s3cr3tQ" --sha256 "$(sha "$T/www/good.tar.xz")" --unpack "$T/good" &&
    grep -q -F "\"url\":\"$SHOWN_BASE/good.tar.xz?***\"" "$T/events" &&
    grep -q -F "$SHOWN_BASE/good.tar.xz?***: verified" "$T/log" &&
    no_secret_in "$T/events" "$T/log" "$T/stderr" "$T/good"
}

hash_mismatch_message_has_no_secret() {
  fetch_logged 4 fetch "$SECRET_BASE/blob.bin?token=s3cr3tQ" --sha256 "$bad_sha" --out "$T/blob" &&
    expect_in "$ERR" "$SHOWN_BASE/blob.bin?***: SHA-256 mismatch" && grep -q '"event":"error"' "$T/events" &&
    no_secret_in "$T/events" "$T/log" "$T/stderr" && nothing_left "$T/blob"
}

not_found_message_has_no_secret() {
  fetch_logged 1 fetch "$SECRET_BASE/missing.bin?token=s3cr3tQ" --sha256 "$bad_sha" --out "$T/missing" &&
    expect_in "$ERR" "$SHOWN_BASE/missing.bin?***: the server answered HTTP 404" &&
    no_secret_in "$T/events" "$T/log" "$T/stderr"
}

retry_warning_has_no_secret() {
  fetch_logged 0 fetch "$SECRET_BASE/blob.bin?token=s3cr3tQ&drop=100000" --sha256 "$(sha "$T/www/blob.bin")" --out "$T/blob" \
    --retries 2 &&
    grep -q -F "$SHOWN_BASE/blob.bin?***: " "$T/log" && grep -q "retrying from byte" "$T/log" &&
    no_secret_in "$T/events" "$T/log" "$T/stderr" && rm -f "$T/blob"
}

untrusted_archive_message_has_no_secret() {
  fetch_logged 4 fetch "$SECRET_BASE/evil-symlink-escape.tar?token=s3cr3tQ" --sha256 "$(sha "$T/www/evil-symlink-escape.tar")" \
    --unpack "$T/evil" &&
    expect_in "$ERR" "symlink that leaves" && no_secret_in "$T/events" "$T/log" "$T/stderr" && nothing_left "$T/evil"
}

usage_errors_have_no_secret() {
  fetch_logged 2 fetch "$SECRET_BASE/blob.bin?token=s3cr3tQ" --out "$T/blob" &&
    expect_in "$ERR" "--sha256 HEX (the file) or --nar-hash HASH (the unpacked tree) is mandatory" && no_secret_in "$T/stderr" "$T/log" &&
    fetch_logged 2 fetch "$SECRET_BASE/a?token=s3cr3tQ" "$SECRET_BASE/b?token=s3cr3tQ" --sha256 "$bad_sha" --out "$T/blob" &&
    expect_in "$ERR" "one URL only" && no_secret_in "$T/stderr" "$T/log"
}

# While the agent runs (a slow transfer), its command line shows the URL without the secrets.
process_list_has_no_secret() {
  rm -f "$T/events"
  "$NMMM_AGENT" --events "$T/events" fetch "$SECRET_BASE/blob.bin?token=s3cr3tQ&rate=500000" \
    --sha256 "$(sha "$T/www/blob.bin")" --out "$T/slow" 2>"$T/stderr" &
  local pid=$! rc=0 cmdline
  for _ in $(seq 100); do
    grep -q '"event":"start"' "$T/events" 2>/dev/null && break
    sleep 0.05
  done
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { fail "slow fetch exited $rc: $(cat "$T/stderr")"; return 1; }
  expect_in "$cmdline" "http://****************@127.0.0.1:$HTTPD_PORT/blob.bin?" &&
    if grep -q -F -f "$T/secrets" <<<"$cmdline"; then
      fail "the process list shows the secret: $cmdline"
      false
    fi
}

check the_server_demands_the_credentials the_server_demands_the_credentials
check verified_fetch_shows_the_url_without_secrets verified_fetch_shows_the_url_without_secrets
check hash_mismatch_message_has_no_secret hash_mismatch_message_has_no_secret
check not_found_message_has_no_secret not_found_message_has_no_secret
check retry_warning_has_no_secret retry_warning_has_no_secret
check untrusted_archive_message_has_no_secret untrusted_archive_message_has_no_secret
check usage_errors_have_no_secret usage_errors_have_no_secret
check process_list_has_no_secret process_list_has_no_secret
finish
