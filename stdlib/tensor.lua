-- The tensor module users see: the C core's tensors plus seeded random
-- creation. Autograd (see autograd.lua) wraps the differentiable ops.
local C = require "optlab.core"

local tensor = {}
for _, name in ipairs { "empty", "zeros", "full", "eye", "arange", "linspace", "from", "matmul", "is_tensor", "save", "load" } do
  tensor[name] = C[name]
end
tensor.methods = C.methods

function tensor.ones(...)
  local t = C.zeros(...)
  return t:fill_(1)
end

function tensor.zeros_like(t) return C.zeros(t:shape()) end
function tensor.ones_like(t) return tensor.ones(t:shape()) end

-- Random numbers: a global seed and one stream per call, so a script's
-- numbers depend only on its seed and the order of its calls.
local rng = { seed = 0, stream = 0 }

function tensor.manual_seed(seed)
  if math.type(seed) ~= "integer" or seed < 0 then C.raise("manual_seed: expected a non-negative integer, got " .. tostring(seed)) end
  rng.seed, rng.stream = seed, 0
end

function tensor.seed() return rng.seed end

-- The global generator's position, for checkpoints that resume bit-identically.
function tensor.get_rng_state() return { seed = rng.seed, stream = rng.stream } end
function tensor.set_rng_state(s) rng.seed, rng.stream = s.seed, s.stream end

-- The next stream of the global generator (for modules that draw their own numbers).
function tensor.next_stream()
  rng.stream = rng.stream + 1
  return rng.seed, rng.stream
end

local function shape_and_opts(...)
  local n = select("#", ...)
  local last = select(n, ...)
  if n > 0 and type(last) == "table" and not C.is_tensor(last) and last[1] == nil and next(last) ~= nil then
    return { select(1, ...) }, last, n - 1
  end
  return { ... }, {}, n
end

local function shape_of(args, n)
  if n == 1 and type(args[1]) == "table" then return args[1] end
  local s = {}
  for i = 1, n do s[i] = args[i] end
  return s
end

local function draw(kind, p1, p2)
  return function(...)
    local args, opts, n = shape_and_opts(...)
    local key, stream = opts.seed, opts.stream or 0
    if not key then key, stream = tensor.next_stream() end
    return C.random(kind, shape_of(args, n), key, stream, p1, p2)
  end
end

tensor.rand = draw("uniform", 0, 1)
tensor.randn = draw("normal", 0, 1)

function tensor.uniform(shape, lo, hi, opts)
  opts = opts or {}
  local key, stream = opts.seed, opts.stream or 0
  if not key then key, stream = tensor.next_stream() end
  return C.random("uniform", shape, key, stream, lo or 0, hi or 1)
end

function tensor.normal(shape, mean, std, opts)
  opts = opts or {}
  local key, stream = opts.seed, opts.stream or 0
  if not key then key, stream = tensor.next_stream() end
  return C.random("normal", shape, key, stream, mean or 0, std or 1)
end


-- ---- autograd over the tensor ops ------------------------------------
-- The C methods compute; the wrappers below record how to differentiate.
local autograd = require "autograd"
local M, meta = C.methods, C.meta
local raw = {}
for k, v in pairs(M) do raw[k] = v end
tensor.raw = raw
local record, any, unbroadcast = autograd.record, autograd.any, autograd.unbroadcast

local function shape(x) return type(x) == "number" and {} or x:shape() end

local function def(name, fn) M[name] = fn end

