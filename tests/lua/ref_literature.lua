-- Plain-Lua transcriptions of the literature's optimizers, from their AUTHORS'
-- reference code (each function names the repository, commit and path), one
-- operation at a time and in the sources' order, on arrays of numbers. With
-- r = identity they run in float64; with r = L.f32 every operation rounds to
-- float32 and every Python/C scalar is rounded where it meets a tensor, as the
-- authors' float32 runs do (PyTorch casts a Python float to the tensor's type).
-- Defaults are the authors' constructor signatures (L.DEFAULTS, optlab's names).
--
-- A tensor is { p = array, w = multiplicities or nil }: element j stands for w[j]
-- equal elements of the real tensor (a tensor of 45013 elements that repeats every
-- 53 is held as 53 values), which only the per-tensor reductions (norms, sums,
-- numel) need to know. U[name](o, s, x, g) performs one step on one tensor x with
-- gradient g and per-tensor state s; o holds hp, r, t and the per-step scalars.
local L = {}
L.f32 = compat.f32
local function id(x) return x end
local sqrt, abs, max, min = math.sqrt, math.abs, math.max, math.min
local function sign(x) return x > 0 and 1 or (x < 0 and -1 or 0) end

-- Reductions over a held tensor, in double; r rounds the result as the
-- authors' float32 reduction would deliver it.
local function sumsq(a, w)
  local acc = 0
  for j = 1, #a do acc = acc + (w and w[j] or 1) * a[j] * a[j] end
  return acc
end
local function sumabs(a, w)
  local acc = 0
  for j = 1, #a do acc = acc + (w and w[j] or 1) * abs(a[j]) end
  return acc
end
local function dot(a, b, w)
  local acc = 0
  for j = 1, #a do acc = acc + (w and w[j] or 1) * a[j] * b[j] end
  return acc
end
local function zeros(n) local z = {} for j = 1, n do z[j] = 0 end return z end
local function copy(a) local z = {} for j = 1, #a do z[j] = a[j] end return z end
L.sumsq, L.zeros, L.copy = sumsq, zeros, copy

L.DEFAULTS = {
  AdaBelief = { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-16, weight_decay = 0, weight_decouple = true,
                fixed_decay = false, rectify = true, degenerated_to_sgd = true },
  Adan = { lr = 1e-3, beta1 = 0.98, beta2 = 0.92, beta3 = 0.99, eps = 1e-8, weight_decay = 0, no_prox = false },
  LAMB = { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-6, weight_decay = 0.01, bias_correction = true,
           adam_w_mode = true, grad_averaging = true, use_nvlamb = false },
  LARS = { lr = 0.1, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0, eps = 1e-8, trust_coef = 0.001 },
  Yogi = { lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-3, l1 = 0, l2 = 0, initial_accumulator = 1e-6 },
  AdaBound = { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, final_lr = 0.1, gamma = 1e-3, eps = 1e-8, weight_decay = 0 },
  QHAdam = { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, nu1 = 1, nu2 = 1, weight_decay = 0, decouple_weight_decay = false,
             eps = 1e-8 },
  AggMo = { lr = 0.1, beta1 = 0, beta2 = 0.9, beta3 = 0.99, weight_decay = 0 },
  NovoGrad = { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, bias_correction = true,
               reg_inside_moment = false, grad_averaging = true, init_zero = false },
  SGDW = { lr = 1e-3, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0, lr_decay = 0 },
  Signum = { lr = 0.01, momentum = 0.9, wd_lh = 0, weight_decay = 0 },
  ScheduleFreeSGD = { lr = 1.0, momentum = 0.9, weight_decay = 0, warmup_steps = 0, r = 0, weight_lr_power = 2 },
  ScheduleFreeAdamW = { lr = 0.0025, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, warmup_steps = 0,
                        r = 0, weight_lr_power = 2, decay_at_z = false, inner_momentum = 0 },
  Prodigy = { lr = 1.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, decouple = true,
              use_bias_correction = false, safeguard_warmup = false, d0 = 1e-6, d_coef = 1.0, growth_rate = math.huge },
  MADGRAD = { lr = 1e-2, momentum = 0.9, weight_decay = 0, eps = 1e-6, decouple_decay = false },
  AdEMAMix = { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, beta3 = 0.9999, alpha = 2.0, beta3_warmup = 0, alpha_warmup = 0,
               eps = 1e-8, weight_decay = 0 },
  Muon = { lr = 0.02, weight_decay = 0, momentum = 0.95, ns_steps = 5, nesterov = true },
}

local U, PRE = {}, {}   -- U: one tensor's step; PRE: the per-step scalars, once per step

-- juntang-zhuang/Adabelief-Optimizer @ e0ed01dfd825d5949e26ebcceff4192ceed7ac2e,
-- pypi_packages/adabelief_pytorch0.2.0/adabelief_pytorch/AdaBelief.py, AdaBelief.step
-- (amsgrad left out). Rectification forked from RAdam: N_sma >= 5 -> Adam-like step
-- without bias_correction2 in the denominator; else (degenerated_to_sgd) p -= step_size lr m.
PRE.AdaBelief = function(o)
  local h, t = o.hp, o.t
  o.bc1, o.bc2 = 1 - h.beta1 ^ t, 1 - h.beta2 ^ t
  local beta2_t = h.beta2 ^ t
  local n_max = 2 / (1 - h.beta2) - 1
  local n_sma = n_max - 2 * t * beta2_t / (1 - beta2_t)
  o.n_sma = n_sma
  if n_sma >= 5 then
    o.step_size = sqrt((1 - beta2_t) * (n_sma - 4) / (n_max - 4) * (n_sma - 2) / n_sma * n_max / (n_max - 2))
                  / (1 - h.beta1 ^ t)
  elseif h.degenerated_to_sgd then o.step_size = 1.0 / (1 - h.beta1 ^ t)
  else o.step_size = -1 end
