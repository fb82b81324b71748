-- Per-step curves, bands over seeds, schedule and diagnostics plots, readable log axes,
-- and train.fit's diagnostics (issue 18): Hessian eigenvalues against a quadratic whose
-- spectrum is known, the textbook's ill-conditioning terms and the gradient noise scale
-- against direct computations, and a comparison folder that verify checks step by step.
local lib = require "lib"
local report = require "report"
local experiment = require "experiment"
require "train"
local check, close, raises = lib.check, lib.close, lib.raises
local D = train.diagnostics

local T = {}
local q = report.shell_quote
local EXE = lib.optlab_exe()
if EXE:sub(1, 1) ~= "/" then EXE = io.popen("readlink -f " .. q(EXE)):read("l") end
local TMP = lib.tmpdir()

local function run(args)
  local out, err = TMP .. "/stdout", TMP .. "/stderr"
  local ok, _, code = os.execute(q(EXE) .. " " .. args .. " > " .. q(out) .. " 2> " .. q(err))
  return ok and 0 or code, report.read_file(out) or "", report.read_file(err) or ""
end

---------------------------------------------------------------- Hessian of a known quadratic

-- L(theta) = 1/2 theta' A theta with A = Q diag(lams) Q, Q = I - 2uu'/u'u (a reflection:
-- orthogonal and symmetric), so A's eigenvalues are exactly lams.
local function quadratic(lams, sign)
  local n = #lams
  local u = tensor.randn(n, { seed = 3 }):totable()
  local uu = 0
  for i = 1, n do uu = uu + u[i] * u[i] end
  local Q, A = {}, {}
  for i = 1, n do
    Q[i] = {}
    for j = 1, n do Q[i][j] = (i == j and 1 or 0) - 2 * u[i] * u[j] / uu end
  end
  for i = 1, n do
    A[i] = {}
    for j = 1, n do
      local s = 0
      for k = 1, n do s = s + Q[i][k] * lams[k] * Q[j][k] end
      A[i][j] = s
    end
  end
  local At = tensor.from(A)
  local th = tensor.randn(n, { seed = 4 })
  th.requires_grad = true
  local function closure() return (th:reshape { 1, n }:matmul(At):reshape { n } * th):sum() * (0.5 * (sign or 1)) end
  return { th }, closure, A
end

local LAMS = { 10, 7, 5, 3.5, 2.5, 2, 1.7, 1.5, 1.3, 1.2, 1.1, 1 }

