#!/usr/bin/env bash
# render_netns_loop.sh: `nmmm-agent render` on real state — two loop devices as the disks and a
# network namespace with a Hetzner-style uplink (IPv4 /26 shown by the kernel, global IPv6 /64,
# a deprecated IPv6 address, the link-local one, default routes via an on-link IPv4 gateway and
# fe80::1, the rescue's resolv.conf with a loopback stub). root's home is replaced, in a private
# mount namespace, by one holding a known authorized_keys, so the host's own keys never leak in.
# The rendered files are parsed and evaluated by the real nix-instantiate as functions of stub
# module arguments (nixpkgs cannot exist here), and python3 asserts on the evaluated values.
# A second render fakes UEFI firmware (an empty /sys/firmware with efi/) and takes the host name
# from --config: GRUB on every ESP through mirroredBoots, each ESP mounted nofail.
# Also: malformed key-file lines are skipped with a warning naming the line; no key is refused
# (exit 3); a bad host name is a usage error (exit 2); and render never writes to the disks.
set -euo pipefail

: "${NMMM_AGENT:?set NMMM_AGENT to the nmmm-agent binary}"
: "${NMMM_FIXTURES:?set NMMM_FIXTURES to tests/fixtures}"
# shellcheck source=tests/lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices, network namespaces)"

tag="nix-render-$$"
ns="$tag"
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
loops=()
cleanup() {
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "/etc/netns/$ns" "$tmp"
}
trap cleanup EXIT

# shellcheck source=tests/integration/lib/nix-env.sh
source "$(dirname "$0")/lib/nix-env.sh"
key1="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtQUMd4zOdeCgqYnBx6Q5Jq3qLx1Ux1vDbzZ8Wv3ZrC rescue@ops"
key2="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjx1M8dX8c3F9vS0lB4q9Xb3mW7pK1Zc2Nq6Rr5Tt8U cli \"\${x}\""
key3="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1nC2bq8mZ4eW7x9Qy3Vt6Ls0Kp5Jd2Fh8Gk4Rz1Ya7 file"

# ---- disks: two sparse 3 GiB images on loop devices ----
for i in 0 1; do
	truncate -s 3G "$tmp/disk$i.img"
	loops+=("$(losetup -P --find --show "$tmp/disk$i.img")")
done
disks="${loops[0]#/dev/},${loops[1]#/dev/}"

# ---- network: a veth pair inside a namespace; the uplink end looks like Hetzner's ----
ip netns add "$ns"
ip link add nr-up0 type veth peer name nr-pe0
ip link set nr-up0 netns "$ns"
ip link set nr-pe0 netns "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link set nr-pe0 up
ip -n "$ns" link set nr-up0 address 3c:7c:3f:12:34:56 up
ip -n "$ns" addr add 203.0.113.10/26 dev nr-up0
ip -n "$ns" -6 addr add 2a01:4f8:10a:1b2::2/64 dev nr-up0 nodad
ip -n "$ns" -6 addr add 2a01:4f8:10a:1b2::dead/64 dev nr-up0 nodad preferred_lft 0
ip -n "$ns" route add default via 203.0.113.1 dev nr-up0
# The IPv6 default route via fe80::1 needs the link-local address first, which the kernel adds a moment after the link is up: wait for it.
for _ in $(seq 50); do
	ip -n "$ns" -6 addr show dev nr-up0 scope link | grep -q 'inet6 fe80' &&
		! ip -n "$ns" -6 addr show dev nr-up0 | grep -q tentative && break
	sleep 0.2
done
ip -n "$ns" -6 route add default via fe80::1 dev nr-up0
mkdir -p "/etc/netns/$ns"
printf 'nameserver 127.0.0.53\nnameserver 2a01:4ff:ff00::add:2\nnameserver 185.12.64.1\n' >"/etc/netns/$ns/resolv.conf"

# root's home as the rescue would have it: one good key, one line that is not a key.
mkdir -p "$tmp/home/.ssh" "$tmp/nokeys"
printf '%s\nssh-ed25519 truncated\n' "$key1" >"$tmp/home/.ssh/authorized_keys"
printf '# operator keys\n\nnot a key at all\n%s\n%s\n' "$key3" "$key1" >"$tmp/keys.txt"

# Runs the agent inside the namespace (ip netns exec gives it the namespace's /sys/class/net and
# resolv.conf), in a private mount namespace with $2 mounted over /root and the firmware mode $1
# ("bios" or "uefi") made by an empty /sys/firmware with or without efi/, whatever the host is.
agent_in_ns() {
	local mode=$1 home=$2
	shift 2
	ip netns exec "$ns" unshare --mount --propagation private bash -c '
		mount --bind "$1" /root && mount -t tmpfs nmmm-test /sys/firmware || exit 1
		if [ "$0" = uefi ]; then mkdir /sys/firmware/efi || exit 1; fi
		shift; exec "$@"' "$mode" "$home" "$NMMM_AGENT" "$@"
}

