-- Test functions for optimizers: the 2-D landscapes of the optimizer
-- animations (and their n-D forms where the definition has one), each with
-- its known minima and a plotting window. Written with tensor ops, so
-- autograd gives the gradient, and evaluated element-wise, so the same code
-- takes one point (the optimizer's parameters) or a whole grid (the contours).
--
-- A function is a table (what experiment.landscape{fn = ...} takes):
--   name, title      "beale", "Beale's function"
--   dims             2, or n for the n-D ones
--   f(xs)            xs: one tensor per coordinate, all of one shape; returns
--                    the values, a tensor of that shape
--   minima, fmin     the global minima (points) and the value there; none
--                    for the saddles, which are unbounded below
--   stationary       other points worth marking (the saddles' saddle point)
--   target           the value "reached" means when there is no minimum
--   window           {{xmin, xmax}, {ymin, ymax}, ...} for the plots
--   start            a default start
--   contours         "log" (levels of log10(f - fmin)) or "linear"
--   params           the constructor's options, for the manifest
local C = require "optlab.core"
local suggest = require "suggest"
local tensor = require "tensor"

local F = {}

local function fail(msg) C.raise(msg) end

-- opts checked against the names a constructor knows; returns a copy with defaults.
local function options(who, opts, defaults)
  if opts ~= nil and type(opts) ~= "table" then
    fail(string.format("test function %s: expected a table of options, got %s", who, type(opts)))
  end
  local names, out = {}, {}
  for k, v in pairs(defaults) do names[#names + 1] = k; out[k] = v end
  for k, v in pairs(opts or {}) do
    if type(k) ~= "string" or defaults[k] == nil then
      table.sort(names)
      fail(string.format("test function %s: unknown option '%s'%s (options: %s)", who, tostring(k),
                         suggest.phrase(tostring(k), names), table.concat(names, ", ")))
    end
    if type(v) ~= type(defaults[k]) then
      fail(string.format("test function %s: option %s must be a %s, got %s", who, k, type(defaults[k]), type(v)))
    end
    if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      fail(string.format("test function %s: option %s must be finite, got %s", who, k, tostring(v)))
    end
    out[k] = v
  end
  return out
end

local function positive(who, o, k)
  if not (o[k] > 0) then fail(string.format("test function %s: %s must be > 0, got %g", who, k, o[k])) end
end

local function dims_option(who, o)
  if not (compat.is_integer(o.n) and o.n >= 2 and o.n <= 1000) then
    fail(string.format("test function %s: n must be an integer in [2, 1000], got %s", who, tostring(o.n)))
  end
end

local function same_window(n, lo, hi)
  local w = {}
  for i = 1, n do w[i] = { lo, hi } end
  return w
end

local function filled(n, v)
  local p = {}
  for i = 1, n do p[i] = v end
  return p
end

---------------------------------------------------------------- the functions

-- Rosenbrock: sum over i < n of b(x[i+1] - x[i]^2)^2 + (a - x[i])^2, a curved
-- valley whose floor falls slowly to (a, a^2) (n = 2) or (1, ..., 1).
function F.rosenbrock(opts)
  local o = options("rosenbrock", opts, { n = 2, a = 1, b = 100 })
  dims_option("rosenbrock", o)
  positive("rosenbrock", o, "b")
  if o.n > 2 and o.a ~= 1 then fail("test function rosenbrock: a ~= 1 has a known minimum only for n = 2") end
  local a, b = o.a, o.b
  local min = { a, a * a }
  for i = 3, o.n do min[i] = 1 end
  local start = { -1.5, 2 }
  for i = 3, o.n do start[i] = -1 end
  local window = same_window(o.n, -2, 2)
  window[2] = { -1, 3 }
  return {
    name = "rosenbrock", title = "Rosenbrock's function", dims = o.n, params = o,
    f = function(xs)
      local s = nil
      for i = 1, o.n - 1 do
        local x, y = xs[i], xs[i + 1]
        local t = b * (y - x * x) ^ 2 + (a - x) ^ 2
        s = s and s + t or t
      end
      return s
    end,
    minima = { min }, fmin = 0, window = window, start = start, contours = "log",
  }
end

-- Beale: (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2; flat
-- plateaus and steep ridges around the minimum at (3, 0.5).
function F.beale(opts)
  local o = options("beale", opts, {})
  return {
    name = "beale", title = "Beale's function", dims = 2, params = o,
    f = function(xs)
      local x, y = xs[1], xs[2]
      local xy = x * y
      local xy2 = xy * y
      return (1.5 - x + xy) ^ 2 + (2.25 - x + xy2) ^ 2 + (2.625 - x + xy2 * y) ^ 2
    end,
    minima = { { 3, 0.5 } }, fmin = 0, window = { { -4.5, 4.5 }, { -4.5, 4.5 } }, start = { 1, 1.5 }, contours = "log",
  }
end

-- Himmelblau: (x^2 + y - 11)^2 + (x + y^2 - 7)^2, four minima of value 0.
function F.himmelblau(opts)
  local o = options("himmelblau", opts, {})
  return {
    name = "himmelblau", title = "Himmelblau's function", dims = 2, params = o,
    f = function(xs)
      local x, y = xs[1], xs[2]
      return (x * x + y - 11) ^ 2 + (x + y * y - 7) ^ 2
    end,
    -- (3, 2) is exact; the others are roots of a quartic, to double precision
    minima = { { 3, 2 }, { -2.805118086952745, 3.131312518250573 }, { -3.779310253377747, -3.283185991286170 },
               { 3.584428340330492, -1.848126526964404 } },
    fmin = 0, window = { { -5, 5 }, { -5, 5 } }, start = { 0, 0 }, contours = "log",
  }
end

-- Rastrigin: A n + sum of x^2 - A cos(2 pi x); a local minimum near every
-- integer point, the global one at the origin.
function F.rastrigin(opts)
  local o = options("rastrigin", opts, { n = 2, A = 10 })
  dims_option("rastrigin", o)
  positive("rastrigin", o, "A")
  local A, w = o.A, 2 * math.pi
  local start = filled(o.n, 2.5)
  start[2] = 3.7
  return {
    name = "rastrigin", title = "Rastrigin's function", dims = o.n, params = o,
    f = function(xs)
      local s = nil
      for i = 1, o.n do
        local x = xs[i]
        local t = x * x - A * (x * w):cos()
        s = s and s + t or t
      end
      return s + A * o.n
    end,
    minima = { filled(o.n, 0) }, fmin = 0, window = same_window(o.n, -5.12, 5.12), start = start, contours = "linear",
  }
end

-- Ackley: -a exp(-b sqrt(mean x^2)) - exp(mean cos(2 pi x)) + a + e; a nearly
-- flat outer region full of dimples around a deep funnel at the origin (where
-- the function has a kink: its gradient there is undefined).
function F.ackley(opts)
  local o = options("ackley", opts, { n = 2, a = 20, b = 0.2 })
  dims_option("ackley", o)
  positive("ackley", o, "a")
  positive("ackley", o, "b")
  local a, b, n, w = o.a, o.b, o.n, 2 * math.pi
  local start = filled(n, 3.2)
  start[1] = -3.7
  return {
    name = "ackley", title = "Ackley's function", dims = n, params = o,
    f = function(xs)
      local sq, cs = nil, nil
      for i = 1, n do
        local x = xs[i]
        sq = sq and sq + x * x or x * x
        cs = cs and cs + (x * w):cos() or (x * w):cos()
      end
      return -a * ((sq / n):sqrt() * -b):exp() - (cs / n):exp() + (a + math.exp(1))
    end,
    minima = { filled(n, 0) }, fmin = 0, window = same_window(n, -5, 5), start = start, contours = "linear",
  }
end

-- Booth: (x + 2y - 7)^2 + (2x + y - 5)^2, a quadratic (Hessian eigenvalues 2
-- and 18) with its minimum at (1, 3).
function F.booth(opts)
  local o = options("booth", opts, {})
  return {
    name = "booth", title = "Booth's function", dims = 2, params = o,
    f = function(xs)
      local x, y = xs[1], xs[2]
      return (x + 2 * y - 7) ^ 2 + (2 * x + y - 5) ^ 2
    end,
    minima = { { 1, 3 } }, fmin = 0, window = { { -10, 10 }, { -10, 10 } }, start = { -8, -7 }, contours = "log",
  }
end

-- The saddle x^2 - y^2: a minimum along x, a maximum along y, unbounded
-- below. "Reached" means f <= -1: off the saddle and going down.
function F.saddle(opts)
  local o = options("saddle", opts, {})
  return {
    name = "saddle", title = "the saddle x^2 - y^2", dims = 2, params = o,
    f = function(xs) return xs[1] * xs[1] - xs[2] * xs[2] end,
    minima = {}, stationary = { { 0, 0 } }, target = -1,
    window = { { -1.5, 1.5 }, { -1.5, 1.5 } }, start = { 1, 0.001 }, contours = "linear",
  }
end

-- The monkey saddle x^3 - 3xy^2: three valleys and three ridges meet at the
-- origin, where the gradient and the curvature both vanish.
function F.monkey_saddle(opts)
  local o = options("monkey_saddle", opts, {})
  return {
    name = "monkey_saddle", title = "the monkey saddle x^3 - 3xy^2", dims = 2, params = o,
    f = function(xs)
      local x, y = xs[1], xs[2]
      return x * x * x - 3 * x * y * y
    end,
    minima = {}, stationary = { { 0, 0 } }, target = -1,
    window = { { -1.5, 1.5 }, { -1.5, 1.5 } }, start = { 1, 0.001 }, contours = "linear",
  }
end

-- A long narrow valley: slope (sqrt(1 + x^2) - 1) + walls y^2. Across, steep
-- walls (curvature 2 walls); along, a floor that falls at a nearly constant
-- small slope, so the gradient stays small all the way to the minimum at 0.
function F.valley(opts)
  local o = options("valley", opts, { slope = 0.1, walls = 10, length = 10 })
  positive("valley", o, "slope")
  positive("valley", o, "walls")
  positive("valley", o, "length")
  local s, k, L = o.slope, o.walls, o.length
  return {
    name = "valley", title = "a long narrow valley", dims = 2, params = o,
    f = function(xs)
      local x, y = xs[1], xs[2]
      return s * ((x * x + 1):sqrt() - 1) + k * y * y
    end,
    minima = { { 0, 0 } }, fmin = 0, window = { { -L, 0.25 * L }, { -0.15 * L, 0.15 * L } },
    start = { -0.9 * L, 0.08 * L }, contours = "log",
  }
end

-- A quadratic 1/2 (x - c)' A (x - c) whose Hessian A has eigenvalues from 1 to
-- `condition` (log-spaced for n > 2), its axes turned by `angle` degrees in
-- the plane of the first two coordinates.
function F.quadratic(opts)
  local o = options("quadratic", opts, { condition = 10, angle = 0, n = 2, scale = 1 })
  dims_option("quadratic", o)
  if not (o.condition >= 1) then fail("test function quadratic: condition must be >= 1, got " .. tostring(o.condition)) end
  positive("quadratic", o, "scale")
  local n = o.n
  local lam = {}
  for i = 1, n do lam[i] = o.scale * o.condition ^ ((i - 1) / (n - 1)) end
  -- A = R diag(lam) R', R the rotation by angle in the (1, 2) plane
  local A = {}
  for i = 1, n do
    A[i] = {}
    for j = 1, n do A[i][j] = i == j and lam[i] or 0 end
  end
  local th = o.angle * math.pi / 180
  local c, sn = math.cos(th), math.sin(th)
  A[1][1] = c * c * lam[1] + sn * sn * lam[2]
  A[2][2] = sn * sn * lam[1] + c * c * lam[2]
  A[1][2] = c * sn * (lam[1] - lam[2])
  A[2][1] = A[1][2]
  local start = filled(n, 0.5)
  start[1], start[2] = -1.6, 1.1
  return {
    name = "quadratic", title = string.format("a quadratic of condition number %g", o.condition), dims = n, params = o,
    hessian = A, eigenvalues = lam,
    f = function(xs)
      local s = nil
      for i = 1, n do
        local t = (0.5 * A[i][i]) * xs[i] * xs[i]
        s = s and s + t or t
        for j = i + 1, n do
          if A[i][j] ~= 0 then s = s + A[i][j] * xs[i] * xs[j] end
        end
      end
      return s
    end,
    minima = { filled(n, 0) }, fmin = 0, window = same_window(n, -2, 2), start = start, contours = "log",
  }
end

-- A cliff: the bowl (x^2 + y^2)/2 with a wall of `height` at x = `at`,
-- `steepness` its slope's scale: height * sigmoid(steepness (x - at)). On the
-- wall's face the gradient is height * steepness / 4 at most: a step taken
-- there is catapulted far, the exploding gradient of the textbook's Figure 8.3.
function F.cliff(opts)
  local o = options("cliff", opts, { height = 10, steepness = 40, at = 1 })
  positive("cliff", o, "height")
  positive("cliff", o, "steepness")
  positive("cliff", o, "at")
  local H, k, c = o.height, o.steepness, o.at
  local function sig(z) return 1 / (1 + math.exp(-z)) end
  -- the minimum: f'(x) = x + H k s (1 - s) = 0 on y = 0 (s = sigmoid(k (x - c))),
  -- one root in [-H k / 4, 0]; by bisection, in doubles
  local function df(x) local s = sig(k * (x - c)); return x + H * k * s * (1 - s) end
  local lo, hi = -H * k / 4, 0
  for _ = 1, 200 do
    local mid = 0.5 * (lo + hi)
    if df(mid) > 0 then hi = mid else lo = mid end
  end
  local xm = 0.5 * (lo + hi)
  return {
    name = "cliff", title = "a cliff (exploding gradients)", dims = 2, params = o,
    f = function(xs)
      local x, y = xs[1], xs[2]
      return 0.5 * (x * x + y * y) + H * ((x - c) * k):sigmoid()
    end,
    minima = { { xm, 0 } }, fmin = 0.5 * xm * xm + H * sig(k * (xm - c)),
    window = { { -4, 4 }, { -3, 3 } }, start = { 3.5, 2 }, contours = "linear",
  }
end

-- The names, in the order help and errors list them.
F.NAMES = { "rosenbrock", "beale", "himmelblau", "rastrigin", "ackley", "booth", "saddle", "monkey_saddle", "valley",
            "quadratic", "cliff" }

-- f at one point given as numbers (doubles in, the float32 result as a number).
function F.value(fn, point)
  local xs = {}
  for i = 1, fn.dims do xs[i] = tensor.from { point[i] } end
  return fn.f(xs):item()
end

return F
