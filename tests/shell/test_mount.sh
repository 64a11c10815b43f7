#!/usr/bin/env bash
# test_mount.sh - mounting vmofs (SPEC sections 1 and 6).
#
# Invariant: a mount either succeeds and is served until it is unmounted,
# after which the daemon exits 0 and nothing is left behind; or it fails
# with one line naming the problem, a non-zero status, and nothing
# mounted.  The options size=, backing= and compress do what SPEC says.
. "$(dirname "$0")/lib.sh"


test_bad_options() {
	bad_mount "size" -o size=bogus
	bad_mount "size" -o size=0
	bad_mount "size" -o size=12Q
	bad_mount "size" -o size=200%
	bad_mount "backing" -o backing=/nonexistent/vmofs-backing
	bad_mount "frobnicate" -o frobnicate
	# An unusable mount point.
	local out
	if out=$("$VMOFS_BIN" -f /nonexistent/mnt 2>&1); then
		vt_fail "vmofs on a missing mount point succeeded"
	fi
	vt_contains "$out" "/nonexistent/mnt"
	: >"$VT_WORK/plainfile"
	if out=$("$VMOFS_BIN" -f "$VT_WORK/plainfile" 2>&1); then
		vt_fail "vmofs on a plain file succeeded"
	fi
	vt_contains "$out" "plainfile"
}

test_help_version() {
	vt_run "$VMOFS_BIN" --help
	vt_contains "$VT_OUT" "size="
	vt_run "$VMOFS_BIN" --version
	vt_contains "$VT_OUT" "vmofs"
}

test_size_option() {
	local total mem
	vt_mount -o size=32M
	total=$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')
	vt_eq $((32 * 1048576)) "$total" "df size, -o size=32M"
	vt_eq fuse.vmofs "$(findmnt -n -o FSTYPE "$MNT")" "fstype"
	vt_umount
	vt_mount -o size=10%
	mem=$(($(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) * 1024))
	total=$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')
	# 10% of RAM, rounded to pages.
	[ $((total - mem / 10)) -le 4096 ] && [ $((mem / 10 - total)) -le 4096 ] ||
		vt_fail "df size $total, 10% of RAM is $((mem / 10))"
	vt_umount
	vt_mount
	total=$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')
	[ $((total - mem / 2)) -le 4096 ] && [ $((mem / 2 - total)) -le 4096 ] ||
		vt_fail "default df size $total, half of RAM is $((mem / 2))"
}

test_size_limit_enospc() {
	vt_mount -o size=4M
	mkdir "$MNT/a"
	# Random bytes: all-zero pages would be reclaimed as zero markers.
	head -c 8388608 /dev/urandom >rnd
	vt_fails "No space left on device" dd if=rnd of="$MNT/a/data" bs=64K status=none
	# Written bytes stay; the mount still works after freeing.
	vt_ge "$(vt_size "$MNT/a/data")" 1 "bytes kept after ENOSPC"
	cmp -n "$(vt_size "$MNT/a/data")" rnd "$MNT/a/data"
	rm -r "$MNT/a"
	mkdir "$MNT/b"
	head -c 1048576 /dev/urandom >one
	cp one "$MNT/b/data"
	cmp one "$MNT/b/data"
}

test_daemonize_and_unmount() {
	local mnt pid i
	mnt=$(mktemp -d "/tmp/$VT_TAG.XXXXXX")
	echo "$mnt 0 -" >>"$VT_STATE"
	# Without -f, vmofs returns once mounted and serves in the background.
	timeout 10 "$VMOFS_BIN" -o size=16M "$mnt" </dev/null
	vt__mounted "$mnt" || vt_fail "not mounted after vmofs returned"
	pid=$(vt__daemon_of "$mnt")
	[ -n "$pid" ] || vt_fail "no daemon serving $mnt"
	echo "$mnt $pid -" >>"$VT_STATE"
	mkdir "$mnt/a"
	printf 'bg' >"$mnt/a/data"
	vt_eq bg "$(cat "$mnt/a/data")" "served in the background"
	fusermount3 -u "$mnt"
	vt__wait_gone "$pid" 50 || vt_fail "daemon $pid alive 5 s after unmount"
	vt__mounted "$mnt" && vt_fail "still mounted"
	rmdir "$mnt"
}

