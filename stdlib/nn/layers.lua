-- The built-in layers (Torch7-style objects with forward(x) and parameters()): Dense,
-- Conv2D, the pools, Dropout, Flatten, BatchNorm and the activation layers.
local base = require "nn.base"
local tensor, raise, is_tensor = base.tensor, base.raise, base.is_tensor
local nn, F, document, fmt_shape, pair = base.nn, base.F, base.document, base.fmt_shape, base.pair
local functional = require "nn.functional"
local check_activation, pool_args = functional.check_activation, functional.pool_args
local make_param = require "nn.initializers".make_param

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
    __call = function(c, first, opts, ...)
      local o = setmetatable({ training = true }, c)
      -- nn.Dense(16, {activation = "relu"}), as Keras's Dense(16, activation="relu"),
      -- is nn.Dense{16, activation = "relu"} (the table used to be ignored silently)
      -- (a table with positional entries, such as a kernel size {3, 3}, stays an argument)
      if type(first) ~= "table" and type(opts) == "table" and getmetatable(opts) == nil and next(opts) ~= nil
         and opts[1] == nil and select("#", ...) == 0 then
        local merged, named = { first }, true
        for k, v in pairs(opts) do
          if type(k) ~= "string" then named = false end
          merged[k] = v
        end
        if named then first, opts = merged, nil end
      end
      o:init(first, opts, ...)
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
  -- a batch cut into shards (F.batch_slice) takes one step: every shard of it the same stream
  local sl, step = F.batch_slice(), self.step
  if sl and self.slice_id == sl.id then step = self.slice_step
  else
    if sl then self.slice_id, self.slice_step = sl.id, step end
    self.step = step + 1
  end
  local stream = self.id * 4294967296 + step  -- (id << 32) | step; exact below 2^53
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


-- What nn.Sequential needs beyond the layer classes in nn.
return { label = label, layer_error = layer_error, check_input = check_input }
