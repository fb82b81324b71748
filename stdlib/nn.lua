-- nn: layers, models and the functional ops they are made of.
--
-- nn.functional (also nn.F) wraps the C kernels of vm/lnn.c: each op runs its
-- forward in C and, when an input needs a gradient, records on the autograd
-- tape a closure that calls the C backward. Layers are small Lua objects
-- (Torch7 style) with forward(x) and parameters(); nn.Sequential chains them
-- and infers shapes from `input` as Keras does. Layout is NCHW (PyTorch);
-- class labels are 0-based class ids (the data's own ids), as in Keras and
-- PyTorch, not Lua's 1-based indices.
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

-- Help texts: registered with stdlib/help.lua when it exists, else kept in `doc`.
local help
if package.searchpath("help", package.path) then
  local ok, h = pcall(require, "help")
  if ok and type(h) == "table" and h.register then help = h end
end
local function document(obj, text)
  if help then help.register(obj, text)
  elseif type(obj) == "table" then rawset(obj, "doc", text) end
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

-- ---- activations -------------------------------------------------------

-- Element-wise ops whose C backward takes x (relu, leaky_relu, elu, gelu) or y (tanh, sigmoid).
local function elementwise(name, from_y)
  local fwd, bwd = NN[name .. "_forward"], NN[name .. "_backward"]
  return function(x, param)
    check_tensor(x, name)
    local y = fwd(x, param)
    if not any(x) then return y end
    local saved = from_y and y or x
    return record(y, name, { x }, function(g) return bwd(saved, g, param) end, { saved })
  end
end

F.relu = elementwise("relu", true) -- y > 0 exactly where x > 0; saving y, as PyTorch, leaves x free to change
local leaky, elu, gelu = elementwise("leaky_relu"), elementwise("elu"), elementwise("gelu")
function F.leaky_relu(x, negative_slope) return leaky(x, negative_slope or 0.01) end
function F.elu(x, alpha) return elu(x, alpha or 1.0) end
-- approximate: "none" (exact erf form, default) or "tanh", as PyTorch.
function F.gelu(x, approximate)
  if approximate ~= nil and approximate ~= "none" and approximate ~= "tanh" then
    raise("gelu: approximate must be 'none' or 'tanh', got " .. tostring(approximate))
  end
  return gelu(x, approximate == "tanh" and 1 or 0)
end
F.tanh = elementwise("tanh", true)
F.sigmoid = elementwise("sigmoid", true)

-- Row-wise ops over dimension `dim` (default: the last); other dims go through
-- a transpose, and the result is made contiguous again (as PyTorch's is, so
-- that view() works on it).
local function rowwise(name)
  local fwd, bwd = NN[name .. "_forward"], NN[name .. "_backward"]
  local function last(x)
    local y = fwd(x)
    if not any(x) then return y end
    return record(y, name, { x }, function(g) return bwd(y, g) end, { y })
  end
  return function(x, dim)
    check_tensor(x, name)
    local nd = x:dim()
    if dim == nil or dim == -1 or dim == nd then return last(x) end
    if dim < 0 then dim = dim + nd + 1 end
    if dim < 1 or dim > nd then raise(name .. ": dim " .. tostring(dim) .. " out of range for shape " .. fmt_shape(x:shape())) end
    return last(x:transpose(dim, nd)):transpose(dim, nd):contiguous()
  end
end
local softmax = rowwise("softmax")
local log_softmax = rowwise("log_softmax")
function F.log_softmax(x, dim) return (log_softmax(x, dim)) end

-- softmax remembers its input in y._logits (as Keras's `_keras_logits`):
-- cross_entropy(y, labels) then works on the logits, stably and with the
-- gradient skipping the softmax. So a last Dense with activation = "softmax"
-- trains exactly like logits + cross_entropy.
function F.softmax(x, dim)
  local y = softmax(x, dim)
  if dim == nil or dim == -1 or dim == x:dim() then y._logits = x end
  return y
end

local activations = {
  relu = F.relu, tanh = F.tanh, sigmoid = F.sigmoid, gelu = F.gelu, elu = F.elu,
  leaky_relu = F.leaky_relu, softmax = F.softmax, log_softmax = F.log_softmax,
}

local function check_activation(act, op)
  if act == nil or act == "linear" then return nil end
  if type(act) == "function" then return act end
  if not activations[act] then
    local names = {}
    for k in pairs(activations) do names[#names + 1] = k end
    table.sort(names)
    raise(op .. ": unknown activation '" .. tostring(act) .. "' (known: linear, " .. table.concat(names, ", ") .. ")")
  end
  return act
end

local function apply_activation(y, act)
  if act == nil or act == "linear" or act == "relu" then return y end -- relu is fused into the kernel
  if type(act) == "function" then return act(y) end
  return activations[act](y)
end

-- ---- linear, conv, pooling ---------------------------------------------

-- linear(x [.., in], w [out, in], b [out] or nil, {activation=}): x W^T + b, one
-- GEMM and a fused bias(+ReLU) pass.
function F.linear(x, w, b, opts)
  check_tensor(x, "linear"); check_tensor(w, "linear", "weight")
  local act = check_activation(opts and opts.activation, "linear")
  local relu = act == "relu"
  local xs = x:shape()
  local x2 = x
  if #xs ~= 2 then
    if #xs < 1 then raise("linear: input must have at least one dimension") end
    x2 = x:reshape(-1, xs[#xs])
  end
  local y2 = NN.linear_forward(x2, w, b, relu)
  if any(x2, w, b) then
    -- the fused ReLU's backward reads the 2-D output y2 (its own local: y below is reshaped)
    record(y2, relu and "linear+relu" or "linear", { x2, w, b }, function(g)
      return NN.linear_backward(x2, w, g, relu and y2 or nil, needs(x2), b ~= nil and needs(b))
    end, relu and { x2, w, y2 } or { x2, w }, 3)
  end
  local y = y2
  if #xs ~= 2 then
    local os = {}
    for i = 1, #xs - 1 do os[i] = xs[i] end
    os[#xs] = w:size(1)
    y = y2:reshape(os)
  end
  return apply_activation(y, act)
end

local function conv_args(opts, op)
  opts = opts or {}
  local sh, sw = pair(opts.stride or 1, "stride", op)
  local dh, dw = pair(opts.dilation or 1, "dilation", op)
  local pad = opts.padding or 0
  if pad == "valid" then pad = 0 end
  if pad ~= "same" then
    local ph, pw = pair(pad, "padding", op, 0)
    pad = { ph, pw }
  end
  return sh, sw, pad, dh, dw
end

-- conv2d(x [N,C,H,W], w [K,C,R,S], b [K] or nil, {stride=1, padding=0|"valid"|"same"|n|{ph,pw},
-- dilation=1, activation=}). "same" follows Keras (output = ceil(in / stride); an odd total
-- padding puts the extra row/column at the bottom/right).
function F.conv2d(x, w, b, opts)
  check_tensor(x, "conv2d"); check_tensor(w, "conv2d", "weight")
  local act = check_activation(opts and opts.activation, "conv2d")
  local relu = act == "relu"
  local sh, sw, pad, dh, dw = conv_args(opts, "conv2d")
  local y = NN.conv2d_forward(x, w, b, sh, sw, pad, dh, dw, relu)
  if any(x, w, b) then
    y = record(y, relu and "conv2d+relu" or "conv2d", { x, w, b }, function(g)
      return NN.conv2d_backward(x, w, g, relu and y or nil, sh, sw, pad, dh, dw, needs(x), b ~= nil and needs(b))
    end, relu and { x, w, y } or { x, w }, 3)
  end
  return apply_activation(y, act)
end

-- conv2d_max_pool2d(x, w, b, conv_opts, pool): max_pool2d(conv2d(x, w, b, conv_opts), pool),
-- the same bits, computed per image while the conv output is in cache and never stored whole.
-- conv_opts.activation may be nil or "relu"; the pool is pool x pool with stride pool.
function F.conv2d_max_pool2d(x, w, b, opts, pool)
  check_tensor(x, "conv2d_max_pool2d"); check_tensor(w, "conv2d_max_pool2d", "weight")
  local act = check_activation(opts and opts.activation, "conv2d_max_pool2d")
  if act ~= nil and act ~= "relu" then raise("conv2d_max_pool2d: activation must be nil or 'relu', got '" .. act .. "'") end
  local relu = act == "relu"
  local sh, sw, pad, dh, dw = conv_args(opts, "conv2d_max_pool2d")
  local y, arg = NN.conv2d_maxpool_forward(x, w, b, sh, sw, pad, dh, dw, relu, pool)
  if not any(x, w, b) then return y end
  return record(y, relu and "conv2d+relu+max_pool2d" or "conv2d+max_pool2d", { x, w, b }, function(g)
    return NN.conv2d_maxpool_backward(x, w, g, y, arg, sh, sw, pad, dh, dw, relu, pool, needs(x), b ~= nil and needs(b))
  end, { x, w, y }, 3)
end

local function pool_args(k, stride, padding, op)
  local kh, kw = pair(k, "kernel size", op)
  local sh, sw = pair(stride or { kh, kw }, "stride", op)
  if padding == "valid" or padding == nil then padding = 0 end
  if padding == "same" then raise(op .. ": padding 'same' is not supported for pooling; give a number (at most half the kernel)") end
  local ph, pw = pair(padding, "padding", op, 0)
  return kh, kw, sh, sw, ph, pw
end

-- max_pool2d(x [N,C,H,W], kernel, stride = kernel, padding = 0)
function F.max_pool2d(x, k, stride, padding)
  check_tensor(x, "max_pool2d")
  local kh, kw, sh, sw, ph, pw = pool_args(k, stride, padding, "max_pool2d")
  local y, idx = NN.max_pool2d_forward(x, kh, kw, sh, sw, ph, pw)
  if not any(x) then return y end
  return record(y, "max_pool2d", { x }, function(g)
    return NN.max_pool2d_backward(x, g, idx, kh, kw, sh, sw, ph, pw)
  end, { x })
end

-- avg_pool2d(x, kernel, stride = kernel, padding = 0): padded zeros count (PyTorch's default).
function F.avg_pool2d(x, k, stride, padding)
  check_tensor(x, "avg_pool2d")
  local kh, kw, sh, sw, ph, pw = pool_args(k, stride, padding, "avg_pool2d")
  local y = NN.avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw)
  if not any(x) then return y end
  return record(y, "avg_pool2d", { x }, function(g)
    return NN.avg_pool2d_backward(x, g, kh, kw, sh, sw, ph, pw)
  end)
end

function F.flatten(x)
  check_tensor(x, "flatten")
  if x:dim() < 1 then raise("flatten: input must have a batch dimension") end
  return x:reshape(x:size(1), -1)
end

-- ---- dropout -------------------------------------------------------------

-- dropout(x, p, {key=, stream=, training=true}): inverted dropout. The mask is
-- Philox keyed by (key, stream) (default: the next stream of the global
-- generator), so it does not depend on the thread count.
function F.dropout(x, p, opts)
  check_tensor(x, "dropout")
  opts = opts or {}
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then raise("dropout: rate must be in [0, 1), got " .. tostring(p)) end
  if opts.training == false or p == 0 then return x end
  local key, stream = opts.key, opts.stream
  if key == nil then key, stream = tensor.next_stream() end
  local y, mask = NN.dropout_forward(x, p, key, stream or 0)
  if not any(x) then return y end
  return record(y, "dropout", { x }, function(g) return NN.dropout_backward(g, mask) end)
end

-- ---- losses ----------------------------------------------------------------

-- cross_entropy(logits [B, C], labels): labels are 0-based class ids [B] (floats
-- holding integers) or one-hot / probability targets [B, C]. Fused log-softmax +
-- NLL, mean over the batch. Given a softmax output it uses the logits behind it.
function F.cross_entropy(input, labels)
  check_tensor(input, "cross_entropy"); check_tensor(labels, "cross_entropy", "labels")
  local logits = input._logits or input
  local loss = NN.cross_entropy_forward(logits, labels)
  if not any(logits) then return loss end
  return record(loss, "cross_entropy", { logits, labels }, function(g)
    return NN.cross_entropy_backward(logits, labels, g)
  end, { logits, labels })
end

-- mse(pred, target): mean((pred - target)^2), same shapes.
function F.mse(pred, target)
  check_tensor(pred, "mse"); check_tensor(target, "mse", "target")
  local loss = NN.mse_forward(pred, target)
  if not any(pred, target) then return loss end
  return record(loss, "mse", { pred, target }, function(g)
    local d = NN.mse_backward(pred, target, g)
    return d, needs(target) and raw.neg(d) or nil
  end, { pred, target })
end
F.mse_loss = F.mse

-- binary_cross_entropy(logits, targets): with logits (stable form), mean over all elements.
function F.binary_cross_entropy(logits, targets)
  check_tensor(logits, "binary_cross_entropy"); check_tensor(targets, "binary_cross_entropy", "targets")
  local loss = NN.binary_cross_entropy_forward(logits, targets)
  if not any(logits, targets) then return loss end
  return record(loss, "binary_cross_entropy", { logits, targets }, function(g)
    local dx = needs(logits) and NN.binary_cross_entropy_backward(logits, targets, g) or nil
    -- d/dt of max(x,0) - x t + log1p(exp(-|x|)) is -x
    local dt = needs(targets) and raw.mul(logits, -g:item() / logits:numel()) or nil
    return dx, dt
  end, { logits, targets })
end
F.binary_cross_entropy_with_logits = F.binary_cross_entropy

-- accuracy(logits, labels) -> number of rows whose argmax is the label (labels as cross_entropy).
function F.accuracy(logits, labels)
  check_tensor(logits, "accuracy"); check_tensor(labels, "accuracy", "labels")
  return NN.accuracy(logits._logits or logits, labels)
end

-- ---- batch norm ---------------------------------------------------------------

-- batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps): PyTorch's
-- signature and defaults (momentum 0.1 weights the batch statistic, eps 1e-5). x is [N, C]
-- or [N, C, ...]; in training the running statistics (if given) are updated in place.
function F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
  check_tensor(x, "batch_norm")
  momentum, eps = momentum or 0.1, eps or 1e-5
  if training then
    local y, mean, invstd = NN.batch_norm_train(x, weight, bias, running_mean, running_var, eps, momentum)
    if not any(x, weight, bias) then return y end
    return record(y, "batch_norm", { x, weight, bias }, function(g)
      local dx, dg, db = NN.batch_norm_train_backward(x, g, weight, mean, invstd)
      return dx, dg, db
    end, { x, weight }, 3)
  end
  if not running_mean or not running_var then
    raise("batch_norm: evaluation mode needs running_mean and running_var")
  end
  local y = NN.batch_norm_eval(x, weight, bias, running_mean, running_var, eps)
  if not any(x, weight, bias) then return y end
  return record(y, "batch_norm (eval)", { x, weight, bias }, function(g)
    local dx, dg, db = NN.batch_norm_eval_backward(x, g, weight, running_mean, running_var, eps)
    return dx, dg, db
  end, { x, weight, running_mean, running_var }, 3)
end

-- the C backward kernels above return new tensors (see autograd.backward)
autograd.fresh("linear", "linear+relu", "conv2d", "conv2d+relu", "conv2d+max_pool2d", "conv2d+relu+max_pool2d",
  "max_pool2d", "avg_pool2d", "dropout", "cross_entropy", "mse", "binary_cross_entropy", "batch_norm",
  "batch_norm (eval)", "relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid", "softmax", "log_softmax")

local F_docs = {
  linear = "F.linear(x, w, b, {activation = nil})  x W^T + b; w is [out, in]; activation 'relu' is fused",
  conv2d = "F.conv2d(x, w, b, {stride = 1, padding = 0 | 'valid' | 'same' | n | {ph, pw}, dilation = 1, activation = nil})  NCHW",
  max_pool2d = "F.max_pool2d(x, kernel, stride = kernel, padding = 0)  NCHW",
  conv2d_max_pool2d = "F.conv2d_max_pool2d(x, w, b, conv_opts, pool)  = max_pool2d(conv2d(x, w, b, conv_opts), pool), fused (activation nil or 'relu'); nn.Sequential uses it for Conv2D then MaxPool2D",
  avg_pool2d = "F.avg_pool2d(x, kernel, stride = kernel, padding = 0)  NCHW, padded zeros count",
  dropout = "F.dropout(x, p, {key =, stream =, training = true})  inverted dropout, Philox mask keyed by (key, stream)",
  relu = "F.relu(x)", leaky_relu = "F.leaky_relu(x, negative_slope = 0.01)", elu = "F.elu(x, alpha = 1)",
  tanh = "F.tanh(x)", sigmoid = "F.sigmoid(x)", gelu = "F.gelu(x, approximate = 'none' | 'tanh')",
  softmax = "F.softmax(x, dim = -1)  remembers its logits: cross_entropy on the result uses them",
  log_softmax = "F.log_softmax(x, dim = -1)",
  cross_entropy = "F.cross_entropy(logits [B, C], labels)  labels: 0-based class ids [B] or one-hot [B, C]; mean over the batch",
  mse = "F.mse(pred, target)  mean squared error (alias F.mse_loss)",
  binary_cross_entropy = "F.binary_cross_entropy(logits, targets)  with logits, mean over elements",
  accuracy = "F.accuracy(logits, labels) -> number of rows whose argmax is the label",
  batch_norm = "F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum = 0.1, eps = 1e-5)",
  flatten = "F.flatten(x)  [B, ...] -> [B, prod(...)]",
}
for name, text in pairs(F_docs) do document(F[name], text) end
document(F, "nn.functional (nn.F): the ops the layers are made of, differentiable: " ..
  "linear conv2d max_pool2d conv2d_max_pool2d avg_pool2d dropout relu leaky_relu elu tanh sigmoid gelu softmax log_softmax " ..
  "cross_entropy mse binary_cross_entropy batch_norm accuracy flatten")

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

-- ---- layers ----------------------------------------------------------------------

local Layer = {}
Layer.__index = Layer
nn.Layer = Layer

local function class(type_name, keras_name, doc)
  local cls = setmetatable({}, { __index = Layer })
  cls.__index = cls
  cls.__call = Layer.__call
  cls.__tostring = Layer.__tostring
  cls.type = type_name
  cls.keras_name = keras_name -- base of the automatic name in summaries: dense, dense_1, ...
  setmetatable(cls, {
    __index = Layer,
    __call = function(c, ...)
      local o = setmetatable({ training = true }, c)
      o:init(...)
      return o
    end,
  })
  document(cls, doc)
  return cls
end

function Layer:init() end
function Layer:__call(x) return self:forward(x) end
function Layer:__tostring() return self.type .. (self.name and (" '" .. self.name .. "'") or "") end
function Layer:parameters()
  local ps = {}
  for _, p in ipairs(self._params or {}) do ps[#ps + 1] = p[2] end
  return ps
end
function Layer:train(on) self.training = on ~= false; return self end
function Layer:evaluate() self.training = false; return self end
function Layer:zero_grad() for _, p in ipairs(self:parameters()) do p.grad = nil end end
-- Default: the output shape is the input shape (activations, dropout).
function Layer:build(shape) return shape end
document(Layer.parameters, "layer:parameters()  its trainable tensors (a list; a model's: all its layers')")
document(Layer.train, "layer:train([on = true])  training mode (dropout active); returns the layer")
document(Layer.evaluate, "layer:evaluate()  evaluation mode (dropout off); returns the layer")
document(Layer.zero_grad, "layer:zero_grad()  clears the .grad of its parameters")
document(Layer.init, "layer:init()  a custom layer's hook, called when the layer is made")
document(Layer.build, "layer:build(input_shape) -> output_shape  a custom layer's hook: make parameters once the input shape is known")

local function label(layer)
  local s = layer.type
  if layer.name then s = s .. " '" .. layer.name .. "'" end
  if layer.index then s = s .. " (layer " .. layer.index .. ")" end
  return s
end
nn._label = label

local function layer_error(layer, msg) raise(label(layer) .. ": " .. msg) end

-- Build on first use from the input's shape, then check every input against it.
local function check_input(layer, x)
  if not is_tensor(x) then layer_error(layer, "expected a tensor, got " .. type(x)) end
  local xs = x:shape()
  if not layer.input_shape then
    if #xs < 1 then layer_error(layer, "expected a batch of inputs, got a scalar") end
    local s = {}
    for i = 2, #xs do s[i - 1] = xs[i] end
    layer.output_shape = layer:build(s)
    layer.input_shape = s
    return
  end
  local s = layer.input_shape
  local ok = #xs == #s + 1
  if ok then for i = 1, #s do if xs[i + 1] ~= s[i] then ok = false break end end end
  if not ok then
    local want = { "batch" }
    for i = 1, #s do want[i + 1] = s[i] end
    layer_error(layer, "expected input of shape " .. fmt_shape(want) .. ", got " .. fmt_shape(xs))
  end
end

local function opt_table(a)
  if type(a) == "table" then return a end
  return { a }
end

local function positive_int(v, what, layer)
  if not compat.is_integer(v) or v < 1 then layer_error(layer, what .. " must be a positive integer, got " .. tostring(v)) end
  return v
end

-- Dense ----------------------------------------------------------------------
local Dense = class("Dense", "dense", [[nn.Dense{units, activation = nil, use_bias = true, kernel_initializer = "glorot_uniform", bias_initializer = "zeros", name = nil}
  Fully connected: y = x W^T + b on the last dimension (W is [units, in], PyTorch layout).
  activation: "relu" (fused into the kernel), "tanh", "sigmoid", "gelu", "elu", "leaky_relu",
  "softmax" (on the last layer; cross_entropy then uses the logits behind it), or a function.]])
nn.Dense = Dense
function Dense:init(o)
  o = opt_table(o)
  self.units = positive_int(o[1] or o.units, "units", self)
  self.activation = check_activation(o.activation, "Dense")
  self.use_bias = o.use_bias ~= false
  self.kernel_initializer = o.kernel_initializer or "glorot_uniform"
  self.bias_initializer = o.bias_initializer or "zeros"
  self.value = o.value
  self.name = o.name
end
function Dense:build(s)
  if #s < 1 then layer_error(self, "expected input [batch, features], got a batch of scalars") end
  local fin = s[#s]
  local w = make_param(self.kernel_initializer, self.value, { self.units, fin }, fin, self.units, "kernel_initializer")
  self.weight = w
  self._params = { { "weight", w } }
  if self.use_bias then
    self.bias = make_param(self.bias_initializer, self.value, { self.units }, fin, self.units, "bias_initializer")
    self._params[2] = { "bias", self.bias }
  end
  local out = {}
  for i = 1, #s - 1 do out[i] = s[i] end
  out[#s] = self.units
  return out
end
function Dense:forward(x)
  check_input(self, x)
  return F.linear(x, self.weight, self.bias, { activation = self.activation })
end

-- Conv2D ---------------------------------------------------------------------
local Conv2D = class("Conv2D", "conv2d", [[nn.Conv2D{filters, kernel_size, stride = 1, padding = "valid", dilation = 1, activation = nil, use_bias = true, kernel_initializer = "glorot_uniform", bias_initializer = "zeros", name = nil}
  2-D convolution on NCHW input [batch, channels, height, width]; weight [filters, channels, kh, kw].
  kernel_size, stride, dilation: a number or {h, w} (Keras's strides / dilation_rate accepted).
  padding: "valid", "same" (Keras: output = ceil(in / stride)), a number or {ph, pw}.
  activation = "relu" is fused into the kernel.]])
nn.Conv2D = Conv2D
function Conv2D:init(o)
  o = opt_table(o)
  self.name = o.name
  self.filters = positive_int(o[1] or o.filters, "filters", self)
  self.kernel_size = o[2] or o.kernel_size
  if self.kernel_size == nil then layer_error(self, "kernel_size is required (nn.Conv2D{filters, kernel_size})") end
  self.stride = o.stride or o.strides or 1
  self.padding = o.padding or "valid"
  self.dilation = o.dilation or o.dilation_rate or 1
  self.activation = check_activation(o.activation, "Conv2D")
  self.use_bias = o.use_bias ~= false
  self.kernel_initializer = o.kernel_initializer or "glorot_uniform"
  self.bias_initializer = o.bias_initializer or "zeros"
  self.value = o.value
  self.kh, self.kw = pair(self.kernel_size, "kernel_size", "Conv2D")
  self.sh, self.sw = pair(self.stride, "stride", "Conv2D")
  self.dh, self.dw = pair(self.dilation, "dilation", "Conv2D")
  if self.padding ~= "same" and self.padding ~= "valid" then pair(self.padding, "padding", "Conv2D", 0) end
end
local function conv_out(n, k, s, p, d)
  if p == "same" then return compat.idiv(n + s - 1, s) end
  if p == "valid" then p = 0 end
  return compat.idiv(n + 2 * p - d * (k - 1) - 1, s) + 1
end
function Conv2D:build(s)
  if #s ~= 3 then
    layer_error(self, "expected input [batch, channels, height, width] (NCHW), got input shape " .. fmt_shape(s) .. " per sample")
  end
  local c = s[1]
  local ph, pw = self.padding, self.padding
  if type(self.padding) == "table" then ph, pw = self.padding[1], self.padding[2] end
  local oh = conv_out(s[2], self.kh, self.sh, ph, self.dh)
  local ow = conv_out(s[3], self.kw, self.sw, pw, self.dw)
  if oh < 1 or ow < 1 then
    layer_error(self, string.format("a %dx%d kernel does not fit input %s (output would be %dx%d)",
      self.kh, self.kw, fmt_shape(s), oh, ow))
  end
  local rf = self.kh * self.kw
  self.weight = make_param(self.kernel_initializer, self.value, { self.filters, c, self.kh, self.kw },
    c * rf, self.filters * rf, "kernel_initializer")
  self._params = { { "weight", self.weight } }
  if self.use_bias then
    self.bias = make_param(self.bias_initializer, self.value, { self.filters }, c * rf, self.filters * rf, "bias_initializer")
    self._params[2] = { "bias", self.bias }
  end
  return { self.filters, oh, ow }
end
function Conv2D:conv_opts()
  return { stride = { self.sh, self.sw }, padding = self.padding, dilation = { self.dh, self.dw },
    activation = self.activation }
end
function Conv2D:forward(x)
  check_input(self, x)
  return F.conv2d(x, self.weight, self.bias, self:conv_opts())
end

-- Pooling --------------------------------------------------------------------
local function pool_class(type_name, keras_name, fn, doc)
  local cls = class(type_name, keras_name, doc)
  function cls:init(o)
    o = opt_table(o)
    self.name = o.name
    self.pool_size = o[1] or o.pool_size or o.kernel_size or 2
    self.stride = o.stride or o.strides or o[2] or self.pool_size
    self.padding = o.padding or 0
    self.kh, self.kw, self.sh, self.sw, self.ph, self.pw =
      pool_args(self.pool_size, self.stride, self.padding, type_name)
  end
  function cls:build(s)
    if #s ~= 3 then
      layer_error(self, "expected input [batch, channels, height, width] (NCHW), got input shape " .. fmt_shape(s) .. " per sample")
    end
    local oh = compat.idiv(s[2] + 2 * self.ph - self.kh, self.sh) + 1
    local ow = compat.idiv(s[3] + 2 * self.pw - self.kw, self.sw) + 1
    if oh < 1 or ow < 1 then
      layer_error(self, string.format("a %dx%d window does not fit input %s", self.kh, self.kw, fmt_shape(s)))
    end
    return { s[1], oh, ow }
  end
  function cls:forward(x)
    check_input(self, x)
    return fn(x, { self.kh, self.kw }, { self.sh, self.sw }, { self.ph, self.pw })
  end
  return cls
end
nn.MaxPool2D = pool_class("MaxPooling2D", "max_pooling2d", F.max_pool2d, [[nn.MaxPool2D{pool_size = 2, stride = pool_size, padding = 0}   (alias nn.MaxPooling2D)
  Max over windows over windows of NCHW input. pool_size/stride: number or {h, w}.]])
nn.MaxPooling2D = nn.MaxPool2D
nn.AvgPool2D = pool_class("AveragePooling2D", "average_pooling2d", F.avg_pool2d, [[nn.AvgPool2D{pool_size = 2, stride = pool_size, padding = 0}   (alias nn.AveragePooling2D)
  Mean over windows (padded zeros count).]])
nn.AveragePooling2D = nn.AvgPool2D

-- Dropout --------------------------------------------------------------------
local Dropout = class("Dropout", "dropout", [[nn.Dropout(rate) or nn.Dropout{rate, name = nil}
  Inverted dropout in training mode, identity in evaluation mode. Masks come from Philox keyed by
  (model seed, layer index, step): reruns give the same masks whatever the thread count.
  model:set_seed(s) rekeys them; model:rng_state() / set_rng_state(s) save and restore the steps.]])
nn.Dropout = Dropout
local standalone_dropouts = 0
function Dropout:init(o)
  o = opt_table(o)
  self.name = o.name
  self.rate = o[1] or o.rate or o.p
  if type(self.rate) ~= "number" or self.rate < 0 or self.rate >= 1 then
    layer_error(self, "rate must be in [0, 1), got " .. tostring(self.rate))
  end
  self.seed = tensor.seed()
  standalone_dropouts = standalone_dropouts + 1
  self.id = 0x100000 + standalone_dropouts -- replaced by the layer index inside a Sequential
  self.step = 0
end
function Dropout:forward(x)
  check_input(self, x)
  if not self.training or self.rate == 0 then return x end
  local stream = self.id * 4294967296 + self.step  -- (id << 32) | step; exact below 2^53
  self.step = self.step + 1
  return F.dropout(x, self.rate, { key = self.seed, stream = stream })
end

-- Flatten --------------------------------------------------------------------
local Flatten = class("Flatten", "flatten", [[nn.Flatten()   [batch, d1, d2, ...] -> [batch, d1*d2*...]
  (NCHW order: channels vary slowest, unlike Keras's NHWC flatten).]])
nn.Flatten = Flatten
function Flatten:init(o) self.name = type(o) == "table" and o.name or nil end
function Flatten:build(s)
  local n = 1
  for i = 1, #s do n = n * s[i] end
  return { n }
end
function Flatten:forward(x)
  check_input(self, x)
  return x:reshape(x:size(1), -1)
end

-- BatchNorm ------------------------------------------------------------------
local BatchNorm = class("BatchNorm", "batch_normalization", [[nn.BatchNorm{momentum = 0.1, eps = 1e-5, affine = true}
  Batch normalization over channel dimension 2 of [batch, C] or [batch, C, H, W] (PyTorch's
  BatchNorm1d/2d conventions: momentum weights the new batch statistic). Training mode uses batch
  statistics and updates running_mean/running_var; evaluation mode uses the running statistics.
  Parameters weight (ones) and bias (zeros); the running statistics are saved with the model.]])
nn.BatchNorm = BatchNorm
function BatchNorm:init(o)
  o = type(o) == "table" and o or {}
  self.name = o.name
  self.momentum = o.momentum or 0.1
  self.eps = o.eps or o.epsilon or 1e-5
  self.affine = o.affine ~= false
end
function BatchNorm:build(s)
  if #s < 1 then layer_error(self, "expected input [batch, channels, ...], got a batch of scalars") end
  local c = s[1]
  self._params = {}
  if self.affine then
    self.weight = make_param("ones", nil, { c }, c, c, "weight")
    self.bias = make_param("zeros", nil, { c }, c, c, "bias")
    self._params = { { "weight", self.weight }, { "bias", self.bias } }
  end
  self.running_mean = tensor.zeros(c)
  self.running_var = tensor.full({ c }, 1)
  self._buffers = { { "running_mean", self.running_mean }, { "running_var", self.running_var } }
  return s
end
function BatchNorm:forward(x)
  check_input(self, x)
  return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
    self.momentum, self.eps)
end

-- Activation layers -------------------------------------------------------------
local function act_class(type_name, keras_name, fn, doc, param_key, default)
  local cls = class(type_name, keras_name, doc)
  function cls:init(o)
    o = type(o) == "table" and o or { o }
    self.name = o.name
    if param_key then self.param = o[1] or o[param_key] or o.alpha or default end
  end
  function cls:forward(x)
    check_input(self, x)
    return fn(x, self.param)
  end
  return cls
end
nn.ReLU = act_class("ReLU", "re_lu", F.relu, "nn.ReLU(): max(x, 0)")
nn.LeakyReLU = act_class("LeakyReLU", "leaky_re_lu", F.leaky_relu,
  "nn.LeakyReLU{negative_slope = 0.01} (PyTorch's default; `alpha` accepted): x < 0 and slope*x or x",
  "negative_slope", 0.01)
nn.ELU = act_class("ELU", "elu", F.elu, "nn.ELU{alpha = 1}: x > 0 and x or alpha*(exp(x)-1)", "alpha", 1.0)
nn.Tanh = act_class("Tanh", "tanh", F.tanh, "nn.Tanh(): tanh(x)")
nn.Sigmoid = act_class("Sigmoid", "sigmoid", F.sigmoid, "nn.Sigmoid(): 1/(1+exp(-x))")
nn.GELU = act_class("GELU", "gelu", F.gelu, "nn.GELU{approximate = 'none'|'tanh'}", "approximate", nil)
nn.Softmax = act_class("Softmax", "softmax", function(x) return F.softmax(x) end,
  "nn.Softmax(): softmax over the last dimension (cross_entropy on its output uses the logits behind it)")

-- ---- Sequential -------------------------------------------------------------------

local Sequential = {}
Sequential.__index = Sequential
Sequential.type = "Sequential"
nn.Sequential = Sequential

-- A layer is anything with forward(self, x); parameters(self) is optional.
local function check_layer(layer, i)
  if type(layer) ~= "table" or type(layer.forward) ~= "function" then
    raise("nn.Sequential: entry " .. i .. " is not a layer (a table with a forward method), got " .. type(layer))
  end
end

local function copy(s) local t = {} for i = 1, #s do t[i] = s[i] end return t end

-- Output shape of layer for per-sample input shape s: built-in layers build;
-- user layers say (output_shape(s)) or are run once on zeros.
local function infer(model, layer, s)
  if layer.type and type(layer.build) == "function" then
    if not layer.input_shape then
      layer.input_shape = copy(s)
      layer.output_shape = layer:build(copy(s))
    else
      local ok = #layer.input_shape == #s
      if ok then for i = 1, #s do if s[i] ~= layer.input_shape[i] then ok = false end end end
      if not ok then layer_error(layer, "built for input " .. fmt_shape(layer.input_shape) .. ", but the previous layer gives " .. fmt_shape(s)) end
    end
    return copy(layer.output_shape)
  end
  if type(layer.output_shape) == "function" then return layer:output_shape(copy(s)) end
  local probe = copy(s)
  table.insert(probe, 1, 1)
  local y = tensor.no_grad(function() return layer:forward(tensor.zeros(probe)) end)
  if not is_tensor(y) then raise("nn.Sequential: layer " .. layer.index .. " returned " .. type(y) .. ", not a tensor") end
  local ys = y:shape()
  table.remove(ys, 1)
  return ys
end

function Sequential.new(spec)
  spec = spec or {}
  local self = setmetatable({ layers = {}, training = true, seed = tensor.seed(), name = spec.name }, Sequential)
  local input = spec.input or spec.input_shape
  if input ~= nil then
    if type(input) ~= "table" then raise("nn.Sequential: input must be a shape table such as {1, 28, 28}") end
    for i, d in ipairs(input) do
      if not compat.is_integer(d) or d < 1 then raise("nn.Sequential: input dimension " .. i .. " must be a positive integer, got " .. tostring(d)) end
    end
    self.input_shape = copy(input)
    self.shape = copy(input)
  end
  for i = 1, #spec do self:add(spec[i]) end
  return self
end
setmetatable(Sequential, { __call = function(_, spec) return Sequential.new(spec) end })
document(Sequential, [[nn.Sequential{input = {1, 28, 28}, layer, layer, ...}
  A stack of layers with Keras-style shape inference from `input` (one sample's shape, no batch).
  model(x) / model:forward(x); model:parameters() (named "1.weight", "1.bias", ... or "<name>.weight"
  for a layer given name = ...); model:zero_grad(); model:train() / model:evaluate(); model:summary();
  model:save(path) / model:load(path); model:set_seed(s); model:rng_state() / model:set_rng_state(s);
  model:add(layer). Any table with forward(self, x) (and parameters(self)) is a layer.]])

function Sequential:add(layer)
  local i = #self.layers + 1
  check_layer(layer, i)
  self.layers[i] = layer
  layer.index = i
  if getmetatable(layer) == Dropout then
    layer.id, layer.seed, layer.step = i, self.seed, 0
  end
  if layer.training == nil or type(layer.training) == "boolean" then layer.training = self.training end
  self._params = nil
  if self.shape then self.shape = infer(self, layer, self.shape) end
  return self
end

-- A built Conv2D (no activation or ReLU) followed by a built MaxPool2D with square, unpadded,
-- non-overlapping windows runs as one fused op (F.conv2d_max_pool2d): the same results, without
-- storing the conv output. Layers whose forward was replaced are left alone.
local function fuses_with_pool(conv, pool)
  return getmetatable(conv) == Conv2D and getmetatable(pool) == nn.MaxPool2D
    and rawget(conv, "forward") == nil and rawget(pool, "forward") == nil
    and conv.weight ~= nil and pool.input_shape ~= nil
    and (conv.activation == nil or conv.activation == "relu")
    and pool.kh == pool.kw and pool.sh == pool.kh and pool.sw == pool.kh and pool.ph == 0 and pool.pw == 0
    and pool.kh >= 2 and pool.kh <= 16
end

function Sequential:forward(x)
  if not is_tensor(x) then raise("Sequential: expected a tensor, got " .. type(x)) end
  if self.input_shape then
    local xs, s = x:shape(), self.input_shape
    local ok = #xs == #s + 1
    if ok then for i = 1, #s do if xs[i + 1] ~= s[i] then ok = false end end end
    if not ok then
      local want = copy(s)
      table.insert(want, 1, "batch")
      raise("Sequential: expected input of shape " .. fmt_shape(want) .. ", got " .. fmt_shape(xs))
    end
  end
  local layers, i = self.layers, 1
  while i <= #layers do
    local layer, nxt = layers[i], layers[i + 1]
    if nxt and fuses_with_pool(layer, nxt) then
      check_input(layer, x)
      x = F.conv2d_max_pool2d(x, layer.weight, layer.bias, layer:conv_opts(), nxt.kh)
      i = i + 2
    else
      x = layer:forward(x)
      i = i + 1
    end
  end
  return x
end
Sequential.__call = Sequential.forward

local function prefix(layer) return layer.name or tostring(layer.index) end

-- Named parameters and buffers, in layer order then declaration order.
local function named(self, which)
  local out = {}
  for _, layer in ipairs(self.layers) do
    local list = layer[which]
    if which == "_params" and list == nil and type(layer.parameters) == "function" and not layer.type then
      -- a user layer: its parameters() in order, named by their .name if they had one
      layer._pnames = layer._pnames or {}
      list = {}
      for j, p in ipairs(layer:parameters()) do
        if not layer._pnames[p] then
          local n = p.name
          layer._pnames[p] = (type(n) == "string" and n ~= "") and n or tostring(j)
        end
        list[j] = { layer._pnames[p], p }
      end
    end
    for _, e in ipairs(list or {}) do out[#out + 1] = { prefix(layer) .. "." .. e[1], e[2] } end
  end
  return out
end

function Sequential:parameters()
  local ps, seen = {}, {}
  for _, e in ipairs(named(self, "_params")) do
    local name, p = e[1], e[2]
    if seen[name] then raise("nn.Sequential: two parameters are named '" .. name .. "': give the layers distinct names") end
    seen[name] = true
    p.name = name
    p.requires_grad = true
    ps[#ps + 1] = p
  end
  return ps
end

-- Parameters and buffers (running statistics) by name: what save/load write and read.
function Sequential:state()
  local st = {}
  for _, e in ipairs(named(self, "_params")) do st[e[1]] = e[2] end
  for _, e in ipairs(named(self, "_buffers")) do st[e[1]] = e[2] end
  return st
end

function Sequential:zero_grad() for _, p in ipairs(self:parameters()) do p.grad = nil end end

function Sequential:train(on)
  self.training = on ~= false
  for _, layer in ipairs(self.layers) do
    if type(layer.train) == "function" then layer:train(self.training) else layer.training = self.training end
  end
  return self
end
function Sequential:evaluate() return self:train(false) end
Sequential.eval = Sequential.evaluate

function Sequential:set_seed(seed)
  if not compat.is_integer(seed) or seed < 0 then raise("set_seed: expected a non-negative integer, got " .. tostring(seed)) end
  self.seed = seed
  for _, layer in ipairs(self.layers) do if getmetatable(layer) == Dropout then layer.seed = seed end end
end

function Sequential:rng_state()
  local steps = {}
  for i, layer in ipairs(self.layers) do if getmetatable(layer) == Dropout then steps[i] = layer.step end end
  return { seed = self.seed, steps = steps }
end

function Sequential:set_rng_state(s)
  if type(s) ~= "table" or type(s.steps) ~= "table" then raise("set_rng_state: expected a table from model:rng_state()") end
  for i, step in pairs(s.steps) do
    local layer = self.layers[i]
    if getmetatable(layer) ~= Dropout then raise("set_rng_state: layer " .. tostring(i) .. " is not a Dropout layer in this model") end
    layer.step = step
  end
  if s.seed then self:set_seed(s.seed) end
end

-- Keras's summary table (Keras 2 layout); output shapes are NCHW.
local function commas(n)
  local s = tostring(n)
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

function Sequential:summary(print_it)
  local lines, W = {}, { 29, 26, 10 }
  local function row(a, b, c)
    local s = " " .. a
    s = s .. string.rep(" ", math.max(1, W[1] - #s)) .. b
    s = s .. string.rep(" ", math.max(1, W[1] + W[2] - #s)) .. c
    return s
  end
  local counts, total, trainable = {}, 0, 0
  lines[#lines + 1] = 'Model: "' .. (self.name or "sequential") .. '"'
  lines[#lines + 1] = string.rep("_", 65)
  lines[#lines + 1] = row("Layer (type)", "Output Shape", "Param #")
  lines[#lines + 1] = string.rep("=", 65)
  local shape = self.input_shape and copy(self.input_shape)
  for i, layer in ipairs(self.layers) do
    local kind = layer.type or "Layer"
    local base = layer.keras_name or "layer"
    counts[base] = (counts[base] or -1) + 1
    local name = layer.name or (counts[base] == 0 and base or (base .. "_" .. counts[base]))
    local n_train, n_fixed = 0, 0
    if layer.type then
      for _, e in ipairs(layer._params or {}) do n_train = n_train + e[2]:numel() end
      for _, e in ipairs(layer._buffers or {}) do n_fixed = n_fixed + e[2]:numel() end
    elseif type(layer.parameters) == "function" then
      for _, p in ipairs(layer:parameters()) do n_train = n_train + p:numel() end
    end
    total, trainable = total + n_train + n_fixed, trainable + n_train
    local out = "?"
    if not shape and type(layer.output_shape) == "table" then
      out = "(None, " .. table.concat(layer.output_shape, ", ") .. ")"
    elseif shape then
      shape = layer.output_shape and type(layer.output_shape) == "table" and copy(layer.output_shape) or infer(self, layer, shape)
      out = "(None, " .. table.concat(shape, ", ") .. ")"
    end
    lines[#lines + 1] = row(name .. " (" .. kind .. ")", out, tostring(n_train + n_fixed))
    lines[#lines + 1] = ""
    if i == #self.layers then lines[#lines] = nil end
  end
  lines[#lines + 1] = string.rep("=", 65)
  lines[#lines + 1] = "Total params: " .. commas(total)
  lines[#lines + 1] = "Trainable params: " .. commas(trainable)
  lines[#lines + 1] = "Non-trainable params: " .. commas(total - trainable)
  lines[#lines + 1] = string.rep("_", 65)
  local text = table.concat(lines, "\n")
  -- printed, it returns nothing (as Keras's), so the REPL does not show it twice
  if print_it ~= false then print(text) return end
  return text, total
end

-- Number of parameters (trainable + running statistics), as summary's total.
function Sequential:count_params()
  local n = 0
  for _, t in pairs(self:state()) do n = n + t:numel() end
  return n
end

function Sequential:save(path)
  if type(path) ~= "string" then raise("model:save: expected a file name") end
  tensor.save(path, self:state())
end

-- Refuses a file unless it holds exactly this model's names with the same shapes; copies nothing until all match.
function Sequential:load(path)
  if type(path) ~= "string" then raise("model:load: expected a file name") end
  local got = tensor.load(path)
  if is_tensor(got) then raise("model:load: '" .. path .. "' holds a lone tensor, not a model's named tensors") end
  local want = self:state()
  local names = {}
  for k in pairs(want) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local t = got[k]
    if t == nil then raise("model:load: '" .. path .. "' has no tensor '" .. k .. "' (this model's names: " .. table.concat(names, ", ") .. ")") end
    local a, b = fmt_shape(want[k]:shape()), fmt_shape(t:shape())
    if a ~= b then raise("model:load: '" .. k .. "' is " .. a .. " in the model but " .. b .. " in '" .. path .. "'") end
  end
  local extra = {}
  for k in pairs(got) do if want[k] == nil then extra[#extra + 1] = k end end
  table.sort(extra)
  if #extra > 0 then
    raise("model:load: '" .. path .. "' holds '" .. table.concat(extra, "', '") .. "', which this model does not have (names: " .. table.concat(names, ", ") .. ")")
  end
  for _, k in ipairs(names) do raw.copy_(want[k], got[k]) end -- parameters are leaves: no tape
  return self
end

for _, d in ipairs {
  { Sequential.new, "nn.Sequential{input = {shape}, layer1, layer2, ...}  layers applied in order (as nn.Sequential(...))" },
  { Sequential.add, "model:add(layer)  appends a layer" },
  { Sequential.forward, "model:forward(x), model(x)  the output for a batch x" },
  { Sequential.parameters, "model:parameters()  the trainable tensors of all layers, in order" },
  { Sequential.state, "model:state()  parameters and buffers by name (what save writes)" },
  { Sequential.zero_grad, "model:zero_grad()  clears every parameter's .grad" },
  { Sequential.train, "model:train([on = true])  training mode (dropout active); returns the model" },
  { Sequential.evaluate, "model:evaluate(), model:eval()  evaluation mode (dropout off); returns the model" },
  { Sequential.set_seed, "model:set_seed(seed)  the key of its dropout masks (a non-negative integer)" },
  { Sequential.rng_state, "model:rng_state()  {seed, steps} of its dropout masks" },
  { Sequential.set_rng_state, "model:set_rng_state(s)  restores model:rng_state()" },
  { Sequential.summary, "model:summary()  prints Keras's summary table; model:summary(false) -> text, total returns it instead" },
  { Sequential.count_params, "model:count_params()  the number of parameters (trainable + running statistics)" },
  { Sequential.save, "model:save(path)  writes its parameters and buffers (tensor.save)" },
  { Sequential.load, "model:load(path)  reads model:save's file; refuses one whose names or shapes differ" },
} do document(d[1], d[2]) end

function Sequential:__tostring()
  local parts = {}
  for i, layer in ipairs(self.layers) do parts[i] = "  (" .. i .. ") " .. tostring(layer.type and label(layer) or "user layer") end
  return "nn.Sequential {\n" .. table.concat(parts, "\n") .. "\n}"
end

-- The Keras example CNN, for experiments that vary everything but the model.
nn.models = {}
function nn.models.keras_mnist_cnn(opts)
  opts = opts or {}
  return nn.Sequential {
    input = opts.input or { 1, 28, 28 },
    nn.Conv2D { 32, kernel_size = 3, activation = "relu" },
    nn.MaxPool2D { pool_size = 2 },
    nn.Dropout { 0.25 },
    nn.Flatten(),
    nn.Dense { 256, activation = "relu" },
    nn.Dropout { 0.5 },
    nn.Dense { opts.classes or 10, activation = "softmax" },
  }
end
if help then
  help.register(nn.models.keras_mnist_cnn, [[nn.models.keras_mnist_cnn{classes = 10, input = {1, 28, 28}}
The Keras example CNN (the Keras MNIST example comparing five optimizers): Conv2D(32, 3x3, relu) -> MaxPool2D(2) -> Dropout(0.25) -> Flatten
-> Dense(256, relu) -> Dropout(0.5) -> Dense(10, softmax); 1,387,594 parameters.]])
end

return nn
