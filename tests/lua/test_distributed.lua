-- Data-parallel training (train.fit's distributed = true, stdlib/train/distributed.lua):
-- the same bits at any thread count and on 1, 2 or 3 MPI ranks, the undivided batch's
-- dropout masks, as close to exact arithmetic as undivided training, clear refusals.
local lib = require "lib"
local report = require "report"
local serial = require "serial"
local check, raises, identical = lib.check, lib.raises, lib.identical
local dist = train.distributed

local T = {}
local q = report.shell_quote

-- 470 examples of 8x8 "images", labels 0..9: 19 batches of 24 and one of 14, 20 steps.
-- The same text builds the job's data and model under mpirun (SETUP is run there too).
local SETUP = [==[
local function dataset()
  tensor.manual_seed(7)
  local x = tensor.rand(470, 1, 8, 8)
  local y = (tensor.rand(470) * 10):floor()
  return data.tensors(x, y)
end
local function cnn()
  tensor.manual_seed(3)
  return nn.Sequential { input = { 1, 8, 8 }, nn.Conv2D { 4, 3, activation = "relu" }, nn.MaxPool2D { 2 },
    nn.Dropout(0.25), nn.Flatten(), nn.Dense { 16, activation = "relu" }, nn.Dropout(0.5), nn.Dense { 10 } }
end
local function fit(model, distributed, ds)
  return train.fit(model, optim.Adam { lr = 0.01 }, ds or dataset(),
                   { epochs = 1, batch_size = 24, verbose = 0, distributed = distributed })
end
local function params_bytes(model)
  local named = {}
  for _, p in ipairs(model:parameters()) do named[p.name] = p end
  return named
end
]==]
local dataset, cnn, fit, named_params = assert(load(SETUP .. "return dataset, cnn, fit, params_bytes", "=setup"))()

-- The parameters as the bytes serial.save writes.
local TMP = lib.tmpdir()
local function saved_bytes(model, name)
  local path = TMP .. "/" .. name .. ".olt"
  serial.save(path, named_params(model))
  return report.read_file(path)
end

function T.layout_depends_on_the_batch_size_only()
  local l = dist.layout(64, 12)
  check(#l == 12, "12 shards of a batch of 64")
  local n, at = 0, 0
  for _, s in ipairs(l) do
    check(s.first == at and (s.n == 5 or s.n == 6), "shards are contiguous, 5 or 6 examples")
    at, n = at + s.n, n + s.n
  end
  check(n == 64, "the shards cover the batch")
  -- a batch smaller than the shard count: one example per non-empty shard
  check(#dist.layout(5, 12) == 5, "5 examples give 5 non-empty shards")
  -- ranks take contiguous blocks that together cover every shard once
  for k = 1, 12 do
    local next_lo = 1
    for r = 0, k - 1 do
      local lo, hi = dist.block(12, k, r)
      check(lo == next_lo and hi >= lo, "rank " .. r .. " of " .. k .. ": block " .. lo .. ".." .. hi)
      next_lo = hi + 1
    end
    check(next_lo == 13, k .. " ranks cover the 12 shards")
  end
end

-- The test's reference without MPI: one rank computes every shard, in shard order.
function T.sharded_training_is_bit_identical_at_1_and_2_threads()
  local saved = sys.threads()
  sys.set_threads(1)
  local a = cnn()
  local ha = fit(a, true)
  sys.set_threads(2)
  local b = cnn()
  local hb = fit(b, true)
  sys.set_threads(saved)
  check(#ha.loss == 1 and ha.loss[1] == ha.loss[1], "a finite loss")
  check(ha.loss[1] == hb.loss[1], "the epoch's loss differs between 1 and 2 threads")
  check(saved_bytes(a, "t1") == saved_bytes(b, "t2"), "parameters after 20 steps differ between 1 and 2 threads")
end

-- The shards draw the rows of the whole batch's dropout masks: sharded training is undivided
-- training with the sums in another order. Masks drawn per shard would move the parameters by
-- about the learning rate (1e-2) after 20 Adam steps; a different order of sums, by float32
-- rounding carried through 20 steps (measured: below 1e-7 here).
function T.shards_take_the_whole_batch_dropout_masks()
  local a, b, c = cnn(), cnn(), cnn()
  local ha, hb = fit(a, nil), fit(b, true)
  fit(c, { shards = 5 })
  local pa, pb, pc = a:parameters(), b:parameters(), c:parameters()
  for i = 1, #pa do
    lib.close(pb[i], pa[i], 0, pa[i].name .. ": 4 shards against the undivided batch", 1e-5)
    lib.close(pc[i], pa[i], 0, pa[i].name .. ": 5 shards against the undivided batch", 1e-5)
  end
  lib.close(hb.loss[1], ha.loss[1], 1e-6, "the epoch's mean loss")
  lib.close(hb.accuracy[1], ha.accuracy[1], 1e-9, "the epoch's accuracy")
  check(saved_bytes(b, "s4") ~= saved_bytes(c, "s5"), "4 and 5 shards sum in other orders: other bits")
  -- a layer of one's own drawing dropout from the global generator: every shard starts from
  -- the generator's state at the batch's start, so it too gets the undivided batch's mask rows
  local function own()
    tensor.manual_seed(3)
    local m = nn.Sequential { input = { 1, 8, 8 }, nn.Flatten(), nn.Dense { 16, activation = "relu" },
      { forward = function(_, x) return nn.functional.dropout(x, 0.5) end }, nn.Dense { 10 } }
    return m
  end
  local d, e = own(), own()
  tensor.manual_seed(9)
  fit(d, nil)
  tensor.manual_seed(9)
  fit(e, true)
  for i, p in ipairs(d:parameters()) do
    lib.close(e:parameters()[i], p, 0, p.name .. ": global-generator dropout, sharded against undivided", 1e-5)
  end
end

-- Against exact arithmetic: a softmax classifier (one Dense layer) trained by plain SGD, its
-- 20 steps recomputed here in double. Sharded training cannot give the undivided run's bits (the
-- sums over examples run in another order), so it is held to the rule of the PyTorch fixtures
-- (lib.fair32): no further from the float64 run than twice the undivided float32 run is, plus
-- 4 float32 half-ulps of the parameters' norm.
local function softmax_sgd64(W, b, ds, batch, steps, lr)
  local loader = data.loader(ds, { batch_size = batch, shuffle = false })
  for k = 1, steps do
    local x, y = loader:batch(1, k)
    local X, Y, n = x:reshape(x:size(1), -1):totable(), y:totable(), x:size(1)
    local gW, gb = {}, {}
    for c = 1, #W do gW[c], gb[c] = {}, 0 for j = 1, #W[1] do gW[c][j] = 0 end end
    for i = 1, n do
      local z, m = {}, -math.huge
      for c = 1, #W do
        local s = b[c]
        for j = 1, #W[1] do s = s + W[c][j] * X[i][j] end
        z[c] = s
        if s > m then m = s end
      end
      local tot = 0
      for c = 1, #W do z[c] = math.exp(z[c] - m) tot = tot + z[c] end
      for c = 1, #W do
        local d = (z[c] / tot - ((c - 1) == Y[i] and 1 or 0)) / n
        gb[c] = gb[c] + d
        for j = 1, #W[1] do gW[c][j] = gW[c][j] + d * X[i][j] end
      end
    end
    for c = 1, #W do
      b[c] = b[c] - lr * gb[c]
      for j = 1, #W[1] do W[c][j] = W[c][j] - lr * gW[c][j] end
    end
  end
  return W, b
end

function T.sharded_sgd_is_as_close_to_float64_as_undivided()
  tensor.manual_seed(11)
  local ds = data.tensors(tensor.randn(480, 16), (tensor.rand(480) * 10):floor())
  local function linear()
    tensor.manual_seed(5)
    return nn.Sequential { input = { 16 }, nn.Dense { 10 } }
  end
  local plain, sharded = linear(), linear()
  local W, b = linear():parameters()[1]:totable(), linear():parameters()[2]:totable()
  W, b = softmax_sgd64(W, b, ds, 24, 20, 0.5)
  local o = { epochs = 1, batch_size = 24, shuffle = false, verbose = 0 }
  train.fit(plain, optim.SGD { lr = 0.5 }, ds, o)
  o.distributed = true
  train.fit(sharded, optim.SGD { lr = 0.5 }, ds, o)
  local f64, f32, got = {}, {}, {}
  local function flat(ps, out)
    for _, p in ipairs(ps) do for _, v in ipairs(p:reshape(-1):totable()) do out[#out + 1] = v end end
  end
  for c = 1, #W do for j = 1, #W[1] do f64[#f64 + 1] = W[c][j] end end
  for c = 1, #b do f64[#f64 + 1] = b[c] end
  flat(plain:parameters(), f32)
  flat(sharded:parameters(), got)
  local ok, d_ours, d_ref, allowed = lib.fair32(got, f32, f64)
  check(d_ref > 0, "the undivided float32 run differs from float64")
  check(ok, string.format("sharded run %.3g from float64, undivided %.3g, allowed %.3g", d_ours, d_ref, allowed))
end

function T.bad_options_and_batch_statistics_are_refused()
  local ds = dataset()
  local line = debug.getinfo(1, "l").currentline + 1
  raises(function() fit(cnn(), "yes", ds) end, "test_distributed.lua:" .. line .. ": train.fit: distributed must be true, false or {shards = n}")
  raises(function() fit(cnn(), { shards = 0 }, ds) end, "distributed.shards must be a positive integer, got 0")
  raises(function() fit(cnn(), { shard = 4 }, ds) end, "distributed: unknown option 'shard' (valid: shards)")
  tensor.manual_seed(3)
  local bn = nn.Sequential { input = { 1, 8, 8 }, nn.Conv2D { 4, 3 }, nn.BatchNorm {}, nn.Flatten(), nn.Dense { 10 } }
  local before = bn:parameters()[1]:clone()
  raises(function() fit(bn, true, ds) end, "batch_norm: training on a shard of 6 of the batch's 24 examples")
  identical(bn:parameters()[1], before, "no update before the refusal")
  check(nn.functional.batch_slice() == nil, "the batch slice is cleared after an error")
  -- one shard is the whole batch: batch statistics are the batch's, so BatchNorm trains
  fit(bn, { shards = 1 }, ds)
  -- a comparison checks data_parallel before it reads any data
  raises(function()
    experiment.compare { model = cnn, data = function() error("data read") end, optimizers = { "SGD" },
                         data_parallel = { shards = 2.5 }, arg = {} }
  end, "experiment.compare: data_parallel.shards must be a positive integer, got 2.5")
  -- the command line's data_parallel=true|false|n
  local ov = experiment.parse_overrides { "data_parallel=6" }
  check(type(ov.data_parallel) == "table" and ov.data_parallel.shards == 6, "data_parallel=6 is {shards = 6}")
  check(experiment.parse_overrides({ "data_parallel=false" }).data_parallel == false, "data_parallel=false")
  check(experiment.parse_overrides({ "data_parallel=true" }).data_parallel == true, "data_parallel=true")
end

-- Under mpirun: each rank trains with distributed = true and saves its parameters.
local JOB = SETUP .. [==[
local out, shards = arg[1], tonumber(arg[2])
local M = require("optlab.core").mpi
local model = cnn()
local ok, err = pcall(fit, model, shards and { shards = shards } or true)
if not ok then
  print("rank " .. M.rank() .. " error: " .. tostring(err))
  io.stdout:flush()
  M.barrier()   -- every rank has the error: all print it before the first exit aborts the job
  os.exit(1)
end
serial.save(out .. "-" .. M.rank() .. ".olt", params_bytes(model))
]==]

local function sh(cmd)
  local o, e = TMP .. "/stdout", TMP .. "/stderr"
  local ok, _, code = os.execute(cmd .. " > " .. q(o) .. " 2> " .. q(e))
  return ok and 0 or code, (report.read_file(o) or "") .. (report.read_file(e) or "")
end

local EXE = lib.optlab_exe()

function T.one_two_and_three_ranks_give_identical_parameters()
  lib.mpirun(1)   -- skips, saying why, without mpirun
  local job = TMP .. "/job.lua"
  report.write_file(job, JOB)
  local ref = saved_bytes((function() local m = cnn() fit(m, true) return m end)(), "ref")
  for _, k in ipairs { 1, 2, 3 } do
    local out = TMP .. "/ranks" .. k
    local rc, text = sh("timeout 120 " .. lib.mpirun(k) .. q(EXE) .. " " .. q(job) .. " " .. q(out))
    check(rc == 0, k .. " ranks: exit status " .. tostring(rc) .. "\n" .. text)
    for r = 0, k - 1 do
      local got = report.read_file(out .. "-" .. r .. ".olt")
      check(got ~= nil, k .. " ranks: rank " .. r .. " saved nothing\n" .. text)
      check(got == ref, string.format("%d ranks: rank %d's parameters after 20 steps differ from one process's", k, r))
    end
  end
end

function T.more_ranks_than_shards_and_a_failing_rank_end_the_job_clearly()
  local job = TMP .. "/job.lua"
  report.write_file(job, JOB)
  local rc, text = sh("timeout 120 " .. lib.mpirun(3) .. q(EXE) .. " " .. q(job) .. " " .. q(TMP .. "/few") .. " 2")
  check(rc ~= 0 and rc ~= 124, "3 ranks, 2 shards: exit status " .. tostring(rc) .. " (124: the job hung)")
  check(text:find("3 ranks but 2 shards a batch", 1, true), "3 ranks, 2 shards:\n" .. text)
  -- a label out of range in one rank's shard: every rank raises, naming that rank; no rank waits
  local bad = TMP .. "/bad.lua"
  report.write_file(bad, (JOB:gsub("local y = %(tensor.rand%(470%) %* 10%):floor%(%)",
    "local y = (tensor.rand(470) * 10):floor(); y[470] = 12")))
  rc, text = sh("timeout 120 " .. lib.mpirun(2) .. q(EXE) .. " " .. q(bad) .. " " .. q(TMP .. "/bad"))
  check(rc ~= 0 and rc ~= 124, "a bad label: exit status " .. tostring(rc) .. " (124: the job hung)")
  check(text:find("rank 0 error: rank 1 of 2: [^\n]*label 12"), "rank 0 names rank 1's error:\n" .. text)
end

-- A comparison with data_parallel = true under mpirun -n 2: the ranks train each run together,
-- rank 0 writes the one folder, and `optlab verify` (one process, every shard in turn) finds
-- every metric bit for bit; its metrics (the columns before the timings) equal a one-process run's.
local COMPARE = [==[
tensor.manual_seed(7)
local tr = data.tensors(tensor.rand(300, 1, 8, 8), (tensor.rand(300) * 10):floor())
return experiment.compare {
  name = "dp", data = { tr, tr:take(60) }, batch_size = 24, epochs = 2, seeds = { 1, 2 }, verbose = 0,
  model = function() return nn.Sequential { input = { 1, 8, 8 }, nn.Conv2D { 4, 3, activation = "relu" },
    nn.MaxPool2D { 2 }, nn.Dropout(0.25), nn.Flatten(), nn.Dense { 10 } } end,
  optimizers = { "Adam", "SGD" }, data_parallel = true, jobs = 1,
}
]==]

local function metrics_without_timings(dir)
  local p = io.popen("ls -d " .. q(dir) .. "/dp/*/")
  local run = p:read("*l")
  p:close()
  local text = run and report.read_file(run .. "metrics.csv")
  check(text, "no metrics.csv under " .. dir)
  return (text:gsub(",[^,\n]*,[^,\n]*,[^,\n]*\n", "\n")), run
end

function T.a_data_parallel_comparison_on_two_ranks_verifies()
  local mpirun = lib.mpirun(2)
  local script = TMP .. "/cmp.lua"
  report.write_file(script, COMPARE)
  local rc, text = sh("timeout 120 " .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/one"))
  check(rc == 0, "one process: exit status " .. tostring(rc) .. "\n" .. text)
  rc, text = sh("timeout 120 " .. mpirun .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/two"))
  check(rc == 0, "2 ranks: exit status " .. tostring(rc) .. "\n" .. text)
  local one = metrics_without_timings(TMP .. "/one")
  local two, run = metrics_without_timings(TMP .. "/two")
  check(one == two, "2 ranks' metrics differ from one process's:\n" .. one .. "\n" .. two)
  check(report.read_file(run .. "manifest.json"):find('"data_parallel"', 1, true), "the manifest records data_parallel")
  rc, text = sh("timeout 120 " .. q(EXE) .. " verify " .. q(run))
  check(rc == 0 and text:find("every metric matches bit for bit", 1, true), "verify:\n" .. text)
end

-- Rank 0 alone writes the folder and runs rank-0-only code (logs, checkpoints, callbacks that
-- look at experiment.folder). If it leaves the run loop (a write error) or a run (an error only
-- it meets), the other ranks must not wait forever in the next gather, nor take rank 0's next
-- run's gradients for their current run's: the ranks agree at every run boundary.
--   DP_FAULT=full   after the first run, metrics.csv's next write goes to /dev/full (ENOSPC)
--   DP_FAULT=raise  rank 0's first run raises in its first epoch's end; the other runs go on
local FAULTY = COMPARE:gsub("jobs = 1,", [[jobs = 1,
  callbacks = { {
    on_epoch_end = function()
      if experiment.folder and os.getenv("DP_FAULT") == "raise" and not RAISED then RAISED = true; error("rank 0 only fails") end
    end,
    on_train_end = function()
      if experiment.folder and os.getenv("DP_FAULT") == "full" then
        os.execute("ln -sf /dev/full " .. experiment.folder .. "/metrics.csv.part")
      end
    end } },]])

function T.a_write_error_on_rank_0_ends_every_rank_and_keeps_the_finished_run()
  local mpirun = lib.mpirun(2)
  local script = TMP .. "/faulty.lua"
  report.write_file(script, FAULTY)
  local rc, text = sh("DP_FAULT=full timeout 60 " .. mpirun .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/full"))
  check(rc ~= 124, "the job hung after rank 0's write error (timeout):\n" .. text)
  check(rc == 1, "exit status " .. tostring(rc) .. ":\n" .. text)
  check(text:find("cannot write the run folder", 1, true) and text:find("No space left on device", 1, true),
        "no clear error:\n" .. text)
  check(not text:find("stack traceback", 1, true), "a traceback:\n" .. text)
  local p = io.popen("ls -d " .. q(TMP .. "/full") .. "/dp/*/")
  local run = p:read("*l")
  p:close()
  check(run and report.exists(run .. "records/run-0001.lua"), "the finished run's record is gone:\n" .. text)
end

function T.a_run_that_fails_on_rank_0_alone_fails_on_every_rank_and_the_others_go_on()
  local mpirun = lib.mpirun(2)
  local script = TMP .. "/faulty.lua"
  report.write_file(script, FAULTY)
  local rc, text = sh("timeout 120 " .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/one-f"))
  check(rc == 0, "one process: exit status " .. tostring(rc) .. "\n" .. text)
  rc, text = sh("DP_FAULT=raise timeout 60 " .. mpirun .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/raise"))
  check(rc ~= 124, "the job hung after rank 0's failed run (timeout):\n" .. text)
  check(rc == 1, "exit status " .. tostring(rc) .. " (1: a run failed):\n" .. text)
  check(text:find("rank 0 only fails", 1, true), "rank 0's error is not shown:\n" .. text)
  local one = metrics_without_timings(TMP .. "/one-f")
  local two, run = metrics_without_timings(TMP .. "/raise")
  local m = report.read_file(run .. "manifest.json")
  check(m:find('"failed"', 1, true), "the failed run is not recorded as failed:\n" .. m)
  -- the runs after it are the one-process runs, bit for bit: no rank mixed two runs' gradients
  local rows = {}
  for line in (one .. "\n"):gmatch("(.-)\n") do rows[line] = true end
  local n = 0
  for line in (two .. "\n"):gmatch("(.-)\n") do
    if line ~= "" and not line:find("^optimizer") and not line:find("^Adam,1,") then
      n = n + 1
      check(rows[line], "a row of the runs after the failed one differs from one process's:\n" .. line .. "\n" .. one)
    end
  end
  check(n >= 6, n .. " rows after the failed run:\n" .. two)
end

-- The other ranks end with a script's first data-parallel comparison (as with runs across the
-- ranks): rank 0 goes on alone, so a data-parallel fit or comparison after it computes every
-- shard in rank 0's process, with the same bits, instead of waiting for ranks that are gone.
function T.after_a_data_parallel_comparison_rank_0_goes_on_alone()
  local mpirun = lib.mpirun(2)
  local script = TMP .. "/twice.lua"
  report.write_file(script, (COMPARE:gsub("^(.-)return experiment.compare", "%1experiment.compare")) .. [==[
local M = require("optlab.core").mpi
print("after the first comparison: rank " .. M.rank() .. ", active " .. tostring(M.active()))
local h = train.fit(nn.Sequential { input = { 1, 8, 8 }, nn.Flatten(), nn.Dense { 10 } }, optim.SGD {}, tr,
                    { epochs = 1, batch_size = 24, verbose = 0, distributed = true })
print(string.format("fit after it: loss %.6f", h.loss[1]))
]==] .. (COMPARE:gsub('name = "dp"', 'name = "dq"')))
  local rc, text = sh("timeout 120 " .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/twice1"))
  check(rc == 0, "one process: exit status " .. tostring(rc) .. "\n" .. text)
  local loss = text:match("fit after it: loss ([%d.]+)")
  rc, text = sh("timeout 60 " .. mpirun .. q(EXE) .. " " .. q(script) .. " runs_dir=" .. q(TMP .. "/twice2"))
  check(rc ~= 124, "the job hung after the first comparison (timeout):\n" .. text)
  check(rc == 0, "2 ranks: exit status " .. tostring(rc) .. "\n" .. text)
  check(not text:find("rank 1, active", 1, true), "rank 1 went on after the comparison:\n" .. text)
  check(loss and text:find("fit after it: loss " .. loss, 1, true), "the fit after it differs (" .. tostring(loss) .. "):\n" .. text)
  check(metrics_without_timings(TMP .. "/twice1") == metrics_without_timings(TMP .. "/twice2"), "the first comparison differs")
  local p = io.popen("ls -d " .. q(TMP .. "/twice2") .. "/dq/*/")
  local run = p:read("*l")
  p:close()
  check(run and report.exists(run .. "metrics.csv"), "the second comparison wrote no folder:\n" .. text)
end

-- The gathered gradients stay in C buffers kept from step to step (C.train.shard_exchange):
-- a step must not allocate them afresh, as the Lua strings of a per-step gather did (past
-- glibc's mmap threshold, a fresh mmap and its page faults every step: 5x slower steps at 12
-- shards of the Keras example CNN). With the collector stopped between two batch ends, what
-- Lua allocates in a step is measured: here 4 shards of 785k parameters, 12.6 MB packed.
local STEADY = [==[
local M = require("optlab.core").mpi
tensor.manual_seed(1)
local ds = data.tensors(tensor.rand(64, 784), (tensor.rand(64) * 10):floor())
local model = nn.Sequential { input = { 784 }, nn.Dense { 1000 }, nn.Dense { 10 } }
local last, most = nil, 0
train.fit(model, optim.SGD { lr = 0.01 }, ds, { epochs = 1, batch_size = 8, verbose = 0, distributed = { shards = 8 },
  callbacks = { { on_batch_end = function()
    local now = collectgarbage("count") * 1024
    if last then most = math.max(most, now - last) end
    collectgarbage("collect")
    collectgarbage("stop")
    last = collectgarbage("count") * 1024
  end } } })
collectgarbage("restart")
print(string.format("rank %d: at most %.0f bytes a step", M.rank(), most))
]==]

function T.a_step_on_two_ranks_allocates_no_gathered_gradients_afresh()
  local mpirun = lib.mpirun(2)
  local job = TMP .. "/steady.lua"
  report.write_file(job, STEADY)
  local rc, text = sh("timeout 60 " .. mpirun .. q(EXE) .. " " .. q(job))
  check(rc == 0, "exit status " .. tostring(rc) .. ":\n" .. text)
  local n = 0
  for r, bytes in text:gmatch("rank (%d): at most (%d+) bytes a step") do
    n = n + 1
    -- one shard's gradient is 3.1 MB; a gather in Lua strings allocates 50 MB a step
    check(tonumber(bytes) < 1e6, "rank " .. r .. " allocates " .. bytes .. " bytes in Lua a step:\n" .. text)
  end
  check(n == 2, "both ranks report:\n" .. text)
end

return T
