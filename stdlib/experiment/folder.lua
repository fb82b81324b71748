-- The run folder: records, copies of the code, the manifest and the views of the records.
local common = require "experiment.base"
local report = common.report
local serial = common.serial
local fail = common.fail
local PRELOADED = common.PRELOADED
local env = require "experiment.env"
local abspath, stdlib_dir, utc = env.abspath, env.stdlib_dir, env.utc
local shard = require "experiment.shard"
local owns = shard.owns

---------------------------------------------------------------- the run folder
--
-- runs/<name>/<UTC stamp>/ holds
--   records/run-0001.lua ...  every finished run, written atomically by the
--                             process that ran it (the parent or a worker),
--                             so nothing that finished depends on the parent
--   code/<script>.lua, code/<module>.lua
--                             copies of the code that ran: `optlab verify`
--                             and `optlab resume` run these, never the paths
--                             the manifest names
--   manifest.json, metrics.csv, summary.md, report.html, plots
--                             views of the records, rewritten as runs finish

local function run_dir(root, name, suffix)
  local base = root .. "/" .. name
  report.mkdir_p(base)
  local stamp = os.date("!%Y-%m-%dT%H-%M-%SZ") .. (suffix or "")
  for k = 1, 1000 do
    local dir = base .. "/" .. stamp .. (k > 1 and ("-" .. k) or "")
    -- mkdir without -p fails if it exists: two runs never share a folder
    if os.execute("mkdir " .. report.shell_quote(dir) .. " 2>/dev/null") then
      report.mkdir_p(dir .. "/records")
      return dir
    end
  end
  fail("experiment: cannot create a run folder under " .. base)
end

-- Statuses a rerun reproduces: resume keeps such records, verify compares them.
-- (stopped: a NaN loss, early stopping; a result, not a fault)
local FINISHED = { complete = true, stopped = true }

local function record_path(dir, id) return string.format("%s/records/run-%04d.lua", dir, id) end

local function write_record(ctx, rec)
  report.write_file(record_path(ctx.dir, rec.id), serial.encode(rec))
end

