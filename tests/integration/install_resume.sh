#!/usr/bin/env bash
# install_resume.sh: SIGKILL the agent as each phase starts (watching its events), then
# `install --resume --yes` finishes with the same result as an uninterrupted install; a resume
# after the disk changed underneath fails clearly.
IE_NAME=resume
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
mapfile -t args < <(ie_install_args)
phases="detect plan confirm fetch render build teardown wipe partition raid format mount install handover"

# Starts an install, kills it with SIGKILL when PHASE starts.
kill_at() {
	local phase=$1 ev="$IE_WORK/events.jsonl"
	: > "$ev"
	ie_agent --events "$ev" install --yes "${args[@]}" > /dev/null 2>&1 &
	local pid=$!
	for _ in $(seq 600); do
		grep -q "\"phase\":\"$phase\",\"event\":\"start\"" "$ev" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	pkill -KILL -f "nmmm-agent --events $ev" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# A kill in the middle of mount or install leaves the target mounted, as a crash would.
}

check_result() {
	local what=$1 mnt="$IE_WORK/check"
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["result"]=="done", s.get("error")' \
		"$IE_WORK/state/state.json" || fail "$what: not done"
	local uuid
	uuid=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["plan"]; print([f for f in p["filesystems"] if f.get("mountpoint")=="/"][0]["uuid"])' \
		"$IE_WORK/state/state.json")
	[ "$(blkid -p -s UUID -o value "${IE_DISK}p4")" = "$uuid" ] || fail "$what: root UUID is not the planned one"
	mkdir -p "$mnt"
	mount "${IE_DISK}p4" "$mnt"
	[ "$(cat "$mnt/boot/nmmm-toy-bootloader")" = "grub-bios $IE_DISK" ] || fail "$what: boot loader"
	[ -s "$mnt/etc/nixos/report.json" ] || fail "$what: report"
	umount "$mnt"
}

for phase in $phases; do
	rm -rf "$IE_WORK/state"
	kill_at "$phase"
	if [ ! -e "$IE_WORK/state/state.json" ]; then
		# Killed before the first state was written: a fresh install is the way on.
		ie_agent install --yes "${args[@]}" > "$IE_WORK/out.txt" 2>&1 || fail "after kill at $phase: $(tail -n 5 "$IE_WORK/out.txt")"
	else
		ie_agent install --resume --yes "${args[@]}" > "$IE_WORK/out.txt" 2>&1 ||
			fail "resume after kill at $phase: $(tail -n 5 "$IE_WORK/out.txt")"
	fi
	check_result "kill at $phase"
	ok "killed at $phase, resumed"
done

# Killed while a program runs (the 4096-bit host key takes a while): the program must die with the
# agent, or it writes its key under the resumed run's feet ("already exists. Overwrite (y/n)?").
rm -rf "$IE_WORK/state"
: > "$IE_WORK/events.jsonl"
ie_agent --events "$IE_WORK/events.jsonl" install --yes "${args[@]}" > /dev/null 2>&1 &
pid=$!
keygen=""
for _ in $(seq 3000); do
	keygen=$(pgrep -f "ssh-keygen .*-t rsa .*$IE_WORK/mnt/etc/ssh" | head -n 1 || true)
	[ -n "$keygen" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.01
done
[ -n "$keygen" ] || fail "never saw ssh-keygen making the RSA host key"
# Stopped, it cannot finish on its own: only the agent's death can end it, whatever the timing.
kill -STOP "$keygen"
pkill -KILL -f "nmmm-agent --events $IE_WORK/events.jsonl" || fail "the agent was gone before the kill"
wait "$pid" 2>/dev/null || true
# Still there, not a zombie waiting for its new parent to reap it.
running() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
for _ in $(seq 200); do
	running "$keygen" || break
	sleep 0.05
done
if running "$keygen"; then
	kill -KILL "$keygen"
	fail "ssh-keygen (pid $keygen) outlived the killed agent"
fi
ie_agent install --resume --yes "${args[@]}" > "$IE_WORK/out.txt" 2>&1 ||
	fail "resume after a kill during ssh-keygen: $(tail -n 5 "$IE_WORK/out.txt")"
check_result "kill during ssh-keygen"
ok "killed during ssh-keygen, resumed; ssh-keygen died with the agent"

# The disk changes underneath: a resume must refuse, not guess.
rm -rf "$IE_WORK/state"
kill_at format
losetup -d "$IE_DISK"
truncate -s 3G "$IE_WORK/disk.img"
# The same device name, now 1 GiB larger (detaching completes once the last opener is gone).
for _ in $(seq 100); do
	losetup -P "$IE_DISK" "$IE_WORK/disk.img" 2>/dev/null && break
	sleep 0.1
done
[ "$(blockdev --getsize64 "$IE_DISK")" = $((3 << 30)) ] || fail "could not re-attach $IE_DISK with the larger image"
rc=0
ie_agent install --resume --yes "${args[@]}" > "$IE_WORK/out.txt" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "resume on a changed disk: exit $rc, expected 3: $(tail -n 3 "$IE_WORK/out.txt")"
grep -q "changed since the plan was made" "$IE_WORK/out.txt" || fail "resume on a changed disk: $(tail -n 3 "$IE_WORK/out.txt")"
echo "install_resume: ok"
