-- Muon as its author's muon.py runs it (KellerJordan/Muon @ 5bc6993fe1506fd39d5defe80b5c18c0244100a7,
-- SingleDeviceMuon.step, muon_update, zeropower_via_newtonschulz5): Nesterov momentum (torch.lerp_'s
-- two forms), then 5 quintic Newton-Schulz steps on the update as a matrix (a matrix stage of tensor
-- ops on BLIS, in float32 where the author uses bfloat16), scaled by sqrt(max(1, rows/cols)) of the
-- last two dimensions, as the author's. Like the author's (which asserts ndim >= 2), it refuses
-- vectors: biases and gains need another optimizer.
local function newton_schulz5(G)
  local shape = G:shape()
  if #shape < 2 then
    error("Muon orthogonalizes matrices: a parameter of shape [" .. table.concat(shape, ", ") ..
      "] (a bias or gain) needs another optimizer (the author pairs Muon with AdamW for those)", 0)
  end
  if #shape ~= 2 and #shape ~= 4 then
    error("Muon takes matrices and 4-d convolution filters (the author's cases); got a parameter of shape [" ..
      table.concat(shape, ", ") .. "]", 0)
  end
  local X = G:reshape(shape[1], -1)      -- conv filters: viewed as (out, in x kh x kw)
  local rows, cols = X:shape()[1], X:shape()[2]
  local scale = math.max(1, shape[#shape - 1] / shape[#shape]) ^ 0.5    -- the author's: from the last two dims
  local a, b, c = 3.4445, -4.7750, 2.0315
  local tall = rows > cols
  if tall then X = X:t() end
  X = X / (X:norm() + 1e-7)
  for _ = 1, 5 do
    local A = X:matmul(X:t())
    local B = A * b + A:matmul(A) * c
    X = X * a + B:matmul(X)
  end
  if tall then X = X:t() end
  return (X * scale):contiguous():reshape(shape)
end

return {
  name = "Muon",
  doc = [[Muon (Jordan, Jin, Boza, You, Cesista, Newhouse, Bernstein, "Muon: An optimizer for hidden layers in
neural networks", 2024, https://kellerjordan.github.io/posts/muon/; author's code https://github.com/KellerJordan/Muon):
  m = lerp(m, g, 1 - momentum);  u = lerp(g, m, momentum)   (Nesterov)
  U = NewtonSchulz5(u as rows x rest) sqrt(max(1, rows/cols));  p = p (1 - lr wd) - lr U
  NewtonSchulz5: X = u/(|u|_F + 1e-7); 5 times X = a X + (b A + c A A) X, A = X X^T, (a, b, c) = (3.4445, -4.7750, 2.0315)]],
  hyper = {
    { "lr", 0.02, range = "[0, inf)", alias = { "learning_rate" } },
    { "weight_decay", 0, range = "[0, inf)" },
    { "momentum", 0.95, range = "[0, 1)" },
  },
  state = { m = 0 },
  update = function(p, g, s, h, t)
    local fn = require("optim").fn
    local w = 1 - h.momentum        -- torch.lerp_(self, end, w): |w| < 0.5 ? self + w (end - self) : end - (end - self)(1 - w)
    s.m = fn.where(fn.lt(w, 0.5), s.m + w * (g - s.m), g - (g - s.m) * (1 - w))
    local u = fn.where(fn.lt(h.momentum, 0.5), g + h.momentum * (s.m - g), s.m - (s.m - g) * (1 - h.momentum))
    u = fn.matrix(u, newton_schulz5)
    p = p * (1 - h.lr * h.weight_decay)
    return p + (-h.lr) * u
  end,
}
