-- Digests of the built-in optimizers' results, for test_declared_builtins:
-- an optimizer that was a hand-written kernel in kernels/optim.c and became a
-- declaration (stdlib/optim/builtin/) must give the kernel's bits. The kernels'
-- digests were recorded by tools/gen_builtin_fixtures.lua with the binary that
-- still had the kernels (tests/lua/fixtures/builtin_digests.lua).
--
-- Each configuration steps two tensors together, a 7-element one (with a zero
-- gradient element, for the sign and zero branches) and a 70001-element one
-- (several spans, so two threads share it), STEPS times; the digest hashes the
-- bit patterns of the parameters and of every state buffer: all of the small
-- tensor, and of the large one every third element plus the elements around
-- each span boundary.
local M = {}

M.STEPS = 12
local BIG = 70001

-- name -> list of {convention, hyperparameters}
local function variants(name, base, extra)
  local conventions = require "optim.conventions"
  local list = {}
  for _, conv in ipairs(conventions.names) do
    local has = conv == "textbook" or (conventions.defaults[conv] and conventions.defaults[conv][name])
    if has then
      local hp = {}
      for k, v in pairs(base) do hp[k] = v end
      list[#list + 1] = { conv, hp }
      local wd = { weight_decay = 0.05 }
      for k, v in pairs(base) do wd[k] = v end
      list[#list + 1] = { conv, wd }
    end
  end
  for _, e in ipairs(extra or {}) do list[#list + 1] = e end
  return list
end

local LIN = function(k) return 0.02 / (1 + 0.1 * k) end    -- an lr schedule as a function of k

M.CONFIGS = {
  Lion = variants("Lion", { lr = 0.01 }, {
    { "textbook", { lr = 0.01, beta1 = 0.8, beta2 = 0.95, clip_value = 0.5 } },
    { "keras3", { lr = 0.01, clip_norm = 1 } },
    { "textbook", { lr = LIN, weight_decay = 0.1, global_clip_norm = 2 } },
  }),
  Adadelta = variants("Adadelta", { lr = 0.5 }, {
    { "textbook", { lr = 1.0, rho = 0.8, eps = 1e-5, clip_norm = 3 } },
    { "keras", { lr = 1.0, clip_norm = 1, clip_value = 0.3 } },
    { "torch", { lr = LIN, decay = 0.1 } },
  }),
  Adamax = variants("Adamax", { lr = 0.01 }, {
    { "textbook", { lr = 0.02, beta1 = 0.8, beta2 = 0.9, eps = 1e-3, clip_value = 0.2 } },
    { "torch", { lr = 0.02, beta1 = 0.8, beta2 = 0.9, eps = 1e-3, global_clip_norm = 5 } },
    { "keras", { lr = 0.02, decay = 0.05 } },
  }),
  ASGD = variants("ASGD", { lr = 0.05 }, {
    { "torch", { lr = 0.05, lambd = 0.01, alpha = 0.5, t0 = 3 } },
    { "torch", { lr = 0.05, lambd = 0.001, t0 = 0, weight_decay = 0.01, clip_norm = 4 } },
    { "textbook", { lr = 0.1, t0 = 5, clip_value = 0.5 } },
  }),
  Rprop = variants("Rprop", { lr = 0.01 }, {
    { "torch", { lr = 0.02, etaminus = 0.3, etaplus = 1.5, step_min = 1e-3, step_max = 0.05 } },
    { "textbook", { lr = 0.02, clip_norm = 2, weight_decay = 0.1 } },
  }),
  RAdam = variants("RAdam", { lr = 0.01 }, {
    { "torch", { lr = 0.01, beta1 = 0.8, beta2 = 0.9, eps = 1e-6 } },
    { "textbook", { lr = 0.01, beta2 = 0.5, clip_value = 0.3 } },
  }),
  Nadam = variants("Nadam", { lr = 0.01 }, {
    { "torch", { lr = 0.01, momentum_decay = 0.04, beta2 = 0.9 } },
    { "keras", { lr = 0.01, decay = 0.02 } },
    { "keras3", { lr = 0.01, beta1 = 0.5, clip_norm = 1 } },
  }),
  Ftrl = variants("Ftrl", { lr = 0.1 }, {
    { "keras", { lr = 0.1, l1 = 0.001, l2 = 0.01, l2_shrinkage = 0.01, beta = 0.1 } },
    { "keras", { lr = 0.1, lr_power = -0.3, l1 = 0.001, initial_accumulator = 0.5 } },
    { "keras3", { lr = 0.05, lr_power = -0.7, l2 = 0.1, weight_decay = 0.01 } },
    { "textbook", { lr = 0.1, lr_power = 0, l1 = 0.01, clip_value = 0.2 } },
  }),
}
-- SGD, Adagrad, RMSprop and Adam/AdamW: every form each convention selects
-- (kernels/optim.c), every option (nesterov true and "literal", dampening,
-- centered, amsgrad, eps_inside_sqrt, initial_accumulator), L2 and decoupled
-- decay, each clipping, schedules on lr, momentum and betas (a momentum
-- schedule that passes through 0, where the kernels step plain SGD and keep
-- the velocity), Keras 2's decay, use_ema and gradient accumulation.
local MOM0 = function(k) return k < 3 and 0 or 0.6 end    -- momentum 0 for the first 3 updates
M.CONFIGS.SGD = variants("SGD", { lr = 0.01 }, {
  { "textbook", { lr = 0.02, momentum = 0.9 } },
  { "keras", { lr = 0.02, momentum = 0.9 } },
  { "keras3", { lr = 0.02, momentum = 0.9, weight_decay = 0.05 } },
  { "torch", { lr = 0.02, momentum = 0.9 } },
  { "torch", { lr = 0.02, momentum = 0.9, dampening = 0.3, weight_decay = 0.01 } },
  { "textbook", { lr = 0.02, momentum = 0.9, nesterov = true } },
  { "keras", { lr = 0.02, momentum = 0.9, nesterov = true, decay = 0.1 } },
  { "tf_keras", { lr = 0.02, momentum = 0.8, nesterov = true, weight_decay = 0.05 } },
  { "torch", { lr = 0.02, momentum = 0.9, nesterov = true, weight_decay = 0.01 } },
  { "textbook", { lr = 0.02, momentum = 0, nesterov = true } },
  { "textbook", { lr = 0.02, momentum = 0.9, nesterov = "literal" } },
  { "torch", { lr = 0.02, momentum = 0.5, nesterov = "literal", weight_decay = 0.01 } },
  { "textbook", { lr = 0.02, momentum = MOM0 } },
  { "torch", { lr = 0.02, momentum = MOM0 } },
  { "textbook", { lr = 0.02, momentum = MOM0, nesterov = true } },
  { "textbook", { lr = LIN, momentum = 0.9, clip_value = 0.05 } },
  { "keras", { lr = 0.05, momentum = 0.9, clip_norm = 0.5 } },
  { "keras", { lr = 0.05, clip_norm = 0.5, clip_value = 0.1 } },
  { "keras3", { lr = 0.05, momentum = 0.9, global_clip_norm = 2 } },
  { "torch", { lr = 0.05, clip_norm = 1, weight_decay = 0.01 } },
  { "keras3", { lr = 0.05, momentum = 0.9, use_ema = true, ema_momentum = 0.9 } },
})
M.CONFIGS.Adagrad = variants("Adagrad", { lr = 0.05 }, {
  { "textbook", { lr = 0.05, eps_inside_sqrt = true } },
  { "textbook", { lr = 0.05, initial_accumulator = 0.1, eps = 1e-3 } },
  { "torch", { lr = LIN, decay = 0.1, weight_decay = 0.01 } },
  { "keras", { lr = 0.05, clip_value = 0.05 } },
  { "keras3", { lr = 0.05, clip_norm = 0.5, eps_inside_sqrt = true } },
  { "textbook", { lr = 0.05, global_clip_norm = 2 } },
})
M.CONFIGS.RMSprop = variants("RMSprop", { lr = 0.01 }, {
  { "textbook", { lr = 0.01, momentum = 0.9 } },
  { "keras", { lr = 0.01, momentum = 0.9 } },
  { "keras3", { lr = 0.01, momentum = 0.9, weight_decay = 0.05 } },
  { "torch", { lr = 0.01, momentum = 0.9 } },
  { "textbook", { lr = 0.01, centered = true } },
  { "keras", { lr = 0.01, centered = true, momentum = 0.5 } },
  { "tf_keras", { lr = 0.01, centered = true } },
  { "torch", { lr = 0.01, centered = true, momentum = 0.9, weight_decay = 0.01 } },
  { "textbook", { lr = 0.01, momentum = 0.9, nesterov = true } },
  { "textbook", { lr = 0.01, momentum = 0.9, nesterov = true, centered = true, eps_inside_sqrt = true } },
  { "textbook", { lr = 0.01, momentum = 0.9, nesterov = "literal" } },
  { "textbook", { lr = 0.01, eps_inside_sqrt = true, rho = 0.5 } },
  { "textbook", { lr = 0.01, momentum = MOM0 } },
  { "keras", { lr = 0.01, momentum = MOM0 } },
  { "textbook", { lr = LIN, clip_value = 0.05, weight_decay = 0.01 } },
  { "keras", { lr = 0.01, momentum = 0.9, clip_norm = 0.5, decay = 0.05 } },
  { "torch", { lr = 0.01, global_clip_norm = 2 } },
})
local B1 = function(k) return 0.5 + 0.4 * k / 12 end     -- a beta1 schedule
M.CONFIGS.Adam = variants("Adam", { lr = 0.01 }, {
  { "textbook", { lr = 0.01, amsgrad = true } },
  { "keras", { lr = 0.01, amsgrad = true } },
  { "keras3", { lr = 0.01, amsgrad = true, weight_decay = 0.05 } },
  { "torch", { lr = 0.01, amsgrad = true, weight_decay = 0.01 } },
  { "textbook", { lr = 0.01, eps_inside_sqrt = true, eps = 1e-3 } },
  { "keras", { lr = 0.01, eps_inside_sqrt = true, amsgrad = true } },
  { "torch", { lr = LIN, beta1 = B1, beta2 = 0.9 } },
  { "keras", { lr = 0.01, decay = 0.05, clip_norm = 0.5 } },
  { "keras", { lr = 0.01, clip_value = 0.05, global_clip_norm = 1 } },
  { "tf_keras", { lr = 0.01, clip_value = 0.05 } },
  { "torch", { lr = 0.01, clip_norm = 1, eps = 1e-3 } },
  { "torch", { lr = 0.01, gradient_accumulation_steps = 3 } },
  { "keras3", { lr = 0.01, use_ema = true, ema_overwrite_frequency = 5 } },
})
M.CONFIGS.AdamW = variants("AdamW", { lr = 0.01 }, {
  { "textbook", { lr = 0.01, amsgrad = true } },
  { "torch", { lr = 0.01, amsgrad = true, weight_decay = 0.1 } },
  { "keras", { lr = 0.01, eps_inside_sqrt = true } },
  { "torch", { lr = LIN, weight_decay = LIN, clip_norm = 1 } },
  { "keras3", { lr = 0.01, clip_value = 0.05 } },
})
M.NAMES = { "Lion", "Adadelta", "Adamax", "ASGD", "Rprop", "RAdam", "Nadam", "Ftrl", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW" }
-- those of M.NAMES that are declarations now (the others keep their kernels)
M.DECLARED = { "SGD", "Adagrad", "RMSprop", "Adam", "AdamW" }

-- a hash of a float's bit pattern into h (two 31-bit accumulators)
local function mix(h, x)
  local u = compat.unpack("<I4", compat.pack("<f", x))
  h[1] = (h[1] * 65599 + u) % 2147483647
  h[2] = (h[2] * 31 + u) % 2147483629
end

local function digest_tensor(h, t)
  local v = t:contiguous():reshape(-1):totable()
  local n = #v
  for i = 1, n do
    local near = false
    if n > 100 then
      local r = (i - 1) % 16384
      near = r < 4 or r > 16380 or i > n - 4
    end
    if n <= 100 or i % 3 == 0 or near then mix(h, v[i]) end
  end
end

local function grads(k)
  local small = tensor.randn(7, { seed = 500 + k }) * 0.5
  local vals = small:totable()
  vals[3] = 0                       -- a zero gradient: sign(0), g * prev = 0
  if k % 2 == 0 then vals[5] = -vals[5] end
  return tensor.from(vals), tensor.randn(BIG, { seed = 700 + k }) * 0.1
end

-- The digest of one configuration: "h1:h2" over both tensors' parameters and state.
function M.digest(name, conv, hp)
  local copy = {}
  for k, v in pairs(hp) do copy[k] = v end
  copy.convention = conv
  local opt = optim[name](copy)
  local a, b = tensor.randn(7, { seed = 11 }), tensor.randn(BIG, { seed = 12 })
  for k = 1, M.STEPS do
    if hp.nesterov == "literal" then
      -- the gradient at the look-ahead point: grads(k) + 0.1 theta~ (a quadratic's)
      opt:step({ a, b }, function()
        local ga, gb = grads(k)
        a.grad, b.grad = ga + a:detach() * 0.1, gb + b:detach() * 0.1
        return 0
      end)
    else
      a.grad, b.grad = grads(k)
      opt:step { a, b }
    end
  end
  -- a schedule given as a function shows as its address: not part of the label's meaning
  return M.hash(opt, { a, b }), (tostring(opt):gsub("function: [%w]+", "function"))
end

-- "h1:h2" over the parameters params and opt's state of each
function M.hash(opt, params)
  local h = { 0, 0 }
  for _, p in ipairs(params) do
    digest_tensor(h, p)
    -- a wrapper's buffers (use_ema, gradient_accumulation_steps), then its inner optimizer's
    local o = opt
    while o do
      local names = {}
      for nm in pairs(o.state[p] or {}) do names[#names + 1] = nm end
      table.sort(names)
      for _, nm in ipairs(names) do digest_tensor(h, o.state[p][nm]) end
      o = o.inner
    end
  end
  return string.format("%d:%d", h[1], h[2])
end

-- Checkpoints written by the kernels' optimizers (opt:save after CHECKPOINT_STEPS
-- steps), which their declarations must load and continue bit for bit.
M.CHECKPOINTS = {
  { "SGD", { lr = 0.02, momentum = 0.9, nesterov = true } },
  { "SGD", { lr = 0.02, convention = "torch" } },
  { "Adagrad", { lr = 0.05, initial_accumulator = 0.1 } },
  { "RMSprop", { lr = 0.01, momentum = 0.9, centered = true, convention = "torch" } },
  { "Adam", { lr = 0.01, amsgrad = true } },
  { "AdamW", { lr = 0.01, convention = "torch" } },
}
M.CHECKPOINT_STEPS = 3

-- the two parameters a checkpoint's optimizer steps
function M.checkpoint_params()
  return tensor.randn(7, { seed = 21 }), tensor.randn(300, { seed = 22 })
end

-- steps k0 + 1 .. k1 of opt on params
function M.run(opt, params, k0, k1)
  for k = k0 + 1, k1 do
    local ga, gb = grads(k)
    params[1].grad, params[2].grad = ga, gb:narrow(1, 1, 300):contiguous()
    opt:step(params)
  end
end

-- the i-th checkpoint's file: the optimizer's (opt:save), or with "params" its parameters' (tensor.save)
function M.checkpoint_file(i, params)
  return string.format("builtin_checkpoint_%d%s.olt", i, params and "_params" or "")
end

-- a configuration's text, for fixture keys and messages
function M.describe(name, conv, hp)
  local keys = {}
  for k in pairs(hp) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = hp[k]
    -- %.10g: the same text on both VMs (tostring(1.0) is "1.0" on Lua 5.4, "1" on LuaJIT)
    local text = type(v) == "function" and "schedule" or type(v) == "number" and string.format("%.10g", v) or tostring(v)
    parts[#parts + 1] = k .. "=" .. text
  end
  return name .. "/" .. conv .. "{" .. table.concat(parts, ",") .. "}"
end

return M
