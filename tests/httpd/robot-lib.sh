# shellcheck shell=bash
# tests/httpd/robot-lib.sh: sourced by the tests that talk to the stand-in for Hetzner's Robot
# webservice (tests/httpd/robot_fake.py). robot_fake_start runs one fake on 127.0.0.1 with the
# credentials in ROBOT_FAKE_USER / ROBOT_FAKE_PASSWORD (a value @FILE is read from FILE, so the
# secret is on no command line) and sets ROBOT_URL; robot_fake_stop ends it (call it from the
# EXIT trap); robot_fake_get PATH prints a control answer (/_fake/log, /_fake/state).

: "${NMMM_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
ROBOT_FAKE_PID=""
ROBOT_URL=""

# robot_fake_start DIR [robot_fake.py options]: DIR holds its port file
robot_fake_start() {
  local dir=$1 portfile
  shift
  portfile=$(mktemp -u "$dir/robot-port-XXXXXX")
  python3 "$NMMM_SRC/tests/httpd/robot_fake.py" --port-file "$portfile" "$@" &
  ROBOT_FAKE_PID=$!
  for _ in $(seq 200); do
    [ -s "$portfile" ] && break
    kill -0 "$ROBOT_FAKE_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -s "$portfile" ] || { echo "FAIL: the Robot fake did not start" >&2; return 1; }
  ROBOT_URL="http://127.0.0.1:$(cat "$portfile")"
  rm -f "$portfile"
}

robot_fake_stop() {
  if [ -n "$ROBOT_FAKE_PID" ]; then
    kill "$ROBOT_FAKE_PID" 2>/dev/null || true
    wait "$ROBOT_FAKE_PID" 2>/dev/null || true
  fi
  ROBOT_FAKE_PID=""
}

robot_fake_get() {
  curl -sS --fail "$ROBOT_URL$1"
}
