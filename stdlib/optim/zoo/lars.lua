-- LARS as kakaobrain/torchlars runs it around torch.optim.SGD (torchlars/lars.py @
-- 0f691f5b36d05f0a061dc9c0173688f4fad2eb35, torchlars/adaptive_lr.cc @ e50c0c04a4ae6e3ee48cd65e825f57b68e286ad7;
-- PyTorch's SGD: the momentum buffer is the first step's update itself). torchlars wraps an SGD whose
-- lr has no default; 0.1 here.
return {
  name = "LARS",
  doc = [[LARS (You, Gitman, Ginsburg, "Large Batch Training of Convolutional Networks", 2017,
arXiv:1708.03888; code as in https://github.com/kakaobrain/torchlars around torch.optim.SGD):
  local_lr = trust_coef ||p|| / (||g|| + wd ||p|| + eps)  (per tensor; 1 when a norm is 0)
  d = local_lr (g + wd p);  buf = momentum buf + (1 - dampening) d  (buf = d at t = 1)
  p = p - lr buf   (nesterov: p = p - lr (d + momentum buf); momentum = 0: p = p - lr d)]],
  hyper = {
    { "lr", 0.1, range = "[0, inf)", alias = { "learning_rate" } },
    { "momentum", 0, range = "[0, 1]" },
    { "dampening", 0, range = "[0, 1]" },
    { "nesterov", false },
    { "weight_decay", 0, range = "[0, inf)" },
    { "eps", 1e-8, range = "[0, inf)", alias = { "epsilon" } },
    { "trust_coef", 0.001, range = "[0, inf)", alias = { "trust_coefficient", "eta" } },
  },
  state = { buf = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local pn, gn = fn.norm(p), fn.norm(g)
    local local_lr = fn.where(fn.gt(pn, 0) * fn.gt(gn, 0), pn / (gn + h.weight_decay * pn + h.eps) * h.trust_coef, 1)
    local d = (g + h.weight_decay * p) * local_lr
    s.buf = fn.where(fn.gt(t, 1), s.buf * h.momentum + (1 - h.dampening) * d, d)
    local dm = s.buf
    if h.nesterov then dm = d + h.momentum * s.buf end
    return p + (-h.lr) * fn.where(fn.gt(h.momentum, 0), dm, d)
  end,
}
