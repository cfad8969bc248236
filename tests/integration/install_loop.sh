#!/usr/bin/env bash
# install_loop.sh: the whole `install` on a loop device (one-disk layout: this host has no md
# driver), with Debian's nix and the miniature channel served over loopback HTTP. Asserts the
# result on the disk itself (partitions, UUIDs, files, the boot loader call, the target store),
# the handover (report, host keys, export, status) and that the decoy never changed.
IE_NAME=loop
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
decoy_before=$(ie_disk_sum "$IE_DECOY")
mapfile -t args < <(ie_install_args)

# One install and everything it must leave on the disk; "$@" adds install options.
install_and_check() {
	rm -rf "$IE_WORK/state"
	: > "$IE_WORK/events.jsonl"
	ie_agent --events "$IE_WORK/events.jsonl" install --yes "${args[@]}" "$@" --ssh-key "$IE_KEY" \
		> "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || fail "install $*: $(tail -n 20 "$IE_WORK/err.txt")"

	state="$IE_WORK/state/state.json"
	python3 - "$state" "$IE_WORK/events.jsonl" <<-'EOF' || fail "state or events wrong"
	import json, sys
	st = json.load(open(sys.argv[1]))
	assert st["result"] == "done", st.get("error")
	phases = ["detect", "plan", "confirm", "fetch", "render", "build", "teardown", "wipe", "partition",
	          "raid", "format", "mount", "install", "handover"]
	assert all(p in st["phases"] for p in phases), sorted(st["phases"])
	events = [json.loads(l) for l in open(sys.argv[2])]
	starts = [e["phase"] for e in events if e["event"] == "start"]
	assert starts == phases, starts
	# Destroy last: the first destructive phase starts only after build is done.
	order = [(e["phase"], e["event"]) for e in events if e["event"] in ("start", "done")]
	assert order.index(("build", "done")) < order.index(("teardown", "start"))
	EOF

	# The disk carries exactly the planned layout.
	plan_json=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["plan"]))' "$state")
	root_uuid=$(python3 -c 'import json,sys; p=json.loads(sys.argv[1]); print([f for f in p["filesystems"] if f.get("mountpoint")=="/"][0]["uuid"])' "$plan_json")
	[ "$(blkid -p -s UUID -o value "${IE_DISK}p4")" = "$root_uuid" ] || fail "root filesystem UUID is not the planned $root_uuid"
	sfdisk --json "$IE_DISK" > "$IE_WORK/table.json"
	python3 - "$IE_WORK/table.json" "$plan_json" <<-'EOF' || fail "partition table differs from the plan"
	import json, sys
	table = json.load(open(sys.argv[1]))["partitiontable"]
	plan = json.loads(sys.argv[2])
	disk = plan["disks"][0]
	sector = table.get("sectorsize", 512)
	got = {int(p["node"].rsplit("p", 1)[1]): p for p in table["partitions"]}
	for part in disk["partitions"]:
	    g = got[part["number"]]
	    assert g["start"] * sector == part["start"], (part, g)
	    assert g["size"] * sector == part["size"], (part, g)
	    assert g["type"].lower() == part["type_guid"].lower(), (part, g)
	EOF

	# What landed on the root filesystem.
	mnt="$IE_WORK/check"
	mkdir -p "$mnt"
	mount "${IE_DISK}p4" "$mnt"
	for f in configuration.nix hardware-configuration.nix plan.json report.json; do
		[ -s "$mnt/etc/nixos/$f" ] || fail "/etc/nixos/$f missing on the installed disk"
	done
	grep -q "/dev/disk/by-uuid/$root_uuid" "$mnt/etc/nixos/hardware-configuration.nix" || fail "root not rendered by UUID"
	[ "$(cat "$mnt/boot/nmmm-toy-bootloader")" = "grub-bios $IE_DISK" ] ||
		fail "boot loader not installed on $IE_DISK: $(cat "$mnt/boot/nmmm-toy-bootloader")"
	grep -q -- "--no-root-passwd" "$mnt/var/log/nmmm-toy-nixos-install.log" || fail "nixos-install called without --no-root-passwd"
	system=$(readlink "$mnt/nix/var/nix/profiles/system-1-link")
	# The system built from the rendered files (the toy records what it was built from).
	python3 - "$mnt$system/config.json" "$root_uuid" <<-'EOF2' || fail "installed system built from the wrong configuration"
	import json, sys
	c = json.load(open(sys.argv[1]))
	assert c["networking"]["hostName"] == "web1", c["networking"]
	assert c["fileSystems"]["/"]["device"] == "/dev/disk/by-uuid/" + sys.argv[2], c["fileSystems"]
	assert c["system"]["stateVersion"] == "26.05"
	EOF2
	[ -e "$mnt/nix/var/nix/profiles/per-user/root/channels/nixos/nixos/default.nix" ] || fail "channel not registered on the target"
	grep -q "nixos-26.05 nixos" "$mnt/root/.nix-channels" || fail ".nix-channels not written"
	for k in ed25519 rsa; do
		[ -s "$mnt/etc/ssh/ssh_host_${k}_key" ] || fail "host key $k missing"
	done
	python3 - "$mnt/etc/nixos/report.json" "$mnt/etc/ssh/ssh_host_ed25519_key.pub" <<-'EOF' || fail "report.json wrong"
	import json, subprocess, sys
	rep = json.load(open(sys.argv[1]))
	fp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", sys.argv[2]], capture_output=True, text=True, check=True).stdout.split()[1]
	assert any(fp in k["fingerprint"] for k in rep["ssh_host_keys"]), rep["ssh_host_keys"]
	assert rep["hostname"] == "web1"
	EOF
	[ -s "$mnt/var/lib/nmmm/state.json" ] || fail "state not mirrored into the target"

	# The target store holds the whole closure with intact contents.
	# nix-store exits non-zero when a path is missing or its contents changed; any line besides
	# its progress is a warning or an error, a failure too.
	nix-store --store "$mnt" --verify --check-contents > "$IE_WORK/verify.txt" 2>&1 ||
		fail "target store damaged: $(cat "$IE_WORK/verify.txt")"
	grep -v '^\(reading\|checking\)' "$IE_WORK/verify.txt" && fail "target store verify said more than progress"
	umount "$mnt"

}

