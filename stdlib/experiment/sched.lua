-- The schedule of a comparison's runs: every core busy until the last run ends.
--
-- Each pending run is one worker process (optlab on the same script and
-- overrides, `experiment._worker` naming the run), started and waited for by
-- the parent. At most `at_once` runs go at a time (the cores, or --jobs N),
-- and the cores are shared among the runs going: a run that ends hands its
-- threads to the next run, or, when none waits, to the runs still going (the
-- fewest threads first, the latest started among equals: it has the most
-- left to do). Results do not depend on the thread count, so a run may take
-- more threads between two steps.
--
-- How a worker learns its thread count: the parent writes it into a small
-- control file of the worker's own (a temporary file, rewritten by rename, so
-- it is read whole or not at all); the worker reads it between steps, at most
-- every POLL seconds (a train.fit batch callback), and calls sys.set_threads.
-- No signal, no pipe: nothing to go wrong when either side dies; a worker
-- whose parent was killed keeps its threads and finishes its run. A fit that
-- ignores callbacks keeps the threads it started with.
--
-- Every record says when its run started and on how many threads it ran
-- (rec.started, rec.threads = {{at, n, epoch, step}, ...}, written by the
-- process that ran it); schedule_of turns the records into the manifest's
-- `schedule`, which summary.md and report.html show (report.schedule_lines).
local common = require "experiment.base"
local report = common.report
local serial = common.serial
local fail = common.fail
local folder = require "experiment.folder"
local read_record = folder.read_record
local optlab_exe = require "experiment.env".optlab_exe

local M = {}

