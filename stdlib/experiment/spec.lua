-- The spec of a comparison: its keys, the command-line overrides, and the optimizer entries.
local common = require "experiment.base"
local experiment = common.experiment
local fail = common.fail

---------------------------------------------------------------- spec and overrides

-- Fields an experiment table may have.
local SPEC_KEYS = {
  name = true, description = true, data = true, train = true, validation = true, validation_split = true,
  model = true, loss = true, metrics = true, batch_size = true, epochs = true, seed = true, seeds = true,
  optimizers = true, callbacks = true, verbose = true, train_limit = true, val_limit = true,
  runs_dir = true, jobs = true, fit = true, arg = true, gnuplot = true, step_stride = true, diagnostics = true,
  data_parallel = true, tune = true, problem = true,
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

-- data_parallel=true|false|n: train.fit's distributed = true, off, or {shards = n}.
local function data_parallel(s)
  if s == "true" then return true elseif s == "false" then return false end
  local n = pos_int(s)
  if n then return { shards = n } end
  return nil, "true, false or a number of shards"
end

local OVERRIDES = {
  epochs = pos_int, batch_size = pos_int, seed = nonneg_int, seeds = int_list, optimizers = name_list,
  train_limit = pos_int, val_limit = pos_int, name = word, verbose = verbosity, runs_dir = path, jobs = pos_int,
  step_stride = pos_int, data_parallel = data_parallel, problem = word, baselines = path,
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
      local optim = require("optim")
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
      local optim = require("optim")
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

return { SPEC_KEYS = SPEC_KEYS, pos_int = pos_int, word = word, resolve_optimizers = resolve_optimizers,
         select_optimizers = select_optimizers }
