#!/usr/bin/env bash
# tests/stress/soak.sh - a long vmofs-stress run (make soak).
# Usage: tests/stress/soak.sh asan|tsan|none SECONDS
#
# Runs build/tests/stress/vmofs-stress against build-san/vmofs (asan),
# build-tsan/vmofs (tsan) or build/vmofs (none) with the tester's four
# default phases (a roomy mount, a small anonymous one, the same with
# compress, a backed one), a fresh random seed unless SOAK_SEED is set, and
# SOAK_WORKERS (default 4) workers.  The figures (ops, ops/s, seed, answers
# by errno, result) are appended to tests/stress/results/soak-DATE-SAN.txt,
# the full output goes to the .log beside it.  Exit status: the tester's.
set -u
cd "$(dirname "$0")/../.."
san=${1:-asan}
secs=${2:-3600}
case $san in
asan) dir=build-san extra=() ;;
tsan) dir=build-tsan extra=(--no-aslr --hang 120) ;;
none) dir=build extra=() ;;
*) echo "soak: SAN must be asan, tsan or none, not '$san'" >&2; exit 2 ;;
esac
tester=build/tests/stress/vmofs-stress
for f in "$tester" "$dir/vmofs"; do
	[ -x "$f" ] || { echo "soak: $f is not built" >&2; exit 2; }
done
mkdir -p tests/stress/results
out=tests/stress/results/soak-$(date +%Y%m%d-%H%M%S)-$san
seed=${SOAK_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "soak: $secs s against $dir/vmofs (tree $rev), seed $seed; figures in $out.txt"
echo "tree $rev" >>"$out.txt"
export VMOFS_TEST_TAG=vmofs-soak-$$
# a stuck run is cut off a while after its time, the mount taken down
timeout -k 30 $((secs + 900)) "$tester" --vmofs "$dir/vmofs" --seconds "$secs" \
    --workers "${SOAK_WORKERS:-4}" --seed "$seed" --results "$out.txt" \
    "${extra[@]}" 2>&1 | tee "$out.log"
rc=${PIPESTATUS[0]}
cat "$out.txt"
exit "$rc"
