-- fit's callbacks: early stopping, checkpoints, the CSV logger, and how fit calls them.
local base = require "train.base"
local C, serial, train, fail = base.C, base.serial, base.train, base.fail
local checkpoint = require "train.checkpoint"
local capture, count = checkpoint.capture, checkpoint.count
local epochs_text = require "train.progress".epochs_text

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
    if epoch % self.every ~= 0 or (ctx.rank or 0) ~= 0 then return end   -- data-parallel: rank 0 writes
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
    self.keys = nil
    if (ctx.rank or 0) ~= 0 then return end   -- data-parallel: rank 0 writes
    self.file = assert(io.open(self.path, self.append and "a" or "w"))
  end
  function cb:on_epoch_end(epoch, logs)
    if not self.file then return end
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

return { normalize_callbacks = normalize_callbacks, call = call }
