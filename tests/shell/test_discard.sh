#!/usr/bin/env bash
# tests/shell/test_discard.sh - discardable and fixed-size VMOs through the
# mount (issue #17; docs/semantics.md "Discardable VMOs").
#
# Invariant: on a full size= mount, an unlocked discardable VMO is dropped
# whole before any other page is taken, and the next lock says so
# (user.vmo.lock_state "discarded=1"); a locked one keeps every byte; the
# stats count it.  Everything is driven with mkdir, dd, setfattr and
# getfattr alone.
. "$(dirname "$0")/lib.sh"

lockst() {
	vt_xattr "$1/data" user.vmo.lock_state
}

test_discard_under_pressure() {
	vt_mount -o size=16M
	mkdir "$MNT/keep~discardable" "$MNT/cache~discardable" "$MNT/big"
	vt_eq "$(lockst "$MNT/cache")" "new locks=0 discarded=0" "a new VMO"
	vt_eq "$(lockst "$MNT/big")" "none" "not discardable"
	# keep: locked, 4 MiB; cache: written under a lock, unlocked, 6 MiB.
	setfattr -n user.vmo.lock -v "" "$MNT/keep/data"
	vt_pattern "$VT_WORK/keep" 4194304 1
	cp "$VT_WORK/keep" "$MNT/keep/data"
	setfattr -n user.vmo.lock -v "" "$MNT/cache/data"
	setfattr -n user.vmo.lock -v all "$MNT/cache/data"	# counted
	dd if=/dev/urandom of="$MNT/cache/data" bs=1M count=6 status=none
	vt_eq "$(lockst "$MNT/cache")" "locked locks=2 discarded=0" "two locks"
	setfattr -n user.vmo.unlock -v "" "$MNT/cache/data"
	setfattr -n user.vmo.unlock -v "" "$MNT/cache/data"
	vt_eq "$(lockst "$MNT/cache")" "unlocked locks=0 discarded=0" "unlocked"
	vt_fails "Invalid argument" setfattr -n user.vmo.unlock -v "" "$MNT/cache/data"
	vt_eq "$(vt_stat "$MNT" q_discardable)" 1 "one candidate"
	# 9 MiB more on a 16 MiB mount holding 10: cache must go, whole.
	dd if=/dev/urandom of="$MNT/big/data" bs=1M count=9 status=none conv=fsync
	vt_eq "$(vt_stat "$MNT" discarded_vmos)" 1 "discarded_vmos"
	vt_eq "$(vt_stat "$MNT" discarded_pages)" 1536 "discarded_pages (6 MiB)"
	vt_eq "$(lockst "$MNT/cache")" "discarded locks=0 discarded=0" "discarded"
	vt_eq "$(vt_size "$MNT/cache/data")" 6291456 "size kept"
	vt_eq "$(tr -d '\0' <"$MNT/cache/data" | wc -c)" 0 "reads zero"
	# trylock fails and leaves it unlocked; lock reports discarded=1.
	vt_fails "Device or resource busy" setfattr -n user.vmo.trylock -v "" "$MNT/cache/data"
	vt_eq "$(lockst "$MNT/cache")" "discarded locks=0 discarded=1" "trylock says"
	setfattr -n user.vmo.lock -v "" "$MNT/cache/data"
	vt_eq "$(lockst "$MNT/cache")" "locked locks=1 discarded=1" "lock says"
	# The locked one survived byte for byte.
	cmp "$VT_WORK/keep" "$MNT/keep/data"
	setfattr -n user.vmo.lock -v "" "$MNT/keep/data"
	vt_eq "$(lockst "$MNT/keep")" "locked locks=2 discarded=0" "keep was kept"
	vt_umount
}

test_discard_errors() {
	vt_mount -o size=16M
	mkdir "$MNT/plain" "$MNT/d~discardable" "$MNT/odd~name"
	vt_fails "Invalid argument" setfattr -n user.vmo.lock -v "" "$MNT/plain/data"
	vt_fails "Invalid argument" setfattr -n user.vmo.lock -v "0+4K" "$MNT/d/data"
	vt_fails "Operation not supported" mkdir "$MNT/d/clones/c"
	vt_fails "Operation not supported" mkdir "$MNT/d/slices/s@0+4K"
	[ -d "$MNT/odd~name" ]			# '~' without an option: a name
	[ -d "$MNT/d" ] && [ ! -e "$MNT/d~discardable" ]
	grep -q "not a discardable VMO" "$VT_LOG"
	vt_umount
}

test_fixed_size() {
	vt_mount -o size=16M
	mkdir "$MNT/f~fixed=10K"
	vt_eq "$(vt_size "$MNT/f/data")" 10240 "fixed size"
	vt_fails "Operation not permitted" truncate -s 4K "$MNT/f/data"
	vt_fails "Operation not permitted" truncate -s 1M "$MNT/f/data"
	printf 'abc' | dd of="$MNT/f/data" bs=1 seek=100 conv=notrunc status=none
	vt_fails "File too large" dd if=/dev/zero of="$MNT/f/data" bs=1 count=1 seek=10240 \
	    conv=notrunc status=none
	vt_eq "$(vt_size "$MNT/f/data")" 10240 "still fixed"
	mkdir "$MNT/f/clones/c"			# a clone may grow
	truncate -s 1M "$MNT/f/clones/c/data"
	mkdir "$MNT/both~fixed=1M,discardable"
	setfattr -n user.vmo.lock -v "" "$MNT/both/data"
	vt_umount
}

vt_main
