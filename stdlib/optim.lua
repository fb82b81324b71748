-- Optimizers. Each is made from a table of hyperparameters and updates tensors
-- from their .grad in place, one fused C kernel call per tensor per step:
--   local opt = optim.Adam{lr = 1e-3}
--   opt:step(model:parameters())          -- or any list of tensors with .grad
-- Every hyperparameter is a number, a schedule (stdlib/schedule.lua) or a
-- Lua function of k, the number of updates already done.
-- Formulas, defaults and conventions: README, "Optimizers".
local C = require "optlab.core"
local tensor = require "tensor"
local schedule = require "schedule"
local serial = require "serial"

local optim = {}

local function fail(msg) C.raise(msg) end

-- Validators: (value) -> error text or nil.
local function range(lo, hi, lo_open, hi_open)
  return function(v)
    if v ~= v or (lo_open and v <= lo) or (not lo_open and v < lo) or (hi_open and v >= hi) or (not hi_open and v > hi) then
      return string.format("must be in %s%g, %g%s", lo_open and "(" or "[", lo, hi, hi_open and ")" or "]")
    end
  end
end
local NONNEG = range(0, math.huge, false, false)
local UNIT_OPEN = range(0, 1, false, true)    -- [0, 1)
local UNIT = range(0, 1, false, false)        -- [0, 1]
local POS = range(0, math.huge, true, false)

-- Field kinds: "num" (schedulable number), "bool", "conv", "opt" (optional positive number).
local COMMON = {
  { "lr", "num", NONNEG }, { "weight_decay", "num", NONNEG },
  { "clip_norm", "opt", POS }, { "clip_value", "opt", POS },
  { "convention", "conv" },
}

local specs = {
  SGD = { kind = "SGD", show = { "lr" }, defaults = { lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false, lookahead = false },
    fields = { { "momentum", "num", UNIT_OPEN }, { "dampening", "num", UNIT }, { "nesterov", "bool" }, { "lookahead", "bool" } },
    keras = { lr = 0.01, momentum = 0, nesterov = false } },
  Adagrad = { kind = "Adagrad", show = { "lr", "eps" }, defaults = { lr = 0.01, eps = 1e-7, initial_accumulator = 0, weight_decay = 0, eps_inside_sqrt = false },
    fields = { { "eps", "num", NONNEG }, { "initial_accumulator", "fixed", NONNEG }, { "eps_inside_sqrt", "bool" } },
    keras = { lr = 0.001, initial_accumulator = 0.1, eps = 1e-7 } },
  RMSprop = { kind = "RMSprop", show = { "lr", "rho", "eps" }, defaults = { lr = 0.001, rho = 0.9, eps = 1e-6, momentum = 0, weight_decay = 0, nesterov = false, centered = false, lookahead = false, eps_inside_sqrt = false },
    fields = { { "rho", "num", UNIT }, { "eps", "num", NONNEG }, { "momentum", "num", UNIT_OPEN }, { "nesterov", "bool" },
               { "centered", "bool" }, { "lookahead", "bool" }, { "eps_inside_sqrt", "bool" } },
    keras = { lr = 0.001, rho = 0.9, eps = 1e-7, momentum = 0, centered = false } },
  Adam = { kind = "Adam", show = { "lr", "beta1", "beta2", "eps" }, defaults = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, amsgrad = false, eps_inside_sqrt = false },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG }, { "amsgrad", "bool" }, { "eps_inside_sqrt", "bool" } },
    keras = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, amsgrad = false } },
  AdamW = { kind = "Adam", decoupled = true, show = { "lr", "beta1", "beta2", "eps", "weight_decay" }, defaults = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01, amsgrad = false, eps_inside_sqrt = false },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG }, { "amsgrad", "bool" }, { "eps_inside_sqrt", "bool" } },
    keras = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, weight_decay = 0.004 } },
  Adamax = { kind = "Adamax", show = { "lr", "beta1", "beta2", "eps" }, defaults = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG } },
    keras = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7 } },
  Nadam = { kind = "Nadam", show = { "lr", "beta1", "beta2", "eps" }, defaults = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum_decay = 0.004, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT_OPEN }, { "beta2", "num", UNIT_OPEN }, { "eps", "num", NONNEG }, { "momentum_decay", "fixed", NONNEG } },
    keras = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7 } },
  Lion = { kind = "Lion", show = { "lr", "beta1", "beta2" }, defaults = { lr = 1e-4, beta1 = 0.9, beta2 = 0.99, weight_decay = 0 },
    fields = { { "beta1", "num", UNIT }, { "beta2", "num", UNIT } },
    keras = { lr = 0.001, beta1 = 0.9, beta2 = 0.99 } },
  Rprop = { kind = "Rprop", show = { "lr" }, defaults = { lr = 0.01, etaminus = 0.5, etaplus = 1.2, step_min = 1e-6, step_max = 50, weight_decay = 0 },
    fields = { { "etaminus", "num", range(0, 1, true, true) }, { "etaplus", "num", range(1, math.huge, true, false) },
               { "step_min", "num", NONNEG }, { "step_max", "num", NONNEG } } },
  Adadelta = { kind = "Adadelta", show = { "lr", "rho", "eps" }, defaults = { lr = 1.0, rho = 0.95, eps = 1e-6, weight_decay = 0 },
    fields = { { "rho", "num", UNIT }, { "eps", "num", NONNEG } },
    keras = { lr = 0.001, rho = 0.95, eps = 1e-7 } },
}

