# install-env.sh: the world an install test runs in, made of real things — a loop device over a
# sparse file as the server's disk, a decoy loop device that must never change, a network
# namespace configured like a Hetzner uplink (IPv4 /26 + gateway, IPv6 /64 + fe80::1), a mount
# namespace whose /root/.ssh holds the "rescue" keys, the miniature nixpkgs packed as a tarball
# (pinned by its NAR hash, as nixpkgs is) and served over loopback HTTP, and Debian's nix. Sourced by install_*.sh.
# shellcheck shell=bash

set -euo pipefail
: "${NMMM_AGENT:?built nmmm-agent}" "${NMMM_SRC:?source tree}" "${NMMM_FIXTURES:?fixtures dir}"
# Every Nix call a test makes itself (the agent sets its own) runs with the test's settings.
# shellcheck source=tests/integration/lib/nix-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nix-env.sh"

IE_NAME=${IE_NAME:-install}
IE_WORK=$(mktemp -d "/tmp/nmmm-it-$IE_NAME-XXXXXX")
IE_NS="nmmm-it-$IE_NAME-$$"
IE_DISK=""
IE_DECOY=""
IE_HTTP_PID=""
IE_KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1t8eX2JmQvUo0wUqXkYy5YkqfYv0bq3j7n9b1c2d3 operator@laptop"

