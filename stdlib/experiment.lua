-- Optimizer comparisons that anyone can rerun bit for bit.
--
--   return experiment.compare {
--     name = "mnist-optimizers",
--     data = { data.mnist() },            -- {train, test}; or a function returning train, test
--     model = function() return nn.Sequential{ ... } end,
--     loss = "cross_entropy", metrics = {"accuracy"},
--     batch_size = 64, epochs = 10, seed = 1,
--     optimizers = {"Adadelta", "Adagrad", "Adam", "RMSprop", "SGD"},
--   }
--
-- A run is one optimizer x one seed, described by plain data ({id, opt, label,
-- seed}); every process that evaluates the same script with the same
-- overrides resolves the same list of runs, so a run can be handed to a worker
-- process (--jobs N) or, later, to the rank of a cluster job. Each run starts
-- from tensor.manual_seed(seed) before model() (same initial weights) and
-- passes seed to the loader (same batches): only the optimizer differs.
-- Command-line overrides (key=value), the run folder, `optlab verify`: README.
-- Shards for any scheduler (`--shard i/n`, `optlab merge`): experiment/shard.lua, merge.lua.
--
-- This file holds compare; the rest lives in stdlib/experiment/ by concern: base.lua (the
-- experiment table, fail), spec.lua (spec keys, overrides, optimizer entries), env.lua
-- (data sets, their files, the machine), folder.lua (records, code copies, manifest, views),
-- runs.lua (one run, the worker's side), sched.lua (which run goes when, on how many
-- threads), mpi.lua (the runs across the ranks of an MPI job). verify and resume are in
-- stdlib/rerun.lua.
local common = require "experiment.base"
local C = common.C
local report = common.report
local experiment = common.experiment
local fail = common.fail
local spec_ = require "experiment.spec"
local SPEC_KEYS, pos_int, word = spec_.SPEC_KEYS, spec_.pos_int, spec_.word
local resolve_optimizers, select_optimizers = spec_.resolve_optimizers, spec_.select_optimizers
local shard_ = require "experiment.shard"
local env = require "experiment.env"
local abspath, ds_len, resolve_data, data_files, utc = env.abspath, env.ds_len, env.resolve_data, env.data_files, env.utc
local optlab_exe, cpu_model, stdlib_dir, git_info, lua_release = env.optlab_exe, env.cpu_model, env.stdlib_dir, env.git_info, env.lua_release
local folder = require "experiment.folder"
local run_dir, FINISHED, write_record, read_record = folder.run_dir, folder.FINISHED, folder.write_record, folder.read_record
local keep_copy, sync_code, missing_list, ordered = folder.keep_copy, folder.sync_code, folder.missing_list, folder.ordered
local manifest_of, save_progress, outcome, finish = folder.manifest_of, folder.save_progress, folder.outcome, folder.finish
local runs = require "experiment.runs"
local execute, work, follow = runs.execute, runs.work, runs.follow
local sched = require "experiment.sched"
local mpi = require "experiment.mpi"

---------------------------------------------------------------- compare

-- steps.csv keeps every step of runs up to this many steps (a stride beyond).
experiment.STEP_ROWS = 100000

-- For `optlab verify` and `optlab resume`: where reruns write and whether to print.
experiment._redirect = nil
experiment._resume = nil
experiment._worker = nil
-- The folder of the comparison in progress (callbacks may save files there).
experiment.folder = nil

