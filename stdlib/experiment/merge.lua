-- `optlab merge A B C [--out DIR]`: the folders of a comparison's shards
-- (`--shard i/n`, shard.lua) made one run folder, as a serial run writes it.
--
-- Merging reads data only: the shards' manifests (JSON) and records (parsed by
-- serial.decode's grammar, never run, and checked by folder.load_record); it runs
-- no script. The views (metrics.csv, summary.md, plots, report.html) are written
-- by the same code as a comparison's (folder.finish), from the same records in
-- the same order, so they equal a serial run's. The code copies come from the
-- shards' code/, checked against their SHA-256s; the merged folder is a run
-- folder like any other: `optlab verify` reruns it, `optlab resume` runs what the
-- missing shards would have run.
local common = require "experiment.base"
local report = common.report
local experiment = common.experiment
local folder = require "experiment.folder"
local shard = require "experiment.shard"
local env = require "experiment.env"
local word = require "experiment.spec".word

local M = {}

-- Fields that must agree between the shards of one comparison, each as text.
-- (JSON numbers come back as floats: 3, not 3.0.)
local function text(v) return type(v) == "number" and report.num(v) or tostring(v) end
local function list_text(t)
  local out = {}
  for i, v in ipairs(type(t) == "table" and t or {}) do out[i] = text(v) end
  return table.concat(out, " ")
end
local function runs_text(m)
  local out = {}
  for i, r in ipairs(type(m.runs) == "table" and m.runs or {}) do
    out[i] = type(r) == "table" and string.format("%s@%s", text(r.optimizer), text(r.seed)) or "?"
  end
  return table.concat(out, "; ")
end
local function data_text(m)
  local out = {}
  for i, f in ipairs(type(m.data_files) == "table" and m.data_files or {}) do
    out[i] = type(f) == "table" and tostring(f.sha256) or "?"
  end
  return table.concat(out, " ")   -- by content: the shards' machines may keep the files at other paths
end
local function field(m, a, b)
  local t = m[a]
  if b == nil then return t end
  return type(t) == "table" and t[b] or nil
end
local AGREE = {
  { "script.sha256", function(m) return field(m, "script", "sha256") end },
  { "command.overrides", function(m) return list_text(field(m, "command", "overrides")) end },
  { "optlab.version", function(m) return field(m, "optlab", "version") end },
  { "optlab.commit", function(m) return field(m, "optlab", "commit") end },
  { "shard.count", function(m) return text(field(m, "shard", "count")) end },
  { "name", function(m) return m.name end },
  { "config", function(m) return report.json(m.config) end },
  { "runs", runs_text },
  { "data_files (SHA-256)", data_text },
}

local function say(text) io.stderr:write("optlab merge: " .. text .. "\n") end

local function usage()
  io.stderr:write("usage: optlab merge SHARD_FOLDER... [--out DIR]\n" ..
                  "  SHARD_FOLDER: the run folder of `optlab script.lua --shard i/n`\n")
end

-- The record files a shard folder holds: { id = file name }.
local function record_files(dir)
  local out = {}
  local p = io.popen("ls -A " .. report.shell_quote(dir .. "/records") .. " 2>/dev/null")
  for name in p:lines() do
    local id = name:match("^run%-(%d+)%.lua$")
    if id then out[math.floor(tonumber(id))] = name end
  end
  p:close()
  return out
end

-- A manifest's array, or an empty one (cjson gives {} for [], which would be written back as {}).
local function array(t)
  local out = report.array()
  for i, v in ipairs(type(t) == "table" and t or {}) do out[i] = v end
  return out
end

