-- The tensor module users see: the C core's tensors plus seeded random
-- creation. Autograd (see autograd.lua) wraps the differentiable ops.
--
-- This file is what `require "tensor"` loads; the code lives in stdlib/tensor/ by concern:
--   base.lua        the tensor table, creation functions, the global random generator
--   grad.lua        what the op wrappers share (raw methods, the tape's helpers)
--   arith.lua       binary and unary ops, where
--   views.lua       views (transpose, narrow, select, reshape, indexing, ...)
--   inplace.lua     in-place ops
--   reductions.lua  sums, means, extrema, var/std, cumsum, prod, norms
--   products.lua    matmul, dot, cat, stack, gather, detach
-- Forward and backward of each op sit side by side in those files.
local C = require "optlab.core"
local tensor = require "tensor.base"
local g = require "tensor.grad"
local M, meta, autograd = g.M, g.meta, g.autograd
require "tensor.arith"
require "tensor.views"
require "tensor.inplace"
require "tensor.reductions"
require "tensor.products"


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
