#!/usr/bin/env python3
"""Workload drivers for tests/bench/run.sh (python3 stdlib only).

Every driver prints its figures on one line of stdout, space separated, and
exits non-zero with a one-line reason on stderr when the workload fails, so
run.sh can report that peer's row as n/a with the reason.

  bench.py fio JSON DIR           -> "MiB/s IOPS" of direction DIR (read|write)
  bench.py meta MNT N PREFIX [BATCH] -> "create+stat/s stat/s rm-r/s"
  bench.py clone DIR REPS         -> REPS times (µs) of mkdir DIR/clones/cK
  bench.py cp FILE REPS           -> REPS times (µs) of `cp FILE FILE.cpK`
  bench.py heavy-clones DIR N     -> "MiB MiB": sum of user.vmo.scaled over
                                     DIR and N clones, each written at 1% of
                                     its pages; and df used of the mount
  bench.py heavy-copies DIR N CAP -> "MiB K": memory of N cp copies of
                                     DIR/data each written at 1% (df used),
                                     measured on K copies (as many as fit in
                                     CAP bytes) and scaled linearly to N
  bench.py median V...            -> median
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

PAGE = 4096


def die(msg):
    print(msg.replace("\n", " "), file=sys.stderr)
    sys.exit(1)


def oserr(what, e):
    return "%s: %s" % (what, e)


def cmd_fio(path, direction):
    text = open(path, errors="replace").read()
    start = text.find("{")
    if start < 0:
        die("fio printed no JSON")
    try:
        doc = json.loads(text[start:])
    except ValueError as e:
        die("fio JSON unreadable: %s" % e)
    jobs = doc.get("jobs") or []
    if not jobs:
        die("fio reported no jobs")
    bw = iops = 0.0
    for j in jobs:  # one entry with group_reporting, else sum them
        if j.get("error"):
            die("fio job error %d" % j["error"])
        d = j[direction]
        bw += d["bw_bytes"]
        iops += d["iops"]
    if bw <= 0:
        die("fio moved no data")
    print("%.1f %.0f" % (bw / 1048576.0, iops))


def vmo_shape(d):
    """Give directory d a VMO directory's entries (SPEC 2) where it lacks
    them: an empty info file, empty clones/ and slices/."""
    if not os.path.exists(d + "/info"):
        os.close(os.open(d + "/info", os.O_WRONLY | os.O_CREAT, 0o444))
    for sub in ("clones", "slices"):
        if not os.path.isdir(d + "/" + sub):
            os.mkdir(d + "/" + sub)


def cmd_meta(mnt, n, prefix, batch="2000"):
    """Per VMO: mkdir M/vN; write 4 KiB to M/vN/data; stat it.  Then stat
    every data file again, then rm -r every directory.  The same syscalls
    on every peer (on vmofs, mkdir creates data and O_CREAT finds it).
    rm -r removes the same tree everywhere: on vmofs mkdir also made info,
    clones/ and slices/ (SPEC 2), so on the other peers they are made too,
    untimed, between the stat and rm -r passes.  In batches of BATCH
    names (create, stat, rm -r each batch): passthrough_ll holds an O_PATH
    descriptor per inode the kernel remembers (five per name here), and a
    process here may not hold more than 20,000."""
    n, batch = int(n), int(batch)
    buf = b"\x5a" * PAGE
    t_create = t_stat = t_rm = 0.0
    for lo in range(0, n, batch):
        names = [os.path.join(mnt, "%s%d" % (prefix, i)) for i in range(lo, min(n, lo + batch))]
        t0 = time.perf_counter()
        for d in names:
            try:
                os.mkdir(d)
                p = d + "/data"
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    if os.write(fd, buf) != PAGE:
                        die("short write to %s" % p)
                finally:
                    os.close(fd)
                sz = os.stat(p).st_size
                if sz != PAGE:
                    die("stat %s: size %d, expected %d" % (p, sz, PAGE))
            except OSError as e:
                die(oserr("create " + d, e))
        t1 = time.perf_counter()
        for d in names:
            try:
                os.stat(d + "/data")
            except OSError as e:
                die(oserr("stat " + d + "/data", e))
        t1b = time.perf_counter()
        for d in names:
            try:
                vmo_shape(d)
            except OSError as e:
                die(oserr("shape " + d, e))
        t2 = time.perf_counter()
        for d in names:
            try:
                shutil.rmtree(d)
            except OSError as e:
                die(oserr("rm -r " + d, e))
        t3 = time.perf_counter()
        t_create += t1 - t0
        t_stat += t1b - t1
        t_rm += t3 - t2
    left = [x for x in os.listdir(mnt) if x.startswith(prefix)]
    if left:
        die("rm -r left %d entries, e.g. %s" % (len(left), left[0]))
    print("%.0f %.0f %.0f" % (n / t_create, n / t_stat, n / t_rm))


def cmd_clone(d, reps):
    """Time os.mkdir(DIR/clones/cK) in-process (a spawned mkdir would cost
    ~1 ms of fork/exec, more than the clone itself)."""
    size = os.stat(d + "/data").st_size
    out = []
    for k in range(int(reps)):
        c = "%s/clones/c%d" % (d, k)
        t0 = time.perf_counter_ns()
        try:
            os.mkdir(c)
        except OSError as e:
            die(oserr("mkdir " + c, e))
        t1 = time.perf_counter_ns()
        try:
            got = os.stat(c + "/data").st_size
        except OSError as e:
            die(oserr("stat " + c + "/data", e))
        if got != size:
            die("clone %s/data has size %d, parent %d" % (c, got, size))
        out.append((t1 - t0) / 1000.0)
    print(" ".join("%.1f" % x for x in out))


def cmd_cp(f, reps):
    out = []
    for k in range(int(reps)):
        dst = "%s.cp%d" % (f, k)
        t0 = time.perf_counter_ns()
        r = subprocess.run(["cp", f, dst], stderr=subprocess.PIPE, text=True)
        t1 = time.perf_counter_ns()
        if r.returncode:
            die("cp %s %s: %s" % (f, dst, r.stderr.strip()))
        os.unlink(dst)
        out.append((t1 - t0) / 1000.0)
    print(" ".join("%.1f" % x for x in out))


def touch_one_percent(path, salt):
    """Write 1% of the pages of PATH (at least one), spread evenly, with a
    per-file shift so the clones do not all dirty the same pages."""
    size = os.stat(path).st_size
    pages = max(1, size // PAGE)
    k = max(1, pages // 100)
    stride = pages // k
    buf = bytes([0xA0 + salt % 16]) * PAGE
    fd = os.open(path, os.O_WRONLY)
    try:
        for j in range(k):
            pg = (j * stride + salt) % pages
            if os.pwrite(fd, buf, pg * PAGE) != PAGE:
                die("short pwrite to %s" % path)
    finally:
        os.close(fd)


def df_used(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def cmd_heavy_clones(d, n):
    n = int(n)
    files = [d + "/data"]
    try:
        for i in range(n):
            c = "%s/clones/c%d" % (d, i)
            os.mkdir(c)
            touch_one_percent(c + "/data", i + 1)
            files.append(c + "/data")
    except OSError as e:
        die(oserr("clone %d" % len(files), e))
    total = 0
    for f in files:
        try:
            v = os.getxattr(f, "user.vmo.scaled")
        except OSError as e:
            die(oserr("getxattr user.vmo.scaled " + f, e))
        try:
            total += int(v.decode().strip().split()[0])
        except (ValueError, IndexError):
            die("getxattr user.vmo.scaled %s: unparsable %r" % (f, v[:40]))
    print("%.1f %.1f" % (total / 1048576.0, df_used(d) / 1048576.0))


def cmd_heavy_copies(d, n, cap):
    n, cap = int(n), int(cap)
    src = d + "/data"
    size = os.stat(src).st_size
    base = df_used(d)
    k = max(1, min(n, cap // max(size, 1) - 1))
    for i in range(k):
        dst = "%s/copy%d" % (d, i)
        r = subprocess.run(["cp", src, dst], stderr=subprocess.PIPE, text=True)
        if r.returncode:
            die("cp %s %s: %s" % (src, dst, r.stderr.strip()))
        touch_one_percent(dst, i + 1)
    used = df_used(d)
    per_copy = (used - base) / k
    total = base + per_copy * n
    print("%.1f %d" % (total / 1048576.0, k))


def main():
    if len(sys.argv) < 2:
        die(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    table = {
        "fio": cmd_fio,
        "meta": cmd_meta,
        "clone": cmd_clone,
        "cp": cmd_cp,
        "heavy-clones": cmd_heavy_clones,
        "heavy-copies": cmd_heavy_copies,
        "median": lambda *v: print("%g" % statistics.median(float(x) for x in v)),
    }
    if cmd not in table:
        die("unknown command " + cmd)
    table[cmd](*args)


if __name__ == "__main__":
    main()
