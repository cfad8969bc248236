#!/usr/bin/env bash
# robot_client.sh: the robot library (through tests/tools/robot_call.c) over real HTTP on
# loopback against tests/httpd/robot_fake.py, the stand-in for Hetzner's Robot webservice (which
# tests cannot reach). Each case starts a fresh fake with its faults and asserts on what the
# client printed and on what the fake received: the server's addresses (IPv4, IPv6-only ::2),
# keys (none, added, already there), the rescue with two keys in order and its password in no
# output, log or message, resets and their choice, a refused login sent once, the rate limit
# waited out or reported, 404/409/400/5xx, transport failures, a base URL refused before any
# connection, and the credentials file's mode and owner.
set -euo pipefail
: "${NMMM_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${NMMM_ROBOT_CALL:=$NMMM_SRC/build/tests/robot-call}"
# shellcheck source=tests/lib/report.sh
source "$NMMM_SRC/tests/lib/report.sh"
# shellcheck source=tests/httpd/robot-lib.sh
source "$NMMM_SRC/tests/httpd/robot-lib.sh"
report_counting
for tool in python3 curl ssh-keygen; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup installs it)"
done

T=$(mktemp -d /dev/shm/robot-client-XXXXXX)
cleanup() {
  robot_fake_stop
  rm -rf "$T"
}
trap cleanup EXIT

# The secrets live in files; the greps below read them with -f, so no command line holds them.
printf '%s\n' 'Ws:pass word+/=&%' >"$T/password"
printf '%s\n' 'R3scue-Secret-7c1f' >"$T/rescue-password"
cat "$T/password" "$T/rescue-password" >"$T/secrets"
export ROBOT_FAKE_USER='#ws+Test1' ROBOT_FAKE_PASSWORD="@$T/password"
export NMMM_ROBOT_USER="$ROBOT_FAKE_USER"
NMMM_ROBOT_PASSWORD=$(cat "$T/password")
export NMMM_ROBOT_PASSWORD
ssh-keygen -q -t ed25519 -N '' -C 'op@laptop' -f "$T/k1"
ssh-keygen -q -t rsa -b 2048 -N '' -C 'ci@runner' -f "$T/k2"
md5_of() { ssh-keygen -E md5 -lf "$1" | awk '{ sub(/^MD5:/, "", $2); print $2 }'; }
FP1=$(md5_of "$T/k1.pub")
FP2=$(md5_of "$T/k2.pub")

fresh() { # robot_fake.py options: a new fake, nothing logged yet
  robot_fake_stop
  robot_fake_start "$T" "$@"
}

# call RC ARGS...: robot-call against the fake; its last stdout line in $OUT, all of stdout in
# $T/out, stderr in $T/err, the debug log in $T/log; another exit code is a failure
call() {
  local want=$1 rc=0
  shift
  rm -f "$T/log"
  "$NMMM_ROBOT_CALL" --url "$ROBOT_URL" --log "$T/log" -v --check-password "$T/rescue-password" "$@" \
    >"$T/out" 2>"$T/err" || rc=$?
  OUT=$(tail -n 1 "$T/out")
  if [ "$rc" != "$want" ]; then
    fail "exit $rc, expected $want: robot-call $*"
    sed 's/^/  /' "$T/out" "$T/err" >&2
    return 1
  fi
}

# holds JSON EXPR: the Python expression EXPR holds for the JSON text (as d)
holds() {
  python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" ||
    { fail "does not hold: $2, for $1"; return 1; }
}

says() { # TEXT NEEDLE
  case "$1" in *"$2"*) ;; *) fail "'$2' not in: $1"; return 1 ;; esac
}

requests() { robot_fake_get /_fake/log; }

no_secret_in() {
  local hits
  hits=$(grep -a -l -F -f "$T/secrets" "$@" 2>/dev/null || true)
  [ -z "$hits" ] || { fail "a password is written to: $hits"; return 1; }
}

server_with_ipv4() {
  fresh &&
    call 0 server 321 &&
    holds "$OUT" 'd["ok"] and d["number"] == 321 and d["ipv4"] == "203.0.113.72"' &&
    holds "$OUT" 'd["ipv6_net"] == "2001:db8:0:321::" and d["rescue_address"] == "203.0.113.72"' &&
    holds "$OUT" 'd["name"] == "server-321" and d["product"] == "AX42" and d["status"] == "ready"' &&
    grep -q -F 'robot: GET /server/321 → 200' "$T/log" &&
    ! grep -q -i -e 'authorization' -e 'basic ' "$T/log" "$T/err" &&
    no_secret_in "$T/out" "$T/err" "$T/log"
}

