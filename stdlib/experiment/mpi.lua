-- A comparison across the ranks of an MPI job (`mpirun -n K optlab x.lua`, `srun optlab x.lua`).
--
-- Every rank evaluates the same script with the same overrides, so every rank resolves
-- the same list of runs (ctx.runs, checked by its fingerprint). Rank 0 is the coordinator:
-- it owns the run folder, hands out run ids to ranks as they become free (a work queue,
-- so long and short runs balance), writes each record the moment it arrives and, at
-- the end, the folder exactly as a serial run writes it. The other ranks run what they
-- are given, exactly as a local worker does (runs.execute), and send each record back:
-- they never write the folder, so they need no file system shared with rank 0 (resume
-- does: every rank reads the folder's copy of the script).
--
-- Rank 0 runs runs too, and answers the queue between its own steps (a train.fit
-- batch callback, at most every POLL seconds): with K ranks on K cores, a coordinator
-- that only waited would leave one core idle. A fit that calls no callbacks keeps the
-- others waiting until its run ends, which costs time, never results.
--
-- Messages (C.mpi, vm/lmpi.c), all between rank 0 and one other rank:
--   READY  rank -> 0   ""                                  at the start
--   RUN    0 -> rank   serial {id, fingerprint}            the next run
--   RECORD rank -> 0   serial {rec, code = {copy = text}}  a finished run; the rank is ready again
--   STOP   0 -> rank   ""                                  nothing left: the rank ends
-- A rank that dies ends the job (mpirun's rule, and a rank that raises calls MPI_Abort);
-- what finished is in records/, and `optlab resume DIR` runs the rest.
local common = require "experiment.base"
local report = common.report
local serial = common.serial
local fail = common.fail
local folder = require "experiment.folder"
local execute = require("experiment.runs").execute

local M = {}
local READY, RUN, RECORD, STOP = 1, 2, 3, 4

-- Seconds between two looks at the queue during rank 0's own steps.
M.POLL = 0.05

local function mpi() return common.C.mpi end

-- Whether this comparison goes across ranks: under a launcher with more than one rank,
-- and only the script's first comparison (the other ranks end with it, as local workers do).
function M.distributed()
  return mpi().active() and mpi().size() > 1 and not M.done
end

-- The modules the run required, as manifest entries, with the text of those this rank has
-- not sent yet (rank 0 keeps the copies; the ranks may not share a file system).
local function modules(ctx, sent)
  local list, code = {}, {}
  if ctx.keep_code then return list, code end   -- resume: the folder's copies are the code
  for _, m in ipairs(folder.required_modules()) do
    local copy = "code/" .. m.name:gsub("%.", "/") .. ".lua"
    if not sent[m.name] then
      local text = report.read_file(m.path)
      if not text then fail("experiment: cannot read " .. m.path .. " to keep a copy in the run folder") end
      sent[m.name] = true
      code[copy] = text
    end
    list[#list + 1] = { name = m.name, path = m.path, copy = copy }
  end
  return list, code
end

---------------------------------------------------------------- the other ranks

-- The fields of a run that a tuned comparison fills in once the phase before has
-- ended (tune.lua's resolve); rank 0 sends them with the run.
local RESOLVED = { "trial", "hp", "label", "display", "best_score" }

-- Runs what rank 0 hands out until it says STOP, then ends this process (the rest of the
-- script is rank 0's), as a local worker ends after its runs.
function M.work(ctx)
  local C = mpi()
  M.done = true
  local rank, host = C.rank(), C.hostname()
  local sent = {}
  C.send("", 0, READY)
  while true do
    local msg, _, tag = C.recv(0)
    if tag == STOP then break end
    local job = serial.decode(msg, "rank 0's message")
    if job.fingerprint ~= ctx.fingerprint then
      fail(string.format("experiment: rank %d resolves other runs than rank 0 (%s vs %s): every rank must run the " ..
                         "same script with the same overrides", rank, ctx.fingerprint, tostring(job.fingerprint)))
    end
    local run = ctx.runs[job.id]
    -- a tuned comparison's later phases: rank 0 chose them from the records of the
    -- phases before (experiment/tune.lua), which this rank need not have
    if type(job.resolved) == "table" then
      for _, k in ipairs(RESOLVED) do run[k] = job.resolved[k] end
      run.pending = nil
    end
    local rec = execute(ctx, run)
    rec.rank, rec.host = rank, host
    local code
    rec.modules, code = modules(ctx, sent)
    C.send(serial.encode({ rec = rec, code = code }), 0, RECORD)
  end
  io.stdout:flush()
  C.finalize()
  os.exit(0, true)
end

---------------------------------------------------------------- rank 0

-- Runs `pending` across the ranks; on_record(rec) as each run ends (write it, then the
-- views). Returns when every other rank has been told STOP; MPI is finalized then, so
-- the folder's closing views and a failed run's exit status no longer concern the job.
-- With `more` (a tuned comparison's phase that others follow), it returns once every
-- run it handed out is back, and the ranks wait, idle, for the next call's runs.
local idle = {}   -- ranks that asked for a run when a phase had none left
function M.coordinate(ctx, records, pending, on_record, more)
  local C = mpi()
  M.done = true
  local size, host = C.size(), C.hostname()
  local say = not ctx.quiet and ctx.verbose > 0
  local nexti, assigned, stopped = 1, {}, 0
  local give

  local function next_run()
    if sys.interrupted() or ctx.interrupted or ctx.write_error then return nil end
    local run = pending[nexti]
    if run then nexti = nexti + 1 end
    return run
  end

  -- A record from rank src: the run it was given, whatever the message holds.
  local function received(msg, src)
    local run = assigned[src]
    assigned[src] = nil
    local ok, m = pcall(serial.decode, msg, "the record from rank " .. src)
    local rec = ok and type(m) == "table" and m.rec
    if not run or type(rec) ~= "table" or rec.id ~= run.id then
      run = run or {}
      rec = { id = run.id, opt = run.opt, label = run.label, seed = run.seed, status = "failed", rank = src,
              error = "rank " .. src .. " sent no record of this run: " .. (ok and "another message" or tostring(m)) }
      io.stderr:write("experiment: " .. rec.error .. "\n")
      if not run.id then return end
    end
    for copy, text in pairs(ok and type(m) == "table" and type(m.code) == "table" and m.code or {}) do
      local path = ctx.dir .. "/" .. copy
      if type(text) == "string" and copy:match("^code/[%w_/.%-]+%.lua$") and not copy:find("..", 1, true) and
         not report.exists(path) then
        pcall(function() report.mkdir_p(path:match("^(.*)/")); report.write_file(path, text) end)
      end
    end
    for _, e in ipairs(type(rec.modules) == "table" and rec.modules or {}) do
      if type(e) == "table" and type(e.copy) == "string" and not e.sha256 then e.sha256 = report.sha256(ctx.dir .. "/" .. e.copy) end
    end
    on_record(rec)
  end

  function give(src)
    local run = next_run()
    if run then
      assigned[src] = run
      local resolved = nil
      if ctx.tuned then
        resolved = {}
        for _, k in ipairs(RESOLVED) do resolved[k] = run[k] end
      end
      C.send(serial.encode({ id = run.id, fingerprint = ctx.fingerprint, resolved = resolved }), src, RUN)
      if say then print(string.format("experiment: %s seed %d goes to rank %d", run.label, run.seed, src)) end
    elseif more then
      idle[#idle + 1] = src
    else
      C.send("", src, STOP)
      stopped = stopped + 1
    end
  end

  local function handle(msg, src, tag)
    if tag == RECORD then received(msg, src)
    elseif tag ~= READY then fail("experiment: rank " .. src .. " sent a message with tag " .. tag) end
    give(src)
  end

  local function serve()
    while true do
      local src, tag = C.iprobe()
      if not src then return end
      local msg = C.recv(src, tag)
      handle(msg, src, tag)
    end
  end

  -- between rank 0's own steps
  local function poll()
    local next_look = 0
    return { on_batch_end = function()
      local now = sys.clock()
      if now >= next_look then next_look = now + M.POLL; serve() end
    end }
  end

  if say then
    print(string.format("experiment: %d runs over %d MPI ranks (rank 0 on %s coordinates and runs too)",
                        #pending, size, host))
  end
  local waiting = idle
  idle = {}
  for _, src in ipairs(waiting) do give(src) end
  while true do
    serve()
    local run = next_run()
    if not run then break end
    if say then print(string.format("experiment: %s seed %d goes to rank 0", run.label, run.seed)) end
    local rec = execute(ctx, run, poll)
    rec.rank, rec.host = 0, host
    on_record(rec)
    if rec.status == "interrupted" then ctx.interrupted = "during a run" break end
  end
  while stopped + #idle < size - 1 do
    local msg, src, tag = C.recv()
    handle(msg, src, tag)
  end
  if not more then C.finalize() end
  return records
end

return M
