#!/usr/bin/env bash
# tests/shell/test_backing.sh - persistent mode, -o backing=DIR (SPEC 6,
# docs/semantics.md "Persistence").
#
# Invariant: DIR/NAME holds the bytes of top-level VMO NAME as a plain
# sparse file: after an unmount, a SIGTERM, or (for fsynced bytes) a
# SIGKILL, every byte is there, and a new mount shows it again, paged in
# lazily.  mkdir/rmdir/mv of top-level VMOs create/delete/rename the files;
# clones and slices stay in memory and clones stay true snapshots.
. "$(dirname "$0")/lib.sh"

# bk_mount: mount with -o backing=$BK and any options.
bk_mount() {
	vt_mount -o "backing=$BK" "$@"
}

# bk_new: a fresh, empty backing directory in BK (tests share VT_WORK).
bk_new() {
	BK=$(mktemp -d "$VT_WORK/bk.XXXXXX")
}


# wait_cmp A B TENTHS: wait until files A and B are equal.
wait_cmp() {
	local i
	for ((i = 0; i < $3; i++)); do
		cmp -s "$1" "$2" && return 0
		sleep 0.1
	done
	cmp "$1" "$2"
}

test_backing_bad_dir() {
	bad_mount "/nonexistent/vmofs-backing" -o backing=/nonexistent/vmofs-backing
	: >"$VT_WORK/plain"
	bad_mount "not a directory" -o "backing=$VT_WORK/plain"
	bad_mount "backing" -o "backing="
	# A backing file that cannot be opened read-write: named, no mount.
	mkdir -p "$VT_WORK/bk2"
	ln -s /nonexistent "$VT_WORK/bk2/dangling"	# skipped: not a regular file
	mkdir "$VT_WORK/bk2/sub"			# skipped likewise
	# A read-only DIR (a read-only bind mount, so that root sees it too).
	mkdir -p "$VT_WORK/ro-src" "$VT_WORK/ro"
	if mount --bind "$VT_WORK/ro-src" "$VT_WORK/ro" 2>/dev/null; then
		if mount -o remount,bind,ro "$VT_WORK/ro" 2>/dev/null; then
			bad_mount "not writable" -o "backing=$VT_WORK/ro" ||
				{ umount "$VT_WORK/ro"; return 1; }
		fi
		umount "$VT_WORK/ro"
	else
		echo "    (no bind mount: read-only DIR not tested)"
	fi
	# Entries that are not regular files are skipped; the mount works.
	BK=$VT_WORK/bk2
	bk_mount
	vt_eq "" "$(ls "$MNT")" "VMOs from a DIR without regular files"
	vt_umount
}

test_backing_roundtrip_sparse_lazy() {
	local c1 c2
	bk_new
	head -c 300000 /dev/urandom >orig
	bk_mount
	mkdir "$MNT/a" "$MNT/sparse"
	cp orig "$MNT/a/data"
	# 8 KiB at 64 MiB: the file must stay sparse.
	head -c 8192 /dev/urandom >tail
	dd if=tail of="$MNT/sparse/data" bs=8192 seek=8192 status=none
	vt_umount
	cmp orig "$BK/a"
	vt_eq $((64 * 1048576 + 8192)) "$(vt_size "$BK/sparse")" "size of the sparse file"
	cmp tail <(tail -c 8192 "$BK/sparse")
	cmp <(head -c $((64 * 1048576)) /dev/zero) <(head -c $((64 * 1048576)) "$BK/sparse")
	[ "$(stat -c %b "$BK/sparse")" -lt 1024 ] ||
		vt_fail "$BK/sparse is not sparse: $(stat -c %b "$BK/sparse") blocks"
	# A second mount: both VMOs, nothing paged in until read.
	touch -d @1000000000 "$BK/a"
	bk_mount
	vt_eq "a sparse" "$(ls "$MNT" | paste -sd' ')" "VMOs after remount"
	vt_eq 0 "$(vt_xattr "$MNT/a/data" user.vmo.committed)" "committed right after mount"
	vt_eq 300000 "$(vt_size "$MNT/a/data")" "size after remount"
	vt_eq pager "$(vt_xattr "$MNT/a/data" user.vmo.kind)" "kind"
	head -c 4096 "$MNT/a/data" >/dev/null
	c1=$(vt_xattr "$MNT/a/data" user.vmo.committed)
	vt_ge "$c1" 4096 "committed after reading 4 KiB"
	cmp orig "$MNT/a/data"
	c2=$(vt_xattr "$MNT/a/data" user.vmo.committed)
	vt_ge "$c2" 300000 "committed after reading everything"
	cmp tail <(tail -c 8192 "$MNT/sparse/data")
	vt_umount
	cmp orig "$BK/a"
	# Only read: the file was not touched (no writeback of clean VMOs).
	vt_eq 1000000000 "$(stat -c %Y "$BK/a")" "mtime of a file only read"
}

