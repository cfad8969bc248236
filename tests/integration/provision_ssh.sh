#!/usr/bin/env bash
# provision_ssh.sh: `provision root@HOST` end to end over a real OpenSSH connection (the rescue
# and the installed system are stand-in sshds on the namespace's loopback: provision-env.sh) —
# refusals first (a rescue host key that is not the one given: exit 3 before anything is sent;
# no --yes: the plan shown, exit 3, the disk untouched), then the whole flow with the connection
# dropped in the middle of the install: the install never notices, provision re-attaches without
# showing an event twice, hands over the deploy repository and the new host keys, "reboots" and
# verifies the installed system over SSH pinned to its NEW host key.
IE_NAME=provision
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"
# shellcheck source=tests/integration/lib/provision-env.sh
. "$(dirname "$0")/lib/provision-env.sh"

pe_setup
disk_before=$(ie_disk_sum "$IE_DISK")
decoy_before=$(ie_disk_sum "$IE_DECOY")
mapfile -t args < <(ie_install_args | grep -v -x -e --no-reboot)
common=(--ssh-config "$IE_WORK/ssh_config" --identity "$IE_WORK/operator"
	--remote-dir "$IE_WORK/remote" --rescue-timeout 20 --boot-timeout 60)
target=("root@[127.0.0.1]:$PE_PORT")

# 1. A host key that is not the one the operator named: refused before anything is sent.
ssh-keygen -q -t ed25519 -N '' -f "$IE_WORK/other" || fail "ssh-keygen failed"
rc=0
pe_provision provision "${common[@]}" --rescue-host-key "$(cat "$IE_WORK/other.pub")" --yes "${args[@]}" \
	--out "$IE_WORK/out1" "${target[@]}" > "$IE_WORK/p1.out" 2> "$IE_WORK/p1.err" || rc=$?
[ "$rc" = 3 ] || fail "a wrong rescue host key exited $rc, not 3: $(tail -n 5 "$IE_WORK/p1.err")"
grep -q "this is not the rescue system" "$IE_WORK/p1.err" || fail "the refusal does not say why: $(tail -n 3 "$IE_WORK/p1.err")"
[ ! -e "$IE_WORK/remote" ] || fail "something was sent to a host whose key did not match"
ok "a rescue host key other than --rescue-host-key is refused (exit 3), nothing sent"

# 1b. A host that is not x86_64 Linux (stand-in: a `uname` on the rescue's PATH that answers as
# an ARM machine would): refused before the upload.
printf '#!/bin/sh\necho "Linux aarch64"\n' > "$IE_WORK/rescue-bin/uname"
chmod 0755 "$IE_WORK/rescue-bin/uname"
rc=0
pe_provision provision "${common[@]}" --rescue-host-key "$(cat "$IE_WORK/rescue_host_ed25519.pub")" --yes "${args[@]}" \
	--out "$IE_WORK/out1b" "${target[@]}" > "$IE_WORK/p1b.out" 2> "$IE_WORK/p1b.err" || rc=$?
rm -f "$IE_WORK/rescue-bin/uname"
[ "$rc" = 3 ] || fail "a host that is not x86_64 exited $rc, not 3: $(tail -n 5 "$IE_WORK/p1b.err")"
grep -q "is 'Linux aarch64', not 'Linux x86_64'" "$IE_WORK/p1b.err" ||
	fail "the refusal does not name the machine: $(tail -n 3 "$IE_WORK/p1b.err")"
[ ! -e "$IE_WORK/remote" ] || fail "something was sent to a host that is not x86_64"
ok "a host that is not x86_64 Linux is refused (exit 3), nothing sent"

# 2. Without --yes: the install on the server shows what it would erase and stops (exit 3).
rc=0
pe_provision provision "${common[@]}" --rescue-host-key "$(cat "$IE_WORK/rescue_host_ed25519.pub")" "${args[@]}" \
	--out "$IE_WORK/out2" "${target[@]}" > "$IE_WORK/p2.out" 2> "$IE_WORK/p2.err" || rc=$?
[ "$rc" = 3 ] || fail "provision without --yes exited $rc, not 3: $(tail -n 5 "$IE_WORK/p2.err")"
grep -q "WILL BE ERASED" "$IE_WORK/p2.out" || fail "the disks to erase were not shown: $(cat "$IE_WORK/p2.out")"
[ "$(ie_disk_sum "$IE_DISK")" = "$disk_before" ] || fail "the disk changed without --yes"
ok "without --yes the plan is shown and nothing is written (exit 3)"

# 3. The whole flow; the rescue's host key trusted on first use (with a warning), and the
# connection dropped once the install runs.
pe_provision --events "$IE_WORK/events.jsonl" provision "${common[@]}" --yes "${args[@]}" \
	--out "$IE_WORK/hosts/web1" "${target[@]}" > "$IE_WORK/p3.out" 2> "$IE_WORK/p3.err" &
