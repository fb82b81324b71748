-- Running the runs: one run in this process, or in a worker process (sched.lua starts them).
local common = require "experiment.base"
local experiment = common.experiment
local report = common.report
local serial = common.serial
local fail = common.fail
local folder = require "experiment.folder"
local write_record, sync_code = folder.write_record, folder.sync_code

---------------------------------------------------------------- running one run

-- Whether a history is train.fit's stop on Ctrl-C (stopped = "interrupted", its one value for it).
function experiment.is_interrupt(h)
  return type(h) == "table" and h.stopped == "interrupted"
end

-- train.fit's per-step logs in a history (step_stride, diagnostics every k steps):
-- tables of columns, kept apart from the per-epoch columns (rec.logs).
local LOGS = { steps = true, diagnostics = true }

-- Copies the array columns of a history as plain numbers.
local function plain_history(h)
  local out = {}
  for k, v in pairs(h) do
    if type(k) == "string" and type(v) == "table" and not LOGS[k] then
      local col = {}
      for i = 1, #v do col[i] = tonumber(v[i]) end
      out[k] = col
    end
  end
  return out
end

-- Runs one optimizer x seed. Returns the run's record (plain data), with
-- when it started and its thread counts (sched.lua's schedule). poll(rec),
-- for workers, gives the callback that changes the threads between steps.
local function execute(ctx, run, poll)
  local rec = { id = run.id, opt = run.opt, label = run.label, seed = run.seed, hp = run.hp or nil,
                started = sys.time(), threads = { { at = 0, n = sys.threads() } } }
  local t0 = sys.clock()
  local ok, h = pcall(function()
    local callbacks = ctx.spec.callbacks
    if poll then
      callbacks = {}
      for i, cb in ipairs(ctx.spec.callbacks or {}) do callbacks[i] = cb end
      callbacks[#callbacks + 1] = poll(rec)
    end
    local tensor = require("tensor")
    tensor.manual_seed(run.seed)
    local model = ctx.spec.model()
    -- a tuned comparison's trial brings its hyperparameters (stdlib/experiment/tune.lua)
    local opt = ctx.opts[run.opt].make(run.hp)
    local cfg = {
      epochs = run.epochs or ctx.cfg.epochs, batch_size = ctx.cfg.batch_size, loss = ctx.cfg.loss, metrics = ctx.cfg.metrics,
      validation = run.on_test and ctx.test or ctx.val, callbacks = callbacks, seed = run.seed, verbose = ctx.verbose,
      label = run.display or (ctx.opts[run.opt].display .. (#ctx.cfg.seeds > 1 and (" seed " .. run.seed) or "")),
      step_stride = ctx.cfg.step_stride, diagnostics = ctx.spec.diagnostics,
      distributed = ctx.cfg.data_parallel,
    }
    return ctx.fit(model, opt, ctx.train, cfg)
  end)
  rec.wall = sys.clock() - t0
  if not ok then
    rec.status = "failed"
    rec.error = tostring(h)
    io.stderr:write(string.format("experiment: %s seed %d failed: %s\n", run.label, run.seed, rec.error))
    return rec
  end
  if type(h) ~= "table" then
    rec.status, rec.error = "failed", "fit returned " .. type(h) .. ", not a history"
    return rec
  end
  rec.history = plain_history(h)
  for k in pairs(LOGS) do
    if type(h[k]) == "table" then
      rec.logs = rec.logs or {}
      rec.logs[k] = plain_history(h[k])
    end
  end
  rec.stopped = h.stopped
  local n = report.epochs_of(rec.history)
  if h.stopped then
    -- Interrupted means Ctrl-C: the flag SIGINT's handler sets (compare keeps it armed
    -- from start to end, so fit's own catch_interrupts leaves it set), never a guess from
    -- the words of `stopped`, which a callback or another fit may choose freely.
    rec.status = sys.interrupted() and "interrupted" or "stopped"
  elseif n < (run.epochs or ctx.cfg.epochs) then
    rec.status = "stopped"
    rec.stopped = string.format("history has %d of %d epochs", n, run.epochs or ctx.cfg.epochs)
  else
    rec.status = "complete"
  end
  -- a loss that turned NaN or infinite is a result, not an error
  for _, v in ipairs(rec.history.loss or {}) do
    if v ~= v or v == math.huge or v == -math.huge then
      rec.status = "stopped"
      rec.stopped = rec.stopped or "non-finite loss"
      break
    end
  end
  return rec
end

---------------------------------------------------------------- workers

-- Worker side: run the runs the job names; each result goes straight into
-- the folder's records/, atomically, whatever becomes of the parent. Between
-- steps the run takes the thread count the parent writes into job.control
-- (stdlib/experiment/sched.lua). A worker exists for its runs only: it ends
-- here, before the rest of the script runs again.
local function work(ctx, job)
  if type(job) == "string" then job = serial.decode(job, "the worker's job") end
  if job.fingerprint ~= ctx.fingerprint then
    fail("experiment worker: the script resolves other runs than its parent (" .. ctx.fingerprint .. " vs " ..
         job.fingerprint .. ")")
  end
  ctx.dir, ctx.keep_code = job.dir, job.keep_code
  -- a tuned comparison's later runs come from the records of the earlier ones
  if ctx.tuned then ctx.tuned:resolve(function(id) return folder.read_record(ctx, id) end) end
  local poller = job.control and require("experiment.sched").poller
  for _, id in ipairs(job.runs) do
    if sys.interrupted() then break end
    local rec = execute(ctx, ctx.runs[id], poller and function(r) return poller(job.control, r) end)
    sync_code(ctx)
    local mods = {}
    for _, m in pairs(ctx.code) do mods[#mods + 1] = m end
    rec.modules = mods
    write_record(ctx, rec)
    if rec.status == "interrupted" then break end
  end
  -- the parent removes it too; this covers a parent that was killed
  if job.control then os.remove(job.control) end
  io.stdout:flush()
  os.exit(0, true)
end

-- data_parallel = true under mpirun or srun: the ranks other than 0 train every pending run
-- with rank 0 (train.fit's distributed steps: each rank a block of every batch's shards),
-- in the same order; rank 0 alone writes the folder. They end here, as workers do. Before
-- every run the ranks agree to start it (train.distributed.agree): rank 0 stops on a write
-- error, Ctrl-C or the end of its list, and then so does every rank, instead of waiting for
-- it in the next run's first gather.
local function follow(ctx, pending)
  local agree = require("train").distributed.agree
  local stopped
  for _, run in ipairs(pending) do
    stopped = agree(sys.interrupted() and "interrupted (Ctrl-C)" or nil)
    if stopped then break end
    execute(ctx, run)
  end
  if not stopped then agree("no more runs") end
  io.stdout:flush()
  common.C.mpi.finalize()
  os.exit(0, true)
end

return { execute = execute, work = work, follow = follow }
