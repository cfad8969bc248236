# shellcheck shell=bash
# rescue-vm.d/image.sh: builds the simulated Hetzner rescue image — a Debian bookworm minbase
# userland (debootstrap from the mirror apt uses here) with the packages in ./packages and the
# kernel modules in ./modules, trimmed and packed as an uncompressed initramfs — and caches it in
# /var/cache/nmmm/rescue/<hash of the recipe>/ {vmlinuz, base.cpio, kver}. Never writes into the
# repository and never installs anything on the host. Sourced by scripts/rescue-vm.

# The bookworm mirror apt uses (deb822 or one-line sources), e.g. http://deb.debian.org/debian.
image_mirror() {
  local m
  m=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# Non-comment lines of a recipe file, one a line.
recipe_list() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"; }

# The cache key: every input of the image (recipe files, this builder, kernel version, mirror).
image_key() {
  local here=$1 kdir=$2
  { cat "$here/packages" "$here/extract" "$here/modules" "$here/image.sh"; basename "$kdir"; image_mirror; } |
    sha256sum | cut -c1-16
}

# Copies the modules named in ./modules and everything they depend on into ROOT, then depmod.
image_add_modules() {
  local here=$1 kdir=$2 root=$3 work=$4 kver m f
  kver=$(basename "$(ls -d "$kdir"/lib/modules/*)")
  # A hard-linked copy of the shared cache, so depmod can write modules.dep without touching it.
  mkdir -p "$work/lib/modules"
  cp -al "$kdir/lib/modules/$kver" "$work/lib/modules/$kver"
  depmod -b "$work" "$kver"
  mkdir -p "$root/lib/modules/$kver"
  for m in $(recipe_list "$here/modules"); do
    modprobe -d "$work" -S "$kver" --show-depends "$m" | awk '$1=="insmod" {print $2}'
  done | sort -u | while read -r f; do
    f=${f#"$work"}
    mkdir -p "$root$(dirname "$f")"
    cp "$work$f" "$root$f"
  done
  cp "$kdir/lib/modules/$kver"/modules.order "$kdir/lib/modules/$kver"/modules.builtin* "$root/lib/modules/$kver/"
  depmod -b "$root" "$kver"
  echo "$kver"
}

# Downloads the Debian packages PKG... and unpacks their files into ROOT: no maintainer scripts,
# no dependencies. Not dpkg -x, which would replace a merged-/usr root's /lib symlink with a
# directory. ROOT PKG...
image_unpack_debs() {
  local root=$1 work p
  shift
  work=$(mktemp -d)
  for p in "$@"; do
    if ! (cd "$work" && apt-get download -q "$p" >&2); then
      rm -rf "$work"
      echo "rescue-vm: apt-get download $p failed; run apt-get update" >&2
      return 1
    fi
  done
  mkdir -p "$root"
  for p in "$work"/*.deb; do dpkg-deb --fsys-tarfile "$p" | tar -x --keep-directory-symlink -C "$root"; done
  rm -rf "$work"
}

# The packages in ./extract, into ROOT: the libraries they need are listed in ./packages.
image_extract_packages() {
  # shellcheck disable=SC2046 # one package a word
  image_unpack_debs "$2" $(recipe_list "$1/extract")
}

# Debian's GRUB (BIOS and EFI platforms) as a self-contained directory /usr/lib/nmmm-grub in ROOT:
# bin/grub-install (and the mdadm it runs), lib/grub/<platform>/, and the shared libraries both
# need with their loader in lib/ (run as lib/ld-linux-x86-64.so.2 --library-path lib bin/...). It STANDS IN for nixpkgs' grub2 package, which cannot be had here: the miniature
# channel imports this directory into the store (builtins.path), and switch-to-configuration runs
# grub-install from there inside the installed system's chroot, where no Debian library exists.
# The GRUB itself (boot sector, core image, modules) is the real one.
image_grub_package() {
  local root=$1 work dest=$1/usr/lib/nmmm-grub lib
  work=$(mktemp -d)
  image_unpack_debs "$work/x" grub-common grub2-common grub-pc-bin grub-efi-amd64-bin || { rm -rf "$work"; return 1; }
  mkdir -p "$dest/bin" "$dest/lib/grub"
  cp "$work/x/usr/sbin/grub-install" "$dest/bin/"
  cp -a "$work/x/usr/lib/grub/i386-pc" "$work/x/usr/lib/grub/x86_64-efi" "$dest/lib/grub/"
  rm -f "$dest"/lib/grub/*/*.module # the unlinked objects: grub-install reads the .mod files
  # grub-install asks mdadm for an array's members (mdadm --detail --export); NixOS's GRUB finds
  # the system's mdadm on its PATH, this one carries the image's.
  cp "$root/usr/sbin/mdadm" "$dest/bin/"
  for lib in $(chroot "$root" ldd /usr/lib/nmmm-grub/bin/grub-install /usr/sbin/mdadm |
    awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' | sort -u); do
    cp -L "$root$lib" "$dest/lib/"
  done
  rm -rf "$work"
}

# Removes what a rescue in RAM does not need: docs, man pages, locales, apt caches, the hwdb,
# Python (pulled in by xfsprogs for xfs_scrub_all only), Perl (debconf only), iconv modules.
image_trim() {
  local root=$1
  rm -rf "$root"/usr/lib/python3* "$root"/usr/bin/python3* "$root"/usr/lib/x86_64-linux-gnu/perl-base \
    "$root"/usr/lib/x86_64-linux-gnu/gconv "$root"/usr/share/perl5
  rm -rf "$root"/usr/share/{doc,man,info,locale,i18n,lintian,linda,zoneinfo,bash-completion,zsh} \
    "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
    "$root"/var/log/* "$root"/etc/udev/hwdb.bin "$root"/usr/lib/udev/hwdb.d \
    "$root"/usr/lib/udev/hwdb.bin "$root"/var/lib/dpkg/info/*.md5sums
}

# The raw kernel inside the EFI-stub vmlinuz (xz-compressed in Debian's 6.1): QEMU boots it
# directly (PVH) with SeaBIOS, sparing the ~6 s the stub spends decompressing itself under TCG.
# Left out when the payload is not found; the harness then boots vmlinuz.
image_extract_vmlinux() {
  local off
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n1 | cut -d: -f1)
  [ -n "$off" ] || return 0
  tail -c +$((off + 1)) "$1" | xz -dc 2>/dev/null >"$2" || true
  [ "$(head -c4 "$2" | od -An -c | tr -d ' ')" = 177ELF ] || rm -f "$2"
}

# Ensures the image for the current recipe exists; prints its cache directory.
image_build() {
  local here=$1 kdir=$2 key dir tmp kwork packages kver t0
  key=$(image_key "$here" "$kdir")
  dir=/var/cache/nmmm/rescue/$key
  if [ -s "$dir/base.cpio" ]; then
    echo "$dir"
    return 0
  fi
  t0=$(date +%s)
  mkdir -p /var/cache/nmmm/rescue
  # The userland is assembled in RAM (the disk here is slow and shared), then packed into the cache.
  tmp=$(mktemp -d /dev/shm/nmmm-vm-image.XXXXXX)
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  [ -n "${NMMM_VM_KEEP_BUILD:-}" ] || trap "rm -rf '$tmp'" RETURN
  packages=$(recipe_list "$here/packages" | paste -sd,)
  echo "rescue-vm: building the rescue image $key (debootstrap bookworm from $(image_mirror))" >&2
  if ! debootstrap --variant=minbase --include="$packages" bookworm "$tmp/root" "$(image_mirror)" \
    >"$tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$tmp/debootstrap.log" >&2
    echo "rescue-vm: debootstrap failed (log above); check the mirror and ./packages" >&2
    return 1
  fi
  image_extract_packages "$here" "$tmp/root" || return 1
  image_grub_package "$tmp/root" || return 1
  image_trim "$tmp/root"
  # depmod's scratch copy is hard-linked, so it must sit on the kernel cache's filesystem.
  kwork=$(mktemp -d /var/cache/nmmm/kernel/.depmod-vm.XXXXXX)
  kver=$(image_add_modules "$here" "$kdir" "$tmp/root" "$kwork")
  rm -rf "$kwork"
  mkdir -p "$tmp/out"
  cp "$kdir/boot/vmlinuz-$kver" "$tmp/out/vmlinuz"
  image_extract_vmlinux "$tmp/out/vmlinuz" "$tmp/out/vmlinux"
  echo "$kver" >"$tmp/out/kver"
  # Uncompressed: boots fastest under TCG. Padded to 512 bytes so a per-run cpio can be appended.
  (cd "$tmp/root" && find . -print0 | cpio --null -o -H newc --quiet) >"$tmp/out/base.cpio"
  truncate -s %512 "$tmp/out/base.cpio"
  mkdir -p "$dir.tmp.$$"
  cp "$tmp/out"/* "$dir.tmp.$$/"
  mv -T "$dir.tmp.$$" "$dir" 2>/dev/null || rm -rf "$dir.tmp.$$"
  echo "rescue-vm: image $key built in $(($(date +%s) - t0)) s ($(du -m "$dir/base.cpio" | cut -f1) MB)" >&2
  echo "$dir"
}