function T.hessian_vector_products_by_central_differences_match_the_quadratics_matrix()
  local params, closure, A = quadratic(LAMS)
  local before = params[1]:totable()
  local v = { tensor.randn(#LAMS, { seed = 9 }) }
  local hd, d = D.hvp(params, closure, v)
  local dv, hv = d[1]:totable(), hd[1]:totable()
  for i = 1, #LAMS do
    local s = 0
    for j = 1, #LAMS do s = s + A[i][j] * dv[j] end
    close(hv[i], s, 1e-4, "(H d)[" .. i .. "]", 1e-4 * math.abs(s) + 1e-7)
  end
  -- the parameters are back bit for bit
  local after = params[1]:totable()
  for i = 1, #before do check(compat.same_bits(before[i], after[i]), "parameter " .. i .. " restored") end
end

function T.power_iteration_and_lanczos_give_the_known_eigenvalues_to_1e_3()
  local params, closure = quadratic(LAMS)
  local lmax = D.power(params, closure, { iters = 100 })
  close(lmax, 10, 1e-3, "lambda_max by power iteration")
  local lmin, ltop, ritz = D.lanczos(params, closure, { steps = #LAMS })
  close(lmin, 1, 1e-3, "lambda_min by Lanczos")
  close(ltop, 10, 1e-3, "largest Ritz value")
  table.sort(LAMS)
  for k = 1, #LAMS do close(ritz[k], LAMS[k], 1e-3, "Ritz value " .. k) end
  table.sort(LAMS, function(a, b) return a > b end)
  -- a Hessian whose eigenvalue of largest magnitude is negative: -A + 12 I has
  -- eigenvalues 12 - lams, from 2 to 11; -A - 2 I from -12 to -3: its largest is -3
  local p2, c2 = quadratic(LAMS, -1)
  local function shifted() return c2() - (p2[1] * p2[1]):sum() end
  close(D.power(p2, shifted, { iters = 400, tol = 1e-9 }), -3, 1e-3, "largest eigenvalue under a negative dominant one")
end

---------------------------------------------------------------- gradient noise

function T.noise_scale_is_trace_sigma_over_the_squared_mean_gradient()
  -- closures whose gradients are known vectors c_i (loss c_i . theta)
  local th = tensor.zeros(3)
  th.requires_grad = true
  local C = { { 1, 2, 0 }, { 3, 0, 1 }, { 2, 2, 2 }, { 0, 1, 3 } }
  local cls = {}
  for i, c in ipairs(C) do
    local ct = tensor.from(c)
    cls[i] = function() return (th * ct):sum() end
  end
  local B, P = 16, #C
  local n = D.noise({ th }, cls, B)
  local mean, ss = { 0, 0, 0 }, 0
  for _, c in ipairs(C) do for j = 1, 3 do mean[j] = mean[j] + c[j] / P end end
  for _, c in ipairs(C) do for j = 1, 3 do ss = ss + (c[j] - mean[j]) ^ 2 end end
  local var = ss / (P - 1)
  local g2 = mean[1] ^ 2 + mean[2] ^ 2 + mean[3] ^ 2
  close(n.grad_var, var, 1e-6, "variance of the minibatch gradients")
  close(n.noise_scale, B * var / (g2 - B * var / (P * B)), 1e-6, "B_simple with |G|^2 unbiased")
  raises(function() D.noise({ th }, { cls[1] }, B) end, "probe_batches >= 2")
end

---------------------------------------------------------------- diagnostics in train.fit

-- A linear model under MSE: its Hessian on the probe batch is (2/N) [X 1]'[X 1], computed
-- here in doubles and diagonalized by Jacobi rotations.
local function jacobi_eigs(A)
  local n = #A
  local a = {}
  for i = 1, n do a[i] = {} for j = 1, n do a[i][j] = A[i][j] end end
  for _ = 1, 100 do
    local off = 0
    for i = 1, n do for j = 1, n do if i ~= j then off = off + a[i][j] ^ 2 end end end
    if off < 1e-24 then break end
    for p = 1, n - 1 do
      for r = p + 1, n do
        if a[p][r] ~= 0 then
          local theta = (a[r][r] - a[p][p]) / (2 * a[p][r])
          local t = (theta >= 0 and 1 or -1) / (math.abs(theta) + math.sqrt(theta * theta + 1))
          local c = 1 / math.sqrt(t * t + 1)
          local s = t * c
          for k = 1, n do
            local akp, akr = a[k][p], a[k][r]
            a[k][p], a[k][r] = c * akp - s * akr, s * akp + c * akr
          end
          for k = 1, n do
            local apk, ark = a[p][k], a[r][k]
            a[p][k], a[r][k] = c * apk - s * ark, s * apk + c * ark
          end
        end
      end
    end
  end
  local e = {}
  for i = 1, n do e[i] = a[i][i] end
  table.sort(e)
  return e
end

local function linear_model(nin)
  tensor.manual_seed(1)
  return nn.Sequential { input = { nin }, nn.Dense { 1 } }
end

function T.diagnostics_of_a_linear_regression_match_its_explicit_hessian()
  local N = 64
  local ds = data.linear_regression { n = N, features = 3, condition = 20, seed = 2 }
  local opt = optim.SGD { lr = 0.05 }
  local h = train.fit(linear_model(3), opt, ds, { epochs = 1, batch_size = 16, loss = "mse", metrics = {}, verbose = 0,
    diagnostics = { probe_size = N, probe_batches = 1, noise = false, iters = 200, lanczos_steps = 4 } })
  local x = data.loader(ds, { batch_size = N, shuffle = false }):batch(1, 1):totable()
  local H = {}
  for i = 1, 4 do H[i] = { 0, 0, 0, 0 } end
  for r = 1, N do
    local row = { x[r][1], x[r][2], x[r][3], 1 }
    for i = 1, 4 do for j = 1, 4 do H[i][j] = H[i][j] + 2 / N * row[i] * row[j] end end
  end
  local e = jacobi_eigs(H)
  close(h.hess_max[1], e[4], 1e-3, "hess_max against the explicit Hessian's largest eigenvalue")
  close(h.hess_min[1], e[1], 1e-3, "hess_min against the explicit Hessian's smallest eigenvalue")
  close(h.sharpness[1], h.hess_max[1] * 0.05 / 2, 1e-12, "sharpness = lambda_max lr / 2")
  check(h.ill_cond_gg[1] > 0 and h.ill_cond_gHg[1] > 0, "the ill-conditioning terms are positive on a convex loss")
  -- 1/2 eps^2 g'Hg <= 1/2 eps^2 lambda_max |g|^2 = (eps lambda_max / 2) eps g'g
  check(h.ill_cond_gHg[1] <= h.sharpness[1] * h.ill_cond_gg[1] * (1 + 1e-3), "g'Hg bounded by lambda_max |g|^2")
end

-- The Keras-like MLP with dropout: diagnostics measure in evaluation mode and draw no
-- random numbers, so the run trains exactly as without them.
local function mlp()
  tensor.manual_seed(1)
  return nn.Sequential { input = { 2 }, nn.Dense { 8, activation = "tanh" }, nn.Dropout(0.3), nn.Dense { 3 } }
end
local BLOBS = data.blobs { n = 240, centers = 3, features = 2, std = 2.0, seed = 7 }

function T.diagnostics_leave_the_training_run_unchanged_and_fill_their_columns()
  local o = { epochs = 2, batch_size = 16, verbose = 0 }
  local h1 = train.fit(mlp(), optim.SGD { lr = 0.1, momentum = 0.9 }, BLOBS, o)
  o.diagnostics = { probe_batches = 3, iters = 5, lanczos_steps = 4, every = 4 }
  local h2 = train.fit(mlp(), optim.SGD { lr = 0.1, momentum = 0.9 }, BLOBS, o)
  for _, k in ipairs { "loss", "accuracy", "grad_norm" } do
    for e = 1, 2 do check(compat.same_bits(h1[k][e], h2[k][e]), k .. " of epoch " .. e .. " moved under diagnostics") end
  end
  for _, k in ipairs(D.COLUMNS) do
    check(#h2[k] == 2, k .. ": one value per epoch")
    for e = 1, 2 do check(h2[k][e] == h2[k][e] and math.abs(h2[k][e]) < math.huge, k .. " finite") end
    check(h1[k] == nil, k .. " without diagnostics")
  end
  -- every = 4: rows at steps 4, 8, ... (15 steps per epoch)
  local dl = h2.diagnostics
  check(#dl.step == 7 and dl.step[1] == 4 and dl.step[7] == 28 and dl.epoch[4] == 2, "diagnostics every 4 steps")
  check(#dl.hess_max == 7 and #dl.noise_scale == 7, "columns of the step diagnostics")
end

function T.fit_options_of_the_curves_are_checked_at_the_users_line()
  local err = raises(function() train.fit(mlp(), "sgd", BLOBS, { verbose = 0, diagnostics = { iter = 3 } }) end,
                     "unknown diagnostics option 'iter'")
  check(err:find("test_curves.lua:%d+:"), "names the user's line: " .. err)
  raises(function() train.fit(mlp(), "sgd", BLOBS, { verbose = 0, step_stride = 0 }) end, "step_stride must be a positive integer")
  raises(function() train.fit(mlp(), "sgd", BLOBS, { verbose = 0, diagnostics = { every = "batch" } }) end,
         "diagnostics.every must be \"epoch\" or a positive number")
  raises(function() train.fit(mlp(), "sgd", BLOBS, { verbose = 0, diagnostics = { probe_batches = 1 } }) end,
         "noise needs probe_batches >= 2")
  raises(function() train.fit(mlp(), "sgd", BLOBS, { verbose = 0, diagnostics = { probe_size = 200 } }) end,
         "diagnostics need 8 probe batches of 200 examples")
  -- experiment.compare says it before any run
  local cerr = raises(function()
    experiment.compare { name = "x", data = { BLOBS, BLOBS }, model = mlp, optimizers = { "SGD" }, arg = {},
                         runs_dir = TMP .. "/never", diagnostics = { probe_size = 200 } }
  end, "diagnostics need 8 probe batches of 200 examples; the training set has 240 examples")
  check(cerr:find("test_curves.lua:%d+:"), "names the user's line: " .. cerr)
  check(not report.exists(TMP .. "/never"), "no run folder")
end

function T.the_step_log_follows_the_schedule_and_survives_resume()
  local function opt()
    return optim.SGD { lr = schedule.linear { from = 0.1, to = 0.01, steps = 30 }, momentum = 0.9 }
  end
  local o = { epochs = 3, batch_size = 16, verbose = 0, step_stride = 4 }
  local h = train.fit(mlp(), opt(), BLOBS, o)
  local log = h.steps
  check(#log.step == 12 and log.step[1] == 1 and log.step[2] == 5 and log.step[12] == 45, "every 4th step from step 1")
  local lrs = schedule.values(schedule.linear { from = 0.1, to = 0.01, steps = 30 }, 45)
  for i, st in ipairs(log.step) do
    check(compat.same_bits(log.lr[i], lrs[st]), "lr at step " .. st .. ": " .. log.lr[i] .. " vs " .. lrs[st])
    check(log.epoch[i] == math.floor((st - 1) / 15) + 1, "epoch of step " .. st)
    check(i == 1 or log.wall_seconds[i] >= log.wall_seconds[i - 1], "training seconds grow")
  end
  -- a checkpoint after epoch 2, then resumed: the same log
  local ck = TMP .. "/steps.ckpt"
  o.epochs, o.callbacks = 2, { train.checkpoint { path = ck } }
  train.fit(mlp(), opt(), BLOBS, o)
  o.epochs, o.callbacks, o.resume = 3, nil, ck
  local r = train.fit(mlp(), opt(), BLOBS, o)
  check(#r.steps.step == 12, "the resumed run has the whole log")
  for i = 1, 12 do check(compat.same_bits(r.steps.loss[i], log.loss[i]), "loss at logged row " .. i) end
  o.resume, o.step_stride = nil, nil
  o.epochs, o.callbacks = 1, { train.checkpoint { path = ck } }
  train.fit(mlp(), opt(), BLOBS, o)
  o.epochs, o.callbacks, o.resume, o.step_stride = 2, nil, ck, 4
  raises(function() train.fit(mlp(), opt(), BLOBS, o) end, "holds no step_log")
end

---------------------------------------------------------------- plots

function T.log_axes_carry_at_least_four_readable_ticks_over_any_range()
  for _, r in ipairs { { 0.1, 2 }, { 0.2, 2.5 }, { 0.25, 0.3 }, { 1e-6, 10 }, { 3, 700 }, { 0.0213, 0.0297 }, { 1e-30, 1e10 } } do
    local t = report.log_tics(r[1], r[2])
    check(#t >= 4 and #t <= 16, string.format("[%g, %g]: %d ticks", r[1], r[2], #t))
    for i, v in ipairs(t) do
      check(v >= r[1] * (1 - 1e-9) and v <= r[2] * (1 + 1e-9), string.format("[%g, %g]: tick %g outside", r[1], r[2], v))
      check(#string.format("%g", v) <= 6, "a short label: " .. string.format("%g", v))
      check(i == 1 or v > t[i - 1], "increasing")
    end
  end
  check(report.log_tics(0, 1) == nil and report.log_tics(-1, 1) == nil, "no log ticks over a range with non-positive values")
end

function T.smoothing_is_a_bias_corrected_moving_average()
  local S = require("report.steps").smooth
  local c = S { 2, 2, 2, 2 }
  for i = 1, 4 do close(c[i], 2, 1e-15, "a constant stays") end
  local ys = {}
  for i = 1, 300 do ys[i] = (i % 2 == 0) and 1 or 3 end
  local s = S(ys)
  check(s[1] == 3, "the first value is the first point")
  close(s[300], 2, 0.1, "alternating noise averages out")
end

-- Plot data from records made by hand: two optimizers, two seeds, step logs and
-- diagnostics every 2 steps (no gnuplot run: only the .dat and .gp files).
function T.per_step_plot_data_has_means_bands_and_the_moving_hyperparameters()
  local recs = {}
  for o = 1, 2 do
    for seed = 1, 2 do
      local log = { step = {}, epoch = {}, loss = {}, lr = {}, momentum = {}, wall_seconds = {} }
      local dl = { step = {}, epoch = {}, hess_max = {} }
      for st = 1, 6 do
        log.step[st], log.epoch[st], log.loss[st] = st, 1, o + seed + st / 10
        log.lr[st], log.momentum[st], log.wall_seconds[st] = 0.1 / st, o == 2 and 0.5 + st / 100 or 0.9, st / 100
        if st % 2 == 0 then
          local k = #dl.step + 1
          dl.step[k], dl.epoch[k], dl.hess_max[k] = st, 1, 10 * o + seed
        end
      end
      recs[#recs + 1] = { id = #recs + 1, opt = o, label = "O" .. o, seed = seed, status = "complete",
                          history = { loss = { 1 }, hess_max = { 10 * o + seed }, lr = { 0.1 } },
                          logs = { steps = log, diagnostics = dl } }
    end
  end
  local summary = report.summarize({ { label = "O1", display = "O1" }, { label = "O2", display = "O2" } }, recs)
  local dir = TMP .. "/plotdata"
  report.mkdir_p(dir)
  local p = report.plots(dir, summary, 2, "/nonexistent/gnuplot", recs)
  check(not p.rendered and table.concat(p.names, ",") == "accuracy,loss,time,steps,schedule,diagnostics", table.concat(p.names, ","))
  local function rows(name)
    local out = {}
    for l in report.read_file(dir .. "/" .. name):gmatch("([^\n]*)\n") do
      if l:sub(1, 1) ~= "#" then local r = {} for c in (l .. "\t"):gmatch("([^\t]*)\t") do r[#r + 1] = c end out[#out + 1] = r end
    end
    return out
  end
  -- steps.dat: per optimizer smoothed mean, raw mean, band min and max, seconds; step 3 of O1: seeds give 2.3 and 3.3
  local st = rows("steps.dat")
  check(#st == 7 and st[4][1] == "3", "a row per step")
  close(tonumber(st[4][3]), 2.8, 1e-12, "raw mean over seeds")
  check(tonumber(st[4][4]) < tonumber(st[4][5]), "a band between the seeds")
  close(tonumber(st[4][6]), 0.03, 1e-12, "training seconds")
  -- schedule.dat: lr, then momentum (it moves for O2), not a constant column
  local sc = rows("schedule.dat")
  check(table.concat(sc[1], ",") == "step,O1 lr,O2 lr,O1 momentum,O2 momentum", table.concat(sc[1], ","))
  -- diagnostics.dat by step (every 2 steps), mean and band over seeds
  local dg = rows("diagnostics.dat")
  check(dg[1][1] == "step" and #dg == 4 and dg[2][1] == "2", "diagnostics by step")
  close(tonumber(dg[2][2]), 11.5, 1e-12, "hess_max mean of O1")
  check(dg[2][3] == "11" and dg[2][4] == "12", "band of O1: " .. dg[2][3] .. " " .. dg[2][4])
  check(report.read_file(dir .. "/steps.gp"):find("min-max over seeds", 1, true), "the legend says what the band is")
end

-- A long run: steps.csv keeps every step, the plot data at most PLOT_POINTS of them (the
-- last included), and a cached rewrite of the view gives the same text.
function T.long_runs_are_thinned_for_plotting_only()
  local n = 5003
  local log = { step = {}, epoch = {}, loss = {}, lr = {} }
  for i = 1, n do log.step[i], log.epoch[i], log.loss[i], log.lr[i] = i, 1, 1 + 1 / i, 0.1 end
  local recs = { { id = 1, opt = 1, label = "A", seed = 1, status = "complete", history = { loss = { 1 } }, logs = { steps = log } } }
  local cache = setmetatable({}, { __mode = "k" })
  local csv = report.log_csv(recs, "steps", true, cache)
  check(select(2, csv:gsub("\n", "")) == n + 1, "steps.csv keeps every step")
  check(report.log_csv(recs, "steps", true, cache) == csv, "the cached rewrite is the same text")
  local dir = TMP .. "/thin"
  report.mkdir_p(dir)
  report.plots(dir, report.summarize({ { label = "A", display = "A" } }, recs), 1, "/nonexistent/gnuplot", recs)
  local rows, last = 0, nil
  for l in report.read_file(dir .. "/steps.dat"):gmatch("([^\n]*)\n") do
    if l:match("^%d") then rows = rows + 1; last = l:match("^(%d+)") end
  end
  local P = require("report.steps").PLOT_POINTS
  check(rows <= P + 1 and rows >= P / 2 and last == tostring(n), "steps.dat: " .. rows .. " rows, last step " .. tostring(last))
end

-- A comparison of three optimizers over three seeds with a moving schedule and diagnostics.
local SCRIPT = [==[
local ds = data.blobs { n = 240, centers = 3, features = 2, std = 2.0, seed = 7 }
local tr, va = ds:split { validation = 0.25 }
return experiment.compare {
  name = "curves", data = { tr, va },
  model = function() return nn.Sequential { input = { 2 }, nn.Dense { 8, activation = "tanh" }, nn.Dense { 3 } } end,
  batch_size = 20, epochs = 3, seeds = { 1, 2, 3 }, verbose = 0,
  diagnostics = { probe_batches = 3, iters = 5, lanczos_steps = 4 },
  optimizers = { "Adam", optim.SGD { lr = 0.1 },
    { label = "SGD+momentum schedule", optimizer = optim.SGD { lr = 0.1, momentum = schedule.linear { from = 0.5, to = 0.9, steps = 20 } } } },
}
]==]

function T.compare_writes_steps_csv_and_the_new_plots_and_verify_checks_every_step()
  local path = TMP .. "/curves.lua"
  report.write_file(path, SCRIPT)
  local rc, out, err = run(q(path) .. " runs_dir=" .. q(TMP .. "/runs"))
  check(rc == 0, "the comparison runs: " .. err)
  local dir = out:match("Run folder: ([^\n]+)")
  local st = report.parse_csv(report.read_file(dir .. "/steps.csv"))
  -- 180 examples, batch 20: 9 steps an epoch, 27 a run, every step kept (under 100,000), 9 runs
  check(#st.rows == 27 * 9, "steps.csv rows: " .. #st.rows)
  check(table.concat(st.header, ",") == "run,optimizer,seed,step,epoch,loss,lr,grad_norm,momentum,wall_seconds",
        "steps.csv columns (momentum moves in one run, so it is kept): " .. table.concat(st.header, ","))
  check(st.rows[27].step == "27" and st.rows[27].epoch == "3", "the last step of the first run")
  local m = report.json_decode(report.read_file(dir .. "/manifest.json"))
  check(m.config.step_stride == 1, "the stride is in the manifest")
  local mc = report.parse_csv(report.read_file(dir .. "/metrics.csv"))
  for _, k in ipairs(D.COLUMNS) do check(mc.rows[1][k] and mc.rows[1][k] ~= "", "metrics.csv has " .. k) end
  -- bands with several seeds, every plot written, readable log axes
  for _, name in ipairs { "loss", "accuracy", "steps", "diagnostics" } do
    local gp = report.read_file(dir .. "/" .. name .. ".gp")
    check(gp and gp:find("filledcurves", 1, true), name .. ".gp draws bands")
    check(gp:find("min-max over", 1, true), name .. ".gp says what the band is")
  end
  check(report.read_file(dir .. "/schedule.gp"), "schedule.gp")
  local loss_gp = report.read_file(dir .. "/loss.gp")
  local tics = loss_gp:match("set ytics %(([^)]*)%)")
  check(tics and select(2, tics:gsub(",", "")) >= 3, "loss.gp labels at least four ticks: " .. tostring(tics))
  if report.gnuplot_command() then
    for _, name in ipairs { "steps", "schedule", "diagnostics" } do
      check(report.exists(dir .. "/" .. name .. ".png") and report.exists(dir .. "/" .. name .. ".svg"), name .. " rendered")
    end
    local html = report.read_file(dir .. "/report.html")
    check(html:find('href="steps.svg"', 1, true) and html:find("Diagnostics (final epoch)", 1, true), "report.html shows them")
  end
  -- --jobs 2 gives the serial run's steps bit for bit
  local jrc, jout = run(q(path) .. " runs_dir=" .. q(TMP .. "/runs") .. " --jobs 2")
  check(jrc == 0, "--jobs 2 runs")
  local jdir = jout:match("Run folder: ([^\n]+)")
  local same, _, first = experiment.compare_metrics(report.read_file(dir .. "/steps.csv"), report.read_file(jdir .. "/steps.csv"),
                                                    nil, "step", "steps.csv")
  check(same, "steps.csv under --jobs 2: " .. tostring(first))
  -- verify reruns and compares steps.csv bit for bit, wall-clock seconds excluded
  local vrc, vout = run("verify " .. q(dir))
  check(vrc == 0 and vout:find("OK, every metric matches bit for bit", 1, true), "verify:\n" .. vout)
  check(vout:find("per step: steps.csv:loss", 1, true), "verify names the per-step columns:\n" .. vout)
  local csv = report.read_file(dir .. "/steps.csv")
  local lines = {}
  for l in (csv):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  -- a wall-clock change is not a difference (the first row of run 4, SGD(lr=0.1) seed 1: no quoted cells)
  local k = 1
  while not lines[k]:match("^4,") do k = k + 1 end
  local cells = {}
  for c in (lines[k] .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
  check(#cells == #st.header, "row 4 splits into its cells")
  cells[#cells] = "123.5"
  lines[k] = table.concat(cells, ",")
  report.write_file(dir .. "/steps.csv", table.concat(lines, "\n") .. "\n")
  vrc, vout = run("verify " .. q(dir))
  check(vrc == 0, "wall_seconds are excluded:\n" .. vout)
  -- a loss changed in one step is
  cells[6] = "0.5"
  lines[k] = table.concat(cells, ",")
  report.write_file(dir .. "/steps.csv", table.concat(lines, "\n") .. "\n")
  vrc, vout = run("verify " .. q(dir))
  check(vrc ~= 0 and vout:find("steps.csv", 1, true) and vout:find("step 1 loss: recorded 0.5", 1, true),
        "verify names the changed step:\n" .. vout)
  -- a folder from an optlab before per-step logs (no steps.csv, no step_stride in its manifest) still verifies
  os.remove(dir .. "/steps.csv")
  local mtext = report.read_file(dir .. "/manifest.json")
  report.write_file(dir .. "/manifest.json", (mtext:gsub('\n *"step_stride": 1,', "")))
  check(not report.read_file(dir .. "/manifest.json"):find("step_stride", 1, true), "step_stride removed")
  vrc, vout = run("verify " .. q(dir))
  check(vrc == 0 and vout:find("has no steps.csv (its optlab wrote none); comparing metrics.csv only", 1, true),
        "an older folder verifies on metrics.csv:\n" .. vout)
end

return T
