-- Plain-Lua transcriptions of Keras's optimizer updates, written from the
-- sources (keras is not installed here), one operation at a time and in the
-- sources' order, so that with r = f32 every operation rounds to float32 as
-- Keras/TensorFlow do and with r = identity they run in float64:
--   keras     tf_keras/optimizers/legacy/*.py (tf.keras 2.0-2.10) whose dense
--             updates call TensorFlow's training_ops.cc functors: ApplyKerasMomentum,
--             ApplyAdagradV2, ApplyRMSProp, ApplyCenteredRMSProp, ApplyAdam
--             (WithAmsgrad), ApplyAdaMax, ApplyAdadelta; RMSprop without momentum
--             and Nadam in Python. Lion and AdamW first appear in tf.keras 2.11:
--             tf_keras/optimizers/{lion,adamw}.py.
--   tf_keras  tf_keras/optimizers/*.py (tf.keras 2.11-2.15): the Keras 3 forms
--             below, RMSprop with tf.math.rsqrt.
--   keras3    keras/src/optimizers/*.py and base_optimizer.py (Keras 3).
-- Defaults: the signatures of those files (DEFAULTS below). The tests check these
-- transcriptions against Keras 3's own golden values (*_test.py) before using them.
local K = {}

local ref = require "ref_optim"
K.f32 = ref.round32
local function id(x) return x end

-- The signatures' defaults (learning_rate=..., ...), in optlab's names.
local k2 = {
  SGD = { lr = 0.01, momentum = 0, nesterov = false },
  Adagrad = { lr = 0.001, initial_accumulator = 0.1, eps = 1e-7 },
  RMSprop = { lr = 0.001, rho = 0.9, momentum = 0, eps = 1e-7, centered = false },
  Adam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, amsgrad = false },
  AdamW = { lr = 0.001, weight_decay = 0.004, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, amsgrad = false },
  Adamax = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7 },
  Nadam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7 },
  Lion = { lr = 0.0001, beta1 = 0.9, beta2 = 0.99 },     -- tf_keras/optimizers/lion.py
  Adadelta = { lr = 0.001, rho = 0.95, eps = 1e-7 },
  Ftrl = { lr = 0.001, lr_power = -0.5, initial_accumulator = 0.1, l1 = 0, l2 = 0, l2_shrinkage = 0, beta = 0 },
}
local k3 = {}
for name, d in pairs(k2) do k3[name] = d end
k3.Lion = { lr = 0.001, beta1 = 0.9, beta2 = 0.99 }     -- keras/src/optimizers/lion.py
local tk = {}
for name, d in pairs(k2) do tk[name] = d end
tk.RMSprop = { lr = 0.001, rho = 0.9, momentum = 0, eps = 1e-7, centered = false,
               ema_overwrite_frequency = 100 }     -- tf_keras/optimizers/rmsprop.py
K.DEFAULTS = { keras = k2, tf_keras = tk, keras3 = k3 }

local sqrt, abs, max = math.sqrt, math.abs, math.max
local function sign(x) return x > 0 and 1 or (x < 0 and -1 or 0) end

-- U[form][name](o, s, p, g, lr, t): one element; s is its state table, o the
-- optimizer (o.hp, o.r, o.u_t... for Nadam). Returns the new parameter.
local U = { keras = {}, keras3 = {} }

-- ApplyKerasMomentum: accum = accum * momentum - lr * grad;
-- var += accum (use_nesterov: var += accum * momentum - lr * grad)
-- (gradient_descent.py: momentum 0 -> ApplyGradientDescent: var -= lr * grad)
U.keras.SGD = function(o, s, p, g, lr)
  local r, mu = o.r, o.hp.momentum
  if mu == 0 then return r(p - r(lr * g)) end
  s.a = r(r((s.a or 0) * mu) - r(lr * g))
  if o.hp.nesterov then return r(p + r(r(s.a * mu) - r(lr * g))) end
  return r(p + s.a)
end
-- ApplyAdagradV2: accum += grad * grad; var -= lr * grad / (accum.sqrt() + epsilon)
U.keras.Adagrad = function(o, s, p, g, lr)
  local r = o.r
  s.a = r((s.a or o.hp.initial_accumulator) + r(g * g))
  return r(p - r(r(lr * g) / r(r(sqrt(s.a)) + o.hp.eps)))
end
-- rmsprop.py without momentum: rms_t = rho rms + (1 - rho) g^2 (centered:
-- mg_t = rho mg + (1 - rho) g, denom_t = rms_t - mg_t^2); var -= lr g / (sqrt(denom_t) + eps).
-- ApplyRMSProp: ms += (grad^2 - ms) (1 - rho); mom = mom momentum + grad lr / sqrt(ms + eps);
-- var -= mom. ApplyCenteredRMSProp: mg += (grad - mg) (1 - rho); denom = ms - mg^2 + eps.
U.keras.RMSprop = function(o, s, p, g, lr)
  local r, h = o.r, o.hp
  local rho1 = r(1 - h.rho)
  if h.momentum == 0 then
    s.ms = r(r(h.rho * (s.ms or 0)) + r(rho1 * r(g * g)))
    local d = s.ms
    if h.centered then
      s.mg = r(r(h.rho * (s.mg or 0)) + r(rho1 * g))
      d = r(d - r(s.mg * s.mg))
    end
    return r(p - r(r(lr * g) / r(r(sqrt(d)) + h.eps)))
  end
  s.ms = r((s.ms or 0) + r(r(r(g * g) - (s.ms or 0)) * rho1))
  local d = s.ms
  if h.centered then
    s.mg = r((s.mg or 0) + r(r(g - (s.mg or 0)) * rho1))
    d = r(d - r(s.mg * s.mg))
  end
  s.mom = r(r((s.mom or 0) * h.momentum) + r(r(g * lr) / r(sqrt(r(d + h.eps)))))
  return r(p - s.mom)
end
-- ApplyAdam: alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t); m += (grad - m)(1 - beta1);
-- v += (grad^2 - v)(1 - beta2); var -= m alpha / (sqrt(v) + epsilon)
-- (WithAmsgrad: vhat = max(vhat, v), sqrt(vhat)). Keras 3 and tf_keras adam.py: the same.
local function adam(o, s, p, g, lr, t)
  local r, h = o.r, o.hp
  local alpha = r(r(lr * r(sqrt(r(1 - r(h.beta2 ^ t))))) / r(1 - r(h.beta1 ^ t)))
  s.m = r((s.m or 0) + r(r(g - (s.m or 0)) * r(1 - h.beta1)))
  s.v = r((s.v or 0) + r(r(r(g * g) - (s.v or 0)) * r(1 - h.beta2)))
  local v = s.v
  if h.amsgrad then s.vh = max(s.vh or 0, s.v); v = s.vh end
  return r(p - r(r(s.m * alpha) / r(r(sqrt(v)) + h.eps)))
end
U.keras.Adam, U.keras3.Adam, U.keras3.AdamW = adam, adam, adam
U.keras.AdamW = adam      -- tf_keras/optimizers/adamw.py (2.11+), weight decay by the base optimizer
-- ApplyAdaMax: m += (grad - m)(1 - beta1); v = max(beta2 v, |grad|);
-- var -= lr / (1 - beta1^t) (m / (v + epsilon))
U.keras.Adamax = function(o, s, p, g, lr, t)
  local r, h = o.r, o.hp
  s.m = r((s.m or 0) + r(r(g - (s.m or 0)) * r(1 - h.beta1)))
  s.u = max(r(h.beta2 * (s.u or 0)), abs(g))
  return r(p - r(r(lr / r(1 - r(h.beta1 ^ t))) * r(s.m / r(s.u + h.eps))))
end
-- legacy/nadam.py: m_t = beta1 (1 - 0.5 0.96^(0.004 t)); m_schedule_new = m_cache m_t;
-- m_schedule_next = m_schedule_new m_{t+1}; g' = g / (1 - m_schedule_new);
-- m = beta1 m + (1 - beta1) g; m' = m / (1 - m_schedule_next); v = beta2 v + (1 - beta2) g^2;
-- v' = v / (1 - beta2^t); m_bar = (1 - m_t) g' + m_{t+1} m'; var -= lr m_bar / (sqrt(v') + eps)
U.keras.Nadam = function(o, s, p, g, lr, t)
  local r, h = o.r, o.hp
  local gp = r(g / r(1 - o.sched_new))
  s.m = r(r(h.beta1 * (s.m or 0)) + r(r(1 - h.beta1) * g))
  local mp = r(s.m / r(1 - o.sched_next))
  s.v = r(r(h.beta2 * (s.v or 0)) + r(r(1 - h.beta2) * r(g * g)))
  local vp = r(s.v / r(1 - r(h.beta2 ^ t)))
  local mbar = r(r(r(1 - o.u_t) * gp) + r(o.u_t1 * mp))
  return r(p - r(r(lr * mbar) / r(r(sqrt(vp)) + h.eps)))
end
-- ApplyAdadelta: accum = accum rho + grad^2 (1 - rho);
-- update = sqrt(accum_update + eps) rsqrt(accum + eps) grad;
-- accum_update = accum_update rho + update^2 (1 - rho); var -= update lr
U.keras.Adadelta = function(o, s, p, g, lr)
  local r, h = o.r, o.hp
  local rho1 = r(1 - h.rho)
  s.a = r(r((s.a or 0) * h.rho) + r(r(g * g) * rho1))
  local upd = r(r(r(sqrt(r((s.u or 0) + h.eps))) * r(1 / r(sqrt(r(s.a + h.eps))))) * g)
  s.u = r(r((s.u or 0) * h.rho) + r(r(upd * upd) * rho1))
  return r(p - r(upd * lr))
end

-- Keras 3 sgd.py: m = -gradient * lr + m * momentum; nesterov: var += -gradient * lr + m * momentum,
-- else var += m; momentum 0: var -= gradient * lr (nesterov ignored)
U.keras3.SGD = function(o, s, p, g, lr)
  local r, mu = o.r, o.hp.momentum
  if mu == 0 then return r(p - r(g * lr)) end
  s.m = r(r(-g * lr) + r((s.m or 0) * mu))
  if o.hp.nesterov then return r(p + r(r(-g * lr) + r(s.m * mu))) end
  return r(p + s.m)
end
-- adagrad.py: accumulator += g^2; var -= lr g / sqrt(accumulator + epsilon)
U.keras3.Adagrad = function(o, s, p, g, lr)
  local r = o.r
  s.a = r((s.a or o.hp.initial_accumulator) + r(g * g))
  return r(p - r(r(lr * g) / r(sqrt(r(s.a + o.hp.eps)))))
end
-- rmsprop.py: velocity = rho v + (1 - rho) g^2; centered: average_grad = rho a + (1 - rho) g,
-- denominator = v - a^2 + epsilon, else v + epsilon; increment = lr g / sqrt(denominator)
-- (tf_keras: lr g rsqrt(denominator)); momentum > 0: m = momentum m + increment, var -= m;
-- else var -= increment
U.keras3.RMSprop = function(o, s, p, g, lr)
  local r, h = o.r, o.hp
  s.v = r(r(h.rho * (s.v or 0)) + r(r(1 - h.rho) * r(g * g)))
  local d
  if h.centered then
    s.ag = r(r(h.rho * (s.ag or 0)) + r(r(1 - h.rho) * g))
    d = r(r(s.v - r(s.ag * s.ag)) + h.eps)
  else
    d = r(s.v + h.eps)
  end
  local inc = r(r(lr * g) / r(sqrt(d)))
  if h.momentum > 0 then s.mom = r(r(h.momentum * (s.mom or 0)) + inc); return r(p - s.mom) end
  return r(p - inc)
end
-- adamax.py: m += (g - m)(1 - beta1); u = max(beta2 u, |g|);
-- var -= lr m / ((1 - beta1^t)(u + epsilon))
U.keras3.Adamax = function(o, s, p, g, lr, t)
  local r, h = o.r, o.hp
  s.m = r((s.m or 0) + r(r(g - (s.m or 0)) * r(1 - h.beta1)))
  s.u = max(r(h.beta2 * (s.u or 0)), abs(g))
  return r(p - r(r(lr * s.m) / r(r(1 - r(h.beta1 ^ t)) * r(s.u + h.eps))))
end
-- nadam.py: u_t = beta1 (1 - 0.5 0.96^t); u_t_1 = beta1 (1 - 0.5 0.96^(t+1));
-- u_product_t (= u_product after this step's update); u_product_t_1 = u_product_t u_t_1;
-- m += (g - m)(1 - beta1); v += (g^2 - v)(1 - beta2);
-- m_hat = u_t_1 m / (1 - u_product_t_1) + (1 - u_t) g / (1 - u_product_t);
-- v_hat = v / (1 - beta2^t); var -= m_hat lr / (sqrt(v_hat) + epsilon)
U.keras3.Nadam = function(o, s, p, g, lr, t)
  local r, h = o.r, o.hp
  s.m = r((s.m or 0) + r(r(g - (s.m or 0)) * r(1 - h.beta1)))
  s.v = r((s.v or 0) + r(r(r(g * g) - (s.v or 0)) * r(1 - h.beta2)))
  local mhat = r(r(r(o.u_t1 * s.m) / r(1 - o.sched_next)) + r(r(r(1 - o.u_t) * g) / r(1 - o.sched_new)))
  local vhat = r(s.v / r(1 - r(h.beta2 ^ t)))
  return r(p - r(r(mhat * lr) / r(r(sqrt(vhat)) + h.eps)))
end
-- lion.py: var -= lr sign(m beta1 + g (1 - beta1)); m = m beta2 + g (1 - beta2)
local function lion(o, s, p, g, lr)
  local r, h = o.r, o.hp
  local m = s.m or 0
  p = r(p - r(lr * sign(r(r(m * h.beta1) + r(g * r(1 - h.beta1))))))
  s.m = r(r(m * h.beta2) + r(g * r(1 - h.beta2)))
  return p
end
U.keras3.Lion, U.keras.Lion = lion, lion     -- tf_keras/optimizers/lion.py (2.11+)
-- adadelta.py: ag = rho ag + (1 - rho) g^2; delta = -rms(adv) g / rms(ag), rms(x) = sqrt(x + eps);
-- adv = rho adv + (1 - rho) delta^2; var += lr delta
U.keras3.Adadelta = function(o, s, p, g, lr)
  local r, h = o.r, o.hp
  local function rms(x) return r(sqrt(r(x + h.eps))) end
  s.a = r(r(h.rho * (s.a or 0)) + r(r(1 - h.rho) * r(g * g)))
  local d = -r(r(rms(s.u or 0) * g) / rms(s.a))
  s.u = r(r(h.rho * (s.u or 0)) + r(r(1 - h.rho) * r(d * d)))
  return r(p + r(lr * d))
end

-- ApplyFtrlV2 (training_ops.cc; ApplyFtrl without shrinkage is the same with l2_shrinkage 0),
-- l2 = l2 + beta / (2 lr) (legacy/ftrl.py): grad_with_shrinkage = grad + 2 l2_shrinkage var;
-- new_accum = accum + grad^2; linear += grad_with_shrinkage - (new_accum^-p - accum^-p) / lr var
-- (p = lr_power; -0.5: sqrt); x = l1 sign(linear) - linear; y = new_accum^-p / lr + 2 l2;
-- var = |linear| > l1 ? x / y : 0; accum += grad^2
U.keras.Ftrl = function(o, s, p, g, lr)
  local r, h = o.r, o.hp
  local function pw(x) return h.lr_power == -0.5 and r(sqrt(x)) or r(x ^ -h.lr_power) end
  local l2 = r(h.l2 + r(h.beta / r(2 * lr)))
  local a = s.a or h.initial_accumulator
  local gs = r(g + r(r(2 * h.l2_shrinkage) * p))
  local na = r(a + r(g * g))
  s.lin = r((s.lin or 0) + r(gs - r(r(r(pw(na) - pw(a)) / lr) * p)))
  local y = r(r(pw(na) / lr) + r(2 * l2))
  s.a = na
  if abs(s.lin) > h.l1 then return r(r(h.l1 * sign(s.lin) - s.lin) / y) end
  return 0
end
-- Keras 3 ftrl.py: the same, with linear_clipped = clip(linear, -l1, l1); var = (linear_clipped - linear) / quadratic
U.keras3.Ftrl = function(o, s, p, g, lr)
  local r, h = o.r, o.hp
  local l2 = r(h.l2 + r(h.beta / r(2 * lr)))
  local a = s.a or h.initial_accumulator
  local gs = r(g + r(r(2 * h.l2_shrinkage) * p))
  local na = r(a + r(g * g))
  s.lin = r((s.lin or 0) + r(gs - r(r(r(r(na ^ -h.lr_power) - r(a ^ -h.lr_power)) / lr) * p)))
  local quad = r(r(r(na ^ -h.lr_power) / lr) + r(2 * l2))
  local clipped = math.min(math.max(s.lin, -h.l1), h.l1)
  s.a = na
  return r(r(clipped - s.lin) / quad)
end

local FORM = { keras = "keras", tf_keras = "keras3", keras3 = "keras3" }

-- An optimizer: K.new(convention, name, hp[, r]); o:step(vars, grads) updates the
-- lists of arrays vars from grads (lists of arrays), as apply_gradients does.
function K.new(conv, name, hp, r)
  local full = {}
  for k, v in pairs(K.DEFAULTS[conv][name]) do full[k] = v end
  full.ema_momentum = 0.99     -- base_optimizer.py: use_ema=False, ema_momentum=0.99
  for k, v in pairs(hp or {}) do full[k] = v end
  local o = { conv = conv, name = name, hp = full, r = r or id, it = 0, state = {}, u_product = 1,
              update = assert(U[FORM[conv]][name], "no transcription of " .. name .. " for " .. conv) }
  return setmetatable(o, { __index = K })
end

-- Clipping (base_optimizer._clip_gradients, optimizer_v2 _clip_gradients):
-- clipnorm: each g c / max(|g|, c) (tf.clip_by_norm; Keras 3 _clip_by_norm);
-- global_clipnorm: g c min(1/|G|, 1/c) (clip_by_global_norm); clipvalue: clip(g, -v, v).
local function clip(o, grads)
  local r, h = o.r, o.hp
  local out = {}
  local function sumsq(g) local t = 0 for i = 1, #g do t = r(t + r(g[i] * g[i])) end return t end
  if h.clip_norm then
    for j, g in ipairs(grads) do
      local n = r(sqrt(sumsq(g)))
      out[j] = {}
      for i = 1, #g do out[j][i] = r(r(g[i] * h.clip_norm) / max(n, h.clip_norm)) end
    end
  elseif h.global_clip_norm then
    local tot = 0
    for _, g in ipairs(grads) do tot = r(tot + sumsq(g)) end
    local n = r(sqrt(tot))
    local scale = r(h.global_clip_norm * math.min(r(1 / n), r(1 / h.global_clip_norm)))
    for j, g in ipairs(grads) do
      out[j] = {}
      for i = 1, #g do out[j][i] = r(g[i] * scale) end
    end
  else
    return grads
  end
  return out
end

-- One update (lr_now: this step's learning rate under a schedule; default hp.lr).
function K:step(vars, grads, lr_now)
  local r, h = self.r, self.hp
  local t = self.it + 1
  local lr = lr_now or h.lr
  -- legacy optimizer_v2._decayed_lr: lr / (1 + decay iterations)
  if h.decay and h.decay > 0 then lr = r(lr / r(1 + r(h.decay * self.it))) end
  grads = clip(self, grads)
  -- Keras 3 / tf_keras _apply_weight_decay: variable - variable * wd * lr, before the update
  -- (AdamW and Lion under keras: tf_keras 2.11's, the same)
  if h.weight_decay and h.weight_decay > 0 then
    for _, v in ipairs(vars) do
      for i = 1, #v do v[i] = r(v[i] - r(r(v[i] * h.weight_decay) * lr)) end
    end
  end
  if self.name == "Nadam" then
    if FORM[self.conv] == "keras3" then
      self.u_t = r(h.beta1 * r(1 - r(0.5 * r(0.96 ^ t))))
      self.u_t1 = r(h.beta1 * r(1 - r(0.5 * r(0.96 ^ (t + 1)))))
    else
      self.u_t = r(h.beta1 * r(1 - r(0.5 * r(0.96 ^ r(0.004 * t)))))
      self.u_t1 = r(h.beta1 * r(1 - r(0.5 * r(0.96 ^ r(0.004 * (t + 1))))))
    end
    self.u_product = r(self.u_product * self.u_t)
    self.sched_new = self.u_product
    self.sched_next = r(self.u_product * self.u_t1)
  end
  for j, v in ipairs(vars) do
    self.state[j] = self.state[j] or {}
    local st = self.state[j]
    for i = 1, #v do
      st[i] = st[i] or {}
      v[i] = self.update(self, st[i], v[i], grads[j][i], lr, t)
    end
  end
  self.it = t
end

-- Keras 3's apply(): gradient accumulation, the update, then the moving average
-- (base_optimizer._backend_apply_gradients); o.calls is Keras's _iterations.
function K:apply(vars, grads)
  local r, h = self.r, self.hp
  local calls = self.calls or 0
  local n = h.gradient_accumulation_steps
  if n then
    self.acc = self.acc or {}
    local update = (calls + 1) % n == 0
    local eff = {}
    for j, g in ipairs(grads) do
      self.acc[j] = self.acc[j] or {}
      eff[j] = {}
      for i = 1, #g do
        local a = self.acc[j][i] or 0
        if update then eff[j][i] = r(r(g[i] + a) / n); self.acc[j][i] = 0
        else self.acc[j][i] = r(g[i] + a) end
      end
    end
    if update then self:step(vars, eff) end
  else
    self:step(vars, grads)
  end
  if h.use_ema then
    -- _update_model_variables_moving_average: momentum = (iterations != 0) ema_momentum
    local it = n and math.floor(calls / n) or calls
    local m = it ~= 0 and r(h.ema_momentum) or 0
    self.avg = self.avg or {}
    for j, v in ipairs(vars) do
      self.avg[j] = self.avg[j] or {}
      for i = 1, #v do self.avg[j][i] = r(r(m * (self.avg[j][i] or 0)) + r(r(1 - m) * v[i])) end
    end
    local f = h.ema_overwrite_frequency
    if f and (it + 1) % f == 0 then
      for j, v in ipairs(vars) do for i = 1, #v do v[i] = self.avg[j][i] end end
    end
  end
  self.calls = calls + 1
end

-- finalize_variable_values: the variables take their averages.
function K:finalize(vars)
  if not self.hp.use_ema then return end
  for j, v in ipairs(vars) do for i = 1, #v do v[i] = self.avg[j][i] end end
end

return K
