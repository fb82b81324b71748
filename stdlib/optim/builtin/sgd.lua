-- SGD: the textbook's Algorithms 8.1-8.3, and the momentum forms of Keras
-- (tf.keras SGD, the same as the textbook's) and PyTorch (torch.optim.SGD:
-- the buffer starts as the first gradient, lr applied outside, dampening).
-- Rounded as kernels/optim.c's ol_sgd_update was, bit for bit
-- (tests/lua/test_declared_builtins.lua).
local conventions = require "optim.conventions"

return {
  name = "SGD",
  doc = [[theta <- theta - eps*g  (the textbook's Algorithm 8.1; eps from a schedule, e.g. schedule.linear)
momentum:  v <- alpha*v - eps*g;  theta <- theta + v
nesterov:  the textbook (Algorithm 8.3): g at theta + alpha*v; here the one-gradient form (Sutskever et al.):
           v <- alpha*v - eps*g;  theta <- theta + alpha*v - eps*g
           (nesterov = "literal": the textbook's form, g at theta + alpha*v through opt:step's closure;
           not the Lookahead optimizer, optim.Lookahead)
torch:     v <- g at t = 1, else alpha*v + (1 - dampening)*g;  theta <- theta - eps*v (nesterov: eps*(g + alpha*v))]],
  hyper = {
    { "lr", 0.01, range = "[0, inf)" },
    { "momentum", 0, range = "[0, 1)" },
    { "dampening", 0, range = "[0, 1]" },
    { "nesterov", false, choices = { true, false, "literal" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "decay", 0, range = "[0, inf)", fixed = true },
  },
  show = { "lr" },
  state = { velocity = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    p, g = conventions.weight_decay(p, g, h)
    local plain = p - h.lr * g
    -- momentum 0: plain SGD and no velocity (nesterov too: Keras and the textbook take it as plain SGD)
    if fn.is_zero(h.momentum) then return plain end
    -- "literal": the closure took g at theta + alpha v already (Optimizer:step), so the plain momentum step
    local nesterov, a = h.nesterov == true, h.momentum
    local v, stepped
    if h.convention == "torch" then
      v = fn.where(fn.le(t, 1), g, a * s.velocity + (1 - h.dampening) * g)
      stepped = p - h.lr * (nesterov and g + a * v or v)
    else
      local step = (h.lr * (1 - h.dampening)) * g
      v = a * s.velocity - step
      stepped = nesterov and p + (a * v - step) or p + v
    end
    -- a momentum schedule at 0: a plain step that keeps the velocity (torch.optim.SGD keeps no buffer then)
    if not fn.is_constant(a) and not nesterov then
      local on = fn.gt(a, 0)
      v, stepped = fn.where(on, v, s.velocity), fn.where(on, stepped, plain)
    end
    s.velocity = v
    return stepped
  end,
}