# vt__daemon_of MNT: the pid of the vmofs serving MNT (by its command line).
vt__daemon_of() {
	local p
	for p in /proc/[0-9]*; do
		[ -r "$p/cmdline" ] || continue
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "^$VMOFS_BIN .*$1 *\$"; then
			echo "${p#/proc/}"
			return 0
		fi
	done
}

test_debug_foreground() {
	vt_mount -d -o size=16M
	mkdir "$MNT/a"
	vt_umount
	[ -s "$VT_LOG" ] || vt_fail "-d printed nothing"
}

test_mount_t_fuse_vmofs() {
	local mnt src
	[ "$(id -u)" = 0 ] || vt_skip "mount(8) needs root"
	command -v mount.fuse3 >/dev/null || vt_skip "mount.fuse3 is not installed"
	mnt=$(mktemp -d "/tmp/$VT_TAG.XXXXXX")
	echo "$mnt 0 -" >>"$VT_STATE"
	# mount(8) runs mount.fuse3, which runs "vmofs SOURCE MNT -o OPTS" through
	# /bin/sh with a PATH of its own: "vmofs" is found once `make install`
	# has run; before, name the binary as -t fuse "PROGRAM#SOURCE" does.
	if [ "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v vmofs)" -ef "$VMOFS_BIN" ]; then
		mount -t fuse.vmofs vmofs "$mnt" -o size=16M
	else
		echo "    (vmofs not installed: mount -t fuse $VMOFS_BIN#vmofs)"
		mount -t fuse "$VMOFS_BIN#vmofs" "$mnt" -o size=16M
	fi
	vt_eq fuse.vmofs "$(findmnt -n -o FSTYPE "$mnt")" "fstype"
	vt_eq vmofs "$(findmnt -n -o SOURCE "$mnt")" "source"
	vt_eq $((16 * 1048576)) "$(df -B1 --output=size "$mnt" | tail -1 | tr -d ' ')" "size="
	mkdir "$mnt/a"
	umount "$mnt"
	vt__mounted "$mnt" && vt_fail "still mounted after umount"
	rmdir "$mnt"
}

# mount_or_skip OPTS...: vt_mount, but skip the test if this daemon says
# that an option is not supported yet (the SPEC feature is missing).
mount_or_skip() {
	if vt_mount "$@" 2>"$VT_WORK/mount.err"; then
		return 0
	fi
	if grep -q "not yet supported\|not supported" "$VT_LOG"; then
		vt_skip "this vmofs: $(cat "$VT_LOG")"
	fi
	cat "$VT_WORK/mount.err" >&2
	return 1
}

# backing_mount DIR [OPTS...]: mount with -o backing=DIR.
backing_mount() {
	local dir=$1
	shift
	mount_or_skip -o "backing=$dir" "$@"
}

test_backing_persists() {
	local dir=$VT_WORK/backing
	mkdir -p "$dir"
	head -c 300000 /dev/urandom >orig
	backing_mount "$dir"
	mkdir "$MNT/disk"
	cp orig "$MNT/disk/data"
	mkdir "$MNT/disk/clones/snap"
	vt_umount
	# Unmounted: a plain sparse file of the VMO's bytes, no clone file.
	cmp orig "$dir/disk"
	vt_eq disk "$(ls "$dir" | paste -sd' ')" "files in the backing dir"
	# A new mount pages it in; a file put there appears as a VMO.
	printf 'from-the-host' >"$dir/host"
	backing_mount "$dir"
	cmp orig "$MNT/disk/data"
	vt_eq pager "$(vt_info "$MNT/disk" kind)" "kind of a backed VMO"
	vt_eq from-the-host "$(cat "$MNT/host/data")" "a host file as a VMO"
	mv "$MNT/host" "$MNT/moved"
	rm -r "$MNT/disk"
	printf 'synced' | dd of="$MNT/moved/data" conv=notrunc,fsync status=none
	vt_umount
	vt_eq moved "$(ls "$dir" | paste -sd' ')" "after mv and rm -r"
	vt_eq syncedhe-host "$(cat "$dir/moved")" "bytes written back"
}

test_backing_sigkill_keeps_fsynced() {
	local dir=$VT_WORK/backing
	mkdir -p "$dir"
	backing_mount "$dir"
	mkdir "$MNT/v"
	head -c 65536 /dev/urandom >orig
	dd if=orig of="$MNT/v/data" conv=fsync status=none
	kill -KILL "$VT_PID"
	vt__wait_gone "$VT_PID" 50
	fusermount3 -u -z "$MNT" 2>/dev/null || true
	cmp orig "$dir/v"
}

