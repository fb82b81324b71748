-- Prodigy as its authors' prodigy.py runs it (konstmish/prodigy @ a1b4f0eff7ef988ac10d6f11f26b0da15d254588,
-- Prodigy.step; one parameter group, slice_p = 1): the step size d is one number for all parameters
-- (globals), estimated from sums over every parameter (fn.global_sum) and used, new, in the same step's
-- denominator. p0, the starting point, is each parameter at the first update (taken when t = 1).
return {
  name = "Prodigy",
  doc = [[Prodigy (Mishchenko, Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner", ICML 2024,
arXiv:2306.06101; authors' code https://github.com/konstmish/prodigy):
  dlr = d lr (bias correction: sqrt(1-b2^t)/(1-b1^t));  g = g + wd p unless decouple
  m = b1 m + d(1-b1) g;  v = b2 v + d^2(1-b2) g^2;  s = b3 s + (d/d0) dlr g   (beta3 = -1: sqrt(b2), the authors' None)
  r = b3 r + (d/d0) dlr sum <g, p0 - p>;  d_hat = d_coef r / sum |s|   (sums over all parameters)
  d = max(d, d_hat) while d = d0;  d_max = max(d_max, d_hat);  d = min(d_max, d growth_rate)
  p = p - dlr wd p (decouple);  p = p - dlr m / (sqrt(v) + d eps)]],
  hyper = {
    { "lr", 1.0, range = "(0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "beta3", -1, range = "[-1, 1)" },          -- -1: the authors' None, sqrt(beta2)
    { "eps", 1e-8, range = "(0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "decouple", true },
    { "use_bias_correction", false },
    { "safeguard_warmup", false },
    { "d0", 1e-6, range = "(0, inf)" },
    { "d_coef", 1.0, range = "(0, inf)" },
    { "growth_rate", math.huge, range = "(0, inf]" },
  },
  state = { m = 0, v = 0, s = 0, p0 = 0 },
  -- d0_stored: d0 as the globals hold it (float32), so that "d is still d0" compares like with like
  globals = { d = "d0", d_max = "d0", numerator = 0, d0_stored = "d0" },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local b1, b2 = h.beta1, h.beta2
    local b3 = fn.where(fn.lt(h.beta3, 0), fn.sqrt(b2), h.beta3)
    local d = s.d
    local bc = 1
    if h.use_bias_correction then bc = (1 - b2 ^ t) ^ 0.5 / (1 - b1 ^ t) end
    local dlr = d * h.lr * bc
    if not h.decouple then g = g + h.weight_decay * p end
    local p0 = fn.where(fn.le(t, 1), p, s.p0)
    s.p0 = p0
    local numerator = s.numerator * b3 + (d / h.d0) * dlr * fn.global_sum(g * (p0 - p))
    s.m = s.m * b1 + (d * (1 - b1)) * g
    s.v = s.v * b2 + ((d * d * (1 - b2)) * g) * g
    if h.safeguard_warmup then s.s = s.s * b3 + ((d / h.d0) * d) * g
    else s.s = s.s * b3 + ((d / h.d0) * dlr) * g end
    local denom_sum = fn.global_sum(fn.abs(s.s))
    local d_hat = h.d_coef * numerator / denom_sum
    local at_d0 = fn.le(d, s.d0_stored)             -- d never falls below d0: the authors' d == d0
    local d_new = fn.where(at_d0, fn.max(d, d_hat), d)
    local d_max = fn.max(s.d_max, d_hat)
    d_new = fn.min(d_max, d_new * h.growth_rate)
    s.d, s.d_max, s.numerator = d_new, d_max, numerator
    local denom = fn.sqrt(s.v) + d_new * h.eps
    if h.decouple then p = p + (-(h.weight_decay * dlr)) * p end
    local step = fn.where(fn.gt(b1, 0), (-dlr) * (s.m / denom), (-(dlr * d_new)) * (g / denom))   -- the new d, as the authors'
    return p + step
  end,
}
