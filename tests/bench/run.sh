#!/usr/bin/env bash
# vmofs benchmarks against tmpfs and libfuse's passthrough_hp and
# passthrough_ll, in one run on one machine.  Usage: tests/bench/run.sh [BUILD_DIR]      (make bench)
#
# Peers, each mounted under a fresh temp dir and always unmounted on exit:
#   tmpfs            mount -t tmpfs -o size=4G (the ceiling)
#   passthrough_hp   libfuse's fastest example (C++) over a tmpfs, at its
#                    defaults (writeback cache, splice, 1-day timeouts), built
#                    into BUILD_DIR/bench/ from Debian's source package of the
#                    installed libfuse3 (apt-get source through private lists
#                    made from the system's own deb lines; nothing committed,
#                    the system's apt configuration untouched)
#   passthrough_ll   libfuse's example over a tmpfs, built here from the
#                    source libfuse3-dev ships, into BUILD_DIR/bench/
#   vmofs[:NAME]     BUILD_DIR/vmofs -f -o size=4G[,OPTS] (2G with prealloc),
#                    one per entry of
#                    VMOFS_CONFIGS ("NAME:OPTS ...", default "default:
#                    writeback:writeback_cache prealloc:prealloc
#                    fast:direct_io,prealloc uring:uring,prealloc").  A config with uring needs
#                    the kernel's enable_uring: the run switches it on,
#                    says so, and puts the old value back on exit.
# Workloads: sequential write/read (fio psync, 1 MiB and 4 KiB blocks, cold
# and warm reads), random 4 KiB reads/writes (1 and 2 jobs), metadata
# (mkdir + write 4 KiB + stat, stat, rm -r), clone time vs cp, and the
# memory of 100 clones written at 1% vs 100 copies.  docs/benchmarks.md
# explains the method.  Every figure is the median of BENCH_REPS runs.
#
# Output: tests/bench/results/bench-STAMP.tsv (and latest.tsv), the table
# between the bench markers of docs/benchmarks.md, docs/bench-throughput.png
# (BENCH_DOCS=0 leaves docs/ alone).
#
# Environment: BENCH_QUICK=1 (small sizes, one run, < 2 minutes);
# BENCH_PEERS (subset of "tmpfs passthrough_hp passthrough_ll vmofs");
# VMOFS_CONFIGS;
# BENCH_WORKLOADS (subset of "seq rand meta clone heavy");
# BENCH_SEQ_SIZE BENCH_SEQ4K_SIZE BENCH_RAND_SIZE BENCH_META_N BENCH_CLONE_SIZES
# BENCH_HEAVY_SIZE BENCH_HEAVY_N BENCH_HEAVY_REPS BENCH_REPS BENCH_CLONE_REPS
# BENCH_BUDGET_S (rows not started by then are skipped, reported n/a)
# BENCH_CMD_TIMEOUT (seconds per command).
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] || QUICK=1

if [ "$QUICK" = 1 ]; then
	: "${BENCH_SEQ_SIZE:=128M}" "${BENCH_RAND_SIZE:=64M}" "${BENCH_META_N:=1000}"
	: "${BENCH_SEQ4K_SIZE:=$BENCH_SEQ_SIZE}"
	: "${BENCH_CLONE_SIZES:=256M}" "${BENCH_HEAVY_SIZE:=16M}" "${BENCH_HEAVY_N:=100}"
	: "${BENCH_REPS:=1}" "${BENCH_CLONE_REPS:=3}" "${BENCH_BUDGET_S:=100}"
	: "${BENCH_HEAVY_REPS:=1}"
	: "${BENCH_CMD_TIMEOUT:=45}"
else
	: "${BENCH_SEQ_SIZE:=512M}" "${BENCH_RAND_SIZE:=128M}" "${BENCH_META_N:=4000}"
	# 4 KiB blocks: half the file, as one write(2) round trip per block
	# makes them 8x slower than 1 MiB blocks on the FUSE peers
	: "${BENCH_SEQ4K_SIZE:=256M}"
	: "${BENCH_CLONE_SIZES:=1G 8G}" "${BENCH_HEAVY_SIZE:=256M}" "${BENCH_HEAVY_N:=100}"
	: "${BENCH_REPS:=3}" "${BENCH_CLONE_REPS:=3}" "${BENCH_BUDGET_S:=540}"
	: "${BENCH_HEAVY_REPS:=1}"
	: "${BENCH_CMD_TIMEOUT:=180}"
fi
: "${BENCH_PEERS:=tmpfs passthrough_hp passthrough_ll vmofs}"
: "${BENCH_WORKLOADS:=seq rand meta clone heavy}"
: "${VMOFS_CONFIGS:=default: writeback:writeback_cache prealloc:prealloc fast:direct_io,prealloc uring:uring,prealloc}"
: "${BENCH_DOCS:=1}"
MOUNT_SIZE=4G                         # every peer's size= at the main mounts,
PREALLOC_SIZE=2G                      # but a vmofs with prealloc: it holds its
# size from mount on, and three at 4G held 12 of this machine's 23.5 GiB,
# which made the other peers' fresh memory slow (docs/benchmarks.md); the
# workloads on a main mount need under 1.5 GiB.
HEAVY_CAP=$((3 * 1024 * 1024 * 1024)) # bytes of copies the 4G tmpfs may hold

