#!/usr/bin/env python3
"""Render a tests/bench results TSV (written by run.sh) as Markdown.

  report.py RESULTS.tsv [--md docs/benchmarks.md] [--png docs/bench-throughput.png]

Always prints the Markdown block on stdout.  With --md, replaces the text
between <!-- bench:begin --> and <!-- bench:end --> in that file (appending
the markers if missing).  With --png, draws the throughput rows with gnuplot
(tests/bench/throughput.gp).  python3 stdlib only.
"""
import math
import os
import subprocess
import sys
import tempfile

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    meta, rows, order, peers = {}, {}, [], []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                k, _, v = line[1:].partition("\t")
                meta[k] = v
                continue
            c = line.split("\t")
            if c[0] == "row":
                continue
            rid, label, unit, better, peer, med, vals, note = (c + [""] * 8)[:8]
            if rid not in rows:
                rows[rid] = {"label": label, "unit": unit, "better": better, "peers": {}}
                order.append(rid)
            if peer not in peers:
                peers.append(peer)
            try:
                m = float(med)
            except ValueError:
                m = None
            rows[rid]["peers"][peer] = {
                "median": m,
                "values": [] if vals == "-" else [float(x) for x in vals.split(",") if x],
                "note": "" if note == "-" else note,
            }
    return meta, rows, order, peers


def vmofs_peers(peers):
    return [p for p in peers if p.split(":")[0] == "vmofs"]


def peer_title(p):
    if p.startswith("vmofs:"):
        return "vmofs (%s)" % p.split(":", 1)[1]
    return p


def fmt_num(x):
    if x >= 100:
        return "{:,.0f}".format(x)
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_value(unit, x):
    if unit == "µs":
        if x >= 1e6:
            return "%.2f s" % (x / 1e6)
        if x >= 1e3:
            return "%s ms" % fmt_num(x / 1e3)
        return "%s µs" % fmt_num(x)
    if unit == "MiB" and x >= 10240:
        return "%.1f GiB" % (x / 1024)
    return "%s %s" % (fmt_num(x), unit)


def ratio(row, v, peer):
    """vmofs against peer, > 1 when vmofs is better."""
    a = row["peers"].get(v, {}).get("median")
    b = row["peers"].get(peer, {}).get("median")
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b if row["better"] == "hi" else b / a


def fmt_ratio(row, r):
    if r is None:
        return "—"
    s = ("%.2f×" % r) if r < 10 else ("{:,.0f}×".format(r))
    if row["better"] == "lo":
        s += " faster" if row["unit"] == "µs" else " less"
    return s


def targets(rows, order, v):
    """[(target, measured, status)] for vmofs peer v."""
    out = []

    def r(rid, peer):
        return ratio(rows[rid], v, peer) if rid in rows else None

    def one(title, rids, peer, floor, show=None):
        got = [(r(x, peer), x) for x in rids if x in rows]
        if not got:
            out.append((title, "not in this run", "n/a"))
            return
        missing = [x for g, x in got if g is None]
        if missing:
            what = rows[missing[0]]["label"] if len(missing) == 1 else \
                "%d of %d rows not measured" % (len(missing), len(got))
            out.append((title, "n/a (%s)" % what, "n/a"))
            return
        worst, wx = min(got)
        meas = show(worst, wx) if show else "%.2f×" % worst
        if len(got) > 1:
            meas += " (lowest: %s)" % rows[wx]["label"]
        out.append((title, meas, "met" if worst >= floor else "not met"))

    hp_rows = [x for x in order if "passthrough_hp" in rows[x]["peers"]]
    one("vmofs ≥ passthrough_hp on every row", hp_rows, "passthrough_hp", 1.0)
    pt_rows = [x for x in order if "passthrough_ll" in rows[x]["peers"]]
    one("vmofs ≥ passthrough_ll on every row", pt_rows, "passthrough_ll", 1.0)
    one("Cold sequential read, 1 MiB: ≥ 2.5× passthrough_ll", ["seq_read_cold_1m"], "passthrough_ll", 2.5)
    one("Warm reads: ≥ 0.8× tmpfs", ["seq_read_warm_1m", "seq_read_warm_4k"], "tmpfs", 0.8)
    one("Sequential write, 1 MiB: ≥ 1.0× tmpfs", ["seq_write_1m"], "tmpfs", 1.0)
    one("Sequential write, 1 MiB: ≥ 0.8× tmpfs", ["seq_write_1m"], "tmpfs", 0.8)
    one("4 KiB writes: ≥ 3× passthrough_ll", ["seq_write_4k", "rand_write_j1", "rand_write_j2"],
        "passthrough_ll", 3.0)
    one("mkdir + write + stat: ≥ 1.5× passthrough_ll", ["meta_create"], "passthrough_ll", 1.5)
    clones = [x for x in order if x.startswith("clone_") and x != "clone_heavy"]
    c = "clone_1g" if "clone_1g" in rows else (clones[0] if clones else "clone_1g")
    size = c[len("clone_"):].upper()
    one("Clone of 1 GiB: ≥ 1000× faster than cp on tmpfs" +
        ("" if c == "clone_1g" else " (measured: %s)" % size),
        [c], "tmpfs", 1000.0, lambda g, x: "{:,.0f}× faster".format(g))
    one("Clone-heavy: ≤ 5% of the memory of copies", ["clone_heavy"], "tmpfs", 20.0,
        lambda g, x: "%.1f%% of the copies" % (100.0 / g))
    return out