def("add", function(a, b)
  local y = raw.add(a, b)
  if not any(a, b) then return y end
  local sa, sb = shape(a), shape(b)
  return record(y, "add", { a, b }, function(g) return unbroadcast(g, sa), unbroadcast(g, sb) end)
end)
def("sub", function(a, b)
  local y = raw.sub(a, b)
  if not any(a, b) then return y end
  local sa, sb = shape(a), shape(b)
  return record(y, "sub", { a, b }, function(g) return unbroadcast(g, sa), unbroadcast(raw.neg(g), sb) end)
end)
def("mul", function(a, b)
  local y = raw.mul(a, b)
  if not any(a, b) then return y end
  local sa, sb = shape(a), shape(b)
  return record(y, "mul", { a, b }, function(g)
    return unbroadcast(raw.mul(g, b), sa), type(a) == "userdata" and unbroadcast(raw.mul(g, a), sb) or nil
  end)
end)
def("div", function(a, b)
  local y = raw.div(a, b)
  if not any(a, b) then return y end
  local sa, sb = shape(a), shape(b)
  return record(y, "div", { a, b }, function(g)
    local ga = unbroadcast(raw.div(g, b), sa)
    local gb = autograd.needs(b) and unbroadcast(raw.neg(raw.div(raw.mul(g, y), b)), sb) or nil
    return ga, gb
  end)
end)
def("pow", function(a, b)
  local y = raw.pow(a, b)
  if not any(a, b) then return y end
  local sa, sb = shape(a), shape(b)
  return record(y, "pow", { a, b }, function(g)
    local ga = autograd.needs(a) and unbroadcast(raw.mul(g, raw.mul(raw.pow(a, raw.sub(b, 1)), b)), sa) or nil
    local gb = autograd.needs(b) and unbroadcast(raw.mul(g, raw.mul(y, raw.log(a))), sb) or nil
    return ga, gb
  end)
end)
local function minmax(name, pick)
  def(name, function(a, b)
    local y = raw[name](a, b)
    if not any(a, b) then return y end
    local sa, sb = shape(a), shape(b)
    return record(y, name, { a, b }, function(g)
      local mask = raw[pick](a, b) -- ties go to a
      return unbroadcast(raw.mul(g, mask), sa), unbroadcast(raw.mul(g, raw.sub(1, mask)), sb)
    end)
  end)
end
minmax("maximum", "ge")
minmax("minimum", "le")

local function unary(name, dfn)
  def(name, function(a)
    local y = raw[name](a)
    if not any(a) then return y end
    return record(y, name, { a }, function(g) return dfn(g, a, y) end)
  end)
end
unary("neg", function(g) return raw.neg(g) end)
unary("abs", function(g, a) return raw.mul(g, raw.sign(a)) end)
unary("exp", function(g, _, y) return raw.mul(g, y) end)
unary("log", function(g, a) return raw.div(g, a) end)
unary("sqrt", function(g, _, y) return raw.div(raw.mul(g, 0.5), y) end)
unary("square", function(g, a) return raw.mul(g, raw.mul(a, 2)) end)
unary("reciprocal", function(g, _, y) return raw.neg(raw.mul(g, raw.mul(y, y))) end)
unary("tanh", function(g, _, y) return raw.mul(g, raw.sub(1, raw.mul(y, y))) end)
unary("sigmoid", function(g, _, y) return raw.mul(g, raw.mul(y, raw.sub(1, y))) end)
unary("relu", function(g, a) return raw.mul(g, raw.gt(a, 0)) end)
unary("sign", function(g) return raw.mul(g, 0) end)
-- contiguous() of a contiguous tensor is the tensor itself: nothing to record
-- (recording would turn a leaf into its own child).
def("contiguous", function(a)
  local y = raw.contiguous(a)
  if y == a or not any(a) then return y end
  return record(y, "contiguous", { a }, function(g) return g end)
end)
unary("clone", function(g) return g end)

def("clamp", function(a, lo, hi)
  local y = raw.clamp(a, lo, hi)
  if not any(a) then return y end
  return record(y, "clamp", { a }, function(g)
    local inside = raw.eq(y, a)
    return raw.mul(g, inside)
  end)
end)

-- Views: the gradient flows back through the inverse view.
local function view_op(name, inverse)
  def(name, function(a, ...)
    local y = raw[name](a, ...)
    if not any(a) then return y end
    local sa, args = a:shape(), table.pack(...)
    return record(y, name, { a }, function(g) return inverse(g, sa, args) end)
  end)
end
view_op("reshape", function(g, sa) return raw.reshape(g, sa) end)
view_op("view", function(g, sa) return raw.reshape(g, sa) end)
view_op("transpose", function(g, sa, args) return raw.transpose(g, table.unpack(args, 1, args.n)) end)
view_op("t", function(g) return raw.transpose(g) end)
view_op("permute", function(g, sa, args)
  local perm = type(args[1]) == "table" and args[1] or args
  local inv = {}
  for i = 1, #sa do
    local p = perm[i] < 0 and perm[i] + #sa + 1 or perm[i]
    inv[p] = i
  end
  return raw.permute(g, inv)
end)
view_op("unsqueeze", function(g, sa) return raw.reshape(g, sa) end)
view_op("squeeze", function(g, sa) return raw.reshape(g, sa) end)
view_op("expand", function(g, sa) return unbroadcast(g, sa) end)
local function scatter_back(g, sa, fill)
  local z = C.zeros(sa)
  fill(z):copy_(g)
  return z
