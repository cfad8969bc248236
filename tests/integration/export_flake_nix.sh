#!/usr/bin/env bash
# export_flake_nix.sh: the exported hand-over, used as an operator uses it, with Debian's nix (2.8)
# and no network at all (every nix call runs in a fresh network namespace: no interface, no
# route). A whole install on a loop device takes its nixpkgs from a deploy repository's flake.lock
# (the miniature nixpkgs, served as the GitHub archive of the locked rev), then `export`:
#  1. the tree, added to the store as Nix fetches an input (a directory named `source`, NAR
#     hash, recursive), is the store path whose NAR hash is the exported lock's narHash;
#  2. `nix flake metadata --offline` on the exported directory (a path: flake: no git repository
#     needed; no registry) reads the locked nixpkgs, that rev and narHash; Nix 2.8 does not fetch
#     a locked input for metadata, so the evaluation of the input shows that it resolves to that
#     store path (with another narHash, or no lastModified, Nix goes to GitHub and fails here);
#  3. the exported flake's nixosConfigurations.web1 toplevel is NOT the installed system: as
#     nixpkgs' flake does (the miniature's flake.nix models it), nixosSystem gives it the flake's
#     version suffix and revision and nixpkgs.flake.source; with the module flake.nix carries
#     commented out, it is the installed toplevel exactly. The non-flake style — nixpkgs.nix's
#     fetchTarball (the same `source` path) with NIXOS_CONFIG=configuration.nix, as nixos-rebuild
#     evaluates it, or -I nixos-config= as the agent does — gives the installed toplevel.
# The flake is evaluated with --impure only because the miniature's toy system takes the build
# host's busybox (/usr/bin), which pure evaluation forbids; nixpkgs itself evaluates pure.
IE_NAME=flake
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"
command -v nix > /dev/null || skip "Debian's nix is not installed"

ie_make_disks 2G
ie_make_netns
ie_make_channels

# The deploy repository's nixpkgs: the miniature at a rev, as a GitHub archive under the origin.
rev=f1a4ef1a4ef1a4ef1a4ef1a4ef1a4ef1a4ef0001
src="$IE_WORK/src/nixpkgs-$rev"
mkdir -p "$src" "$IE_WORK/srv/origin/NixOS/nixpkgs/archive"
cp -a "$NMMM_FIXTURES/mini-channel/." "$src/"
nixc=(nix --extra-experimental-features 'nix-command flakes')
sri=$("${nixc[@]}" hash to-sri --type sha256 "$(nix-hash --type sha256 "$src")")
tar -C "$IE_WORK/src" -czf "$IE_WORK/srv/origin/NixOS/nixpkgs/archive/$rev.tar.gz" "nixpkgs-$rev"
python3 - "$NMMM_FIXTURES/flake-locks/home-manager-26.05.lock" "$IE_WORK/deploy.lock" "$rev" "$sri" <<'PY'
import json, sys
lock = json.load(open(sys.argv[1]))
lock["nodes"]["nixpkgs"]["locked"].update(rev=sys.argv[3], narHash=sys.argv[4])
json.dump(lock, open(sys.argv[2], "w"), indent=2)
PY
last_modified=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"]["nixpkgs"]["locked"]["lastModified"])' "$IE_WORK/deploy.lock")

mapfile -t args < <(ie_install_args_no_nixpkgs)
NMMM_TEST_ORIGIN_BASE="$IE_URL/origin" ie_agent install --yes "${args[@]}" --nixpkgs-from "$IE_WORK/deploy.lock" \
	--ssh-key "$IE_KEY" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" ||
	fail "install failed: $(tail -n 20 "$IE_WORK/err.txt")"
installed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["system"])' "$IE_WORK/state/nixos/report.json")
[ -e "$installed" ] || fail "the installed system $installed is not in the store"
deploy="$IE_WORK/deploy"
mkdir -p "$deploy"
"$NMMM_AGENT" export --state-dir "$IE_WORK/state" | tar -x -C "$deploy" || fail "export failed"
for f in flake.nix flake.lock nixpkgs.nix configuration.nix hardware-configuration.nix; do
	[ -s "$deploy/$f" ] || fail "the export has no $f"
done
ok "installed $installed from the deploy repository's lock; exported"

# offline CMD...: CMD with no network at all and no flake registry.
printf '{"flakes": [], "version": 2}\n' > "$IE_WORK/registry.json"
offline() { NIX_PATH='' unshare --net "$@"; }
nixf=("${nixc[@]}" --offline --option flake-registry "$IE_WORK/registry.json")

# 1. The tree in the store exactly where a fetch of the locked input puts it.
lock_nar=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"]["nixpkgs"]["locked"]["narHash"])' "$deploy/flake.lock")
[ "$lock_nar" = "$sri" ] || fail "the exported lock's narHash $lock_nar is not the installed tree's $sri"
mkdir -p "$IE_WORK/tree"
cp -a "$src" "$IE_WORK/tree/source"
tree=$(nix-store --add-fixed --recursive sha256 "$IE_WORK/tree/source")
[ "${tree##*-}" = source ] || fail "the tree's store path is not named source: $tree"
[ "$(nix-store -q --hash "$tree")" = "sha256:$("${nixc[@]}" hash to-base32 "$lock_nar")" ] ||
	fail "$tree has NAR hash $(nix-store -q --hash "$tree"), the lock says $lock_nar"
ok "the tree is in the store as $tree, whose NAR hash is the lock's narHash"

