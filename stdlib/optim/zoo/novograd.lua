-- NovoGrad as NVIDIA apex's FusedNovoGrad runs it (apex/optimizers/fused_novograd.py @
-- 007c59472a94c69683b9315ee6844bcde1b15997, csrc/multi_tensor_novograd.cu @
-- 14db5c27acbe7c122794e11e94c205d0e4c8462e): a per-tensor second moment kept as a norm,
-- v = sqrt(b2 v^2 + (1-b2) ||g||^2), starting at the first gradient's norm (init_zero: at 0).
-- norm_type = 0 (max-norm) is not declared: the first engine has no max reduction.
return {
  name = "NovoGrad",
  doc = [[NovoGrad (Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li, Nguyen, Zhang, Cohen,
"Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of Deep Networks", 2019,
arXiv:1905.11286; code as in NVIDIA apex FusedNovoGrad, https://github.com/NVIDIA/apex):
  v = sqrt(b2 v^2 + (1-b2) ||g||^2)   (per tensor; v = ||g|| at t = 1 unless init_zero)
  d = v/sqrt(1-b2^t) + eps;  m = b1 m + (1-b1) g
  p = p - lr ((m/(1-b1^t)) / d + wd p)
  (reg_inside_moment: m = b1 m + (1-b1)(g/d + wd p); p = p - lr m/(1-b1^t))]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "bias_correction", true },
    { "reg_inside_moment", false },
    { "grad_averaging", true },
    { "init_zero", false },
  },
  state = { m = 0 },
  scalars = { v = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local n2 = fn.sumsq(g)
    local v = s.v
    if not h.init_zero then v = fn.where(fn.le(t, 1), fn.sqrt(n2), s.v) end
    s.v = fn.sqrt(h.beta2 * v * v + (1 - h.beta2) * n2)
    local bc1, bc2 = 1, 1
    if h.bias_correction then bc1, bc2 = 1 - h.beta1 ^ t, fn.sqrt(1 - h.beta2 ^ t) end
    local b3 = h.grad_averaging and (1 - h.beta1) or 1
    local denom = s.v / bc2 + h.eps
    if h.reg_inside_moment then
      s.m = h.beta1 * s.m + b3 * (g / denom + h.weight_decay * p)
      return p - h.lr * (s.m / bc1)
    end
    s.m = h.beta1 * s.m + b3 * g
    return p - h.lr * ((s.m / bc1) / denom + h.weight_decay * p)
  end,
}
