/* nix_test_env.h: the Nix settings every unit test that runs Debian's nix passes in its
 * environment. Debian's nix-bin ships /etc/nix/nix.conf with build-users-group = nixbld, and the
 * group exists only where nix-setup-systemd is installed: a fresh machine lacks it, so every
 * Nix call of a test must say "no build users" (as the agent does for its own calls), no
 * sandbox (tests run as root inside a container-less host) and no substituters (no network). */
#pragma once

static char *const nix_test_env[] = {"NIX_CONFIG=build-users-group =\nsandbox = false\nsubstituters =\n", NULL};