# The system built in the rescue's RAM store (the default with RAM to spare)...
install_and_check
grep -q "build-in-target\|evaluating" "$IE_WORK/err.txt" && fail "built in the target although RAM was plentiful"
# ...and again over the installed disk, as a rebuild after a compromise would, building into the
# target store after mount (what a machine with little RAM does).
install_and_check --build-in-target
grep -q "evaluating the NixOS system" "$IE_WORK/err.txt" || fail "--build-in-target did not evaluate before the wipe"

# Handover tools work after the install.
ie_agent status --state-dir "$IE_WORK/state" | grep -q '^install: done' || fail "status does not say done"
ie_agent status --json --state-dir "$IE_WORK/state" | python3 -c 'import json,sys; assert json.load(sys.stdin)["result"]=="done"' ||
	fail "status --json"
ie_agent export --state-dir "$IE_WORK/state" > "$IE_WORK/export.tar" || fail "export failed"
[ "$(tar -tf "$IE_WORK/export.tar" | sort | tr '\n' ' ')" = \
	"configuration.nix flake.lock flake.nix hardware-configuration.nix nixpkgs.nix plan.json report.json " ] ||
	fail "export lists: $(tar -tf "$IE_WORK/export.tar" | tr '\n' ' ')"
# The handover pins the tree the install verified: the NAR hash given, as SRI.
tar -xOf "$IE_WORK/export.tar" flake.lock | python3 -c '
import json, sys
n = json.load(sys.stdin)["nodes"]["nixpkgs"]["locked"]
assert n["type"] == "tarball" and n["url"].endswith("/nixexprs.tar.xz"), n
print(n["narHash"])' > "$IE_WORK/lock-nar" || fail "export: flake.lock does not lock the tarball"
[ "$(nix-hash --type sha256 --to-base32 "$IE_CHANNEL_NAR")" = "$(tar -xOf "$IE_WORK/export.tar" nixpkgs.nix | sed -n 's/.*sha256 = "\(.*\)";/\1/p')" ] ||
	fail "export: nixpkgs.nix does not carry the installed tree's hash"

[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy disk changed"
echo "install_loop: ok"
