-- Finite-difference gradient checks for the Lua tests (test_autograd, test_nn).
--
-- gradcheck(fn, inputs, opts): fn(inputs...) -> tensor. The analytic gradient
-- of L = sum(fn(...) * R), R a fixed random tensor (so every output element
-- has its own upstream weight), is compared with central differences
--   dL/dx_k ~ sum((fn(x + e_k) - fn(x - e_k)) * R) / (x_k+ - x_k-)
-- for each element k of each input in opts.wrt (default: all). Differencing
-- the outputs before summing keeps float32 cancellation small. Inputs must
-- be contiguous leaves; fn may take views of them (transposes etc.) to test
-- non-contiguous operands.
--   |analytic - numeric| <= atol * max(1, max|numeric|) + rtol * |numeric|
-- With the defaults a wrong sign or a dropped term fails (see test_autograd's
-- "gradcheck_catches_wrong_backward").
local gc = {}

function gc.gradcheck(fn, inputs, opts)
  opts = opts or {}
  local eps, rtol, atol = opts.eps or 1e-2, opts.rtol or 2e-2, opts.atol or 2e-3
  local wrt = opts.wrt
  if not wrt then
    wrt = {}
    for i = 1, #inputs do wrt[i] = i end
  end
  for _, i in ipairs(wrt) do
    local x = inputs[i]
    assert(x:is_contiguous(), "gradcheck: input " .. i .. " must be contiguous (take views inside fn)")
    x.requires_grad = true
    x.grad = nil
  end
  local out = fn(table.unpack(inputs))
  assert(tensor.is_tensor(out), "gradcheck: fn must return a tensor")
  local R = tensor.randn(out:shape(), { seed = opts.seed or 12345, stream = 1 })
  local loss = (out * R):sum()
  loss:backward()
  local report = {}
  for _, i in ipairs(wrt) do
    local x = inputs[i]
    if not x.grad then error(string.format("%s: input %d got no gradient", opts.name or "gradcheck", i), 2) end
    local ga = x.grad:contiguous():reshape(-1):totable()
    local flat = x:view(-1)
    local num, maxn = {}, 0
    tensor.no_grad(function()
      for k = 1, x:numel() do
        local v = flat[k]
        flat:set(k, v + eps)
        local hi = flat[k]
        local o1 = fn(table.unpack(inputs))
        flat:set(k, v - eps)
        local lo = flat[k]
        local o2 = fn(table.unpack(inputs))
        flat:set(k, v)
        num[k] = ((o1 - o2) * R):sum():item() / (hi - lo)
        maxn = math.max(maxn, math.abs(num[k]))
      end
    end)
    local scale = math.max(1, maxn)
    for k = 1, #num do
      local err = math.abs(ga[k] - num[k])
      if not (err <= atol * scale + rtol * math.abs(num[k])) then
        error(string.format("%s: input %d element %d: analytic %.6g, numeric %.6g (max |numeric| %.3g)",
          opts.name or "gradcheck", i, k, ga[k], num[k], maxn), 2)
      end
    end
    report[i] = maxn
    x.grad = nil
  end
  return report
end

-- Values bounded away from 0 by `gap` (for ops with a kink at 0: relu, leaky_relu, elu, abs).
function gc.away_from_zero(shape, seed, gap)
  local x = tensor.randn(shape, { seed = seed or 1, stream = 0 })
  return (x + x:sign() * (gap or 0.1)):contiguous()
end

-- Distinct values, at least 4/n apart, in a scrambled order (max pooling and max/min need
-- a clear winner in each window so that central differences do not cross a tie).
function gc.distinct(shape, seed)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  local vals = {}
  for i = 1, n do vals[i] = (i - 1) * 4.0 / n - 2.0 end
  local s = seed or 7
  for i = n, 2, -1 do -- Fisher-Yates with a small LCG: deterministic
    s = (s * 1103515245 + 12345) % 2147483648
    local j = s % i + 1
    vals[i], vals[j] = vals[j], vals[i]
  end
  return tensor.from(vals):reshape(shape):contiguous()
end

return gc