def markdown(meta, rows, order, peers, png_rel):
    vs = vmofs_peers(peers)
    others = [p for p in peers if p not in vs]
    L = []
    quick = meta.get("mode") == "quick"
    L.append("Run of %s, %s mode%s; commit `%s`; %s s." % (
        meta.get("date", "?"), meta.get("mode", "?"),
        " (small sizes, provisional)" if quick else "",
        meta.get("commit", "?"), meta.get("elapsed_s", "?")))
    L.append("")
    L.append("Machine: %s, %s CPUs, %s RAM, Linux %s, %s; libfuse %s, %s; load average at start %s." % (
        meta.get("cpu", "?"), meta.get("nproc", "?"), meta.get("ram", "?"),
        meta.get("kernel", "?"), meta.get("os", "?"), meta.get("libfuse", "?"),
        meta.get("fio", "?"), meta.get("loadavg", "?")))
    try:
        busy = float(meta.get("loadavg", "0").split()[0]) > 0.5 * float(meta.get("nproc", "1"))
    except ValueError:
        busy = False
    if busy:
        L.append("")
        L.append("**The machine was busy when this run started (load average above half the CPU"
                 " count): these figures are provisional; rerun on an idle machine.**")
    L.append("")
    L.append("Medians of %s runs (clone times: %s clones); drop_caches: %s; vmofs configurations: `%s`." % (
        meta.get("reps", "?"), meta.get("clone_reps", "?"), meta.get("drop_caches", "?"),
        meta.get("vmofs_configs", "?")))
    L.append("Ratios read \"vmofs is N× as good\": throughput ÷ throughput; for times and")
    L.append("memory the peer's figure ÷ vmofs's (so > 1× is always in vmofs's favour).")
    L.append("")
    head = ["Workload"] + [peer_title(p) for p in peers]
    for v in vs:
        for o in others:
            head.append("%s vs %s" % (peer_title(v), o))
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    foot = []   # [(peer title, reason, [row labels])], one per distinct reason

    def footnote(p, why, label):
        for i, (fp, fw, fl) in enumerate(foot):
            if fp == p and fw == why:
                fl.append(label)
                return i + 1
        foot.append((p, why, [label]))
        return len(foot)

    for rid in order:
        row = rows[rid]
        cells = [row["label"]]
        for p in peers:
            e = row["peers"].get(p)
            if e is None:
                cells.append("—")
            elif e["median"] is None:
                cells.append("n/a [%d]" % footnote(peer_title(p), e["note"], row["label"]))
            else:
                s = fmt_value(row["unit"], e["median"])
                if e["note"]:
                    s += " [%d]" % footnote(peer_title(p), e["note"], row["label"])
                cells.append(s)
        for v in vs:
            for o in others:
                cells.append(fmt_ratio(row, ratio(row, v, o)))
        L.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if foot:
        L.append("")
        for i, (fp, fw, fl) in enumerate(foot, 1):
            where = fl[0] if len(fl) == 1 else "%d rows" % len(fl)
            L.append("%d. %s, %s: %s" % (i, fp, where, fw.replace("|", "\\|")))
    L.append("")
    L.append("Targets:")
    L.append("")
    if not vs:
        L.append("(no vmofs configuration in this run)")
    else:
        th = ["Target"]
        for v in vs:
            th += [peer_title(v), "status"]
        L.append("| " + " | ".join(th) + " |")
        L.append("|" + "---|" * len(th))
        per = [targets(rows, order, v) for v in vs]
        for i in range(len(per[0])):
            cells = [per[0][i][0]]
            for t in per:
                cells += [t[i][1], "**%s**" % t[i][2] if t[i][2] == "not met" else t[i][2]]
            L.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if png_rel:
        L.append("")
        L.append("![throughput](%s)" % png_rel)
    return "\n".join(L) + "\n"


