#!/usr/bin/env bash
# remote_ssh.sh: the remote library (remote/remote.h, driven by tests/tools/remote_call.c) against a
# real sshd in a network namespace of its own (tests/integration/lib/sshd.sh): the host keys
# ssh-keyscan sees and their fingerprints as ssh-keygen computes them; a session pinned to the
# right keys runs commands and returns their output and status; pinned to a wrong key it is refused
# (exit 3) before anything runs, whatever the operator's known_hosts says; a 5 MiB upload arrives
# whole and checked, and a copy that arrives changed is refused (exit 4) and never lands; a long
# command's lines arrive while it runs; a connection killed mid-command is ECONNRESET and the
# session reconnects; hostile words reach the remote program byte for byte; the wait for the SSH
# banner; known_hosts lines a real ssh accepts.
set -euo pipefail

: "${NMMM_REMOTE_CALL:?set NMMM_REMOTE_CALL to the remote-call test tool}"
here=$(dirname "$0")
# shellcheck source=tests/lib/report.sh
source "$here/../lib/report.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespace, sshd)"
# shellcheck source=tests/integration/lib/sshd.sh
source "$here/lib/sshd.sh"

T=$(mktemp -d /tmp/nmmm-remote-ssh.XXXXXX)
cleanup() {
	sshd_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
report_context() {
	echo "--- remote-call stderr:"
	cat "$T/err" 2>/dev/null || true
	echo "--- sshd log (tail):"
	tail -n 20 "$SSHD_DIR"/sshd.*.log 2>/dev/null || true
}

sshd_setup
# 22: the plain server; 2222: the same server, but a remote whose storage changes what it is
# given — a stand-in for a corrupted transfer, which cannot be made to happen on loopback: every
# command runs with a `cat` first on PATH that adds a byte to what it copies.
mkdir "$T/corrupt-bin"
printf '#!/bin/sh\n/bin/cat "$@" && printf X\n' >"$T/corrupt-bin/cat"
printf '#!/bin/sh\nPATH=%s:/usr/bin:/bin exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n' "$T/corrupt-bin" >"$T/corrupt-shell"
chmod 755 "$T/corrupt-bin/cat" "$T/corrupt-shell"
sshd_start main 22 2222 -- "Match LocalPort 2222" "  ForceCommand $T/corrupt-shell" || fail "sshd did not start"

call() { in_ns "$NMMM_REMOTE_CALL" "$@"; }
# session TARGET PINS STEP...: a session with the test client's ssh_config; stdout to $T/out,
# stderr to $T/err; prints the exit code
session() {
	local rc=0
	call session --config "$SSHD_CLIENT_CONFIG" "$@" >"$T/out" 2>"$T/err" || rc=$?
	echo "$rc"
}
expect_err() { grep -qF -- "$1" "$T/err" || { fail "stderr lacks '$1'"; return 1; }; }

# ---- host keys ----
keyscan_matches_ssh_keygen() {
	call keyscan root@127.0.0.1 >"$T/scan" 2>"$T/err" || return 1
	[ "$(wc -l <"$T/scan")" = 3 ] || { fail "keyscan: $(cat "$T/scan")"; return 1; }
	local pub type md5 sha
	for pub in "$SSHD_HOSTKEY_ED25519" "$SSHD_HOSTKEY_ECDSA" "$SSHD_HOSTKEY_RSA"; do
		type=$(cut -d' ' -f1 "$pub")
		md5=$(ssh-keygen -l -E md5 -f "$pub" | cut -d' ' -f2)
		sha=$(ssh-keygen -l -E sha256 -f "$pub" | cut -d' ' -f2)
		grep -qxF "$type ${md5#MD5:} $sha $(cut -d' ' -f2 "$pub")" "$T/scan" ||
			{ fail "$type: want ${md5#MD5:} $sha in: $(cat "$T/scan")"; return 1; }
		[ "$(call fingerprint "$pub" 2>/dev/null)" = "$type ${md5#MD5:} $sha" ] || { fail "fingerprint $pub"; return 1; }
	done
	# the same keys (in the order the answers came) over IPv6 and on the other port
	call keyscan 'root@[::1]' >"$T/scan6" 2>>"$T/err" && call keyscan 'root@[::1]:2222' >"$T/scan6p" 2>>"$T/err" &&
		diff <(sort "$T/scan") <(sort "$T/scan6") && diff <(sort "$T/scan") <(sort "$T/scan6p")
}
check keyscan_fingerprints_equal_ssh_keygen keyscan_matches_ssh_keygen

keyscan_of_nothing_fails() {
	[ "$(call keyscan root@127.0.0.1:2999 2 >/dev/null 2>"$T/err"; echo $?)" = 1 ] &&
		expect_err "ssh-keyscan got no host key from 127.0.0.1 port 2999"
}
check keyscan_of_a_closed_port_is_an_error keyscan_of_nothing_fails

# ---- sessions ----
runs_with_output_and_status() {
	[ "$(session root@127.0.0.1 "$SSHD_PINS" run 3 sh -c 'echo out; echo err >&2; hostname >/dev/null')" = 0 ] &&
		[ "$(cat "$T/out")" = "$(printf 'out\nerr')" ] || { fail "run: $(cat "$T/out")"; return 1; }
	[ "$(session root@127.0.0.1 "$SSHD_PINS" allow 3 sh -c 'echo seven; exit 7')" = 0 ] && expect_err "allow: exit 7" &&
		[ "$(session root@127.0.0.1 "$SSHD_PINS" run 3 sh -c 'echo seven; exit 7')" = 1 ] &&
		expect_err "run: runtime EIO: root@127.0.0.1: 'sh' '-c' 'echo seven; exit 7' exited with status 7: seven" &&
		# a command's own exit 255 with the connection up is not a lost connection
		[ "$(session root@127.0.0.1 "$SSHD_PINS" run 3 sh -c 'exit 255')" = 1 ] && expect_err "runtime EIO" &&
		expect_err "exited with status 255"
}
check session_runs_commands_with_output_and_status runs_with_output_and_status

# pinned to the ed25519 key alone, over IPv6, port given, and with only one of its keys known
one_key_pinned() {
	[ "$(session 'root@[::1]:22' "$SSHD_HOSTKEY_ED25519" run 2 echo v6 check)" = 0 ] && [ "$(cat "$T/out")" = v6 ] &&
		[ "$(session root@127.0.0.1 "$SSHD_HOSTKEY_RSA" run 2 echo rsa)" = 0 ] && [ "$(cat "$T/out")" = rsa ]
}
check session_pinned_to_one_key_of_several one_key_pinned

wrong_key_refused() {
	ssh-keygen -q -t ed25519 -N '' -C wrong -f "$T/wrong"
	# the operator's known_hosts holds the host's real keys: it must not count
	sed 's/^/127.0.0.1 /' "$SSHD_PINS" >"$SSHD_DIR/operator_known_hosts"
	local want_host want_pin
	want_host=$(ssh-keygen -l -E sha256 -f "$SSHD_HOSTKEY_ED25519" | cut -d' ' -f2)
	want_pin=$(ssh-keygen -l -E sha256 -f "$T/wrong.pub" | cut -d' ' -f2)
	[ "$(session root@127.0.0.1 "$T/wrong.pub" run 2 touch "$T/ran")" = 3 ] || { fail "not refused"; return 1; }
	expect_err "open: refused EKEYREJECTED: root@127.0.0.1: the host's key is not the pinned one" &&
		expect_err "pinned: $want_pin; the host showed $want_host" || return 1
	[ ! -e "$T/ran" ] || { fail "the command ran on a host with the wrong key"; return 1; }
	# a wrong key of a type the host has but that differs: the same refusal, naming the ECDSA key shown
	ssh-keygen -q -t ecdsa -N '' -C wrong -f "$T/wrong-ecdsa"
	[ "$(session root@127.0.0.1 "$T/wrong-ecdsa.pub" run 2 touch "$T/ran")" = 3 ] &&
		expect_err "the host showed $(ssh-keygen -l -E sha256 -f "$SSHD_HOSTKEY_ECDSA" | cut -d' ' -f2)" &&
		[ ! -e "$T/ran" ] || return 1
	# and the other way round: a wrong key in the operator's file does not stop the pinned session
	sed 's/^/127.0.0.1 /' "$T/wrong.pub" >"$SSHD_DIR/operator_known_hosts"
	[ "$(session root@127.0.0.1 "$SSHD_PINS" run 2 touch "$T/ran2")" = 0 ] && [ -e "$T/ran2" ]
	: >"$SSHD_DIR/operator_known_hosts"
}
check wrong_pinned_key_is_refused_before_anything_runs wrong_key_refused

# ---- uploads ----
upload_verified() {
	head -c $((5 << 20)) /dev/urandom >"$T/agent.bin"
	mkdir -p "$T/remote"
	[ "$(session root@127.0.0.1 "$SSHD_PINS" upload "$T/agent.bin" "$T/remote/nmmm-agent" 755)" = 0 ] || return 1
	cmp "$T/agent.bin" "$T/remote/nmmm-agent" || { fail "the uploaded bytes differ"; return 1; }
	[ "$(stat -c %a "$T/remote/nmmm-agent")" = 755 ] || { fail "mode $(stat -c %a "$T/remote/nmmm-agent")"; return 1; }
	[ "$(find "$T/remote" -name '*.nmmm-*' | wc -l)" = 0 ] || { fail "a temporary was left"; return 1; }
	# a second upload replaces the first
	head -c 1000 /dev/urandom >"$T/small.bin"
	[ "$(session root@127.0.0.1 "$SSHD_PINS" upload "$T/small.bin" "$T/remote/nmmm-agent" 700)" = 0 ] &&
		cmp "$T/small.bin" "$T/remote/nmmm-agent" && [ "$(stat -c %a "$T/remote/nmmm-agent")" = 700 ]
}
check upload_of_5_MiB_arrives_whole_with_its_mode upload_verified

upload_mismatch() {
	local want got
	want=$(sha256sum <"$T/agent.bin" | cut -d' ' -f1)
	got=$( (cat "$T/agent.bin"; printf X) | sha256sum | cut -d' ' -f1)
	[ "$(session root@127.0.0.1:2222 "$SSHD_PINS" upload "$T/agent.bin" "$T/remote/changed" 755)" = 4 ] ||
		{ fail "a changed copy was not refused"; return 1; }
	expect_err "upload: verification EBADMSG: upload of $T/agent.bin to $T/remote/changed: the remote copy's SHA-256 is $got, the local file's is $want" || return 1
	[ ! -e "$T/remote/changed" ] || { fail "the changed copy landed"; return 1; }
	[ "$(find "$T/remote" -name '*.nmmm-*' | wc -l)" = 0 ] || { fail "a temporary was left"; return 1; }
}
check upload_changed_on_the_way_is_refused_and_removed upload_mismatch

upload_into_a_new_directory() {
	[ "$(session root@127.0.0.1 "$SSHD_PINS" upload "$T/small.bin" "$T/new-dir/deeper/agent" 755)" = 0 ] ||
		return 1
	cmp "$T/small.bin" "$T/new-dir/deeper/agent" || { fail "the uploaded bytes differ"; return 1; }
	[ "$(stat -c %a "$T/new-dir/deeper")" = 700 ] || { fail "directory mode $(stat -c %a "$T/new-dir/deeper")"; return 1; }
	[ "$(stat -c %a "$T/new-dir")" = 700 ] || { fail "parent mode $(stat -c %a "$T/new-dir")"; return 1; }
}
check upload_makes_its_missing_directory_0700 upload_into_a_new_directory

upload_into_nowhere() {
	# a regular file where the directory would be: it cannot be made
	: >"$T/a-file"
	[ "$(session root@127.0.0.1 "$SSHD_PINS" upload "$T/small.bin" "$T/a-file/agent" 755)" = 1 ] &&
		expect_err "upload of $T/small.bin to $T/a-file/agent" &&
		expect_err "Check that its directory can be made there and has room"
}
check upload_where_no_directory_can_be_made_fails upload_into_nowhere

# ---- following a long command ----
follow_live() {
	[ "$(session root@127.0.0.1 "$SSHD_PINS" follow 3 sh -c 'for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.5; done')" = 0 ] ||
		return 1
	python3 - "$T/out" <<-'PY'
		import sys
		rows = [l.split(" ", 1) for l in open(sys.argv[1]).read().splitlines()]
		end = int(rows[-1][1]) if rows[-1][0] == "end" else None
		lines = [(int(t), text) for t, text in rows[:-1]]
		assert end is not None, rows
		assert [t for _, t in lines] == [f"line {i}" for i in range(1, 7)], lines
		# each line came when it was printed, ~0.5 s apart, the first ~2.5 s before the end
		assert end - lines[0][0] >= 2000, (lines, end)
		gaps = [b[0] - a[0] for a, b in zip(lines, lines[1:])]
		assert all(g >= 300 for g in gaps), gaps
	PY
}
check follow_delivers_lines_while_the_command_runs follow_live

drop_then_reconnect() {
	: >"$T/out"
	in_ns "$NMMM_REMOTE_CALL" session --config "$SSHD_CLIENT_CONFIG" --keep-going root@127.0.0.1 "$SSHD_PINS" \
		follow 3 sh -c 'i=0; while [ $i -lt 60 ]; do echo "tick $i"; i=$((i+1)); sleep 0.5; done' \
		reconnect run 2 echo back >"$T/out" 2>"$T/err" &
	local pid=$!
	for _ in $(seq 1 100); do
		grep -q "tick 2" "$T/out" && break
		sleep 0.1
	done
	grep -q "tick 2" "$T/out" || { fail "no line came"; kill "$pid"; return 1; }
	local t0=$SECONDS
	# the server side of the connection dies (as a link that drops does, from the client's view)
	# shellcheck disable=SC2046
	kill -KILL $(sshd_sessions main)
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 1 ] || { fail "exit $rc"; return 1; }
	[ $((SECONDS - t0)) -lt 15 ] || { fail "the drop took $((SECONDS - t0)) s to notice"; return 1; }
	expect_err "follow: runtime ECONNRESET: root@127.0.0.1: the connection was lost while running 'sh' '-c'" &&
		expect_err "reconnect: ok" && expect_err "run: ok" && grep -qx back "$T/out" &&
		! grep -q "tick 59" "$T/out"
}
check drop_mid_follow_is_ECONNRESET_and_reconnect_runs_again drop_then_reconnect

