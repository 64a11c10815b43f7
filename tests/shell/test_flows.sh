#!/usr/bin/env bash
# test_flows.sh - the SPEC flows of sections 2-4 with coreutils and attr.
#
# Invariant: a user who knows only mkdir, dd, cp, cmp, truncate, rm, mv,
# stat, df, getfattr and setfattr can drive vmofs, and every file reads
# back exactly what a plain byte-array model of it says: a clone is a
# snapshot, a slice is shared both ways, removal and renaming behave as on
# any filesystem, and what is not a VMO cannot be created.
. "$(dirname "$0")/lib.sh"

# ---- section 2: the namespace ----

test_namespace_layout() {
	local k
	vt_mount -o size=64M
	mkdir "$MNT/a"
	vt_eq "clones data info slices" "$(ls "$MNT/a" | paste -sd' ')" "ls of a VMO"
	[ -f "$MNT/a/data" ] && [ -f "$MNT/a/info" ] || vt_fail "data/info not files"
	[ -d "$MNT/a/clones" ] && [ -d "$MNT/a/slices" ] || vt_fail "clones/slices not dirs"
	# refs/ is there, listed only while it holds a reference.
	[ -d "$MNT/a/refs" ] || vt_fail "refs not a dir"
	vt_eq "" "$(ls "$MNT/a/refs")" "ls of an empty refs/"
	mkdir "$MNT/a/refs/r"
	vt_eq "clones data info refs slices" "$(ls "$MNT/a" | paste -sd' ')" "ls of a VMO with a reference"
	vt_eq 5 "$(stat -c %h "$MNT/a")" "links of a VMO with a reference"
	rmdir "$MNT/a/refs/r"
	vt_eq "clones data info slices" "$(ls "$MNT/a" | paste -sd' ')" "ls after the reference went"
	vt_eq 4 "$(stat -c %h "$MNT/a")" "links of a VMO without one"
	vt_eq 0 "$(vt_size "$MNT/a/data")" "size of a new VMO"
	for k in id kind parent size committed populated private scaled pinned children; do
		grep -q "^$k: " "$MNT/a/info" || vt_fail "info has no '$k: ' line: $(cat "$MNT/a/info")"
	done
	vt_eq anonymous "$(vt_info "$MNT/a" kind)" "kind"
	vt_eq 0 "$(vt_info "$MNT/a" parent)" "parent"
	vt_eq 0 "$(vt_info "$MNT/a" children)" "children"
	# Every VMO has its own id.
	mkdir "$MNT/b"
	vt_ne "$(vt_info "$MNT/a" id)" "$(vt_info "$MNT/b" id)" "ids of a and b"
	vt_eq "a b" "$(ls "$MNT" | paste -sd' ')" "ls of the mount"
	# mkdir of an existing VMO: EEXIST.
	vt_fails "File exists" mkdir "$MNT/a"
}

test_write_read_truncate() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	vt_pattern p 12293 a
	cp p "$MNT/a/data"
	cmp p "$MNT/a/data"
	vt_eq 12293 "$(vt_size "$MNT/a/data")" "size after cp"
	vt_eq 12293 "$(vt_info "$MNT/a" size)" "info size"
	# Writing past the end grows it; the gap reads zero.
	printf 'tail' | dd of="$MNT/a/data" bs=1 seek=1048576 conv=notrunc status=none
	vt_eq 1048580 "$(vt_size "$MNT/a/data")" "size after a write at 1M"
	cmp -n 12293 p "$MNT/a/data"
	cmp -n $((1048576 - 12293)) -i 12293:0 "$MNT/a/data" /dev/zero
	vt_eq tail "$(tail -c 4 "$MNT/a/data")" "the bytes at 1M"
	# truncate shrinks; growing again reads zero past the old end.
	truncate -s 100 "$MNT/a/data"
	vt_eq 100 "$(vt_size "$MNT/a/data")" "size after truncate -s 100"
	cmp -n 100 p "$MNT/a/data"
	truncate -s 8K "$MNT/a/data"
	cmp -n 100 p "$MNT/a/data"
	cmp -n $((8192 - 100)) -i 100:0 "$MNT/a/data" /dev/zero
	# cat and dd, a larger file through the page cache.
	head -c $((3 * 1048576 + 17)) /dev/urandom >big
	dd if=big of="$MNT/a/data" bs=64K status=none
	cmp big "$MNT/a/data"
	cat "$MNT/a/data" >back
	cmp big back
}

test_clone_is_snapshot() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 262144 /dev/urandom >orig
	cp orig "$MNT/a/data"
	mkdir "$MNT/a/clones/c"
	cmp orig "$MNT/a/clones/c/data"
	vt_eq clone "$(vt_info "$MNT/a/clones/c" kind)" "kind"
	vt_eq "$(vt_info "$MNT/a" id)" "$(vt_info "$MNT/a/clones/c" parent)" "parent id"
	vt_eq 1 "$(vt_info "$MNT/a" children)" "a's children"
	# Write the clone: the parent keeps its bytes.
	printf 'CLONE-WRITE' | dd of="$MNT/a/clones/c/data" bs=1 seek=5000 conv=notrunc status=none
	cmp orig "$MNT/a/data"
	vt_fails "differ" cmp "$MNT/a/data" "$MNT/a/clones/c/data"
	cp orig want_c
	printf 'CLONE-WRITE' | dd of=want_c bs=1 seek=5000 conv=notrunc status=none
	cmp want_c "$MNT/a/clones/c/data"
	# Write the parent: the clone keeps the bytes of its mkdir.
	dd if=/dev/zero of="$MNT/a/data" bs=4K count=8 conv=notrunc status=none
	cmp want_c "$MNT/a/clones/c/data"
	# Writing the clone made a private page, visible in st_blocks.
	vt_eq 8 "$(stat -c %b "$MNT/a/clones/c/data")" "clone st_blocks"
	# A clone can grow, shrink and be cloned again.
	mkdir "$MNT/a/clones/c/clones/d"
	cmp want_c "$MNT/a/clones/c/clones/d/data"
	truncate -s 1M "$MNT/a/clones/c/data"
	cmp -n 262144 want_c "$MNT/a/clones/c/data"
	cmp -n $((1048576 - 262144)) -i 262144:0 "$MNT/a/clones/c/data" /dev/zero
	truncate -s 4096 "$MNT/a/clones/c/data"
	cmp -n 4096 want_c "$MNT/a/clones/c/data"
	cmp want_c "$MNT/a/clones/c/clones/d/data"
}

