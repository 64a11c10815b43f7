#!/usr/bin/env bash
# tests/shell/test_crash.sh - crash consistency of -o backing=DIR (SPEC 6:
# "After the daemon is killed with SIGKILL, every byte that was fsynced is
# there").
#
# Invariant: whatever the daemon was doing when SIGKILL hit it -- other
# writers mid-write, the 2 s writeback thread mid-pass, clones being made
# -- every byte of a top-level VMO that an fsync covered is in DIR/NAME
# afterwards (unless written again after the fsync), a VMO whose last
# change was fsynced has exactly its synced size, and a new mount of the
# same DIR starts cleanly (no error in its log, every VMO listed) and shows
# those bytes again.  Several rounds on one DIR: each round writes, fsyncs,
# starts writers that do not fsync, kills the daemon at a random moment,
# takes the dead mount down (abort through fusectl, lazy unmount),
# checks DIR, remounts and checks the mount.
#
# CRASH_SEED=N replays a run's offsets, sizes and kill delays (printed);
# CRASH_ROUNDS (default 4) sets the rounds.
. "$(dirname "$0")/lib.sh"

: "${VT_TEST_TIMEOUT:=150}"
CRASH_ROUNDS=${CRASH_ROUNDS:-4}
MIB=1048576

# rnd N: a number in [0, N), from bash's seeded RANDOM (30 bits).
rnd() {
	echo $(((RANDOM * 32768 + RANDOM) % $1))
}

# put FILE OFF LEN: LEN random bytes at OFF of FILE through the mount, and
# the same bytes into the reference copy ref/NAME (FILE is MNT/NAME/data).
put() {
	local f=$1 off=$2 len=$3 name
	name=$(basename "$(dirname "$f")")
	head -c "$len" /dev/urandom >chunk
	dd if=chunk of="$f" bs="$len" seek="$off" oflag=seek_bytes conv=notrunc \
	    status=none
	dd if=chunk of="ref/$name" bs="$len" seek="$off" oflag=seek_bytes \
	    conv=notrunc status=none
}

# crash: SIGKILL the daemon and take its dead mount down as a user would
# have to: abort the connection, lazy unmount.
crash() {
	kill -KILL "$VT_PID"
	wait "$VT_PID" 2>/dev/null || true
	vt__wait_gone "$VT_PID" 50 || vt_fail "daemon $VT_PID survived SIGKILL"
	vt__abort "$MNT"
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
	! vt__mounted "$MNT" || vt_fail "$MNT still mounted after the crash"
	awk -v m="$MNT" '$1 != m' "$VT_STATE" >"$VT_STATE.new" &&
		mv "$VT_STATE.new" "$VT_STATE"
	rmdir "$MNT" 2>/dev/null || true
}

# writers: background loops that write without fsync until the mount dies
# (their writes may or may not survive; they only add to files).
writers() {
	local i
	for i in 1 2; do
		(
			RANDOM=$((CRASH_SEED + i * 7919))
			k=0
			while :; do
				local f off len
				case $((RANDOM % 3)) in
				0) f=u$i ;;
				*) f=d$((RANDOM % 3 + 2)) ;;
				esac
				# past the synced end of d*, anywhere in u*
				off=$(( $(cat "synced/$f.size" 2>/dev/null || echo 0) +
				    (RANDOM * 32768 + RANDOM) % (2 * MIB) ))
				len=$((RANDOM % 200000 + 1))
				head -c "$len" /dev/urandom |
				    dd of="$MNT/$f/data" bs="$len" seek="$off" \
				    oflag=seek_bytes conv=notrunc status=none \
				    2>/dev/null || exit 0
				k=$((k + 1))
				[ $((RANDOM % 4)) = 0 ] && { mkdir "$MNT/$f/clones/k$i.$k" \
				    2>/dev/null || exit 0; }
			done
		) &
		WRITERS+=" $!"
	done
}

# check_synced WHERE: every d* in WHERE (DIR, or MNT/NAME/data) holds its
# synced image; d1 (nothing written after its fsync) has exactly its size.
check_synced() {
	local where=$1 n f size got
	for n in d1 d2 d3 d4; do
		if [ "$where" = dir ]; then f=$BK/$n; else f=$MNT/$n/data; fi
		[ -e "$f" ] || { vt_fail "$n: no $f after the crash"; return 1; }
		size=$(cat "synced/$n.size")
		got=$(vt_size "$f")
		[ "$got" -ge "$size" ] ||
			{ vt_fail "$n: $got bytes in $f, $size were fsynced"; return 1; }
		if [ $n = d1 ] && [ "$got" != "$size" ]; then
			vt_fail "d1: $got bytes in $f, fsynced at $size and not written since"
			return 1
		fi
		cmp -n "$size" "synced/$n" "$f" ||
			{ vt_fail "$n: fsynced bytes lost in $f (round $ROUND, seed $CRASH_SEED)"; return 1; }
	done
}

# log_clean: the daemon's log has no error, no sanitizer report.
log_clean() {
	if grep -iE 'error|sanitizer|assert|runtime error|@rm\.' "$VT_LOG" >&2; then
		vt_fail "the daemon's log of $MNT reports the lines above"
		return 1
	fi
}

