# tests/shell/lib.sh - a small cmocka-style harness for vmofs shell tests.
#
# A test file sources this, defines functions and hands them to vt_main:
#
#     . "$(dirname "$0")/lib.sh"
#     test_clone_is_snapshot() {
#         vt_mount -o size=64M          # fresh mount in /tmp/$VT_TAG.XXXXXX
#         mkdir "$MNT/a"
#         ...
#         vt_eq "$(cat "$MNT/a/data")" hello "a's bytes"
#     }
#     vt_main test_clone_is_snapshot ...   # no names: every test_* function
#
# Each test runs in its own subshell under `set -eEu -o pipefail`: the first
# failing command fails the test and its location is printed.  vt_skip
# skips it.  After every test, and on exit whatever happens (EXIT, INT,
# TERM), every mount the test made is unmounted and its daemon stopped:
# fusermount3 -u, then SIGTERM/SIGKILL, then an abort through
# /sys/fs/fuse/connections and a lazy unmount.  A test that runs longer
# than VT_TEST_TIMEOUT seconds (default 30) gets the same treatment.
#
# Output is cmocka's format, which tests/run-tests.sh parses:
#     [==========] Running N test(s).
#     [ RUN      ] name
#     [       OK ] name          or [  FAILED  ] name, [  SKIPPED ] name
#     [==========] N test(s) run.
#     [  PASSED  ] N test(s).
#     [  FAILED  ] N test(s), listed below:     (only if some failed)
#     [  FAILED  ] name
# The exit status is non-zero if any test failed.
#
# Environment: VMOFS_BIN and VMOCTL_BIN (default: build/ of this tree),
# VT_TEST_TIMEOUT, VT_ONLY=REGEX to run only the matching tests, VT_KEEP=1
# to keep the work directory (daemon logs) in /tmp/vmofs-shell.XXXXXX.

VT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${VMOFS_BIN:=$VT_ROOT/build/vmofs}"
: "${VMOCTL_BIN:=$VT_ROOT/build/vmoctl}"
: "${VT_TEST_TIMEOUT:=30}"
export VMOFS_BIN VMOCTL_BIN LC_ALL=C

VT_SKIP=77		# exit status of a skipped test subshell
VT_WORK=$(mktemp -d /tmp/vmofs-shell.XXXXXX)
# Mount points: /tmp/$VT_TAG.XXXXXX (tests/run-tests.sh sets one per run).
VT_TAG=${VMOFS_TEST_TAG:-vmofs-test}
[[ $VT_TAG =~ ^[A-Za-z0-9_-]{1,32}$ ]] || VT_TAG=vmofs-test
VT_STATE=$VT_WORK/mounts	# one "MOUNTPOINT PID LOG" line per live mount
: >"$VT_STATE"

# ------------------------------------------------------------------
# mounts

# vt__alive PID: the process exists and is not a zombie.
vt__alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# vt__mounted MNT: MNT is in the mount table (never stat()s MNT, which
# would hang on a stuck daemon).
vt__mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts
}

# vt__abort MNT: abort MNT's FUSE connection, so that nothing waits on it.
vt__abort() {
	local dev
	dev=$(awk -v m="$1" '$5 == m { split($3, d, ":"); n = d[2] } END { print n }' \
		/proc/self/mountinfo)
	[ -n "$dev" ] || return 0
	if ! mountpoint -q /sys/fs/fuse/connections 2>/dev/null; then
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
	fi
	if [ -w "/sys/fs/fuse/connections/$dev/abort" ]; then
		echo "vmofs-test: aborting the connection of $1" >&2
		echo 1 >"/sys/fs/fuse/connections/$dev/abort" 2>/dev/null || true
	fi
}

# vt__wait_gone PID TENTHS: wait up to TENTHS/10 s for PID to exit.
vt__wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		vt__alive "$1" || return 0
		sleep 0.1
	done
	! vt__alive "$1"
}

# vt__stop MNT PID: unmount MNT and end PID, by force if need be.
vt__stop() {
	local mnt=$1 pid=$2 i
	if vt__mounted "$mnt"; then
		for i in 1 2 3 4 5; do
			fusermount3 -u "$mnt" 2>/dev/null && break
			vt__mounted "$mnt" || break
			sleep 0.2
		done
	fi
	if [ -n "$pid" ] && ! vt__wait_gone "$pid" 50; then
		echo "vmofs-test: daemon $pid did not exit after unmount: SIGTERM" >&2
		kill -TERM "$pid" 2>/dev/null
		if ! vt__wait_gone "$pid" 20; then
			echo "vmofs-test: daemon $pid: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
			vt__wait_gone "$pid" 20 || true
		fi
	fi
	if vt__mounted "$mnt"; then
		vt__abort "$mnt"
		fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	fi
	rmdir "$mnt" 2>/dev/null || true
}

