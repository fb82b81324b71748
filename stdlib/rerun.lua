-- Checking and completing run folders: `optlab verify DIR` and `optlab
-- resume DIR`. Both run only the copies of the code kept in the folder's
-- code/ (checked against their SHA-256s in the manifest), never the paths
-- the manifest names; the folder layout is described in experiment.lua.
local report = require "report"
local experiment = require "experiment"

local rerun = {}

local FINISHED = experiment.FINISHED
local abspath, stdlib_dir, pos_int = experiment._abspath, experiment._stdlib_dir, experiment._pos_int

-- The per-step views verify compares beside metrics.csv.
local LOG_FILES = { "steps.csv", "diagnostics.csv" }

local function metric_columns(header)
  local cols = {}
  for _, k in ipairs(header) do
    if k ~= "run" and k ~= "optimizer" and k ~= "seed" and k ~= "epoch" and k ~= "step" and not report.TIMING[k] then
      cols[#cols + 1] = k
    end
  end
  return cols
end

-- |a - b| / max(|a|, |b|): 0 for equal values (NaN equals NaN), inf when
-- only one is a number.
local function rel_diff(a, b)
  if a == nil or b == nil then return (a == b) and 0 or math.huge end
  if a ~= a or b ~= b then return (a ~= a and b ~= b) and 0 or math.huge end
  if a == b then return 0 end
  local d = math.abs(a - b)
  local m = math.max(math.abs(a), math.abs(b))
  if d ~= d or m == math.huge then return math.huge end
  return d / m
end

-- Compares two metrics.csv texts: every run x epoch row and every metric
-- column of each must be in the other. tolerance nil: bit for bit; else
-- relative. Returns ok, lines of the per-run report, the first difference
-- (text), the metric columns, and per metric the largest relative difference.
-- unit "step" and file "steps.csv" compare the per-step views (steps.csv,
-- diagnostics.csv), whose rows are run x logged step.
function rerun.compare_metrics(recorded, rerun_csv, tolerance, unit, file)
  unit, file = unit or "epoch", file or "metrics.csv"
  local a, b = report.parse_csv(recorded), report.parse_csv(rerun_csv)
  local cols, bcols = metric_columns(a.header), metric_columns(b.header)
  local first = nil
  local has = {}
  for _, k in ipairs(cols) do has[k] = true end
  for _, k in ipairs(bcols) do
    if not has[k] then first = first or (file .. " has no column '" .. k .. "', which the rerun has") end
  end
  local hasb = {}
  for _, k in ipairs(bcols) do hasb[k] = true end
  for _, k in ipairs(cols) do
    if not hasb[k] then first = first or (file .. " has a column '" .. k .. "', which the rerun has not") end
  end
  if #cols == 0 then first = first or (file .. " has no metric columns") end
  local function key(r) return r.optimizer .. "\0" .. r.seed .. "\0" .. tostring(r[unit]) end
  local index, seen = {}, {}
  for _, r in ipairs(b.rows) do index[key(r)] = r end
  local lines, per, order, maxrel = {}, {}, {}, {}
  for _, k in ipairs(cols) do maxrel[k] = 0 end
  local function entry(r)
    local name = r.optimizer .. " seed " .. r.seed
    if not per[name] then per[name] = { epochs = 0, bad = {} }; order[#order + 1] = name end
    return per[name], name
  end
  for _, r in ipairs(a.rows) do
    local p, name = entry(r)
    p.epochs = p.epochs + 1
    local other = index[key(r)]
    local diff = nil
    if seen[key(r)] then diff = "the row appears twice in " .. file
    elseif not other then diff = "the rerun has no such row" end
    seen[key(r)] = true
    if other and not diff then
      for _, k in ipairs(cols) do
        local x, y = report.parse_num(r[k]), report.parse_num(other[k])
        local d = rel_diff(x, y)
        if d > maxrel[k] then maxrel[k] = d end
        local bad
        if tolerance then bad = not (d <= tolerance) else bad = not report.same_bits(x, y) end
        if bad and not diff then
          diff = string.format("%s: recorded %s, rerun %s", k, r[k] == "" and "(empty)" or r[k],
                               (other[k] == nil or other[k] == "") and "(empty)" or other[k])
        end
      end
    end
    if diff then
      p.bad[#p.bad + 1] = unit .. " " .. r[unit] .. " " .. diff
      first = first or string.format("%s, %s %s, %s (%s line %d)", name, unit, r[unit], diff, file, r._line)
    end
  end
  -- rows the rerun has and the record lacks: a deleted run, epoch or row
  for _, r in ipairs(b.rows) do
    if not seen[key(r)] then
      local p, name = entry(r)
      p.bad[#p.bad + 1] = unit .. " " .. r[unit] .. " missing from " .. file
      first = first or string.format("%s, %s %s: the row is missing from %s", name, unit, r[unit], file)
    end
  end
  local verdict = tolerance and string.format("all %d metrics within %g relative", #cols, tolerance) or
                  string.format("all %d metrics match bit for bit", #cols)
  for _, name in ipairs(order) do
    local p = per[name]
    if #p.bad == 0 then
      lines[#lines + 1] = unit == "epoch" and string.format("  %-40s epochs 1-%d: %s", name, p.epochs, verdict)
                          or string.format("  %-40s %s: %d rows: %s", name, file, p.epochs, verdict)
    else
      lines[#lines + 1] = string.format("  %-40s MISMATCH in %d of %d %ss%s; first: %s", name, #p.bad, p.epochs, unit,
                                        unit == "epoch" and "" or (" of " .. file), p.bad[1])
    end
  end
  if #b.rows == 0 and #a.rows == 0 then first = first or "no rows recorded" end
  return first == nil, lines, first, cols, maxrel
end

-- JSON numbers come back as floats: 1, not 1.0, in messages.
local function int_text(x)
  if type(x) == "number" and x == math.floor(x) and math.abs(x) < 2 ^ 53 then return string.format("%d", x) end
  return tostring(x)
end

local function usage_dir(name, argv)
  local dir = argv and argv[1]
  if not dir then
    io.stderr:write("usage: optlab " .. name .. " runs/<name>/<timestamp> [--jobs N]\n")
    return nil
  end
  dir = dir:gsub("/+$", "")
  local jobs = nil
  local i = 2
  while argv[i] do
    local a = argv[i]
    if (a == "--jobs" or a == "-j") and argv[i + 1] then jobs = pos_int(argv[i + 1]); i = i + 1
    elseif a:match("^%-%-jobs=") then jobs = pos_int(a:sub(8))
    else io.stderr:write("optlab " .. name .. ": unknown argument '" .. a .. "'\n"); return nil end
    if not jobs then io.stderr:write("optlab " .. name .. ": --jobs needs a positive integer\n"); return nil end
    i = i + 1
  end
  return dir, jobs
end

-- A run folder for verify and resume: its manifest, after checking that
-- the copies of the code it names are inside the folder and match their
-- SHA-256. Returns the manifest, or nil and why not.
local function open_folder(dir, who)
  local mtext = report.read_file(dir .. "/manifest.json")
  if not mtext then return nil, "no manifest.json in " .. dir end
  local ok, m = pcall(report.json_decode, mtext, dir .. "/manifest.json")
  if not ok or type(m) ~= "table" then return nil, tostring(m) end
  local s = m.script
  if type(s) ~= "table" or type(s.copy) ~= "string" then
    return nil, dir .. " keeps no copy of its script (an older optlab's folder, or not a run folder); " .. who ..
                " runs only code kept in the folder"
  end
  local entries = { { what = "the script", copy = s.copy, sha256 = s.sha256 } }
  if m.modules ~= nil and type(m.modules) ~= "table" then return nil, "the manifest's modules are not a list" end
  for _, mod in ipairs(m.modules or {}) do
    if type(mod) ~= "table" then return nil, "the manifest's modules are not a list of tables" end
    entries[#entries + 1] = { what = "module " .. tostring(mod.name), copy = mod.copy, sha256 = mod.sha256 }
  end
  for _, e in ipairs(entries) do
    if type(e.copy) ~= "string" or not e.copy:match("^code/[%w_.%-/]+$") or e.copy:find("..", 1, true) or
       e.copy:find("//", 1, true) then
      return nil, "the manifest names '" .. tostring(e.copy) .. "' as the copy of " .. e.what ..
                  ": not a file under code/ in the folder; refusing to run it"
    end
    local sha = report.sha256(dir .. "/" .. e.copy)
    if not sha then return nil, dir .. "/" .. e.copy .. " (" .. e.what .. ") is missing" end
    if sha ~= e.sha256 then
      return nil, string.format("%s/%s (%s) does not match its SHA-256 in the manifest (%s, recorded %s): " ..
                                "the folder was changed; refusing to run it", dir, e.copy, e.what, sha, tostring(e.sha256))
    end
  end
  return m
end

-- The copy's command line: the overrides as given, then the resolved values
-- (the script's defaults may have moved).
local function rerun_args(m, copy)
  local args = { [0] = copy }
  for _, g in ipairs(m.command and m.command.overrides or {}) do
    if type(g) == "string" and not g:match("^runs_dir=") then args[#args + 1] = g end
  end
  local cfg = m.config or {}
  local has = {}
  for _, g in ipairs(args) do has[g:match("^([%w_]+)=") or ""] = true end
  for _, k in ipairs { "epochs", "batch_size", "train_limit", "val_limit" } do
    local v = tonumber(cfg[k])
    if not has[k] and v and v == math.floor(v) then args[#args + 1] = string.format("%s=%d", k, v) end
  end
  if not has.seeds and not has.seed and type(cfg.seeds) == "table" then
    local s = {}
    for _, x in ipairs(cfg.seeds) do s[#s + 1] = int_text(x) end
    args[#args + 1] = "seeds=" .. table.concat(s, ",")
  end
  -- a shard's folder reruns (verify) or completes (resume) its own slice only
  local sh = m.shard
  if type(sh) == "table" and compat.is_integer(sh.index) and compat.is_integer(sh.count) then
    args[#args + 1] = string.format("--shard=%d/%d", sh.index, sh.count)
  end
  return args
end

-- Runs the folder's copy of the script with only the folder's code and
-- optlab's stdlib on package.path; returns ok, error.

-- Two trials.csv texts hold the same trials: the same cells, numbers compared as
-- numbers (Lua 5.4 and LuaJIT may print one double's 17th digit differently).
local function same_trials(a, b)
  if a == b then return true end
  if not (a and b) then return false end
  local oka, ta = pcall(report.parse_csv, a)
  local okb, tb = pcall(report.parse_csv, b)
  if not (oka and okb) or #ta.header ~= #tb.header or #ta.rows ~= #tb.rows then return false end
  for i, h in ipairs(ta.header) do if tb.header[i] ~= h then return false end end
  for r, row in ipairs(ta.rows) do
    for _, h in ipairs(ta.header) do
      local x, y = row[h], tb.rows[r][h]
      if x ~= y and not (tonumber(x) and tonumber(x) == tonumber(y)) then return false end
    end
  end
  return true
end
local function run_copy(dir, args)
  local saved_arg, saved_path = rawget(_G, "arg"), package.path
  local code = abspath(dir) .. "/code"
  _G.arg = args
  package.path = code .. "/?.lua;" .. code .. "/?/init.lua;" .. abspath(stdlib_dir()) .. "/?.lua"
  experiment._last = nil
  local ok, err = pcall(dofile, args[0])
  _G.arg, package.path = saved_arg, saved_path
  return ok, err
end

-- `optlab verify DIR [--jobs N]`: rerun the folder's copy of the script,
-- compare metrics.csv and the runs.
function rerun.verify_main(argv)
  local dir, jobs = usage_dir("verify", argv)
  if not dir then return false end
  -- experiment.benchmark's folder: each problem's run folder in turn (stdlib/experiment/benchmark.lua)
  local btext = report.read_file(dir .. "/manifest.json")
  local bok, bm = pcall(report.json_decode, btext or "", dir .. "/manifest.json")
  if btext and bok and type(bm) == "table" and bm.kind == "benchmark" then
    local all, n = true, 0
    for _, p in ipairs(type(bm.problems) == "table" and bm.problems or {}) do
      local sub = type(p) == "table" and type(p.folder) == "string" and p.folder:match("^[%w_.%-]+/[%w_.%-]+$") and
                  not p.folder:find("..", 1, true) and (dir .. "/" .. p.folder)
      if not sub then
        print("optlab verify: the benchmark's problem " .. tostring(type(p) == "table" and p.name) .. " has no run folder")
        all = false
      else
        print("optlab verify: problem " .. tostring(p.name) .. ": " .. sub)
        n = n + 1
        all = rerun.verify_main({ sub, jobs and "--jobs" or nil, jobs and tostring(jobs) or nil }) and all
      end
    end
    print(all and n > 0 and string.format("optlab verify: OK, the benchmark's %d problems verify", n)
                         or "optlab verify: FAILED: not every problem of the benchmark verifies")
    return all and n > 0
  end
  local m, why = open_folder(dir, "verify")
  if not m then io.stderr:write("optlab verify: " .. why .. "\n"); return false end
  if m.kind == "landscape" then   -- experiment.landscape's folder: trajectories, not metrics (stdlib/landscape/verify.lua)
    return require("landscape.verify").main(dir, m, function(a) return run_copy(dir, a) end, rerun_args(m, dir .. "/" .. m.script.copy))
  end
  local copy = dir .. "/" .. m.script.copy
  local args = rerun_args(m, copy)
  if require("optlab.core").mpi.rank() == 0 then   -- once, not once per rank of an MPI job
    print(string.format("optlab verify: will run %s %s (the folder's copy of %s, SHA-256 checked): " ..
                        "verifying a run folder runs its code", copy, table.concat(args, " "), tostring(m.script.path)))
  end
  local recorded = report.read_file(dir .. "/metrics.csv")
  if not recorded then io.stderr:write("optlab verify: no metrics.csv in " .. dir .. "\n"); return false end
  -- a folder that never completed, or with runs that did not finish, has nothing to vouch for
  local unfinished = {}
  if m.status == "running" or m.end_time == nil then
    unfinished[#unfinished + 1] = "the comparison never completed (the manifest says \"" .. tostring(m.status) .. "\")"
  end
  if type(m.runs) ~= "table" or #m.runs == 0 then unfinished[#unfinished + 1] = "the manifest lists no runs" end
  for _, r in ipairs(type(m.runs) == "table" and m.runs or {}) do
    if type(r) ~= "table" or not (FINISHED[r.status] or (m.shard and r.status == "other_shard")) then
      unfinished[#unfinished + 1] = type(r) == "table" and
        string.format("%s seed %s: %s", tostring(r.optimizer), int_text(r.seed), tostring(r.status)) or "a run entry is not a table"
    end
  end
  if m.interrupted then unfinished[#unfinished + 1] = "stopped by " .. tostring(m.interrupted) end
  if m.write_error then unfinished[#unfinished + 1] = "the folder could not be written: " .. tostring(m.write_error) end
  if #unfinished > 0 then
    print("optlab verify: FAILED: the folder is incomplete: " .. table.concat(unfinished, "; ") ..
          " (`optlab resume " .. dir .. "` completes it)")
    return false
  end
  -- GEMM results depend on BLIS's kernel set: on another one, compare within a tolerance
  local other = m.blis_kernels ~= nil and m.blis_kernels ~= sys.blis_arch()
  local tol = other and experiment.TOLERANCE or nil
  if other then
    print(string.format("optlab verify: the run used BLIS's %s kernels, this machine uses %s (BLIS_ARCH_TYPE chooses): " ..
                        "their sums round differently, so the rerun cannot match bit for bit; comparing within %g relative",
                        tostring(m.blis_kernels), sys.blis_arch(), tol))
  end
  local tmp = os.tmpname()
  os.remove(tmp)
  report.mkdir_p(tmp)
  experiment._redirect = { runs_dir = tmp, quiet = true, jobs = jobs }
  local ok, err = run_copy(dir, args)
  experiment._redirect = nil
  local last = experiment._last
  local rerun_csv = ok and last and report.read_file(last.dir .. "/metrics.csv") or nil
  local rerun_m = ok and last and last.manifest or nil
  local rerun_logs = {}
  for _, file in ipairs(LOG_FILES) do rerun_logs[file] = ok and last and report.read_file(last.dir .. "/" .. file) or nil end
  -- a tuned comparison's trials.csv: which trials ran, what they scored, which were kept (no timing in it)
  local rerun_trials = ok and last and report.read_file(last.dir .. "/trials.csv") or nil
  os.execute("rm -rf " .. report.shell_quote(tmp))   -- pass or fail, no temporary folder stays
  if not ok or not last or not rerun_csv then
    io.stderr:write("optlab verify: the rerun failed: " .. tostring(err or "the script did not call experiment.compare") .. "\n")
    return false
  end
  -- the same runs, with the same outcome
  local problems = {}
  local rr = rerun_m.runs or {}
  if #rr ~= #m.runs then problems[#problems + 1] = string.format("the manifest lists %d runs, the rerun has %d", #m.runs, #rr) end
  for i = 1, math.min(#rr, #m.runs) do
    local a, b = m.runs[i], rr[i]
    if a.optimizer ~= b.optimizer or a.seed ~= b.seed or a.status ~= b.status or a.epochs ~= b.epochs then
      problems[#problems + 1] = string.format("run %d: recorded %s seed %s %s after %s epochs, rerun %s seed %s %s after %s epochs",
        i, tostring(a.optimizer), int_text(a.seed), tostring(a.status), int_text(a.epochs),
        tostring(b.optimizer), int_text(b.seed), tostring(b.status), int_text(b.epochs))
    end
  end
  local pok, same, lines, first, cols, maxrel = pcall(rerun.compare_metrics, recorded, rerun_csv, tol)
  if not pok then problems[#problems + 1] = tostring(same); same, lines, cols, maxrel = false, {}, {}, {} end
  local nepoch = #cols
  -- the per-step views, bit for bit too (wall_seconds excluded); a file on one side only is a difference
  for _, file in ipairs(LOG_FILES) do
    local x, y = rerun_logs[file], report.read_file(dir .. "/" .. file)
    local older = not y and type(m.config) == "table" and m.config.step_stride == nil
    if older then
      -- a folder of an optlab before per-step logs: nothing recorded to compare
      print(string.format("optlab verify: %s has no %s (its optlab wrote none); comparing metrics.csv only", dir, file))
    elseif x or y then
      if not y then problems[#problems + 1] = "the folder has no " .. file .. ", which the rerun wrote"
      elseif not x then problems[#problems + 1] = "the folder has a " .. file .. ", which the rerun did not write"
      else
        local lok, lsame, llines, lfirst, lcols, lmax = pcall(rerun.compare_metrics, y, x, tol, "step", file)
        if not lok then problems[#problems + 1] = file .. ": " .. tostring(lsame)
        else
          for _, l in ipairs(llines) do lines[#lines + 1] = l end
          if not lsame then problems[#problems + 1] = file .. ": " .. tostring(lfirst) end
          for _, k in ipairs(lcols) do
            if maxrel[file .. ":" .. k] == nil then cols[#cols + 1] = file .. ":" .. k end
            maxrel[file .. ":" .. k] = lmax[k]
          end
        end
      end
    end
  end
  local trials = report.read_file(dir .. "/trials.csv")
  if (trials or rerun_trials) and not tol then   -- within a tolerance, metrics.csv says it
    if not same_trials(trials, rerun_trials) then
      problems[#problems + 1] = not trials and "the folder has no trials.csv, which the rerun wrote" or
        not rerun_trials and "the folder has a trials.csv, which the rerun did not write" or
        "trials.csv differs from the rerun's (other trials, scores or selections)"
    else
      lines[#lines + 1] = string.format("  %-40s the same trials, scores and selections", "trials.csv")
    end
  end
  local per_step = {}
  for i = nepoch + 1, #cols do per_step[#per_step + 1] = cols[i] end
  print(string.format("optlab verify: %s against a rerun in %s, now removed (%d metrics per epoch: %s;%s timing excluded)",
                      dir, tmp, nepoch, table.concat(cols, ", ", 1, nepoch),
                      #per_step > 0 and (" per step: " .. table.concat(per_step, ", ") .. ";") or ""))
  for _, l in ipairs(lines) do print(l) end
  if other then
    for _, k in ipairs(cols) do
      print(string.format("  %-24s largest relative difference %.3g (%s %g)", k, maxrel[k],
                          maxrel[k] <= tol and "within" or "OUTSIDE", tol))
    end
  end
  for _, p in ipairs(problems) do print("  " .. p) end
  if same and #problems == 0 then
    print(other and string.format("optlab verify: OK within float32 tolerance (%g relative); bit for bit needs BLIS's %s kernels",
                                  tol, tostring(m.blis_kernels))
                or "optlab verify: OK, every metric matches bit for bit")
    return true
  end
  print("optlab verify: MISMATCH; first difference: " .. tostring(first or problems[1]))
  return false
end

-- `optlab resume DIR [--jobs N]`: run the folder's copy of the script into
-- the same folder; runs with a finished record are kept, the others run.
-- Returns the exit status.
function rerun.resume_main(argv)
  local dir, jobs = usage_dir("resume", argv)
  if not dir then return 2 end
  local m, why = open_folder(dir, "resume")
  if not m then io.stderr:write("optlab resume: " .. why .. "\n"); return 1 end
  if m.kind == "landscape" then
    io.stderr:write("optlab resume: " .. dir .. " is a landscape run, written whole at its end: run its script again\n")
    return 1
  end
  local copy = dir .. "/" .. m.script.copy
  local args = rerun_args(m, copy)
  if require("optlab.core").mpi.rank() == 0 then   -- once, not once per rank of an MPI job
    print(string.format("optlab resume: will run %s %s (the folder's copy of %s, SHA-256 checked): " ..
                        "resuming a run folder runs its code", copy, table.concat(args, " "), tostring(m.script.path)))
  end
  experiment._resume = { dir = dir, manifest = m, jobs = jobs }
  local ok, err = run_copy(dir, args)
  experiment._resume = nil
  local last = experiment._last
  if not ok or not last then
    io.stderr:write("optlab resume: " .. tostring(err or "the script did not call experiment.compare") .. "\n")
    return 1
  end
  return last.exit_status or 0
end

rerun.open_folder = open_folder   -- for `optlab merge` (stdlib/experiment/merge.lua)
return rerun
