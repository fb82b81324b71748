-- Reverse-mode automatic differentiation over tensor ops.
--
-- An op on tensors that require gradients records a node on its output:
-- out._node = { name, inputs, backward }, where backward(gout) returns one
-- gradient per input (nil where none is needed). loss:backward() walks the
-- nodes in reverse topological order, fills .grad on the leaves and frees
-- the tape as it goes. Gradients are never updated in place, so a gradient
-- tensor may be shared between inputs safely.
local C = require "optlab.core"
local M = C.methods

local autograd = { enabled = true }

local FREED = setmetatable({}, { __name = "freed node" })

local function needs(t)
  return type(t) == "userdata" and t.requires_grad == true
end
autograd.needs = needs

-- Record `out` as produced by `name` from `inputs` (a list; numbers and
-- tensors that need no gradient may appear). Returns out.
function autograd.record(out, name, inputs, backward)
  if not autograd.enabled then return out end
  for i = 1, #inputs do
    if needs(inputs[i]) then
      out.requires_grad = true
      out._node = { name = name, inputs = inputs, backward = backward }
      return out
    end
  end
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
  while g:dim() > #shape do g = M.sum(g, 1) end
  for d = 1, #shape do
    if shape[d] == 1 and g:size(d) ~= 1 then g = M.sum(g, d, true) end
  end
  return g
end

local function shape_str(t) return "[" .. table.concat(t:shape(), ", ") .. "]" end

local function topo_order(root)
  local order, seen = {}, {}
  -- iterative DFS: deep graphs (long loops of small ops) must not overflow the C stack
  local stack = { { root, 0 } }
  seen[root] = true
  while #stack > 0 do
    local top = stack[#stack]
    local t, i = top[1], top[2] + 1
    top[2] = i
    local node = t._node
    local inputs = (node and node ~= FREED) and node.inputs or {}
    local nxt = inputs[i]
    if nxt == nil and i > #inputs then
      order[#order + 1] = t
      stack[#stack] = nil
    elseif needs(nxt) and not seen[nxt] then
      seen[nxt] = true
      stack[#stack + 1] = { nxt, 0 }
    end
  end
  return order
end

function autograd.backward(root, grad)
  if not needs(root) then
    C.raise("backward() on a tensor that does not require grad (shape " .. shape_str(root) ..
      "): no parameter or input with requires_grad = true contributed to it")
  end
  if root._node == FREED then
    C.raise("backward() through a graph that was already freed: call backward() once per forward pass")
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
  local order = topo_order(root)
  local grads = { [root] = grad }
  for k = #order, 1, -1 do
    local t = order[k]
    local g = grads[t]
    grads[t] = nil
    local node = t._node
    if node == FREED then
      C.raise("backward() through a graph that was already freed: call backward() once per forward pass")
    end
    if node then
      t._node = FREED
      if g then
        local gin = table.pack(node.backward(g))
        for i, x in ipairs(node.inputs) do
          local gi = gin[i]
          if gi and needs(x) then
            local prev = grads[x]
            grads[x] = prev and prev + gi or gi
          end
        end
      end
    elseif g then
      local prev = t.grad
      t.grad = prev and C.methods.add(prev, g) or g
    end
  end
end

return autograd
