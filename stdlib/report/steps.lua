-- The plots of the per-step logs and of the diagnostics:
--   steps.svg/.png        loss against step and against training seconds (smoothed, the raw
--                         curve faint; with several seeds the mean and a min-max band)
--   schedule.svg/.png     each hyperparameter that moves (lr always), against step
--   diagnostics.svg/.png  train.fit's diagnostics per epoch (stdlib/train/diagnostics.lua)
-- Each is a .dat and a .gp like the per-epoch plots (stdlib/report/plots.lua).
local base = require "report.base"
local report, finite, mean_std = base.report, base.finite, base.mean_std
local P = report._plot
local faint, range, widen, figure_gp = P.faint, P.range, P.widen, P.figure_gp
local band_clause, line_clause = P.band_clause, P.line_clause

local M = {}

local function cell(v)
  if v == nil or not finite(v) then return "NaN" end
  return report.num(v)
end

-- The smoothing of the loss curves: an exponential moving average with bias correction
-- (TensorBoard's), over a time constant of 1/30 of the run's logged points.
local function smooth(ys)
  local tau = math.max(1, #ys / 30)
  local beta, s, w, out = 1 - 1 / tau, 0, 0, {}
  for i, y in ipairs(ys) do
    if finite(y) then s, w = beta * s + (1 - beta) * y, beta * w + (1 - beta) end
    out[i] = w > 0 and s / w or nil
  end
  return out
end
M.smooth = smooth

-- The plots draw at most this many points per curve: a run of 100,000 logged steps is
-- thinned to every k-th step (its first and last kept) after smoothing over all of them,
-- so gnuplot renders in seconds; steps.csv keeps every logged step.
M.PLOT_POINTS = 2000
local function thin(steps)
  local n = #steps
  if n <= M.PLOT_POINTS then return steps end
  local k = math.ceil(n / M.PLOT_POINTS)
  local out = {}
  for i = 1, n, k do out[#out + 1] = steps[i] end
  if out[#out] ~= steps[n] then out[#out + 1] = steps[n] end
  return out
end

-- Per optimizer (summary order) the step logs of its runs, and every step logged.
local function by_optimizer(summary, records)
  local logs, steps, seen = {}, {}, {}
  for i = 1, #summary do logs[i] = {} end
  for _, r in ipairs(records) do
    local log = r.logs and r.logs.steps
    if log and logs[r.opt] and type(log.step) == "table" and #log.step > 0 then
      local l = logs[r.opt]
      l[#l + 1] = log
      for _, st in ipairs(log.step) do
        if not seen[st] then seen[st] = true; steps[#steps + 1] = st end
      end
    end
  end
  table.sort(steps)
  return logs, thin(steps)
end

-- Per step, the mean, min and max over the runs of a column (a function of a log and
-- its row, or a column name), indexed by step.
local function over_seeds(runs, value)
  local at = {}
  for _, log in ipairs(runs) do
    local col = type(value) == "function" and value(log) or log[value]
    for i, st in ipairs(log.step) do
      local v = col and col[i]
      if finite(v) then
        local a = at[st] or { vals = {} }
        at[st] = a
        a.vals[#a.vals + 1] = v
      end
    end
  end
  for _, a in pairs(at) do
    a.mean = mean_std(a.vals)
    a.lo, a.hi = math.huge, -math.huge
    for _, v in ipairs(a.vals) do a.lo, a.hi = math.min(a.lo, v), math.max(a.hi, v) end
  end
  return at
end

local function steps_plot(put, summary, logs, steps, nseeds)
  local n = #summary
  local head, cols = { "step" }, {}
  local yr, wr = range(), range()
  for i, s in ipairs(summary) do
    for _, h in ipairs { " smoothed", " raw", " min", " max", " seconds" } do head[#head + 1] = s.display .. h end
    cols[i] = {
      smooth = over_seeds(logs[i], function(log) return smooth(log.loss or {}) end),
      raw = over_seeds(logs[i], "loss"),
      wall = over_seeds(logs[i], "wall_seconds"),
    }
  end
  local lines = { "# loss per logged step: per optimizer the smoothed loss (mean over seeds), the raw loss (mean), " ..
                  "the min and max of the smoothed loss over seeds, the mean training seconds" ..
                  string.format(" (at most %d steps drawn; steps.csv has every logged step)", M.PLOT_POINTS),
                  table.concat(head, "\t") }
  for _, st in ipairs(steps) do
    local row = { report.num(st) }
    for i = 1, n do
      local a, r, w = cols[i].smooth[st], cols[i].raw[st], cols[i].wall[st]
      row[#row + 1] = cell(a and a.mean); row[#row + 1] = cell(r and r.mean)
      row[#row + 1] = cell(a and a.lo); row[#row + 1] = cell(a and a.hi); row[#row + 1] = cell(w and w.mean)
      if a then widen(yr, a.lo); widen(yr, a.hi) end
      if r then widen(yr, r.mean) end
      if w then widen(wr, w.mean) end
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  put("steps.dat", table.concat(lines, "\n") .. "\n")
  local function panel(x_of, xlabel, title)
    local cl = {}
    for i = 1, n do
      local c = 2 + (i - 1) * 5
      cl[#cl + 1] = string.format("'steps.dat' using %s:%d with lines linewidth 1 linecolor rgb %q notitle", x_of(c), c + 1, faint(i))
    end
    if nseeds > 1 then
      for i = 1, n do
        local c = 2 + (i - 1) * 5
        cl[#cl + 1] = band_clause("steps.dat", x_of(c), c + 2, c + 3, i)
      end
    end
    for i = 1, n do
      local c = 2 + (i - 1) * 5
      cl[#cl + 1] = line_clause("steps.dat", x_of(c), c, i, summary[i].display, "lines linewidth 2")
    end
    return { title = title, xlabel = xlabel, ylabel = "loss", y = yr, clauses = cl }
  end
  local panels = { panel(function() return "1" end, "step", "loss against step") }
  if wr.n > 0 then
    panels[2] = panel(function(c) return "(column(" .. (c + 4) .. "))" end, "training seconds", "loss against training time")
  end
  local labels = {}
  for i, s in ipairs(summary) do labels[i] = s.display end
  local note = "smoothed: moving average (bias-corrected EMA); faint: the raw minibatch loss" ..
               (nseeds > 1 and string.format("; lines: mean over %d seeds, bands: min-max over seeds", nseeds) or "")
  put("steps.gp", figure_gp("steps", "minibatch loss per step (log scale)", 1100, panels, #panels, labels, note))
end

-- The hyperparameters that move within some run (lr always, when logged).
local SKIP = { step = true, epoch = true, loss = true, grad_norm = true, wall_seconds = true }
local function moving(logs)
  local keys, set = {}, {}
  for _, runs in ipairs(logs) do
    for _, log in ipairs(runs) do
      for k, col in pairs(log) do
        if not SKIP[k] and not set[k] then
          local moves = k == "lr"
          for j = 2, #col do if not report.same_bits(col[j], col[1]) then moves = true break end end
          if moves then set[k] = true; keys[#keys + 1] = k end
        end
      end
    end
  end
  table.sort(keys, function(a, b) if a == "lr" or b == "lr" then return a == "lr" and b ~= "lr" end return a < b end)
  return keys
end

local function schedule_plot(put, summary, logs, steps, keys)
  local n = #summary
  local head, at, ranges = { "step" }, {}, {}
  for kk, k in ipairs(keys) do
    ranges[kk] = range()
    for i, s in ipairs(summary) do
      head[#head + 1] = s.display .. " " .. k
      at[(kk - 1) * n + i] = over_seeds(logs[i], k)
    end
  end
  local lines = { "# the hyperparameters applied at each logged step (mean over seeds): " .. table.concat(keys, ", "),
                  table.concat(head, "\t") }
  for _, st in ipairs(steps) do
    local row = { report.num(st) }
    for kk = 1, #keys do
      for i = 1, n do
        local a = at[(kk - 1) * n + i][st]
        row[#row + 1] = cell(a and a.mean)
        if a then widen(ranges[kk], a.mean) end
      end
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  put("schedule.dat", table.concat(lines, "\n") .. "\n")
  local panels = {}
  for kk, k in ipairs(keys) do
    local cl = {}
    for i = 1, n do
      cl[#cl + 1] = line_clause("schedule.dat", "1", 1 + (kk - 1) * n + i, i, kk == 1 and summary[i].display or nil, "lines linewidth 2")
    end
    -- log scale when the values span more than a factor of 20
    local r = ranges[kk]
    panels[kk] = { title = k .. " against step", xlabel = "step", ylabel = k, y = r,
                   ylog = (not r.nonpos) and r.n > 0 and r.hi > 20 * r.lo, clauses = cl }
  end
  local labels = {}
  for i, s in ipairs(summary) do labels[i] = s.display end
  put("schedule.gp", figure_gp("schedule", "the schedules applied", 1100, panels, math.min(#panels, 2), labels, nil))
end

-- The diagnostics' columns (stdlib/train/diagnostics.lua) and their panels: columns drawn
-- solid, then dashed, in one panel.
local DIAG_PANELS = {
  { title = "Hessian: largest eigenvalue (solid) and 2/lr (dashed)", ylabel = "eigenvalue", solid = "hess_max", dashed = "two_over_lr" },
  { title = "Hessian: smallest eigenvalue (Lanczos)", ylabel = "eigenvalue", solid = "hess_min" },
  -- log: the terms span decades; a non-positive gHg (negative curvature along g) is left out
  { title = "ill-conditioning: ½ε²gᵀHg (solid) against εgᵀg (dashed)", ylabel = "change of the loss", solid = "ill_cond_gHg",
    dashed = "ill_cond_gg", ylog = "positive" },
  { title = "gradient noise scale B = tr(Σ)/|G|²", ylabel = "examples", solid = "noise_scale" },
}

-- The diagnostics' values per x (epoch, or step with diagnostics every k steps): per column
-- k and optimizer i, series[k][i][x] = {mean, lo, hi} over seeds; and the xs.
local function epoch_series(summary, keys)
  local series, xs, maxe = {}, {}, 0
  for _, s in ipairs(summary) do maxe = math.max(maxe, s.epochs or 0) end
  for e = 1, maxe do xs[e] = e end
  for _, k in ipairs(keys) do
    series[k] = {}
    for i, s in ipairs(summary) do
      local c, at = s.curve, {}
      for e = 1, maxe do
        local m = c[k] and c[k][e]
        if m ~= nil then at[e] = { mean = m, lo = c[k .. "_min"] and c[k .. "_min"][e] or m, hi = c[k .. "_max"] and c[k .. "_max"][e] or m } end
      end
      series[k][i] = at
    end
  end
  return series, xs
end

local function step_series(summary, records, keys)
  local logs, seen, xs = {}, {}, {}
  for i = 1, #summary do logs[i] = {} end
  for _, r in ipairs(records) do
    local log = r.logs and r.logs.diagnostics
    if log and logs[r.opt] and type(log.step) == "table" then
      -- 2/lr: from the lr of the step log at the same steps
      local lr, two = {}, {}
      local sl = r.logs.steps
      if sl and sl.lr then for j, st in ipairs(sl.step) do lr[st] = sl.lr[j] end end
      for j, st in ipairs(log.step) do
        two[j] = lr[st] and lr[st] > 0 and 2 / lr[st] or nil
        if not seen[st] then seen[st] = true; xs[#xs + 1] = st end
      end
      local l = {}
      for k, v in pairs(log) do l[k] = v end
      l.two_over_lr = two
      table.insert(logs[r.opt], l)
    end
  end
  table.sort(xs)
  xs = thin(xs)
  local series = {}
  for _, k in ipairs(keys) do
    series[k] = {}
    for i = 1, #summary do series[k][i] = over_seeds(logs[i], k) end
  end
  return series, xs
end

local function diagnostics_plot(put, summary, records, nseeds)
  local n = #summary
  -- 2/lr beside lambda_max: the largest curvature at which gradient descent at this lr is stable
  for _, s in ipairs(summary) do
    local two, lr = {}, s.curve.lr or {}
    for e, v in pairs(lr) do if v and v > 0 then two[e] = 2 / v end end
    s.curve.two_over_lr, s.curve.two_over_lr_min, s.curve.two_over_lr_max = two, two, two
  end
  local per_step = false
  for _, r in ipairs(records) do if r.logs and r.logs.diagnostics then per_step = true end end
  local all = {}
  for _, p in ipairs(DIAG_PANELS) do
    all[#all + 1] = p.solid
    if p.dashed then all[#all + 1] = p.dashed end
  end
  local series, xs
  if per_step then series, xs = step_series(summary, records, all) else series, xs = epoch_series(summary, all) end
  local function has(k)
    for i = 1, n do for _, a in pairs(series[k][i]) do if finite(a.mean) then return true end end end
    return false
  end
  local keys, panels_of = {}, {}
  for _, p in ipairs(DIAG_PANELS) do
    if has(p.solid) then
      keys[#keys + 1] = p.solid
      if p.dashed then keys[#keys + 1] = p.dashed end
      panels_of[#panels_of + 1] = p
    end
  end
  if #panels_of == 0 then return false end
  local xname = per_step and "step" or "epoch"
  local head = { xname }
  for _, k in ipairs(keys) do
    for _, s in ipairs(summary) do head[#head + 1] = s.display .. " " .. k; head[#head + 1] = "min"; head[#head + 1] = "max" end
  end
  local lines = { "# the diagnostics per " .. xname .. ": per column and optimizer the mean over seeds, the min and the max: " ..
                  table.concat(keys, ", "), table.concat(head, "\t") }
  local ranges = {}
  for _, k in ipairs(keys) do ranges[k] = range() end
  for _, x in ipairs(xs) do
    local row = { report.num(x) }
    for _, k in ipairs(keys) do
      for i = 1, n do
        local a = series[k][i][x]
        row[#row + 1] = cell(a and a.mean); row[#row + 1] = cell(a and a.lo); row[#row + 1] = cell(a and a.hi)
        if a then widen(ranges[k], a.mean); widen(ranges[k], a.lo); widen(ranges[k], a.hi) end
      end
    end
    lines[#lines + 1] = table.concat(row, "\t")
  end
  put("diagnostics.dat", table.concat(lines, "\n") .. "\n")
  local index = {}
  for kk, k in ipairs(keys) do index[k] = kk end
  local panels = {}
  for pi, p in ipairs(panels_of) do
    local cl, r = {}, range()
    for _, k in ipairs { p.solid, p.dashed } do
      local rk = ranges[k]
      if rk.n > 0 then
        r.n = r.n + rk.n; r.nonpos = r.nonpos or rk.nonpos
        r.lo, r.hi = math.min(r.lo, rk.lo), math.max(r.hi, rk.hi)
      end
    end
    local style = per_step and "lines linewidth 2" or nil
    for i = 1, n do
      local c = 2 + ((index[p.solid] - 1) * n + (i - 1)) * 3
      if nseeds > 1 then cl[#cl + 1] = band_clause("diagnostics.dat", "1", c + 1, c + 2, i) end
      cl[#cl + 1] = line_clause("diagnostics.dat", "1", c, i, nil, style)
      if p.dashed then
        local d = 2 + ((index[p.dashed] - 1) * n + (i - 1)) * 3
        cl[#cl + 1] = line_clause("diagnostics.dat", "1", d, i, nil, "lines dashtype 2 linewidth 1.5")
      end
    end
    panels[pi] = { title = p.title, xlabel = xname, ylabel = p.ylabel, y = r, ylog = p.ylog,
                   xtics_1 = not per_step and #xs <= 20, clauses = cl }
  end
  local labels = {}
  for i, s in ipairs(summary) do labels[i] = s.display end
  local note = "on fixed probe batches, in evaluation mode, " .. (per_step and "every k steps" or "at the end of each epoch") ..
               "; log axes where values are positive (a non-positive ½ε²gᵀHg is left out)" ..
               (nseeds > 1 and string.format("; lines: mean over %d seeds, bands: min-max over seeds", nseeds) or "")
  put("diagnostics.gp", figure_gp("diagnostics", "diagnostics of the textbook's challenges", 1100, panels,
                                  math.min(#panels, 2), labels, note))
  return true
end

-- Writes the .dat and .gp of the plots there is something for; returns their names.
function M.write(put, summary, records, nseeds)
  local names = {}
  local logs, steps = by_optimizer(summary, records)
  if #steps > 0 then
    steps_plot(put, summary, logs, steps, nseeds)
    names[#names + 1] = "steps"
    local keys = moving(logs)
    if #keys > 0 then
      schedule_plot(put, summary, logs, steps, keys)
      names[#names + 1] = "schedule"
    end
  end
  if diagnostics_plot(put, summary, records, nseeds) then names[#names + 1] = "diagnostics" end
  return names
end

return M
