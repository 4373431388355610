set terminal pngcairo size 900,540 font 'sans,10'
set output 'bench/results/2026-12-03T1340-vm/scale_acquire.png'
set termoption noenhanced
set grid
set key outside right top
data = 'bench/results/2026-12-03T1340-vm/plots/scale_acquire.dat'
set logscale x
set xlabel 'agents (log)'
set key autotitle columnhead
set title 'acquire latency vs agents'
set ylabel 'ns (log)'
set logscale y
plot data using 1:4 with linespoints title 'agentreg p50', '' using 1:5 with linespoints title 'agentreg p99', '' using 1:6 with linespoints title 'mutex+set p50', '' using 1:7 with linespoints title 'mutex+set p99'