test_clone_ranges() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 65536 /dev/urandom >orig
	cp orig "$MNT/a/data"
	mkdir "$MNT/a/clones/w@8K+8K"
	[ -d "$MNT/a/clones/w" ] || vt_fail "clones/w@8K+8K did not make w: $(ls "$MNT/a/clones")"
	vt_eq 8192 "$(vt_size "$MNT/a/clones/w/data")" "window size"
	cmp -n 8192 -i 8192:0 orig "$MNT/a/clones/w/data"
	mkdir "$MNT/a/clones/h@0x1000+0x2000"
	vt_eq 8192 "$(vt_size "$MNT/a/clones/h/data")" "hex window size"
	cmp -n 8192 -i 4096:0 orig "$MNT/a/clones/h/data"
	mkdir "$MNT/a/clones/m@0+1M"
	vt_eq 1048576 "$(vt_size "$MNT/a/clones/m/data")" "clone past the end"
	cmp -n 65536 orig "$MNT/a/clones/m/data"
	# OFFSET must be page aligned; RANGE must parse.
	vt_fails "Invalid argument" mkdir "$MNT/a/clones/u@100+4K"
	vt_fails "Invalid argument" mkdir "$MNT/a/clones/x@zz"
	vt_eq "h m w" "$(ls "$MNT/a/clones" | paste -sd' ')" "clones after failures"
}

test_slice_is_shared() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 65536 /dev/urandom >orig
	cp orig "$MNT/a/data"
	mkdir "$MNT/a/slices/s@4K+8K"
	vt_eq 8192 "$(vt_size "$MNT/a/slices/s/data")" "slice size"
	vt_eq slice "$(vt_info "$MNT/a/slices/s" kind)" "kind"
	cmp -n 8192 -i 4096:0 orig "$MNT/a/slices/s/data"
	# Writes go both ways, at once.
	printf 'via-slice' | dd of="$MNT/a/slices/s/data" bs=1 seek=10 conv=notrunc status=none
	vt_eq via-slice "$(dd if="$MNT/a/data" bs=1 skip=4106 count=9 status=none)" "parent sees"
	printf 'via-parent' | dd of="$MNT/a/data" bs=1 seek=8192 conv=notrunc status=none
	vt_eq via-parent "$(dd if="$MNT/a/slices/s/data" bs=1 skip=4096 count=10 status=none)" "slice sees"
	# Fixed size: EFBIG past the end, EPERM on truncate.
	vt_fails "File too large" dd if=/dev/zero of="$MNT/a/slices/s/data" bs=4K seek=2 count=1 conv=notrunc status=none
	vt_fails "Operation not permitted" truncate -s 4K "$MNT/a/slices/s/data"
	vt_eq 8192 "$(vt_size "$MNT/a/slices/s/data")" "slice size after failures"
	# The parent cannot shrink below the slice's end while it lives.
	vt_fails "Device or resource busy" truncate -s 8K "$MNT/a/data"
	truncate -s 12K "$MNT/a/data"
	# A slice needs a RANGE; a slice of a slice shares the same pages.
	vt_fails "" mkdir "$MNT/a/slices/norange"
	mkdir "$MNT/a/slices/s/slices/t@4K+4K"
	printf 'deep' | dd of="$MNT/a/slices/s/slices/t/data" conv=notrunc status=none
	vt_eq deep "$(dd if="$MNT/a/data" bs=1 skip=8192 count=4 status=none)" "slice of a slice"
	rm -r "$MNT/a/slices/s"
	truncate -s 4K "$MNT/a/data"
}

test_remove() {
	vt_mount -o size=64M
	mkdir "$MNT/a" "$MNT/b"
	head -c 65536 /dev/urandom >"$MNT/a/data"
	mkdir "$MNT/a/clones/c" "$MNT/a/slices/s@0+4K"
	vt_fails "Directory not empty" rmdir "$MNT/a"
	vt_fails "Directory not empty" rmdir "$MNT/a/clones"
	rmdir "$MNT/b"
	vt_eq a "$(ls "$MNT" | paste -sd' ')" "after rmdir b"
	rmdir "$MNT/a/clones/c"
	vt_eq 0 "$(ls "$MNT/a/clones" | wc -l)" "clones after rmdir c"
	mkdir "$MNT/a/clones/c" "$MNT/a/clones/c/clones/d"
	rm -r "$MNT/a"
	vt_eq "" "$(ls "$MNT")" "after rm -r"
	# An open descriptor of a removed data keeps working until closed.
	mkdir "$MNT/z"
	printf 'still-here' >"$MNT/z/data"
	exec 3<>"$MNT/z/data"
	rm -r "$MNT/z"
	[ ! -e "$MNT/z" ] || vt_fail "z still exists"
	vt_eq still-here "$(cat <&3)" "read through the open descriptor"
	printf 'more' >&3
	exec 3>&-
	# The pages are freed: nothing is in use.
	vt_eq 0 "$(df -B1 --output=used "$MNT" | tail -1 | tr -d ' ')" "used after removing everything"
}

