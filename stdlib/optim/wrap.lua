-- Wrappers: an optimizer around any other (built-in, declared with
-- optim.define, or another wrapper), each one small unit:
--   optim.EMA(opt [, {momentum = 0.99}])    exponential moving average of the weights
--   optim.Polyak(opt)                       running mean of the iterates (the textbook's 8.7.3)
--   optim.Lookahead(opt [, {k = 5, alpha = 0.5}])   k fast steps, then the slow weights move alpha of the way
--   optim.Accumulate(opt, {steps = n})      n calls, one update with their mean gradient
-- A wrapper acts once per call of its step, after (or, for Accumulate,
-- instead of) the inner optimizer's step, so the order of composition is
-- the order of the operations: Accumulate(Polyak(opt), {steps = 4}) averages
-- the iterates of the updates, Polyak(Accumulate(opt, ...)) those of the calls.
-- Keras's use_ema and gradient_accumulation_steps options are these
-- wrappers (optim/keras_base.lua). README, "Optimizers", "Wrappers".
local C = require "optlab.core"
local tensor = require "tensor"
local serial = require "serial"
local suggest = require "suggest"

local M = {}

local function fail(msg) C.raise(msg) end

-- A model, a tensor or a list of tensors, as the list of tensors.
function M.param_list(params)
  if tensor.is_tensor(params) then return { params } end
  if type(params) == "table" and type(params.parameters) == "function" then return params:parameters() end
  if type(params) ~= "table" then fail("optimizer step: expected a list of tensors, got " .. type(params)) end
  return params
end
local param_list = M.param_list

local function fmt(v)
  if type(v) == "number" then return string.format("%g", v) end
  return tostring(v)
end

local function is_optimizer(o) return type(o) == "table" and type(o.step) == "function" end

-- An optimizer whose step needs a closure (nesterov = "literal" somewhere in the chain).
function M.needs_closure(o)
  while type(o) == "table" do
    if type(o.values) == "table" and o.values.nesterov == "literal" then return o end
    o = o.inner
  end
end

local Wrapper = {}
Wrapper.__index = Wrapper
Wrapper.__tostring = function(self) return self.label end
M.Wrapper = Wrapper

-- Options: ordered list of { name, default, check(v) -> error text or nil }.
local function integer_from(lo)
  return function(v)
    if type(v) ~= "number" or v ~= v or v < lo or v ~= math.floor(v) or v == math.huge then
      return string.format("must be an integer >= %d", lo)
    end
  end
end
local function unit(lo_open, hi_open)
  return function(v)
    if type(v) ~= "number" or v ~= v or (lo_open and v <= 0) or v < 0 or (hi_open and v >= 1) or v > 1 then
      return string.format("must be a number in %s0, 1%s", lo_open and "(" or "[", hi_open and ")" or "]")
    end
  end
end

-- The wrapper `kind` around inner with the options opts. as_option: made
-- from an optimizer's own option (use_ema, gradient_accumulation_steps): it
-- keeps the inner optimizer's name, label and values, as Keras's options do.
local function new(kind, fields, inner, opts, as_option)
  local where = "optim." .. kind
  if not is_optimizer(inner) then
    fail(string.format("%s: expected an optimizer to wrap (optim.%s(optim.Adam{...}, {...})), got %s", where, kind,
      type(inner)))
  end
  if opts ~= nil and type(opts) ~= "table" then fail(where .. ": options must be a table, got " .. type(opts)) end
  local values, given = {}, {}
  local names = {}
  for _, f in ipairs(fields) do names[#names + 1] = f[1] end
  for k, v in pairs(opts or {}) do
    local known = false
    for _, f in ipairs(fields) do if f[1] == k then known = true end end
    if not known then
      fail(string.format("%s: unknown option '%s'%s (options: %s)", where, tostring(k), suggest.phrase(tostring(k), names),
        table.concat(names, ", ")))
    end
    values[k], given[k] = v, true
  end
  for _, f in ipairs(fields) do
    local k = f[1]
    if values[k] == nil then values[k] = f[2] end
    local v = values[k]
    if v == nil and f.optional then
      -- left unset
    elseif f.check then
      local err = f.check(v)
      if err then fail(string.format("%s: %s = %s %s", where, k, fmt(v), err)) end
    end
  end
  local lit = M.needs_closure(inner)
  if lit and kind ~= "EMA" and kind ~= "Polyak" then
    fail(string.format("%s: %s has nesterov = \"literal\", which evaluates its own gradient through a closure every call; "
      .. "%s cannot wrap it (use nesterov = true)", where, tostring(lit), kind))
  end
  local self = setmetatable({
    kind = kind, inner = inner, opts = values, calls = 0, t = inner.t, epoch = inner.epoch, sched = inner.sched,
    state = setmetatable({}, { __mode = "k" }), order = {}, pending = nil, as_option = as_option,
  }, Wrapper)
  if as_option then
    self.name, self.values, self.label = inner.name, inner.values, inner.label
  else
    local parts = { tostring(inner) }
    for _, f in ipairs(fields) do
      local v = values[f[1]]
      if v ~= nil and (f.show or given[f[1]]) then parts[#parts + 1] = f[1] .. "=" .. fmt(v) end
    end
    self.name = kind
    self.label = kind .. "(" .. table.concat(parts, ", ") .. ")"
    -- as plain data for manifests: the options and the inner optimizer's label
    self.values = { optimizer = tostring(inner) }
    for k, v in pairs(values) do self.values[k] = v end
  end
  return self
end

-- This wrapper's buffers of parameter p (the i-th of the step's list),
-- made by init(p) on first sight, or taken from a loaded state_dict.
local function state_of(self, p, i, init)
  local st = self.state[p]
  if st then return st end
  st = init(p)
  if self.pending and self.pending[i] then
    local loaded = self.pending[i]
    for name, t in pairs(st) do
      local l = loaded[name]
      if not l then fail(string.format("%s: loaded state of parameter %d lacks buffer '%s'", self.name, i, name)) end
      local a, b = table.concat(t:shape(), "x"), table.concat(l:shape(), "x")
      if a ~= b then
        fail(string.format("%s: loaded state '%s' of parameter %d has shape %s, the parameter has shape %s", self.name, name, i, b, a))
      end
      t:copy_(l)
    end
    for name in pairs(loaded) do
      if not st[name] then fail(string.format("%s: loaded state has buffer '%s' that %s does not use", self.name, name, self.kind)) end
    end
    self.pending[i] = nil
  end
  self.state[p] = st
  self.order[#self.order + 1] = p
  return st
end

-- Updates the inner optimizer made before this call (Keras's iterations).
local function inner_updates(self)
  return type(self.inner.t) == "number" and self.inner.t or self.calls
end

-- grad_norm: the .grad's global norm from a caller that computed it (train.fit; Optimizer:step),
-- passed on where the inner optimizer sees those .grad (not under Accumulate).
function Wrapper:step(params, closure, grad_norm)
  params = param_list(params)
  if closure ~= nil and type(closure) ~= "function" then fail(self.name .. ": step's closure must be a function") end
  for i, p in ipairs(params) do
    if not tensor.is_tensor(p) then fail(string.format("%s: parameter %d is not a tensor", self.name, i)) end
  end
  local loss = self:_step(params, closure, grad_norm)
  self.calls = self.calls + 1
  self.t = self.inner.t
  return loss
end

---------------------------------------------------------------- weight averaging

-- EMA: a <- m a + (1 - m) theta after every call, m = 0 while the inner
-- optimizer has made no update (so the average starts at theta): Keras's
-- use_ema (base_optimizer._update_model_variables_moving_average), torch's
-- AveragedModel with an EMA avg_fn, optax.ema without debiasing. Every
-- overwrite_frequency updates the parameters take the averages (Keras's
-- ema_overwrite_frequency).
-- Polyak: a <- a + (theta - a) / n at the n-th call (a = theta at the first):
-- the running mean of the iterates, the textbook's Polyak averaging
-- (Section 8.7.3), torch.optim.swa_utils.AveragedModel's default avg_fn.
local AVERAGE = {
  EMA = { { "momentum", 0.99, check = unit(false, false), show = true },
          { "overwrite_frequency", nil, check = integer_from(1), optional = true } },
  Polyak = {},
}

local function zeros_like(name)
  return function(p) return { [name] = tensor.zeros(p:shape()) } end
end

local function average_step(self, params, closure, grad_norm)
  local it = inner_updates(self)
  local loss = self.inner:step(params, closure, grad_norm)
  local ema = self.kind == "EMA"
  local buf = ema and "ema" or "average"
  tensor.no_grad(function()
    if ema then
      -- the momentum as the parameters' float32, and 1 - m in float32 (Keras's ops)
      local m = it ~= 0 and compat.f32(self.opts.momentum) or 0
      for i, p in ipairs(params) do
        local avg = state_of(self, p, i, zeros_like(buf)).ema
        avg:mul_(m):add_(p:clone():mul_(1 - m))
      end
      local f = self.opts.overwrite_frequency
      if f and (it + 1) % f == 0 then
        for i, p in ipairs(params) do p:copy_(self.state[p].ema) end
      end
    else
      local n = self.calls + 1
      for i, p in ipairs(params) do
        local avg = state_of(self, p, i, zeros_like(buf)).average
        if n == 1 then avg:copy_(p) else avg:add_(p:clone():sub_(avg):div_(n)) end
      end
    end
  end)
  return loss
end

-- Swaps each parameter p with its average state[p][buf] (a second call swaps
-- back): what evaluation runs on (train.fit, around each validation, as
-- Keras's SwapEMAWeights). Returns true if it swapped, false while some
-- parameter has no average yet. Also a declaration's averaged point
-- (optim.define's average = "x", optim/optimizer.lua).
function M.swap_averages(state, buf, params)
  params = param_list(params)
  for _, p in ipairs(params) do
    if not (state[p] and state[p][buf]) then return false end   -- nothing averaged yet
  end
  tensor.no_grad(function()
    for _, p in ipairs(params) do
      local avg = state[p][buf]
      local raw = p:clone()
      p:copy_(avg)
      avg:copy_(raw)
    end
  end)
  return true
end

local function average_swap(self, params)
  return M.swap_averages(self.state, self.kind == "EMA" and "ema" or "average", params)
end

-- The parameters take their averages (Keras's finalize_variable_values; train.fit calls it at the end).
local function average_finalize(self, params)
  params = param_list(params)
  if type(self.inner.finalize) == "function" then self.inner:finalize(params) end
  local buf = self.kind == "EMA" and "ema" or "average"
  tensor.no_grad(function()
    for i, p in ipairs(params) do
      local st = self.state[p]
      if not st then fail(string.format("%s: finalize: parameter %d was never stepped", self.name, i)) end
      p:copy_(st[buf])
    end
  end)
end

---------------------------------------------------------------- Lookahead

-- Lookahead (Zhang, Lucas, Ba, Hinton, NeurIPS 2019, arXiv:1907.08610): the
-- inner optimizer moves the fast weights theta; every k calls the slow
-- weights phi <- phi + alpha (theta - phi) and theta <- phi. Computed as the
-- authors' code does (github.com/michaelrzhang/lookahead, lookahead_pytorch.py):
-- theta <- alpha theta + (1 - alpha) phi, then phi <- theta; phi starts at
-- the parameters before the first step. Their pullback_momentum is not here
-- (its default, "none", is).
local LOOKAHEAD = {
  { "k", 5, check = integer_from(1), show = true },
  { "alpha", 0.5, check = unit(false, false), show = true },
}

local function lookahead_step(self, params, closure, grad_norm)
  tensor.no_grad(function()
    for i, p in ipairs(params) do state_of(self, p, i, function(q) return { slow = q:clone() } end) end
  end)
  local loss = self.inner:step(params, closure, grad_norm)
  if (self.calls + 1) % self.opts.k == 0 then
    local a = self.opts.alpha
    tensor.no_grad(function()
      for _, p in ipairs(params) do
        local slow = self.state[p].slow
        p:mul_(a):add_(slow:clone():mul_(1 - a))
        slow:copy_(p)
      end
    end)
  end
  return loss
end

---------------------------------------------------------------- gradient accumulation

-- Accumulate: calls 1..n-1 add the gradient to an accumulator and leave the
-- parameters alone; call n gives the inner optimizer the mean (g + acc) / n
-- as the gradient and clears the accumulator (Keras's
-- gradient_accumulation_steps, optax.MultiSteps). The inner optimizer's step
-- count t, its schedules and its clipping see updates, not calls.
local ACCUMULATE = { { "steps", nil, check = integer_from(2), show = true } }

local function accumulate_step(self, params, closure)
  local n = self.opts.steps
  local loss
  if closure then loss = closure() end
  for i, p in ipairs(params) do
    if not p.grad then fail(string.format("%s: parameter %d has no .grad (run backward first)", self.name, i)) end
  end
  local acc = {}
  for i, p in ipairs(params) do acc[i] = state_of(self, p, i, zeros_like("grad_acc")).grad_acc end
  if (self.calls + 1) % n ~= 0 then
    tensor.no_grad(function() for i, p in ipairs(params) do acc[i]:add_(p.grad) end end)
    return loss
  end
  local own = {}
  tensor.no_grad(function()
    for i, p in ipairs(params) do
      own[i] = p.grad
      p.grad = p.grad:clone():add_(acc[i]):div_(n)
      acc[i]:zero_()
    end
  end)
  local ok, err = pcall(self.inner.step, self.inner, params)
  for i, p in ipairs(params) do p.grad = own[i] end     -- the caller's gradients, as they were
  if not ok then error(err, 0) end
  return loss
end

---------------------------------------------------------------- the rest, for all

local KINDS = {
  EMA = { fields = AVERAGE.EMA, step = average_step, swap = average_swap, finalize = average_finalize },
  Polyak = { fields = AVERAGE.Polyak, step = average_step, swap = average_swap, finalize = average_finalize },
  Lookahead = { fields = LOOKAHEAD, step = lookahead_step },
  Accumulate = { fields = ACCUMULATE, step = accumulate_step },
}

function Wrapper:_step(params, closure, grad_norm) return KINDS[self.kind].step(self, params, closure, grad_norm) end

function Wrapper:swap_average(params)
  local own = KINDS[self.kind].swap
  if own then return own(self, params) end
  return type(self.inner.swap_average) == "function" and self.inner:swap_average(params) or false
end

function Wrapper:finalize(params)
  local own = KINDS[self.kind].finalize
  if own then return own(self, params) end
  if type(self.inner.finalize) == "function" then self.inner:finalize(params) end
end

function Wrapper:describe() return self.label end
function Wrapper:set_epoch(e)
  self.epoch = e
  if type(self.inner.set_epoch) == "function" then self.inner:set_epoch(e) else self.inner.epoch = e end
end
function Wrapper:observe(metric) if type(self.inner.observe) == "function" then self.inner:observe(metric) end end
function Wrapper:hyper()
  if type(self.inner.hyper) == "function" then return self.inner:hyper() end
  return { lr = self.inner.lr }
end
function Wrapper:resolve(k) return self.inner:resolve(k) end
function Wrapper:clipping() return self.inner:clipping() end
function Wrapper:zero_grad(params)
  for _, p in ipairs(param_list(params)) do if p.grad then p.grad:zero_() end end
end

-- Everything needed to resume bit-identically: the calls, the inner
-- optimizer's state_dict, and a copy of every buffer of this wrapper, by the
-- parameters' order of first appearance.
function Wrapper:state_dict()
  if type(self.inner.state_dict) ~= "function" then fail(self.name .. ": the wrapped optimizer has no state_dict") end
  local sd = { name = self.name, wrapper = self.kind, t = self.t, calls = self.calls, epoch = self.epoch,
               inner = self.inner:state_dict(), state = {} }
  for i, p in ipairs(self.order) do
    local st = {}
    for name, t in pairs(self.state[p]) do st[name] = t:clone() end
    sd.state[i] = st
  end
  return sd
end

function Wrapper:load_state_dict(sd, params)
  if type(sd) ~= "table" or sd.name == nil then fail(self.name .. ": load_state_dict expects a table from state_dict()") end
  if sd.name ~= self.name or sd.wrapper ~= self.kind then
    fail(string.format("%s: cannot load the state of %s%s", self.name, tostring(sd.name),
      sd.wrapper and sd.wrapper ~= sd.name and (" (" .. tostring(sd.wrapper) .. ")") or
      (self.as_option and " without its " .. self.kind .. " (state saved before use_ema and gradient_accumulation_steps were wrappers?)" or "")))
  end
  if type(sd.calls) ~= "number" or sd.calls ~= math.floor(sd.calls) or sd.calls < 0 then
    fail(self.name .. ": state_dict's call count must be an integer >= 0, got " .. tostring(sd.calls))
  end
  if type(sd.state) ~= "table" then fail(self.name .. ": state_dict.state is not a list") end
  for i, st in ipairs(sd.state) do
    if type(st) ~= "table" then fail(string.format("%s: state of parameter %d is not a table", self.name, i)) end
    for name, t in pairs(st) do
      if not tensor.is_tensor(t) then fail(string.format("%s: state '%s' of parameter %d is not a tensor", self.name, tostring(name), i)) end
    end
  end
  self.inner:load_state_dict(sd.inner, params)
  self.calls, self.epoch, self.t = sd.calls, sd.epoch, self.inner.t
  self.state = setmetatable({}, { __mode = "k" })
  self.order, self.pending = {}, {}
  for i, st in ipairs(sd.state) do
    local copy = {}
    for name, t in pairs(st) do copy[name] = t:clone() end
    self.pending[i] = copy
  end
  if params then
    local list = param_list(params)
    if #sd.state > 0 and #sd.state ~= #list then
      fail(string.format("%s: state_dict has the state of %d parameters; there are %d", self.name, #sd.state, #list))
    end
    local make = {
      EMA = zeros_like("ema"), Polyak = zeros_like("average"), Accumulate = zeros_like("grad_acc"),
      Lookahead = function(q) return { slow = tensor.zeros(q:shape()) } end,
    }
    for i, p in ipairs(list) do
      if self.pending[i] then state_of(self, p, i, make[self.kind]) end
    end
  end
end

function Wrapper:save(path) serial.save(path, self:state_dict()) end

function Wrapper:load(path, params)
  local ok, sd = pcall(serial.load, path)
  if not ok then fail(self.name .. ": cannot load optimizer state: " .. tostring(sd)) end
  self:load_state_dict(sd, params)
end

-- The constructors: optim.EMA(opt [, opts]) and friends.
for kind, k in pairs(KINDS) do
  M[kind] = function(inner, opts) return new(kind, k.fields, inner, opts) end
end

-- The wrapper made from an optimizer's own option (optim/keras_base.lua).
function M.as_option(kind, inner, opts) return new(kind, KINDS[kind].fields, inner, opts, true) end

local HELP = {
  EMA = [[optim.EMA(opt [, {momentum = 0.99, overwrite_frequency = n}])  weight averaging, exponential
After every step of opt: a <- momentum*a + (1-momentum)*theta, starting at theta (momentum 0 while opt
has made no update): Keras's use_ema (which is this wrapper), torch's AveragedModel with an EMA,
optax.ema. Evaluation uses a: train.fit and experiment.compare validate with the averages swapped in
(opt:swap_average) and training goes on from the raw weights; at the end the model keeps the
averages (opt:finalize). overwrite_frequency: every n updates the parameters take the averages.
e.g. optim.EMA(optim.Adam{lr = 1e-3}, {momentum = 0.999})]],
  Polyak = [[optim.Polyak(opt)  weight averaging, arithmetic: the running mean of the iterates
(the textbook's Polyak averaging, Section 8.7.3; torch.optim.swa_utils.AveragedModel's default):
after the n-th step of opt, a <- a + (theta - a)/n (a = theta at the first). Evaluation uses a,
as for optim.EMA. e.g. optim.Polyak(optim.SGD{lr = 0.1})]],
  Lookahead = [[optim.Lookahead(opt [, {k = 5, alpha = 0.5}])  Lookahead (Zhang, Lucas, Ba, Hinton, NeurIPS 2019,
arXiv:1907.08610): opt takes k steps of the fast weights theta, then the slow weights
phi <- phi + alpha*(theta - phi) and theta <- phi (computed as the authors' code: alpha*theta + (1-alpha)*phi).
Not the textbook's look-ahead Nesterov (nesterov = "literal" on SGD and RMSprop).
e.g. optim.Lookahead(optim.Adam{lr = 1e-3}, {k = 5, alpha = 0.5})]],
  Accumulate = [[optim.Accumulate(opt, {steps = n})  gradient accumulation: calls 1..n-1 only add .grad to an
accumulator; call n steps opt once with the mean (g + acc)/n (Keras's gradient_accumulation_steps,
which is this wrapper; optax.MultiSteps). opt's t, schedules and clipping count updates.]],
}

-- help entries: the constructors and the methods of a wrapper.
function M.install_help(optim)
  local help = require "help"
  for kind, text in pairs(HELP) do help.register(optim[kind], text) end
  local methods = {
    step = "w:step(params [, closure [, grad_norm]])  the inner optimizer's step, then this wrapper's work (averaging, the slow weights); Accumulate calls closure itself and keeps grad_norm (the norm of one call's gradient) from the inner optimizer",
    swap_average = "opt:swap_average(params)  swaps the parameters with their averaged weights (EMA, Polyak; a second call swaps back); true if it swapped",
    finalize = "w:finalize(params)  the inner optimizer's finalize, then, for EMA and Polyak, the parameters take their averages",
    describe = "w:describe()  the label tostring(w) shows, e.g. Lookahead(Adam(lr=0.001, ...), k=5, alpha=0.5)",
    set_epoch = "w:set_epoch(e)  passed to the inner optimizer (schedules with unit = \"epoch\")",
    observe = "w:observe(metric)  passed to the inner optimizer (plateau schedules)",
    hyper = "w:hyper()  the inner optimizer's hyperparameters of the last step",
    resolve = "w:resolve(k)  the inner optimizer's hyperparameters for update k",
    clipping = "w:clipping()  the inner optimizer's clippings",
    zero_grad = "w:zero_grad(params)  zero the .grad of every tensor in params",
    state_dict = "w:state_dict()  the call count, the inner optimizer's state_dict and a copy of this wrapper's buffers: resume is bit-identical",
    load_state_dict = "w:load_state_dict(sd [, params])  restore a state_dict(), the inner optimizer's with it",
    save = "w:save(path)  the state_dict in one file (serial.save)",
    load = "w:load(path [, params])  load_state_dict from a file written by w:save",
  }
  for name, text in pairs(methods) do help.register(Wrapper[name], text) end
  help.register(M.needs_closure, "needs_closure(opt)  the optimizer in opt's chain with nesterov = \"literal\", or nil")
end

return M
