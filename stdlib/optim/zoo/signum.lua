-- Signum as MXNet runs it (apache/mxnet src/operator/optimizer_op-inl.h SignumKernel and SignSGDKernel;
-- python/mxnet/optimizer Signum: momentum = 0 keeps no state and takes signsgd_update), the
-- implementation the signSGD authors used (https://github.com/jxbz/signSGD, README). MXNet keeps the
-- momentum with the opposite sign; so does this declaration, to keep its order of operations.
return {
  name = "Signum",
  doc = [[Signum (Bernstein, Wang, Azizzadenesheli, Anandkumar, "signSGD: Compressed Optimisation for
Non-Convex Problems", ICML 2018, arXiv:1802.04434; authors' code https://github.com/jxbz/signSGD on MXNet's Signum):
  m = momentum m + (1 - momentum)(g + wd p);  p = (1 - lr wd_lh) p - lr sign(m)
  momentum = 0 (signSGD):  p = (1 - lr wd) p - lr sign(g)]],
  hyper = {
    { "lr", 0.01, range = "[0, inf)", alias = { "learning_rate" } },
    { "momentum", 0.9, range = "[0, 1)" },
    { "wd_lh", 0, range = "[0, inf)" },
    { "weight_decay", 0, range = "[0, inf)", alias = { "wd" } },
  },
  state = { mom = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    s.mom = (h.momentum * s.mom - ((1 - h.momentum) * h.weight_decay) * p) - (1 - h.momentum) * g
    local signum = (1 - h.lr * h.wd_lh) * p + h.lr * fn.sign(s.mom)
    local signsgd = (1 - h.lr * h.weight_decay) * p - h.lr * fn.sign(g)
    return fn.where(fn.gt(h.momentum, 0), signum, signsgd)
  end,
}