test_rename() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	printf 'renamed-bytes' >"$MNT/a/data"
	mkdir "$MNT/a/clones/c"
	mv "$MNT/a" "$MNT/b"
	vt_eq b "$(ls "$MNT" | paste -sd' ')" "after mv"
	vt_eq renamed-bytes "$(cat "$MNT/b/data")" "bytes after mv"
	vt_eq renamed-bytes "$(cat "$MNT/b/clones/c/data")" "clone after mv"
	mv "$MNT/b/clones/c" "$MNT/b/clones/d"
	vt_eq d "$(ls "$MNT/b/clones" | paste -sd' ')" "clone after mv"
	# The fixed entries cannot be renamed.
	vt_fails "" mv "$MNT/b/data" "$MNT/b/data2"
	vt_eq "clones data info slices" "$(ls "$MNT/b" | paste -sd' ')" "entries after failed mv"
}

test_other_entries_eperm() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	vt_fails "Operation not permitted" touch "$MNT/file"
	vt_fails "Operation not permitted" touch "$MNT/a/extra"
	vt_fails "Operation not permitted" ln -s data "$MNT/a/link"
	vt_fails "Operation not permitted" ln "$MNT/a/data" "$MNT/a/hard"
	vt_fails "Operation not permitted" mkfifo "$MNT/a/fifo"
	vt_fails "Operation not permitted" mknod "$MNT/a/null" c 1 3
	vt_fails "Operation not permitted" mkdir "$MNT/a/other"
	vt_fails "" sh -c "echo x >'$MNT/a/info'"
	vt_eq "clones data info slices" "$(ls "$MNT/a" | paste -sd' ')" "nothing changed"
	vt_eq a "$(ls "$MNT" | paste -sd' ')" "nothing changed at the root"
}

test_owner_and_mode() {
	vt_need setpriv
	[ "$(id -u)" = 0 ] || vt_skip "needs root to act as another user"
	vt_mount -o size=64M,allow_other
	chmod 0755 "$MNT"
	mkdir "$MNT/a"
	printf 'secret' >"$MNT/a/data"
	chmod 0640 "$MNT/a/data"
	vt_eq 640 "$(stat -c %a "$MNT/a/data")" "mode after chmod"
	chown 1234:5678 "$MNT/a/data"
	vt_eq 1234:5678 "$(stat -c %u:%g "$MNT/a/data")" "owner after chown"
	# Enforced: the owner reads, another user does not.
	vt_eq secret "$(setpriv --reuid=1234 --regid=1234 --clear-groups cat "$MNT/a/data")" "owner reads"
	vt_fails "Permission denied" setpriv --reuid=4321 --regid=4321 --clear-groups cat "$MNT/a/data"
	chmod 0644 "$MNT/a/data"
	vt_eq secret "$(setpriv --reuid=4321 --regid=4321 --clear-groups cat "$MNT/a/data")" "others read 0644"
	vt_fails "Permission denied" setpriv --reuid=4321 --regid=4321 --clear-groups mkdir "$MNT/b"
}

# ---- section 3: data ----

test_stat_blocks_and_df() {
	local total used
	vt_mount -o size=64M
	total=$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')
	vt_eq $((64 * 1048576)) "$total" "df size with -o size=64M"
	mkdir "$MNT/a"
	head -c 1048576 /dev/urandom >"$MNT/a/data"
	# st_blocks (512-byte units) counts the pages a VMO holds privately.
	vt_eq 2048 "$(stat -c %b "$MNT/a/data")" "st_blocks of 1M private"
	used=$(df -B1 --output=used "$MNT" | tail -1 | tr -d ' ')
	vt_ge "$used" 1048576 "df used after writing 1M"
	mkdir "$MNT/a/clones/c"
	vt_eq 0 "$(stat -c %b "$MNT/a/clones/c/data")" "st_blocks of a fresh clone"
	dd if=/dev/zero of="$MNT/a/clones/c/data" bs=4K count=1 conv=notrunc status=none
	vt_eq 8 "$(stat -c %b "$MNT/a/clones/c/data")" "st_blocks after one private page"
}

# ---- section 4: extended attributes ----

