-- C.mpi (vm/lmpi.c): outside a job (a plain optlab) and under mpirun.
local lib = require "lib"
local report = require "report"
local C = require "optlab.core"
local check, raises = lib.check, lib.raises

local T = {}
local q = report.shell_quote
local EXE = lib.optlab_exe()
local TMP = lib.tmpdir()

-- Runs a shell command; returns its exit status, stdout and stderr.
local function sh(cmd)
  local out, err = TMP .. "/stdout", TMP .. "/stderr"
  local ok, _, code = os.execute(cmd .. " > " .. q(out) .. " 2> " .. q(err))
  return ok and 0 or code, report.read_file(out) or "", report.read_file(err) or ""
end

local function script(name, text)
  local path = TMP .. "/" .. name
  report.write_file(path, text)
  return path
end

function T.outside_a_job_one_rank_and_no_peers()
  check(C.mpi.active() == false, "a plain optlab must not initialize MPI")
  check(C.mpi.rank() == 0 and C.mpi.size() == 1, "rank 0 of 1")
  check(#C.mpi.hostname() > 0, "hostname")
  C.mpi.barrier()
  local all = C.mpi.allgather("abc")
  check(#all == 1 and all[1] == "abc", "allgather on one process")
  -- at the caller's line, naming what is missing
  local line = debug.getinfo(1, "l").currentline + 1
  raises(function() C.mpi.send("x", 0, 1) end, "test_mpi.lua:" .. line .. ": mpi.send: optlab was not started by an MPI launcher")
  raises(function() C.mpi.recv() end, "mpi.recv: optlab was not started by an MPI launcher")
  raises(function() C.mpi.iprobe() end, "mpi.iprobe: optlab was not started")
end

-- Started by a launcher that is not Open MPI's (MPICH's sets PMI_SIZE, PMI_RANK): MPI sees a
-- job of one, so every process would run every run into a folder of its own. optlab says so.
function T.a_launcher_that_is_not_open_mpis_is_refused_with_the_reason()
  lib.mpirun(1)   -- skips, saying why, where Open MPI's runtime is missing
  local rc, out, err = sh("env PMI_SIZE=4 PMI_RANK=0 timeout 60 " .. q(EXE) .. " -e 'print(\"ran\")'")
  check(rc ~= 0 and rc ~= 124 and not out:find("ran", 1, true), "exit status " .. tostring(rc) .. ", output: " .. out)
  check(err:find("optlab: started by an MPI launcher (mpirun or srun), but it says the job has 4 ranks where MPI sees 1",
                 1, true) and err:find("must be Open MPI's", 1, true), "the reason:\n" .. err)
end

-- Every call of the binding across 3 ranks: sizes from 0 bytes to 1 MB, tags,
-- any source, iprobe, allgather of strings of different sizes, argument checks.
local PING = [==[
local M = require("optlab.core").mpi
local r, n = M.rank(), M.size()
assert(M.active() and n == 3, "3 ranks")
-- the slot's threads, as the job sets them (more than this machine's cores: not a default)
assert(sys.threads() == 5, "OMP_NUM_THREADS=5 gives each rank 5 threads, not " .. sys.threads())
local function payload(k) return string.rep(string.char(65 + k), k == 2 and 1000000 or k * 7) end
local all = M.allgather(payload(r))
for k = 0, n - 1 do assert(all[k + 1] == payload(k), "allgather: rank " .. k .. "'s string") end
assert(#M.allgather("")[1] == 0, "empty strings")
if r == 0 then
  local seen = {}
  for _ = 1, 2 * (n - 1) do
    local s, src, tag = M.recv(nil, nil)
    assert(s == payload(src) .. tag, "message from " .. src .. " tag " .. tag)
    seen[src .. ":" .. tag] = true
  end
  for k = 1, n - 1 do assert(seen[k .. ":5"] and seen[k .. ":6"], "both tags from " .. k) end
  for k = 1, n - 1 do M.send("go " .. k, k, 9) end
  -- a message waits until it is asked for, by source and tag
  local s, src, tag = M.recv(2, 11)
  assert(s == "" and src == 2 and tag == 11, "empty message")
else
  M.send(payload(r) .. 5, 0, 5)
  M.send(payload(r) .. 6, 0, 6)
  while not M.iprobe(0, 9) do end
  local src, tag, size = M.iprobe(0, 9)
  assert(src == 0 and tag == 9 and size == #("go " .. r), "iprobe")
  assert(M.recv(0, 9) == "go " .. r, "reply")
  if r == 2 then M.send("", 0, 11) end
end
local ok, err = pcall(M.send, "x", n, 1)
assert(not ok and err:find("destination rank", 1, true), "a rank out of range: " .. tostring(err))
ok, err = pcall(M.send, "x", 0, 40000)
assert(not ok and err:find("tag", 1, true), "a tag out of range: " .. tostring(err))
M.barrier()
print("rank " .. r .. " of " .. n .. " on " .. M.hostname() .. ": ok")
]==]

function T.under_mpirun_three_ranks_talk()
  local mpirun = lib.mpirun(3)
  local rc, out, err = sh("env OMP_NUM_THREADS=5 timeout 120 " .. mpirun .. q(EXE) .. " " .. q(script("ping.lua", PING)))
  check(rc == 0, "mpirun exit status " .. tostring(rc) .. ":\n" .. out .. err)
  for r = 0, 2 do check(out:find("rank " .. r .. " of 3 on [^\n]+: ok"), "rank " .. r .. ":\n" .. out .. err) end
end

-- A rank that raises, or exits with a failure, ends the whole job (MPI_Abort)
-- instead of leaving the others waiting for it.
local HANG = [==[
local M = require("optlab.core").mpi
if M.rank() == 1 then
  if arg[1] == "exit" then os.exit(3) else error("rank 1 gives up") end
end
M.recv()   -- nobody sends: only the abort ends this
]==]

function T.under_mpirun_a_failing_rank_ends_the_job()
  local mpirun = lib.mpirun(3)
  local path = script("hang.lua", HANG)
  local rc, out, err = sh("timeout 60 " .. mpirun .. q(EXE) .. " " .. q(path))
  check(rc ~= 0 and rc ~= 124, "exit status " .. tostring(rc) .. " (124: the job hung)")
  check(err:find("hang.lua:3: rank 1 gives up", 1, true), "the error, at its line:\n" .. out .. err)
  rc = sh("timeout 60 " .. mpirun .. q(EXE) .. " " .. q(path) .. " exit")
  check(rc == 3, "os.exit(3) on one rank: exit status " .. tostring(rc) .. " (124: the job hung)")
end

---------------------------------------------------------------- a comparison across ranks

-- A short comparison: 2 optimizers x 2 seeds, 3 epochs of 6 steps on synthetic blobs, each
-- epoch made to last 0.2 s so that every rank gets a run. Faults come through the
-- environment, so the copy that `optlab resume` runs behaves normally:
--   TINY_KILL=1   a rank other than 0 dies of SIGKILL in its run's epoch 2
--   TINY_FAIL=1   every SGD run raises an error in its epoch 1
local TINY = [==[
local C = require "optlab.core"
local KILL, FAIL = os.getenv("TINY_KILL"), os.getenv("TINY_FAIL")
return experiment.compare {
  name = "tiny",
  data = function() return data.blobs { n = 96, centers = 3, seed = 2 }, data.blobs { n = 48, centers = 3, seed = 3 } end,
  model = function() return nn.Sequential { input = { 2 }, nn.Dense { 8, activation = "tanh" }, nn.Dense { 3 } } end,
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 16, epochs = 3, seeds = { 1, 2 },
  optimizers = { "Adam", "SGD" },
  callbacks = { function(epoch, _, ctx)
    os.execute("sleep 0.2")
    if FAIL and ctx.opt.name == "SGD" then error("SGD is not welcome here") end
    if KILL and epoch == 2 and C.mpi.rank() ~= 0 then os.execute("kill -KILL $PPID") end
  end },
}
]==]

local experiment = require "experiment"

local function tiny(dir)
  report.mkdir_p(dir)
  return script(dir:match("[^/]*$") .. "/tiny.lua", TINY)
end

-- optlab ARGS (under mpirun when given), its runs under dir/runs; exit status, output, run folder.
local function optlab(pre, args)
  local rc, out, err = sh((pre and ("timeout 300 " .. pre) or "") .. q(EXE) .. " " .. args)
  return rc, out .. err, out:match("Run folder: ([^\n]+)")
end

local serial_csv = nil
-- The serial run's metrics.csv (computed once).
local function serial()
  if serial_csv then return serial_csv end
  local dir = TMP .. "/serial"
  local rc, out, folder = optlab(nil, q(tiny(dir)) .. " runs_dir=" .. q(dir .. "/runs") .. " --jobs 1")
  check(rc == 0 and folder, "the serial run failed:\n" .. out)
  serial_csv = report.read_file(folder .. "/metrics.csv")
  return serial_csv
end

local function manifest(folder) return require("cjson").decode(report.read_file(folder .. "/manifest.json")) end

-- The folder's metrics equal the serial run's bit for bit (the timing columns aside),
-- and `optlab verify` on this one machine accepts the folder.
local function equals_serial(folder, what)
  local csv = report.read_file(folder .. "/metrics.csv")
  local same, _, first = experiment.compare_metrics(serial(), csv)
  check(same, what .. ": metrics.csv differs from the serial run's: " .. tostring(first))
  check(#report.parse_csv(csv).rows == 4 * 3, what .. ": 4 runs x 3 epochs of rows")
  local rc, out = optlab(nil, "verify " .. q(folder))
  check(rc == 0 and out:find("OK, every metric matches bit for bit", 1, true), what .. ": verify:\n" .. out)
end

function T.a_comparison_over_3_ranks_equals_a_serial_run()
  local mpirun = lib.mpirun(3)
  local dir = TMP .. "/across"
  local rc, out, folder = optlab(mpirun, q(tiny(dir)) .. " runs_dir=" .. q(dir .. "/runs"))
  check(rc == 0 and folder, "mpirun exit status " .. tostring(rc) .. ":\n" .. out)
  check(out:find("4 runs over 3 MPI ranks", 1, true), "rank 0 says how the runs go:\n" .. out)
  local m = manifest(folder)
  check(m.status == "complete" and m.mpi and m.mpi.ranks == 3, "manifest: status and ranks")
  local ranks = {}
  for _, r in ipairs(m.runs) do
    check(r.status == "complete" and type(r.rank) == "number" and r.rank >= 0 and r.rank <= 2 and type(r.host) == "string",
          "run " .. r.id .. ": status, rank and host in the manifest")
    ranks[r.rank] = true
  end
  local n = 0
  for _ in pairs(ranks) do n = n + 1 end
  check(n >= 2, "the runs went to more than one rank")
  check(report.read_file(folder .. "/summary.md"):find("4 runs over 3 MPI ranks on 1 host", 1, true), "summary.md's schedule")
  -- one folder, written by rank 0 alone
  local p = io.popen("ls " .. q(dir .. "/runs/tiny"))
  local folders = p:read("a")
  p:close()
  check(select(2, folders:gsub("\n", "")) == 1, "one run folder, not one per rank:\n" .. folders)
  equals_serial(folder, "3 ranks")
end

function T.a_killed_rank_stops_the_job_and_resume_completes_it()
  local mpirun = lib.mpirun(3)
  local dir = TMP .. "/killed"
  local rc, out, _ = optlab("env TINY_KILL=1 " .. mpirun, q(tiny(dir)) .. " runs_dir=" .. q(dir .. "/runs"))
  check(rc ~= 0 and rc ~= 124, "the job must stop when a rank dies: exit status " .. tostring(rc) .. " (124: it hung)")
  local p = io.popen("ls -d " .. q(dir .. "/runs/tiny") .. "/*")
  local folder = p:read("l")
  p:close()
  check(folder, "no run folder:\n" .. out)
  local m = manifest(folder)
  check(m.status == "running", "the manifest of a killed job says running, not " .. tostring(m.status))
  local done = 0
  for _, r in ipairs(m.runs) do if r.status == "complete" then done = done + 1 end end
  check(done < 4, "a run was killed, yet every run finished")
  rc, out = optlab(mpirun, "resume " .. q(folder))
  check(rc == 0, "resume under mpirun: exit status " .. tostring(rc) .. ":\n" .. out)
  check(out:find(string.format("%d of 4 runs finished before; running %d", done, 4 - done), 1, true),
        "resume runs only what is missing:\n" .. out)
  check(select(2, out:gsub("optlab resume: will run", "")) == 1, "rank 0 alone says what resume runs")
  m = manifest(folder)
  check(m.status == "complete" and #m.missing == 0 and m.resumed and m.resumed[1].mpi_ranks == 3, "manifest after resume")
  equals_serial(folder, "killed, then resumed")
end

function T.a_run_that_raises_is_recorded_as_failed_and_the_others_go_on()
  local mpirun = lib.mpirun(3)
  local dir = TMP .. "/failing"
  local rc, out, folder = optlab("env TINY_FAIL=1 " .. mpirun, q(tiny(dir)) .. " runs_dir=" .. q(dir .. "/runs"))
  check(rc == 1 and folder, "a failed run makes the exit status 1 (as without MPI), not " .. tostring(rc) .. ":\n" .. out)
  local m = manifest(folder)
  check(m.status == "incomplete", "status " .. tostring(m.status))
  for _, r in ipairs(m.runs) do
    if r.optimizer:match("^SGD") then
      check(r.status == "failed" and r.error:find("SGD is not welcome here", 1, true) and r.rank, "SGD seed " .. r.seed .. " failed, with its error")
    else
      check(r.status == "complete", "Adam seed " .. r.seed .. " went on")
    end
  end
  -- --jobs is for one machine: refused under a job, on every rank, without a hang
  rc, out = optlab(mpirun, q(tiny(dir)) .. " runs_dir=" .. q(dir .. "/runs") .. " --jobs 2")
  check(rc ~= 0 and rc ~= 124 and out:find("under mpirun or srun the ranks run the runs", 1, true), "--jobs under mpirun:\n" .. out)
end

-- A tuned comparison (successive halving) across ranks: rank 0 resolves each rung
-- from the records of the one before and sends the chosen trials with the runs, so
-- the ranks need not share its folder; trials.csv and metrics.csv equal a serial run's.
local TUNED = [==[
local ds = data.blobs { n = 240, centers = 3, features = 2, std = 2.5, seed = 7 }
local tr, te = ds:split { validation = 0.25 }
return experiment.compare {
  name = "tuned", data = { tr, te }, batch_size = 40, epochs = 2, seed = 1, verbose = 0,
  model = function() return nn.Sequential { nn.Dense(3) } end,
  optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) }, { "Adam", lr = tune.log_uniform(1e-4, 0.3) } },
  tune = { method = "halving", trials = 4, seeds = { 1, 2 } },
}
]==]

function T.a_tuned_comparison_over_3_ranks_equals_a_serial_run()
  local mpirun = lib.mpirun(3)
  local dir = TMP .. "/tuned"
  report.mkdir_p(dir)
  local path = script("tuned/tuned.lua", TUNED)
  local rc, out, ref = optlab(nil, q(path) .. " runs_dir=" .. q(dir .. "/serial") .. " --jobs 1")
  check(rc == 0 and ref, "the serial tuned run failed:\n" .. out)
  local rc2, out2, folder = optlab(mpirun, q(path) .. " runs_dir=" .. q(dir .. "/ranks"))
  check(rc2 == 0 and folder, "mpirun exit status " .. tostring(rc2) .. ":\n" .. out2)
  local m = manifest(folder)
  local ranks = {}
  for _, r in ipairs(m.runs) do
    check(r.status == "complete", "run " .. r.id .. " is " .. tostring(r.status))
    ranks[r.rank] = true
  end
  check(ranks[1] or ranks[2], "no run went to another rank than 0")
  check(report.read_file(folder .. "/trials.csv") == report.read_file(ref .. "/trials.csv"),
        "trials.csv differs from the serial run's")
  local same, _, first = experiment.compare_metrics(report.read_file(ref .. "/metrics.csv"), report.read_file(folder .. "/metrics.csv"))
  check(same, "metrics.csv differs from the serial run's: " .. tostring(first))
end

return T
