-- optlab side of `make bench-compare` (bench/compare.sh); bench/torch_cnn.py is its PyTorch twin.
--
--   optlab --threads T bench/optlab_cnn.lua train [steps] [warmup]
--   optlab --threads T bench/optlab_cnn.lua optim [n_params] [reps]
--   optlab --threads T bench/optlab_cnn.lua eval [reps]
--   optlab --threads T bench/optlab_cnn.lua ceiling [reps]
--
-- train: the Keras example CNN (Conv2D(32,3x3)+ReLU, MaxPool 2, Dropout .25, Flatten,
-- Dense(256)+ReLU, Dropout .5, Dense(10)) on Fashion-MNIST, batch 64, Adam(1e-3),
-- cross-entropy, the eager loop a user writes (model:zero_grad / forward / backward / step)
-- with batches from data.loader. `warmup` steps run first and are not timed.
-- Prints one line:  RESULT impl=optlab mode=train threads=T steps=S samples_per_s=X samples_per_cpu_s=Y peak_rss_mib=M loss=L
-- samples_per_cpu_s divides by the process's CPU time (all threads): on a shared machine it
-- is the noise-robust figure at 1 thread (time spent preempted is not counted).
--
-- eval: train.evaluate on the 10,000 test images (batch 64), best of reps after one warm pass:
--   RESULT impl=optlab mode=eval threads=T samples_per_s=X
-- ceiling: the samples/s of a step that would be nothing but its GEMMs, each at the rate BLIS
-- gives on its shape through ol_gemm (best of reps): fc1's forward, dW and dx, fc2's three, and
-- the conv's forward and dW as one GEMM each over the batch (im2col shapes). The step's other
-- work (pool, dropout, loss, the optimizer, Lua) is left out, so no step can beat it.
--   RESULT impl=optlab mode=ceiling threads=T samples_per_s=X gemm_ms=Y
-- optim: one step of each optimizer on one tensor of n_params parameters (a fixed
-- gradient), best of `reps` after a warm step that allocates the state. Prints
--   RESULT impl=optlab mode=optim opt=NAME threads=T n=N ns_per_param=X
local mode = arg[1] or "train"
local threads = sys.threads()

local function peak_mib() return sys.peak_rss() / 1048576 end

if mode == "train" then
  local steps = tonumber(arg[2] or 200)
  local warmup = tonumber(arg[3] or 20)
  tensor.manual_seed(1)
  local train_ds = data.fashion_mnist()
  local loader = data.loader(train_ds, { batch_size = 64, shuffle = true, seed = 1, drop_last = true })
  local model = nn.Sequential {
    input = { 1, 28, 28 },
    nn.Conv2D { 32, 3, activation = "relu" },
    nn.MaxPool2D { 2 },
    nn.Dropout { 0.25 },
    nn.Flatten(),
    nn.Dense { 256, activation = "relu" },
    nn.Dropout { 0.5 },
    nn.Dense { 10 },
  }
  local params = model:parameters()
  local opt = optim.Adam { lr = 1e-3 }
  local F = nn.functional

  local epoch, it = 1, loader:epoch(1)
  local function next_batch()
    local x, y = it()
    if not x then epoch = epoch + 1; it = loader:epoch(epoch); x, y = it() end
    return x, y
  end
  local loss
  local function step()
    local x, y = next_batch()
    model:zero_grad() -- grads to nil, as train.fit and PyTorch's zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss:backward()
    opt:step(params)
  end
  for _ = 1, warmup do step() end
  local t0, c0 = sys.clock(), os.clock()
  for _ = 1, steps do step() end
  local dt, dc = sys.clock() - t0, os.clock() - c0
  print(string.format("RESULT impl=optlab mode=train threads=%d steps=%d samples_per_s=%.1f samples_per_cpu_s=%.1f peak_rss_mib=%.1f loss=%.4f",
    threads, steps, steps * 64 / dt, steps * 64 / dc, peak_mib(), loss:item()))