-- One value when every shard has the same, else "mixed: a, b" (merged.shards has each).
local function one_or_mixed(shards, get)
  local seen, list = {}, {}
  for _, s in ipairs(shards) do
    local v = get(s.m)
    if v ~= nil and not seen[tostring(v)] then seen[tostring(v)] = true; list[#list + 1] = tostring(v) end
  end
  if #list <= 1 then return get(shards[1].m) end
  return "mixed: " .. table.concat(list, ", ")
end

-- Reads and checks the shard folders; returns the shards sorted by index and
-- the run list, or nil and why (naming the folders and the field).
local function open_shards(dirs)
  local open_folder = require("rerun").open_folder
  local shards, by_path, by_index = {}, {}, {}
  for _, dir in ipairs(dirs) do
    local m, why = open_folder(dir, "merge")
    if not m then return nil, why end
    local sh = m.shard
    if m.kind == "landscape" or type(sh) ~= "table" then
      return nil, dir .. " is not the folder of a shard (its manifest has no shard; `optlab script.lua --shard i/n` makes one)"
    end
    if not (compat.is_integer(sh.index) and compat.is_integer(sh.count) and sh.count >= 1 and sh.index >= 1 and
            sh.index <= sh.count) then
      return nil, dir .. ": the manifest's shard is not {index = i, count = n} with 1 <= i <= n"
    end
    local s = { dir = dir, m = m, index = math.floor(sh.index), count = math.floor(sh.count) }
    local path = env.abspath(dir)
    if by_path[path] then return nil, dir .. " is given twice" end
    by_path[path] = s
    for _, f in ipairs(AGREE) do
      local a, b = f[2](shards[1] and shards[1].m or m), f[2](m)
      if tostring(a) ~= tostring(b) then
        return nil, string.format("%s and %s differ in %s (%s vs %s): the shards of one comparison run the same " ..
                                  "script with the same overrides on the same optlab", shards[1].dir, dir, f[1],
                                  tostring(a), tostring(b))
      end
    end
    if by_index[s.index] then
      return nil, string.format("%s and %s are both shard %d of %d (a duplicated shard)", by_index[s.index].dir, dir,
                                s.index, s.count)
    end
    by_index[s.index] = s
    shards[#shards + 1] = s
  end
  table.sort(shards, function(a, b) return a.index < b.index end)
  -- the run list, rebuilt as compare builds it, and checked against the manifest
  local m = shards[1].m
  local cfg = type(m.config) == "table" and m.config or {}
  -- the name makes the folder's path and the labels columns of files: as compare checks them
  if type(m.name) ~= "string" or not word(m.name) then
    return nil, shards[1].dir .. ": the manifest's name is not a simple word (letters, digits, _ . -)"
  end
  if not (compat.is_integer(cfg.epochs) and cfg.epochs >= 1) then
    return nil, shards[1].dir .. ": the manifest's config.epochs is not a positive integer"
  end
  local opts, runs = {}, {}
  for i, o in ipairs(type(cfg.optimizers) == "table" and cfg.optimizers or {}) do
    if type(o) ~= "table" or type(o.label) ~= "string" or o.label:find("%c") or
       (o.display ~= nil and (type(o.display) ~= "string" or o.display:find("%c"))) then
      return nil, shards[1].dir .. ": config.optimizers is not a list of labels (text without control characters)"
    end
    opts[i] = { label = o.label, display = o.display or o.label }
    for _, seed in ipairs(type(cfg.seeds) == "table" and cfg.seeds or {}) do
      if not compat.is_integer(seed) then return nil, shards[1].dir .. ": config.seeds are not integers" end
      runs[#runs + 1] = { id = #runs + 1, opt = i, label = o.label, seed = math.floor(seed) }
    end
  end
  if #runs == 0 or type(m.runs) ~= "table" or #m.runs ~= #runs then
    return nil, shards[1].dir .. ": the manifest's runs are not its optimizers x seeds"
  end
  for i, run in ipairs(runs) do
    local r = m.runs[i]
    if type(r) ~= "table" or r.optimizer ~= run.label or r.seed ~= run.seed or r.id ~= run.id then
      return nil, shards[1].dir .. ": the manifest's run " .. i .. " is not " .. run.label .. " seed " .. run.seed
    end
  end
  -- each shard holds the slice the rule gives it, and no other shard's record
  for _, s in ipairs(shards) do
    local want = list_text(shard.ids(s.index, s.count, #runs))
    if list_text(s.m.shard.runs) ~= want then
      return nil, string.format("%s: its manifest's shard.runs (%s) are not shard %d of %d's runs (%s; %s)", s.dir,
                                list_text(s.m.shard.runs), s.index, s.count, want, shard.RULE)
    end
    for id, name in pairs(record_files(s.dir)) do
      if not runs[id] or shard.owner(id, s.count) ~= s.index then
        return nil, string.format("%s holds records/%s, which is not shard %d of %d's (overlapping shards)", s.dir, name,
                                  s.index, s.count)
      end
    end
  end
  return shards, runs, opts
end

-- `optlab merge A B C [--out DIR]`. Returns the exit status.
function M.main(argv)
  local dirs, out = {}, nil
  local i = 1
  while argv[i] ~= nil do
    local a = argv[i]
    if a == "--out" then
      out = argv[i + 1]
      if not out or out == "" then usage(); return 2 end
      i = i + 1
    elseif a:match("^%-%-out=") then out = a:sub(7)
    elseif a:match("^%-") then say("unknown option '" .. a .. "'"); usage(); return 2
    else dirs[#dirs + 1] = (a:gsub("(.)/+$", "%1")) end
    i = i + 1
  end
  if #dirs == 0 then usage(); return 2 end
  local shards, runs, opts = open_shards(dirs)
  if not shards then say(runs); return 1 end
  local m1, n = shards[1].m, shards[1].count

  -- every owned record, checked before it is trusted
  local records = {}
  for _, s in ipairs(shards) do
    for _, id in ipairs(shard.ids(s.index, s.count, #runs)) do
      local path = folder.record_path(s.dir, id)
      if report.exists(path) then
        local rec, why = folder.load_record(path, runs[id])
        if not rec then
          say(string.format("%s is not a valid record: %s (remove it to have `optlab resume` run %s seed %d again)", path,
                            why, runs[id].label, runs[id].seed))
          return 1
        end
        rec.modules = nil   -- the modules are the manifest's, checked against their copies
        records[id] = rec
      end
    end
  end
  local present, absent = {}, {}
  for _, s in ipairs(shards) do present[s.index] = s end
  for k = 1, n do if not present[k] then absent[#absent + 1] = k end end

  -- the code: the script's copy and the modules' copies (union over shards; a name with two SHA-256s is refused)
  local code, from = {}, {}
  for _, s in ipairs(shards) do
    for _, mod in ipairs(type(s.m.modules) == "table" and s.m.modules or {}) do
      if type(mod.name) ~= "string" then say(s.dir .. ": the manifest names a module without a name"); return 1 end
      local have = code[mod.name]
      if have and have.sha256 ~= mod.sha256 then
        say(string.format("%s and %s differ in modules.%s.sha256 (%s vs %s): the shards ran different code", from[mod.name].dir,
                          s.dir, tostring(mod.name), tostring(have.sha256), tostring(mod.sha256)))
        return 1
      end
      if not have then
        code[mod.name] = { name = mod.name, path = mod.path, copy = mod.copy, sha256 = mod.sha256 }
        from[mod.name] = s
      end
    end
  end
  local cfg = { name = m1.name, epochs = math.floor(m1.config.epochs), seeds = {} }
  for k, seed in ipairs(m1.config.seeds) do cfg.seeds[k] = math.floor(seed) end
  local ctx = { runs = runs, opts = opts, cfg = cfg, given = {}, code = code, keep_code = true,
                gnuplot = experiment.gnuplot, verbose = 1 }
  local overrides = array(field(m1, "command", "overrides"))
  for k, g in ipairs(overrides) do ctx.given[k] = tostring(g) end
  ctx.dir = out and shard.out_dir(out) or folder.run_dir(os.getenv("OPTLAB_RUNS") or "runs", m1.name)
  folder.keep_copy(ctx, shards[1].dir .. "/" .. m1.script.copy, m1.script.copy)
  for name, mod in pairs(code) do folder.keep_copy(ctx, from[name].dir .. "/" .. mod.copy, mod.copy) end
  for _, run in ipairs(runs) do
    if records[run.id] then folder.write_record(ctx, records[run.id]) end
  end

  -- the manifest: the first shard's record of what ran, each shard's machine under merged.shards
  local list, indices, cores, at_once, start = report.array(), {}, 0, 0, nil
  for k, s in ipairs(shards) do
    indices[k] = s.index
    local m = s.m
    local sch = type(m.schedule) == "table" and m.schedule or {}
    cores, at_once = cores + (tonumber(sch.cores) or tonumber(m.threads) or 1), at_once + (tonumber(sch.at_once) or 1)
    if type(m.start_time) == "string" and (start == nil or m.start_time < start) then start = m.start_time end
    list[#list + 1] = { folder = env.abspath(s.dir), shard = string.format("%d/%d", s.index, s.count), host = m.host,
                        cpu = m.cpu, threads = m.threads, blis_kernels = m.blis_kernels, lua = m.lua,
                        start_time = m.start_time, end_time = m.end_time, status = m.status,
                        runs = array(m.shard.runs) }
  end
  ctx.cores, ctx.at_once = cores, at_once
  local config = m1.config
  config.seeds, config.metrics = array(config.seeds), array(config.metrics)
  ctx.manifest = {
    name = m1.name, description = m1.description,
    command = { overrides = overrides },
    config = config, runs = report.array(), data_files = array(m1.data_files),
    optlab = m1.optlab, lua = m1.lua, blis = m1.blis,
    blis_kernels = one_or_mixed(shards, function(m) return m.blis_kernels end),
    threads = one_or_mixed(shards, function(m) return m.threads end),
    cpu = one_or_mixed(shards, function(m) return m.cpu end),
    host = one_or_mixed(shards, function(m) return m.host end),
    start_time = start, script = m1.script,
    merged = { time = env.utc(os.time()), count = n, rule = shard.RULE, shards = list,
               missing_shards = array(absent) },
  }
  print(string.format("optlab merge: %d of %d shards (%s) into %s", #shards, n, list_text(indices), ctx.dir))
  for _, s in ipairs(shards) do
    if s.m.status ~= "complete" then
      print(string.format("optlab merge: shard %d/%d (%s) is %s: the runs it did not finish are listed as missing",
                          s.index, n, s.dir, s.m.status == "running" and "unfinished (its manifest says \"running\")" or
                          tostring(s.m.status)))
    end
  end
  local result = folder.finish(ctx, records)
  if #absent > 0 then
    local names = {}
    for _, k in ipairs(absent) do names[#names + 1] = k .. "/" .. n end
    print(string.format("\noptlab merge: shard%s %s missing: %s runs are listed as not run; `optlab resume %s` runs them",
                        #absent > 1 and "s" or "", table.concat(names, ", "), #absent > 1 and "their" or "its", ctx.dir))
  end
  return result.exit_status
end

return M
