#!/usr/bin/env bash
# provision_robot.sh: `provision --robot-server N` with the loopback stand-in for Hetzner's Robot
# (tests/httpd/robot_fake.py: Robot cannot be reached from tests) whose reset "boots the rescue"
# (starts the rescue's sshd, provision-env.sh), and a first boot that fails (the stand-in writes
# the failed boot's journal into the installed root and takes the uplink's carrier away; NixOS
# cannot boot here). Asserts: the operator's key (from ~/.ssh) registered with Robot and the
# rescue activated with its fingerprint, the server reset, the rescue's host key verified against
# Robot's fingerprint (no trust on first use) — after the system that ran before the reset went
# on answering, with its own host key, for two seconds (asked again, not refused) — the install,
# the hand-over; then, the system not
# answering within --boot-timeout, the diagnosis: the rescue activated and the server reset again,
# `diagnose` run there, its cause (no-carrier) in provision's error and events, exit 1, the server
# left in the rescue; Robot's password on no command line and in no output.
IE_NAME=provrobot
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"
PE_BOOT=pe_boot_failed
# shellcheck source=tests/integration/lib/provision-env.sh
. "$(dirname "$0")/lib/provision-env.sh"
journal_remote=$(command -v systemd-journal-remote || echo /lib/systemd/systemd-journal-remote)
[ -x "$journal_remote" ] || skip "systemd-journal-remote missing (scripts/setup installs it)"

# The failed first boot: its journal (networkd lost the uplink's carrier) written into the
# installed root from a private mount namespace, and the carrier gone (the veth's peer down).
pe_boot_failed() {
	local dir="$IE_WORK/failed-root"
	mkdir -p "$dir"
	unshare --mount --propagation private sh -c '
		mount "$1" "$2" && mkdir -p "$2/var/log/journal/0123456789abcdef0123456789abcdef" &&
		python3 "$3" no-carrier eth0 | "$4" --output="$2/var/log/journal/0123456789abcdef0123456789abcdef/system.journal" - &&
		umount "$2"' sh "${IE_DISK}p4" "$dir" "$NMMM_SRC/tests/fixtures/diagnose/journal-export.py" \
		"$(command -v systemd-journal-remote || echo /lib/systemd/systemd-journal-remote)"
	ip -n "$IE_NS" link set gw0 down
}

ie_make_disks 2G
ie_make_netns
ie_make_channels
pe_make_keys
pe_make_rescue_bin
# The operator's key where provision looks without an agent: ~/.ssh/id_ed25519.pub.
mkdir -p "$IE_WORK/home/.ssh"
cp "$IE_WORK/operator.pub" "$IE_WORK/home/.ssh/id_ed25519.pub"
rescue_md5=$(ssh-keygen -l -E md5 -f "$IE_WORK/rescue_host_ed25519.pub" | awk '{print $2}' | sed 's/^MD5://')

# Robot's stand-in, in the namespace; each accepted reset boots the rescue.
secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s' "$secret" > "$IE_WORK/robot-password"
cat > "$IE_WORK/reset.sh" <<-EOF
	#!/bin/bash
	# The server restarts into the rescue system: whatever answered before stops, the rescue starts.
	# The system that ran before the first reset goes on answering for two seconds (a reset takes
	# a moment), with its own host key.
	$(declare -p IE_WORK IE_NS PE_PORT)
	$([ -z "${ASAN_OPTIONS:-}" ] || declare -p ASAN_OPTIONS)
	$(declare -f pe_start_rescue pe_sshd_config)
	[ -s "\$IE_WORK/before.pid" ] && { sleep 2; kill "\$(cat "\$IE_WORK/before.pid")"; rm -f "\$IE_WORK/before.pid"; }
	[ -s "\$IE_WORK/booted.pid" ] && kill "\$(cat "\$IE_WORK/booted.pid")" 2>/dev/null
	[ -s "\$IE_WORK/rescue.pid" ] && kill "\$(cat "\$IE_WORK/rescue.pid")" 2>/dev/null
	sleep 0.5
	# A flag file makes this boot's rescue answer with another host key than Robot names.
	if [ -e "\$IE_WORK/impostor" ]; then
		cp "\$IE_WORK/impostor_key" "\$IE_WORK/rescue_host_ed25519"
		rm -f "\$IE_WORK/impostor"
	fi
	pe_start_rescue