prov=$!
dropped=no
for _ in $(seq 600); do
	if grep -q '"phase":"fetch","event":"start"' "$IE_WORK/events.jsonl" 2>/dev/null; then
		# Every connection's sshd process (children of the listener) dies: the link is gone.
		pkill -KILL -P "$(cat "$IE_WORK/rescue.pid")" && dropped=yes
		break
	fi
	kill -0 "$prov" 2>/dev/null || break
	sleep 0.1
done
rc=0
wait "$prov" || rc=$?
[ "$rc" = 0 ] || fail "provision exited $rc: $(tail -n 15 "$IE_WORK/p3.err")"
[ "$dropped" = yes ] || fail "the connection was not dropped during the install (test did not run as meant)"
grep -q "trusted on first use" "$IE_WORK/p3.err" || fail "trust on first use was not warned about"

python3 - "$IE_WORK/events.jsonl" <<-'EOF' || fail "provision's events are wrong"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
steps = [e["phase"] for e in events if e["event"] == "start" and not e.get("remote")]
assert steps == ["rescue", "upload", "install", "handover", "reboot", "verify"], steps
remote = [e["phase"] for e in events if e["event"] == "start" and e.get("remote")]
phases = ["detect", "plan", "confirm", "fetch", "render", "build", "teardown", "wipe", "partition",
          "raid", "format", "mount", "install", "handover"]
# confirm runs before the detach (its events stay in the file); every phase exactly once
assert remote == phases, remote
assert any(e["event"] == "reconnect" for e in events), "no reconnect event"
assert events[-1]["phase"] == "provision" and events[-1]["event"] == "done", events[-1]
assert all(e.get("host") for e in events), "an event without its host"
EOF
ok "the flow's steps and the remote install's phases arrive once each, across a dropped connection"

out="$IE_WORK/hosts/web1"
for f in hardware-configuration.nix configuration.nix flake.nix flake.lock nixpkgs.nix plan.json report.json; do
	[ -s "$out/$f" ] || fail "the hand-over lacks $f"
done
# The known_hosts line is the key the install made on the disk (read from the disk here).
mkdir -p "$IE_WORK/check"
mount -o ro "${IE_DISK}p4" "$IE_WORK/check" || fail "cannot mount the installed root"
disk_key=$(cut -d' ' -f1,2 "$IE_WORK/check/etc/ssh/ssh_host_ed25519_key.pub")
umount "$IE_WORK/check"
grep -qF "[127.0.0.1]:$PE_PORT $disk_key" "$out/known_hosts" || fail "known_hosts lacks the new host key: $(cat "$out/known_hosts")"
# The age recipient of that key, as an independent implementation derives it.
printf '%s\n' "$disk_key" > "$IE_WORK/disk_key.pub"
age=$(python3 "$NMMM_SRC/tests/tools/age_recipient.py" "$IE_WORK/disk_key.pub")
grep -qx "Age recipient of the host (agenix, sops-nix): $age" "$IE_WORK/p3.out" ||
	fail "the age recipient of the new host key ($age) is not printed: $(cat "$IE_WORK/p3.out")"
grep -qF "export NIX_SSHOPTS='-o UserKnownHostsFile=$out/known_hosts -p $PE_PORT'" "$IE_WORK/p3.out" &&
	grep -qF "nixos-rebuild switch --flake $out#web1 --target-host root@127.0.0.1" "$IE_WORK/p3.out" ||
	fail "the first deploy command is not printed: $(tail -n 8 "$IE_WORK/p3.out")"
grep -q "NixOS is up on" "$IE_WORK/p3.out" || fail "the verification did not report"
[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy disk changed"
ok "hand-over: the deploy repository, known_hosts with the new key, the age recipient, the deploy command"
ok "verify: the installed system answered with its new host key and runs the installed profile"

# 4. Without Robot, a system that never comes back: provision says how to look (it cannot put the
# server into the rescue itself), naming diagnose with the root's UUID, and exits 1.
[ -s "$IE_WORK/booted.pid" ] && kill "$(cat "$IE_WORK/booted.pid")"
PE_BOOT=pe_boot_nothing
pe_make_rescue_bin
pe_start_rescue || fail "the rescue's sshd did not start again"
rc=0
pe_provision provision "${common[@]}" --boot-timeout 5 --yes "${args[@]}" --out "$IE_WORK/hosts/web1" \
	"${target[@]}" > "$IE_WORK/p4.out" 2> "$IE_WORK/p4.err" || rc=$?
[ "$rc" = 1 ] || fail "a system that never answers exited $rc, not 1: $(tail -n 5 "$IE_WORK/p4.err")"
root_uuid=$(python3 -c 'import json,sys; print([f for f in json.load(open(sys.argv[1]))["plan"]["filesystems"] if f["mountpoint"] == "/"][0]["uuid"])' "$out/plan.json")
grep -q "did not come back as the installed system within 5 s" "$IE_WORK/p4.err" &&
	grep -qF "ssh -p $PE_PORT root@127.0.0.1 /root/nmmm-agent diagnose --root-uuid $root_uuid" "$IE_WORK/p4.err" ||
	fail "no way to find out why was shown: $(tail -n 12 "$IE_WORK/p4.err" | tr "\n" "|")"
ok "without Robot, a system that does not come back: exit 1 and how to diagnose it by hand"
finish