test_xattr_actions() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	truncate -s 64K "$MNT/a/data"
	setfattr -n user.vmo.commit -v 0+4K "$MNT/a/data"
	vt_eq 4096 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "commit 0+4K"
	# setfattr reads a value starting with 0x as hex-encoded bytes: quote it.
	setfattr -n user.vmo.commit -v '"0x2000+0x1000"' "$MNT/a/data"
	vt_eq 8192 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "commit 0x2000+0x1000"
	setfattr -n user.vmo.commit -v all "$MNT/a/data"
	vt_eq 65536 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "commit all"
	setfattr -n user.vmo.decommit -v 32K+32K "$MNT/a/data"
	vt_eq 32768 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "decommit 32K+32K"
	setfattr -n user.vmo.decommit -v "" "$MNT/a/data"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "decommit ''"
	setfattr -n user.vmo.pin -v 0+8K "$MNT/a/data"
	setfattr -n user.vmo.pin -v 0+4K "$MNT/a/data"
	vt_eq 8192 "$(vt_xattr "$MNT/a/data" user.vmo.pinned)" "pinned"
	vt_fails "Device or resource busy" setfattr -n user.vmo.decommit -v 0+4K "$MNT/a/data"
	vt_fails "Device or resource busy" truncate -s 0 "$MNT/a/data"
	setfattr -n user.vmo.unpin -v 0+8K "$MNT/a/data"
	vt_fails "Device or resource busy" setfattr -n user.vmo.decommit -v 0+4K "$MNT/a/data"
	setfattr -n user.vmo.unpin -v 0+4K "$MNT/a/data"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.pinned)" "pins are counted"
	setfattr -n user.vmo.decommit -v 0+4K "$MNT/a/data"
	setfattr -n user.vmo.prefetch -v all "$MNT/a/data"
	setfattr -n user.vmo.alwaysneed -v 0+4K "$MNT/a/data"
	setfattr -n user.vmo.dontneed -v 0+4K "$MNT/a/data"
	# zero is byte exact.
	vt_pattern p 20000 x
	cp p "$MNT/a/data"
	setfattr -n user.vmo.zero -v 4090+10 "$MNT/a/data"
	cp p want
	dd if=/dev/zero of=want bs=1 seek=4090 count=10 conv=notrunc status=none
	cmp want "$MNT/a/data"
}

test_xattr_errors() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	truncate -s 64K "$MNT/a/data"
	vt_fails "Invalid argument" setfattr -n user.vmo.commit -v bogus "$MNT/a/data"
	vt_fails "Invalid argument" setfattr -n user.vmo.commit -v 0+ "$MNT/a/data"
	vt_fails "Invalid argument" setfattr -n user.vmo.commit -v 1M+4K "$MNT/a/data"
	vt_fails "Invalid argument" setfattr -n user.vmo.frobnicate -v all "$MNT/a/data"
	vt_fails "No such attribute" getfattr -n user.vmo.frobnicate "$MNT/a/data"
	vt_fails "Operation not permitted" setfattr -n user.vmo.size -v five "$MNT/a/data"
	setfattr -n user.vmo.size -v 5 "$MNT/a/data"	# a restore: taken, dropped
	vt_eq 65536 "$(vt_xattr "$MNT/a/data" user.vmo.size)" "size after setfattr"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "nothing committed by errors"
}

test_xattr_values_listed() {
	local k list
	vt_mount -o size=64M
	mkdir "$MNT/a"
	head -c 12288 /dev/urandom >"$MNT/a/data"
	list=$(getfattr --absolute-names -d -m user.vmo "$MNT/a/data")
	for k in id kind parent size committed populated private scaled pinned children; do
		vt_contains "$list" "user.vmo.$k=\"$(vt_info "$MNT/a" "$k")\"" "getfattr -d lists $k"
	done
	vt_eq 12288 "$(vt_xattr "$MNT/a/data" user.vmo.size)" "size"
	vt_eq 12288 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "committed: 3 pages"
	vt_eq 12288 "$(vt_xattr "$MNT/a/data" user.vmo.private)" "private"
	vt_eq 12288 "$(vt_xattr "$MNT/a/data" user.vmo.scaled)" "scaled, unshared"
	# No trailing newline in a value.
	vt_eq 5 "$(getfattr --absolute-names --only-values -n user.vmo.size "$MNT/a/data" | wc -c)" \
		"bytes in the size value"
	# Shared after a clone: scaled halves, private drops.
	mkdir "$MNT/a/clones/c"
	vt_eq 6144 "$(vt_xattr "$MNT/a/data" user.vmo.scaled)" "scaled, shared by 2"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.private)" "private, all shared"
	vt_eq 1 "$(vt_xattr "$MNT/a/data" user.vmo.children)" "children"
	# The root's statistics.
	vt_contains "$(vt_xattr "$MNT" user.vmofs.stats)" ": " "user.vmofs.stats"
}

test_user_xattrs_stored() {
	vt_mount -o size=64M
	mkdir "$MNT/a" "$MNT/b"
	printf 'payload' >"$MNT/a/data"
	setfattr -n user.color -v blue "$MNT/a/data"
	setfattr -n user.dir -v yes "$MNT/a"
	vt_eq blue "$(vt_xattr "$MNT/a/data" user.color)" "user.color"
	vt_eq yes "$(vt_xattr "$MNT/a" user.dir)" "user.dir on a VMO dir"
	vt_contains "$(getfattr --absolute-names -d "$MNT/a/data")" 'user.color="blue"'
	setfattr -x user.color "$MNT/a/data"
	vt_fails "No such attribute" getfattr -n user.color "$MNT/a/data"
	# cp -a keeps user.* attributes, into and out of vmofs.
	printf 'host' >host
	setfattr -n user.origin -v host host 2>/dev/null || vt_skip "no user xattrs on $VT_WORK"
	cp -a host "$MNT/b/data"
	vt_eq host "$(cat "$MNT/b/data")" "bytes copied in"
	vt_eq host "$(vt_xattr "$MNT/b/data" user.origin)" "cp -a into vmofs"
	setfattr -n user.color -v red "$MNT/a/data"
	cp -a "$MNT/a/data" out 2>cp.err || true
	vt_eq red "$(vt_xattr out user.color)" "cp -a out of vmofs"
	cmp out "$MNT/a/data"
}

# ---- copying trees in and out (issue #16 bug 4, issue #19) ----

