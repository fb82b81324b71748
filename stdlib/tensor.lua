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
  if not compat.is_integer(seed) or seed < 0 then C.raise("manual_seed: expected a non-negative integer, got " .. tostring(seed)) end
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
-- Forward and backward of each op sit side by side. Every operand may be a
-- Lua number on either side (2 * x, 2 ^ x): a gradient goes to each operand
-- that needs one, whichever side it is on. `saved` lists what a backward
-- reads, so that an in-place write to it before backward() is caught.
local autograd = require "autograd"
local M, meta = C.methods, C.meta
local raw = {}
for k, v in pairs(M) do raw[k] = v end
tensor.raw = raw
local record, any, unbroadcast, needs = autograd.record, autograd.any, autograd.unbroadcast, autograd.needs
local version = raw._version

local function shape(x) return type(x) == "number" and {} or x:shape() end
local function is_t(x) return type(x) == "userdata" end
-- the tensors among a, b, c (for `saved`)
local function tensors(a, b, c)
  local s = {}
  if is_t(a) then s[#s + 1] = a end
  if is_t(b) then s[#s + 1] = b end
  if is_t(c) then s[#s + 1] = c end
  return s
end
local function posdim(dim, n) return dim < 0 and dim + n + 1 or dim end
-- g reduced over `dim` (or everything) back to the input's shape sa
local function expand_back(g, sa, dim, keep)
  if dim and not keep then g = raw.unsqueeze(g, posdim(dim, #sa)) end
  return raw.expand(g, sa)
end

local function def(name, fn) M[name] = fn end

-- ---- binary ops --------------------------------------------------------
-- add(b, alpha) and sub(b, alpha) are PyTorch's a + alpha*b and a - alpha*b.
local function scaled(b, alpha, name)
  if alpha == nil then return b end
  if type(alpha) ~= "number" then C.raise(name .. "(u, alpha): alpha must be a number, got " .. type(alpha)) end
  return M.mul(b, alpha)
end
def("add", function(a, b, alpha)
  b = scaled(b, alpha, "add")
  local y = raw.add(a, b)
  if not any(a, b) then return y end
  local sa, sb, na, nb = shape(a), shape(b), needs(a), needs(b)
  return record(y, "add", { a, b }, function(g)
    return na and unbroadcast(g, sa) or nil, nb and unbroadcast(g, sb) or nil
  end)
end)
def("sub", function(a, b, alpha)
  b = scaled(b, alpha, "sub")
  local y = raw.sub(a, b)
  if not any(a, b) then return y end
  local sa, sb, na, nb = shape(a), shape(b), needs(a), needs(b)
  return record(y, "sub", { a, b }, function(g)
    return na and unbroadcast(g, sa) or nil, nb and unbroadcast(raw.neg(g), sb) or nil
  end)
end)
def("mul", function(a, b)
  local y = raw.mul(a, b)
  if not any(a, b) then return y end
  local sa, sb, na, nb = shape(a), shape(b), needs(a), needs(b)
  return record(y, "mul", { a, b }, function(g)
    return na and unbroadcast(raw.mul(g, b), sa) or nil, nb and unbroadcast(raw.mul(g, a), sb) or nil
  end, tensors(na and b, nb and a))
end)
def("div", function(a, b)
  local y = raw.div(a, b)
  if not any(a, b) then return y end
  local sa, sb, na, nb = shape(a), shape(b), needs(a), needs(b)
  return record(y, "div", { a, b }, function(g)
    local ga = na and unbroadcast(raw.div(g, b), sa) or nil
    -- d(a/b)/db = -a / b^2 (from a and b, as PyTorch, not from the output)
    local gb = nb and unbroadcast(raw.neg(raw.div(raw.mul(g, a), raw.mul(b, b))), sb) or nil
    return ga, gb
  end, tensors(b, nb and a))
end)
-- x^0 has gradient 0 even at x = 0, and 0^b (b >= 0) has exponent gradient 0,
-- as in PyTorch: the masks below replace the 0 * inf that would give NaN.
def("pow", function(a, b)
  local y = raw.pow(a, b)
  if not any(a, b) then return y end
  local sa, sb, na, nb = shape(a), shape(b), needs(a), needs(b)
  return record(y, "pow", { a, b }, function(g)
    local ga, gb
    if na then
      if type(b) == "number" then
        ga = b == 0 and raw.mul(g, 0) or raw.mul(g, raw.mul(raw.pow(a, b - 1), b))
      else -- where b == 0 the exponent b - 1 becomes 0 (a finite a^0), times b = 0
        local e = raw.add(raw.sub(b, 1), raw.eq(b, 0))
        ga = raw.mul(g, raw.mul(raw.pow(a, e), b))
      end
      ga = unbroadcast(ga, sa)
    end
    if nb then
      local la
      if type(a) == "number" then -- 0^b: log read as 0 where b >= 0, -inf where b < 0
        la = a == 0 and raw.log(raw.ge(b, 0)) or math.log(a)
      else -- log(a), with a == 0 and b >= 0 read as log(1) = 0
        la = raw.log(raw.add(a, raw.mul(raw.eq(a, 0), raw.ge(b, 0))))
      end
      gb = unbroadcast(raw.mul(g, raw.mul(y, la)), sb)
    end
    return ga, gb
  end, tensors(a, b, nb and y))
end)
-- a % b, floored (the sign of b), as Lua's % and torch.remainder.
def("remainder", function(a, b)
  local y = raw.remainder(a, b)
  if not any(a, b) then return y end
  local sa, sb, na, nb = shape(a), shape(b), needs(a), needs(b)
  return record(y, "remainder", { a, b }, function(g)
    local gb
    if nb then -- d/db = -q, q the floored quotient of the forward (a = q b + a % b), taken
      -- anew from a and b (saved, as PyTorch; not the output, which may be written since)
      local q = raw.round(raw.div(raw.sub(a, raw.remainder(a, b)), b))
      gb = unbroadcast(raw.neg(raw.mul(g, q)), sb)
    end
    return na and unbroadcast(g, sa) or nil, gb
  end, nb and tensors(a, b) or nil)
end)
-- ties split the gradient in half, as torch.maximum/minimum
local function minmax(name, wins)
  def(name, function(a, b)
    local y = raw[name](a, b)
    if not any(a, b) then return y end
    local sa, sb = shape(a), shape(b)
    return record(y, name, { a, b }, function(g)
      local wa = raw.add(raw[wins](a, b), raw.mul(raw.eq(a, b), 0.5)) -- 1 where a wins, 0.5 on a tie
      local ga = needs(a) and unbroadcast(raw.mul(g, wa), sa) or nil
      local gb = needs(b) and unbroadcast(raw.mul(g, raw.sub(1, wa)), sb) or nil
      return ga, gb
    end, tensors(a, b))
  end)
end
minmax("maximum", "gt")
minmax("minimum", "lt")

-- ---- unary ops ---------------------------------------------------------
-- dfn(g, a, y); save: "a" or "y" (what dfn reads), nil for nothing.
local function unary(name, save, dfn)
  if not raw[name] then return end
  def(name, function(a)
    local y = raw[name](a)
    if not any(a) then return y end
    return record(y, name, { a }, function(g) return dfn(g, a, y) end,
      save == "a" and { a } or save == "y" and { y } or nil)
  end)
end
local function zero_grad(g) return raw.mul(g, 0) end
unary("neg", nil, function(g) return raw.neg(g) end)
unary("abs", "a", function(g, a) return raw.mul(g, raw.sign(a)) end)
unary("exp", "y", function(g, _, y) return raw.mul(g, y) end)
unary("log", "a", function(g, a) return raw.div(g, a) end)
unary("sqrt", "y", function(g, _, y) return raw.div(raw.mul(g, 0.5), y) end)
unary("square", "a", function(g, a) return raw.mul(g, raw.mul(a, 2)) end)
unary("reciprocal", "y", function(g, _, y) return raw.neg(raw.mul(g, raw.mul(y, y))) end)
unary("tanh", "y", function(g, _, y) return raw.mul(g, raw.sub(1, raw.mul(y, y))) end)
unary("sigmoid", "y", function(g, _, y) return raw.mul(g, raw.mul(y, raw.sub(1, y))) end)
unary("relu", "y", function(g, _, y) return raw.mul(g, raw.gt(y, 0)) end)
unary("sin", "a", function(g, a) return raw.mul(g, raw.cos(a)) end)
unary("cos", "a", function(g, a) return raw.neg(raw.mul(g, raw.sin(a))) end)
unary("sign", nil, zero_grad)
unary("floor", nil, zero_grad)
unary("round", nil, zero_grad)
unary("clone", nil, function(g) return g end)
-- contiguous() of a contiguous tensor is the tensor itself: nothing to record
-- (recording would turn a leaf into its own child).
def("contiguous", function(a)
  local y = raw.contiguous(a)
  if y == a or not any(a) then return y end
  return record(y, "contiguous", { a }, function(g) return g end)
end)

-- the gradient passes where lo <= a <= hi (bounds included, as PyTorch)
def("clamp", function(a, lo, hi)
  local y = raw.clamp(a, lo, hi)
  if not any(a) then return y end
  return record(y, "clamp", { a }, function(g)
    local m = g
    if lo then m = raw.mul(m, raw.ge(a, lo)) end
    if hi then m = raw.mul(m, raw.le(a, hi)) end
    return m == g and raw.clone(g) or m
  end, { a })
end)

-- where(cond, a, b): a where cond ~= 0, else b.
local function where(cond, a, b)
  local y = C.where(cond, a, b)
  if not any(a, b) then return y end
  local sa, sb = shape(a), shape(b)
  return record(y, "where", { cond, a, b }, function(g)
    local m = raw.ne(cond, 0)
    local ga = needs(a) and unbroadcast(raw.mul(raw.expand(m, g:shape()), g), sa) or nil
    local gb = needs(b) and unbroadcast(raw.mul(raw.sub(1, raw.expand(m, g:shape())), g), sb) or nil
    return nil, ga, gb
  end, { cond })
end
tensor.where = where

-- ---- views -------------------------------------------------------------
-- The gradient flows back through the inverse view. A view of a tensor that
-- needs a gradient also remembers its base (the tensor that owns the memory)
-- and how to take the view again, for in-place ops on views (see inplace).
local function remember_view(y, a, take, back)
  local base, pf, pb = a._base, a._view_fn, a._view_back
  if base then -- a is itself a view: compose
    y._base = base
    y._view_fn = function(b) return take(pf(b)) end
    y._view_back = function(g) return pb(back(g)) end
  else
    y._base = a
    y._view_fn = take
    y._view_back = back
  end
  y._view_version = version(y)
end

-- slices: a narrow or select of a plain tensor remembers it too, so that an
-- in-place op writing a value that needs a gradient into the slice
-- (out:narrow(2, k, 1):copy_(x)) takes the tensor into the graph, as in PyTorch.
local function view_op(name, inverse, is_view, slices)
  def(name, function(a, ...)
    local y = raw[name](a, ...)
    local recording = any(a)
    if not recording and not (slices and autograd.enabled) then return y end
    local sa, args = a:shape(), table.pack(...)
    local function back(g) return inverse(g, sa, args) end
    if recording then record(y, name, { a }, back) end
    if autograd.enabled and (not is_view or is_view(a)) then
      remember_view(y, a, function(b) return raw[name](b, table.unpack(args, 1, args.n)) end, back)
    end
    return y
  end)
end
local function contiguous_input(a) return a:is_contiguous() end
view_op("reshape", function(g, sa) return raw.reshape(g, sa) end, contiguous_input) -- a copy otherwise
view_op("view", function(g, sa) return raw.reshape(g, sa) end)
view_op("transpose", function(g, sa, args) return raw.transpose(g, table.unpack(args, 1, args.n)) end)
view_op("t", function(g) return raw.transpose(g) end)
view_op("permute", function(g, sa, args)
  local perm = type(args[1]) == "table" and args[1] or args
  local inv = {}
  for i = 1, #sa do inv[posdim(perm[i], #sa)] = i end
  return raw.permute(g, inv)
end)
view_op("unsqueeze", function(g, sa) return raw.reshape(g, sa) end)
view_op("squeeze", function(g, sa) return raw.reshape(g, sa) end)
view_op("expand", function(g, sa) return unbroadcast(g, sa) end)
local function scatter_back(g, sa, fill)
  local z = C.zeros(sa)
  raw.copy_(fill(z), g)
  return z
end
view_op("narrow", function(g, sa, args)
  return scatter_back(g, sa, function(z) return raw.narrow(z, table.unpack(args, 1, args.n)) end)
end, nil, true)
view_op("select", function(g, sa, args)
  return scatter_back(g, sa, function(z) return raw.select(z, table.unpack(args, 1, args.n)) end)
end, nil, true)

-- A view whose storage was written in place since it was taken gets its node
-- anew from its base (whose node the in-place op replaced).
autograd.set_refresh_view(function(v)
  if version(v) == v._view_version then return end
  local base = v._base
  v._node = nil
  record(v, "view", { base }, v._view_back)
  v._view_version = version(v)
end)

-- A tensor sharing storage and strides with t, recording nothing.
local function alias(t) return raw.expand(t, t:shape()) end

-- ---- in-place ops --------------------------------------------------------
-- Outside no_grad an in-place op is recorded as PyTorch does: y = x * 2;
-- y:mul_(3) gives x a gradient of 6, and acc:add_(x) carries x's gradient into
-- acc. The value comes from the fused C op; the node from `twin`, the op's
-- out-of-place form applied to a copy of the old value (so what the node
-- saves is never overwritten). On a view, the base gets a node that routes
-- the gradient of the written region through the op and the rest past it.
-- On a leaf that requires grad (or a view of one) it is an error: that is
-- what tensor.no_grad is for (optimizers update parameters inside it).
local function any_needs(...)
  for i = 1, select("#", ...) do
    if needs((select(i, ...))) then return true end
  end
  return false
end

local function leaf_error(t, name, view)
  C.raise((view and "a view of a leaf tensor" or "a leaf tensor") .. " that requires grad (shape " ..
    autograd.shape_str(t) .. ") is being used in an in-place operation (" .. name ..
    "): wrap the update in tensor.no_grad(function() ... end), or clone() the tensor first")
end

local function inplace(name, twin)
  local op = raw[name]
  if not op then return end
  def(name, function(t, ...)
    if not autograd.enabled or not (needs(t) or any_needs(...)) then return op(t, ...) end
    local base = t._base
    if needs(t) then
      if not t._node then leaf_error(t, name) end
      if base and not base._node then leaf_error(base, name, true) end
    end
    local y = twin(M.clone(t), ...) -- records the edge to t's current node
    op(t, ...)
    if not base then
      t._node, t.requires_grad = y._node, y.requires_grad
      return t
    end
    -- t is a view of base: base's new value is its old one with t's region replaced by y
    local take = t._view_fn
    record(base, name .. " (on a view)", { base, y }, function(g)
      local gb = raw.clone(g)
      raw.fill_(take(gb), 0)
      return gb, raw.clone(take(g))
    end)
    t._node = nil
    record(t, "view", { base }, t._view_back)
    t._view_version = version(t)
    return t
  end)
end

local function scaled(u, alpha)
  if alpha == nil then return u end
  if type(u) == "number" then return u * alpha end
  return M.mul(u, alpha)
end
inplace("add_", function(old, u, alpha) return M.add(old, scaled(u, alpha)) end)
inplace("sub_", function(old, u, alpha) return M.sub(old, scaled(u, alpha)) end)
for _, name in ipairs { "mul", "div", "pow", "maximum", "minimum", "remainder" } do
  inplace(name .. "_", function(old, u) return M[name](old, u) end)
end
for _, name in ipairs { "neg", "abs", "exp", "log", "sqrt", "sign", "square", "reciprocal", "tanh",
  "sigmoid", "relu", "sin", "cos", "floor", "round" } do
  inplace(name .. "_", function(old) return M[name](old) end)
end
inplace("clamp_", function(old, lo, hi) return M.clamp(old, lo, hi) end)
inplace("addcmul_", function(old, t1, t2, value) return M.add(old, scaled(M.mul(t1, t2), value)) end)
inplace("addcdiv_", function(old, t1, t2, value) return M.add(old, scaled(M.div(t1, t2), value)) end)
inplace("lerp_", function(old, e, w) return M.add(old, M.mul(w, M.sub(e, old))) end)
inplace("copy_", function(old, src)
  local so = shape(src)
  return record(C.empty(old:shape()), "copy_", { old, src }, function(g) return nil, unbroadcast(g, so) end)
end)
-- scatter_add_(dim, index, src): the old value passes g on; src gets g gathered at index
inplace("scatter_add_", function(old, dim, index, src)
  return record(C.empty(old:shape()), "scatter_add_", { old, src }, function(g)
    return g, needs(src) and raw.gather(g, dim, index) or nil
  end, { index })
end)
-- ops whose result does not depend on the old value or on anything differentiable
local function overwrite(old)
  return record(C.empty(old:shape()), "overwrite", { old }, function() return nil end)
end
for _, name in ipairs { "fill_", "zero_", "eq_", "ne_", "lt_", "le_", "gt_", "ge_" } do
  inplace(name, overwrite)
end

-- t[i] = v (vm/ltensor.c calls this for 2+ dims, or when t requires grad): a
-- fill_ or copy_ into t:select(1, i). When v needs a gradient and t does not,
-- the view remembers t, so that t joins the graph (t = zeros(n, d); t[i] = row).
def("_setindex", function(t, i, v)
  local view
  if autograd.enabled and needs(v) and not needs(t) then
    view = raw.select(t, 1, i)
    local st = t:shape()
    local function take(b) return raw.select(b, 1, i) end
    remember_view(view, t, take, function(g) return scatter_back(g, st, take) end)
  else
    view = M.select(t, 1, i)
  end
  if type(v) == "number" then M.fill_(view, v) else M.copy_(view, v) end
end)

-- t:set(i, j, ..., v) on a tensor in the graph is a fill_ of a 0-d view: recorded,
-- or refused on a leaf, like t[i] = v (see t_newindex in vm/ltensor.c).
def("set", function(t, ...)
  local n = select("#", ...)
  if not autograd.enabled or not needs(t) or n - 1 ~= t:dim() then return raw.set(t, ...) end
  local v = t
  for i = 1, n - 1 do v = M.select(v, 1, (select(i, ...))) end
  M.fill_(v, (select(n, ...)))
  return t
end)

-- ---- reductions --------------------------------------------------------
def("sum", function(a, dim, keep)
  local y = raw.sum(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "sum", { a }, function(g) return raw.contiguous(expand_back(g, sa, dim, keep)) end)
end)
def("mean", function(a, dim, keep)
  local y = raw.mean(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  local n = dim and sa[posdim(dim, #sa)] or a:numel()
  return record(y, "mean", { a }, function(g) return raw.div(expand_back(g, sa, dim, keep), n) end)
end)
def("sumsq", function(a, dim, keep)
  local y = raw.sumsq(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "sumsq", { a }, function(g) return raw.mul(raw.mul(expand_back(g, sa, dim, keep), a), 2) end, { a })
end)

-- max/min over everything: ties share the gradient evenly (torch's max());
-- along a dim: the gradient goes to the index returned (torch's max(dim)).
local function extremum(name)
  def(name, function(a, dim, keep)
    local y, idx = raw[name](a, dim, keep)
    if not any(a) then return y, idx end
    local sa = a:shape()
    record(y, name, { a }, function(g)
      if not dim then
        local mask = raw.eq(a, y)
        return raw.mul(mask, raw.div(g, raw.sum(mask)))
      end
      local d = posdim(dim, #sa)
      local ii = keep and idx or raw.unsqueeze(idx, d)
      local pos = {}
      for i = 1, #sa do pos[i] = 1 end
      pos[d] = sa[d]
      local onehot = raw.eq(raw.reshape(C.arange(1, sa[d] + 1), pos), ii)
      return raw.mul(onehot, expand_back(g, sa, dim, keep))
    end, dim and { idx } or { a, y }) -- what PyTorch saves: the indices, or input and result
    return y, idx
  end)
end
extremum("max")
extremum("min")

-- norm(p = 2, dim, keep): (sum |a|^p)^(1/p); p = math.huge is the max norm,
-- -math.huge the min, 0 counts the nonzeros. The gradient of a zero norm is 0
-- (PyTorch's subgradient), not NaN.
def("norm", function(a, p, dim, keep)
  p = p or 2
  if type(p) ~= "number" or p ~= p then C.raise("norm: p must be a number, got " .. tostring(p)) end
  local y = raw.norm(a, p, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "norm", { a }, function(g)
    local ge, ye = expand_back(g, sa, dim, keep), expand_back(y, sa, dim, keep)
    if p == 0 then return raw.mul(ge, 0) end
    if p == 1 then return raw.mul(ge, raw.sign(a)) end
    if p == math.huge or p == -math.huge then
      local mask = raw.eq(raw.abs(a), ye)
      local count = expand_back(raw.sum(mask, dim, keep), sa, dim, keep)
      return raw.div(raw.mul(raw.mul(ge, raw.sign(a)), mask), count)
    end
    local ysafe = raw.add(ye, raw.eq(ye, 0)) -- where the norm is 0, a is 0 too: gradient 0
    if p == 2 then return raw.mul(a, raw.div(ge, ysafe)) end
    -- sign(a) |a|^(p-1) / norm^(p-1)
    local num = raw.mul(raw.sign(a), raw.pow(raw.abs(a), p - 1))
    return raw.mul(ge, raw.div(num, raw.pow(ysafe, p - 1)))
  end, { a, y })
end)

-- logsumexp(dim, keep): d/da = exp(a - y), the softmax along dim.
def("logsumexp", function(a, dim, keep)
  local y = raw.logsumexp(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "logsumexp", { a }, function(g)
    return raw.mul(expand_back(g, sa, dim, keep), raw.exp(raw.sub(a, expand_back(y, sa, dim, keep))))
  end, { a, y })
end)

-- var/std([dim [, keep [, correction = 1]]]): dim nil = over all elements.
-- d var/da = 2 (a - mean) / (n - correction); d std/da = that / (2 std).
local function count_of(sa, dim)
  if not dim then
    local n = 1
    for i = 1, #sa do n = n * sa[i] end
    return n
  end
  return sa[posdim(dim, #sa)]
end
local function centered(a, dim)
  return raw.sub(a, dim and raw.mean(a, dim, true) or raw.mean(a))
end
def("var", function(a, dim, keep, correction)
  local corr = correction or 1
  local y = raw.var(a, dim, keep, corr)
  if not any(a) then return y end
  local sa = a:shape()
  local n = count_of(sa, dim)
  return record(y, "var", { a }, function(g)
    return raw.mul(expand_back(g, sa, dim, keep), raw.mul(centered(a, dim), 2 / (n - corr)))
  end, { a })
end)
def("std", function(a, dim, keep, correction)
  local corr = correction or 1
  local y = raw.std(a, dim, keep, corr)
  if not any(a) then return y end
  local sa = a:shape()
  local n = count_of(sa, dim)
  return record(y, "std", { a }, function(g)
    -- a zero std (all values equal) has gradient 0, as PyTorch's masked_fill
    local ye = expand_back(y, sa, dim, keep)
    local ysafe = raw.add(ye, raw.eq(ye, 0))
    return raw.div(raw.mul(expand_back(g, sa, dim, keep), centered(a, dim)), raw.mul(ysafe, n - corr))
  end, { a, y })
end)

-- cumsum(dim): the gradient is the reversed cumulative sum of g.
def("cumsum", function(a, dim)
  if dim == nil then C.raise("cumsum: dim is required") end
  local y = raw.cumsum(a, dim)
  if not any(a) then return y end
  return record(y, "cumsum", { a }, function(g)
    -- sum from i to the end = total - (sum up to i) + g_i
    return raw.add(raw.sub(raw.sum(g, dim, true), raw.cumsum(g, dim)), g)
  end)
end)

-- prod([dim [, keep]]): d/da_i = the product of the others, zeros included
-- (one zero: only that element has a gradient; two or more: none has).
def("prod", function(a, dim, keep)
  local y = raw.prod(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "prod", { a }, function(g)
    local z = raw.eq(a, 0)
    local a1 = raw.add(a, z) -- zeros read as ones
    local pn = dim and raw.prod(a1, dim, true) or raw.prod(a1)
    local nz = dim and raw.sum(z, dim, true) or raw.sum(z)
    local at_nonzero = raw.mul(raw.div(pn, a1), raw.eq(nz, 0))
    local at_zero = raw.mul(pn, raw.eq(nz, 1))
    local d = raw.add(raw.mul(z, at_zero), raw.mul(raw.sub(1, z), at_nonzero))
    return raw.mul(expand_back(g, sa, dim, keep), d)
  end, { a, y }) -- y unread, but saved as PyTorch does, so the same writes are errors
end)

-- ---- products ------------------------------------------------------------
def("matmul", function(a, b)
  local y = raw.matmul(a, b)
  if not any(a, b) then return y end
  return record(y, "matmul", { a, b }, function(g)
    local ga, gb
    local a1, b1 = a:dim() == 1, b:dim() == 1
    if a1 and b1 then -- a dot product: g is a 0-d tensor
      return needs(a) and raw.mul(b, g) or nil, needs(b) and raw.mul(a, g) or nil
    end
    local g2 = g
    if a1 then g2 = raw.unsqueeze(g2, -2) end
    if b1 then g2 = raw.unsqueeze(g2, -1) end
    local A = a1 and raw.unsqueeze(a, 1) or a
    local B = b1 and raw.unsqueeze(b, -1) or b
    if needs(a) then
      ga = unbroadcast(raw.matmul(g2, raw.transpose(B, -2, -1)), A:shape())
      ga = raw.reshape(ga, a:shape())
    end
    if needs(b) then
      gb = unbroadcast(raw.matmul(raw.transpose(A, -2, -1), g2), B:shape())
      gb = raw.reshape(gb, b:shape())
    end
    return ga, gb
  end, tensors(needs(b) and a, needs(a) and b))
end)
tensor.matmul = M.matmul

def("dot", function(a, b)
  local y = raw.dot(a, b)
  if not any(a, b) then return y end
  return record(y, "dot", { a, b }, function(g)
    return needs(a) and raw.mul(b, g) or nil, needs(b) and raw.mul(a, g) or nil
  end, tensors(needs(b) and a, needs(a) and b))
end)
tensor.dot = M.dot

-- gather(dim, index): the gradient of t is g summed into the positions index names.
def("gather", function(a, dim, index)
  local y = raw.gather(a, dim, index)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "gather", { a }, function(g)
    return raw.scatter_add_(C.zeros(sa), dim, index, g)
  end, { index })
end)

-- cat(list, dim = 1) and stack(list, dim = 1): each input gets its slice of g.
local function join(name, list, dim)
  dim = dim or 1
  local y = C[name](list, dim)
  local needed = false
  for i = 1, #list do if needs(list[i]) then needed = true end end
  if not needed or not autograd.enabled then return y end
  local d = posdim(dim, y:dim())
  local n = #list
  local sizes = {}
  for i = 1, n do sizes[i] = name == "cat" and list[i]:size(d) or 1 end
  return record(y, name, list, function(g)
    local out, at = {}, 1
    for i = 1, n do
      out[i] = name == "cat" and raw.contiguous(raw.narrow(g, d, at, sizes[i])) or raw.contiguous(raw.select(g, d, i))
      at = at + sizes[i]
    end
    return table.unpack(out, 1, n)
  end, nil, n)
end
function tensor.cat(list, dim) return join("cat", list, dim) end
function tensor.stack(list, dim) return join("stack", list, dim) end
tensor.maximum, tensor.minimum = M.maximum, M.minimum

-- backward functions above that return new tensors only (see autograd.backward)
autograd.fresh("mul", "div", "pow", "maximum", "minimum", "neg", "abs", "exp", "log", "sqrt", "square",
  "reciprocal", "tanh", "sigmoid", "relu", "sin", "cos", "sign", "floor", "round", "where", "narrow",
  "select", "mean", "sumsq", "max", "min", "norm", "logsumexp", "var", "std", "cumsum", "prod",
  "matmul", "dot", "gather")

def("backward", autograd.backward)
-- detach(): the same memory, strides included, with no history.
def("detach", function(a) return alias(a) end)
def("requires_grad_", function(a, on)
  a.requires_grad = on ~= false
  return a
end)

meta.__add = M.add
meta.__sub = M.sub
meta.__mul = M.mul
meta.__div = M.div
meta.__pow = M.pow
meta.__mod = M.remainder
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

require("ffi_tensor")(tensor)  -- t:ffi(), tensor.kernels() (LuaJIT)

return tensor