server_ipv6_only_answers_on_2() {
  fresh --ipv6-only &&
    call 0 server 321 &&
    holds "$OUT" 'd["ipv4"] is None and d["rescue_address"] == "2001:db8:0:321::2"'
}

keys_none_then_added() {
  fresh &&
    call 0 keys && holds "$OUT" 'd["keys"] == []' &&
    holds "$(requests)" '[(e["path"], e["status"]) for e in d] == [("/key", 404)]' &&
    call 0 key-add 'op laptop' "$(cat "$T/k1.pub")" &&
    holds "$OUT" "d['key']['fingerprint'] == '$FP1' and d['key']['type'] == 'ED25519'" &&
    call 0 keys &&
    holds "$OUT" "[k['fingerprint'] for k in d['keys']] == ['$FP1'] and d['keys'][0]['name'] == 'op laptop'" &&
    # every value escaped: the key line's '+', '/', '=' and blanks reach Robot unchanged
    holds "$(robot_fake_get /_fake/state)" "d['keys'][0]['data'] == open('$T/k1.pub').read().strip()" &&
    holds "$(requests)" 'd[1]["content_type"] == "application/x-www-form-urlencoded"'
}

key_already_there_is_success() {
  fresh &&
    call 0 key-add k1 "$(cat "$T/k1.pub")" &&
    call 0 key-add k1-again "$(cat "$T/k1.pub")" &&
    holds "$OUT" 'd["ok"] and d["key"]["fingerprint"] is None and d["key"]["name"] == "k1-again"' &&
    holds "$(requests)" '[e["status"] for e in d] == [201, 409]'
}

rescue_with_two_keys_in_order() {
  fresh --rescue-host-key-fp 11:22:33 --rescue-host-key-fp 44:55:66 --rescue-password-file "$T/rescue-password" &&
    call 0 key-add k1 "$(cat "$T/k1.pub")" && call 0 key-add k2 "$(cat "$T/k2.pub")" &&
    call 0 rescue 321 &&
    holds "$OUT" 'not d["active"] and d["os_offered"] == ["linux", "vkvm"] and not d["password_set"]' &&
    call 0 rescue-activate 321 "$FP2" "$FP1" &&
    holds "$OUT" "d['active'] and d['os'] == 'linux' and d['password_matches']" &&
    holds "$OUT" "d['authorized_fingerprints'] == ['$FP2', '$FP1']" &&
    holds "$OUT" 'd["host_key_fingerprints"] == ["11:22:33", "44:55:66"]' &&
    holds "$(requests)" "[e for e in d if e['method'] == 'POST' and e['path'] == '/boot/321/rescue'][0]['form'] == \
      [['os', 'linux'], ['authorized_key[]', '$FP2'], ['authorized_key[]', '$FP1']]" &&
    no_secret_in "$T/out" "$T/err" "$T/log" &&
    call 0 rescue 321 && holds "$OUT" 'd["active"] and d["password_matches"]' &&
    no_secret_in "$T/out" "$T/err" "$T/log" &&
    call 0 rescue-deactivate 321 && call 0 rescue 321 && holds "$OUT" 'not d["active"]'
}

rescue_with_unknown_key_is_invalid_input() {
  fresh &&
    call 2 rescue-activate 321 00:11:22 &&
    says "$OUT" 'Robot rejected the input of POST /boot/321/rescue (INVALID_INPUT; invalid: authorized_key)'
}

# post_rescue FORM: POST /boot/321/rescue with FORM as another client would send it
post_rescue() {
  python3 - "$ROBOT_URL" "$1" "$ROBOT_FAKE_USER" "$T/password" <<'PY'
import base64, sys, urllib.request
url, form, user, pw_file = sys.argv[1:]
pw = open(pw_file).readline().rstrip("\n")
req = urllib.request.Request(url + "/boot/321/rescue", data=form.encode(), method="POST")
req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())
urllib.request.urlopen(req).read()
PY
}

