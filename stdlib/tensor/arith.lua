-- Autograd over the element-wise ops: binary ops (numbers on either side), unary ops, where.
local g = require "tensor.grad"
local C = g.C
local tensor = g.tensor
local M = g.M
local raw = g.raw
local record = g.record
local any = g.any
local needs = g.needs
local unbroadcast = g.unbroadcast
local shape = g.shape
local tensors = g.tensors
local def = g.def

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

