#!/bin/bash
# tests/bench/compress_mix.sh [BUILD]: the compression figure of
# docs/benchmarks.md.  A 20 MiB file -- 12 MiB text from a 16-word
# vocabulary (about 2.1x under LZ4), 4 MiB zeros, 4 MiB random -- written
# with dd bs=1M and read back cold, on -o size=64M (nothing reclaimed) and
# on -o size=12M,compress (the file is 1.7x the limit).  Needs root.
set -e
B=${1:-build}; D=$(mktemp -d /tmp/vmofs-zmix.XXXXXX); M=$(mktemp -d /tmp/vmofs-test.XXXXXX)
trap 'fusermount3 -u $M 2>/dev/null || true; rm -rf $D; rmdir $M' EXIT
python3 - "$D/text" <<'PY'
import random, sys
w = [b'alpha', b'beta', b'gamma', b'delta', b'vm_page', b'cow_node', b'struct',
     b'return', b'if (', b'{\n', b'}\n', b'int ', b'uint64_t ', b'0x', b'\t', b' = ']
r, out = random.Random(1), bytearray()
while len(out) < 12 << 20:
    out += r.choice(w)
open(sys.argv[1], 'wb').write(out[:12 << 20])
PY
head -c 4194304 /dev/zero > $D/zero; head -c 4194304 /dev/urandom > $D/rnd
cat $D/text $D/zero $D/rnd > $D/mix
now() { date +%s.%N; }
for opt in size=64M size=12M,compress; do
  $B/vmofs -o $opt $M; mkdir $M/v
  sync; echo 3 > /proc/sys/vm/drop_caches
  t0=$(now); dd if=$D/mix of=$M/v/data bs=1M status=none; t1=$(now)
  echo 3 > /proc/sys/vm/drop_caches
  t2=$(now); cat $M/v/data > /dev/null; t3=$(now)
  cmp $D/mix $M/v/data
  st=$(getfattr -n user.vmofs.stats --only-values $M 2>/dev/null |
       grep -E '^(compressed|decompressed|zero_deduped|incompressible|zstore_pages|zstore_bytes|zstore_ballast):' | tr '\n' ' ')
  printf '%-18s write %6.0f MiB/s  cold read %6.0f MiB/s  %s\n' "$opt" \
    "$(echo "20/($t1-$t0)" | bc -l)" "$(echo "20/($t3-$t2)" | bc -l)" "$st"
  fusermount3 -u $M
done
