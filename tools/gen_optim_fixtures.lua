-- Generates tests/lua/fixtures/keras*.lua: per-step parameter values of each
-- Keras convention, from independent double-precision transcriptions of
-- Keras's documented updates (Keras is not installed here). The PyTorch
-- fixtures come from torch.optim itself (tools/gen_torch_fixtures.py writes
-- tests/lua/fixtures/torch_optim.txt).
-- Run from the repository root:  lua5.4 tools/gen_optim_fixtures.lua
-- Sources (the formula of each transcription is cited beside it):
--  [tf]  TensorFlow raw ops docs, tf.raw_ops.ResourceApplyKerasMomentum,
--        ResourceApplyAdagradV2, ResourceApplyRMSProp, ResourceApplyCenteredRMSProp,
--        ResourceApplyAdam, ResourceApplyAdamWithAmsgrad, ResourceApplyAdaMax,
--        ResourceApplyAdadelta; used by tf.keras (Keras 2) optimizer_v2/*.py.
--  [k2]  keras/optimizers/optimizer_v2/{rmsprop,nadam}.py (Keras 2.x) for the
--        non-raw-op paths (RMSprop without momentum, Nadam), and
--        keras/optimizers/adamw.py (Keras 2.11+) for AdamW.
--  [k3]  keras/src/optimizers/{adagrad,rmsprop,adam,lion}.py (Keras 3).
package.path = "tests/lua/?.lua;" .. package.path
local ref = require "ref_optim"

local N, STEPS = 8, 100
local sqrt, max, min, abs = math.sqrt, math.max, math.min, math.abs
local function sign(x) return x > 0 and 1 or (x < 0 and -1 or 0) end

-- lr at update k (0-based): constant, or the textbook's linear schedule (Section 8.3.1).
local function lr_at(c, k)
  if c.linear then return ref.linear(k, c.linear.from, c.linear.to, c.linear.steps) end
  return c.hp.lr
end

-- Each update(c, st, p, g, lr, t) updates one element; st is its state table.
local U = {}

-- [tf] ResourceApplyKerasMomentum: accum = accum*momentum - lr*grad; var += accum
--      (use_nesterov: var += accum*momentum - lr*grad)
U.keras_sgd = function(c, s, p, g, lr)
  local mu = c.hp.momentum or 0
  s.a = (s.a or 0) * mu - lr * g
  if c.hp.nesterov then return p + s.a * mu - lr * g end
  return p + s.a
end
-- [tf] ResourceApplyAdagradV2: accum += grad^2; var -= lr*grad/(sqrt(accum)+epsilon); Keras 2 initial 0.1
U.keras_adagrad = function(c, s, p, g, lr)
  s.a = (s.a or c.hp.initial_accumulator or 0.1) + g * g
  return p - lr * g / (sqrt(s.a) + c.hp.eps)
end
-- [k3] adagrad: accumulator += g^2; variable -= lr*g/sqrt(accumulator + epsilon)
U.keras3_adagrad = function(c, s, p, g, lr)
  s.a = (s.a or c.hp.initial_accumulator or 0.1) + g * g
  return p - lr * g / sqrt(s.a + c.hp.eps)
end
-- [k2] RMSprop without momentum: rms = rho rms + (1-rho) g^2 (centered: minus mg^2);
--      var -= lr g / (sqrt(denom) + eps)
-- [tf] ResourceApplyRMSProp (momentum): ms = rho ms + (1-rho) g^2;
--      mom = momentum mom + lr g / sqrt(ms + epsilon); var -= mom
--      (ResourceApplyCenteredRMSProp: sqrt(ms - mg^2 + epsilon))
U.keras_rmsprop = function(c, s, p, g, lr)
  local rho, eps, mu = c.hp.rho, c.hp.eps, c.hp.momentum or 0
  s.ms = rho * (s.ms or 0) + (1 - rho) * g * g
  local d = s.ms
  if c.hp.centered then s.mg = rho * (s.mg or 0) + (1 - rho) * g; d = d - s.mg * s.mg end
  if mu == 0 then return p - lr * g / (sqrt(d) + eps) end
  s.mom = mu * (s.mom or 0) + lr * g / sqrt(d + eps)
  return p - s.mom
end
-- [k3] rmsprop: velocity = rho v + (1-rho) g^2; denominator = v (- avg_grad^2) + epsilon;
--      increment = lr g / sqrt(denominator); momentum: m = momentum m + increment; var -= m
U.keras3_rmsprop = function(c, s, p, g, lr)
  local rho, eps, mu = c.hp.rho, c.hp.eps, c.hp.momentum or 0
  s.v = rho * (s.v or 0) + (1 - rho) * g * g
  local d = s.v
  if c.hp.centered then s.ag = rho * (s.ag or 0) + (1 - rho) * g; d = d - s.ag * s.ag end
  local inc = lr * g / sqrt(d + eps)
  if mu > 0 then s.m = mu * (s.m or 0) + inc; return p - s.m end
  return p - inc
end
-- [tf] ResourceApplyAdam: lr_t = lr sqrt(1-beta2^t)/(1-beta1^t); m = b1 m + (1-b1) g;
--      v = b2 v + (1-b2) g^2; var -= lr_t m / (sqrt(v) + epsilon)
--      (WithAmsgrad: vhat = max(vhat, v); var -= lr_t m / (sqrt(vhat) + epsilon))
-- [k2] AdamW (2.11+) and [k3] adam: the same, after var -= var * wd * lr for AdamW.
U.keras_adam = function(c, s, p, g, lr, t)
  local b1, b2, eps = c.hp.beta1, c.hp.beta2, c.hp.eps
  if c.decoupled then p = p - p * c.hp.weight_decay * lr end
  local lrt = lr * sqrt(1 - b2 ^ t) / (1 - b1 ^ t)
  s.m = b1 * (s.m or 0) + (1 - b1) * g
  s.v = b2 * (s.v or 0) + (1 - b2) * g * g
  local v = s.v
  if c.hp.amsgrad then s.vh = max(s.vh or 0, s.v); v = s.vh end
  return p - lrt * s.m / (sqrt(v) + eps)
end
-- [tf] ResourceApplyAdaMax: m = b1 m + (1-b1) g; v = max(b2 v, |g|); var -= lr/(1-b1^t) m/(v+eps)
U.keras_adamax = function(c, s, p, g, lr, t)
  local b1, b2, eps = c.hp.beta1, c.hp.beta2, c.hp.eps
  s.m = b1 * (s.m or 0) + (1 - b1) * g
  s.u = max(b2 * (s.u or 0), abs(g))
  return p - lr / (1 - b1 ^ t) * s.m / (s.u + eps)
end
-- [k2] Nadam: mu_t = b1 (1 - 0.5 * 0.96^(0.004 t)); m_schedule_new = m_schedule mu_t;
--      g' = g/(1 - m_schedule_new); m' = m/(1 - m_schedule_new mu_{t+1}); v' = v/(1-b2^t);
--      m_bar = (1-mu_t) g' + mu_{t+1} m'; var -= lr m_bar / (sqrt(v') + eps)
U.nadam = function(c, s, p, g, lr, t, shared)
  local b1, b2, eps = c.hp.beta1, c.hp.beta2, c.hp.eps
  local mu = b1 * (1 - 0.5 * 0.96 ^ (0.004 * t))
  local mu1 = b1 * (1 - 0.5 * 0.96 ^ (0.004 * (t + 1)))
  local prod = shared.prod * mu
  s.m = b1 * (s.m or 0) + (1 - b1) * g
  s.v = b2 * (s.v or 0) + (1 - b2) * g * g
  local mbar = (1 - mu) * g / (1 - prod) + mu1 * s.m / (1 - prod * mu1)
  return p - lr * mbar / (sqrt(s.v / (1 - b2 ^ t)) + eps)
end
-- [k3] lion: var -= lr * sign(m b1 + g (1-b1)); m = m b2 + g (1-b2)
U.lion = function(c, s, p, g, lr)
  local b1, b2 = c.hp.beta1, c.hp.beta2
  local m = s.m or 0
  p = p - lr * sign(m * b1 + g * (1 - b1))
  s.m = m * b2 + g * (1 - b2)
  return p
end
-- [tf] ResourceApplyAdadelta: accum = rho accum + (1-rho) g^2;
--      update = sqrt(accum_update + eps)/sqrt(accum + eps) g;
--      accum_update = rho accum_update + (1-rho) update^2; var -= lr update
U.adadelta = function(c, s, p, g, lr)
  local rho, eps = c.hp.rho, c.hp.eps
  s.a = rho * (s.a or 0) + (1 - rho) * g * g
  local d = sqrt((s.u or 0) + eps) / sqrt(s.a + eps) * g
  s.u = rho * (s.u or 0) + (1 - rho) * d * d
  return p - lr * d
end

local LIN = { from = 0.05, to = 0.005, steps = 60 }
local configs = {
  { file = "keras_sgd_momentum", u = "keras_sgd", opt = "SGD", hp = { lr = 0.05, momentum = 0.9, convention = "keras" } },
  { file = "keras_sgd_nesterov_linear", u = "keras_sgd", opt = "SGD", linear = LIN, hp = { momentum = 0.9, nesterov = true, convention = "keras" } },
  { file = "keras_adagrad", u = "keras_adagrad", opt = "Adagrad", hp = { lr = 0.1, eps = 1e-7, convention = "keras" } },
  { file = "keras3_adagrad", u = "keras3_adagrad", opt = "Adagrad", hp = { lr = 0.1, eps = 1e-7, initial_accumulator = 0.1, convention = "keras3" } },
  { file = "keras_rmsprop", u = "keras_rmsprop", opt = "RMSprop", hp = { lr = 0.01, rho = 0.9, eps = 1e-7, convention = "keras" } },
  { file = "keras_rmsprop_momentum_centered", u = "keras_rmsprop", opt = "RMSprop", hp = { lr = 0.01, rho = 0.9, eps = 1e-7, momentum = 0.5, centered = true, convention = "keras" } },
  { file = "keras3_rmsprop_momentum", u = "keras3_rmsprop", opt = "RMSprop", hp = { lr = 0.01, rho = 0.9, eps = 1e-7, momentum = 0.5, convention = "keras3" } },
  { file = "keras_adam", u = "keras_adam", opt = "Adam", hp = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, convention = "keras" } },
  { file = "keras_adam_amsgrad_linear", u = "keras_adam", opt = "Adam", linear = LIN, hp = { beta1 = 0.9, beta2 = 0.999, eps = 1e-7, amsgrad = true, convention = "keras" } },
  { file = "keras3_adam", u = "keras_adam", opt = "Adam", hp = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, convention = "keras3" } },
  { file = "keras_adamw", u = "keras_adam", decoupled = true, opt = "AdamW", hp = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, weight_decay = 0.004, convention = "keras" } },
  { file = "keras_adamax", u = "keras_adamax", opt = "Adamax", hp = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, convention = "keras" } },
  { file = "keras_nadam", u = "nadam", opt = "Nadam", hp = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, convention = "keras" } },
  { file = "keras3_lion", u = "lion", opt = "Lion", hp = { lr = 0.001, beta1 = 0.9, beta2 = 0.99, convention = "keras3" } },
  { file = "keras_adadelta", u = "adadelta", opt = "Adadelta", hp = { lr = 0.001, rho = 0.95, eps = 1e-7, convention = "keras" } },
}

local function ser(v)
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. ser(v[k]) end
    return "{ " .. table.concat(parts, ", ") .. " }"
  elseif type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

for _, c in ipairs(configs) do
  local p, st, shared = {}, {}, { prod = 1 }
  for i = 1, N do p[i] = ref.param0(i); st[i] = {} end
  local rows = {}
  for t = 1, STEPS do
    local lr = lr_at(c, t - 1)
    local mu = (c.hp.beta1 or 0) * (1 - 0.5 * 0.96 ^ (0.004 * t))
    for i = 1, N do p[i] = U[c.u](c, st[i], p[i], ref.grad(t, i), lr, t, shared) end
    shared.prod = shared.prod * mu
    local r = {}
    for i = 1, N do r[i] = string.format("%.9g", p[i]) end
    rows[#rows + 1] = "  { " .. table.concat(r, ", ") .. " },"
  end
  local f = assert(io.open("tests/lua/fixtures/" .. c.file .. ".lua", "w"))
  f:write("-- generated by tools/gen_optim_fixtures.lua (", c.u, "): parameters after each update\n")
  f:write("return {\n  opt = \"", c.opt, "\", hp = ", ser(c.hp), ",\n  linear = ", c.linear and ser(c.linear) or "nil", ",\n  steps = {\n")
  f:write(table.concat(rows, "\n"), "\n  },\n}\n")
  f:close()
end
print(#configs .. " fixtures written")
