# shellcheck shell=bash
# assert.sh: the words every integration test reports with, sourced by tests/integration/*.sh
# (directly or through lib/disk-common.sh and lib/install-env.sh).
#   fail MESSAGE   "FAIL: MESSAGE" on stderr, and the test ends with exit 1 (ctest: failed)
#   ok MESSAGE     "ok - MESSAGE" on stdout, one line per assertion that held
# A test that cannot run here prints "SKIP: why" and exits 77 (ctest's SKIP_RETURN_CODE).
# tests/httpd/lib.sh counts failing cases instead of stopping at the first, and the VM guest
# (tests/vm/lib/guest.sh) counts them too: one scenario reports every check that failed.

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok - $*"
}
