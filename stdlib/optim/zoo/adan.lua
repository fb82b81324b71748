-- Adan as its authors' adan.py runs it (sail-sg/Adan @ f0b1b818913a89888d59aeeddb9315bf90a23192,
-- _single_tensor_adan): the gradient difference is 0 at the first step; the proximal weight decay
-- divides by 1 + lr wd after the step (no_prox: multiplies by 1 - lr wd before). Adan's own global
-- max_grad_norm clipping is optlab's global_clip_norm option.
return {
  name = "Adan",
  doc = [[Adan (Xie, Zhou, Li, Lin, Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing
Deep Models", IEEE TPAMI 2024, arXiv:2208.06677; authors' code https://github.com/sail-sg/Adan):
  d = g - g_prev (0 at t = 1);  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) d;  u = g + b2 d
  n = b3 n + (1-b3) u^2;  denom = sqrt(n)/sqrt(1-b3^t) + eps
  p = p - lr/(1-b1^t) m/denom - lr b2/(1-b2^t) v/denom;  p = p / (1 + lr wd)
  (no_prox: p = p (1 - lr wd) before the step instead)]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.98, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.92, range = "[0, 1)", alias = { "beta_2" } },
    { "beta3", 0.99, range = "[0, 1)", alias = { "beta_3" } },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "no_prox", false },
  },
  state = { m = 0, v = 0, n = 0, g_prev = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local d = fn.where(fn.gt(t, 1), g - s.g_prev, 0)
    s.m = s.m * h.beta1 + (1 - h.beta1) * g
    s.v = s.v * h.beta2 + (1 - h.beta2) * d
    local u = d * h.beta2 + g
    s.n = s.n * h.beta3 + (1 - h.beta3) * (u * u)
    s.g_prev = g
    local denom = fn.sqrt(s.n) / fn.sqrt(1 - h.beta3 ^ t) + h.eps
    local step_size, step_size_diff = h.lr / (1 - h.beta1 ^ t), h.lr * h.beta2 / (1 - h.beta2 ^ t)
    if h.no_prox then p = p * (1 - h.lr * h.weight_decay) end
    p = p + (-step_size) * (s.m / denom)
    p = p + (-step_size_diff) * (s.v / denom)
    if not h.no_prox then p = p / (1 + h.lr * h.weight_decay) end
    return p
  end,
}
