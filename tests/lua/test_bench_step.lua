-- The training step bench/optlab_cnn.lua times (the Keras example CNN, Adam, batch 64, grads to nil
-- between steps) gives bit-identical parameters with 1 and 2 threads: the benchmark's
-- speed-ups (vectorized dropout masks, one-pass ReLU masking, sleeping OpenMP threads)
-- must not buy speed with determinism.
local lib = require "lib"
local check, identical = lib.check, lib.identical

local T = {}

local function train(threads, steps)
  local saved = sys.threads()
  sys.set_threads(threads)
  local ok, res = pcall(function()
    tensor.manual_seed(1)
    local ds = data.fashion_mnist():take(64 * steps)
    local loader = data.loader(ds, { batch_size = 64, shuffle = true, seed = 1 })
    local model = nn.Sequential {
      input = { 1, 28, 28 },
      nn.Conv2D { 32, 3, activation = "relu" }, nn.MaxPool2D { 2 }, nn.Dropout { 0.25 }, nn.Flatten(),
      nn.Dense { 256, activation = "relu" }, nn.Dropout { 0.5 }, nn.Dense { 10 },
    }
    local params, opt = model:parameters(), optim.Adam { lr = 1e-3 }
    local losses = {}
    for x, y in loader:epoch(1) do
      model:zero_grad()
      local loss = nn.functional.cross_entropy(model(x), y)
      loss:backward()
      opt:step(params)
      losses[#losses + 1] = loss:item()
    end
    return { params = params, losses = losses }
  end)
  sys.set_threads(saved)
  if not ok then error(res, 0) end
  return res
end

function T.keras_mnist_cnn_steps_bit_identical_with_1_and_2_threads()
  local a, b = train(1, 6), train(2, 6)
  check(#a.losses == 6, "six steps")
  for i = 1, #a.losses do check(a.losses[i] == b.losses[i], "loss of step " .. i .. " differs") end
  for i, p in ipairs(a.params) do identical(p, b.params[i], "parameter " .. p.name) end
  check(a.losses[6] < a.losses[1], "the loss went down: the steps trained")
end

return T
