# Renders sensitivity.svg and sensitivity.png from sensitivity.dat: run `gnuplot sensitivity.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "sensitivity"
set datafile separator "\t"
set datafile missing "NaN"
set key autotitle columnhead
set grid
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 900,410 noenhanced font "sans,11" background rgb "white"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 900,410 noenhanced font "sans,10" background rgb "white"
    } else {
      set terminal png size 900,410 noenhanced
    }
  }
  set output out.".".fmt

  set multiplot
  set label 98 "hyperparameter sensitivity" at screen 0.5,0.9610 center font ",12"
  set origin 0.0000,0.1171
  set size 1.0000,0.8049
  unset key
  set title "val_loss after 1 epoch against lr (every first-rung trial; its other hyperparameters as trials.csv lists them)"
  set xlabel "learning rate (log scale)"
  set ylabel "val_loss"
  set xtics autofreq
  set logscale x
  set xrange [9.144591997861649e-06:1.322856175850025]
  set xtics ("1e-05" 1e-05, "0.0001" 0.0001, "0.001" 0.001, "0.01" 0.01, "0.1" 0.1, "1" 1)
  unset logscale y
  set yrange [*:*]
  set ytics autofreq
  set offsets 0, 0, graph 0.05, graph 0.05
  plot 'sensitivity.dat' index 0 using 1:2 with linespoints pointtype 7 pointsize 0.8 linewidth 2 linecolor rgb "#9400d3" title "SGD", \
       'sensitivity.dat' index 1 using 1:2 with linespoints pointtype 7 pointsize 0.8 linewidth 2 linecolor rgb "#009e73" title "Momentum", \
       'sensitivity.dat' index 2 using 1:2 with linespoints pointtype 7 pointsize 0.8 linewidth 2 linecolor rgb "#56b4e9" title "Adam", \
       'sensitivity.dat' index 3 using 1:2 with linespoints pointtype 7 pointsize 0.8 linewidth 2 linecolor rgb "#e69f00" title "RMSprop", \
       'sensitivity.dat' index 4 using 1:2 with linespoints pointtype 7 pointsize 0.8 linewidth 2 linecolor rgb "#0072b2" title "Adagrad"
  unset label 98
  set origin 0,0
  set size 1,0.1171
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
  set key at screen 0.5,0.1073 center top horizontal maxrows 1 samplen 3 width 4
  set label 99 "a trial that did not finish (NaN loss) has no point" at screen 0.5,0.0244 center font ",9"
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
