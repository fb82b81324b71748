# Renders steps.svg and steps.png from steps.dat: run `gnuplot steps.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "steps"
set datafile separator "\t"
set datafile missing "NaN"
set key autotitle columnhead
set grid
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 1100,410 noenhanced font "sans,11" background rgb "white"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 1100,410 noenhanced font "sans,10" background rgb "white"
    } else {
      set terminal png size 1100,410 noenhanced
    }
  }
  set output out.".".fmt

  set multiplot
  set label 98 "minibatch loss per step (log scale)" at screen 0.5,0.9610 center font ",12"
  set origin 0.0000,0.1171
  set size 0.5000,0.8049
  unset key
  set title "loss against step"
  set xlabel "step"
  set ylabel "loss"
  set xtics autofreq
  set logscale y
  set yrange [170.94371638515415:541.4571851066634]
  set ytics ("200" 200, "300" 300, "400" 400, "500" 500)
  set offsets 0, 0, 0, 0
  plot 'steps.dat' using 1:3 with lines linewidth 1 linecolor rgb "#A09400d3" notitle, \
       'steps.dat' using 1:8 with lines linewidth 1 linecolor rgb "#A0009e73" notitle, \
       'steps.dat' using 1:13 with lines linewidth 1 linecolor rgb "#A056b4e9" notitle, \
       'steps.dat' using 1:18 with lines linewidth 1 linecolor rgb "#A0e69f00" notitle, \
       'steps.dat' using 1:23 with lines linewidth 1 linecolor rgb "#A00072b2" notitle, \
       'steps.dat' using 1:4:5 with filledcurves fillcolor rgb "#9400d3" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using 1:9:10 with filledcurves fillcolor rgb "#009e73" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using 1:14:15 with filledcurves fillcolor rgb "#56b4e9" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using 1:19:20 with filledcurves fillcolor rgb "#e69f00" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using 1:24:25 with filledcurves fillcolor rgb "#0072b2" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using 1:2 with lines linewidth 2 linecolor rgb "#9400d3" title "SGD", \
       'steps.dat' using 1:7 with lines linewidth 2 linecolor rgb "#009e73" title "Momentum", \
       'steps.dat' using 1:12 with lines linewidth 2 linecolor rgb "#56b4e9" title "Adam", \
       'steps.dat' using 1:17 with lines linewidth 2 linecolor rgb "#e69f00" title "RMSprop", \
       'steps.dat' using 1:22 with lines linewidth 2 linecolor rgb "#0072b2" title "Adagrad"
  unset label 98
  set origin 0.5000,0.1171
  set size 0.5000,0.8049
  unset key
  set title "loss against training time"
  set xlabel "training seconds"
  set ylabel "loss"
  set xtics autofreq
  set logscale y
  set yrange [170.94371638515415:541.4571851066634]
  set ytics ("200" 200, "300" 300, "400" 400, "500" 500)
  set offsets 0, 0, 0, 0
  plot 'steps.dat' using (column(6)):3 with lines linewidth 1 linecolor rgb "#A09400d3" notitle, \
       'steps.dat' using (column(11)):8 with lines linewidth 1 linecolor rgb "#A0009e73" notitle, \
       'steps.dat' using (column(16)):13 with lines linewidth 1 linecolor rgb "#A056b4e9" notitle, \
       'steps.dat' using (column(21)):18 with lines linewidth 1 linecolor rgb "#A0e69f00" notitle, \
       'steps.dat' using (column(26)):23 with lines linewidth 1 linecolor rgb "#A00072b2" notitle, \
       'steps.dat' using (column(6)):4:5 with filledcurves fillcolor rgb "#9400d3" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using (column(11)):9:10 with filledcurves fillcolor rgb "#009e73" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using (column(16)):14:15 with filledcurves fillcolor rgb "#56b4e9" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using (column(21)):19:20 with filledcurves fillcolor rgb "#e69f00" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using (column(26)):24:25 with filledcurves fillcolor rgb "#0072b2" fillstyle transparent solid 0.2 noborder notitle, \
       'steps.dat' using (column(6)):2 with lines linewidth 2 linecolor rgb "#9400d3" title "SGD", \
       'steps.dat' using (column(11)):7 with lines linewidth 2 linecolor rgb "#009e73" title "Momentum", \
       'steps.dat' using (column(16)):12 with lines linewidth 2 linecolor rgb "#56b4e9" title "Adam", \
       'steps.dat' using (column(21)):17 with lines linewidth 2 linecolor rgb "#e69f00" title "RMSprop", \
       'steps.dat' using (column(26)):22 with lines linewidth 2 linecolor rgb "#0072b2" title "Adagrad"
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
  set label 99 "smoothed: moving average (bias-corrected EMA); faint: the raw minibatch loss; lines: mean over 3 seeds, bands: min-max over seeds" at screen 0.5,0.0244 center font ",9"
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
