-- Declared optimizers: the update rule, traced once, becomes a program that
-- kernels/optprog.c runs over each parameter tensor (see optprog.h).
--
--   define.spec(decl)      -> the optimizer spec optim.lua builds constructors from
--   define.program(sp, values, clip) -> the compiled program for one configuration
--   define.fn              -> traced math (optim.fn)
--
-- Tracing: update(p, g, s, h, t) runs on symbolic values. A value's kind says
-- when it can be computed: 0 once per step (hyperparameters, t, numbers),
-- 1 once per tensor (reductions, per-tensor scalar state), 2 per element.
-- Its level is the vector stage after which it is known: a reduction of a
-- level-k element value has level k + 1. Nothing is reassociated: the program
-- rounds as the update is written.
local C = require "optlab.core"
local suggest = require "suggest"
local compat_idiv = require("compat").idiv
local OPS = C.optim_program_ops

local define = {}

local info = setmetatable({}, { __mode = "k" })   -- node -> {kind, level, op, args, key}
local cur                                          -- the trace in progress
local Node = {}

local function fail(msg) C.raise(msg) end
local function who() return cur and (cur.name .. ": ") or "" end

local function is_node(x) return info[x] ~= nil end

local function check_operand(x, what)
  if type(x) == "number" or is_node(x) then return end
  fail(string.format("%supdate: cannot %s a %s (only numbers and the traced p, g, state, hyperparameters and t)",
    who(), what, type(x)))
end

local function key_of(x)
  if type(x) == "string" then return "'" .. x end
  if type(x) == "function" then return tostring(x) end
  if type(x) == "number" then
    if x ~= x then return "nan" end
    if x == 0 and 1 / x < 0 then return "-0" end
    return string.format("%.17g", x)
  end
  return "#" .. info[x].id
end

