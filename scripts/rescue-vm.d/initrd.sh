# shellcheck shell=bash
# rescue-vm.d/initrd.sh: the initramfs the installed disks boot with (scripts/rescue-vm
# --boot-files), cached in /var/cache/nmmm/initrd/<hash of the recipe>/initrd. It STANDS IN for
# NixOS's systemd initrd, whose builder (nixpkgs' make-initrd-ng) cannot be had here: Debian's
# dracut packs the rescue image's own bookworm systemd, udev and mdadm, and the mechanism is
# NixOS's — systemd as PID 1 of stage 1, udev with mdadm's own rules assembling the arrays
# incrementally, mdadm-last-resort@.timer starting an array that is still missing a member after
# 30 s, the root mounted by the root= the boot loader passes (the rendered UUID), then switch-root
# to the system's init. dracut's own md module (90mdraid: its rules and a timeout script of its
# own) is left out; ./dracut/91nmmm-swraid installs what NixOS's boot.swraid puts there instead.
# mdadm.conf is the installed system's: its toplevel carries it as a second initrd (GRUB loads
# both). Sourced by scripts/rescue-vm; defines functions only.

initrd_dracut_modules="bash systemd systemd-initrd systemd-journald systemd-udevd systemd-modules-load dracut-systemd udev-rules kernel-modules base fs-lib rootfs-block nmmm-swraid"
initrd_drivers="nvme ahci sd_mod virtio_pci virtio_blk md_mod raid1 ext4 crc32c_generic"

initrd_key() {
  local here=$1 image=$2
  { cat "$here/initrd.sh" "$here"/dracut/*/*; basename "$image"; } | sha256sum | cut -c1-16
}

# Ensures the initrd for this rescue image exists; prints its path.
initrd_build() {
  local here=$1 image=$2 key dir tmp t0 kver rc=0
  key=$(initrd_key "$here" "$image")
  dir=/var/cache/nmmm/initrd/$key
  if [ -s "$dir/initrd" ]; then
    echo "$dir/initrd"
    return 0
  fi
  t0=$(date +%s)
  kver=$(cat "$image/kver")
  tmp=$(mktemp -d /dev/shm/nmmm-vm-initrd.XXXXXX)
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "umount '$tmp/root/proc' 2>/dev/null; rm -rf '$tmp'" RETURN
  echo "rescue-vm: building the disk boot initrd $key (dracut in the rescue image $(basename "$image"))" >&2
  mkdir -p "$tmp/root"
  (cd "$tmp/root" && cpio -idm --quiet <"$image/base.cpio")
  image_unpack_debs "$tmp/root" dracut-core cpio || return 1
  cp -r "$here"/dracut/* "$tmp/root/usr/lib/dracut/modules.d/"
  mount -t proc proc "$tmp/root/proc"
  chroot "$tmp/root" dracut --quiet --force --no-hostonly --no-hostonly-cmdline --no-compress \
    --modules "$initrd_dracut_modules" --drivers "$initrd_drivers" \
    --kver "$kver" /initrd >"$tmp/dracut.log" 2>&1 || rc=$?
  umount "$tmp/root/proc"
  if [ $rc != 0 ] || [ ! -s "$tmp/root/initrd" ]; then
    tail -n 30 "$tmp/dracut.log" >&2
    echo "rescue-vm: dracut failed (log above)" >&2
    return 1
  fi
  mkdir -p "$dir.tmp.$$"
  cp "$tmp/root/initrd" "$dir.tmp.$$/initrd"
  mv -T "$dir.tmp.$$" "$dir" 2>/dev/null || rm -rf "$dir.tmp.$$"
  echo "rescue-vm: initrd $key built in $(($(date +%s) - t0)) s ($(du -m "$dir/initrd" | cut -f1) MB)" >&2
  echo "$dir/initrd"
}
