-- The training loop, Keras style:
--
--   local h = train.fit(model, optim.Adam{lr = 1e-3}, train_ds, {epochs = 10, batch_size = 64,
--                       validation = test_ds, callbacks = {train.early_stopping{patience = 3}}})
--   h.val_accuracy[10], h.stopped
--
-- History columns (arrays indexed by epoch): epoch, loss, <metrics>, val_loss,
-- val_<metrics>, lr (and momentum/beta1/beta2... when the optimizer reports
-- them), seconds, ms_per_step, samples_per_s, grad_norm (mean over the
-- epoch's steps of the global L2 norm of the gradients, before the step);
-- plus `stopped`: nil, "early_stopping", "nan", "interrupted" or "callback".
--
-- This file holds train.fit; the rest lives in stdlib/train/ by concern: base.lua (the
-- train table), metrics.lua (losses, metrics, evaluate), progress.lua (the progress line),
-- checkpoint.lua (the checkpoint file), callbacks.lua (early stopping, checkpoint, CSV logger),
-- diagnostics.lua (Hessian eigenvalues, ill-conditioning, gradient noise: fit's diagnostics = {...}),
-- distributed.lua (data-parallel steps: fit's distributed = true).
local base = require "train.base"
local C, train, fail = base.C, base.train, base.fail
local metrics = require "train.metrics"
local FIT_OPTIONS, check_options, as_loader = metrics.FIT_OPTIONS, metrics.check_options, metrics.as_loader
local resolve_loss, resolve_metrics, value_of = metrics.resolve_loss, metrics.resolve_metrics, metrics.value_of
local untaped, forward, set_mode, params_of = metrics.untaped, metrics.forward, metrics.set_mode, metrics.params_of
local progress = require "train.progress"
local epochs_text, fmt_val = progress.epochs_text, progress.fmt_val
local restore = require "train.checkpoint".restore
local callbacks = require "train.callbacks"
local normalize_callbacks, call = callbacks.normalize_callbacks, callbacks.call
local diagnostics = require "train.diagnostics"
local distributed = require "train.distributed"

-- ---- fit ------------------------------------------------------------------

local HYPER_COLUMNS = { "momentum", "beta1", "beta2", "rho", "weight_decay", "eps" }

local function hyper_of(opt)
  if type(opt.hyper) == "function" then return opt:hyper() end
  return { lr = opt.lr or opt.learning_rate }
end

local function is_finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- train.fit(model, opt, train_ds, {epochs = 1, batch_size = 64, loss = "cross_entropy",
--   metrics = {"accuracy"}, validation = ds | validation_split = 0.1, callbacks = {...},
--   seed = 1, shuffle = true, drop_last = false, normalize = {mean, std}, one_hot = false,
--   verbose = 1, label = nil, resume = path, monitor = "val_loss", output = io.stdout}) -> history
-- fit computes each gradient once, at the parameters, before opt:step. The
-- textbook's literal Nesterov form (nesterov = "literal") needs the gradient at
-- theta + alpha v, through a closure that only a hand-written loop gives.
function train.check_optimizer(opt, where)
  local lit = require("optim.wrap").needs_closure(opt)
  if lit then
    fail(string.format("%s: %s has nesterov = \"literal\", which takes the gradient at theta + alpha v through " ..
      "opt:step(params, closure); train.fit takes it at theta. Use nesterov = true (the same method in the " ..
      "one-gradient form), or write the loop and pass the closure", where, tostring(lit)))
  end
end

-- fit, in named steps. `r` is one fit's state: what setup resolved (model, opt,
-- params, loss_fn, metrics, loader, steps, epochs, callbacks, history, output
-- settings) and the running sums of the epoch in progress.

-- Setup: checks every option and resolves names before any work.
local function setup(model, opt, train_ds, o)
  check_options("train.fit", o, FIT_OPTIONS)
  -- a name gives that optimizer with Keras's defaults, as experiment.compare does
  if type(opt) == "string" then
    local optim = require "optim"
    opt = optim.get(opt)
  end
  if type(opt) ~= "table" or type(opt.step) ~= "function" then fail("train.fit: the optimizer needs a step(params) method (or give its name, \"adam\")") end
  train.check_optimizer(opt, "train.fit")
  local dist = distributed.plan(o.distributed, "train.fit")
  local epochs = o.epochs or 1
  if not compat.is_integer(epochs) or epochs < 1 then fail("train.fit: epochs must be a positive integer, got " .. tostring(epochs)) end
  local verbose = o.verbose == nil and 1 or o.verbose
  if verbose == true then verbose = 1 elseif verbose == false then verbose = 0 end
  if dist and dist.rank ~= 0 then verbose = 0 end   -- data-parallel: rank 0 prints
  local out = o.output or io.stdout
  local tty = o.tty
  if tty == nil then tty = out == io.stdout and sys.isatty(1) end
  local loss_fn = resolve_loss(o.loss or "cross_entropy")
  local metrics = resolve_metrics(o.metrics)
  local val = o.validation
  if o.validation_split then
    if val then fail("train.fit: give validation or validation_split, not both") end
    train_ds, val = train_ds:split { validation = o.validation_split }
  end
  local loader = as_loader(train_ds, o, o.shuffle ~= false)
  local steps = loader:steps()
  if steps < 1 then fail("train.fit: the training set gives no batches (" .. loader.n .. " examples, batch_size " .. loader.batch_size .. ")") end
  -- schedules that count epochs but move every update learn the epoch's length
  if type(opt.sched) == "table" then
    for _, sc in pairs(opt.sched) do
      if type(sc) == "table" and sc.bind_steps_per_epoch then sc:bind_steps_per_epoch(steps) end
    end
  end
  local params = params_of(model)
  local callbacks = normalize_callbacks(o.callbacks)
  local stride = o.step_stride
  if stride ~= nil and not (compat.is_integer(stride) and stride >= 1) then
    fail("train.fit: step_stride must be a positive integer (record every k-th step), got " .. tostring(stride))
  end
  local diag = diagnostics._options(o.diagnostics, o.batch_size or loader.batch_size, "train.fit")
  local probes = diag and diagnostics._probes(diag, train_ds, o)

  local history = { epoch = {}, loss = {}, val_loss = {}, lr = {}, seconds = {}, ms_per_step = {}, samples_per_s = {}, grad_norm = {} }
  for _, m in ipairs(metrics) do history[m.name], history["val_" .. m.name] = {}, {} end
  local ctx = { model = model, opt = opt, params = params, history = history, loader = loader, callbacks = callbacks,
    epochs = epochs, stop_training = false, steps = steps, rank = dist and dist.rank or 0,
    -- per-step logs (columns of numbers), kept in checkpoints so a resumed run has them whole
    step_log = stride and { step = {}, epoch = {}, loss = {}, grad_norm = {}, wall_seconds = {} } or nil,
    diag_log = diag and diag.every ~= "epoch" and { step = {}, epoch = {} } or nil }
  local first_epoch = 1
  if o.resume then
    local st = train.load_state(o.resume)
    first_epoch = restore(ctx, st, o.resume) + 1
  end
  return {
    model = model, opt = opt, params = params, loss_fn = loss_fn, metrics = metrics, val = val,
    loader = loader, steps = steps, epochs = epochs, first_epoch = first_epoch, callbacks = callbacks,
    history = history, ctx = ctx, verbose = verbose, out = out, tty = tty, label = o.label,
    eval_opts = { batch_size = o.batch_size or loader.batch_size, loss = loss_fn, _metrics = metrics,
      normalize = o.normalize, one_hot = o.one_hot },
    monitor = o.monitor or (val and "val_loss" or "loss"),
    msums = {}, blogs = { step = 0, loss = 0, size = 0 },
    stride = stride, step_log = ctx.step_log, diag = diag, probes = probes, diag_log = ctx.diag_log, diag_secs = 0,
    last_finite = { value = nil, epoch = nil, step = nil },
    dist = dist and { plan = dist, ctx = { params = params, loss_fn = loss_fn, metrics = metrics,
      forward = function(x) return forward(model, x) end,
      metric_value = function(m, out, y) return value_of(untaped(m.fn, out, y)) end } },
  }
end

-- Ends the run with history.stopped = why; the message goes to the history and the output.
local function stop(r, why, message, newline)
  r.history.stopped, r.history.message = why, message
  if r.verbose > 0 and message then
    if newline and r.tty then r.out:write("\n") end
    r.out:write(message, "\n")
  end
end

-- Appends a row (name = number) to a log of columns.
-- A row with `step` opens a new row; one without fills in the last.
local function append(log, row)
  local n = #log.step + (row.step and 1 or 0)
  for k, v in pairs(row) do
    log[k] = log[k] or {}
    log[k][n] = v
  end
end

-- Step g's row of the step log: the minibatch loss, the gradient norm, the
-- hyperparameters the step applied, the training seconds so far (the epochs before
-- this one, then this epoch's clock without the diagnostics).
local function log_step(r, e, g, lv, gn)
  local before = 0
  for i = 1, e - 1 do before = before + (r.history.seconds[i] or 0) end
  local row = { step = g, epoch = e, loss = lv, grad_norm = gn,
                wall_seconds = before + (sys.clock() - r.epoch_t0 - r.diag_secs) }
  local hp = hyper_of(r.opt)
  row.lr = hp.lr
  for _, k in ipairs(HYPER_COLUMNS) do if type(hp[k]) == "number" then row[k] = hp[k] end end
  append(r.step_log, row)
end

-- The diagnostics at the parameters as they are, in evaluation mode (no dropout,
-- no random numbers drawn, batch norm's statistics untouched), then back to training.
local function measure(r)
  set_mode(r.model, false)
  local ok, d = pcall(diagnostics._measure, r.diag, r.params, r.probes, function(x) return forward(r.model, x) end,
                      r.loss_fn, hyper_of(r.opt).lr)
  set_mode(r.model, true)
  if not ok then error(d, 0) end
  return d
end

-- One batch: forward, loss, backward, the update, the running sums, the batch
-- callbacks. Returns false when the loss or a gradient is not finite (a NaN
-- stop, before the update is applied).
local function train_step(r, e, step)
  local x, y = r.loader:batch(e, step)
  local b = x:size(1)
  local output, loss, lv, mvals
  if r.dist then
    -- data-parallel: the batch's mean loss, metrics and gradient, from its shards (train/distributed.lua)
    lv, mvals = distributed.gradient(r.dist.plan, r.dist.ctx, x, y)
  else
    if r.model.zero_grad then r.model:zero_grad()
    else for _, p in ipairs(r.params) do p.grad = nil end end
    output = forward(r.model, x)
    loss = r.loss_fn(output, y)
    lv = loss:item()
  end
  local lf = r.last_finite
  if not is_finite(lv) then
    stop(r, "nan", string.format("Loss is %s at epoch %d, step %d/%d; last finite loss %s; stopping (history kept for %s)",
      fmt_val(lv), e, step, r.steps,
      lf.value and string.format("%.6g (epoch %d, step %d)", lf.value, lf.epoch, lf.step) or "none",
      epochs_text(e - 1)), true)
    return false
  end
  lf.value, lf.epoch, lf.step = lv, e, step
  if loss then loss:backward() end
  local gn = C.train.grad_norm(r.params)
  if not is_finite(gn) then
    -- a NaN or Inf gradient under a finite loss: stop before the step
    -- applies it, so the weights stay those of the last good step
    stop(r, "nan", string.format("Gradient norm is %s at epoch %d, step %d/%d (loss %.6g): a gradient has NaN or Inf; " ..
      "stopping before the step is applied (history kept for %s)", tostring(gn), e, step, r.steps, lv, epochs_text(e - 1)), true)
    return false
  end
  r.opt:step(r.params, nil, gn)    -- the norm once a step: logged, and clip_norm's (Optimizer:step)
  r.lsum, r.seen, r.gsum = r.lsum + lv * b, r.seen + b, r.gsum + gn
  local g = (e - 1) * r.steps + step
  if r.step_log and (g - 1) % r.stride == 0 then log_step(r, e, g, lv, gn) end
  if r.diag_log and g % r.diag.every == 0 then
    local t = sys.clock()
    local d = measure(r)
    append(r.diag_log, { step = g, epoch = e })
    append(r.diag_log, d)
    r.diag_secs = r.diag_secs + (sys.clock() - t)
  end
  for i, m in ipairs(r.metrics) do
    r.msums[i] = r.msums[i] + (mvals and mvals[i] or value_of(untaped(m.fn, output, y))) * b
  end
  r.blogs.step, r.blogs.loss, r.blogs.size = step, lv, b
  for _, cb in ipairs(r.callbacks) do call(cb, "on_batch_end", step, r.blogs, r.ctx) end
  return true
end

-- The bar redrawn in place during an epoch (verbose 1 on a terminal), at most every 0.1 s.
local function draw_progress(r, e, step, t0)
  if not (r.verbose == 1 and r.tty) then return end
  local now = sys.clock()
  if now - r.last_draw >= 0.1 and step < r.steps then
    r.last_draw = now
    local vals = { { "loss", r.lsum / r.seen } }
    for i, m in ipairs(r.metrics) do vals[#vals + 1] = { m.name, r.msums[i] / r.seen } end
    r.out:write("\r", train.progress_partial { label = r.label, epoch = e, epochs = r.epochs, step = step, steps = r.steps,
      eta = (now - t0) / step * (r.steps - step), values = vals }, "\27[K")
    r.out:flush()
  end
end

-- The epoch's batches. Returns "done", or "stop" when the run ends here (a NaN,
-- or Ctrl-C / a batch callback inside the epoch, which keeps the finished epochs only).
local function train_epoch(r, e, t0)
  r.lsum, r.seen, r.gsum = 0, 0, 0
  for i = 1, #r.metrics do r.msums[i] = 0 end
  r.last_draw, r.epoch_t0, r.diag_secs = t0, t0, 0
  local stopped_at
  for step = 1, r.steps do
    if not train_step(r, e, step) then return "stop" end
    draw_progress(r, e, step, t0)
    if sys.interrupted() or r.ctx.stop_training then stopped_at = step break end
  end
  if stopped_at and stopped_at < r.steps then
    local why = sys.interrupted() and "interrupted" or (r.ctx.stop_reason or "callback")
    stop(r, why, string.format("Stopped at epoch %d, step %d/%d (%s); history kept for %s",
      e, stopped_at, r.steps, why, epochs_text(e - 1)), true)
    return "stop"
  end
  return "done"
end

-- fn(...) with the optimizer's averaged weights in the model (optim.EMA,
-- optim.Polyak, use_ema: Keras's SwapEMAWeights around evaluation), then the
-- raw weights back for training to go on from.
local function with_averages(r, fn, ...)
  local swapped = type(r.opt.swap_average) == "function" and r.opt:swap_average(r.params)
  local ok, res = pcall(fn, ...)
  if swapped then r.opt:swap_average(r.params) end
  if not ok then error(res, 0) end
  return res
end

-- The epoch's logs: training means, validation, the optimizer's hyperparameters, timings.
local function epoch_logs(r, e, secs)
  local logs = { epoch = e, loss = r.lsum / r.seen }
  for i, m in ipairs(r.metrics) do logs[m.name] = r.msums[i] / r.seen end
  if r.val then
    local v = with_averages(r, train.evaluate, r.model, r.val, r.eval_opts)
    logs.val_loss = v.loss
    for _, m in ipairs(r.metrics) do logs["val_" .. m.name] = v[m.name] end
  end
  local hp = hyper_of(r.opt)
  logs.lr = hp.lr
  for _, k in ipairs(HYPER_COLUMNS) do if type(hp[k]) == "number" then logs[k] = hp[k] end end
  logs.seconds, logs.ms_per_step, logs.samples_per_s, logs.grad_norm = secs, secs / r.steps * 1000, r.seen / secs, r.gsum / r.steps
  return logs
end

-- Feeds the monitored value to plateau schedules: opt:observe(value), the one
-- contract (PyTorch's scheduler.step(metric); schedule.plateau checks it).
local function observe(r, logs)
  if r.opt.observe and logs[r.monitor] then r.opt:observe(logs[r.monitor]) end
end

-- The epoch's line (Keras's).
local function print_epoch(r, e, logs, secs)
  if r.verbose == 0 then return end
  local vals = { { "loss", logs.loss } }
  for _, m in ipairs(r.metrics) do vals[#vals + 1] = { m.name, logs[m.name] } end
  if r.val then
    vals[#vals + 1] = { "val_loss", logs.val_loss }
    for _, m in ipairs(r.metrics) do vals[#vals + 1] = { "val_" .. m.name, logs["val_" .. m.name] } end
  end
  local line = train.progress_line { label = r.label, epoch = e, epochs = r.epochs, step = r.steps, steps = r.steps,
    seconds = secs, step_seconds = secs / r.steps, values = vals, verbose = r.verbose }
  if r.tty and r.verbose == 1 then r.out:write("\r", line, "\27[K\n") else r.out:write(line, "\n") end
  r.out:flush()
end

-- Puts the numbers of logs in epoch e's row of the history (only_new: keep what is there).
local function record(history, e, logs, only_new)
  for k, v in pairs(logs) do
    if not only_new or (type(v) == "number" and not (history[k] and history[k][e])) then
      history[k] = history[k] or {}
      history[k][e] = v
    end
  end
end

-- After the epoch's callbacks: Ctrl-C or a callback's stop_training ends the run here.
local function stopped_after_epoch(r, e)
  if sys.interrupted() then
    stop(r, "interrupted", string.format("Interrupted after epoch %d", e))
    return true
  end
  if r.ctx.stop_training then
    r.history.stopped = r.ctx.stop_reason or "callback"
    if r.ctx.message then r.history.message = r.ctx.message end
    if r.verbose > 0 and r.ctx.message then r.out:write(r.ctx.message, "\n") end
    return true
  end
  return false
end

local function run(r)
  local opt, ctx, callbacks = r.opt, r.ctx, r.callbacks
  for _, cb in ipairs(callbacks) do call(cb, "on_train_begin", ctx) end
  for e = r.first_epoch, r.epochs do
    ctx.epoch = e
    -- opt.epoch is 0-based (the epoch about to run), as schedules and
    -- Keras's LearningRateScheduler count
    if opt.set_epoch then opt:set_epoch(e - 1) else opt.epoch = e - 1 end
    set_mode(r.model, true)
    for _, cb in ipairs(callbacks) do call(cb, "on_epoch_begin", e, ctx) end
    local t0 = sys.clock()
    if train_epoch(r, e, t0) == "stop" then return end
    local secs = sys.clock() - t0 - r.diag_secs
    local logs = epoch_logs(r, e, secs)
    if r.diag then
      for k, v in pairs(measure(r)) do logs[k] = v end
    end
    record(r.history, e, logs)
    observe(r, logs)
    print_epoch(r, e, logs, secs)
    for _, cb in ipairs(callbacks) do call(cb, "on_epoch_end", e, logs, ctx) end
    record(r.history, e, logs, true)   -- values callbacks added to logs become history columns too
    for _, cb in ipairs(callbacks) do call(cb, "after_epoch", e, ctx) end
    if stopped_after_epoch(r, e) then return end
  end
end

function train.fit(model, opt, train_ds, o)
  local r = setup(model, opt, train_ds, o or {})
  local prev_catch = sys.catch_interrupts(true)
  local ok, err = pcall(run, r)
  sys.catch_interrupts(prev_catch)
  -- Keras's fit ends with finalize_variable_values: with use_ema the weights take their averages
  if ok and type(r.opt.finalize) == "function" then r.opt:finalize(r.params) end
  for _, cb in ipairs(r.callbacks) do call(cb, "on_train_end", r.ctx) end
  if not ok then error(err, 0) end
  -- the per-step logs ride along in the history, beside its per-epoch columns
  r.history.steps, r.history.diagnostics = r.step_log, r.diag_log
  return r.history
end

-- ---- help ------------------------------------------------------------------
local help = require "help"
do
  help.register(train, [[
train  the training loop, Keras style: train.fit(model, opt, train_ds, {epochs, batch_size, validation, ...}) -> history]])
  for _, d in ipairs {
    { train.fit, [[train.fit(model, opt, train_ds [, opts]) -> history
opt: an optimizer (optim.Adam{...}) or a name ("adam", as optim.get: Keras defaults).
opts: epochs = 1, batch_size = 64, loss = "cross_entropy" (a name in nn.functional or a function(output, target)),
metrics = {"accuracy"}, validation = ds | validation_split = 0.1, callbacks = {...}, seed = 1, shuffle = true,
drop_last = false, normalize = {mean, std}, one_hot = false, verbose = 0 | 1 | 2, label, resume = path,
monitor = "val_loss", output = io.stdout, step_stride = k (log every k-th step: history.steps),
diagnostics = true | {...} (help(train.diagnostics): Hessian eigenvalues, ill-conditioning, gradient noise per epoch),
distributed = true | {shards = 4} (data-parallel: each batch cut into fixed shards, spread over the MPI ranks when
run under mpirun/srun, their gradients summed in shard order: the same bits on any number of ranks; help(train.distributed)).
history: arrays by epoch (loss, <metric>, val_loss, val_<metric>, lr, seconds, ms_per_step, samples_per_s,
grad_norm, the diagnostics' columns), and history.stopped: nil | "early_stopping" | "nan" | "interrupted" | "callback";
history.steps: columns by logged step (step, epoch, loss, lr, grad_norm, hyperparameters, wall_seconds);
history.diagnostics: columns by step with diagnostics = {every = k}.
With weight averaging (optim.EMA, optim.Polyak, use_ema = true) each validation runs on the averaged
weights (opt:swap_average), training goes on from the raw ones, and the model ends with the averages.]] },
    { train.evaluate, [[train.evaluate(model, ds [, opts]) -> {loss = number, <metric> = number, ...}
The loss and metrics over all of ds, in evaluation mode (dropout off) and without autograd.
opts: batch_size, loss = "cross_entropy", metrics = {"accuracy"}, normalize, one_hot, drop_last, seed.]] },
    { train.early_stopping, "train.early_stopping{monitor = \"val_loss\", patience = 0, min_delta = 0, mode = \"auto\", restore_best = false}\n" ..
                            "a callback that stops fit when monitor stops improving (Keras EarlyStopping)" },
    { train.checkpoint, "train.checkpoint{path, every = \"epoch\" | k}  a callback saving the whole training state; fit{resume = path} continues bit-identically" },
    { train.csv_logger, "train.csv_logger(path [, {append = false, separator = \",\"}])  a callback writing one CSV row per epoch (Keras CSVLogger)" },
    { train.save_state, "train.save_state(path, state)  writes a checkpoint (serial.save: atomic, checksummed)" },
    { train.load_state, "train.load_state(path) -> state  reads and checks a checkpoint written by train.save_state" },
    { train.progress_line, "train.progress_line{label, epoch, epochs, step, steps, seconds, step_seconds, values, verbose}  the Keras line of a finished epoch" },
    { train.progress_partial, "train.progress_partial{...}  the in-place progress line during an epoch (terminal only)" },
    { train.loss_names, "train.loss_names()  the loss names nn.functional offers (for loss = \"...\")" },
    { train.resolve_loss, "train.resolve_loss(loss [, where])  a loss name or function as a function; an unknown name is an error with \"did you mean\"" },
    { train.resolve_metrics, "train.resolve_metrics(metrics [, where])  a metrics list as {name, fn} pairs; unknown names are errors with \"did you mean\"" },
    { train.distributed, [[train.distributed  data-parallel steps: train.fit(model, opt, ds, {distributed = true | {shards = 4}})
Each batch is cut into `shards` fixed shards (by its size alone); under mpirun/srun rank r of K computes a block of
them, every rank gathers every shard's gradient and adds them in shard order (in double): the same bits on 1, 2 or
K ranks, and in one process without a launcher. Dropout takes the undivided batch's masks; BatchNorm in training
is refused. Rank 0 alone prints and writes checkpoints and CSV logs. experiment.compare's data_parallel = true
passes it to every run. More shards allow more ranks but cost more (each shard's gradient is whole): bench/bench_dp.lua.]] },
    { train.distributed.plan, "train.distributed.plan(v, where [, name])  fit's distributed option (true | {shards = n}) checked: {shards, rank, size}, or nil when off" },
    { train.distributed.layout, "train.distributed.layout(b, shards) -> {{first, n}, ...}  the non-empty shards of a batch of b examples (first is 0-based)" },
    { train.distributed.block, "train.distributed.block(m, k, r) -> lo, hi  rank r's shards (1-based) among m shards and k ranks: a contiguous block" },
    { train.distributed.agree, "train.distributed.agree([stop]) -> nil | \"rank r: why\"  the ranks' word at a run boundary (a data-parallel comparison under mpirun): nil when every rank goes on, else the first stopping rank's reason, the same on every rank" },
    { train.distributed.gradient, "train.distributed.gradient(plan, ctx, x, y) -> loss, {metrics}  one batch's mean gradient into every .grad, from its shards on every rank" },
    { train.check_optimizer, "train.check_optimizer(opt, where)  refuses an optimizer train.fit cannot drive (nesterov = \"literal\" needs a closure); fit and experiment.compare call it before any work" },
  } do help.register(d[1], d[2]) end
end

return train