-- A node for op over args (numbers or nodes); the same op on the same args
-- is the same node.
local function node(op, args, kind, level)
  if not cur then fail("a traced value was used outside its optimizer's update function") end
  -- kind and level: given (reductions, leaves), else the largest of the arguments'
  local keys, k, l = { op }, 0, 0
  for _, a in ipairs(args) do
    keys[#keys + 1] = key_of(a)
    local ia = info[a]
    if ia then
      if ia.trace ~= cur then fail(who() .. "update: a traced value from another optimizer's update was used") end
      k, l = math.max(k, ia.kind), math.max(l, ia.level)
    end
  end
  kind, level = kind or k, level or l
  local key = table.concat(keys, ",")
  local n = cur.cse[key]
  if n then return n end
  n = setmetatable({}, Node)
  cur.count = cur.count + 1
  -- per_tensor: the value may differ between tensors (elements, per-tensor
  -- reductions and scalars); a global state must not be assigned such a value
  local per_tensor = kind == 2 or op == "SUM" or op == "SUMSQ" or op == "NUMEL" or op == "SLOAD" or op == "NROWS" or op == "NCOLS"
  for _, a in ipairs(args) do if info[a] and info[a].per_tensor then per_tensor = true end end
  info[n] = { kind = kind, level = level, op = op, args = args, id = cur.count, trace = cur, per_tensor = per_tensor }
  cur.cse[key] = n
  return n
end

local function binop(op, verb)
  return function(a, b)
    check_operand(a, verb); check_operand(b, verb)
    return node(op, { a, b })
  end
end

Node.__add = binop("ADD", "add")
Node.__sub = binop("SUB", "subtract")
Node.__mul = binop("MUL", "multiply")
Node.__div = binop("DIV", "divide")
Node.__pow = binop("POW", "raise to a power")
Node.__unm = function(a) return node("NEG", { a }) end
local function no_compare()
  fail(who() .. "update: a traced value cannot steer an `if` or be compared with <, <=, ==: the comparison would be made once, " ..
    "at tracing, not per element or per step. Use optim.fn.where(optim.fn.gt(a, b), x, y)")
end
Node.__lt, Node.__le, Node.__eq = no_compare, no_compare, no_compare
Node.__index = function(_, k)
  fail(string.format("%supdate: a traced value has no field '%s' (p, g, the state and the hyperparameters are element values, " ..
    "not tensors: use optim.fn for sqrt, abs, max, sum...)", who(), tostring(k)))
end
Node.__newindex = function() fail(who() .. "update: a traced value cannot be assigned to") end
Node.__call = function() fail(who() .. "update: a traced value is not a function") end
Node.__concat = function() fail(who() .. "update: a traced value cannot be concatenated") end
Node.__len = function() fail(who() .. "update: a traced value has no length") end
Node.__mod = function() fail(who() .. "update: % is not supported on traced values") end
Node.__tostring = function(n) return "traced(" .. info[n].op .. ")" end

-- Traced math, also usable on plain numbers.
local fn = {}
local function unary(op, mathf)
  return function(x)
    if type(x) == "number" and not cur then return mathf(x) end
    check_operand(x, op:lower())
    return node(op, { x })
  end
end
fn.sqrt = unary("SQRT", math.sqrt)
fn.abs = unary("ABS", math.abs)
fn.exp = unary("EXP", math.exp)
fn.log = unary("LOG", math.log)
fn.sign = unary("SIGN", function(x) return x > 0 and 1 or (x < 0 and -1 or 0) end)
local function binary(op, mathf)
  return function(a, b)
    if type(a) == "number" and type(b) == "number" and not cur then return mathf(a, b) end
    check_operand(a, op:lower()); check_operand(b, op:lower())
    return node(op, { a, b })
  end
end
fn.max = binary("MAX", function(a, b) return a > b and a or b end)
fn.min = binary("MIN", function(a, b) return a < b and a or b end)
fn.gt = binary("GT", function(a, b) return a > b and 1 or 0 end)
fn.ge = binary("GE", function(a, b) return a >= b and 1 or 0 end)
fn.lt = binary("LT", function(a, b) return a < b and 1 or 0 end)
fn.le = binary("LE", function(a, b) return a <= b and 1 or 0 end)
fn.pow = binary("POW", function(a, b) return a ^ b end)
function fn.where(c, a, b)
  if type(c) == "number" and type(a) == "number" and type(b) == "number" and not cur then
    if c ~= 0 then return a end
    return b
  end
  check_operand(c, "choose by"); check_operand(a, "choose"); check_operand(b, "choose")
  return node("WHERE", { c, a, b })
end

local function reduction(op, x, name)
  check_operand(x, "sum")
  if not is_node(x) or info[x].kind < 2 then
    fail(string.format("%supdate: optim.fn.%s needs an element value (built from p, g or the state)", who(), name))
  end
  return node(op, { x }, 1, info[x].level + 1)
end
function fn.sum(x) return reduction("SUM", x, "sum") end
function fn.sumsq(x) return reduction("SUMSQ", x, "sumsq") end
function fn.norm(x) return fn.sqrt(reduction("SUMSQ", x, "norm")) end
function fn.numel()
  if not cur then fail("optim.fn.numel() is only meaningful inside an update function") end
  return node("NUMEL", {}, 1, 0)
end
function fn.mean(x) return reduction("SUM", x, "mean") / fn.numel() end
-- Across all parameters: summed tensor by tensor in the parameters' order.
local function global(op, x, name)
  check_operand(x, "sum")
  if not is_node(x) or info[x].kind < 2 then
    fail(string.format("%supdate: optim.fn.%s needs an element value (built from p, g or the state)", who(), name))
  end
  local n = node(op, { x }, 1, info[x].level + 1)
  info[n].per_tensor = false
  return n
end
function fn.global_sum(x) return global("GSUM", x, "global_sum") end
function fn.global_sumsq(x) return global("GSUMSQ", x, "global_sumsq") end
function fn.global_norm(x) return fn.sqrt(global("GSUMSQ", x, "global_norm")) end
-- Rows and columns: the tensor seen as R x C, C its last dimension (a
-- vector is one row). row_sum(x) is, at each element, the sum of its row;
-- col_sum(x) the sum of its column (Adafactor's factored moments).
local function rowcol(op, x, name)
  check_operand(x, "sum")
  if not is_node(x) or info[x].kind < 2 then
    fail(string.format("%supdate: optim.fn.%s needs an element value (built from p, g or the state)", who(), name))
  end
  return node(op, { x }, 2, info[x].level + 1)
end
function fn.row_sum(x) return rowcol("RSUM", x, "row_sum") end
function fn.col_sum(x) return rowcol("CSUM", x, "col_sum") end
function fn.nrows()
  if not cur then fail("optim.fn.nrows() is only meaningful inside an update function") end
  return node("NROWS", {}, 1, 0)
end
function fn.ncols()
  if not cur then fail("optim.fn.ncols() is only meaningful inside an update function") end
  return node("NCOLS", {}, 1, 0)
end
function fn.row_mean(x) return rowcol("RSUM", x, "row_mean") / fn.ncols() end
function fn.col_mean(x) return rowcol("CSUM", x, "col_mean") / fn.nrows() end

-- A whole-tensor stage between element stages: f(t) gets the value x as a
-- tensor of the parameter's shape and returns one of that shape (tensor
-- ops, BLIS matmuls: Muon's Newton-Schulz iteration).
function fn.matrix(x, f)
  check_operand(x, "transform")
  if not is_node(x) or info[x].kind < 2 then
    fail(who() .. "update: optim.fn.matrix needs an element value (built from p, g or the state)")
  end
  if type(f) ~= "function" then fail(who() .. "update: optim.fn.matrix(x, f) needs a function f(tensor) -> tensor") end
  local n = node("MAT", { x, f }, 2, info[x].level + 1)
  return n
end
define.fn = fn

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
                    update = true, show = true, conventions = true }

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
    if type(default) == "boolean" then
      sp.fields[#sp.fields + 1] = { field, "bool" }
    elseif type(default) == "number" then
      local check = h.range and parse_range(h.range, name, field)
      local err = check and check(default)
      if err then fail(string.format("optim.define %s: default %s = %g %s", name, field, default, err)) end
      sp.fields[#sp.fields + 1] = { field, "num", check }
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
      if not (type(init) == "number" or (type(init) == "string" and sp.defaults[init] ~= nil and type(sp.defaults[init]) == "number")) then
        fail(string.format("optim.define %s: state %s's initial value must be a number or a numeric hyperparameter's name, got %s",
          name, k, tostring(init)))
      end
      list[2][#list[2] + 1] = k
    end
    table.sort(list[2])
  end
  if #sp.state + #sp.scalars + #sp.globals + 2 * (#sp.rows + #sp.cols) + 2 > 12 then
    fail("optim.define " .. name .. ": at most 10 state buffers, scalars and globals (rows and cols count twice)")
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

-- ------------------------------------------------------------ tracing

local function trace(sp, values, clip)
  local decl = sp.decl
  local T = { name = sp.name, cse = {}, count = 0, inputs = {} }
  local input_nodes = {}
  local function input(nm)
    if not input_nodes[nm] then
      input_nodes[nm] = node("IN", { nm }, 0, 0)
      T.inputs[#T.inputs + 1] = nm
    end
    return input_nodes[nm]
  end
  -- buffers: 1 p, 2 g, then the state, then the per-tensor scalars (0-based in C)
  local bufs, bufidx = { "p", "g" }, {}
  for _, k in ipairs(sp.state) do bufs[#bufs + 1] = k end
  for _, k in ipairs(sp.scalars) do bufs[#bufs + 1] = k end
  for _, k in ipairs(sp.globals) do bufs[#bufs + 1] = k end
  for _, k in ipairs(sp.rows) do bufs[#bufs + 1] = k end
  for _, k in ipairs(sp.cols) do bufs[#bufs + 1] = k end
  for i, k in ipairs(bufs) do bufidx[k] = i - 1 end
  T.bufidx = bufidx
  -- the size of each buffer the caller provides: "all" (the parameter's), "rows", "cols" or "one"
  T.bufsize = { p = "all", g = "all" }
  for _, k in ipairs(sp.state) do T.bufsize[k] = "all" end
  for _, k in ipairs(sp.scalars) do T.bufsize[k] = "one" end
  for _, k in ipairs(sp.globals) do T.bufsize[k] = "one" end
  for _, k in ipairs(sp.rows) do T.bufsize[k] = "rows" end
  for _, k in ipairs(sp.cols) do T.bufsize[k] = "cols" end
  cur = T
  local ok, result = pcall(function()
    local p = node("LOAD", { bufidx.p }, 2, 0)
    local g = node("LOAD", { bufidx.g }, 2, 0)
    local g0 = g
    if clip.norm then g = input("grad_scale") * g end
    if clip.value then
      local cv = input("clip_value")
      g = fn.max(-cv, fn.min(cv, g))
    end
    local current, is_state, is_scalar = {}, {}, {}
    for _, k in ipairs(sp.state) do current[k] = node("LOAD", { bufidx[k] }, 2, 0); is_state[k] = true end
    for _, k in ipairs(sp.scalars) do current[k] = node("SLOAD", { bufidx[k] }, 1, 0); is_scalar[k] = true end
    for _, k in ipairs(sp.rows) do current[k] = node("RLOAD", { bufidx[k] }, 2, 0) end
    for _, k in ipairs(sp.cols) do current[k] = node("CLOAD", { bufidx[k] }, 2, 0) end
    local is_global = {}
    for _, k in ipairs(sp.globals) do
      current[k] = node("GLOAD", { bufidx[k] }, 1, 0)
      info[current[k]].per_tensor = false
      is_scalar[k], is_global[k] = true, true
    end
    local initial = {}
    for k, v in pairs(current) do initial[k] = v end
    local names = {}
    for k in pairs(current) do names[#names + 1] = k end
    local s = setmetatable({}, {
      __index = function(_, k)
        if current[k] == nil then
          fail(string.format("%s: update reads state '%s' that the declaration does not declare%s (state: %s)", sp.name,
            tostring(k), suggest.phrase(tostring(k), names), #names > 0 and table.concat(names, ", ") or "none"))
        end
        return current[k]
      end,
      __newindex = function(_, k, v)
        if current[k] == nil then
          fail(string.format("%s: update assigns state '%s' that the declaration does not declare%s (declare it in state = {...})",
            sp.name, tostring(k), suggest.phrase(tostring(k), names)))
        end
        if type(v) ~= "number" and not is_node(v) then
          fail(string.format("%s: update assigns a %s to state '%s': it must be a number or a traced value", sp.name, type(v), k))
        end
        if is_global[k] and is_node(v) and info[v].per_tensor then
          fail(string.format("%s: global '%s' is one number for all parameters: assign it a value that is the same for every " ..
            "tensor (hyperparameters, t, globals, optim.fn.global_sum/global_norm ...)", sp.name, k))
        end
        if is_scalar[k] and is_node(v) and info[v].kind == 2 then
          fail(string.format("%s: state '%s' is one number per tensor (scalars = {...}): assign it a per-tensor value such as optim.fn.sum(...)",
            sp.name, k))
        end
        current[k] = v
      end,
    })
    local hnames = {}
    for _, f in ipairs(sp.fields) do hnames[#hnames + 1] = f[1] end
    local h = setmetatable({}, {
      __index = function(_, k)
        -- the convention, as text at tracing: "textbook", "keras", "tf_keras",
        -- "keras3", "torch"; form: the update family ("keras3" for tf_keras too)
        if k == "convention" then return values.convention end
        if k == "form" then return require("optim.conventions").form[values.convention] end
        local d = sp.defaults[k]
        if d == nil then
          fail(string.format("%s: update reads hyperparameter '%s' that the declaration does not declare%s (hyperparameters: %s)",
            sp.name, tostring(k), suggest.phrase(tostring(k), hnames), table.concat(hnames, ", ")))
        end
        if type(d) == "boolean" then return values[k] end
        return input(k)
      end,
      __newindex = function(_, k)
        fail(string.format("%s: update assigns hyperparameter '%s': hyperparameters are read-only (keep changing values in state)", sp.name, tostring(k)))
      end,
    })
    local newp = decl.update(p, g, s, h, input("t"))
    if newp == nil then fail(sp.name .. ": update must return the new parameter value (return p - ...)") end
    if type(newp) ~= "number" and not is_node(newp) then
      fail(string.format("%s: update returned a %s: it must return the new parameter value", sp.name, type(newp)))
    end
    local stores = {}
    if not rawequal(newp, p) then stores[#stores + 1] = { buf = bufidx.p, value = newp } end
    for _, k in ipairs(sp.state) do
      if not rawequal(current[k], initial[k]) then stores[#stores + 1] = { buf = bufidx[k], value = current[k] } end
    end
    local sstores = {}
    for _, list in ipairs { sp.scalars, sp.globals } do
      for _, k in ipairs(list) do
        if not rawequal(current[k], initial[k]) then sstores[#sstores + 1] = { buf = bufidx[k], value = current[k] } end
      end
    end
    -- rows and cols: stored at each row's first element (column's, at row 0)
    local rcstores = {}
    for _, list in ipairs { { sp.rows, "ROWSTORE" }, { sp.cols, "COLSTORE" } } do
      for _, k in ipairs(list[1]) do
        if not rawequal(current[k], initial[k]) then rcstores[#rcstores + 1] = { buf = bufidx[k], name = k, value = current[k], op = list[2] } end
      end
    end
    return { stores = stores, sstores = sstores, rcstores = rcstores, g0 = g0 }
  end)
  cur = nil
  if not ok then error(result, 0) end
  T.bufs = bufs
  T.stores, T.sstores, T.rcstores = result.stores, result.sstores, result.rcstores
  return T
end

-- ------------------------------------------------------------ code generation

local function level(x) return is_node(x) and info[x].level or 0 end
local function kind(x) return is_node(x) and info[x].kind or 0 end

local function compile(T)
  -- slots: inputs, then constants, then computed scalars
  local slots, nslots = {}, 0
  local consts, inputs = {}, {}
  local function new_slot() nslots = nslots + 1; return nslots - 1 end
  for _, nm in ipairs(T.inputs) do inputs[#inputs + 1] = new_slot() end
  local const_slot = {}
  local function slot_of_const(v)
    local k = key_of(v)
    if not const_slot[k] then
      const_slot[k] = new_slot()
      consts[#consts + 1] = const_slot[k]; consts[#consts + 1] = v
    end
    return const_slot[k]
  end
  local input_slot = {}
  for i, nm in ipairs(T.inputs) do input_slot[nm] = inputs[i] end

  -- stage count
  local nstages = 1
  local reductions, mats, seen = {}, {}, {}
  local function walk(x)
    if not is_node(x) or seen[x] then return end
    seen[x] = true
    local ix = info[x]
    for _, a in ipairs(ix.args) do walk(a) end
    if ix.op == "SUM" or ix.op == "SUMSQ" or ix.op == "GSUM" or ix.op == "GSUMSQ" then
      reductions[#reductions + 1] = x
      nstages = math.max(nstages, level(ix.args[1]) + 1)
    elseif ix.op == "MAT" or ix.op == "RSUM" or ix.op == "CSUM" then
      -- x goes to a scratch buffer at its stage; f's result (the row or
      -- column sums) comes back in another
      local n = #T.bufs
      T.bufs[n + 1], T.bufs[n + 2] = "_in" .. n, "_out" .. n
      T.bufsize["_in" .. n] = "all"
      T.bufsize["_out" .. n] = ix.op == "RSUM" and "rows" or ix.op == "CSUM" and "cols" or "all"
      mats[#mats + 1] = { node = x, stage = level(ix.args[1]), inbuf = n, outbuf = n + 1, fn = ix.args[2], op = ix.op }
      mats[x] = mats[#mats]
      nstages = math.max(nstages, level(ix.args[1]) + 1)
    end
  end
  for _, st in ipairs(T.rcstores) do
    walk(st.value)
    nstages = math.max(nstages, level(st.value) + 1)
    -- written to a scratch row (column) during the last stage, copied after it:
    -- other elements of the row still read the old value in that stage
    st.tmpbuf = #T.bufs
    T.bufs[#T.bufs + 1] = "_new_" .. st.name
    T.bufsize["_new_" .. st.name] = st.op == "ROWSTORE" and "rows" or "cols"
  end
  for _, st in ipairs(T.stores) do walk(st.value); nstages = math.max(nstages, level(st.value) + 1) end
  for _, st in ipairs(T.sstores) do walk(st.value); nstages = math.max(nstages, level(st.value)) end
  -- how many nodes use each node: a single-use product folds into its sum (LIN2, MULADD...)
  local uses = {}
  for x in pairs(seen) do
    for _, a in ipairs(info[x].args) do if is_node(a) then uses[a] = (uses[a] or 0) + 1 end end
  end
  local function single(x, op) return is_node(x) and info[x].kind == 2 and info[x].op == op and uses[x] == 1 end

  -- scalar sections: every kind <= 1 node, in the section of its level
  local sections = {}
  for k = 0, nstages do sections[k] = {} end
  local scalar_slot, numel_slot, globals = {}, -1, {}
  local size_slot = {}
  local function emit_scalar(x)
    if type(x) == "number" then return slot_of_const(x) end
    if scalar_slot[x] then return scalar_slot[x] end
    local ix = info[x]
    local s
    if ix.op == "IN" then s = input_slot[ix.args[1]]
    elseif ix.op == "NUMEL" then
      if numel_slot < 0 then numel_slot = new_slot() end
      s = numel_slot
    elseif ix.op == "NROWS" or ix.op == "NCOLS" then
      size_slot[ix.op] = size_slot[ix.op] or new_slot()
      s = size_slot[ix.op]
    elseif ix.op == "SUM" or ix.op == "SUMSQ" then s = new_slot()     -- written by the vector stage
    elseif ix.op == "GSUM" or ix.op == "GSUMSQ" then
      -- each tensor's stage writes its part; the caller sums the parts in
      -- the parameters' order and puts the total in every tensor's slots
      s = new_slot()
      globals[#globals + 1] = { partial = new_slot(), total = s, stage = level(ix.args[1]) }
      globals[x] = globals[#globals]
    else
      local a = {}
      for i, arg in ipairs(ix.args) do a[i] = emit_scalar(arg) end
      s = new_slot()
      local code = sections[ix.level]
      if ix.op == "SLOAD" or ix.op == "GLOAD" then
        code[#code + 1] = { OPS.LOAD, s, ix.args[1], 0, 0, 0, -1 }
      else
        code[#code + 1] = { OPS[ix.op], s, a[1], a[2] or 0, a[3] or 0, 0, -1 }
      end
    end
    scalar_slot[x] = s
    return s
  end
  for _, st in ipairs(T.sstores) do emit_scalar(st.value) end

  -- vector stages
  local vstages, maxreg = {}, 0
  for k = 0, nstages - 1 do
    local code, vreg, memo = {}, 0, {}
    local operand
    -- the instruction computing x: its op and operand nodes, fused where a
    -- single-use product, quotient or root feeds a sum or difference
    local function form(ix)
      local A, B = ix.args[1], ix.args[2]
      local function args(n) return info[n].args end
      if ix.op == "ADD" then
        if single(A, "MUL") and single(B, "MUL") then
          -- c*(e*e) (a square of one value) folds in too: b2 v + (1 - b2) (g g)
          local c, sq = args(B)[1], args(B)[2]
          if not (single(sq, "MUL") and rawequal(args(sq)[1], args(sq)[2])) then c, sq = sq, c end
          if single(sq, "MUL") and rawequal(args(sq)[1], args(sq)[2]) then
            return "LIN2SQ", { args(A)[1], args(A)[2], c, args(sq)[1] }
          end
          return "LIN2", { args(A)[1], args(A)[2], args(B)[1], args(B)[2] }
        end
        for _, pair in ipairs { { A, B }, { B, A } } do
          local M, other = pair[1], pair[2]
          if single(M, "MUL") then
            local x, y = args(M)[1], args(M)[2]
            if single(x, "SQRT") then return "SQRTMULADD", { args(x)[1], y, other } end
            return "MULADD", { x, y, other }
          end
        end
        if single(A, "SQRT") then return "SQRTADD", { args(A)[1], B } end
        if single(B, "SQRT") then return "SQRTADD", { args(B)[1], A } end
      elseif ix.op == "SUB" then
        if single(B, "DIV") and single(args(B)[1], "MUL") then
          local m = args(args(B)[1])
          return "SUBMULDIV", { m[1], m[2], A, args(B)[2] }
        end
        if single(A, "MUL") and single(B, "MUL") then return "LINSUB", { args(A)[1], args(A)[2], args(B)[1], args(B)[2] } end
        if single(B, "MUL") then return "MULSUB", { args(B)[1], args(B)[2], A } end
      end
      return ix.op, ix.args
    end
    operand = function(x)
      if kind(x) < 2 then return -1 - emit_scalar(x) end
      if memo[x] then return memo[x] end
      local ix = info[x]
      local LOADS = { LOAD = "LOAD", MAT = "LOAD", RLOAD = "ROWLOAD", CLOAD = "COLLOAD", RSUM = "ROWLOAD", CSUM = "COLLOAD" }
      if LOADS[ix.op] then
        vreg = vreg + 1
        local buf = mats[x] and mats[x].outbuf or ix.args[1]
        code[#code + 1] = { OPS[LOADS[ix.op]], vreg, buf, 0, 0, 0, -1, nops = 0, load = true }
      else
        local op, args = form(ix)
        local a = {}
        for i, arg in ipairs(args) do a[i] = operand(arg) end
        vreg = vreg + 1
        code[#code + 1] = { OPS[op], vreg, a[1], a[2] or 0, a[3] or 0, a[4] or 0, -1, nops = #args }
      end
      memo[x] = vreg
      return vreg
    end
    for _, r in ipairs(reductions) do
      if level(info[r].args[1]) == k then
        local src = operand(info[r].args[1])
        local op, slot = info[r].op, emit_scalar(r)
        if op == "GSUM" or op == "GSUMSQ" then op, slot = op:sub(2), globals[r].partial end
        code[#code + 1] = { OPS[op], slot, src, 0, 0, 0, -1, reduce = true, nops = 1 }
      end
    end
    for _, m in ipairs(mats) do
      if m.stage == k then
        local src = operand(info[m.node].args[1])     -- first: it appends the instructions computing it
        code[#code + 1] = { OPS.STORE, m.inbuf, src, 0, 0, 0, -1, store = true, nops = 1 }
      end
    end
    if k == nstages - 1 then
      local stored = {}
      for _, st in ipairs(T.stores) do stored[st.buf] = true end
      local srcs = {}
      for i, st in ipairs(T.stores) do
        local src = operand(st.value)
        -- a store's source that points into another stored buffer would read it after its store
        if is_node(st.value) and info[st.value].op == "LOAD" and info[st.value].args[1] ~= st.buf and stored[info[st.value].args[1]] then
          vreg = vreg + 1
          code[#code + 1] = { OPS.COPY, vreg, src, 0, 0, 0, -1, nops = 1 }
          src = vreg
        end
        srcs[i] = src
      end
      for i, st in ipairs(T.stores) do code[#code + 1] = { OPS.STORE, st.buf, srcs[i], 0, 0, 0, -1, store = true, nops = 1 } end
      for _, st in ipairs(T.rcstores) do
        local src = operand(st.value)
        code[#code + 1] = { OPS[st.op], st.tmpbuf, src, 0, 0, 0, -1, rcstore = true, nops = 1 }
      end
      -- A value computed only to be stored goes straight into its buffer,
      -- unless something after its instruction still reads that buffer's
      -- old contents (through the register its LOAD set).
      local def_at, alias_of, last_read = {}, {}, {}
      for i, c in ipairs(code) do
        if c.load then alias_of[c[2]] = c[3] end
        if not c.store and not c.reduce and not c.rcstore then def_at[c[2]] = i end
        for j = 1, c.nops do
          local b = c[2 + j] > 0 and alias_of[c[2 + j]]
          if b then last_read[b] = i end
        end
      end
      local kept = {}
      for _, c in ipairs(code) do
        local I = c.store and c[3] > 0 and def_at[c[3]]
        local src = I and code[I]
        if src and not src.load and src[7] == -1 and (last_read[c[2]] or 0) <= I then
          src[7] = c[2]
        else
          kept[#kept + 1] = c
        end
      end
      code = kept
    end
    -- registers: a virtual register lives from its definition to its last use
    local last = {}
    for i, c in ipairs(code) do
      for j = 1, c.nops do if c[2 + j] > 0 then last[c[2 + j]] = i end end
    end
    local phys, free, used = {}, {}, 0
    for i, c in ipairs(code) do
      local virt = {}
      for j = 1, c.nops do
        virt[j] = c[2 + j]
        if virt[j] > 0 then c[2 + j] = phys[virt[j]] end
      end
      local def
      if not c.store and not c.reduce and not c.rcstore then    -- allocated before the operands are freed: never one of them
        local r = table.remove(free)
        if not r then r = used; used = used + 1 end
        def = c[2]
        phys[def], c[2] = r, r
      end
      for j = 1, c.nops do
        local v = virt[j]
        if v > 0 and last[v] == i then free[#free + 1] = phys[v]; last[v] = nil end
      end
      if def and not last[def] then free[#free + 1] = phys[def] end
    end
    maxreg = math.max(maxreg, used)
    vstages[k] = code
  end
  -- vector operands referencing scalars were emitted during stage emission: sections are final now
  local scode, sstart = {}, {}
  for k = 0, nstages do
    sstart[#sstart + 1] = #scode / 7
    for _, c in ipairs(sections[k]) do for j = 1, 7 do scode[#scode + 1] = c[j] end end
  end
  -- per-tensor scalar state: stored at the end
  for _, st in ipairs(T.sstores) do
    for _, v in ipairs { OPS.STORE, st.buf, emit_scalar(st.value), 0, 0, 0, -1 } do scode[#scode + 1] = v end
  end
  sstart[#sstart + 1] = #scode / 7
  local vcode, vstart = {}, {}
  for k = 0, nstages - 1 do
    vstart[#vstart + 1] = #vcode / 7
    for _, c in ipairs(vstages[k]) do
      for j = 1, 7 do
        vcode[#vcode + 1] = c[j]
      end
    end
  end
  vstart[#vstart + 1] = #vcode / 7
  if maxreg > 48 then fail(T.name .. ": the update needs " .. maxreg .. " element registers at once; at most 48") end
  for _, g in ipairs(globals) do g.stage = g.stage end
  return {
    nslots = nslots, nregs = maxreg, nbufs = #T.bufs, nstages = nstages, numel_slot = numel_slot,
    vcode = vcode, scode = scode, vstart = vstart, sstart = sstart, consts = consts, inputs = inputs,
    nrows_slot = size_slot.NROWS or -1, ncols_slot = size_slot.NCOLS or -1,
    globals = globals, mats = mats, rcstores = T.rcstores, bufsize = T.bufsize,
    staged = #globals > 0 or #mats > 0 or #T.rcstores > 0,
  }, T.inputs
end

-- The program for an optimizer's configuration (its booleans and which
-- clippings are on), traced and compiled on first use, then cached.
function define.program(sp, values, clip)
  local key = { clip.norm and "N" or "-", clip.value and "V" or "-", tostring(values.convention) }
  for _, f in ipairs(sp.fields) do
    if f[2] == "bool" then key[#key + 1] = values[f[1]] and "1" or "0" end
  end
  key = table.concat(key)
  local prog = sp.programs[key]
  if not prog then
    local T = trace(sp, values, clip)
    local desc, inputs = compile(T)
    sp.lastdesc = desc
    prog = { handle = C.optim_program(desc), inputs = inputs, bufs = T.bufs, desc = desc, staged = desc.staged,
             globals = desc.globals, mats = desc.mats, rcstores = desc.rcstores, bufsize = desc.bufsize, nstages = desc.nstages }
    sp.programs[key] = prog
  end
  return prog
end

return define
