#!/usr/bin/env bash
# tests/run-mount.sh BUILD MNT - what `make run` does after building:
# mount a fresh vmofs from BUILD at MNT (made if missing; anything stale
# there unmounted first) and show how to use it and how to take it down.
set -eu
build=${1:?usage: run-mount.sh BUILD MNT}
mnt=${2:?usage: run-mount.sh BUILD MNT}
bin=$build/vmofs
[ -x "$bin" ] || { echo "run-mount: $bin not built" >&2; exit 1; }
mkdir -p "$mnt"
if mountpoint -q "$mnt"; then
	echo "run-mount: unmounting what is mounted at $mnt"
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null ||
		fusermount3 -u -z "$mnt"
fi
"$bin" "$mnt"
ctl=$build/vmoctl
cat <<TOUR
vmofs mounted at $mnt.  A short tour:
  mkdir $mnt/a                                   # a new, empty VMO
  dd if=/dev/urandom of=$mnt/a/data bs=1M count=64   # fill it
  mkdir $mnt/a/clones/snap                       # O(1) copy-on-write snapshot
  mkdir $mnt/a/slices/win@0+1M                   # a window sharing a's pages
  $ctl tree $mnt                                 # the clone tree and memory
Unmount with:  fusermount3 -u $mnt
TOUR
