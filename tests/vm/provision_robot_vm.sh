#!/usr/bin/env bash
# tests/vm/provision_robot_vm.sh: `nmmm-agent provision --robot-server N` from the host against the
# simulated rescue in QEMU. Robot is its loopback stand-in (tests/httpd/robot_fake.py: Robot cannot
# be reached from tests); the server is a stand-in machine, a loop here that models Hetzner's
# hardware: each power-on boots the VM (scripts/rescue-vm --serve, the same NVMe disk kept
# between boots, BIOS) into the rescue when Robot's rescue is active for the server (that boot
# ends the activation), else into the installed system; Robot's reset cuts QEMU's power (SIGTERM)
# and the loop powers on again; a `reboot` in the guest ends QEMU (-no-reboot) and the loop powers
# on again. The rescue answers on SSH through a QEMU hostfwd on 127.0.0.1 only (restrict=on stays),
# with a host key made here and handed to Robot's stand-in as its fingerprint. The installed NixOS
# cannot boot here: its stand-in is rescue-vm.d/installed.sh (the root by its rendered UUID, the
# installed host keys, a real journald on the installed /var/log/journal).
# Run 1: provision exits 0; Robot saw the key registered, the rescue activated with its MD5
# fingerprint and one reset; the out dir holds the export and known_hosts with the key the
# installed system answers with; the steps in order. Run 2: the installed boot loses its uplink's
# carrier (the loop sets QEMU's link down once the stand-in has brought it up: a pulled cable, the
# kernel's "Link is Down" in the journal); provision waits --boot-timeout, goes back into the
# rescue through Robot, diagnoses there: exit 1 with no-carrier named. Provision's own overhead and
# the binary's upload time are printed from its events (docs/benchmarks.md).
# Env: NMMM_STATIC_AGENT (default build-static/nmmm-agent; provision uploads itself, so the binary
# must run in the guest too), NMMM_KEEP=1 keeps the work directory.
# shellcheck disable=SC2154 # vm_src: set by lib/host.sh
set -euo pipefail
. "$(dirname "$0")/lib/host.sh"
. "$(dirname "$0")/lib/install.sh"
# shellcheck source=tests/lib/report.sh
. "$vm_src/tests/lib/report.sh"
[ "$(id -u)" = 0 ] || skip "run as root (the rescue image is built with debootstrap)"
agent=${NMMM_STATIC_AGENT:-$vm_src/build-static/nmmm-agent}
[ -x "$agent" ] || fail "$agent missing; run scripts/build-static (or set NMMM_STATIC_AGENT)"
file -b "$agent" | grep -q 'statically linked' || fail "$agent is not statically linked"
# One disk: the flow and the diagnosis do not depend on RAID (the other scenarios prove the
# arrays), and without md the install has no resync, which once stalled an install here under
# TCG (docs/vm-scenarios.md).
server=9 disks=nvme:6G:PROV-A
W=$(mktemp -d "${TMPDIR:-/var/tmp}/nmmm-vm-prov.XXXXXX")
report_context() {
  local f
  [ -z "${context_shown:-}" ] || return 0
  context_shown=1
  for f in "$W"/err-*.txt; do [ -s "$f" ] && tail -n 15 "$f" | sed "s|^|  ${f##*/}: |"; done
  [ ! -s "$W/boots" ] || sed 's/^/  boots: /' "$W/boots"
  f=$(find "$W" -maxdepth 1 -name 'console-*.log' | sort -V | tail -n1)
  [ -z "$f" ] || tail -n 25 "$f" | sed "s|^|  ${f##*/}: |"
  return 0
}