# vt_tree_src: under $MNT, a VMO with bytes and user xattrs, a clone of it
# with bytes of its own, and an empty VMO; their bytes in want.*.
vt_tree_src() {
	mkdir "$MNT/a" "$MNT/e"
	head -c 20000 /dev/urandom >want.a
	cp want.a "$MNT/a/data"
	setfattr -n user.color -v blue "$MNT/a/data"
	setfattr -n user.dir -v yes "$MNT/a"
	mkdir "$MNT/a/clones/c"
	printf 'clone-bytes' | dd of="$MNT/a/clones/c/data" conv=notrunc status=none
	truncate -s 9000 "$MNT/a/clones/c/data"
	setfattr -n user.clone -v "$(printf 'two\nlines')" "$MNT/a/clones/c/data"
	cp "$MNT/a/clones/c/data" want.c
}

# vt_user_x DIR: DIR's user.* xattrs but the derived ones, one sorted
# "FILE NAME=VALUE" line each.
vt_user_x() {
	(cd "$1" && getfattr -R -d -m '^user\.' . 2>/dev/null) |
		awk '/^# file: / { f = substr($0, 9); next }
		     /^user\.vmo\./ || /^user\.vmofs\./ || !NF { next }
		     { print f, $0 }' | sort
}

# vt_tree_same DIR: DIR holds the tree vt_tree_src made: bytes and
# user xattrs (the source mount's, in src.x).
vt_tree_same() {
	cmp want.a "$1/a/data"
	cmp want.c "$1/a/clones/c/data"
	vt_eq 0 "$(vt_size "$1/e/data")" "size of e/data in $1"
	vt_user_x "$1" >got.x
	diff src.x got.x >&2 || vt_fail "user xattrs of $1 differ from the source's"
}

# vt_live MNT: the tree copied into mount MNT shows live derived values,
# not the copy's: each read-only xattr is the VMO's own (as in info), once.
vt_live() {
	local d k
	for d in "$1/a" "$1/a/clones/c" "$1/e"; do
		for k in id kind parent size children; do
			vt_eq "$(vt_info "$d" $k)" "$(vt_xattr "$d/data" user.vmo.$k)" \
				"user.vmo.$k of $d"
		done
		# SPEC's ten values and lock_state (discardable VMOs)
		vt_eq 11 "$(getfattr --absolute-names -d -m '^user\.vmo\.' "$d/data" |
			grep -c '^user.vmo.')" \
			"read-only values listed once on $d/data"
	done
	vt_eq clone "$(vt_info "$1/a/clones/c" kind)" "c is a clone again"
	vt_eq "$(vt_info "$1/a" id)" "$(vt_info "$1/a/clones/c" parent)" "c's parent"
}

# vt_quiet RC ERRFILE WHAT: the tool exited 0 and printed nothing.
vt_quiet() {
	[ "$1" -eq 0 ] && [ ! -s "$2" ] || vt_fail "$3: exit $1: $(head -5 "$2")"
}

# Invariant: extracting a tar of a mount into a new mount terminates.  An
# unlink that returns 0 and changes nothing made tar loop for ever (it
# unlinks data, creates it with O_EXCL, gets EEXIST, unlinks again...):
# the timeout turns that hang into a failure.
test_tar_into_mount_terminates() {
	local src rc=0
	vt_mount -o size=64M
	src=$MNT
	vt_tree_src
	vt_user_x "$src" >src.x
	tar -cf t.tar -C "$src" .
	vt_mount -o size=64M
	timeout 20 tar -xf t.tar -C "$MNT" 2>tar.err || rc=$?
	[ "$rc" -ne 124 ] || vt_fail "tar -xf did not end within 20 s: $(head -3 tar.err)"
	vt_quiet "$rc" tar.err "tar -xf into a mount"
	cmp want.a "$MNT/a/data"
	cmp want.c "$MNT/a/clones/c/data"
	# rm -r takes each fixed entry away for real, then the VMO
	rm -r "$MNT/a"
	[ ! -e "$MNT/a" ] || vt_fail "a still there after rm -r"
}

# Out of the mount, every tool copies bytes and user xattrs, without a
# complaint.  The copy also holds the read-only values as plain user.vmo.*
# xattrs and info as a file: SPEC 4 lists them, so tools copy them.
test_copy_out_tools() {
	local src rc
	vt_need rsync
	vt_mount -o size=64M
	src=$MNT
	vt_tree_src
	vt_user_x "$src" >src.x
	rc=0; cp -a "$src" out.cp 2>err || rc=$?
	vt_quiet $rc err "cp -a out"
	vt_tree_same out.cp
	rc=0; rsync -aX "$src/" out.rs/ 2>err || rc=$?
	vt_quiet $rc err "rsync -aX out"
	vt_tree_same out.rs
	mkdir out.tar
	rc=0; { tar --xattrs -cf - -C "$src" . | tar --xattrs -xf - -C out.tar; } 2>err || rc=$?
	vt_quiet $rc err "tar --xattrs out"
	vt_tree_same out.tar
	vt_eq "$(vt_info "$src/a" id)" "$(vt_xattr out.rs/a/data user.vmo.id)" \
		"the copy holds a snapshot of the values"
	grep -q '^kind: anonymous$' out.cp/a/info || vt_fail "info not copied as text"
}

