# shellcheck shell=bash
# rescue-vm.d/kernel.sh: the Debian kernel shared by the VM harness and the static build, extracted
# once into /var/cache/nmmm/kernel/<package version>/ (boot/vmlinuz-*, lib/modules/*). Never
# installs the kernel on the host: `apt-get download` + `dpkg -x` into a temp dir, renamed into place.
# Sourced by scripts/rescue-vm; defines functions only.

# Prints the name of the versioned kernel package behind linux-image-amd64 (linux-image-6.1.0-NN-amd64).
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

# Ensures the kernel cache exists; prints its directory. Safe to run concurrently with the static
# build: whoever renames first wins, the other drops its copy.
kernel_cache() {
  local pkg version dir tmp
  pkg=$(kernel_package)
  if [ -z "$pkg" ]; then
    echo "rescue-vm: apt-cache knows no linux-image-amd64; run apt-get update" >&2
    return 1
  fi
  version=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
  dir=/var/cache/nmmm/kernel/$version
  if [ -d "$dir/lib/modules" ]; then
    echo "$dir"
    return 0
  fi
  mkdir -p /var/cache/nmmm/kernel
  tmp=$(mktemp -d /var/cache/nmmm/kernel/.tmp-vm.XXXXXX)
  echo "rescue-vm: fetching $pkg $version into $dir" >&2
  if ! (cd "$tmp" && apt-get download -q "$pkg=$version" >&2); then
    rm -rf "$tmp"
    echo "rescue-vm: apt-get download $pkg failed; check the Debian mirror in /etc/apt/sources.list*" >&2
    return 1
  fi
  mkdir "$tmp/root"
  dpkg -x "$tmp"/*.deb "$tmp/root"
  rm -f "$tmp"/*.deb
  chmod 755 "$tmp/root"
  if ! mv -T "$tmp/root" "$dir" 2>/dev/null; then
    # The other engineer's build got there first: theirs is the same package, use it.
    rm -rf "$tmp"
    [ -d "$dir/lib/modules" ] || { echo "rescue-vm: $dir is incomplete; remove it and retry" >&2; return 1; }
  fi
  rm -rf "$tmp"
  echo "$dir"
}
