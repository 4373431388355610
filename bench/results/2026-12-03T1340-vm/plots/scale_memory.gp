set terminal pngcairo size 900,540 font 'sans,10'
set output 'bench/results/2026-12-03T1340-vm/scale_memory.png'
set termoption noenhanced
set grid
set key outside right top
data = 'bench/results/2026-12-03T1340-vm/plots/scale_memory.dat'
set logscale x
set xlabel 'agents (log)'
set key autotitle columnhead
set title 'resident bytes per agent'
set ylabel 'bytes'
set yrange [0:*]
plot data using 1:3 with linespoints title 'whole engine'