# The fake itself: other clients' spellings of several keys are understood too.
fake_takes_each_authorized_key_form() {
  local state="d['rescue']['321']['authorized_key']"
  fresh && call 0 key-add k1 "$(cat "$T/k1.pub")" && call 0 key-add k2 "$(cat "$T/k2.pub")" &&
    post_rescue "os=linux&authorized_key%5B1%5D=$FP1&authorized_key%5B0%5D=$FP2" &&
    holds "$(robot_fake_get /_fake/state)" "[k['key']['fingerprint'] for k in $state] == ['$FP2', '$FP1']" &&
    post_rescue "os=linux&authorized_key=$FP1" &&
    holds "$(robot_fake_get /_fake/state)" "[k['key']['fingerprint'] for k in $state] == ['$FP1']" &&
    post_rescue "os=linux&authorized_key[]=$FP1&authorized_key[]=$FP2" &&
    holds "$(robot_fake_get /_fake/state)" "[k['key']['fingerprint'] for k in $state] == ['$FP1', '$FP2']"
}

reset_types_choice_and_reset() {
  fresh --reset-types hw,man --on-reset "touch '$T/rebooted'" &&
    call 0 reset-types 321 && holds "$OUT" 'd["types"] == ["hw", "man"] and d["chosen"] == "hw"' &&
    call 0 reset 321 && holds "$OUT" 'd["type"] == "hw"' &&
    holds "$(robot_fake_get /_fake/state)" 'd["resets"] == [{"server": 321, "type": "hw"}]' &&
    holds "$(requests)" '[e["form"] for e in d if e["method"] == "POST"] == [[["type", "hw"]]]' || return 1
  for _ in $(seq 50); do [ -e "$T/rebooted" ] && return 0; sleep 0.1; done
  fail "--on-reset did not run"
  return 1
}

reset_without_restarting_type() {
  fresh --reset-types power,power_long,man &&
    call 0 reset-types 321 && holds "$OUT" 'd["chosen"] is None' &&
    call 3 reset 321 && holds "$(requests)" '[e["method"] for e in d] == ["GET", "GET"]'
}

refused_login_is_sent_once() {
  fresh &&
    NMMM_ROBOT_PASSWORD=wrong call 2 --repeat 2 server 321 &&
    says "$(head -n 1 "$T/out")" "Robot refused the web service credentials of user '#ws+Test1' (HTTP 401 on GET /server/321)" &&
    says "$(head -n 1 "$T/out")" 'three failed logins block this address for 10 minutes' &&
    says "$OUT" 'earlier in this run; GET /server/321 is not sent' &&
    holds "$(requests)" 'len(d) == 1 and d[0]["status"] == 401'
}

rate_limit_waited_out() {
  local t0 t1
  fresh --rate-limit-once 1 || return 1
  t0=$(date +%s%N)
  call 0 server 321 || return 1
  t1=$(date +%s%N)
  [ $(((t1 - t0) / 1000000)) -ge 1000 ] || { fail "did not wait the interval: $(((t1 - t0) / 1000000)) ms"; return 1; }
  holds "$(head -n 1 "$T/out")" 'd["event"] == "wait" and d["seconds"] == 1 and "at most 200 requests per 1 s" in d["why"]' &&
    holds "$OUT" 'd["ok"] and d["number"] == 321' &&
    holds "$(requests)" '[e["status"] for e in d] == [403, 200]'
}

rate_limit_past_the_bound() {
  fresh --rate-limit-always 1 &&
    call 1 --wait-max 2 server 321 &&
    holds "[$(head -n 2 "$T/out" | paste -sd,)]" '[w["seconds"] for w in d] == [1, 1]' &&
    says "$OUT" "Robot's rate limit for GET /server/321 is reached (RATE_LIMIT_EXCEEDED: at most 200 requests per 1 s); waited 2 s of the 2 s allowed; try again after 1 s" &&
    holds "$(requests)" 'len(d) == 3' &&
    fresh --rate-limit-always 3600 && call 1 server 321 && says "$OUT" 'waited 0 s of the 900 s allowed' &&
    holds "$(requests)" 'len(d) == 1'
}

unknown_server() {
  fresh && call 2 server 999 &&
    says "$OUT" 'Robot has no server 999 in this account (SERVER_NOT_FOUND on GET /server/999): check --robot-server'
}

manual_reset_pending() {
  fresh --manual-reset-active && call 1 reset 321 hw &&
    says "$OUT" 'a manual reset by a technician is pending for server 321' &&
    says "$OUT" 'wait for it or cancel it in Robot, then run again'
}

