set terminal pngcairo size 900,540 font 'sans,10'
set output 'bench/results/2026-12-03T1340-vm/scale_times.png'
set termoption noenhanced
set grid
set key outside right top
data = 'bench/results/2026-12-03T1340-vm/plots/scale_times.dat'
set logscale x
set xlabel 'agents (log)'
set key autotitle columnhead
set title 'stale sweep, /metrics scrape and recovery vs agents'
set logscale y
set ylabel 'ms (log)'
plot data using 1:10 with linespoints title 'sweep ms', '' using 1:($11*1000) with linespoints title 'recovery from PostgreSQL, ms', '' using 1:12 with linespoints title '/metrics scrape ms'
