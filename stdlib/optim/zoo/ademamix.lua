-- AdEMAMix as its authors' PyTorch code runs it (apple/ml-ademamix @ e7327151bbf2c812ae2c080de5491c685b6eb509,
-- pytorch/ademamix.py): Adam's fast EMA plus alpha times a slow EMA (beta3), with the authors'
-- warmups of alpha (linear) and beta3 (linear in half-life); a warmup of 0 is the authors' None.
-- beta1 = 0 needs no branch: m1 = 0 m1 + 1 g = g exactly, and 1 - 0^t = 1.
return {
  name = "AdEMAMix",
  doc = [[AdEMAMix (Pagliardini, Ablin, Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", ICLR 2025,
arXiv:2409.03509; authors' code https://github.com/apple/ml-ademamix):
  m1 = b1 m1 + (1-b1) g;  m2 = b3 m2 + (1-b3) g;  nu = b2 nu + (1-b2) g^2
  p = p - lr ((m1/(1-b1^t) + alpha m2) / (sqrt(nu)/sqrt(1-b2^t) + eps) + wd p)
  warmups (t < T): alpha_t = alpha t/T_alpha;  b3_t = 0.5^(1/(h+1)), h linear from f(b1) to f(b3), f(b) = ln 0.5/ln(b) - 1]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "beta3", 0.9999, range = "[0, 1)", alias = { "beta_3" } },
    { "alpha", 2.0, range = "[0, inf)" },
    { "beta3_warmup", 0, range = "[0, inf)" },
    { "alpha_warmup", 0, range = "[0, inf)" },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
  },
  state = { m1 = 0, m2 = 0, nu = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local aw, bw = fn.max(h.alpha_warmup, 1), fn.max(h.beta3_warmup, 1)
    local alpha = fn.where(fn.lt(t, h.alpha_warmup), (1 - t / aw) * 0 + t / aw * h.alpha, h.alpha)
    local function f(b) return fn.log(0.5) / fn.log(b + 1e-8) - 1 end
    local a = t / bw
    local beta3 = fn.where(fn.lt(t, h.beta3_warmup), 0.5 ^ (1 / (((1 - a) * f(h.beta1) + a * f(h.beta3)) + 1)), h.beta3)
    s.m1 = s.m1 * h.beta1 + (1 - h.beta1) * g
    s.m2 = s.m2 * beta3 + (1 - beta3) * g
    s.nu = s.nu * h.beta2 + ((1 - h.beta2) * g) * g
    local denom = fn.sqrt(s.nu) / fn.sqrt(1 - h.beta2 ^ t) + h.eps
    local update = (s.m1 / (1 - h.beta1 ^ t) + alpha * s.m2) / denom
    update = update + h.weight_decay * p
    return p + (-h.lr) * update
  end,
}