test_crash_fsynced_bytes_survive() {
	local n i off len r
	: "${CRASH_SEED:=$(( $(date +%s) % 100000 ))}"
	echo "    (CRASH_SEED=$CRASH_SEED, $CRASH_ROUNDS rounds)"
	RANDOM=$CRASH_SEED
	BK=$(mktemp -d "$VT_WORK/bk.XXXXXX")
	mkdir -p ref synced
	vt_mount -o "backing=$BK,size=32M"
	for n in d1 d2 d3 d4 u1 u2; do
		mkdir "$MNT/$n"
		: >"ref/$n"
	done
	for ((ROUND = 1; ROUND <= CRASH_ROUNDS; ROUND++)); do
		# Durable part: varied sizes and offsets (unaligned, sparse,
		# across 1 MiB requests), a shrink, a clone taken meanwhile.
		for n in d1 d2 d3 d4; do
			for ((i = 0; i < 4; i++)); do
				off=$(rnd $((6 * MIB)))
				[ $((RANDOM % 3)) = 0 ] && off=$((off / 4096 * 4096))
				len=$(( $(rnd 5) == 0 ? $(rnd $((3 * MIB / 2))) + 1 : $(rnd 70000) + 1 ))
				put "$MNT/$n/data" "$off" "$len"
			done
			if [ $((RANDOM % 3)) = 0 ]; then
				r=$(( $(vt_size "ref/$n") / 2 + 1 ))
				truncate -s "$r" "$MNT/$n/data" "ref/$n"
			fi
			[ $((RANDOM % 2)) = 0 ] && mkdir "$MNT/$n/clones/r$ROUND"
			sync "$MNT/$n/data"		# fsync(2)
			cmp "ref/$n" "$MNT/$n/data"
			cp "ref/$n" "synced/$n"
			vt_size "ref/$n" >"synced/$n.size"
		done
		# A VMO made and fsynced this round must exist after the crash.
		mkdir "$MNT/n$ROUND"
		head -c $((ROUND * 5000)) /dev/urandom >"synced/n$ROUND"
		dd if="synced/n$ROUND" of="$MNT/n$ROUND/data" conv=fsync status=none
		# Then writers that never fsync, and SIGKILL at a random moment.
		WRITERS=
		writers
		sleep "0.$(rnd 9)$(rnd 10)"
		crash
		for r in $WRITERS; do wait "$r" 2>/dev/null || true; done
		check_synced dir
		for ((r = 1; r <= ROUND; r++)); do
			cmp "synced/n$r" "$BK/n$r"
		done
		# A new mount of the same DIR starts cleanly and shows it all.
		vt_mount -o "backing=$BK,size=32M"
		log_clean
		for n in d1 d2 d3 d4 u1 u2; do
			[ -d "$MNT/$n" ] || vt_fail "$n not listed after the crash"
		done
		check_synced mnt
		for n in d1 d2 d3 d4; do	# go on from what is there now
			cp "$MNT/$n/data" "ref/$n"
		done
	done
	vt_umount
	log_clean
}

# Kill while rm -r and mv of top-level VMOs run: every VMO that was
# neither removed nor renamed keeps its fsynced bytes; the next mount
# starts (it skips a NAME@rm.N left by a removal cut short, with a log
# line) and serves every file DIR holds.
test_crash_during_namespace_changes() {
	local i r pid
	: "${CRASH_SEED:=$(( $(date +%s) % 100000 ))}"
	echo "    (CRASH_SEED=$CRASH_SEED)"
	RANDOM=$((CRASH_SEED + 1))
	BK=$(mktemp -d "$VT_WORK/bk.XXXXXX")
	vt_mount -o "backing=$BK,size=32M"
	head -c 300000 /dev/urandom >keep
	mkdir "$MNT/keep"
	dd if=keep of="$MNT/keep/data" conv=fsync status=none
	for ((r = 1; r <= 3; r++)); do
		(
			i=0
			while :; do
				i=$((i + 1))
				mkdir "$MNT/t$r.$i" 2>/dev/null || exit 0
				head -c 50000 /dev/urandom 2>/dev/null >"$MNT/t$r.$i/data" || exit 0
				mkdir "$MNT/t$r.$i/clones/c" 2>/dev/null || exit 0
				mv "$MNT/t$r.$i" "$MNT/m$r.$i" 2>/dev/null || exit 0
				rm -r "$MNT/m$r.$i" 2>/dev/null || exit 0
			done
		) &
		pid=$!
		sleep "0.$(rnd 9)"
		crash
		wait "$pid" 2>/dev/null || true
		cmp keep "$BK/keep"
		vt_mount -o "backing=$BK,size=32M"
		if grep -iE 'sanitizer|assert|runtime error' "$VT_LOG" >&2; then
			vt_fail "the daemon's log reports the lines above"
		fi
		cmp keep "$MNT/keep/data"
		for f in "$BK"/*; do
			case $f in *@rm.*) rm -f "$f"; continue ;; esac
			[ -d "$MNT/$(basename "$f")" ] ||
				vt_fail "$(basename "$f") is in DIR but not in the mount"
		done
	done
	vt_umount
}

vt_main "$@"
