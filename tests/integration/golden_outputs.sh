#!/usr/bin/env bash
# golden_outputs.sh: what nmmm-agent prints and writes for each captured machine in
# tests/fixtures/<case>/root, compared byte for byte with the goldens kept beside the fixture in
# tests/fixtures/<case>/expected/ (as kmod's testsuite keeps expected output beside its rootfs):
#   detect.json, detect.stderr   `detect --json`
#   plan.json, plan.stderr       `plan --json` (with the case's --disks, see case_options)
#   render.stdout, render.stderr `render --out DIR` (same options, plus --uplink/--ssh-key if needed)
#   render/<file>                every file render wrote (none when it refused)
#   status                       the exit code of each of the three commands
# Fixtures only: no disk, no network, no Nix, no root needed. Before comparing, the random
# identifiers of the plans and the temporary paths are replaced by stable tokens in one place,
# tests/integration/lib/golden-normalise.py (it says what, and why nothing else); anything else
# that differs fails the test with a unified diff.
#
# A change that is meant to change an output: rewrite the goldens with
#   NMMM_UPDATE_GOLDEN=1 ctest -R integration_golden_outputs     (from build/)
# and review `git diff tests/fixtures/*/expected` like code. docs/testing.md says more.
set -euo pipefail

: "${NMMM_AGENT:?set NMMM_AGENT to the nmmm-agent binary}"
: "${NMMM_FIXTURES:?set NMMM_FIXTURES to tests/fixtures}"
here=$(dirname "$0")
# shellcheck source=tests/lib/report.sh
source "$here/../lib/report.sh"

tmp=$(mktemp -d /tmp/golden-outputs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# A well-formed key of the nvme-onboard fixture, for a case whose tree has none.
key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM4vxCVV/zkulRZ+gMIv9zPUXc3XRsZTVZLB9S7oNlOO op@laptop'

# case_options CASE: sets plan_opts and render_opts, what the case needs beyond the defaults.
case_options() {
	plan_opts=()
	render_opts=()
	case "$1" in
	odd-sysfs)
		# Its two eligible disks differ in size (the automatic pair is refused) and nvme0n1
		# carries a mounted array: plan sda alone. No NIC has a global address and root has
		# no key, so render refuses (exit 3) at the uplink check; that refusal is its golden.
		plan_opts=(--disks sda)
		render_opts=(--disks sda --uplink eth1 --ssh-key "$key")
		;;
	esac
}

# run_case CASE OUTDIR: runs the three commands on the fixture and normalises what they output.
run_case() {
	local c=$1 act=$2 root="$NMMM_FIXTURES/$1/root" rc
	mkdir -p "$act"
	case_options "$c"
	: >"$act/status"
	rc=0
	"$NMMM_AGENT" --root "$root" detect --json >"$act/detect.json" 2>"$act/detect.stderr" || rc=$?
	echo "detect $rc" >>"$act/status"
	rc=0
	"$NMMM_AGENT" --root "$root" plan "${plan_opts[@]}" --json >"$act/plan.json" 2>"$act/plan.stderr" || rc=$?
	echo "plan $rc" >>"$act/status"
	rc=0
	"$NMMM_AGENT" --root "$root" render "${render_opts[@]}" --out "$act/render" \
		>"$act/render.stdout" 2>"$act/render.stderr" || rc=$?
	echo "render $rc" >>"$act/status"
	python3 "$here/lib/golden-normalise.py" "$root" "$act/render" "$act"
}

cases=0
# Every fixture is compared before the test ends: count the failures, `finish` reports them.
report_counting
for root in "$NMMM_FIXTURES"/*/root; do
	c=$(basename "$(dirname "$root")")
	expected="$NMMM_FIXTURES/$c/expected"
	run_case "$c" "$tmp/$c"
	cases=$((cases + 1))
	if [ "${NMMM_UPDATE_GOLDEN:-}" = 1 ]; then
		diff -ru "$expected" "$tmp/$c" || true
		rm -rf "$expected"
		cp -r "$tmp/$c" "$expected"
		echo "golden_outputs: $c: goldens rewritten in $expected"
	elif [ ! -d "$expected" ]; then
		fail "$c: no goldens in $expected; NMMM_UPDATE_GOLDEN=1 writes them"
	elif diff -ru "$expected" "$tmp/$c"; then
		ok "$c: detect, plan and render as in $expected"
	else
		fail "$c: output differs from the goldens (diff above: - golden, + now)"
	fi
done
# The four captured machines; a fixture dropped by mistake must not shrink the test silently.
[ "$cases" -ge 4 ] || fail "only $cases fixture trees under $NMMM_FIXTURES"
finish
