#!/usr/bin/env bash
# install_secret_url.sh: the whole `install` on a loop device with the channel fetched from a
# mirror that demands credentials in the URL (http://user:TOKEN@127.0.0.1:PORT/...?token=...).
# The server refuses a request without them, so the install used them; afterwards no file the
# run wrote holds them — the state directory (state.json, install.log, plan.json, report.json),
# the events, the terminal output, the installed disk (its /etc/nixos, the mirrored state, the
# store) and the `export` tar — and no process of the run showed them on its command line
# (/proc/PID/cmdline, sampled while it ran). The URLs it records read http://***@host/path?***.
IE_NAME=secret
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
decoy_before=$(ie_disk_sum "$IE_DECOY")

# The secrets live in files, so that no command line of this script carries them, and are new
# each run: a suite running beside this one (its own agent before it scrubs its argv, the
# credential-checking server of fetch_secret_url.sh) never shows these in the process list.
secret_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
password=$(secret_hex)
query=$(secret_hex)
printf '%s\n' "$password" "$query" > "$IE_WORK/secrets"
printf 'user:%s\n' "$password" > "$IE_WORK/auth"
printf 'token=%s\n' "$query" > "$IE_WORK/token"
unset password query
ip netns exec "$IE_NS" python3 "$NMMM_SRC/tests/httpd/server.py" --root "$IE_WORK/srv" \
	--auth "@$IE_WORK/auth" --require-query "@$IE_WORK/token" > "$IE_WORK/secret-http.port" &
secret_http_pid=$!
for _ in $(seq 200); do
	port=$(awk '/^PORT /{print $2}' "$IE_WORK/secret-http.port" 2> /dev/null || true)
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || fail "the credential-checking server did not start"
stop_secret_http() {
	kill "$secret_http_pid" 2> /dev/null || true
	ie_cleanup
}
trap stop_secret_http EXIT
secret_base="http://user:$(cut -d: -f2 "$IE_WORK/auth")@127.0.0.1:$port"
token=$(cat "$IE_WORK/token")
shown="http://***@127.0.0.1:$port/nixexprs.tar.xz?***"

# The shared install options, with the channel from the credential-checking mirror.
mapfile -t args < <(ie_install_args_no_nixpkgs)
args+=(--nixpkgs "$secret_base/nixexprs.tar.xz?$token" --nixpkgs-hash "$IE_CHANNEL_NAR")

# Without the credentials the mirror refuses: the install's success below means they were used.
rc=0
ie_agent install --yes "${args[@]/$secret_base/http://127.0.0.1:$port}" --ssh-key "$IE_KEY" --until fetch \
	> /dev/null 2> "$IE_WORK/nocred.txt" || rc=$?
[ "$rc" = 1 ] && grep -q "HTTP 401" "$IE_WORK/nocred.txt" ||
	fail "the mirror served without credentials (exit $rc): $(tail -n 3 "$IE_WORK/nocred.txt")"
rm -rf "$IE_WORK/state"

: > "$IE_WORK/events.jsonl"
ie_agent --events "$IE_WORK/events.jsonl" install --yes "${args[@]}" --ssh-key "$IE_KEY" \
	--mirror "$secret_base/?$token" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" &
agent_pid=$!
# Once the agent has parsed its options (its first event), no process may show the secrets:
# not the agent, not a program it runs.
for _ in $(seq 600); do
	grep -q '"event":"start"' "$IE_WORK/events.jsonl" && break
	sleep 0.05
done
: > "$IE_WORK/cmdline-hits"
while kill -0 "$agent_pid" 2> /dev/null; do
	for f in $(grep -l -a -F -f "$IE_WORK/secrets" /proc/[0-9]*/cmdline 2> /dev/null); do
		printf '%s: %s\n' "$f" "$(tr '\0' ' ' < "$f" 2> /dev/null)" >> "$IE_WORK/cmdline-hits"
	done
	sleep 0.1
done
rc=0
wait "$agent_pid" || rc=$?
[ "$rc" = 0 ] || fail "install exited $rc: $(tail -n 20 "$IE_WORK/err.txt")"

ie_agent export --state-dir "$IE_WORK/state" > "$IE_WORK/export.tar" || fail "export failed"
mkdir -p "$IE_WORK/export" "$IE_WORK/check"
tar -xf "$IE_WORK/export.tar" -C "$IE_WORK/export"
mount "${IE_DISK}p4" "$IE_WORK/check"
[ -s "$IE_WORK/check/etc/nixos/plan.json" ] && [ -s "$IE_WORK/check/var/lib/nmmm/state.json" ] ||
	fail "the install left no plan.json or state on the disk"

# Every file the run wrote, on the rescue side and on the installed disk.
hits=$(grep -r -a -l -F -f "$IE_WORK/secrets" "$IE_WORK/state" "$IE_WORK/events.jsonl" "$IE_WORK/out.txt" \
	"$IE_WORK/err.txt" "$IE_WORK/export.tar" "$IE_WORK/export" "$IE_WORK/check" || true)
leaks=""
[ -z "$hits" ] || leaks="written to: $(echo "$hits" | tr '\n' ' ')"
[ ! -s "$IE_WORK/cmdline-hits" ] || leaks="$leaks${leaks:+; }the process list showed it: $(head -n 1 "$IE_WORK/cmdline-hits")"
[ -z "$leaks" ] || fail "the secret leaked: $leaks"
# What the run records names the mirror without them.
for f in "$IE_WORK/state/state.json" "$IE_WORK/state/nixos/plan.json" "$IE_WORK/check/etc/nixos/report.json" \
	"$IE_WORK/export/plan.json"; do
	grep -q -F "$shown" "$f" || fail "$f does not name the channel as $shown"
done
grep -q -F "$shown" "$IE_WORK/state/install.log" || fail "install.log does not name the channel as $shown"
umount "$IE_WORK/check"

[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy disk changed"
echo "install_secret_url: ok"
