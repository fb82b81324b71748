-- Where a training step of the Keras example CNN goes: time per C entry point (ms per step),
-- GFLOP/s of the conv and linear kernels next to BLIS's rate on the same GEMM shapes,
-- and the rest (Lua, autograd tape, allocation) as the remainder.
--
--   optlab --threads T bench/profile_step.lua [steps]
--
-- Every function of optlab.core, its nn table and the tensor methods is wrapped with a
-- timer (sys.clock around the call); nested calls are counted in the caller too, so the
-- column "self" subtracts them. The wrappers cost ~1 us per call, which the "calls"
-- column lets you account for.
local C = require "optlab.core"
local steps = tonumber(arg[1] or 100)
-- At 1 thread the timers read the process's CPU time: on a shared machine, time spent
-- preempted by other processes would otherwise land on whichever op was running.
local clock = sys.threads() == 1 and os.clock or sys.clock

local stats, depth_child = {}, { 0 }
local function wrap(tbl, prefix)
  for k, f in pairs(tbl) do
    if type(f) == "function" and k ~= "raise" and k ~= "is_tensor" then
      local name = prefix .. k
      tbl[k] = function(...)
        depth_child[#depth_child + 1] = 0
        local t0 = clock()
        local r = table.pack(f(...))
        local dt = clock() - t0
        local child = table.remove(depth_child)
        depth_child[#depth_child] = depth_child[#depth_child] + dt
        local s = stats[name]
        if not s then s = { n = 0, t = 0, self = 0 }; stats[name] = s end
        s.n, s.t, s.self = s.n + 1, s.t + dt, s.self + dt - child
        return table.unpack(r, 1, r.n)
      end
    end
  end
end

-- Wrap before the stdlib modules capture their locals: nn and optim are loaded lazily
-- as globals by the host, so touch them only after wrapping.
wrap(C.nn, "nn.")
wrap(C.methods, "t:")
wrap(C, "C.")
wrap(tensor.raw, "raw.")

tensor.manual_seed(1)
local ds = data.fashion_mnist()
local loader = data.loader(ds, { batch_size = 64, shuffle = true, seed = 1, drop_last = true })
local model = nn.Sequential {
  input = { 1, 28, 28 },
  nn.Conv2D { 32, 3, activation = "relu" }, nn.MaxPool2D { 2 }, nn.Dropout { 0.25 }, nn.Flatten(),
  nn.Dense { 256, activation = "relu" }, nn.Dropout { 0.5 }, nn.Dense { 10 },
}
local params = model:parameters()
local opt = optim.Adam { lr = 1e-3 }
local it = loader:epoch(1)
local function step()
  local x, y = it()
  model:zero_grad() -- grads to nil, as train.fit and PyTorch's zero_grad(set_to_none=True)
  local loss = nn.functional.cross_entropy(model(x), y)
  loss:backward()
  opt:step(params)
end
for _ = 1, 10 do step() end
stats = {}
local t0 = clock()
for _ = 1, steps do step() end
local total = (clock() - t0) / steps

local rows = {}
for k, s in pairs(stats) do rows[#rows + 1] = { k, s } end
table.sort(rows, function(a, b) return a[2].self > b[2].self end)
local accounted = 0
print(string.format("threads %d, %.2f ms %s per step (%.0f samples/s with timers)", sys.threads(), total * 1e3,
  clock == os.clock and "CPU" or "wall", 64 / total))
print(string.format("%-34s %8s %8s %6s %8s", "entry point", "ms/step", "self", "%", "calls"))
for _, r in ipairs(rows) do
  local s = r[2]
  accounted = accounted + s.self
  if s.self / steps > 0.005e-3 * 10 then
    print(string.format("%-34s %8.3f %8.3f %5.1f%% %8.1f", r[1], s.t / steps * 1e3, s.self / steps * 1e3,
      100 * s.self / steps / total, s.n / steps))
  end
end
print(string.format("%-34s %8s %8.3f %5.1f%%", "Lua (tape, layers, optimizer loop)", "", (total - accounted / steps) * 1e3,
  100 * (total - accounted / steps) / total))

-- GFLOP/s per layer, next to tensor matmul on the same GEMM shapes: matmul is ol_gemm, the
-- shape-fixed tiles with one single-threaded BLIS call each that conv and linear use too.
local function gf(flops, name)
  local s = stats[name]
  if not s then return "n/a" end
  return string.format("%.1f GFLOP/s (%.3f ms per step)", flops / (s.t / steps) / 1e9, s.t / steps * 1e3)
end
local conv_flops = 2 * 64 * 32 * 676 * 9
local fc1 = 2 * 64 * 5408 * 256
print()
-- Sequential runs Conv2D+MaxPool2D fused; the rate counts the conv's flops over the fused op's
-- whole time (pool, bias and ReLU included), so it is a lower bound of the conv's own rate.
if stats["nn.conv2d_maxpool_forward"] then
  print("conv2d+pool fwd  " .. gf(conv_flops, "nn.conv2d_maxpool_forward") .. "   (direct conv, 64 x 32 x 676 x 9 taps, pool included)")
  print("conv2d+pool bwd  " .. gf(conv_flops, "nn.conv2d_maxpool_backward") .. "   (dw only, unpool included)")
else
  print("conv2d_forward   " .. gf(conv_flops, "nn.conv2d_forward") .. "   (64 x [32x9]@[9x676])")
  print("conv2d_backward  " .. gf(conv_flops, "nn.conv2d_backward") .. "   (dw only: 64 x [32x676]@[676x9])")
end
print("linear_forward   (both Dense) " .. gf(fc1 + 2 * 64 * 256 * 10, "nn.linear_forward"))
print("linear_backward  (both Dense) " .. gf(2 * fc1 + 2 * 2 * 64 * 256 * 10, "nn.linear_backward"))

-- The conv layer alone, unfused (Conv2D+ReLU as F.conv2d runs it when no pool follows): the
-- direct kernel, bias and ReLU, its 64x32x26x26 output written out. Best of 20 batches of the
-- data's first images.
do
  local x = loader:epoch(2)()
  local conv = model.layers[1]
  local fwd = C.nn.conv2d_forward
  local best = math.huge
  for _ = 1, 20 do
    local s = clock(); fwd(x, conv.weight, conv.bias, 1, 1, 0, 1, 1, true); local d = clock() - s
    if d < best then best = d end
  end
  print(string.format("conv2d alone     %.1f GFLOP/s (%.3f ms per batch)   (direct kernel + bias + ReLU, output written, unfused)",
    conv_flops / best / 1e9, best * 1e3))
end

-- The same shapes through tensor matmul (ol_gemm); its timer wrapper adds ~1 us, negligible here
local function blis_rate(m, k, n, reps, label)
  local a, b = tensor.randn({ m, k }), tensor.randn({ k, n })
  local mm = tensor.raw.matmul
  mm(a, b)
  local best = math.huge
  for _ = 1, reps do
    local s = clock(); mm(a, b); local d = clock() - s
    if d < best then best = d end
  end
  print(string.format("matmul %-32s %7.1f GFLOP/s (%.3f ms)", label, 2 * m * k * n / best / 1e9, best * 1e3))
end
print()
blis_rate(64, 5408, 256, 20, "[64x5408]@[5408x256] (fc1 fwd)")
blis_rate(256, 64, 5408, 20, "[256x64]@[64x5408] (fc1 dW)")
blis_rate(64, 256, 5408, 20, "[64x256]@[256x5408] (fc1 dx)")
blis_rate(32, 9, 676, 200, "[32x9]@[9x676] (conv fwd, 1 image)")
blis_rate(32, 9, 676 * 64, 20, "[32x9]@[9x43264] (conv fwd, batch)")
blis_rate(32, 676, 9, 200, "[32x676]@[676x9] (conv dW, 1 image)")