test_compress_option() {
	mount_or_skip -o size=8M,compress
	mkdir "$MNT/a"
	# Compressible data beyond the limit fits with compression on.
	dd if=/dev/zero bs=1M count=4 status=none | tr '\0' 'z' >zz
	cat zz zz zz >big
	cp big "$MNT/a/data"
	cmp big "$MNT/a/data"
	vt_ge "$(vt_stat "$MNT" compressed)" 1 "pages compressed"
}

# -o direct_io (docs/usage.md): data files bypass the kernel page cache
# (nothing of a file read is cached: fincore), every returned write is in
# a clone taken after it, and shared mmap still works and stays coherent
# with read() and with clones after msync.
test_direct_io_option() {
	mount_or_skip -o size=64M,direct_io
	mkdir "$MNT/a"
	head -c $((8 * 1048576 + 123)) /dev/urandom >r
	dd if=r of="$MNT/a/data" bs=1M status=none
	cmp r "$MNT/a/data"
	cp r r0
	dd if=r0 of="$MNT/a/data" bs=4k count=100 seek=7 skip=3 conv=notrunc status=none
	dd if=r0 of=r bs=4k count=100 seek=7 skip=3 conv=notrunc status=none
	cmp r "$MNT/a/data"
	mkdir "$MNT/a/clones/c"
	cmp r "$MNT/a/clones/c/data"
	cat "$MNT/a/data" >/dev/null
	vt_eq 0 "$(fincore -n -b -o RES "$MNT/a/data" | tr -d ' ')" "bytes cached after a read"
	python3 - "$MNT/a/data" "$MNT/a/clones" <<'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED)
m[0:5] = b"hello"
assert open(sys.argv[1], "rb").read(5) == b"hello", "read() sees the mmap write"
m.flush()
os.mkdir(sys.argv[2] + "/d")
assert open(sys.argv[2] + "/d/data", "rb").read(5) == b"hello", "clone after msync"
os.pwrite(fd, b"WORLD", 0)
assert m[0:5] == b"WORLD", "mmap sees pwrite"
m.close()
os.close(fd)
PY
}

# -o prealloc (docs/usage.md): from the first request served, the daemon
# holds the whole size resident, also when it daemonises (the arena is
# faulted in after the fork); it keeps the memory when files go (nothing
# released to the OS); a size above the available memory is refused.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

test_prealloc_option() {
	local mnt pid avail
	mount_or_skip -o size=48M,prealloc
	mkdir "$MNT/a"
	vt_ge "$(rss_kib "$VT_PID")" $((48 * 1024)) "VmRSS (KiB), size=48M,prealloc"
	head -c $((20 * 1048576 + 77)) /dev/urandom >r
	cp r "$MNT/a/data"
	cmp r "$MNT/a/data"
	rm -r "$MNT/a"
	vt_eq 0 "$(vt_stat "$MNT" pmm_released)" "pages released to the OS"
	vt_ge "$(rss_kib "$VT_PID")" $((48 * 1024)) "VmRSS (KiB) after rm -r"
	vt_umount
	mnt=$(mktemp -d "/tmp/$VT_TAG.XXXXXX")
	echo "$mnt 0 -" >>"$VT_STATE"
	timeout 10 "$VMOFS_BIN" -o size=32M,prealloc "$mnt" </dev/null
	pid=$(vt__daemon_of "$mnt")
	[ -n "$pid" ] || vt_fail "no daemon serving $mnt"
	echo "$mnt $pid -" >>"$VT_STATE"
	ls "$mnt" >/dev/null
	vt_ge "$(rss_kib "$pid")" $((32 * 1024)) "VmRSS (KiB) of the daemonised vmofs"
	fusermount3 -u "$mnt"
	vt__wait_gone "$pid" 50 || vt_fail "daemon $pid alive 5 s after unmount"
	rmdir "$mnt"
	avail=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	bad_mount "prealloc" -o "prealloc,size=$((avail * 2))K"
}

