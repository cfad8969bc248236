#!/usr/bin/env bash
# static_nix: images/nmmm-agent.nix parses, and evaluates (with Debian's nix-instantiate) to a
# derivation that builds with CMake -DNMMM_STATIC=ON against pkgsStatic's libraries and runs the unit
# tests. nixpkgs cannot exist on this machine, so a stand-in `pkgs` replaces it (test double): its
# pkgsStatic.callPackage passes each argument as a tagged stub and mkDerivation returns its
# attributes, so a misspelt or missing input fails here. Building for real needs nixpkgs.
set -euo pipefail
src=${NMMM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
expr=$src/images/nmmm-agent.nix
# shellcheck source=tests/integration/lib/nix-env.sh
source "$(dirname "$0")/lib/nix-env.sh"
export NIX_STATE_DIR=${TMPDIR:-/tmp}/static-nix-state.$$
trap 'rm -rf "$NIX_STATE_DIR"' EXIT

nix-instantiate --parse "$expr" >/dev/null

got=$(nix-instantiate --eval --strict --json --expr '
  let
    stub = name: { inherit name; override = args: { name = "${name}-overridden"; inherit args; }; };
    fakeLib = {
      cleanSource = p: p;
      cleanSourceWith = { src, filter }: { inherit src; keepsBuildDir = filter "/x/build-static" "directory"; };
      hasPrefix = pre: s: builtins.substring 0 (builtins.stringLength pre) s == pre;
    };
    pkgs = {
      pkgsStatic.callPackage = f: overrides:
        let args = builtins.functionArgs f;
        in f (builtins.mapAttrs (n: _: if n == "lib" then fakeLib
                                       else if n == "stdenv" then { mkDerivation = a: a; }
                                       else stub n) args);
    };
    d = import '"$expr"' { inherit pkgs; };
  in {
    inherit (d) pname cmakeFlags doCheck;
    inputs = map (x: x.name) (d.nativeBuildInputs ++ d.buildInputs);
    partedArgs = (builtins.elemAt d.buildInputs 1).args;
    keepsBuildDir = d.src.keepsBuildDir;
    checks = d.checkPhase;
  }')

python3 - "$got" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
assert d["pname"] == "nmmm-agent", d
assert "-DNMMM_STATIC=ON" in d["cmakeFlags"], d["cmakeFlags"]
for need in ["cmake", "pkg-config", "util-linux", "parted-overridden", "curl", "libarchive", "json-c", "openssl", "zlib", "cmocka"]:
    assert need in d["inputs"], f"{need} missing from {d['inputs']}"
assert d["partedArgs"] == {"lvm2": None}, d["partedArgs"]
assert d["keepsBuildDir"] is False, "build trees must stay out of the source"
assert d["doCheck"] is True and "ctest" in d["checks"] and "-L unit" in d["checks"], d["checks"]
print("static_nix: images/nmmm-agent.nix evaluates:", ", ".join(d["inputs"]))
EOF
