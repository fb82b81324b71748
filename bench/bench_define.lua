-- A script's declared optimizers (optim.define) against the built-ins measured
-- in the same run: ns per parameter on one 10M-parameter tensor at 1 and 2
-- threads, the two taking turns step by step (best of REPS each), a plain
-- tensor-op Lua Adam for contrast; then one training step of the Keras example
-- CNN with the built-in and the declared Adam. The built-ins SGD, Adagrad,
-- RMSprop and Adam were hand-written kernels when this bench first compared
-- them; measured at their kernels' speed, they became declarations themselves
-- (stdlib/optim/builtin/; the last kernel comparison: bench/README.md), so the
-- table now shows a researcher's declaration running as fast as a shipped one.
-- usage: optlab bench/bench_define.lua [n] [reps]
local fn = optim.fn
local N = tonumber(arg and arg[1]) or 10000000
local REPS = tonumber(arg and arg[2]) or 15

-- The textbook forms, written as the built-ins round them (same bits:
-- tests/lua/test_define.lua).
local declared = {
  Adam = optim.define {
    name = "BenchAdam", doc = "the textbook's Algorithm 8.7",
    hyper = { { "lr", 1e-3 }, { "beta1", 0.9 }, { "beta2", 0.999 }, { "eps", 1e-8 } },
    state = { m = 0, v = 0 },
    update = function(p, g, s, h, t)
      s.m = h.beta1 * s.m + (1 - h.beta1) * g
      s.v = h.beta2 * s.v + (1 - h.beta2) * (g * g)
      return p - (h.lr / (1 - h.beta1 ^ t)) * s.m / (fn.sqrt(s.v) * (1 / fn.sqrt(1 - h.beta2 ^ t)) + h.eps)
    end,
  },
  ["SGD momentum"] = optim.define {
    name = "BenchMomentum", doc = "the textbook's Algorithm 8.2", hyper = { { "lr", 0.01 }, { "momentum", 0.9 } },
    state = { v = 0 },
    update = function(p, g, s, h) s.v = h.momentum * s.v - h.lr * g; return p + s.v end,
  },
  RMSprop = optim.define {
    name = "BenchRMSprop", doc = "the textbook's Algorithm 8.5", hyper = { { "lr", 0.001 }, { "rho", 0.9 }, { "eps", 1e-6 } },
    state = { r = 0 },
    update = function(p, g, s, h)
      s.r = h.rho * s.r + (1 - h.rho) * (g * g)
      return p - h.lr * g / (fn.sqrt(s.r) + h.eps)
    end,
  },
  Adagrad = optim.define {
    name = "BenchAdagrad", doc = "the textbook's Algorithm 8.4", hyper = { { "lr", 0.01 }, { "eps", 1e-7 } },
    state = { r = 0 },
    update = function(p, g, s, h) s.r = s.r + g * g; return p - h.lr * g / (fn.sqrt(s.r) + h.eps) end,
  },
}
local builtin = {
  Adam = function() return optim.Adam {} end, ["SGD momentum"] = function() return optim.SGD { momentum = 0.9 } end,
  RMSprop = function() return optim.RMSprop {} end, Adagrad = function() return optim.Adagrad {} end,
}

-- Adam in tensor ops, as a researcher would write it without optim.define.
local function lua_adam()
  local st, t = {}, 0
  return { step = function(_, params)
    t = t + 1
    tensor.no_grad(function()
      for _, p in ipairs(params) do
        local s = st[p]
        if not s then s = { m = tensor.zeros(p:shape()), v = tensor.zeros(p:shape()) }; st[p] = s end
        s.m:mul_(0.9):add_(p.grad, 0.1)
        s.v:mul_(0.999):addcmul_(p.grad, p.grad, 0.001)
        local denom = (s.v / (1 - 0.999 ^ t)):sqrt_():add_(1e-8)
        p:addcdiv_(s.m, denom, -1e-3 / (1 - 0.9 ^ t))
      end
    end)
  end }
end

local function per_param(opts, params, n)
  local best = {}
  for i, o in ipairs(opts) do o:step(params); best[i] = math.huge end
  for _ = 1, REPS do
    for i, o in ipairs(opts) do
      local t0 = sys.clock()
      o:step(params)
      best[i] = math.min(best[i], sys.clock() - t0)
    end
  end
  for i = 1, #best do best[i] = best[i] / n * 1e9 end
  return best
end

local threads0 = sys.threads()
local p = tensor.randn(N, { seed = 2 })
p.grad = tensor.randn(N, { seed = 1 })
print(string.format("%d parameters, best of %d steps each, built-in and declared taking turns", N, REPS))
print(string.format("%-14s %3s %12s %12s %7s", "optimizer", "thr", "built-in ns/p", "declared", "ratio"))
local rows = {}
for threads = 1, 2 do
  sys.set_threads(threads)
  for _, name in ipairs { "SGD momentum", "Adagrad", "RMSprop", "Adam" } do
    local t = per_param({ builtin[name](), declared[name]() }, { p }, N)
    print(string.format("%-14s %3d %12.3f %12.3f %7.2f", name, threads, t[1], t[2], t[2] / t[1]))
    rows[#rows + 1] = t[2] / t[1]
  end
  local t = per_param({ builtin.Adam(), lua_adam() }, { p }, N)
  print(string.format("%-14s %3d %12.3f %12.3f %7.2f", "Adam, Lua ops", threads, t[1], t[2], t[2] / t[1]))
end

-- One training step of the Keras example CNN (batch 64, random images): the
-- step's time with each optimizer, the two alternating.
local function cnn_step_ms(threads)
  sys.set_threads(threads)
  local x = tensor.randn({ 64, 1, 28, 28 }, { seed = 3 })
  local labels = {}
  for i = 1, 64 do labels[i] = i % 10 end
  local y = tensor.from(labels)
  local runs = {}
  for i, make in ipairs { builtin.Adam, declared.Adam } do
    tensor.manual_seed(1)
    local model = nn.models.keras_mnist_cnn()
    runs[i] = { model = model, params = model:parameters(), opt = make() }
  end
  local function step(r)
    r.model:zero_grad()
    local loss = nn.functional.cross_entropy(r.model(x), y)
    loss:backward()
    r.opt:step(r.params)
  end
  for _ = 1, 5 do step(runs[1]); step(runs[2]) end
  local total = { 0, 0 }
  for _ = 1, 30 do
    for i = 1, 2 do
      local t0 = sys.clock()
      step(runs[i])
      total[i] = total[i] + sys.clock() - t0
    end
  end
  return total[1] / 30 * 1e3, total[2] / 30 * 1e3
end
for threads = 1, 2 do
  local a, b = cnn_step_ms(threads)
  print(string.format("Keras example CNN step, %d thr: built-in Adam %.2f ms, declared Adam %.2f ms (%+.1f%%)",
    threads, a, b, 100 * (b / a - 1)))
end
sys.set_threads(threads0)