# -o uring (docs/usage.md): FUSE over io_uring.  With the kernel's
# enable_uring off, or io_uring disabled by sysctl, the option is refused
# in one line naming the switch;
# with it on, requests are served through the rings (uring_requests in
# the stats grows with each call), data, clones and xattr actions behave
# as through /dev/fuse, and the daemon unmounts and exits cleanly.  The
# switches are system-wide: the test says what it sets and puts them back.
test_uring_option() {
	local p=/sys/module/fuse/parameters/enable_uring n0 n1
	[ -e "$p" ] || vt_skip "this kernel has no FUSE over io_uring"
	[ -w "$p" ] || vt_skip "$p is not writable (not root)"
	[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] ||
		vt_skip "io_uring is disabled (sysctl kernel.io_uring_disabled)"
	vt_param "$p" N
	bad_mount "enable_uring" -o uring
	vt_param "$p" Y
	vt_param /proc/sys/kernel/io_uring_disabled 2
	bad_mount "io_uring_disabled" -o uring
	vt_param /proc/sys/kernel/io_uring_disabled 0
	vt_mount -o size=64M,uring
	mkdir "$MNT/a"
	head -c $((8 * 1048576 + 123)) /dev/urandom >r
	cp r "$MNT/a/data"
	cmp r "$MNT/a/data"
	n0=$(vt_stat "$MNT" uring_requests)
	vt_ge "$n0" 10 "requests served through the rings"
	mkdir "$MNT/a/clones/c"
	printf 'changed' | dd of="$MNT/a/data" bs=1 seek=4096 conv=notrunc status=none
	cmp r "$MNT/a/clones/c/data"
	setfattr -n user.vmo.decommit -v 0+1M "$MNT/a/clones/c/data"
	vt_eq 0 "$(head -c 1048576 "$MNT/a/clones/c/data" | tr -d '\0' | wc -c)" \
	    "nonzero bytes after decommit"
	n1=$(vt_stat "$MNT" uring_requests)
	[ "$n1" -gt "$n0" ] || vt_fail "uring_requests stayed at $n0"
	rm -r "$MNT/a"
	vt_eq "" "$(grep -i 'uring' "$VT_LOG" | grep -iv 'queues,' || true)" \
	    "uring warnings in the daemon log"
	vt_umount
}

# ra_kb MNT: the read_ahead_kb of the mount at MNT.
ra_kb() { cat "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"; }

# The daemon raises its mount's readahead to max_write (1 MiB) once the
# kernel has taken the INIT reply (fs/conn.c; before that the kernel lowers
# it back to 128 KiB), but to no more than 1/256 of size=: a 64 MiB mount
# gets 256 KiB, an 8 MiB one keeps the kernel's 128 KiB.  Cold reads
# through the raised readahead return the right bytes.
test_readahead() {
	[ "$(id -u)" = 0 ] || vt_skip "raising readahead needs root"
	vt_mount -o size=8M
	vt_eq 128 "$(ra_kb "$MNT")" "read_ahead_kb of a size=8M mount"
	vt_umount
	vt_mount -o size=64M
	vt_eq 256 "$(ra_kb "$MNT")" "read_ahead_kb of a size=64M mount"
	vt_umount
	vt_mount -o size=512M
	vt_eq 1024 "$(ra_kb "$MNT")" "read_ahead_kb of a size=512M mount"
	mkdir "$MNT/a"
	head -c $((6 * 1048576 + 4321)) /dev/urandom >r
	cp r "$MNT/a/data"
	echo 1 >/proc/sys/vm/drop_caches
	cmp r "$MNT/a/data"
	dd if="$MNT/a/data" bs=4k skip=700 count=3 status=none | cmp - <(dd if=r bs=4k skip=700 count=3 status=none)
	vt_umount
}

# For the tests that mount by hand (not through vt_mount, whose state file
# splits on spaces and whose checks run as root): [AS...] runs a command as
# the mount's user.
# by_hand_wait MNT LOG [AS...]: wait up to 10 s for MNT to be mounted.
by_hand_wait() {
	local mnt=$1 log=$2 i
	shift 2
	for ((i = 0; i < 100; i++)); do
		"$@" mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	vt_fail "$mnt not mounted: $(cat "$log")"
}

# by_hand_umount MNT PID LOG [AS...]: unmount with fusermount3 -u; the
# daemon PID must exit with status 0.
by_hand_umount() {
	local mnt=$1 pid=$2 log=$3 rc=0
	shift 3
	"$@" fusermount3 -u "$mnt" || vt_fail "fusermount3 -u $mnt failed"
	wait "$pid" || rc=$?
	vt_eq 0 "$rc" "exit status of the daemon ($(cat "$log"))"
}