end
U.AdaBelief = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p, m, v = x.p, s.exp_avg, s.exp_avg_var
  for j = 1, #p do
    local gj = g[j]
    if h.weight_decouple then
      if not h.fixed_decay then p[j] = r(p[j] * r(1.0 - h.lr * h.weight_decay))
      else p[j] = r(p[j] * r(1.0 - h.weight_decay)) end
    elseif h.weight_decay ~= 0 then gj = r(gj + r(r(h.weight_decay) * p[j])) end
    m[j] = r(r(m[j] * r(h.beta1)) + r(r(1 - h.beta1) * gj))
    local res = r(gj - m[j])
    v[j] = r(r(v[j] * r(h.beta2)) + r(r(1 - h.beta2) * r(res * res)))
    v[j] = r(v[j] + r(h.eps))                                -- exp_avg_var.add_(eps), in place
    if not h.rectify then
      local denom = r(r(r(sqrt(v[j])) / r(sqrt(o.bc2))) + r(h.eps))
      p[j] = r(p[j] + r(r(-(h.lr / o.bc1)) * r(m[j] / denom)))
    elseif o.n_sma >= 5 then
      local denom = r(r(sqrt(v[j])) + r(h.eps))
      p[j] = r(p[j] + r(r(-o.step_size * h.lr) * r(m[j] / denom)))
    elseif o.step_size > 0 then
      p[j] = r(p[j] + r(r(-o.step_size * h.lr) * m[j]))
    end
  end
end

-- sail-sg/Adan @ f0b1b818913a89888d59aeeddb9315bf90a23192, adan.py, Adan.step and
-- _single_tensor_adan (max_grad_norm = 0: clip factor 1). neg_pre_grad starts as -g at
-- step 1, so the gradient difference is 0 there.
PRE.Adan = function(o)
  local h, t = o.hp, o.t
  o.bc1, o.bc2, o.bc3_sqrt = 1.0 - h.beta1 ^ t, 1.0 - h.beta2 ^ t, sqrt(1.0 - h.beta3 ^ t)
end
U.Adan = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p, m, n, d = x.p, s.exp_avg, s.exp_avg_sq, s.exp_avg_diff
  if o.t == 1 then s.neg_pre_grad = {} for j = 1, #p do s.neg_pre_grad[j] = -g[j] end end
  local npg = s.neg_pre_grad
  local step_size_diff, step_size = h.lr * h.beta2 / o.bc2, h.lr / o.bc1
  for j = 1, #p do
    npg[j] = r(npg[j] + g[j])                                            -- g - g_prev
    m[j] = r(r(m[j] * r(h.beta1)) + r(r(1 - h.beta1) * g[j]))
    d[j] = r(r(d[j] * r(h.beta2)) + r(r(1 - h.beta2) * npg[j]))
    npg[j] = r(r(npg[j] * r(h.beta2)) + g[j])                            -- g + b2 (g - g_prev)
    n[j] = r(r(n[j] * r(h.beta3)) + r(r(1 - h.beta3) * r(npg[j] * npg[j])))
    local denom = r(r(r(sqrt(n[j])) / r(o.bc3_sqrt)) + r(h.eps))
    if h.no_prox then
      p[j] = r(p[j] * r(1 - h.lr * h.weight_decay))
      p[j] = r(p[j] + r(r(-step_size) * r(m[j] / denom)))
      p[j] = r(p[j] + r(r(-step_size_diff) * r(d[j] / denom)))
    else
      p[j] = r(p[j] + r(r(-step_size) * r(m[j] / denom)))
      p[j] = r(p[j] + r(r(-step_size_diff) * r(d[j] / denom)))
      p[j] = r(p[j] / r(1 + h.lr * h.weight_decay))
    end
    npg[j] = -g[j]
  end
end
-- sail-sg/Adan @ 3902e35988182ac817261b3149661c204dab4525, tests.py, AdanOriginal.step:
-- the authors' test checks the new code against this form (test_original_vs_new).
PRE.AdanOriginal = PRE.Adan
U.AdanOriginal = function(o, s, x, g)
  local h = o.hp
  local p, m, n, d = x.p, s.exp_avg, s.exp_avg_sq, s.exp_avg_diff
  if o.t == 1 then s.pre_grad = copy(g) end
  for j = 1, #p do
    local diff = g[j] - s.pre_grad[j]
    local update = g[j] + h.beta2 * diff
    m[j] = m[j] * h.beta1 + (1 - h.beta1) * g[j]
    d[j] = d[j] * h.beta2 + (1 - h.beta2) * diff
    n[j] = n[j] * h.beta3 + (1 - h.beta3) * update * update
    local denom = sqrt(n[j]) / o.bc3_sqrt + h.eps
    update = (m[j] / o.bc1 + h.beta2 * d[j] / o.bc2) / denom
    if h.no_prox then
      p[j] = p[j] * (1 - h.lr * h.weight_decay)
      p[j] = p[j] - h.lr * update
    else
      p[j] = p[j] - h.lr * update
      p[j] = p[j] / (1 + h.lr * h.weight_decay)
    end
  end
  s.pre_grad = copy(g)
end

-- NVIDIA/apex: apex/optimizers/fused_lamb.py @ 16fadfe71c0d57312351c2d8b056251a0c8ce1ef
-- (FusedLAMB.step, defaults) and csrc/multi_tensor_lamb.cu @ 06a83ce742b09eae61f2d6acf44fb33aadc89038
-- (LAMBStage1Functor, LAMBStage2Functor). The global gradient clipping (max_grad_norm)
-- is optlab's global_clip_norm option and is left out here. param_norm is taken before
-- the update; the trust ratio applies when use_nvlamb or weight_decay ~= 0.
PRE.LAMB = function(o)
  local h, t = o.hp, o.t
  o.bc1, o.bc2 = 1, 1
  if h.bias_correction then o.bc1, o.bc2 = 1 - h.beta1 ^ t, 1 - h.beta2 ^ t end
  o.beta3 = h.grad_averaging and 1 - h.beta1 or 1
