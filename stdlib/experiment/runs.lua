-- Running the runs: one run in this process, or a share of them in --jobs worker processes.
local common = require "experiment.base"
local experiment = common.experiment
local report = common.report
local serial = common.serial
local fail = common.fail
local folder = require "experiment.folder"
local read_record, write_record, sync_code = folder.read_record, folder.write_record, folder.sync_code
local optlab_exe = require "experiment.env".optlab_exe

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

-- Runs one optimizer x seed. Returns the run's record (plain data).
local function execute(ctx, run)
  local rec = { id = run.id, opt = run.opt, label = run.label, seed = run.seed }
  local t0 = sys.clock()
  local ok, h = pcall(function()
    local tensor = require("tensor")
    tensor.manual_seed(run.seed)
    local model = ctx.spec.model()
    local opt = ctx.opts[run.opt].make()
    local cfg = {
      epochs = ctx.cfg.epochs, batch_size = ctx.cfg.batch_size, loss = ctx.cfg.loss, metrics = ctx.cfg.metrics,
      validation = ctx.val, callbacks = ctx.spec.callbacks, seed = run.seed, verbose = ctx.verbose,
      label = ctx.opts[run.opt].display .. (#ctx.cfg.seeds > 1 and (" seed " .. run.seed) or ""),
      step_stride = ctx.cfg.step_stride, diagnostics = ctx.spec.diagnostics,
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
  elseif n < ctx.cfg.epochs then
    rec.status = "stopped"
    rec.stopped = string.format("history has %d of %d epochs", n, ctx.cfg.epochs)
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

---------------------------------------------------------------- workers (--jobs)

-- Worker side: run the runs the job names; each result goes straight into
-- the folder's records/, atomically, whatever becomes of the parent.
local function work(ctx, job)
  if type(job) == "string" then job = serial.decode(job, "the worker's job") end
  if job.fingerprint ~= ctx.fingerprint then
    fail("experiment worker: the script resolves other runs than its parent (" .. ctx.fingerprint .. " vs " ..
         job.fingerprint .. ")")
  end
  ctx.dir, ctx.keep_code = job.dir, job.keep_code
  for _, id in ipairs(job.runs) do
    if sys.interrupted() then break end
    local rec = execute(ctx, ctx.runs[id])
    sync_code(ctx)
    local mods = {}
    for _, m in pairs(ctx.code) do mods[#mods + 1] = m end
    rec.modules = mods
    write_record(ctx, rec)
    if rec.status == "interrupted" then break end
  end
  return { worker = true }
end

-- Parent side: N optlab processes on the same script and overrides, each
-- with its share of the pending runs (round robin) and of the threads,
-- started and waited for directly: Ctrl-C reaches the workers, which stop
-- at the end of a step and write what finished, while the parent keeps
-- waiting; a worker killed by a signal is reported as such.
local function run_parallel(ctx, jobs, records, pending)
  if not ctx.script_path or not report.exists(ctx.script_path) then
    fail("experiment: --jobs needs the experiment to be a script file (optlab script.lua --jobs N)")
  end
  local threads = math.max(1, math.floor(sys.threads() / jobs))
  local exe = optlab_exe()
  local workers = {}
  for w = 1, jobs do
    local mine = {}
    for k = w, #pending, jobs do mine[#mine + 1] = pending[k].id end
    if #mine > 0 then
      local job = serial.encode({ runs = mine, dir = ctx.dir, fingerprint = ctx.fingerprint, keep_code = ctx.keep_code })
      local argv = { exe, "--threads", tostring(threads), "-e",
                     string.format("package.path = %q; experiment._worker = %q", package.path, job), ctx.script_path }
      for _, g in ipairs(ctx.given) do argv[#argv + 1] = g end
      workers[#workers + 1] = { runs = mine, pid = sys.spawn(argv) }
    end
  end
  if not ctx.quiet then
    print(string.format("experiment: %d runs in %d processes of %d threads", #pending, #workers, threads))
  end
  for _, wk in ipairs(workers) do wk.how, wk.code, wk.signame = sys.wait(wk.pid) end
  for _, wk in ipairs(workers) do
    for _, id in ipairs(wk.runs) do
      local rec = read_record(ctx, id)
      local run = ctx.runs[id]
      if not rec and (wk.how == "signal" or wk.code ~= 0) then
        rec = { id = id, opt = run.opt, label = run.label, seed = run.seed, status = "failed",
                error = wk.how == "signal" and
                  string.format("its worker process (pid %d) died of signal %d (%s)", wk.pid, wk.code, tostring(wk.signame)) or
                  string.format("its worker process (pid %d) exited with status %d", wk.pid, wk.code) }
        io.stderr:write(string.format("experiment: %s seed %d: %s\n", run.label, run.seed, rec.error))
      end
      records[id] = rec
    end
  end
  return records
end

return { execute = execute, work = work, run_parallel = run_parallel }
