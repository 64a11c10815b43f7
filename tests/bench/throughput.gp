# Bar chart of the throughput rows of a tests/bench run; report.py calls it:
#   gnuplot -e "dir='DATADIR'; out='OUT.png'; ncol=N; ttl='TITLE'; ymin1=..; ymin2=..; ymin3=.." throughput.gp
# (ymin*: bottom of each panel's log axis, a power of ten below its least bar)
# DATADIR holds seq.dat, rand.dat and meta.dat: tab separated, a header line
# of peer names, then one line per workload (missing figures are NaN).
set terminal pngcairo size 1400,1100 font ",10" noenhanced
set output out
set datafile separator "\t"
set datafile missing "NaN"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
# log scale: tmpfs is 10-50x any FUSE peer on some rows, and the FUSE bars
# are the ones to compare
set logscale y
set format y "%g"
set multiplot layout 3,1 title ttl
set title "Sequential (fio psync, 1 file)"
set ylabel "MiB/s (log scale)"
set yrange [ymin1:*]
plot for [i=2:ncol] dir."/seq.dat" using i:xtic(1) title columnheader(i)
set title "Random 4 KiB (fio psync)"
set ylabel "thousand IOPS (log scale)"
set yrange [ymin2:*]
plot for [i=2:ncol] dir."/rand.dat" using i:xtic(1) title columnheader(i)
set title "Metadata (python: os.mkdir, open/write/close, os.stat, shutil.rmtree)"
set ylabel "thousand operations/s (log scale)"
set yrange [ymin3:*]
plot for [i=2:ncol] dir."/meta.dat" using i:xtic(1) title columnheader(i)
unset multiplot
