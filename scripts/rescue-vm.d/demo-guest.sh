# shellcheck shell=bash
# rescue-vm.d/demo-guest.sh: what scripts/demo runs inside the simulated rescue: the operator's
# view of nmmm-agent on a two-NVMe Hetzner box (detect, plan, layout with progress, the result in
# lsblk and mdadm, the rendered hardware-configuration.nix). Runs as the --run script.
set -u
agent=/nmmm/bin/nmmm-agent
disks=serial:S6NVME0001,serial:S6NVME0002
banner() { printf '\n===== %s\n' "$*"; }
rc=0

banner "nmmm-agent detect   (what the rescue system sees)"
"$agent" detect || rc=1
banner "nmmm-agent plan --disks $disks"
"$agent" plan --disks "$disks" || rc=1
banner "nmmm-agent layout --disks $disks --yes   (teardown, wipe, partition, raid, format, mount)"
"$agent" layout --disks "$disks" --yes || rc=1
banner "lsblk"
lsblk -o NAME,SIZE,TYPE,FSTYPE,UUID,MOUNTPOINTS
banner "mdadm --detail /dev/md/root"
mdadm --detail /dev/md/root || rc=1
banner "nmmm-agent render --disks $disks --out /tmp/nixos"
"$agent" render --disks "$disks" --out /tmp/nixos || rc=1
echo "(render plans on its own here, so its UUIDs are not the ones above; install renders and lays"
echo " out from one plan)"
banner "/tmp/nixos/hardware-configuration.nix"
cat /tmp/nixos/hardware-configuration.nix || rc=1
exit $rc
