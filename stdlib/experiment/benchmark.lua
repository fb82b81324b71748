-- experiment.benchmark: the same optimizers, tuned with the same budget, on several
-- test problems (stdlib/problems.lua), and the results across them.
--
--   return experiment.benchmark {
--     name = "suite",
--     problems = { "quadratic_deep", problems.logistic_mnist { epochs = 2, train_limit = 2000 } },
--     optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) }, { "Adam", lr = tune.log_uniform(1e-4, 1e-1) } },
--     tune = { method = "halving", trials = 9 }, seeds = { 1, 2, 3 },
--   }
--
-- Each problem is one tuned comparison with a run folder of its own, made by a child
-- process: `optlab script problem=<name> runs_dir=<benchmark folder>`. The child is the
-- script's first comparison, so its trials fill every core (workers rerun the script
-- with the same problem=), and `optlab verify` and `optlab resume` of a problem's folder
-- rerun that problem alone (problem= is among its recorded overrides). The benchmark
-- folder, runs/<name>/<UTC time>/, holds the problems' folders and the views across
-- them: benchmark.csv, summary.md, the performance profile (profile.svg/.png) and the
-- manifest.
local common = require "experiment.base"
local report = common.report
local experiment = common.experiment
local fail = common.fail
local env = require "experiment.env"
local baselines = require "experiment.baselines"

local KEYS = { name = true, problems = true, optimizers = true, tune = true, seeds = true, seed = true, epochs = true,
               train_limit = true, val_limit = true, runs_dir = true, arg = true, description = true, gnuplot = true,
               verbose = true, baselines = true }