EOF
# The system before the reset: an sshd with a host key of its own on the rescue's address.
ssh-keygen -q -t ed25519 -N '' -C root@before -f "$IE_WORK/before_host_ed25519" || fail "ssh-keygen failed"
pe_sshd_config "$IE_WORK/before_host_ed25519" "$IE_WORK/before.pid" > "$IE_WORK/before_sshd_config"
start_before() {
	ip netns exec "$IE_NS" /usr/sbin/sshd -D -e -f "$IE_WORK/before_sshd_config" >> "$IE_WORK/sshd-before.log" 2>&1 &
	for _ in $(seq 100); do [ -s "$IE_WORK/before.pid" ] && break; sleep 0.05; done
	[ -s "$IE_WORK/before.pid" ] || fail "the sshd of the system before the reset did not start: $(cat "$IE_WORK/sshd-before.log")"
}
start_before
ip netns exec "$IE_NS" env ROBOT_FAKE_USER='#ws+test' ROBOT_FAKE_PASSWORD="@$IE_WORK/robot-password" \
	python3 "$NMMM_SRC/tests/httpd/robot_fake.py" --port-file "$IE_WORK/robot-port" --server 9 \
	--rescue-host-key-fp "$rescue_md5" --on-reset "bash $IE_WORK/reset.sh" > "$IE_WORK/robot.log" 2>&1 &
robot_pid=$!
trap 'kill "$robot_pid" 2>/dev/null; [ -s "$IE_WORK/before.pid" ] && kill "$(cat "$IE_WORK/before.pid")" 2>/dev/null; pe_cleanup' EXIT
for _ in $(seq 200); do [ -s "$IE_WORK/robot-port" ] && break; sleep 0.05; done
[ -s "$IE_WORK/robot-port" ] || fail "the Robot stand-in did not start: $(cat "$IE_WORK/robot.log")"
robot_url="http://127.0.0.1:$(cat "$IE_WORK/robot-port")"
robot_get() { ip netns exec "$IE_NS" curl -sS --fail -u "#ws+test:$secret" "$robot_url$1"; }

