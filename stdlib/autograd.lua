-- Reverse-mode automatic differentiation over tensor ops.
--
-- An op on tensors that require gradients records a node on its output:
-- out._node = { name, edges, backward, saved }, where backward(gout) returns
-- one gradient per input (nil where none is needed). As in PyTorch, a node's
-- edges point at the *nodes* that made its inputs when it was recorded (or
-- at the input itself for a leaf), not at the input tensors: an in-place op
-- that later gives a tensor a new node leaves the graphs recorded before it
-- intact. loss:backward() walks the nodes in reverse topological order,
-- fills .grad on the leaves and frees the tape as it goes.
--
-- Version counters: every in-place write to a storage bumps its _version()
-- (the C side counts). A node remembers the version of each tensor its
-- backward reads (`saved`); backward() refuses to run a node whose saved
-- tensors have been written since, instead of computing a wrong gradient.
local C = require "optlab.core"
local M = C.methods
local raw_add, raw_clone, raw_sum = M.add, M.clone, M.sum
local version = M._version or function() return 0 end

local autograd = { enabled = true }
local fresh = {}

local function needs(t)
  return type(t) == "userdata" and t.requires_grad == true
end
autograd.needs = needs

local function shape_str(t) return "[" .. table.concat(t:shape(), ", ") .. "]" end
autograd.shape_str = shape_str

-- A view recorded while its base needed a gradient remembers the base and
-- how to take the view again (t._base, t._view_fn, t._view_version). When the
-- storage was written in place since, the view's node is stale: it is taken
-- again from the base's current node, as PyTorch regenerates a view's grad_fn.
local refresh_view

local function edge(x)
  if not needs(x) then return false end
  if x._view_fn and refresh_view then refresh_view(x) end
  return x._node or x
end

-- Record `out` as produced by `name` from `inputs` (a list; numbers, nil and
-- tensors that need no gradient may appear; pass n when the list has nil
-- holes). `saved` lists the tensors backward reads (inputs or outputs): an
-- in-place write to any of them before backward() is an error. Returns out.
function autograd.record(out, name, inputs, backward, saved, n)
  if not autograd.enabled then return out end
  n = n or #inputs
  local edges, any = {}, false
  for i = 1, n do
    local e = edge(inputs[i])
    edges[i] = e
    if e then any = true end
  end
  if not any then return out end
  local node = { name = name, edges = edges, n = n, backward = backward }
  if saved then
    local vers = {}
    for k, s in pairs(saved) do vers[k] = version(s) end
    node.saved, node.versions = saved, vers
  end
  out.requires_grad = true
  out._node = node
  return out
end

-- True when any of the (up to three) values needs a gradient and recording is on.
function autograd.any(a, b, c)
  return autograd.enabled and (needs(a) or needs(b) or needs(c))
end

function autograd.no_grad(fn, ...)
  local was = autograd.enabled
  autograd.enabled = false
  local res = table.pack(pcall(fn, ...))
  autograd.enabled = was
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

-- Sum g down to `shape` (undo broadcasting).
function autograd.unbroadcast(g, shape)
  local gs = g:shape()
  if #gs == #shape then
    local same = true
    for i = 1, #gs do if gs[i] ~= shape[i] then same = false break end end
    if same then return g end
  end
  while g:dim() > #shape do g = raw_sum(g, 1) end
  for d = 1, #shape do
    if shape[d] == 1 and g:size(d) ~= 1 then g = raw_sum(g, d, true) end
  end
  return g
end

local function freed()
  C.raise("backward() through a graph that was already freed: call backward() once per forward pass")
end

-- Nodes (tables) and leaves (tensors) reachable from `root`, inputs before users.
local function topo_order(root)
  local order, seen = {}, { [root] = true }
  -- iterative DFS: deep graphs (long loops of small ops) must not overflow the C stack
  local stack = { { root, 0 } }
  while #stack > 0 do
    local top = stack[#stack]
    local x, i = top[1], top[2] + 1
    top[2] = i
    if type(x) ~= "table" or i > x.n then
      order[#order + 1] = x
      stack[#stack] = nil
    else
      if not x.backward then freed() end
      local e = x.edges[i]
      if e and not seen[e] then
        seen[e] = true
        stack[#stack + 1] = { e, 0 }
      end
    end
  end
  return order
end

local function check_versions(node)
  local saved = node.saved
  if not saved then return end
  for k, s in pairs(saved) do
    local v = version(s)
    if v ~= node.versions[k] then
      C.raise(string.format("one of the variables needed for gradient computation has been modified by an inplace operation: " ..
        "the tensor of shape %s that %s saved for backward is at version %d; expected version %d instead " ..
        "(clone() it before the in-place op, or use the out-of-place op)", shape_str(s), node.name, v, node.versions[k]))
    end
  end
end

function autograd.backward(root, grad)
  if not needs(root) then
    C.raise("backward() on a tensor that does not require grad (shape " .. shape_str(root) ..
      "): no parameter or input with requires_grad = true contributed to it")
  end
  if grad == nil then
    if root:numel() ~= 1 then
      C.raise("backward() on a non-scalar tensor of shape " .. shape_str(root) ..
        " needs a gradient argument of the same shape")
    end
    grad = C.full(root:shape(), 1)
  elseif not C.is_tensor(grad) then
    C.raise("backward(grad): grad must be a tensor")
  elseif shape_str(grad) ~= shape_str(root) then
    C.raise("backward(grad): grad of shape " .. shape_str(grad) .. " does not match " .. shape_str(root))
  end
  local start = edge(root)
  if type(start) == "table" and not start.backward then freed() end
  local order = topo_order(start)
  -- every saved tensor is checked before any gradient is computed: an error leaves no partial .grad
  for k = #order, 1, -1 do -- in the order backward runs them, so the first one is named
    if type(order[k]) == "table" then check_versions(order[k]) end
  end
  -- A leaf's .grad is its own tensor, never the one given to backward() nor one
  -- shared with another leaf (x.grad:mul_(2) must change x.grad only). A gradient
  -- is `borrowed` when it may share memory with another: the one given to
  -- backward(), and what a node returns unless its backward is known to return
  -- new tensors (autograd.fresh): add returns g itself to both inputs, views
  -- return views of g. A leaf adopts an unborrowed gradient and copies a borrowed one.
  local grads, borrowed = { [start] = grad }, { [start] = true }
  for k = #order, 1, -1 do
    local x = order[k]
    local g = grads[x]
    grads[x] = nil
    if type(x) == "table" then
      local backward, edges = x.backward, x.edges
      x.backward, x.edges, x.saved = nil, nil, nil -- free the tape as we go
      if g then
        local gin = table.pack(backward(g))
        local lent = not fresh[x.name]
        for i = 1, x.n do
          local gi, e = gin[i], edges[i]
          if gi and e then
            local prev = grads[e]
            if prev then
              grads[e], borrowed[e] = raw_add(prev, gi), false
            else
              grads[e], borrowed[e] = gi, lent
            end
          end
        end
      end
    elseif g then
      local prev = x.grad
      if prev then x.grad = raw_add(prev, g)
      else x.grad = borrowed[x] and raw_clone(g) or g end
    end
  end
end

-- Ops whose backward returns a new tensor for each input, sharing memory with
-- nothing (registered by the modules that define them; see backward()).
function autograd.fresh(...)
  for i = 1, select("#", ...) do fresh[(select(i, ...))] = true end
end

-- Set by tensor.lua (which knows the view ops).
function autograd.set_refresh_view(fn) refresh_view = fn end

return autograd
