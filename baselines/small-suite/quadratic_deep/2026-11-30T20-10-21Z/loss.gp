# Renders loss.svg and loss.png from loss.dat: run `gnuplot loss.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "loss"
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
  set label 98 "loss per epoch (log scale)" at screen 0.5,0.9610 center font ",12"
  set origin 0.0000,0.1171
  set size 0.5000,0.8049
  unset key
  set title "loss"
  set xlabel "epoch"
  set ylabel "loss"
  set xtics 1
  set logscale y
  set yrange [254.32989565482754:415.2417613195074]
  set ytics ("260" 260, "280" 280, "300" 300, "320" 320, "340" 340, "360" 360, "380" 380, "400" 400)
  set offsets 0, 0, 0, 0
  plot 'loss.dat' using 1:3:4 with filledcurves fillcolor rgb "#9400d3" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:6:7 with filledcurves fillcolor rgb "#009e73" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:9:10 with filledcurves fillcolor rgb "#56b4e9" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:12:13 with filledcurves fillcolor rgb "#e69f00" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:15:16 with filledcurves fillcolor rgb "#0072b2" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:2 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#9400d3" title "SGD", \
       'loss.dat' using 1:5 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#009e73" title "Momentum", \
       'loss.dat' using 1:8 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#56b4e9" title "Adam", \
       'loss.dat' using 1:11 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#e69f00" title "RMSprop", \
       'loss.dat' using 1:14 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#0072b2" title "Adagrad"
  unset label 98
  set origin 0.5000,0.1171
  set size 0.5000,0.8049
  unset key
  set title "val_loss"
  set xlabel "epoch"
  set ylabel "val_loss"
  set xtics 1
  set logscale y
  set yrange [255.79188484705946:314.8158428522708]
  set ytics ("260" 260, "270" 270, "280" 280, "290" 290, "300" 300, "310" 310)
  set offsets 0, 0, 0, 0
  plot 'loss.dat' using 1:18:19 with filledcurves fillcolor rgb "#9400d3" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:21:22 with filledcurves fillcolor rgb "#009e73" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:24:25 with filledcurves fillcolor rgb "#56b4e9" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:27:28 with filledcurves fillcolor rgb "#e69f00" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:30:31 with filledcurves fillcolor rgb "#0072b2" fillstyle transparent solid 0.2 noborder notitle, \
       'loss.dat' using 1:17 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#9400d3" notitle, \
       'loss.dat' using 1:20 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#009e73" notitle, \
       'loss.dat' using 1:23 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#56b4e9" notitle, \
       'loss.dat' using 1:26 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#e69f00" notitle, \
       'loss.dat' using 1:29 with linespoints pointtype 7 pointsize 0.5 linewidth 2 linecolor rgb "#0072b2" notitle
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
  set label 99 "lines: mean over 3 seeds; bands: min-max over seeds" at screen 0.5,0.0244 center font ",9"
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