ie_cleanup() {
	set +e
	[ -n "$IE_HTTP_PID" ] && kill "$IE_HTTP_PID" 2>/dev/null
	for m in $(awk -v w="$IE_WORK" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	[ -n "$IE_DISK" ] && losetup -d "$IE_DISK" 2>/dev/null
	[ -n "$IE_DECOY" ] && losetup -d "$IE_DECOY" 2>/dev/null
	ip netns del "$IE_NS" 2>/dev/null
	rm -rf "$IE_WORK"
}
trap ie_cleanup EXIT

# shellcheck source=tests/lib/report.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/report.sh"

# The server's disk and a decoy beside it.
ie_make_disks() {
	truncate -s "${1:-2G}" "$IE_WORK/disk.img"
	truncate -s 64M "$IE_WORK/decoy.img"
	IE_DISK=$(losetup -f --show -P "$IE_WORK/disk.img")
	IE_DECOY=$(losetup -f --show "$IE_WORK/decoy.img")
	# Something old on the disk and data on the decoy, so "untouched" means something.
	printf 'label: gpt\n,256M,L\n,,L\n' | sfdisk -q "$IE_DISK"
	for _ in $(seq 100); do
		[ -b "${IE_DISK}p2" ] && break
		partx -u "$IE_DISK" 2>/dev/null || true
		sleep 0.05
	done
	mkfs.ext4 -q -L oldroot "${IE_DISK}p2"
	head -c 8M /dev/urandom > "$IE_WORK/decoy.data"
	dd if="$IE_WORK/decoy.data" of="$IE_DECOY" bs=1M conv=notrunc status=none
}

ie_sha() { sha256sum "$1" | cut -d' ' -f1; }

# Fingerprint of a loop device's content: its buffers flushed, then the backing file's data
# extents hashed (lib/fingerprint.py says why that sees every change).
ie_disk_sum() {
	blockdev --flushbufs "$1"
	python3 "$(dirname "${BASH_SOURCE[0]}")/fingerprint.py" "$(losetup -n -O BACK-FILE "$1")"
}

# Hetzner-style uplink inside a namespace: eth0 with 203.0.113.10/26, gateway 203.0.113.1,
# 2001:db8:1234::2/64 with fe80::1 (documentation ranges; nothing leaves the namespace).
ie_make_netns() {
	ip netns add "$IE_NS"
	ip -n "$IE_NS" link add eth0 address 52:54:00:12:34:56 type veth peer name gw0
	ip -n "$IE_NS" link set lo up
	ip -n "$IE_NS" link set gw0 up
	ip -n "$IE_NS" link set eth0 up
	ip -n "$IE_NS" addr add 203.0.113.10/26 dev eth0
	ip -n "$IE_NS" -6 addr add 2001:db8:1234::2/64 dev eth0 nodad
	ip -n "$IE_NS" route add default via 203.0.113.1 dev eth0
	for _ in $(seq 50); do
		ip -n "$IE_NS" -6 addr show dev eth0 scope link | grep -q 'inet6 fe80' && break
		sleep 0.1
	done
	ip -n "$IE_NS" -6 route add default via fe80::1 dev eth0
}

# NAR hash of a tree as Debian's nix computes it (hex; the agent takes any form).
ie_nar() { nix-hash --type sha256 "$1"; }

# The miniature nixpkgs as a tarball (one top directory, xz), plus variants that fail
# evaluation and the build, each with its tree's NAR hash; served over loopback HTTP.
ie_make_channels() {
	local srv="$IE_WORK/srv"
	mkdir -p "$srv/stage"
	cp -a "$NMMM_FIXTURES/mini-channel" "$srv/stage/nixos-26.05.4242.test"
	# shellcheck disable=SC2034 # used by the scripts that source this file
	IE_CHANNEL_NAR=$(ie_nar "$srv/stage/nixos-26.05.4242.test")
	tar -C "$srv/stage" -cJf "$srv/nixexprs.tar.xz" nixos-26.05.4242.test
	# Evaluation error: the channel's module system refers to something undefined.
	cp -a "$srv/stage/nixos-26.05.4242.test" "$srv/stage/eval-error"
	sed -i 's|modulesPath = ./modules;|modulesPath = undefinedInChannel;|' "$srv/stage/eval-error/nixos/default.nix"
	grep -q undefinedInChannel "$srv/stage/eval-error/nixos/default.nix" || fail "eval-error channel not made"
	# shellcheck disable=SC2034
	IE_EVAL_ERROR_NAR=$(ie_nar "$srv/stage/eval-error")
	tar -C "$srv/stage" -cJf "$srv/eval-error.tar.xz" eval-error
	# Build failure: the toplevel's builder fails.
	cp -a "$srv/stage/nixos-26.05.4242.test" "$srv/stage/build-error"
	printf 'echo "toy build fails on purpose" >&2\nexit 1\n' > "$srv/stage/build-error/nixos/lib/make-toplevel.sh"
	# shellcheck disable=SC2034
	IE_BUILD_ERROR_NAR=$(ie_nar "$srv/stage/build-error")
	tar -C "$srv/stage" -cJf "$srv/build-error.tar.xz" build-error
	rm -rf "$srv/stage"
	# shellcheck disable=SC2034 # used by the scripts that source this file
	IE_CHANNEL_SHA=$(ie_sha "$srv/nixexprs.tar.xz")
	# Inside the namespace: its loopback is where the agent looks.
	ip netns exec "$IE_NS" python3 -u -m http.server --bind 127.0.0.1 --directory "$srv" 0 > "$IE_WORK/http.log" 2>&1 &
	IE_HTTP_PID=$!
	for _ in $(seq 100); do
		IE_PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$IE_WORK/http.log" | head -n1)
		[ -n "$IE_PORT" ] && break
		sleep 0.05
	done
	[ -n "$IE_PORT" ] || fail "the loopback HTTP server did not start: $(cat "$IE_WORK/http.log")"
	IE_URL="http://127.0.0.1:$IE_PORT"
}

# Runs the agent as the rescue would: in the namespace, with root's keys in /root/.ssh (a
# private mount namespace keeps the host's own /root/.ssh out of it). $IE_KEYS_FILE holds the
# "rescue" authorized_keys; empty means no key at all.
ie_agent() {
	local keys="$IE_WORK/rescue-ssh"
	mkdir -p "$keys"
	printf '%s\n' "${IE_RESCUE_KEYS-$IE_KEY}" > "$keys/authorized_keys"
	ip netns exec "$IE_NS" unshare --mount --propagation private sh -c \
		'mkdir -p /root/.ssh && mount --bind "$1" /root/.ssh && shift && exec "$@"' \
		sh "$keys" "$NMMM_AGENT" "$@"
}

# The install options every test shares but the nixpkgs: this disk only, a small ESP (the config
# file has no nixpkgs section), Debian's nix, no binary cache (no network), target and state under
# the work dir, no reboot. Without a nixpkgs option the install takes the compiled-in pin.
ie_install_args_no_nixpkgs() {
	# A small ESP keeps the disk (and hashing it) small; the layout is otherwise the default.
	[ -e "$IE_WORK/config.json" ] || echo '{ "esp_size": "64M" }' > "$IE_WORK/config.json"
	printf '%s\n' --config "$IE_WORK/config.json" --disks "$IE_DISK" --nix-from-path --substituters '' \
		--target "$IE_WORK/mnt" --state-dir "$IE_WORK/state" --hostname web1 --uplink eth0 --no-reboot
}

# The same with the local nixpkgs (its release from its .version).
ie_install_args() {
	ie_install_args_no_nixpkgs
	printf '%s\n' --nixpkgs "$IE_URL/nixexprs.tar.xz" --nixpkgs-hash "$IE_CHANNEL_NAR"
}
