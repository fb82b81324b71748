-- Tuned comparisons (experiment.compare{..., tune = {...}}; stdlib/tune.lua and
-- stdlib/experiment/tune.lua): the draws, the grid, successive halving, the
-- selection on validation and the reruns on the test set, resume and verify, and
-- the errors. A softmax regression on data.blobs with the real train.fit: each
-- trial takes milliseconds, so the protocol runs end to end through the optlab
-- binary (workers, records, resume) in seconds.
local lib = require "lib"
local report = require "report"
local experiment = require "experiment"
local tune = require "tune"
local check, raises = lib.check, lib.raises

local T = {}
local q = report.shell_quote
local EXE = lib.optlab_exe()
if EXE:sub(1, 1) ~= "/" then EXE = io.popen("readlink -f " .. q(EXE)):read("l") end

local TMP = lib.tmpdir()

-- @OPTIMIZERS@ and @TUNE@ are filled in; TUNE_KILL=1 kills the process (SIGKILL)
-- in the first epoch 2 of any run: with halving's rungs of 1, 2, 4 epochs, inside rung 1.
local SCRIPT = [==[
local function model()
  local w = tensor.randn(2, 3) * 0.1
  local b = tensor.zeros(3)
  w.requires_grad, b.requires_grad = true, true
  w.name, b.name = "weight", "bias"
  local m = { w = w, b = b }
  function m:parameters() return { self.w, self.b } end
  return setmetatable(m, { __call = function(self, x) return x:matmul(self.w) + self.b end })
end
local killer = { on_batch_end = function(step, logs, ctx)
  if os.getenv("TUNE_KILL") and ctx.epoch == 2 then
    local p = io.popen("kill -KILL $PPID")
    p:read("a")
  end
end }
local ds = data.blobs { n = 480, centers = 3, features = 2, std = 2.5, seed = 7 }
local tr, te = ds:split { validation = 0.25 }
return experiment.compare {
  name = "tuned", data = { tr, te }, model = model, callbacks = { killer },
  batch_size = 40, epochs = @EPOCHS@, seed = 1, verbose = 0,
  optimizers = @OPTIMIZERS@,
  tune = @TUNE@,
}
]==]

local counter = 0
local function script(optimizers, tune_table, epochs)
  counter = counter + 1
  local dir = string.format("%s/t%d", TMP, counter)
  report.mkdir_p(dir)
  local path = dir .. "/tuned.lua"
  local text = SCRIPT:gsub("@OPTIMIZERS@", function() return optimizers end):gsub("@TUNE@", function() return tune_table end)
                     :gsub("@EPOCHS@", tostring(epochs or 2))
  report.write_file(path, text)
  return path, dir
end

local function run(args, pre)
  local out, err = TMP .. "/stdout", TMP .. "/stderr"
  local ok, _, code = os.execute((pre or "") .. q(EXE) .. " " .. args .. " > " .. q(out) .. " 2> " .. q(err))
  return ok and 0 or code, report.read_file(out) or "", report.read_file(err) or ""
end

-- Runs the script; returns the run folder, stdout, exit status, stderr.
local function tuned_run(path, dir, extra, pre)
  local rc, out, err = run("--threads 2 " .. q(path) .. " runs_dir=" .. q(dir .. "/runs") .. " " .. (extra or ""), pre)
  return out:match("Run folder: ([^\n]+)") or out:match("run folder ([^\n]+)"), out, rc, err
end

local function trials(folder) return report.parse_csv(report.read_file(folder .. "/trials.csv")).rows end
local function manifest(folder) return report.json_decode(report.read_file(folder .. "/manifest.json")) end

local TWO = [[{ { "SGD", lr = tune.log_uniform(1e-3, 1) }, { "Adam", lr = tune.log_uniform(1e-4, 0.3) } }]]

---------------------------------------------------------------- the spaces and the draws

