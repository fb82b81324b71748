-- Schedule-Free SGD as its authors' reference implementation runs it (facebookresearch/schedule_free
-- @ f8292d7f757d470d99aa7a2b810c702f55cd765e, schedulefree/sgd_schedulefree_reference.py) in train
-- mode: the parameter holds y; z and x start as copies of the parameter (taken at the first update,
-- when t = 1); lr_max and the sum of the average's weights are per-tensor scalars (equal in every tensor).
-- Evaluation is at x (the authors' optimizer.eval()): average = "x" makes opt:swap_average and
-- opt:finalize put x in the parameters (train.fit swaps it in around each validation, keeps it at the end).
return {
  name = "ScheduleFreeSGD",
  doc = [[Schedule-Free SGD (Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled",
NeurIPS 2024, arXiv:2405.15682; authors' code https://github.com/facebookresearch/schedule_free):
  lr_t = lr min(1, t/warmup_steps);  lr_max = max(lr_max, lr_t);  w = t^r lr_max^weight_lr_power
  c = w / sum of w so far;  g = g + wd y
  z = z - lr_t g;  x = (1-c) x + c z;  y = momentum x + (1-momentum) z;  p = y  (z = x = p at t = 1)]],
  hyper = {
    { "lr", 1.0, range = "[0, inf)", alias = { "learning_rate" } },
    { "momentum", 0.9, range = "(0, 1)", alias = { "beta" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "warmup_steps", 0, range = "[0, inf)" },
    { "r", 0, range = "[0, inf)" },
    { "weight_lr_power", 2, range = "[0, inf)" },
  },
  average = "x",
  state = { z = 0, x = 0 },
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
    g = g + h.weight_decay * p
    s.z = z - lr * g
    s.x = x * (1 - c) + c * s.z
    return s.x * h.momentum + (1 - h.momentum) * s.z
  end,
}
