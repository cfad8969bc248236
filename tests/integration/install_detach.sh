#!/usr/bin/env bash
# install_detach.sh: `install --detach` confirms in the foreground, then carries on in its own
# session while the caller returns (as when the SSH session drops); `status --follow` re-attaches,
# shows the log as it grows and exits with the install's exit code; `status` tells an install
# that was killed ("interrupted") from one that runs; a second install while one runs is refused
# (exit 3) naming the running one.
IE_NAME=detach
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
mapfile -t args < <(ie_install_args)

ie_agent install --yes --detach "${args[@]}" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" ||
	fail "install --detach: $(tail -n 5 "$IE_WORK/err.txt")"
grep -q "install continues in the background (pid [0-9]*); follow it with: nmmm-agent status --follow" "$IE_WORK/out.txt" ||
	fail "install --detach said: $(cat "$IE_WORK/out.txt")"
grep -q "WILL BE ERASED" "$IE_WORK/out.txt" || fail "the disks to erase were not shown before detaching"
pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$IE_WORK/out.txt")
# Whatever fails below, the detached install (perhaps stopped) does not outlive the test.
trap 'kill -KILL "$pid" 2>/dev/null || true; ie_cleanup' EXIT
# Held still, so the checks below see it running (it needs seconds; this takes milliseconds).
kill -STOP "$pid" || fail "the detached install (pid $pid) ended before it could be checked"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "the detached install does not lead its own session"
# One install at a time: the detached child holds the state directory's lock.
rc=0
ie_agent install --yes "${args[@]}" > "$IE_WORK/second.txt" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a second install while one runs exited $rc, not 3: $(tail -n 3 "$IE_WORK/second.txt")"
grep -q "another install is running with the state in $IE_WORK/state (pid $pid, phase [a-z]*); follow it with 'nmmm-agent status --follow'" \
	"$IE_WORK/second.txt" || fail "the second install's refusal: $(tail -n 3 "$IE_WORK/second.txt")"
kill -CONT "$pid"

ie_agent status --follow --state-dir "$IE_WORK/state" > "$IE_WORK/follow.txt" 2>&1 ||
	fail "status --follow exited $?: $(tail -n 5 "$IE_WORK/follow.txt")"
grep -q "== handover" "$IE_WORK/follow.txt" || fail "status --follow did not show the log"
grep -q "^install: done" "$IE_WORK/follow.txt" || fail "status --follow did not end with done"
[ "$(blkid -p -s TYPE -o value "${IE_DISK}p4")" = ext4 ] || fail "the detached install did not lay out the disk"

# The lock is the state directory's, whoever holds it; a held lock refuses before anything runs.
# status --follow ends when the state says done; the detached process exits a moment later.
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "the detached install (pid $pid) still runs 10 s after it said done"
flock -n "$IE_WORK/state/install.lock" true || fail "the lock is still held after the install ended"
# (one process holding it, so killing that process lets it go)
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' \
	"$IE_WORK/state/install.lock" &
holder=$!
for _ in $(seq 100); do flock -n "$IE_WORK/state/install.lock" true || break; sleep 0.05; done
rc=0
ie_agent install --yes "${args[@]}" > "$IE_WORK/second.txt" 2>&1 || rc=$?
kill "$holder"
wait "$holder" 2>/dev/null || true
[ "$rc" = 3 ] || fail "install with the lock held exited $rc, not 3: $(tail -n 3 "$IE_WORK/second.txt")"
grep -q "WILL BE ERASED" "$IE_WORK/second.txt" && fail "the refused install went as far as the confirmation"

# A killed install is reported as interrupted, with the way on; status --follow exits non-zero.
rm -rf "$IE_WORK/state"
ie_agent --events "$IE_WORK/ev.jsonl" install --yes "${args[@]}" > /dev/null 2>&1 &
agent_pid=$!
for _ in $(seq 600); do grep -q '"phase":"build","event":"start"' "$IE_WORK/ev.jsonl" 2>/dev/null && break; sleep 0.02; done
pkill -KILL -f "nmmm-agent --events $IE_WORK/ev.jsonl" || true
wait "$agent_pid" || true
ie_agent status --state-dir "$IE_WORK/state" > "$IE_WORK/st.txt" 2>&1 || fail "status after a kill exited $?"
grep -q "^install: interrupted" "$IE_WORK/st.txt" || fail "status after a kill: $(cat "$IE_WORK/st.txt")"
grep -q "install --resume" "$IE_WORK/st.txt" || fail "status does not say how to go on"
rc=0
ie_agent status --follow --state-dir "$IE_WORK/state" > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "status --follow of an interrupted install exited 0"
echo "install_detach: ok"
