-- The plots of a comparison: .dat data and .gp gnuplot scripts, rendered to SVG and PNG.
local base = require "report.base"
local report, q, finite = base.report, base.q, base.finite

---------------------------------------------------------------- plots

report.PLOTS = { "accuracy", "loss", "time" }

local function dat_cell(v)
  if v == nil or not finite(v) then return "NaN" end
  return report.num(v)
end

-- Tab-separated: labels may hold spaces and commas.
local function curves_dat(summary, metrics)
  local maxe = 0
  for _, s in ipairs(summary) do maxe = math.max(maxe, s.epochs or 0) end
  local head = { "epoch" }
  for _, k in ipairs(metrics) do
    for _, s in ipairs(summary) do head[#head + 1] = s.display end
  end
  local lines = { "# " .. table.concat(metrics, ", ") .. " per epoch (mean over seeds), one column per optimizer",
                  table.concat(head, "\t") }
  for e = 1, maxe do
    local row = { tostring(e) }
    for _, k in ipairs(metrics) do
      for _, s in ipairs(summary) do row[#row + 1] = dat_cell(s.curve[k] and s.curve[k][e]) end
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  return table.concat(lines, "\n") .. "\n", maxe
end

local function gp_str(s) return '"' .. tostring(s):gsub('[\\"]', "\\%0") .. '"' end

local GP_HEAD = [[
# Renders %s.svg and %s.png from %s.dat: run `gnuplot %s.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "%s"
set datafile separator "\t"
set datafile missing "NaN"
set key autotitle columnhead
set grid
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
]]

local function gp_head(name, w, h)
  return string.format(GP_HEAD, name, name, name, name, name, w, h, w, h, w, h)
end

-- present[m]: metric m has finite values (gnuplot fails on an all-NaN panel).
local function curves_gp(name, title, metrics, present, n, logscale, epochs)
  local lines = { gp_head(name, 1100, 440) }
  if epochs <= 20 then lines[#lines + 1] = '  set xtics 1' end
  local shown = 0
  for _, k in ipairs(metrics) do if present[k] then shown = shown + 1 end end
  lines[#lines + 1] = string.format('  set multiplot layout 1,%d title %s', math.max(shown, 1), gp_str(title))
  lines[#lines + 1] = '  set xlabel "epoch"'
  lines[#lines + 1] = logscale and '  set logscale y' or '  unset logscale y'
  lines[#lines + 1] = '  set key below'   -- never over the curves
  for m, k in ipairs(metrics) do
    if present[k] then
      local first = 2 + (m - 1) * n
      lines[#lines + 1] = string.format('  set title %s', gp_str(k))
      lines[#lines + 1] = string.format('  set ylabel %s', gp_str(k))
      lines[#lines + 1] = string.format("  plot for [i=%d:%d] '%s.dat' using 1:i with linespoints pointtype 7 pointsize 0.6 linewidth 2",
                                        first, first + n - 1, name)
    end
  end
  lines[#lines + 1] = '  unset multiplot'
  lines[#lines + 1] = '  unset output'
  lines[#lines + 1] = '}'
  return table.concat(lines, "\n") .. "\n"
end

local function time_dat(summary)
  local lines = { "# optimizer\tmean training seconds (all epochs)\tstd over seeds" }
  for _, s in ipairs(summary) do
    local st = s.stat.seconds
    lines[#lines + 1] = s.display:gsub("\t", " ") .. "\t" .. dat_cell(st and st[1]) .. "\t" .. dat_cell(st and st[2] or 0)
  end
  return table.concat(lines, "\n") .. "\n"
end

local function time_gp(nseeds)
  local lines = { gp_head("time", 800, 460) }
  lines[#lines + 1] = [[
  set key noautotitle
  set title "training time per optimizer"
  set ylabel "seconds"
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
-- is there. Returns { rendered = bool, files = {...}, message = text }.
function report.plots(dir, summary, nseeds, gnuplot)
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
  local text, epochs = curves_dat(summary, { "accuracy", "val_accuracy" })
  put("accuracy.dat", text)
  put("accuracy.gp", curves_gp("accuracy", "accuracy per epoch", { "accuracy", "val_accuracy" }, present, n, false, epochs))
  put("loss.dat", (curves_dat(summary, { "loss", "val_loss" })))
  put("loss.gp", curves_gp("loss", "loss per epoch (log scale)", { "loss", "val_loss" }, present, n, true, epochs))
  local todo = {}
  for _, name in ipairs(report.PLOTS) do
    local has = (name == "time" and present.seconds) or (name == "accuracy" and (present.accuracy or present.val_accuracy)) or
                (name == "loss" and (present.loss or present.val_loss))
    if has then todo[#todo + 1] = name end
  end
  put("time.dat", time_dat(summary))
  put("time.gp", time_gp(nseeds))
  local gp = report.gnuplot_command(gnuplot)
  if not gp or n == 0 then
    local how = "gnuplot is not installed (Debian: apt-get install gnuplot-nox); render the plots with: cd " ..
                q(dir) .. " && for f in *.gp; do gnuplot \"$f\"; done"
    if n == 0 then how = "no finished runs: nothing to plot" end
    return { rendered = false, files = files, message = how }
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
  if #todo < #report.PLOTS then
    return { rendered = true, files = files, message = "some plots have no finite values to draw" }
  end
  return { rendered = true, files = files }
end

