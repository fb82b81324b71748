-- The specs of the built-in optimizers that keep a hand-written kernel
-- (kernels/optim.c): each one's fields (kind, validator), defaults, shown
-- fields and label order; the options common to all; the Keras and PyTorch
-- spellings. stdlib/optim.lua makes the constructors, and a declaration
-- (optim.define: SGD, Adagrad, RMSprop, Adam and AdamW in optim/builtin/, the
-- literature in optim/zoo/) gets its spec finished here too.
local C = require "optlab.core"

local function fail(msg) C.raise(msg) end

-- Validators: (value) -> error text or nil.
local function range(lo, hi, lo_open, hi_open)
  return function(v)
    if v ~= v or (lo_open and v <= lo) or (not lo_open and v < lo) or (hi_open and v >= hi) or (not hi_open and v > hi) then
      return string.format("must be in %s%g, %g%s", lo_open and "(" or "[", lo, hi, hi_open and ")" or "]")
    end
  end
end
local NONNEG = range(0, math.huge, false, false)
local UNIT_OPEN = range(0, 1, false, true)    -- [0, 1)
local UNIT = range(0, 1, false, false)        -- [0, 1]
local POS = range(0, math.huge, true, false)
local function integer_from(lo)
  return function(v)
    if v ~= v or v < lo or v ~= math.floor(v) or v == math.huge then return string.format("must be an integer >= %d", lo) end
  end
end

-- Field kinds: "num" (schedulable number), "bool", "conv", "opt" (optional positive number),
-- "fixed" (a number, not a schedule), "choice" (one of f.choices, a declaration's:
-- SGD's nesterov = false, true (the one-gradient form) or "literal" (the textbook's, with a closure)).
-- decay: Keras 2's inverse-time decay of lr, lr / (1 + decay k) (PyTorch Adagrad's lr_decay).
-- use_ema ... gradient_accumulation_steps: Keras's base optimizer options, made into the wrappers
-- optim.EMA and optim.Accumulate around the optimizer (optim/keras_base.lua, optim/wrap.lua).
local COMMON = {
  { "lr", "num", NONNEG }, { "weight_decay", "num", NONNEG }, { "decay", "fixed", NONNEG },
  { "clip_norm", "opt", POS }, { "global_clip_norm", "opt", POS }, { "clip_value", "opt", POS },
  { "use_ema", "bool" }, { "ema_momentum", "fixed", UNIT }, { "ema_overwrite_frequency", "opt", integer_from(1) },
  { "gradient_accumulation_steps", "opt", integer_from(2) },
  { "convention", "conv" },
}

local specs = {
  Adamax = { kind = "Adamax", show = { "lr", "beta1", "beta2", "eps" }, defaults = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG } } },
  Nadam = { kind = "Nadam", show = { "lr", "beta1", "beta2", "eps" }, defaults = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum_decay = 0.004, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG }, { "momentum_decay", "fixed", NONNEG } } },
  RAdam = { kind = "RAdam", show = { "lr", "beta1", "beta2", "eps" }, defaults = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG } } },
  Ftrl = { kind = "Ftrl", show = { "lr" }, defaults = { lr = 0.001, lr_power = -0.5, initial_accumulator = 0.1, l1 = 0, l2 = 0,
                                                       l2_shrinkage = 0, beta = 0, weight_decay = 0 },
    fields = { { "lr", "num", POS }, { "lr_power", "num", range(-math.huge, 0, false, false) },
               { "initial_accumulator", "fixed", NONNEG }, { "l1", "num", NONNEG }, { "l2", "num", NONNEG },
               { "l2_shrinkage", "num", NONNEG }, { "beta", "num", NONNEG } } },
  ASGD = { kind = "ASGD", show = { "lr" }, defaults = { lr = 0.01, lambd = 1e-4, alpha = 0.75, t0 = 1e6, weight_decay = 0 },
    fields = { { "lambd", "fixed", NONNEG }, { "alpha", "fixed", NONNEG }, { "t0", "fixed", NONNEG } } },
  Lion = { kind = "Lion", show = { "lr", "beta1", "beta2" }, defaults = { lr = 1e-4, beta1 = 0.9, beta2 = 0.99, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT }, { "beta2", "num", UNIT } } },
  Rprop = { kind = "Rprop", show = { "lr" }, defaults = { lr = 0.01, etaminus = 0.5, etaplus = 1.2, step_min = 1e-6, step_max = 50, weight_decay = 0 },
    fields = { { "etaminus", "num", range(0, 1, true, true) }, { "etaplus", "num", range(1, math.huge, true, false) },
               { "step_min", "num", NONNEG }, { "step_max", "num", NONNEG } } },
  Adadelta = { kind = "Adadelta", show = { "lr", "rho", "eps" }, defaults = { lr = 1.0, rho = 0.95, eps = 1e-6, weight_decay = 0 },
    fields = { { "rho", "num", UNIT }, { "eps", "num", NONNEG } } },
}

-- Keras and PyTorch spellings accepted for ours.
local ALIASES = { learning_rate = "lr", epsilon = "eps", beta_1 = "beta1", beta_2 = "beta2",
                  initial_accumulator_value = "initial_accumulator", alpha = "rho",
                  clipnorm = "clip_norm", global_clipnorm = "global_clip_norm", clipvalue = "clip_value",
                  lr_decay = "decay", learning_rate_power = "lr_power", l1_regularization_strength = "l1",
                  l2_regularization_strength = "l2", l2_shrinkage_regularization_strength = "l2_shrinkage" }

-- A declared optimizer's update rule holds its own lr and weight decay; it
-- takes the other common options (clipping, EMA, accumulation, convention).
local DECLARED_COMMON = {}
for _, f in ipairs(COMMON) do
  if f[1] ~= "lr" and f[1] ~= "weight_decay" and f[1] ~= "decay" then DECLARED_COMMON[#DECLARED_COMMON + 1] = f end
end

-- Build an optimizer's field table and label order.
local function finish_spec(sp, name)
  sp.name = name
  sp.defaults.decay, sp.defaults.use_ema, sp.defaults.ema_momentum = 0, false, 0.99
  sp.field = {}
  sp.order = {}
  local common = sp.kind == "Declared" and DECLARED_COMMON or COMMON
  for _, list in ipairs { common, sp.fields } do
    for _, f in ipairs(list) do
      sp.field[f[1]] = { kind = f[2], check = f[3], choices = f.choices }
    end
  end
  -- label order: shown fields, then the spec's own fields, then common ones
  local seen = {}
  for _, list in ipairs { sp.show, sp.fields, common } do
    for _, f in ipairs(list) do
      local k = type(f) == "table" and f[1] or f
      if not seen[k] then seen[k] = true; sp.order[#sp.order + 1] = k end
    end
  end
end
for name, sp in pairs(specs) do finish_spec(sp, name) end

return { specs = specs, ALIASES = ALIASES, finish_spec = finish_spec }