# ---- quoting ----
hostile_words() {
	local words=("it's" '"double"' '$(touch '"$T"'/pwned)' '`touch '"$T"'/pwned2`' 'a;b' 'x|y' $'two\nlines'
		'  spaced  out  ' '*' '~' '~root' '-n' '--' '' $'\xff\xfe not utf-8' '\' '\\n' '$HOME' $'tab\there' '!' '#c'
		'{a,b}' '&' '>out' "'" "''" '%s')
	printf '%s\0' "${words[@]}" >"$T/want"
	[ "$(session root@127.0.0.1 "$SSHD_PINS" run $((${#words[@]} + 2)) printf '%s\0' "${words[@]}")" = 0 ] ||
		return 1
	cmp "$T/want" "$T/out" || { fail "bytes differ: $(od -c "$T/out" | head -5)"; return 1; }
	[ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ] && [ ! -e out ] || { fail "the remote shell expanded a word"; return 1; }
	# the command line itself, as the tool prints it, is what sh reads back
	[ "$(call quote printf '%s' "it's" | od -c | head -1)" = "$(printf "%s" "'printf' '%s' 'it'\\''s'" | od -c | head -1)" ]
}
check hostile_words_reach_the_remote_byte_for_byte hostile_words

# ---- waiting for the SSH banner ----
wait_for_banner() {
	call wait root@127.0.0.1 5 2>"$T/err" || { fail "wait on port 22"; return 1; }
	local rc=0
	call wait root@127.0.0.1:2999 3 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] && expect_err "127.0.0.1:2999: no SSH server answered within 3 s (last attempt: Connection refused)" &&
		expect_err "tick 3" && expect_err "tick 1" || return 1
	# a server that comes up while we wait: found on a later attempt
	in_ns "$NMMM_REMOTE_CALL" wait 'root@[::1]:2223' 30 2>"$T/late.err" &
	local pid=$!
	sleep 2.5
	sshd_start late 2223 || return 1
	wait "$pid" || { fail "the late server was not found: $(cat "$T/late.err")"; return 1; }
	grep -q "wait: ok" "$T/late.err"
}
check wait_finds_the_banner_and_times_out_with_a_countdown wait_for_banner

