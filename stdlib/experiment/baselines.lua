-- Baselines that ship: a benchmark's folder (runs/<name>/<time>/, or baselines/<suite>/
-- in the repository) whose optimizers a new one is ranked among without rerunning them,
-- as DeepOBS's baselines are.
--
--   experiment.benchmark { problems = ..., optimizers = { my_opt }, tune = ..., seeds = ...,
--                          baselines = "baselines/small-suite" }     -- or baselines=<folder>
--
-- A benchmark records its protocol in its manifest: optlab's version, the tune method
-- and budget, the seeds, and per problem what defines it (its description, loss, metrics,
-- batch, epochs, data limits and the metric it selects on). Baselines are used only when
-- every field of that protocol is the same here (else an error naming the field). Their
-- records are read as data, JSON and CSV, never run: each best configuration's test
-- values in the problem's manifest must be its reruns' last test values in metrics.csv
-- (the file `optlab verify` checks bit for bit), else the folder is refused as edited.
local common = require "experiment.base"
local report = common.report
local fail = common.fail
local C = require "optlab.core"

local M = {}

-- The protocol of a benchmark: what must be equal for its results to be comparable.
-- `problems` is the benchmark's list of { name, spec }; `spec_of(p)` the comparison of p.
function M.protocol(bench, problems, spec_of)
  local t = bench.tune
  local out = {
    optlab_version = C.version,
    seed = bench.seed,
    seeds = bench.seeds and report.array(bench.seeds) or nil,
    tune = { method = t.method or "random", trials = t.trials, steps = t.steps, eta = t.eta, min_epochs = t.min_epochs,
             validation = t.validation, points = t.points, seeds = t.seeds and report.array(t.seeds) or nil },
    problems = report.array(),
  }
  for _, p in ipairs(problems) do
    local s = spec_of(p)
    out.problems[#out.problems + 1] = {
      name = p.name, description = s.description, loss = s.loss, metrics = report.array(s.metrics or {}),
      batch_size = s.batch_size, epochs = s.epochs, train_limit = s.train_limit, val_limit = s.val_limit,
      metric = s.tune.metric, mode = s.tune.mode,
    }
  end
  return out
end

