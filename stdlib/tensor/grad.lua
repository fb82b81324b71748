-- Shared by the op wrappers of stdlib/tensor/ (arith, views, inplace, reductions, products).
local C = require "optlab.core"
local tensor = require "tensor.base"

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

return { C = C, tensor = tensor, autograd = autograd, M = M, meta = meta, raw = raw, record = record, any = any,
         unbroadcast = unbroadcast, needs = needs, version = version, shape = shape, is_t = is_t,
         tensors = tensors, posdim = posdim, expand_back = expand_back, def = def }
