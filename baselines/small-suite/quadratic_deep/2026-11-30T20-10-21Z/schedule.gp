# Renders schedule.svg and schedule.png from schedule.dat: run `gnuplot schedule.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "schedule"
set datafile separator "\t"
set datafile missing "NaN"
set key autotitle columnhead
set grid
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 1100,394 noenhanced font "sans,11" background rgb "white"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 1100,394 noenhanced font "sans,10" background rgb "white"
    } else {
      set terminal png size 1100,394 noenhanced
    }
  }
  set output out.".".fmt

  set multiplot
  set label 98 "the schedules applied" at screen 0.5,0.9594 center font ",12"
  set origin 0.0000,0.0812
  set size 1.0000,0.8376
  unset key
  set title "lr against step"
  set xlabel "step"
  set ylabel "lr"
  set xtics autofreq
  set logscale y
  set yrange [0.0006765231239601266:0.1874481972732601]
  set ytics ("0.001" 0.001, "0.002" 0.002, "0.005" 0.005, "0.01" 0.01, "0.02" 0.02, "0.05" 0.05, "0.1" 0.1)
  set offsets 0, 0, 0, 0
  plot 'schedule.dat' using 1:2 with lines linewidth 2 linecolor rgb "#9400d3" title "SGD", \
       'schedule.dat' using 1:3 with lines linewidth 2 linecolor rgb "#009e73" title "Momentum", \
       'schedule.dat' using 1:4 with lines linewidth 2 linecolor rgb "#56b4e9" title "Adam", \
       'schedule.dat' using 1:5 with lines linewidth 2 linecolor rgb "#e69f00" title "RMSprop", \
       'schedule.dat' using 1:6 with lines linewidth 2 linecolor rgb "#0072b2" title "Adagrad"
  unset label 98
  set origin 0,0
  set size 1,0.0812
  unset logscale
  unset border
  unset tics
  unset title
  unset xlabel
  unset ylabel
  unset grid
  set xrange [0:1]
  set yrange [0:1]
  set lmargin 0
  set rmargin 0
  set tmargin 0
  set bmargin 0
  set key at screen 0.5,0.0711 center top horizontal maxrows 1 samplen 3 width 4
  plot 2 with lines linewidth 2 linecolor rgb "#9400d3" title "SGD", 2 with lines linewidth 2 linecolor rgb "#009e73" title "Momentum", 2 with lines linewidth 2 linecolor rgb "#56b4e9" title "Adam", 2 with lines linewidth 2 linecolor rgb "#e69f00" title "RMSprop", 2 with lines linewidth 2 linecolor rgb "#0072b2" title "Adagrad"
  unset label 99
  set grid
  set border
  set tics
  set autoscale
  set lmargin -1
  set rmargin -1
  set tmargin -1
  set bmargin -1
  unset multiplot
  unset output
}
