# Renders time.svg and time.png from time.dat: run `gnuplot time.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "time"
set datafile separator "\t"
set datafile missing "NaN"
set key autotitle columnhead
set grid
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size 800,460 noenhanced font "sans,11" background rgb "white"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size 800,460 noenhanced font "sans,10" background rgb "white"
    } else {
      set terminal png size 800,460 noenhanced
    }
  }
  set output out.".".fmt

  set key noautotitle
  set title "training time per optimizer"
  set ylabel "seconds"
  set yrange [0:*]
  set xtics rotate by -25
  set style fill solid 0.6 border -1
  set boxwidth 0.6
  plot 'time.dat' using 0:2:xtic(1) with boxes notitle, '' using 0:2:3 with yerrorbars pointtype 0 notitle
  unset output
}
