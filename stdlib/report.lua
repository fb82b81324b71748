-- Reports of an optimizer comparison: the printed tables, the run folder's
-- files (metrics.csv, manifest.json, summary.md, gnuplot plots, report.html).
-- Everything here works on plain data (run records with their histories), so
-- it does not need nn, optim or train. Every file is written atomically.
local C = require "optlab.core"
local serial = require "serial"

local report = {}

local function fail(msg) C.raise(msg) end

---------------------------------------------------------------- files, shell

-- Single-quoted for /bin/sh.
function report.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local q = report.shell_quote

-- Write to a temporary name in the same folder, then rename: a reader (or an
-- interrupted run) never sees half a file.
function report.write_file(path, text)
  local tmp = path .. ".part"
  local f, err = io.open(tmp, "wb")
  if not f then fail("report: cannot write '" .. path .. "': " .. tostring(err)) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    fail("report: cannot write '" .. path .. "': " .. tostring(werr or cerr))
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); fail("report: cannot rename '" .. tmp .. "': " .. tostring(rerr)) end
end

function report.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function report.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function report.mkdir_p(dir)
  local ok = os.execute("mkdir -p " .. q(dir))
  if not ok then fail("report: cannot create folder '" .. dir .. "'") end
end

-- First line of a shell command's output, or nil.
function report.shell_line(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  if not p then return nil end
  local line = p:read("l")
  p:close()
  if line == "" then return nil end
  return line
end

-- SHA-256 of a file via coreutils' sha256sum (nil if unreadable).
function report.sha256(path)
  local line = report.shell_line("sha256sum " .. q(path))
  return line and line:match("^(%x+)") or nil
end

---------------------------------------------------------------- numbers

-- Shortest decimal that reads back as the same double (%.17g at most).
function report.num(v)
  if v == nil then return "" end
  if compat.math_type(v) == "integer" then return string.format("%d", v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" elseif v == -math.huge then return "-inf" end
  return serial.shortest(v)
end

-- The inverse of report.num (nil for an empty cell).
function report.parse_num(s)
  if s == nil or s == "" then return nil end
  if s == "nan" or s == "-nan" then return 0 / 0 end
  if s == "inf" then return math.huge elseif s == "-inf" then return -math.huge end
  return tonumber(s)
end

-- Bit-for-bit equality (NaN equals NaN; nil equals nil).
function report.same_bits(a, b)
  if a == nil or b == nil then return a == b end
  if a ~= a and b ~= b then return true end
  if compat.math_type(a) == "integer" and compat.math_type(b) == "integer" then return a == b end
  return compat.same_bits(a, b)
end

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- mean and sample standard deviation (n - 1) of the finite values of a list.
local function mean_std(list)
  local n, s = 0, 0
  local any_nan = false
  for _, v in ipairs(list) do
    if finite(v) then n, s = n + 1, s + v else any_nan = true end
  end
  if n == 0 then return any_nan and 0 / 0 or nil, nil, 0 end
  local m = s / n
  if n == 1 then return m, nil, 1 end
  local ss = 0
  for _, v in ipairs(list) do if finite(v) then ss = ss + (v - m) ^ 2 end end
  return m, math.sqrt(ss / (n - 1)), n
end
report.mean_std = mean_std

---------------------------------------------------------------- JSON

local cjson_ok, cjson = pcall(require, "cjson")

-- (not cjson.encode: it escapes every '/', which makes paths hard to read)
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local map = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t', ['\r'] = '\\r' }
    return map[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t and (n > 0 or getmetatable(t) == report.array_mt)
end
report.array_mt = {}
-- Marks a table as a JSON array even when empty.
function report.array(t) return setmetatable(t or {}, report.array_mt) end

-- Indented JSON with sorted keys (readable and diffable); numbers round-trip.
function report.json(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if not finite(v) then return json_string(report.num(v)) end
    return report.num(v)
  elseif t == "string" then return json_string(v)
  elseif t == "table" then
    local inner = indent .. "  "
    local parts = {}
    if is_array(v) then
      if #v == 0 then return "[]" end
      local scalar = true
      for _, x in ipairs(v) do if type(x) == "table" then scalar = false end end
      for _, x in ipairs(v) do parts[#parts + 1] = report.json(x, inner) end
      if scalar then return "[" .. table.concat(parts, ", ") .. "]" end
      return "[\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    if #keys == 0 then return "{}" end
    for _, k in ipairs(keys) do
      local x = v[k]
      if x == nil then x = v[tonumber(k)] end
      parts[#parts + 1] = json_string(k) .. ": " .. report.json(x, inner)
    end
    return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
  end
  return json_string(tostring(v))
end

function report.json_decode(text, where)
  if not cjson_ok then fail("report: reading JSON needs lua-cjson (Debian package lua-cjson)") end
  local ok, v = pcall(cjson.decode, text)
  if not ok then fail("report: " .. (where or "JSON") .. " is not valid JSON: " .. tostring(v)) end
  return v
end

---------------------------------------------------------------- CSV

-- History columns: the agreed ones first, timing last, anything else between.
report.TIMING = { seconds = true, ms_per_step = true, samples_per_s = true }
local FIRST = { "loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm" }
local LAST = { "seconds", "ms_per_step", "samples_per_s" }
local KEYS = { "run", "optimizer", "seed", "epoch" }

-- Number of epochs a history holds.
function report.epochs_of(h)
  if type(h) ~= "table" then return 0 end
  local n = 0
  for k, v in pairs(h) do
    if type(v) == "table" and k ~= "epoch" then n = math.max(n, #v) end
  end
  return n
end

-- The metric columns found in any of the records' histories.
function report.columns(records)
  local seen = {}
  for _, r in ipairs(records) do
    for k, v in pairs(r.history or {}) do
      if type(k) == "string" and type(v) == "table" and k ~= "epoch" then seen[k] = true end
    end
  end
  local cols, used = {}, {}
  for _, k in ipairs(FIRST) do if seen[k] then cols[#cols + 1] = k; used[k] = true end end
  local mid = {}
  for k in pairs(seen) do
    if not used[k] and not report.TIMING[k] then mid[#mid + 1] = k end
  end
  table.sort(mid)
  for _, k in ipairs(mid) do cols[#cols + 1] = k; used[k] = true end
  for _, k in ipairs(LAST) do if seen[k] then cols[#cols + 1] = k end end
  return cols
end

local function csv_cell(s)
  s = tostring(s)
  if s:find('[,"\n\r]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- metrics.csv: one row per run (optimizer x seed) x epoch, every history field.
function report.csv(records)
  local cols = report.columns(records)
  local header = {}
  for _, k in ipairs(KEYS) do header[#header + 1] = k end
  for _, k in ipairs(cols) do header[#header + 1] = k end
  local lines = { table.concat(header, ",") }
  for _, r in ipairs(records) do
    local h = r.history
    for e = 1, report.epochs_of(h) do
      local row = { tostring(r.id), csv_cell(r.label), tostring(r.seed), tostring(e) }
      for _, k in ipairs(cols) do
        local col = h[k]
        row[#row + 1] = report.num(type(col) == "table" and col[e] or nil)
      end
      lines[#lines + 1] = table.concat(row, ",")
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Parses RFC 4180 CSV into { header = {...}, rows = { {col = text} } }.
function report.parse_csv(text)
  local records, row, field, i, n = {}, {}, {}, 1, #text
  local quoted = false
  while i <= n do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1 else quoted = false end
      else field[#field + 1] = c end
    elseif c == '"' then quoted = true
    elseif c == "," then row[#row + 1] = table.concat(field); field = {}
    elseif c == "\n" or c == "\r" then
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      row[#row + 1] = table.concat(field); field = {}
      records[#records + 1] = row; row = {}
    else field[#field + 1] = c end
    i = i + 1
  end
  if #field > 0 or #row > 0 then row[#row + 1] = table.concat(field); records[#records + 1] = row end
  local header = table.remove(records, 1) or {}
  local rows = {}
  for ln, r in ipairs(records) do
    if #r ~= #header then fail(string.format("report: metrics.csv line %d has %d fields, the header %d", ln + 1, #r, #header)) end
    local t = {}
    for j, k in ipairs(header) do t[k] = r[j] end
    t._line = ln + 1
    rows[#rows + 1] = t
  end
  return { header = header, rows = rows }
end

---------------------------------------------------------------- summary statistics

-- Per optimizer: the records of its seeds and the statistics of the table.
-- opts: list of { label=, display= }; records: { opt=, seed=, history=, status= }.
function report.summarize(opts, records)
  local out = {}
  for i, o in ipairs(opts) do
    local runs = {}
    for _, r in ipairs(records) do
      if r.opt == i and r.history and report.epochs_of(r.history) > 0 then runs[#runs + 1] = r end
    end
    local s = { label = o.label, display = o.display, n = #runs, stat = {}, curve = {} }
    local function last(h, k)
      local col = h[k]
      if type(col) ~= "table" then return nil end
      return col[#col]
    end
    for _, k in ipairs { "loss", "accuracy", "val_loss", "val_accuracy" } do
      local vals = {}
      for _, r in ipairs(runs) do vals[#vals + 1] = last(r.history, k) end
      if #vals > 0 then s.stat[k] = { mean_std(vals) } end
    end
    -- mean curves over seeds, per metric and epoch
    local maxe = 0
    for _, r in ipairs(runs) do maxe = math.max(maxe, report.epochs_of(r.history)) end
    s.epochs = maxe
    for _, k in ipairs { "loss", "accuracy", "val_loss", "val_accuracy" } do
      local curve, sd = {}, {}
      for e = 1, maxe do
        local vals = {}
        for _, r in ipairs(runs) do
          local col = r.history[k]
          if type(col) == "table" and col[e] ~= nil then vals[#vals + 1] = col[e] end
        end
        if #vals > 0 then curve[e], sd[e] = mean_std(vals) end
      end
      s.curve[k], s.curve[k .. "_std"] = curve, sd
    end
    -- best val_accuracy of the mean curve, and its epoch
    local best, be
    for e = 1, maxe do
      local v = s.curve.val_accuracy[e]
      if finite(v) and (best == nil or v > best) then best, be = v, e end
    end
    if best then s.best = { best, s.curve.val_accuracy_std[be], be } end
    local secs, msps = {}, {}
    for _, r in ipairs(runs) do
      local h = r.history
      local t = 0
      if type(h.seconds) == "table" then for _, v in ipairs(h.seconds) do t = t + v end
      else t = r.wall or 0 end
      secs[#secs + 1] = t
      if type(h.ms_per_step) == "table" and #h.ms_per_step > 0 then
        local m = 0
        for _, v in ipairs(h.ms_per_step) do m = m + v end
        msps[#msps + 1] = m / #h.ms_per_step
      end
    end
    if #secs > 0 then s.stat.seconds = { mean_std(secs) } end
    if #msps > 0 then s.stat.ms_per_step = { mean_std(msps) } end
    out[i] = s
  end
  return out
end

---------------------------------------------------------------- tables

local function fmt(stat, f)
  if not stat or stat[1] == nil then return "-" end
  local m, sd = stat[1], stat[2]
  if m ~= m then return "nan" end  -- not the C library's -nan (the sign of a NaN means nothing here)
  local function one(v) return f == "%.4f" and serial.readable(v) or string.format(f, v) end
  local s = one(m)
  if sd then s = s .. "±" .. one(sd) end
  return s
end

-- Rows of the comparison table (cells as strings).
function report.table_rows(summary)
  local header = { "optimizer", "loss", "accuracy", "val_loss", "val_accuracy", "best val_acc (epoch)", "seconds", "ms/step" }
  local rows = {}
  for _, s in ipairs(summary) do
    local best = "-"
    if s.best then best = fmt({ s.best[1], s.best[2] }, "%.4f") .. " (" .. s.best[3] .. ")" end
    rows[#rows + 1] = {
      s.display, fmt(s.stat.loss, "%.4f"), fmt(s.stat.accuracy, "%.4f"), fmt(s.stat.val_loss, "%.4f"),
      fmt(s.stat.val_accuracy, "%.4f"), best, fmt(s.stat.seconds, (s.stat.seconds and s.stat.seconds[1] and s.stat.seconds[1] < 10) and "%.2f" or "%.1f"), fmt(s.stat.ms_per_step, (s.stat.ms_per_step and s.stat.ms_per_step[1] and s.stat.ms_per_step[1] < 10) and "%.2f" or "%.1f"),
    }
  end
  return header, rows
end

-- Rows of the per-epoch table of one metric: epochs as rows, optimizers as columns.
function report.epoch_rows(summary, metric)
  local header = { "epoch" }
  local maxe = 0
  for _, s in ipairs(summary) do header[#header + 1] = s.display; maxe = math.max(maxe, s.epochs or 0) end
  local rows = {}
  for e = 1, maxe do
    local row = { tostring(e) }
    for _, s in ipairs(summary) do
      local v = s.curve[metric] and s.curve[metric][e]
      row[#row + 1] = v and serial.readable(v) or "-"
    end
    rows[#rows + 1] = row
  end
  return header, rows
end

local function utf8len(s) return compat.utf8_len(s) end

-- Aligned plain text (first column left, others right).
function report.text_table(header, rows)
  local w = {}
  for j, h in ipairs(header) do w[j] = utf8len(h) end
  for _, r in ipairs(rows) do for j, c in ipairs(r) do w[j] = math.max(w[j] or 0, utf8len(c)) end end
  local function line(r)
    local parts = {}
    for j, c in ipairs(r) do
      local pad = string.rep(" ", w[j] - utf8len(c))
      parts[j] = j == 1 and (c .. pad) or (pad .. c)
    end
    return table.concat(parts, "  ")
  end
  local out = { line(header) }
  local rule = {}
  for j = 1, #header do rule[j] = string.rep("-", w[j]) end
  out[#out + 1] = table.concat(rule, "  ")
  for _, r in ipairs(rows) do out[#out + 1] = line(r) end
  return table.concat(out, "\n")
end

function report.md_table(header, rows)
  local function esc(c) return (tostring(c):gsub("|", "\\|")) end
  local out = {}
  local h, a = {}, {}
  for j, c in ipairs(header) do h[j] = esc(c); a[j] = j == 1 and ":--" or "--:" end
  out[1] = "| " .. table.concat(h, " | ") .. " |"
  out[2] = "| " .. table.concat(a, " | ") .. " |"
  for _, r in ipairs(rows) do
    local cells = {}
    for j, c in ipairs(r) do cells[j] = esc(c) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(out, "\n")
end

local function html_escape(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end
report.html_escape = html_escape

function report.html_table(header, rows)
  local out = { "<table>", "<thead><tr>" }
  for _, c in ipairs(header) do out[#out + 1] = "<th>" .. html_escape(c) .. "</th>" end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for j, c in ipairs(r) do
      out[#out + 1] = (j == 1 and "<td class=l>" or "<td>") .. html_escape(c) .. "</td>"
    end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table>"
  return table.concat(out)
end

-- 1387594 -> "1,387,594" (integers).
function report.thousands(n)
  local out = compat.int_text(n):reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""):gsub("^%-,", "-"))
end

-- "8,000 training and 2,000 validation images" from a manifest's config.
function report.data_sizes(config)
  local function n(v) return report.thousands(v or 0) end
  return string.format("%s training and %s validation images", n(config.train_size), n(config.validation_size))
end

-- The text printed at the end of a run (also the body of summary.md).
function report.tables_text(summary, nseeds, config)
  local h, r = report.table_rows(summary)
  local eh, er = report.epoch_rows(summary, "val_accuracy")
  local note = nseeds > 1 and string.format(" (mean±std over %d seeds)", nseeds) or ""
  local sizes = config and ("; " .. report.data_sizes(config)) or ""
  return "Comparison" .. note .. ": final epoch; best val_accuracy over epochs; training seconds" .. sizes .. "\n" ..
         report.text_table(h, r) .. "\n\nval_accuracy per epoch" .. (nseeds > 1 and " (mean over seeds)" or "") ..
         "\n" .. report.text_table(eh, er)
end

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

---------------------------------------------------------------- report.html

local CSS = [[
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td.l, th:first-child { text-align: left; }
th { background: #f2f2f2; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.warn { color: #a40; }
]]

local function inline_svg(path)
  local s = report.read_file(path)
  if not s then return nil end
  s = s:gsub("^%s*<%?xml.-%?>%s*", ""):gsub("^%s*<!DOCTYPE.->%s*", "")
  return s
end

-- One self-contained page: tables, plots (inline SVG), the manifest.
function report.html(dir, title, summary, nseeds, manifest, missing, plots)
  local th, tr = report.table_rows(summary)
  local eh, er = report.epoch_rows(summary, "val_accuracy")
  local out = { "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
                "<title>" .. html_escape(title) .. "</title><style>" .. CSS .. "</style></head><body>",
                "<h1>" .. html_escape(title) .. "</h1>" }
  local cfg = manifest.config or {}
  out[#out + 1] = string.format("<p>Started %s, ended %s; %s epochs, batch %s, seeds %s; optlab %s (%s), %s threads, %s.</p>",
    html_escape(manifest.start_time or "?"), html_escape(manifest.end_time or "(not finished)"),
    html_escape(tostring(cfg.epochs)), html_escape(tostring(cfg.batch_size)),
    html_escape(table.concat(cfg.seeds or {}, ", ")), html_escape(manifest.optlab and manifest.optlab.version or "?"),
    html_escape(manifest.optlab and manifest.optlab.commit or "?"), html_escape(tostring(manifest.threads)),
    html_escape(manifest.cpu or "?"))
  if missing and #missing > 0 then
    out[#out + 1] = "<p class=warn><b>Incomplete:</b> " .. html_escape(table.concat(missing, "; ")) .. "</p>"
  end
  out[#out + 1] = "<h2>Comparison</h2>"
  if nseeds > 1 then out[#out + 1] = string.format("<p>mean±std (sample, n-1) over %d seeds.</p>", nseeds) end
  out[#out + 1] = report.html_table(th, tr)
  out[#out + 1] = "<h2>val_accuracy per epoch</h2>" .. report.html_table(eh, er)
  out[#out + 1] = "<h2>Plots</h2>"
  for _, name in ipairs(report.PLOTS) do
    local svg = plots.rendered and inline_svg(dir .. "/" .. name .. ".svg")
    out[#out + 1] = "<figure>"
    if svg then out[#out + 1] = svg
    else out[#out + 1] = "<p class=warn>" .. html_escape(name) .. " not rendered: " .. html_escape(plots.message or "") .. "</p>" end
    out[#out + 1] = string.format('<figcaption><a href="%s.svg">%s.svg</a> · <a href="%s.png">%s.png</a> · ' ..
      '<a href="%s.gp">%s.gp</a> · <a href="%s.dat">%s.dat</a></figcaption></figure>',
      name, name, name, name, name, name, name, name)
  end
  out[#out + 1] = '<h2>Files</h2><p><a href="metrics.csv">metrics.csv</a> · <a href="summary.md">summary.md</a> · ' ..
                  '<a href="manifest.json">manifest.json</a></p>'
  out[#out + 1] = "<h2>Manifest</h2><pre>" .. html_escape(report.json(manifest)) .. "</pre>"
  out[#out + 1] = "</body></html>"
  return table.concat(out, "\n") .. "\n"
end

return report
