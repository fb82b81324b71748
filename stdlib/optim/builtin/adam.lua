-- Adam (the textbook's Algorithm 8.7) and AdamW (its weight decay decoupled,
-- Loshchilov & Hutter): one update, so one file. Keras's form folds the bias
-- corrections into the step size (the "epsilon hat" of Kingma & Ba, section
-- 2); PyTorch and the textbook correct v in the denominator. Rounded as
-- kernels/optim.c's ol_adam_update was, bit for bit (tests/lua/test_declared_builtins.lua).
local conventions = require "optim.conventions"

local function update(decoupled)
  return function(p, g, s, h, t)
    local fn = require("optim").fn
    p, g = conventions.weight_decay(p, g, h, decoupled or nil)
    local b1, b2 = h.beta1, h.beta2
    local m = b1 * s.m + (1 - b1) * g
    local v = b2 * s.v + (1 - b2) * (g * g)
    s.m, s.v = m, v
    if h.amsgrad then
      v = fn.max(s.vmax, v)
      s.vmax = v
    end
    local bc1, bc2 = 1 - b1 ^ t, 1 - b2 ^ t
    local a, d
    if h.form == "keras" or h.form == "keras3" then
      a = h.lr * fn.sqrt(bc2) / bc1
      d = h.eps_inside_sqrt and fn.sqrt(v + h.eps) or fn.sqrt(v) + h.eps
    else
      a = h.lr / bc1
      d = h.eps_inside_sqrt and fn.sqrt(v * (1 / bc2) + h.eps) or fn.sqrt(v) * (1 / fn.sqrt(bc2)) + h.eps
    end
    return p - a * m / d
  end
end

local FORMULA = [[s <- rho1*s + (1-rho1)*g;  r <- rho2*r + (1-rho2)*g*g;  t <- t + 1
s_hat = s/(1-rho1^t);  r_hat = r/(1-rho2^t)
theta <- theta - eps * s_hat/(sqrt(r_hat) + delta)   (Algorithm 8.7: sqrt(r_hat + delta): eps_inside_sqrt = true)
Keras: theta <- theta - eps sqrt(1-rho2^t)/(1-rho1^t) * s/(sqrt(r) + delta);  amsgrad: r_hat from max(r_max, r)]]

local function hyper(weight_decay)
  return {
    { "lr", 0.001, range = "[0, inf)" },
    { "beta1", 0.9, range = "[0, 1)" },
    { "beta2", 0.999, range = "[0, 1)" },
    { "eps", 1e-8, range = "[0, inf)" },
    { "amsgrad", false },
    { "eps_inside_sqrt", false },
    { "weight_decay", weight_decay, range = "[0, inf)" },
    { "decay", 0, range = "[0, inf)", fixed = true },
  }
end

return {
  { name = "Adam", doc = FORMULA, hyper = hyper(0), show = { "lr", "beta1", "beta2", "eps" },
    state = { m = 0, v = 0, vmax = 0 }, update = update(false) },
  { name = "AdamW", doc = "theta <- theta - lr*weight_decay*theta, then the Adam update (decoupled weight decay)\n" .. FORMULA,
    hyper = hyper(0.01), show = { "lr", "beta1", "beta2", "eps", "weight_decay" },
    state = { m = 0, v = 0, vmax = 0 }, update = update(true) },
}
