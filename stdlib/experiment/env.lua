-- What a run folder records about its inputs: the data sets and their files, and the machine.
local common = require "experiment.base"
local experiment = common.experiment
local report = common.report
local fail = common.fail

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

-- The data files of the data sets, with SHA-256: each data set lists the files it was
-- read from (ds:files(), recorded by the loader that read them, stdlib/data.lua).
local function data_files(...)
  local out, seen = report.array(), {}
  for i = 1, select("#", ...) do
    local ds = select(i, ...)
    local files = ds ~= nil and type(ds.files) == "function" and ds:files() or {}
    for _, f in ipairs(files) do
      if not seen[f] then
        seen[f] = true
        out[#out + 1] = { path = abspath(f), sha256 = report.sha256(f) or "unreadable" }
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

return { abspath = abspath, ds_len = ds_len, resolve_data = resolve_data, data_files = data_files, utc = utc,
         optlab_exe = optlab_exe, cpu_model = cpu_model, stdlib_dir = stdlib_dir, git_info = git_info,
         lua_release = lua_release }
