-- One epoch of the Keras example CNN (Conv2D 32 3x3 relu, MaxPool 2, Dropout .25,
-- Flatten, Dense 256 relu, Dropout .5, Dense 10 softmax; Adam) on the 60,000
-- Fashion-MNIST training images at batch 64, with 1 and 2 threads: seconds,
-- samples/s, ms/step, peak RSS, and where a step's time goes:
--   data   gather + uint8->float conversion of the batches (timed alone)
--   lua    the Lua VM: layers, tape, optimizer glue (VM instructions counted
--          in the epoch by a count hook, times ns per instruction calibrated
--          on a plain Lua loop in this process)
--   C      the rest: BLIS and our kernels (plus the bindings' argument checks)
-- usage: optlab bench/bench_train.lua [n_images]   (default 60000)
if not (rawget(_G, "nn") and nn.Sequential and rawget(_G, "optim") and optim.Adam) then
  print("bench_train: skipped: needs nn and optim (stdlib/nn.lua, stdlib/optim.lua)")
  return
end

local n_images = tonumber(arg and arg[1]) or 60000
local ok, train_ds = pcall(data.fashion_mnist)
if not ok then
  print("bench_train: skipped: " .. tostring(train_ds))
  return
end
train_ds = train_ds:take(n_images)

local function keras_mnist_cnn()
  tensor.manual_seed(1)
  return nn.models.keras_mnist_cnn()
end

-- ns per Lua VM instruction, from a loop of known instruction count.
local function ns_per_instruction()
  local count = 0
  debug.sethook(function() count = count + 1 end, "", 1000)
  local t0 = sys.clock()
  local s = 0
  for i = 1, 3000000 do s = s + i % 7 end
  local dt = sys.clock() - t0
  debug.sethook()
  local hooked = count * 1000
  local t1 = sys.clock()
  for i = 1, 3000000 do s = s + i % 7 end
  local plain = sys.clock() - t1
  return plain / hooked * 1e9, s
end

local function epoch(threads, count_instructions)
  sys.set_threads(threads)
  local model = keras_mnist_cnn()
  local opt = optim.Adam { lr = 1e-3 }
  local instr = 0
  if count_instructions then debug.sethook(function() instr = instr + 1 end, "", 1000) end
  local h = train.fit(model, opt, train_ds, { epochs = 1, batch_size = 64, seed = 1, verbose = 0 })
  debug.sethook()
  return h, instr * 1000
end

local function data_only(threads)
  sys.set_threads(threads)
  local loader = data.loader(train_ds, { batch_size = 64, seed = 1 })
  local t0 = sys.clock()
  for _ in loader:epoch(1) do end
  return sys.clock() - t0, loader:steps()
end

local nspi = ns_per_instruction()
print(string.format("bench_train: Keras example CNN, %d Fashion-MNIST images, batch 64, Adam; %.2f ns per Lua VM instruction",
  #train_ds, nspi))
print(string.format("%-8s %8s %10s %8s %9s   %6s %6s %6s", "threads", "seconds", "samples/s", "ms/step", "peak RSS",
  "data", "lua", "C"))
for _, th in ipairs { 1, 2 } do
  local h = epoch(th, false)
  local secs, steps = h.seconds[1], #h.ms_per_step > 0 and math.ceil(#train_ds / 64) or 1
  local dsecs = data_only(th)
  local _, instr = epoch(th, true)
  local lua_s = instr * nspi * 1e-9
  print(string.format("%-8d %8.2f %10.0f %8.2f %8.0fM   %5.1f%% %5.1f%% %5.1f%%", th, secs, h.samples_per_s[1],
    h.ms_per_step[1], sys.peak_rss() / 2 ^ 20, 100 * dsecs / secs, 100 * lua_s / secs,
    100 * (secs - dsecs - lua_s) / secs))
  io.stdout:flush()
end