end
U.LAMB = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p, m, v, u = x.p, s.exp_avg, s.exp_avg_sq, {}
  local decay = h.weight_decay
  local param_norm = r(sqrt(sumsq(p, x.w)))
  for j = 1, #p do
    local rp = decay == 0 and 0 or p[j]
    local sg = g[j]
    if not h.adam_w_mode then sg = r(sg + r(r(decay) * rp)) end
    m[j] = r(r(m[j] * r(h.beta1)) + r(r(o.beta3) * sg))
    v[j] = r(r(v[j] * r(h.beta2)) + r(r(r(1 - h.beta2) * sg) * sg))
    local next_m_unbiased = r(m[j] / r(o.bc1))
    local next_v_unbiased = r(v[j] / r(o.bc2))
    local denom = r(r(sqrt(next_v_unbiased)) + r(h.eps))
    if h.adam_w_mode then u[j] = r(r(next_m_unbiased / denom) + r(r(decay) * rp))
    else u[j] = r(next_m_unbiased / denom) end
  end
  local update_norm = r(sqrt(sumsq(u, x.w)))
  local ratio = h.lr
  if h.use_nvlamb or decay ~= 0 then
    ratio = (update_norm ~= 0 and param_norm ~= 0) and r(r(h.lr) * r(param_norm / update_norm)) or h.lr
  end
  for j = 1, #p do p[j] = r(p[j] - r(r(ratio) * u[j])) end
end

-- kakaobrain/torchlars @ 0f691f5b36d05f0a061dc9c0173688f4fad2eb35, torchlars/lars.py
-- (LARS.apply_adaptive_lrs) and @ e50c0c04a4ae6e3ee48cd65e825f57b68e286ad7 torchlars/adaptive_lr.cc
-- (ComputeAdaptiveLrAfterTypeCheck), wrapping torch.optim.SGD (PyTorch 1.13 sgd.py,
-- _single_tensor_sgd: buf = clone(d_p) at the first step, then momentum buf + (1 - dampening) d_p)
-- whose weight_decay LARS hides and applies itself. LARS (You, Gitman, Ginsburg 2017, Algorithm 1):
-- local lr = trust_coef ||w|| / (||g|| + wd ||w|| + eps).
U.LARS = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p = x.p
  local param_norm, grad_norm = r(sqrt(sumsq(p, x.w))), r(sqrt(sumsq(g, x.w)))
  local alr = 1.0
  if param_norm > 0 and grad_norm > 0 then
    local divisor = r(r(grad_norm + r(r(h.weight_decay) * param_norm)) + r(h.eps))
    alr = r(r(param_norm / divisor) * r(h.trust_coef))
  end
  local d = {}
  for j = 1, #p do d[j] = r(r(g[j] + r(r(h.weight_decay) * p[j])) * alr) end
  if h.momentum ~= 0 then
    local buf = s.momentum_buffer
    for j = 1, #p do
      if o.t == 1 then buf[j] = d[j]
      else buf[j] = r(r(buf[j] * r(h.momentum)) + r(r(1 - h.dampening) * d[j])) end
      if h.nesterov then d[j] = r(d[j] + r(r(h.momentum) * buf[j])) else d[j] = buf[j] end
    end
  end
  for j = 1, #p do p[j] = r(p[j] + r(r(-h.lr) * d[j])) end
end

-- tensorflow/addons @ 23bd494cd4b13adccc0985fce6da65c6542f672e, tensorflow_addons/optimizers/yogi.py,
-- Yogi._resource_apply_dense with activation = "sign" (the default); all in the variable's dtype.
-- (beta1 = 0 takes the gradient for m: m = 0 m + 1 g = g exactly, so one path serves.)
U.Yogi = function(o, s, x, g)
  local r, h, t = o.r, o.hp, o.t
  local p, m, v = x.p, s.m, s.v
  local b1, b2 = r(h.beta1), r(h.beta2)
  local lr = r(r(r(h.lr) * r(sqrt(r(1 - r(b2 ^ t))))) / r(1 - r(b1 ^ t)))
  local l1, l2 = r(h.l1), r(h.l2)
  for j = 1, #p do
    m[j] = r(r(m[j] * b1) + r(g[j] * r(1 - b1)))
    local grad2 = r(g[j] * g[j])
    local sg = sign(r(grad2 - v[j]))
    v[j] = r(v[j] + r(r(r(1 - b2) * sg) * grad2))
    local per_coord_lr = r(lr / r(r(sqrt(v[j])) + r(h.eps)))
    local new = r(p[j] - r(per_coord_lr * m[j]))
    if h.l1 > 0 then
      local a, b, c = r(1 + r(l2 * per_coord_lr)), -new, r(l1 * per_coord_lr)
      local w = r(r(r(c * sign(b)) - b) / a)
      new = (abs(b) > c and 1 or 0) * w
    elseif h.l2 > 0 then
      new = r(new / r(1 + r(l2 * per_coord_lr)))
    end
    p[j] = new
  end
end

-- Luolc/AdaBound @ d5bb5ffcea39f5733d642567e7fc55cb35ef6c82, adabound/adabound.py, AdaBound.step
-- (amsbound left out). base_lr is the lr the optimizer was built with (o.base_lr).
U.AdaBound = function(o, s, x, g)
  local r, h, t = o.r, o.hp, o.t
  local p, m, v = x.p, s.exp_avg, s.exp_avg_sq
  local bc1, bc2 = 1 - h.beta1 ^ t, 1 - h.beta2 ^ t
  local step_size = h.lr * sqrt(bc2) / bc1
  local final_lr = h.final_lr * h.lr / o.base_lr
  local lower = final_lr * (1 - 1 / (h.gamma * t + 1))
  local upper = final_lr * (1 + 1 / (h.gamma * t))
  for j = 1, #p do
    local gj = g[j]
    if h.weight_decay ~= 0 then gj = r(gj + r(r(h.weight_decay) * p[j])) end
    m[j] = r(r(m[j] * r(h.beta1)) + r(r(1 - h.beta1) * gj))
    v[j] = r(r(v[j] * r(h.beta2)) + r(r(r(1 - h.beta2) * gj) * gj))
    local denom = r(r(sqrt(v[j])) + r(h.eps))
    local ss = r(r(step_size) / denom)
    ss = min(max(ss, r(lower)), r(upper))
    ss = r(ss * m[j])
    p[j] = r(p[j] + -ss)
  end
