-- Why a long training run is slower than a 100-step burst (issue 19): the Keras example
-- CNN with Adam on Fashion-MNIST, batch 64 (bench/optlab_cnn.lua's loop), timed in
-- windows of 100 steps, with what could explain a drift next to each window:
--   cpu ms/step   the process's CPU time (all threads) per step: preemption by other
--                 processes does not count, frequency, cache and memory effects do
--   wall ms/step  the clock
--   RSS, live     resident memory, and the bytes of live tensors (growth, fragmentation)
--   minflt/step   minor page faults per step (memory given back to the kernel and taken again)
--   steal %       the hypervisor's steal time of the whole machine (/proc/stat)
--   MHz           the mean "cpu MHz" of /proc/cpuinfo (a guest may show a fixed value)
--   denormal      float32 values below 2^-126 (not zero) in the weights, their gradients and
--                 Adam's m and v: arithmetic on them takes microcode assists on many CPUs.
--                 Adam's m of a weight whose gradient is exactly 0 (a dead ReLU unit) decays
--                 by 0.9 a step, turns denormal after ~600 steps and sticks at 2^-149 (0.9 x
--                 2^-149 rounds back up); the last line measures what that costs this CPU
-- Then, in the same process, a fresh model and optimizer run the first burst's steps
-- again ("again"): as fast as the first burst means the process and the machine are
-- fine and the slowdown comes with the trained state; as slow as the long run means the
-- process or the machine.
--   optlab --threads 1 bench/longrun.lua [steps] [window]   (default 3000 steps, 100)
local steps_total = tonumber(arg and arg[1]) or 3000
local window = tonumber(arg and arg[2]) or 100
local F = nn.functional

local ok, train_ds = pcall(data.fashion_mnist)
if not ok then print("longrun: skipped: " .. tostring(train_ds)) return end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- /proc/self/stat: field 10 minflt, 12 majflt (after the command's parentheses).
local function faults()
  local rest = read("/proc/self/stat"):match("%) (.*)$") or ""
  local f = {}
  for x in rest:gmatch("%S+") do f[#f + 1] = x end
  return tonumber(f[8]) or 0, tonumber(f[10]) or 0
end

local function steal()
  local v = {}
  for x in (read("/proc/stat"):match("^cpu%s+([^\n]*)") or ""):gmatch("%d+") do v[#v + 1] = tonumber(x) end
  local total = 0
  for i = 1, math.min(8, #v) do total = total + v[i] end
  return v[8] or 0, total
end

local function mhz()
  local sum, n = 0, 0
  for x in read("/proc/cpuinfo"):gmatch("cpu MHz%s*:%s*([%d.]+)") do sum, n = sum + tonumber(x), n + 1 end
  return n > 0 and sum / n or 0
end

local FLT_MIN = 1.1754944e-38
local function denormals(ts)
  local n = 0
  for _, t in ipairs(ts) do
    local a = t:abs()
    n = n + a:lt(FLT_MIN):sum():item() - a:eq(0):sum():item()
  end
  return n
end

local function setup()
  tensor.manual_seed(1)
  local model = nn.Sequential {
    input = { 1, 28, 28 },
    nn.Conv2D { 32, 3, activation = "relu" }, nn.MaxPool2D { 2 }, nn.Dropout { 0.25 }, nn.Flatten(),
    nn.Dense { 256, activation = "relu" }, nn.Dropout { 0.5 }, nn.Dense { 10 },
  }
  local loader = data.loader(train_ds, { batch_size = 64, shuffle = true, seed = 1, drop_last = true })
  local r = { model = model, params = model:parameters(), opt = optim.Adam { lr = 1e-3 }, loader = loader, epoch = 1 }
  r.it = loader:epoch(1)
  return r
end

local function step(r)
  local x, y = r.it()
  if not x then r.epoch = r.epoch + 1; r.it = r.loader:epoch(r.epoch); x, y = r.it() end
  r.model:zero_grad()
  local loss = F.cross_entropy(r.model(x), y)
  loss:backward()
  r.opt:step(r.params)
  return loss
end

-- The tensors that live across steps, by kind: weights, gradients, Adam's m and v.
local function state_tensors(r)
  local by = { w = {}, grad = {} }
  for _, p in ipairs(r.params) do
    by.w[#by.w + 1] = p
    if p.grad then by.grad[#by.grad + 1] = p.grad end
    for name, b in pairs(r.opt.state[p] or {}) do by[name] = by[name] or {}; table.insert(by[name], b) end
  end
  return by
end

local function denormal_text(r)
  local by, total, parts = state_tensors(r), 0, {}
  local names = {}
  for k in pairs(by) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local n = denormals(by[k])
    total = total + n
    if n > 0 then parts[#parts + 1] = string.format("%s %d", k, n) end
  end
  return total, table.concat(parts, ", ")
end

local function probe()
  local mi, ma = faults()
  local st, tot = steal()
  return { wall = sys.clock(), cpu = os.clock(), minflt = mi, majflt = ma, steal = st, ticks = tot }
end

print(string.format("longrun: %d steps in windows of %d, %d thread%s, batch 64, Adam", steps_total, window,
                    sys.threads(), sys.threads() == 1 and "" or "s"))
print(string.format("%-8s %11s %12s %8s %8s %11s %8s %7s %7s %10s  %s", "steps", "cpu ms/step", "wall ms/step", "RSS MiB",
                    "live MiB", "minflt/step", "steal %", "MHz", "loss", "denormal", "(where)"))
local function line(what, a, b, n, r, loss)
  local total, where = denormal_text(r)
  print(string.format("%-8s %11.3f %12.3f %8.1f %8.1f %11.1f %8.1f %7.0f %7.4f %10d  %s", what,
    (b.cpu - a.cpu) * 1000 / n, (b.wall - a.wall) * 1000 / n, sys.rss() / 1048576,
    require("optlab.core").live_bytes() / 1048576, (b.minflt - a.minflt) / n,
    b.ticks > a.ticks and 100 * (b.steal - a.steal) / (b.ticks - a.ticks) or 0, mhz(), loss:item(), total, where))
end

local r = setup()
for _ = 1, 20 do step(r) end   -- warm-up: allocations, caches, the loader
local first, windows = nil, {}
local done = 0
while done < steps_total do
  local a = probe()
  local loss
  for _ = 1, window do loss = step(r) end
  local b = probe()
  done = done + window
  windows[#windows + 1] = (b.cpu - a.cpu) / window
  first = first or windows[1]
  line(tostring(done), a, b, window, r, loss)
end

-- the first burst's steps again, from a fresh model and optimizer, in this process
local r2 = setup()
for _ = 1, 20 do step(r2) end
local a = probe()
local loss
for _ = 1, window do loss = step(r2) end
local b = probe()
line("again", a, b, window, r2, loss)
local again = (b.cpu - a.cpu) / window
local tail = 0
local k = math.max(1, math.floor(#windows / 4))
for i = #windows - k + 1, #windows do tail = tail + windows[i] end
tail = tail / k
print(string.format("cpu time per step: the last quarter %.2fx the first window; the fresh burst after the run %.2fx",
                    tail / first, again / first))

-- What denormals cost this CPU: Adam's step over the CNN's 1,387,594 parameters (zero
-- gradients, as for a dead unit) with m and v holding normal floats vs denormals.
local function adam_ms(fill)
  local p = tensor.zeros(1387594)
  p.requires_grad = true
  p.grad = tensor.zeros(1387594)
  local opt = optim.Adam { lr = 1e-3 }
  opt:step({ p })
  for _, b in pairs(opt.state[p]) do b:fill_(fill) end
  local best = math.huge
  for _ = 1, 5 do
    local c0 = os.clock()
    for _ = 1, 20 do opt:step({ p }) end
    best = math.min(best, (os.clock() - c0) / 20)
  end
  return best * 1000
end
local normal, denormal = adam_ms(1e-30), adam_ms(1e-40)
print(string.format("Adam step, 1,387,594 parameters: %.3f ms with normal state, %.3f ms with denormal state (%.2fx)",
                    normal, denormal, denormal / normal))
