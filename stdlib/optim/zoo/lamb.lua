-- LAMB as NVIDIA apex's FusedLAMB runs it (apex/optimizers/fused_lamb.py @ 16fadfe71c0d57312351c2d8b056251a0c8ce1ef,
-- csrc/multi_tensor_lamb.cu @ 06a83ce742b09eae61f2d6acf44fb33aadc89038): the paper's Algorithm 2 with
-- phi = identity; the trust ratio ||p|| / ||u|| applies when use_nvlamb or weight_decay > 0, and is 1
-- when either norm is 0. apex's max_grad_norm = 1.0 clipping is optlab's global_clip_norm option (off
-- unless given).
return {
  name = "LAMB",
  doc = [[LAMB (You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer, Hsieh, "Large Batch
Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020, arXiv:1904.00962; code as in
NVIDIA apex FusedLAMB, https://github.com/NVIDIA/apex):
  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
  u = (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) + wd p     (adam_w_mode = false: g = g + wd p instead)
  p = p - lr ||p||/||u|| u   (per tensor; ratio 1 when a norm is 0 or, unless use_nvlamb, when wd = 0)]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate" } },
    { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } },
    { "beta2", 0.999, range = "[0, 1)", alias = { "beta_2" } },
    { "eps", 1e-6, range = "[0, inf)", alias = { "epsilon" } },
    { "weight_decay", 0.01, range = "[0, inf)", alias = { "weight_decay_rate" } },
    { "bias_correction", true },
    { "adam_w_mode", true },
    { "grad_averaging", true },
    { "use_nvlamb", false },
  },
  state = { m = 0, v = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local decay = h.weight_decay
    local b3 = h.grad_averaging and (1 - h.beta1) or 1
    local bc1, bc2 = 1, 1
    if h.bias_correction then bc1, bc2 = 1 - h.beta1 ^ t, 1 - h.beta2 ^ t end
    if not h.adam_w_mode then g = g + decay * p end
    s.m = s.m * h.beta1 + b3 * g
    s.v = s.v * h.beta2 + ((1 - h.beta2) * g) * g
    local u = (s.m / bc1) / (fn.sqrt(s.v / bc2) + h.eps)
    if h.adam_w_mode then u = u + decay * p end
    local pn, un = fn.norm(p), fn.norm(u)
    local ratio = fn.where(fn.gt(pn, 0) * fn.gt(un, 0), h.lr * (pn / un), h.lr)
    if not h.use_nvlamb then ratio = fn.where(fn.gt(decay, 0), ratio, h.lr) end
    return p - ratio * u
  end,
}