end

-- facebookresearch/qhoptim @ 297fa0926de8215e02ff7fe5a703b0e534cd6a6c, qhoptim/pyt/qhadam.py,
-- QHAdam.step. beta weights: w <- 1 + beta w (Python floats); beta_adj = 1 - 1/w.
U.QHAdam = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p, m, v = x.p, s.exp_avg, s.exp_avg_sq
  s.beta1_weight = 1.0 + h.beta1 * (s.beta1_weight or 0)
  s.beta2_weight = 1.0 + h.beta2 * (s.beta2_weight or 0)
  local adj1, adj2 = 1.0 - 1.0 / s.beta1_weight, 1.0 - 1.0 / s.beta2_weight
  for j = 1, #p do
    local d = g[j]
    if h.weight_decay ~= 0 then
      if h.decouple_weight_decay then p[j] = r(p[j] * r(1 - h.lr * h.weight_decay))
      else d = r(d + r(r(h.weight_decay) * p[j])) end
    end
    local d_sq = r(d * d)
    m[j] = r(r(m[j] * r(adj1)) + r(r(1.0 - adj1) * d))
    v[j] = r(r(v[j] * r(adj2)) + r(r(1.0 - adj2) * d_sq))
    local avg = r(m[j] * r(h.nu1))
    if h.nu1 ~= 1.0 then avg = r(avg + r(r(1.0 - h.nu1) * d)) end
    local rms = r(v[j] * r(h.nu2))
    if h.nu2 ~= 1.0 then rms = r(rms + r(r(1.0 - h.nu2) * d_sq)) end
    rms = r(sqrt(rms))
    if h.eps ~= 0.0 then rms = r(rms + r(h.eps)) end
    p[j] = r(p[j] + r(r(-h.lr) * r(avg / rms)))
  end
end

-- AtheMathmo/AggMo @ 5e8ae39a965d0320a12713687f1fa5135ce9e6de, src/aggmo.py, AggMo.step with
-- three betas (the default [0.0, 0.9, 0.99]); p moves once per buffer, by lr/K each.
U.AggMo = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p = x.p
  local betas = { h.beta1, h.beta2, h.beta3 }
  local total_mom = 3.0
  for j = 1, #p do
    local d = g[j]
    if h.weight_decay ~= 0 then d = r(d + r(r(h.weight_decay) * p[j])) end
    for k = 1, 3 do
      local buf = s["buf" .. k]
      buf[j] = r(r(buf[j] * r(betas[k])) + d)
      p[j] = r(p[j] - r(r(h.lr / total_mom) * buf[j]))
    end
  end
end