elseif mode == "eval" then
  local reps = tonumber(arg[2] or 3)
  tensor.manual_seed(1)
  local _, test_ds = data.fashion_mnist()
  local model = nn.models.keras_mnist_cnn()
  train.evaluate(model, test_ds, { batch_size = 64 })
  local best = math.huge
  for _ = 1, reps do
    local t0 = sys.clock()
    train.evaluate(model, test_ds, { batch_size = 64 })
    best = math.min(best, sys.clock() - t0)
  end
  print(string.format("RESULT impl=optlab mode=eval threads=%d samples_per_s=%.1f", threads, #test_ds / best))
elseif mode == "ceiling" then
  local reps = tonumber(arg[2] or 20)
  local mm = tensor.raw.matmul
  -- {m, k, n}: c[m x n] = a[m x k] b[k x n]
  local shapes = {
    { 64, 5408, 256 }, { 256, 64, 5408 }, { 64, 256, 5408 }, -- fc1: forward, dW, dx
    { 64, 256, 10 }, { 10, 64, 256 }, { 64, 10, 256 },       -- fc2
    { 32, 9, 64 * 676 }, { 32, 64 * 676, 9 },                 -- conv: forward, dW
  }
  local total = 0
  for _, s in ipairs(shapes) do
    local a, b = tensor.randn({ s[1], s[2] }), tensor.randn({ s[2], s[3] })
    mm(a, b)
    local best = math.huge
    for _ = 1, reps do
      local t0 = sys.clock()
      mm(a, b)
      best = math.min(best, sys.clock() - t0)
    end
    total = total + best
  end
  print(string.format("RESULT impl=optlab mode=ceiling threads=%d samples_per_s=%.1f gemm_ms=%.3f",
    threads, 64 / total, total * 1e3))
elseif mode == "optim" then
  local n = tonumber(arg[2] or 10000000)
  local reps = tonumber(arg[3] or 10)
  local cases = {
    { "Adam", function() return optim.Adam { lr = 1e-3 } end },
    { "SGD_momentum", function() return optim.SGD { lr = 0.01, momentum = 0.9 } end },
    { "RMSprop", function() return optim.RMSprop { lr = 1e-3 } end },
    { "Adagrad", function() return optim.Adagrad { lr = 0.01 } end },
  }
  -- STREAM triad (a = b + s c, 12 bytes per element as STREAM counts them) on n floats,
  -- best of reps, as the memory bandwidth the optimizer figures are compared with.
  local C = require "optlab.core"
  do
    local a, b, c = tensor.zeros(n), tensor.ones(n), tensor.ones(n)
    C.optim.bench_triad(a, b, c, 0.5)
    local best = math.huge
    for _ = 1, reps do
      local t0 = sys.clock()
      C.optim.bench_triad(a, b, c, 0.5)
      best = math.min(best, sys.clock() - t0)
    end
    print(string.format("RESULT impl=optlab mode=bandwidth threads=%d n=%d triad_gbs=%.2f", threads, n, 12 * n / best / 1e9))
  end
  local g = tensor.randn(n, { seed = 1 })
  for _, cs in ipairs(cases) do
    local p = tensor.randn(n, { seed = 2 })
    p.grad = g
    local params, opt = { p }, cs[2]()
    opt:step(params) -- allocates the state, faults its pages in
    local best = math.huge
    for _ = 1, reps do
      local t0 = sys.clock()
      opt:step(params)
      local dt = sys.clock() - t0
      if dt < best then best = dt end
    end
    print(string.format("RESULT impl=optlab mode=optim opt=%s threads=%d n=%d ns_per_param=%.4f",
      cs[1], threads, n, best / n * 1e9))
  end
else
  error("usage: optlab bench/optlab_cnn.lua train [steps] [warmup] | optim [n] [reps] | eval [reps] | ceiling [reps]")
end