maintenance_and_robot_failures() {
  fresh --fail '/server/321=503' --fail 'POST /reset/321=500:RESET_FAILED' &&
    call 1 server 321 && says "$OUT" 'Robot failed GET /server/321 (HTTP 503 no error code)' &&
    says "$OUT" 'Robot may be in maintenance; try again later' &&
    call 1 reset 321 hw && says "$OUT" 'Robot failed POST /reset/321 (HTTP 500 RESET_FAILED: injected failure)'
}

answer_not_json() {
  fresh --fail '/reset/321=200' && call 1 reset-types 321 &&
    says "$OUT" "Robot's answer to GET /reset/321 is not what its web service sends (not JSON)"
}

transport_failure_names_the_url() {
  fresh && robot_fake_stop &&
    call 1 server 321 && says "$OUT" "GET $ROBOT_URL/server/321: " && says "$OUT" 'check the network'
}

http_elsewhere_refused_before_connecting() {
  fresh &&
    call 2 --url "http://localhost:${ROBOT_URL##*:}" server 321 &&
    says "$OUT" 'http:// would send the Robot password in clear' &&
    call 2 --url "http://192.0.2.1:${ROBOT_URL##*:}" --timeout 2 server 321 &&
    says "$OUT" 'http:// would send the Robot password in clear' &&
    call 2 --url "ftp://127.0.0.1/" server 321 &&
    call 2 --url "http://u:p@127.0.0.1:${ROBOT_URL##*:}" server 321 && says "$OUT" 'carries a user name' &&
    holds "$(requests)" 'd == []' &&
    # [::1] is loopback: allowed, and so the failure is the connection's (nothing listens there)
    call 1 --url "http://[::1]:1/" --timeout 2 server 321 && says "$OUT" 'GET http://[::1]:1/server/321: '
}

credentials_file_mode_owner_and_env() {
  fresh || return 1
  printf '%s\n%s\n' "$ROBOT_FAKE_USER" "$NMMM_ROBOT_PASSWORD" >"$T/cred"
  chmod 644 "$T/cred"
  (unset NMMM_ROBOT_USER NMMM_ROBOT_PASSWORD && call 2 --credentials "$T/cred" server 321 &&
    says "$OUT" "$T/cred: mode 0644 lets others read the Robot password; run chmod 600 $T/cred") || return 1
  chmod 600 "$T/cred"
  (unset NMMM_ROBOT_USER NMMM_ROBOT_PASSWORD && call 0 --credentials "$T/cred" server 321) || return 1
  holds "$(requests)" 'len(d) == 1 and d[0]["status"] == 200' || return 1
  (unset NMMM_ROBOT_PASSWORD && call 2 server 321 && says "$OUT" 'NMMM_ROBOT_PASSWORD is not set') || return 1
  printf '%s:%s\n' "$ROBOT_FAKE_USER" "$NMMM_ROBOT_PASSWORD" >"$T/cred1"
  chmod 600 "$T/cred1"
  call 2 --credentials "$T/cred1" server 321 && says "$OUT" 'the form user:password is not read' || return 1
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$T/cred"
    call 2 --credentials "$T/cred" server 321 && says "$OUT" 'not by you (uid 0)' || return 1
  fi
  no_secret_in "$T/out" "$T/err" "$T/log"
}

check server_with_ipv4 server_with_ipv4
check server_ipv6_only_answers_on_2 server_ipv6_only_answers_on_2
check keys_none_then_added keys_none_then_added
check key_already_there_is_success key_already_there_is_success
check rescue_with_two_keys_in_order rescue_with_two_keys_in_order
check rescue_with_unknown_key_is_invalid_input rescue_with_unknown_key_is_invalid_input
check fake_takes_each_authorized_key_form fake_takes_each_authorized_key_form
check reset_types_choice_and_reset reset_types_choice_and_reset
check reset_without_restarting_type reset_without_restarting_type
check refused_login_is_sent_once refused_login_is_sent_once
check rate_limit_waited_out rate_limit_waited_out
check rate_limit_past_the_bound rate_limit_past_the_bound
check unknown_server unknown_server
check manual_reset_pending manual_reset_pending
check maintenance_and_robot_failures maintenance_and_robot_failures
check answer_not_json answer_not_json
check transport_failure_names_the_url transport_failure_names_the_url
check http_elsewhere_refused_before_connecting http_elsewhere_refused_before_connecting
check credentials_file_mode_owner_and_env credentials_file_mode_owner_and_env
finish
