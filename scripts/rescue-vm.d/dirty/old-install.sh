# shellcheck shell=bash
# dirty/old-install.sh: inside the guest, before the scenario, gives every disk but the decoy the
# remains of an old installimage-style installation, still live: GPT with /boot, swap and LVM
# partitions at other offsets than nmmm's, md RAID-1 on each (/boot with metadata 1.0 at the end),
# swap on md1 switched on, LVM on md2 with an xfs volume active and an ext4 root mounted at /mnt
# with the old /boot (md0) at /mnt/boot — the way an operator mounts the old system in the rescue
# to look at it, and the target where the agent will mount the new one.
# Records every old UUID and partition region in /run/nmmm-dirty/ for the scenario to hunt for.
# Runs with bash -e: any failing step stops the run (NMMM-RESULT rc=125).
out=/run/nmmm-dirty
mkdir -p "$out" /mnt
mapfile -t disks < <(lsblk -dnpo NAME,SERIAL,TYPE | awk '$3=="disk" && $2!="NMMMDECOY" {print $1}')
[ ${#disks[@]} -ge 2 ] || { echo "old-install: needs two disks, found ${disks[*]}"; exit 1; }
part() { case $1 in *[0-9]) echo "${1}p$2" ;; *) echo "$1$2" ;; esac; }

for d in "${disks[@]:0:2}"; do
  sgdisk -Z "$d" >/dev/null 2>&1 || true
  sgdisk -n1:2048:+512M -t1:fd00 -n2:0:+1G -t2:fd00 -n3:0:0 -t3:fd00 "$d" >/dev/null
done
partprobe "${disks[@]:0:2}" 2>/dev/null || true
udevadm settle 2>/dev/null || true
a=${disks[0]} b=${disks[1]}
mdadm --create /dev/md0 --run --assume-clean --level=1 --raid-devices=2 --metadata=1.0 --homehost=oldbox \
  "$(part "$a" 1)" "$(part "$b" 1)"
mdadm --create /dev/md1 --run --assume-clean --level=1 --raid-devices=2 --homehost=oldbox \
  "$(part "$a" 2)" "$(part "$b" 2)"
mdadm --create /dev/md2 --run --assume-clean --level=1 --raid-devices=2 --homehost=oldbox \
  "$(part "$a" 3)" "$(part "$b" 3)"
mkfs.ext4 -q -F -L oldboot /dev/md0
mkswap -L oldswap /dev/md1 >/dev/null
swapon /dev/md1
pvcreate -q -ff -y /dev/md2
vgcreate -q vg0 /dev/md2
lvcreate -q -y -L 2G -n root vg0
lvcreate -q -y -L 1G -n data vg0
mkfs.ext4 -q -F -L oldroot /dev/vg0/root
mkfs.xfs -q -f -L olddata /dev/vg0/data
mount /dev/vg0/root /mnt
mkdir -p /mnt/boot
mount /dev/md0 /mnt/boot
echo "the old system's data" >/mnt/etc-shadow-of-the-past
sync

# What the scenario must not find afterwards: every old UUID, and where the old partitions were.
{
  for dev in /dev/md0 /dev/md1 /dev/md2 /dev/vg0/root /dev/vg0/data; do blkid -p -s UUID -o value "$dev"; done
  for d in "${disks[@]:0:2}"; do for n in 1 2 3; do blkid -p -s UUID -o value "$(part "$d" "$n")"; done; done
} | sort -u | sed '/^$/d' >"$out/old-uuids"
for d in "${disks[@]:0:2}"; do
  for n in 1 2 3; do
    p=$(part "$d" "$n")
    echo "$d $(($(cat "/sys/class/block/${p#/dev/}/start") * 512)) $(($(cat "/sys/class/block/${p#/dev/}/size") * 512))"
  done
done >"$out/old-regions"
echo "old-install: ready: $(wc -l <"$out/old-uuids") old UUIDs; live:"
cat /proc/mdstat
swapon --show
grep -E " /mnt(/boot)? " /proc/mounts
lvs --noheadings -o lv_name,vg_name,lv_attr
