-- Autograd over the views: the gradient flows back through the inverse view.
local g = require "tensor.grad"
local C = g.C
local autograd = g.autograd
local raw = g.raw
local record = g.record
local any = g.any
local needs = g.needs
local unbroadcast = g.unbroadcast
local version = g.version
local posdim = g.posdim
local def = g.def

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

return { remember_view = remember_view, scatter_back = scatter_back, alias = alias }