# ---- known_hosts for the operator ----
known_hosts_for_ssh() {
	local kh="$T/known_hosts"
	ssh-keygen -q -t ed25519 -N '' -C old -f "$T/old"
	{
		echo "# the operator's comment"
		echo "other.example ssh-ed25519 $(cut -d' ' -f2 "$T/old.pub")"
		echo "127.0.0.1,alias.example $(cut -d' ' -f1,2 "$T/old.pub")"
		echo "@revoked 127.0.0.1 $(cut -d' ' -f1,2 "$T/old.pub")"
	} >"$kh"
	echo "127.0.0.1 $(cut -d' ' -f1,2 "$T/old.pub")" >"$T/hashed"
	ssh-keygen -q -H -f "$T/hashed" >/dev/null 2>&1
	cat "$T/hashed" >>"$kh"
	call known-hosts "$kh" root@127.0.0.1 "$SSHD_PINS" 2>"$T/err" &&
		call known-hosts "$kh" root@127.0.0.1:2222 "$SSHD_HOSTKEY_ED25519" 2>>"$T/err" || return 1
	grep -qx "# the operator's comment" "$kh" && grep -q "^other.example " "$kh" && grep -q "^alias.example " "$kh" &&
		grep -q "^@revoked 127.0.0.1 " "$kh" && [ "$(grep -c '^|1|' "$kh")" = 0 ] &&
		[ "$(grep -c '^127.0.0.1 ' "$kh")" = 3 ] && [ "$(grep -c '^\[127.0.0.1\]:2222 ' "$kh")" = 1 ] &&
		[ "$(stat -c %a "$kh")" = 644 ] || { fail "known_hosts: $(cat "$kh")"; return 1; }
	# a real ssh, strict, with this file alone, on both ports
	local p
	for p in 22 2222; do
		in_ns ssh -F /dev/null -i "$SSHD_CLIENT_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
			-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$kh" -o GlobalKnownHostsFile=/dev/null \
			-p "$p" root@127.0.0.1 true 2>"$T/err" || { fail "ssh -p $p refused the written file"; return 1; }
	done
}
check known_hosts_written_for_the_target_satisfy_ssh known_hosts_for_ssh

finish
