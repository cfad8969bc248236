# provision-env.sh: the world a provision test runs in, on top of install-env.sh (a loop disk, a
# Hetzner-like network namespace, the miniature nixpkgs over loopback HTTP). The operator's
# machine and the server are both this machine, inside the namespace; between them is a real
# OpenSSH connection over its loopback:
# - the "rescue system" is a real sshd with its own host key, in a private mount namespace
#   whose /root/.ssh holds the operator's key (as Robot's rescue does), so the install run
#   through it reads the rescue's authorized keys as on Hetzner;
# - `reboot` there is a stand-in (the server's firmware, boot loader and NixOS cannot run
#   here): it stops the rescue's sshd and runs $PE_BOOT, which by default "boots the installed
#   system" — an sshd with the host key the install generated on the disk, /run/current-system
#   pointing at the system profile on the disk, and a `systemctl` that says "running".
# Sourced by provision_*.sh after install-env.sh.
# shellcheck shell=bash

PE_PORT=""
PE_BOOT="${PE_BOOT:-pe_boot_installed}"

# The operator's key (the agent takes it from --identity) and the rescue's host key.
pe_make_keys() {
	ssh-keygen -q -t ed25519 -N '' -C operator@laptop -f "$IE_WORK/operator" ||
		fail "ssh-keygen for the operator's key failed"
	ssh-keygen -q -t ed25519 -N '' -C root@rescue -f "$IE_WORK/rescue_host_ed25519" ||
		fail "ssh-keygen for the rescue's host key failed"
	# The rescue's /root/.ssh/authorized_keys, which install reads (ie_agent and the sshd below).
	IE_RESCUE_KEYS=$(cat "$IE_WORK/operator.pub")
	mkdir -p "$IE_WORK/rescue-ssh"
	printf '%s\n' "$IE_RESCUE_KEYS" > "$IE_WORK/rescue-ssh/authorized_keys"
	PE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p /run/sshd
}

# sshd_config for one sshd (rescue or installed): host key $1, pid file $2.
pe_sshd_config() {
	cat <<-EOF
	Port $PE_PORT
	ListenAddress 127.0.0.1
	HostKey $1
	PidFile $2
	PermitRootLogin prohibit-password
	AuthorizedKeysFile /root/.ssh/authorized_keys
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PrintMotd no
	LogLevel VERBOSE
	EOF
	# Under the sanitizer suite the agent on the far side is the same ASan build: its options
	# (scripts/test's, for a false report in libparted) must reach it through the session.
	[ -z "${ASAN_OPTIONS:-}" ] || echo "SetEnv ASAN_OPTIONS=$ASAN_OPTIONS"
}

# The stand-ins on the rescue's PATH (/usr/local/bin comes first): reboot.
pe_make_rescue_bin() {
	mkdir -p "$IE_WORK/rescue-bin"
	cat > "$IE_WORK/rescue-bin/reboot" <<-EOF
	#!/bin/sh
	# Stands in for the server's reboot (it cannot happen here): the rescue's sshd goes away a
	# moment after this returns, then the boot stand-in runs, detached from this session.
	setsid sh -c 'sleep 1; kill \$(cat "$IE_WORK/rescue.pid"); sleep 1; exec bash "$IE_WORK/boot.sh"' \
		> "$IE_WORK/boot.log" 2>&1 < /dev/null &
	exit 0
	EOF
	chmod 0755 "$IE_WORK/rescue-bin/reboot"
	# The boot stand-in is this file's function $PE_BOOT, run with this environment.
	{
		declare -p IE_WORK IE_NS IE_DISK PE_PORT NMMM_SRC
		[ -z "${ASAN_OPTIONS:-}" ] || declare -p ASAN_OPTIONS
		declare -f pe_sshd_config pe_boot_installed pe_boot_nothing pe_start_rescue
		[ "$PE_BOOT" = pe_boot_installed ] || [ "$PE_BOOT" = pe_boot_nothing ] || declare -f "$PE_BOOT"
		echo "$PE_BOOT"
	} > "$IE_WORK/boot.sh"
}

