-- Differential tests against PyTorch 1.13: programs of small tensor ops whose forward
-- values, input gradients and errors PyTorch computed (tools/gen_torch_fixtures.py,
-- `make fixtures`), replayed here with no Python and no torch. The fixtures are data in
-- serial's text format (parsed, never run).
--
-- Each program is a list of steps {out, op, args} over named values; OPS below is the
-- optlab half of the interpreter whose PyTorch half is TOPS in the generator. A program
-- passes when every step's value, the gradient of every input that requires grad after
-- out:backward(w), and the final value of every input changed in place agree with
-- PyTorch's within float32's tolerance:
--
--     |optlab - torch| <= 1e-5 + 1e-4 |torch|
--
-- or, where PyTorch raises, optlab raises at the same place with the words the API
-- contract gives (tests/lua/fixtures: "match"). A failing program names the op and the
-- value that differ; a gradient that differs is traced to one op by replaying each step
-- alone against PyTorch's local vector-Jacobian product. The summary groups failures by
-- cause, so one run shows every defect.
local lib = require "lib"

local RTOL, ATOL = 1e-4, 1e-5
local F = nn.functional
local T = {}

local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") .. "/fixtures"

local function load(name)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return serial.decode(text, path)
end

local is_tensor = tensor.is_tensor

local function mk(v)
  local t = tensor.from(v.data):reshape(v.shape)
  return t:clone()
end

local function shape_str(s) return "[" .. table.concat(s, ", ") .. "]" end

-- ---------------------------------------------------------------- the ops

local MISSING = "optlab has no "
local function method(name)
  return function(a, ...)
    if type(a[name]) ~= "function" then error(MISSING .. "method '" .. name .. "'", 0) end
    return a[name](a, ...)
  end
end
local function fn_of(t, name, where)
  return function(...)
    if type(t[name]) ~= "function" then error(MISSING .. where .. name, 0) end
    return t[name](...)
  end
end

local function dense(x, w, b, a)
  local xs = x:shape()
  local input = {}
  for i = 2, #xs do input[#input + 1] = xs[i] end
  local m = nn.Sequential { input = input, nn.Dense { w:size(1), activation = a } }
  m.layers[1].weight, m.layers[1].bias = w, b
  return m(x)
end

local function inner_shape(x)
  local xs, s = x:shape(), {}
  for i = 2, #xs do s[#s + 1] = xs[i] end
  return s
end

local OPS = {
  add = function(a, b) return a + b end,
  sub = function(a, b) return a - b end,
  mul = function(a, b) return a * b end,
  div = function(a, b) return a / b end,
  pow = function(a, b) return a ^ b end,
  remainder = function(a, b)
    if not getmetatable(is_tensor(a) and a or b).__mod then error(MISSING .. "operator %", 0) end
    return a % b
  end,
  maximum = function(a, b) if is_tensor(a) then return method("maximum")(a, b) end return fn_of(tensor, "maximum", "tensor.")(a, b) end,
  minimum = function(a, b) if is_tensor(a) then return method("minimum")(a, b) end return fn_of(tensor, "minimum", "tensor.")(a, b) end,
  unm = function(a) return -a end,
  index = function(a, i) return a[i] end,
  where = fn_of(tensor, "where", "tensor."),
  cat = fn_of(tensor, "cat", "tensor."),
  stack = fn_of(tensor, "stack", "tensor."),
  ["F.relu"] = F.relu, ["F.leaky_relu"] = F.leaky_relu, ["F.elu"] = F.elu, ["F.gelu"] = F.gelu,
  ["F.sigmoid"] = F.sigmoid, ["F.tanh"] = F.tanh, ["F.softmax"] = F.softmax, ["F.log_softmax"] = F.log_softmax,
  ["F.cross_entropy"] = F.cross_entropy, ["F.mse"] = F.mse, ["F.binary_cross_entropy"] = F.binary_cross_entropy,
  ["F.linear"] = function(x, w, b, a) return F.linear(x, w, b, { activation = a }) end,
  ["F.conv2d"] = F.conv2d, ["F.max_pool2d"] = F.max_pool2d, ["F.avg_pool2d"] = F.avg_pool2d,
  ["F.conv2d_max_pool2d"] = F.conv2d_max_pool2d, ["F.batch_norm"] = F.batch_norm,
  ["F.dropout"] = function(x, p, training) return F.dropout(x, p, { training = training }) end,
  -- layers as a user builds them, with the fixture's weights put into the built layer
  ["nn.Dense"] = dense,
  ["nn.Conv2D+MaxPool2D"] = function(x, w, b, a, k)
    local m = nn.Sequential { input = inner_shape(x), nn.Conv2D { w:size(1), w:size(3), activation = a }, nn.MaxPool2D { k } }
    m.layers[1].weight, m.layers[1].bias = w, b
    return m(x)
  end,
  ["nn.BatchNorm"] = function(x, w, b, rm, rv, training)
    local m = nn.Sequential { input = inner_shape(x), nn.BatchNorm {} }
    local l = m.layers[1]
    l.weight, l.bias, l.running_mean, l.running_var = w, b, rm, rv
    if not training then m:evaluate() end
    return m(x)
  end,
  ["nn.Dropout(eval)"] = function(x, p)
    local m = nn.Sequential { input = inner_shape(x), nn.Dropout(p) }
    m:evaluate()
    return m(x)
  end,
}
-- everything else is a method of the same name: x:sum(dim, keep), x:add_(u, alpha), ...
setmetatable(OPS, { __index = function(_, name) return method(name) end })

