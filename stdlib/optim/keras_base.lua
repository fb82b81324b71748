-- Options of Keras's base optimizer (keras/src/optimizers/base_optimizer.py,
-- _backend_apply_gradients), for any optimizer and convention:
--   gradient_accumulation_steps = n: calls 1..n-1 only add the gradient to an
--     accumulator; call n updates with (g + acc) / n and clears it. The step
--     count t (bias corrections, schedules) counts updates, not calls.
--   use_ema, ema_momentum (0.99), ema_overwrite_frequency: after every call,
--     average <- m average + (1 - m) theta, with m = 0 while no update is done
--     yet (so the average starts at theta); every ema_overwrite_frequency
--     updates the parameters are overwritten with the averages, and
--     opt:finalize(params) (train.fit calls it at the end, as Keras's fit calls
--     finalize_variable_values) does so at the end.
local M = {}

-- Buffers these options keep per parameter (names in the optimizer state).
function M.buffers(values)
  local out = {}
  if values.use_ema then out[#out + 1] = "ema" end
  if values.gradient_accumulation_steps then out[#out + 1] = "grad_acc" end
  return out
end

-- The gradients this call updates with, or nil when it only accumulates.
-- calls: the optimizer's calls before this one; state(p, i): p's state table.
function M.gradients(values, params, calls, state)
  local n = values.gradient_accumulation_steps
  local grads = {}
  if not n then
    for i, p in ipairs(params) do grads[i] = p.grad end
    return grads
  end
  if (calls + 1) % n ~= 0 then
    for i, p in ipairs(params) do state(p, i).grad_acc:add_(p.grad) end
    return nil
  end
  for i, p in ipairs(params) do
    local acc = state(p, i).grad_acc
    grads[i] = p.grad:clone():add_(acc):div_(n)
    acc:zero_()
  end
  return grads
end

-- The moving average after a call (Keras: _update_model_variables_moving_average,
-- then the overwrite when (iterations + 1) % ema_overwrite_frequency == 0).
function M.average(values, params, calls, state)
  if not values.use_ema then return end
  local n = values.gradient_accumulation_steps
  local it = n and math.floor(calls / n) or calls     -- Keras's iterations: updates done
  local m = it ~= 0 and values.ema_momentum or 0
  for i, p in ipairs(params) do
    local avg = state(p, i).ema
    avg:mul_(m):add_(p:clone():mul_(1 - m))
  end
  local f = values.ema_overwrite_frequency
  if f and (it + 1) % f == 0 then
    for i, p in ipairs(params) do p:copy_(state(p, i).ema) end
  end
end

return M
