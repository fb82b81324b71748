-- The scaling of a data-parallel training step (train.fit's distributed = true): one step of
-- the Keras example CNN (nn.models.keras_mnist_cnn(), Adam) at batch 64 and 512, on
--   undivided      train.fit without distributed, 1 and 2 threads
--   1 rank         distributed in one process (every shard in turn), 1 thread
--   2 ranks        mpirun -n 2, OMP_NUM_THREADS=1 each (the whole machine, as 2 threads are)
-- each with 2, 4, 6 and 12 shards a batch (2: the fewest that 2 ranks can share). Time per step
-- is the best of 2 measured epochs after a warm-up epoch (the machine may be shared), on
-- synthetic 28x28 images (the step's cost does not depend on the pixels).
-- usage: optlab bench/bench_dp.lua [steps at batch 64 = 20] [steps at batch 512 = 4]
-- Under mpirun it measures the distributed rows only and rank 0 prints them (the plain run
-- starts that job itself; without mpirun those rows are skipped, saying so).
local C = require "optlab.core"
local report = require "report"

local steps64, steps512 = tonumber(arg and arg[1]) or 20, tonumber(arg and arg[2]) or 4
local under_mpi = C.mpi.active()

-- ms per step (wall) and CPU ms per step of this process, the best of epochs 2 and 3.
local function measure(batch, steps, distributed)
  tensor.manual_seed(1)
  local ds = data.tensors(tensor.rand(batch * steps, 1, 28, 28), (tensor.rand(batch * steps) * 10):floor())
  local model = nn.models.keras_mnist_cnn()
  local cpu, c0 = {}, 0
  local h = train.fit(model, optim.Adam { lr = 1e-3 }, ds, {
    epochs = 3, batch_size = batch, verbose = 0, distributed = distributed,
    callbacks = { { on_epoch_begin = function() c0 = os.clock() end,
                    on_epoch_end = function(e) cpu[e] = (os.clock() - c0) * 1000 / steps end } } })
  local best, best_cpu = math.huge, math.huge
  for e = 2, 3 do
    if h.ms_per_step[e] < best then best, best_cpu = h.ms_per_step[e], cpu[e] end
  end
  return best, best_cpu
end

local CASES = { { 64, steps64 }, { 512, steps512 } }
local SHARDS = { 2, 4, 6, 12 }

if under_mpi then
  for _, c in ipairs(CASES) do
    for _, shards in ipairs(SHARDS) do
      local ms, cpu = measure(c[1], c[2], { shards = shards })
      if C.mpi.rank() == 0 then
        print(string.format("RESULT batch=%d shards=%d ranks=%d ms=%.3f cpu=%.3f", c[1], shards, C.mpi.size(), ms, cpu))
      end
    end
  end
  return
end

-- mpirun -n 2 on this script, OMP_NUM_THREADS=1 each: its RESULT lines by "batch/shards".
local function two_ranks()
  local p = io.popen("command -v mpirun; id -u")
  local path, uid = p:read("*l"), nil
  if path and not path:match("^/") then uid, path = path, nil else uid = p:read("*l") end
  p:close()
  if not path then return nil, "no mpirun on PATH (Debian's openmpi-bin)" end
  local exe = require("experiment").optlab_exe()
  local cmd = string.format("OMP_NUM_THREADS=1 mpirun --oversubscribe%s -n 2 %s %s %d %d 2>&1",
    uid == "0" and " --allow-run-as-root" or "", report.shell_quote(exe), report.shell_quote(arg[0]), steps64, steps512)
  local f = io.popen(cmd)
  local out = f:read("*a")
  f:close()
  local res = {}
  for b, s, ms, cpu in out:gmatch("RESULT batch=(%d+) shards=(%d+) ranks=2 ms=([%d.]+) cpu=([%d.]+)") do
    res[b .. "/" .. s] = { tonumber(ms), tonumber(cpu) }
  end
  if next(res) == nil then return nil, "the mpirun job printed no results:\n" .. out end
  return res
end

local saved = sys.threads()
local rows = {}
for _, c in ipairs(CASES) do
  local b, steps = c[1], c[2]
  sys.set_threads(1)
  local u1, u1c = measure(b, steps, nil)
  sys.set_threads(2)
  local u2, u2c = measure(b, steps, nil)
  sys.set_threads(1)
  local row = { b = b, u1 = { u1, u1c }, u2 = { u2, u2c }, d = {} }
  for _, n in ipairs(SHARDS) do row.d[n] = { measure(b, steps, { shards = n }) } end
  rows[#rows + 1] = row
end
sys.set_threads(saved)
local mpi, why = two_ranks()

print("bench_dp: one training step of the Keras example CNN (Adam); speed-up = undivided at 1 thread / this;")
print("CPU ms: this process's (rank 0's) CPU time a step, all its threads")
print(string.format("%-6s %-22s %10s %8s %8s", "batch", "configuration", "ms/step", "speed-up", "CPU ms"))
for _, r in ipairs(rows) do
  local function line(name, m)
    if m then print(string.format("%-6d %-22s %10.2f %7.2fx %8.2f", r.b, name, m[1], r.u1[1] / m[1], m[2]))
    else print(string.format("%-6d %-22s %10s", r.b, name, "skipped")) end
  end
  line("undivided, 1 thread", r.u1)
  line("undivided, 2 threads", r.u2)
  for _, n in ipairs(SHARDS) do line("1 rank, " .. n .. " shards", r.d[n]) end
  for _, n in ipairs(SHARDS) do line("2 ranks, " .. n .. " shards", mpi and mpi[r.b .. "/" .. n]) end
end
if not mpi then print("bench_dp: 2 ranks skipped: " .. why) end
