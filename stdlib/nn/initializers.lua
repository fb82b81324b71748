-- nn.init: the weight initializers (Keras's names and formulas) and make_param, which
-- turns a layer's initializer spec into a parameter tensor.
local base = require "nn.base"
local tensor, NN, raise, is_tensor = base.tensor, base.NN, base.raise, base.is_tensor
local nn, document, fmt_shape = base.nn, base.document, base.fmt_shape

-- ---- initializers (Keras names and formulas) ------------------------------------

local init = {}
nn.init = init
local TRUNC = 0.87962566103423978 -- std of N(0,1) truncated at +-2: Keras divides by it

local function trunc_normal(shape, std)
  local key, stream = tensor.next_stream()
  return NN.truncated_normal(shape, key, stream, std)
end
function init.glorot_uniform(shape, fan_in, fan_out)
  local limit = math.sqrt(6 / (fan_in + fan_out))
  return tensor.uniform(shape, -limit, limit)
end
function init.glorot_normal(shape, fan_in, fan_out) return trunc_normal(shape, math.sqrt(2 / (fan_in + fan_out)) / TRUNC) end
function init.he_uniform(shape, fan_in)
  local limit = math.sqrt(6 / fan_in)
  return tensor.uniform(shape, -limit, limit)
end
function init.he_normal(shape, fan_in) return trunc_normal(shape, math.sqrt(2 / fan_in) / TRUNC) end
function init.lecun_uniform(shape, fan_in)
  local limit = math.sqrt(3 / fan_in)
  return tensor.uniform(shape, -limit, limit)
end
function init.lecun_normal(shape, fan_in) return trunc_normal(shape, math.sqrt(1 / fan_in) / TRUNC) end
function init.zeros(shape) return tensor.zeros(shape) end
function init.ones(shape) return tensor.full(shape, 1) end
-- constant(v) returns an initializer; "constant" as a name uses the layer's `value` option.
function init.constant(v)
  if type(v) == "number" then return function(shape) return tensor.full(shape, v) end end
  raise("init.constant: expected a number, got " .. tostring(v))
end
document(init, [[nn.init: Keras initializers by name, for kernel_initializer / bias_initializer:
  glorot_uniform (kernel default), glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal,
  zeros (bias default), ones, constant (with value = v, or nn.init.constant(v)); or a function
  (shape, fan_in, fan_out) -> tensor. *_normal draw a normal truncated at 2 std, as Keras.
  All draw from the global generator: tensor.manual_seed(s) before building gives identical weights.]])
for _, d in ipairs {
  { "glorot_uniform", "U(-l, l), l = sqrt(6/(fan_in + fan_out))  (Keras's kernel default)" },
  { "glorot_normal", "truncated normal, std sqrt(2/(fan_in + fan_out))" },
  { "he_uniform", "U(-l, l), l = sqrt(6/fan_in)" },
  { "he_normal", "truncated normal, std sqrt(2/fan_in)" },
  { "lecun_uniform", "U(-l, l), l = sqrt(3/fan_in)" },
  { "lecun_normal", "truncated normal, std sqrt(1/fan_in)" },
  { "zeros", "zeros (the bias default)" },
  { "ones", "ones" },
} do document(init[d[1]], "nn.init." .. d[1] .. "(shape, fan_in, fan_out)  " .. d[2]) end
document(init.constant, "nn.init.constant(v)  an initializer filling with v")

local function make_param(spec, value, shape, fan_in, fan_out, what)
  local t
  if type(spec) == "function" then
    t = spec(shape, fan_in, fan_out)
  elseif spec == "constant" then
    t = tensor.full(shape, value or 0)
  elseif type(spec) == "string" and init[spec] and spec ~= "constant" then
    t = init[spec](shape, fan_in, fan_out)
  else
    raise("unknown " .. what .. " '" .. tostring(spec) .. "' (known: glorot_uniform, glorot_normal, he_uniform, " ..
      "he_normal, lecun_uniform, lecun_normal, zeros, ones, constant, or a function)")
  end
  if not is_tensor(t) or fmt_shape(t:shape()) ~= fmt_shape(shape) then
    raise(what .. " must give a tensor of shape " .. fmt_shape(shape))
  end
  t.requires_grad = true
  return t
end


return { make_param = make_param }
