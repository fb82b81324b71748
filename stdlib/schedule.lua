-- Schedules for any hyperparameter (learning rate, momentum, betas...).
--
-- A schedule maps k, the number of optimizer updates already done (the first
-- update uses s(0)), to a value. With `unit = "epoch"` it maps the epoch
-- number instead (the optimizer passes opt.epoch, set by opt:set_epoch(e), or
-- k // steps_per_epoch when the schedule has steps_per_epoch). With
-- `unit = "epoch", per_step = true` it counts in epochs but moves at every
-- update: x = (k + 1) / steps_per_epoch, the fraction of epochs done once
-- update k is applied (the textbook's 1-based iteration count, so the last
-- update of epoch `steps` gets exactly the final value). train.fit fills in
-- steps_per_epoch when the schedule was made without one.
-- Schedules are callable: s(k) or s:at(k, epoch).
local C = require "optlab.core"

local schedule = {}

local Schedule = {}
Schedule.__index = Schedule

local function fail(msg) C.raise(msg) end

local function num(v) return string.format("%g", v) end

local function check_num(name, field, v, lo)
  if type(v) ~= "number" then fail(string.format("schedule.%s: '%s' must be a number, got %s", name, field, type(v))) end
  if lo and v < lo then fail(string.format("schedule.%s: '%s' must be >= %g, got %g", name, field, lo, v)) end
  return v
end

local function check_fields(name, opts, allowed)
  if type(opts) ~= "table" then fail("schedule." .. name .. ": expected a table of options, got " .. type(opts)) end
  local ok = { unit = true, steps_per_epoch = true, per_step = true }
  for _, k in ipairs(allowed) do ok[k] = true end
  for k in pairs(opts) do
    if type(k) == "string" and not ok[k] then
      fail(string.format("schedule.%s: unknown option '%s' (options: %s)", name, k, table.concat(allowed, ", ")))
    end
  end
  if opts.unit ~= nil and opts.unit ~= "step" and opts.unit ~= "epoch" then
    fail(string.format("schedule.%s: unit must be \"step\" or \"epoch\", got %s", name, tostring(opts.unit)))
  end
  if opts.per_step ~= nil and opts.per_step ~= false and (opts.per_step ~= true or opts.unit ~= "epoch") then
    fail(string.format("schedule.%s: per_step = true goes with unit = \"epoch\" (steps counted in epochs, value moved every update)", name))
  end
end

-- make(name, label, fn(k) -> value, opts): a schedule object.
local function make(name, label, fn, opts)
  opts = opts or {}
  return setmetatable({ kind = name, label = label, fn = fn, unit = opts.unit or "step",
                        per_step = opts.per_step == true or nil,
                        steps_per_epoch = opts.steps_per_epoch, given_steps_per_epoch = opts.steps_per_epoch }, Schedule)
end

function schedule.is_schedule(v) return getmetatable(v) == Schedule end

-- train.fit tells per-step epoch schedules made without steps_per_epoch how
-- many updates an epoch has (its loader's), every fit anew.
function Schedule:bind_steps_per_epoch(n)
  if self.per_step and not self.given_steps_per_epoch then self.steps_per_epoch = n end
end

-- The value for update k (0-based) in epoch `epoch` (0-based, may be nil).
function Schedule:at(k, epoch)
  local x = k
  if self.per_step then
    if not self.steps_per_epoch then fail("schedule " .. self.label .. ": per_step needs steps_per_epoch (train.fit sets it)") end
    x = (k + 1) / self.steps_per_epoch
  elseif self.unit == "epoch" then
    if epoch then x = epoch
    elseif self.steps_per_epoch then x = compat.idiv(k, self.steps_per_epoch)
    else fail("schedule " .. self.label .. ": unit \"epoch\" needs opt:set_epoch(e) or steps_per_epoch") end
  end
  return self.fn(x)
end

Schedule.__call = function(self, k, epoch) return self:at(k, epoch) end
Schedule.__tostring = function(self) return self.label end

-- Mutable state (plateau) for state_dict; nil when stateless.
function Schedule:state() return self.get_state and self.get_state() or nil end
function Schedule:load_state(s) if self.set_state and s then self.set_state(s) end end

function schedule.constant(v)
  check_num("constant", "value", v)
  return make("constant", num(v), function() return v end)
end

-- The textbook's e_k (Section 8.3.1) = (1 - k/tau) e0 + (k/tau) e_tau for k <= tau, then e_tau.
function schedule.linear(o)
  check_fields("linear", o, { "from", "to", "steps" })
  local e0, et, tau = check_num("linear", "from", o.from), check_num("linear", "to", o.to), check_num("linear", "steps", o.steps, 1)
  return make("linear", string.format("linear(%s->%s/%s)", num(e0), num(et), num(tau)), function(k)
    if k >= tau then return et end
    local a = k / tau
    return (1 - a) * e0 + a * et
  end, o)
end

-- initial * gamma^(k // step_size)   (PyTorch StepLR)
function schedule.step(o)
  check_fields("step", o, { "initial", "step_size", "gamma" })
  local v0, n, g = check_num("step", "initial", o.initial), check_num("step", "step_size", o.step_size, 1), o.gamma or 0.1
  check_num("step", "gamma", g, 0)
  return make("step", string.format("step(%s*%s^(k//%s))", num(v0), num(g), num(n)),
    function(k) return v0 * g ^ compat.idiv(k, n) end, o)
end

-- initial * gamma^(number of milestones <= k)   (PyTorch MultiStepLR)
function schedule.multistep(o)
  check_fields("multistep", o, { "initial", "milestones", "gamma" })
  local v0, g = check_num("multistep", "initial", o.initial), o.gamma or 0.1
  if type(o.milestones) ~= "table" then fail("schedule.multistep: 'milestones' must be a list of steps") end
  local ms = {}
  for i, m in ipairs(o.milestones) do
    check_num("multistep", "milestones[" .. i .. "]", m, 0)
    if i > 1 and m <= ms[i - 1] then fail("schedule.multistep: milestones must increase") end
    ms[i] = m
  end
  return make("multistep", string.format("multistep(%s, {%s}, %s)", num(v0), table.concat(ms, ","), num(g)), function(k)
    local v = v0
    for _, m in ipairs(ms) do if k >= m then v = v * g end end
    return v
  end, o)
end

-- initial * rate^(k / steps), floor'd with staircase   (Keras ExponentialDecay;
-- steps = 1 is PyTorch ExponentialLR with gamma = rate)
function schedule.exponential(o)
  check_fields("exponential", o, { "initial", "rate", "steps", "staircase" })
  local v0, r, n = check_num("exponential", "initial", o.initial), check_num("exponential", "rate", o.rate, 0), o.steps or 1
  check_num("exponential", "steps", n, 1)
  return make("exponential", string.format("exponential(%s*%s^(k/%s))", num(v0), num(r), num(n)), function(k)
    local e = k / n
    if o.staircase then e = math.floor(e) end
    return v0 * r ^ e
  end, o)
end

-- initial / (1 + rate * k / steps)   (Keras InverseTimeDecay)
function schedule.inverse_time(o)
  check_fields("inverse_time", o, { "initial", "rate", "steps", "staircase" })
  local v0, r, n = check_num("inverse_time", "initial", o.initial), check_num("inverse_time", "rate", o.rate, 0), o.steps or 1
  check_num("inverse_time", "steps", n, 1)
  return make("inverse_time", string.format("inverse_time(%s/(1+%s*k/%s))", num(v0), num(r), num(n)), function(k)
    local e = k / n
    if o.staircase then e = math.floor(e) end
    return v0 / (1 + r * e)
  end, o)
end

-- Cosine annealing from initial to min over `steps`; with restarts = true the
-- cycle restarts (SGDR, Loshchilov & Hutter), each cycle t_mult times longer
-- and its peak m_mul times lower. Without restarts it stays at min after `steps`.
function schedule.cosine(o)
  check_fields("cosine", o, { "initial", "steps", "min", "restarts", "t_mult", "m_mul" })
  local v0, T0, vmin = check_num("cosine", "initial", o.initial), check_num("cosine", "steps", o.steps, 1), o.min or 0
  local tm, mm = o.t_mult or 1, o.m_mul or 1
  check_num("cosine", "t_mult", tm, 1)
  return make("cosine", string.format("cosine(%s->%s/%s%s)", num(v0), num(vmin), num(T0), o.restarts and ", restarts" or ""), function(k)
    local T, peak = T0, v0
    if not o.restarts then
      if k >= T then return vmin end
    else
      while k >= T do k, T, peak = k - T, T * tm, peak * mm end
    end
    return vmin + (peak - vmin) * (1 + math.cos(math.pi * k / T)) / 2
  end, o)
end

-- Linear warmup from `start` (default 0) to inner's first value over n steps,
-- then inner, shifted by n.
function schedule.warmup(n, inner, start)
  check_num("warmup", "n", n, 0)
  inner = schedule.wrap(inner, "warmup")
  start = start or 0
  return make("warmup", string.format("warmup(%s, %s)", num(n), tostring(inner)), function(k)
    if k < n then return start + (inner:at(0) - start) * k / n end
    return inner:at(k - n)
  end, { unit = inner.unit, steps_per_epoch = inner.steps_per_epoch })
end

-- PyTorch OneCycleLR (cosine annealing): up from max/div_factor to max over
-- pct_start*steps, then down to max/(div_factor*final_div_factor).
function schedule.one_cycle(o)
  check_fields("one_cycle", o, { "max", "steps", "pct_start", "div_factor", "final_div_factor" })
  local vmax, total = check_num("one_cycle", "max", o.max), check_num("one_cycle", "steps", o.steps, 2)
  local pct, div, fdiv = o.pct_start or 0.3, o.div_factor or 25, o.final_div_factor or 1e4
  local v0, vend = vmax / div, vmax / div / fdiv
  local up = math.floor(pct * total) - 1
  if up < 1 then up = 1 end
  local down = total - 1
  local function cos(a, b, f) return b + (a - b) * (1 + math.cos(math.pi * f)) / 2 end
  return make("one_cycle", string.format("one_cycle(max=%s/%s)", num(vmax), num(total)), function(k)
    if k <= up then return cos(v0, vmax, k / up) end
    if k >= down then return vend end
    return cos(vmax, vend, (k - up) / (down - up))
  end, o)
end

-- Pieces one after another: schedule.sequence{ {s1, steps = 100}, {s2, steps = 50}, {s3} }.
-- Each piece sees its own k from 0; the last runs forever.
function schedule.sequence(pieces)
  if type(pieces) ~= "table" or #pieces == 0 then fail("schedule.sequence: expected a list of {schedule, steps = n}") end
  local ps, labels = {}, {}
  for i, p in ipairs(pieces) do
    if type(p) ~= "table" or schedule.is_schedule(p) then fail("schedule.sequence: piece " .. i .. " must be {schedule, steps = n}") end
    local s = schedule.wrap(p[1], "sequence")
    if i < #pieces then check_num("sequence", "steps of piece " .. i, p.steps, 1) end
    ps[i] = { s = s, steps = p.steps }
    labels[i] = tostring(s) .. (p.steps and ("x" .. num(p.steps)) or "")
  end
  return make("sequence", "sequence(" .. table.concat(labels, ", ") .. ")", function(k)
    for i, p in ipairs(ps) do
      if i == #ps or k < p.steps then return p.s:at(k) end
      k = k - p.steps
    end
  end)
end

-- Reduce on plateau (PyTorch ReduceLROnPlateau): the value is multiplied by
-- factor when the metric given to s:observe(m) (or opt:observe(m)) has not
-- improved by more than threshold (relative) for `patience` observations.
-- The contract is PyTorch's scheduler.step(metric): one argument, the monitored
-- value itself; which value to monitor is the caller's business (train.fit's
-- `monitor`). Anything else is refused here, where the value arrives.
local function check_metric(m, extra)
  if type(m) == "number" and extra == nil then return m end
  local got = type(m) == "string" and string.format("the string %q", m) or type(m)
  if extra ~= nil then got = got .. " and a second argument" end
  fail("schedule.plateau: observe(metric) takes the monitored value alone, a number (as PyTorch's " ..
    "ReduceLROnPlateau.step(metric)), got " .. got ..
    (type(m) == "string" and "; call opt:observe(value), not opt:observe(name, value)" or ""))
end

function schedule.plateau(o)
  check_fields("plateau", o, { "initial", "factor", "patience", "mode", "threshold", "cooldown", "min" })
  local st = { value = check_num("plateau", "initial", o.initial), best = nil, bad = 0, cool = 0 }
  local factor, patience = o.factor or 0.1, o.patience or 10
  local mode, thr, cooldown, vmin = o.mode or "min", o.threshold or 1e-4, o.cooldown or 0, o.min or 0
  if not (factor > 0 and factor < 1) then fail("schedule.plateau: 'factor' must be in (0, 1), got " .. tostring(factor)) end
  if mode ~= "min" and mode ~= "max" then fail("schedule.plateau: mode must be \"min\" or \"max\"") end
  local s = make("plateau", string.format("plateau(%s, x%s after %d)", num(st.value), num(factor), patience),
    function() return st.value end, o)
  function s:observe(m, extra)
    check_metric(m, extra)
    local better
    if st.best == nil then better = true
    elseif mode == "min" then better = m < st.best * (1 - thr)
    else better = m > st.best * (1 + thr) end
    if better then st.best, st.bad = m, 0 else st.bad = st.bad + 1 end
    if st.cool > 0 then st.cool, st.bad = st.cool - 1, 0 end
    if st.bad > patience then
      st.value = math.max(st.value * factor, vmin)
      st.cool, st.bad = cooldown, 0
    end
    return st.value
  end
  s.get_state = function() return { value = st.value, best = st.best, bad = st.bad, cool = st.cool } end
  s.set_state = function(t) st.value, st.best, st.bad, st.cool = t.value, t.best, t.bad, t.cool end
  return s
end

-- A number, schedule or Lua function of (k, epoch) as a schedule.
function schedule.wrap(v, where)
  if schedule.is_schedule(v) then return v end
  if type(v) == "number" then return schedule.constant(v) end
  if type(v) == "function" then
    return make("function", "fn", function(k) return v(k) end)
  end
  fail(string.format("%s: expected a number, a schedule or a function of the step, got %s", where or "schedule", type(v)))
end

-- The first n values (k = 0 .. n-1), for plots and tests.
function schedule.values(s, n, epoch)
  s = schedule.wrap(s, "schedule.values")
  local out = {}
  for k = 0, n - 1 do out[k + 1] = s:at(k, epoch) end
  return out
end

-- ---- help ------------------------------------------------------------------
local help = require "help"
do
  local common = "\nEvery schedule also takes unit = \"step\" (default) | \"epoch\", steps_per_epoch, and per_step = true\n" ..
                 "(with unit = \"epoch\": counted in epochs, moved every update). s(k) or s:at(k, epoch) gives a value."
  help.register(schedule, [[
schedule  values of a hyperparameter over training: optim.SGD{lr = schedule.linear{from = 0.1, to = 0.001, steps = 1000}}
k counts the optimizer updates already done (the first update uses s(0)).]])
  for _, d in ipairs {
    { schedule.constant, "schedule.constant(value)  the same value at every step" },
    { schedule.linear, [[schedule.linear{from = e0, to = e_tau, steps = tau}  linear decay, the textbook's Section 8.3.1:
e_k = (1 - k/tau) e0 + (k/tau) e_tau for k <= tau, then e_tau.
  from   the first value (e0)
  to     the last value (e_tau), kept after `steps`
  steps  tau: updates (or epochs, with unit = "epoch") to go from `from` to `to`]] },
    { schedule.step, "schedule.step{initial, step_size, gamma = 0.1}  initial * gamma^floor(k / step_size) (PyTorch StepLR)" },
    { schedule.multistep, "schedule.multistep{initial, milestones = {k1, k2, ...}, gamma = 0.1}  times gamma at each milestone (PyTorch MultiStepLR)" },
    { schedule.exponential, "schedule.exponential{initial, rate, steps = 1, staircase = false}  initial * rate^(k / steps) (Keras ExponentialDecay)" },
    { schedule.inverse_time, "schedule.inverse_time{initial, rate, steps = 1, staircase = false}  initial / (1 + rate * k / steps) (Keras InverseTimeDecay)" },
    { schedule.cosine, "schedule.cosine{initial, steps, min = 0, restarts = false, t_mult = 1, m_mul = 1}  cosine annealing from initial to min (SGDR with restarts)" },
    { schedule.warmup, "schedule.warmup(n, inner [, start = 0])  linear from start to inner's first value over n steps, then inner shifted by n" },
    { schedule.one_cycle, "schedule.one_cycle{max, steps, pct_start = 0.3, div_factor = 25, final_div_factor = 1e4}  PyTorch OneCycleLR (cosine)" },
    { schedule.sequence, "schedule.sequence{{s1, steps = n1}, {s2, steps = n2}, {s3}}  pieces one after another, each from its own k = 0" },
    { schedule.plateau, "schedule.plateau{initial, factor = 0.1, patience = 10, mode = \"min\", threshold = 1e-4, cooldown = 0, min = 0}\n" ..
                        "times factor when the metric given to opt:observe(m) stops improving (PyTorch ReduceLROnPlateau)" },
    { schedule.values, "schedule.values(s, n [, epoch])  the first n values s(0) .. s(n-1), for plots and tests" },
    { schedule.wrap, "schedule.wrap(v [, where])  a number, schedule or function of k as a schedule" },
    { schedule.is_schedule, "schedule.is_schedule(v)  true if v is a schedule" },
  } do help.register(d[1], d[2] .. ((d[1] ~= schedule.values and d[1] ~= schedule.wrap and d[1] ~= schedule.is_schedule) and common or "")) end
end

return schedule
