# shellcheck shell=bash
# tests/vm/lib/host.sh: the host side of a VM scenario. A scenario file runs twice: on the host
# (ctest) it boots the simulated rescue with itself as the --run script; inside the guest
# (NMMM_GUEST=1) it runs the assertions. Sourced by tests/vm/*.sh when not in the guest.
set -euo pipefail
vm_src=${NMMM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
vm_script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
[ -z "${NMMM_AGENT:-}" ] || export NMMM_AGENT

# Boots the rescue with these options and this very scenario as the script; returns its status.
vm_boot() { "$vm_src/scripts/rescue-vm" --run "$vm_script" "$@"; }

# A directory for disks kept between boots, removed when the scenario ends.
vm_keep_dir() {
  vm_keep=$(mktemp -d "${TMPDIR:-/var/tmp}/nmmm-vm-keep.XXXXXX")
  trap 'rm -rf "$vm_keep"' EXIT
}
