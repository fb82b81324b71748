-- The tensor table: the C core's creation functions plus seeded random creation
-- (a global seed and one stream per call). stdlib/tensor.lua adds autograd over the ops.
local C = require "optlab.core"

local tensor = {}
for _, name in ipairs { "empty", "zeros", "full", "eye", "arange", "linspace", "from", "matmul", "is_tensor" } do
  tensor[name] = C[name]
end
tensor.save, tensor.load = C.serial.save, C.serial.load     -- tensor files (vm/lserialize.c)
tensor.methods = C.methods

function tensor.ones(...)
  local t = C.zeros(...)
  return t:fill_(1)
end

function tensor.zeros_like(t) return C.zeros(t:shape()) end
function tensor.ones_like(t) return tensor.ones(t:shape()) end

-- Random numbers: a global seed and one stream per call, so a script's
-- numbers depend only on its seed and the order of its calls.
local rng = { seed = 0, stream = 0 }

function tensor.manual_seed(seed)
  if not compat.is_integer(seed) or seed < 0 then C.raise("manual_seed: expected a non-negative integer, got " .. tostring(seed)) end
  rng.seed, rng.stream = seed, 0
end

function tensor.seed() return rng.seed end

-- The global generator's position, for checkpoints that resume bit-identically.
function tensor.get_rng_state() return { seed = rng.seed, stream = rng.stream } end
function tensor.set_rng_state(s) rng.seed, rng.stream = s.seed, s.stream end

-- The next stream of the global generator (for modules that draw their own numbers).
function tensor.next_stream()
  rng.stream = rng.stream + 1
  return rng.seed, rng.stream
end

local function shape_and_opts(...)
  local n = select("#", ...)
  local last = select(n, ...)
  if n > 0 and type(last) == "table" and not C.is_tensor(last) and last[1] == nil and next(last) ~= nil then
    return { select(1, ...) }, last, n - 1
  end
  return { ... }, {}, n
end

local function shape_of(args, n)
  if n == 1 and type(args[1]) == "table" then return args[1] end
  local s = {}
  for i = 1, n do s[i] = args[i] end
  return s
end

local function draw(kind, p1, p2)
  return function(...)
    local args, opts, n = shape_and_opts(...)
    local key, stream = opts.seed, opts.stream or 0
    if not key then key, stream = tensor.next_stream() end
    return C.random(kind, shape_of(args, n), key, stream, p1, p2)
  end
end

tensor.rand = draw("uniform", 0, 1)
tensor.randn = draw("normal", 0, 1)

function tensor.uniform(shape, lo, hi, opts)
  opts = opts or {}
  local key, stream = opts.seed, opts.stream or 0
  if not key then key, stream = tensor.next_stream() end
  return C.random("uniform", shape, key, stream, lo or 0, hi or 1)
end

function tensor.normal(shape, mean, std, opts)
  opts = opts or {}
  local key, stream = opts.seed, opts.stream or 0
  if not key then key, stream = tensor.next_stream() end
  return C.random("normal", shape, key, stream, mean or 0, std or 1)
end

return tensor