# vt__cleanup_all: stop every mount listed in the state file.
vt__cleanup_all() {
	local mnt pid log
	[ -f "$VT_STATE" ] || return 0
	while read -r mnt pid log; do
		[ -n "$mnt" ] && vt__stop "$mnt" "$pid"
	done <"$VT_STATE"
	: >"$VT_STATE"
}

# vt__abort_all: abort every listed connection (a test is stuck).
vt__abort_all() {
	local mnt pid log
	while read -r mnt pid log; do
		[ -n "$mnt" ] && vt__mounted "$mnt" && vt__abort "$mnt"
	done <"$VT_STATE"
}

# vt_mount [VMOFS-OPTIONS...]: mount a fresh vmofs with `vmofs -f` in a new
# /tmp/$VT_TAG.XXXXXX and wait until it is mounted.  Sets MNT (the mount
# point), VT_PID (the daemon) and VT_LOG (its stdout and stderr).
vt_mount() {
	local i
	if [ ! -x "$VMOFS_BIN" ]; then
		echo "vt_mount: VMOFS_BIN=$VMOFS_BIN is not an executable" >&2
		return 1
	fi
	MNT=$(mktemp -d "/tmp/$VT_TAG.XXXXXX")
	VT_LOG=$VT_WORK/vmofs.$(basename "$MNT").log
	"$VMOFS_BIN" -f "$@" "$MNT" </dev/null >"$VT_LOG" 2>&1 &
	VT_PID=$!
	echo "$MNT $VT_PID $VT_LOG" >>"$VT_STATE"
	for ((i = 0; i < 100; i++)); do
		vt__mounted "$MNT" && return 0
		if ! vt__alive "$VT_PID"; then
			echo "vt_mount: vmofs $* $MNT exited before mounting:" >&2
			sed 's/^/    /' "$VT_LOG" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "vt_mount: $MNT not mounted after 10 s" >&2
	return 1
}

# vt_umount [MNT]: unmount (default: $MNT) as a user would and check that
# the daemon exits with status 0 within 5 s.
vt_umount() {
	local mnt=${1:-$MNT} pid log rc line
	line=$(awk -v m="$mnt" '$1 == m' "$VT_STATE" | tail -1)
	pid=$(echo "$line" | cut -d' ' -f2)
	fusermount3 -u "$mnt" || { echo "vt_umount: fusermount3 -u $mnt failed" >&2; return 1; }
	if [ -n "$pid" ]; then
		if ! vt__wait_gone "$pid" 50; then
			echo "vt_umount: daemon $pid still running 5 s after unmount" >&2
			return 1
		fi
		# Our child if this subshell mounted it: check how it exited.
		if wait "$pid" 2>/dev/null; then rc=0; else rc=$?; fi
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 127 ]; then
			echo "vt_umount: daemon exited with status $rc" >&2
			return 1
		fi
	fi
	awk -v m="$mnt" '$1 != m' "$VT_STATE" >"$VT_STATE.new" && mv "$VT_STATE.new" "$VT_STATE"
	rmdir "$mnt" 2>/dev/null || true
}

# ------------------------------------------------------------------
# assertions and helpers

# vt_fail MESSAGE: fail the test.
vt_fail() {
	echo "    FAIL: $*" >&2
	return 1
}

# vt_skip REASON: skip the test.
vt_skip() {
	echo "    skipped: $*"
	exit $VT_SKIP
}

# vt_eq EXPECTED ACTUAL [WHAT]
vt_eq() {
	[ "$1" = "$2" ] && return 0
	vt_fail "${3:-value}: expected '$1', got '$2'"
}

# vt_ne UNEXPECTED ACTUAL [WHAT]
vt_ne() {
	[ "$1" != "$2" ] && return 0
	vt_fail "${3:-value}: expected anything but '$1'"
}

# vt_contains HAYSTACK NEEDLE [WHAT]
vt_contains() {
	case $1 in *"$2"*) return 0 ;; esac
	vt_fail "${3:-output}: '$2' not found in:"$'\n'"$1"
}

# vt_ge A B [WHAT]: A >= B (integers)
vt_ge() {
	[ "$1" -ge "$2" ] && return 0
	vt_fail "${3:-value}: expected $1 >= $2"
}

