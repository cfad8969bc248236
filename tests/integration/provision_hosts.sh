#!/usr/bin/env bash
# provision_hosts.sh: `provision --hosts FILE -j 2` runs one provisioning per entry at once: a
# server that installs (the rescue and the installed system are the stand-in sshds of
# provision-env.sh) beside one where no SSH ever answers. The second failing does not stop the
# first; the summary table lists both with their results and exit codes; the events of both
# arrive in one stream, each with its host; exit 1 because one failed. An entry with an unknown
# field is refused before anything runs.
IE_NAME=provhosts
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"
# shellcheck source=tests/integration/lib/provision-env.sh
. "$(dirname "$0")/lib/provision-env.sh"

pe_setup
# A port where nothing listens: the second server never answers.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ie_install_args | grep -v -x -e --no-reboot > "$IE_WORK/install-args"
python3 - "$IE_WORK" "$PE_PORT" "$dead_port" <<-'PY'
import json, sys
work, port, dead = sys.argv[1:4]
args = [l.rstrip("\n") for l in open(f"{work}/install-args")]
hosts = [
    {"host": f"root@[127.0.0.1]:{port}", "out": f"{work}/hosts/web1", "args": ["--yes"] + args},
    {"host": f"root@[127.0.0.1]:{dead}", "out": f"{work}/hosts/web2",
     "args": ["--yes", "--hostname", "web2", "--rescue-timeout", "3"]},
]
json.dump(hosts, open(f"{work}/hosts.json", "w"), indent=1)
json.dump([{"host": "root@x", "robot-server": 1}], open(f"{work}/typo.json", "w"))
PY

rc=0
pe_provision provision --hosts "$IE_WORK/typo.json" > "$IE_WORK/typo.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "unknown field 'robot-server'" "$IE_WORK/typo.out" ||
	fail "an entry with an unknown field: exit $rc, $(cat "$IE_WORK/typo.out")"
ok "an entry with an unknown field is refused (exit 2) before anything runs"

rc=0
pe_provision --events "$IE_WORK/events.jsonl" provision --hosts "$IE_WORK/hosts.json" -j 2 \
	--ssh-config "$IE_WORK/ssh_config" --identity "$IE_WORK/operator" --remote-dir "$IE_WORK/remote" \
	--boot-timeout 60 > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || rc=$?
[ "$rc" = 1 ] || fail "provision --hosts with one server failing exited $rc, not 1: $(tail -n 20 "$IE_WORK/err.txt")"
grep -qE "^root@\[127.0.0.1\]:$PE_PORT +installed +[0-9]+s +0$" "$IE_WORK/out.txt" &&
	grep -qE "^root@\[127.0.0.1\]:$dead_port +failed +[0-9]+s +1$" "$IE_WORK/out.txt" ||
	fail "the summary table: $(cat "$IE_WORK/out.txt")"
grep -q "1 of 2 servers failed" "$IE_WORK/err.txt" || fail "the error does not count the failures: $(tail -n 3 "$IE_WORK/err.txt")"
python3 - "$IE_WORK/events.jsonl" "$PE_PORT" "$dead_port" <<-'PY' || fail "the events of the two runs are wrong"
import json, sys
port, dead = sys.argv[2:4]
events = [json.loads(l) for l in open(sys.argv[1])]
# every event under the entry's name (the table's); the child's own address as "target"
ok = [e for e in events if e.get("host") == f"root@[127.0.0.1]:{port}"]
bad = [e for e in events if e.get("host") == f"root@[127.0.0.1]:{dead}"]
assert ok and bad and len(ok) + len(bad) == len(events), {e.get("host") for e in events}
assert all(e.get("target") == f"root@127.0.0.1:{port}" for e in ok), {e.get("target") for e in ok}
assert all(e.get("target") == f"root@127.0.0.1:{dead}" for e in bad), {e.get("target") for e in bad}
assert ok[-1]["phase"] == "provision" and ok[-1]["event"] == "done", ok[-1]
assert [e["event"] for e in bad if e["phase"] == "rescue"][-1] != "done", bad
# both ran at once: the failing one ended while the other was still installing
first_bad_end = max(e["ts"] for e in bad)
assert first_bad_end < ok[-1]["ts"], "the runs did not overlap"
PY
[ -s "$IE_WORK/hosts/web1/report.json" ] || fail "the server that installed has no hand-over"
ok "one server installed while the other failed; the table, the exit code and the events say which"
finish
