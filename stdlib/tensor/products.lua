-- Autograd over the products and joins: matmul, dot, cat, stack, gather, detach.
local g = require "tensor.grad"
local C = g.C
local tensor = g.tensor
local M = g.M
local autograd = g.autograd
local raw = g.raw
local record = g.record
local any = g.any
local needs = g.needs
local unbroadcast = g.unbroadcast
local posdim = g.posdim
local tensors = g.tensors
local def = g.def

local alias = require "tensor.views".alias

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
