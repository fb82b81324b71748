-- MADGRAD as its authors' madgrad.py runs it (facebookresearch/madgrad @
-- bdbd2d760cb5e73f8f1acb287b3844a29f75282d, MADGRAD.step, dense path): dual averaging from x0, the
-- parameter at the first update (kept in the state, taken when t = 1); with momentum = 0, x0 is
-- recovered from s every step instead. eps = 0 makes a zero denominator infinite, as the authors do.
return {
  name = "MADGRAD",
  doc = [[MADGRAD (Defazio, Jelassi, "A Momentumized, Adaptive, Dual Averaged Gradient Method", JMLR 2022,
arXiv:2101.11075; authors' code https://github.com/facebookresearch/madgrad):
  lr' = lr + eps (lr > 0);  lambda = lr' sqrt(t);  g = g + wd p (decouple_decay: p -= lr' wd p after)
  v = v + lambda g^2;  s = s + lambda g;  z = x0 - s / (v^(1/3) + eps)
  p = (1 - c) p + c z,  c = 1 - momentum   (x0: p at t = 1; momentum = 0: p = z, x0 = p + s/(v^(1/3) + eps))]],
  hyper = {
    { "lr", 1e-2, range = "[0, inf)", alias = { "learning_rate" } },
    { "momentum", 0.9, range = "[0, 1)" },
    { "weight_decay", 0, range = "[0, inf)" },
    { "eps", 1e-6, range = "[0, inf)", alias = { "epsilon" } },
    { "decouple_decay", false },
  },
  state = { v = 0, s = 0, x0 = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local lr = fn.where(fn.gt(h.lr, 0), h.lr + h.eps, 0)
    local lamb = lr * t ^ 0.5
    local c = 1 - h.momentum
    if not h.decouple_decay then g = g + h.weight_decay * p end
    local x0 = fn.where(fn.gt(h.momentum, 0), fn.where(fn.le(t, 1), p, s.x0), p + s.s / (s.v ^ (1 / 3) + h.eps))
    s.x0 = x0
    s.v = s.v + (lamb * g) * g
    local rms = s.v ^ (1 / 3) + h.eps
    rms = fn.where(fn.gt(rms, 0), rms, math.huge)
    s.s = s.s + lamb * g
    local z = x0 - s.s / rms
    local new = fn.where(fn.gt(h.momentum, 0), p * (1 - c) + c * z, z)
    if h.decouple_decay then new = new + (-(lr * h.weight_decay)) * p end
    return new
  end,
}
