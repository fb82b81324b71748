-- Options of Keras's base optimizer (keras/src/optimizers/base_optimizer.py,
-- _backend_apply_gradients), for any optimizer and convention. Each is one
-- of the wrappers of optim/wrap.lua, made here from the option and keeping
-- the optimizer's name and label:
--   gradient_accumulation_steps = n: optim.Accumulate(opt, {steps = n}):
--     calls 1..n-1 only add the gradient to an accumulator; call n updates
--     with (g + acc) / n and clears it. The step count t (bias corrections,
--     schedules) counts updates, not calls; clipping applies to the mean.
--   use_ema, ema_momentum (0.99), ema_overwrite_frequency: optim.EMA(opt,
--     {momentum, overwrite_frequency}) around the accumulation: after every
--     call, average <- m average + (1 - m) theta, with m = 0 while no update
--     is done yet (so the average starts at theta); every
--     ema_overwrite_frequency updates the parameters are overwritten with the
--     averages, and opt:finalize(params) (train.fit calls it at the end, as
--     Keras's fit calls finalize_variable_values) does so at the end.
local wrap = require "optim.wrap"

local M = {}

-- opt, wrapped as its options ask (EMA outside the accumulation, as Keras
-- averages after every call).
function M.wrap(opt)
  local v = opt.values
  if v.gradient_accumulation_steps then
    opt = wrap.as_option("Accumulate", opt, { steps = v.gradient_accumulation_steps })
  end
  if v.use_ema then
    opt = wrap.as_option("EMA", opt, { momentum = v.ema_momentum, overwrite_frequency = v.ema_overwrite_frequency })
  end
  return opt
end

return M
