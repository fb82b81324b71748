-- A tuned comparison: each optimizer searches its space with the same budget, is
-- selected on a validation split of the training set, and its best configuration is
-- rerun with several seeds and reported on the test set.
--
--   experiment.compare { ..., optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) }, ... },
--                        tune = { method = "halving", trials = 9, seeds = {1, 2, 3} } }
--
-- Trials are runs: compare hands them to the same scheduler (every core, a
-- record each, resume, verify). The runs come in phases: the trials (for
-- successive halving, one phase per rung), then the reruns of the best. A
-- phase's runs are known once the phase before it has its records: resolve()
-- fills them in from those records alone, so the parent, a worker and a
-- resumed or verifying process all find the same runs.
--
-- Successive halving here is synchronous: rung k+1 starts when every trial of
-- rung k has its record, and keeps the best 1/eta of them (ties to the lower trial
-- number). ASHA's asynchronous promotion would keep the cores busier at a rung's
-- end, but which trial it promotes depends on which finished first, and a
-- rerun (verify, resume, another --jobs) must promote the same ones. A promoted
-- trial trains again from its initial weights for the rung's longer budget
-- (same seed, same batches): its result is that of one run of that length, and no
-- checkpoint has to be kept.
local common = require "experiment.base"
local report = common.report
local fail = common.fail
local tune = require "tune"
local suggest = require "suggest"

local M = {}

local KEYS = { method = true, trials = true, steps = true, seeds = true, metric = true, mode = true, eta = true,
               min_epochs = true, points = true, validation = true }
local METHODS = { "grid", "halving", "random" }

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function pos_int(v) return compat.is_integer(v) and v >= 1 end

-- The tune = {...} table, checked; defaults filled in.
local function options(t, where)
  if type(t) ~= "table" then fail(where .. ": tune must be a table, tune = { method = \"random\", trials = 8 }") end
  for k in pairs(t) do
    if type(k) ~= "string" or not KEYS[k] then
      fail(string.format("%s: tune has no field '%s'%s (fields: %s)", where, tostring(k),
                         suggest.phrase(tostring(k), sorted_keys(KEYS)), table.concat(sorted_keys(KEYS), ", ")))
    end
  end
  local o = { method = t.method or "random", trials = t.trials, steps = t.steps, metric = t.metric or "val_accuracy",
              eta = t.eta or 3, min_epochs = t.min_epochs or 1, points = t.points or 3, validation = t.validation or 0.1 }
  local known = false
  for _, m in ipairs(METHODS) do known = known or m == o.method end
  if not known then
    fail(string.format("%s: tune.method = %s is unknown%s (methods: %s)", where,
                       type(o.method) == "string" and string.format("%q", o.method) or tostring(o.method),
                       suggest.phrase(o.method, METHODS), table.concat(METHODS, ", ")))
  end
  o.mode = t.mode or (o.metric:find("loss", 1, true) and "min" or "max")
  if o.mode ~= "min" and o.mode ~= "max" then fail(where .. ": tune.mode must be \"min\" or \"max\", got " .. tostring(o.mode)) end
  if type(o.metric) ~= "string" or not o.metric:match("^val_") then
    fail(where .. ": tune.metric must be a validation metric (val_accuracy, val_loss, ...): selection is on the validation split, got " ..
         tostring(o.metric))
  end
  if o.trials ~= nil and o.steps ~= nil then fail(where .. ": tune: give trials or steps (the budget), not both") end
  if o.trials ~= nil and not pos_int(o.trials) then fail(where .. ": tune.trials must be a positive integer, got " .. tostring(o.trials)) end
  if o.steps ~= nil and not pos_int(o.steps) then fail(where .. ": tune.steps must be a positive integer, got " .. tostring(o.steps)) end
  if o.method ~= "grid" and o.trials == nil and o.steps == nil then
    fail(where .. ": tune." .. o.method .. " needs a budget: trials = N (configurations per optimizer) or steps = N (training steps per optimizer)")
  end
  if not (pos_int(o.eta) and o.eta >= 2) then fail(where .. ": tune.eta must be an integer >= 2, got " .. tostring(o.eta)) end
  if not pos_int(o.min_epochs) then fail(where .. ": tune.min_epochs must be a positive integer, got " .. tostring(o.min_epochs)) end
  if not pos_int(o.points) then fail(where .. ": tune.points must be a positive integer, got " .. tostring(o.points)) end
  if type(o.validation) ~= "number" or o.validation <= 0 or (o.validation >= 1 and not compat.is_integer(o.validation)) then
    fail(where .. ": tune.validation must be a fraction in (0, 1) or a number of examples, got " .. tostring(o.validation))
  end
  if t.seeds ~= nil then
    if type(t.seeds) ~= "table" or #t.seeds == 0 then fail(where .. ": tune.seeds must be a non-empty list of integers") end
    for _, s in ipairs(t.seeds) do
      if not (compat.is_integer(s) and s >= 0) then fail(where .. ": tune.seeds must be non-negative integers, got " .. tostring(s)) end
    end
  end
  o.seeds = t.seeds
  return o
