-- train.fit / train.evaluate: accuracy reached, history, checkpoint + resume
-- bit-identical, early stopping on a scripted sequence, NaN stop, Ctrl-C
-- stop, thread independence, progress line format, callbacks.
--
-- Uses the real nn and optim when they are on this branch; otherwise a small
-- stand-in built here from tensor ops: a linear softmax classifier and plain SGD.
local lib = require "lib"
local check, close, raises, identical = lib.check, lib.close, lib.raises, lib.identical
local raw = tensor.raw
local T = {}

local have_nn = rawget(_G, "nn") ~= nil and nn.Sequential ~= nil
local have_optim = rawget(_G, "optim") ~= nil and optim.SGD ~= nil

-- ---- model and optimizer (real or stand-in) ------------------------------

local function standin_model(f, c)
  local W = (tensor.randn(f, c) * 0.1):detach():requires_grad_()
  local b = tensor.zeros(c):requires_grad_()
  W.name, b.name = "1.weight", "1.bias"
  local m = { W = W, b = b }
  function m:parameters() return { self.W, self.b } end
  function m:forward(x) return x:reshape(x:size(1), -1):matmul(self.W) + self.b end
  return m
end

local function standin_ce(z, y)
  local B, Cn = z:size(1), z:size(2)
  local onehot = raw.eq(y:reshape(B, 1), tensor.arange(Cn):reshape(1, Cn))
  local zs = z - raw.max(z, 2, true)
  local lse = zs:exp():sum(2, true):log()
  return -((zs - lse) * onehot):sum() / B
end

local function standin_sgd(lr)
  local o = { lr = lr, t = 0 }
  function o:step(params)
    self.t = self.t + 1
    for _, p in ipairs(params) do raw.sub_(p, raw.mul(p.grad, self.lr)) end
  end
  function o:hyper() return { lr = self.lr } end
  function o:state_dict() return { t = self.t } end
  function o:load_state_dict(s) self.t = s.t end
  return o
end

-- A fresh model with weights from `seed`, f inputs, c classes.
local function make_model(f, c, seed)
  tensor.manual_seed(seed or 1)
  if have_nn then return nn.Sequential { input = { f }, nn.Dense(16, { activation = "relu" }), nn.Dense(c) } end
  return standin_model(f, c)
end

local function make_opt(lr)
  if have_optim then return optim.SGD { lr = lr, momentum = 0.9 } end
  return standin_sgd(lr)
end

local LR = have_optim and 0.01 or 0.2
local LOSS = have_nn and "cross_entropy" or standin_ce

local function blobs()
  local ds = data.blobs { n = 1200, centers = 4, features = 6, std = 1.5, seed = 3 }
  return ds:split { validation = 0.25 }
end

local function fit(opts, model, opt)
  local tr, va = blobs()
  model = model or make_model(6, 4)
  opt = opt or make_opt(LR)
  opts.loss = opts.loss or LOSS
  opts.validation = opts.validation == nil and va or opts.validation or nil
  if opts.verbose == nil then opts.verbose = 0 end
  opts.batch_size = opts.batch_size or 30
  return train.fit(model, opt, tr, opts), model, opt
end

local DETERMINISTIC = { "loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm" }

local function same_history(a, b, upto)
  for _, k in ipairs(DETERMINISTIC) do
    for e = 1, upto do
      check(a[k][e] ~= nil, k .. " missing at epoch " .. e)
      check(compat.same_bits(a[k][e], b[k][e]),
        string.format("%s at epoch %d: %.17g vs %.17g", k, e, a[k][e], tostring(b[k][e])))
    end
  end
end

-- ---- tests -------------------------------------------------------------------

