-- Adagrad: the textbook's Algorithm 8.4, with Keras 3's (and tf.keras 2.11+'s)
-- epsilon inside the root. Rounded as kernels/optim.c's ol_adagrad_update was,
-- bit for bit (tests/lua/test_declared_builtins.lua).
local conventions = require "optim.conventions"

return {
  name = "Adagrad",
  doc = [[r <- r + g*g;  theta <- theta - eps/(delta + sqrt(r)) * g
(eps_inside_sqrt, and conventions keras3 and tf_keras: eps/sqrt(r + delta); r starts at initial_accumulator)]],
  hyper = {
    { "lr", 0.01, range = "[0, inf)" },
    { "eps", 1e-7, range = "[0, inf)" },
    { "initial_accumulator", 0, range = "[0, inf)", fixed = true },
    { "eps_inside_sqrt", false },
    { "weight_decay", 0, range = "[0, inf)" },
    { "decay", 0, range = "[0, inf)", fixed = true },
  },
  show = { "lr", "eps" },
  state = { sum = "initial_accumulator" },
  update = function(p, g, s, h)
    local fn = require("optim").fn
    p, g = conventions.weight_decay(p, g, h)
    local r = s.sum + g * g
    s.sum = r
    local d = (h.eps_inside_sqrt or h.form == "keras3") and fn.sqrt(r + h.eps) or fn.sqrt(r) + h.eps
    return p - h.lr * g / d
  end,
}
