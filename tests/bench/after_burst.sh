#!/usr/bin/env bash
# tests/bench/after_burst.sh [VMOFS_BIN [OPTS]]: what a mount does after a
# burst of concurrent requests (docs/benchmarks.md, the fifth session's run).
# On a fresh size=2G mount: a 256 MiB file written with 1 MiB blocks, then
# 16 fio jobs of 4 KiB random writes on another file (libfuse starts
# workers for them and keeps them), drop_caches, then 4 KiB random reads of
# the first file with 1 job, and tests/bench/bench.py meta on 3,000 names.
# Prints: workers the daemon has, 1-job random read IOPS, create/s, stat/s,
# rm -r/s.  Needs root and fio.  Always unmounts.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-$HERE/../../build/vmofs}
OPTS=${2:-}
M=$(mktemp -d /tmp/vmofs-burst.XXXXXX)
trap 'fusermount3 -u "$M" 2>/dev/null; rmdir "$M"' EXIT
"$BIN" -o "size=2G${OPTS:+,$OPTS}" "$M"
pid=$(pgrep -n -f "vmofs.* $M\$")
mkdir "$M/a" "$M/b"
fio --name=w --filename="$M/a/data" --rw=write --bs=1M --size=256M --ioengine=psync >/dev/null
fio --name=b --filename="$M/b/data" --rw=randwrite --bs=4k --size=16M --numjobs=16 \
	--ioengine=psync >/dev/null
sync; echo 3 >/proc/sys/vm/drop_caches
printf 'threads %s  ' "$(ls /proc/"$pid"/task | wc -l)"
fio --name=r --filename="$M/a/data" --rw=randread --bs=4k --size=256M --ioengine=psync \
	--invalidate=0 --output-format=json |
	python3 -c 'import json,sys; print("randread %d  " % json.load(sys.stdin)["jobs"][0]["read"]["iops"], end="")'
printf 'meta %s\n' "$(python3 "$HERE/bench.py" meta "$M" 3000 m)"
