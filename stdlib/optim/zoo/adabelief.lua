-- AdaBelief as its authors' adabelief-pytorch 0.2.0 runs it (juntang-zhuang/Adabelief-Optimizer @
-- e0ed01dfd825d5949e26ebcceff4192ceed7ac2e, pypi_packages/adabelief_pytorch0.2.0/adabelief_pytorch/
-- AdaBelief.py): decoupled weight decay and the RAdam rectification on by default, eps added to s
-- in place every step. The amsgrad variant is not declared (its buffer would cost every user memory).
return {
  name = "AdaBelief",
  doc = [[AdaBelief (Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris, Duncan, NeurIPS 2020,
arXiv:2010.07468; authors' code https://github.com/juntang-zhuang/Adabelief-Optimizer, adabelief-pytorch 0.2.0):
  p = p (1 - lr wd)  (weight_decouple; fixed_decay: p (1 - wd); else g = g + wd p)
  m = b1 m + (1-b1) g;  s = b2 s + (1-b2) (g-m)^2 + eps
  rectify = false:  p = p - lr/(1-b1^t) m / (sqrt(s)/sqrt(1-b2^t) + eps)
  rectify (RAdam's): rho_inf = 2/(1-b2) - 1, rho_t = rho_inf - 2 t b2^t/(1-b2^t);
    rho_t >= 5:  p = p - lr r_t/(1-b1^t) m / (sqrt(s) + eps),
                 r_t = sqrt((1-b2^t)(rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
    else (degenerated_to_sgd): p = p - lr/(1-b1^t) m]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "eps", 1e-16, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "weight_decouple", true },
    { "fixed_decay", false },
    { "rectify", true },
    { "degenerated_to_sgd", true },
  },
  state = { m = 0, s = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local b1, b2 = h.beta1, h.beta2
    if h.weight_decouple then
      if h.fixed_decay then p = p * (1 - h.weight_decay) else p = p * (1 - h.lr * h.weight_decay) end
    else
      g = g + h.weight_decay * p
    end
    s.m = s.m * b1 + (1 - b1) * g
    local res = g - s.m
    s.s = s.s * b2 + (1 - b2) * (res * res)
    s.s = s.s + h.eps
    if not h.rectify then
      return p + (-(h.lr / (1 - b1 ^ t))) * (s.m / (fn.sqrt(s.s) / fn.sqrt(1 - b2 ^ t) + h.eps))
    end
    local b2t = b2 ^ t
    local rho_inf = 2 / (1 - b2) - 1
    local rho = rho_inf - 2 * t * b2t / (1 - b2t)
    local r = fn.sqrt(fn.max((1 - b2t) * (rho - 4) / (rho_inf - 4) * (rho - 2) / rho * rho_inf / (rho_inf - 2), 0))
              / (1 - b1 ^ t)
    local adam = p + (-(r * h.lr)) * (s.m / (fn.sqrt(s.s) + h.eps))
    local sgd = p
    if h.degenerated_to_sgd then sgd = p + (-(1 / (1 - b1 ^ t) * h.lr)) * s.m end
    return fn.where(fn.ge(rho, 5), adam, sgd)
  end,
}
