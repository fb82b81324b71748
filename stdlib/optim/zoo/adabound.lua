-- AdaBound as its authors' adabound.py runs it (Luolc/AdaBound @ d5bb5ffcea39f5733d642567e7fc55cb35ef6c82,
-- AdaBound.step). final_lr follows lr's schedule as lr / base_lr, base_lr being lr at the first update
-- (a per-tensor scalar that starts at lr; the authors' is lr when the optimizer was built).
-- AMSBound is not declared (its buffer would cost every user memory).
return {
  name = "AdaBound",
  doc = [[AdaBound (Luo, Xiong, Liu, Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning Rate",
ICLR 2019, arXiv:1902.09843; authors' code https://github.com/Luolc/AdaBound):
  g = g + wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
  f = final_lr lr/base_lr;  lower = f (1 - 1/(gamma t + 1));  upper = f (1 + 1/(gamma t))
  p = p - clip(lr sqrt(1-b2^t)/(1-b1^t) / (sqrt(v) + eps), lower, upper) m]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "final_lr", 0.1, range = "[0, inf)" },
    { "gamma", 1e-3, range = "(0, 1)" },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
  },
  state = { m = 0, v = 0 },
  scalars = { base_lr = "lr" },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    g = g + h.weight_decay * p
    s.m = s.m * h.beta1 + (1 - h.beta1) * g
    s.v = s.v * h.beta2 + ((1 - h.beta2) * g) * g
    local denom = fn.sqrt(s.v) + h.eps
    local step_size = h.lr * fn.sqrt(1 - h.beta2 ^ t) / (1 - h.beta1 ^ t)
    local final_lr = h.final_lr * h.lr / s.base_lr
    local lower = final_lr * (1 - 1 / (h.gamma * t + 1))
    local upper = final_lr * (1 + 1 / (h.gamma * t))
    return p - fn.min(fn.max(step_size / denom, lower), upper) * s.m
  end,
}