# The daemon finds its mount in /proc/self/mountinfo, where a space in the
# mountpoint reads "\040": it must still find it and raise the readahead.
# (Mounted by hand: the shell lib's state file splits lines on spaces.)
test_readahead_escaped_path() {
	[ "$(id -u)" = 0 ] || vt_skip "raising readahead needs root"
	SP_MNT="$VT_WORK/a dir"	# global: the EXIT trap runs after the locals go
	mkdir "$SP_MNT"
	"$VMOFS_BIN" -f -o size=512M "$SP_MNT" </dev/null >"$VT_WORK/sp.log" 2>&1 &
	SP_PID=$!
	trap 'fusermount3 -u "$SP_MNT" 2>/dev/null || true
	    kill "$SP_PID" 2>/dev/null || true' EXIT
	by_hand_wait "$SP_MNT" "$VT_WORK/sp.log"
	vt_eq 1024 "$(ra_kb "$SP_MNT")" \
	    "read_ahead_kb of a mount at a path with a space"
	by_hand_umount "$SP_MNT" "$SP_PID" "$VT_WORK/sp.log"
}

# A user who is not root mounts through fusermount3 (where /dev/fuse lets
# him: 0600 on these machines, so the test opens it up for its run and
# puts the mode back).  Everything works but the readahead, which only root
# may raise: it stays the kernel's 128 KiB and the daemon says so
# (fs/conn.c); the user unmounts and the daemon exits 0.  Root may not
# even look into another user's FUSE mount, so every check runs as him.
test_nonroot_mount() {
	[ "$(id -u)" = 0 ] || vt_skip "needs root to open /dev/fuse to others"
	command -v setpriv >/dev/null || vt_skip "no setpriv"
	id nobody >/dev/null 2>&1 || vt_skip "no user nobody"
	local as
	# Globals: the EXIT trap runs after the locals are gone.
	NR_AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	NR_MODE=$(stat -c %a /dev/fuse)
	as=$NR_AS
	$as test -x "$VMOFS_BIN" ||
		vt_skip "nobody may not run $VMOFS_BIN (a directory on its path is closed)"
	command -v fusermount3 >/dev/null || vt_skip "no fusermount3"
	NR_MNT="$VT_WORK/nr"
	mkdir "$NR_MNT"
	chown nobody:nogroup "$NR_MNT"
	chmod 755 "$VT_WORK" "$(dirname "$VT_WORK")"	# the run's dir, and this test's
	chmod 666 /dev/fuse
	echo "    (/dev/fuse: mode $NR_MODE -> 666 for this test)"
	$as "$VMOFS_BIN" -f -o size=512M "$NR_MNT" </dev/null >"$VT_WORK/nr.log" 2>&1 &
	NR_PID=$!
	trap 'chmod "$NR_MODE" /dev/fuse
	    echo "    (/dev/fuse: back to mode $NR_MODE)"
	    { $NR_AS fusermount3 -u "$NR_MNT" || umount -l "$NR_MNT"; } 2>/dev/null || true
	    kill "$NR_PID" 2>/dev/null || true' EXIT
	by_hand_wait "$NR_MNT" "$VT_WORK/nr.log" $as
	vt_eq 128 "$($as cat "/sys/class/bdi/$($as mountpoint -d "$NR_MNT")/read_ahead_kb")" \
	    "read_ahead_kb of a mount by nobody"
	vt_contains "$(cat "$VT_WORK/nr.log")" "readahead stays the kernel's" "daemon log"
	$as sh -c "mkdir '$NR_MNT/a' && printf 'not root' >'$NR_MNT/a/data' &&
	    mkdir '$NR_MNT/a/clones/c' && printf 'X' | dd of='$NR_MNT/a/data' \
	    conv=notrunc status=none" || vt_fail "nobody's writes failed"
	vt_eq "Xot root" "$($as cat "$NR_MNT/a/data")" "data"
	vt_eq "not root" "$($as cat "$NR_MNT/a/clones/c/data")" "clone"
	vt_eq "$(id -u nobody)" "$($as stat -c %u "$NR_MNT/a/data")" "owner of data"
	by_hand_umount "$NR_MNT" "$NR_PID" "$VT_WORK/nr.log" $as
}

