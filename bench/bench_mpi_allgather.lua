-- The bandwidth of an allgather between 2 ranks on one machine, 1 to 64 MB a rank: what a
-- data-parallel step (train.fit's distributed = true) pays to exchange its packed gradients.
--   C.mpi.allgather        Lua strings in and out, every buffer allocated afresh
--   shard_exchange         C.train.shard_exchange: the receive buffer kept from call to call,
--                          as a data-parallel step keeps it
--   one-process copy       shard_exchange outside a job: one memcpy of the bytes, the memory's
--                          own speed, the bound a shared-memory transport approaches
-- under each of Open MPI's launch settings: its default, `--mca btl self,vader` (shared memory
-- only; single copies through CMA, process_vm_readv), vader without single copies (two copies
-- through a shared segment, for hosts where ptrace rules forbid CMA), and TCP over loopback.
-- GB/s is the bytes a rank holds afterwards (2 x size) over the time, the best of REPS.
-- usage: optlab bench/bench_mpi_allgather.lua [reps = 5]
-- Under mpirun it measures and rank 0 prints RESULT lines (the plain run starts those jobs).
local C = require "optlab.core"
local report = require "report"

local REPS = tonumber(arg and arg[1]) or 5
local SIZES = { 1, 2, 4, 8, 16, 32, 64 }   -- MB (10^6 bytes) a rank
local M = C.mpi

-- The best time of fn over REPS, every rank starting together.
local function best(fn)
  local t = math.huge
  for _ = 1, REPS do
    M.barrier()
    local t0 = sys.clock()
    fn()
    t = math.min(t, sys.clock() - t0)
  end
  return t
end

local function measure(mb)
  local s = string.rep("x", mb * 1000000)
  local sum = C.train.shard_sum({ tensor.zeros(1) }, 0)
  local fresh = M.active() and best(function() M.allgather(s) end) or nil
  local kept = best(function() C.train.shard_exchange(sum, s) end)
  return fresh, kept
end

if M.active() then
  for _, mb in ipairs(SIZES) do
    local fresh, kept = measure(mb)
    if M.rank() == 0 then
      print(string.format("RESULT mb=%d ranks=%d fresh=%.6f kept=%.6f", mb, M.size(), fresh, kept))
    end
  end
  return
end

local function gbps(mb, t, ranks) return ranks * mb * 1e6 / t / 1e9 end

local SETTINGS = {
  { "default", "" },
  { "vader (CMA)", "--mca btl self,vader" },
  { "vader, no single copy", "--mca btl self,vader --mca btl_vader_single_copy_mechanism none" },
  { "tcp (loopback)", "--mca btl self,tcp" },
}

local p = io.popen("command -v mpirun; id -u")
local path, uid = p:read("*l"), nil
if path and not path:match("^/") then uid, path = path, nil else uid = p:read("*l") end
p:close()
local yama = report.read_file("/proc/sys/kernel/yama/ptrace_scope")
print(string.format("allgather between 2 ranks on this machine (%s); ptrace_scope %s; load average %s", report.shell_line("nproc") ..
  " cores", yama and yama:match("%d") or "absent (no Yama: CMA allowed between a user's processes)",
  (report.read_file("/proc/loadavg") or "?"):match("^(%S+)")))
print(string.format("one-process copy (memcpy, the memory's speed): %s GB/s at 1, 16, 64 MB",
  table.concat({ string.format("%.2f", gbps(1, select(2, measure(1)), 1)), string.format("%.2f", gbps(16, select(2, measure(16)), 1)),
                 string.format("%.2f", gbps(64, select(2, measure(64)), 1)) }, ", ")))
if not path then print("no mpirun on PATH (Debian's openmpi-bin): the rows across ranks are skipped") return end
local exe = require("experiment").optlab_exe()
print(string.format("\n%-22s %5s %12s %9s %12s %9s", "launch", "MB", "allgather", "GB/s", "kept buffer", "GB/s"))
for _, st in ipairs(SETTINGS) do
  local cmd = string.format("OMP_NUM_THREADS=1 mpirun --oversubscribe%s %s -n 2 %s %s %d 2>&1",
    uid == "0" and " --allow-run-as-root" or "", st[2], report.shell_quote(exe), report.shell_quote(arg[0]), REPS)
  local f = io.popen(cmd)
  local out = f:read("*a")
  f:close()
  local any = false
  for mb, fresh, kept in out:gmatch("RESULT mb=(%d+) ranks=2 fresh=([%d.]+) kept=([%d.]+)") do
    mb, fresh, kept = tonumber(mb), tonumber(fresh), tonumber(kept)
    any = true
    print(string.format("%-22s %5d %10.2f ms %9.2f %10.2f ms %9.2f", st[1], mb, fresh * 1e3, gbps(mb, fresh, 2),
                        kept * 1e3, gbps(mb, kept, 2)))
  end
  if not any then print(st[1] .. ": the job printed no results:\n" .. out) end
end
