-- One measurement for bench/bench_vm.lua, run by the optlab of one VM (Lua 5.4 or LuaJIT):
--
--   optlab --threads 1 bench/vm_worker.lua loop getset|ffi|kernel [n] [reps]
--   optlab --threads 1 bench/vm_worker.lua step [steps] [warmup]
--
-- loop: one hand-written SGD update w <- w - lr g over n floats (1M by default), best of
-- reps: through t:get/t:set (a binding call per element), through t:ffi() (LuaJIT only:
-- the loop compiles to machine code on raw float pointers), or the fused C kernel
-- (optim.SGD, one pass in C) as the floor. Prints
--   RESULT vm=<Lua 5.4|LuaJIT ...> mode=loop how=getset n=N ns_per_elem=X check=<w[1] after>
-- step: the Keras example CNN's training step (bench/optlab_cnn.lua's loop: Conv2D 32 3x3 +
-- ReLU, MaxPool 2, Dropout, Dense 256 + ReLU, Dropout, Dense 10; Adam; batch 64 of
-- Fashion-MNIST). Prints RESULT vm=... mode=step ms_per_step=X lua_ms=Y, where lua_ms is the
-- step's time outside optlab's C functions (autograd tape, layers, optimizer loop), measured
-- by timing every C entry point as bench/profile_step.lua does (its timers inflate it a little).
local mode = arg[1] or "loop"
local vm = compat.vm

local function best_of(reps, fn)
  local best = math.huge
  for _ = 1, reps do
    local t0 = sys.clock()
    fn()
    local dt = sys.clock() - t0
    if dt < best then best = dt end
  end
  return best
end

if mode == "loop" then
  local how, n, reps = arg[2] or "getset", tonumber(arg[3] or 1000000), tonumber(arg[4] or 3)
  local lr = 0.01
  local w = tensor.randn(n, { seed = 1 })
  local g = tensor.randn(n, { seed = 2 })
  local fn
  if how == "getset" then
    fn = function()
      for i = 1, n do w:set(i, w:get(i) - lr * g:get(i)) end
    end
  elseif how == "ffi" then
    local p = w:ffi()
    local q = g:ffi()
    fn = function()
      for i = 0, n - 1 do p[i] = p[i] - lr * q[i] end
    end
  elseif how == "kernel" then
    local opt = optim.SGD { lr = lr }
    w.grad = g
    local params = { w }
    fn = function() opt:step(params) end
  else
    error("vm_worker: loop getset|ffi|kernel, not " .. tostring(how))
  end
  fn() -- warm: LuaJIT compiles the loop, the optimizer allocates nothing but checks its input
  local t = best_of(reps, fn)
  print(string.format("RESULT vm=%s mode=loop how=%s n=%d ns_per_elem=%.3f check=%.6f", vm:gsub(" ", "_"), how, n,
    t / n * 1e9, w:get(1)))
elseif mode == "step" then
  local steps, warmup = tonumber(arg[2] or 60), tonumber(arg[3] or 10)
  local C = require "optlab.core"
  local clock = sys.clock
  local in_c, depth = 0, 0
  -- time spent in C entry points (outermost calls only), as bench/profile_step.lua does
  local function wrap(tbl)
    for k, f in pairs(tbl) do
      if type(f) == "function" and k ~= "raise" and k ~= "is_tensor" then
        tbl[k] = function(...)
          depth = depth + 1
          local t0 = clock()
          local r = table.pack(f(...))
          depth = depth - 1
          if depth == 0 then in_c = in_c + clock() - t0 end
          return table.unpack(r, 1, r.n)
        end
      end
    end
  end
  local timed = os.getenv("VM_BENCH_SPLIT") == "1"
  if timed then wrap(C.nn); wrap(C.methods); wrap(C); wrap(tensor.raw) end
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
  local loss
  local function step()
    local x, y = it()
    model:zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss:backward()
    opt:step(params)
  end
  for _ = 1, warmup do step() end
  in_c = 0
  local t0 = clock()
  for _ = 1, steps do step() end
  local total = (clock() - t0) / steps
  print(string.format("RESULT vm=%s mode=step split=%s steps=%d ms_per_step=%.3f lua_ms=%.3f loss=%.4f", vm:gsub(" ", "_"),
    timed and 1 or 0, steps, total * 1e3, timed and (total - in_c / steps) * 1e3 or -1, loss:item()))
else
  error("vm_worker: mode loop or step, not " .. tostring(mode))
end