function T.spaces_draw_inside_their_bounds_and_grids_include_the_ends()
  local lu, un, ch = tune.log_uniform(1e-4, 1), tune.uniform(0.5, 0.9), tune.choice { 0, 0.9, 0.99 }
  local u = tune.stream("1/SGD")
  for _ = 1, 200 do
    local a, b, c = lu:at(u()), un:at(u()), ch:at(u())
    check(a >= 1e-4 and a <= 1 and b >= 0.5 and b <= 0.9 and (c == 0 or c == 0.9 or c == 0.99), "out of bounds")
  end
  local g = lu:grid(5)
  check(#g == 5 and g[1] == 1e-4 and g[5] == 1 and g[3] == 0.01, "log grid " .. table.concat(g, ","))
  local gu = un:grid(3)
  check(gu[1] == 0.5 and gu[2] == 0.7 and gu[3] == 0.9, "uniform grid")
  check(#ch:grid(7) == 3, "a choice's grid is its values")
end

function T.random_draws_depend_only_on_the_seed_the_optimizer_and_the_trial()
  local spaces = { { key = "lr", space = tune.log_uniform(1e-4, 1) }, { key = "momentum", space = tune.choice { 0, 0.9, 0.99 } } }
  local a = tune.draw(spaces, 1, "SGD", 3)
  -- drawing other trials or optimizers first changes nothing
  tune.draw(spaces, 1, "Adam", 1)
  tune.draw(spaces, 1, "SGD", 7)
  local b = tune.draw(spaces, 1, "SGD", 3)
  check(a.lr == b.lr and a.momentum == b.momentum, "trial 3 drew differently the second time")
  -- the draws of successive trials are spread, not one sequence shifted
  local lrs, distinct = {}, {}
  for t = 1, 12 do
    lrs[t] = tune.draw(spaces, 1, "SGD", t).lr
    distinct[lrs[t]] = true
  end
  local ups = 0
  for t = 2, 12 do if lrs[t] > lrs[t - 1] then ups = ups + 1 end end
  check(ups > 1 and ups < 10, "the lr of trials 1..12 move in step: " .. table.concat(lrs, ", "))
  local n = 0
  for _ in pairs(distinct) do n = n + 1 end
  check(n == 12, "12 trials drew " .. n .. " distinct lrs")
  local lo, hi = math.huge, 0
  for _, v in ipairs(lrs) do lo, hi = math.min(lo, v), math.max(hi, v) end
  check(hi / lo > 100, "12 log-uniform draws over 4 decades span only " .. hi / lo)
  -- another experiment seed draws other values
  check(tune.draw(spaces, 2, "SGD", 3).lr ~= a.lr, "seed 2 drew seed 1's lr")
end

function T.random_search_is_the_same_with_any_jobs_and_the_draws_are_recorded()
  local path, dir = script(TWO, [[{ method = "random", trials = 3, seeds = { 1, 2 } }]])
  local f1, out1, rc1, err1 = tuned_run(path, dir, "--jobs 1")
  check(rc1 == 0 and f1, "serial tuned run failed:\n" .. out1 .. err1)
  local f2, out2, rc2 = tuned_run(path, dir, "--jobs 2")
  check(rc2 == 0 and f2, "--jobs 2 tuned run failed:\n" .. out2)
  check(report.read_file(f1 .. "/trials.csv") == report.read_file(f2 .. "/trials.csv"), "trials.csv differs with --jobs 2")
  local same, _, first = experiment.compare_metrics(report.read_file(f1 .. "/metrics.csv"), report.read_file(f2 .. "/metrics.csv"))
  check(same, "--jobs 2 metrics differ: " .. tostring(first))
  check(manifest(f2).schedule.processes == true, "--jobs 2 did not use worker processes")
  -- each trial ran the configuration its (seed, optimizer, trial) draws
  local rows = trials(f1)
  check(#rows == 6, "trials.csv rows " .. #rows)
  for _, r in ipairs(rows) do
    local lo = r.optimizer == "SGD" and 1e-3 or 1e-4
    local hi = r.optimizer == "SGD" and 1 or 0.3
    local want = tune.draw({ { key = "lr", space = tune.log_uniform(lo, hi) } }, 1, r.optimizer, tonumber(r.trial)).lr
    check(tonumber(r.lr) == want, string.format("%s trial %s: lr %s, drawn %s", r.optimizer, r.trial, r.lr, want))
    check(r.status == "complete" and r.rung == "0" and r.epochs == "2" and tonumber(r.val_accuracy), "row " .. r.trial)
  end
  -- optimizers=SGD alone: SGD draws the same trials
  local f3, out3, rc3 = tuned_run(path, dir, "optimizers=SGD --jobs 1")
  check(rc3 == 0, "optimizers=SGD failed:\n" .. out3)
  local sgd = trials(f3)
  for i = 1, 3 do check(sgd[i].lr == rows[i].lr, "SGD alone drew trial " .. i .. " differently") end
end

---------------------------------------------------------------- grid

function T.grid_runs_every_combination_once()
  local path, dir = script([[{ { "SGD", lr = tune.log_uniform(1e-3, 1), momentum = tune.choice{ 0, 0.9 } },
                               { "Adam", lr = tune.log_uniform(1e-4, 1e-1), beta_1 = tune.choice{ 0.8, 0.9 } } }]],
                           [[{ method = "grid", points = 3, seeds = { 1 } }]], 1)
  local f, out, rc, err = tuned_run(path, dir, "--jobs 1")
  check(rc == 0 and f, "grid run failed:\n" .. out .. err)
  local seen, n = {}, { SGD = 0, Adam = 0 }
  for _, r in ipairs(trials(f)) do
    local key = r.optimizer .. " " .. r.lr .. " " .. (r.momentum ~= "" and r.momentum or r.beta_1)
    check(not seen[key], "twice: " .. key)
    seen[key] = true
    n[r.optimizer] = n[r.optimizer] + 1
  end
  check(n.SGD == 6 and n.Adam == 6, "grid sizes " .. n.SGD .. ", " .. n.Adam)
  for _, lr in ipairs { "0.001", "0.03162", "1" } do
    for _, m in ipairs { "0", "0.9" } do check(seen["SGD " .. lr .. " " .. m], "SGD grid lacks lr " .. lr .. " momentum " .. m) end
  end
  for _, lr in ipairs { "0.0001", "0.003162", "0.1" } do
    for _, b in ipairs { "0.8", "0.9" } do check(seen["Adam " .. lr .. " " .. b], "Adam grid lacks lr " .. lr .. " beta_1 " .. b) end
  end
end

---------------------------------------------------------------- halving, selection, the test set

-- The rows of one rung of one optimizer, best first (ties to the lower trial).
local function ranked(rows, opt, rung)
  local out = {}
  for _, r in ipairs(rows) do if r.optimizer == opt and r.rung == tostring(rung) then out[#out + 1] = r end end
  table.sort(out, function(a, b)
    local x, y = tonumber(a.val_accuracy), tonumber(b.val_accuracy)
    if x ~= y then return x > y end
    return tonumber(a.trial) < tonumber(b.trial)
  end)
  return out
end

function T.halving_stops_the_worst_at_each_rung_and_reruns_the_best_on_the_test_set()
  local path, dir = script(TWO, [[{ method = "halving", trials = 4, eta = 2, seeds = { 1, 2 } }]], 4)
  local f, out, rc, err = tuned_run(path, dir)
  check(rc == 0 and f, "halving run failed:\n" .. out .. err)
  local rows = trials(f)
  for _, opt in ipairs { "SGD", "Adam" } do
    local r0, r1, r2 = ranked(rows, opt, 0), ranked(rows, opt, 1), ranked(rows, opt, 2)
    check(#r0 == 4 and #r1 == 2 and #r2 == 1, string.format("%s rungs hold %d, %d, %d trials", opt, #r0, #r1, #r2))
    check(r0[1].epochs == "1" and r1[1].epochs == "2" and r2[1].epochs == "4", opt .. " rung epochs")
    -- rung 1 holds the best half of rung 0, rung 2 the best of rung 1
    local kept = {}
    for _, r in ipairs(r1) do kept[r.trial] = true end
    check(kept[r0[1].trial] and kept[r0[2].trial], opt .. ": rung 1 did not keep rung 0's best two")
    check(not kept[r0[3].trial] and not kept[r0[4].trial], opt .. ": rung 1 kept one of rung 0's worst")
    check(r2[1].trial == r1[1].trial, opt .. ": rung 2 did not keep rung 1's best")
    check(r2[1].lr == r1[1].lr, opt .. ": the promoted trial changed its lr")
  end
  -- the reruns: the best trial's configuration with every seed, on the test set
  local m = manifest(f)
  check(m.config.test_size == 120 and m.config.validation_size == 36 and m.config.train_size == 324,
        string.format("sizes: train %s, validation %s, test %s", m.config.train_size, m.config.validation_size, m.config.test_size))
  for i, opt in ipairs { "SGD", "Adam" } do
    local best = ranked(rows, opt, 2)[1]
    local b = m.tune.best[i]
    check(b.optimizer == opt and b.trial == tonumber(best.trial) and b.hyperparameters.lr == tonumber(best.lr),
          opt .. ": the best is trial " .. tostring(b.trial) .. ", trials.csv says " .. best.trial)
    check(b.test_runs == 2 and type(b.test_mean) == "number", opt .. ": test runs " .. tostring(b.test_runs))
  end
  -- the manifest lists every trial as trials.csv does
  check(#m.tune.trials == #rows, "the manifest lists " .. #m.tune.trials .. " trials, trials.csv " .. #rows)
  for i, t in ipairs(m.tune.trials) do
    local r = rows[i]
    check(t.optimizer == r.optimizer and t.trial == tonumber(r.trial) and t.rung == tonumber(r.rung) and
          t.hyperparameters.lr == tonumber(r.lr) and t.metric == tonumber(r.val_accuracy), "manifest trial " .. i)
  end
  -- seed 1's rerun trains exactly as the best trial's last rung did (same seed, lr,
  -- epochs); its val_ columns are the test set's
  local csv = report.parse_csv(report.read_file(f .. "/metrics.csv")).rows
  local function row(label, epoch)
    for _, r in ipairs(csv) do if r.optimizer == label and r.seed == "1" and r.epoch == tostring(epoch) then return r end end
  end
  local best = ranked(rows, "SGD", 2)[1]
  local trial_row, rerun_row = row("SGD trial " .. best.trial .. " rung 2", 4), row("SGD", 4)
  check(trial_row and rerun_row, "no rows for the best trial or its rerun")
  check(trial_row.loss == rerun_row.loss, "the rerun trained differently from the trial: " .. trial_row.loss .. " vs " .. rerun_row.loss)
  check(trial_row.val_accuracy == best.val_accuracy, "trials.csv's metric is not the trial's last val_accuracy")
  check(report.read_file(f .. "/summary.md"):find("## Tuning", 1, true), "summary.md has no tuning section")
  if report.gnuplot_command() then
    check(report.exists(f .. "/sensitivity.svg") and report.exists(f .. "/sensitivity.png"), "no sensitivity plot")
  end
  -- verify reruns the whole protocol
  local vrc, vout = run("--threads 1 verify " .. q(f))
  check(vrc == 0 and vout:find("OK, every metric matches bit for bit", 1, true) and vout:find("the same trials", 1, true),
        "verify:\n" .. vout)
  -- a number spelled otherwise (Lua 5.4 and LuaJIT may print a double's 17th digit
  -- differently) is the same number: verify across the VMs compares values, not text
  local text = report.read_file(f .. "/trials.csv")
  local respelled = text:gsub("(%d%.%d%d%d%d%d+)", "%10")
  check(respelled ~= text, "no number to respell in trials.csv")
  report.write_file(f .. "/trials.csv", respelled)
  local rrc, rout = run("--threads 1 verify " .. q(f))
  check(rrc == 0 and rout:find("the same trials", 1, true), "verify refused trials.csv's numbers spelled otherwise:\n" .. rout)
  -- and catches a trials.csv that says otherwise
  report.write_file(f .. "/trials.csv", (text:gsub("\n(SGD,1,)", "\nSGD,9,", 1)))
  local brc, bout = run("--threads 1 verify " .. q(f))
  check(brc ~= 0 and bout:find("trials.csv differs", 1, true), "verify accepted an edited trials.csv:\n" .. bout)
end

function T.a_killed_tuned_comparison_resumes_to_the_same_result()
  local path, dir = script(TWO, [[{ method = "halving", trials = 4, eta = 2, seeds = { 1 } }]], 4)
  local f1, out1, rc1 = tuned_run(path, dir, "--jobs 1")
  check(rc1 == 0, "uninterrupted run failed:\n" .. out1)
  local fk, outk, rck = tuned_run(path, dir, "--jobs 1", "TUNE_KILL=1 ")
  check(rck == 128 + 9 and fk, "not killed: " .. tostring(rck) .. "\n" .. outk)
  local mk = manifest(fk)
  local done = 0
  for _, r in ipairs(mk.runs) do if r.status == "complete" then done = done + 1 end end
  check(done == 8, "the kill came after " .. done .. " runs, not in rung 1")
  local rcr, outr, errr = run("--threads 2 resume " .. q(fk))
  check(rcr == 0 and outr:find("8 of 16 runs finished before; running 8", 1, true), "resume:\n" .. outr .. errr)
  check(report.read_file(f1 .. "/trials.csv") == report.read_file(fk .. "/trials.csv"), "resumed trials.csv differs")
  local same, _, first = experiment.compare_metrics(report.read_file(f1 .. "/metrics.csv"), report.read_file(fk .. "/metrics.csv"))
  check(same, "resumed metrics differ: " .. tostring(first))
  local vrc, vout = run("verify " .. q(fk))
  check(vrc == 0 and vout:find("OK, every metric matches bit for bit", 1, true), "verify after resume:\n" .. vout)
end

function T.a_budget_in_steps_runs_the_trials_that_fit()
  -- 324 training examples (360 less the 10% validation split) in batches of 40: 9 steps an
  -- epoch, 18 a two-epoch trial; 45 steps hold two trials, not three
  local ds = data.blobs { n = 480, centers = 3, std = 2.5, seed = 7 }
  local tr, te = ds:split { validation = 0.25 }
  local r = experiment.compare {
    name = "steps", data = { tr, te }, arg = {}, runs_dir = TMP .. "/steps", verbose = 0, gnuplot = "no-such-gnuplot",
    model = function() return nn.Sequential { input = { 2 }, nn.Dense { 3, activation = "softmax" } } end,
    batch_size = 40, epochs = 2,
    optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) }, { "Adam", lr = tune.log_uniform(1e-4, 0.3) } },
    tune = { method = "random", steps = 45, seeds = { 1 } },
  }
  check(r.exit_status == 0, "exit status " .. tostring(r.exit_status))
  local t = r.manifest.tune
  check(t.steps_per_epoch == 9 and t.rungs[1].trials == 2 and t.steps_per_optimizer == 36,
        string.format("%s steps an epoch, %s trials, %s steps", tostring(t.steps_per_epoch), tostring(t.rungs[1].trials),
                      tostring(t.steps_per_optimizer)))
  check(#trials(r.dir) == 4, "trials.csv rows")
end

---------------------------------------------------------------- errors at the user's line

-- Runs code as the file user.lua; returns the error message.
local function user_error(code)
  local fn = assert(load(code, "@user.lua"))
  local ok, err = pcall(fn)
  check(not ok, "no error from:\n" .. code)
  return tostring(err)
end

local function compare_code(optimizers, tune_table)
  return "local ds = data.blobs { n = 60, seed = 1 }\nlocal tr, te = ds:split { validation = 0.25 }\n" ..
         "local r = experiment.compare { name = 'x', data = { tr, te }, model = function() end, runs_dir = '" .. TMP .. "/err',\n" ..
         "  arg = {}, optimizers = " .. optimizers .. ",\n  tune = " .. tune_table .. " }\nreturn r\n"
end

function T.errors_name_the_users_line()
  local cases = {
    { "local s = tune.log_uniform(0, 1)", "user.lua:1: tune.log_uniform(0, 1): the bounds must be positive" },
    { "\nlocal s = tune.log_uniform(-1e-3, 1)", "user.lua:2: tune.log_uniform(-0.001, 1): the bounds must be positive" },
    { "local s = tune.log_uniform(1, 0.1)", "user.lua:1: tune.log_uniform(1, 0.1): the lower bound must be below the upper" },
    { "local s = tune.choice {}", "user.lua:1: tune.choice{}: the list is empty" },
    { "local s = tune.uniform(1, math.huge)", "user.lua:1: tune.uniform(1, inf): the bounds must be finite numbers" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) } }]], [[{ method = "randon", trials = 2 }]]),
      "user.lua:3: experiment.compare: tune.method = \"randon\" is unknown (did you mean 'random'?) (methods: grid, halving, random)" },
    { compare_code([[{ { "SGD", lrr = tune.log_uniform(1e-3, 1) } }]], [[{ method = "random", trials = 2 }]]),
      "user.lua:3: experiment.compare: the search space lrr = tune.log_uniform(0.001, 1) of SGD: SGD: unknown hyperparameter 'lrr' (did you mean 'lr'?)" },
    { compare_code([[{ { "SGD", momentum = tune.uniform(0.5, 1.5) } }]], [[{ method = "random", trials = 2 }]]),
      "user.lua:3: experiment.compare: the search space momentum = tune.uniform(0.5, 1.5) of SGD: SGD: momentum = 1.5" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) }, "Adam" }]], [[{ method = "random", trials = 2 }]]),
      "user.lua:3: experiment.compare: Adam has no search space" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) } }]], [[{ method = "random" }]]),
      "user.lua:3: experiment.compare: tune.random needs a budget" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) } }]], [[{ method = "random", trials = 2, metric = "accuracy" }]]),
      "user.lua:3: experiment.compare: tune.metric must be a validation metric" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) } }]], [[{ method = "random", trials = 2, tirals = 3 }]]),
      "user.lua:3: experiment.compare: tune has no field 'tirals' (did you mean 'trials'?)" },
    { compare_code([[{ { "SGD", lr = tune.choice{ 0.1, 0.01 } }, { "Adam", lr = tune.choice{ 0.1 } } }]], [[{ method = "grid" }]]),
      "user.lua:3: experiment.compare: tune.grid: the optimizers' grids differ in size (SGD 2, Adam 1 configurations)" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) } }]], [[{ method = "random", steps = 5 }]]),
      "user.lua:3: experiment.compare: tune.steps = 5 is less than one trial (20 steps: 10 epochs of 2 steps)" },
    { compare_code([[{ { "SGD", lr = tune.log_uniform(1e-3, 1) } }]], [[nil]]),
      "user.lua:3: experiment.compare: an optimizer entry has a search space" },
  }
  for _, c in ipairs(cases) do
    local err = user_error(c[1])
    check(err:find(c[2], 1, true), "expected\n  " .. c[2] .. "\ngot\n  " .. err)
  end
  -- the spaces are checked before anything runs: no folder was made
  check(not report.exists(TMP .. "/err/x"), "a run folder was made for a configuration that fails")
  raises(function() tune.choice { 1, {} } end, "value 2 is table")
end

return T