end
view_op("narrow", function(g, sa, args)
  return scatter_back(g, sa, function(z) return raw.narrow(z, table.unpack(args, 1, args.n)) end)
end)
view_op("select", function(g, sa, args)
  return scatter_back(g, sa, function(z) return raw.select(z, table.unpack(args, 1, args.n)) end)
end)

-- Reductions
def("sum", function(a, dim, keep)
  local y = raw.sum(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "sum", { a }, function(g)
    if dim and not keep then g = raw.unsqueeze(g, dim < 0 and dim + #sa + 1 or dim) end
    return raw.contiguous(raw.expand(g, sa))
  end)
end)
def("mean", function(a, dim, keep)
  local y = raw.mean(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  local n = dim and sa[dim < 0 and dim + #sa + 1 or dim] or a:numel()
  return record(y, "mean", { a }, function(g)
    if dim and not keep then g = raw.unsqueeze(g, dim < 0 and dim + #sa + 1 or dim) end
    return raw.div(raw.contiguous(raw.expand(g, sa)), n)
  end)
end)
local function extremum(name)
  def(name, function(a, dim, keep)
    local y, idx = raw[name](a, dim, keep)
    if not any(a) then return y, idx end
    local sa = a:shape()
    record(y, name, { a }, function(g)
      local yy = y
      if dim and not keep then
        local d = dim < 0 and dim + #sa + 1 or dim
        g, yy = raw.unsqueeze(g, d), raw.unsqueeze(y, d)
      end
      -- gradient to every element equal to the extremum (ties share it)
      local mask = raw.eq(a, raw.expand(yy, sa))
      local count = dim and raw.sum(mask, dim, true) or raw.sum(mask)
      return raw.div(raw.mul(raw.expand(g, sa), mask), dim and raw.expand(count, sa) or count)
    end)
    return y, idx
  end)
end
extremum("max")
extremum("min")

def("norm", function(a)
  local s = M.sum(M.mul(a, a))
  return M.sqrt(s)
end)

def("matmul", function(a, b)
  local y = raw.matmul(a, b)
  if not any(a, b) then return y end
  return record(y, "matmul", { a, b }, function(g)
    local ga, gb
    local a1, b1 = a:dim() == 1, b:dim() == 1
    local g2 = g
    if a1 then g2 = raw.unsqueeze(g2, -2) end
    if b1 then g2 = raw.unsqueeze(g2, -1) end
    local A = a1 and raw.unsqueeze(a, 1) or a
    local B = b1 and raw.unsqueeze(b, -1) or b
    if autograd.needs(a) then
      ga = unbroadcast(raw.matmul(g2, raw.transpose(B, -2, -1)), A:shape())
      ga = raw.reshape(ga, a:shape())
    end
    if autograd.needs(b) then
      gb = unbroadcast(raw.matmul(raw.transpose(A, -2, -1), g2), B:shape())
      gb = raw.reshape(gb, b:shape())
    end
    return ga, gb
  end)
end)
tensor.matmul = M.matmul

def("backward", autograd.backward)
def("detach", function(a) return raw.view(raw.contiguous(a), a:shape()) end)
def("requires_grad_", function(a, on)
  a.requires_grad = on ~= false
  return a
end)

meta.__add = M.add
meta.__sub = M.sub
meta.__mul = M.mul
meta.__div = M.div
meta.__pow = M.pow
meta.__unm = M.neg

tensor.no_grad = autograd.no_grad
tensor.autograd = autograd

-- Creation functions take an options table last: {requires_grad = true}.
-- The C functions see the arguments without it (they reject anything that is
-- not a shape or a value); rand/randn read their own options (seed, stream).
local unpack = table.unpack or unpack
local own_options = { rand = true, randn = true }
for _, name in ipairs { "zeros", "ones", "empty", "rand", "randn", "from", "full", "eye", "arange", "linspace" } do
  local make = tensor[name]
  tensor[name] = function(...)
    local n = select("#", ...)
    local last = n > 0 and select(n, ...) or nil
    if type(last) == "table" and not C.is_tensor(last) and last[1] == nil and last.requires_grad ~= nil then
      local t = own_options[name] and make(...) or make(unpack({ ... }, 1, n - 1))
      t.requires_grad = last.requires_grad and true or nil
      return t
    end
    return make(...)
  end
end

return tensor
