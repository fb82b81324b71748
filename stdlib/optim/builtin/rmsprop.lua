-- RMSprop: the textbook's Algorithms 8.5 and 8.6 (Nesterov momentum), the
-- momentum and centered forms of Keras and PyTorch. Rounded as
-- kernels/optim.c's ol_rmsprop_update was, bit for bit
-- (tests/lua/test_declared_builtins.lua).
local conventions = require "optim.conventions"

return {
  name = "RMSprop",
  doc = [[r <- rho*r + (1-rho)*g*g;  theta <- theta - eps/(delta + sqrt(r)) * g
nesterov = true (the textbook's Algorithm 8.6, RMSProp with Nesterov momentum; "literal": g at theta + alpha*v):
           v <- alpha*v - eps/(delta + sqrt(r)) * g;  theta <- theta + v
           (the textbook writes eps/sqrt(r); delta keeps the first steps finite, as in Algorithm 8.5)
momentum:  v <- alpha*v - eps/(delta + sqrt(r)) * g;  theta <- theta + v  (torch: v <- alpha*v + g/(...);
           theta <- theta - eps*v)
centered:  r - mg*mg in the root, mg <- rho*mg + (1-rho)*g
delta inside the root (sqrt(r + delta)): eps_inside_sqrt, Keras 3 and tf.keras 2.11+, tf.keras 2.10 with momentum]],
  hyper = {
    { "lr", 0.001, range = "[0, inf)" },
    { "rho", 0.9, range = "[0, 1]" },
    { "eps", 1e-6, range = "[0, inf)" },
    { "momentum", 0, range = "[0, 1)" },
    { "nesterov", false, choices = { true, false, "literal" } },
    { "centered", false },
    { "eps_inside_sqrt", false },
    { "weight_decay", 0, range = "[0, inf)" },
    { "decay", 0, range = "[0, inf)", fixed = true },
  },
  show = { "lr", "rho", "eps" },
  state = { square_avg = 0, velocity = 0, grad_avg = 0 },
  update = function(p, g, s, h)
    local fn = require("optim").fn
    p, g = conventions.weight_decay(p, g, h)
    local r = h.rho * s.square_avg + (1 - h.rho) * (g * g)
    s.square_avg = r
    if h.centered then
      local mg = h.rho * s.grad_avg + (1 - h.rho) * g
      s.grad_avg = mg
      r = r - mg * mg
    end
    local function denom(inside) if inside then return fn.sqrt(r + h.eps) end return fn.sqrt(r) + h.eps end
    local inside = h.eps_inside_sqrt or h.form == "keras3"
    if fn.is_zero(h.momentum) then return p - h.lr * g / denom(inside) end
    -- tf.keras 2.10 with momentum goes through tf.raw_ops.ApplyRMSProp: delta inside the root
    local d = denom(inside or h.convention == "keras")
    local nesterov, a = h.nesterov == true, h.momentum
    local v, stepped
    if h.convention == "torch" then
      v = a * s.velocity + g / d
      stepped = p - h.lr * v
    else
      local step = h.lr * g / d
      v = a * s.velocity - step
      stepped = nesterov and p + (a * v - step) or p + v
    end
    -- a momentum schedule at 0: a plain step (with the plain form's delta) that keeps the velocity
    if not fn.is_constant(a) and not nesterov then
      local on = fn.gt(a, 0)
      v, stepped = fn.where(on, v, s.velocity), fn.where(on, stepped, p - h.lr * g / denom(inside))
    end
    s.velocity = v
    return stepped
  end,
}
