-- nn.Sequential: chains layers, infers shapes from `input` as Keras does, fuses Conv2D
-- followed by MaxPool2D, names parameters, prints the summary, saves and loads.
local base = require "nn.base"
local tensor, raw, raise, is_tensor = base.tensor, base.raw, base.raise, base.is_tensor
local nn, F, document, fmt_shape = base.nn, base.F, base.document, base.fmt_shape
local layers = require "nn.layers"
local label, layer_error, check_input = layers.label, layers.layer_error, layers.check_input
local Conv2D, Dropout = nn.Conv2D, nn.Dropout

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