-- A run as the tables name it: the optimizer's short name, and its seed when there are several.
local function name(ctx, run)
  return run.display or (ctx.opts[run.opt].display .. (#ctx.cfg.seeds > 1 and (" seed " .. run.seed) or ""))
end

-- Seconds between two reads of the control file: a thread change waits at
-- most this long, and a step pays for one clock read.
M.POLL = 0.1

---------------------------------------------------------------- the worker's side

-- The batch callback that applies the parent's thread count to the run of rec.
function M.poller(path, rec)
  local next_read = 0
  return { on_batch_end = function(step, _, fctx)
    local now = sys.clock()
    if now < next_read then return end
    next_read = now + M.POLL
    local f = io.open(path, "rb")
    if not f then return end
    local n = tonumber(f:read("a"):match("^%s*(%d+)%s*$") or "")
    f:close()
    if n and n >= 1 and n <= 1024 and n ~= sys.threads() then
      sys.set_threads(n)
      rec.threads[#rec.threads + 1] = { at = sys.time() - rec.started, n = n, epoch = fctx and fctx.epoch, step = step }
    end
  end }
end

---------------------------------------------------------------- the parent's side

-- A control file that cannot be written (a full /tmp) only leaves the worker its threads.
local function tell(w) pcall(report.write_file, w.control, w.threads .. "\n") end

-- Runs `pending` in worker processes, at most at_once at a time, sharing
-- sys.threads() cores among them. on_record(rec) after each run ends (the
-- parent rewrites metrics.csv and the manifest). Returns records.
function M.run_parallel(ctx, at_once, records, pending, on_record)
  if not ctx.script_path or not report.exists(ctx.script_path) then
    fail("experiment: --jobs needs the experiment to be a script file (optlab script.lua --jobs N)")
  end
  local cores = sys.threads()
  local exe = optlab_exe()
  local say = not ctx.quiet and ctx.verbose > 0
  local running, nexti = {}, 1

  local function spawn(run, threads)
    local w = { run = run, threads = threads, control = os.tmpname(), started = sys.time() }
    tell(w)
    local job = serial.encode({ runs = { run.id }, dir = ctx.dir, fingerprint = ctx.fingerprint, keep_code = ctx.keep_code,
                                control = w.control })
    local argv = { exe, "--threads", tostring(threads), "-e",
                   string.format("package.path = %q; experiment._worker = %q", package.path, job), ctx.script_path }
    for _, g in ipairs(ctx.given) do argv[#argv + 1] = g end
    local ok, pid = pcall(sys.spawn, argv)
    if not ok then os.remove(w.control) error(pid, 0) end
    w.pid = pid
    running[#running + 1] = w
    if say then
      print(string.format("experiment: %s starts on %d thread%s (%d running, %d waiting)", name(ctx, run), threads,
                          threads == 1 and "" or "s", #running, #pending - nexti))
    end
  end

  -- Starts what may start, then gives the cores nobody took to the runs going.
  local function fill()
    local free = cores
    for _, w in ipairs(running) do free = free - w.threads end
    -- after Ctrl-C or a folder that cannot be written, nothing new starts
    local k = (sys.interrupted() or ctx.write_error) and 0 or math.min(at_once - #running, #pending - nexti + 1)
    for i = 1, k do
      local share = math.max(1, math.floor(free / (k - i + 1)))
      spawn(pending[nexti], share)
      nexti, free = nexti + 1, free - share
    end
    local grown = {}
    while free > 0 and #running > 0 do
      local best = running[#running]
      for j = #running - 1, 1, -1 do if running[j].threads < best.threads then best = running[j] end end
      best.threads, free = best.threads + 1, free - 1
      grown[best] = true
    end
    for _, w in ipairs(running) do
      if grown[w] then
        tell(w)
        if say then print(string.format("experiment: %s may now use %d threads", name(ctx, w.run), w.threads)) end
      end
    end
  end

  if say then
    print(string.format("experiment: %d runs, up to %d at once on %d core%s, one process each", #pending,
                        math.min(at_once, #pending), cores, cores == 1 and "" or "s"))
  end
  fill()
  while #running > 0 do
    local pids = {}
    for i, w in ipairs(running) do pids[i] = w.pid end
    local pid, how, code, signame = sys.wait_any(pids)
    local w
    for i = 1, #running do
      if running[i].pid == pid then w = table.remove(running, i) break end
    end
    os.remove(w.control)
    local run = w.run
    local rec = read_record(ctx, run.id)
    if not rec and (how == "signal" or code ~= 0) then
      rec = { id = run.id, opt = run.opt, label = run.label, seed = run.seed, status = "failed",
              started = w.started, wall = sys.time() - w.started, threads = { { at = 0, n = w.threads } },
              error = how == "signal" and
                string.format("its worker process (pid %d) died of signal %d (%s)", pid, code, tostring(signame)) or
                string.format("its worker process (pid %d) exited with status %d", pid, code) }
      io.stderr:write(string.format("experiment: %s seed %d: %s\n", run.label, run.seed, rec.error))
    end
    records[run.id] = rec
    if rec and on_record then on_record(rec) end
    fill()
  end
  return records
end

---------------------------------------------------------------- the schedule, from the records

local function round(x) return math.floor(x * 1000 + 0.5) / 1000 end

-- The manifest's `schedule`: when each run ran and on how many threads,
-- in seconds from the first run's start. nil before any run has a time.
function M.schedule_of(ctx, records)
  local t0, t1 = math.huge, -math.huge
  for _, run in ipairs(ctx.runs) do
    local r = records[run.id]
    if r and type(r.started) == "number" then
      t0 = math.min(t0, r.started)
      t1 = math.max(t1, r.started + (r.wall or 0))
    end
  end
  if t0 == math.huge then return nil end
  local runs, busy = report.array(), 0
  for _, run in ipairs(ctx.runs) do
    local r = records[run.id]
    if r and type(r.started) == "number" then
      local stop = r.started + (r.wall or 0)
      local th = report.array()
      for _, c in ipairs(type(r.threads) == "table" and r.threads or {}) do
        th[#th + 1] = { at = round(r.started - t0 + c.at), n = c.n, epoch = c.epoch, step = c.step }
      end
      for i, c in ipairs(th) do
        local till = th[i + 1] and th[i + 1].at or (stop - t0)
        busy = busy + c.n * math.max(0, till - c.at)
      end
      runs[#runs + 1] = { id = run.id, run = name(ctx, run), start = round(r.started - t0),
                          ["end"] = round(stop - t0), threads = th, rank = r.rank, host = r.host }
    end
  end
  local wall = t1 - t0
  return { cores = ctx.cores, at_once = ctx.at_once, processes = ctx.at_once > 1, ranks = ctx.ranks, seconds = round(wall),
           threads_on_average = wall > 0 and round(busy / wall) or nil, runs = runs }
end

return M
