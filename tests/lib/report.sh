# shellcheck shell=bash
# tests/lib/report.sh: the one vocabulary every shell test reports with. Sourced by the
# integration tests (through tests/integration/lib/*.sh or directly), the fetch tests
# (tests/httpd/lib.sh) and, inside the QEMU guest, the VM scenarios (tests/vm/lib/guest.sh;
# scripts/rescue-vm ships this file into the guest as /nmmm/lib/report.sh).
#   ok MESSAGE       "ok - MESSAGE" on stdout: one assertion held
#   fail MESSAGE     "FAIL: MESSAGE" on stderr; the test ends with exit 1 at once, or, after
#                    report_counting, the failure is counted and the test goes on
#   skip WHY         "SKIP: WHY" on stdout and exit 77 (ctest's SKIP_RETURN_CODE: skipped)
#   check NAME CMD   runs one named case (counting mode): "ok - NAME (N s)" or "FAIL: NAME"
#   finish           the one summary line; exit 1 when anything failed, else exit 0
# A test may define report_context: `fail` runs it (output to stderr) after the FAIL line.
report_failures=0
report_counts=0

# From here on `fail` counts and returns 0 (so `cond && fail X || ok Y` reports one line) instead
# of ending the test; `finish` then ends it.
report_counting() { report_counts=1; }

ok() { echo "ok - $*"; }

fail() {
  echo "FAIL: $*" >&2
  # A test may define report_context to show what explains the failure (a log, a console).
  ! declare -F report_context >/dev/null || report_context >&2
  [ "$report_counts" = 1 ] || exit 1
  report_failures=$((report_failures + 1))
}

skip() {
  echo "SKIP: $*"
  exit 77
}

# A case that returns non-zero is one failure, however many FAIL lines it printed on the way.
check() {
  local name=$1 before=$report_failures t0=$SECONDS
  shift
  report_counting
  if "$@" && [ "$report_failures" = "$before" ]; then
    ok "$name ($((SECONDS - t0)) s)"
  else
    report_failures=$before
    fail "$name"
  fi
}

finish() {
  if [ "$report_failures" -gt 0 ]; then
    echo "FAIL: $report_failures failed" >&2
    exit 1
  fi
  echo "ok - all passed"
  exit 0
}
