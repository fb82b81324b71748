-- The pictures of a landscape run, as gnuplot scripts beside their data (so
-- anyone can restyle them) and, when gnuplot is installed, rendered:
--   contour.svg/png  the function's contours, one path per optimizer
--   contour.gif      the same, animated: the paths advancing step by step
--   loss.svg/png     f - f* (log scale) or f against the step, per optimizer
-- Data: grid.dat (the function on a grid, for the contours), paths.dat
-- (every optimizer's point at every step, one pair of columns each) and
-- loss.dat. Works on plain data: the run's records and the function's table.
local report = require "report"

local plots = {}

local q = report.shell_quote

-- Distinct colours (Tableau 10), the same optimizer in the same colour everywhere.
plots.COLOURS = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf" }
local function colour(i) return plots.COLOURS[(i - 1) % #plots.COLOURS + 1] end
local function dash(i) return math.floor((i - 1) / #plots.COLOURS) + 1 end

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end
local function gp_str(s) return '"' .. tostring(s):gsub('[\\"]', "\\%0") .. '"' end
local function cell(v) return finite(v) and report.num(v) or "NaN" end

-- A number for a gnuplot script or a tic label: short, and exact enough to draw.
local function g(v) return string.format("%.6g", v) end

---------------------------------------------------------------- data files

-- The function on an m x m grid over the window, as gnuplot's nonuniform
-- matrix: the first row is m then the x values, each next row a y value
-- and the z values along x. z is log10(f - fmin) for "log" contours.
-- Returns the text and z's finite range.
function plots.grid(fn, window, m)
  local tensor = require "tensor"
  local xw, yw = window[1], window[2]
  local xs, ys = {}, {}
  for i = 1, m do
    xs[i] = xw[1] + (xw[2] - xw[1]) * (i - 1) / (m - 1)
    ys[i] = yw[1] + (yw[2] - yw[1]) * (i - 1) / (m - 1)
  end
  local X, Y = {}, {}
  for j = 1, m do
    X[j], Y[j] = {}, {}
    for i = 1, m do X[j][i], Y[j][i] = xs[i], ys[j] end
  end
  local coords = { tensor.from(X), tensor.from(Y) }
  -- the other coordinates of an n-D function at their first minimum (or 0)
  for d = 3, fn.dims do
    local v = fn.minima and fn.minima[1] and fn.minima[1][d] or 0
    coords[d] = tensor.full({ m, m }, v)
  end
  local z = tensor.no_grad(function() return fn.f(coords) end):totable()
  local log = fn.contours == "log"
  local floor = math.huge
  if log then
    for j = 1, m do
      for i = 1, m do
        local d = z[j][i] - (fn.fmin or 0)
        if finite(d) and d > 0 and d < floor then floor = d end
      end
    end
    if floor == math.huge then floor = 1e-12 end
  end
  local lo, hi = math.huge, -math.huge
  local head = { tostring(m) }
  for i = 1, m do head[#head + 1] = g(xs[i]) end
  local lines = { "# " .. (log and "log10(f - fmin)" or "f") .. " on a grid (gnuplot's nonuniform matrix)",
                  table.concat(head, " ") }
  for j = 1, m do
    local row = { g(ys[j]) }
    for i = 1, m do
      local v = z[j][i]
      if log and finite(v) then v = math.log(math.max(v - (fn.fmin or 0), floor), 10) end
      if finite(v) then
        if v < lo then lo = v end
        if v > hi then hi = v end
        row[#row + 1] = string.format("%.5g", v)
      else
        row[#row + 1] = "NaN"
      end
    end
    lines[#lines + 1] = table.concat(row, " ")
  end
  return table.concat(lines, "\n") .. "\n", lo, hi
end

-- The steps a plot's data keeps: all of them up to `max` rows, else every
-- k-th and the last (gnuplot reads paths.dat once per frame of the GIF).
function plots.rows(steps, max)
  local stride = math.max(1, math.ceil((steps + 1) / max))
  local out = {}
  for k = 0, steps, stride do out[#out + 1] = k end
  if out[#out] ~= steps then out[#out + 1] = steps end
  return out
end

-- paths.dat: step, then x and y of each optimizer (NaN after it stopped);
-- one row per step of `rows`.
function plots.paths(runs, rows)
  local head = { "step" }
  for _, r in ipairs(runs) do
    local l = r.display:gsub("%s", "_")
    head[#head + 1] = l .. "_x"
    head[#head + 1] = l .. "_y"
  end
  local lines = { "# the point of every optimizer at every step (NaN once it stopped)", "# " .. table.concat(head, "\t") }
  for _, k in ipairs(rows) do
    local row = { tostring(k) }
    for _, r in ipairs(runs) do
      local p = r.points[k + 1]
      row[#row + 1] = cell(p and p[1])
      row[#row + 1] = cell(p and p[2])
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- loss.dat: step, then f - fmin (or f) of each optimizer; a gap that is not
-- positive cannot be drawn on the log scale and is NaN. Returns the text and
-- the finite range of what is drawn.
function plots.loss(runs, rows, fmin)
  local head = { "step" }
  for _, r in ipairs(runs) do head[#head + 1] = r.display end
  local lines = { "# " .. (fmin and "f - f* (f* = " .. report.num(fmin) .. ")" or "f") ..
                  " of every optimizer at every step", "# " .. table.concat(head, "\t") }
  local lo, hi = math.huge, -math.huge
  for _, k in ipairs(rows) do
    local row = { tostring(k) }
    for _, r in ipairs(runs) do
      local v = r.f[k + 1]
      if v ~= nil and fmin then v = v - fmin; if not (v > 0) then v = 0 / 0 end end
      if finite(v) then lo, hi = math.min(lo, v), math.max(hi, v) end
      row[#row + 1] = cell(v)
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  return table.concat(lines, "\n") .. "\n", lo, hi
end

---------------------------------------------------------------- scripts

local HEAD = [[
# Renders %s from %s: run `gnuplot %s.gp` in this folder.
# Restyle freely; optlab wrote this file and the data beside it.
if (!exists("out")) out = "%s"
set datafile missing "NaN"
]]


-- Contour levels: the count - 1 inner edges of `count` equal bands of z's
-- range, so the lines bound the heat map's bands (palette maxcolors count).
local function levels(lo, hi, count)
  local out = {}
  if not (finite(lo) and finite(hi)) or hi <= lo then return "5" end
  for i = 1, count - 1 do out[i] = g(lo + (hi - lo) * i / count) end
  return "discrete " .. table.concat(out, ", ")
end

-- Shared by the still and the animation: the contour lines into a table,
-- the ranges, the heat map's palette.
local function contour_setup(fn, window, zlo, zhi)
  -- a flat (or nowhere finite) function still gets a colour range
  if not (finite(zlo) and finite(zhi)) then zlo, zhi = 0, 1 end
  if zhi <= zlo then zlo, zhi = zlo - 1, zhi + 1 end
  local bands = fn.contours == "log" and 18 or 16
  return table.concat({
    "# the contour lines, traced once into contour_lines.dat",
    "set contour base", "unset surface", "set view map",
    "set cntrparam levels " .. levels(zlo, zhi, bands),
    "set table 'contour_lines.dat'",
    "splot 'grid.dat' nonuniform matrix using 1:2:3 with lines notitle",
    "unset table", "unset contour", "set surface",
    string.format("set xrange [%s:%s]", g(window[1][1]), g(window[1][2])),
    string.format("set yrange [%s:%s]", g(window[2][1]), g(window[2][2])),
    -- filled bands between the lines; few colours also keep the GIF small
    "set palette defined (0 '#fbfbfd', 1 '#e3ebf3', 2 '#bccfe0', 3 '#8fb0cc') maxcolors " .. bands,
    string.format("set cbrange [%s:%s]", g(zlo), g(zhi)),
    "set xlabel 'x'", "set ylabel 'y'",
  }, "\n") .. "\n"
end

-- Marks: the start (black circle), the minima (black stars), other
-- stationary points (black crosses); each a plot element.
local function marks(fn, start)
  local out = {}
  out[#out + 1] = string.format("'+' using (%s):(%s) every ::0::0 with points pointtype 7 pointsize 1.4 lc rgb 'black' title 'start'",
                                g(start[1]), g(start[2]))
  for i, m in ipairs(fn.minima or {}) do
    out[#out + 1] = string.format("'+' using (%s):(%s) every ::0::0 with points pointtype 3 pointsize 2.2 lw 2 lc rgb 'black' %s",
                                  g(m[1]), g(m[2]), i == 1 and "title 'minimum'" or "notitle")
  end
  for i, m in ipairs(fn.stationary or {}) do
    out[#out + 1] = string.format("'+' using (%s):(%s) every ::0::0 with points pointtype 2 pointsize 2 lw 2 lc rgb 'black' %s",
                                  g(m[1]), g(m[2]), i == 1 and "title 'stationary point'" or "notitle")
  end
  return out
end

local function path_element(i, r, upto)
  local every = upto and (" every ::0::" .. upto) or ""
  return string.format("'paths.dat' using %d:%d%s with lines lw 2.5 dt %d lc rgb '%s' title %s",
                       2 * i, 2 * i + 1, every, dash(i), colour(i), gp_str(r.display))
end

-- contour.gp: the still picture (SVG and PNG).
function plots.contour_gp(fn, window, start, runs, zlo, zhi, title)
  local lines = { string.format(HEAD, "contour.svg and contour.png", "grid.dat and paths.dat", "contour", "contour") }
  lines[#lines + 1] = contour_setup(fn, window, zlo, zhi)
  lines[#lines + 1] = string.format("set title %s", gp_str(title))
  lines[#lines + 1] = "set cblabel " .. gp_str(fn.contours == "log" and "log10(f - f*)" or "f") .. " offset 1.5,0"
  lines[#lines + 1] = "set key outside right top box opaque"
  lines[#lines + 1] = report.gp_formats(1000, 720)
  local els = { "'grid.dat' nonuniform matrix using 1:2:3 with image notitle",
                "'contour_lines.dat' using 1:2 with lines lw 0.8 lc rgb '#7a8a99' notitle" }
  for i, r in ipairs(runs) do els[#els + 1] = path_element(i, r) end
  for _, m in ipairs(marks(fn, start)) do els[#els + 1] = m end
  lines[#lines + 1] = "  plot " .. table.concat(els, ", \\\n       ")
  lines[#lines + 1] = "  unset output"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

-- The steps shown in the frames of the animation: at most `frames`, the
-- first and the last included, then the last held for a second.
function plots.frame_steps(steps, frames)
  local out = {}
  local n = math.min(frames, steps + 1)
  for f = 0, n - 1 do
    local s = n == 1 and steps or math.floor(steps * f / (n - 1) + 0.5)
    if out[#out] ~= s then out[#out + 1] = s end
  end
  return out
end

-- contour.gif: the paths advancing; frames show the paths up to their step
-- and each optimizer's current point.
function plots.animation_gp(fn, window, start, runs, zlo, zhi, title, rows)
  local steps = rows[#rows]
  local frame = plots.frame_steps(#rows - 1, 80)   -- row indices of paths.dat
  local lines = { string.format(HEAD, "contour.gif", "grid.dat and paths.dat", "animation", "contour") }
  lines[#lines + 1] = contour_setup(fn, window, zlo, zhi)
  lines[#lines + 1] = "unset colorbox"
  lines[#lines + 1] = "set key outside right top box opaque"
  -- optimize: each frame stores only what changed (a tenth of the size); it
  -- drops a frame equal to the one before, so the held last frame pulses
  lines[#lines + 1] = "set terminal gif animate delay 8 loop 0 optimize size 720,520 noenhanced font 'sans,10'"
  lines[#lines + 1] = "set output out.'.gif'"
  local list, label = {}, {}
  for i, r in ipairs(frame) do list[i], label[i] = tostring(r), tostring(rows[r + 1]) end
  -- the last frame held for about a second
  for _ = 1, 12 do list[#list + 1], label[#label + 1] = list[#frame], label[#frame] end
  lines[#lines + 1] = "frames = " .. gp_str(table.concat(list, " "))
  lines[#lines + 1] = "steps = " .. gp_str(table.concat(label, " "))
  lines[#lines + 1] = "moving = " .. #frame
  lines[#lines + 1] = "do for [i=1:words(frames)] {"
  lines[#lines + 1] = "  s = int(word(frames, i))"
  lines[#lines + 1] = "  ps = (i > moving && (i - moving) % 2 == 1) ? 2.0 : 1.3"
  lines[#lines + 1] = "  set title sprintf(" .. gp_str(title:gsub("%%", "%%%%") .. ": step %d of " .. steps) ..
                      ", int(word(steps, i)))"
  local els = { "'grid.dat' nonuniform matrix using 1:2:3 with image notitle",
                "'contour_lines.dat' using 1:2 with lines lw 0.8 lc rgb '#7a8a99' notitle" }
  for i, r in ipairs(runs) do
    els[#els + 1] = path_element(i, r, "s")
    els[#els + 1] = string.format("'paths.dat' using %d:%d every ::s::s with points pointtype 7 pointsize ps lc rgb '%s' notitle",
                                  2 * i, 2 * i + 1, colour(i))
  end
  for _, m in ipairs(marks(fn, start)) do els[#els + 1] = m end
  lines[#lines + 1] = "  plot " .. table.concat(els, ", \\\n       ")
  lines[#lines + 1] = "}"
  lines[#lines + 1] = "unset output"
  return table.concat(lines, "\n") .. "\n"
end

-- Tic labels a reader takes in at a glance: 0.001, 0.1, 10, 1000, 1e-06, 1e+05.
local function decade_label(e)
  if e >= -3 and e <= 4 then return g(10 ^ e) end
  return string.format("1e%d", e)
end

-- Log-axis tics over whole decades around [lo, hi]: report.log_tics's
-- choice (at least four readable labels), the decades' labels as 10^e.
function plots.log_tics(lo, hi)
  local e0, e1 = math.floor(math.log(lo, 10) + 1e-9), math.ceil(math.log(hi, 10) - 1e-9)
  if e1 <= e0 then e1 = e0 + 1 end
  local out = {}
  for _, v in ipairs(report.log_tics(10 ^ e0, 10 ^ e1)) do
    local e = math.log(v, 10)
    local label = math.abs(e - math.floor(e + 0.5)) < 1e-9 and decade_label(math.floor(e + 0.5)) or string.format("%g", v)
    out[#out + 1] = string.format('"%s" %s', label, g(v))
  end
  return "(" .. table.concat(out, ", ") .. ")", 10 ^ e0, 10 ^ e1
end

-- A signed log axis for f spanning many decades of both signs (a function
-- unbounded below): y = sign(f) log10(1 + |f|), tics at 0 and +-10^e
-- labelled with f's own values.
function plots.symlog_tics(lo, hi)
  local function y(v) return (v < 0 and -1 or 1) * math.log(1 + math.abs(v), 10) end
  local top = math.ceil(math.log(math.max(math.abs(lo), math.abs(hi), 1), 10))
  local every = math.max(1, math.ceil((top + 1) / 5))
  local out = { '"0" 0' }
  for e = 0, top, every do
    local v = 10 ^ e
    if hi >= v / 10 then out[#out + 1] = string.format('"%s" %s', decade_label(e), g(y(v))) end
    if lo <= -v / 10 then out[#out + 1] = string.format('"-%s" %s', decade_label(e), g(y(-v))) end
  end
  return "(" .. table.concat(out, ", ") .. ")"
end

-- loss.gp: f - f* against the step (log scale) when f* is known, else f
-- (on a signed log scale when it spans more than two decades).
function plots.loss_gp(runs, fmin, lo, hi, title, steps)
  local lines = { string.format(HEAD, "loss.svg and loss.png", "loss.dat", "loss", "loss") }
  lines[#lines + 1] = "set datafile separator '\\t'"
  lines[#lines + 1] = "set grid"
  lines[#lines + 1] = "set key outside right top"
  lines[#lines + 1] = "set xlabel 'step'"
  lines[#lines + 1] = string.format("set xrange [0:%d]", steps)
  lines[#lines + 1] = string.format("set title %s", gp_str(title))
  if fmin and finite(lo) and finite(hi) then
    lines[#lines + 1] = "set logscale y"
    lines[#lines + 1] = "set ylabel 'f - f* (log scale)'"
    local tics, ylo, yhi = plots.log_tics(lo, hi)
    lines[#lines + 1] = "set ytics " .. tics
    lines[#lines + 1] = string.format("set yrange [%s:%s]", g(ylo), g(yhi))
  end
  local symlog = not fmin and finite(lo) and finite(hi) and math.max(math.abs(lo), math.abs(hi)) > 100
  if symlog then
    lines[#lines + 1] = "set ylabel 'f (signed log scale: sign(f) log10(1 + |f|))'"
    lines[#lines + 1] = "set ytics " .. plots.symlog_tics(lo, hi)
  elseif not fmin then
    lines[#lines + 1] = "set ylabel 'f'"
  end
  lines[#lines + 1] = report.gp_formats(900, 520)
  local els = {}
  for i, r in ipairs(runs) do
    local col = symlog and string.format("(sgn(column(%d)) * log10(1 + abs(column(%d))))", i + 1, i + 1) or tostring(i + 1)
    els[#els + 1] = string.format("'loss.dat' using 1:%s with lines lw 2 dt %d lc rgb '%s' title %s", col, dash(i),
                                  colour(i), gp_str(r.display))
  end
  lines[#lines + 1] = "  plot " .. table.concat(els, ", \\\n       ")
  lines[#lines + 1] = "  unset output"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

---------------------------------------------------------------- rendering

-- Runs `gnuplot name.gp` in dir for each job { gp = name, outputs = {...} };
-- the outputs appear under their names only when gnuplot succeeded.
-- Returns { rendered = bool, files = {...}, message = text or nil }.
function plots.render(dir, jobs, gnuplot)
  local gp = report.gnuplot_command(gnuplot)
  if not gp then
    return { rendered = false, files = {}, message = "gnuplot is not installed (Debian: apt-get install gnuplot-nox); " ..
             "render the pictures with: cd " .. q(dir) .. " && for f in *.gp; do gnuplot \"$f\"; done" }
  end
  local files, errors = {}, {}
  for _, job in ipairs(jobs) do
    local tmp = ".part-" .. job.gp
    local logname = ".gnuplot-" .. job.gp .. ".log"
    local how, code = report.exec_result(os.execute("cd " .. q(dir) .. " && " .. q(gp) .. " -e " ..
      q("out='" .. tmp .. "'") .. " " .. q(job.gp .. ".gp") .. " > " .. q(logname) .. " 2>&1"))
    local ok = how == "exit" and code == 0
    for _, ext in ipairs(job.outputs) do
      local from, to = dir .. "/" .. tmp .. "." .. ext, dir .. "/" .. job.name .. "." .. ext
      if ok and report.exists(from) then
        os.rename(from, to)
        files[#files + 1] = job.name .. "." .. ext
      else
        os.remove(from)
      end
    end
    if not ok then
      local last = ((report.read_file(dir .. "/" .. logname) or "?"):gsub("%s+$", "")):match("([^\n]*)$")
      errors[#errors + 1] = job.gp .. ".gp: " .. last
    end
    os.remove(dir .. "/" .. logname)
    if how == "signal" and code == 2 then errors[#errors + 1] = "interrupted (Ctrl-C)"; break end
  end
  if #errors > 0 then return { rendered = false, files = files, message = "gnuplot failed: " .. table.concat(errors, "; ") } end
  return { rendered = true, files = files }
end

return plots