test_backing_namespace() {
	bk_new
	printf 'x' >"$BK/bad@name"	# not a VMO name: skipped, logged
	bk_mount
	vt_eq "" "$(ls "$MNT")" "a file with @ is not a VMO"
	vt_contains "$(cat "$VT_LOG")" "bad@name"
	mkdir -m 0750 "$MNT/v"
	[ -f "$BK/v" ] || vt_fail "mkdir did not create $BK/v"
	vt_eq 640 "$(stat -c %a "$BK/v")" "mode of the new file"
	vt_eq 0 "$(vt_size "$BK/v")" "size of the new file"
	printf 'hello' >"$MNT/v/data"
	mkdir "$MNT/w"
	# mv onto an existing VMO: refused, both files stay.
	vt_fails "" mv -T "$MNT/v" "$MNT/w"
	mv "$MNT/v" "$MNT/u"
	vt_eq "bad@name u w" "$(ls "$BK" | paste -sd' ')" "files after mv"
	rmdir "$MNT/w"
	vt_eq "bad@name u" "$(ls "$BK" | paste -sd' ')" "files after rmdir"
	# Clones and slices never get files.
	mkdir "$MNT/u/clones/c" "$MNT/u/slices/s@0+4K"
	vt_eq "bad@name u" "$(ls "$BK" | paste -sd' ')" "files with a clone and a slice"
	vt_eq clone "$(vt_xattr "$MNT/u/clones/c/data" user.vmo.kind)" "clone kind"
	# A host file put there while mounted blocks mkdir of that name.
	: >"$BK/host"
	vt_fails "File exists" mkdir "$MNT/host"
	rm "$BK/host"
	rm -r "$MNT/u"
	vt_eq "bad@name" "$(ls "$BK" | paste -sd' ')" "files after rm -r"
	vt_umount
	vt_eq "bad@name" "$(ls "$BK" | paste -sd' ')" "files after unmount"
}

test_backing_writeback_without_fsync() {
	bk_new
	bk_mount
	mkdir "$MNT/v"
	head -c 200000 /dev/urandom >orig
	cat orig >"$MNT/v/data"
	# No fsync: the writeback thread has it within a few seconds.
	wait_cmp orig "$BK/v" 60
	# An overwrite in place, and growth by truncate alone.
	printf 'NEW' | dd of="$MNT/v/data" bs=1 seek=1000 conv=notrunc status=none
	printf 'NEW' | dd of=orig bs=1 seek=1000 conv=notrunc status=none
	wait_cmp orig "$BK/v" 60
	truncate -s 500000 "$MNT/v/data"
	truncate -s 500000 orig
	wait_cmp orig "$BK/v" 60
	vt_umount
}

test_backing_truncate() {
	bk_new
	bk_mount
	mkdir "$MNT/v"
	head -c 100000 /dev/urandom >orig
	dd if=orig of="$MNT/v/data" conv=fsync status=none
	vt_eq 100000 "$(vt_size "$BK/v")" "file size after fsync"
	truncate -s 5000 "$MNT/v/data"
	vt_eq 5000 "$(vt_size "$BK/v")" "file size right after a shrink"
	truncate -s 1000000 "$MNT/v/data"
	dd if=/dev/null of="$MNT/v/data" conv=notrunc,fsync status=none
	vt_eq 1000000 "$(vt_size "$BK/v")" "file size after a grow and fsync"
	cmp <(head -c 5000 orig; head -c 995000 /dev/zero) "$BK/v"
	truncate -s 0 "$MNT/v/data"
	vt_umount
	vt_eq 0 "$(vt_size "$BK/v")" "file size after truncate to 0 and unmount"
}