bytes() { numfmt --from=iec "$1"; }
SEQ_BYTES=$(bytes "$BENCH_SEQ_SIZE")
SEQ4K_BYTES=$(bytes "$BENCH_SEQ4K_SIZE")
RAND_BYTES=$(bytes "$BENCH_RAND_SIZE")
MOUNT_BYTES=$(bytes $MOUNT_SIZE)
T0=$SECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)  # before any mount: the machine as found

LOGF=                                 # the work dir's copy of the log, once made
log() {
	printf '[bench %3ds] %s\n' $((SECONDS - T0)) "$*" >&2
	[ -z "$LOGF" ] || printf '[bench %3ds] %s\n' $((SECONDS - T0)) "$*" >>"$LOGF"
}

# ---------------------------------------------------------------- results
declare -a ROWS=()
declare -A LABEL UNIT BETTER VALS ERRS NOTE
# defrow ID UNIT hi|lo LABEL
defrow() { ROWS+=("$1"); UNIT[$1]=$2; BETTER[$1]=$3; LABEL[$1]=$4; }
add() { VALS[$1|$2]="${VALS[$1|$2]:-}${VALS[$1|$2]:+,}$3"; }
fail() { [ -n "${ERRS[$1|$2]:-}" ] || ERRS[$1|$2]=$(printf '%s' "$3" | tr '\t\n' '  ' | cut -c1-300); }
note() { NOTE[$1|$2]=$3; }

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /tmp/vmofs-bench.XXXXXX) || exit 1
LOGF=$WORK/bench.log
declare -a MOUNTS=()    # "MNT|PID|fuse" or "MNT||tmpfs", in mount order
CUR=                    # pid of the command in flight (a timeout process)

# is_mounted MNT: from /proc/mounts (mountpoint(1) fails on a dead FUSE mount)
is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

unmount_one() { # MNT PID TYPE
	local mnt=$1 pid=$2 type=$3 i dev
	if is_mounted "$mnt"; then
		if [ "$type" = fuse ]; then
			if ! fusermount3 -u "$mnt" 2>/dev/null; then
				mountpoint -q /sys/fs/fuse/connections ||
					mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null
				dev=$(stat -c %d "$mnt" 2>/dev/null)
				[ -n "$dev" ] && [ -w "/sys/fs/fuse/connections/$dev/abort" ] &&
					echo 1 >"/sys/fs/fuse/connections/$dev/abort"
				fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
			fi
		else
			umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
		fi
	fi
	if [ -n "$pid" ]; then
		for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null; sleep 1
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
	fi
	! is_mounted "$mnt"
}

# unmount KEY-less by mountpoint, and forget it
unmount_mnt() {
	local m=$1 e mm pp tt keep=()
	for e in "${MOUNTS[@]}"; do
		if [ "${e%%|*}" = "$m" ]; then
			IFS='|' read -r mm pp tt <<<"$e"
			unmount_one "$mm" "$pp" "$tt"
		else
			keep+=("$e")
		fi
	done
	MOUNTS=("${keep[@]}")
}

