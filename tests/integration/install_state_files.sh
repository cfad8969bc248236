#!/usr/bin/env bash
# install_state_files.sh: the state file is replaced whole and only itself is written. A run
# stopped after confirm leaves <state>/state.json as a regular file of mode 0600 holding the
# run, no temporary beside it, and a link planted where a temporary could be (a leftover, or
# someone else's) is neither followed nor reused: the file it points to keeps its bytes. The
# disk and the decoy are unchanged (nothing destructive runs before confirm).
IE_NAME=statefiles
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
disk_before=$(ie_disk_sum "$IE_DISK")
decoy_before=$(ie_disk_sum "$IE_DECOY")
mapfile -t args < <(ie_install_args)

mkdir -p "$IE_WORK/state"
echo "not the agent's" > "$IE_WORK/victim"
victim_sha=$(ie_sha "$IE_WORK/victim")
ln -s "$IE_WORK/victim" "$IE_WORK/state/.state.json.tmp"

rc=0
ie_agent install --yes "${args[@]}" --until confirm > "$IE_WORK/out.txt" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "install --until confirm: exit $rc: $(tail -n 5 "$IE_WORK/out.txt")"
[ "$(ie_disk_sum "$IE_DISK")" = "$disk_before" ] || fail "the disk changed before any destructive phase"
[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "the decoy changed"

[ "$(ie_sha "$IE_WORK/victim")" = "$victim_sha" ] ||
	fail "the file a link in the state directory points to was overwritten: $(head -c 200 "$IE_WORK/victim")"
state=$IE_WORK/state/state.json
[ -f "$state" ] && [ ! -L "$state" ] || fail "state.json is not a regular file: $(ls -l "$state")"
[ "$(stat -c %a "$state")" = 600 ] || fail "state.json has mode $(stat -c %a "$state"), expected 600"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); assert s["phases"]["confirm"]["done"], s' "$state" ||
	fail "state.json does not record the confirmed run: $(head -c 300 "$state")"
left=$(find "$IE_WORK/state" -maxdepth 1 -name '.state.json.*' ! -name .state.json.tmp)
[ -z "$left" ] || fail "temporaries left in the state directory: $left"
[ -L "$IE_WORK/state/.state.json.tmp" ] || fail "the planted link was replaced or removed"
ok "state.json replaced whole (0600), no temporary left, the planted link not followed"
echo "install_state_files: ok"
