-- Declared optimizers: the update rule, traced once (optim/trace.lua),
-- becomes a program (optim/compile.lua) that kernels/optprog.c runs over each
-- parameter tensor (see optprog.h).
--
--   define.spec(decl)      -> the optimizer spec optim.lua builds constructors from
--   define.program(sp, values, clip) -> the compiled program for one configuration
--   define.buffer_shape(size, p)     -> the shape of a buffer of that size for p
--   define.fn              -> traced math (optim.fn)
local C = require "optlab.core"
local suggest = require "suggest"
local compat_idiv = require("compat").idiv
local trace = require "optim.trace"
local compile = require "optim.compile"

local define = {}
define.fn = trace.fn

local function fail(msg) C.raise(msg) end

-- ------------------------------------------------------------ declarations

local RANGE_ERR = "range must look like \"[0, 1)\" or \"(0, inf]\""

-- "[0, 1)" -> validator (value -> error text or nil)
local function parse_range(s, name, field)
  local lo_b, lo, hi, hi_b = tostring(s):match("^%s*([%[%(])%s*([^,]+),%s*([^%]%)]+)%s*([%]%)])%s*$")
  local function num(x)
    x = x:gsub("%s", "")
    if x == "inf" or x == "+inf" then return math.huge end
    if x == "-inf" then return -math.huge end
    return tonumber(x)
  end
  lo, hi = lo and num(lo), hi and num(hi)
  if not (lo and hi) or lo > hi then fail(string.format("optim.define %s: hyperparameter '%s': %s, got %s", name, field, RANGE_ERR, tostring(s))) end
  local lo_open, hi_open = lo_b == "(", hi_b == ")"
  return function(v)
    if v ~= v or (lo_open and v <= lo) or (not lo_open and v < lo) or (hi_open and v >= hi) or (not hi_open and v > hi) then
      return "must be in " .. s
    end
  end
end

local DECL_KEYS = { name = true, doc = true, hyper = true, state = true, scalars = true, globals = true, rows = true, cols = true,
                    update = true, show = true, conventions = true, average = true }

