#!/bin/bash
# tests/bench/backed_read.sh [BUILD]: the issue-4 figure.
# Sequential 1 MiB reads of a 1 GiB file: straight from the host fs (cold)
# vs through vmofs -o backing=DIR,size=256M (cold: fresh mount, caches dropped).
set -e
B=${1:-build}; D=$(mktemp -d /tmp/vmofs-bkread.XXXXXX); M=$(mktemp -d /tmp/vmofs-test.XXXXXX)
head -c $((1024*1048576)) /dev/urandom > $D/f
rate() { dd if="$1" of=/dev/null bs=1M 2>&1 | sed -n 's/.*, \([0-9.]* [GM]B\/s\)$/\1/p'; }
for r in 1 2 3; do
  sync; echo 3 > /proc/sys/vm/drop_caches
  h=$(rate $D/f)
  $B/vmofs -o backing=$D,size=256M $M
  echo 3 > /proc/sys/vm/drop_caches
  v=$(rate $M/f/data)
  ev=$(getfattr -n user.vmofs.stats --only-values $M 2>/dev/null | sed -n 's/^evicted: //p')
  fusermount3 -u $M
  echo "round $r: host $h  vmofs $v  (evicted $ev pages)"
done
rm -rf $D; rmdir $M