def splice(md_path, block):
    text = open(md_path).read() if os.path.exists(md_path) else ""
    b, e = text.find(BEGIN), text.find(END)
    if b >= 0 and e > b:
        text = text[: b + len(BEGIN)] + "\n" + block + text[e:]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + BEGIN + "\n" + block + END + "\n"
    tmp = md_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, md_path)


SHORT = {
    "seq_write_1m": "write 1M", "seq_read_cold_1m": "read 1M cold", "seq_read_warm_1m": "read 1M warm",
    "seq_write_4k": "write 4K", "seq_read_cold_4k": "read 4K cold", "seq_read_warm_4k": "read 4K warm",
    "rand_read_j1": "rand read 1 job", "rand_read_j2": "rand read 2 jobs",
    "rand_write_j1": "rand write 1 job", "rand_write_j2": "rand write 2 jobs",
    "meta_create": "mkdir+write+stat", "meta_stat": "stat", "meta_rm": "rm -r",
}


def plot(meta, rows, order, peers, png):
    groups = [
        ("seq.dat", [r for r in order if r.startswith("seq_")], 1.0),
        ("rand.dat", [r for r in order if r.startswith("rand_")], 1e-3),
        ("meta.dat", [r for r in order if r.startswith("meta_")], 1e-3),
    ]
    ymins = []
    with tempfile.TemporaryDirectory() as d:
        for name, rids, scale in groups:
            got = [rows[r]["peers"][p]["median"] * scale for r in rids for p in peers
                   if rows[r]["peers"].get(p, {}).get("median")]
            ymins.append(10.0 ** math.floor(math.log10(min(got))) if got else 1.0)
            with open(os.path.join(d, name), "w") as f:
                f.write("row\t" + "\t".join(peer_title(p) for p in peers) + "\n")
                for rid in rids:
                    vals = []
                    for p in peers:
                        m = rows[rid]["peers"].get(p, {}).get("median")
                        vals.append("NaN" if m is None else "%g" % (m * scale))
                    f.write("%s\t%s\n" % (SHORT.get(rid, rid), "\t".join(vals)))
        title = "vmofs vs peers, %s mode, %s (%s CPUs), %s" % (
            meta.get("mode", "?"), meta.get("date", "?"), meta.get("nproc", "?"),
            meta.get("commit", "?"))
        cmd = ["gnuplot", "-e", "dir='%s'; out='%s'; ncol=%d; ttl='%s'; ymin1=%g; ymin2=%g; ymin3=%g" % (
            d, png, len(peers) + 1, title.replace("'", ""), ymins[0], ymins[1], ymins[2]),
            os.path.join(HERE, "throughput.gp")]
        r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            print("report.py: gnuplot failed: %s" % r.stderr.strip(), file=sys.stderr)
            return False
    return True


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    tsv, md, png = args[0], None, None
    i = 1
    while i < len(args):
        if args[i] == "--md":
            md, i = args[i + 1], i + 2
        elif args[i] == "--png":
            png, i = args[i + 1], i + 2
        else:
            sys.exit("report.py: unknown argument " + args[i])
    meta, rows, order, peers = load(tsv)
    png_ok = plot(meta, rows, order, peers, png) if png else False
    png_rel = None
    if png_ok and md:
        png_rel = os.path.relpath(png, os.path.dirname(os.path.abspath(md)))
    block = markdown(meta, rows, order, peers, png_rel)
    sys.stdout.write(block)
    if md:
        splice(md, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
