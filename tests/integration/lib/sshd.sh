# shellcheck shell=bash
# tests/integration/lib/sshd.sh: a real OpenSSH server for the remote tests, alone in a network
# namespace of its own (so port 22 is free and nothing outside can reach it), with host keys made
# here by ssh-keygen and one client key allowed to log in as root. Sourced by a test that is root.
#   sshd_setup          makes the directory, the keys, the namespace and the client's ssh_config
#   sshd_start NAME PORT... [-- LINE...]  starts `sshd -D -e -f CONFIG` on 127.0.0.1 and ::1 at
#                       the ports (extra config lines after --); its pid in SSHD_PID_<NAME>
#   in_ns CMD...        runs CMD (the client side) inside the namespace
#   sshd_sessions NAME  the pids of that server's per-connection processes (its children)
#   sshd_cleanup        stops the servers started here (by pid), removes the namespace and the files
# Set by sshd_setup: SSHD_DIR, SSHD_NS, SSHD_CLIENT_KEY, SSHD_CLIENT_CONFIG (IdentityFile,
# IdentitiesOnly, User root, a known_hosts of its own), SSHD_HOSTKEY_ED25519/_ECDSA/_RSA (the .pub
# files) and SSHD_PINS (all three public keys, one a line: what a test pins).

SSHD_NS="nmmm-sshd-$$"
SSHD_DIR=""
SSHD_PIDS=()
SSHD_MADE_RUN_DIR=0

sshd_setup() {
	command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || skip "no sshd (scripts/setup installs openssh-server)"
	SSHD_DIR=$(mktemp -d /tmp/nmmm-sshd.XXXXXX)
	local t
	for t in ed25519 ecdsa rsa; do
		ssh-keygen -q -t "$t" -N '' -C "nmmm-test-host" -f "$SSHD_DIR/host_$t"
	done
	SSHD_HOSTKEY_ED25519="$SSHD_DIR/host_ed25519.pub"
	SSHD_HOSTKEY_ECDSA="$SSHD_DIR/host_ecdsa.pub"
	SSHD_HOSTKEY_RSA="$SSHD_DIR/host_rsa.pub"
	SSHD_PINS="$SSHD_DIR/pins"
	cat "$SSHD_HOSTKEY_ED25519" "$SSHD_HOSTKEY_ECDSA" "$SSHD_HOSTKEY_RSA" >"$SSHD_PINS"
	SSHD_CLIENT_KEY="$SSHD_DIR/client"
	ssh-keygen -q -t ed25519 -N '' -C "nmmm-test-client" -f "$SSHD_CLIENT_KEY"
	cp "$SSHD_CLIENT_KEY.pub" "$SSHD_DIR/authorized_keys"
	SSHD_CLIENT_CONFIG="$SSHD_DIR/ssh_config"
	# the operator's own known_hosts: the session must not consult it (tests put keys in it)
	: >"$SSHD_DIR/operator_known_hosts"
	cat >"$SSHD_CLIENT_CONFIG" <<-EOF
		Host *
		  User root
		  IdentityFile $SSHD_CLIENT_KEY
		  IdentitiesOnly yes
		  UserKnownHostsFile $SSHD_DIR/operator_known_hosts
	EOF
	ip netns add "$SSHD_NS"
	ip -n "$SSHD_NS" link set lo up
	# sshd's privilege separation directory (Debian's service makes it; nothing has here)
	if [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd
		SSHD_MADE_RUN_DIR=1
	fi
}

# sshd_start NAME PORT... [-- CONFIG-LINE...]
sshd_start() {
	local name=$1 conf="$SSHD_DIR/sshd_config.$1"
	shift
	: >"$conf"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		printf 'ListenAddress 127.0.0.1:%s\nListenAddress [::1]:%s\n' "$1" "$1" >>"$conf"
		shift
	done
	[ $# -gt 0 ] && shift
	cat >>"$conf" <<-EOF
		HostKey $SSHD_DIR/host_ed25519
		HostKey $SSHD_DIR/host_ecdsa
		HostKey $SSHD_DIR/host_rsa
		AuthorizedKeysFile $SSHD_DIR/authorized_keys
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		PidFile $SSHD_DIR/sshd.$name.pid
		LogLevel VERBOSE
	EOF
	# lines after -- (a Match block) go last
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$conf"
	ip netns exec "$SSHD_NS" /usr/sbin/sshd -D -e -f "$conf" >>"$SSHD_DIR/sshd.$name.log" 2>&1 &
	local pid=$!
	SSHD_PIDS+=("$pid")
	printf -v "SSHD_PID_$name" '%s' "$pid"

	for _ in $(seq 1 100); do
		grep -q "Server listening on 127.0.0.1" "$SSHD_DIR/sshd.$name.log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "sshd $name did not start:" >&2
	cat "$SSHD_DIR/sshd.$name.log" >&2
	return 1
}

in_ns() {
	ip netns exec "$SSHD_NS" "$@"
}

sshd_sessions() {
	local pid_var="SSHD_PID_$1"
	pgrep -P "${!pid_var}" || true
}

sshd_cleanup() {
	local pid
	for pid in "${SSHD_PIDS[@]}"; do
		# its per-connection children first (a session the test left open), then the listener
		pkill -KILL -P "$pid" 2>/dev/null || true
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	ip netns del "$SSHD_NS" 2>/dev/null || true
	[ "$SSHD_MADE_RUN_DIR" = 1 ] && rmdir /run/sshd 2>/dev/null
	[ -n "$SSHD_DIR" ] && rm -rf "$SSHD_DIR"
	return 0
}