-- ops that return more than one value, as PyTorch's do
local MULTI = { max = true, min = true }

-- ---------------------------------------------------------------- running a program

local NIL = {}

local function resolve(args, env)
  local out = {}
  for i, a in ipairs(args) do
    local v = a
    if type(a) == "table" then
      if a.ref then v = env[a.ref]
      elseif a.none then v = NIL
      elseif a.list then
        v = {}
        for j, r in ipairs(a.list) do v[j] = env[r.ref] end
      elseif a.shape then v = a.shape
      elseif a.opts then v = a.opts end
    end
    out[i] = v
  end
  for i = 1, #args do if out[i] == NIL then out[i] = nil end end
  return out, #args
end

local function kind(v)
  if is_tensor(v) or (type(v) == "table" and v.ref) then return "tensor" end
  if type(v) == "number" then return "number" end
  return type(v)
end

-- The cause a failure is grouped under: the op, and for arithmetic the kinds of its operands.
local BINARY = { add = 1, sub = 1, mul = 1, div = 1, pow = 1, remainder = 1, maximum = 1, minimum = 1 }
local function label(st, args)
  if BINARY[st.op] and args then return st.op .. "(" .. kind(args[1]) .. ", " .. kind(args[2]) .. ")" end
  if st.no_grad then return st.op .. " under no_grad" end
  return st.op
end

local function flat(t) return t:contiguous():reshape(-1):totable() end

-- nil when got agrees with want ({shape, data}); otherwise what differs
local function differs(got, want, loose)
  if not is_tensor(got) then return "not a tensor but " .. type(got) end
  local gs = got:shape()
  if shape_str(gs) ~= shape_str(want.shape) then
    return "shape " .. shape_str(gs) .. ", PyTorch " .. shape_str(want.shape)
  end
  local g, w = flat(got), want.data
  for i = 1, #w do
    local x, y = g[i], w[i]
    local ok = math.abs(x - y) <= (loose or 1) * (ATOL + RTOL * math.abs(y)) or (x ~= x and y ~= y)
    if not ok then
      return string.format("element %d of %s: %.7g, PyTorch %.7g", i, shape_str(gs), x, y)
    end
  end
  return nil
end

local function zeros_of(v) local z = {} for i = 1, #v.data do z[i] = 0 end return { shape = v.shape, data = z } end

local function call(st, args, n)
  local fn = OPS[st.op]
  if st.no_grad then
    return table.pack(pcall(tensor.no_grad, fn, table.unpack(args, 1, n)))
  end
  return table.pack(pcall(fn, table.unpack(args, 1, n)))
end

local after_inplace

local function first_line(e) return (tostring(e):gsub("\n.*", "")) end

