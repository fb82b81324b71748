-- Argument checks of the C bindings (vm/lcheck.h, shared by every vm/l*.c):
-- a bad argument is an error at the user's line that names the operation
-- and the argument, never "bad argument #3 to '?'", a truncation or a
-- value passed on unchecked.
local lib = require "lib"
local check, raises = lib.check, lib.raises
local C = require "optlab.core"

local T = {}

local HERE = "test_bindings.lua:"

local function raises_here(fn, pattern)
  local e = raises(fn, pattern)
  check(e:find(HERE, 1, true), pattern .. ": error not at the user's line: " .. e)
  return e
end

function T.integer_arguments_name_the_operation_and_the_argument()
  raises_here(function() sys.set_threads(2.5) end, "set_threads: thread count must be an integer, got 2.5")
  raises_here(function() sys.set_threads("two") end, "set_threads: thread count must be an integer, got string")
  raises_here(function() sys.set_threads(0) end, "set_threads: thread count out of range, expected 1..1024, got 0")
  raises_here(function() data.blobs { n = 10.5 } end, "data.blobs: n must be an integer, got 10.5")
  raises_here(function() data.blobs { features = 0 } end, "data.blobs: features out of range, expected 1..65536, got 0")
  raises_here(function() sys.set_exit_status(256) end, "set_exit_status: exit status out of range, expected 0..255, got 256")
  -- an integral float is an integer on both VMs (Lua 5.4 refused 2.0 as a dropout key, LuaJIT took it)
  local x = tensor.ones(8)
  local y1 = C.nn.dropout_forward(x, 0.5, 2.0, 1)
  local y2 = C.nn.dropout_forward(x, 0.5, 2, 1)
  lib.identical(y1, y2, "key 2.0 is key 2")
end

function T.optional_numbers_are_checked_not_coerced_or_passed_on()
  local x = tensor.ones(4)
  raises_here(function() C.nn.leaky_relu_forward(x, "big") end, "leaky_relu: negative_slope must be a number, got string")
  raises_here(function() C.nn.batch_norm_eval(tensor.ones(4, 2), nil, nil, tensor.zeros(2), tensor.ones(2), {}) end,
    "batch_norm (eval): eps must be a number, got table")
  -- gelu's approximate is 0 (erf) or 1 (tanh): 7 was handed to the kernel as is
  raises_here(function() C.nn.gelu_forward(x, 7) end, "gelu: approximate out of range, expected 0..1, got 7")
  check(C.nn.leaky_relu_forward(x * -1, 0.5):totable()[1] == -0.5, "a good slope still works")
end

function T.in_place_and_same_shape_arguments()
  local p, v, s = tensor.zeros(2, 3), tensor.ones(3, 2), tensor.zeros(2, 3)
  raises_here(function() C.optim.nesterov_point(p, v, s, 0.9) end,
    "optim_nesterov_point: parameter [2, 3] and velocity [3, 2] must have the same shape")
  raises_here(function() C.optim.clip_value(tensor.ones(2, 3):t(), 1) end,
    "optim_clip_value: the gradient (shape [3, 2]) is updated in place and must be contiguous")
  raises_here(function() C.optim.clip_value(5, 1) end, "optim_clip_value: the gradient must be a tensor, got number")
  -- a view is fine where the kernel only reads it: copied, not refused
  C.optim.nesterov_point(p, v:t(), s, 0.5)
  check(p:sum():item() == 3 and s:sum():item() == 0, "p += 0.5 v through a transposed velocity")
  raises_here(function() nn.F.mse(tensor.ones(2), tensor.ones(3)) end, "mse: input [2] and target [3] must have the same shape")
end

return T