-- Keras and PyTorch spellings accepted for ours.
local ALIASES = { learning_rate = "lr", epsilon = "eps", beta_1 = "beta1", beta_2 = "beta2",
                  initial_accumulator_value = "initial_accumulator", alpha = "rho",
                  clipnorm = "clip_norm", global_clipnorm = "clip_norm", clipvalue = "clip_value" }

local CONVENTIONS = { textbook = true, keras = true, keras3 = true, torch = true }

-- Build the per-optimizer field table once.
for name, sp in pairs(specs) do
  sp.name = name
  sp.field = {}
  sp.order = {}
  for _, list in ipairs { COMMON, sp.fields } do
    for _, f in ipairs(list) do
      sp.field[f[1]] = { kind = f[2], check = f[3] }
    end
  end
  -- label order: shown fields, then the spec's own fields, then common ones
  local seen = {}
  for _, list in ipairs { sp.show, sp.fields, COMMON } do
    for _, f in ipairs(list) do
      local k = type(f) == "table" and f[1] or f
      if not seen[k] then seen[k] = true; sp.order[#sp.order + 1] = k end
    end
  end
end

local function edit_distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local c = a:sub(i, i) == b:sub(j, j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + c)
    end
  end
  return d[#a][#b]
end

local function suggest(sp, key)
  local best, bd = nil, 4
  local cands = {}
  for k in pairs(sp.field) do cands[#cands + 1] = k end
  for k in pairs(ALIASES) do cands[#cands + 1] = k end
  table.sort(cands)
  for _, k in ipairs(cands) do
    local d = edit_distance(key, k)
    if d < bd then best, bd = k, d end
  end
  return best
end

local function fmt(v)
  if type(v) == "number" then return string.format("%g", v) end
  return tostring(v)
end

local Optimizer = {}
Optimizer.__index = Optimizer

-- Check one resolved numeric value; `at` says where it came from.
local function check_value(sp, key, v, at)
  local f = sp.field[key]
  if type(v) ~= "number" then
    fail(string.format("%s: %s%s must be a number, got %s", sp.name, key, at, type(v)))
  end
  local err = f.check and f.check(v)
  if err then fail(string.format("%s: %s = %g%s %s", sp.name, key, v, at, err)) end
end

local function new_optimizer(sp, hp, base)
  if hp ~= nil and type(hp) ~= "table" then
    fail(string.format("optim.%s: expected a table of hyperparameters, got %s", sp.name, type(hp)))
  end
  hp = hp or {}
  local given, values = {}, {}
  for k, v in pairs(base or {}) do values[k] = v end
  for k, v in pairs(hp) do
    if type(k) ~= "string" then fail(string.format("%s: hyperparameters are named (lr = ...), got a positional value", sp.name)) end
    if k == "betas" and sp.field.beta1 then
      if type(v) ~= "table" or #v ~= 2 then fail(sp.name .. ": betas must be {beta1, beta2}") end
      values.beta1, values.beta2, given.beta1, given.beta2 = v[1], v[2], true, true
    else
      local key = ALIASES[k] or k
      if not sp.field[key] then
        local s = suggest(sp, k)
        fail(string.format("%s: unknown hyperparameter '%s'%s", sp.name, k, s and (" (did you mean '" .. s .. "'?)") or ""))
      end
      values[key], given[key] = v, true
    end
  end
  for k, v in pairs(sp.defaults) do if values[k] == nil then values[k] = v end end
  local conv = values.convention or "textbook"
  if not CONVENTIONS[conv] then
    fail(string.format("%s: convention = %s is unknown (textbook, keras, keras3, torch)", sp.name, tostring(conv)))
  end
  values.convention = conv
  -- Keras 2 starts Adagrad's accumulator at 0.1
  if sp.name == "Adagrad" and conv == "keras" and not given.initial_accumulator and not (base and base.initial_accumulator) then
    values.initial_accumulator = 0.1
  end
  local sched = {}
  for key, f in pairs(sp.field) do
    local v = values[key]
    if f.kind == "bool" then
      if type(v) ~= "boolean" then fail(string.format("%s: %s must be true or false, got %s", sp.name, key, fmt(v))) end
    elseif f.kind == "opt" then
      if v ~= nil then check_value(sp, key, v, "") end
    elseif f.kind == "fixed" then
      check_value(sp, key, v, "")
    elseif f.kind == "num" then
      if type(v) == "number" then check_value(sp, key, v, "")
      elseif schedule.is_schedule(v) or type(v) == "function" then sched[key] = schedule.wrap(v, sp.name .. ": " .. key)
      else fail(string.format("%s: %s must be a number, a schedule or a function of the step, got %s", sp.name, key, type(v))) end
    end
  end
  if values.nesterov then
    if values.momentum == 0 then fail(sp.name .. ": nesterov = true needs momentum > 0") end
    if type(values.dampening) == "number" and values.dampening ~= 0 then fail(sp.name .. ": nesterov = true needs dampening = 0") end
    if sp.name == "RMSprop" and conv ~= "textbook" then
      fail("RMSprop: nesterov = true is the seed's RMSProp with Nesterov momentum; convention '" .. conv ..
           "' has no such optimizer (use convention = \"textbook\")")
    end
  end
  if values.lookahead and not values.nesterov then fail(sp.name .. ": lookahead = true evaluates the gradient at theta + alpha v: it needs nesterov = true") end
  if type(values.step_min) == "number" and type(values.step_max) == "number" and values.step_min > values.step_max then
    fail(sp.name .. ": step_min must be <= step_max")
  end
  local self = setmetatable({
    spec = sp, name = sp.name, values = values, given = given, sched = sched,
    t = 0, epoch = nil, mu_prod = 1.0, last = nil,
    state = setmetatable({}, { __mode = "k" }), order = {}, pending = nil,
  }, Optimizer)
  self.label = self:describe()
  return self
end

function Optimizer:describe()
  local sp, parts = self.spec, {}
  local shown = {}
  for _, k in ipairs(sp.show) do shown[k] = true end
  for _, k in ipairs(sp.order) do
    local v = self.values[k]
    if v ~= nil and (shown[k] or (self.given[k] and not (k == "convention" and v == "textbook"))) then
      parts[#parts + 1] = k .. "=" .. fmt(v)
    elseif k == "convention" and v ~= "textbook" then
      parts[#parts + 1] = k .. "=" .. fmt(v)
    end
  end
  return sp.name .. "(" .. table.concat(parts, ", ") .. ")"
end

Optimizer.__tostring = function(self) return self.label end

-- Values of the schedulable hyperparameters for update k (0-based).
function Optimizer:resolve(k)
  local sp, hv = self.spec, {}
  for key, f in pairs(sp.field) do
    if f.kind == "num" then
      local s = self.sched[key]
      if s then
        local v = s:at(k, self.epoch)
        check_value(sp, key, v, string.format(" (from its schedule at step %d)", k))
        hv[key] = v
      else
        hv[key] = self.values[key]
      end
    end
  end
  return hv
end

function Optimizer:set_epoch(e) self.epoch = e end

-- Feed a monitored metric to plateau schedules.
function Optimizer:observe(metric)
  for _, s in pairs(self.sched) do if s.observe then s:observe(metric) end end
end

-- Values applied at the last step (lr, momentum, betas...), for logs.
function Optimizer:hyper()
  if not self.last then return self:resolve(self.t) end
  local out = {}
  for k, v in pairs(self.last) do out[k] = v end
  return out
end

local function param_list(params)
  if tensor.is_tensor(params) then return { params } end
  if type(params) == "table" and type(params.parameters) == "function" then return params:parameters() end
  if type(params) ~= "table" then fail("optimizer step: expected a list of tensors, got " .. type(params)) end
  return params
end

-- Which state buffers an optimizer keeps, in kernel argument order.
local function buffer_names(self)
  local v, k = self.values, self.spec.kind
  local mom = self.sched.momentum ~= nil or (type(v.momentum) == "number" and v.momentum ~= 0) or v.nesterov
  if k == "SGD" then return mom and { "velocity" } or {} end
  if k == "Adagrad" then return { "sum" } end
  if k == "RMSprop" then return { "square_avg", mom and "velocity" or false, v.centered and "grad_avg" or false } end
  if k == "Adam" then return { "m", "v", v.amsgrad and "vmax" or false } end
  if k == "Adamax" then return { "m", "u" } end
  if k == "Nadam" then return { "m", "v" } end
  if k == "Lion" then return { "m" } end
  if k == "Rprop" then return { "prev", "step_size" } end
  return { "square_avg", "acc_delta" }
end

local function state_of(self, p, i, hv)
  local st = self.state[p]
  if st then return st end
  st = {}
  local names = buffer_names(self)
  for j, name in ipairs(names) do
    if name then st[name] = tensor.zeros(p:shape()) end
  end
  if self.spec.kind == "Adagrad" and self.values.initial_accumulator ~= 0 then st.sum:fill_(self.values.initial_accumulator) end
  if self.spec.kind == "Rprop" then st.step_size:fill_(hv.lr) end
  -- state loaded before this parameter was seen: by its index in the list
  if self.pending and self.pending[i] then
    for name, t in pairs(self.pending[i]) do
      if not st[name] and name == "theta" then st[name] = tensor.zeros(p:shape()) end
      if not st[name] then fail(string.format("%s: loaded state has buffer '%s' that this optimizer does not use", self.name, name)) end
      local a, b = table.concat(st[name]:shape(), "x"), table.concat(t:shape(), "x")
      if a ~= b then
        fail(string.format("%s: loaded state '%s' of parameter %d has shape %s, the parameter has shape %s", self.name, name, i, b, a))
      end
      st[name]:copy_(t)
    end
    -- a buffer the update reads that the loaded state lacks would silently restart from zero
    for _, name in ipairs(names) do
      if name and not self.pending[i][name] then
        fail(string.format("%s: loaded state of parameter %d lacks buffer '%s'", self.name, i, name))
      end
    end
    self.pending[i] = nil
  end
  self.state[p] = st
  self.order[#self.order + 1] = p
  return st
end

local function hyper_table(self, hv, t, grad_scale)
  local v = self.values
  local h = {}
  for k, x in pairs(hv) do h[k] = x end
  h.t, h.convention, h.grad_scale = t, v.convention, grad_scale
  h.clip_value = v.clip_value
  h.nesterov, h.centered, h.amsgrad = v.nesterov, v.centered, v.amsgrad
  h.eps_inside_sqrt, h.decoupled = v.eps_inside_sqrt, self.spec.decoupled
  return h
end

-- One update of every tensor in params from its .grad. With a closure, the
-- closure recomputes loss and gradients first (at the look-ahead point with
-- lookahead = true, the seed's literal Nesterov forms); returns its loss.
function Optimizer:step(params, closure)
  params = param_list(params)
  if closure ~= nil and type(closure) ~= "function" then fail(self.name .. ": step's closure must be a function") end
  local k = self.t
  local hv = self:resolve(k)
  local v = self.values
  local loss
  local literal = v.lookahead
  if literal then
    if not closure then fail(self.name .. ": lookahead = true needs a closure: opt:step(params, function() ... return loss end)") end
    for i, p in ipairs(params) do
      if not tensor.is_tensor(p) then fail(string.format("%s: parameter %d is not a tensor", self.name, i)) end
      local st = state_of(self, p, i, hv)
      st.theta = st.theta or tensor.zeros(p:shape())
      C.optim_lookahead(p, st.velocity, st.theta, hv.momentum)    -- theta~ = theta + alpha v
    end
    loss = closure()
    for _, p in ipairs(params) do tensor.raw.copy_(p, self.state[p].theta) end
  elseif closure then
    loss = closure()
  end
  C.optim_check(self.label, params)
  local grad_scale = 1
  if v.clip_norm then
    local total = 0
    for _, p in ipairs(params) do total = total + C.optim_grad_sqnorm(p.grad) end
    local norm = math.sqrt(total)
    -- PyTorch clip_grad_norm_: scale by max_norm / (norm + 1e-6) when above
    if norm > v.clip_norm then grad_scale = v.clip_norm / (norm + 1e-6) end
  end
  self.t = k + 1
  local kind = self.spec.kind
  if kind == "Nadam" then
    local psi = v.momentum_decay
    hv.mu_t = hv.beta1 * (1 - 0.5 * 0.96 ^ (self.t * psi))
    hv.mu_next = hv.beta1 * (1 - 0.5 * 0.96 ^ ((self.t + 1) * psi))
    self.mu_prod = self.mu_prod * hv.mu_t
    hv.mu_prod = self.mu_prod
  end
  local ht = hyper_table(self, hv, self.t, grad_scale)
  if literal then ht.nesterov = false end   -- gradient already taken at theta + alpha v
  local h = C.optim_hyper(ht)
  local names = buffer_names(self)
  for i, p in ipairs(params) do
    local st = state_of(self, p, i, hv)
    local b1, b2, b3 = names[1], names[2], names[3]
    C.optim_update(kind, h, self.label, i, p, p.grad, b1 and st[b1] or nil, b2 and st[b2] or nil, b3 and st[b3] or nil)
  end
  hv.grad_scale = grad_scale
  self.last = hv
  return loss
end

function Optimizer:zero_grad(params)
  for _, p in ipairs(param_list(params)) do
    local g = p.grad
    if g then g:zero_() end
  end
end

-- Everything needed to resume bit-identically: step count, epoch, Nadam's
-- momentum product, schedule states, and every buffer (copied), by the
-- parameters' order of first appearance.
function Optimizer:state_dict()
  local sd = { name = self.name, t = self.t, epoch = self.epoch, mu_prod = self.mu_prod, schedules = {}, state = {} }
  for key, s in pairs(self.sched) do sd.schedules[key] = s:state() end
  for i, p in ipairs(self.order) do
    local st = {}
    for name, t in pairs(self.state[p]) do st[name] = t:clone() end
    sd.state[i] = st
  end
  return sd
end

-- params (optional): the list the state belongs to, in state_dict order;
-- without it, the state attaches to the parameters of the next step by index.
function Optimizer:load_state_dict(sd, params)
  if type(sd) ~= "table" or sd.name == nil then fail(self.name .. ": load_state_dict expects a table from state_dict()") end
  if sd.name ~= self.name then fail(string.format("%s: cannot load the state of a %s optimizer", self.name, tostring(sd.name))) end
  if type(sd.t) ~= "number" or sd.t ~= math.floor(sd.t) or sd.t < 0 or sd.t >= 2 ^ 53 then
    fail(self.name .. ": state_dict's step count t must be an integer >= 0, got " .. tostring(sd.t))
  end
  if sd.state ~= nil and type(sd.state) ~= "table" then fail(self.name .. ": state_dict.state is not a list") end
  for i, st in ipairs(sd.state or {}) do
    if type(st) ~= "table" then fail(string.format("%s: state of parameter %d is not a table", self.name, i)) end
    for name, t in pairs(st) do
      if not tensor.is_tensor(t) then fail(string.format("%s: state '%s' of parameter %d is not a tensor", self.name, tostring(name), i)) end
    end
  end
  self.t, self.epoch, self.mu_prod = sd.t, sd.epoch, sd.mu_prod or 1.0
  for key, s in pairs(self.sched) do s:load_state(sd.schedules and sd.schedules[key]) end
  self.state = setmetatable({}, { __mode = "k" })
  self.order = {}
  self.pending = {}
  for i, st in ipairs(sd.state or {}) do
    local copy = {}
    for name, t in pairs(st) do copy[name] = t:clone() end
    self.pending[i] = copy
  end
  if params then
    local list = param_list(params)
    -- after a step every parameter has its state (empty for plain SGD)
    if self.t > 0 and #(sd.state or {}) ~= #list then
      fail(string.format("%s: state_dict is at step %d with the state of %d parameters; there are %d", self.name,
                         self.t, #(sd.state or {}), #list))
    end
    local hv = self:resolve(self.t)
    for i, p in ipairs(list) do
      if self.pending[i] then state_of(self, p, i, hv) end
    end
  end
end

-- opt:save(path) / opt:load(path[, params]): the state_dict in one file
-- (serial.save: the tensors as records, the rest as parsed text).
function Optimizer:save(path)
  serial.save(path, self:state_dict())
end

function Optimizer:load(path, params)
  local ok, sd = pcall(serial.load, path)
  if not ok then fail(self.name .. ": cannot load optimizer state: " .. tostring(sd)) end
  self:load_state_dict(sd, params)
end

for name, sp in pairs(specs) do
  optim[name] = function(hp) return new_optimizer(sp, hp) end
end
optim.NAdam = optim.Nadam

-- Keras names with Keras 2 defaults and the keras convention, as the seed's
-- model.compile(optimizer = 'Adam') got them. Overrides may follow.
function optim.get(name, overrides)
  if type(name) ~= "string" then fail("optim.get: expected an optimizer name, got " .. type(name)) end
  local sp
  for n, s in pairs(specs) do if n:lower() == name:lower() then sp = s end end
  if not sp or not sp.keras then
    local names = {}
    for n, s in pairs(specs) do if s.keras then names[#names + 1] = n end end
    table.sort(names)
    fail(string.format("optim.get: unknown optimizer '%s' (known: %s)", name, table.concat(names, ", ")))
  end
  local base = { convention = "keras" }
  for k, v in pairs(sp.keras) do base[k] = v end
  local opt = new_optimizer(sp, overrides, base)
  for k in pairs(sp.keras) do opt.given[k] = opt.given[k] or (k == "lr") end
  opt.label = opt:describe()
  return opt
end

-- optim.sweep(optim.SGD, {lr = 0.01, momentum = {0, 0.5, 0.9, 0.99}}): one
-- optimizer per combination of the listed values (first key slowest).
function optim.sweep(ctor, grid)
  if type(ctor) ~= "function" then fail("optim.sweep: expected an optimizer constructor such as optim.SGD") end
  if type(grid) ~= "table" then fail("optim.sweep: expected a table of hyperparameters") end
  local keys, lists = {}, {}
  for k, v in pairs(grid) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = grid[k]
    if type(v) == "table" and getmetatable(v) == nil and #v > 0 and not (k == "betas" and type(v[1]) == "number") then
      lists[k] = v
    end
  end
  local out = {}
  local function rec(i, hp)
    if i > #keys then
      local copy = {}
      for k, v in pairs(hp) do copy[k] = v end
      out[#out + 1] = ctor(copy)
      return
    end
    local k = keys[i]
    if lists[k] then
      for _, v in ipairs(lists[k]) do hp[k] = v; rec(i + 1, hp) end
    else
      hp[k] = grid[k]; rec(i + 1, hp)
    end
  end
  rec(1, {})
  return out
end

-- help(optim.Adam) and friends: the seed's formula, our defaults, Keras's.
local FORMULAS = {
  SGD = [[theta <- theta - eps*g  (seed: SGD; eps from a schedule, e.g. schedule.linear)
momentum:  v <- alpha*v - eps*g;  theta <- theta + v
nesterov:  seed: g at theta + alpha*v; here the one-gradient form (Sutskever et al.):
           v <- alpha*v - eps*g;  theta <- theta + alpha*v - eps*g   (lookahead = true: literal)]],
  Adagrad = [[r <- r + g*g;  theta <- theta - eps/(delta + sqrt(r)) * g]],
  RMSprop = [[r <- rho*r + (1-rho)*g*g;  theta <- theta - eps/(delta + sqrt(r)) * g
nesterov = true (the seed's RMSProp with Nesterov momentum):
           v <- alpha*v - eps/sqrt(r) * g;  theta <- theta + v]],
  Adam = [[s <- rho1*s + (1-rho1)*g;  r <- rho2*r + (1-rho2)*g*g;  t <- t + 1
s_hat = s/(1-rho1^t);  r_hat = r/(1-rho2^t)
theta <- theta - eps * s_hat/(sqrt(r_hat) + delta)   (seed: sqrt(r_hat + delta): eps_inside_sqrt = true)]],
  AdamW = [[theta <- theta - lr*weight_decay*theta, then the Adam update (decoupled weight decay)]],
  Adamax = [[s as Adam;  u <- max(rho2*u, |g|);  theta <- theta - eps/(1-rho1^t) * s/(u + delta)]],
  Nadam = [[Adam with Nesterov momentum (Dozat 2016), momentum schedule mu_t = beta1*(1 - 0.5*0.96^(0.004 t))]],
  Lion = [[theta <- theta - lr*(sign(beta1*m + (1-beta1)*g) + weight_decay*theta);  m <- beta2*m + (1-beta2)*g]],
  Rprop = [[per element: step *= etaplus if g*g_prev > 0, *= etaminus if < 0 (clamped); theta <- theta - sign(g)*step]],
  Adadelta = [[r <- rho*r + (1-rho)*g*g;  d = sqrt(u + delta)/sqrt(r + delta) * g;  u <- rho*u + (1-rho)*d*d
theta <- theta - lr*d]],
}

do
  local help = require "help"
  local function kv(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do out[#out + 1] = k .. " = " .. tostring(t[k]) end
    return table.concat(out, ", ")
  end
  for name, sp in pairs(specs) do
    local text = string.format("optim.%s{%s}\n\n%s\n\nalso: weight_decay, clip_norm, clip_value, convention = "
      .. "\"textbook\" | \"keras\" | \"keras3\" | \"torch\"; any value may be a schedule.", name, kv(sp.defaults),
      FORMULAS[name] or "")
    if sp.keras then
      text = text .. string.format("\noptim.get(%q): Keras 2 defaults {%s}, convention \"keras\".", name, kv(sp.keras))
    end
    help.register(optim[name], text)
  end
  help.register(optim, [[optim: optimizers updating tensors in place from their .grad
optim.SGD, Adagrad, RMSprop, Adam, AdamW, Adamax, Nadam, Lion, Rprop, Adadelta{...}
opt:step(params [, closure]), opt:zero_grad(params), tostring(opt), opt:hyper(), opt:state_dict()
optim.get(name [, overrides]): Keras names and defaults; optim.sweep(ctor, grid): a list of optimizers]])
  help.register(optim.get, "optim.get(name [, overrides]): the optimizer Keras builds for optimizer = name (Keras 2 defaults, convention \"keras\")")
  help.register(optim.sweep, "optim.sweep(ctor, {lr = 0.01, momentum = {0, 0.5, 0.9}}): one optimizer per combination of the listed values")
end

optim.specs = specs
return optim
