#!/usr/bin/env python3
"""tests/httpd/make_nixpkgs_tree.py DIR [--files N] [--mib M] [--seed S]: writes a tree shaped
like a nixpkgs checkout into the new directory DIR, deterministically (the same arguments give
the same bytes, modes and links).

Shape: default.nix, flake.nix, .version and README.md at the top; lib/*.nix;
nixos/modules/<area>/<sub>/<module>.nix; pkgs/by-name/<2 letters>/<name>/package.nix (some with a
patch beside); pkgs/development/<kind>/<group>/<name>/default.nix; executable build scripts
(mode 0755) under pkgs/build-support/; relative symlinks that stay inside (as nixpkgs has a few);
empty directories; and a few large data files (lock files, tables), so that file sizes spread
like source code: most a few KiB, a long tail up to several MiB. The text is made of code-like
lines, so it compresses about as well as nixpkgs does (gzip: about 4 to 5 times).

--files is the number of regular files (default 400), --mib the total of their sizes in MiB
(default 4); the integration tests use the defaults, the benchmark a nixpkgs-sized tree."""
import argparse
import os
import random

parser = argparse.ArgumentParser()
parser.add_argument("dir")
parser.add_argument("--files", type=int, default=400)
parser.add_argument("--mib", type=float, default=4)
parser.add_argument("--seed", type=int, default=2605)
args = parser.parse_args()

rng = random.Random(args.seed)
letters = "abcdefghijklmnopqrstuvwxyz"
words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(1000)]
words[:16] = ["{", "}", "=", ";", "let", "in", "inherit", "pkgs", "lib", "stdenv", "src", "version",
              "mkDerivation", "fetchFromGitHub", "meta", "with"]
cum, acc = [], 0.0
for i in range(len(words)):  # Zipf-like word frequencies, as in source code
    acc += 1.0 / (i + 1)
    cum.append(acc)
lines = ["  " * rng.randint(0, 4) + " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(2, 11))) + "\n"
         for _ in range(8000)]
line_cum, acc = [], 0.0
for i in range(len(lines)):  # some lines are common (`inherit lib;`), most are rare
    acc += 1.0 / (i + 1) ** 0.7
    line_cum.append(acc)


def text(size):
    data = b""
    while len(data) < size:
        data += "".join(rng.choices(lines, cum_weights=line_cum, k=size // 30 + 1)).encode()
    return data[:size]


def name(lo=3, hi=14):
    return "".join(rng.choice(letters + "-_" if i else letters) for i in range(rng.randint(lo, hi)))


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


top = args.dir
os.makedirs(top)
files = max(args.files, 40)
budget = int(args.mib * 1048576)
# a few large files take a tenth of the bytes; the rest follow a log-normal around 2 KiB
large = max(1, files // 8000)
large_bytes = budget // 10
small_sizes = [int(rng.lognormvariate(7.6, 1.0)) + 20 for _ in range(files - large - 8)]
scale = (budget - large_bytes) / max(1, sum(small_sizes))
small_sizes = [max(1, int(s * scale)) for s in small_sizes]

write(f"{top}/default.nix", b"import ./pkgs/top-level/impure.nix\n")
write(f"{top}/flake.nix", b"{\n  description = \"A collection of packages for the Nix package manager\";\n}\n")
write(f"{top}/.version", b"26.05\n")
write(f"{top}/README.md", text(4000))
write(f"{top}/pkgs/top-level/impure.nix", text(3000))
write(f"{top}/pkgs/top-level/all-packages.nix", text(60000))
write(f"{top}/nixos/default.nix", text(1500))
write(f"{top}/lib/default.nix", text(5000))
for i in range(large):
    write(f"{top}/pkgs/data/misc/table-{i}.json", text(large_bytes // large))

areas = ["services", "system", "programs", "hardware", "config", "security", "virtualisation", "tasks"]
kinds = ["python-modules", "libraries", "tools", "compilers", "interpreters", "ocaml-modules"]
made_dirs = []
for i, size in enumerate(small_sizes):
    kind = rng.random()
    if kind < 0.02:
        path = f"{top}/lib/{name()}-{i}.nix"
    elif kind < 0.15:
        path = f"{top}/nixos/modules/{rng.choice(areas)}/{name(3, 6)[:3]}/{name()}-{i}.nix"
    elif kind < 0.60:
        pkg = f"{name()}-{i}"
        path = f"{top}/pkgs/by-name/{pkg[:2]}/{pkg}/package.nix"
    elif kind < 0.62:
        path = f"{top}/pkgs/build-support/{name(3, 8)}/{name()}-{i}.sh"
    else:
        path = f"{top}/pkgs/development/{rng.choice(kinds)}/{name(2, 3)}/{name()}-{i}/default.nix"
    mode = 0o755 if path.endswith(".sh") else 0o644
    write(path, text(size), mode)
    made_dirs.append(os.path.dirname(path))

# relative links that stay inside the tree, and empty directories, as nixpkgs has them
for i in range(max(2, files // 500)):
    d = made_dirs[rng.randrange(len(made_dirs))]
    os.symlink("../" + os.path.basename(d), f"{d}/link-{i}")
    os.makedirs(f"{d}/empty-{i}", exist_ok=True)
os.symlink("pkgs/top-level/impure.nix", f"{top}/impure.nix")