-- The first field where two protocols differ, as "tune.trials", with both values; nil when equal.
local function differ(a, b, path)
  if type(a) == "table" and type(b) == "table" then
    local keys, seen = {}, {}
    for k in pairs(a) do if not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
    for k in pairs(b) do if not seen[k] then seen[k] = true; keys[#keys + 1] = k end end
    table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
    for _, k in ipairs(keys) do
      local name = type(k) == "number" and string.format("%s[%d]", path, k) or (path == "" and k or path .. "." .. k)
      local f, x, y = differ(a[k], b[k], name)
      if f then return f, x, y end
    end
    return nil
  end
  if a == b then return nil end
  return path, a, b
end

local function show(v)
  if v == nil then return "not given" end
  if type(v) == "table" then return report.json(v) end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end   -- JSON's 2.0 is 2
  return type(v) == "number" and report.num(v) or tostring(v)
end

-- Refuses baselines whose protocol is not this benchmark's, naming the first field that differs.
function M.check(mine, theirs, dir, where)
  if type(theirs) ~= "table" then
    fail(string.format("%s: %s records no protocol (a benchmark folder of an optlab before baselines): regenerate it", where, dir))
  end
  -- problems by name first: the clearest message when the suite itself differs
  local a, b = {}, {}
  for _, p in ipairs(mine.problems) do a[#a + 1] = p.name end
  for _, p in ipairs(theirs.problems or {}) do b[#b + 1] = tostring(p.name) end
  if table.concat(a, ",") ~= table.concat(b, ",") then
    fail(string.format("%s: the baselines in %s ran other problems (%s) than this benchmark's (%s)", where, dir,
                       table.concat(b, ", "), table.concat(a, ", ")))
  end
  local field, here, there = differ(mine, theirs, "")
  if field then
    local pname = field:match("^problems%[(%d+)%]")
    fail(string.format("%s: the baselines in %s are not comparable: %s is %s there, %s here%s", where, dir, field,
                       show(there), show(here), pname and (" (problem " .. mine.problems[tonumber(pname)].name .. ")") or ""))
  end
end

local function read_json(path, where)
  local text = report.read_file(path)
  if not text then fail(string.format("%s: no %s", where, path)) end
  local ok, v = pcall(report.json_decode, text, path)
  if not ok or type(v) ~= "table" then fail(string.format("%s: %s is not a manifest: %s", where, path, tostring(v))) end
  return v
end

-- The baselines' manifest: a complete benchmark's, with a protocol.
function M.manifest(dir, where)
  dir = dir:gsub("/+$", "")
  local m = read_json(dir .. "/manifest.json", where)
  if m.kind ~= "benchmark" then fail(string.format("%s: %s is not a benchmark's folder (its manifest's kind is %s)", where, dir, show(m.kind))) end
  if m.status ~= "complete" then fail(string.format("%s: the baselines in %s did not complete (status %s)", where, dir, show(m.status))) end
  if type(m.protocol) ~= "table" or type(m.protocol.problems) ~= "table" or type(m.protocol.tune) ~= "table" then
    fail(string.format("%s: %s records no protocol (a benchmark folder of an optlab before baselines): regenerate it", where, dir))
  end
  return m
end

-- JSON's numbers as the script would have written them: 3.0 is the integer 3 (a seed of 1.0
-- would name runs "seed 1.0", and verify's rerun, given seeds=1, would find no such row).
local function plain(v)
  if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then return math.floor(v) end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = plain(x) end
  return out
end

-- The benchmark's spec with the baselines' problems, tune and seeds where it gives none: a new
-- optimizer's benchmark can be just { optimizers = {...}, baselines = "baselines/small-suite" }.
-- The problems are rebuilt from their names and recorded sizes (data, not code).
function M.fill(spec, proto, dir, where)
  proto = plain(proto)
  local out = {}
  for k, v in pairs(spec) do out[k] = v end
  if out.problems == nil then
    local problems = require "problems"
    out.problems = {}
    local known = {}
    for _, n in ipairs(problems.names) do known[n] = true end
    for i, p in ipairs(proto.problems) do
      if type(p) ~= "table" or not known[p.name] then
        fail(string.format("%s: the baselines in %s list problem %d as %s, not one of problems.*", where, dir, i,
                           show(type(p) == "table" and p.name or p)))
      end
      out.problems[i] = problems[p.name] { epochs = p.epochs, train_limit = p.train_limit, val_limit = p.val_limit }
    end
  end
  if out.tune == nil then
    local t = {}
    for k, v in pairs(proto.tune) do t[k] = v end
    out.tune = t
  end
  if out.seeds == nil then out.seeds = proto.seeds end
  if out.seed == nil then out.seed = proto.seed end
  return out
end

-- The baselines' results per problem, as benchmark.lua's rows: { [problem] = { folder, cpu, steps_per_epoch,
-- rows = { {optimizer, label, mean, std, n, hp, test_metric, values} } } }, after checking the protocol and that
-- each row's test values are those of its reruns in metrics.csv.
function M.load(dir, m, mine, where)
  dir = dir:gsub("/+$", "")
  M.check(mine, m.protocol, dir, where)
  local out = { dir = dir, name = m.name, problems = {} }
  for _, p in ipairs(m.problems or {}) do
    local sub = type(p.folder) == "string" and p.folder:match("^[%w_.%-]+/[%w_.%-]+$") and not p.folder:find("..", 1, true) and p.folder
    if not sub then fail(string.format("%s: the baselines' problem %s has no run folder", where, show(p.name))) end
    local folder = dir .. "/" .. sub
    local pm = read_json(folder .. "/manifest.json", where)
    local tune = type(pm.tune) == "table" and pm.tune or {}
    local csv = report.read_file(folder .. "/metrics.csv")
    if not csv then fail(string.format("%s: no %s/metrics.csv", where, folder)) end
    local rows = report.parse_csv(csv).rows
    local entry = { folder = folder, cpu = pm.cpu, steps_per_epoch = tune.steps_per_epoch, rows = {} }
    for _, b in ipairs(tune.best or {}) do
      -- the recorded test values must be the last epoch of each rerun in metrics.csv, in seed order
      local metric = "val_" .. tostring(b.test_metric):gsub("^test_", "")
      local last = {}
      for _, r in ipairs(rows) do
        if r.optimizer == b.label then
          local s = r.seed or ""
          if not last[s] or tonumber(r.epoch) >= last[s].epoch then
            last[s] = { epoch = tonumber(r.epoch), value = report.parse_num(r[metric]) }
          end
        end
      end
      -- compared as sorted lists: the seeds' order is the manifest's business
      local got, vals = {}, {}
      for _, l in pairs(last) do got[#got + 1] = l.value or 0 / 0 end
      for i, v in ipairs(b.test_values or {}) do vals[i] = v end
      table.sort(got); table.sort(vals)
      local ok = #got == #vals
      for i = 1, #got do ok = ok and got[i] == vals[i] end
      if not ok then
        fail(string.format("%s: the baselines' record of %s on %s was edited: its manifest's test values (%s) are not " ..
                           "the last %s of its runs in %s/metrics.csv; run `optlab verify %s`", where, tostring(b.label),
                           tostring(p.name), table.concat(vals, ", "), metric, folder, dir))
      end
      entry.rows[#entry.rows + 1] = { optimizer = b.optimizer, label = b.label, mean = b.test_mean, std = b.test_std,
                                      n = b.test_runs, hp = b.hyperparameters, test_metric = b.test_metric,
                                      values = b.test_values, baseline = true, folder = folder, cpu = pm.cpu }
    end
    out.problems[p.name] = entry
  end
  return out
end

return M