# vt_fails TEXT CMD...: CMD must exit non-zero and print TEXT (e.g. a
# strerror message such as "Operation not permitted"); "" skips the text
# check.  The output is kept in VT_OUT and the status in VT_RC.
vt_fails() {
	local text=$1
	shift
	if VT_OUT=$("$@" 2>&1); then
		VT_RC=0
		vt_fail "'$*' succeeded, expected it to fail${text:+ with '$text'}"
		return 1
	else
		VT_RC=$?
	fi
	[ -z "$text" ] && return 0
	case $VT_OUT in *"$text"*) return 0 ;; esac
	vt_fail "'$*' failed (status $VT_RC) without '$text':"$'\n'"$VT_OUT"
}

# vt_logged PATTERN WHAT: the daemon's log (VT_LOG: vt_mount's -f) has a line matching PATTERN
# (grep -E), one rejection: OP "NAME": ERRNO (text): why (pid P, uid U).
vt_logged() {
	grep -Eq "$1.* \(pid [0-9]+, uid [0-9]+\)$" "$VT_LOG" ||
		vt_fail "no log line for $2 (/$1/): $(tail -5 "$VT_LOG")"
}

# vt_run CMD...: run CMD, keeping stdout in VT_OUT; fail with its output.
vt_run() {
	local err=$VT_WORK/stderr
	if VT_OUT=$("$@" 2>"$err"); then
		return 0
	else
		VT_RC=$?
	fi
	vt_fail "'$*' exited $VT_RC:"$'\n'"$VT_OUT$(cat "$err")"
}

# vt_xattr FILE NAME: print the value of xattr NAME of FILE.
vt_xattr() {
	getfattr --absolute-names --only-values -n "$2" "$1"
}

# vt_stat MNT FIELD: print FIELD of the mount's user.vmofs.stats.
vt_stat() {
	getfattr --absolute-names --only-values -n user.vmofs.stats "$1" 2>/dev/null |
	    sed -n "s/^$2: //p"
}

# vt_param FILE VALUE: write VALUE to the kernel parameter FILE (sysfs or
# /proc/sys) for the rest of the running test, and say so.  The value FILE
# had before the test's first vt_param is written back when the test's
# subshell exits, whether it passed or failed.
declare -A VT_PARAM_OLD=()
vt_param() {
	if [ -z "${VT_PARAM_OLD[$1]+set}" ]; then
		VT_PARAM_OLD[$1]=$(cat "$1")
		trap vt__param_restore EXIT
	fi
	echo "    ($1: $(cat "$1") -> $2 for this test)"
	echo "$2" >"$1"
}
vt__param_restore() {
	local f
	for f in "${!VT_PARAM_OLD[@]}"; do
		echo "${VT_PARAM_OLD[$f]}" >"$f" 2>/dev/null || true
		echo "    ($f: back to ${VT_PARAM_OLD[$f]})"
	done
}

# vt_info DIR KEY: print KEY's value from the VMO's info file.
vt_info() {
	sed -n "s/^$2: *//p" "$1/info"
}

# vt_size FILE: the size of FILE in bytes.
vt_size() {
	stat -c %s "$1"
}

# vt_need PROGRAM...: skip the test when a program is missing.
vt_need() {
	local p
	for p; do
		command -v "$p" >/dev/null 2>&1 || vt_skip "$p is not installed"
	done
}

# vt_json FILE: FILE holds valid JSON (checked with python3 or jq).
vt_json() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -m json.tool "$1" >/dev/null || vt_fail "invalid JSON: $(cat "$1")"
	elif command -v jq >/dev/null 2>&1; then
		jq . "$1" >/dev/null || vt_fail "invalid JSON: $(cat "$1")"
	else
		echo "    (no python3 or jq: JSON not validated)"
	fi
}

# vt_json_get FILE EXPR: evaluate a Python expression on the JSON document
# `j` (python3 required; skips otherwise), e.g. 'j["vmos"][0]["name"]'.
vt_json_get() {
	command -v python3 >/dev/null 2>&1 || vt_skip "python3 is not installed"
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2"
}