before=$(for l in "${loops[@]}"; do dd if="$l" bs=1M count=4 status=none | sha256sum; done)

rc=0
agent_in_ns bios "$tmp/home" render --disks "$disks" --uplink nr-up0 --hostname web-1 \
	--ssh-key "$key2" --ssh-key-file "$tmp/keys.txt" --out "$tmp/out" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
cat "$tmp/stdout" "$tmp/stderr"
[ "$rc" -eq 0 ] || fail "render exited $rc"
grep -q "keys.txt:3: skipped" "$tmp/stderr" || fail "no warning naming keys.txt line 3"
grep -q "authorized_keys line 2 skipped" "$tmp/stderr" || fail "no warning naming the rescue key line 2"

after=$(for l in "${loops[@]}"; do dd if="$l" bs=1M count=4 status=none | sha256sum; done)
[ "$before" = "$after" ] || fail "render wrote to a disk"

# Parses both files and evaluates them as functions of stub module arguments into $1/eval.json
# (tests/fixtures/render-eval.nix).
evaluate() {
	local out=$1
	for f in hardware-configuration.nix configuration.nix; do
		nix-instantiate --parse "$out/$f" >/dev/null
	done
	nix-instantiate --eval --strict --json "$NMMM_FIXTURES/render-eval.nix" --argstr dir "$out" >"$out/eval.json"
}
evaluate "$tmp/out"

python3 - "$tmp/out/eval.json" "$tmp/out/plan.json" "${loops[0]}" "${loops[1]}" "$key1" "$key2" "$key3" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))
loop0, loop1, key1, key2, key3 = sys.argv[3:8]
hw, conf = ev["hw"], ev["conf"]

def eq(what, got, want):
    if got != want:
        sys.exit(f"FAIL: {what}: want {want!r}, got {got!r}")

net = hw["systemd"]["network"]["networks"]["10-uplink"]
eq("uplink MAC", net["matchConfig"]["MACAddress"], "3c:7c:3f:12:34:56")
# /26 in the rescue becomes /32; the deprecated and link-local IPv6 addresses are left out.
eq("addresses", net["address"], ["203.0.113.10/32", "2a01:4f8:10a:1b2::2/64"])
eq("routes", net["routes"], [{"Gateway": "203.0.113.1", "GatewayOnLink": True}, {"Gateway": "fe80::1"}])
eq("useDHCP", hw["networking"]["useDHCP"], False)
eq("useNetworkd", hw["networking"]["useNetworkd"], True)
# The loopback stub is not copied; the real resolvers are, in the rescue's order.
eq("nameservers", hw["networking"]["nameservers"], ["2a01:4ff:ff00::add:2", "185.12.64.1"])

# Filesystems and RAID come from the plan, by UUID.
pfs = {fs["mountpoint"]: fs for fs in plan["plan"]["filesystems"] if fs.get("mountpoint")}
eq("root device", hw["fileSystems"]["/"]["device"], "/dev/disk/by-uuid/" + pfs["/"]["uuid"])
eq("root fsType", hw["fileSystems"]["/"]["fsType"], pfs["/"]["fstype"])
eq("swraid", hw["boot"]["swraid"]["enable"], True)
arr = plan["plan"]["arrays"][0]
u = arr["uuid"].replace("-", "")
lines = hw["boot"]["swraid"]["mdadmConf"].splitlines()
eq("mdadm HOMEHOST", lines[0], "HOMEHOST " + plan["plan"]["homehost"])
eq("mdadm PROGRAM", any(l.startswith("PROGRAM ") or l.startswith("MAILADDR ") for l in lines), True)
eq("mdadm ARRAY", lines[2], f"ARRAY {arr['device']} metadata=1.2 UUID={u[0:8]}:{u[8:16]}:{u[16:24]}:{u[24:32]}")

grub = hw["boot"]["loader"]["grub"]
eq("grub enable", grub["enable"], True)
# BIOS: GRUB on every disk. No udev here, so no by-id links: each loop device by its kernel path.
eq("grub devices", grub["devices"], [loop0, loop1])
eq("no ESP mounted on BIOS", [m for m in hw["fileSystems"] if m != "/"], [])

eq("hostName", conf["networking"]["hostName"], "web-1")
eq("keys", conf["users"]["users"]["root"]["openssh"]["authorizedKeys"]["keys"], [key1, key2, key3])
eq("PermitRootLogin", conf["services"]["openssh"]["settings"]["PermitRootLogin"], "prohibit-password")
eq("PasswordAuthentication", conf["services"]["openssh"]["settings"]["PasswordAuthentication"], False)
eq("stateVersion", conf["system"]["stateVersion"], plan["state_version"])
eq("plan.json uplink", plan["uplink"]["mac"], "3c:7c:3f:12:34:56")
print("render_netns_loop: evaluated values as expected")
PY

