-- Tracing of declared optimizers (optim.define): the update function runs
-- once on symbolic values, and every value it computes becomes a node.
--
--   trace.fn                      traced math (optim.fn)
--   trace.run(sp, values, clip)   -> T: the nodes stored to each buffer
--   trace.info[node]              {kind, level, op, args, per_tensor}
--
-- A node's kind says when it can be computed: 0 once per step (hyperparameters,
-- t, numbers), 1 once per tensor (reductions, per-tensor scalar state), 2 per
-- element. Its level is the vector stage after which it is known: a reduction
-- of a level-k element value has level k + 1. Nothing is reassociated: the
-- program rounds as the update is written (optim/compile.lua).
local C = require "optlab.core"
local suggest = require "suggest"

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
-- Trace-time facts about a hyperparameter (the program is specialized on
-- them, define.program): is_zero(h.x), x given as the number 0 (a feature
-- switched off: SGD without momentum keeps no velocity); is_constant(h.x),
-- x given as a number, not a schedule. On plain numbers: x == 0, true.
local function hyper_value(x, what)
  if type(x) == "number" then return x end
  local ix = is_node(x) and info[x]
  if not (ix and ix.op == "IN" and cur and cur.values[ix.args[1]] ~= nil) then
    fail(who() .. "update: optim.fn." .. what .. " takes a hyperparameter (h.name) or a number")
  end
  return cur.values[ix.args[1]]
end
function fn.is_zero(x) return hyper_value(x, "is_zero") == 0 end
function fn.is_constant(x) return type(hyper_value(x, "is_constant")) == "number" end

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



-- ------------------------------------------------------------ tracing

local function trace(sp, values, clip)
  local decl = sp.decl
  local T = { name = sp.name, cse = {}, count = 0, inputs = {}, values = values }
  local input_nodes = {}
  local function input(nm)
    if not input_nodes[nm] then
      input_nodes[nm] = node("IN", { nm }, 0, 0)
      T.inputs[#T.inputs + 1] = nm
    end
    return input_nodes[nm]
  end
  -- buffers: 0 p, 1 g, then each declared buffer when the update first reads
  -- or writes it (0-based in C): one this configuration never touches is
  -- neither allocated nor saved (SGD without momentum keeps no velocity)
  local bufs, bufidx = { "p", "g" }, { p = 0, g = 1 }
  -- the size of each buffer the caller provides: "all" (the parameter's), "rows", "cols" or "one"
  local size = {}
  for _, list in ipairs { { sp.state, "all" }, { sp.scalars, "one" }, { sp.rows, "rows" }, { sp.cols, "cols" } } do
    for _, k in ipairs(list[1]) do size[k] = list[2] end
  end
  T.bufsize = { p = "all", g = "all" }
  local function buf(k)
    if not bufidx[k] then
      bufs[#bufs + 1] = k
      bufidx[k], T.bufsize[k] = #bufs - 1, size[k]
    end
    return bufidx[k]
  end
  local LOADOP = { all = { "LOAD", 2 }, one = { "SLOAD", 1 }, rows = { "RLOAD", 2 }, cols = { "CLOAD", 2 } }
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
    -- current[k]: the value s.k reads now; a buffer's load is made at its first read
    local current, is_scalar = {}, {}
    for _, k in ipairs(sp.scalars) do is_scalar[k] = true end
    local is_global = {}
    -- globals are doubles the optimizer keeps: inputs of the step, stored back from their slots
    for _, k in ipairs(sp.globals) do
      current[k] = input("global:" .. k)
      info[current[k]].per_tensor = false
      is_scalar[k], is_global[k] = true, true
    end
    local initial = {}
    for k, v in pairs(current) do initial[k] = v end
    local names = {}
    for k in pairs(current) do names[#names + 1] = k end
    for k in pairs(size) do names[#names + 1] = k end
    table.sort(names)
    local s = setmetatable({}, {
      __index = function(_, k)
        if current[k] == nil and size[k] and initial[k] == nil then
          local op = LOADOP[size[k]]
          current[k] = node(op[1], { buf(k) }, op[2], 0)
          initial[k] = current[k]
        end
        if current[k] == nil then
          fail(string.format("%s: update reads state '%s' that the declaration does not declare%s (state: %s)", sp.name,
            tostring(k), suggest.phrase(tostring(k), names), #names > 0 and table.concat(names, ", ") or "none"))
        end
        return current[k]
      end,
      __newindex = function(_, k, v)
        if current[k] == nil and not size[k] then
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
        -- booleans and choices (nesterov = true, false or "literal") are plain Lua values at tracing
        if type(d) == "boolean" or sp.field[k].kind == "choice" then return values[k] end
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
    -- a buffer assigned is stored (at its first read's index, or a new one)
    local function assigned(k) return current[k] ~= nil and not rawequal(current[k], initial[k]) end
    local stores = {}
    if not rawequal(newp, p) then stores[#stores + 1] = { buf = bufidx.p, value = newp } end
    for _, k in ipairs(sp.state) do
      if assigned(k) then stores[#stores + 1] = { buf = buf(k), value = current[k] } end
    end
    local sstores = {}
    for _, k in ipairs(sp.scalars) do
      if assigned(k) then sstores[#sstores + 1] = { buf = buf(k), value = current[k] } end
    end
    local gstores = {}
    for _, k in ipairs(sp.globals) do
      if not rawequal(current[k], initial[k]) then gstores[#gstores + 1] = { name = k, value = current[k] } end
    end
    -- rows and cols: stored at each row's first element (column's, at row 0)
    local rcstores = {}
    for _, list in ipairs { { sp.rows, "ROWSTORE" }, { sp.cols, "COLSTORE" } } do
      for _, k in ipairs(list[1]) do
        if assigned(k) then rcstores[#rcstores + 1] = { buf = buf(k), name = k, value = current[k], op = list[2] } end
      end
    end
    return { stores = stores, sstores = sstores, gstores = gstores, rcstores = rcstores, g0 = g0 }
  end)
  cur = nil
  if not ok then error(result, 0) end
  T.bufs = bufs
  T.stores, T.sstores, T.gstores, T.rcstores = result.stores, result.sstores, result.gstores, result.rcstores
  return T
end


return { fn = fn, run = trace, info = info, is_node = is_node, key_of = key_of }