-- The problems as { name, spec } (a name, or a problems.<name>{...} table).
local function resolve_problems(list, where)
  local problems = require "problems"
  if type(list) ~= "table" or #list == 0 then
    fail(where .. ": problems must be a non-empty list of problem names or problems.<name>{...} tables")
  end
  local out, seen = {}, {}
  for i, p in ipairs(list) do
    local spec
    if type(p) == "string" then spec = problems[p]()
    elseif type(p) == "table" and type(p.problem) == "table" then spec = p
    else fail(string.format("%s: problems[%d] is %s: expected a name (\"mlp_mnist\") or problems.mlp_mnist{...}", where, i, type(p))) end
    local name = spec.problem.name
    if seen[name] then fail(where .. ": the problem " .. name .. " is listed twice") end
    seen[name] = true
    out[#out + 1] = { name = name, spec = spec }
  end
  return out
end

-- The comparison of one problem: its fields, the benchmark's shared ones over them.
local function problem_spec(bench, p)
  local s = {}
  for k, v in pairs(p.spec) do s[k] = v end
  for _, k in ipairs { "optimizers", "seeds", "seed", "epochs", "train_limit", "val_limit", "gnuplot", "verbose" } do
    if bench[k] ~= nil then s[k] = bench[k] end   -- the benchmark's fields hold for every problem
  end
  local t = {}
  for k, v in pairs(bench.tune) do t[k] = v end
  t.metric, t.mode = t.metric or p.spec.problem.target.metric, t.mode or p.spec.problem.target.mode
  if t.seeds == nil and bench.seeds then t.seeds = bench.seeds end
  s.tune, s.name, s.arg = t, p.name, bench.arg
  return s
end

local function lower_is_better(metric) return metric:find("loss", 1, true) ~= nil end

-- Ranks by mean (1 = best; ties share the mean of their places).
local function ranks(rows, low)
  local order = {}
  for i, r in ipairs(rows) do if r.mean then order[#order + 1] = i end end
  table.sort(order, function(a, b)
    if low then return rows[a].mean < rows[b].mean end
    return rows[a].mean > rows[b].mean
  end)
  local k = 1
  while k <= #order do
    local j = k
    while j < #order and rows[order[j + 1]].mean == rows[order[k]].mean do j = j + 1 end
    for m = k, j do rows[order[m]].rank = (k + j) / 2 end
    k = j + 1
  end
end

-- Steps to target, AlgoPerf-style: the target is the best optimizer's final test metric on
-- the problem (the best baseline's); per optimizer, the first epoch at which the mean over
-- seeds of its reruns' test curve (metrics.csv) reaches it, in steps and in training
-- seconds (the mean over seeds, summed to that epoch). nil when it never does.
local function to_target(pr, steps_per_epoch)
  local curves = {}   -- folder -> metrics.csv's rows (a baseline's curve is in its own folder)
  local function curve(folder)
    if folder and curves[folder] == nil then
      local text = report.read_file(folder .. "/metrics.csv")
      curves[folder] = text and report.parse_csv(text).rows or false
    end
    return folder and curves[folder] or nil
  end
  local low = lower_is_better(pr.metric)
  local best = nil
  for _, r in ipairs(pr.rows) do
    if r.mean and (best == nil or (low and r.mean < best) or (not low and r.mean > best)) then best = r.mean end
  end
  pr.target = best
  if not best then return end
  for _, r in ipairs(pr.rows) do
    local by = {}   -- epoch -> {sum of metric, sum of seconds, n}
    local maxe = 0
    for _, row in ipairs(curve(r.folder or pr.folder) or {}) do
      if row.optimizer == r.label then
        local e = tonumber(row.epoch)
        by[e] = by[e] or { 0, 0, 0 }
        by[e][1] = by[e][1] + (report.parse_num(row[pr.metric]) or 0 / 0)
        by[e][2] = by[e][2] + (report.parse_num(row.seconds) or 0)
        by[e][3] = by[e][3] + 1
        maxe = math.max(maxe, e)
      end
    end
    local secs = 0
    for e = 1, maxe do
      local c = by[e]
      if not c then break end
      secs = secs + c[2] / c[3]
      local m = c[1] / c[3]
      -- reached: at least as good as the target (the target's own value rounded as it was computed)
      if (low and m <= best * (1 + 1e-12)) or (not low and m >= best * (1 - 1e-12)) then
        r.target_epoch, r.target_steps, r.target_seconds = e, e * steps_per_epoch, secs
        break
      end
    end
  end
end

-- A 95% interval of each rank: each optimizer's test values over its seeds resampled with replacement
-- (B times, from a generator of tune's keyed by the problem, so the same every time),
-- the optimizers ranked by the resampled means; the 2.5th and 97.5th percentiles.
local BOOT = 1000
local function rank_intervals(problem, rows, low)
  local tune = require "tune"
  local u = tune.stream("ranks/" .. problem)
  local got = {}
  for i in ipairs(rows) do got[i] = {} end
  for _ = 1, BOOT do
    local sample = {}
    for i, r in ipairs(rows) do
      local v = r.values or {}
      if #v > 0 then
        local sum = 0
        for _ = 1, #v do sum = sum + v[math.floor(u() * #v) + 1] end
        sample[i] = { mean = sum / #v }
      else sample[i] = {} end
    end
    ranks(sample, low)
    for i in ipairs(rows) do if sample[i].rank then got[i][#got[i] + 1] = sample[i].rank end end
  end
  for i, r in ipairs(rows) do
    local g = got[i]
    table.sort(g)
    if #g > 0 then r.rank_lo, r.rank_hi = g[math.max(1, math.floor(0.025 * #g + 0.5))], g[math.min(#g, math.ceil(0.975 * #g))] end
  end
end

-- Dolan and Moré's performance profile: per problem, an optimizer's cost (its test
-- error, 1 - accuracy, or its test loss) over the best optimizer's; rho(tau) = the
-- fraction of problems on which the ratio is at most tau.
local function profile(dir, results, optimizers, gnuplot)
  local P = report._plot
  local ratios = {}
  for _, o in ipairs(optimizers) do ratios[o] = {} end
  for _, pr in ipairs(results) do
    local best = nil
    for _, r in ipairs(pr.rows) do
      r.cost = r.mean and (lower_is_better(pr.metric) and r.mean or 1 - r.mean) or nil
      if r.cost and (best == nil or r.cost < best) then best = r.cost end
    end
    for _, r in ipairs(pr.rows) do
      local ratio = (r.cost and best and best > 0) and r.cost / best or (r.cost == best and r.cost and 1 or math.huge)
      local list = ratios[r.optimizer]
      if list then list[#list + 1] = ratio end
    end
  end
  local hi = 1
  for _, o in ipairs(optimizers) do
    for _, x in ipairs(ratios[o]) do if x < math.huge then hi = math.max(hi, x) end end
  end
  hi = hi * 1.1
  local blocks, clauses = {}, {}
  local n = #results
  for i, o in ipairs(optimizers) do
    local xs = {}
    for _, x in ipairs(ratios[o]) do xs[#xs + 1] = x end
    table.sort(xs)
    -- a step function: rho jumps at each ratio
    local lines, rho = { "tau\t" .. o, "1\t" .. report.num(0) }, 0
    for _, x in ipairs(xs) do
      if x < math.huge then
        lines[#lines + 1] = report.num(x) .. "\t" .. report.num(rho)
        rho = rho + 1 / n
        lines[#lines + 1] = report.num(x) .. "\t" .. report.num(rho)
      end
    end
    lines[#lines + 1] = report.num(hi) .. "\t" .. report.num(rho)
    blocks[#blocks + 1] = table.concat(lines, "\n")
    clauses[#clauses + 1] = string.format("'profile.dat' index %d using 1:2 with lines linewidth 2 linecolor rgb %q title %s",
                                          i - 1, P.color(i), P.gp_str(o))
  end
  report.write_file(dir .. "/profile.dat", "# Dolan-More performance profile: per optimizer, tau and the fraction of " ..
                    "problems whose cost ratio to the best is at most tau\n" .. table.concat(blocks, "\n\n\n") .. "\n")
  local xr = P.range()
  P.widen(xr, 1); P.widen(xr, hi)
  local panel = { title = string.format("performance profile over %d problem%s (cost: test error, or test loss)", n,
                                        n == 1 and "" or "s"),
                  xlabel = "tau: cost / the best optimizer's cost (log scale)", ylabel = "fraction of problems within tau",
                  ylog = false, yrange = "[0:1.05]", xlog = xr, clauses = clauses }
  report.write_file(dir .. "/profile.gp", P.figure_gp("profile", "performance profile (Dolan-More)", 900, { panel }, 1,
                    optimizers, "higher and further left is better; a curve reaching 1 at tau = 1 won every problem"))
  return report.render(dir, { "profile" }, gnuplot, {})
end

local function benchmark(spec)
  local where = "experiment.benchmark"
  if type(spec) ~= "table" then fail(where .. ": expected a table, got " .. type(spec)) end
  for k in pairs(spec) do
    if type(k) ~= "string" or not KEYS[k] then
      local ks = {}
      for x in pairs(KEYS) do ks[#ks + 1] = x end
      table.sort(ks)
      fail(string.format("%s: unknown field '%s' (fields: %s)", where, tostring(k), table.concat(ks, ", ")))
    end
  end
  local args = spec.arg or rawget(_G, "arg")
  local ov, given = experiment.parse_overrides(args)
  -- baselines: another benchmark's results with the same protocol, read as data and ranked with this one's;
  -- the problems, tune and seeds not given are theirs
  local bdir = ov.baselines or spec.baselines
  if bdir ~= nil and type(bdir) ~= "string" then fail(where .. ": baselines must be a benchmark's folder (a string), got " .. type(bdir)) end
  local bman = bdir and baselines.manifest(bdir, where)
  if bman then spec = baselines.fill(spec, bman.protocol, bdir, where) end
  if type(spec.tune) ~= "table" then fail(where .. ": a benchmark tunes every optimizer on every problem: give tune = {...}") end
  local list = resolve_problems(spec.problems, where)
  local bench = {}
  for k, v in pairs(spec) do bench[k] = v end
  bench.arg = args
  if ov.problem then
    -- a child (or its workers, or verify/resume of its folder): this problem's comparison
    for _, p in ipairs(list) do
      if p.name == ov.problem then return experiment.compare(problem_spec(bench, p)) end
    end
    local names = {}
    for _, p in ipairs(list) do names[#names + 1] = p.name end
    fail(string.format("%s: problem=%s is not among this benchmark's problems (%s)", where, ov.problem, table.concat(names, ", ")))
  end
  -- every problem's comparison is checked here, before anything runs (a child would find the same errors later)
  for _, p in ipairs(list) do
    local s = problem_spec(bench, p)
    require("experiment.tune").prepare(s, where .. ": problem " .. p.name)
  end
  local protocol = baselines.protocol(bench, list, function(p) return problem_spec(bench, p) end)
  local base = bman and baselines.load(bdir, bman, protocol, where)
  local cpu = env.cpu_model()
  if base then
    for _, v in ipairs(spec.optimizers or {}) do
      local label = type(v) == "string" and v or (type(v) == "table" and (v.label or (type(v[1]) == "string" and v[1]))) or nil
      for _, e in pairs(base.problems) do
        for _, r in ipairs(e.rows) do
          if label and r.label == label then
            fail(string.format("%s: the baselines in %s already have %s: give yours another label ({ \"%s\", label = \"my %s\", ... })",
                               where, bdir, label, tostring(type(v) == "table" and v[1] or v), label))
          end
        end
      end
    end
  end
  local script = args and args[0]
  if type(script) ~= "string" or not report.exists(script) then
    fail(where .. ": a benchmark runs each problem in a process of its own: run it as a script file (optlab suite.lua)")
  end
  local name = ov.name or spec.name or "benchmark"
  local root = ov.runs_dir or spec.runs_dir or os.getenv("OPTLAB_RUNS") or "runs"
  report.mkdir_p(root .. "/" .. name)
  local dir = root .. "/" .. name .. "/" .. os.date("!%Y-%m-%dT%H-%M-%SZ")
  for k = 2, 1000 do
    if not report.exists(dir) then break end
    dir = root .. "/" .. name .. "/" .. os.date("!%Y-%m-%dT%H-%M-%SZ") .. "-" .. k
  end
  report.mkdir_p(dir)
  local exe = env.optlab_exe()
  local q = report.shell_quote
  local pass = {}
  for _, g in ipairs(given) do if not g:match("^name=") then pass[#pass + 1] = q(g) end end
  print(string.format("benchmark %s: %d problems, one tuned comparison each; folder %s", name, #list, dir))
  local results, status = {}, 0
  local manifest = { name = name, kind = "benchmark", description = spec.description, start_time = env.utc(os.time()),
                     command = { overrides = report.array(given) }, problems = report.array(), protocol = protocol,
                     cpu = cpu, baselines = base and { folder = base.dir, name = base.name } or nil }
  for _, p in ipairs(list) do
    print(string.format("\nbenchmark %s: problem %s", name, p.name))
    local cmd = table.concat({ q(exe), q(script), q("problem=" .. p.name), q("runs_dir=" .. dir) }, " ") ..
                (#pass > 0 and (" " .. table.concat(pass, " ")) or "")
    local how, code = report.exec_result(os.execute(cmd))
    local folder
    local sub = dir .. "/" .. p.name
    if report.exists(sub) then
      local stamps = sys.listdir(sub)
      table.sort(stamps)
      if #stamps > 0 then folder = sub .. "/" .. stamps[#stamps] end
    end
    local m = folder and report.read_file(folder .. "/manifest.json")
    m = m and report.json_decode(m, folder .. "/manifest.json")
    local metric = p.spec.problem.target.metric
    local pr = { problem = p.name, folder = folder, metric = metric, rows = {} }
    for _, b in ipairs(m and m.tune and m.tune.best or {}) do
      pr.rows[#pr.rows + 1] = { optimizer = b.optimizer, label = b.label, mean = b.test_mean, std = b.test_std, n = b.test_runs,
                                hp = b.hyperparameters, test_metric = b.test_metric, values = b.test_values, cpu = cpu }
    end
    for _, r in ipairs(base and base.problems[p.name] and base.problems[p.name].rows or {}) do pr.rows[#pr.rows + 1] = r end
    ranks(pr.rows, lower_is_better(metric))
    rank_intervals(p.name, pr.rows, lower_is_better(metric))
    to_target(pr, m and m.tune and m.tune.steps_per_epoch or 0)
    results[#results + 1] = pr
    local ok = how == "exit" and code == 0
    manifest.problems[#manifest.problems + 1] = { name = p.name, folder = folder and folder:sub(#dir + 2) or nil,
                                                  exit_status = how == "exit" and code or nil, signal = how == "signal" and code or nil }
    if not ok then
      status = (how == "signal" and code == 2 or code == 130) and 130 or math.max(status, 1)
      io.stderr:write(string.format("benchmark %s: problem %s %s\n", name, p.name,
                                    how == "signal" and ("died of signal " .. code) or ("exited with status " .. code)))
      if status == 130 then break end
    end
  end
  -- the views across problems
  local optimizers, seen = {}, {}
  for _, pr in ipairs(results) do
    for _, r in ipairs(pr.rows) do
      if not seen[r.optimizer] then seen[r.optimizer] = true; optimizers[#optimizers + 1] = r.optimizer end
    end
  end
  local csv = { "problem,optimizer,test_metric,mean,std,seeds,rank,rank_lo,rank_hi,target,steps_to_target,seconds_to_target," ..
                "hyperparameters,baseline,cpu" }
  local md = { "# " .. name, "", "Each problem is a tuned comparison with its own run folder (verify each with `optlab verify`); " ..
               "the test metric of each optimizer's best configuration, mean ± std over seeds, and its rank on the problem " ..
               "(1 = best) with a 95% interval (the test values of its seeds resampled with replacement " .. BOOT .. " times); " ..
               "the steps (and training seconds) its mean test curve took to reach the best optimizer's final value, " ..
               "AlgoPerf's time to target with the best baseline's result as the target.", "" }
  if base then
    md[#md + 1] = string.format("Rows marked (baseline) are read from %s (not rerun): the same problems, budget, tune method " ..
                                "and seeds, checked field by field.", base.dir)
    md[#md + 1] = ""
  end
  local text, sections, other_cpu = {}, {}, {}
  for _, pr in ipairs(results) do
    local rows = {}
    for _, r in ipairs(pr.rows) do
      local hp = require("experiment.tune").hp_text(r.hp)
      csv[#csv + 1] = table.concat({ report.csv_cell(pr.problem), report.csv_cell(r.optimizer), r.test_metric or "",
        r.mean and report.num(r.mean) or "", r.std and report.num(r.std) or "", string.format("%d", r.n or 0),
        r.rank and report.num(r.rank) or "", r.rank_lo and report.num(r.rank_lo) or "", r.rank_hi and report.num(r.rank_hi) or "",
        pr.target and report.num(pr.target) or "", r.target_steps and string.format("%d", r.target_steps) or "",
        r.target_seconds and report.num(r.target_seconds) or "", report.csv_cell(hp), r.baseline and "yes" or "no",
        report.csv_cell(r.cpu or "") }, ",")
      -- seconds measured on another CPU are not this machine's: say so, and which
      local elsewhere = r.cpu and r.cpu ~= cpu
      if elsewhere then other_cpu[r.cpu] = true end
      rows[#rows + 1] = { r.optimizer .. (r.baseline and " (baseline)" or ""), r.mean and string.format("%.4f ± %.4f", r.mean, r.std or 0) or "-",
                          r.rank and string.format("%g", r.rank) or "-",
                          r.rank_lo and string.format("%g-%g", r.rank_lo, r.rank_hi) or "-",
                          r.target_steps and string.format("%d (%.1f s%s)", r.target_steps, r.target_seconds,
                                                           elsewhere and (", on " .. r.cpu) or "") or "not reached", hp }
    end
    local header = { "optimizer", (pr.rows[1] and pr.rows[1].test_metric or "test") .. " (mean ± std)", "rank",
                     "rank, 95% interval", "steps to " .. (pr.target and string.format("%.4g", pr.target) or "target"),
                     "best configuration" }
    md[#md + 1] = "## " .. pr.problem .. (pr.folder and (" (`" .. pr.folder:sub(#dir + 2) .. "`)") or " (no run folder)")
    md[#md + 1] = ""
    md[#md + 1] = report.md_table(header, rows)
    md[#md + 1] = ""
    text[#text + 1] = pr.problem .. "\n" .. report.text_table(header, rows)
    sections[#sections + 1] = { title = pr.problem, header = header, rows = rows,
                                link = pr.folder and pr.folder:sub(#dir + 2) or nil }
  end
  -- mean rank across problems
  local mh, mr = { "optimizer", "mean rank", "problems" }, {}
  for _, o in ipairs(optimizers) do
    local sum, k = 0, 0
    for _, pr in ipairs(results) do
      for _, r in ipairs(pr.rows) do if r.optimizer == o and r.rank then sum, k = sum + r.rank, k + 1 end end
    end
    mr[#mr + 1] = { o, k > 0 and string.format("%.2f", sum / k) or "-", tostring(k) }
  end
  local others = {}
  for c in pairs(other_cpu) do others[#others + 1] = c end
  table.sort(others)
  if #others > 0 then
    md[#md + 1] = string.format("Times to target marked \"on <CPU>\" were measured on another machine (%s), not on this " ..
                                "one (%s): compare their steps, not their seconds.", table.concat(others, "; "), cpu)
    md[#md + 1] = ""
  end
  md[#md + 1] = "## Across problems"
  md[#md + 1] = ""
  md[#md + 1] = report.md_table(mh, mr)
  md[#md + 1] = ""
  local plot = #optimizers > 0 and profile(dir, results, optimizers, spec.gnuplot) or { rendered = false, message = "no results" }
  md[#md + 1] = "Performance profile (Dolan-Moré): profile.svg" .. (plot.rendered and "" or (" (not rendered: " .. tostring(plot.message) .. ")"))
  report.write_file(dir .. "/benchmark.csv", table.concat(csv, "\n") .. "\n")
  report.write_file(dir .. "/summary.md", table.concat(md, "\n") .. "\n")
  manifest.end_time = env.utc(os.time())
  manifest.status = status == 0 and "complete" or "incomplete"
  manifest.plots = { rendered = plot.rendered, message = plot.message }
  report.write_file(dir .. "/manifest.json", report.json(manifest) .. "\n")
  sections[#sections + 1] = { title = "Across problems", header = mh, rows = mr }
  report.write_file(dir .. "/report.html", report.benchmark_html(dir, name, md[3], sections,
                    plot.rendered and { "profile" } or {}, manifest))
  print("\n" .. table.concat(text, "\n\n") .. "\n\nAcross problems\n" .. report.text_table(mh, mr))
  if not plot.rendered then print("\nProfile not rendered: " .. tostring(plot.message)) end
  print("\nBenchmark folder: " .. dir)
  experiment._exit_status = math.max(experiment._exit_status or 0, status)
  sys.set_exit_status(experiment._exit_status)
  return { dir = dir, results = results, exit_status = status, manifest = manifest }
end

function experiment.benchmark(spec)
  local prev = sys.catch_interrupts(true)
  local ok, result = pcall(benchmark, spec)
  sys.catch_interrupts(prev)
  if not ok then error(result, 0) end
  return result
end

require("help").register(experiment.benchmark, [[
experiment.benchmark{name, problems = {"quadratic_deep", problems.mlp_mnist{epochs = 2}, ...}, optimizers = {...},
                     tune = {...}, seeds = {1, 2, 3}, epochs, train_limit, val_limit, baselines} -> {dir, results, exit_status}
One tuned comparison per problem (each in a process of its own, with a run folder that `optlab verify` checks),
then benchmark.csv, summary.md (per problem: the test metric mean ± std and rank; the mean rank across problems)
and profile.svg (Dolan-Moré's performance profile) in runs/<name>/<UTC time>/.
baselines = "baselines/small-suite" (or baselines=<folder>): rank the optimizers among a benchmark folder's recorded
results without rerunning them; its protocol must be this one's (problems, tune, seeds, optlab version), and the
problems, tune and seeds left out are its. README: "A fair comparison".]])

return experiment.benchmark