test_backing_sigkill_keeps_fsynced() {
	local i
	bk_new
	bk_mount
	head -c 1000000 /dev/urandom >orig
	for i in 1 2 3; do
		mkdir "$MNT/v$i"
		dd if=orig of="$MNT/v$i/data" bs=64K conv=fsync status=none
	done
	# Overwrite part of v1 and fsync through a slice of it.
	mkdir "$MNT/v1/slices/s@4K+8K"
	printf 'through-the-slice' | dd of="$MNT/v1/slices/s/data" conv=notrunc,fsync status=none
	printf 'through-the-slice' | dd of=orig1 status=none
	cp orig orig1.full
	dd if=orig1 of=orig1.full bs=1 seek=4096 conv=notrunc status=none
	kill -KILL "$VT_PID"
	vt__wait_gone "$VT_PID" 50
	vt__abort "$MNT"
	fusermount3 -u -z "$MNT" 2>/dev/null || true
	cmp orig1.full "$BK/v1"
	cmp orig "$BK/v2"
	cmp orig "$BK/v3"
	bk_mount
	cmp orig1.full "$MNT/v1/data"
	cmp orig "$MNT/v2/data"
	cmp orig "$MNT/v3/data"
	vt_umount
}

test_backing_sigterm_writes_back() {
	bk_new
	bk_mount
	mkdir "$MNT/v"
	head -c 300000 /dev/urandom >orig
	cat orig >"$MNT/v/data"
	kill -TERM "$VT_PID"
	vt__wait_gone "$VT_PID" 100 || vt_fail "daemon still running after SIGTERM"
	vt__mounted "$MNT" && vt_fail "still mounted after SIGTERM"
	cmp orig "$BK/v"
}

test_backing_clone_snapshot() {
	bk_new
	head -c 400000 /dev/urandom >orig
	head -c 400000 /dev/urandom >new
	cp orig "$BK/p"
	# Lazy parent: the clone is taken before anything is paged in.
	bk_mount
	mkdir "$MNT/p/clones/c"
	dd if=new of="$MNT/p/data" conv=notrunc,fsync status=none
	cmp new "$BK/p"
	cmp orig "$MNT/p/clones/c/data"
	vt_umount
	# Removal of the parent while the clone's data is open: the clone
	# (removed first by rm -r, kept by the descriptor) keeps its bytes,
	# even those it never read before the file went away.
	cp orig "$BK/p"
	bk_mount
	mkdir "$MNT/p/clones/c"
	exec 3<"$MNT/p/clones/c/data"
	rm -r "$MNT/p"
	[ ! -e "$BK/p" ] || vt_fail "$BK/p still there after rm -r"
	vt_eq "" "$(ls "$BK")" "files after rm -r"
	cmp orig - <&3
	exec 3<&-
	# A removed VMO whose data is open lives on in memory.
	cp orig "$BK/q"
	mkdir "$MNT/q2"
	vt_umount
	bk_mount
	exec 3<"$MNT/q/data"
	rmdir "$MNT/q"
	[ ! -e "$BK/q" ] || vt_fail "$BK/q still there after rmdir"
	cmp orig - <&3
	exec 3<&-
	vt_umount
	vt_eq "q2" "$(ls "$BK")" "files at the end"
}

# SPEC 5 + 6: a backed mount whose size= is a quarter of the data.  Write it
# all (dirty pages are written back to make room), read it all back by
# checksum, remount, verify again; the counters show the eviction, and a
# dontneed range goes before an alwaysneed one.
test_backing_quarter_limit() {
	local sum i ev1 ev2 c
	bk_new
	head -c $((32 * 1048576)) /dev/urandom >big
	sum=$(sha256sum <big | cut -d' ' -f1)
	bk_mount -o size=8M
	mkdir "$MNT/big"
	dd if=big of="$MNT/big/data" bs=1M status=none
	vt_eq "$sum" "$(sha256sum <"$MNT/big/data" | cut -d' ' -f1)" "checksum while mounted"
	ev1=$(vt_stat "$MNT" evicted)
	vt_ge "$ev1" 1 "pages evicted"
	c=$(df -B1 --output=used "$MNT" | tail -1)
	vt_ge $((8 * 1048576)) "$c" "df used within size="
	# Hints: alwaysneed stays resident, dontneed goes first.
	setfattr -n user.vmo.alwaysneed -v 0+1M "$MNT/big/data"
	setfattr -n user.vmo.dontneed -v 4M+1M "$MNT/big/data"
	# Reading it all again pages evicted pages back in, which evicts
	# others.  The kernel's page cache must be dropped first, or it serves
	# the reads and only background reclaim could move the counter.
	for i in 1 2; do
		echo 1 >/proc/sys/vm/drop_caches
		cat "$MNT/big/data" >/dev/null
	done
	ev2=$(vt_stat "$MNT" evicted)
	vt_ge "$ev2" $((ev1 + 1)) "more evictions after reading again"
	vt_umount
	vt_eq "$sum" "$(sha256sum <"$BK/big" | cut -d' ' -f1)" "checksum of the file"
	bk_mount -o size=8M
	vt_eq "$sum" "$(sha256sum <"$MNT/big/data" | cut -d' ' -f1)" "checksum after remount"
	vt_umount
}

