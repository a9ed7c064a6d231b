# bench/chart.gp: draws bench/results.png from the data file bench/run writes.
#   gnuplot -c bench/chart.gp DATA OUT.png "TITLE"
# DATA columns (tab separated): label, hlsgate req/s, reference req/s, hlsgate p99 ms,
# reference p99 ms; "?" where there is no reference.
data = ARG1
out = ARG2
title = ARG3

set terminal pngcairo size 1700,760 font "DejaVu Sans,11"
set output out
set datafile separator "\t"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set xtics rotate by -35 scale 0 font ",10"
set key outside top center horizontal maxrows 1
set multiplot layout 1,2 title title."\nreference = old-design model, nginx or 1 worker, as labelled; hlsgate/reference req/s ratio in brackets" font ",13"

set title "throughput, requests/s (log scale, higher is better)"
set ylabel "requests/s"
plot data using 2:xtic(1) title "hlsgate" lc rgb "#1f77b4", \
     ''   using 3 title "reference" lc rgb "#bbbbbb"

set title "p99 latency, ms (log scale, lower is better)"
set ylabel "ms"
plot data using 4:xtic(1) title "hlsgate" lc rgb "#1f77b4", \
     ''   using 5 title "reference" lc rgb "#bbbbbb"

unset multiplot
