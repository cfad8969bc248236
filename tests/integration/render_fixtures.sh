#!/usr/bin/env bash
# render_fixtures.sh: `nmmm-agent render --root FIXTURE` for each captured machine in
# tests/fixtures (dual stack on an onboard NIC; a Hetzner AX with a BMC USB NIC and temporary,
# deprecated and tentative IPv6 addresses; an IPv6-only UEFI machine with multi-function NICs).
# The fixtures hold no disks, so each is copied and given two NVMe disks in sysfs, one with a
# hostile /dev/disk/by-id and by-path name ('"', '${', '$'). Every value of the rendered files, evaluated by
# the real nix-instantiate, is compared with what `detect --json` reports for the same tree:
# the uplink's MAC, its usable addresses (IPv4 as /32), gateways, resolvers, modules, microcode,
# GRUB targets and root's keys — nothing here is a hard-coded expectation of the fixture.
set -euo pipefail

: "${NMMM_AGENT:?set NMMM_AGENT to the nmmm-agent binary}"
: "${NMMM_FIXTURES:?set NMMM_FIXTURES to tests/fixtures}"
# shellcheck source=tests/lib/report.sh
source "$(dirname "$0")/../lib/report.sh"
# shellcheck source=tests/integration/lib/nix-env.sh
source "$(dirname "$0")/lib/nix-env.sh"

