-- nn.functional (nn.F): the differentiable ops the layers are made of. Each runs its
-- forward in C (vm/lnn.c) and, when an input needs a gradient, records on the autograd
-- tape a closure that calls the C backward.
local base = require "nn.base"
local tensor, autograd, NN, raw = base.tensor, base.autograd, base.NN, base.raw
local record, any, needs, raise = base.record, base.any, base.needs, base.raise
local F, document, fmt_shape, pair, check_tensor = base.F, base.document, base.fmt_shape, base.pair, base.check_tensor

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

-- The batch the next inputs are a slice of: train.fit's distributed steps cut each batch into
-- shards and run them apart, perhaps on other ranks. nil outside such a step, else
-- {id = the batch's number, first = the slice's first example (0-based), batch = the batch's size}.
local slice = nil

-- F.set_batch_slice(nil | {id, first, batch}): dropout then draws the rows of the whole batch's
-- mask (element offset = first x the elements of one example), so a batch gives the same masks
-- however it is cut; and batch statistics, which a slice cannot give, are refused.
function F.set_batch_slice(s)
  if s ~= nil and not (type(s) == "table" and compat.is_integer(s.first) and s.first >= 0 and compat.is_integer(s.batch)
                       and s.batch > s.first and s.id ~= nil) then
    raise("set_batch_slice: expected nil or {id =, first = 0-based example, batch = the batch's size}")
  end
  slice = s
end
function F.batch_slice() return slice end

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
  local offset = 0
  if slice and x:dim() > 0 and x:size(1) > 0 then offset = slice.first * compat.idiv(x:numel(), x:size(1)) end
  local y, mask = NN.dropout_forward(x, p, key, stream or 0, offset)
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
    if slice and x:size(1) < slice.batch then
      raise("batch_norm: training on a shard of " .. x:size(1) .. " of the batch's " .. slice.batch .. " examples " ..
            "(train.fit's distributed = true): its statistics would be the shard's, not the batch's. Train a model " ..
            "with BatchNorm without distributed, or put it in evaluation mode")
    end
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
  set_batch_slice = "F.set_batch_slice(nil | {id, first, batch})  the next inputs are examples first.. (0-based) of batch number id, " ..
    "of `batch` examples (train.fit's distributed steps): dropout draws that batch's mask rows; batch statistics are refused",
  batch_slice = "F.batch_slice() -> nil | {id, first, batch}  what F.set_batch_slice set",
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


-- What the layers need beyond F itself.
return { activations = activations, check_activation = check_activation, apply_activation = apply_activation,
         conv_args = conv_args, pool_args = pool_args }