# tar --xattrs, mount -> new mount and mount -> plain dir -> new mount:
# no error; bytes and user xattrs kept; the derived values the archive
# carries (user.vmo.*, user.vmofs.stats, info) are taken and dropped, so
# the new mount shows its own.
test_tar_round_trip() {
	local src rc
	vt_mount -o size=64M
	src=$MNT
	vt_tree_src
	vt_user_x "$src" >src.x
	tar --xattrs -cf t.tar -C "$src" .
	vt_mount -o size=64M
	rc=0; timeout 20 tar --xattrs -xf t.tar -C "$MNT" 2>err || rc=$?
	vt_quiet $rc err "tar --xattrs -x into a mount"
	vt_tree_same "$MNT"
	vt_live "$MNT"
	mkdir plain
	tar --xattrs -xf t.tar -C plain
	tar --xattrs -cf p.tar -C plain .
	vt_mount -o size=64M
	rc=0; timeout 20 tar --xattrs -xf p.tar -C "$MNT" 2>err || rc=$?
	vt_quiet $rc err "tar --xattrs -x of a plain copy into a mount"
	vt_tree_same "$MNT"
	vt_live "$MNT"
}

# rsync -aX out and rsync -aX --inplace back in: no error.  Without
# --inplace rsync writes a temporary file beside data and renames it
# over, and SPEC 2 forbids a file beside data: EPERM, reported.
test_rsync_round_trip() {
	local src rc
	vt_need rsync
	vt_mount -o size=64M
	src=$MNT
	vt_tree_src
	vt_user_x "$src" >src.x
	# A fresh copy: the tar test's plain/ holds other random bytes of the
	# same size, and rsync's quick check (size and mtime, to the second)
	# skipped them when both tests ran within one second.
	rm -rf plain bare
	rsync -aX "$src/" plain/
	vt_mount -o size=64M
	rc=0; timeout 20 rsync -aX --inplace plain/ "$MNT/" 2>err || rc=$?
	vt_quiet $rc err "rsync -aX --inplace into a mount"
	vt_tree_same "$MNT"
	vt_live "$MNT"
	# again, now that everything is there: still quiet
	rc=0; timeout 20 rsync -aX --inplace plain/ "$MNT/" 2>err || rc=$?
	vt_quiet $rc err "second rsync -aX --inplace"
	vt_tree_same "$MNT"
	# a copy without the derived values: rsync removes them, a no-op
	cp -r --preserve=mode,timestamps plain bare
	setfattr -n user.color -v blue bare/a/data
	setfattr -n user.dir -v yes bare/a
	setfattr -n user.clone -v "$(printf 'two\nlines')" bare/a/clones/c/data
	vt_mount -o size=64M
	rc=0; timeout 20 rsync -aX --inplace bare/ "$MNT/" 2>err || rc=$?
	vt_quiet $rc err "rsync -aX --inplace of a copy without user.vmo.*"
	vt_tree_same "$MNT"
	vt_live "$MNT"
	vt_mount -o size=64M
	rc=0; timeout 20 rsync -aX plain/ "$MNT/" 2>err || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || vt_fail "rsync without --inplace: exit $rc"
	vt_contains "$(cat err)" "Operation not permitted" "rsync's temporary file refused"
}

# cp -a out works (test_copy_out_tools).  Into a mount, cp assumes that a
# directory it has just made is empty, and a VMO directory never is (SPEC
# 2): its O_EXCL creates and mkdirs of data, info, clones/, slices/ fail
# with EEXIST in the kernel, before vmofs sees them.  Into directories
# that exist, it works: make them first.
test_cp_round_trip() {
	local src rc d
	vt_mount -o size=64M
	src=$MNT
	vt_tree_src
	vt_user_x "$src" >src.x
	rm -rf plain
	cp -a "$src/." plain
	vt_mount -o size=64M
	rc=0; timeout 20 cp -a plain/. "$MNT/" 2>err || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || vt_fail "cp -a into new directories: exit $rc"
	vt_contains "$(cat err)" "cannot create regular file '$MNT/./a/data': File exists"
	vt_mount -o size=64M
	(cd plain && find . -mindepth 1 -type d) | sort | while read -r d; do
		mkdir -p "$MNT/$d"
	done
	rc=0; timeout 20 cp -a plain/. "$MNT/" 2>err || rc=$?
	vt_quiet $rc err "cp -a into existing VMO directories"
	vt_tree_same "$MNT"
	vt_live "$MNT"
}

# A slice cannot be made again from a copy: its window is not in it (the
# name is S, its offset is nowhere).  Restoring says so for the slice, with
# EINVAL, and restores everything else.
test_round_trip_slice() {
	local src rc=0
	vt_mount -o size=64M
	src=$MNT
	vt_tree_src
	mkdir "$src/a/slices/s@4K+4K"
	tar --xattrs -cf t.tar -C "$src" .
	vt_mount -o size=64M
	timeout 20 tar --xattrs -xf t.tar -C "$MNT" 2>err || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || vt_fail "tar with a slice: exit $rc"
	vt_contains "$(cat err)" "./a/slices/s: Cannot mkdir: Invalid argument"
	grep -v -e '/slices/s' -e 'Exiting with failure status' err >&2 &&
		vt_fail "errors beyond the slice"
	cmp want.a "$MNT/a/data"
	cmp want.c "$MNT/a/clones/c/data"
}

