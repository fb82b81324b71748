-- Test problems for optimizer comparisons, after DeepOBS's (Schneider, Balles and
-- Hennig, ICLR 2019): each is a data set already on this machine, a model, a loss,
-- a batch size, a budget in epochs and the metric it is judged on. A problem is a
-- function returning the fields of an experiment.compare table; the caller's fields
-- are added or replace the problem's:
--
--   return experiment.compare(problems.mlp_mnist {
--     optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) }, { "Adam", lr = tune.log_uniform(1e-5, 1e-1) } },
--     tune = { method = "random", trials = 8 }, epochs = 3, train_limit = 4000,
--   })
--
-- The budgets are DeepOBS's where it has the problem (100 epochs of batch 128 for
-- the MLP): hours of CPU. Give epochs and train_limit for a quick comparison; the
-- run folder records both.
local C = require "optlab.core"
local suggest = require "suggest"

local problems = {}

local function fail(msg) C.raise(msg) end

local DEFS = {}
local ORDER = {}
local function define(name, def)
  def.name = name
  DEFS[name] = def
  ORDER[#ORDER + 1] = name
end

---------------------------------------------------------------- the noisy quadratic

-- DeepOBS's quadratic_deep: loss(theta) = 1/2 (theta - x)' H (theta - x) for examples
-- x ~ N(0, I) in 100 dimensions, H = Q diag(d) Q' with a spectrum like a deep net's
-- Hessian: 90 eigenvalues uniform in [0, 1], 10 in [30, 60]; Q a random rotation.
-- The minimum of the expected loss is theta = 0; theta starts at 1 (every coordinate).
-- The model's output is sqrt(50 d) .* Q'(theta - x), so that "mse" against zero targets,
-- the mean over the 100 coordinates and the batch, is the mean of 1/2 (theta - x)' H (theta - x).
local DIM = 100
local quad_cache = nil
local function quadratic()
  if quad_cache then return quad_cache end
  local tensor = require "tensor"
  -- the problem's own draws: the same H and data in every process and every run
  tensor.manual_seed(42)
  local d = {}
  local u = tensor.rand(DIM)
  for i = 1, DIM do
    local v = u[i]
    d[i] = i <= 90 and v or 30 + 30 * v
  end
  -- Q: Gram-Schmidt on a Gaussian matrix (columns), in doubles
  local g = tensor.randn(DIM, DIM)
  local cols = {}
  for j = 1, DIM do
    local c = {}
    for i = 1, DIM do c[i] = g[i][j] end
    for k = 1, j - 1 do
      local p = cols[k]
      local dot = 0
      for i = 1, DIM do dot = dot + c[i] * p[i] end
      for i = 1, DIM do c[i] = c[i] - dot * p[i] end
    end
    local n = 0
    for i = 1, DIM do n = n + c[i] * c[i] end
    n = math.sqrt(n)
    for i = 1, DIM do c[i] = c[i] / n end
    cols[j] = c
  end
  local flat, scale = {}, {}
  for i = 1, DIM do for j = 1, DIM do flat[#flat + 1] = cols[j][i] end end   -- Q[i][j]
  for j = 1, DIM do scale[j] = math.sqrt(50 * d[j]) end
  local data = require "data"
  local function set(n)
    local x = tensor.randn(n, DIM)
    return data.tensors(x, tensor.zeros(n, DIM), { targets = true })
  end
  local train = set(1000)
  local test = set(1000)
  quad_cache = { Q = tensor.from(flat):reshape(DIM, DIM), scale = tensor.from(scale), train = train, test = test,
                 eigenvalues = d }
  return quad_cache
end
problems._quadratic = quadratic

define("quadratic_deep", {
  description = "DeepOBS's quadratic_deep: a noisy 100-dimensional quadratic with a deep net's Hessian spectrum " ..
                "(90 eigenvalues in [0, 1], 10 in [30, 60])",
  data = function() local q = quadratic() return q.train, q.test end,
  model = function()
    local tensor = require "tensor"
    local q = quadratic()
    local theta = tensor.ones(DIM)
    theta.requires_grad, theta.name = true, "theta"
    local m = { theta = theta }
    function m:parameters() return { self.theta } end
    return setmetatable(m, { __call = function(self, x) return (x * -1 + self.theta):matmul(q.Q) * q.scale end })
  end,
  loss = "mse", metrics = {}, batch_size = 128, epochs = 100,
  target = { metric = "val_loss", mode = "min" },
})

---------------------------------------------------------------- MNIST and Fashion-MNIST

local function mnist() return require("data").mnist() end
local function fashion() return require("data").fashion_mnist() end

define("logistic_mnist", {
  description = "Logistic regression on MNIST (DeepOBS's mnist_logreg): 784 inputs, 10 softmax outputs",
  data = mnist,
  model = function()
    local nn = require "nn"
    return nn.Sequential { input = { 1, 28, 28 }, nn.Flatten(), nn.Dense { 10, activation = "softmax" } }
  end,
  loss = "cross_entropy", metrics = { "accuracy" }, batch_size = 128, epochs = 50,
  target = { metric = "val_accuracy", mode = "max" },
})

define("mlp_mnist", {
  description = "An MLP on MNIST (DeepOBS's mnist_mlp): 784-1000-500-100-10, ReLU",
  data = mnist,
  model = function()
    local nn = require "nn"
    return nn.Sequential {
      input = { 1, 28, 28 }, nn.Flatten(),
      nn.Dense { 1000, activation = "relu" }, nn.Dense { 500, activation = "relu" }, nn.Dense { 100, activation = "relu" },
      nn.Dense { 10, activation = "softmax" },
    }
  end,
  loss = "cross_entropy", metrics = { "accuracy" }, batch_size = 128, epochs = 100,
  target = { metric = "val_accuracy", mode = "max" },
})

-- The Keras example CNN (experiments/mnist_optimizers.lua), its budget and batch.
define("keras_cnn", {
  description = "The Keras example CNN on MNIST: Conv2D(32, 3x3, relu), MaxPool 2, Dropout 0.25, Dense 256 relu, " ..
                "Dropout 0.5, Dense 10 softmax",
  data = mnist,
  model = function()
    local nn = require "nn"
    return nn.Sequential {
      input = { 1, 28, 28 },
      nn.Conv2D { 32, kernel_size = 3, activation = "relu" }, nn.MaxPool2D { pool_size = 2 }, nn.Dropout { 0.25 },
      nn.Flatten(), nn.Dense { 256, activation = "relu" }, nn.Dropout { 0.5 }, nn.Dense { 10, activation = "softmax" },
    }
  end,
  loss = "cross_entropy", metrics = { "accuracy" }, batch_size = 64, epochs = 10,
  target = { metric = "val_accuracy", mode = "max" },
})

define("fashion_2c2d", {
  description = "DeepOBS's fmnist_2c2d on Fashion-MNIST: two Conv2D(5x5, same, relu) + MaxPool 2 layers (32, 64 filters), " ..
                "Dense 1024 relu, Dense 10 softmax",
  data = fashion,
  model = function()
    local nn = require "nn"
    return nn.Sequential {
      input = { 1, 28, 28 },
      nn.Conv2D { 32, kernel_size = 5, padding = "same", activation = "relu" }, nn.MaxPool2D { pool_size = 2 },
      nn.Conv2D { 64, kernel_size = 5, padding = "same", activation = "relu" }, nn.MaxPool2D { pool_size = 2 },
      nn.Flatten(), nn.Dense { 1024, activation = "relu" }, nn.Dense { 10, activation = "softmax" },
    }
  end,
  loss = "cross_entropy", metrics = { "accuracy" }, batch_size = 128, epochs = 100,
  target = { metric = "val_accuracy", mode = "max" },
})

-- An autoencoder's data: the first n images as inputs and as targets, [n, 784] in [0, 1],
-- listing the files they were read from.
local function autoencoder_set(ds, n)
  local data = require "data"
  n = math.min(n, #ds)
  local ids = {}
  for i = 1, n do ids[i] = i - 1 end
  local x = ds:batch(ids):reshape(n, 784)
  return data.tensors(x, x, { targets = true, files = ds:files() })
end
problems._autoencoder_set = autoencoder_set

define("fashion_autoencoder", {
  description = "A dense autoencoder on Fashion-MNIST: 784-256-64-256-784 (ReLU, sigmoid output), mean squared " ..
                "error; the first 10,000 training and 2,000 test images",
  data = function()
    local tr, te = fashion()
    return autoencoder_set(tr, 10000), autoencoder_set(te, 2000)
  end,
  model = function()
    local nn = require "nn"
    return nn.Sequential {
      input = { 784 }, nn.Dense { 256, activation = "relu" }, nn.Dense { 64, activation = "relu" },
      nn.Dense { 256, activation = "relu" }, nn.Dense { 784, activation = "sigmoid" },
    }
  end,
  loss = "mse", metrics = {}, batch_size = 64, epochs = 20,
  target = { metric = "val_loss", mode = "min" },
})

---------------------------------------------------------------- a recurrent problem

-- The adding problem (Hochreiter and Schmidhuber 1997): each example is T steps of
-- (value, marker), values uniform in [0, 1], the marker 1 at one step of the first half
-- and one of the second; the target is the sum of the two marked values. Predicting
-- the mean, 1, scores a mean squared error of 1/6; solving it needs the first marked
-- value carried across T/2 steps, through a product of T Jacobians: the textbook's
-- long-term dependencies, whose gradients vanish or explode (history.grad_norm shows
-- the spikes; clip_norm or global_clip_norm is what the textbook prescribes).
local ADD_T = 30
local function adding_set(n)
  local tensor, data = require "tensor", require "data"
  local values = tensor.rand(n, ADD_T)
  local u = tensor.rand(n, 2)
  local half = math.floor(ADD_T / 2)
  local marks, sums = {}, {}
  for i = 1, n do
    local a = math.floor(u[i][1] * half) + 1            -- 1..T/2
    local b = half + math.floor(u[i][2] * half) + 1     -- T/2+1..T
    for t = 1, ADD_T do marks[#marks + 1] = (t == a or t == b) and 1 or 0 end
    sums[i] = values[i][a] + values[i][b]
  end
  local x = tensor.stack({ values, tensor.from(marks):reshape(n, ADD_T) }, 3)    -- [n, T, 2]
  return data.tensors(x, tensor.from(sums):reshape(n, 1), { targets = true })
end
local add_cache = nil
local function adding()
  if not add_cache then
    local tensor = require "tensor"
    tensor.manual_seed(43)     -- the problem's own draws: the same sets in every process
    add_cache = { train = adding_set(4000), test = adding_set(1000) }
  end
  return add_cache.train, add_cache.test
end
problems._adding = adding

-- A SimpleRNN (h_t = tanh(x_t W + h_(t-1) U + b)) of 32 units read out by a Dense layer
-- at the last step, forward written out step by step on autograd's ops.
local HIDDEN = 32
define("adding_rnn", {
  description = "The adding problem (T = 30) with a 32-unit SimpleRNN: mean squared error of the sum of the two " ..
                "marked values (1/6 for predicting the mean)",
  data = adding,
  model = function()
    local tensor = require "tensor"
    local function param(t, name) t.requires_grad, t.name = true, name return t end
    local m = {
      W = param(tensor.randn(2, HIDDEN) * math.sqrt(1 / 2), "W"),
      U = param(tensor.randn(HIDDEN, HIDDEN) * math.sqrt(1 / HIDDEN), "U"),
      b = param(tensor.zeros(HIDDEN), "b"),
      V = param(tensor.randn(HIDDEN, 1) * math.sqrt(1 / HIDDEN), "V"),
      c = param(tensor.zeros(1), "c"),
    }
    function m:parameters() return { self.W, self.U, self.b, self.V, self.c } end
    return setmetatable(m, { __call = function(self, x)
      local h = nil
      for t = 1, x:size(2) do
        local z = x:select(2, t):matmul(self.W) + self.b
        if h then z = z + h:matmul(self.U) end
        h = z:tanh()
      end
      return h:matmul(self.V) + self.c
    end })
  end,
  loss = "mse", metrics = {}, batch_size = 32, epochs = 20,
  target = { metric = "val_loss", mode = "min" },
})

---------------------------------------------------------------- the problems as spec tables

-- problems.<name>{fields}: the problem's fields, then the caller's.
local PROBLEM_FIELDS = { description = true, data = true, model = true, loss = true, metrics = true, batch_size = true,
                         epochs = true }
for _, name in ipairs(ORDER) do
  local def = DEFS[name]
  problems[name] = function(fields)
    if fields ~= nil and type(fields) ~= "table" then
      fail(string.format("problems.%s: expected a table of experiment.compare fields, got %s", name, type(fields)))
    end
    local spec = { name = name, problem = { name = name, target = def.target, budget_epochs = def.epochs,
                                            batch_size = def.batch_size } }
    for k in pairs(PROBLEM_FIELDS) do spec[k] = def[k] end
    for k, v in pairs(fields or {}) do spec[k] = v end
    -- a tuned comparison of a problem selects on the problem's metric
    if type(spec.tune) == "table" and spec.tune.metric == nil then
      local t = {}
      for k, v in pairs(spec.tune) do t[k] = v end
      t.metric, t.mode = def.target.metric, t.mode or def.target.mode
      spec.tune = t
    end
    return spec
  end
end

problems.names = ORDER

setmetatable(problems, { __index = function(_, k)
  if type(k) == "string" and not k:match("^_") then
    fail(string.format("problems.%s is not a problem%s (problems: %s)", k, suggest.phrase(k, ORDER), table.concat(ORDER, ", ")))
  end
end })

local help = require "help"
help.register(problems, [[
problems  test problems for comparisons: problems.quadratic_deep, logistic_mnist, mlp_mnist, keras_cnn, fashion_2c2d,\nfashion_autoencoder, adding_rnn
problems.<name>{fields} -> the fields of an experiment.compare table (data, model, loss, metrics, batch_size,
epochs: the problem's budget), with the caller's fields added or replacing them:
  experiment.compare(problems.mlp_mnist { optimizers = {...}, tune = {...}, epochs = 3, train_limit = 4000 })
A tuned comparison of a problem selects on the problem's metric (val_accuracy; val_loss for quadratic_deep,\nfashion_autoencoder and adding_rnn).]])

return problems
