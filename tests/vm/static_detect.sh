#!/usr/bin/env bash
# static_detect: the static nmmm-agent runs `detect --json` and `--version` in a QEMU guest whose
# initramfs holds NO C library at all: only the agent, a tiny static init (static_init.c, built here
# with musl-gcc -static) and the kernel modules for one NVMe disk and one e1000e NIC. Asserts that
# the JSON parses and names the disk (by serial, size, ext4 signature) and the NIC (by MAC) given to
# the VM. The kernel is Debian's linux-image-amd64, shared with the VM harness
# (/var/cache/nmmm/kernel/<version>, scripts/rescue-vm.d/kernel.sh).
# Env: NMMM_STATIC_AGENT (default build-static/nmmm-agent under NMMM_SRC; built by scripts/build-static).
set -euo pipefail
src=${NMMM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
agent=${NMMM_STATIC_AGENT:-$src/build-static/nmmm-agent}
serial=STATICDET01
mac=52:54:00:5a:7c:01
disk_bytes=$((1024 * 1024 * 1024))

# shellcheck source=tests/lib/report.sh
. "$src/tests/lib/report.sh"
# What explains a failure, shown after its FAIL line (report.sh calls it).
report_context() {
	[ -s "${work:-}/console.log" ] && sed 's/^/  guest: /' "$work/console.log" | tail -n 40 >&2
	return 0
}
[ -x "$agent" ] || fail "$agent missing; run scripts/build-static (or set NMMM_STATIC_AGENT)"
file -b "$agent" | grep -q 'statically linked' || fail "$agent is not statically linked: $(file -b "$agent")"
file -b "$agent" | grep -q ', stripped' || fail "$agent is not stripped: $(file -b "$agent")"
[ "$(stat -c %s "$agent")" -le $((8 * 1024 * 1024)) ] || fail "$agent is $(stat -c %s "$agent") bytes, over the 8 MiB budget"

# shellcheck source=scripts/rescue-vm.d/kernel.sh
. "$src/scripts/rescue-vm.d/kernel.sh"
kdir=$(kernel_cache)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
kver=${vmlinuz##*/vmlinuz-}
mods=$kdir/lib/modules/$kver

work=$(mktemp -d /tmp/static-detect.XXXXXX)
trap '[ -n "${NMMM_KEEP:-}" ] || rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{proc,sys,dev,lib/modules}

# Modules with their dependencies, dependencies first (modinfo, no depmod needed in the cache).
declare -A loaded=()
add_module() { # NAME
	local name=${1//-/_} f dep
	[ -z "${loaded[$name]:-}" ] || return 0
	f=$(find "$mods/kernel" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) | head -n1)
	[ -n "$f" ] || fail "module $1 not in $mods"
	for dep in $(modinfo -F depends "$f" | tr ',' ' '); do add_module "$dep"; done
	cp "$f" "$root/lib/modules/"
	echo "/lib/modules/${f##*/}" >>"$root/modules.order"
	loaded[$name]=1
}
for m in nvme e1000e; do add_module "$m"; done

musl-gcc -static -Os -Wall -Wextra -Werror -o "$root/init" "$src/tests/vm/static_init.c"
cp "$agent" "$root/nmmm-agent"
printf '/sys/block/nvme0n1\n/sys/class/net/eth0\n' >"$root/wait-for"
printf '/nmmm-agent --version\n/nmmm-agent detect --json\n' >"$root/commands"

# The point of the test: no dynamic loader, no libc, no shell anywhere in the image.
if find "$root" -name 'ld-*' -o -name 'libc.*' -o -name 'libc-*' -o -name sh | grep -q .; then
	fail "the initramfs contains a C library or a shell: $(find "$root" -name 'ld-*' -o -name 'lib*.so*' -o -name sh)"
fi
for elf in "$root/init" "$root/nmmm-agent"; do
	file -b "$elf" | grep -q 'statically linked' || fail "$elf is not static"
done
(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initrd"

truncate -s "$disk_bytes" "$work/disk.raw"
mkfs.ext4 -q -F -L staticdet "$work/disk.raw"

timeout -k 5 600 qemu-system-x86_64 -accel tcg -machine q35 -m 512 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$work/initrd" -append 'console=ttyS0 panic=-1 loglevel=1' \
	-drive "file=$work/disk.raw,if=none,id=d0,format=raw" -device "nvme,drive=d0,serial=$serial" \
	-netdev user,id=n0,restrict=on -device "e1000e,netdev=n0,mac=$mac,romfile=" </dev/null |
	tr -d '\r' >"$work/console.log" || true

section() { # N: the output of the Nth command
	# (the marker may follow the console's reset escape sequence on the same line)
	awk -v n="$1" '$0 ~ "STATIC-BEGIN " n "$" {on=1; next} $0 ~ "^STATIC-END " n " " {on=0} on' "$work/console.log"
}
rc_of() { sed -n "s/^STATIC-END $1 rc=//p" "$work/console.log"; }
if [ "$(rc_of 2)" != 0 ]; then
	cat "$work/console.log" >&2
	fail "detect --json did not finish with 0 in the guest (rc='$(rc_of 2)')"
fi

section 1 >"$work/version"
grep -q '^nmmm-agent ' "$work/version" || fail "--version printed no version: $(cat "$work/version")"
for lib in libblkid libparted libcurl libarchive zlib json-c OpenSSL; do
	grep -q "$lib" "$work/version" || fail "--version does not name $lib: $(cat "$work/version")"
done

section 2 >"$work/detect.json"
python3 - "$work/detect.json" "$serial" "$mac" "$disk_bytes" <<'EOF' || fail "detect --json in the guest: $(cat "$work/detect.json")"
import json, sys
path, serial, mac, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = json.load(open(path))
disks = [x for x in d["disks"] if x.get("serial") == serial]
assert len(disks) == 1, f"no disk with serial {serial}: {[x.get('name') for x in d['disks']]}"
disk = disks[0]
assert disk["name"] == "nvme0n1", disk["name"]
assert disk["size_bytes"] == size, disk["size_bytes"]
sigs = json.dumps(disk.get("signatures", []))
assert "ext4" in sigs, f"ext4 signature not reported: {sigs}"
nics = [n for n in d["nics"] if n.get("mac") == mac]
assert len(nics) == 1, f"no NIC with MAC {mac}: {d['nics']}"
assert nics[0].get("driver") == "e1000e", nics[0]
print("static_detect: guest saw", disk["name"], disk["size_bytes"], "bytes,", nics[0]["name"], mac)
EOF
ok "static_detect: detect and --version in a libc-free guest ($(stat -c %s "$agent") byte agent, initramfs $(stat -c %s "$work/initrd") bytes)"