-- A declaration -> a spec for optim.lua (kind "Declared"): fields, defaults,
-- aliases, the shown fields, and the declaration itself.
function define.spec(decl)
  if type(decl) ~= "table" then fail("optim.define: expected a declaration table {name = ..., update = function ... end}") end
  for k in pairs(decl) do
    if not DECL_KEYS[k] then
      local known = {}
      for n in pairs(DECL_KEYS) do known[#known + 1] = n end
      fail(string.format("optim.define: unknown field '%s'%s", tostring(k), suggest.phrase(tostring(k), known)))
    end
  end
  local name = decl.name
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    fail("optim.define: name must be an identifier such as \"AdaBelief\", got " .. tostring(name))
  end
  if type(decl.doc) ~= "string" or decl.doc == "" then
    fail("optim.define " .. name .. ": doc must say what the optimizer does (its formula and its reference)")
  end
  if type(decl.update) ~= "function" then fail("optim.define " .. name .. ": update must be a function(p, g, s, h, t)") end
  if type(decl.hyper) ~= "table" then fail("optim.define " .. name .. ": hyper must be a list of {name, default, range = ...}") end
  local sp = { name = name, kind = "Declared", decl = decl, doc = decl.doc, defaults = {}, fields = {}, aliases = {},
               show = {}, numeric = {}, programs = {}, conv_defaults = decl.conventions or {} }
  local seen = {}
  for i, h in ipairs(decl.hyper) do
    local field, default = type(h) == "table" and h[1], type(h) == "table" and h[2]
    if type(field) ~= "string" or not field:match("^[%a_][%w_]*$") then
      fail(string.format("optim.define %s: hyper[%d] must be {\"name\", default, ...}", name, i))
    end
    if seen[field] then fail(string.format("optim.define %s: hyperparameter '%s' is declared twice", name, field)) end
    seen[field] = true
    if h.choices ~= nil then
      -- one of a few plain values, fixed at construction (nesterov = true, false or "literal")
      local ok = type(h.choices) == "table"
      for _, c in ipairs(ok and h.choices or {}) do
        if type(c) ~= "boolean" and type(c) ~= "string" then ok = false end
      end
      local listed = false
      for _, c in ipairs(ok and h.choices or {}) do listed = listed or c == default end
      if not (ok and listed) then
        fail(string.format("optim.define %s: hyperparameter '%s': choices must list booleans and strings, its default among them", name, field))
      end
      sp.fields[#sp.fields + 1] = { field, "choice", choices = h.choices }
    elseif type(default) == "boolean" then
      sp.fields[#sp.fields + 1] = { field, "bool" }
    elseif type(default) == "number" then
      local check = h.range and parse_range(h.range, name, field)
      local err = check and check(default)
      if err then fail(string.format("optim.define %s: default %s = %g %s", name, field, default, err)) end
      -- fixed: a number set at construction, never a schedule (an initial value, Keras 2's decay)
      sp.fields[#sp.fields + 1] = { field, h.fixed and "fixed" or "num", check }
      sp.numeric[#sp.numeric + 1] = field
      sp.show[#sp.show + 1] = field
    else
      fail(string.format("optim.define %s: hyperparameter '%s' needs a number or boolean default", name, field))
    end
    sp.defaults[field] = default
    for _, a in ipairs(h.alias or {}) do sp.aliases[a] = field end
  end
  if decl.show then sp.show = decl.show end
  sp.state, sp.scalars, sp.globals, sp.rows, sp.cols = {}, {}, {}, {}, {}
  for _, list in ipairs { { decl.state, sp.state }, { decl.scalars, sp.scalars }, { decl.globals, sp.globals },
                          { decl.rows, sp.rows }, { decl.cols, sp.cols } } do
    if list[1] ~= nil and type(list[1]) ~= "table" then
      fail("optim.define " .. name .. ": state, scalars, globals, rows and cols must be tables name = initial value")
    end
    for k, init in pairs(list[1] or {}) do
      if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then fail("optim.define " .. name .. ": state names must be identifiers") end
      if seen["state " .. k] then fail(string.format("optim.define %s: state '%s' is declared twice", name, k)) end
      seen["state " .. k] = true
      local from_p = init == "p" and list[2] == sp.state      -- a copy of the parameter (Schedule-Free's z and x)
      if not (type(init) == "number" or from_p or (type(init) == "string" and type(sp.defaults[init]) == "number")) then
        fail(string.format("optim.define %s: state %s's initial value must be a number, a numeric hyperparameter's name%s, got %s",
          name, k, list[2] == sp.state and " or \"p\" (the parameter)" or "", tostring(init)))
      end
      list[2][#list[2] + 1] = k
    end
    table.sort(list[2])
  end
  if #sp.state + #sp.scalars + #sp.globals + 2 * (#sp.rows + #sp.cols) + 2 > 12 then
    fail("optim.define " .. name .. ": at most 10 state buffers, scalars and globals (rows and cols count twice)")
  end
  -- average = "x": the state buffer holding the point to evaluate at (opt:swap_average, opt:finalize)
  if decl.average ~= nil then
    local ok = false
    for _, k in ipairs(sp.state) do ok = ok or k == decl.average end
    if not ok then
      fail(string.format("optim.define %s: average must name a state buffer (state = {...}), got %s", name, tostring(decl.average)))
    end
    sp.average = decl.average
  end
  sp.init = {}
  for k, v in pairs(decl.state or {}) do sp.init[k] = v end
  for k, v in pairs(decl.scalars or {}) do sp.init[k] = v end
  for k, v in pairs(decl.globals or {}) do sp.init[k] = v end
  for k, v in pairs(decl.rows or {}) do sp.init[k] = v end
  for k, v in pairs(decl.cols or {}) do sp.init[k] = v end
  return sp
end

-- The shape of a buffer of size "all" (the parameter's), "rows" (R), "cols"
-- (C: the last dimension; a vector is one row) or "one".
function define.buffer_shape(size, p)
  local shape = p:shape()
  if size == "all" then return shape end
  if size == "one" then return { 1 } end
  local c = #shape > 0 and shape[#shape] or 1
  if c < 1 then c = 1 end
  if size == "cols" then return { c } end
  return { compat_idiv(p:numel(), c) }
end


-- The program for an optimizer's configuration (its booleans and choices,
-- which numbers are 0 or scheduled (optim.fn.is_zero, is_constant), which
-- clippings are on), traced and compiled on first use, then cached.
function define.program(sp, values, clip)
  local key = { clip.norm and "N" or "-", clip.value and "V" or "-", tostring(values.convention) }
  for _, f in ipairs(sp.fields) do
    local v = values[f[1]]
    if f[2] == "bool" or f[2] == "choice" then key[#key + 1] = tostring(v)
    else key[#key + 1] = v == 0 and "0" or type(v) == "number" and "c" or "s" end
  end
  key = table.concat(key, ",")
  local prog = sp.programs[key]
  if not prog then
    local T = trace.run(sp, values, clip)
    local desc, inputs = compile(T)
    prog = { handle = C.optim.program(desc), inputs = inputs, bufs = T.bufs, desc = desc, staged = desc.staged,
             globals = desc.globals, mats = desc.mats, rcstores = desc.rcstores, gstores = desc.gstores, bufsize = desc.bufsize,
             nstages = desc.nstages }
    sp.programs[key] = prog
  end
  return prog
end

return define
