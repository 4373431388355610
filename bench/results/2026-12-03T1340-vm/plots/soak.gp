set terminal pngcairo size 900,540 font 'sans,10'
set output 'bench/results/2026-12-03T1340-vm/soak.png'
set termoption noenhanced
set grid
set key outside right top
data = 'bench/results/2026-12-03T1340-vm/plots/soak.dat'
set title 'soak over HTTP: throughput and agentregd memory'
set xlabel 'seconds'
set ylabel 'per second'
set y2label 'VmRSS MB'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key autotitle columnhead
plot data using 1:3 with lines title 'executions/s', '' using 1:4 with lines title 'requests/s', '' using 1:5 axes x1y2 with lines lw 2 title 'agentregd VmRSS (MB)'