: > "$IE_WORK/ssh_config"
mapfile -t args < <(ie_install_args | grep -v -x -e --no-reboot)
# provision as the operator runs it; $events names an --events file for the run.
events=""
provision() { # PASSWORD EXTRA-OPTION...
	local pw=$1
	shift
	ip netns exec "$IE_NS" env -u SSH_AUTH_SOCK HOME="$IE_WORK/home" NMMM_ROBOT_USER='#ws+test' \
		NMMM_ROBOT_PASSWORD="$pw" "$NMMM_AGENT" ${events:+--events "$events"} provision --robot-server 9 --robot-url "$robot_url" \
		--ssh-config "$IE_WORK/ssh_config" --identity "$IE_WORK/operator" --remote-dir "$IE_WORK/remote" \
		--rescue-timeout 30 --yes "${args[@]}" --out "$IE_WORK/hosts/web1" "$@" "root@[127.0.0.1]:$PE_PORT"
}
requests() { robot_get /_fake/log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# Wrong credentials: one request, no second (three failed logins lock the address out), exit 2.
before=$(requests)
rc=0
provision wrong-password > "$IE_WORK/401.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "Robot refused the web service credentials" "$IE_WORK/401.out" ||
	fail "wrong Robot credentials: exit $rc, $(tail -n 3 "$IE_WORK/401.out")"
[ "$(($(requests) - before))" = 1 ] || fail "after a 401 provision asked Robot again"
ok "wrong Robot credentials: one request, exit 2 naming them"

# The rescue answers with a host key Robot does not name: refused before anything is sent.
ssh-keygen -q -t ed25519 -N '' -f "$IE_WORK/impostor_key" || fail "ssh-keygen failed"
cp "$IE_WORK/rescue_host_ed25519" "$IE_WORK/rescue_host_ed25519.real"
touch "$IE_WORK/impostor"
rc=0
provision "$secret" --rescue-timeout 8 > "$IE_WORK/mitm.out" 2>&1 || rc=$?
[ "$rc" = 3 ] && grep -q "but Robot says" "$IE_WORK/mitm.out" ||
	fail "a rescue host key Robot does not name: exit $rc, $(tail -n 3 "$IE_WORK/mitm.out")"
[ ! -e "$IE_WORK/remote" ] || fail "something was sent to a rescue whose host key Robot does not name"
cp "$IE_WORK/rescue_host_ed25519.real" "$IE_WORK/rescue_host_ed25519"
ok "a rescue host key that is not Robot's is refused (exit 3), nothing sent"

# The installing run starts as the first did: the server runs its old system (the impostor's
# rescue goes away as that system would have).
kill "$(cat "$IE_WORK/rescue.pid")" && rm -f "$IE_WORK/rescue.pid"
sleep 0.5
start_before
main_from=$(requests)
# Robot's rate limit on the installing run's first request (403 RATE_LIMIT_EXCEEDED, interval 1 s):
# waited out, then asked again, the run goes on.
ip netns exec "$IE_NS" curl -sS --fail -X POST -d rate_limit_once=1 "$robot_url/_fake/set" > /dev/null ||
	fail "cannot set the stand-in's rate limit"
rc=0
events="$IE_WORK/events.jsonl" provision "$secret" --boot-timeout 15 > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" &
prov=$!
# While it runs: Robot's password on no command line (provision's, ssh's, the remote agent's).
leaked=no
while kill -0 "$prov" 2>/dev/null; do
	for c in /proc/[0-9]*/cmdline; do
		{ tr '\0' ' ' < "$c"; } 2>/dev/null | grep -qF "$secret" && leaked="$c: $(tr '\0' ' ' < "$c")"
	done
	[ "$leaked" = no ] || break
	sleep 0.5
done
wait "$prov" || rc=$?
[ "$leaked" = no ] || fail "Robot's password on a command line: $leaked"
[ "$rc" = 1 ] || fail "provision of a system that does not come back exited $rc, not 1: $(tail -n 20 "$IE_WORK/err.txt")"
! grep -qF "$secret" "$IE_WORK/out.txt" "$IE_WORK/err.txt" "$IE_WORK/events.jsonl" ||
	fail "Robot's password is in provision's output or events"
ok "Robot's password on no command line, in no output and no event"

grep -q "no-carrier" "$IE_WORK/err.txt" || fail "the diagnosis does not name the cause: $(tail -n 20 "$IE_WORK/err.txt")"
grep -q "The server is left in the rescue system" "$IE_WORK/err.txt" || fail "the error does not say where the server is: $(tail -n 25 "$IE_WORK/err.txt")"
root_uuid=$(python3 -c 'import json,sys; print([f for f in json.load(open(sys.argv[1]))["plan"]["filesystems"] if f["mountpoint"] == "/"][0]["uuid"])' "$IE_WORK/hosts/web1/plan.json")
python3 - "$IE_WORK/events.jsonl" "$root_uuid" <<-'EOF' || fail "provision's events are wrong"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
steps = [e["phase"] for e in events if e["event"] == "start" and not e.get("remote")]
assert steps[:7] == ["robot", "rescue", "upload", "install", "handover", "reboot", "verify"], steps
assert steps[7:] == ["diagnose", "rescue"], steps
done = [e for e in events if e["phase"] == "diagnose" and e["event"] == "done"]
assert done and done[0]["diagnosis"]["cause"] == "no-carrier", done
# diagnose was told the root by the UUID of the exported plan, it did not have to search
root = done[0]["diagnosis"]["root"]
assert root["uuid"] == sys.argv[2] and root["found_by"] == "uuid", root
robot = [e for e in events if e["phase"] == "robot" and e["event"] == "done"]
assert len(robot) == 2 and all(r["reset"] == "hw" for r in robot), robot
EOF
ok "the system did not come back: the rescue again, diagnose there, the cause (no-carrier) named, exit 1"

grep -q "robot: Robot's rate limit for .* waiting 1 s before asking again" "$IE_WORK/err.txt" ||
	fail "the rate limit was not waited out visibly: $(grep robot: "$IE_WORK/err.txt")"
python3 - "$IE_WORK/events.jsonl" <<-'EOF' || fail "no event says provision waits for Robot's rate limit"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
waits = [e for e in events if e["phase"] == "robot" and e["event"] == "progress" and "wait_seconds" in e]
assert len(waits) == 1 and waits[0]["wait_seconds"] == 1, waits
EOF
ok "Robot's rate limit (403, interval 1 s): waited out with a progress line and event, then on"

robot_get /_fake/log > "$IE_WORK/robot-log.json" || fail "cannot read the stand-in's log"
python3 - "$IE_WORK/robot-log.json" "$(ssh-keygen -l -E md5 -f "$IE_WORK/operator.pub" | awk '{print $2}' | sed 's/^MD5://')" "$main_from" <<-'EOF' ||
import json, sys
log = json.load(open(sys.argv[1]))
assert sum(1 for r in log if (r["method"], r["path"]) == ("POST", "/key")) == 1, log  # registered once, then known
log = log[int(sys.argv[3]):]  # the run that installs
reqs = [(r["method"], r["path"]) for r in log]
assert reqs.count(("POST", "/key")) == 0, reqs           # known from the run before
assert reqs.count(("POST", "/boot/9/rescue")) == 2, reqs  # before the install, for the diagnosis
assert reqs.count(("POST", "/reset/9")) == 2, reqs
acts = [r for r in log if (r["method"], r["path"]) == ("POST", "/boot/9/rescue")]
assert all(sys.argv[2] in json.dumps(a) for a in acts), acts  # the operator's key by its MD5 fingerprint
EOF
	fail "Robot was not asked as it should be: $(cat "$IE_WORK/robot-log.json")"
ok "Robot: the key registered once, the rescue activated with it and the server reset, twice"
grep -q "rescue: host key ssh-ed25519 SHA256:.* verified" "$IE_WORK/err.txt" || fail "the rescue's host key was not verified against Robot's"
! grep -q "trusted on first use" "$IE_WORK/err.txt" || fail "trust on first use although Robot gave the fingerprint"
ok "the rescue's host key verified against Robot's fingerprint"
grep -q "still answers with a host key that is not the rescue's" "$IE_WORK/err.txt" ||
	fail "the system before the reset was not asked again: $(grep rescue: "$IE_WORK/err.txt")"
ok "the system answering before the reset took effect was asked again, not refused"
finish