# ---- UEFI: GRUB on every ESP, the host name from the config file ----
printf '{ "hostname": "db-2" }\n' >"$tmp/config.json"
agent_in_ns uefi "$tmp/home" render --config "$tmp/config.json" --disks "$disks" --uplink nr-up0 \
	--out "$tmp/out-uefi" >"$tmp/stdout" 2>"$tmp/stderr" || { cat "$tmp/stderr"; fail "UEFI render"; }
evaluate "$tmp/out-uefi"
python3 - "$tmp/out-uefi/eval.json" "$tmp/out-uefi/plan.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))["plan"]
hw, conf = ev["hw"], ev["conf"]

def eq(what, got, want):
    if got != want:
        sys.exit(f"FAIL: {what}: want {want!r}, got {got!r}")

grub = hw["boot"]["loader"]["grub"]
eq("efiSupport", grub["efiSupport"], True)
eq("efiInstallAsRemovable", grub["efiInstallAsRemovable"], True)
eq("canTouchEfiVariables", hw["boot"]["loader"]["efi"]["canTouchEfiVariables"], False)
eq("grub device", grub["device"], "nodev")
esps = [fs for fs in plan["filesystems"] if fs["fstype"] == "vfat" and fs.get("mountpoint")]
eq("ESPs planned", len(esps), 2)
eq("first ESP", esps[0]["mountpoint"], "/boot")
eq("mirroredBoots", grub["mirroredBoots"],
   [{"devices": ["nodev"], "path": fs["mountpoint"], "efiSysMountPoint": fs["mountpoint"]} for fs in esps[1:]])
for fs in esps:
    got = hw["fileSystems"][fs["mountpoint"]]
    eq(fs["mountpoint"] + " device", got["device"], "/dev/disk/by-uuid/" + fs["uuid"])
    eq(fs["mountpoint"] + " fsType", got["fsType"], "vfat")
    eq(fs["mountpoint"] + " nofail", "nofail" in got["options"], True)
eq("hostName from the config", conf["networking"]["hostName"], "db-2")
print("render_netns_loop: UEFI values as expected")
PY

# ---- both renders through the miniature channel (the install tests' stand-in for nixpkgs):
# its module merge and NixOS's own assertions (root filesystem, stateVersion, a GRUB target,
# mdadm's MAILADDR/PROGRAM) must accept the files as install will hand them over ----
for out in "$tmp/out" "$tmp/out-uefi"; do
	nix-instantiate --eval --strict --json -E "
	  let c = (import $NMMM_FIXTURES/mini-channel/nixos { configuration = $out/configuration.nix; }).config;
	  in { host = c.networking.hostName; root = c.fileSystems.\"/\".device;
	       grub = c.boot.loader.grub; state = c.system.stateVersion; }" >"$out/mini.json"
	python3 - "$out/mini.json" "$out/plan.json" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
rec = json.load(open(sys.argv[2]))
root = next(fs for fs in rec["plan"]["filesystems"] if fs.get("mountpoint") == "/")
want = {"host": rec["hostname"], "root": "/dev/disk/by-uuid/" + root["uuid"], "state": rec["state_version"]}
for k, v in want.items():
    if got[k] != v:
        sys.exit(f"FAIL: mini-channel {k}: want {v!r}, got {got[k]!r}")
grub = got["grub"]
targets = grub.get("devices", []) + [m["path"] for m in grub.get("mirroredBoots", [])]
if len(targets) != 2 and not (grub.get("device") == "nodev" and len(targets) == 1):
    sys.exit(f"FAIL: mini-channel: GRUB does not cover both disks: {grub!r}")
PY
done
echo "render_netns_loop: the miniature channel accepts both renders"

# ---- refusals: nothing written ----
rc=0
agent_in_ns bios "$tmp/nokeys" render --disks "$disks" --uplink nr-up0 --out "$tmp/out-nokey" 2>"$tmp/stderr" || rc=$?
[ "$rc" -eq 3 ] || { cat "$tmp/stderr"; fail "no SSH key: want exit 3, got $rc"; }
grep -q -- "--ssh-key" "$tmp/stderr" || fail "refusal does not name --ssh-key"
[ ! -e "$tmp/out-nokey/configuration.nix" ] || fail "files written despite the refusal"

rc=0
agent_in_ns bios "$tmp/home" render --disks "$disks" --uplink nr-up0 --hostname web_1 --out "$tmp/out-bad" \
	2>"$tmp/stderr" || rc=$?
[ "$rc" -eq 2 ] || { cat "$tmp/stderr"; fail "bad host name: want exit 2, got $rc"; }
grep -q "RFC 1123" "$tmp/stderr" || { cat "$tmp/stderr"; fail "usage error does not name the rule"; }
[ ! -e "$tmp/out-bad/configuration.nix" ] || fail "files written despite the usage error"

echo "render_netns_loop: ok"