# The rescue system: sshd in the namespace, with root's keys and the stand-ins mounted.
pe_start_rescue() {
	pe_sshd_config "$IE_WORK/rescue_host_ed25519" "$IE_WORK/rescue.pid" > "$IE_WORK/rescue_sshd_config"
	rm -f "$IE_WORK/rescue.pid"
	ip netns exec "$IE_NS" unshare --mount --propagation private sh -c '
		mkdir -p /root/.ssh && mount --bind "$1/rescue-ssh" /root/.ssh &&
		mount --bind "$1/rescue-bin" /usr/local/bin &&
		exec /usr/sbin/sshd -D -e -f "$1/rescue_sshd_config"' sh "$IE_WORK" >> "$IE_WORK/sshd-rescue.log" 2>&1 &
	for _ in $(seq 100); do
		[ -s "$IE_WORK/rescue.pid" ] && return 0
		sleep 0.05
	done
	echo "the rescue's sshd did not start: $(tail -n 5 "$IE_WORK/sshd-rescue.log")" >&2
	return 1
}

# The installed system "boots": the host key and system profile come from the disk itself
# (read-only), not from anything provision was told.
pe_boot_installed() {
	local root="$IE_WORK/booted"
	mkdir -p "$root"
	mount -o ro "${IE_DISK}p4" "$root" || return 1
	local gen system
	gen=$(readlink "$root/nix/var/nix/profiles/system")
	system=$(readlink "$root/nix/var/nix/profiles/${gen##*/}")
	mkdir -p "$IE_WORK/booted-bin"
	printf '#!/bin/sh\n# Stands in for systemd on the installed NixOS.\n[ "$1" = is-system-running ] && { echo running; exit 0; }\nexit 0\n' \
		> "$IE_WORK/booted-bin/systemctl"
	chmod 0755 "$IE_WORK/booted-bin/systemctl"
	cp "$root/etc/ssh/ssh_host_ed25519_key" "$IE_WORK/booted_host_key"
	chmod 0600 "$IE_WORK/booted_host_key"
	umount "$root"
	pe_sshd_config "$IE_WORK/booted_host_key" "$IE_WORK/booted.pid" > "$IE_WORK/booted_sshd_config"
	ip netns exec "$IE_NS" unshare --mount --propagation private sh -c '
		mkdir -p /root/.ssh && mount --bind "$1/rescue-ssh" /root/.ssh &&
		mount --bind "$1/booted-bin" /usr/local/bin &&
		mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && ln -s "$2" /run/current-system &&
		exec /usr/sbin/sshd -D -e -f "$1/booted_sshd_config"' sh "$IE_WORK" "$system" \
		>> "$IE_WORK/sshd-booted.log" 2>&1 &
}

# A boot that never comes back (no sshd answers).
pe_boot_nothing() { :; }

# provision, as the operator runs it, inside the namespace: their key, an ssh config of their
# own (none), nothing from the machine's own ~/.ssh.
pe_provision() {
	ip netns exec "$IE_NS" env -u SSH_AUTH_SOCK HOME="$IE_WORK/home" \
		"$NMMM_AGENT" "$@"
}

# The world every provision test starts from: the disk, the namespace, the nixpkgs, the keys,
# the stand-ins and a running rescue; an empty ssh_config so the machine's own never applies.
pe_setup() {
	ie_make_disks 2G
	ie_make_netns
	ie_make_channels
	pe_make_keys
	pe_make_rescue_bin
	pe_start_rescue || fail "the rescue's sshd did not start"
	: > "$IE_WORK/ssh_config"
}

pe_cleanup() {
	local f
	for f in "$IE_WORK/rescue.pid" "$IE_WORK/booted.pid"; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	ie_cleanup
}
trap pe_cleanup EXIT
