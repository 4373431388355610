set terminal pngcairo size 900,540 font 'sans,10'
set output 'bench/results/2026-12-03T1340-vm/scale_rates.png'
set termoption noenhanced
set grid
set key outside right top
data = 'bench/results/2026-12-03T1340-vm/plots/scale_rates.dat'
set logscale x
set xlabel 'agents (log)'
set key autotitle columnhead
set title 'rates vs agents'
set ylabel 'per second (log)'
set logscale y
plot data using 1:2 with linespoints title 'register', '' using 1:8 with linespoints title 'heartbeat (blocking)', '' using 1:9 with linespoints title 'heartbeat (async)'
