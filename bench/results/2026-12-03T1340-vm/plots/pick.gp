set terminal pngcairo size 900,540 font 'sans,10'
set output 'bench/results/2026-12-03T1340-vm/pick.png'
set termoption noenhanced
set grid
set key outside right top
data = 'bench/results/2026-12-03T1340-vm/plots/pick.dat'
set title 'Pick + reserve + release, least-loaded of 1 000 agents'
set ylabel 'pairs/s (log)'
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -25
plot data using 2:xtic(1) title '1 thread', '' using 3 title '2 threads'