cleanup() {
	trap - EXIT INT TERM
	set +e
	[ -n "$CUR" ] && kill -TERM "$CUR" 2>/dev/null && wait "$CUR" 2>/dev/null
	local i e mm pp tt left=0
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		IFS='|' read -r mm pp tt <<<"${MOUNTS[$i]}"
		unmount_one "$mm" "$pp" "$tt" || { echo "bench: could not unmount $mm" >&2; left=1; }
	done
	if [ -n "$URING_OLD" ]; then
		echo "$URING_OLD" >"$URING_PARAM" && log "enable_uring back to $URING_OLD"
	fi
	if [ $left = 0 ] && ! grep -q " $WORK/" /proc/mounts; then
		rm -rf "$WORK"
	else
		echo "bench: left $WORK in place (something is still mounted there)" >&2
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# run_cmd CMD...: run under a timeout; stdout in $OUT, on failure a one-line
# reason in $ERR.  In the background + wait, so a signal is handled at once.
run_cmd() {
	local rc
	timeout -k 5 "$BENCH_CMD_TIMEOUT" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null &
	CUR=$!
	wait "$CUR"; rc=$?
	CUR=
	OUT=$(cat "$WORK/out")
	ERR=
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		ERR="timed out after ${BENCH_CMD_TIMEOUT}s"
	elif [ $rc -ne 0 ]; then
		ERR=$(grep -v '^[[:space:]]*$' "$WORK/err" | tail -n 2 | tr '\n' ' ')
		# fio puts some errors on stdout, or only in its JSON
		[ -n "$ERR" ] || ERR=$(grep -E '^fio|"error"|err=' "$WORK/out" | grep -v '"error" : 0' |
			tail -n 2 | tr -s ' \n' ' ')
		ERR="$ERR(exit $rc)"
	fi
	return $rc
}

CAN_DROP=1
drop_caches() {
	timeout 60 sync
	echo 3 2>/dev/null >/proc/sys/vm/drop_caches || CAN_DROP=0
}

# ---------------------------------------------------------------- peers
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_OLD=              # enable_uring as found, once this run changed it

# uring_on: FUSE over io_uring switched on for the vmofs configs that ask
uring_on() {
	local v
	[ -e "$URING_PARAM" ] || { ERR="this kernel has no FUSE over io_uring"; return 1; }
	v=$(cat "$URING_PARAM")
	[ "$v" = Y ] && return 0
	if ! echo Y 2>/dev/null >"$URING_PARAM"; then
		ERR="enable_uring is $v and not writable here"; return 1
	fi
	URING_OLD=$v
	log "enable_uring $v -> Y for the uring config (put back on exit)"
}

declare -a PEERS=()
declare -A MNT PID KIND DOWN PLOG

# wait_mount MNT PID: wait (10 s) for MNT to be a mount point while PID lives
wait_mount() {
	local mnt=$1 pid=$2 i
	for i in $(seq 100); do
		is_mounted "$mnt" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"; ERR="daemon exited with status $? before mounting"
			return 1
		fi
		sleep 0.1
	done
	ERR="not mounted after 10 s"
	return 1
}

# mount_tmpfs MNT SIZE
mount_tmpfs() {
	mkdir -p "$1"
	if ! ERR=$(mount -t tmpfs -o "size=$2" tmpfs "$1" 2>&1); then
		ERR="mount -t tmpfs: $ERR"; return 1
	fi
	MOUNTS+=("$1||tmpfs")
}

# mount_fuse LOG MNT CMD...: start a -f daemon in the background
mount_fuse() {
	local lg=$1 mnt=$2 pid; shift 2
	mkdir -p "$mnt"
	# passthrough_ll holds an O_PATH descriptor per inode it has seen: give
	# the daemons every descriptor they may have (bench.py meta batches too)
	(ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@") >"$lg" 2>&1 </dev/null &
	pid=$!
	MOUNTS+=("$mnt|$pid|fuse")
	if ! wait_mount "$mnt" "$pid"; then
		ERR="$* : $ERR: $(grep -v '^[[:space:]]*$' "$lg" | tail -n 1)"
		unmount_mnt "$mnt"
		return 1
	fi
	LASTPID=$pid
}

PT_BIN=$BUILD/bench/passthrough_ll
build_passthrough() {
	local src dir
	src=$(dpkg -L libfuse3-dev 2>/dev/null | grep -E '/passthrough_ll\.c(\.gz)?$' | head -n 1)
	[ -n "$src" ] || { ERR="passthrough_ll.c not found (dpkg -L libfuse3-dev)"; return 1; }
	dir=$(dirname "$src")
	mkdir -p "$BUILD/bench/pt-src"
	local f
	for f in passthrough_ll.c passthrough_helpers.h; do
		if [ -f "$dir/$f" ]; then cp -p "$dir/$f" "$BUILD/bench/pt-src/$f"
		elif [ -f "$dir/$f.gz" ]; then
			zcat "$dir/$f.gz" >"$BUILD/bench/pt-src/$f" && touch -r "$dir/$f.gz" "$BUILD/bench/pt-src/$f"
		fi
	done
	if [ ! -x "$PT_BIN" ] || [ "$BUILD/bench/pt-src/passthrough_ll.c" -nt "$PT_BIN" ]; then
		# shellcheck disable=SC2046
		if ! ERR=$(gcc -O2 -Wall -I"$BUILD/bench/pt-src" "$BUILD/bench/pt-src/passthrough_ll.c" \
			$(pkg-config fuse3 --cflags --libs) -o "$PT_BIN" 2>&1); then
			ERR="building passthrough_ll: $(echo "$ERR" | grep -m1 error)"; return 1
		fi
	fi
}

HP_BIN=$BUILD/bench/passthrough_hp
# apt_src_lines: deb-src lines for the system's own Debian archives (its deb
# lines, one-line or deb822), so that nothing here names a mirror.
apt_src_lines() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]\+/deb-src /p' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'function out() { if (t ~ /(^| )deb( |$)/ && u != "")
				for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
					print "deb-src", us[i], ss[j], c
			t = u = c = ""; nu = ns = 0 }
		/^[[:space:]]*$/ { out(); next }
		/^Types:/ { t = $0 }
		/^URIs:/ { u = $2; nu = split(substr($0, 6), us, " ") }
		/^Suites:/ { ns = split(substr($0, 8), ss, " ") }
		/^Components:/ { c = substr($0, 13) }
		END { out() }' "$f"
	done
}
# build_passthrough_hp: libfuse3-dev ships no passthrough_hp.cc, so fetch
# the source package of the installed libfuse3 (same version) once.
build_passthrough_hp() {
	local d=$BUILD/bench/hp-src pkg ver tarball
	[ -x "$HP_BIN" ] && return 0
	command -v g++ >/dev/null || { ERR="g++ not installed (make deps)"; return 1; }
	pkg=$(dpkg-query -W -f='${source:Package}' libfuse3-dev 2>/dev/null)
	ver=$(dpkg-query -W -f='${source:Version}' libfuse3-dev 2>/dev/null)
	[ -n "$pkg" ] && [ -n "$ver" ] || { ERR="libfuse3-dev not installed"; return 1; }
	rm -rf "$d" && mkdir -p "$d/lists/partial" "$d/dl" || { ERR="mkdir $d"; return 1; }
	apt_src_lines >"$d/src.list"
	[ -s "$d/src.list" ] || { ERR="no Debian deb lines in /etc/apt to derive deb-src from"; return 1; }
	local apt=(-o Dir::Etc::SourceList="$d/src.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$d/lists" -o APT::Sandbox::User=root)
	if ! ERR=$(timeout 300 apt-get -q "${apt[@]}" update 2>&1) ||
		! ERR=$(cd "$d/dl" && timeout 300 apt-get -q "${apt[@]}" source --download-only "$pkg=$ver" 2>&1); then
		ERR="apt-get source $pkg=$ver: $(echo "$ERR" | grep -E '^(E|W):' | head -n 1)"; return 1
	fi
	tarball=$(ls "$d"/dl/*.orig.tar.* 2>/dev/null | head -n 1)
	[ -n "$tarball" ] || { ERR="no upstream tarball in the $pkg source package"; return 1; }
	if ! tar -xf "$tarball" -C "$d" --wildcards '*/example/passthrough_hp.cc' '*/example/cxxopts.hpp' 2>/dev/null; then
		ERR="passthrough_hp.cc not in $(basename "$tarball")"; return 1
	fi
	local src
	src=$(ls "$d"/*/example/passthrough_hp.cc | head -n 1)
	# shellcheck disable=SC2046
	if ! ERR=$(g++ -std=c++17 -O2 -I"$(dirname "$src")" "$src" \
		$(pkg-config fuse3 --cflags --libs) -pthread -o "$HP_BIN" 2>&1); then
		ERR="building passthrough_hp: $(echo "$ERR" | grep -m1 error)"; return 1
	fi
	log "built passthrough_hp from $pkg $ver"
}

# fuse_probe KIND MNT: the mount answers (vmofs: a VMO can be made)
fuse_probe() {
	local m=$2
	if [ "$1" = vmofs ]; then
		ERR=$(mkdir "$m/bench-probe" 2>&1 && [ -f "$m/bench-probe/data" ] &&
			rm -r "$m/bench-probe" 2>&1) ||
			{ ERR="probe mkdir MNT/bench-probe; test -f data; rm -r: ${ERR:-data missing}"; return 1; }
	else
		ERR=$(ls "$m" 2>&1 >/dev/null) || return 1
	fi
	return 0
}

# start_peer KEY: mount KEY's main instance (size=4G); sets DOWN[KEY] on failure
start_peer() {
	local p=$1 m=$WORK/${1//:/-}
	KIND[$p]=${p%%:*}
	MNT[$p]=$m/mnt
	PLOG[$p]=$WORK/${1//:/-}.log
	mkdir -p "$m"
	case ${KIND[$p]} in
	tmpfs)
		mount_tmpfs "${MNT[$p]}" $MOUNT_SIZE || DOWN[$p]=$ERR ;;
	passthrough_ll)
		if ! build_passthrough; then DOWN[$p]=$ERR; return; fi
		if ! mount_tmpfs "$m/src" $MOUNT_SIZE; then DOWN[$p]="source $ERR"; return; fi
		if mount_fuse "${PLOG[$p]}" "${MNT[$p]}" "$PT_BIN" -f -o "source=$m/src" "${MNT[$p]}"; then
			PID[$p]=$LASTPID
			fuse_probe pt "${MNT[$p]}" || DOWN[$p]=$ERR
		else
			DOWN[$p]=$ERR
		fi ;;
	passthrough_hp)
		if ! build_passthrough_hp; then DOWN[$p]=$ERR; return; fi
		if ! mount_tmpfs "$m/src" $MOUNT_SIZE; then DOWN[$p]="source $ERR"; return; fi
		if mount_fuse "${PLOG[$p]}" "${MNT[$p]}" "$HP_BIN" --foreground "$m/src" "${MNT[$p]}"; then
			PID[$p]=$LASTPID
			fuse_probe pt "${MNT[$p]}" || DOWN[$p]=$ERR
		else
			DOWN[$p]=$ERR
		fi ;;
	vmofs)
		if [ ! -x "$BUILD/vmofs" ]; then DOWN[$p]="not built: $BUILD/vmofs missing"; return; fi
		local size=$MOUNT_SIZE
		[[ ",${VOPTS[$p]:-}," = *,prealloc,* ]] && size=$PREALLOC_SIZE
		local opts="size=$size${VOPTS[$p]:+,${VOPTS[$p]}}"
		if [[ ",$opts," = *,uring,* ]] && ! uring_on; then DOWN[$p]=$ERR; return; fi
		if mount_fuse "${PLOG[$p]}" "${MNT[$p]}" "$BUILD/vmofs" -f -o "$opts" "${MNT[$p]}"; then
			PID[$p]=$LASTPID
			fuse_probe vmofs "${MNT[$p]}" || DOWN[$p]=$ERR
		else
			DOWN[$p]=$ERR
		fi ;;
	esac
	[ -z "${DOWN[$p]:-}" ] && log "$p mounted at ${MNT[$p]}" || log "$p: n/a: ${DOWN[$p]}"
}

# usable PEER ROW...: may PEER run the next workload?  Else ROWs are n/a.
usable() {
	local p=$1 r why=; shift
	if [ -n "${DOWN[$p]:-}" ]; then
		why=${DOWN[$p]}
	elif [ $((SECONDS - T0)) -ge "$BENCH_BUDGET_S" ]; then
		why="skipped: the run passed its ${BENCH_BUDGET_S} s budget"
	elif [ -n "${PID[$p]:-}" ] && ! kill -0 "${PID[$p]}" 2>/dev/null; then
		wait "${PID[$p]}" 2>/dev/null
		local st=$?
		[ $st -gt 128 ] && st="killed by signal $((st - 128))" || st="exit status $st"
		DOWN[$p]="daemon died ($st); its last words: $(grep -v '^[[:space:]]*$' "${PLOG[$p]}" | tail -n 1)"
		why=${DOWN[$p]}
	elif ! is_mounted "${MNT[$p]}"; then
		DOWN[$p]="no longer mounted"; why=${DOWN[$p]}
	fi
	[ -z "$why" ] && return 0
	for r in "$@"; do fail "$r" "$p" "$why"; done
	return 1
}

# after a failed command on PEER: if its daemon died, say so from now on
check_alive() {
	local p=$1
	if [ -n "${PID[$p]:-}" ] && ! kill -0 "${PID[$p]}" 2>/dev/null; then
		usable "$p" >/dev/null
	fi
}

# ---------------------------------------------------------------- fio
# fio_job FILE RW BS SIZE [FIO ARGS]: sets MIBS and IOPS, or ERR
fio_job() {
	local file=$1 rw=$2 bs=$3 size=$4 dir=read; shift 4
	case $rw in *write) dir="write" ;; esac
	local desc="fio --rw=$rw --bs=$bs --size=$size${*:+ $*} on ${file#"$WORK"/}"
	if ! run_cmd fio --name=bench --filename="$file" --rw="$rw" --bs="$bs" --size="$size" \
		--ioengine=psync --end_fsync=0 --invalidate=0 --fallocate=none \
		--output-format=json "$@"; then
		ERR="$desc: $ERR"; return 1
	fi
	cp "$WORK/out" "$WORK/fio.json"
	if ! run_cmd python3 "$HERE/bench.py" fio "$WORK/fio.json" "$dir"; then
		ERR="$desc: $ERR"; return 1
	fi
	MIBS=${OUT% *} IOPS=${OUT#* }
}

# fresh_dir PEER NAME: empty directory (on vmofs, a VMO) NAME at the mount
fresh_dir() {
	local d=${MNT[$1]}/$2
	if [ -e "$d" ]; then
		run_cmd rm -rf "$d" || { ERR="rm -rf ${d#"$WORK"/}: $ERR"; return 1; }
	fi
	ERR=$(mkdir "$d" 2>&1) || { ERR="mkdir ${d#"$WORK"/}: $ERR"; return 1; }
}

rm_dir() { run_cmd rm -rf "${MNT[$1]}/$2" || log "$1: rm -rf $2: $ERR"; }

# ---------------------------------------------------------------- workloads
wl_seq() {
	local rep p bs b sz
	for rep in $(seq "$BENCH_REPS"); do
		for p in "${PEERS[@]}"; do
			for bs in 1M 4K; do
				b=${bs,,} sz=$SEQ_BYTES
				[ $bs = 4K ] && sz=$SEQ4K_BYTES
				usable "$p" seq_write_$b seq_read_cold_$b seq_read_warm_$b || continue
				log "seq $bs $p (run $rep)"
				local f=${MNT[$p]}/seq/data
				if ! fresh_dir "$p" seq; then
					fail seq_write_$b "$p" "$ERR"; fail seq_read_cold_$b "$p" "$ERR"
					fail seq_read_warm_$b "$p" "$ERR"; check_alive "$p"; continue
				fi
				if fio_job "$f" write "$bs" "$sz"; then
					add seq_write_$b "$p" "$MIBS"
				else
					fail seq_write_$b "$p" "$ERR"; fail seq_read_cold_$b "$p" "no file: write failed"
					fail seq_read_warm_$b "$p" "no file: write failed"; check_alive "$p"; continue
				fi
				drop_caches
				if fio_job "$f" read "$bs" "$sz"; then
					add seq_read_cold_$b "$p" "$MIBS"
				else
					fail seq_read_cold_$b "$p" "$ERR"; check_alive "$p"
				fi
				if fio_job "$f" read "$bs" "$sz"; then
					add seq_read_warm_$b "$p" "$MIBS"
				else
					fail seq_read_warm_$b "$p" "$ERR"; check_alive "$p"
				fi
			done
			rm_dir "$p" seq
		done
	done
}

wl_rand() {
	local rep p nj per r all="rand_read_j1 rand_write_j1 rand_read_j2 rand_write_j2"
	for rep in $(seq "$BENCH_REPS"); do
		for p in "${PEERS[@]}"; do
			# shellcheck disable=SC2086
			usable "$p" $all || continue
			log "random 4K $p (run $rep)"
			local f=${MNT[$p]}/rnd/data
			if ! { fresh_dir "$p" rnd && fio_job "$f" write 1M "$RAND_BYTES"; }; then
				for r in $all; do fail $r "$p" "preparing the file: $ERR"; done
				check_alive "$p"; continue
			fi
			for nj in 1 2; do
				per=$((RAND_BYTES / nj))
				drop_caches
				for r in read write; do
					if fio_job "$f" rand$r 4K $per --numjobs=$nj --offset_increment=$per \
						--group_reporting; then
						add rand_${r}_j$nj "$p" "$IOPS"
					else
						fail rand_${r}_j$nj "$p" "$ERR"; check_alive "$p"
					fi
				done
			done
			rm_dir "$p" rnd
		done
	done
}

wl_meta() {
	local rep p a b c
	for rep in $(seq "$BENCH_REPS"); do
		for p in "${PEERS[@]}"; do
			usable "$p" meta_create meta_stat meta_rm || continue
			log "metadata x$BENCH_META_N $p (run $rep)"
			if run_cmd python3 "$HERE/bench.py" meta "${MNT[$p]}" "$BENCH_META_N" "m${rep}_"; then
				read -r a b c <<<"$OUT"
				add meta_create "$p" "$a"; add meta_stat "$p" "$b"; add meta_rm "$p" "$c"
			else
				fail meta_create "$p" "bench.py meta: $ERR"; fail meta_stat "$p" "bench.py meta: $ERR"
				fail meta_rm "$p" "bench.py meta: $ERR"
				check_alive "$p"
				usable "$p" && run_cmd bash -c "rm -rf '${MNT[$p]}'/m${rep}_*"
			fi
		done
	done
}

# clone_one PEER ROW BYTES: on tmpfs, cp times; on vmofs, mkdir clones/C times
clone_one() {
	local p=$1 row=$2 nb=$3 d f v
	d=${MNT[$p]}/cl f=${MNT[$p]}/cl/data
	fresh_dir "$p" cl || { fail "$row" "$p" "$ERR"; check_alive "$p"; return; }
	if [ "${KIND[$p]}" = vmofs ] && [ "$nb" -gt $((2 << 30)) ]; then
		# big: commit the pages instead of writing them (same result, faster)
		if ! run_cmd truncate -s "$nb" "$f" ||
			! run_cmd setfattr -n user.vmo.commit -v all "$f"; then
			fail "$row" "$p" "truncate -s $nb + setfattr -n user.vmo.commit -v all cl/data: $ERR"
			check_alive "$p"; rm_dir "$p" cl; return
		fi
	elif ! fio_job "$f" write 1M "$nb"; then
		fail "$row" "$p" "$ERR"; check_alive "$p"; rm_dir "$p" cl; return
	fi
	if [ "${KIND[$p]}" = vmofs ]; then
		run_cmd python3 "$HERE/bench.py" clone "$d" "$BENCH_CLONE_REPS"
	else
		run_cmd python3 "$HERE/bench.py" cp "$f" "$BENCH_CLONE_REPS"
	fi || { fail "$row" "$p" "$ERR"; check_alive "$p"; rm_dir "$p" cl; return; }
	for v in $OUT; do add "$row" "$p" "$v"; done
	rm_dir "$p" cl
}

# park_peers / unpark_peers: a vmofs with -o prealloc holds its whole size
# from mount to unmount; unmount those while tmpfs needs most of the RAM
# (the big clone: the file and a copy), and mount them again after.
PARKED=()
park_peers() {
	local p
	for p in "${PEERS[@]}"; do
		[[ ",${VOPTS[$p]:-}," = *,prealloc,* ]] && [ -z "${DOWN[$p]:-}" ] || continue
		log "$p: unmounted while tmpfs needs the memory (prealloc holds $PREALLOC_SIZE)"
		unmount_mnt "${MNT[$p]}"
		PARKED+=("$p")
	done
}
unpark_peers() {
	local p
	for p in "${PARKED[@]}"; do start_peer "$p"; done
	PARKED=()
}

wl_clone() {
	local s nb row p need avail q
	for s in $BENCH_CLONE_SIZES; do
		nb=$(bytes "$s"); row=clone_${s,,}
		if [ $((2 * nb + (512 << 20))) -le "$MOUNT_BYTES" ]; then
			for p in "${PEERS[@]}"; do
				[[ ${KIND[$p]} = passthrough_* ]] && continue
				usable "$p" "$row" || continue
				log "clone $s $p"
				clone_one "$p" "$row" "$nb"
			done
			continue
		fi
		# too big for the 4G mounts: peers of their own, one at a time, if
		# memory allows (tmpfs needs the file and one copy)
		for p in "${PEERS[@]}"; do
			[[ ${KIND[$p]} = passthrough_* ]] && continue
			if [ "${KIND[$p]}" = tmpfs ]; then park_peers; else unpark_peers; fi
			need=$((nb + (2 << 30)))
			[ "${KIND[$p]}" = tmpfs ] && need=$((2 * nb + (2 << 30)))
			avail=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024))
			if [ "$avail" -lt "$need" ]; then
				fail "$row" "$p" "skipped: needs $((need >> 30)) GiB of free memory, $((avail >> 30)) GiB available"
				continue
			fi
			usable "$p" "$row" || continue
			log "clone $s $p (own mount)"
			q="big-${p//:/-}"
			local keep_m=${MNT[$p]} keep_pid=${PID[$p]:-}
			MNT[$p]=$WORK/$q/mnt
			if [ "${KIND[$p]}" = tmpfs ]; then
				if mount_tmpfs "${MNT[$p]}" $((2 * nb + (1 << 30))); then
					clone_one "$p" "$row" "$nb"
				else
					fail "$row" "$p" "$ERR"
				fi
			else
				# without prealloc: a clone copies no data, so its time
				# does not depend on it, and 9 GiB held would not fit
				local opts=${VOPTS[$p]:-}
				opts=$(printf ',%s,' "$opts" | sed 's/,prealloc,/,/g; s/^,//; s/,$//')
				opts="size=$((nb + (1 << 30)))${opts:+,$opts}"
				if mount_fuse "$WORK/$q.log" "${MNT[$p]}" "$BUILD/vmofs" -f -o "$opts" "${MNT[$p]}"; then
					PID[$p]=$LASTPID
					clone_one "$p" "$row" "$nb"
					if [ -n "${DOWN[$p]:-}" ]; then  # died on the big mount only
						fail "$row" "$p" "${DOWN[$p]}"; unset "DOWN[$p]"
					fi
				else
					fail "$row" "$p" "$ERR"
				fi
			fi
			unmount_mnt "${MNT[$p]}"
			MNT[$p]=$keep_m PID[$p]=$keep_pid
		done
		unpark_peers
	done
}

wl_heavy() {
	local rep p a b
	# the memory of clones is exact (user.vmo.scaled, df): one run
	for rep in $(seq "$BENCH_HEAVY_REPS"); do
		for p in "${PEERS[@]}"; do
			[[ ${KIND[$p]} = passthrough_* ]] && continue
			usable "$p" clone_heavy || continue
			log "clone-heavy $BENCH_HEAVY_N x $BENCH_HEAVY_SIZE $p (run $rep)"
			if ! { fresh_dir "$p" h && fio_job "${MNT[$p]}/h/data" write 1M "$(bytes "$BENCH_HEAVY_SIZE")"; }; then
				fail clone_heavy "$p" "$ERR"; check_alive "$p"; rm_dir "$p" h; continue
			fi
			if [ "${KIND[$p]}" = vmofs ]; then
				if run_cmd python3 "$HERE/bench.py" heavy-clones "${MNT[$p]}/h" "$BENCH_HEAVY_N"; then
					read -r a b <<<"$OUT"
					add clone_heavy "$p" "$a"
					note clone_heavy "$p" "sum of user.vmo.scaled; df used ${b} MiB"
				else
					fail clone_heavy "$p" "bench.py heavy-clones: $ERR"; check_alive "$p"
				fi
			else
				if run_cmd python3 "$HERE/bench.py" heavy-copies "${MNT[$p]}/h" "$BENCH_HEAVY_N" $HEAVY_CAP; then
					read -r a b <<<"$OUT"
					add clone_heavy "$p" "$a"
					[ "$b" -lt "$BENCH_HEAVY_N" ] &&
						note clone_heavy "$p" "df used with $b copies, scaled to $BENCH_HEAVY_N"
				else
					fail clone_heavy "$p" "bench.py heavy-copies: $ERR"
				fi
			fi
			rm_dir "$p" h
		done
	done
}

# ---------------------------------------------------------------- main
# All of main is parsed before it runs, so editing this file during a run
# cannot derail the run.
main() {
	for b in 1m 4k; do
		B=$([ $b = 1m ] && echo "1 MiB" || echo "4 KiB")
		S=$([ $b = 1m ] && echo "$BENCH_SEQ_SIZE" || echo "$BENCH_SEQ4K_SIZE")
		defrow seq_write_$b MiB/s hi "Sequential write $S, $B blocks"
		defrow seq_read_cold_$b MiB/s hi "Sequential read $S, $B blocks, cold"
		defrow seq_read_warm_$b MiB/s hi "Sequential read $S, $B blocks, warm"
	done
	defrow rand_read_j1 IOPS hi "Random 4 KiB read, 1 job, cold ($BENCH_RAND_SIZE)"
	defrow rand_read_j2 IOPS hi "Random 4 KiB read, 2 jobs, cold ($BENCH_RAND_SIZE)"
	defrow rand_write_j1 IOPS hi "Random 4 KiB write, 1 job ($BENCH_RAND_SIZE)"
	defrow rand_write_j2 IOPS hi "Random 4 KiB write, 2 jobs ($BENCH_RAND_SIZE)"
	defrow meta_create ops/s hi "mkdir + write 4 KiB + stat, x$BENCH_META_N"
	defrow meta_stat ops/s hi "stat again, x$BENCH_META_N"
	defrow meta_rm ops/s hi "rm -r, x$BENCH_META_N"
	for s in $BENCH_CLONE_SIZES; do
		defrow "clone_${s,,}" µs lo "Clone of $s (vmofs: mkdir clones/C; tmpfs: cp)"
	done
	defrow clone_heavy MiB lo "Memory: $BENCH_HEAVY_N clones of $BENCH_HEAVY_SIZE, each 1% written (tmpfs: cp copies)"

	declare -gA VOPTS
	for p in $BENCH_PEERS; do
		case $p in
		tmpfs | passthrough_hp | passthrough_ll) PEERS+=("$p") ;;
		vmofs)
			for c in $VMOFS_CONFIGS; do
				name=${c%%:*} opts=${c#*:}
				[ "$c" = "$name" ] && opts=
				key=vmofs; [ "$name" = default ] || key=vmofs:$name
				PEERS+=("$key"); VOPTS[$key]=$opts
			done ;;
		*) echo "bench: unknown peer $p (BENCH_PEERS)" >&2; exit 2 ;;
		esac
	done

	log "mode: $([ $QUICK = 1 ] && echo quick || echo full); peers: ${PEERS[*]}; work dir $WORK"
	for p in "${PEERS[@]}"; do start_peer "$p"; done

	for w in $BENCH_WORKLOADS; do
		case $w in
		seq | rand | meta | clone | heavy) "wl_$w" ;;
		*) log "unknown workload $w (BENCH_WORKLOADS)" ;;
		esac
	done

	# ---------------------------------------------------------------- report
	RES=$ROOT/tests/bench/results
	mkdir -p "$RES"
	STAMP=$(date +%Y%m%d-%H%M%S)
	TSV=$RES/bench-$STAMP.tsv
	{
		printf '#date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
		printf '#mode\t%s\n' "$([ $QUICK = 1 ] && echo quick || echo full)"
		printf '#cpu\t%s\n' "$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
		printf '#nproc\t%s\n' "$(nproc)"
		printf '#ram\t%s\n' "$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
		printf '#kernel\t%s\n' "$(uname -r)"
		printf '#os\t%s\n' "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
		printf '#libfuse\t%s\n' "$(pkg-config --modversion fuse3 2>/dev/null)"
		printf '#fio\t%s\n' "$(fio --version 2>/dev/null)"
		printf '#commit\t%s\n' "$(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
		printf '#loadavg\t%s\n' "$LOAD0"
		printf '#reps\t%s\n' "$BENCH_REPS"
		printf '#clone_reps\t%s\n' "$BENCH_CLONE_REPS"
		printf '#drop_caches\t%s\n' "$([ $CAN_DROP = 1 ] && echo yes || echo 'no (not permitted: cold = warm)')"
		printf '#vmofs_configs\t%s\n' "$VMOFS_CONFIGS"
		printf '#elapsed_s\t%s\n' $((SECONDS - T0))
		printf 'row\tlabel\tunit\tbetter\tpeer\tmedian\tvalues\tnote\n'
		for r in "${ROWS[@]}"; do
			for p in "${PEERS[@]}"; do
				v=${VALS[$r|$p]:-} e=${ERRS[$r|$p]:-} n=${NOTE[$r|$p]:-}
				if [ -n "$v" ]; then
					med=$(tr , '\n' <<<"$v" | sort -g | awk '{ a[NR] = $1 }
						END { printf "%.10g\n", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
				elif [ -n "$e" ]; then
					med=n/a n=$e
				else
					continue   # not applicable (passthrough_* have no clones)
				fi
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "${LABEL[$r]}" "${UNIT[$r]}" \
					"${BETTER[$r]}" "$p" "$med" "${v:--}" "${n:--}"
			done
		done
	} >"$TSV"
	cp "$TSV" "$RES/latest.tsv"
	cp "$LOGF" "$RES/bench-$STAMP.log" 2>/dev/null   # where the time went
	log "results: ${TSV#"$ROOT"/}"

	args=("$TSV")
	[ "$BENCH_DOCS" = 1 ] && args+=(--md "$ROOT/docs/benchmarks.md" --png "$ROOT/docs/bench-throughput.png")
	python3 "$HERE/report.py" "${args[@]}" || log "report.py failed"
	log "done in $((SECONDS - T0)) s"
}

main "$@"; exit $?
