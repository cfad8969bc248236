# shellcheck shell=bash
# tests/httpd/lib.sh: sourced by tests/integration/fetch_*.sh and scripts/bench-fetch. Starts
# the loopback server (tests/httpd/server.py) and offers the assertions every fetch test needs.
# The caller's EXIT trap must call fetch_test_cleanup (kills the server, removes the temp dir).
# Cases run under `check NAME CMD...` and the test ends with `finish` (tests/lib/report.sh): a
# helper that finds a fault says why with `fail` and returns 1, and the case counts as failed.

: "${NMMM_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${NMMM_AGENT:=$NMMM_SRC/build/agent/nmmm-agent}"
# shellcheck source=tests/lib/report.sh
source "$NMMM_SRC/tests/lib/report.sh"
report_counting
HTTPD_PID=""
HTTPD_PORT=""

# fetch_test_tmp NAME: a fresh temp dir (prefixed images-) in $T, in RAM (/dev/shm) as the
# rescue system is: the disk here is shared and slow enough to dominate 10,000-file cases
fetch_test_tmp() {
  local base=/dev/shm
  [ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
  T=$(mktemp -d "$base/images-$1-XXXXXX")
}

fetch_test_cleanup() {
  if [ -n "$HTTPD_PID" ]; then
    kill "$HTTPD_PID" 2>/dev/null || true
    wait "$HTTPD_PID" 2>/dev/null || true
  fi
  [ -n "${T:-}" ] && rm -rf "$T"
}

# httpd_start ROOT [server.py args]: sets HTTPD_PORT, HTTPD_PID and BASE (http://127.0.0.1:PORT)
httpd_start() {
  local root=$1 portfile
  shift
  portfile=$(mktemp "${T}/httpd-port-XXXXXX")
  python3 "$NMMM_SRC/tests/httpd/server.py" --root "$root" "$@" >"$portfile" &
  HTTPD_PID=$!
  for _ in $(seq 200); do
    grep -q '^PORT ' "$portfile" && break
    sleep 0.05
  done
  HTTPD_PORT=$(awk '/^PORT /{print $2}' "$portfile")
  [ -n "$HTTPD_PORT" ] || { echo "FAIL: httpd did not start" >&2; exit 1; }
  export BASE="http://127.0.0.1:$HTTPD_PORT"
}

sha() { sha256sum "$1" | cut -c1-64; }

# run_agent EXPECTED_RC ARGS...: runs the agent, keeps stderr in $ERR; a different exit is a failure
run_agent() {
  local want=$1 rc=0
  shift
  ERR=$("$NMMM_AGENT" "$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" != "$want" ]; then
    fail "exit $rc, expected $want: nmmm-agent $*"
    echo "  stderr: $ERR" >&2
    return 1
  fi
}

# expect_in TEXT NEEDLE: the message names what it must
expect_in() {
  case "$1" in
    *"$2"*) ;;
    *) fail "message lacks '$2': $1"; return 1 ;;
  esac
}

# nothing_left PATH: neither PATH nor PATH.part nor PATH.part-* exists
nothing_left() {
  local leftover
  leftover=$(compgen -G "$1.part*" || true)
  if [ -e "$1" ] || [ -L "$1" ] || [ -n "$leftover" ]; then
    fail "left behind: $(ls -d "$1" "$1".part* 2>/dev/null | tr '\n' ' ')"
    return 1
  fi
}

# tree_digest DIR: one line per entry (type, mode, path, link target or content hash), sorted
tree_digest() {
  python3 - "$1" <<'PY'
import hashlib, os, stat, sys
top = sys.argv[1]
for d, dirs, files in sorted(os.walk(top)):
    for name in sorted(dirs + files):
        p = os.path.join(d, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, top)
        if stat.S_ISLNK(st.st_mode):
            what = "-> " + os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            what = hashlib.sha256(open(p, "rb").read()).hexdigest()
        else:
            what = ""
        print("%o %s %s" % (st.st_mode, rel, what))
PY
}
