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
local C = require "optlab.core"
local report = require "report"
local serial = require "serial"

local experiment = {}

-- Modules loaded before any script ran (optlab's own): the run folder keeps
-- copies of the others, which the script required.
local PRELOADED = {}
for k in pairs(package.loaded) do PRELOADED[k] = true end

-- Errors name the user's file:line: the first frame outside stdlib/, or the
-- experiment script (`return experiment.compare{...}` is a tail call, so its
-- frame is gone).
local current_script = nil
local function fail(msg)
  local here = debug.getinfo(1, "S").source
  for level = 2, 50 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= here and info.source:sub(1, 1) == "@" and info.currentline > 0 and
       not info.source:find("/stdlib/", 1, true) then
      error(info.source:sub(2) .. ":" .. info.currentline .. ": " .. msg, 0)
    end
  end
  error((current_script and (current_script .. ": ") or "") .. msg, 0)
end

-- Modules of the other issues are looked up when used (globals set by
-- optlab_init, else require), so this file loads without them.
local function module(name)
  local m = rawget(_G, name)
  if m == nil then
    local ok, r = pcall(require, name)
    if ok then m = r end
  end
  if m == nil then fail("experiment: this needs the '" .. name .. "' module, which is not installed") end
  return m
end

---------------------------------------------------------------- spec and overrides

-- Fields an experiment table may have.
local SPEC_KEYS = {
  name = true, description = true, data = true, train = true, validation = true, validation_split = true,
  model = true, loss = true, metrics = true, batch_size = true, epochs = true, seed = true, seeds = true,
  optimizers = true, callbacks = true, verbose = true, train_limit = true, val_limit = true,
  runs_dir = true, jobs = true, fit = true, arg = true, gnuplot = true,
}

-- Command-line keys: how to parse and check each.
local function pos_int(s)
  local n = math.tointeger(tonumber(s))
  if n and n > 0 and s:match("^%d+$") then return n end
  return nil, "a positive integer"
end
local function nonneg_int(s)
  local n = math.tointeger(tonumber(s))
  if n and n >= 0 and s:match("^%d+$") then return n end
  return nil, "a non-negative integer"
end
local function int_list(s)
  local out = {}
  for tok in (s .. ","):gmatch("([^,]*),") do
    local n = nonneg_int(tok)
    if not n then return nil, "a comma-separated list of non-negative integers (seeds=1,2,3)" end
    out[#out + 1] = n
  end
  return out
end
local function name_list(s)
  local out = {}
  for tok in (s .. ","):gmatch("([^,]*),") do
    if tok == "" then return nil, "a comma-separated list of optimizer names (optimizers=Adam,SGD)" end
    out[#out + 1] = tok
  end
  return out
end
-- A folder name under runs_dir: no '/', and no '.' or '..' that would climb out.
local function word(s)
  if s:match("^[%w_.%-]+$") and not s:find("..", 1, true) and s ~= "." then return s end
  return nil, "a name of letters, digits, '_', '.', '-' (not '.' or '..')"
end
local function path(s)
  if s ~= "" then return s end
  return nil, "a folder path"
end
local function verbosity(s)
  if s == "0" or s == "1" or s == "2" then return tonumber(s) end
  return nil, "0, 1 or 2"
end

local OVERRIDES = {
  epochs = pos_int, batch_size = pos_int, seed = nonneg_int, seeds = int_list, optimizers = name_list,
  train_limit = pos_int, val_limit = pos_int, name = word, verbose = verbosity, runs_dir = path, jobs = pos_int,
}

local function valid_keys()
  local ks = {}
  for k in pairs(OVERRIDES) do ks[#ks + 1] = k end
  table.sort(ks)
  return table.concat(ks, ", ")
end

-- arg[1..n] -> { key = value }, the list of key=value texts (for the
-- manifest, without --jobs), and the job count.
function experiment.parse_overrides(args)
  local values, given, jobs = {}, {}, nil
  local i = 1
  while args and args[i] ~= nil do
    local a = args[i]
    local key, text
    if a == "--jobs" or a == "-j" then
      key, text = "jobs", args[i + 1]
      if text == nil then fail("experiment: --jobs needs a number (valid keys: " .. valid_keys() .. ")") end
      i = i + 1
    elseif a:match("^%-%-jobs=") then
      key, text = "jobs", a:sub(8)
    else
      key, text = a:match("^([%w_]+)=(.*)$")
      if not key then
        fail(string.format("experiment: cannot read argument '%s': expected key=value (valid keys: %s)", a, valid_keys()))
      end
    end
    local parse = OVERRIDES[key]
    if not parse then
      fail(string.format("experiment: unknown key '%s' in '%s' (valid keys: %s)", key, a, valid_keys()))
    end
    local v, want = parse(text)
    if v == nil then
      fail(string.format("experiment: %s=%s: expected %s (valid keys: %s)", key, text, want, valid_keys()))
    end
    if key == "jobs" then jobs = v
    else
      values[key] = v
      -- where the folder goes is not part of the experiment
      if key ~= "runs_dir" then given[#given + 1] = key .. "=" .. text end
    end
    i = i + 1
  end
  return values, given, jobs
end

---------------------------------------------------------------- optimizers

local function is_optimizer(v)
  return type(v) == "table" and type(v.step) == "function"
end

local function opt_label(o)
  local mt = getmetatable(o)
  if type(o.label) == "string" then return o.label end
  if mt and mt.__tostring then return tostring(o) end
  return tostring(o.name or "optimizer")
end

-- Hyperparameters as plain data (schedules and functions by their label).
local function opt_hyper(o)
  local out = {}
  for k, v in pairs(type(o.values) == "table" and o.values or {}) do
    local t = type(v)
    if t == "number" or t == "boolean" or t == "string" then out[k] = v
    else out[k] = tostring(v) end
  end
  return out
end

-- One entry per optimizer: { label, name, display, make = fresh optimizer }.
local function resolve_optimizers(list, where)
  if type(list) ~= "table" or #list == 0 then
    fail(where .. ": 'optimizers' must be a non-empty list of names, optimizers or optim.sweep(...) results")
  end
  local entries = {}
  local function add_object(o, label)
    -- A configured optimizer is reused for every run: reset it to its
    -- state before the first step (step count, buffers, schedules).
    local fresh = type(o.state_dict) == "function" and o:state_dict() or nil
    entries[#entries + 1] = {
      label = label or opt_label(o), name = o.name, hyper = opt_hyper(o),
      make = function()
        if fresh then o:load_state_dict(fresh) end
        return o
      end,
    }
  end
  local function add(v, label)
    if type(v) == "string" then
      local optim = module("optim")
      local o = optim.get(v)                    -- fails with the known names
      entries[#entries + 1] = { label = label or opt_label(o), name = o.name or v, hyper = opt_hyper(o),
                                make = function() return optim.get(v) end }
    elseif is_optimizer(v) then
      add_object(v, label)
    elseif type(v) == "function" then
      local o = v()
      if not is_optimizer(o) then fail(where .. ": an optimizer factory must return an optimizer") end
      entries[#entries + 1] = { label = label or opt_label(o), name = o.name, hyper = opt_hyper(o), make = v }
    elseif type(v) == "table" and type(v[1]) == "string" then
      -- { "SGD", lr = 0.1 }: Keras defaults with overrides
      local hp = {}
      for k, x in pairs(v) do if k ~= 1 and k ~= "label" then hp[k] = x end end
      local optim = module("optim")
      local o = optim.get(v[1], hp)
      entries[#entries + 1] = { label = v.label or label or opt_label(o), name = o.name or v[1], hyper = opt_hyper(o),
                                make = function() return optim.get(v[1], hp) end }
    elseif type(v) == "table" and v.optimizer ~= nil then
      local n = #entries
      add(v.optimizer, v.label)
      for i = n + 1, #entries do entries[i].explicit = v.label ~= nil end
    elseif type(v) == "table" and #v > 0 then
      for _, x in ipairs(v) do add(x) end     -- optim.sweep(...) and nested lists
    else
      fail(string.format("%s: optimizer entry of type %s: expected a name (\"Adam\"), an optimizer, " ..
                         "a function returning one, {\"SGD\", lr = 0.1} or optim.sweep(...)", where, type(v)))
    end
  end
  for _, v in ipairs(list) do add(v) end
  return experiment._finalize(entries)
end

-- Labels must tell runs apart; tables use the bare name when it does.
function experiment._finalize(entries)
  local count, names = {}, {}
  for _, e in ipairs(entries) do
    -- labels become columns of tab-separated plot data and lines of tables
    if e.label:find("%c") then
      fail(string.format("experiment: optimizer label %q contains a control character (tab, newline, ...)", e.label))
    end
    count[e.label] = (count[e.label] or 0) + 1
    if e.name then names[e.name] = (names[e.name] or 0) + 1 end
  end
  local seen = {}
  for _, e in ipairs(entries) do
    if count[e.label] > 1 then
      seen[e.label] = (seen[e.label] or 0) + 1
      e.label = e.label .. " #" .. seen[e.label]
    end
  end
  -- short names for tables and plots: the bare name when unique, else the
  -- label without the convention optim.get adds to every Keras default
  local short, nshort = {}, {}
  for i, e in ipairs(entries) do
    short[i] = e.label:gsub(", convention=keras%f[^%w_]", ""):gsub("%(convention=keras%)", "")
    nshort[short[i]] = (nshort[short[i]] or 0) + 1
  end
  for i, e in ipairs(entries) do
    if e.explicit then e.display = e.label          -- the script named it
    elseif e.name and names[e.name] == 1 then e.display = e.name
    elseif nshort[short[i]] == 1 then e.display = short[i]
    else e.display = e.label end
  end
  return entries
end

-- optimizers=Adam,SGD: keep the entries with these names (or labels), in
-- the order given; a name not in the script is taken from optim.get.
local function select_optimizers(entries, names, where)
  local out = {}
  for _, n in ipairs(names) do
    local found = nil
    for _, e in ipairs(entries) do
      local l = n:lower()
      if (e.display and e.display:lower() == l) or e.label:lower() == l or (e.name and e.name:lower() == l) then
        found = found or {}
        found[#found + 1] = e
      end
    end
    if found then
      for _, e in ipairs(found) do
        out[#out + 1] = { label = e.label:gsub(" #%d+$", ""), name = e.name, hyper = e.hyper, make = e.make,
                          explicit = e.explicit }
      end
    else
      for _, e in ipairs(resolve_optimizers({ n }, where)) do out[#out + 1] = e end
    end
  end
  return experiment._finalize(out)

end

---------------------------------------------------------------- data

-- From getcwd(), not $PWD: a launcher may change directory without updating PWD.
local function abspath(p)
  if p:sub(1, 1) == "/" then return p end
  return sys.getcwd() .. "/" .. p:gsub("^%./", "")
end

local function ds_len(ds) return ds and compat.len(ds) or 0 end

local function resolve_data(spec, where)
  local train, val = spec.train, spec.validation
  local d = spec.data
  if type(d) == "function" then
    local a, b = d()
    if train == nil then train = a end
    if val == nil then val = b end
  elseif type(d) == "table" then
    if getmetatable(d) == nil and (d.train ~= nil or d[1] ~= nil) then
      if train == nil then train = d.train or d[1] end
      if val == nil then val = d.validation or d.test or d[2] end
    elseif train == nil then
      train = d
    end
  elseif d ~= nil then
    fail(where .. ": 'data' must be {train, test}, {train = ..., test = ...} or a function returning train, test")
  end
  if train == nil then fail(where .. ": no training data: give data = {train, test} (e.g. { data.mnist() })") end
  if spec.validation_split then
    if val ~= nil then fail(where .. ": give either a validation set or validation_split, not both") end
    train, val = train:split { validation = spec.validation_split }
  end
  if spec.train_limit and spec.train_limit < ds_len(train) then train = train:take(spec.train_limit) end
  if val ~= nil and spec.val_limit and spec.val_limit < ds_len(val) then val = val:take(spec.val_limit) end
  return train, val
end

-- Files read by the data readers of this process, in order: datasets do
-- not (yet) list their files, so the readers are watched. The wrapper passes
-- everything through unchanged.
local loaded_files = {}
for _, fn in ipairs { "data_idx", "data_csv" } do
  local orig = rawget(C, fn)
  if type(orig) == "function" then
    C[fn] = function(...)
      for i = 1, select("#", ...) do
        local a = select(i, ...)
        if type(a) == "string" and report.exists(a) then loaded_files[#loaded_files + 1] = a end
      end
      return orig(...)
    end
  end
end

-- Data files used (ds.files when a data set lists them, else every file
-- the data readers opened), with SHA-256.
local function data_files(...)
  local out, seen = report.array(), {}
  for _, f in ipairs(loaded_files) do
    if not seen[f] then
      seen[f] = true
      out[#out + 1] = { path = abspath(f), sha256 = report.sha256(f) or "unreadable" }
    end
  end
  for i = 1, select("#", ...) do
    local ds = select(i, ...)
    local files = nil
    if ds ~= nil then
      local ok, f = pcall(function() return ds.files end)
      if ok then files = f end
    end
    if type(files) == "table" then
      for _, f in ipairs(files) do
        if not seen[f] then
          seen[f] = true
          out[#out + 1] = { path = abspath(f), sha256 = report.sha256(f) or "unreadable" }
        end
      end
    end
  end
  return out
end

---------------------------------------------------------------- environment

local function utc(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end

-- The running optlab binary: the parent of the shell io.popen starts.
local function optlab_exe()
  local exe = report.shell_line("readlink /proc/$PPID/exe")
  if exe and exe:match("optlab[^/]*$") then return exe end
  local a = rawget(_G, "arg")
  if type(a) == "table" then
    local lo = 0
    while a[lo - 1] ~= nil do lo = lo - 1 end
    if lo < 0 then return a[lo] end
  end
  return "optlab"
end
experiment.optlab_exe = optlab_exe

local function cpu_model()
  local f = io.open("/proc/cpuinfo", "r")
  if not f then return "unknown" end
  for line in f:lines() do
    local m = line:match("^model name%s*:%s*(.-)%s*$")
    if m then f:close() return m end
  end
  f:close()
  return "unknown"
end

local function stdlib_dir()
  local p = package.searchpath("experiment", package.path)
  return p and p:match("^(.*)/[^/]*$") or "."
end

local function git_info()
  local dir = stdlib_dir()
  local commit = report.shell_line("git -C " .. report.shell_quote(dir) .. " rev-parse HEAD")
  if not commit then return "unknown", nil end
  local dirty = report.shell_line("git -C " .. report.shell_quote(dir) .. " status --porcelain --untracked-files=no | head -1")
  return commit, dirty ~= nil
end

local function lua_release(exe)
  local v = report.shell_line(report.shell_quote(exe) .. " --version")
  return v and (v:match("(LuaJIT [^,]+)") or v:match("(Lua %d+%.%d+%.?%d*)")) or compat.vm
end


---------------------------------------------------------------- running one run

-- Stops of train.fit that mean "the user interrupted": later runs are skipped.
local function interrupted(stopped)
  if type(stopped) ~= "string" then return false end
  local s = stopped:lower()
  return s:find("interrupt", 1, true) or s:find("sigint", 1, true) or s:find("ctrl", 1, true)
end
experiment.is_interrupt = interrupted

-- Copies the array columns of a history as plain numbers.
local function plain_history(h)
  local out = {}
  for k, v in pairs(h) do
    if type(k) == "string" and type(v) == "table" then
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
    local tensor = module("tensor")
    tensor.manual_seed(run.seed)
    local model = ctx.spec.model()
    local opt = ctx.opts[run.opt].make()
    local cfg = {
      epochs = ctx.cfg.epochs, batch_size = ctx.cfg.batch_size, loss = ctx.cfg.loss, metrics = ctx.cfg.metrics,
      validation = ctx.val, callbacks = ctx.spec.callbacks, seed = run.seed, verbose = ctx.verbose,
      label = ctx.opts[run.opt].display .. (#ctx.cfg.seeds > 1 and (" seed " .. run.seed) or ""),
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
  rec.stopped = h.stopped
  local n = report.epochs_of(rec.history)
  if h.stopped then
    rec.status = interrupted(h.stopped) and "interrupted" or "stopped"
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

local function run_dir(root, name)
  local base = root .. "/" .. name
  report.mkdir_p(base)
  local stamp = os.date("!%Y-%m-%dT%H-%M-%SZ")
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

-- The record of run id in the folder, or nil (absent, unreadable, or not this run's).
local function read_record(ctx, id)
  local path = record_path(ctx.dir, id)
  local text = report.read_file(path)
  if not text then return nil end
  local run = ctx.runs[id]
  local ok, rec = pcall(serial.decode, text, path)
  if not ok or type(rec) ~= "table" or rec.id ~= id or rec.label ~= run.label or rec.seed ~= run.seed then
    io.stderr:write("experiment: ignoring " .. path .. ": " ..
                    (ok and "it is not the record of " .. run.label .. " seed " .. run.seed or tostring(rec)) .. "\n")
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
    if r == nil then what = "not run"
    elseif r.status == "failed" then what = "failed: " .. (r.error or "?")
    elseif r.status == "interrupted" or r.status == "stopped" then
      what = string.format("%s after %d of %d epochs", r.status, report.epochs_of(r.history), ctx.cfg.epochs)
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
      status = r and r.status or (finished and "missing" or "pending"),
      epochs = r and report.epochs_of(r.history) or 0, stopped = r and r.stopped or nil,
      error = r and r.error or nil, wall_seconds = r and r.wall or nil,
    }
  end
  m.runs = runs
  m.modules = modules_of(ctx, records)
  m.missing = report.array(missing_list(ctx, records))
  m.interrupted = ctx.interrupted and ("Ctrl-C " .. ctx.interrupted) or nil
  m.write_error = ctx.write_error
  m.status = finished and ((#m.missing == 0 and not m.interrupted and not m.write_error) and "complete" or "incomplete")
             or "running"
  m.end_time = finished and utc(os.time()) or nil
  return m
end

-- Rewritten after every run: an interrupted or killed run leaves a valid folder.
local function save_progress(ctx, records)
  local list = ordered(ctx, records)
  report.write_file(ctx.dir .. "/metrics.csv", report.csv(list))
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
    if r == nil then notrun[#notrun + 1] = name
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
  local summary = report.summarize(ctx.opts, list)
  local tables = report.tables_text(summary, nseeds, ctx.manifest.config)
  report.write_file(ctx.dir .. "/metrics.csv", report.csv(list))
  local plots = report.plots(ctx.dir, summary, nseeds, ctx.gnuplot)
  if (plots.interrupted or sys.interrupted()) and not ctx.interrupted then ctx.interrupted = "during plotting" end
  local manifest = manifest_of(ctx, records, true)
  manifest.plots = { rendered = plots.rendered, message = plots.message }
  report.write_file(ctx.dir .. "/manifest.json", report.json(manifest) .. "\n")
  local md = { "# " .. ctx.cfg.name, "", "Script: `" .. ctx.manifest.script.path .. "`" ..
               (#ctx.given > 0 and (" with `" .. table.concat(ctx.given, " ") .. "`") or ""), "" }
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
  if manifest.interrupted then md[#md + 1] = "Stopped by " .. manifest.interrupted .. "." ; md[#md + 1] = "" end
  md[#md + 1] = "Plots: accuracy.svg, loss.svg, time.svg (PNG beside them; `.gp` and `.dat` to restyle)." ..
                (plots.rendered and "" or (" Not rendered: " .. tostring(plots.message)))
  report.write_file(ctx.dir .. "/summary.md", table.concat(md, "\n") .. "\n")
  report.write_file(ctx.dir .. "/report.html",
                    report.html(ctx.dir, ctx.cfg.name, summary, nseeds, manifest, manifest.missing, plots))
  local code, why = outcome(ctx, records)
  if not ctx.quiet then
    print()
    print(tables)
    if #manifest.missing > 0 then
      print("\nMissing or incomplete runs:")
      for _, s in ipairs(manifest.missing) do print("  " .. s) end
    end
    if not plots.rendered then print("\nPlots not rendered: " .. tostring(plots.message)) end
    if why then print("\n" .. why) end
    print("\nRun folder: " .. ctx.dir)
  end
  return { dir = ctx.dir, records = list, summary = summary, missing = manifest.missing, tables = tables,
           manifest = manifest, exit_status = code }
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

---------------------------------------------------------------- compare

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
  current_script = type(a0) == "string" and report.exists(a0) and a0 or nil
  local redirect, resume = experiment._redirect, experiment._resume
  local args = spec.arg or rawget(_G, "arg")
  local ov, given, jobs = experiment.parse_overrides(args)
  -- resolved configuration: script values, then command-line values
  local cfg = {}
  for _, k in ipairs { "name", "epochs", "batch_size", "train_limit", "val_limit", "verbose", "runs_dir" } do
    cfg[k] = spec[k]
    if ov[k] ~= nil then cfg[k] = ov[k] end
  end
  cfg.name = cfg.name or "experiment"
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
  local seeds = ov.seeds or (ov.seed and { ov.seed }) or spec.seeds or { spec.seed or 1 }
  if type(seeds) ~= "table" or #seeds == 0 then fail(where .. ": seeds must be a non-empty list of integers") end
  for _, s in ipairs(seeds) do
    if not compat.is_integer(s) or s < 0 then fail(where .. ": seeds must be non-negative integers, got " .. tostring(s)) end
  end
  cfg.seeds = seeds
  if type(spec.model) ~= "function" then fail(where .. ": 'model' must be a function that builds the network") end
  local opts = resolve_optimizers(spec.optimizers, where)
  if ov.optimizers then opts = select_optimizers(opts, ov.optimizers, where) end
  local fit = spec.fit or function(...) return module("train").fit(...) end
  if not spec.fit then
    -- the whole configuration is checked here, once, before any data is read
    local tr = module("train")
    tr.resolve_loss(cfg.loss, where)
    tr.resolve_metrics(cfg.metrics, where)
    for _, e in ipairs(opts) do tr.check_optimizer(e.make(), where .. ": optimizer " .. e.label) end
  end
  local train, val = resolve_data(setmetatable({ train_limit = cfg.train_limit, val_limit = cfg.val_limit },
                                               { __index = spec }), where)

  -- every run as plain data; the same list in every process
  local runs, fp = {}, {}
  for i, o in ipairs(opts) do
    for _, s in ipairs(seeds) do
      runs[#runs + 1] = { id = #runs + 1, opt = i, label = o.label, seed = s }
      fp[#fp + 1] = o.label .. "@" .. s
    end
  end
  local ctx = {
    spec = spec, cfg = cfg, opts = opts, runs = runs, fit = fit, train = train, val = val, given = given,
    fingerprint = string.format("%d runs: %s", #runs, table.concat(fp, "; ")),
    verbose = cfg.verbose or 1, gnuplot = spec.gnuplot or experiment.gnuplot,
  }
  ctx.script_path = type(args) == "table" and type(args[0]) == "string" and args[0] or nil
  if ctx.script_path and not report.exists(ctx.script_path) then ctx.script_path = nil end

  if experiment._worker then
    if ctx.verbose == 1 then ctx.verbose = 2 end   -- one line per epoch: workers share a terminal
    return work(ctx, experiment._worker)
  end

  jobs = (redirect and redirect.jobs) or (resume and resume.jobs) or jobs or spec.jobs or 1
  ctx.quiet = redirect and redirect.quiet
  local records = {}
  if resume then
    local old = resume.manifest
    local same = type(old.runs) == "table" and #old.runs == #runs
    for i, run in ipairs(runs) do
      local r = same and old.runs[i]
      same = same and type(r) == "table" and r.optimizer == run.label and r.seed == run.seed
    end
    if not same then fail("optlab resume: the folder's script now resolves other runs than its manifest lists (" ..
                          ctx.fingerprint .. ")") end
    ctx.dir, ctx.keep_code = resume.dir, true
    for _, run in ipairs(runs) do
      local rec = read_record(ctx, run.id)
      if rec and FINISHED[rec.status] then records[run.id] = rec end
    end
  end

  -- the manifest: everything needed to rerun and to judge the rerun
  local exe = optlab_exe()
  local commit, dirty = git_info()
  local optlist = report.array()
  for _, o in ipairs(opts) do
    optlist[#optlist + 1] = { label = o.label, name = o.name, display = o.display, hyperparameters = o.hyper }
  end
  local threads_per_job = jobs > 1 and math.max(1, math.floor(sys.threads() / jobs)) or nil
  ctx.manifest = {
    name = cfg.name, description = spec.description,
    command = { overrides = report.array(given), jobs = jobs },
    config = {
      epochs = cfg.epochs, batch_size = cfg.batch_size, seeds = report.array(seeds), loss = tostring(cfg.loss),
      metrics = report.array(cfg.metrics), train_limit = cfg.train_limit, val_limit = cfg.val_limit,
      train_size = ds_len(train), validation_size = val and ds_len(val) or 0, optimizers = optlist,
    },
    runs = report.array(), data_files = data_files(train, val),
    optlab = { version = C.version, commit = commit, dirty = dirty, executable = exe },
    lua = lua_release(exe), blis = sys.blis_version(), blis_kernels = sys.blis_arch(), threads = sys.threads(),
    threads_per_job = threads_per_job,
    cpu = cpu_model(), host = report.shell_line("uname -srm"), start_time = utc(os.time()),
  }
  if resume then
    -- what ran first stays on record; the copies are the code that runs now
    local old = resume.manifest
    ctx.manifest.script, ctx.manifest.command, ctx.manifest.start_time = old.script, old.command, old.start_time
    ctx.code = {}
    for _, m in ipairs(type(old.modules) == "table" and old.modules or {}) do ctx.code[m.name] = m end
    local resumed = report.array()
    for _, r in ipairs(type(old.resumed) == "table" and old.resumed or {}) do resumed[#resumed + 1] = r end
    local n = 0
    for _, run in ipairs(runs) do if not records[run.id] then n = n + 1 end end
    resumed[#resumed + 1] = { time = utc(os.time()), runs = n, threads = sys.threads(), jobs = jobs,
                              blis_kernels = sys.blis_arch() }
    ctx.manifest.resumed = resumed
  else
    -- made only now, and its manifest written right after: a kill leaves
    -- no folder, or one that resume can complete
    local root = (redirect and redirect.runs_dir) or cfg.runs_dir or os.getenv("OPTLAB_RUNS") or "runs"
    ctx.dir = run_dir(root, cfg.name)
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
  end

  -- A failure to write the folder (disk full, read-only) stops the runs with
  -- a clear message; what finished stays in records/.
  local function guarded(fn, ...)
    local ok, err = pcall(fn, ...)
    if not ok then ctx.write_error = ctx.write_error or tostring(err) end
    return ok
  end
  guarded(save_progress, ctx, records)
  if sys.interrupted() then ctx.interrupted = "during start-up" end
  local pending = {}
  for _, run in ipairs(runs) do if not records[run.id] then pending[#pending + 1] = run end end
  if resume and not ctx.quiet then
    print(string.format("optlab resume: %d of %d runs finished before; running %d", #runs - #pending, #runs, #pending))
  end
  if ctx.interrupted or ctx.write_error then
    -- nothing runs
  elseif jobs > 1 and #pending > 1 then
    run_parallel(ctx, math.min(jobs, #pending), records, pending)
    if sys.interrupted() then ctx.interrupted = "during the runs" end
    guarded(save_progress, ctx, records)
  else
    for _, run in ipairs(pending) do
      if sys.interrupted() then ctx.interrupted = "between runs" break end
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

-- experiment.landscape and experiment.test_functions live in stdlib/landscape/; they share these.
require("landscape.run").attach(experiment, { resolve_optimizers = resolve_optimizers, run_dir = run_dir, keep_copy = keep_copy,
  sync_code = sync_code, git_info = git_info, cpu_model = cpu_model, lua_release = lua_release,
  utc = utc, abspath = abspath, word = word })

-- ---- help ------------------------------------------------------------------
local help = package.loaded.help
if help then
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
  verbose, runs_dir, jobs (parallel runs), description, fit (a replacement for train.fit), gnuplot
The configuration (including loss and metric names) is checked before any data is read.
Command-line key=value arguments override the script: epochs=3 train_limit=2000 seeds=1,2 optimizers=Adam,SGD.
result: {dir, records, missing, manifest, exit_status}.]])
  help.register(experiment.parse_overrides, "experiment.parse_overrides(arg) -> values, given, jobs  the key=value command-line overrides")
  help.register(experiment.compare_metrics, "experiment.compare_metrics(a, b, ...)  compares the metrics of two runs (optlab verify)")
  help.register(experiment.verify_main, "experiment.verify_main(argv)  `optlab verify <run folder>`: reruns and compares")
  help.register(experiment.resume_main, "experiment.resume_main(argv)  `optlab resume <run folder>`: runs what an interrupted comparison left")
  help.register(experiment.optlab_exe, "experiment.optlab_exe()  the path of the running optlab binary")
  help.register(experiment.is_interrupt, "experiment.is_interrupt(history_or_error)  true if a run stopped because the user interrupted it")
end

return experiment