end

local function strip_where(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "")) end

-- Pulls the search spaces out of the optimizer entries. Returns nil when the
-- comparison is not tuned (and no entry has a space), else the tuned state:
-- list (the entries for resolve_optimizers, a space replaced by a factory) and by_make.
function M.prepare(spec, where)
  local list, by_make, any, plain = {}, {}, false, nil
  for i, v in ipairs(type(spec.optimizers) == "table" and spec.optimizers or {}) do
    local spaces = {}
    if type(v) == "table" and type(v[1]) == "string" then
      for k, x in pairs(v) do
        if tune.is_space(x) then spaces[#spaces + 1] = { key = k, space = x } end
      end
      table.sort(spaces, function(a, b) return tostring(a.key) < tostring(b.key) end)
    end
    if #spaces == 0 then
      list[i] = v
      plain = plain or (type(v) == "table" and type(v[1]) == "string" and v[1]) or (type(v) == "string" and v) or "an entry"
    else
      any = true
      local name, fixed = v[1], {}
      for k, x in pairs(v) do
        if k ~= 1 and k ~= "label" and not tune.is_space(x) then fixed[k] = x end
      end
      local function build(hp)
        local all = {}
        for k, x in pairs(fixed) do all[k] = x end
        for k, x in pairs(hp) do all[k] = x end
        return require("optim").get(name, all)
      end
      -- every end of every space is a configuration the optimizer accepts (names, ranges)
      local first = {}
      for _, s in ipairs(spaces) do first[s.key] = s.space:extremes()[1] end
      for _, s in ipairs(spaces) do
        for _, x in ipairs(s.space:extremes()) do
          local hp = {}
          for k, y in pairs(first) do hp[k] = y end
          hp[s.key] = x
          local ok, err = pcall(build, hp)
          if not ok then
            fail(string.format("%s: the search space %s = %s of %s: %s", where, tostring(s.key), tostring(s.space), name,
                               strip_where(err)))
          end
        end
      end
      local function make(hp)
        if hp == false then error("no trial of " .. name .. " finished with a finite validation metric: nothing to rerun", 0) end
        return build(hp or first)
      end
      local hyper = {}
      for k, x in pairs(fixed) do hyper[k] = type(x) == "table" and tostring(x) or x end
      for _, s in ipairs(spaces) do hyper[s.key] = tostring(s.space) end
      by_make[make] = { name = name, spaces = spaces, hyper = hyper }
      list[i] = { optimizer = make, label = v.label or name }
    end
  end
  if spec.tune == nil then
    if any then
      fail(where .. ": an optimizer entry has a search space (tune.log_uniform, tune.uniform, tune.choice), but the " ..
           "comparison has no budget: add tune = { method = \"random\", trials = 8 } (README: \"A fair comparison\")")
    end
    return nil
  end
  local o = options(spec.tune, where)
  if plain then
    fail(string.format("%s: %s has no search space; in a tuned comparison every optimizer searches one " ..
                       "({ \"%s\", lr = tune.log_uniform(1e-4, 1) }; tune.choice{x} fixes a value)", where, plain, plain))
  end
  local T = setmetatable({ opt = o, list = list, by_make = by_make }, { __index = M })
  return T
end

-- After resolve_optimizers (and optimizers=): each entry's search space.
function M:attach(opts, where)
  for _, e in ipairs(opts) do
    local info = self.by_make[e.make]
    if not info then
      fail(string.format("%s: %s has no search space; in a tuned comparison every optimizer searches one", where, e.label))
    end
    e.tune, e.hyper = info, info.hyper
  end
  self.opts = opts
end

-- Two kinds of seed: the experiment's (the trials train with it, the draws depend on it), and the reruns'.
function M:seeds(ov, spec)
  self.seed = ov.seed or spec.seed or 1
  return ov.seeds or self.opt.seeds or spec.seeds or { 1, 2, 3 }
end

-- The training set without the validation split (its last examples, as Keras's
-- validation_split), the validation split, and the test set.
function M:split(train, test, where)
  if type(train.split) ~= "function" then fail(where .. ": a tuned comparison splits the training set: it needs a data set with :split") end
  local tr, val = train:split { validation = self.opt.validation }
  return tr, val, test
end

-- Successive halving's rungs: epochs min_epochs, x eta, ..., up to the comparison's epochs.
local function rungs(o, epochs, n0)
  local out, e, n = {}, o.min_epochs, n0
  if o.method == "halving" then
    while e < epochs do
      out[#out + 1] = { epochs = e, trials = n }
      n = math.max(1, math.floor(n / o.eta))
      e = e * o.eta
    end
  end
  out[#out + 1] = { epochs = epochs, trials = n }
  return out
end

local function cost(rs, spe)
  local c = 0
  for _, r in ipairs(rs) do c = c + r.trials * r.epochs * spe end
  return c
end

-- Every run of the protocol, in phases; runs whose configuration comes from an
-- earlier phase are `pending` until resolve() fills them in. Returns runs, the
-- fingerprint (what every process must agree on before any result), phases.
function M:plan(opts, cfg, train_size, where)
  local o = self.opt
  local spe = math.ceil(train_size / cfg.batch_size)
  local per = {}   -- per optimizer: its first rung's configurations
  local n0
  if o.method == "grid" then
    local sizes = {}
    for i, e in ipairs(opts) do
      per[i] = tune.grid(e.tune.spaces, o.points)
      sizes[#sizes + 1] = string.format("%s %d", e.display, #per[i])
    end
    n0 = #per[1]
    for i = 2, #opts do
      if #per[i] ~= n0 then
        fail(string.format("%s: tune.grid: the optimizers' grids differ in size (%s configurations): the same budget " ..
                           "needs grids of the same size (tune.points = %d for continuous spaces)", where,
                           table.concat(sizes, ", "), o.points))
      end
    end
    if o.trials and o.trials ~= n0 then
      fail(string.format("%s: tune.grid: trials = %d, but each grid has %d configurations", where, o.trials, n0))
    end
    if o.steps and cost(rungs(o, cfg.epochs, n0), spe) > o.steps then
      fail(string.format("%s: tune.grid: the grid of %d configurations needs %d steps per optimizer; steps = %d", where, n0,
                         cost(rungs(o, cfg.epochs, n0), spe), o.steps))
    end
  else
    n0 = o.trials
    if not n0 then
      -- the most trials whose steps fit the budget
      n0 = 0
      while cost(rungs(o, cfg.epochs, n0 + 1), spe) <= o.steps do n0 = n0 + 1 end
      if n0 == 0 then
        fail(string.format("%s: tune.steps = %d is less than one trial (%d steps: %d epochs of %d steps)", where, o.steps,
                           cost(rungs(o, cfg.epochs, 1), spe), rungs(o, cfg.epochs, 1)[1].epochs, spe))
      end
    end
    for i, e in ipairs(opts) do
      per[i] = {}
      for t = 1, n0 do per[i][t] = tune.draw(e.tune.spaces, self.seed, e.tune.name, t) end
    end
  end
  self.per, self.spe = per, spe
  self.rungs = rungs(o, cfg.epochs, n0)
  local runs, phases = {}, {}
  local function add(phase, run)
    run.id = #runs + 1
    runs[#runs + 1] = run
    phase[#phase + 1] = run
  end
  for k, r in ipairs(self.rungs) do
    local phase = {}
    for i, e in ipairs(opts) do
      for j = 1, r.trials do
        if k == 1 then
          add(phase, { opt = i, seed = self.seed, epochs = r.epochs, rung = 0, trial = j, hp = per[i][j],
                       label = e.label .. " trial " .. j, display = e.display .. " trial " .. j })
        else
          add(phase, { opt = i, seed = self.seed, epochs = r.epochs, rung = k - 1, slot = j, pending = true,
                       label = string.format("%s rung %d (to be chosen)", e.label, k - 1) })
        end
      end
    end
    phases[#phases + 1] = phase
  end
  local finals = {}
  for i, e in ipairs(opts) do
    for _, s in ipairs(cfg.seeds) do
      add(finals, { opt = i, seed = s, epochs = cfg.epochs, on_test = true, pending = true, label = e.label, final = true })
    end
  end
  phases[#phases + 1] = finals
  self.phases, self.runs, self.cfg = phases, runs, cfg
  local rs = {}
  for _, r in ipairs(self.rungs) do rs[#rs + 1] = r.trials .. "x" .. r.epochs end
  local names = {}
  for _, e in ipairs(opts) do names[#names + 1] = e.label .. " " .. tostring(#per[1]) end
  local fp = string.format("tuned %s, seed %d, rungs %s (trials x epochs), %s; reruns with seeds %s; %d runs", o.method, self.seed,
                           table.concat(rs, ", "), table.concat(names, "; "), table.concat(cfg.seeds, ","), #runs)
  return runs, fp, phases
end

-- The metric a trial's record gives: its last epoch's value; nil when the run
-- did not complete (a NaN loss, an error), which ranks it last.
function M:score(rec)
  if type(rec) ~= "table" or rec.status ~= "complete" or type(rec.history) ~= "table" then return nil end
  local col = rec.history[self.opt.metric]
  local v = type(col) == "table" and col[#col] or nil
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end

-- The trials of phase k (optimizer i), best first: by score, then by trial number.
function M:ranked(k, i, get)
  local list = {}
  for _, run in ipairs(self.phases[k]) do
    if run.opt == i then list[#list + 1] = { run = run, score = self:score(get(run.id)) } end
  end
  local max = self.opt.mode == "max"
  table.sort(list, function(a, b)
    if a.score ~= nil and b.score ~= nil and a.score ~= b.score then
      if max then return a.score > b.score end
      return a.score < b.score
    end
    if (a.score == nil) ~= (b.score == nil) then return a.score ~= nil end
    return a.run.trial < b.run.trial
  end)
  return list
end

-- Fills in the pending runs of every phase whose previous phase has all its
-- records (get(id) -> record or nil). Deterministic: the same records give the
-- same runs, in any process.
function M:resolve(get)
  for k = 2, #self.phases do
    local ready = true
    for _, run in ipairs(self.phases[k - 1]) do
      if run.pending or get(run.id) == nil then ready = false break end
    end
    if not ready then return end
    local final = k == #self.phases
    for i, e in ipairs(self.opts) do
      local ranked = self:ranked(k - 1, i, get)
      local j = 0
      for _, run in ipairs(self.phases[k]) do
        if run.opt == i then
          j = j + 1
          -- the reruns all take the best; rung k's slot j the j-th best of rung k-1
          local pick = ranked[final and 1 or j]
          if final then
            run.trial = pick.score ~= nil and pick.run.trial or nil
            run.hp = pick.score ~= nil and pick.run.hp or false
            run.best_score = pick.score
            run.display = nil
          else
            run.trial, run.hp = pick.run.trial, pick.run.hp
            run.label = string.format("%s trial %d rung %d", e.label, run.trial, run.rung)
            run.display = string.format("%s trial %d rung %d", e.display, run.trial, run.rung)
          end
          run.pending = nil
        end
      end
    end
  end
end

---------------------------------------------------------------- the views

local function hp_text(hp)
  if not hp then return "-" end
  local t = {}
  for _, k in ipairs(sorted_keys(hp)) do
    local v = hp[k]
    -- %.10g: the same text for 0 and 0.0 (a manifest read back), on both VMs
    t[#t + 1] = k .. "=" .. (type(v) == "number" and string.format("%.10g", v) or tostring(v))
  end
  return table.concat(t, ", ")
end
M.hp_text = hp_text

-- The final runs' records (the tables and plots of the comparison show them).
function M:finals(records)
  local out = {}
  for _, run in ipairs(self.phases[#self.phases]) do
    if records[run.id] then out[#out + 1] = records[run.id] end
  end
  return out
end

-- trials.csv: one row per trial and rung.
function M:trials_csv(records)
  local keys = {}
  for _, e in ipairs(self.opts) do for _, s in ipairs(e.tune.spaces) do keys[s.key] = true end end
  keys = sorted_keys(keys)
  local head = { "optimizer", "trial" }
  for _, k in ipairs(keys) do head[#head + 1] = k end
  for _, k in ipairs { "rung", "epochs", "steps", "seed", self.opt.metric, "status" } do head[#head + 1] = k end
  local lines = { table.concat(head, ",") }
  for k = 1, #self.phases - 1 do
    for _, run in ipairs(self.phases[k]) do
      if not run.pending then
        local rec = records[run.id]
        local row = { report.csv_cell(self.opts[run.opt].display), tostring(run.trial) }
        for _, key in ipairs(keys) do
          local v = run.hp[key]
          row[#row + 1] = v == nil and "" or (type(v) == "number" and report.num(v) or report.csv_cell(tostring(v)))
        end
        row[#row + 1] = tostring(run.rung)
        row[#row + 1] = tostring(run.epochs)
        row[#row + 1] = tostring(run.epochs * self.spe)
        row[#row + 1] = tostring(run.seed)
        local s = self:score(rec)
        row[#row + 1] = s and report.num(s) or ""
        row[#row + 1] = rec and rec.status or "not run"
        lines[#lines + 1] = table.concat(row, ",")
      end
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Per optimizer: the best trial, its validation metric, and the test metric of its reruns.
function M:results(records)
  local out = {}
  local metric = self.opt.metric
  local test_metric = metric:gsub("^val_", "")
  for i, e in ipairs(self.opts) do
    local vals, best, hp, trial = {}, nil, nil, nil
    for _, run in ipairs(self.phases[#self.phases]) do
      if run.opt == i then
        hp, trial, best = run.hp, run.trial, run.best_score
        local rec = records[run.id]
        local col = rec and rec.status == "complete" and rec.history and rec.history[metric]
        if type(col) == "table" and col[#col] ~= nil then vals[#vals + 1] = col[#col] end
      end
    end
    local m, sd = nil, nil
    if #vals > 0 then m, sd = report.mean_std(vals) end
    out[i] = { optimizer = e.display, label = e.label, trial = trial, hyperparameters = hp or nil, validation = best,
               test_metric = "test_" .. test_metric, test_mean = m, test_std = sd, test_runs = #vals,
               test_values = report.array(vals) }
  end
  return out
end

-- The tuned section of summary.md and of the terminal: the best configurations and the test metric.
function M:table(records)
  local res = self:results(records)
  local metric = self.opt.metric
  local tm = metric:gsub("^val_", "test_")
  local nseeds = #self.cfg.seeds
  local header = { "optimizer", "best configuration", "trial", metric .. " (validation)",
                   tm .. (nseeds > 1 and string.format(" (mean ± std, %d seeds)", nseeds) or "") }
  local rows = {}
  for _, r in ipairs(res) do
    rows[#rows + 1] = { r.optimizer, hp_text(r.hyperparameters), r.trial and tostring(r.trial) or "-",
                        r.validation and string.format("%.4f", r.validation) or "-",
                        r.test_mean and (nseeds > 1 and string.format("%.4f ± %.4f", r.test_mean, r.test_std or 0)
                                                     or string.format("%.4f", r.test_mean)) or "-" }
  end
  return header, rows, res
end

-- What the protocol was, in a sentence.
function M:describe(train_size, val_size, test_size)
  local o = self.opt
  local rs = {}
  for _, r in ipairs(self.rungs) do
    rs[#rs + 1] = string.format("%d trial%s x %d epoch%s", r.trials, r.trials == 1 and "" or "s", r.epochs, r.epochs == 1 and "" or "s")
  end
  local how = o.method == "grid" and string.format("grid search (%d configurations)", self.rungs[1].trials)
           or o.method == "random" and string.format("random search (%d trials, drawn from seed %d)", self.rungs[1].trials, self.seed)
           or string.format("successive halving (eta %d, synchronous rungs: %s)", o.eta, table.concat(rs, ", "))
  return string.format("%s per optimizer, %d training steps each; selection on %s of a %s-example validation split " ..
                       "(trained on %s examples, seed %d); the best rerun with seed%s %s and reported on the %s-example test set",
                       how, cost(self.rungs, self.spe), o.metric, report.thousands(val_size), report.thousands(train_size),
                       self.seed, #self.cfg.seeds > 1 and "s" or "", table.concat(self.cfg.seeds, ", "), report.thousands(test_size))
end

function M:manifest(records)
  local rs = report.array()
  for _, r in ipairs(self.rungs) do rs[#rs + 1] = { trials = r.trials, epochs = r.epochs } end
  local best = report.array()
  for _, r in ipairs(self:results(records)) do best[#best + 1] = r end
  -- every trial, as trials.csv has it (the run ids point into runs and records/)
  local trials = report.array()
  for k = 1, #self.phases - 1 do
    for _, run in ipairs(self.phases[k]) do
      if not run.pending then
        local rec = records[run.id]
        trials[#trials + 1] = { run = run.id, optimizer = self.opts[run.opt].display, trial = run.trial, rung = run.rung,
                                epochs = run.epochs, steps = run.epochs * self.spe, hyperparameters = run.hp,
                                metric = self:score(rec), status = rec and rec.status or "not run" }
      end
    end
  end
  return { method = self.opt.method, trials = trials, metric = self.opt.metric, mode = self.opt.mode, eta = self.opt.method == "halving" and self.opt.eta or nil,
           seed = self.seed, seeds = report.array(self.cfg.seeds), validation = self.opt.validation,
           steps_per_optimizer = cost(self.rungs, self.spe), steps_per_epoch = self.spe, rungs = rs, best = best }
end

-- sensitivity.dat/.gp: each first-rung trial's validation metric against its lr,
-- one curve per optimizer (DeepOBS's sensitivity plot). Returns the plot's name, or nil
-- when no optimizer has an lr.
function M:sensitivity(dir, records)
  local P = report._plot
  local metric = self.opt.metric
  local blocks, clauses, labels = {}, {}, {}
  local xr, yr = P.range(), P.range()
  for i, e in ipairs(self.opts) do
    local pts = {}
    for _, run in ipairs(self.phases[1]) do
      if run.opt == i then
        local lr = run.hp.lr
        if lr == nil then
          local ok, o = pcall(e.make, run.hp)
          lr = ok and type(o.values) == "table" and type(o.values.lr) == "number" and o.values.lr or nil
        end
        local s = self:score(records[run.id])
        if lr and lr > 0 then pts[#pts + 1] = { lr, s } end
      end
    end
    table.sort(pts, function(a, b) return a[1] < b[1] end)
    local lines = { "lr\t" .. e.display }
    for _, p in ipairs(pts) do
      lines[#lines + 1] = report.num(p[1]) .. "\t" .. (p[2] and report.num(p[2]) or "NaN")
      P.widen(xr, p[1]); P.widen(yr, p[2])
    end
    blocks[#blocks + 1] = table.concat(lines, "\n")
    clauses[#clauses + 1] = string.format("'sensitivity.dat' index %d using 1:2 with linespoints pointtype 7 pointsize 0.8 " ..
                                          "linewidth 2 linecolor rgb %q title %s", i - 1, P.color(i), P.gp_str(e.display))
    labels[#labels + 1] = e.display
  end
  if xr.n == 0 then return nil end
  report.write_file(dir .. "/sensitivity.dat", "# " .. metric .. " of every first-rung trial against its lr; " ..
                    "one block per optimizer (gnuplot's index)\n" .. table.concat(blocks, "\n\n\n") .. "\n")
  local rung = self.rungs[1]
  local panel = { title = string.format("%s after %d epoch%s against lr (every first-rung trial; its other " ..
                                        "hyperparameters as trials.csv lists them)", metric, rung.epochs,
                                        rung.epochs == 1 and "" or "s"),
                  xlabel = "learning rate (log scale)", ylabel = metric, y = yr, ylog = false, xlog = xr, clauses = clauses }
  report.write_file(dir .. "/sensitivity.gp", P.figure_gp("sensitivity", "hyperparameter sensitivity", 900, { panel }, 1, labels,
                    "a trial that did not finish (NaN loss) has no point"))
  return "sensitivity"
end

-- At the end of a tuned comparison: trials.csv and the sensitivity plot (rendered
-- beside the comparison's plots), and the tuning table for summary.md, report.html
-- and the terminal. Returns the markdown lines, the report.html sections and the
-- terminal's tables with the tuning first.
function M:views(ctx, records, plots, tables)
  report.write_file(ctx.dir .. "/trials.csv", self:trials_csv(records))
  local name = not sys.interrupted() and self:sensitivity(ctx.dir, records)
  if name then
    plots.names = plots.names or {}
    plots.names[#plots.names + 1] = name
    local r = plots.rendered and report.render(ctx.dir, { name }, ctx.gnuplot, plots.files or {})
    if r and not r.rendered then plots.rendered, plots.message, plots.interrupted = false, r.message, r.interrupted end
  end
  local th, tr = self:table(records)
  local desc = ctx.manifest.config.tune
  local note = "The tables below show the reruns of each optimizer's best configuration: their val_ columns are on the test set."
  local md = { "## Tuning", "", desc .. ".", "", report.md_table(th, tr), "",
               "Every trial: trials.csv (its hyperparameters, rung, steps and " .. self.opt.metric .. ")" ..
               (name and "; the metric against lr: sensitivity.svg." or "."), "", note, "" }
  local sections = { { title = "Tuning", header = th, rows = tr, text = desc .. ". Every trial: trials.csv. " .. note } }
  return md, sections, "Tuning: " .. desc .. "\n" .. report.text_table(th, tr) .. "\n\n" ..
                       "The reruns of the best (val_ columns: the test set)\n" .. tables
end

return M
