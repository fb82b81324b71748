-- SGDW as its authors' Torch7 sgd.lua runs it with sgd_type = 1 (loshchil/AdamW-and-SGDW @
-- 7e882457e25283a4e3bd26711dc47385680cefcf, UPDATETORCHFILES/sgd.lua): the decay x <- x - wd x_old
-- after the step. The authors' train.lua sets the decay per batch (normalized by sqrt(batches T),
-- times the lr schedule's multiplier): here weight_decay is that per-step decay, schedulable like
-- every hyperparameter. Torch7's dampening defaults to the momentum; here to 0, as torch.optim.SGD.
return {
  name = "SGDW",
  doc = [[SGDW (Loshchilov, Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, arXiv:1711.05101;
authors' code https://github.com/loshchil/AdamW-and-SGDW):
  buf = momentum buf + (1 - dampening) g   (buf = g at t = 1);  d = buf (nesterov: g + momentum buf)
  p_new = p - lr/(1 + (t-1) lr_decay) d - weight_decay p]],
  hyper = {
    { "lr", 1e-3, range = "[0, inf)", alias = { "learning_rate", "learningRate" } },
    { "momentum", 0, range = "[0, 1]" },
    { "dampening", 0, range = "[0, 1]" },
    { "nesterov", false },
    { "weight_decay", 0, range = "[0, inf)", alias = { "weightDecay" } },
    { "lr_decay", 0, range = "[0, inf)", alias = { "learningRateDecay" } },
  },
  state = { buf = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local clr = h.lr / (1 + (t - 1) * h.lr_decay)
    s.buf = fn.where(fn.gt(t, 1), s.buf * h.momentum + (1 - h.dampening) * g, g)
    local d = s.buf
    if h.nesterov then d = g + h.momentum * s.buf end
    d = fn.where(fn.gt(h.momentum, 0), d, g)
    return (p + (-clr) * d) + (-h.weight_decay) * p
  end,
}