# ---- keys, channel, Robot's stand-in ----
ssh-keygen -q -t ed25519 -N '' -C operator@laptop -f "$W/operator"
ssh-keygen -q -t ed25519 -N '' -C root@rescue -f "$W/rescue_host"
mkdir -p "$W/home/.ssh" "$W/disks"
cp "$W/operator.pub" "$W/home/.ssh/id_ed25519.pub" # where provision finds the operator's key
: >"$W/ssh_config"
md5_of() { ssh-keygen -l -E md5 -f "$1" | awk '{print $2}' | sed 's/^MD5://'; }
rescue_md5=$(md5_of "$W/rescue_host.pub")
operator_md5=$(md5_of "$W/operator.pub")
vm_channel_tarball "$W"
nar=$(cat "$W/nixexprs.nar")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$secret" >"$W/robot-password"
chmod 0600 "$W/robot-password"
# Robot's reset: the reset button — whatever runs loses its power; the machine loop powers on.
cat >"$W/reset.sh" <<EOF
#!/bin/sh
touch "$W/powered"
[ ! -s "$W/qemu.pid" ] || kill "\$(cat "$W/qemu.pid")" 2>/dev/null
exit 0
EOF
ROBOT_FAKE_USER='#ws+test' ROBOT_FAKE_PASSWORD="@$W/robot-password" python3 "$vm_src/tests/httpd/robot_fake.py" \
  --port-file "$W/robot-port" --server "$server" --reset-types hw,man --rescue-host-key-fp "$rescue_md5" \
  --rescue-until-boot --on-reset "sh $W/reset.sh" >"$W/robot.log" 2>&1 &
robot_pid=$!
for _ in $(seq 100); do [ -s "$W/robot-port" ] && break; sleep 0.1; done
[ -s "$W/robot-port" ] || fail "the Robot stand-in did not start: $(cat "$W/robot.log")"
robot_url=http://127.0.0.1:$(cat "$W/robot-port")

# ---- the machine ----
# What the stand-in for the installed system's boot gets: the root's UUID (and the host name) from
# the plan.json the current provision run exported.
installed_env() {
  local plan
  plan=$(cat "$W/out-dir" 2>/dev/null)/plan.json
  echo "NMMM_ROOT_UUID=$(jq -r '.plan.filesystems[] | select(.mountpoint == "/") | .uuid' "$plan" 2>/dev/null)"
  echo "NMMM_HOSTNAME=$(jq -r '.hostname // "installed"' "$plan" 2>/dev/null)"
}

# The switch port goes dark once the installed system has its link (run 2 only): QEMU's monitor.
pull_link_when_up() {
  local console=$1
  for _ in $(seq 1200); do
    grep -q '^NMMM-INSTALLED-LINK' "$console" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^NMMM-INSTALLED-LINK' "$console" && [ -S "$W/monitor.sock" ] ||
    { echo "link never up, not pulled $(date +%s.%N)" >>"$W/boots"; return 0; }
  python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"set_link uplink off\n"); time.sleep(0.5)' \
    "$W/monitor.sock" >/dev/null && echo "link pulled $(date +%s.%N)" >>"$W/boots"
}

machine() {
  local n=0 mode args
  # Off until Robot's first reset (what ran before is not modelled).
  until [ -e "$W/powered" ] || [ -e "$W/stop" ]; do sleep 0.2; done
  while [ ! -e "$W/stop" ]; do
    n=$((n + 1))
    mode=installed
    [ "$(curl -sS -X POST -d "server=$server" "$robot_url/_fake/boot" | jq -r .rescue)" != true ] || mode=rescue
    echo "$n $mode $(date +%s.%N)" >>"$W/boots"
    # e1000, not the default e1000e: QEMU 7.2's e1000e does not pass set_link's state on to the
    # Linux guest (QEMU drops the packets, the guest's carrier stays 1); e1000's driver sees it.
    args=(--serve --ssh-forward "$port" --keep "$W/disks" --disks "$disks" --nic e1000@1f.6 --mem 2048 --agent "$agent"
      --pidfile "$W/qemu.pid" --boot "$n" --timeout 1200)
    if [ $mode = rescue ]; then
      args+=(--file "$W/rescue_host:ssh/ssh_host_ed25519_key" --file "$W/operator.pub:ssh/authorized_keys"
        --file "$W/nixexprs.tar.xz" --file "$W/nixexprs.nar")
    else
      installed_env >"$W/installed.env"
      args+=(--installed --file "$W/installed.env" --monitor "$W/monitor.sock")
    fi
    "$vm_src/scripts/rescue-vm" "${args[@]}" >"$W/console-$n.log" 2>&1 &
    [ $mode = rescue ] || [ ! -e "$W/pull-link" ] || pull_link_when_up "$W/console-$n.log"
    wait "$!" || true
    echo "$n off $(date +%s.%N)" >>"$W/boots"
  done
}
machine &
machine_pid=$!

