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
local C = require "optlab.core"
local serial = require "serial"
local data = require "data"
local suggest = require "suggest"

local train = {}

local function fail(msg) C.raise(msg) end

local function functional()
  local nn = rawget(_G, "nn") or (package.searchpath("nn", package.path) and require "nn")
  return nn and (nn.functional or nn.F)
end

-- ---- losses and metrics -------------------------------------------------

local function resolve_loss(loss, where)
  where = where or "train"
  if type(loss) == "function" then return loss end
  if type(loss) == "table" and getmetatable(loss) and getmetatable(loss).__call then return loss end
  if type(loss) ~= "string" then fail(where .. ": loss must be a name (\"cross_entropy\") or a function(output, target)") end
  local F = functional()
  if not F then fail(where .. string.format(": loss \"%s\" needs nn (stdlib/nn.lua); pass a function(output, target) instead", loss)) end
  local fn = F[loss]
  if not fn then
    fail(where .. string.format(": unknown loss \"%s\"%s (a loss of nn.functional, or a function(output, target))",
                       loss, suggest.phrase(loss, train.loss_names())))
  end
  return fn
end

-- The names nn.functional offers as losses, for "did you mean".
function train.loss_names()
  local F, out = functional(), {}
  for k, v in pairs(F or {}) do
    if type(v) == "function" and (k:find("entropy") or k:find("mse")) then
      out[#out + 1] = k
    end
  end
  table.sort(out)
  return out
end

local function builtin_accuracy(out, y)
  local F = functional()
  if F and F.accuracy then return F.accuracy(out, y) / out:size(1) end
  return C.accuracy_count(out, y) / out:size(1)
end

-- metrics: {"accuracy", name = function(output, target) -> batch mean (number or tensor)}
local function resolve_metrics(ms, where)
  where = where or "train"
  if ms ~= nil and type(ms) ~= "table" then fail(where .. ": metrics must be a list of names or name = function pairs, got " .. type(ms)) end
  local list = {}
  if ms == nil then ms = { "accuracy" } end
  for _, m in ipairs(ms) do
    if m == "accuracy" or m == "acc" then list[#list + 1] = { name = "accuracy", fn = builtin_accuracy }
    elseif type(m) == "string" then
      local F = functional()
      local fn = F and F[m]
      if not fn then
        local names = train.loss_names()
        names[#names + 1] = "accuracy"
        fail(where .. string.format(": unknown metric \"%s\"%s", m, suggest.phrase(m, names)))
      end
      list[#list + 1] = { name = m, fn = fn }
    else fail(where .. ": metrics are names or name = function pairs, got " .. type(m)) end
  end
  local named = {}
  for k, v in pairs(ms) do
    if type(k) == "string" then
      if type(v) ~= "function" then fail(where .. ": metric '" .. k .. "' must be a function(output, target)") end
      named[#named + 1] = k
    end
  end
  table.sort(named)
  for _, k in ipairs(named) do list[#list + 1] = { name = k, fn = ms[k] } end
  return list
end

-- experiment.compare checks its configuration with these before any work.
train.resolve_loss, train.resolve_metrics = resolve_loss, resolve_metrics

local function value_of(v)
  if type(v) == "number" then return v end
  return v:item()
end

-- Runs fn without recording a tape (cheaper than tensor.no_grad: no pcall per batch).
local function untaped(fn, a, b)
  local ag = tensor.autograd
  local was = ag.enabled
  ag.enabled = false
  local ok, r = pcall(fn, a, b)
  ag.enabled = was
  if not ok then error(r, 0) end
  return r
end

local function forward(model, x)
  if type(model) == "table" and model.forward then return model:forward(x) end
  return model(x)
end

local function set_mode(model, training)
  if type(model) ~= "table" then return end
  if training and type(model.train) == "function" then model:train()
  elseif not training and type(model.evaluate) == "function" then model:evaluate() end
end

local function params_of(model)
  if type(model) == "table" and model.parameters then return model:parameters() end
  fail("train: the model needs a parameters() method")
end

local function as_loader(ds, o, shuffle)
  if getmetatable(ds) == data.Loader then return ds end
  return data.loader(ds, { batch_size = o.batch_size or 64, shuffle = shuffle, seed = o.seed or 1,
    drop_last = shuffle and o.drop_last or false, normalize = o.normalize, one_hot = o.one_hot })
end

-- ---- evaluate -----------------------------------------------------------

-- train.evaluate(model, ds, {batch_size, loss, metrics, normalize, one_hot}) -> {loss =, accuracy = ...}
-- Means over all examples (each batch weighted by its size), without a tape.
-- Option names fit and evaluate know: a typo (Keras raises on unknown
-- keyword arguments too) is an error, not a silently ignored setting.
local FIT_OPTIONS = { "batch_size", "callbacks", "drop_last", "epochs", "label", "loss", "metrics", "monitor",
  "normalize", "one_hot", "output", "resume", "seed", "shuffle", "tty", "validation", "validation_split", "verbose" }
local EVALUATE_OPTIONS = { "batch_size", "drop_last", "loss", "metrics", "normalize", "one_hot", "seed", "_metrics" }

local function check_options(where, o, known)
  if type(o) ~= "table" then fail(where .. ": options must be a table, got " .. type(o)) end
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(o) do
    if not set[k] then
      local names = {}
      for _, n in ipairs(known) do if n:sub(1, 1) ~= "_" then names[#names + 1] = n end end
      fail(string.format("%s: unknown option '%s' (valid: %s)", where, tostring(k), table.concat(names, ", ")))
    end
  end
end

function train.evaluate(model, ds, o)
  o = o or {}
  check_options("train.evaluate", o, EVALUATE_OPTIONS)
  local loss_fn = resolve_loss(o.loss or "cross_entropy")
  local metrics = o._metrics or resolve_metrics(o.metrics)
  local loader = as_loader(ds, o, false)
  local was_training = type(model) == "table" and model.training
  set_mode(model, false)
  local sums, n, lsum = {}, 0, 0
  for i = 1, #metrics do sums[i] = 0 end
  local ag = tensor.autograd
  local was = ag.enabled
  ag.enabled = false
  local ok, err = pcall(function()
    for x, y in loader:epoch(1) do
      local b = x:size(1)
      local out = forward(model, x)
      lsum = lsum + loss_fn(out, y):item() * b
      for i, m in ipairs(metrics) do sums[i] = sums[i] + value_of(m.fn(out, y)) * b end
      n = n + b
    end
  end)
  ag.enabled = was
  if was_training ~= false then set_mode(model, true) end
  if not ok then error(err, 0) end
  local res = { loss = n > 0 and lsum / n or 0 / 0 }
  for i, m in ipairs(metrics) do res[m.name] = n > 0 and sums[i] / n or 0 / 0 end
  return res
end

-- ---- progress -------------------------------------------------------------

local function fmt_time(s)
  if s >= 1 or s == 0 then return string.format("%ds", math.floor(s + 0.5)) end
  return string.format("%dms", math.floor(s * 1000 + 0.5))
end

local function fmt_step(s)
  if s >= 1e-3 then return string.format("%dms/step", math.floor(s * 1000 + 0.5)) end
  return string.format("%dus/step", math.floor(s * 1e6 + 0.5))
end

local fmt_val = serial.readable

-- "1 epoch", "3 epochs"
local function epochs_text(n) return n == 1 and "1 epoch" or (compat.int_text(n) .. " epochs") end

local function bar(done, total, width)
  width = width or 30
  if done >= total then return "[" .. string.rep("=", width) .. "]" end
  local k = math.floor(width * done / total)
  return "[" .. string.rep("=", k > 0 and k - 1 or 0) .. (k > 0 and ">" or "") .. string.rep(".", width - math.max(k, 0)) .. "]"
end

-- The Keras line of a finished epoch. info: {label, epoch, epochs, step, steps,
-- seconds, step_seconds, values = {{name, value}, ...}, verbose}.
function train.progress_line(info)
  local parts = {}
  local head = (info.label and (info.label .. "  ") or "") .. string.format("Epoch %d/%d", info.epoch, info.epochs)
  if info.verbose == 2 then
    parts[1] = head .. " - " .. fmt_time(info.seconds) .. " " .. fmt_step(info.step_seconds)
  else
    parts[1] = string.format("%s  %d/%d %s %s %s", head, info.step, info.steps, bar(info.step, info.steps),
      fmt_time(info.seconds), fmt_step(info.step_seconds))
  end
  for _, kv in ipairs(info.values) do parts[#parts + 1] = kv[1] .. ": " .. fmt_val(kv[2]) end
  return table.concat(parts, " - ")
end

-- The in-place line during an epoch (terminal only): bar, ETA, running means.
function train.progress_partial(info)
  local head = (info.label and (info.label .. "  ") or "") .. string.format("Epoch %d/%d", info.epoch, info.epochs)
  local parts = { string.format("%s  %d/%d %s - ETA: %s", head, info.step, info.steps, bar(info.step, info.steps),
    fmt_time(info.eta)) }
  for _, kv in ipairs(info.values) do parts[#parts + 1] = kv[1] .. ": " .. fmt_val(kv[2]) end
  return table.concat(parts, " - ")
end

-- ---- checkpoint file --------------------------------------------------------
-- One file (serial.save: atomic, checksummed, tensors as records, the rest as
-- text that is parsed, never run). A checkpoint may come from elsewhere, so
-- load_state checks the fields resume relies on before anything uses them.

function train.save_state(path, state)
  serial.save(path, state)
end

local function tensors_in(v, what, path)
  if v == nil then return end
  if type(v) ~= "table" then fail("train: " .. path .. ": checkpoint field " .. what .. " is not a table") end
  for k, t in pairs(v) do
    if not C.is_tensor(t) then fail(string.format("train: %s: checkpoint %s[%s] is not a tensor", path, what, tostring(k))) end
  end
end

-- A checkpoint is data from a file: every field is checked for what resume
-- relies on (CRC-32 finds accidents, not edits), each with its own message.
local function count(x) return type(x) == "number" and x == math.floor(x) and x >= 0 and x < 2 ^ 53 end
local function shown(v) return type(v) == "string" and string.format("%q", v) or tostring(v) end

function train.load_state(path)
  local st = serial.load(path)
  if type(st) ~= "table" or st.version ~= 1 then fail("train: " .. path .. " is not a version 1 training checkpoint") end
  local function bad(field, v, want)
    fail(string.format("train: %s: checkpoint field %s is %s; expected %s", path, field, shown(v), want))
  end
  local function length(field, n)
    fail(string.format("train: %s: checkpoint field %s has %d values; expected one per finished epoch (%d)", path, field, n, st.epoch))
  end
  for _, f in ipairs { "epoch", "step" } do
    if not count(st[f]) then bad(f, st[f], "an integer >= 0") end
  end
  for _, f in ipairs { "history", "callbacks", "rng" } do
    if type(st[f]) ~= "table" then bad(f, st[f], "a table") end
  end
  for _, f in ipairs { "seed", "batch_size", "n" } do
    if st[f] ~= nil and not count(st[f]) then bad(f, st[f], "an integer >= 0") end
  end
  if not (type(st.rng.seed) == "number" and st.rng.seed == math.floor(st.rng.seed)) or not count(st.rng.stream) then
    bad("rng", st.rng.seed, "{seed = integer, stream = integer >= 0} from tensor.get_rng_state()")
  end
  -- the history holds exactly the finished epochs
  for k, col in pairs(st.history) do
    if type(k) ~= "string" then bad("history", k, "columns by name") end
    if type(col) == "table" then
      local n = 0
      for i, v in pairs(col) do
        n = n + 1
        if not count(i) or i < 1 or type(v) ~= "number" then bad("history." .. k .. "[" .. shown(i) .. "]", v, "a number per epoch") end
      end
      if n ~= #col or #col > st.epoch then length("history." .. k, n) end
    elseif type(col) ~= "string" then bad("history." .. k, col, "a column of numbers") end
  end
  for _, k in ipairs { "epoch", "loss" } do
    local n = type(st.history[k]) == "table" and #st.history[k] or 0
    if n ~= st.epoch then length("history." .. k, n) end
  end
  if st.opt ~= nil then
    if type(st.opt) ~= "table" then bad("opt", st.opt, "an optimizer's state_dict()") end
    if not count(st.opt.t) then bad("opt.t", st.opt.t, "the optimizer's step count, an integer >= 0") end
    if st.opt.state ~= nil and type(st.opt.state) ~= "table" then bad("opt.state", st.opt.state, "a list of buffers per parameter") end
  end
  tensors_in(st.params, "params", path)
  tensors_in(st.model_state, "model_state", path)
  return st
end

-- The full training state: model (state_dict if it has one, else its
-- parameters), optimizer, generators, loader position, history, callbacks.
local function capture(ctx)
  local model, opt = ctx.model, ctx.opt
  local st = { version = 1, epoch = ctx.epoch, step = 0, seed = ctx.loader.seed, batch_size = ctx.loader.batch_size,
    n = ctx.loader.n, history = ctx.history, rng = tensor.get_rng_state(), callbacks = {} }
  if type(model) == "table" and model.state_dict then st.model = model:state_dict()
  elseif type(model) == "table" and type(model.state) == "function" then st.model_state = model:state()  -- nn: parameters + buffers by name
  else
    st.params = {}
    for i, p in ipairs(ctx.params) do st.params[i] = p end
  end
  if type(model) == "table" and model.rng_state then st.model_rng = model:rng_state() end
  if opt.state_dict then st.opt = opt:state_dict() end
  for i, cb in ipairs(ctx.callbacks) do
    if cb.state_dict then st.callbacks[i] = cb:state_dict() end
  end
  return st
end

local function restore(ctx, st, path)
  local model, opt = ctx.model, ctx.opt
  if st.epoch > ctx.epochs then
    fail(string.format("train: resume from %s: it is at epoch %d, beyond this fit's epochs = %d", path, st.epoch, ctx.epochs))
  end
  if st.seed ~= ctx.loader.seed or st.batch_size ~= ctx.loader.batch_size or st.n ~= ctx.loader.n then
    fail(string.format("train: resume from %s: it was written with seed=%s, batch_size=%s, %s examples; this run has seed=%s, batch_size=%s, %s examples",
      path, tostring(st.seed), tostring(st.batch_size), tostring(st.n), tostring(ctx.loader.seed), tostring(ctx.loader.batch_size), tostring(ctx.loader.n)))
  end
  if st.model then
    if not model.load_state_dict then fail("train: resume from " .. path .. ": the model has no load_state_dict") end
    model:load_state_dict(st.model)
  elseif st.model_state then
    local live = model:state()
    for k, t in pairs(live) do
      local s = st.model_state[k]
      if not s then fail("train: resume from " .. path .. ": no tensor '" .. k .. "' for this model") end
      if table.concat(s:shape(), "x") ~= table.concat(t:shape(), "x") then
        fail(string.format("train: resume from %s: '%s' has shape [%s], the model's is [%s]", path, k,
          table.concat(s:shape(), ", "), table.concat(t:shape(), ", ")))
      end
    end
    for k, t in pairs(live) do tensor.raw.copy_(t, st.model_state[k]) end
  else
    if #st.params ~= #ctx.params then
      fail(string.format("train: resume from %s: it has %d parameters, the model %d", path, #st.params, #ctx.params))
    end
    for i, p in ipairs(ctx.params) do
      local s = st.params[i]
      if table.concat(s:shape(), "x") ~= table.concat(p:shape(), "x") then
        fail(string.format("train: resume from %s: parameter %d has shape [%s], the model's is [%s]", path, i,
          table.concat(s:shape(), ", "), table.concat(p:shape(), ", ")))
      end
      tensor.raw.copy_(p, s)
    end
  end
  if st.model_rng and model.set_rng_state then model:set_rng_state(st.model_rng) end
  if st.opt and opt.load_state_dict then
    -- with the parameters, so the optimizer checks every buffer against them now
    local ok, err = pcall(opt.load_state_dict, opt, st.opt, ctx.params)
    if not ok then fail("train: resume from " .. path .. ": " .. tostring(err):gsub("^[^:\n]*:%d+: ", "")) end
  end
  tensor.set_rng_state(st.rng)
  for i, cb in ipairs(ctx.callbacks) do
    if cb.load_state_dict and st.callbacks[i] ~= nil then
      local ok, err = pcall(cb.load_state_dict, cb, st.callbacks[i])
      if not ok then
        fail("train: resume from " .. path .. ": callback " .. i .. ": " .. tostring(err):gsub("^[^:\n]*:%d+: ", ""))
      end
    end
  end
  for k, v in pairs(st.history) do ctx.history[k] = v end
  return st.epoch
end

-- ---- callbacks ------------------------------------------------------------

-- Keras's EarlyStopping: stop when `monitor` has not improved by more than
-- min_delta for `patience` epochs; restore_best puts back the weights of the
-- best epoch when it stops the run.
function train.early_stopping(o)
  o = o or {}
  local monitor = o.monitor or "val_loss"
  local mode = o.mode or "auto"
  if mode == "auto" then mode = (monitor:find("acc") or monitor:find("auc")) and "max" or "min" end
  if mode ~= "min" and mode ~= "max" then fail("early_stopping: mode must be \"min\", \"max\" or \"auto\", got " .. tostring(o.mode)) end
  local cb = { __object = true, monitor = monitor, patience = o.patience or 0, min_delta = math.abs(o.min_delta or 0), mode = mode,
    restore_best = o.restore_best or o.restore_best_weights or false, best = nil, wait = 0, best_epoch = nil, stopped_epoch = nil }
  function cb:on_epoch_end(epoch, logs, ctx)
    local v = logs[self.monitor]
    if v == nil then
      local names = {}
      for k, x in pairs(logs) do if type(x) == "number" then names[#names + 1] = k end end
      table.sort(names)
      fail(string.format("early_stopping: monitor '%s' is not among the epoch's values (%s)", self.monitor, table.concat(names, ", ")))
    end
    local better
    if self.best == nil then better = true
    elseif self.mode == "min" then better = v < self.best - self.min_delta
    else better = v > self.best + self.min_delta end
    if better then
      self.best, self.wait, self.best_epoch = v, 0, epoch
      if self.restore_best then
        self.best_weights = {}
        for i, p in ipairs(ctx.params) do self.best_weights[i] = tensor.raw.clone(p) end
      end
    else
      self.wait = self.wait + 1
      if self.wait >= self.patience then
        self.stopped_epoch = epoch
        ctx.stop_training, ctx.stop_reason = true, "early_stopping"
        if self.restore_best and self.best_weights then
          for i, p in ipairs(ctx.params) do tensor.raw.copy_(p, self.best_weights[i]) end
        end
        ctx.message = string.format("Early stopping at epoch %d: %s did not improve on %s (epoch %d) for %s%s",
          epoch, self.monitor, serial.readable(self.best), self.best_epoch, epochs_text(self.wait), self.restore_best and "; best weights restored" or "")
      end
    end
  end
  function cb:state_dict()
    return { best = self.best, wait = self.wait, best_epoch = self.best_epoch, best_weights = self.best_weights }
  end
  function cb:load_state_dict(s)
    if type(s) ~= "table" or not count(s.wait) or (s.best ~= nil and type(s.best) ~= "number") or
       (s.best_epoch ~= nil and not count(s.best_epoch)) or (s.best_weights ~= nil and type(s.best_weights) ~= "table") then
      fail("early_stopping: the saved state needs wait (an integer >= 0), best (a number), best_epoch (an integer) " ..
           "and best_weights (a list of tensors)")
    end
    for i, t in pairs(s.best_weights or {}) do
      if not C.is_tensor(t) then fail("early_stopping: saved best_weights[" .. tostring(i) .. "] is not a tensor") end
    end
    self.best, self.wait, self.best_epoch, self.best_weights = s.best, s.wait, s.best_epoch, s.best_weights
  end
  return cb
end

-- Saves the whole training state after every epoch (every = "epoch") or every
-- k epochs (every = k) to path (atomically); train.fit(..., {resume = path})
-- continues bit-identically. path may contain %d for the epoch.
function train.checkpoint(o)
  o = o or {}
  if type(o.path) ~= "string" then fail("checkpoint: expected {path = ...}") end
  local every = o.every or "epoch"
  if every == "epoch" then every = 1 end
  if not compat.is_integer(every) or every < 1 then fail("checkpoint: every must be \"epoch\" or a positive number of epochs") end
  local cb = { __object = true, path = o.path, every = every, saved = {} }
  -- after every other callback, so their state for this epoch is included
  function cb:after_epoch(epoch, ctx)
    if epoch % self.every ~= 0 then return end
    local p = self.path:find("%%d") and string.format(self.path, epoch) or self.path
    train.save_state(p, capture(ctx))
    self.saved[#self.saved + 1] = p
    self.last = p
  end
  return cb
end

-- Keras's CSVLogger: one row per epoch (epoch, then the history columns).
function train.csv_logger(path, o)
  o = o or {}
  local cb = { __object = true, path = path, append = o.append, sep = o.separator or "," }
  function cb:on_train_begin(ctx)
    self.file = assert(io.open(self.path, self.append and "a" or "w"))
    self.keys = nil
  end
  function cb:on_epoch_end(epoch, logs)
    if not self.keys then
      self.keys = {}
      for k, v in pairs(logs) do if type(v) == "number" and k ~= "epoch" then self.keys[#self.keys + 1] = k end end
      table.sort(self.keys)
      if not self.append then self.file:write("epoch", self.sep, table.concat(self.keys, self.sep), "\n") end
    end
    local row = { tostring(epoch) }
    for _, k in ipairs(self.keys) do
      local v = logs[k]
      row[#row + 1] = v == nil and "" or string.format("%.10g", v)
    end
    self.file:write(table.concat(row, self.sep), "\n")
    self.file:flush()
  end
  function cb:on_train_end()
    if self.file then self.file:close() self.file = nil end
  end
  return cb
end

local function normalize_callbacks(list)
  local out = {}
  for i, cb in ipairs(list or {}) do
    if type(cb) == "function" then out[i] = { on_epoch_end = cb }
    elseif type(cb) == "table" then
      -- plain tables {on_epoch_end = fn(epoch, logs, ctx)} (no self) and callback objects alike
      if cb.on_epoch_end or cb.on_batch_end or cb.after_epoch or cb.on_train_begin or cb.on_train_end or cb.on_epoch_begin then
        out[i] = cb
      else fail("train: callback " .. i .. " has none of on_epoch_end, on_batch_end, on_train_begin, on_train_end") end
    else fail("train: callback " .. i .. " must be a function or a table") end
  end
  return out
end

-- Callback objects made here (marked __object) get self; the functions of a
-- plain user table {on_epoch_end = fn} are called as fn(epoch, logs, ctx).
local function call(cb, name, ...)
  local f = cb[name]
  if not f then return end
  if cb.__object then return f(cb, ...) end
  return f(...)
end

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
-- textbook's literal Nesterov form (lookahead = true) needs the gradient at
-- theta + alpha v, through a closure that only a hand-written loop gives.
function train.check_optimizer(opt, where)
  local v = type(opt) == "table" and opt.values
  if type(v) == "table" and v.lookahead then
    fail(string.format("%s: %s has lookahead = true, which takes the gradient at theta + alpha v through " ..
      "opt:step(params, closure); train.fit takes it at theta. Use nesterov = true (the same method in the " ..
      "one-gradient form), or write the loop and pass the closure", where, tostring(opt)))
  end
end

function train.fit(model, opt, train_ds, o)
  o = o or {}
  check_options("train.fit", o, FIT_OPTIONS)
  -- a name gives that optimizer with Keras's defaults, as experiment.compare does
  if type(opt) == "string" then
    local optim = rawget(_G, "optim") or require "optim"
    opt = optim.get(opt)
  end
  if type(opt) ~= "table" or type(opt.step) ~= "function" then fail("train.fit: the optimizer needs a step(params) method (or give its name, \"adam\")") end
  train.check_optimizer(opt, "train.fit")
  local epochs = o.epochs or 1
  if not compat.is_integer(epochs) or epochs < 1 then fail("train.fit: epochs must be a positive integer, got " .. tostring(epochs)) end
  local verbose = o.verbose == nil and 1 or o.verbose
  if verbose == true then verbose = 1 elseif verbose == false then verbose = 0 end
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

  local history = { epoch = {}, loss = {}, val_loss = {}, lr = {}, seconds = {}, ms_per_step = {}, samples_per_s = {}, grad_norm = {} }
  for _, m in ipairs(metrics) do history[m.name], history["val_" .. m.name] = {}, {} end
  local ctx = { model = model, opt = opt, params = params, history = history, loader = loader, callbacks = callbacks,
    epochs = epochs, stop_training = false, steps = steps }
  local first_epoch = 1
  if o.resume then
    local st = train.load_state(o.resume)
    first_epoch = restore(ctx, st, o.resume) + 1
  end

  local eval_opts = { batch_size = o.batch_size or loader.batch_size, loss = loss_fn, _metrics = metrics,
    normalize = o.normalize, one_hot = o.one_hot }
  local monitor = o.monitor or (val and "val_loss" or "loss")
  local msums = {}
  local blogs = { step = 0, loss = 0, size = 0 }
  local last_finite = { value = nil, epoch = nil, step = nil }
  local label = o.label
  local prev_catch = sys.catch_interrupts(true)

  -- A NaN stop: the history says why, and so does the progress output.
  local function stop_nan(message)
    history.stopped, history.message = "nan", message
    if verbose > 0 then
      if tty then out:write("\n") end
      out:write(message, "\n")
    end
  end

  local function run()
    for _, cb in ipairs(callbacks) do call(cb, "on_train_begin", ctx) end
    for e = first_epoch, epochs do
      ctx.epoch = e
      -- opt.epoch is 0-based (the epoch about to run), as schedules and
      -- Keras's LearningRateScheduler count
      if opt.set_epoch then opt:set_epoch(e - 1) else opt.epoch = e - 1 end
      set_mode(model, true)
      for _, cb in ipairs(callbacks) do call(cb, "on_epoch_begin", e, ctx) end
      local t0 = sys.clock()
      local lsum, seen, gsum = 0, 0, 0
      for i = 1, #metrics do msums[i] = 0 end
      local last_draw = t0
      local stopped_at
      for step = 1, steps do
        local x, y = loader:batch(e, step)
        local b = x:size(1)
        if model.zero_grad then model:zero_grad()
        else for _, p in ipairs(params) do p.grad = nil end end
        local output = forward(model, x)
        local loss = loss_fn(output, y)
        local lv = loss:item()
        if not is_finite(lv) then
          stop_nan(string.format("Loss is %s at epoch %d, step %d/%d; last finite loss %s; stopping (history kept for %s)",
            fmt_val(lv), e, step, steps,
            last_finite.value and string.format("%.6g (epoch %d, step %d)", last_finite.value, last_finite.epoch, last_finite.step) or "none",
            epochs_text(e - 1)))
          return
        end
        last_finite.value, last_finite.epoch, last_finite.step = lv, e, step
        loss:backward()
        local gn = C.grad_norm(params)
        if not is_finite(gn) then
          -- a NaN or Inf gradient under a finite loss: stop before the step
          -- applies it, so the weights stay those of the last good step
          stop_nan(string.format("Gradient norm is %s at epoch %d, step %d/%d (loss %.6g): a gradient has NaN or Inf; " ..
            "stopping before the step is applied (history kept for %s)", tostring(gn), e, step, steps, lv, epochs_text(e - 1)))
          return
        end
        opt:step(params, nil, gn)    -- the norm once a step: logged, and clip_norm's (Optimizer:step)
        lsum, seen, gsum = lsum + lv * b, seen + b, gsum + gn
        for i, m in ipairs(metrics) do msums[i] = msums[i] + value_of(untaped(m.fn, output, y)) * b end
        blogs.step, blogs.loss, blogs.size = step, lv, b
        for _, cb in ipairs(callbacks) do call(cb, "on_batch_end", step, blogs, ctx) end
        if verbose == 1 and tty then
          local now = sys.clock()
          if now - last_draw >= 0.1 and step < steps then
            last_draw = now
            local vals = { { "loss", lsum / seen } }
            for i, m in ipairs(metrics) do vals[#vals + 1] = { m.name, msums[i] / seen } end
            out:write("\r", train.progress_partial { label = label, epoch = e, epochs = epochs, step = step, steps = steps,
              eta = (now - t0) / step * (steps - step), values = vals }, "\27[K")
            out:flush()
          end
        end
        if sys.interrupted() or ctx.stop_training then stopped_at = step break end
      end
      if stopped_at and stopped_at < steps then
        -- interrupted (or stopped by a batch callback) inside the epoch: keep the finished epochs only
        history.stopped = sys.interrupted() and "interrupted" or (ctx.stop_reason or "callback")
        history.message = string.format("Stopped at epoch %d, step %d/%d (%s); history kept for %s",
          e, stopped_at, steps, history.stopped, epochs_text(e - 1))
        if verbose > 0 then
          if tty then out:write("\n") end
          out:write(history.message, "\n")
        end
        return
      end
      local secs = sys.clock() - t0
      local logs = { epoch = e, loss = lsum / seen }
      for i, m in ipairs(metrics) do logs[m.name] = msums[i] / seen end
      if val then
        local r = train.evaluate(model, val, eval_opts)
        logs.val_loss = r.loss
        for _, m in ipairs(metrics) do logs["val_" .. m.name] = r[m.name] end
      end
      local hp = hyper_of(opt)
      logs.lr = hp.lr
      for _, k in ipairs(HYPER_COLUMNS) do if type(hp[k]) == "number" then logs[k] = hp[k] end end
      logs.seconds, logs.ms_per_step, logs.samples_per_s, logs.grad_norm = secs, secs / steps * 1000, seen / secs, gsum / steps
      for k, v in pairs(logs) do
        history[k] = history[k] or {}
        history[k][e] = v
      end
      if opt.observe and logs[monitor] then
        -- interfaces.md: observe(name, value); optim.lua on main takes observe(value)
        if debug.getinfo(opt.observe, "u").nparams == 2 then opt:observe(logs[monitor])
        else opt:observe(monitor, logs[monitor]) end
      end
      if verbose > 0 then
        local vals = { { "loss", logs.loss } }
        for _, m in ipairs(metrics) do vals[#vals + 1] = { m.name, logs[m.name] } end
        if val then
          vals[#vals + 1] = { "val_loss", logs.val_loss }
          for _, m in ipairs(metrics) do vals[#vals + 1] = { "val_" .. m.name, logs["val_" .. m.name] } end
        end
        local line = train.progress_line { label = label, epoch = e, epochs = epochs, step = steps, steps = steps,
          seconds = secs, step_seconds = secs / steps, values = vals, verbose = verbose }
        if tty and verbose == 1 then out:write("\r", line, "\27[K\n") else out:write(line, "\n") end
        out:flush()
      end
      for _, cb in ipairs(callbacks) do call(cb, "on_epoch_end", e, logs, ctx) end
      -- values callbacks added to logs become history columns too
      for k, v in pairs(logs) do
        if type(v) == "number" and not (history[k] and history[k][e]) then
          history[k] = history[k] or {}
          history[k][e] = v
        end
      end
      for _, cb in ipairs(callbacks) do call(cb, "after_epoch", e, ctx) end
      if sys.interrupted() then
        history.stopped = "interrupted"
        history.message = string.format("Interrupted after epoch %d", e)
        if verbose > 0 then out:write(history.message, "\n") end
        return
      end
      if ctx.stop_training then
        history.stopped = ctx.stop_reason or "callback"
        if ctx.message then history.message = ctx.message end
        if verbose > 0 and ctx.message then out:write(ctx.message, "\n") end
        return
      end
    end
  end
  local ok, err = pcall(run)
  sys.catch_interrupts(prev_catch)
  -- Keras's fit ends with finalize_variable_values: with use_ema the weights take their averages
  if ok and type(opt.finalize) == "function" then opt:finalize(params) end
  for _, cb in ipairs(callbacks) do call(cb, "on_train_end", ctx) end
  if not ok then error(err, 0) end
  return history
end

-- ---- help ------------------------------------------------------------------
local help = package.loaded.help
if help then
  help.register(train, [[
train  the training loop, Keras style: train.fit(model, opt, train_ds, {epochs, batch_size, validation, ...}) -> history]])
  for _, d in ipairs {
    { train.fit, [[train.fit(model, opt, train_ds [, opts]) -> history
opt: an optimizer (optim.Adam{...}) or a name ("adam", as optim.get: Keras defaults).
opts: epochs = 1, batch_size = 64, loss = "cross_entropy" (a name in nn.functional or a function(output, target)),
metrics = {"accuracy"}, validation = ds | validation_split = 0.1, callbacks = {...}, seed = 1, shuffle = true,
drop_last = false, normalize = {mean, std}, one_hot = false, verbose = 0 | 1 | 2, label, resume = path,
monitor = "val_loss", output = io.stdout.
history: arrays by epoch (loss, <metric>, val_loss, val_<metric>, lr, seconds, ms_per_step, samples_per_s,
grad_norm), and history.stopped: nil | "early_stopping" | "nan" | "interrupted" | "callback".]] },
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
    { train.check_optimizer, "train.check_optimizer(opt, where)  refuses an optimizer train.fit cannot drive (lookahead = true needs a closure); fit and experiment.compare call it before any work" },
  } do help.register(d[1], d[2]) end
end

return train
