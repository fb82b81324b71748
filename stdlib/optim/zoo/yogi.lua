-- Yogi as tensorflow/addons runs it (tensorflow_addons/optimizers/yogi.py @
-- 23bd494cd4b13adccc0985fce6da65c6542f672e, _resource_apply_dense, activation "sign"): additive
-- second moment, then the proximal l1/l2 step. beta1 = 0 needs no branch: m = 0 m + 1 g = g exactly.
-- The "tanh" activation is not declared (hyperparameters are numbers and booleans).
return {
  name = "Yogi",
  doc = [[Yogi (Zaheer, Reddi, Sachan, Kale, Kumar, "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018,
Algorithm 2; code as in TensorFlow Addons, https://github.com/tensorflow/addons):
  lr_t = lr sqrt(1-b2^t)/(1-b1^t);  m = b1 m + (1-b1) g
  v = v - (1-b2) sign(v - g^2) g^2   (v starts at initial_accumulator)
  p' = p - lr_t/(sqrt(v) + eps) m;  then l1 > 0: soft-threshold with l1 lr_t/(sqrt(v)+eps), / (1 + l2 ...);
  l2 > 0: p' / (1 + l2 lr_t/(sqrt(v)+eps))]],
  hyper = {
    { "lr", 0.01, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "eps", 1e-3, range = "[0, inf)", alias = { "epsilon" } },
    { "l1", 0, range = "[0, inf)", alias = { "l1_regularization_strength" } },
    { "l2", 0, range = "[0, inf)", alias = { "l2_regularization_strength" } },
    { "initial_accumulator", 1e-6, range = "(0, inf)", alias = { "initial_accumulator_value" } },
  },
  state = { m = 0, v = "initial_accumulator" },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local lr = h.lr * fn.sqrt(1 - h.beta2 ^ t) / (1 - h.beta1 ^ t)
    s.m = s.m * h.beta1 + g * (1 - h.beta1)
    local g2 = g * g
    s.v = s.v + ((1 - h.beta2) * fn.sign(g2 - s.v)) * g2
    local per_coord_lr = lr / (fn.sqrt(s.v) + h.eps)
    local new = p - per_coord_lr * s.m
    local b, c = -new, h.l1 * per_coord_lr
    local l1 = fn.where(fn.gt(fn.abs(b), c), (c * fn.sign(b) - b) / (1 + h.l2 * per_coord_lr), 0)
    local l2 = new / (1 + h.l2 * per_coord_lr)
    return fn.where(fn.gt(h.l1, 0), l1, fn.where(fn.gt(h.l2, 0), l2, new))
  end,
}