function T.fit_reaches_a_known_accuracy_on_blobs()
  local h, model = fit { epochs = 5 }
  check(#h.loss == 5, "5 epochs")
  check(h.val_accuracy[5] >= 0.95, "val_accuracy " .. h.val_accuracy[5])
  check(h.loss[5] < h.loss[1], "loss decreases")
  for _, k in ipairs { "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "ms_per_step", "samples_per_s", "grad_norm" } do
    check(type(h[k]) == "table" and #h[k] == 5, "history column " .. k)
  end
  check(h.stopped == nil, "not stopped")
  close(h.lr[1], LR, 1e-6, "lr column")
  check(h.samples_per_s[1] > 0 and h.ms_per_step[1] > 0, "timings")
  -- evaluate agrees with the last val columns
  local _, va = blobs()
  local r = train.evaluate(model, va, { loss = LOSS, batch_size = 30 })
  close(r.loss, h.val_loss[5], 1e-12, "evaluate loss")
  close(r.accuracy, h.val_accuracy[5], 1e-12, "evaluate accuracy")
end

function T.grad_norm_is_the_global_l2_norm()
  local p1, p2 = tensor.randn(300, 7), tensor.randn(5)
  p1.grad, p2.grad = tensor.randn(300, 7), tensor.randn(5)
  local C = require "optlab.core"
  local s = 0
  for _, g in ipairs { p1.grad, p2.grad } do
    for _, v in ipairs(g:reshape(-1):totable()) do s = s + v * v end
  end
  local gn, count = C.train.grad_norm({ p1, p2, tensor.zeros(3) })
  close(gn, math.sqrt(s), 1e-12, "norm")
  check(count == 2, "parameters without .grad are skipped")
end

-- Issue 16: one sum of squares (ol_sumsq) behind the logged grad_norm and
-- clip_norm's norm. Before, C.train.grad_norm summed each block serially and
-- C.optim.grad_sqnorm in 8 lanes: these tensors came out one or a few ulps apart.
function T.grad_norm_and_clip_norm_share_one_sum_of_squares()
  local C = require "optlab.core"
  for seed = 1, 12 do
    tensor.manual_seed(seed)
    local p, q = tensor.zeros(100 + 37 * seed), tensor.zeros(3, 5)
    p.grad, q.grad = tensor.randn(100 + 37 * seed), tensor.randn(3, 5)
    local gn = C.train.grad_norm({ p, q })
    local want = math.sqrt(C.optim.grad_sqnorm(p.grad) + C.optim.grad_sqnorm(q.grad))
    check(compat.same_bits(gn, want), string.format("seed %d: grad_norm %.17g, clip's %.17g", seed, gn, want))
  end
end

-- Issue 16: fit computes the global norm once a step and a global clip_norm
-- uses that very number (opt:hyper().grad_norm), the bits fit logs.
function T.fit_computes_the_norm_once_and_clip_norm_uses_it()
  local C = require "optlab.core"
  local calls = { grad_norm = 0, grad_sqnorm = 0 }
  local module = { grad_norm = C.train, grad_sqnorm = C.optim }
  local saved = {}
  for k in pairs(calls) do
    saved[k] = module[k][k]
    module[k][k] = function(...) calls[k] = calls[k] + 1 return saved[k](...) end
  end
  local tr = blobs()
  local opt = optim.SGD { lr = 0.01, clip_norm = 1e-3 }
  local ok, h = pcall(train.fit, make_model(6, 4), opt, tr, { epochs = 2, batch_size = 900, loss = LOSS, verbose = 0 })
  for k in pairs(calls) do module[k][k] = saved[k] end
  check(ok, tostring(h))
  check(calls.grad_norm == 2, "C.train.grad_norm once a step: " .. calls.grad_norm .. " calls in 2 steps")
  check(calls.grad_sqnorm == 0, "clip_norm computed the norm again: " .. calls.grad_sqnorm .. " calls")
  local hp = opt:hyper()
  check(hp.grad_scale < 1, "the clip engaged: grad_scale " .. hp.grad_scale)
  check(compat.same_bits(hp.grad_norm, h.grad_norm[2]),
    string.format("clip's norm %s, logged %.17g", tostring(hp.grad_norm), h.grad_norm[2]))
  -- the norm comes from the caller's gradients: not with a closure, and a number
  local p = tensor.zeros(2)
  p.grad = tensor.ones(2)
  raises(function() opt:step({ p }, function() return 0 end, 1.5) end, "cannot come with a closure")
  raises(function() opt:step({ p }, nil, "1.5") end, "grad_norm must be a number")
end

function T.history_identical_with_1_and_2_threads()
  local saved = sys.threads()
  sys.set_threads(1)
  local h1 = fit { epochs = 2 }
  sys.set_threads(2)
  local h2 = fit { epochs = 2 }
  sys.set_threads(saved)
  same_history(h1, h2, 2)
end

function T.checkpoint_at_epoch_2_and_resume_is_bit_identical()
  local tmp = os.tmpname()
  local full, m_full = fit { epochs = 4, seed = 9 }
  local part = fit { epochs = 2, seed = 9, callbacks = { train.checkpoint { path = tmp } } }
  same_history(full, part, 2)
  -- a fresh process state: other weights, other generator position
  tensor.manual_seed(12345)
  tensor.randn(10)
  local resumed, m_res = fit({ epochs = 4, seed = 9, resume = tmp }, make_model(6, 4, 777))
  check(#resumed.loss == 4, "history has all 4 epochs")
  same_history(full, resumed, 4)
  local pa, pb = m_full:parameters(), m_res:parameters()
  for i = 1, #pa do identical(pa[i], pb[i], "parameter " .. i) end
  os.remove(tmp)
  -- a checkpoint of another run does not resume this one
  local other = os.tmpname()
  fit { epochs = 1, seed = 9, callbacks = { train.checkpoint { path = other } } }
  raises(function() fit { epochs = 2, seed = 10, resume = other } end, "it was written with seed=9")
  os.remove(other)
  raises(function() fit { epochs = 2, resume = "/nonexistent/ckpt" } end, "cannot open")
end

function T.early_stopping_stops_at_the_right_epoch()
  local seq = { 1.0, 0.8, 0.85, 0.81, 0.79, 0.9, 0.95, 0.96, 0.7, 0.6 }
  local script = function(e, logs) logs.scripted = seq[e] end
  -- best 0.79 at epoch 5 (0.81 does not beat 0.8 by min_delta 0.02... it does not beat 0.8 at all);
  -- with patience 3, epochs 6, 7, 8 do not improve: stop at 8
  local es = train.early_stopping { monitor = "scripted", patience = 3, min_delta = 0.005 }
  local h = fit { epochs = 10, callbacks = { script, es } }
  check(#h.loss == 8, "stopped after epoch 8, ran " .. #h.loss)
  check(h.stopped == "early_stopping", "stopped = " .. tostring(h.stopped))
  check(es.best_epoch == 5 and es.best == 0.79, "best epoch 5")
  check(h.scripted[8] == 0.96, "callback values become history columns")
  -- min_delta counts: 0.79 does not beat 0.8 by 0.05, so the best stays at epoch 2 -> stop at 5
  local es2 = train.early_stopping { monitor = "scripted", patience = 3, min_delta = 0.05 }
  local h2 = fit { epochs = 10, callbacks = { script, es2 } }
  check(#h2.loss == 5, "min_delta: stopped after epoch 5, ran " .. #h2.loss)
  -- mode max (auto for accuracy names) and restore_best
  local acc = { 0.5, 0.7, 0.6, 0.65 }
  local es3 = train.early_stopping { monitor = "my_acc", patience = 2, restore_best = true }
  local snap
  local h3, model = fit { epochs = 10, callbacks = {
    function(e, logs, ctx)
      logs.my_acc = acc[e]
      if e == 2 then snap = {} for i, p in ipairs(ctx.params) do snap[i] = p:clone() end end
    end, es3 } }
  check(#h3.loss == 4 and es3.mode == "max", "max mode stops after 4")
  for i, p in ipairs(model:parameters()) do identical(p, snap[i], "restored weights of epoch 2, parameter " .. i) end
  raises(function() fit { epochs = 2, callbacks = { train.early_stopping { monitor = "nope" } } } end,
    "monitor 'nope' is not among the epoch's values")
end

function T.nan_loss_stops_with_epoch_step_and_last_finite_loss()
  local calls = 0
  local function poisoned(z, y)
    calls = calls + 1
    local l = have_nn and nn.functional.cross_entropy(z, y) or standin_ce(z, y)
    if calls == 30 + 3 then return l * (0 / 0) end   -- epoch 2 (30 steps per epoch), step 3
    return l
  end
  local out = {}
  local sink = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end end, flush = function() end }
  local h = fit { epochs = 5, loss = poisoned, validation = false, verbose = 2, output = sink }
  check(h.stopped == "nan", "stopped = " .. tostring(h.stopped))
  check(#h.loss == 1, "history of epoch 1 kept")
  local text = table.concat(out)
  check(text:find("Loss is nan at epoch 2, step 3/30", 1, true) or text:find("Loss is -nan at epoch 2, step 3/30", 1, true), text)
  check(text:find("last finite loss", 1, true) and text:find("(epoch 2, step 2)", 1, true), text)
  check(h.message and h.message:find("epoch 2, step 3/30", 1, true), "message kept in history")
end

function T.ctrl_c_stops_at_the_end_of_the_step()
  local at
  local cb = { on_batch_end = function(step, logs, ctx)
    if ctx.epoch == 2 and step == 5 then
      at = step
      -- SIGINT to this process (popen: system() would ignore SIGINT meanwhile)
      local p = io.popen("kill -INT $PPID")
      p:close()
    end
  end }
  local h = fit { epochs = 4, callbacks = { cb } }
  check(at == 5, "callback ran")
  check(h.stopped == "interrupted", "stopped = " .. tostring(h.stopped))
  check(#h.loss == 1, "epoch 1 kept, the interrupted epoch 2 not recorded")
  check(not sys.interrupted(), "flag cleared after fit")
  check(sys.catch_interrupts(false) == false, "handler restored after fit")
end

function T.epoch_and_observe_reach_the_optimizer()
  local opt = make_opt(LR)
  local epochs, observed = {}, {}
  local step = opt.step
  opt.step = function(self, params)
    epochs[#epochs + 1] = self.epoch
    return step(self, params)
  end
  -- the contract is opt:observe(value), whatever the optimizer's observe declares (fit used to
  -- count this function's parameters and pass (name, value) to a three-parameter one)
  opt.observe = function(self, ...) observed[#observed + 1] = { n = select("#", ...), ... } end
  local h = fit({ epochs = 3 }, nil, opt)
  check(epochs[1] == 0 and epochs[#epochs] == 2, "opt.epoch is 0-based during each epoch")
  check(#observed == 3, "observe once per epoch")
  for e = 1, 3 do
    check(observed[e].n == 1 and observed[e][1] == h.val_loss[e], "epoch " .. e .. ": observe(val_loss's value) alone, got " ..
      observed[e].n .. " arguments: " .. tostring(observed[e][1]) .. ", " .. tostring(observed[e][2]))
  end
end

function T.plateau_schedule_is_fed_by_fit()
  if not (have_optim and rawget(_G, "schedule") and schedule.plateau) then
    return   -- the stand-in has no schedules; observe itself: epoch_and_observe_reach_the_optimizer
  end
  local opt2 = optim.SGD { lr = schedule.plateau { initial = 0.01, factor = 0.5, patience = 0 } }
  local h2 = fit({ epochs = 4, monitor = "loss" }, nil, opt2)
  check(h2.lr[1] == 0.01, "initial lr applied in epoch 1")
  for e = 2, 4 do check(h2.lr[e] <= h2.lr[e - 1], "plateau only lowers the lr") end
end

function T.progress_line_is_keras_format()
  local line = train.progress_line { epoch = 3, epochs = 10, step = 938, steps = 938, seconds = 12.2, step_seconds = 0.013,
    values = { { "loss", 0.0670 }, { "accuracy", 0.9796 }, { "val_loss", 0.0394 }, { "val_accuracy", 0.9870 } } }
  check(line == "Epoch 3/10  938/938 [==============================] 12s 13ms/step - loss: 0.0670 - accuracy: 0.9796 - val_loss: 0.0394 - val_accuracy: 0.9870", line)
  local v2 = train.progress_line { epoch = 1, epochs = 2, step = 5, steps = 5, seconds = 0.4, step_seconds = 0.0004,
    values = { { "loss", 1 } }, verbose = 2, label = "Adam" }
  check(v2 == "Adam  Epoch 1/2 - 400ms 400us/step - loss: 1.0000", v2)
  local p = train.progress_partial { epoch = 1, epochs = 2, step = 10, steps = 40, eta = 3, values = { { "loss", 0.5 } } }
  check(p == "Epoch 1/2  10/40 [======>.......................] - ETA: 3s - loss: 0.5000", p)
end

function T.fit_prints_one_line_per_epoch_or_redraws_on_a_terminal()
  local function capture(opts)
    local out = {}
    opts.output = { write = function(self, ...) for _, s in ipairs { ... } do out[#out + 1] = s end end, flush = function() end }
    fit(opts)
    return table.concat(out)
  end
  local plain = capture { epochs = 2, verbose = 1, label = "SGD" }
  local lines = {}
  for l in plain:gmatch("[^\n]+") do lines[#lines + 1] = l end
  check(#lines == 2, "two lines: " .. plain)
  local pat = "^SGD  Epoch 2/2  30/30 %[==============================%] %d+m?s %d+u?m?s/step %- loss: %d%.%d%d%d%d %- accuracy: %d%.%d%d%d%d %- val_loss: %d%.%d%d%d%d %- val_accuracy: %d%.%d%d%d%d$"
  check(lines[2]:match(pat), lines[2])
  check(not plain:find("\r", 1, true), "no carriage returns when not a terminal")
  check(capture { epochs = 2, verbose = 0 } == "", "verbose = 0 prints nothing")
  local tty = capture { epochs = 1, verbose = 1, tty = true }
  check(tty:find("\r", 1, true) and tty:find("\27[K", 1, true), "terminal: redrawn in place")
end

function T.csv_logger_and_plain_callbacks()
  local path = os.tmpname()
  local batches, epochs = 0, {}
  local h = fit { epochs = 3, callbacks = {
    train.csv_logger(path),
    { on_batch_end = function() batches = batches + 1 end, on_epoch_end = function(e) epochs[#epochs + 1] = e end },
  } }
  check(batches == 90 and table.concat(epochs, ",") == "1,2,3", "plain callbacks called per batch and per epoch")
  local f = assert(io.open(path))
  local header = f:read("l")
  local rows = {}
  for l in f:lines() do rows[#rows + 1] = l end
  f:close()
  os.remove(path)
  check(header:match("^epoch,") and (header .. ","):find(",val_loss,", 1, true), header)
  check(#rows == 3, "one row per epoch")
  local cols = {}
  for c in header:gmatch("[^,]+") do cols[#cols + 1] = c end
  local vals = {}
  for v in rows[2]:gmatch("[^,]+") do vals[#vals + 1] = v end
  for i, c in ipairs(cols) do
    if c == "loss" then close(tonumber(vals[i]), h.loss[2], 1e-9, "csv loss") end
  end
end

function T.bad_arguments_are_clear_errors()
  raises(function() fit { epochs = 0 } end, "epochs must be a positive integer")
  raises(function() train.fit(make_model(6, 4), {}, (blobs())) end, "step(params)")
  raises(function() fit { epochs = 1, validation_split = 0.1 } end, "give validation or validation_split, not both")
  if not have_nn then raises(function() fit { epochs = 1, loss = "cross_entropy" } end, "needs nn") end
end

-- Keras's fit ends with finalize_variable_values: with use_ema the model keeps the averages.
function T.fit_with_use_ema_ends_with_the_averaged_weights()
  if not (have_nn and have_optim) then lib.skip("needs nn and optim") end
  local opt = optim.Adam { lr = 0.01, use_ema = true, ema_momentum = 0.9 }
  local _, model = fit({ epochs = 2 }, nil, opt)
  for _, p in ipairs(model:parameters()) do
    lib.identical(p, opt.state[p].ema, "parameter = its moving average")
    -- the average is optimizer state, kept outside the graph (a step runs under no_grad)
    check(not opt.state[p].ema.requires_grad, "the moving average is not part of a graph")
  end
  -- without use_ema, finalize leaves the weights alone
  local plain = optim.Adam { lr = 0.01 }
  local _, m2 = fit({ epochs = 1 }, nil, plain)
  local before = m2:parameters()[1]:clone()
  plain:finalize(m2:parameters())
  lib.identical(m2:parameters()[1], before, "no EMA: unchanged")
end

function T.unknown_fit_option_is_an_error()
  local ds = data.blobs { n = 64, centers = 2, dim = 2, seed = 1 }
  local model = nn.Sequential { input = { 2 }, nn.Dense { 2 } }
  local err = lib.raises(function()
    train.fit(model, optim.SGD { lr = 0.1 }, ds, { epochs = 1, batchsize = 8, verbose = 0 })
  end, "unknown option 'batchsize'")
  check(err:find("batch_size", 1, true), "the error lists the valid names: " .. err)
  lib.raises(function() train.evaluate(model, ds, { metric = "accuracy" }) end, "unknown option 'metric'")
end

-- Issue 13, finding 10: a NaN or Inf gradient under a finite loss is caught
-- by the NaN guard before the optimizer applies it (PyTorch applies it;
-- Keras's TerminateOnNaN only sees the loss, after the update).
function T.nan_gradient_under_a_finite_loss_stops_before_the_step()
  local calls = 0
  local function poisoned(z, y)
    calls = calls + 1
    local l = have_nn and nn.functional.cross_entropy(z, y) or standin_ce(z, y)
    -- epoch 2, step 3: sqrt at 0 has an infinite slope, times 0: a NaN gradient, a finite loss
    if calls == 30 + 3 then return l + (z * 0):sum():sqrt() end
    return l
  end
  local snap
  local cb = { on_batch_end = function(step, logs, ctx)
    if ctx.epoch == 2 and step == 2 then
      snap = {}
      for i, p in ipairs(ctx.params) do snap[i] = p:clone() end
    end
  end }
  local out = {}
  local sink = { write = function(self, ...) for _, x in ipairs { ... } do out[#out + 1] = x end end, flush = function() end }
  local h, model = fit { epochs = 5, loss = poisoned, validation = false, callbacks = { cb }, verbose = 2, output = sink }
  check(h.stopped == "nan", "stopped = " .. tostring(h.stopped))
  check(#h.loss == 1, "history of epoch 1 kept, got " .. #h.loss)
  check(h.message and h.message:find("Gradient norm is %-?nan at epoch 2, step 3/30"), "message: " .. tostring(h.message))
  check(table.concat(out):find("stopping before the step is applied", 1, true), "not printed")
  for i, p in ipairs(model:parameters()) do identical(p, snap[i], "parameter " .. i .. " changed by the NaN step") end
end

-- Issue 13, finding 9: each field of a checkpoint is checked before resume uses it.
function T.tampered_checkpoints_are_refused_field_by_field()
  if not have_optim or not have_nn then lib.skip("needs nn and optim") end
  local tmp, path = os.tmpname(), os.tmpname()
  local function adam() return optim.Adam { lr = 0.01 } end
  local function es() return train.early_stopping { patience = 10 } end
  fit({ epochs = 2, seed = 9, callbacks = { es(), train.checkpoint { path = tmp } } }, make_model(6, 4), adam())
  local function resume(edit, epochs)
    local st = serial.load(tmp)
    edit(st)
    serial.save(path, st)
    return fit({ epochs = epochs or 4, seed = 9, resume = path, callbacks = { es() } }, make_model(6, 4), adam())
  end
  -- untouched, it resumes
  local h = resume(function() end)
  check(#h.loss == 4 and not h.stopped, "an untouched checkpoint resumes")
  local cases = {
    { "epoch = 100", function(st) st.epoch = 100 end, "history.epoch has 2 values; expected one per finished epoch (100)" },
    { "epoch = -5", function(st) st.epoch = -5 end, "field epoch is -5; expected an integer >= 0" },
    { "epoch = 2.5", function(st) st.epoch = 2.5 end, "field epoch is 2.5" },
    { "epoch beyond the fit", function() end, "it is at epoch 2, beyond this fit's epochs = 1", 1 },
    { "short history", function(st) st.history.loss[2] = nil end, "history.loss has 1 values" },
    { "a history value that is not a number", function(st) st.history.loss[2] = "x" end, "a number per epoch" },
    { "opt.t = 0.5", function(st) st.opt.t = 0.5 end, "field opt.t is 0.5" },
    { "opt.t = 1e300", function(st) st.opt.t = 1e300 end, "field opt.t is 1e+300" },
    { "Adam without v", function(st) for _, b in ipairs(st.opt.state) do b.v = nil end end, "lacks buffer 'v'" },
    { "opt.state = {}", function(st) st.opt.state = {} end, "with the state of 0 parameters; there are 4" },
    { "a buffer of the wrong shape", function(st) st.opt.state[1].m = tensor.zeros(3) end, "has shape 3" },
    { "rng", function(st) st.rng = { seed = 1.5 } end, "field rng" },
    { "step", function(st) st.step = "0" end, 'field step is "0"' },
    { "early stopping's state", function(st) st.callbacks[1].wait = "x" end,
      "callback 1: early_stopping: the saved state needs wait (an integer >= 0)" },
  }
  for _, c in ipairs(cases) do
    local err = raises(function() resume(c[2], c[4]) end, c[3], c[1])
    check(err:find(path, 1, true), c[1] .. ": the error does not name the file: " .. err)
  end
  os.remove(tmp)
  os.remove(path)
end

-- train.fit takes an optimizer's name as experiment.compare does (optim.get:
-- Keras's defaults); a misspelled one gets optim.get's list of names.
function T.fit_accepts_an_optimizer_name()
  tensor.manual_seed(1)
  local ds = data.blobs { n = 64, centers = 2, seed = 2 }
  local a = nn.Sequential { input = { 2 }, nn.Dense { 2 } }
  tensor.manual_seed(1)
  local b = nn.Sequential { input = { 2 }, nn.Dense { 2 } }
  local ha = train.fit(a, "adam", ds, { epochs = 2, batch_size = 32, verbose = 0 })
  local hb = train.fit(b, optim.get("Adam"), ds, { epochs = 2, batch_size = 32, verbose = 0 })
  check(ha.loss[2] == hb.loss[2], string.format("\"adam\" trains as optim.get(\"Adam\"): %.9g vs %.9g", ha.loss[2], hb.loss[2]))
  raises(function() train.fit(a, "adamm", ds, { epochs = 1, verbose = 0 }) end, "unknown optimizer 'adamm'")
end

-- A diverging loss prints readably, not as a 34-digit number.
function T.huge_losses_print_readably()
  local line = train.progress_line { label = nil, epoch = 1, epochs = 1, step = 1, steps = 1, seconds = 1, step_seconds = 1,
    values = { { "loss", 1.2345e30 }, { "accuracy", 0.5 } }, verbose = 1 }
  check(line:find("loss: 1.2345e+30", 1, true), "1.2345e30 prints as 1.2345e+30: " .. line)
  check(line:find("accuracy: 0.5000", 1, true), "ordinary values keep 4 decimals: " .. line)
end

-- "history kept for 1 epoch", not "1 epochs".
function T.history_kept_for_1_epoch_is_singular()
  tensor.manual_seed(1)
  local ds = data.blobs { n = 32, centers = 2, seed = 2 }
  local model = nn.Sequential { input = { 2 }, nn.Dense { 2 } }
  local calls = 0
  local function loss(out, y)
    calls = calls + 1
    local l = nn.functional.cross_entropy(out, y)
    if calls > 1 then return l * (0 / 0) end   -- NaN from the second epoch's first step
    return l
  end
  local h = train.fit(model, optim.SGD { lr = 0.01 }, ds, { epochs = 3, batch_size = 32, verbose = 0, loss = loss })
  check(h.stopped == "nan", "stopped on the NaN: " .. tostring(h.stopped))
  check(h.message:find("history kept for 1 epoch)", 1, true), h.message)
end

-- Issue 16: the textbook's literal Nesterov (then lookahead = true, now nesterov = "literal") failed at the first
-- step with "needs a closure"; fit refuses it up front and says what to use.
function T.fit_refuses_literal_nesterov_up_front()
  local ds = data.blobs { n = 64, centers = 2, dim = 2, seed = 1 }
  local model = nn.Sequential { input = { 2 }, nn.Dense { 2 } }
  local before = model:parameters()[1]:clone()
  local opt = optim.SGD { lr = 0.1, momentum = 0.9, nesterov = "literal" }
  local err = raises(function() train.fit(model, opt, ds, { epochs = 1, verbose = 0 }) end,
    "has nesterov = \"literal\", which takes the gradient at theta + alpha v")
  check(err:find("nesterov = true", 1, true) and err:find("test_train.lua:", 1, true), "says what to use, at the user's line: " .. err)
  identical(model:parameters()[1], before, "no step was taken")
  check(opt.t == 0, "the optimizer never stepped")
end

return T
