-- Summary statistics over seeds and the printed tables (also summary.md).
local base = require "report.base"
local serial, report, finite, mean_std = base.serial, base.report, base.finite, base.mean_std

---------------------------------------------------------------- summary statistics

-- The mean thread count of a record over its wall time, from its schedule
-- (rec.threads = {{at =, n =}, ...}, seconds from its start); nil without one.
function report.mean_threads(r)
  local segs, wall = r.threads, r.wall
  if type(segs) ~= "table" or #segs == 0 or type(wall) ~= "number" or not (wall > 0) then return nil end
  local sum = 0
  for i, c in ipairs(segs) do
    if type(c) ~= "table" or type(c.n) ~= "number" or type(c.at) ~= "number" then return nil end
    local stop = segs[i + 1] and segs[i + 1].at or wall
    if type(stop) ~= "number" then return nil end
    sum = sum + c.n * math.max(0, math.min(stop, wall) - math.min(c.at, wall))
  end
  return sum / wall
end

-- Whether the runs of a summary had different thread counts (then their seconds are
-- shown beside their threads, and the time plot draws seconds x threads).
function report.threads_differ(summary)
  local first
  for _, s in ipairs(summary) do
    local t = s.stat.threads and s.stat.threads[1]
    if t then
      first = first or t
      if math.abs(t - first) > 0.005 then return true end
    end
  end
  return false
end

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
    -- every column of the histories (the metrics, lr, the diagnostics), with the
    -- band over seeds: the min and max of the finite values
    local cols = {}
    for _, r in ipairs(runs) do
      for k, col in pairs(r.history) do if type(col) == "table" and k ~= "epoch" then cols[k] = true end end
    end
    for _, k in ipairs { "loss", "accuracy", "val_loss", "val_accuracy" } do cols[k] = true end
    for k in pairs(cols) do
      local curve, sd, lo, hi = {}, {}, {}, {}
      for e = 1, maxe do
        local vals = {}
        for _, r in ipairs(runs) do
          local col = r.history[k]
          if type(col) == "table" and col[e] ~= nil then
            vals[#vals + 1] = col[e]
            if finite(col[e]) then
              lo[e], hi[e] = math.min(lo[e] or col[e], col[e]), math.max(hi[e] or col[e], col[e])
            end
          end
        end
        if #vals > 0 then curve[e], sd[e] = mean_std(vals) end
      end
      s.curve[k], s.curve[k .. "_std"], s.curve[k .. "_min"], s.curve[k .. "_max"] = curve, sd, lo, hi
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
    -- the threads a run had on average (experiment/sched.lua hands idle cores to the runs
    -- still going): a run's seconds compare with another's only at the same thread count
    local thr = {}
    for _, r in ipairs(runs) do
      local t = report.mean_threads(r)
      if t then thr[#thr + 1] = t end
    end
    if #thr == #runs and #thr > 0 then s.stat.threads = { mean_std(thr) } end
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
  if report.threads_differ(summary) then
    header[#header + 1] = "threads"
    for i, s in ipairs(summary) do
      rows[i][#rows[i] + 1] = s.stat.threads and string.format("%.2f", s.stat.threads[1]) or "-"
    end
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

-- Rows of the diagnostics table (train.fit's diagnostics = {...}): per optimizer the
-- final epoch's value of each diagnostic (mean±std over seeds); nil when no run has them.
report.DIAGNOSTICS = { "hess_max", "sharpness", "hess_min", "ill_cond_gHg", "ill_cond_gg", "grad_var", "noise_scale" }
function report.diagnostics_rows(summary)
  local cols = {}
  for _, k in ipairs(report.DIAGNOSTICS) do
    for _, s in ipairs(summary) do
      local c = s.curve[k]
      if c and s.epochs and finite(c[s.epochs]) then cols[#cols + 1] = k break end
    end
  end
  if #cols == 0 then return nil end
  local header, rows = { "optimizer" }, {}
  for _, k in ipairs(cols) do header[#header + 1] = k end
  for _, s in ipairs(summary) do
    local row = { s.display }
    for _, k in ipairs(cols) do
      local e = s.epochs or 0
      local m, sd = s.curve[k] and s.curve[k][e], s.curve[k .. "_std"] and s.curve[k .. "_std"][e]
      row[#row + 1] = m and (string.format("%.4g", m) .. (sd and string.format("±%.2g", sd) or "")) or "-"
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
  -- a tuned comparison's reruns are judged on a test set apart from the validation split
  if config.test_size then
    return string.format("%s training, %s validation and %s test images", n(config.train_size), n(config.validation_size),
                         n(config.test_size))
  end
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

return { html_escape = html_escape }
