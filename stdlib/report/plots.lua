-- The plots of a comparison: .dat data and .gp gnuplot scripts, rendered to SVG and PNG.
local base = require "report.base"
local report, q, finite = base.report, base.q, base.finite

---------------------------------------------------------------- plots

report.PLOTS = { "accuracy", "loss", "time" }

local function dat_cell(v)
  if v == nil or not finite(v) then return "NaN" end
  return report.num(v)
end

-- One colour per optimizer, the same in every plot (gnuplot's default cycle, which
-- the bands and faint raw curves need spelled out).
local PALETTE = { "#9400d3", "#009e73", "#56b4e9", "#e69f00", "#0072b2", "#e51e10", "#f0e442", "#000000",
                  "#8c564b", "#7f7f7f" }
local function color(i) return PALETTE[(i - 1) % #PALETTE + 1] end
-- gnuplot's "#AARRGGBB": AA is the transparency
local function faint(i) return "#A0" .. color(i):sub(2) end

local function gp_str(s) return '"' .. tostring(s):gsub('[\\"]', "\\%0") .. '"' end

local GP_HEAD = [[
# Renders %s.svg and %s.png from %s.dat: run `gnuplot %s.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "%s"
set datafile separator "\t"
set datafile missing "NaN"
set key autotitle columnhead
set grid
]]

-- The loop that draws a plot twice, as SVG and as PNG (pngcairo when there,
-- else libgd's png), of w x h pixels; the plot commands follow, then "}".
function report.gp_formats(w, h)
  return string.format([[
do for [fmt in "svg png"] {
  if (fmt eq "svg") {
    set terminal svg size %d,%d noenhanced font "sans,11" background rgb "white"
  } else {
    if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
      set terminal pngcairo size %d,%d noenhanced font "sans,10" background rgb "white"
    } else {
      set terminal png size %d,%d noenhanced
    }
  }
  set output out.".".fmt
]], w, h, w, h, w, h)
end

local function gp_head(name, w, h)
  return string.format(GP_HEAD, name, name, name, name, name) .. report.gp_formats(w, h)
end

-- Ticks for a log axis over [lo, hi] (lo > 0): whole decades when the range spans
-- many, 1-2-5 or finer within fewer, and evenly spaced round values when the range is
-- narrower than that, so that an axis always carries at least four labelled ticks.
local TIC_SETS = { { 1 }, { 1, 2, 5 }, { 1, 2, 3, 5 }, { 1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9 } }
function report.log_tics(lo, hi)
  if not (finite(lo) and finite(hi) and lo > 0 and hi >= lo) then return nil end
  local d0, d1 = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10))
  local every = math.max(1, math.ceil((d1 - d0) / 10))      -- at most about ten decades labelled
  for _, set in ipairs(TIC_SETS) do
    local t = {}
    for d = d0, d1 do
      if (d - d0) % every == 0 or #set > 1 then
        for _, m in ipairs(set) do
          local v = tonumber(string.format("%.6g", m * 10 ^ d))
          if v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) then t[#t + 1] = v end
        end
      end
    end
    if #t >= 4 then return t end
  end
  local step = (hi - lo) / 5
  local e = 10 ^ math.floor(math.log(step, 10))
  local m = step / e
  step = (m < 1.5 and 1 or m < 3.5 and 2 or m < 7.5 and 5 or 10) * e
  local t = {}
  for k = math.ceil(lo / step), math.floor(hi / step) do t[#t + 1] = tonumber(string.format("%.6g", k * step)) end
  return t
end

-- A range tracker: add values, then the gnuplot lines of a log y axis with readable
-- ticks over them (a little headroom either side), or nil when a value is not positive.
local function range()
  return { lo = math.huge, hi = -math.huge, nonpos = false, n = 0 }
end
local function widen(r, v)
  if not finite(v) then return end
  r.n = r.n + 1
  if v <= 0 then r.nonpos = true return end
  r.lo, r.hi = math.min(r.lo, v), math.max(r.hi, v)
end
local function log_axis(r, axis, positive_only)
  axis = axis or "y"
  if r.n == 0 or (r.nonpos and not positive_only) or r.hi < r.lo then return nil end
  local lo, hi = r.lo, r.hi
  if hi == lo then lo, hi = lo / 1.25, hi * 1.25 end
  local pad = (hi / lo) ^ 0.04
  lo, hi = lo / pad, hi * pad
  local tics = report.log_tics(lo, hi)
  local parts = {}
  for _, v in ipairs(tics) do parts[#parts + 1] = string.format('"%s" %s', string.format("%g", v), report.num(v)) end
  return string.format("  set logscale %s\n  set %srange [%s:%s]\n  set %stics (%s)", axis, axis, report.num(lo), report.num(hi),
                       axis, table.concat(parts, ", "))
end
report._log_axis = log_axis

-- A figure of panels (rows x cols) with one legend below them all: panels =
-- { {title, xlabel, ylabel, y = range (log when it can be), ylog = false to keep it
-- linear or "positive" for a log axis that leaves non-positive values out, yrange = "[lo:hi]" for a
-- fixed linear one, xlog = a range for a log x axis (a learning rate), xtics_1 = true,
-- clauses = {plot clauses}} }; labels: the legend's entries
-- (optimizer i in colour i), drawn by a last full-width plot of its own: a key inside
-- a panel is only as wide as the panel and would stack its entries.
local PANEL_H, TOP = 330, 32
local function figure_gp(name, title, w, panels, cols, labels, note)
  local rows = math.ceil(#panels / cols)
  local maxlen = 0
  for _, l in ipairs(labels) do maxlen = math.max(maxlen, compat.utf8_len(l)) end
  local kcols = math.max(1, math.min(#labels, math.floor((w - 40) / ((maxlen + 7) * 7.5))))
  local krows = math.ceil(#labels / kcols)
  -- a note longer than the figure is wide goes on two lines, split at the "; " nearest its middle
  local note_lines = 0
  if note then
    note_lines = 1
    if compat.utf8_len(note) * 6.3 > w - 20 then
      local best
      for at in note:gmatch("()%; ") do
        if not best or math.abs(at - #note / 2) < math.abs(best - #note / 2) then best = at end
      end
      if best then note = { note:sub(1, best), note:sub(best + 2) }; note_lines = 2 end
    end
  end
  local legend = krows * 18 + 14 + note_lines * 16
  local h = TOP + rows * PANEL_H + legend
  local lines = { gp_head(name, w, h) }
  lines[#lines + 1] = "  set multiplot"
  lines[#lines + 1] = string.format("  set label 98 %s at screen 0.5,%.4f center font \",12\"", gp_str(title), 1 - 16 / h)
  for p, panel in ipairs(panels) do
    local r, c = math.floor((p - 1) / cols), (p - 1) % cols
    lines[#lines + 1] = string.format("  set origin %.4f,%.4f\n  set size %.4f,%.4f", c / cols,
                                      (legend + (rows - 1 - r) * PANEL_H) / h, 1 / cols, PANEL_H / h)
    lines[#lines + 1] = "  unset key"
    lines[#lines + 1] = "  set title " .. gp_str(panel.title)
    lines[#lines + 1] = "  set xlabel " .. gp_str(panel.xlabel or "")
    lines[#lines + 1] = "  set ylabel " .. gp_str(panel.ylabel or "")
    lines[#lines + 1] = panel.xtics_1 and "  set xtics 1" or "  set xtics autofreq"
    -- xlog = a range: a log x axis with readable ticks (a learning rate)
    local xax = panel.xlog and log_axis(panel.xlog, "x", true)
    if xax then lines[#lines + 1] = xax end
    local ax = panel.ylog ~= false and panel.y and log_axis(panel.y, "y", panel.ylog == "positive")
    -- a linear axis keeps 5% of headroom either side, so that a constant curve
    -- (a fixed lr) does not lie on the frame
    if ax then lines[#lines + 1] = ax .. "\n  set offsets 0, 0, 0, 0"
    elseif panel.yrange then lines[#lines + 1] = "  unset logscale y\n  set yrange " .. panel.yrange .. "\n  set ytics autofreq\n  set offsets 0, 0, 0, 0"
    else lines[#lines + 1] = "  unset logscale y\n  set yrange [*:*]\n  set ytics autofreq\n  set offsets 0, 0, graph 0.05, graph 0.05" end
    lines[#lines + 1] = "  plot " .. table.concat(panel.clauses, ", \\\n       ")
    if p == 1 then lines[#lines + 1] = "  unset label 98" end
  end
  -- the legend: a plot with no axes whose lines lie outside its range
  lines[#lines + 1] = string.format("  set origin 0,0\n  set size 1,%.4f", legend / h)
  lines[#lines + 1] = "  unset logscale\n  unset border\n  unset tics\n  unset title\n  unset xlabel\n  unset ylabel\n  unset grid"
  lines[#lines + 1] = "  set xrange [0:1]\n  set yrange [0:1]\n  set lmargin 0\n  set rmargin 0\n  set tmargin 0\n  set bmargin 0"
  lines[#lines + 1] = string.format("  set key at screen 0.5,%.4f center top horizontal maxrows %d samplen 3 width 4",
                                    (legend - 4) / h, krows)
  if note then
    local text = type(note) == "table" and (gp_str(note[1]):sub(1, -2) .. "\\n" .. gp_str(note[2]):sub(2)) or gp_str(note)
    lines[#lines + 1] = string.format("  set label 99 %s at screen 0.5,%.4f center font \",9\"", text, (note_lines == 2 and 22 or 10) / h)
  end
  local keyc = {}
  for i, l in ipairs(labels) do
    keyc[i] = string.format("2 with lines linewidth 2 linecolor rgb %q title %s", PALETTE[(i - 1) % #PALETTE + 1], gp_str(l))
  end
  if #keyc == 0 then keyc[1] = "2 notitle" end
  lines[#lines + 1] = "  plot " .. table.concat(keyc, ", ")
  lines[#lines + 1] = "  unset label 99"
  lines[#lines + 1] = "  set grid\n  set border\n  set tics\n  set autoscale\n  set lmargin -1\n  set rmargin -1\n  set tmargin -1\n  set bmargin -1"
  lines[#lines + 1] = "  unset multiplot"
  lines[#lines + 1] = "  unset output"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

-- Plot clauses: a band (min-max over seeds) and a line of optimizer i.
local function band_clause(file, x, lo, hi, i)
  return string.format("'%s' using %s:%d:%d with filledcurves fillcolor rgb %q fillstyle transparent solid 0.2 noborder notitle",
                       file, x, lo, hi, color(i))
end
local function line_clause(file, x, y, i, title, style)
  style = style or "linespoints pointtype 7 pointsize 0.5 linewidth 2"
  return string.format("'%s' using %s:%d with %s linecolor rgb %q %s", file, x, y, style, color(i),
                       title and ("title " .. gp_str(title)) or "notitle")
end
report._plot = { color = color, faint = faint, gp_str = gp_str, range = range, widen = widen, log_axis = log_axis,
                 figure_gp = figure_gp, band_clause = band_clause, line_clause = line_clause }

-- Per-epoch data of some columns: epoch, then per column and optimizer its mean over
-- seeds, min and max (the band). Tab-separated: labels may hold spaces and commas.
-- ranges[k]: the range of column k's values (for its axis).
local function epoch_dat(summary, keys, what)
  local maxe = 0
  for _, s in ipairs(summary) do maxe = math.max(maxe, s.epochs or 0) end
  local head = { "epoch" }
  for _, k in ipairs(keys) do
    for _, s in ipairs(summary) do
      head[#head + 1] = s.display; head[#head + 1] = "min"; head[#head + 1] = "max"
    end
  end
  local lines = { "# " .. what .. " per epoch: per column and optimizer, the mean over seeds, then the min and max over seeds",
                  table.concat(head, "\t") }
  local ranges = {}
  for _, k in ipairs(keys) do ranges[k] = range() end
  for e = 1, maxe do
    local row = { tostring(e) }
    for _, k in ipairs(keys) do
      for _, s in ipairs(summary) do
        local c = s.curve
        local m, lo, hi = c[k] and c[k][e], c[k .. "_min"] and c[k .. "_min"][e], c[k .. "_max"] and c[k .. "_max"][e]
        row[#row + 1] = dat_cell(m); row[#row + 1] = dat_cell(lo or m); row[#row + 1] = dat_cell(hi or m)
        widen(ranges[k], m); widen(ranges[k], lo); widen(ranges[k], hi)
      end
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  return table.concat(lines, "\n") .. "\n", maxe, ranges
end

-- The clauses of per-epoch curves of column number kk among the .dat's columns.
local function epoch_clauses(file, kk, n, nseeds, style_of)
  local out = {}
  if nseeds > 1 then
    for i = 1, n do
      local c = 2 + ((kk - 1) * n + (i - 1)) * 3
      out[#out + 1] = band_clause(file, "1", c + 1, c + 2, i)
    end
  end
  for i = 1, n do
    local c = 2 + ((kk - 1) * n + (i - 1)) * 3
    out[#out + 1] = style_of(i, c)
  end
  return out
end

local function band_note(nseeds)
  return nseeds > 1 and string.format("lines: mean over %d seeds; bands: min-max over seeds", nseeds) or nil
end

-- accuracy.gp / loss.gp: one panel per metric with values, one line per optimizer.
local function curves_gp(name, title, metrics, present, summary, nseeds, logscale, epochs, ranges)
  local n, panels, labels = #summary, {}, {}
  for i, s in ipairs(summary) do labels[i] = s.display end
  for m, k in ipairs(metrics) do
    if present[k] then
      panels[#panels + 1] = { title = k, xlabel = "epoch", ylabel = k, xtics_1 = epochs <= 20,
        y = ranges[k], ylog = logscale,
        clauses = epoch_clauses(name .. ".dat", m, n, nseeds, function(i, c)
          return line_clause(name .. ".dat", "1", c, i, m == 1 and summary[i].display or nil)
        end) }
    end
  end
  if #panels == 0 then panels[1] = { title = "nothing to draw", clauses = { "NaN notitle" } } end
  -- the legend names each optimizer once: the first panel drawn carries the titles
  for m, k in ipairs(metrics) do
    if present[k] and m > 1 and not present[metrics[1]] then
      panels[1].clauses = epoch_clauses(name .. ".dat", m, n, nseeds, function(i, c)
        return line_clause(name .. ".dat", "1", c, i, summary[i].display)
      end)
      break
    end
  end
  return figure_gp(name, title, 1100, panels, #panels, labels, band_note(nseeds))
end

-- Runs that had different thread counts (a comparison hands idle cores to the runs still
-- going) are drawn in core-seconds, seconds x their mean threads: in wall seconds a run that
-- got two cores would look twice as cheap.
local function time_dat(summary, cores)
  local lines = { cores and "# optimizer\tmean training core-seconds (seconds x mean threads, all epochs)\tstd over seeds"
                  or "# optimizer\tmean training seconds (all epochs)\tstd over seeds" }
  for _, s in ipairs(summary) do
    local st, k = s.stat.seconds, cores and s.stat.threads and s.stat.threads[1] or 1
    lines[#lines + 1] = s.display:gsub("\t", " ") .. "\t" .. dat_cell(st and st[1] and st[1] * k) .. "\t" ..
                        dat_cell(st and (st[2] or 0) * k or 0)
  end
  return table.concat(lines, "\n") .. "\n"
end

local function time_gp(nseeds, cores)
  local lines = { gp_head("time", 800, 460) }
  lines[#lines + 1] = cores and [[
  set key noautotitle
  set title "training cost per optimizer (the runs had different thread counts)"
  set ylabel "core-seconds (seconds x threads)"]] or [[
  set key noautotitle
  set title "training time per optimizer"
  set ylabel "seconds"]]
  lines[#lines + 1] = [[
  set yrange [0:*]
  set xtics rotate by -25
  set style fill solid 0.6 border -1
  set boxwidth 0.6]]
  if nseeds > 1 then
    lines[#lines + 1] = "  plot 'time.dat' using 0:2:xtic(1) with boxes notitle, '' using 0:2:3 with yerrorbars pointtype 0 notitle"
  else
    lines[#lines + 1] = "  plot 'time.dat' using 0:2:xtic(1) with boxes notitle"
  end
  lines[#lines + 1] = '  unset output'
  lines[#lines + 1] = '}'
  return table.concat(lines, "\n") .. "\n"
end

-- os.execute's result as ("exit", status) or ("signal", number) on Lua 5.4
-- and on LuaJIT, whose os.execute returns the raw wait status.
function report.exec_result(a, b, c)
  if type(a) == "number" then
    if a % 256 == 0 then return "exit", math.floor(a / 256) end
    return "signal", a % 128
  end
  return b, c
end

-- The gnuplot command to use, or nil when it is not installed.
function report.gnuplot_command(cmd)
  cmd = cmd or "gnuplot"
  local path = report.shell_line("command -v " .. q(cmd))
  return path
end

-- Writes the .dat and .gp of every plot; renders SVG and PNG when gnuplot
-- is there. records (optional): the runs' records, whose per-step logs give the
-- per-step plots. Returns { rendered = bool, files = {...}, names = {plots written},
-- message = text }.
function report.plots(dir, summary, nseeds, gnuplot, records)
  local n = #summary
  local files = {}
  local function put(name, text)
    report.write_file(dir .. "/" .. name, text)
    files[#files + 1] = name
  end
  -- which metrics have something to draw (log scale: positive values)
  local present = {}
  for _, s in ipairs(summary) do
    for k, curve in pairs(s.curve) do
      for _, v in pairs(curve) do
        if finite(v) and (not k:find("loss", 1, true) or v > 0) then present[k] = true end
      end
    end
  end
  for _, s in ipairs(summary) do
    if s.stat.seconds and finite(s.stat.seconds[1]) then present.seconds = true end
  end
  local text, epochs, ranges = epoch_dat(summary, { "accuracy", "val_accuracy" }, "accuracy, val_accuracy")
  put("accuracy.dat", text)
  put("accuracy.gp", curves_gp("accuracy", "accuracy per epoch", { "accuracy", "val_accuracy" }, present, summary, nseeds,
                               false, epochs, ranges))
  text, epochs, ranges = epoch_dat(summary, { "loss", "val_loss" }, "loss, val_loss")
  put("loss.dat", text)
  put("loss.gp", curves_gp("loss", "loss per epoch (log scale)", { "loss", "val_loss" }, present, summary, nseeds,
                           true, epochs, ranges))
  local todo = {}
  for _, name in ipairs(report.PLOTS) do
    local has = (name == "time" and present.seconds) or (name == "accuracy" and (present.accuracy or present.val_accuracy)) or
                (name == "loss" and (present.loss or present.val_loss))
    if has then todo[#todo + 1] = name end
  end
  local base_missing = #todo < #report.PLOTS
  local cores = report.threads_differ(summary)
  put("time.dat", time_dat(summary, cores))
  put("time.gp", time_gp(nseeds, cores))
  -- the per-step plots (steps.csv), the schedules, the diagnostics: when there is something to draw
  local names = {}
  for _, name in ipairs(report.PLOTS) do names[#names + 1] = name end
  for _, name in ipairs(require("report.steps").write(put, summary, records or {}, nseeds)) do
    names[#names + 1] = name
    todo[#todo + 1] = name
  end
  if n == 0 then
    return { rendered = false, files = files, names = names, message = "no finished runs: nothing to plot" }
  end
  local r = report.render(dir, todo, gnuplot, files)
  r.names = names
  if r.rendered and base_missing then r.message = "some plots have no finite values to draw" end
  return r
end

-- Renders dir/<name>.gp to <name>.svg and <name>.png for each name (gnuplot runs in
-- dir; a half-written image never takes the name). files: the list the images are
-- added to. Returns { rendered = bool, files, interrupted = Ctrl-C, message = why not }.
function report.render(dir, todo, gnuplot, files)
  local gp = report.gnuplot_command(gnuplot)
  if not gp then
    return { rendered = false, files = files, message = "gnuplot is not installed (Debian: apt-get install gnuplot-nox); " ..
             "render the plots with: cd " .. q(dir) .. " && for f in *.gp; do gnuplot \"$f\"; done" }
  end
  local errors, interrupted = {}, false
  for _, name in ipairs(todo) do
    local tmp = ".part-" .. name
    -- the command runs inside dir: every path in it is relative to dir
    local logname = ".gnuplot-" .. name .. ".log"
    local log = dir .. "/" .. logname
    local how, code = report.exec_result(os.execute("cd " .. q(dir) .. " && " .. q(gp) .. " -e " ..
                                         q("out='" .. tmp .. "'") .. " " .. q(name .. ".gp") .. " > " .. q(logname) .. " 2>&1"))
    local ok = how == "exit" and code == 0
    -- Ctrl-C reaches gnuplot (system() makes optlab itself ignore it meanwhile)
    if (how == "signal" and code == 2) or (how == "exit" and code == 130) then interrupted = true end
    for _, ext in ipairs { "svg", "png" } do
      local from, to = dir .. "/" .. tmp .. "." .. ext, dir .. "/" .. name .. "." .. ext
      if ok and report.exists(from) then
        os.rename(from, to)
        files[#files + 1] = name .. "." .. ext
      else
        os.remove(from)
      end
    end
    if not ok then
      local last = ((report.read_file(log) or "?"):gsub("%s+$", "")):match("([^\n]*)$")
      errors[#errors + 1] = name .. ".gp: " .. last
    end
    os.remove(log)
    if interrupted then break end
  end
  if interrupted then
    return { rendered = false, files = files, interrupted = true, message = "interrupted (Ctrl-C) while rendering; " ..
             "render them with: cd " .. q(dir) .. " && for f in *.gp; do gnuplot \"$f\"; done" }
  end
  if #errors > 0 then
    return { rendered = false, files = files, message = "gnuplot failed: " .. table.concat(errors, "; ") }
  end
  return { rendered = true, files = files }
end