tmp=$(mktemp -d /tmp/nix-render-fixtures.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# add_disk TREE N BY_ID BY_PATH: an NVMe namespace nvme<N>n1 of 512 GB under a PCI device, and
# its by-id and by-path links.
add_disk() {
	local tree=$1 n=$2 by_id=$3 by_path=$4
	local ctrl="$tree/sys/devices/pci0000:00/0000:0$((n + 4)):00.0/nvme/nvme$n"
	local dev="$ctrl/nvme${n}n1"
	mkdir -p "$dev/queue" "$tree/sys/block" "$tree/dev/disk/by-id" "$tree/dev/disk/by-path"
	echo 1000215216 >"$dev/size"
	echo 0 >"$dev/removable"
	echo 512 >"$dev/queue/logical_block_size"
	echo 512 >"$dev/queue/physical_block_size"
	echo 0 >"$dev/queue/rotational"
	echo "259:$n" >"$dev/dev"
	echo "SAMSUNG MZVL2512HCJQ-00B00" >"$ctrl/model"
	echo "S6$n" >"$ctrl/serial"
	ln -s "../devices/pci0000:00/0000:0$((n + 4)):00.0/nvme/nvme$n/nvme${n}n1" "$tree/sys/block/nvme${n}n1"
	ln -s "../../nvme${n}n1" "$tree/dev/disk/by-id/$by_id"
	ln -s "../../nvme${n}n1" "$tree/dev/disk/by-path/$by_path"
}

checked=0
for fx in nvme-onboard sata-pcie-bmc uefi-multifunction; do
	[ -d "$NMMM_FIXTURES/$fx/root" ] || fail "fixture $fx is missing"
	tree="$tmp/$fx/root"
	out="$tmp/$fx/out"
	mkdir -p "$tmp/$fx"
	cp -a "$NMMM_FIXTURES/$fx/root" "$tree"
	rm -rf "$tree/dev/disk"
	add_disk "$tree" 0 "nvme-SAMSUNG_MZVL2512HCJQ-00B00_S60" "pci-0000:04:00.0-nvme-1"
	# shellcheck disable=SC2016 # a literal '${' is the point: it must survive escaping
	add_disk "$tree" 1 'nvme-Odd"Vendor_${x}_$y_S61' 'pci-0000:05:00.0"${x}_$y-nvme-1'

	"$NMMM_AGENT" --root "$tree" detect --json >"$tmp/$fx/detect.json" 2>/dev/null
	"$NMMM_AGENT" --root "$tree" render --disks nvme0n1,nvme1n1 --hostname "$fx" --out "$out" \
		>"$tmp/$fx/stdout" 2>"$tmp/$fx/stderr" || { cat "$tmp/$fx/stderr"; fail "$fx: render"; }
	for f in hardware-configuration.nix configuration.nix; do
		nix-instantiate --parse "$out/$f" >/dev/null
	done
	nix-instantiate --eval --strict --json "$NMMM_FIXTURES/render-eval.nix" --argstr dir "$out" >"$out/eval.json"

	python3 - "$fx" "$out/eval.json" "$tmp/$fx/detect.json" "$out/plan.json" "$out/hardware-configuration.nix" <<'PY'
import json, sys
fx, ev, det, rec = sys.argv[1], *[json.load(open(p)) for p in sys.argv[2:5]]
hw_text = open(sys.argv[5]).read()
hw, conf = ev["hw"], ev["conf"]

def eq(what, got, want):
    if got != want:
        sys.exit(f"FAIL: {fx}: {what}: want {want!r}, got {got!r}")

# The uplink is the NIC carrying the default route (IPv4 first, else IPv6).
gw4, gw6 = det.get("ipv4_gateway"), det.get("ipv6_gateway")
up_name = (gw4 or gw6)["dev"]
nic = next(n for n in det["nics"] if n["name"] == up_name)
v4 = [a for a in nic["ipv4"] if a["usable"]]
v6 = [a for a in nic["ipv6"] if a["usable"]]
net = hw["systemd"]["network"]["networks"]["10-uplink"]
eq("uplink MAC", net["matchConfig"]["MACAddress"], nic["mac"])
eq("uplink type", net["matchConfig"]["Type"], "ether")
# The same NIC by PCI path, with the same addresses and routes, when its PCI function is its own.
nets = hw["systemd"]["network"]["networks"]
alone = nic["pci_slot"] and sum(1 for n in det["nics"] + det["virtual_nics"] if n["pci_slot"] == nic["pci_slot"]) == 1
if alone:
    by_path = nets["20-uplink-pci-path"]
    eq("uplink PCI path", by_path["matchConfig"], {"Path": "pci-" + nic["pci_slot"], "Type": "ether"})
    eq("PCI path unit = MAC unit", {k: v for k, v in by_path.items() if k != "matchConfig"},
       {k: v for k, v in net.items() if k != "matchConfig"})
else:
    eq("no PCI path unit", "20-uplink-pci-path" in nets, False)
eq("BMC USB NIC kept down", nets["30-bmc-usb"]["linkConfig"]["ActivationPolicy"], "always-down")
eq("BMC USB NIC without RAs", nets["30-bmc-usb"]["networkConfig"]["IPv6AcceptRA"], False)
eq("addresses", net["address"], [a["address"] + "/32" for a in v4] + [f"{a['address']}/{a['prefix']}" for a in v6])
routes = []
if v4 and gw4 and gw4["dev"] == up_name:
    routes.append({"Gateway": gw4["address"], "GatewayOnLink": True})
if v6 and gw6 and gw6["dev"] == up_name:
    routes.append({"Gateway": gw6["address"]})
eq("routes", net["routes"], routes)
want_ns = [s for s in det["nameservers"] if (":" in s and v6) or (":" not in s and v4)]
eq("nameservers", hw["networking"]["nameservers"], want_ns)
eq("uplink in plan.json", rec["uplink"]["predicted_name"], nic["predicted_name"])
if f"NixOS will name it {nic['predicted_name']}" not in hw_text:
    sys.exit(f"FAIL: {fx}: the predicted name {nic['predicted_name']} is not in the uplink comment")

baseline = ["nvme", "ahci", "sd_mod", "xhci_pci", "usbhid"]
eq("initrd modules", hw["boot"]["initrd"]["availableKernelModules"],
   baseline + [m for m in det["initrd_modules"] if m not in baseline])
eq("kernel modules", hw["boot"]["kernelModules"], det["kernel_modules"])
if det["virtualisation"] == "none" and det["cpu_vendor"] in ("intel", "amd"):
    eq("microcode", hw["hardware"]["cpu"][det["cpu_vendor"]]["updateMicrocode"], True)
    eq("imports", hw["imports"], ["/m/installer/scan/not-detected.nix"])

by_path = {d["name"]: d["by_path"] for d in det["disks"]}
grub = hw["boot"]["loader"]["grub"]
if det["boot_mode"] == "bios":
    eq("grub devices (the slots)", grub["devices"], [by_path["nvme0n1"], by_path["nvme1n1"]])
else:
    eq("grub device", grub["device"], "nodev")
    esps = [fs for fs in rec["plan"]["filesystems"] if fs["fstype"] == "vfat" and fs.get("mountpoint")]
    eq("mirroredBoots", [m["path"] for m in grub["mirroredBoots"]], [fs["mountpoint"] for fs in esps[1:]])
    eq("configurationLimit (1 GiB ESPs)", grub["configurationLimit"], 13)
    checks = [l for l in grub["extraPrepareConfig"].split("\n") if l]
    eq("an ESP check each", [l.split()[2] for l in checks], [fs["mountpoint"] for fs in esps])
    for l, fs in zip(checks, esps):
        if fs["uuid"] not in l or "nmmm-agent replace-disk" not in l:
            sys.exit(f"FAIL: {fx}: ESP check '{l}' does not name {fs['uuid']} and the repair")
eq("swraid", hw["boot"]["swraid"]["enable"], True)
eq("systemd initrd (degraded arrays start)", hw["boot"]["initrd"]["systemd"]["enable"], True)
eq("hostName", conf["networking"]["hostName"], fx)
eq("keys", conf["users"]["users"]["root"]["openssh"]["authorizedKeys"]["keys"], det["ssh_authorized_keys"])
print(f"render_fixtures: {fx}: {det['boot_mode']}, uplink {up_name} ({nic['predicted_name']}), "
      f"{len(v4)} IPv4 + {len(v6)} IPv6, {len(routes)} routes: as detected")
PY
	checked=$((checked + 1))
done
[ "$checked" -eq 3 ] || fail "checked $checked fixtures"
echo "render_fixtures: ok"
