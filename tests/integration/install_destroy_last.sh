#!/usr/bin/env bash
# install_destroy_last.sh: every failure before teardown leaves the disk byte-for-byte as it
# was and exits with the documented code — a channel hash mismatch (4), a Nix tarball hash
# mismatch (4), an evaluation error (1), a build failure (1), no SSH key (3), no --yes (3), a
# foreign mount on --target (3, before the fetch), a planned partition mounted outside --target (3;
# under --target it is no refusal), an unknown disk (2), a phase name that does not exist (2), a
# bad host name in --config (2).
IE_NAME=dlast
# shellcheck source=tests/integration/lib/install-env.sh
. "$(dirname "$0")/lib/install-env.sh"

ie_make_disks 2G
ie_make_netns
ie_make_channels
disk_before=$(ie_disk_sum "$IE_DISK")
decoy_before=$(ie_disk_sum "$IE_DECOY")
mapfile -t args < <(ie_install_args)
bad_sha=0000000000000000000000000000000000000000000000000000000000000000

# expect CODE WHAT -- agent arguments...: the agent exits with CODE and the disks are unchanged.
expect() {
	local code=$1 what=$2 rc=0
	shift 3
	ie_agent "$@" > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" || rc=$?
	[ "$rc" = "$code" ] || fail "$what: exit $rc, expected $code: $(tail -n 5 "$IE_WORK/err.txt")"
	[ "$(ie_disk_sum "$IE_DISK")" = "$disk_before" ] || fail "$what: the disk changed"
	[ "$(ie_disk_sum "$IE_DECOY")" = "$decoy_before" ] || fail "$what: the decoy changed"
	grep -q . "$IE_WORK/err.txt" || fail "$what: no message"
	echo "ok: $what (exit $rc): $(grep 'nmmm-agent:' "$IE_WORK/err.txt" | tail -n 1 | cut -c1-160)"
	rm -rf "$IE_WORK/state"
}

expect 3 "no --yes" -- install "${args[@]}"
grep -qi "will be erased" "$IE_WORK/out.txt" || fail "no --yes: the disks to be erased were not shown"
# Something foreign on --target (a tmpfs): refused at confirm, before anything is fetched or
# wiped — not by the mount phase after the wipe.
mkdir -p "$IE_WORK/mnt"
mount -t tmpfs -o size=1M nmmm-foreign "$IE_WORK/mnt"
expect 3 "a tmpfs on --target" -- install --yes "${args[@]}"
grep -q "target $IE_WORK/mnt: nmmm-foreign is mounted at $IE_WORK/mnt and is not on a disk in the plan" "$IE_WORK/err.txt" ||
	fail "the tmpfs on --target was not named: $(tail -n 1 "$IE_WORK/err.txt")"
umount "$IE_WORK/mnt"
# --target decides what is the agent's own: the old root mounted under it is no refusal (the run
# gets as far as asking for --yes), while the same mount is one for another target.
mount -o ro,noload "${IE_DISK}p2" "$IE_WORK/mnt"
expect 3 "old root mounted at --target, no --yes" -- install "${args[@]}"
grep -q "not confirmed" "$IE_WORK/err.txt" ||
	fail "a planned partition mounted at --target was refused: $(tail -n 1 "$IE_WORK/err.txt")"
other_target=()
for a in "${args[@]}"; do
	[ "$a" = "$IE_WORK/mnt" ] && a=$IE_WORK/elsewhere
	other_target+=("$a")
done
expect 3 "old root mounted outside --target" -- install "${other_target[@]}"
grep -q "p2 is mounted at $IE_WORK/mnt; unmount it" "$IE_WORK/err.txt" ||
	fail "a planned partition mounted outside --target was not refused: $(tail -n 1 "$IE_WORK/err.txt")"
umount "$IE_WORK/mnt"
expect 4 "channel hash mismatch" -- install --yes "${args[@]}" --channel-sha256 "$bad_sha"
with_tarball=()
for a in "${args[@]}"; do [ "$a" = --nix-from-path ] || with_tarball+=("$a"); done
expect 4 "Nix tarball hash mismatch" -- install --yes "${with_tarball[@]}" \
	--nix-tarball "$IE_URL/nixexprs.tar.xz" --nix-sha256 "$bad_sha"
expect 1 "evaluation error" -- install --yes "${args[@]}" \
	--channel "$IE_URL/eval-error.tar.xz" --channel-sha256 "$IE_EVAL_ERROR_SHA"
expect 1 "build failure" -- install --yes "${args[@]}" \
	--channel "$IE_URL/build-error.tar.xz" --channel-sha256 "$IE_BUILD_ERROR_SHA"
IE_RESCUE_KEYS="" expect 3 "no SSH key" -- install --yes "${args[@]}"
expect 2 "unknown disk" -- install --yes "${args[@]}" --disks nmmm-no-such-disk
expect 2 "bad --until" -- install --yes "${args[@]}" --until nonsense
echo '{ "esp_size": "64M", "hostname": "-web" }' > "$IE_WORK/bad-host.json"
no_hostname=()
for a in "${args[@]}"; do [ "$a" = --hostname ] || [ "$a" = web1 ] || no_hostname+=("$a"); done
expect 2 "host name in --config" -- install --yes "${no_hostname[@]}" --config "$IE_WORK/bad-host.json"
grep -q "bad-host.json: \"hostname\": host name '-web' starts with '-', which RFC 1123 forbids" "$IE_WORK/err.txt" ||
	fail "the host name error does not name the file and the rule: $(tail -n 1 "$IE_WORK/err.txt")"
echo "install_destroy_last: ok"
