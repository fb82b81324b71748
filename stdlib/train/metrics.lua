-- Losses, metrics and train.evaluate, with the helpers fit shares: the model's forward
-- and mode, its parameters, a loader from a data set, the option checks.
local base = require "train.base"
local C, data, suggest, train, fail, functional = base.C, base.data, base.suggest, base.train, base.fail, base.functional

-- ---- losses and metrics -------------------------------------------------

local function resolve_loss(loss, where)
  where = where or "train"
  if type(loss) == "function" then return loss end
  if type(loss) == "table" and getmetatable(loss) and getmetatable(loss).__call then return loss end
  if type(loss) ~= "string" then fail(where .. ": loss must be a name (\"cross_entropy\") or a function(output, target)") end
  local F = functional()
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
  for k, v in pairs(F) do
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
  return C.train.accuracy_count(out, y) / out:size(1)
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
      local fn = F[m]
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
local FIT_OPTIONS = { "batch_size", "callbacks", "diagnostics", "distributed", "drop_last", "epochs", "label", "loss", "metrics", "monitor",
  "normalize", "one_hot", "output", "resume", "seed", "shuffle", "step_stride", "tty", "validation", "validation_split", "verbose" }
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

return { FIT_OPTIONS = FIT_OPTIONS, check_options = check_options, resolve_loss = resolve_loss,
         resolve_metrics = resolve_metrics, value_of = value_of, untaped = untaped, forward = forward,
         set_mode = set_mode, params_of = params_of, as_loader = as_loader }
