-- Autograd over the in-place ops (PyTorch's rules: versions, leaves, writes through views).
local g = require "tensor.grad"
local C = g.C
local M = g.M
local autograd = g.autograd
local raw = g.raw
local record = g.record
local needs = g.needs
local unbroadcast = g.unbroadcast
local version = g.version
local shape = g.shape
local def = g.def

local views = require "tensor.views"
local remember_view, scatter_back = views.remember_view, views.scatter_back

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