# vt_pattern FILE BYTES SEED: write BYTES of a reproducible pattern.
vt_pattern() {
	local s="vmofs-pattern-$3-0123456789abcdef|"
	while [ ${#s} -lt "$2" ]; do s+=$s; done
	printf '%s' "${s:0:$2}" >"$1"
}

# ------------------------------------------------------------------
# running

vt__on_err() {
	local rc=$1 cmd=$2 i
	# A vt_* assertion has said why already.
	[[ $cmd == return* ]] || echo "    FAIL: '$cmd' exited $rc" >&2
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		[ "${FUNCNAME[$i]}" = vt__run_one ] && break
		echo "        at ${FUNCNAME[$i]} (${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]})" >&2
	done
}

# vt__run_one NAME: the test's subshell body, in a working directory of
# its own (VT_WORK/NAME): no test sees files another left behind (an
# earlier test's same-size file once passed rsync's size+mtime check).
vt__run_one() {
	set -eEu -o pipefail
	trap 'vt__on_err $? "$BASH_COMMAND"' ERR
	VT_WORK=$VT_WORK/$1
	mkdir -p "$VT_WORK"
	cd "$VT_WORK"
	"$1"
}

# vt__run NAME: run one test with a watchdog; return 0 ok, 1 failed, 77 skip.
vt__run() {
	local name=$1 tpid wpid rc
	(vt__run_one "$name") &
	tpid=$!
	(
		trap 'kill $s 2>/dev/null; exit 0' TERM
		sleep "$VT_TEST_TIMEOUT" & s=$!
		wait $s
		echo "    FAIL: $name timed out after ${VT_TEST_TIMEOUT}s" >&2
		vt__abort_all
		pkill -KILL -P "$tpid" 2>/dev/null
		kill -KILL "$tpid" 2>/dev/null
	) &
	wpid=$!
	VT_CUR="$tpid $wpid"
	wait "$tpid"
	rc=$?
	kill -TERM "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	VT_CUR=
	if [ $rc -ne 0 ] && [ $rc -ne $VT_SKIP ]; then
		vt__show_logs
	fi
	vt__cleanup_all
	return $rc
}

# vt__show_logs: the tail of each live mount's daemon log (after a failure).
vt__show_logs() {
	local mnt pid log
	while read -r mnt pid log; do
		[ -s "$log" ] || continue
		echo "    --- vmofs log of $mnt (last 20 lines) ---" >&2
		tail -n 20 "$log" | sed 's/^/    /' >&2
	done <"$VT_STATE"
}

vt__on_exit() {
	local p
	# Interrupted mid-test: stop the test and its watchdog first.
	for p in ${VT_CUR:-}; do
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "${VT_CUR:-}" ] && vt__abort_all
	vt__cleanup_all
	[ "${VT_KEEP:-0}" = 1 ] || rm -rf "$VT_WORK"
}

# bad_mount TEXT ARGS...: `vmofs -f ARGS MNT` fails with one line about
# TEXT and leaves nothing mounted.
bad_mount() {
	local text=$1 mnt out rc
	shift
	mnt=$(mktemp -d "/tmp/$VT_TAG.XXXXXX")
	echo "$mnt 0 -" >>"$VT_STATE"
	if out=$(timeout 10 "$VMOFS_BIN" -f "$@" "$mnt" 2>&1 </dev/null); then
		vt_fail "vmofs $* succeeded"
		return 1
	else
		rc=$?
	fi
	[ $rc -ne 124 ] || vt_fail "vmofs $* mounted and kept running"
	vt__mounted "$mnt" && vt_fail "vmofs $*: $mnt is mounted"
	vt_eq 1 "$(printf '%s\n' "$out" | wc -l)" "lines of the error of vmofs $*"
	vt_contains "$out" "$text" "error of vmofs $*"
	rmdir "$mnt"
}

# vt_main [TEST...]: run the tests (default: every test_* function in
# definition order), print the summary, exit 1 if any failed.
vt_main() {
	local tests=("$@") t rc failed=() skipped=() passed=0
	if [ ${#tests[@]} -eq 0 ]; then
		mapfile -t tests < <(declare -F | awk '$3 ~ /^test_/ { print $3 }')
	fi
	if [ -n "${VT_ONLY:-}" ]; then
		local keep=()
		for t in "${tests[@]}"; do
			[[ $t =~ $VT_ONLY ]] && keep+=("$t")
		done
		tests=("${keep[@]}")
	fi
	trap vt__on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	echo "[==========] Running ${#tests[@]} test(s)."
	for t in "${tests[@]}"; do
		echo "[ RUN      ] $t"
		vt__run "$t"
		rc=$?
		if [ $rc -eq 0 ]; then
			echo "[       OK ] $t"
			passed=$((passed + 1))
		elif [ $rc -eq $VT_SKIP ]; then
			echo "[  SKIPPED ] $t"
			skipped+=("$t")
		else
			echo "[  FAILED  ] $t"
			failed+=("$t")
		fi
	done
	echo "[==========] ${#tests[@]} test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	if [ ${#skipped[@]} -gt 0 ]; then
		echo "[  SKIPPED ] ${#skipped[@]} test(s), listed below:"
		for t in "${skipped[@]}"; do echo "[  SKIPPED ] $t"; done
	fi
	if [ ${#failed[@]} -gt 0 ]; then
		echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
		for t in "${failed[@]}"; do echo "[  FAILED  ] $t"; done
		echo
		echo " ${#failed[@]} FAILED TEST(S)"
		exit 1
	fi
	exit 0
}