-- Replays each step alone on fresh leaves holding PyTorch's inputs, with PyTorch's gradient
-- of its output: the first step whose local gradients differ is the cause.
local function localize(p)
  if #p.steps == 1 then return label(p.steps[1], p.steps[1].args) end
  if not p.vjps then return nil end
  local env = {}
  for _, inp in ipairs(p.inputs) do env[inp.name] = inp end
  for k, st in ipairs(p.steps) do env[st.out] = p.values[k] end
  for k, st in ipairs(p.steps) do
    local v = p.vjps[k]
    if v then
      local leaves, fresh = {}, {}
      for _, e in ipairs(v.args) do leaves[e.arg] = leaves[e.arg] or {}; leaves[e.arg][e.item or 0] = e end
      local args, n = {}, #st.args
      local made = {}
      for i, a in ipairs(st.args) do
        if type(a) == "table" and a.ref then
          local t = mk(env[a.ref])
          if leaves[i] then t.requires_grad = true; made[#made + 1] = { t, leaves[i][0] } end
          args[i] = t
        elseif type(a) == "table" and a.list then
          local l = {}
          for j, r in ipairs(a.list) do
            local t = mk(env[r.ref])
            if leaves[i] and leaves[i][j] then t.requires_grad = true; made[#made + 1] = { t, leaves[i][j] } end
            l[j] = t
          end
          args[i] = l
        elseif type(a) == "table" and a.none then args[i] = nil
        elseif type(a) == "table" and a.shape then args[i] = a.shape
        elseif type(a) == "table" and a.opts then args[i] = a.opts
        else args[i] = a end
      end
      if st.op:sub(-1) == "_" and is_tensor(args[1]) and args[1].requires_grad then args[1] = args[1]:clone() end
      local r = call(st, args, n)
      local why
      if not r[1] then
        why = "raises alone: " .. first_line(r[2])
      elseif not is_tensor(r[2]) or not r[2].requires_grad then
        why = "output does not require grad"
      else
        local ok, e = pcall(r[2].backward, r[2], mk(v.gout or p.wgrad))
        if not ok then
          why = "backward raises: " .. first_line(e)
        else
          for _, m in ipairs(made) do
            local want = m[2].grad
            if want then
              local got = m[1].grad or tensor.zeros(want.shape)
              local d = differs(got, want, 10)  -- 5 digits stored: a pointer, not the verdict
              if d then why = "gradient of argument " .. m[2].arg .. ": " .. d; break end
            end
          end
        end
      end
      if why then return label(st, args), why end
    end
  end
  return nil
end

-- A value that differs after an earlier in-place op may be that op's fault (it wrote through
-- a view, or did not): name it and what made its target.
function after_inplace(p, k)
  local made = {}
  for j = 1, k - 1 do
    local st = p.steps[j]
    made[st.out] = st.op
    local a = st.args[1]
    if st.op:sub(-1) == "_" and type(a) == "table" and a.ref and made[a.ref] and made[a.ref]:sub(-1) ~= "_" then
      return " after in-place " .. st.op .. " on the result of " .. made[a.ref]
    end
  end
  return ""
end

-- Runs one program; returns nil when it agrees with PyTorch, else cause, detail.
local function run(p)
  local env, leaves, order = {}, {}, {}
  for _, inp in ipairs(p.inputs) do
    local t = mk(inp)
    if inp.grad then t.requires_grad = true end
    env[inp.name], leaves[inp.name] = t, t
    order[#order + 1] = inp.name
  end
  local err = p.error
  for k, st in ipairs(p.steps) do
    local args, n = resolve(st.args, env)
    local r = call(st, args, n)
    local what = label(st, args)
    if err and err.step == k then
      if r[1] then return what .. ": no '" .. err.match .. "' error", "PyTorch raises '" .. err.torch .. "'" end
      if tostring(r[2]):find(MISSING, 1, true) == 1 then return what .. ": missing", first_line(r[2]) end
      if not tostring(r[2]):find(err.match, 1, true) then
        return what .. ": error without the contract's words", "'" .. first_line(r[2]) .. "' lacks '" .. err.match .. "'"
      end
      return nil
    end
    if not r[1] then
      local msg = first_line(r[2])
      if msg:find(MISSING, 1, true) == 1 then return what .. ": missing", msg end
      return what .. ": raises", "step " .. k .. ": " .. msg
    end
    if r.n > 2 and not MULTI[st.op] then
      return what .. ": returns " .. (r.n - 1) .. " values", "step " .. k .. ": PyTorch returns one"
    end
    local y = r[2]
    env[st.out] = y
    if not err then
      local d = differs(y, p.values[k])
      if d then return what .. ": forward value" .. after_inplace(p, k), "step " .. k .. ": " .. d end
    end
  end
  local last = env[p.steps[#p.steps].out]
  local w = mk(p.wgrad)
  local ok, e = pcall(function() return last:backward(w) end)
  if err then
    if ok then return "backward: no '" .. err.match .. "' error", "PyTorch raises '" .. err.torch .. "'" end
    if not tostring(e):find(err.match, 1, true) then
      return "backward: error without the contract's words", "'" .. first_line(e) .. "' lacks '" .. err.match .. "'"
    end
    return nil
  end
  if not ok then
    local saved = tostring(e):find("modified by an inplace operation", 1, true) and tostring(e):match("that (%S+) saved")
    if saved then
      return saved .. ": 'modified by an inplace operation' where PyTorch's backward needs no saved value", first_line(e)
    end
    local cause, why = localize(p)
    return (cause or "backward") .. ": raises in backward", first_line(e) .. (why and (" (alone: " .. why .. ")") or "")
  end
  -- gradients of the inputs (a missing .grad counts as zeros, as PyTorch's None for unused inputs)
  local graddiff
  for _, name in ipairs(order) do
    local want = p.grads[name]
    if want then
      if want.none then want = nil end
      local got = leaves[name].grad
      if got or want then
        local d = differs(got or tensor.zeros((want or { shape = leaves[name]:shape() }).shape),
          want or zeros_of({ shape = leaves[name]:shape(), data = flat(leaves[name]) }))
        if d then graddiff = "gradient of " .. name .. ": " .. d .. (got and "" or " (.grad is nil)"); break end
      end
    end
  end
  if graddiff then
    local cause, why = localize(p)
    return (cause and cause .. ": gradient" or "gradient (every op alone agrees)"), graddiff .. (why and (" (alone: " .. why .. ")") or "")
  end
  -- inputs that ops changed in place
  for _, name in ipairs(order) do
    local want = p.finals and p.finals[name]
    local d = want and differs(leaves[name], want)
    if d then return label(p.steps[#p.steps]) .. ": in-place result in an input", name .. ": " .. d end
  end
  -- .grad tensors own their memory: writing one changes no other, nor the gradient given to backward
  local grads, names = {}, {}
  for _, name in ipairs(order) do
    if leaves[name].grad then grads[#grads + 1] = leaves[name].grad; names[#names + 1] = name end
  end
  if #grads > 0 then
    local before = {}
    for i, g in ipairs(grads) do before[i] = flat(g) end
    local wbefore = flat(w)
    for i, g in ipairs(grads) do
      tensor.no_grad(function() g:add_(1) end)
      for j, h in ipairs(grads) do
        if j ~= i then
          local now = flat(h)
          for q = 1, #now do
            if now[q] ~= before[j][q] then return ".grad shared between leaves", names[i] .. ".grad and " .. names[j] .. ".grad share memory" end
          end
        end
      end
      local wn = flat(w)
      for q = 1, #wn do
        if wn[q] ~= wbefore[q] then return ".grad shared with backward's gradient", names[i] .. ".grad is the tensor given to backward()" end
      end
      before[i] = flat(g)
    end
  end
  return nil
end

-- Runs every program of a fixture file; prints each failure and a summary grouped by cause.
local function replay(file, min_count)
  local progs = load(file)
  lib.check(#progs >= min_count, file .. ": expected at least " .. min_count .. " programs, found " .. #progs)
  local groups, order, failed = {}, {}, 0
  local all = os.getenv("OPTLAB_DIFF_ALL") == "1"
  for _, p in ipairs(progs) do
    local ok, cause, why = pcall(run, p)
    if not ok then cause, why = "replay crashed", first_line(cause) end
    if cause then
      failed = failed + 1
      if all then print(string.format("  differs: '%s': %s: %s", p.name, cause, why)) end
      if not groups[cause] then groups[cause] = { n = 0, examples = {} }; order[#order + 1] = cause end
      local g = groups[cause]
      g.n = g.n + 1
      if #g.examples < 2 then g.examples[#g.examples + 1] = "'" .. p.name .. "': " .. why end
    end
  end
  if failed == 0 then
    print(string.format("  %s: all %d programs agree with PyTorch", file, #progs))
    return
  end
  table.sort(order, function(a, b) return groups[a].n > groups[b].n or (groups[a].n == groups[b].n and a < b) end)
  local lines = { string.format("%s: %d of %d programs differ from PyTorch (tolerance %g relative + %g absolute), %d causes" ..
    " (OPTLAB_DIFF_ALL=1 lists every program):", file, failed, #progs, RTOL, ATOL, #order) }
  for _, c in ipairs(order) do
    lines[#lines + 1] = string.format("  %4d  %s", groups[c].n, c)
    for _, ex in ipairs(groups[c].examples) do lines[#lines + 1] = "          e.g. " .. ex end
  end
  local text = table.concat(lines, "\n")
  print(text)
  error(text, 0)
end

T.random_programs = function() replay("diff_random.txt", 1000) end
T.targeted_cases = function() replay("diff_targeted.txt", 300) end

return T
