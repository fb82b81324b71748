-- Schedule-Free AdamW as its authors' reference implementation runs it (facebookresearch/schedule_free
-- @ 43e5c2d978920e1a3707a7609662c72b56401e62, schedulefree/adamw_schedulefree_reference.py) in train
-- mode: the parameter holds y; z and x start as copies of the parameter (taken at t = 1). With
-- inner_momentum = 0 the averaged gradient is the gradient exactly (its buffer is kept regardless).
-- Evaluation is at x (the authors' optimizer.eval()): average = "x" makes opt:swap_average and
-- opt:finalize put x in the parameters (train.fit swaps it in around each validation, keeps it at the end).
return {
  name = "ScheduleFreeAdamW",
  doc = [[Schedule-Free AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled",
NeurIPS 2024, arXiv:2405.15682; authors' code https://github.com/facebookresearch/schedule_free):
  lr_t = lr min(1, t/warmup_steps);  lr_max = max(lr_max, lr_t);  w = t^r lr_max^weight_lr_power;  c = w / sum w
  z = z - lr_t wd y (decay_at_z: z - lr_t wd z);  v = b2 v + (1-b2) g^2
  z = z - lr_t g / (sqrt(v/(1-b2^t)) + eps);  x = (1-c) x + c z;  y = b1 x + (1-b1) z;  p = y]],
  hyper = {
    { "lr", 0.0025, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "warmup_steps", 0, range = "[0, inf)" },
    { "r", 0, range = "[0, inf)" },
    { "weight_lr_power", 2, range = "[0, inf)" },
    { "decay_at_z", false },
    { "inner_momentum", 0, range = "[0, 1)" },
  },
  average = "x",
  state = { z = 0, x = 0, v = 0, m = 0 },
  scalars = { lr_max = -1, weight_sum = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local lr = h.lr * fn.where(fn.lt(t - 1, h.warmup_steps), t / fn.max(h.warmup_steps, 1), 1)
    s.lr_max = fn.max(lr, s.lr_max)
    local weight = t ^ h.r * s.lr_max ^ h.weight_lr_power
    s.weight_sum = s.weight_sum + weight
    local c = fn.where(fn.gt(s.weight_sum, 0), weight / s.weight_sum, 0)
    local first = fn.le(t, 1)
    local z, x = fn.where(first, p, s.z), fn.where(first, p, s.x)
    if h.decay_at_z then z = z - (lr * h.weight_decay) * z else z = z - (lr * h.weight_decay) * p end
    s.v = s.v * h.beta2 + ((1 - h.beta2) * g) * g
    local denom = fn.sqrt(s.v / (1 - h.beta2 ^ t)) + h.eps
    s.m = s.m * h.inner_momentum + (1 - h.inner_momentum) * g
    s.z = z + (-lr) * ((s.m / (1 - h.inner_momentum ^ t)) / denom)
    s.x = x * (1 - c) + c * s.z
    return s.x * h.beta1 + (1 - h.beta1) * s.z
  end,
}