# WRITE data spliced from /dev/fuse into VMO pages (fs/conn.c).  libfuse
# splices only into a pipe that holds a whole request (1 MiB + 4 KiB), more
# than fs.pipe-max-size allows without CAP_SYS_RESOURCE; the test raises
# the sysctl for one mount (and says so), then checks the bytes, a clone
# taken after the writes, and that the writes did come through the pipe;
# and that INIT still went through conn_read (its reply was recognised:
# the readahead was raised).
test_splice_writes() {
	local p=/proc/sys/fs/pipe-max-size n
	[ -w "$p" ] || vt_skip "$p is not writable (not root)"
	vt_param "$p" 4194304
	vt_mount -o size=64M
	vt_eq 256 "$(ra_kb "$MNT")" "read_ahead_kb of a size=64M mount"
	mkdir "$MNT/a"
	head -c $((8 * 1048576 + 4321)) /dev/urandom >r
	dd if=r of="$MNT/a/data" bs=1M status=none
	mkdir "$MNT/a/clones/c"
	printf 'changed' | dd of="$MNT/a/data" bs=1 seek=4096 conv=notrunc status=none
	cmp r "$MNT/a/clones/c/data"
	printf 'changed' | dd of=r bs=1 seek=4096 conv=notrunc status=none
	echo 1 >/proc/sys/vm/drop_caches
	cmp r "$MNT/a/data"
	n=$(vt_stat "$MNT" spliced_writes)
	vt_ge "$n" 8 "WRITEs spliced"
	vt_umount
}

# -o spin=USEC (fs/conn.c): a worker polls for the next request before it
# sleeps.  Bad values are refused in one line; with the default (30 µs) a
# run of small synchronous writes is caught by spinning workers
# (spun_requests), with spin=0 never, nor when the daemon may run on one
# CPU only; the bytes are right either way, also when requests come
# spliced (the spin then splices from its own descriptor) and in a clone
# taken after the writes.
test_spin_option() {
	local v n aff
	for v in abc -1 1001 "" 5x; do
		bad_mount "spin=$v" -o "spin=$v"
	done
	head -c $((4 * 1048576 + 777)) /dev/urandom >r
	aff=$(taskset -pc $BASHPID | sed 's/.*: //')
	for v in default 0 splice onecpu; do
		case $v in
		default) vt_mount -o size=64M ;;
		0) vt_mount -o size=64M,spin=0 ;;
		splice)
			[ -w /proc/sys/fs/pipe-max-size ] || continue
			vt_param /proc/sys/fs/pipe-max-size 4194304
			vt_mount -o size=64M ;;
		onecpu)
			[ "$(nproc)" -ge 2 ] || continue
			taskset -pc 0 $BASHPID >/dev/null	# the daemon inherits it
			vt_mount -o size=64M
			taskset -pc "$aff" $BASHPID >/dev/null ;;
		esac
		mkdir "$MNT/a"
		dd if=r of="$MNT/a/data" bs=4k status=none
		mkdir "$MNT/a/clones/c"
		printf 'changed' | dd of="$MNT/a/data" bs=1 seek=8192 conv=notrunc status=none
		cmp r "$MNT/a/clones/c/data"
		echo 1 >/proc/sys/vm/drop_caches
		cmp <(printf 'changed') <(dd if="$MNT/a/data" bs=1 skip=8192 count=7 status=none)
		n=$(vt_stat "$MNT" spun_requests)
		if [ "$v" = 0 ] || [ "$v" = onecpu ]; then
			vt_eq 0 "$n" "requests caught spinning ($v)"
		else
			vt_ge "$n" 10 "requests caught spinning ($v, of 1,025 WRITEs)"
		fi
		[ "$v" != splice ] || vt_ge "$(vt_stat "$MNT" spliced_writes)" 1 \
		    "WRITEs spliced"
		vt_umount
	done
}

# -o log=FILE (fs/util.c): bad values are refused before anything is
# mounted, in one line; otherwise every log line goes to FILE (not to
# stderr, even with -f), appended, timestamped, one whole line per write
# also when many threads log at once; SIGHUP reopens the path (logrotate
# moves the file, then signals) and leaves the daemon serving.  A relative
# FILE still works once the daemon has daemonised (and moved to /).
LOG_LINE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4} vmofs\[[0-9]+\]: [a-z]+: .+$'

