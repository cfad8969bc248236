# shellcheck shell=bash
# rescue-vm.d/demo-guest.sh: what scripts/demo runs inside the simulated rescue: the operator's
# view of nmmm-agent on a two-NVMe Hetzner box — detect, plan, the whole `install --yes` (with
# Debian's nix and the miniature channel standing in for nixpkgs, which cannot be fetched here),
# then the result: status, lsblk, mdadm, the generated hardware-configuration.nix, the new host
# keys and the export. Runs as the --run script; the channel tarball arrives as /nmmm/nixexprs.tar.xz.
set -u
agent=/nmmm/bin/nmmm-agent
disks=serial:S6NVME0001,serial:S6NVME0002
key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1t8eX2JmQvUo0wUqXkYy5YkqfYv0bq3j7n9b1c2d3 operator@laptop"
banner() { printf '\n===== %s\n' "$*"; }
rc=0
for _ in $(seq 150); do
  [ "$(cat /sys/class/net/eth0/operstate 2>/dev/null)" = up ] && break
  sleep 0.1
done

banner "nmmm-agent detect   (what the rescue system sees)"
"$agent" detect || rc=1
banner "nmmm-agent plan --disks $disks"
"$agent" plan --disks "$disks" || rc=1
nar=$(cat /nmmm/nixexprs.nar) # the tree's NAR hash, computed on the host
banner "nmmm-agent install --yes --disks $disks --hostname web1 ...   (the miniature channel stands in for nixpkgs)"
"$agent" install --yes --disks "$disks" --hostname web1 --ssh-key "$key" --no-reboot \
  --nix-from-path --substituters '' --nixpkgs file:///nmmm/nixexprs.tar.xz --nixpkgs-hash "$nar" || rc=1
banner "nmmm-agent status"
"$agent" status || rc=1
banner "lsblk"
lsblk -o NAME,SIZE,TYPE,FSTYPE,UUID
banner "mdadm --detail /dev/md/root"
mdadm --detail /dev/md/root || rc=1
banner "hardware-configuration.nix (as installed in /etc/nixos)"
cat /run/nmmm/nixos/hardware-configuration.nix || rc=1
banner "the new SSH host keys (report.json): pin them before the first connection"
jq -r '.ssh_host_keys[] | .fingerprint' /run/nmmm/nixos/report.json || rc=1
banner "nmmm-agent export | tar -t   (the files for your deploy repository)"
"$agent" export | tar -tv || rc=1
exit $rc