# A refused range names the xattr, the value and the reason in the log.
test_range_refusal_logged() {
	vt_mount -o size=64M
	mkdir "$MNT/a"
	vt_pattern p 8192 r
	cp p "$MNT/a/data"
	vt_fails "Invalid argument" setfattr -n user.vmo.decommit -v 16+256 "$MNT/a/data"
	cmp p "$MNT/a/data"
	grep -q 'setxattr "user.vmo.decommit": EINVAL (Invalid argument): decommit frees whole pages.*(value "16+256") (pid [0-9]*, uid 0)' "$VT_LOG" ||
		vt_fail "no log line for the refused decommit: $(tail -3 "$VT_LOG")"
}

# st_blocks is the pages a VMO's own node holds (docs/semantics.md): a
# clone moves them to the hidden node above, its end moves them back, and
# stat shows both at once (the kernel's copy of the attributes of the
# source is invalidated before mkdir and rmdir return), also for a clone of
# a slice, whose pages are its root's, and for a clone still open at rmdir;
# pages committed or pinned through an xattr show at once too.
test_blocks_stay_true() {
	local i
	vt_mount -o size=64M
	mkdir "$MNT/p"
	head -c 1M /dev/urandom >"$MNT/p/data"
	vt_eq 2048 "$(stat -c %b "$MNT/p/data")" "blocks of 1 MiB"
	mkdir "$MNT/p/clones/c"
	vt_eq 0 "$(stat -c %b "$MNT/p/data")" "blocks after a clone"
	dd if=/dev/urandom of="$MNT/p/data" bs=4k count=10 conv=notrunc status=none
	vt_eq 80 "$(stat -c %b "$MNT/p/data")" "blocks after 10 pages written"
	rmdir "$MNT/p/clones/c"
	vt_eq 2048 "$(stat -c %b "$MNT/p/data")" "blocks after the clone's rmdir"
	mkdir "$MNT/p/slices/s@0+64K" "$MNT/p/slices/s/clones/k"
	vt_eq 0 "$(stat -c %b "$MNT/p/data")" "blocks after a clone of a slice"
	rmdir "$MNT/p/slices/s/clones/k"
	vt_eq 2048 "$(stat -c %b "$MNT/p/data")" "blocks after its rmdir"
	mkdir "$MNT/p/clones/o"
	vt_eq 0 "$(stat -c %b "$MNT/p/data")" "blocks after clone o"
	exec 3<"$MNT/p/clones/o/data"
	rmdir "$MNT/p/clones/o"
	exec 3<&-
	# RELEASE is asynchronous to close(2): the clone ends a moment later
	for i in $(seq 50); do
		[ "$(stat -c %b "$MNT/p/data")" = 2048 ] && break
		sleep 0.1
	done
	vt_eq 2048 "$(stat -c %b "$MNT/p/data")" "blocks after an open clone's close"
	# Pages brought in by an xattr: the same, at once.
	mkdir "$MNT/q"
	truncate -s 1M "$MNT/q/data"
	vt_eq 0 "$(stat -c %b "$MNT/q/data")" "blocks of a sparse 1 MiB"
	setfattr -n user.vmo.commit -v 0+256K "$MNT/q/data"
	vt_eq 512 "$(stat -c %b "$MNT/q/data")" "blocks after a commit of 256 KiB"
	mkdir "$MNT/q/slices/s@512K+512K"
	setfattr -n user.vmo.pin -v 0+64K "$MNT/q/slices/s/data"
	vt_eq 640 "$(stat -c %b "$MNT/q/data")" "root's blocks after a pin through a slice"
	setfattr -n user.vmo.unpin -v 0+64K "$MNT/q/slices/s/data"
	setfattr -n user.vmo.decommit -v all "$MNT/q/data"
	vt_eq 0 "$(stat -c %b "$MNT/q/data")" "blocks after a decommit"
}