cleanup() {
  touch "$W/stop"
  [ ! -s "$W/qemu.pid" ] || kill "$(cat "$W/qemu.pid")" 2>/dev/null || true
  wait "$machine_pid" 2>/dev/null || true
  kill "$robot_pid" 2>/dev/null || true
  wait "$robot_pid" 2>/dev/null || true
  [ -n "${NMMM_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT

# provision as the operator runs it: their key, an empty ssh config, no agent, Robot's credentials
# in the environment. Run N writes out-N/, events-N.jsonl, out-N.txt, err-N.txt; sets $rc.
provision() {
  local n=$1
  shift
  echo "$W/out-$n" >"$W/out-dir"
  rc=0
  timeout 1500 env -u SSH_AUTH_SOCK HOME="$W/home" NMMM_ROBOT_USER='#ws+test' NMMM_ROBOT_PASSWORD="$secret" \
    "$agent" --events "$W/events-$n.jsonl" provision --robot-server "$server" --robot-url "$robot_url" --yes \
    --disks serial:PROV-A --hostname web1 --nix-from-path --substituters '' \
    --nixpkgs file:///nmmm/nixexprs.tar.xz --nixpkgs-hash "$nar" \
    --ssh-config "$W/ssh_config" --identity "$W/operator" --rescue-timeout 300 "$@" \
    --out "$W/out-$n" "root@[127.0.0.1]:$port" >"$W/out-$n.txt" 2>"$W/err-$n.txt" || rc=$?
}
robot_log() { curl -sS "$robot_url/_fake/log"; }
# The steps provision started (its own, not the remote install's), in order.
steps() { jq -r 'select(.event == "start" and (.remote | not)) | .phase' "$1" | paste -sd' '; }

report_counting
t0=$SECONDS
# ---- run 1: the whole flow ----
provision 1 --boot-timeout 300
[ "$rc" = 0 ] && ok "run 1: provision exited 0 ($((SECONDS - t0)) s)" || fail "run 1: provision exited $rc"
got=$(steps "$W/events-1.jsonl")
[ "$got" = "robot rescue upload install handover reboot verify" ] && ok "run 1 steps: $got" ||
  fail "run 1 steps: '$got'"
[ "$(jq -r 'select(.event == "done") | .phase' "$W/events-1.jsonl" | tail -n1)" = provision ] &&
  ok "run 1 ends with 'provision done'" || fail "run 1 does not end with 'provision done'"
robot_log >"$W/robot-log-1.json"
python3 - "$W/robot-log-1.json" "$operator_md5" "$server" <<'EOF' && ok "Robot: the key registered, the rescue activated with its MD5 fingerprint, one reset" || fail "Robot was not asked as it should be: $(cat "$W/robot-log-1.json")"
import json, sys
log, md5, n = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
reqs = [(r["method"], r["path"]) for r in log]
assert reqs.count(("POST", "/key")) == 1, reqs
acts = [r for r in log if (r["method"], r["path"]) == ("POST", "/boot/%s/rescue" % n)]
assert len(acts) == 1 and acts[0]["authorized_key"] == [md5] and acts[0]["status"] == 200, acts
resets = [r for r in log if (r["method"], r["path"]) == ("POST", "/reset/%s" % n)]
assert len(resets) == 1 and ["type", "hw"] in resets[0]["form"], resets
EOF
missing=''
for f in configuration.nix hardware-configuration.nix flake.nix flake.lock nixpkgs.nix plan.json report.json known_hosts; do
  [ -s "$W/out-1/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "run 1: the export and known_hosts are in the out dir" || fail "run 1: not in the out dir:$missing"
# The key the installed system answers with now (the machine stays in it) is the one pinned.
{ ssh-keyscan -t ed25519 -p "$port" 127.0.0.1 2>/dev/null || true; } | awk '{print $2, $3}' >"$W/answering-key"
if [ -s "$W/answering-key" ] && grep -qF "$(cat "$W/answering-key")" "$W/out-1/known_hosts"; then
  ok "known_hosts holds the key the installed system answers with ($(cut -c1-40 "$W/answering-key")...)"
else
  fail "the installed system answers with '$(cat "$W/answering-key")', not in known_hosts: $(cat "$W/out-1/known_hosts")"
fi
grep -qF "$(awk '{print $2}' "$W/rescue_host.pub")" "$W/out-1/known_hosts" && fail "the rescue's key is in known_hosts" ||
  ok "the rescue's key is not in known_hosts"
boots=$(awk '$2 == "rescue" || $2 == "installed" {print $2}' "$W/boots" | paste -sd' ')
[ "$boots" = "rescue installed" ] && ok "run 1 boots: $boots" || fail "run 1 boots: '$boots'"

# Provision's own time: its wall time minus the rescue's boot (Robot's reset to the rescue's SSH
# verified), the remote install, and the installed system's boot (the reboot to verify's end).
python3 - "$W/events-1.jsonl" <<'EOF' | tee "$W/timing"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
own = [e for e in ev if not e.get("remote")]
def ts(phase, event):
    return next(e["ts"] for e in own if e["phase"] == phase and e["event"] == event)
total = ts("provision", "done") - ts("robot", "start")
rescue_boot = ts("rescue", "done") - ts("robot", "done")
install = ts("install", "done") - ts("install", "start")
boot = ts("verify", "done") - ts("reboot", "start")
upload = ts("upload", "done") - ts("upload", "start")
print("provision: total %.1f s, rescue boot %.1f s, install %.1f s, installed boot %.1f s, "
      "own overhead %.1f s, upload %.2f s" % (total, rescue_boot, install, boot,
                                               total - rescue_boot - install - boot, upload))
EOF

# ---- run 2: the installed system loses its uplink's carrier ----
t1=$SECONDS
touch "$W/pull-link"
provision 2 --boot-timeout 60
[ "$rc" = 1 ] && ok "run 2: provision exited 1 ($((SECONDS - t1)) s)" || fail "run 2: provision exited $rc, not 1"
grep -q 'no-carrier' "$W/err-2.txt" && ok "run 2: the cause is named: $(grep -o 'no-carrier[^.]*' "$W/err-2.txt" | tail -n1)" ||
  fail "run 2: no-carrier not named: $(tail -n 20 "$W/err-2.txt")"
grep -q 'The server is left in the rescue system' "$W/err-2.txt" && ok "run 2: the server is left in the rescue" ||
  fail "run 2: the error does not say where the server is"
got=$(steps "$W/events-2.jsonl")
[ "$got" = "robot rescue upload install handover reboot verify diagnose rescue" ] && ok "run 2 steps: $got" ||
  fail "run 2 steps: '$got'"
[ "$(jq -r 'select(.phase == "diagnose" and .event == "done") | .diagnosis.cause' "$W/events-2.jsonl")" = no-carrier ] &&
  ok "run 2: the diagnose event's cause is no-carrier" || fail "run 2: the diagnose event: $(jq -c 'select(.phase == "diagnose")' "$W/events-2.jsonl")"
jq -r 'select(.phase == "diagnose" and .event == "done") | .diagnosis.findings[0].evidence[] | .text' "$W/events-2.jsonl" |
  grep -q 'Link is Down' && ok "run 2: the evidence holds the failed boot's kernel line 'Link is Down'" ||
  fail "run 2: no 'Link is Down' in the evidence"
robot_log >"$W/robot-log-2.json"
[ "$(jq '[.[] | select(.method == "POST" and (.path | startswith("/reset/")))] | length' "$W/robot-log-2.json")" = 3 ] &&
  ok "Robot: three resets in all (run 1, run 2, the diagnosis)" || fail "Robot resets: $(jq -c '[.[] | .path]' "$W/robot-log-2.json")"
boots=$(awk '$2 == "rescue" || $2 == "installed" {print $2}' "$W/boots" | paste -sd' ')
[ "$boots" = "rescue installed rescue installed rescue" ] && ok "boots: $boots" || fail "boots: '$boots'"
! grep -rqF "$secret" "$W"/out-*.txt "$W"/err-*.txt "$W"/events-*.jsonl && ok "Robot's password in no output or event" ||
  fail "Robot's password in provision's output or events"
echo "provision_robot_vm: $((SECONDS - t0)) s in all (run 1 $((t1 - t0)) s, run 2 $((SECONDS - t1)) s)"
finish