local function compare(spec)
  for k in pairs(spec) do
    if type(k) ~= "string" or not SPEC_KEYS[k] then
      local ks = {}
      for x in pairs(SPEC_KEYS) do ks[#ks + 1] = x end
      table.sort(ks)
      fail(string.format("experiment.compare: unknown field '%s' (fields: %s)", tostring(k), table.concat(ks, ", ")))
    end
  end
  local where = "experiment.compare"
  io.stdout:setvbuf("line")   -- progress lines show up even through a pipe or in a log
  local a0 = type(spec.arg or rawget(_G, "arg")) == "table" and (spec.arg or rawget(_G, "arg"))[0] or nil
  common.set_script(type(a0) == "string" and report.exists(a0) and a0 or nil)
  local redirect, resume = experiment._redirect, experiment._resume
  local args = spec.arg or rawget(_G, "arg")
  local shard, out
  shard, out, args = shard_.take_args(args)   -- --shard i/n, --out DIR: not overrides of the experiment
  local ov, given, jobs = experiment.parse_overrides(args)
  -- resolved configuration: script values, then command-line values
  local cfg = {}
  for _, k in ipairs { "name", "epochs", "batch_size", "train_limit", "val_limit", "verbose", "runs_dir", "step_stride" } do
    cfg[k] = spec[k]
    if ov[k] ~= nil then cfg[k] = ov[k] end
  end
  cfg.name = cfg.name or "experiment"
  -- problem=<name>: experiment.benchmark's child runs one problem's comparison
  if ov.problem and not (type(spec.problem) == "table" and spec.problem.name == ov.problem) then
    fail(where .. ": problem=" .. ov.problem .. " names a problem of experiment.benchmark; this comparison is " ..
         (type(spec.problem) == "table" and ("of problem " .. tostring(spec.problem.name)) or "not a benchmark's"))
  end
  if ov.baselines and not ov.problem then
    fail(where .. ": baselines=" .. ov.baselines .. " is experiment.benchmark's (it ranks a benchmark among shipped results)")
  end
  cfg.epochs = cfg.epochs or 10
  cfg.batch_size = cfg.batch_size or 32
  cfg.loss = spec.loss or "cross_entropy"
  cfg.metrics = spec.metrics or { "accuracy" }
  if type(cfg.name) ~= "string" or not word(cfg.name) then
    fail(where .. ": name must be a simple word (letters, digits, _ . -; not '.' or '..')")
  end
  for _, k in ipairs { "epochs", "batch_size" } do
    if not compat.is_integer(cfg[k]) or cfg[k] < 1 then fail(where .. ": " .. k .. " must be a positive integer") end
  end
  -- a tuned comparison (spec.tune, stdlib/experiment/tune.lua): its search spaces, checked before any data is read
  local tuned = require("experiment.tune").prepare(spec, where)
  local seeds = tuned and tuned:seeds(ov, spec) or ov.seeds or (ov.seed and { ov.seed }) or spec.seeds or { spec.seed or 1 }
  if type(seeds) ~= "table" or #seeds == 0 then fail(where .. ": seeds must be a non-empty list of integers") end
  for _, s in ipairs(seeds) do
    if not compat.is_integer(s) or s < 0 then fail(where .. ": seeds must be non-negative integers, got " .. tostring(s)) end
  end
  cfg.seeds = seeds
  if type(spec.model) ~= "function" then fail(where .. ": 'model' must be a function that builds the network") end
  local opts = resolve_optimizers(tuned and tuned.list or spec.optimizers, where)
  if ov.optimizers then opts = select_optimizers(opts, ov.optimizers, where) end
  if tuned then tuned:attach(opts, where) end
  local fit = spec.fit or function(...) return require("train").fit(...) end
  if not spec.fit then
    -- the whole configuration is checked here, once, before any data is read
    local tr = require("train")
    tr.resolve_loss(cfg.loss, where)
    tr.resolve_metrics(cfg.metrics, where)
    for _, e in ipairs(opts) do tr.check_optimizer(e.make(), where .. ": optimizer " .. e.label) end
  end
  if spec.diagnostics ~= nil then require("train").diagnostics._options(spec.diagnostics, cfg.batch_size, where) end
  cfg.data_parallel = spec.data_parallel
  if ov.data_parallel ~= nil then cfg.data_parallel = ov.data_parallel end
  local dp = require("train").distributed.plan(cfg.data_parallel, where, "data_parallel")
  if cfg.step_stride ~= nil and not (compat.is_integer(cfg.step_stride) and cfg.step_stride >= 1) then
    fail(where .. ": step_stride must be a positive integer (record every k-th step), got " .. tostring(cfg.step_stride))
  end
  local train, val = resolve_data(setmetatable({ train_limit = cfg.train_limit, val_limit = cfg.val_limit },
                                               { __index = spec }), where)
  -- tuned: selection on a validation split of the training set, the report on the test set
  local test = nil
  if tuned then
    if val == nil then fail(where .. ": a tuned comparison reports on a test set: give data = {train, test}") end
    train, val, test = tuned:split(train, val, where)
  end
  if spec.diagnostics ~= nil then
    -- the probe batches come from the training set: say so now, not once per run
    local d = require("train").diagnostics._options(spec.diagnostics, cfg.batch_size, where)
    local need = d and (d.noise and d.probe_batches or 1) * d.probe_size or 0
    if ds_len(train) < need then
      fail(string.format("%s: diagnostics need %d probe batches of %d examples; the training set has %d examples",
                         where, d.noise and d.probe_batches or 1, d.probe_size, ds_len(train)))
    end
  end
  -- steps.csv: every step for runs up to STEP_ROWS steps, else a stride that keeps about that many
  if cfg.step_stride == nil then
    local n = ds_len(train)
    local total = cfg.epochs * math.ceil((n or 0) / cfg.batch_size)
    cfg.step_stride = total <= experiment.STEP_ROWS and 1 or math.ceil(total / experiment.STEP_ROWS)
  end

  -- every run as plain data; the same list in every process
  -- (tuned: in phases, the later ones filled in from the records of the earlier)
  local runs, fingerprint, phases = {}, nil, nil
  if tuned then
    runs, fingerprint, phases = tuned:plan(opts, cfg, ds_len(train), where)
  else
    local fp = {}
    for i, o in ipairs(opts) do
      for _, s in ipairs(seeds) do
        runs[#runs + 1] = { id = #runs + 1, opt = i, label = o.label, seed = s }
        fp[#fp + 1] = o.label .. "@" .. s
      end
    end
    fingerprint = string.format("%d runs: %s", #runs, table.concat(fp, "; "))
  end
  local ctx = {
    spec = spec, cfg = cfg, opts = opts, runs = runs, fit = fit, train = train, val = val, given = given,
    fingerprint = fingerprint, tuned = tuned, test = test,
    verbose = cfg.verbose or 1, gnuplot = spec.gnuplot or experiment.gnuplot,
    shard = shard,   -- nil, or the slice of the runs this process runs (shard.lua)
  }
  ctx.script_path = type(args) == "table" and type(args[0]) == "string" and args[0] or nil
  if ctx.script_path and not report.exists(ctx.script_path) then ctx.script_path = nil end

  if experiment._worker then
    if ctx.verbose == 1 then ctx.verbose = 2 end   -- one line per epoch: workers share a terminal
    return work(ctx, experiment._worker)
  end

  jobs = (redirect and redirect.jobs) or (resume and resume.jobs) or jobs or spec.jobs
  if jobs ~= nil and not (compat.is_integer(jobs) and jobs >= 1) then fail(where .. ": jobs must be a positive integer") end
  local explicit_jobs = jobs
  if jobs == nil then
    -- By default every core works: as many runs at once as there are cores, in
    -- worker processes, which re-run the script from its top. So only a script
    -- file's first comparison hands runs out; others in the process run here.
    jobs = (ctx.script_path and not experiment._compared) and sys.threads() or 1
  end
  experiment._compared = true
  ctx.cores, ctx.at_once = sys.threads(), 1
  ctx.quiet = redirect and redirect.quiet
  local records = {}
  if resume then
    local old = resume.manifest
    local same = type(old.runs) == "table" and #old.runs == #runs
    for i, run in ipairs(runs) do
      local r = same and old.runs[i]
      same = same and type(r) == "table" and (run.pending or r.optimizer == run.label) and r.seed == run.seed
    end
    if not same then fail("optlab resume: the folder's script now resolves other runs than its manifest lists (" ..
                          ctx.fingerprint .. ")") end
    ctx.dir, ctx.keep_code = resume.dir, true
    for _, phase in ipairs(phases or { runs }) do
      if tuned then tuned:resolve(function(id) return records[id] end) end
      for _, run in ipairs(phase) do
        local rec = not run.pending and shard_.owns(ctx, run) and read_record(ctx, run.id)
        if rec and FINISHED[rec.status] then records[run.id] = rec end
      end
    end
  end

  -- data_parallel under mpirun or srun: the ranks train each run together (train.fit's
  -- distributed steps), one run after another; rank 0 writes the folder, the others follow.
  if tuned and (shard or dp) then
    fail(where .. ": a tuned comparison runs in phases, each chosen from the records of the one before, so its " ..
         "runs cannot be " .. (shard and "cut into shards (--shard): run it whole, on one machine or under mpirun"
                                     or "trained data-parallel: leave data_parallel out"))
  end
  if dp and dp.size > 1 and dp.rank ~= 0 then
    local pending = {}
    for _, run in ipairs(runs) do
      if not records[run.id] and shard_.owns(ctx, run) then pending[#pending + 1] = run end
    end
    return follow(ctx, pending)
  end
  -- rank 0 of such a job: the ranks agree before every run (train.distributed.agree; follow)
  local lockstep = dp and dp.size > 1
  local dist = require("train").distributed
  if lockstep then
    if explicit_jobs and explicit_jobs > 1 then
      fail(where .. ": --jobs starts processes on one machine; under mpirun or srun with data_parallel the ranks " ..
           "train each run together: leave --jobs out")
    end
    jobs, mpi.done = 1, true
  end
  -- Under mpirun or srun: rank 0 coordinates and writes the folder, the others run
  -- what it hands out and end there (stdlib/experiment/mpi.lua).
  local distributed = mpi.distributed() and not dp
  if distributed then
    if explicit_jobs and explicit_jobs > 1 then
      fail(where .. ": --jobs starts processes on one machine; under mpirun or srun the ranks run the runs, one at " ..
           "a time each, on the threads of their slot: leave --jobs out")
    end
    jobs = 1
    if ctx.verbose == 1 then ctx.verbose = 2 end   -- one line per epoch: the ranks share a terminal
    if C.mpi.rank() ~= 0 then return mpi.work(ctx) end
  end

  -- the manifest: everything needed to rerun and to judge the rerun
  local exe = optlab_exe()
  local commit, dirty = git_info()
  local optlist = report.array()
  for _, o in ipairs(opts) do
    optlist[#optlist + 1] = { label = o.label, name = o.name, display = o.display, hyperparameters = o.hyper }
  end
  ctx.manifest = {
    name = cfg.name, description = spec.description,
    command = { overrides = report.array(given), jobs = explicit_jobs },
    config = {
      epochs = cfg.epochs, batch_size = cfg.batch_size, seeds = report.array(seeds), loss = tostring(cfg.loss),
      metrics = report.array(cfg.metrics), train_limit = cfg.train_limit, val_limit = cfg.val_limit,
      train_size = ds_len(train), validation_size = val and ds_len(val) or 0, optimizers = optlist,
      step_stride = cfg.step_stride, diagnostics = spec.diagnostics,
      data_parallel = dp and { shards = dp.shards } or nil,
      test_size = test and ds_len(test) or nil, problem = spec.problem,
      tune = tuned and tuned:describe(ds_len(train), ds_len(val), ds_len(test)) or nil,
    },
    runs = report.array(), data_files = data_files(train, val, test),
    optlab = { version = C.version, commit = commit, dirty = dirty, executable = exe },
    lua = lua_release(exe), blis = sys.blis_version(), blis_kernels = sys.blis_arch(), threads = sys.threads(),
    cpu = cpu_model(), host = report.shell_line("uname -srm"), start_time = utc(os.time()),
    mpi = (distributed or (dp and dp.size > 1)) and { ranks = C.mpi.size(), coordinator = C.mpi.hostname(),
                                                      data_parallel = dp and true or nil } or nil,
  }
  if resume then
    -- what ran first stays on record; the copies are the code that runs now
    local old = resume.manifest
    ctx.manifest.script, ctx.manifest.command, ctx.manifest.start_time = old.script, old.command, old.start_time
    ctx.manifest.merged = old.merged   -- `optlab merge` made it from shards (merge.lua)
    ctx.code = {}
    for _, m in ipairs(type(old.modules) == "table" and old.modules or {}) do ctx.code[m.name] = m end
    local resumed = report.array()
    for _, r in ipairs(type(old.resumed) == "table" and old.resumed or {}) do resumed[#resumed + 1] = r end
    local n = 0
    for _, run in ipairs(runs) do if not records[run.id] and shard_.owns(ctx, run) then n = n + 1 end end
    resumed[#resumed + 1] = { time = utc(os.time()), runs = n, threads = sys.threads(), jobs = jobs,
                              mpi_ranks = distributed and C.mpi.size() or nil,
                              blis_kernels = sys.blis_arch() }
    ctx.manifest.resumed = resumed
  else
    -- made only now, and its manifest written right after: a kill leaves
    -- no folder, or one that resume can complete
    local root = (redirect and redirect.runs_dir) or cfg.runs_dir or os.getenv("OPTLAB_RUNS") or "runs"
    ctx.dir = out and shard_.out_dir(out) or
              run_dir(root, cfg.name, shard and string.format("-shard-%d-of-%d", shard.index, shard.count))
    local script = ctx.script_path and abspath(ctx.script_path) or nil
    ctx.manifest.script = { path = script or "(not a file)" }
    if script then
      local base = script:match("([^/]*)$")
      if not base:match("^[%w_][%w_.%-]*$") then base = "script.lua" end
      ctx.manifest.script.copy = "code/" .. base
      ctx.manifest.script.sha256 = keep_copy(ctx, script, "code/" .. base)
    end
    sync_code(ctx)
  end
  experiment.folder = ctx.dir
  if not ctx.quiet then
    print(string.format("experiment %s: %d optimizers x %d seeds, %d epochs, batch %d, %s; run folder %s",
                        cfg.name, #opts, #seeds, cfg.epochs, cfg.batch_size, report.data_sizes(ctx.manifest.config), ctx.dir))
    if tuned then print("tuned: " .. ctx.manifest.config.tune) end
  end
  shard_.attach(ctx)   -- the manifest's shard, and the line that says which runs are this shard's

  -- A failure to write the folder (disk full, read-only) stops the runs with
  -- a clear message; what finished stays in records/.
  local function guarded(fn, ...)
    local ok, err = pcall(fn, ...)
    if not ok then ctx.write_error = ctx.write_error or tostring(err) end
    return ok
  end
  guarded(save_progress, ctx, records)
  if sys.interrupted() then ctx.interrupted = "during start-up" end
  local npending = 0
  for _, run in ipairs(runs) do if not records[run.id] and shard_.owns(ctx, run) then npending = npending + 1 end end
  if resume and not ctx.quiet then
    local mine = shard and #ctx.manifest.shard.runs or #runs
    print(string.format("optlab resume: %d of %d runs finished before; running %d%s", mine - npending, mine, npending,
                        shard and string.format(" (shard %d of %d)", shard.index, shard.count) or ""))
  end
  -- one phase, or a tuned comparison's phases in turn: each waits for the records of the one before
  local nphases = #(phases or { runs })
  for k, phase in ipairs(phases or { runs }) do
    if tuned then tuned:resolve(function(id) return records[id] end) end
    local pending, unresolved = {}, false
    for _, run in ipairs(phase) do
      if not records[run.id] and shard_.owns(ctx, run) then pending[#pending + 1] = run end
      unresolved = unresolved or run.pending
    end
    if distributed then
      -- every phase, even with nothing left to run: the other ranks wait for rank 0's
      -- word, and the last phase's tells them to stop
      ctx.at_once, ctx.ranks = C.mpi.size(), C.mpi.size()
      if unresolved or ctx.unsaved then pending = {} end
      mpi.coordinate(ctx, records, pending, function(rec)
        records[rec.id] = rec
        if not guarded(write_record, ctx, rec) then ctx.unsaved = ctx.unsaved or (rec.label .. " seed " .. rec.seed) end
        if guarded(sync_code, ctx) then guarded(save_progress, ctx, records) end
      end, k < nphases)
      if sys.interrupted() and not ctx.interrupted then ctx.interrupted = "during the runs" end
    elseif ctx.interrupted or ctx.write_error or ctx.unsaved or unresolved then
      break   -- nothing more runs (unresolved: a run before had no record; resume runs the rest)
    elseif jobs > 1 and #pending > 1 then
      ctx.at_once = math.max(ctx.at_once, math.min(jobs, #pending))
      sched.run_parallel(ctx, math.min(jobs, #pending), records, pending, function() guarded(save_progress, ctx, records) end)
      if sys.interrupted() then ctx.interrupted = "during the runs" end
      guarded(save_progress, ctx, records)
    else
      for _, run in ipairs(pending) do
        if sys.interrupted() then ctx.interrupted = "between runs" break end
        if lockstep then
          local why = dist.agree(nil)
          if why then
            lockstep = false
            io.stderr:write("experiment: the data-parallel ranks stop before " .. run.label .. " seed " .. run.seed ..
                            ": " .. why .. "\n")
            if why:find("interrupted", 1, true) then ctx.interrupted = "between runs" else ctx.peer_stop = why end
            break
          end
        end
        local rec = execute(ctx, run)
        records[run.id] = rec
        if not guarded(write_record, ctx, rec) then
          ctx.unsaved = run.label .. " seed " .. run.seed
          break
        end
        if not (guarded(sync_code, ctx) and guarded(save_progress, ctx, records)) then break end
        if rec.status == "interrupted" then
          ctx.interrupted = "during a run"
          if not ctx.quiet then print("experiment: interrupted; writing what finished") end
          break
        end
      end
    end
  end
  if lockstep then
    -- the last word: the other ranks end with it (follow), whatever ended rank 0's runs
    dist.agree(ctx.write_error and "rank 0 cannot write the run folder" or
               ctx.interrupted and "interrupted (Ctrl-C)" or "no more runs")
  end
  if dp and dp.size > 1 then
    -- the other ranks have ended (follow): rank 0 is alone from here, as after a comparison
    -- across ranks (experiment/mpi.lua); a later data-parallel fit computes every shard here
    C.mpi.finalize()
  end
  local ok, result = pcall(finish, ctx, records)
  if not ok then
    ctx.write_error = ctx.write_error or tostring(result)
    -- the folder took nothing: the results go to the terminal at least
    if not ctx.quiet then
      pcall(function() print("\n" .. report.tables_text(report.summarize(ctx.opts, ordered(ctx, records)), #ctx.cfg.seeds, ctx.manifest.config)) end)
    end
  end
  if ctx.write_error then
    -- say it, and keep the manifest from saying "running" when it can be written at all
    local mok = pcall(function()
      report.write_file(ctx.dir .. "/manifest.json", report.json(manifest_of(ctx, records, true)) .. "\n")
    end)
    local code, why = outcome(ctx, records)
    io.stderr:write(string.format("experiment: cannot write the run folder %s: %s\n%s%s\n%s\n", ctx.dir, ctx.write_error,
      ctx.unsaved and ("experiment: the results of " .. ctx.unsaved .. " could not be saved (the table above shows them); ") or "experiment: ",
      mok and "the manifest records the failure; the runs that finished before are in records/"
          or "the manifest could not be updated either (it still says \"running\"); the runs that finished before are in records/",
      why or ""))
    result = { dir = ctx.dir, records = ordered(ctx, records), missing = missing_list(ctx, records),
               manifest = ctx.manifest, exit_status = code }
  end
  experiment._last = result
  -- the worst of the comparisons this process ran
  if not redirect then
    experiment._exit_status = math.max(experiment._exit_status or 0, result.exit_status)
    sys.set_exit_status(experiment._exit_status)
  end
  return result
end

function experiment.compare(spec)
  if type(spec) ~= "table" then fail("experiment.compare: expected a table, got " .. type(spec)) end
  -- Ctrl-C anywhere in a comparison (start-up, between runs, a step,
  -- plotting) sets a flag and the comparison stops at the next safe point,
  -- with the same folder and status as when it comes during a step.
  local prev = sys.catch_interrupts(true)
  local ok, result = pcall(compare, spec)
  sys.catch_interrupts(prev)
  experiment.folder = nil
  if not ok then error(result, 0) end
  return result
end

---------------------------------------------------------------- verify and resume

-- Relative tolerance per metric when the kernels differ: about 840 float32
-- roundings (2^-23 each); BLIS's kernel sets round sums differently, and a
-- short comparison drifts by about 1e-8 relative between them.
experiment.TOLERANCE = 1e-4

-- The code is in stdlib/rerun.lua; these names stay for main.c and scripts.
experiment.FINISHED = FINISHED
experiment._abspath, experiment._stdlib_dir, experiment._pos_int = abspath, stdlib_dir, pos_int
function experiment.compare_metrics(...) return require("rerun").compare_metrics(...) end
function experiment.verify_main(argv) return require("rerun").verify_main(argv) end
function experiment.resume_main(argv) return require("rerun").resume_main(argv) end
function experiment.merge_main(argv) return require("experiment.merge").main(argv) end

-- experiment.landscape and experiment.test_functions live in stdlib/landscape/; they share these.
require("landscape.run").attach(experiment, { resolve_optimizers = resolve_optimizers, run_dir = run_dir, keep_copy = keep_copy,
  sync_code = sync_code, git_info = git_info, cpu_model = cpu_model, lua_release = lua_release,
  utc = utc, abspath = abspath, word = word })

-- experiment.benchmark: tuned comparisons on several problems (stdlib/experiment/benchmark.lua).
require "experiment.benchmark"

-- ---- help ------------------------------------------------------------------
local help = require "help"
do
  help.register(experiment, [[
experiment  optimizer comparisons that write a run folder anyone can rerun: experiment.compare{...}]])
  help.register(experiment.compare, [[
experiment.compare{name, data, model, optimizers, loss = "cross_entropy", metrics = {"accuracy"},
                   epochs = 10, batch_size = 32, seed = 1 | seeds = {1, 2, 3}, ...} -> result
Trains model() once per optimizer and seed, same initial weights and batches, and writes
runs/<name>/<UTC time>/ (tables, plots, metrics.csv, manifest.json, records/).
  data        {train, test} or a function returning train, test (e.g. function() return data.mnist() end)
  model       a function building the network (called once per run)
  optimizers  a list: optim objects, names ("Adam", Keras defaults) or {label = ..., optimizer = ...}
  loss, metrics, epochs, batch_size, seed/seeds, callbacks, validation_split, train_limit, val_limit,
  verbose, runs_dir, jobs (runs at once; default one per core, sharing the cores), description,
  fit (a replacement for train.fit), gnuplot, step_stride (steps.csv: every k-th step; default every step up to
  100,000 steps a run), diagnostics (train.fit's, per epoch in metrics.csv; help(train.diagnostics)),
  data_parallel (true | {shards = n}: every run trains with train.fit's distributed = true; under mpirun the ranks
  train each run together, one run after another; help(train.distributed))
  tune        a tuned comparison: search spaces in the optimizer entries ({"SGD", lr = tune.log_uniform(1e-3, 1)}),
              tune = {method = "random" | "grid" | "halving", trials = N | steps = N, seeds = {1, 2, 3}}; help(tune)
The configuration (including loss and metric names) is checked before any data is read.
Under mpirun or srun the runs go across the ranks: rank 0 hands them out and writes the one folder.
--shard i/n runs only the i-th of n slices of the runs (run id k is shard ((k - 1) mod n) + 1), for a job
array or GNU parallel; `optlab merge <shard folders> --out DIR` joins them. --out DIR names the run folder.
Command-line key=value arguments override the script: epochs=3 train_limit=2000 seeds=1,2 optimizers=Adam,SGD.
result: {dir, records, missing, manifest, exit_status}.]])
  help.register(experiment.parse_overrides, "experiment.parse_overrides(arg) -> values, given, jobs  the key=value command-line overrides")
  help.register(experiment.compare_metrics, "experiment.compare_metrics(a, b, ...)  compares the metrics of two runs (optlab verify)")
  help.register(experiment.verify_main, "experiment.verify_main(argv)  `optlab verify <run folder>`: reruns and compares")
  help.register(experiment.resume_main, "experiment.resume_main(argv)  `optlab resume <run folder>`: runs what an interrupted comparison left")
  help.register(experiment.merge_main, "experiment.merge_main(argv)  `optlab merge <shard folders> --out DIR`: one run folder from the folders of `--shard i/n` runs")
  help.register(experiment.optlab_exe, "experiment.optlab_exe()  the path of the running optlab binary")
  help.register(experiment.is_interrupt, "experiment.is_interrupt(history)  true if train.fit stopped on Ctrl-C (history.stopped == \"interrupted\")")
end

return experiment