# Every request refused for what it asked is logged once through
# vfs_reject (fs/util.c): op, the name it got, the errno by name, why, who
# asked; answers (ENOENT of a lookup, ENODATA of an unset attribute) are not.
test_rejections_logged() {
	vt_mount -o size=64M
	mkdir "$MNT/a" "$MNT/b" "$MNT/a/clones/c"
	echo hi >"$MNT/a/data"
	mkdir "$MNT/a/slices/s@0+4096"
	vt_fails "Invalid argument" mkdir "$MNT/x@0+4096"
	vt_logged 'mkdir "x@0\+4096": EINVAL \(Invalid argument\): a VMO name has no' "mkdir NAME@RANGE"
	vt_fails "Invalid argument" mkdir "$MNT/a/clones/d@1+4096"
	vt_logged 'mkdir "d@1\+4096": EINVAL .*OFFSET is a multiple of the page size' "unaligned clone"
	vt_fails "Invalid argument" mkdir "$MNT/a/slices/t"
	vt_logged 'mkdir "t": EINVAL .*a slice needs a range' "slice without a range"
	vt_fails "Invalid argument" mkdir "$MNT/a/clones/k~aolw,modified"
	vt_logged 'mkdir "k~aolw,modified": EINVAL .*a clone takes one kind' "two clone kinds"
	vt_fails "Invalid argument" mkdir "$MNT/a/clones/k~fixed=4K"
	vt_logged 'mkdir "k~fixed=4K": EINVAL .*a clone takes one kind' "a create option on a clone"
	vt_fails "Invalid argument" mkdir "$MNT/k~modified"
	vt_logged 'mkdir "k~modified": EINVAL .*are clone kinds' "a clone kind at the top"
	vt_fails "Invalid argument" mkdir "$MNT/a/slices/k~aolw@0+4K"
	vt_logged 'mkdir "k~aolw@0\+4K": EINVAL .*a slice takes no ~options' "a clone kind on a slice"
	mkdir "$MNT/a/clones/live~aolw"
	vt_fails "Operation not supported" mkdir "$MNT/a/clones/live/clones/k"
	vt_logged 'mkdir "k": EOPNOTSUPP .*reads through a live VMO' "a snapshot of an aolw clone"
	rmdir "$MNT/a/clones/live"
	vt_fails "Invalid argument" mkdir "$MNT/a/slices/t@0+1G"
	vt_logged 'mkdir "t@0\+1G": EINVAL .*not within the parent' "slice past its parent"
	vt_fails "Operation not permitted" mkdir "$MNT/a/sub"
	vt_logged 'mkdir "sub": EPERM \(Operation not permitted\): a VMO directory holds only' "mkdir in a VMO"
	vt_fails "Directory not empty" rmdir "$MNT/a"
	vt_logged 'rmdir "a": ENOTEMPTY .*1 clones, 1 slices and 0 references' "rmdir of a VMO with children"
	vt_fails "Invalid argument" mkdir "$MNT/a/refs/r@0+4096"
	vt_logged 'mkdir "r@0\+4096": EINVAL .*a reference shares the whole VMO' "reference with a range"
	vt_fails "Directory not empty" rmdir "$MNT/a/clones"
	vt_logged 'rmdir "clones": ENOTEMPTY .*still holds 1 VMOs' "rmdir of a full clones/"
	# rmdir of a file and unlink of a directory: the kernel answers
	# ENOTDIR / EISDIR from the cached entry's type, vmofs sees nothing
	vt_fails "Not a directory" rmdir "$MNT/a/data"
	vt_fails "Is a directory" unlink "$MNT/b"
	vt_fails "" mv "$MNT/a/data" "$MNT/a/moved"
	vt_logged 'rename "data": EPERM .*only a VMO is renamed' "rename of data"
	vt_fails "" mv "$MNT/a/clones/c" "$MNT/c"
	vt_logged 'rename "c": EPERM .*stays in its directory' "rename across directories"
	vt_fails "" mv -T "$MNT/a" "$MNT/b"
	vt_logged 'rename "a": ENOTEMPTY .*the VMO "b" is there' "rename onto a VMO"
	vt_fails "Operation not permitted" ln -s x "$MNT/a/l"
	vt_logged 'symlink "l": EPERM .*only data and info' "symlink"
	vt_fails "" ln "$MNT/a/data" "$MNT/a/h"
	vt_logged 'link "h": EPERM' "hard link"
	vt_fails "" touch "$MNT/a/new"
	vt_logged 'create "new": EPERM' "create"
	vt_fails "" mknod "$MNT/a/fifo" p
	vt_logged 'mknod "fifo": EPERM' "mknod"
	vt_fails "" truncate -s 8192 "$MNT/a/slices/s/data"
	vt_logged 'truncate "s": EPERM .*fixed' "truncate of a slice"
	vt_fails "" sh -c ": >'$MNT/a/slices/s/data'"
	vt_logged 'open O_TRUNC "s": EPERM .*fixed' "O_TRUNC of a slice"
	head -c 8192 /dev/zero >"$MNT/b/data"
	setfattr -n user.vmo.pin -v 0+4096 "$MNT/b/data"
	vt_fails "Device or resource busy" truncate -s 0 "$MNT/b/data"
	vt_logged 'truncate "b": EBUSY .*pinned page' "truncate over a pin"
	# (the kernel itself refuses fallocate modes FUSE does not carry)
	vt_fails "File too large" fallocate -o 0 -l 5P "$MNT/a/data"
	vt_logged 'fallocate "a": EFBIG .*largest VMO size' "fallocate past 4 PiB"
	vt_fails "Invalid argument" setfattr -n user.vmo.frob -v 1 "$MNT/a/data"
	vt_logged 'setxattr "user.vmo.frob": EINVAL .*unknown name; valid names: user.vmo.commit, user.vmo.decommit,.* user.vmo.unlock' "unknown user.vmo name"
	vt_fails "" setfattr -x user.vmo.commit "$MNT/a/data"
	vt_logged 'removexattr "user.vmo.commit": EPERM .*reserved' "removexattr of an action"
	vt_fails "" setfattr -n trusted.x -v 1 "$MNT/a/data"
	vt_logged 'setxattr "trusted.x": EOPNOTSUPP .*only user\.\* attributes' "trusted.* xattr"
	vt_fails "" sh -c "echo junk >'$MNT/a/info'"
	vt_logged 'write "info": EINVAL .*read-only' "write of info"
	# Answers, not rejections: nothing logged for them.
	ls "$MNT/nothere" 2>/dev/null && vt_fail "nothere exists"
	getfattr -d "$MNT/a/data" >/dev/null
	getfattr -n user.unset "$MNT/a/data" 2>/dev/null && vt_fail "user.unset is set"
	if grep -E 'nothere|user\.unset|ENOENT|ENODATA' "$VT_LOG"; then
		vt_fail "an answer was logged as a rejection"
	fi
}

vt_main test_namespace_layout test_write_read_truncate test_clone_is_snapshot \
	test_rejections_logged test_blocks_stay_true \
	test_clone_ranges test_slice_is_shared test_remove test_rename \
	test_other_entries_eperm test_owner_and_mode test_stat_blocks_and_df \
	test_xattr_actions test_xattr_errors test_xattr_values_listed \
	test_user_xattrs_stored test_tar_into_mount_terminates \
	test_range_refusal_logged test_copy_out_tools test_tar_round_trip \
	test_rsync_round_trip test_cp_round_trip test_round_trip_slice
