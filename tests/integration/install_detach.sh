#!/usr/bin/env bash
# install_detach.sh: `install --detach` confirms in the foreground, then carries on in its own
# session while the caller returns (as when the SSH session drops); `status --follow` re-attaches,
# shows the log as it grows and exits with the install's exit code; `status` tells an install
# that was killed ("interrupted") from one that runs.
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
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "the detached install does not lead its own session"

ie_agent status --follow --state-dir "$IE_WORK/state" > "$IE_WORK/follow.txt" 2>&1 ||
	fail "status --follow exited $?: $(tail -n 5 "$IE_WORK/follow.txt")"
grep -q "== handover" "$IE_WORK/follow.txt" || fail "status --follow did not show the log"
grep -q "^install: done" "$IE_WORK/follow.txt" || fail "status --follow did not end with done"
[ "$(blkid -p -s TYPE -o value "${IE_DISK}p4")" = ext4 ] || fail "the detached install did not lay out the disk"

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
