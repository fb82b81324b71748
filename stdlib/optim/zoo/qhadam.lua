-- QHAdam as its authors' qhoptim runs it (facebookresearch/qhoptim @ 297fa0926de8215e02ff7fe5a703b0e534cd6a6c,
-- qhoptim/pyt/qhadam.py): the bias correction is folded into the moving averages through the
-- weights w = 1 + beta w (per-tensor scalars). nu1 = nu2 = 1 is Adam.
return {
  name = "QHAdam",
  doc = [[QHAdam (Ma, Yarats, "Quasi-hyperbolic momentum and Adam for deep learning", ICLR 2019,
arXiv:1810.06801; authors' code https://github.com/facebookresearch/qhoptim):
  w1 = 1 + b1 w1;  w2 = 1 + b2 w2;  a1 = 1 - 1/w1;  a2 = 1 - 1/w2   (w1 = w2 = 0 at the start)
  g = g + wd p  (decouple_weight_decay: p = p (1 - lr wd) instead)
  m = a1 m + (1-a1) g;  v = a2 v + (1-a2) g^2
  p = p - lr (nu1 m + (1-nu1) g) / (sqrt(nu2 v + (1-nu2) g^2) + eps)]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate", "alpha" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "nu1", 1.0, range = "[0, 1]" },
    { "nu2", 1.0, range = "[0, 1]" },
    { "weight_decay", 0, range = "[0, inf)" },
    { "decouple_weight_decay", false },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
  },
  state = { m = 0, v = 0 },
  scalars = { w1 = 0, w2 = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    if h.decouple_weight_decay then p = p * (1 - h.lr * h.weight_decay) else g = g + h.weight_decay * p end
    local g2 = g * g
    s.w1 = 1 + h.beta1 * s.w1
    s.w2 = 1 + h.beta2 * s.w2
    local a1, a2 = 1 - 1 / s.w1, 1 - 1 / s.w2
    s.m = s.m * a1 + (1 - a1) * g
    s.v = s.v * a2 + (1 - a2) * g2
    local avg = s.m * h.nu1 + (1 - h.nu1) * g
    local rms = fn.sqrt(s.v * h.nu2 + (1 - h.nu2) * g2) + h.eps
    return p + (-h.lr) * (avg / rms)
  end,
}