-- What a record may hold (runs.lua's execute writes them). A record may come
-- from elsewhere (another machine's shard, merge.lua): serial.decode parses it
-- without running it, and this checks its shape before anything reads it, so
-- a bad one is refused by name, not half-used.
local STATUSES = { complete = true, stopped = true, interrupted = true, failed = true }
local function number_columns(t, what)
  if type(t) ~= "table" then return what .. " is not a table" end
  for k, col in pairs(t) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then return what .. " has a column named " .. tostring(k) end
    if type(col) ~= "table" then return what .. "." .. k .. " is not a list" end
    for i, v in pairs(col) do
      if not compat.is_integer(i) or i < 1 then return string.format("%s.%s has an entry at %s", what, k, tostring(i)) end
      if type(v) ~= "number" then return string.format("%s.%s[%d] is a %s, not a number", what, k, i, type(v)) end
    end
  end
end
local function check_record(rec, run)
  if type(rec) ~= "table" then return "it is not a table" end
  if rec.id ~= run.id or rec.label ~= run.label or rec.seed ~= run.seed or (rec.opt ~= nil and rec.opt ~= run.opt) then
    return "it is not the record of " .. run.label .. " seed " .. run.seed
  end
  if not STATUSES[rec.status] then return "its status " .. tostring(rec.status) .. " is not one a run ends with" end
  if rec.history == nil then
    if rec.status ~= "failed" then return "it has no history" end
  else
    local why = number_columns(rec.history, "history")
    if why then return why end
  end
  if rec.logs ~= nil then
    if type(rec.logs) ~= "table" then return "logs is not a table" end
    for k, v in pairs(rec.logs) do
      local why = type(k) == "string" and number_columns(v, "logs." .. k) or (type(k) ~= "string" and "logs has a key " .. tostring(k))
      if why then return why end
    end
  end
  for _, k in ipairs { "started", "wall" } do
    if rec[k] ~= nil and type(rec[k]) ~= "number" then return k .. " is not a number" end
  end
  if rec.threads ~= nil then
    if type(rec.threads) ~= "table" then return "threads is not a list" end
    for i, c in pairs(rec.threads) do
      if not compat.is_integer(i) or type(c) ~= "table" or type(c.at) ~= "number" or not compat.is_integer(c.n) or
         (c.epoch ~= nil and not compat.is_integer(c.epoch)) or (c.step ~= nil and not compat.is_integer(c.step)) then
        return "threads[" .. tostring(i) .. "] is not {at = seconds, n = threads[, epoch, step]}"
      end
    end
  end
  if rec.modules ~= nil then
    if type(rec.modules) ~= "table" then return "modules is not a list" end
    for i, mod in pairs(rec.modules) do
      if type(mod) ~= "table" then return "modules[" .. tostring(i) .. "] is not a table" end
      for k, v in pairs(mod) do
        if type(k) ~= "string" or type(v) ~= "string" then return "modules[" .. tostring(i) .. "] holds more than names and paths" end
      end
    end
  end
  -- a tuned comparison's trial records its hyperparameters (stdlib/experiment/tune.lua): names to plain values
  if rec.hp ~= nil then
    if type(rec.hp) ~= "table" then return "hp is not a table" end
    for k, v in pairs(rec.hp) do
      local t = type(v)
      if type(k) ~= "string" or (t ~= "number" and t ~= "string" and t ~= "boolean") then
        return "hp holds more than hyperparameter names and values"
      end
    end
  end
  -- anything else (a launcher's rank or host) is plain text or numbers
  local KNOWN = { history = true, logs = true, threads = true, modules = true, hp = true }
  for k, v in pairs(rec) do
    if type(k) ~= "string" then return "it has a key " .. tostring(k) end
    if not KNOWN[k] and type(v) == "table" then return "its field " .. k .. " is a table" end
  end
  if rec.error ~= nil and type(rec.error) ~= "string" then return "error is not text" end
end

-- The record at path if it is run's: rec, or nil and why not. Never runs it.
local function load_record(path, run)
  local text = report.read_file(path)
  if not text then return nil, "it cannot be read" end
  local ok, rec = pcall(serial.decode, text, path)
  if not ok then return nil, tostring(rec) end
  local why = check_record(rec, run)
  if why then return nil, why end
  return rec
end

-- The record of run id in the folder, or nil (absent, unreadable, or not this run's).
local function read_record(ctx, id)
  local path = record_path(ctx.dir, id)
  if not report.exists(path) then return nil end
  local run = ctx.runs[id]
  local rec, why = load_record(path, run)
  if not rec then
    io.stderr:write("experiment: ignoring " .. path .. ": " .. why .. "\n")
    return nil
  end
  return rec
end

-- Modules the script required from outside optlab's stdlib, with their files.
local function required_modules()
  local std = abspath(stdlib_dir()) .. "/"
  local list = {}
  for name in pairs(package.loaded) do
    if type(name) == "string" and not PRELOADED[name] then
      local p = package.searchpath(name, package.path)
      if p then
        p = abspath(p)
        if p:sub(1, #std) ~= std then list[#list + 1] = { name = name, path = p } end
      end
    end
  end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

-- Copies a file into the folder unless a copy is there; returns its SHA-256.
local function keep_copy(ctx, from, copy)
  local to = ctx.dir .. "/" .. copy
  if not report.exists(to) then
    local text = report.read_file(from)
    if not text then fail("experiment: cannot read " .. from .. " to keep a copy in the run folder") end
    report.mkdir_p(to:match("^(.*)/"))
    report.write_file(to, text)
  end
  -- once more if a Ctrl-C at start-up killed sha256sum: resume needs the hash
  return report.sha256(to) or report.sha256(to)
end

-- Copies every module required so far into code/ (once each); ctx.code
-- holds their manifest entries by name.
local function sync_code(ctx)
  ctx.code = ctx.code or {}
  if ctx.keep_code then return end
  for _, m in ipairs(required_modules()) do
    if not ctx.code[m.name] then
      if not m.name:match("^[%w_][%w_.%-]*$") or m.name:find("..", 1, true) then
        fail("experiment: cannot keep a copy of module '" .. m.name .. "' (" .. m.path .. "): not a plain module name")
      end
      local copy = "code/" .. m.name:gsub("%.", "/") .. ".lua"
      ctx.code[m.name] = { name = m.name, path = m.path, copy = copy, sha256 = keep_copy(ctx, m.path, copy) }
    end
  end
end

local function modules_of(ctx, records)
  local by = {}
  for k, v in pairs(ctx.code or {}) do by[k] = v end
  for _, r in pairs(records) do
    for _, m in ipairs(r.modules or {}) do by[m.name] = by[m.name] or m end
  end
  local list = report.array()
  for _, m in pairs(by) do list[#list + 1] = m end
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

local function missing_list(ctx, records)
  local out = {}
  for _, run in ipairs(ctx.runs) do
    local r = records[run.id]
    local what = nil
    if not owns(ctx, run) then   -- another shard's run (shard.lua): not missing here
    elseif r == nil then what = "not run"
    elseif r.status == "failed" then what = "failed: " .. (r.error or "?")
    elseif r.status == "interrupted" or r.status == "stopped" then
      what = string.format("%s after %d of %d epochs", r.status, report.epochs_of(r.history), run.epochs or ctx.cfg.epochs)
      if r.stopped and r.stopped ~= r.status then what = what .. " (" .. tostring(r.stopped) .. ")" end
    end
    if what then out[#out + 1] = string.format("%s seed %d: %s", run.label, run.seed, what) end
  end
  return out
end

local function ordered(ctx, records)
  local list = {}
  for _, run in ipairs(ctx.runs) do if records[run.id] then list[#list + 1] = records[run.id] end end
  return list
end

local function manifest_of(ctx, records, finished)
  local m = ctx.manifest
  local runs = report.array()
  for _, run in ipairs(ctx.runs) do
    local r = records[run.id]
    runs[#runs + 1] = {
      id = run.id, optimizer = run.label, seed = run.seed,
      status = r and r.status or (not owns(ctx, run) and "other_shard") or (finished and "missing" or "pending"),
      epochs = r and report.epochs_of(r.history) or 0, stopped = r and r.stopped or nil,
      error = r and r.error or nil, wall_seconds = r and r.wall or nil,
      rank = r and r.rank or nil, host = r and r.host or nil,   -- under MPI: who ran it
    }
  end
  m.runs = runs
  m.schedule = require("experiment.sched").schedule_of(ctx, records)
  m.modules = modules_of(ctx, records)
  m.missing = report.array(missing_list(ctx, records))
  m.interrupted = ctx.interrupted and ("Ctrl-C " .. ctx.interrupted) or nil
  m.write_error = ctx.write_error
  m.status = finished and ((#m.missing == 0 and not m.interrupted and not m.write_error) and "complete" or "incomplete")
             or "running"
  m.end_time = finished and utc(os.time()) or nil
  return m
end

-- The per-step views: steps.csv (train.fit's step_stride) and diagnostics.csv
-- (diagnostics every k steps), when some record has them.
local LOG_FILES = { { "steps", "steps.csv", true }, { "diagnostics", "diagnostics.csv", false } }
local function write_logs(ctx, list)
  -- the rows of each finished run are formatted once (100,000 steps take seconds)
  ctx.log_cache = ctx.log_cache or setmetatable({}, { __mode = "k" })
  for _, f in ipairs(LOG_FILES) do
    local text = report.log_csv(list, f[1], f[3], ctx.log_cache)
    if text then report.write_file(ctx.dir .. "/" .. f[2], text) end
  end
end

-- Rewritten after every run: an interrupted or killed run leaves a valid folder.
local function save_progress(ctx, records)
  local list = ordered(ctx, records)
  report.write_file(ctx.dir .. "/metrics.csv", report.csv(list))
  write_logs(ctx, list)
  if ctx.tuned then report.write_file(ctx.dir .. "/trials.csv", ctx.tuned:trials_csv(records)) end
  report.write_file(ctx.dir .. "/manifest.json", report.json(manifest_of(ctx, records, false)) .. "\n")
end

-- The exit status and the sentence that explains it: 130 after Ctrl-C (as
-- a shell reports SIGINT), 1 when a run failed, was not run or the folder
-- could not be written, 0 when every run finished (a NaN stop is a result).
local function outcome(ctx, records)
  local failed, interrupted, notrun = {}, {}, {}
  for _, run in ipairs(ctx.runs) do
    local r = records[run.id]
    local name = run.label .. " seed " .. run.seed
    if not owns(ctx, run) then   -- another shard's run: neither failed nor missing here
    elseif r == nil then notrun[#notrun + 1] = name
    elseif r.status == "failed" then failed[#failed + 1] = name
    elseif r.status == "interrupted" then interrupted[#interrupted + 1] = name end
  end
  local parts = {}
  if #failed > 0 then parts[#parts + 1] = "failed: " .. table.concat(failed, ", ") end
  if #interrupted > 0 then parts[#parts + 1] = "interrupted: " .. table.concat(interrupted, ", ") end
  if #notrun > 0 then parts[#parts + 1] = "not run: " .. table.concat(notrun, ", ") end
  local code = 0
  if ctx.interrupted or #interrupted > 0 then code = 130
  elseif #failed > 0 or #notrun > 0 or ctx.write_error then code = 1 end
  if code == 0 then return 0, nil end
  local why = ctx.interrupted and ("stopped by Ctrl-C " .. ctx.interrupted) or
              (ctx.write_error and "stopped: the run folder could not be written") or "not every run finished"
  local text = string.format("experiment: %s; %s (exit status %d)%s", why,
                             #parts > 0 and table.concat(parts, "; ") or "every run finished", code,
                             code ~= 0 and (#failed + #interrupted + #notrun) > 0 and
                               ("; `optlab resume " .. ctx.dir .. "` runs the rest") or "")
  return code, text
end

local function finish(ctx, records)
  local list = ordered(ctx, records)
  local nseeds = #ctx.cfg.seeds
  -- a tuned comparison's tables and plots show the reruns of the best; trials.csv the trials
  local tuned = ctx.tuned
  local shown = tuned and tuned:finals(records) or list
  local summary = report.summarize(ctx.opts, shown)
  local tables = report.tables_text(summary, nseeds, ctx.manifest.config)
  report.write_file(ctx.dir .. "/metrics.csv", report.csv(list))
  write_logs(ctx, list)
  local plots = report.plots(ctx.dir, summary, nseeds, ctx.gnuplot, shown)
  -- trials.csv, the sensitivity plot, the tuning table (stdlib/experiment/tune.lua)
  local tuned_md, sections
  if tuned then tuned_md, sections, tables = tuned:views(ctx, records, plots, tables) end
  if (plots.interrupted or sys.interrupted()) and not ctx.interrupted then ctx.interrupted = "during plotting" end
  local manifest = manifest_of(ctx, records, true)
  manifest.plots = { rendered = plots.rendered, message = plots.message }
  manifest.tune = tuned and tuned:manifest(records) or nil
  report.write_file(ctx.dir .. "/manifest.json", report.json(manifest) .. "\n")
  local md = { "# " .. ctx.cfg.name, "", "Script: `" .. ctx.manifest.script.path .. "`" ..
               (#ctx.given > 0 and (" with `" .. table.concat(ctx.given, " ") .. "`") or ""), "" }
  for _, l in ipairs(tuned_md or {}) do md[#md + 1] = l end
  local th, tr = report.table_rows(summary)
  local eh, er = report.epoch_rows(summary, "val_accuracy")
  md[#md + 1] = "## Comparison" .. (nseeds > 1 and string.format(" (mean±std over %d seeds)", nseeds) or "")
  md[#md + 1] = ""
  md[#md + 1] = report.data_sizes(ctx.manifest.config) .. "."
  md[#md + 1] = ""
  md[#md + 1] = report.md_table(th, tr)
  md[#md + 1] = ""
  md[#md + 1] = "## val_accuracy per epoch"
  md[#md + 1] = ""
  md[#md + 1] = report.md_table(eh, er)
  md[#md + 1] = ""
  if #manifest.missing > 0 then
    md[#md + 1] = "## Missing or incomplete runs"
    md[#md + 1] = ""
    for _, s in ipairs(manifest.missing) do md[#md + 1] = "- " .. s end
    md[#md + 1] = ""
  end
  local others = shard.others(ctx)
  if #others > 0 then
    md[#md + 1] = string.format("## Runs of other shards (this folder is shard %d of %d)", ctx.shard.index, ctx.shard.count)
    md[#md + 1] = ""
    for _, s in ipairs(others) do md[#md + 1] = "- " .. s end
    md[#md + 1] = ""
  end
  if type(manifest.merged) == "table" then md[#md + 1] = shard.merged_line(manifest.merged); md[#md + 1] = "" end
  local dh, dr = report.diagnostics_rows(summary)
  if dh then
    md[#md + 1] = "## Diagnostics (final epoch)"
    md[#md + 1] = ""
    md[#md + 1] = report.md_table(dh, dr)
    md[#md + 1] = ""
  end
  if manifest.interrupted then md[#md + 1] = "Stopped by " .. manifest.interrupted .. "." ; md[#md + 1] = "" end
  if manifest.schedule then md[#md + 1] = report.schedule_md(manifest.schedule) end
  local pnames = {}
  for _, name in ipairs(plots.names or report.PLOTS) do pnames[#pnames + 1] = name .. ".svg" end
  md[#md + 1] = "Plots: " .. table.concat(pnames, ", ") .. " (PNG beside them; `.gp` and `.dat` to restyle)." ..
                (plots.rendered and "" or (" Not rendered: " .. tostring(plots.message)))
  report.write_file(ctx.dir .. "/summary.md", table.concat(md, "\n") .. "\n")
  report.write_file(ctx.dir .. "/report.html",
                    report.html(ctx.dir, ctx.cfg.name, summary, nseeds, manifest, manifest.missing, plots, sections))
  local code, why = outcome(ctx, records)
  if not ctx.quiet then
    print()
    print(tables)
    if #manifest.missing > 0 then
      print("\nMissing or incomplete runs:")
      for _, s in ipairs(manifest.missing) do print("  " .. s) end
    end
    if #others > 0 then
      print(string.format("\nRuns of other shards (this folder is shard %d of %d; `optlab merge` joins the shards):",
                          ctx.shard.index, ctx.shard.count))
      for _, s in ipairs(others) do print("  " .. s) end
    end
    if not plots.rendered then print("\nPlots not rendered: " .. tostring(plots.message)) end
    if manifest.schedule then print("\nSchedule: " .. (report.schedule_parts(manifest.schedule))) end
    if why then print("\n" .. why) end
    print("\nRun folder: " .. ctx.dir)
  end
  return { dir = ctx.dir, records = list, summary = summary, missing = manifest.missing, tables = tables,
           manifest = manifest, exit_status = code }
end

return { run_dir = run_dir, FINISHED = FINISHED, write_record = write_record, read_record = read_record,
         record_path = record_path, load_record = load_record,
         keep_copy = keep_copy, sync_code = sync_code, required_modules = required_modules, missing_list = missing_list, ordered = ordered,
         manifest_of = manifest_of, save_progress = save_progress, outcome = outcome, finish = finish }