test_log_option() {
	local log=$VT_WORK/vmofs.log n bad mnt pid
	bad_mount "log=" -o log=
	bad_mount "log=$VT_WORK: Is a directory" -o "log=$VT_WORK"
	bad_mount "log=/nonexistent/dir/x.log: No such file or directory" \
		-o log=/nonexistent/dir/x.log
	: >"$VT_WORK/plain"
	bad_mount "log=$VT_WORK/plain/x.log: Not a directory" -o "log=$VT_WORK/plain/x.log"
	if [ -d /sys/kernel ]; then	# sysfs: nobody, root included, creates files
		bad_mount "log=/sys/kernel/vmofs-test.log" -o log=/sys/kernel/vmofs-test.log
	fi
	vt_mount -o "size=16M,log=$log"
	mkdir "$MNT/bad@name" 2>/dev/null && vt_fail "mkdir bad@name succeeded"
	vt_contains "$(cat "$log")" 'mkdir "bad@name"' "log file"
	grep -Eq "$LOG_LINE" "$log" || vt_fail "log line format: $(cat "$log")"
	# Many threads at once: every line whole.  At most 50 rejections a
	# second are logged; each line that gets through after a drop counts
	# the dropped ones, so lines + counts = 400 once one more got through.
	seq 1 400 | xargs -P 8 -I{} sh -c 'mkdir "$1/x@{}" 2>/dev/null; :' sh "$MNT"
	sleep 1.1
	mkdir "$MNT/last@name" 2>/dev/null && vt_fail "mkdir last@name succeeded"
	n=$(grep -c 'mkdir "x@' "$log")
	vt_ge "$n" 1 "lines logged by 400 parallel bad mkdirs"
	n=$((n + $(awk 'match($0, /\[[0-9]+ more rejections/) {
	    s += substr($0, RSTART + 1, RLENGTH - 17) } END { print s + 0 }' "$log")))
	vt_eq 400 "$n" "rejections logged or counted, of 400 parallel bad mkdirs"
	bad=$(grep -Evc "$LOG_LINE" "$log" || true)
	vt_eq 0 "$bad" "malformed lines in the log"
	# logrotate: mv, then SIGHUP; the daemon keeps serving, logs anew.
	mv "$log" "$log.1"
	kill -HUP "$VT_PID"
	sleep 0.2
	vt__alive "$VT_PID" || vt_fail "the daemon died of SIGHUP"
	mkdir "$MNT/after@hup" 2>/dev/null || true
	vt_contains "$(cat "$log")" 'mkdir "after@hup"' "log file after SIGHUP"
	grep -q 'after@hup' "$log.1" && vt_fail "logged to the rotated file"
	mkdir "$MNT/ok"
	vt_eq "" "$(cat "$VT_LOG")" "stderr of vmofs -f -o log="
	vt_umount
	# Daemonised, with a relative path.
	mnt=$(mktemp -d "/tmp/$VT_TAG.XXXXXX")
	echo "$mnt 0 -" >>"$VT_STATE"
	(cd "$VT_WORK" && timeout 10 "$VMOFS_BIN" -o size=16M,log=rel.log "$mnt" </dev/null)
	pid=$(vt__daemon_of "$mnt")
	[ -n "$pid" ] || vt_fail "no daemon serving $mnt"
	echo "$mnt $pid -" >>"$VT_STATE"
	mkdir "$mnt/bg@name" 2>/dev/null || true
	vt_contains "$(cat "$VT_WORK/rel.log")" 'mkdir "bg@name"' "relative log= of a daemon"
	mv "$VT_WORK/rel.log" "$VT_WORK/rel.log.1"
	kill -HUP "$pid"
	sleep 0.2
	mkdir "$mnt/bg2@name" 2>/dev/null || true
	vt_contains "$(cat "$VT_WORK/rel.log")" 'mkdir "bg2@name"' "relative log= after SIGHUP"
	fusermount3 -u "$mnt"
	vt__wait_gone "$pid" 50 || vt_fail "daemon $pid alive 5 s after unmount"
	rmdir "$mnt"
}

# The read gate (fs/conn.c): at most CPUs + 1 workers wait in the kernel
# for a request; the others park in the daemon.  A burst of 48 writers
# makes libfuse start more workers than that; once it is over, no more than
# that many are in fuse_dev_do_read, the rest wait on a futex, and all the
# bytes are there.  Then the mount still serves 48 writers at once.
vt__waiting() {
	grep -lx fuse_dev_do_read /proc/"$1"/task/*/wchan 2>/dev/null | wc -l
}

# vt__burst: 48 writers at once; the caller's peak gets the most tasks seen.
vt__burst() {
	local i pids=()
	for i in $(seq 48); do
		dd if=/dev/zero of="$MNT/w$i/data" bs=4k count=500 status=none &
		pids+=($!)
	done
	while kill -0 "${pids[@]}" 2>/dev/null; do
		tasks=$(ls /proc/"$VT_PID"/task | wc -l)
		[ "$tasks" -le "$peak" ] || peak=$tasks
		sleep 0.01
	done
	wait "${pids[@]}"
}

test_read_gate() {
	local keep i tasks peak=0 start
	keep=$(($(nproc) + 1))
	vt_mount -o size=256M
	for i in $(seq 48); do mkdir "$MNT/w$i"; done
	start=$(ls /proc/"$VT_PID"/task | wc -l)
	vt_ge "$(vt__waiting "$VT_PID")" 1 "workers waiting after mount"
	vt__burst
	[ $((peak - start + 1)) -gt "$keep" ] ||
		vt_skip "the burst started only $((peak - start)) workers (gate $keep)"
	for i in $(seq 48); do
		vt_eq $((500 * 4096)) "$(stat -c %s "$MNT/w$i/data")" "w$i's size"
	done
	vt_ge "$keep" "$(vt__waiting "$VT_PID")" \
	    "workers in the kernel after the burst (peak $((peak - start + 1)))"
	vt_ge "$(vt__waiting "$VT_PID")" 1 "workers in the kernel after the burst"
	vt__burst
	for i in $(seq 48); do
		vt_eq $((500 * 4096)) "$(stat -c %s "$MNT/w$i/data")" "w$i's size, again"
	done
	vt_umount
}

# The read gate lets a parked worker in when the last one in the kernel
# has taken a request: under -o writeback_cache a clone's mkdir waits in
# its handler for the kernel's WRITEs of the parent's dirty pages, which
# need a reader.  After a burst has parked workers, 12 writers each clone
# their file at once; with no worker let in, every reader ends up waiting
# in a mkdir and nothing reads the WRITEs (the test times out).
test_read_gate_admits() {
	local i pids=()
	uname -r | awk -F. '{ exit !($1 > 6 || ($1 == 6 && $2 >= 16)) }' ||
		vt_skip "writeback_cache needs Linux 6.16 (this is $(uname -r))"
	vt_mount -o size=512M,writeback_cache
	for i in $(seq 48); do mkdir "$MNT/w$i"; done
	for i in $(seq 48); do
		dd if=/dev/zero of="$MNT/w$i/data" bs=4k count=500 status=none &
		pids+=($!)
	done
	wait "${pids[@]}"
	pids=()
	head -c 8M /dev/urandom >r
	for i in $(seq 12); do
		(dd if=r of="$MNT/w$i/data" bs=1M status=none &&
		    mkdir "$MNT/w$i/clones/c" &&
		    cmp r "$MNT/w$i/clones/c/data") &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || vt_fail "a write, clone and compare failed"
	done
	vt_umount
}

# No FLUSH at close (fs/main.c, no .flush): the first is answered ENOSYS
# and the kernel sends no more.  Under -o writeback_cache the kernel ignores
# noflush, and each close cost a FLUSH round trip after its write-back.
# The bytes still reach the daemon at close: a clone taken right after
# each one has them.
test_close_no_flush() {
	local i n
	uname -r | awk -F. '{ exit !($1 > 6 || ($1 == 6 && $2 >= 16)) }' ||
		vt_skip "writeback_cache needs Linux 6.16 (this is $(uname -r))"
	vt_mount -d -o size=16M,writeback_cache
	for i in 1 2 3 4; do
		mkdir "$MNT/f$i"
		printf 'bytes %d' "$i" >"$MNT/f$i/data"
		mkdir "$MNT/f$i/clones/c"
		vt_eq "bytes $i" "$(cat "$MNT/f$i/clones/c/data")" "clone of f$i"
	done
	n=$(grep -c 'opcode: FLUSH' "$VT_LOG" || true)
	vt_ge 1 "$n" "FLUSH requests for four closes"
	vt_umount
}

test_remount_cycles() {
	local i
	for i in 1 2 3; do
		vt_mount -o size=8M
		mkdir "$MNT/a$i"
		vt_umount
	done
}

vt_main test_bad_options test_help_version test_size_option \
	test_size_limit_enospc test_daemonize_and_unmount test_debug_foreground \
	test_mount_t_fuse_vmofs test_backing_persists \
	test_backing_sigkill_keeps_fsynced test_compress_option test_direct_io_option \
	test_prealloc_option test_uring_option test_readahead \
	test_readahead_escaped_path \
	test_nonroot_mount test_splice_writes test_spin_option \
	test_log_option test_read_gate test_read_gate_admits test_close_no_flush test_remount_cycles