# 2. The exported directory as a flake, offline.
offline "${nixf[@]}" flake metadata --json "path:$deploy" > "$IE_WORK/metadata.json" 2> "$IE_WORK/metadata.err" ||
	fail "nix flake metadata: $(tail -n 5 "$IE_WORK/metadata.err")"
python3 - "$IE_WORK/metadata.json" "$rev" "$sri" "$last_modified" <<'PY' || fail "flake metadata: $(cat "$IE_WORK/metadata.json")"
import json, sys
m = json.load(open(sys.argv[1]))
locked = m["locks"]["nodes"]["nixpkgs"]["locked"]
assert locked == {"type": "github", "owner": "NixOS", "repo": "nixpkgs", "rev": sys.argv[2], "narHash": sys.argv[3],
                  "lastModified": int(sys.argv[4])}, locked
PY
offline "${nixf[@]}" flake metadata "path:$deploy" > "$IE_WORK/metadata.txt" 2>&1 &&
	grep -qF "github:NixOS/nixpkgs/$rev" "$IE_WORK/metadata.txt" ||
	fail "nix flake metadata does not show the locked input: $(cat "$IE_WORK/metadata.txt")"
cfg="path:$deploy#nixosConfigurations.web1.config"
source_path=$(offline "${nixf[@]}" eval --impure --raw "$cfg.nixpkgs.flake.source" 2> "$IE_WORK/eval.err") ||
	fail "evaluating the exported flake: $(tail -n 5 "$IE_WORK/eval.err")"
[ "$source_path" = "$tree" ] || fail "the flake's nixpkgs is $source_path, not the tree $tree"
ok "nix flake metadata --offline reads nixpkgs locked at $rev with its narHash; the input is $tree"

# 3. The toplevels. toplevel DIR: the exported flake in DIR, its toplevel's out path.
toplevel() { offline "${nixf[@]}" eval --impure --raw "path:$1#nixosConfigurations.web1.config.system.build.toplevel.outPath"; }
as_exported=$(toplevel "$deploy" 2> "$IE_WORK/eval.err") || fail "the flake's toplevel: $(tail -n 5 "$IE_WORK/eval.err")"
date=$(date -u -d "@$last_modified" +%Y%m%d)
[ "$as_exported" != "$installed" ] && [ "${as_exported##*-nixos-system-web1-}" = "26.05.$date.${rev:0:7}" ] ||
	fail "the flake as exported: $as_exported, expected the flake's version 26.05.$date.${rev:0:7} (installed: $installed)"
ok "the flake as exported builds another generation: ${as_exported#/nix/store/}"
# The commented module of flake.nix, uncommented as its comment says.
cp -a "$deploy" "$IE_WORK/deploy-noop"
python3 - "$IE_WORK/deploy-noop/flake.nix" <<'PY' || fail "flake.nix has no commented module to uncomment: $(cat "$deploy/flake.nix")"
import re, sys
text = open(sys.argv[1]).read()
start = text.index("uncomment:\n") + len("uncomment:\n")
end = text.index("# })\n", start) + len("# })\n")
block = re.sub(r"^(\s*)# ", r"\1", text[start:end], flags=re.M)
assert block != text[start:end] and "lib.mkForce" in block
open(sys.argv[1], "w").write(text[:start] + block + text[end:])
PY
noop=$(toplevel "$IE_WORK/deploy-noop" 2> "$IE_WORK/eval.err") || fail "the flake with its module: $(tail -n 5 "$IE_WORK/eval.err")"
[ "$noop" = "$installed" ] || fail "the flake with its module uncommented builds $noop, not the installed $installed"
ok "with its commented module, the flake builds the installed toplevel (a no-op switch)"

# The non-flake style: nixpkgs from nixpkgs.nix (fetchTarball, offline: its `source` path exists).
pinned=$(offline nix-instantiate --eval "$deploy/nixpkgs.nix" 2> "$IE_WORK/inst.err" | tr -d '"')
[ "$pinned" = "$tree" ] || fail "nixpkgs.nix gives '$pinned', not the tree $tree: $(tail -n 3 "$IE_WORK/inst.err")"
# As nixos-rebuild evaluates it: <nixpkgs/nixos> -A system, the configuration from NIXOS_CONFIG.
drv=$(NIXOS_CONFIG="$deploy/configuration.nix" offline nix-instantiate '<nixpkgs/nixos>' -A system -I "nixpkgs=$pinned" \
	2> "$IE_WORK/inst.err") || fail "NIXOS_CONFIG style: $(tail -n 5 "$IE_WORK/inst.err")"
[ "$(nix-store -q --outputs "$drv")" = "$installed" ] ||
	fail "NIXOS_CONFIG style builds $(nix-store -q --outputs "$drv"), not the installed $installed"
# As the agent evaluated it (images/nixos.c), with -I nixos-config=.
drv2=$(offline nix-instantiate '<nixpkgs/nixos>' -A config.system.build.toplevel -A config.system.build.nixos-install \
	-I "nixpkgs=$pinned" -I "nixos-config=$deploy/configuration.nix" 2> "$IE_WORK/inst.err" | head -n 1) ||
	fail "-I nixos-config style: $(tail -n 5 "$IE_WORK/inst.err")"
[ "$drv2" = "$drv" ] || fail "-I nixos-config gives $drv2, NIXOS_CONFIG $drv"
ok "nixpkgs.nix is the same tree; NIXOS_CONFIG=configuration.nix builds the installed toplevel (a no-op switch)"
finish
