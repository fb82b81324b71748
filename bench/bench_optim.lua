-- Optimizer throughput: ns per parameter and GB/s for each optimizer on 1M and
-- 10M parameters with 1 and 2 threads, against the copy and triad bandwidth
-- measured in the same run (C.optim.bench_copy / C.optim.bench_triad, same threading).
-- GB/s counts the bytes a fused update must move: param read+write, grad
-- read, each state buffer read+write. Copy and triad are counted as STREAM
-- does (8 and 12 bytes per element); their stores to a separate array also
-- cost a read-for-ownership that in-place updates do not pay, which is why a
-- fused update can show more than 100% of "triad". Other processes on the
-- machine make the 2-thread rows noisy: rerun before drawing conclusions.
local C = require "optlab.core"

local function best_time(fn, reps)
  fn()   -- warm: page faults, state allocation
  local best = math.huge
  for _ = 1, reps do
    local t0 = sys.clock()
    fn()
    local dt = sys.clock() - t0
    if dt < best then best = dt end
  end
  return best
end

local cases = {
  { "SGD", function() return optim.SGD { lr = 0.01 } end, 0 },
  { "SGD momentum", function() return optim.SGD { lr = 0.01, momentum = 0.9 } end, 1 },
  { "SGD nesterov", function() return optim.SGD { lr = 0.01, momentum = 0.9, nesterov = true } end, 1 },
  { "Adagrad", function() return optim.Adagrad { lr = 0.01 } end, 1 },
  { "RMSprop", function() return optim.RMSprop { lr = 0.001 } end, 1 },
  { "RMSprop centered+mom", function() return optim.RMSprop { lr = 0.001, centered = true, momentum = 0.9 } end, 3 },
  { "Adam", function() return optim.Adam { lr = 0.001 } end, 2 },
  { "Adam amsgrad", function() return optim.Adam { lr = 0.001, amsgrad = true } end, 3 },
  { "AdamW", function() return optim.AdamW { lr = 0.001 } end, 2 },
  { "Adamax", function() return optim.Adamax {} end, 2 },
  { "Nadam", function() return optim.Nadam {} end, 2 },
  { "Lion", function() return optim.Lion {} end, 1 },
  { "Rprop", function() return optim.Rprop {} end, 2 },
  { "Adadelta", function() return optim.Adadelta {} end, 2 },
}

local threads0 = sys.threads()
print(string.format("%-22s %5s %3s %9s %8s %7s", "optimizer", "n", "thr", "ns/param", "GB/s", "/triad"))
local summary = {}
for _, n in ipairs { 1000000, 10000000 } do
  local label = n == 1000000 and "1M" or "10M"
  local a, b, c = tensor.zeros(n), tensor.ones(n), tensor.ones(n)
  local g = tensor.randn(n, { seed = 1 })
  for threads = 1, 2 do
    sys.set_threads(threads)
    local reps = n > 1000000 and 10 or 40
    local tc = best_time(function() C.optim.bench_copy(a, b) end, reps)
    local tt = best_time(function() C.optim.bench_triad(a, b, c, 0.5) end, reps)
    local copy_bw, triad_bw = 8 * n / tc / 1e9, 12 * n / tt / 1e9
    print(string.format("%-22s %5s %3d %9.3f %8.2f", "copy (a = b)", label, threads, tc / n * 1e9, copy_bw))
    print(string.format("%-22s %5s %3d %9.3f %8.2f %7.2f", "triad (a = b + s c)", label, threads, tt / n * 1e9, triad_bw, 1))
    for _, cs in ipairs(cases) do
      local p = tensor.randn(n, { seed = 2 })
      p.grad = g
      local opt = cs[2]()
      local params = { p }
      local dt = best_time(function() opt:step(params) end, reps)
      local bytes = (8 + 4 + 8 * cs[3]) * n
      local bw = bytes / dt / 1e9
      print(string.format("%-22s %5s %3d %9.3f %8.2f %7.2f", cs[1], label, threads, dt / n * 1e9, bw, bw / triad_bw))
      if cs[1] == "Adam" then summary[#summary + 1] = string.format("Adam %s %d thr: %.2f GB/s = %.0f%% of triad", label, threads, bw, 100 * bw / triad_bw) end
    end
  end
end
sys.set_threads(threads0)
for _, s in ipairs(summary) do print(s) end
