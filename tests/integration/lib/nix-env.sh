# nix-env.sh: the Nix settings every integration test that runs Debian's nix uses. Debian's
# nix-bin ships /etc/nix/nix.conf with build-users-group = nixbld, and the group exists only
# where nix-setup-systemd is installed: on a fresh machine every Nix call without these settings
# warns (or, for a build, fails). No build users (as the agent does for its own calls), no
# sandbox, no substituters (no network). Sourced; exports NIX_CONFIG for every Nix call after.
# shellcheck shell=bash
export NIX_CONFIG=$'build-users-group =\nsandbox = false\nsubstituters ='
