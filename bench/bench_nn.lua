-- Forward+backward of the Keras example CNN on a batch of 64 (run by `make bench`):
-- whole steps through nn.Sequential and autograd, then the same step op by op
-- through the C bindings, timed with sys.clock and grouped by layer kind;
-- 1 and 2 threads; then RSS after 100 and N training steps.
-- usage: optlab bench/bench_nn.lua [rss_steps (default 1000)] [timed_steps (default 20)]
local NN = require("optlab.core").nn
local F = nn.functional

local RSS_STEPS = tonumber(arg and arg[1]) or 1000
local STEPS = tonumber(arg and arg[2]) or 20
local BATCH = 64

local function seed_model()
  return nn.models.keras_mnist_cnn()
end

local function labels(n)
  local t = {}
  for i = 1, n do t[i] = (i * 7) % 10 end
  return tensor.from(t)
end

local function sgd_step(model, x, y, lr)
  local loss = F.cross_entropy(model(x), y)
  model:zero_grad()
  loss:backward()
  tensor.no_grad(function() for _, p in ipairs(model:parameters()) do p:sub_(p.grad * lr) end end)
  return loss
end

-- Whole steps: forward, loss, backward (no parameter update), through the tape.
local function whole(model, x, y)
  for _ = 1, 3 do sgd_step(model, x, y, 0) end
  local t0 = sys.clock()
  for _ = 1, STEPS do
    local loss = F.cross_entropy(model(x), y)
    model:zero_grad()
    loss:backward()
  end
  return (sys.clock() - t0) / STEPS
end

-- The same step op by op through the C bindings, each timed on its own (conv+ReLU+pool fused,
-- as nn.Sequential runs them).
local function by_op(model, x, y)
  local conv, d1, d2 = model.layers[1], model.layers[5], model.layers[7]
  local acc = {}
  local function timed(kind, f, ...)
    local t0 = sys.clock()
    local r = table.pack(f(...))
    acc[kind] = (acc[kind] or 0) + (sys.clock() - t0)
    return table.unpack(r, 1, r.n)
  end
  local function step()
    local p, arg = timed("conv+pool fwd", NN.conv2d_maxpool_forward, x, conv.weight, conv.bias, 1, 1, { 0, 0 }, 1, 1, true, 2)
    local pd, m1 = timed("other fwd", NN.dropout_forward, p, 0.25, 1, 1)
    local f = pd:reshape(BATCH, -1)
    local h = timed("dense fwd", NN.linear_forward, f, d1.weight, d1.bias, true)
    local hd, m2 = timed("other fwd", NN.dropout_forward, h, 0.5, 1, 2)
    local z = timed("dense fwd", NN.linear_forward, hd, d2.weight, d2.bias, false)
    timed("loss fwd", NN.cross_entropy_forward, z, y)
    local gz = timed("loss bwd", NN.cross_entropy_backward, z, y, 1)
    local ghd = timed("dense bwd", NN.linear_backward, hd, d2.weight, gz, nil, true, true)
    local gh = timed("other bwd", NN.dropout_backward, ghd, m2)
    local gf = timed("dense bwd", NN.linear_backward, f, d1.weight, gh, h, true, true)
    local gp = timed("other bwd", NN.dropout_backward, gf:reshape(pd:shape()), m1)
    timed("conv+pool bwd", NN.conv2d_maxpool_backward, x, conv.weight, gp, p, arg, 1, 1, { 0, 0 }, 1, 1, true, 2, false, true)
  end
  for _ = 1, 3 do step() end
  acc = {}
  for _ = 1, STEPS do step() end
  for k, v in pairs(acc) do acc[k] = v / STEPS end
  return acc
end

print(string.format("nn bench: Keras example CNN (1,387,594 params), batch %d, %d timed steps, BLIS %s", BATCH, STEPS, sys.blis_version()))
local threads0 = sys.threads()
tensor.manual_seed(1)
local model = seed_model()
local x = tensor.rand(BATCH, 1, 28, 28)
local y = labels(BATCH)
for _, n in ipairs { 1, 2 } do
  sys.set_threads(n)
  local t = whole(model, x, y)
  print(string.format("  %d thread%s: forward+backward %.2f ms/step, %.0f samples/s", n, n > 1 and "s" or " ", t * 1e3, BATCH / t))
  local acc = by_op(model, x, y)
  local total = 0
  for _, v in pairs(acc) do total = total + v end
  local line = {}
  for _, kind in ipairs { "conv+pool", "dense", "loss", "other" } do
    local f, b = acc[kind .. " fwd"] or 0, acc[kind .. " bwd"] or 0
    line[#line + 1] = string.format("%s %.2f+%.2f", kind, f * 1e3, b * 1e3)
  end
  print(string.format("    by op (fwd+bwd ms; other = dropout): %s; sum %.2f ms", table.concat(line, ", "), total * 1e3))
end
sys.set_threads(threads0)
model = nil
collectgarbage()

-- Memory over a training loop: the tape and its intermediates must be freed every step.
tensor.manual_seed(2)
local m2 = seed_model()
if RSS_STEPS < 100 then error("bench_nn: the RSS measurement needs at least 100 steps, got " .. RSS_STEPS) end
local rss100
local t0 = sys.clock()
for step = 1, RSS_STEPS do
  sgd_step(m2, x, y, 0.01)
  if step == 100 then collectgarbage(); rss100 = sys.rss() end
end
collectgarbage()
local rssN = sys.rss()
print(string.format("  RSS after 100 steps: %.1f MiB, after %d steps: %.1f MiB (%d threads, %.1f s; pass a step count as arg 1, e.g. 2000)",
  rss100 / 1048576, RSS_STEPS, rssN / 1048576, sys.threads(), sys.clock() - t0))
