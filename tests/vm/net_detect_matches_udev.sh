#!/usr/bin/env bash
# tests/vm/net_detect_matches_udev.sh: `detect --json` inside the simulated rescue (real QEMU
# PCI devices, real sysfs, Hetzner-style addresses set by the rescue's init) agrees with the
# guest's own systemd: the predicted name is the first of ID_NET_NAME_ONBOARD, _SLOT, _PATH that
# `udevadm test-builtin net_id` gives, for an e1000e at 00:1f.6 (a function of the
# multi-function ICH9 slot: enp0s31f6) and a virtio-net at 00:05.0 (named by its PCI parent:
# enp0s5). Also: MAC, driver, PCI slot, the IPv4 /26 and gateway, the IPv6 /64 and fe80::1,
# nameservers, the uplink, boot mode and virtualisation.
# shellcheck disable=SC2154 # agent: set by the sourced tests/vm/lib/guest.sh
if [ -z "${NMMM_GUEST:-}" ]; then
  . "$(dirname "$0")/lib/host.sh"
  vm_boot --disks nvme:1G --nic e1000e@1f.6 --boot e1000e --mem 768
  vm_boot --disks nvme:1G --nic virtio-net-pci@05.0 --boot virtio --mem 768
  exit
fi
. /nmmm/lib/guest.sh

case ${NMMM_BOOT:-} in
e1000e) want_driver=e1000e want_slot=0000:00:1f.6 want_name=enp0s31f6 ;;
virtio) want_driver=virtio_net want_slot=0000:00:05.0 want_name=enp0s5 ;;
*) fail "unknown boot label '${NMMM_BOOT:-}'"; finish ;;
esac

echo "+ $agent detect --json"
"$agent" detect --json >/tmp/detect.json || fail "detect exited $?"
udevadm test-builtin net_id /sys/class/net/eth0 >/tmp/net_id.txt 2>/dev/null || fail "udevadm test-builtin net_id failed"
cat /tmp/net_id.txt
systemd_name=""
for key in ID_NET_NAME_ONBOARD ID_NET_NAME_SLOT ID_NET_NAME_PATH; do
  systemd_name=$(sed -n "s/^$key=//p" /tmp/net_id.txt | head -n1)
  [ -n "$systemd_name" ] && break
done

# field FILTER EXPECTED: one jq value of detect's output compared with what it must be
field() {
  local got
  got=$(jq -c "$1" /tmp/detect.json)
  [ "$got" = "$2" ] && ok "$1 = $2" || fail "$1 is $got, expected $2"
}
field '.nics[0].predicted_name' "\"$systemd_name\""
field '.nics[0].predicted_name' "\"$want_name\""
field '.nics | length' 1
field '.nics[0].name' '"eth0"'
field '.nics[0].mac' '"90:1b:0e:12:34:56"'
field '.nics[0].driver' "\"$want_driver\""
field '.nics[0].pci_slot' "\"$want_slot\""
field '.nics[0].up' true
field '[.nics[0].ipv4[] | {address, prefix}]' '[{"address":"203.0.113.10","prefix":26}]'
field '[.nics[0].ipv6[] | select(.usable) | {address, prefix}]' '[{"address":"2001:db8:1234::2","prefix":64}]'
field '[.nics[0].ipv6[] | select(.link_local)] | length' 1
field '.ipv4_gateway' '{"address":"203.0.113.1","dev":"eth0"}'
field '.ipv6_gateway' '{"address":"fe80::1","dev":"eth0"}'
field '.nameservers' '["185.12.64.1","185.12.64.2","2a01:4ff:ff00::add:1"]'
field '.uplink.name' '"eth0"'
field '.boot_mode' '"bios"'
field '.virtualisation' '"qemu"'
field '.initrd_modules | index("nvme") != null' true
field '.ssh_authorized_keys | length' 1
jq '{nics, uplink, initrd_modules, kernel_modules, virtualisation, warnings}' /tmp/detect.json
finish
