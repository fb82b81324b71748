-- Sizes and indices from users and files: a product, sum or cast that would
-- overflow int64 is an error at the user's line, never a view past the end
-- of its storage (vm/tensor.h: ol_mul64, ol_add64, ol_shape_numel).
local lib = require "lib"
local check, raises = lib.check, lib.raises

local T = {}

local HERE = "test_bounds.lua:"
-- math.maxinteger on Lua 5.4. LuaJIT's numbers are doubles, where 2^63 - 1 rounds to
-- 2^63 (no int64 at all): there the largest double below 2^63 stands in.
local MAXINT = 9223372036854775807 == 2 ^ 63 and 9223372036854774784 or 9223372036854775807

-- The error names this file (the user's line), not a stdlib or C frame.
local function raises_here(fn, pattern, msg)
  local e = raises(fn, pattern, msg)
  check(e:find(HERE, 1, true), (msg or pattern) .. ": error not at the user's line: " .. e)
  return e
end

function T.reshape_whose_product_wraps()
  -- 7 * 7905747460161236407 is 1 modulo 2^64: the old check saw 1 == 1 element
  raises_here(function() local v = tensor.zeros(1):reshape(7, 7905747460161236407); return v end, "too many elements")
  raises_here(function() local v = tensor.zeros(1):view(7, 7905747460161236407); return v end, "too many elements")
  raises_here(function() local v = tensor.zeros(4):reshape(-1, 4611686018427387904, 4); return v end, "too many elements")
  check(#tensor.zeros(6):reshape(-1, 3) == 2, "an ordinary reshape still works")
end

function T.narrow_whose_end_overflows()
  local t = tensor.zeros(3, 4)
  raises_here(function() local v = t:narrow(1, 2, MAXINT); return v end, "out of range")
  raises_here(function() local v = t:narrow(2, -1, MAXINT); return v end, "out of range")
  check(t:narrow(1, 2, 2):shape()[1] == 2, "an ordinary narrow still works")
end

function T.dataset_range_whose_end_overflows()
  local ds = data.blobs { n = 64 }
  raises_here(function() local r = ds:range(1, MAXINT); return r end, "outside a dataset of 64")
  raises_here(function() local r = ds:range(MAXINT, 1); return r end, "outside a dataset of 64")
  check(#ds:range(1, 63) == 63, "an ordinary range still works")
end

function T.zero_dimension_beside_huge_ones()
  -- 0 elements, but the contiguous strides would be 2^124
  raises_here(function() local z = tensor.zeros(0, 4611686018427387904, 4611686018427387904); return z end, "too large")
  raises_here(function() local z = tensor.empty({ 4611686018427387904, 4611686018427387904, 0 }); return z end, "too large")
  raises_here(function() local z = tensor.ones(1):expand(1099511627776, 1099511627776); return z end, "too large")
  check(tensor.zeros(0, 5):reshape(5, 0, 3):numel() == 0, "empty tensors still work")
end

function T.tensor_file_with_zero_and_huge_dimensions()
  local le = lib.le
  local body = "OLTENSOR" .. le(1, 4) .. le(1, 4)       -- version 1, one tensor
    .. le(0, 4) .. le(3, 4)                             -- no name, 3 dimensions
    .. le(0, 8) .. le(2 ^ 62, 8) .. le(2 ^ 62, 8)       -- 0 x 2^62 x 2^62, no data
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(body .. le(lib.crc32(body), 4))
  f:close()
  local e = raises_here(function() local t = tensor.load(path); return t end, "corrupt")
  check(e:find(path, 1, true), "names the file: " .. e)
  os.remove(path)
end

function T.cat_whose_joined_dimension_wraps()
  -- 65536 views of 2^48 elements (expand makes them without memory): the joined
  -- dimension is 2^64, which wrapped to 0 and then cat copied into an empty tensor
  local v = tensor.ones(1):expand(281474976710656)
  local list = {}
  for i = 1, 65536 do list[i] = v end
  raises_here(function() local r = tensor.cat(list, 1); return r end, "cat: the joined dimension 1 is too large")
  check(tensor.cat({ tensor.ones(2), tensor.zeros(3) }, 1):numel() == 5, "an ordinary cat still works")
end

function T.arange_count_out_of_int64_range()
  raises_here(function() local t = tensor.arange(0, 1e30); return t end, "too many elements")
  raises_here(function() local t = tensor.arange(0, 1, 1e-300); return t end, "too many elements")
  raises_here(function() local t = tensor.arange(0, 0 / 0); return t end, "endless range")
  check(tensor.arange(0, 5):numel() == 5, "an ordinary arange still works")
end

function T.optimizer_step_count_out_of_int64_range()
  local p = tensor.ones(3)
  p.grad = tensor.ones(3)
  for _, t in ipairs { 1e300, 2.5, -(0 / 0) } do
    local opt = optim.Adam { lr = 0.1 }
    opt:step { p }
    opt.t = t
    raises_here(function() opt:step { p } end, "step count t must be a whole number")
  end
end

function T.accuracy_label_out_of_int64_range()
  -- train's accuracy without nn (C.train.accuracy_count) cast a float label to int64 unchecked
  local C = require "optlab.core"
  local out = tensor.from { { 1, 0, 0 }, { 0, 1, 0 } }
  for _, bad in ipairs { 1e30, 0 / 0, 2.5, 3, -1 } do
    raises_here(function() return (C.train.accuracy_count(out, tensor.from { bad, 1 })) end, "is not a class id in [0, 3)")
  end
  check(C.train.accuracy_count(out, tensor.from { 0, 2 }) == 1, "one of two right")
end

function T.creation_rejects_what_is_not_a_shape()
  raises_here(function() local t = tensor.zeros("3"); return t end, "dimension 1 is not an integer (got string)")
  raises_here(function() local t = tensor.empty(2, "3"); return t end, "dimension 2 is not an integer")
  raises_here(function() local t = tensor.full(2, 3, "x"); return t end, "fill value must be a number, got string")
  raises_here(function() local t = tensor.zeros(6):reshape(2, "3"); return t end, "dimension 2 is not an integer")
  local t = tensor.full(2, 3, 7)
  check(t:shape()[1] == 2 and t:shape()[2] == 3 and t:get(2, 3) == 7, "full(2, 3, 7) is [2, 3] of 7")
  local g = tensor.full(2, 3, 7, { requires_grad = true })
  check(g.requires_grad and g:get(1, 1) == 7 and #g:shape() == 2, "the options table is not a dimension")
  check(tensor.zeros(2, 3, { requires_grad = true }):numel() == 6, "zeros with options")
end

return T
