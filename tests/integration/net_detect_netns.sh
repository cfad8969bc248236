#!/usr/bin/env bash
# net_detect_netns.sh: `nmmm-agent detect --json` inside network namespaces set up like a
# Hetzner rescue system, read back with python3's json: IPv4 /26 with an on-link gateway;
# IPv6 /64 with fe80::1; dual stack with the kernel's own temporary (mngtmpaddr + use_tempaddr),
# deprecated (preferred_lft 0) and tentative (no carrier) addresses; IPv6 only; two NICs with one
# default route; an empty resolv.conf without any default route. veth ends are virtual
# interfaces: automatic uplink selection refuses them and names the one carrying the route,
# --uplink MAC|NAME takes them. Each namespace is ours (nmmm-netinv-<pid>-*) and removed on exit.
set -euo pipefail

: "${NMMM_AGENT:?set NMMM_AGENT to the nmmm-agent binary}"
# shellcheck source=tests/lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"

tag="nmmm-netinv-$$"
tmp=$(mktemp -d "/tmp/$tag.XXXXXX")
namespaces=()
cleanup() {
	for ns in "${namespaces[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# new_ns NAME RESOLV: a namespace with lo up and its own resolv.conf (ip netns exec binds it)
new_ns() {
	local ns="$tag-$1"
	ip netns add "$ns"
	namespaces+=("$ns")
	ip -n "$ns" link set lo up
	mkdir -p "/etc/netns/$ns"
	printf '%b' "$2" >"/etc/netns/$ns/resolv.conf"
}

# veth NS IF MAC [carrier]: IF with its peer inside NS; the peer up gives IF carrier. No DAD,
# so the link-local address an IPv6 route via fe80::1 needs is there at once.
veth() {
	local ns="$tag-$1" ifname=$2 mac=$3 carrier=${4:-yes}
	ip -n "$ns" link add "$ifname" type veth peer name "p-$ifname"
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifname.accept_dad=0"
	[ "$carrier" = yes ] && ip -n "$ns" link set "p-$ifname" up
	ip -n "$ns" link set "$ifname" address "$mac" up
}

# detect NAME [args...]: runs detect --json in the namespace into $tmp/NAME.json, prints status
detect() {
	local name=$1
	shift
	local rc=0
	ip netns exec "$tag-$name" "$NMMM_AGENT" detect --json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
	echo "$rc"
}

# check NAME PYTHON: asserts on the parsed JSON (variable d) and on the nic() helper
check() {
	python3 - "$tmp/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def nic(name):
    for n in d["nics"] + d["virtual_nics"]:
        if n["name"] == name:
            return n
    raise AssertionError(f"no interface {name}: {[n['name'] for n in d['nics'] + d['virtual_nics']]}")
def addrs(n, fam):
    return [(a["address"], a["prefix"]) for a in n[fam]]
def flags(n, addr):
    return next(a for a in n["ipv6"] if a["address"] == addr)
def warned(part):
    return any(part in w for w in d["warnings"])
exec(sys.argv[2])
PY
}


# ---- IPv4 only: Hetzner /26, gateway on-link ----
new_ns v4 'nameserver 185.12.64.1\nnameserver 185.12.64.2\n'
veth v4 eth0 90:1b:0e:00:00:01
ip -n "$tag-v4" addr add 203.0.113.10/26 dev eth0
ip -n "$tag-v4" route add default via 203.0.113.1 dev eth0
[ "$(detect v4)" = 0 ] || fail "detect in v4: $(cat "$tmp/v4.err")"
check v4 '
e = nic("eth0")
assert d["nics"] == [], d["nics"]            # veth ends are virtual
assert e["physical"] is False and e["up"] is True and e["mac"] == "90:1b:0e:00:00:01"
assert addrs(e, "ipv4") == [("203.0.113.10", 26)], e["ipv4"]
assert all(a["link_local"] and not a["usable"] for a in e["ipv6"]), e["ipv6"]
assert d["ipv4_gateway"] == {"address": "203.0.113.1", "dev": "eth0"}, d["ipv4_gateway"]
assert d["ipv6_gateway"] is None, d["ipv6_gateway"]
assert d["nameservers"] == ["185.12.64.1", "185.12.64.2"], d["nameservers"]
assert d["uplink"] is None and warned("eth0 is a virtual interface")
'
ok "IPv4 /26 with on-link gateway"
ip netns exec "$tag-v4" "$NMMM_AGENT" --events "$tmp/v4.events" detect --uplink eth0 >/dev/null 2>&1 ||
	fail "detect --uplink eth0 with --events"
python3 - "$tmp/v4.events" <<'PY'
import json, sys
ev = [json.loads(line) for line in open(sys.argv[1])]
assert [(e["phase"], e["event"]) for e in ev] == [("detect", "start"), ("detect", "done")], ev
assert ev[1]["uplink"] == "eth0" and ev[1]["nics"] == 2, ev[1]   # eth0 and its peer p-eth0
PY
ok "--events has detect start and done with the uplink"

# ---- IPv6 only: /64 and fe80::1 ----
new_ns v6 'nameserver 2a01:4ff:ff00::add:1\n'
veth v6 eth0 90:1b:0e:00:00:02
ip -n "$tag-v6" -6 addr add 2a01:4f8:10a:1b2::2/64 dev eth0
ip -n "$tag-v6" -6 route add default via fe80::1 dev eth0
[ "$(detect v6)" = 0 ] || fail "detect in v6: $(cat "$tmp/v6.err")"
check v6 '
e = nic("eth0")
assert e["ipv4"] == [], e["ipv4"]
assert ("2a01:4f8:10a:1b2::2", 64) in addrs(e, "ipv6"), e["ipv6"]
assert flags(e, "2a01:4f8:10a:1b2::2")["usable"] is True
assert d["ipv4_gateway"] is None
assert d["ipv6_gateway"] == {"address": "fe80::1", "dev": "eth0"}, d["ipv6_gateway"]
'
ok "IPv6 /64 via fe80::1"

# ---- dual stack, with the kernel marking temporary, deprecated and tentative addresses ----
new_ns dual 'nameserver 127.0.0.53\n'
veth dual eth0 90:1b:0e:00:00:03
veth dual eth1 90:1b:0e:00:00:04 no
ip netns exec "$tag-dual" sysctl -qw net.ipv6.conf.eth0.use_tempaddr=2
ip -n "$tag-dual" addr add 203.0.113.10/26 dev eth0
ip -n "$tag-dual" -6 addr add 2a01:4f8:10a:1b2::2/64 dev eth0
ip -n "$tag-dual" -6 addr add 2001:db8:1::1/64 dev eth0 mngtmpaddr
ip -n "$tag-dual" -6 addr add 2a01:4f8:10a:1b2::dead/64 dev eth0 preferred_lft 0
ip netns exec "$tag-dual" sysctl -qw net.ipv6.conf.eth1.accept_dad=1
ip -n "$tag-dual" -6 addr add 2001:db8:9::9/64 dev eth1
ip -n "$tag-dual" route add default via 203.0.113.1 dev eth0
ip -n "$tag-dual" -6 route add default via fe80::1 dev eth0
[ "$(detect dual --uplink 90:1B:0E:00:00:03)" = 0 ] || fail "detect in dual: $(cat "$tmp/dual.err")"
check dual '
e = nic("eth0")
temp = [a for a in e["ipv6"] if a["temporary"]]
assert len(temp) == 1 and temp[0]["address"].startswith("2001:db8:1:0:") and not temp[0]["usable"], e["ipv6"]
assert flags(e, "2a01:4f8:10a:1b2::dead")["deprecated"] is True
assert flags(e, "2001:db8:1::1")["temporary"] is False
assert flags(nic("eth1"), "2001:db8:9::9")["tentative"] is True
assert nic("eth1")["up"] is False
assert d["ipv4_gateway"]["dev"] == "eth0" and d["ipv6_gateway"]["dev"] == "eth0"
u = d["uplink"]
assert u["name"] == "eth0" and u["mac"] == "90:1b:0e:00:00:03", u
assert u["ipv4"] == [{"address": "203.0.113.10", "prefix": 26}], u["ipv4"]
assert sorted(a["address"] for a in u["ipv6"]) == ["2001:db8:1::1", "2a01:4f8:10a:1b2::2"], u["ipv6"]
assert d["nameservers"] == ["127.0.0.53"] and warned("only a local resolver (127.0.0.53)"), d["nameservers"]
'
ok "dual stack; temporary, deprecated, tentative and link-local addresses are not usable"

# ---- two NICs, one default route: the route decides ----
new_ns two 'nameserver 185.12.64.2\n'
veth two eth0 90:1b:0e:00:00:05
veth two eth1 90:1b:0e:00:00:06
ip -n "$tag-two" addr add 198.51.100.10/26 dev eth0
ip -n "$tag-two" addr add 203.0.113.10/26 dev eth1
ip -n "$tag-two" route add default via 203.0.113.1 dev eth1
[ "$(detect two)" = 0 ] || fail "detect in two: $(cat "$tmp/two.err")"
check two '
assert d["ipv4_gateway"] == {"address": "203.0.113.1", "dev": "eth1"}, d["ipv4_gateway"]
assert d["uplink"] is None
assert warned("eth1 is a virtual interface") and not warned("eth0 is a virtual"), d["warnings"]
'
[ "$(detect two --uplink eth1)" = 0 ] || fail "detect --uplink eth1: $(cat "$tmp/two.err")"
check two '
assert d["uplink"]["name"] == "eth1" and d["uplink"]["ipv4"] == [{"address": "203.0.113.10", "prefix": 26}], d["uplink"]
'
[ "$(detect two --uplink eth7)" = 2 ] || fail "detect --uplink eth7 must be a usage error"
grep -q -- "--uplink eth7: no interface has that name or MAC; interfaces here: eth0 (90:1b:0e:00:00:05)" "$tmp/two.err" ||
	fail "unclear --uplink error: $(cat "$tmp/two.err")"
ok "two NICs, the one with the default route; --uplink names any interface"

# ---- nothing configured: empty resolv.conf, no default route ----
new_ns bare ''
veth bare eth0 90:1b:0e:00:00:07
[ "$(detect bare)" = 0 ] || fail "detect in bare: $(cat "$tmp/bare.err")"
check bare '
assert d["ipv4_gateway"] is None and d["ipv6_gateway"] is None and d["nameservers"] == []
assert warned("no default route") and warned("/etc/resolv.conf lists no nameserver"), d["warnings"]
assert d["uplink"] is None and warned("no uplink found")
'
ok "no route and no nameserver give valid JSON and warnings"
