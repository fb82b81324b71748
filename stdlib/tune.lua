-- Search spaces for a tuned comparison: where an optimizer entry takes a number,
--
--   { "SGD", lr = tune.log_uniform(1e-4, 1), momentum = tune.choice{0, 0.9, 0.99} }
--
-- and experiment.compare{..., tune = {method = "random", trials = 8}} tries
-- that many configurations of each optimizer (stdlib/experiment/tune.lua runs
-- the protocol). This file holds the spaces, their grids, and the draws of
-- random search: a generator of its own, in plain arithmetic, whose numbers
-- depend only on a text key (the experiment's seed, the optimizer, the trial),
-- the same on Lua 5.4 and LuaJIT and in every process, whatever runs when.
local C = require "optlab.core"

local tune = {}

local function fail(msg) C.raise(msg) end

local Space = {}
Space.__index = Space

local function finite(x) return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge end

-- Drawn and grid values keep 4 significant digits: trials.csv and the
-- manifest show the value that ran, and "%.4g" reads back to the same double.
local function round(x) return tonumber(string.format("%.4g", x)) end

function Space:__tostring()
  if self.kind == "choice" then
    local t = {}
    for i, v in ipairs(self.values) do t[i] = tostring(v) end
    return "tune.choice{" .. table.concat(t, ", ") .. "}"
  end
  return string.format("tune.%s(%g, %g)", self.kind, self.lo, self.hi)
end

-- log_uniform(lo, hi): log(value) uniform in [log lo, log hi] (learning rates, epsilons).
function tune.log_uniform(lo, hi)
  if not (finite(lo) and finite(hi)) then
    fail(string.format("tune.log_uniform(%s, %s): the bounds must be finite numbers", tostring(lo), tostring(hi)))
  end
  if lo <= 0 or hi <= 0 then
    fail(string.format("tune.log_uniform(%g, %g): the bounds must be positive (a log scale has no 0); " ..
                       "tune.uniform or tune.choice take 0", lo, hi))
  end
  if lo >= hi then fail(string.format("tune.log_uniform(%g, %g): the lower bound must be below the upper", lo, hi)) end
  return setmetatable({ kind = "log_uniform", lo = lo, hi = hi }, Space)
end

-- uniform(lo, hi): value uniform in [lo, hi].
function tune.uniform(lo, hi)
  if not (finite(lo) and finite(hi)) then
    fail(string.format("tune.uniform(%s, %s): the bounds must be finite numbers", tostring(lo), tostring(hi)))
  end
  if lo >= hi then fail(string.format("tune.uniform(%g, %g): the lower bound must be below the upper", lo, hi)) end
  return setmetatable({ kind = "uniform", lo = lo, hi = hi }, Space)
end

-- choice{a, b, ...}: one of the values, each as likely.
function tune.choice(values)
  if type(values) ~= "table" then fail("tune.choice: expected a list of values, tune.choice{0, 0.9, 0.99}; got " .. type(values)) end
  if #values == 0 then fail("tune.choice{}: the list is empty; give at least one value (tune.choice{0, 0.9, 0.99})") end
  local out = {}
  for i, v in ipairs(values) do
    local t = type(v)
    if not ((t == "number" and finite(v)) or t == "boolean" or t == "string") then
      fail(string.format("tune.choice: value %d is %s; the values are finite numbers, booleans or strings", i, tostring(v)))
    end
    out[i] = v
  end
  return setmetatable({ kind = "choice", values = out }, Space)
end

function tune.is_space(v) return getmetatable(v) == Space end

-- The space's value at u in [0, 1).
function Space:at(u)
  if self.kind == "choice" then return self.values[math.floor(u * #self.values) + 1] end
  if self.kind == "uniform" then return round(self.lo + u * (self.hi - self.lo)) end
  return round(math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo))))
end

-- The grid of the space: a choice's values, or `points` values evenly spaced
-- (on a log scale for log_uniform), both ends included.
function Space:grid(points)
  if self.kind == "choice" then return self.values end
  local out = {}
  for k = 0, points - 1 do
    local u = points == 1 and 0.5 or k / (points - 1)
    if self.kind == "uniform" then out[#out + 1] = round(self.lo + u * (self.hi - self.lo))
    else out[#out + 1] = round(math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))) end
  end
  return out
end

-- The values a configuration can take at its extremes (for checking them against
-- the optimizer before anything runs).
function Space:extremes()
  if self.kind == "choice" then return self.values end
  return { self.lo, self.hi }
end

---------------------------------------------------------------- the draws

-- Park and Miller's minimal standard generator (x <- 48271 x mod 2^31 - 1):
-- every product is below 2^47, exact in a double and in a 64-bit integer, so
-- both VMs compute the same sequence without bitwise operators.
local M31 = 2147483647

-- A stream of numbers in (0, 1) determined by the text key.
function tune.stream(key)
  local x = 0
  for i = 1, #key do x = (x * 131 + key:byte(i)) % M31 end
  if x == 0 then x = 1 end
  local function nxt()
    x = (x * 48271) % M31
    return x / M31
  end
  -- neighbouring keys start close; a few steps spread them
  for _ = 1, 4 do nxt() end
  return nxt
end

-- Trial t of an optimizer: a value per space, drawn in the order of the keys
-- (sorted), from the stream of (seed, name) alone: trial t takes the draws after
-- those of trials 1..t-1. (One stream per trial would not do: keys that differ in
-- their last character start x apart by a constant, and their values would climb
-- in step.)
function tune.draw(spaces, seed, name, t)
  local u = tune.stream(string.format("%d/%s", seed, name))
  for _ = 1, (t - 1) * #spaces do u() end
  local hp = {}
  for _, s in ipairs(spaces) do hp[s.key] = s.space:at(u()) end
  return hp
end

-- Every combination of the spaces' grids, the last key varying fastest.
function tune.grid(spaces, points)
  local out = { {} }
  for _, s in ipairs(spaces) do
    local nxt = {}
    for _, hp in ipairs(out) do
      for _, v in ipairs(s.space:grid(points)) do
        local c = {}
        for k, x in pairs(hp) do c[k] = x end
        c[s.key] = v
        nxt[#nxt + 1] = c
      end
    end
    out = nxt
  end
  return out
end

local help = require "help"
help.register(tune, [[
tune  search spaces for tuned comparisons: tune.log_uniform(lo, hi), tune.uniform(lo, hi), tune.choice{...}
Put one where an optimizer entry takes a number, { "SGD", lr = tune.log_uniform(1e-4, 1) }, and give
experiment.compare a budget: tune = { method = "random" | "grid" | "halving", trials = N | steps = N,
seeds = {1, 2, 3}, metric = "val_accuracy", mode = "max" }. README: "A fair comparison".]])
help.register(tune.log_uniform, "tune.log_uniform(lo, hi)  a value whose log is uniform in [log lo, log hi]; 0 < lo < hi")
help.register(tune.uniform, "tune.uniform(lo, hi)  a value uniform in [lo, hi]")
help.register(tune.choice, "tune.choice{a, b, ...}  one of the values (numbers, booleans, strings)")

return tune
