-- nn's shared ground: the modules it builds on, its two tables (nn and nn.functional)
-- and the argument checks every part uses. The parts: functional, initializers, layers,
-- sequential, models (stdlib/nn/*.lua); stdlib/nn.lua loads them in that order.
local C = require "optlab.core"
local tensor = require "tensor"
local autograd = require "autograd"

local NN = C.nn
local raw = tensor.raw
local record, any, needs = autograd.record, autograd.any, autograd.needs
local is_tensor, raise = C.is_tensor, C.raise

local nn = {}
local F = {}
nn.functional, nn.F = F, F

local help = require "help"
local function document(obj, text)
  help.register(obj, text)
  return obj
end

local function fmt_shape(s)
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

-- A number or {h, w}, each a whole number in lo..2^31-1 (the kernels take C ints): kernel
-- sizes, strides and dilations from 1 (lo = nil), paddings from 0. Checked here, where the
-- user's values arrive, so that stride = 0 is not a division by zero in a shape computation
-- and padding = 4294967297 is not truncated to 1.
local INT_MAX = 2147483647
local function pair(v, what, op, lo)
  lo = lo or 1
  local a, b
  if type(v) == "number" then a, b = v, v
  elseif type(v) == "table" and #v == 2 then a, b = v[1], v[2]
  else raise(op .. ": " .. what .. " must be a number or {h, w}, got " .. tostring(v)) end
  for _, x in ipairs { a, b } do
    if type(x) ~= "number" or x ~= math.floor(x) or x < lo or x > INT_MAX then
      raise(string.format("%s: %s must be a whole number in %d..%d, got %s", op, what, lo, INT_MAX, tostring(x)))
    end
  end
  return math.floor(a), math.floor(b)
end

local function check_tensor(x, op, what)
  if not is_tensor(x) then raise(op .. ": " .. (what or "input") .. " must be a tensor, got " .. type(x)) end
end


return {
  C = C, tensor = tensor, autograd = autograd, NN = NN, raw = raw,
  record = record, any = any, needs = needs, is_tensor = is_tensor, raise = raise,
  nn = nn, F = F, help = help, document = document,
  fmt_shape = fmt_shape, pair = pair, INT_MAX = INT_MAX, check_tensor = check_tensor,
}