# SPEC 5 + 6: snapshot stability under eviction.  A clone of a backed
# file, the parent overwritten past half of the limit, pressure from
# another file: the parent's own new pages (below the clone's hidden node)
# are written back and evicted, the clone keeps its old bytes in memory,
# and both read right; the counters show the eviction.
test_backing_clone_under_pressure() {
	local ev
	bk_new
	head -c $((6 * 1048576)) /dev/urandom >orig
	head -c $((4096 * 1024)) /dev/urandom >new
	head -c $((16 * 1048576)) /dev/urandom >other
	cp orig "$BK/p"
	bk_mount -o size=8M
	mkdir "$MNT/p/clones/c" "$MNT/o"
	dd if=new of="$MNT/p/data" conv=notrunc,fsync bs=256k status=none
	dd if=other of="$MNT/o/data" bs=1M status=none
	cmp other "$MNT/o/data"
	cmp orig "$MNT/p/clones/c/data"
	cmp new "$MNT/p/data" -n $((4096 * 1024))
	cmp orig "$MNT/p/data" -i $((4096 * 1024)) -n $((6 * 1048576 - 4096 * 1024))
	ev=$(vt_stat "$MNT" evicted)
	vt_ge "$ev" 1024 "pages evicted"
	vt_umount
	cp orig want
	dd if=new of=want conv=notrunc status=none
	cmp want "$BK/p"
	cmp other "$BK/o"
}

# SPEC 5 + 6 (issue #16, bug 2): a write on a backed mount fails only when
# nothing more can be written back or evicted.  A 32 MiB VMO, a clone of
# it, the VMO overwritten whole: the clone's 32 MiB of old bytes stay in
# memory for good (clones live in memory only), which leaves half of
# size=64M for everything the store can hold.  A new 128 MiB VMO then fits
# by writing back and evicting its own pages and the overwritten VMO's.
# Before the fix its write failed with ENOSPC: reclaim gave up after a
# fixed number of candidates, and the first ones were the clone's pages,
# still queued as the VMO's dirty pages (a retry a moment later worked).
test_backing_enospc_while_reclaimable() {
	local ev
	bk_new
	head -c $((32 * 1048576)) /dev/urandom >sp1
	head -c $((32 * 1048576)) /dev/urandom >sp2
	head -c $((128 * 1048576)) /dev/urandom >big
	bk_mount -o size=64M
	mkdir "$MNT/sp"
	dd if=sp1 of="$MNT/sp/data" bs=1M status=none
	mkdir "$MNT/sp/clones/k"
	dd if=sp2 of="$MNT/sp/data" bs=1M conv=notrunc status=none
	mkdir "$MNT/big"
	dd if=big of="$MNT/big/data" bs=1M status=none ||
		vt_fail "128 MiB write failed; stats: $(getfattr --absolute-names \
		    --only-values -n user.vmofs.stats "$MNT")"
	ev=$(vt_stat "$MNT" evicted)
	vt_ge "$ev" $((96 * 256)) "pages evicted"
	cmp sp1 "$MNT/sp/clones/k/data"
	cmp sp2 "$MNT/sp/data"
	cmp big "$MNT/big/data"
	vt_umount
	cmp sp2 "$BK/sp"
	cmp big "$BK/big"
}

# copy_file_range between backed files copies (sharing pages would bypass
# the store): the bytes of a file that is not paged in arrive, and reach
# the store of the destination.
test_backing_copy_file_range() {
	bk_new
	head -c $((1048576 + 777)) /dev/urandom >orig
	cp orig "$BK/a"
	bk_mount
	mkdir "$MNT/b"
	python3 - "$MNT/a/data" "$MNT/b/data" <<'PY'
import os, sys
a = os.open(sys.argv[1], os.O_RDONLY)
b = os.open(sys.argv[2], os.O_WRONLY)
n, left = 0, os.fstat(a).st_size
while left > 0:
    k = os.copy_file_range(a, b, left)
    if k <= 0:
        break
    left -= k
PY
	cmp orig "$MNT/b/data"
	vt_umount
	cmp orig "$BK/b"
	bk_mount
	cmp orig "$MNT/b/data"
	vt_umount
}

vt_main