-- NVIDIA/apex: apex/optimizers/fused_novograd.py @ 007c59472a94c69683b9315ee6844bcde1b15997
-- (FusedNovoGrad.step: the per-tensor norm starts at the first step's norm unless init_zero)
-- and csrc/multi_tensor_novograd.cu @ 14db5c27acbe7c122794e11e94c205d0e4c8462e (NovoGradFunctor,
-- bias_correction2 = sqrt(1 - beta2^t)); the norm blend gn = sqrt(b2 gn^2 + (1 - b2) sum g^2) is
-- cleanup_v2 in csrc/multi_tensor_l2norm_kernel.cu @ 02085f0d4f3753309e25078e1e62679c75f93016.
U.NovoGrad = function(o, s, x, g)
  local r, h, t = o.r, o.hp, o.t
  local p, m = x.p, s.exp_avg
  if s.grad_norm == nil then s.grad_norm = h.init_zero and 0 or r(sqrt(sumsq(g, x.w))) end
  s.grad_norm = r(sqrt(r(r(r(h.beta2) * s.grad_norm) * s.grad_norm) + r(r(1 - h.beta2) * r(sumsq(g, x.w)))))
  local bc1, bc2 = 1, 1
  if h.bias_correction then bc1, bc2 = r(1 - r(h.beta1 ^ t)), r(sqrt(1 - r(h.beta2 ^ t))) end
  local beta3 = h.grad_averaging and r(1 - h.beta1) or 1
  local b1, decay, lr, eps = r(h.beta1), r(h.weight_decay), r(h.lr), r(h.eps)
  for j = 1, #p do
    if h.reg_inside_moment then
      local denom = r(r(s.grad_norm / bc2) + eps)
      local gj = r(r(g[j] / denom) + r(decay * p[j]))
      m[j] = r(r(b1 * m[j]) + r(beta3 * gj))
      p[j] = r(p[j] - r(lr * r(m[j] / bc1)))
    else
      m[j] = r(r(b1 * m[j]) + r(beta3 * g[j]))
      local next_m_unbiased = r(m[j] / bc1)
      local denom = r(r(s.grad_norm / bc2) + eps)
      local update = r(r(next_m_unbiased / denom) + r(decay * p[j]))
      p[j] = r(p[j] - r(lr * update))
    end
  end
end

-- loshchil/AdamW-and-SGDW @ 7e882457e25283a4e3bd26711dc47385680cefcf, UPDATETORCHFILES/sgd.lua,
-- optim.sgd with config.sgd_type = 1 (SGDW: the decay x <- x - wd_t x_old after the step; the
-- authors' train.lua sets weightDecaycurrent per batch, here the weight_decay hyperparameter).
-- Momentum buffer: a copy of the gradient at the first step, then mom buf + (1 - damp) g.
U.SGDW = function(o, s, x, g)
  local r, h, t = o.r, o.hp, o.t
  local p = x.p
  local clr = h.lr / (1 + (t - 1) * h.lr_decay)
  for j = 1, #p do
    local d = g[j]
    if h.momentum ~= 0 then
      local buf = s.dfdx
      if t == 1 then buf[j] = d else buf[j] = r(r(buf[j] * r(h.momentum)) + r(r(1 - h.dampening) * d)) end
      if h.nesterov then d = r(d + r(r(h.momentum) * buf[j])) else d = buf[j] end
    end
    local xold = p[j]
    p[j] = r(p[j] + r(r(-clr) * d))
    p[j] = r(p[j] + r(r(-h.weight_decay) * xold))
  end
end

-- apache/mxnet src/operator/optimizer_op-inl.h, SignumKernel (momentum > 0) and SignSGDKernel
-- (momentum = 0: python/mxnet/optimizer Signum.create_state gives no state, update calls
-- signsgd_update), the optimizer the signSGD authors (jxbz/signSGD README) contributed and used.
-- The kernel keeps mom with the opposite sign: mom = momentum mom - (1-momentum) wd w - (1-momentum) g;
-- w = (1 - lr wd_lh) w + lr sign(mom).
U.Signum = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p = x.p
  local mu, lr, wd = r(h.momentum), r(h.lr), r(h.weight_decay)
  for j = 1, #p do
    if h.momentum > 0 then
      local mom = s.mom
      mom[j] = r(r(r(mu * mom[j]) - r(r(r(1 - mu) * wd) * p[j])) - r(r(1 - mu) * g[j]))
      p[j] = r(r(r(1 - r(lr * r(h.wd_lh))) * p[j]) + r(lr * sign(mom[j])))
    else
      p[j] = r(r(r(1 - r(lr * wd)) * p[j]) - r(lr * sign(g[j])))
    end
  end
end

-- facebookresearch/schedule_free @ f8292d7f757d470d99aa7a2b810c702f55cd765e,
-- schedulefree/sgd_schedulefree_reference.py, SGDScheduleFreeReference.step. z, x, y start as
-- copies of the parameter; the parameter is y (train mode). Group scalars: k, lr_max, weight_sum.
PRE.ScheduleFreeSGD = function(o)
  local h, k = o.hp, o.t - 1
  local sched = k < h.warmup_steps and (k + 1) / h.warmup_steps or 1.0
  o.lr = h.lr * sched
  o.lr_max = max(o.lr, o.lr_max or -1.0)
  local weight = (k + 1) ^ h.r * o.lr_max ^ h.weight_lr_power
  o.weight_sum = (o.weight_sum or 0.0) + weight
  o.ckp1 = o.weight_sum ~= 0 and weight / o.weight_sum or 0
end
U.ScheduleFreeSGD = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p = x.p
  if not s.z then s.z, s.x, s.y = copy(p), copy(p), copy(p) end
  local z, xs, y = s.z, s.x, s.y
  for j = 1, #p do
    local gj = g[j]
    if h.weight_decay ~= 0 then gj = r(gj + r(r(h.weight_decay) * y[j])) end
    z[j] = r(z[j] - r(r(o.lr) * gj))
    xs[j] = r(r(xs[j] * r(1 - o.ckp1)) + r(r(o.ckp1) * z[j]))
    y[j] = r(r(xs[j] * r(h.momentum)) + r(r(1 - h.momentum) * z[j]))
    p[j] = y[j]
  end
end

-- facebookresearch/schedule_free @ 43e5c2d978920e1a3707a7609662c72b56401e62,
-- schedulefree/adamw_schedulefree_reference.py, AdamWScheduleFreeReference.step:
-- lr_t = lr sched (the average's weight uses lr_max^weight_lr_power), denominator
-- sqrt(v / (1 - beta2^(k+1))) + eps; the weight decay moves z by lr_t wd y (or z);
-- inner_momentum (default 0) averages the gradient first (0: exactly the gradient).
PRE.ScheduleFreeAdamW = function(o)
  local h, k = o.hp, o.t - 1
  local sched = k < h.warmup_steps and (k + 1) / h.warmup_steps or 1.0
  o.bc2 = 1 - h.beta2 ^ (k + 1)
  o.bc1 = 1 - h.inner_momentum ^ (k + 1)
  o.lr = h.lr * sched
  o.lr_max = max(o.lr, o.lr_max or -1.0)
  local weight = (k + 1) ^ h.r * o.lr_max ^ h.weight_lr_power
  o.weight_sum = (o.weight_sum or 0.0) + weight
  o.ckp1 = o.weight_sum ~= 0 and weight / o.weight_sum or 0
end
U.ScheduleFreeAdamW = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p = x.p
  if not s.z then s.z, s.x, s.y = copy(p), copy(p), copy(p) end
  local z, xs, y, v, m = s.z, s.x, s.y, s.exp_avg_sq, s.exp_avg
  for j = 1, #p do
    if h.weight_decay ~= 0 then
      local point = h.decay_at_z and z[j] or y[j]
      z[j] = r(z[j] - r(r(o.lr * h.weight_decay) * point))
    end
    v[j] = r(r(v[j] * r(h.beta2)) + r(r(r(1 - h.beta2) * g[j]) * g[j]))
    local denom = r(r(sqrt(r(v[j] / r(o.bc2)))) + r(h.eps))
    local num = g[j]
    if h.inner_momentum ~= 0 then
      m[j] = r(r(m[j] * r(h.inner_momentum)) + r(r(1 - h.inner_momentum) * g[j]))
      num = r(m[j] / r(o.bc1))
    end
    z[j] = r(z[j] + r(r(-o.lr) * r(num / denom)))
    xs[j] = r(r(xs[j] * r(1 - o.ckp1)) + r(r(o.ckp1) * z[j]))
    y[j] = r(r(xs[j] * r(h.beta1)) + r(r(1 - h.beta1) * z[j]))
    p[j] = y[j]
  end
end

-- facebookresearch/madgrad @ bdbd2d760cb5e73f8f1acb287b3844a29f75282d, madgrad/madgrad.py,
-- MADGRAD.step (dense path): lr + eps when lr ~= 0, lamb = lr (k+1)^0.5, dual averaging from x0
-- (the first step's parameter; with momentum = 0, x0 is recovered from s every step).
U.MADGRAD = function(o, s, x, g)
  local r, h = o.r, o.hp
  local p = x.p
  local lr = h.lr ~= 0 and h.lr + h.eps or h.lr
  local ck = 1 - h.momentum
  local lamb = lr * (o.t ^ 0.5)
  if not s.x0 and h.momentum ~= 0 then s.x0 = copy(p) end
  local gss, ss = s.grad_sum_sq, s.s
  for j = 1, #p do
    local gj = g[j]
    if h.weight_decay ~= 0 and not h.decouple_decay then gj = r(gj + r(r(h.weight_decay) * p[j])) end
    local x0
    if h.momentum == 0 then
      local rms0 = r(r(gss[j] ^ (1 / 3)) + r(h.eps))
      x0 = r(p[j] + r(ss[j] / rms0))
    else x0 = s.x0[j] end
    gss[j] = r(gss[j] + r(r(r(lamb) * gj) * gj))
    local rms = r(r(gss[j] ^ (1 / 3)) + r(h.eps))
    if rms == 0 then rms = math.huge end
    ss[j] = r(ss[j] + r(r(lamb) * gj))
    local p_old = p[j]
    if h.momentum == 0 then p[j] = r(x0 - r(ss[j] / rms))
    else
      local z = r(x0 - r(ss[j] / rms))
      p[j] = r(r(p[j] * r(1 - ck)) + r(r(ck) * z))
    end
    if h.weight_decay ~= 0 and h.decouple_decay then p[j] = r(p[j] + r(r(-lr * h.weight_decay) * p_old)) end
  end
end

-- apple/ml-ademamix @ e7327151bbf2c812ae2c080de5491c685b6eb509, pytorch/ademamix.py, AdEMAMix.step
-- with linear_warmup_scheduler (alpha) and linear_hl_warmup_scheduler (beta3, linear in half-life);
-- warmups of 0 stand for the authors' None.
PRE.AdEMAMix = function(o)
  local h, t = o.hp, o.t
  o.alpha, o.beta3 = h.alpha, h.beta3
  if h.alpha_warmup > 0 and t < h.alpha_warmup then
    local a = t / h.alpha_warmup
    o.alpha = (1.0 - a) * 0 + a * h.alpha
  end
  if h.beta3_warmup > 0 and t < h.beta3_warmup then
    local function f(beta) return math.log(0.5) / math.log(beta + 1e-8) - 1 end
    local a = t / h.beta3_warmup
    o.beta3 = 0.5 ^ (1 / (((1.0 - a) * f(h.beta1) + a * f(h.beta3)) + 1))
  end
end
U.AdEMAMix = function(o, s, x, g)
  local r, h, t = o.r, o.hp, o.t
  local p, m1, m2, nu = x.p, s.exp_avg_fast, s.exp_avg_slow, s.exp_avg_sq
  local bc1, bc2 = 1 - h.beta1 ^ t, 1 - h.beta2 ^ t
  for j = 1, #p do
    local fast
    if h.beta1 ~= 0 then
      m1[j] = r(r(m1[j] * r(h.beta1)) + r(r(1 - h.beta1) * g[j]))
      fast = m1[j]
    else fast = g[j] end
    m2[j] = r(r(m2[j] * r(o.beta3)) + r(r(1 - o.beta3) * g[j]))
    nu[j] = r(r(nu[j] * r(h.beta2)) + r(r(r(1 - h.beta2) * g[j]) * g[j]))
    local denom = r(r(r(sqrt(nu[j])) / r(sqrt(bc2))) + r(h.eps))
    local update = r(r(r(fast / r(bc1)) + r(r(o.alpha) * m2[j])) / denom)
    update = r(update + r(r(h.weight_decay) * p[j]))
    p[j] = r(p[j] + r(r(-h.lr) * update))
  end
end

-- L.new(name, hp, r): an optimizer over lists of held tensors. :step(xs, gs) performs one
-- step of every tensor (xs[i] = { p = array, w = multiplicities }, gs[i] = gradient array).
local STATE = {
  AdaBelief = { "exp_avg", "exp_avg_var" }, Adan = { "exp_avg", "exp_avg_sq", "exp_avg_diff" },
  AdanOriginal = { "exp_avg", "exp_avg_sq", "exp_avg_diff" }, LAMB = { "exp_avg", "exp_avg_sq" },
  LARS = { "momentum_buffer" }, Yogi = { "m", "v" }, AdaBound = { "exp_avg", "exp_avg_sq" },
  QHAdam = { "exp_avg", "exp_avg_sq" }, AggMo = { "buf1", "buf2", "buf3" }, NovoGrad = { "exp_avg" },
  SGDW = { "dfdx" }, Signum = { "mom" }, MADGRAD = { "grad_sum_sq", "s" },
  AdEMAMix = { "exp_avg_fast", "exp_avg_slow", "exp_avg_sq" }, ScheduleFreeSGD = {},
  ScheduleFreeAdamW = { "exp_avg_sq", "exp_avg" },
}

function L.new(name, hp, r)
  if name == "Prodigy" then return L.prodigy(hp, r) end
  if name == "Muon" then return L.muon(hp, r) end
  if name == "Adafactor" then return L.adafactor(hp, r) end
  local d = L.DEFAULTS[name] or L.DEFAULTS[name:gsub("Original$", "")]
  local h = {}
  for k, v in pairs(d) do h[k] = v end
  for k, v in pairs(hp or {}) do h[k] = v end
  local o = { name = name, hp = h, r = r or id, t = 0, states = {}, base_lr = h.lr }
  function o:step(xs, gs)
    self.t = self.t + 1
    if PRE[name] then PRE[name](self) end
    for i, x in ipairs(xs) do
      local s = self.states[i]
      if not s then
        s = {}
        for _, b in ipairs(STATE[name]) do
          s[b] = zeros(#x.p)
          if name == "Yogi" and b == "v" then for j = 1, #x.p do s.v[j] = self.r(h.initial_accumulator) end end
        end
        self.states[i] = s
      end
      U[name](self, s, x, gs[i])
    end
  end
  return o
end

-- konstmish/prodigy @ a1b4f0eff7ef988ac10d6f11f26b0da15d254588, prodigyopt/prodigy.py,
-- Prodigy.step (one group, slice_p = 1, no FSDP): d_numerator and d_denom are sums over ALL
-- parameters (Python floats: .item() of float32 reductions), and the new d enters every
-- tensor's denominator in the same step (a global reduction, then an element stage).
function L.prodigy(hp, r)
  r = r or id
  local h = {}
  for k, v in pairs(L.DEFAULTS.Prodigy) do h[k] = v end
  for k, v in pairs(hp or {}) do h[k] = v end
  local o = { hp = h, d = h.d0, d_max = h.d0, d_numerator = 0.0, k = 0, states = {} }
  function o:step(xs, gs)
    local beta1, beta2 = h.beta1, h.beta2
    local beta3 = h.beta3 or sqrt(beta2)
    local k, d, lr = self.k, self.d, h.lr
    local bias_correction = 1
    if h.use_bias_correction then bias_correction = (1 - beta2 ^ (k + 1)) ^ 0.5 / (1 - beta1 ^ (k + 1)) end
    local dlr = d * lr * bias_correction
    local d_numerator, delta_numerator, d_denom = self.d_numerator * beta3, 0.0, 0.0
    for i, x in ipairs(xs) do
      local p, g = x.p, copy(gs[i])
      if h.weight_decay ~= 0 and not h.decouple then for j = 1, #p do g[j] = r(g[j] + r(r(h.weight_decay) * p[j])) end end
      x.g = g
      local s = self.states[i]
      if not s then
        s = { s = zeros(#p), p0 = copy(p), exp_avg = zeros(#p), exp_avg_sq = zeros(#p) }
        self.states[i] = s
      end
      local diff = {}
      for j = 1, #p do diff[j] = r(s.p0[j] - p[j]) end
      delta_numerator = delta_numerator + (d / h.d0) * dlr * r(dot(g, diff, x.w))
      for j = 1, #p do
        if beta1 > 0 then s.exp_avg[j] = r(r(s.exp_avg[j] * r(beta1)) + r(r(d * (1 - beta1)) * g[j])) end
        s.exp_avg_sq[j] = r(r(s.exp_avg_sq[j] * r(beta2)) + r(r(r(d * d * (1 - beta2)) * g[j]) * g[j]))
        if h.safeguard_warmup then s.s[j] = r(r(s.s[j] * r(beta3)) + r(r((d / h.d0) * d) * g[j]))
        else s.s[j] = r(r(s.s[j] * r(beta3)) + r(r((d / h.d0) * dlr) * g[j])) end
      end
      d_denom = d_denom + r(sumabs(s.s, x.w))
    end
    if d_denom == 0 then return end
    local global_d_numerator = d_numerator + delta_numerator
    local d_hat = h.d_coef * global_d_numerator / d_denom
    if d == h.d0 then d = max(d, d_hat) end
    self.d_max = max(self.d_max, d_hat)
    d = min(self.d_max, d * h.growth_rate)
    self.d, self.d_numerator = d, global_d_numerator
    for i, x in ipairs(xs) do
      local p, s = x.p, self.states[i]
      for j = 1, #p do
        local denom = r(r(sqrt(s.exp_avg_sq[j])) + r(d * h.eps))
        if h.weight_decay ~= 0 and h.decouple then p[j] = r(p[j] + r(r(-h.weight_decay * dlr) * p[j])) end
        if beta1 > 0 then p[j] = r(p[j] + r(r(-dlr) * r(s.exp_avg[j] / denom)))
        else p[j] = r(p[j] + r(r(-dlr * d) * r(x.g[j] / denom))) end
      end
    end
    self.k = k + 1
  end
  return o
end

-- KellerJordan/Muon @ 5bc6993fe1506fd39d5defe80b5c18c0244100a7, muon.py, SingleDeviceMuon.step,
-- muon_update and zeropower_via_newtonschulz5 (torch.lerp_'s two forms; Newton-Schulz in the
-- working precision, where the author uses bfloat16): a matrix stage (X X^T products).
-- x = { p = array (row-major), rows = , cols = }.
local function matmul(a, ar, ac, b, bc, r)      -- (ar x ac) (ac x bc), row-major arrays
  local c = {}
  for i = 1, ar do
    for j = 1, bc do
      local acc = 0
      for k = 1, ac do acc = r(acc + r(a[(i - 1) * ac + k] * b[(k - 1) * bc + j])) end
      c[(i - 1) * bc + j] = acc
    end
  end
  return c
end
local function transpose(a, ar, ac)
  local c = {}
  for i = 1, ar do for j = 1, ac do c[(j - 1) * ar + i] = a[(i - 1) * ac + j] end end
  return c
end
function L.newton_schulz5(G, rows, cols, steps, r)
  r = r or id
  local a, b, c = 3.4445, -4.7750, 2.0315
  local X, R, C = copy(G), rows, cols
  local tall = rows > cols
  if tall then X, R, C = transpose(X, rows, cols), cols, rows end
  local nrm = r(r(sqrt(sumsq(X))) + r(1e-7))
  for j = 1, #X do X[j] = r(X[j] / nrm) end
  for _ = 1, steps do
    local A = matmul(X, R, C, transpose(X, R, C), R, r)          -- R x R
    local AA = matmul(A, R, R, A, R, r)
    local B = {}
    for j = 1, #A do B[j] = r(r(r(b) * A[j]) + r(r(c) * AA[j])) end
    local BX = matmul(B, R, R, X, C, r)
    for j = 1, #X do X[j] = r(r(r(a) * X[j]) + BX[j]) end
  end
  if tall then X = transpose(X, R, C) end
  return X
end
-- torch.lerp_(self, end, w): self + w (end - self) for |w| < 0.5, else end - (end - self)(1 - w)
local function lerp(a, b, w, r)
  if abs(w) < 0.5 then return r(a + r(r(w) * r(b - a))) end
  return r(b - r(r(b - a) * r(1 - w)))
end
function L.muon(hp, r)
  r = r or id
  local h = {}
  for k, v in pairs(L.DEFAULTS.Muon) do h[k] = v end
  for k, v in pairs(hp or {}) do h[k] = v end
  local o = { hp = h, states = {} }
  function o:step(xs, gs)
    for i, x in ipairs(xs) do
      local p, g = x.p, copy(gs[i])
      local buf = self.states[i] or zeros(#p)
      self.states[i] = buf
      for j = 1, #p do buf[j] = lerp(buf[j], g[j], 1 - h.momentum, r) end           -- momentum.lerp_(grad, 1 - beta)
      local u = {}
      for j = 1, #p do u[j] = h.nesterov and lerp(g[j], buf[j], h.momentum, r) or buf[j] end   -- grad.lerp_(momentum, beta)
      u = L.newton_schulz5(u, x.rows, x.cols, h.ns_steps, r)
      local scale = max(1, x.rows / x.cols) ^ 0.5
      for j = 1, #p do
        u[j] = r(u[j] * r(scale))
        p[j] = r(p[j] * r(1 - h.lr * h.weight_decay))
        p[j] = r(p[j] + r(r(-h.lr) * u[j]))
      end
    end
  end
  return o
end

-- tensorflow/tensor2tensor @ 02999ee5052a3b4674765dcaf8e05624ee3a9571, tensor2tensor/utils/adafactor.py
-- (Shazeer's; AdafactorOptimizer._resource_apply_dense with its defaults: relative step
-- min(1/sqrt(t), 0.01) times max(rms(p), 1e-3), decay 1 - t^-0.8, update clipping at rms 1,
-- beta1 = 0, factored for 2-d tensors), including its 1e-30 "HACK" terms; the factored second
-- moment needs row and column means.
-- x = { p = array (row-major), rows = , cols = } (rows/cols absent: a vector, v unfactored).
function L.adafactor(hp, r)
  r = r or id
  local h = { multiply_by_parameter_scale = true, beta1 = 0.0, clipping_threshold = 1.0, factored = true }
  for k, v in pairs(hp or {}) do h[k] = v end
  -- the declaration's names: relative_step = false gives learning_rate = lr; decay 1 - t^-decay_exponent
  if h.relative_step == false then h.learning_rate = h.lr end
  local exponent = h.decay_exponent or 0.8
  local o = { hp = h, global_step = 0, states = {} }
  local function rms(a, w, n) return r(sqrt(r(sumsq(a, w)) / n)) end
  function o:step(xs, gs)
    local step_num = self.global_step                -- the global step before this update
    for i, x in ipairs(xs) do
      local p, g = x.p, gs[i]
      local n = 0
      for j = 1, #p do n = n + (x.w and x.w[j] or 1) end
      local st = self.states[i]
      local factored = h.factored and x.rows ~= nil
      if not st then
        st = { m = zeros(#p) }
        if factored then st.vr, st.vc = zeros(x.rows), zeros(x.cols) else st.v = zeros(#p) end
        self.states[i] = st
      end
      local gsq = {}
      for j = 1, #p do gsq[j] = r(r(g[j] * g[j]) + r(1e-30)) end
      local gsq_mean = 0
      for j = 1, #p do gsq_mean = gsq_mean + (x.w and x.w[j] or 1) * gsq[j] end
      gsq_mean = r(gsq_mean / n)
      local decay_rate = h.decay_rate or r(1.0 - r((step_num + 1.0) ^ -exponent))
      local update_scale = h.learning_rate or r(min(r(1 / sqrt(step_num + 1.0)), 0.01))
      if h.learning_rate == nil and not h.multiply_by_parameter_scale then update_scale = r(update_scale * 0.05) end
      if h.multiply_by_parameter_scale then update_scale = r(update_scale * r(max(rms(p, x.w, n), 0.001))) end
      decay_rate = r(decay_rate + r(gsq_mean * r(1e-30)))
      update_scale = r(update_scale + r(gsq_mean * r(1e-30)))
      local mixing_rate = r(1.0 - decay_rate)
      local u = {}
      if factored then
        local R, Cn = x.rows, x.cols
        for rr = 1, R do
          local acc = 0
          for c = 1, Cn do acc = acc + gsq[(rr - 1) * Cn + c] end
          st.vr[rr] = r(r(decay_rate * st.vr[rr]) + r(mixing_rate * r(acc / Cn)))
        end
        for c = 1, Cn do
          local acc = 0
          for rr = 1, R do acc = acc + gsq[(rr - 1) * Cn + c] end
          st.vc[c] = r(r(decay_rate * st.vc[c]) + r(mixing_rate * r(acc / R)))
        end
        local long_term_mean = 0
        for rr = 1, R do long_term_mean = long_term_mean + st.vr[rr] end
        long_term_mean = r(long_term_mean / R)
        for rr = 1, R do
          local r_factor = r(1 / r(sqrt(r(st.vr[rr] / long_term_mean))))
          for c = 1, Cn do
            local j = (rr - 1) * Cn + c
            u[j] = r(r(g[j] * r_factor) * r(1 / r(sqrt(st.vc[c]))))
          end
        end
      else
        for j = 1, #p do
          st.v[j] = r(r(decay_rate * st.v[j]) + r(mixing_rate * gsq[j]))
          u[j] = r(g[j] * r(1 / r(sqrt(st.v[j]))))
        end
      end
      if h.clipping_threshold then
        local clipping_denom = max(1.0, r(rms(u, x.w, n) / h.clipping_threshold))
        for j = 1, #p do u[j] = r(u[j] / clipping_denom) end
      end
      for j = 1, #p do
        local subtrahend = r(update_scale * u[j])
        if h.beta1 ~= 0 then
          st.m[j] = r(r(h.beta1 * st.m[j]) + r((1.0 - h.beta1) * subtrahend))
          subtrahend = st.m[j]
        end
        p[j] = r(p[j] - subtrahend)
      end
    end
    self.global_step = self.global_step + 1
  end
  return o
end

return L
