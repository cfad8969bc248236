#!/usr/bin/env bash
# export_pins.sh: what `export` hands over for the installed nixpkgs, read back by Debian's nix
# with no network: the flake.lock resolves (nix flake metadata --offline) and its nixpkgs input
# evaluates to the very tree the install verified — found in the store by its NAR hash, as Nix
# finds a locked input it already has; nixpkgs.nix's fetchTarball does the same; flake.nix names
# the host. The install's state is written here as the fetch, render and confirm phases leave it
# (an install end to end is install_loop.sh), for a pin by rev (github) and one by URL (tarball).
set -euo pipefail
: "${NMMM_AGENT:?built nmmm-agent}" "${NMMM_SRC:?source tree}" "${NMMM_FIXTURES:?fixtures dir}"
# shellcheck source=tests/integration/lib/nix-env.sh
source "$(dirname "$0")/lib/nix-env.sh"
# shellcheck source=tests/lib/report.sh
source "$NMMM_SRC/tests/lib/report.sh"
command -v nix-store >/dev/null || skip "Debian's nix is not installed"
T=$(mktemp -d /tmp/nmmm-it-export-XXXXXX)
trap 'rm -rf "$T"' EXIT
nixx=(nix --extra-experimental-features 'nix-command flakes' --offline)

# The tree: the miniature nixpkgs (a flake, as the real one is), named "source" as Nix names a
# fetched input, and added to the store: its path follows from its NAR hash alone.
mkdir -p "$T/source"
cp -a "$NMMM_FIXTURES/mini-channel/." "$T/source/"
store_path=$(nix-store --add "$T/source")
nar=$(nix-hash --type sha256 --base32 "$T/source")
sri=$("${nixx[@]}" hash to-sri --type sha256 "$nar")
rev=1111111111111111111111111111111111111111

# export_for NAME PIN_JSON: a state dir as an install leaves it, and its export unpacked.
export_for() {
  local d="$T/$1"
  mkdir -p "$d/state/nixos" "$d/out"
  printf '{ imports = [ ./hardware-configuration.nix ]; }\n' >"$d/state/nixos/configuration.nix"
  printf '{ }\n' >"$d/state/nixos/hardware-configuration.nix"
  python3 - "$d/state" "$2" <<'PY'
import json, sys
state = {"version": 1, "command": "install", "result": "running", "phases": {
    "confirm": {"done": 1, "products": {"hostname": "web1"}},
    "fetch": {"done": 2, "products": {"nixpkgs": json.loads(sys.argv[2])}},
    "render": {"done": 3, "products": {"dir": sys.argv[1] + "/nixos"}}}}
json.dump(state, open(sys.argv[1] + "/state.json", "w"))
PY
  "$NMMM_AGENT" export --state-dir "$d/state" >"$d/export.tar" || return 1
  tar -C "$d/out" -xf "$d/export.tar"
}

# lock_resolves NAME: flake metadata reads the lock, and the input is the tree in the store.
lock_resolves() {
  local out="$T/$1/out"
  printf '{ inputs.nixpkgs.url = "%s"; outputs = { nixpkgs, ... }: { p = nixpkgs.outPath; m = builtins.typeOf nixpkgs.lib.nixosSystem; }; }\n' \
    "$(sed -n 's/.*inputs.nixpkgs.url = "\(.*\)";/\1/p' "$out/flake.nix")" >"$T/$1/probe.nix"
  mkdir -p "$T/$1/probe" && cp "$out/flake.lock" "$T/$1/probe/" && cp "$T/$1/probe.nix" "$T/$1/probe/flake.nix"
  "${nixx[@]}" flake metadata "path:$T/$1/probe" >"$T/$1/metadata.txt" 2>&1 ||
    { fail "$1: nix flake metadata: $(tail -n 3 "$T/$1/metadata.txt")"; return 1; }
  [ "$("${nixx[@]}" eval --raw "path:$T/$1/probe#p" 2>"$T/$1/eval.err")" = "$store_path" ] ||
    { fail "$1: the locked input is not the verified tree: $(tail -n 3 "$T/$1/eval.err")"; return 1; }
  [ "$("${nixx[@]}" eval --raw "path:$T/$1/probe#m")" = lambda ]
}

github_pin=$(printf '{"nar_hash": "%s", "rev": "%s", "owner": "NixOS", "repo": "nixpkgs", "branch": "nixos-26.05", "release": "26.05", "last_modified": 1786711500}' "$sri" "$rev")
export_for github "$github_pin" || fail "export (github pin) failed"
files=$(tar -tf "$T/github/export.tar" | sort | tr '\n' ' ')
[ "$files" = "configuration.nix flake.lock flake.nix hardware-configuration.nix nixpkgs.nix " ] &&
  ok "export holds flake.nix, flake.lock and nixpkgs.nix beside the rendered files" || fail "export lists: $files"
python3 - "$T/github/out/flake.lock" "$sri" "$rev" <<'PY' && ok "flake.lock locks nixpkgs as github rev + narHash" || fail "flake.lock: $(cat "$T/github/out/flake.lock")"
import json, sys
lock = json.load(open(sys.argv[1]))
n = lock["nodes"]["nixpkgs"]
assert lock["version"] == 7 and lock["nodes"]["root"]["inputs"] == {"nixpkgs": "nixpkgs"}
assert n["locked"] == {"lastModified": 1786711500, "narHash": sys.argv[2], "owner": "NixOS", "repo": "nixpkgs",
                       "rev": sys.argv[3], "type": "github"}, n["locked"]
assert n["original"] == {"owner": "NixOS", "ref": "nixos-26.05", "repo": "nixpkgs", "type": "github"}
PY
grep -q 'nixosConfigurations."web1" = nixpkgs.lib.nixosSystem' "$T/github/out/flake.nix" &&
  grep -q 'inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";' "$T/github/out/flake.nix" &&
  ok "flake.nix follows nixos-26.05 and names the host" || fail "flake.nix: $(cat "$T/github/out/flake.nix")"
lock_resolves github && ok "nix flake metadata --offline reads the lock; the input is the verified tree"
grep -q "sha256 = \"$nar\";" "$T/github/out/nixpkgs.nix" || fail "nixpkgs.nix does not carry the nix32 hash"
[ "$(nix-instantiate --eval "$T/github/out/nixpkgs.nix" 2>"$T/inst.err" | tr -d '"')" = "$store_path" ] &&
  ok "nixpkgs.nix (fetchTarball) is the verified tree, offline" || fail "nixpkgs.nix: $(tail -n 3 "$T/inst.err")"

tarball_pin=$(printf '{"nar_hash": "%s", "url": "http://127.0.0.1:9/nixexprs.tar.xz", "release": "26.05"}' "$sri")
export_for tarball "$tarball_pin" || fail "export (tarball pin) failed"
grep -q '"type": "tarball"' "$T/tarball/out/flake.lock" && lock_resolves tarball &&
  ok "a pin by URL exports a tarball input that resolves offline"

# Before fetch (no nixpkgs recorded) export still gives the rendered files, and no pins.
mkdir -p "$T/early/state/nixos" && printf '{ }\n' >"$T/early/state/nixos/configuration.nix"
printf '{"version": 1, "phases": {"render": {"done": 1, "products": {"dir": "%s"}}}}' "$T/early/state/nixos" >"$T/early/state/state.json"
[ "$("$NMMM_AGENT" export --state-dir "$T/early/state" | tar -t | tr '\n' ' ')" = "configuration.nix " ] &&
  ok "no pins before nixpkgs was fetched" || fail "export before fetch"
finish
