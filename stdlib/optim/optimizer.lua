-- The optimizer object: made from a spec (optim/specs.lua) and a table of
-- hyperparameters; resolves schedules, clips, and steps every tensor through
-- its hand-written kernel (kernels/optim.c) or its declared program
-- (optim/define.lua); state_dict, save and load.
local C = require "optlab.core"
local tensor = require "tensor"
local schedule = require "schedule"
local serial = require "serial"
local conventions = require "optim.conventions"
local suggest = require "suggest"
local define = require "optim.define"
local ALIASES = require("optim.specs").ALIASES
local param_list, swap_averages = require("optim.wrap").param_list, require("optim.wrap").swap_averages

local function fail(msg) C.raise(msg) end

-- the hyperparameter names a mistyped key may have meant
local function field_names(sp)
  local names = {}
  for k in pairs(sp.field) do names[#names + 1] = k end
  for k in pairs(ALIASES) do names[#names + 1] = k end
  for k in pairs(sp.aliases or {}) do names[#names + 1] = k end
  return names
end

local function fmt(v)
  if type(v) == "number" then return string.format("%g", v) end
  return tostring(v)
end

local Optimizer = {}
Optimizer.__index = Optimizer
local clip_scales

-- Check one resolved numeric value; `at` says where it came from.
local function check_value(sp, key, v, at)
  local f = sp.field[key]
  if type(v) ~= "number" then
    fail(string.format("%s: %s%s must be a number, got %s", sp.name, key, at, type(v)))
  end
  local err = f.check and f.check(v)
  if err then fail(string.format("%s: %s = %g%s %s", sp.name, key, v, at, err)) end
end

-- The canonical convention, or an error naming the known ones (and the closest).
local function convention_of(c, who)
  local canon = conventions.normalize(c)
  if canon then return canon end
  fail(string.format("%s: convention = %s is unknown%s (known: %s; \"pytorch\" = \"torch\")", who,
    type(c) == "string" and string.format("%q", c) or tostring(c),
    suggest.phrase(c, conventions.names), table.concat(conventions.names, ", ")))
end

local function new_optimizer(sp, hp)
  if hp ~= nil and type(hp) ~= "table" then
    fail(string.format("optim.%s: expected a table of hyperparameters, got %s", sp.name, type(hp)))
  end
  hp = hp or {}
  local given, values = {}, {}
  for k, v in pairs(hp) do
    if type(k) ~= "string" then fail(string.format("%s: hyperparameters are named (lr = ...), got a positional value", sp.name)) end
    if k == "lookahead" and not sp.field.lookahead then
      -- renamed: Lookahead is the wrapper of Zhang et al. (optim.Lookahead)
      fail(string.format("%s: lookahead = ... is now nesterov = \"literal\" (the textbook's Nesterov, the gradient at " ..
        "theta + alpha v through a closure)%s; Lookahead (Zhang et al. 2019) is optim.Lookahead(opt, {k = 5, alpha = 0.5})",
        sp.name, sp.field.nesterov and "" or (" on SGD and RMSprop; " .. sp.name .. " has no such form")))
    end
    if k == "betas" and sp.field.beta1 then
      if type(v) ~= "table" or #v ~= 2 then fail(sp.name .. ": betas must be {beta1, beta2}") end
      values.beta1, values.beta2, given.beta1, given.beta2 = v[1], v[2], true, true
    else
      -- a field's own name first, then the declaration's aliases, then Keras's and PyTorch's spellings
      local key = sp.field[k] and k or (sp.aliases and sp.aliases[k]) or ALIASES[k] or k
      -- Keras 2's Nadam takes decay as its momentum schedule's decay (schedule_decay)
      if sp.name == "Nadam" and k == "decay" then key = "momentum_decay" end
      if not sp.field[key] then
        fail(string.format("%s: unknown hyperparameter '%s'%s", sp.name, k, suggest.phrase(k, field_names(sp))))
      end
      values[key], given[key] = v, true
    end
  end
  local conv = convention_of(values.convention or "textbook", sp.name)
  values.convention = conv
  -- the convention's defaults where its framework has this optimizer, then ours
  local cd = conventions.defaults[conv] and conventions.defaults[conv][sp.name] or (sp.conv_defaults and sp.conv_defaults[conv]) or {}
  for k, v in pairs(cd) do if values[k] == nil then values[k] = v end end
  for k, v in pairs(sp.defaults) do if values[k] == nil then values[k] = v end end
  local sched = {}
  for key, f in pairs(sp.field) do
    local v = values[key]
    if f.kind == "bool" then
      if type(v) ~= "boolean" then fail(string.format("%s: %s must be true or false, got %s", sp.name, key, fmt(v))) end
    elseif f.kind == "choice" then
      local ok, said = false, {}
      for i, c in ipairs(f.choices) do
        ok = ok or v == c
        said[i] = type(c) == "string" and string.format("%q", c) or tostring(c)
      end
      if not ok then
        fail(string.format("%s: %s must be %s or %s, got %s", sp.name, key, table.concat(said, ", ", 1, #said - 1), said[#said],
          type(v) == "string" and string.format("%q", v) or fmt(v)))
      end
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
  -- Keras 3 raises when more than one clipping is set; tf.keras 2.11+ ignores clipvalue
  -- beside a norm (refused here); tf.keras <= 2.10 clips by value, then by norm.
  local keras = conventions.keras_family[conv]
  local by_norm = values.clip_norm and values.global_clip_norm
  if keras and values.clip_value and (values.clip_norm or values.global_clip_norm) and conv ~= "keras" then
    fail(sp.name .. ": only one of clipnorm, global_clipnorm and clipvalue can be set under convention '" .. conv ..
         "' (Keras 3 raises; tf.keras 2.11+ ignores clipvalue)")
  elseif by_norm and keras then
    fail(sp.name .. ": clipnorm and global_clipnorm cannot both be set (as in Keras)")
  elseif by_norm then
    fail(sp.name .. ": clip_norm is already the global norm under convention '" .. conv .. "': give one of them")
  end
  if values.nesterov then
    -- Keras and the textbook take nesterov with momentum 0 as plain SGD; torch.optim.SGD raises
    if values.momentum == 0 and conv == "torch" then
      fail(sp.name .. ": nesterov = true needs momentum > 0 under convention 'torch' (torch.optim.SGD raises)")
    end
    if type(values.dampening) == "number" and values.dampening ~= 0 then fail(sp.name .. ": nesterov = true needs dampening = 0") end
    if sp.name == "RMSprop" and conv ~= "textbook" then
      fail("RMSprop: nesterov = true is the textbook's Algorithm 8.6 (RMSProp with Nesterov momentum); convention '" .. conv ..
           "' has no such optimizer (use convention = \"textbook\")")
    end
  end
  local literal = values.nesterov == "literal"
  if literal and values.gradient_accumulation_steps then
    fail(sp.name .. ": nesterov = \"literal\" takes the gradient at theta + alpha v every call: it cannot accumulate gradients")
  end
  if literal and values.momentum == 0 then
    fail(sp.name .. ": nesterov = \"literal\" evaluates the gradient at theta + alpha v: it needs momentum > 0")
  end
  if type(values.step_min) == "number" and type(values.step_max) == "number" and values.step_min > values.step_max then
    fail(sp.name .. ": step_min must be <= step_max")
  end
  local self = setmetatable({
    spec = sp, name = sp.name, values = values, given = given, sched = sched,
    t = 0, calls = 0, epoch = nil, mu_prod = 1.0, last = nil,
    state = setmetatable({}, { __mode = "k" }), order = {}, pending = nil,
  }, Optimizer)
  self.label = self:describe()
  -- a declaration is traced now, so that its mistakes surface at the constructor
  if sp.kind == "Declared" then self.program = define.program(sp, values, self:clipping()) end
  return self
end

function Optimizer:describe()
  local sp, parts = self.spec, {}
  local shown = {}
  for _, k in ipairs(sp.show) do shown[k] = true end
  for _, k in ipairs(sp.order) do
    local v = self.values[k]
    -- shown: the usual fields, those the user gave, and numbers a convention
    -- set away from our defaults (optim.get("Adagrad"): initial_accumulator=0.1)
    local moved = type(v) == "number" and type(sp.defaults[k]) == "number" and v ~= sp.defaults[k] and sp.field[k] ~= nil
    if v ~= nil and (shown[k] or moved or (self.given[k] and not (k == "convention" and v == "textbook"))) then
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
  -- Keras 2's decay (PyTorch Adagrad's lr_decay): lr / (1 + decay k), k = updates done
  if self.values.decay > 0 then hv.lr = hv.lr / (1 + self.values.decay * k) end
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

-- Which state buffers an optimizer keeps, in kernel argument order.
local function buffer_names(self)
  local k = self.spec.kind
  if k == "Declared" then      -- the buffers this configuration's program uses; globals and scratch live elsewhere
    local names = {}
    for j = 3, #self.program.bufs do
      local name = self.program.bufs[j]
      if name:sub(1, 1) ~= "_" then names[#names + 1] = name end
    end
    return names
  end
  if k == "Adamax" then return { "m", "u" } end
  if k == "Nadam" or k == "RAdam" then return { "m", "v" } end
  if k == "Lion" then return { "m" } end
  if k == "Ftrl" then return { "accum", "linear" } end
  if k == "ASGD" then return { "ax" } end
  if k == "Rprop" then return { "prev", "step_size" } end
  return { "square_avg", "acc_delta" }
end

local function state_of(self, p, i, hv)
  local st = self.state[p]
  if st then return st end
  st = {}
  local names = buffer_names(self)
  local sp = self.spec
  for j, name in ipairs(names) do
    if name then
      -- a declaration's per-tensor scalars are one element, its rows and cols R and C
      -- (the parameter seen as R x C); its buffers start at their declared value
      local size = sp.kind == "Declared" and self.program.bufsize[name] or "all"
      st[name] = tensor.zeros(define.buffer_shape(size, p))
      local init = sp.init and sp.init[name]
      if init == "p" then tensor.raw.copy_(st[name], p)
      else
        if type(init) == "string" then init = hv[init] or self.values[init] end    -- a fixed number is not in hv
        if init and init ~= 0 then st[name]:fill_(init) end
      end
    end
  end
  if self.spec.kind == "Ftrl" then st.accum:fill_(self.values.initial_accumulator) end
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
  h.t, h.convention, h.grad_scale = t, conventions.form[v.convention], grad_scale
  h.clip_value = v.clip_value
  h.lambd, h.alpha, h.t0 = v.lambd, v.alpha, v.t0
  h.decoupled = conventions.decoupled[v.convention] and true or false
  return h
end

-- Gradient clipping by norm of the gradients grads: (grad_scale, per-tensor scales or nil).
--   Keras's clipnorm: each tensor by its own norm, g c / max(|g|, c) (base_optimizer _clip_by_norm);
--   Keras's global_clipnorm: all by the global norm, g c min(1/|G|, 1/c) (clip_by_global_norm);
--   otherwise (textbook, torch) clip_norm is global, as torch.nn.utils.clip_grad_norm_:
--   g min(1, c / (|G| + 1e-6)).
-- The global norm |G| is `given` when the caller computed it (see Optimizer:step),
-- else the sum of C.optim.grad_sqnorm in order: ol_sumsq both ways, so the same bits.
-- A third result is |G| when one was used (nil otherwise), for opt:hyper().grad_norm.
clip_scales = function(self, grads, given)
  local v = self.values
  local keras = conventions.keras_family[v.convention]
  if v.clip_norm and keras then
    local scales, low = {}, 1
    for i, g in ipairs(grads) do
      local norm = math.sqrt(C.optim.grad_sqnorm(g))
      scales[i] = norm > v.clip_norm and v.clip_norm / norm or 1
      low = math.min(low, scales[i])
    end
    return low, scales
  end
  local c = v.global_clip_norm or v.clip_norm
  if not c then return 1, nil end
  local norm = given
  if not norm then
    local total = 0
    for _, g in ipairs(grads) do total = total + C.optim.grad_sqnorm(g) end
    norm = math.sqrt(total)
  end
  if keras then return norm > c and c / norm or 1, nil, norm end
  if norm > c then return c / (norm + 1e-6), nil, norm end
  return 1, nil, norm
end

-- One update of every tensor in params from its .grad. With a closure, the
-- closure recomputes loss and gradients first (at the look-ahead point with
-- nesterov = "literal", the textbook's literal Nesterov forms (Algorithms 8.3 and 8.6)); returns its loss.
-- grad_norm: the global L2 norm of the params' .grad as C.train.grad_norm(params)
-- gives it, from a caller that computed it anyway (train.fit logs it and
-- stops on NaN before the step). A global clip_norm then uses it instead of
-- computing it again, so the logged norm is the clip's norm, computed once a
-- step. Not with a closure (it makes new gradients); ignored when the clipped
-- gradients are not the .grad themselves (accumulated, or clipped by value first).
function Optimizer:step(params, closure, grad_norm)
  params = param_list(params)
  if closure ~= nil and type(closure) ~= "function" then fail(self.name .. ": step's closure must be a function") end
  if grad_norm ~= nil and (type(grad_norm) ~= "number" or closure) then
    fail(self.name .. ": step's grad_norm must be a number, and cannot come with a closure (the closure makes new gradients)")
  end
  local k = self.t
  -- t may come from a checkpoint: 2.5 or 1e300 is no step count (the kernels' C.optim.hyper checks it too)
  if not (k >= 0 and k < 2 ^ 53 and k == math.floor(k)) then
    fail(string.format("%s: step count t must be a whole number in 1..2^53, got %.17g", self.name, k + 1))
  end
  local hv = self:resolve(k)
  local v = self.values
  local loss
  local literal = v.nesterov == "literal"
  if literal then
    if not closure then fail(self.name .. ": nesterov = \"literal\" needs a closure: opt:step(params, function() ... return loss end)") end
    for i, p in ipairs(params) do
      if not tensor.is_tensor(p) then fail(string.format("%s: parameter %d is not a tensor", self.name, i)) end
      local st = state_of(self, p, i, hv)
      st.theta = st.theta or tensor.zeros(p:shape())
      C.optim.nesterov_point(p, st.velocity, st.theta, hv.momentum)    -- theta~ = theta + alpha v
    end
    loss = closure()
    for _, p in ipairs(params) do tensor.raw.copy_(p, self.state[p].theta) end
  elseif closure then
    loss = closure()
  end
  -- The update itself writes parameters and state in place: like torch.optim's
  -- @torch.no_grad() step, nothing here is recorded, and leaves may be written.
  tensor.no_grad(self._update, self, params, hv, k, grad_norm)
  return loss
end

function Optimizer:_update(params, hv, k, grad_norm)
  local v = self.values
  C.optim.check(self.label, params)
  self.calls = self.calls + 1
  local grads = {}
  for i, p in ipairs(params) do grads[i] = p.grad end
  local value_first = v.convention == "keras" and v.clip_value and (v.clip_norm or v.global_clip_norm)
  if value_first then     -- tf.keras <= 2.10 (_transform_gradients): clipvalue, then the norm of the clipped
    for i, g in ipairs(grads) do
      local c = g:clone()
      C.optim.clip_value(c, v.clip_value)
      grads[i] = c
    end
  end
  local given = not value_first and not v.gradient_accumulation_steps and grad_norm or nil
  local grad_scale, scales, norm = clip_scales(self, grads, given)
  self.t = k + 1
  local kind = self.spec.kind
  if kind == "Declared" then
    self:_run_program(params, grads, hv, grad_scale, scales, value_first)
  else
    self:_run_kernel(params, grads, hv, grad_scale, scales, value_first)
  end
  hv.grad_scale, hv.grad_norm = grad_scale, norm
  self.last = hv
end

-- A built-in's step: its hand-written kernel over each tensor (kernels/optim.c).
function Optimizer:_run_kernel(params, grads, hv, grad_scale, scales, value_first)
  local v, kind = self.values, self.spec.kind
  if kind == "Nadam" then
    -- mu_t = beta1 (1 - 0.5 0.96^(psi t)): psi = 0.004 in PyTorch and tf.keras <= 2.10;
    -- Keras 3 and tf.keras 2.11+ use 0.96^t (keras/src/optimizers/nadam.py)
    local psi = conventions.form[v.convention] == "keras3" and 1 or v.momentum_decay
    hv.mu_t = hv.beta1 * (1 - 0.5 * 0.96 ^ (self.t * psi))
    hv.mu_next = hv.beta1 * (1 - 0.5 * 0.96 ^ ((self.t + 1) * psi))
    self.mu_prod = self.mu_prod * hv.mu_t
    hv.mu_prod = self.mu_prod
  end
  local ht = hyper_table(self, hv, self.t, grad_scale)
  if value_first then ht.clip_value = nil end
  local h = C.optim.hyper(ht)
  local names = buffer_names(self)
  for i, p in ipairs(params) do
    local st = state_of(self, p, i, hv)
    local b1, b2 = names[1], names[2]
    C.optim.update(kind, h, self.label, i, p, grads[i], b1 and st[b1] or nil, b2 and st[b2] or nil, scales and scales[i])
  end
end

-- Which clippings the update applies to the gradient: by norm (a grad_scale
-- per tensor), by value. A declared optimizer's program is traced for these.
function Optimizer:clipping()
  local v = self.values
  return { norm = (v.clip_norm or v.global_clip_norm) and true or false, value = v.clip_value and true or false }
end

-- A declared optimizer's step: its program over each tensor, with this
-- step's hyperparameters, t and gradient scale as inputs. A program with
-- global reductions or matrix stages runs stage by stage over all tensors
-- (define.lua); the others run whole, tensor by tensor.
function Optimizer:_run_program(params, grads, hv, grad_scale, scales, value_first)
  local prog, sp = self.program, self.spec
  -- globals: numbers (double) the optimizer keeps, inputs of every tensor's program
  self.globals = self.globals or {}
  for _, name in ipairs(sp.globals) do
    if self.globals[name] == nil then
      local init = sp.init[name]
      if type(init) == "string" then init = hv[init] end
      self.globals[name] = init
    end
  end
  local values, gs_at = {}, nil
  for i, name in ipairs(prog.inputs) do
    if name == "t" then values[i] = self.t
    elseif name == "grad_scale" then values[i] = grad_scale; gs_at = i
    elseif name == "clip_value" then values[i] = value_first and math.huge or self.values.clip_value
    elseif name:sub(1, 7) == "global:" then values[i] = self.globals[name:sub(8)]
    elseif hv[name] ~= nil then values[i] = hv[name]
    else values[i] = self.values[name] end     -- a fixed number (not schedulable)
  end
  self._scratch = self._scratch or setmetatable({}, { __mode = "k" })
  local lists = {}
  for i, p in ipairs(params) do
    local st = state_of(self, p, i, hv)
    local bufs = { p, grads[i] }
    for j = 3, #prog.bufs do
      local name = prog.bufs[j]
      local b = st[name]
      if not b then       -- a stage's scratch: not state, not saved
        self._scratch[p] = self._scratch[p] or {}
        b = self._scratch[p][name] or tensor.zeros(define.buffer_shape(prog.bufsize[name], p))
        self._scratch[p][name] = b
      end
      bufs[#bufs + 1] = b
    end
    lists[i] = bufs
  end
  if not prog.staged then
    for i, bufs in ipairs(lists) do
      if gs_at and scales then values[gs_at] = scales[i] end
      C.optim.program_run(prog.handle, values, self.label, i, table.unpack(bufs))
    end
    return
  end
  local slots = {}
  for i = 1, #lists do slots[i] = C.optim.program_slots(prog.handle) end
  for k = 0, prog.nstages do
    for i, bufs in ipairs(lists) do
      if gs_at and scales then values[gs_at] = scales[i] end
      C.optim.program_stage(prog.handle, slots[i], k == 0 and values or nil, k, self.label, i, table.unpack(bufs))
    end
    for _, g in ipairs(prog.globals) do
      if g.stage == k then
        local total = 0
        for i = 1, #lists do total = total + C.optim.program_slot(slots[i], g.partial) end
        for i = 1, #lists do C.optim.program_slot(slots[i], g.total, total) end
      end
    end
    for _, m in ipairs(prog.mats) do
      if m.stage == k and m.op ~= "MAT" then
        for i, bufs in ipairs(lists) do
          local out = bufs[m.outbuf + 1]
          C.optim.rowcol_sum(bufs[m.inbuf + 1], params[i], m.op == "RSUM" and out or nil, m.op == "CSUM" and out or nil)
        end
      elseif m.stage == k then
        for i, bufs in ipairs(lists) do
          local out = m.fn(bufs[m.inbuf + 1])
          if not tensor.is_tensor(out) or table.concat(out:shape(), "x") ~= table.concat(params[i]:shape(), "x") then
            fail(string.format("%s: optim.fn.matrix's function must return a tensor of the parameter's shape %s, got %s",
              self.name, table.concat(params[i]:shape(), "x"),
              tensor.is_tensor(out) and table.concat(out:shape(), "x") or type(out)))
          end
          tensor.raw.copy_(bufs[m.outbuf + 1], out)
        end
      end
    end
  end
  for _, st in ipairs(prog.rcstores) do
    for _, bufs in ipairs(lists) do tensor.raw.copy_(bufs[st.buf + 1], bufs[st.tmpbuf + 1]) end
  end
  -- every tensor computed the same new value of a global; keep it (double)
  if #lists > 0 then
    for _, g in ipairs(prog.gstores) do self.globals[g.name] = C.optim.program_slot(slots[1], g.slot) end
  end
end

-- Weight averaging is a wrapper (optim.EMA, optim.Polyak; use_ema makes
-- one). A declaration may name the state buffer of its own averaged point
-- (average = "x": Schedule-Free's x, where its authors' optimizer.eval()
-- evaluates): evaluation swaps it in (train.fit, around each validation) and
-- finalize (train.fit, at the end) leaves it in the parameters. Others have
-- no averages to finalize or swap in.
function Optimizer:swap_average(params)
  local buf = self.spec.average
  return buf ~= nil and swap_averages(self.state, buf, params)
end

function Optimizer:finalize(params)
  local buf = self.spec.average
  if not buf then return end
  tensor.no_grad(function()
    for _, p in ipairs(param_list(params)) do
      local st = self.state[p]
      if st and st[buf] then p:copy_(st[buf]) end    -- a parameter never stepped keeps its value
    end
  end)
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
  local sd = { name = self.name, t = self.t, calls = self.calls, epoch = self.epoch, mu_prod = self.mu_prod, schedules = {}, state = {} }
  for key, s in pairs(self.sched) do sd.schedules[key] = s:state() end
  for i, p in ipairs(self.order) do
    local st = {}
    for name, t in pairs(self.state[p]) do st[name] = t:clone() end
    sd.state[i] = st
  end
  if self.globals then
    sd.globals = {}
    for name, x in pairs(self.globals) do sd.globals[name] = x end
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
  if sd.globals ~= nil then
    if type(sd.globals) ~= "table" then fail(self.name .. ": state_dict.globals is not a table") end
    for name, x in pairs(sd.globals) do
      if not (self.spec.init and self.spec.init[name] ~= nil) or type(x) ~= "number" then
        fail(string.format("%s: state_dict has a global '%s' this optimizer does not declare", self.name, tostring(name)))
      end
    end
  end
  self.t, self.epoch, self.mu_prod = sd.t, sd.epoch, sd.mu_prod or 1.0
  self.globals = nil
  if sd.globals then
    self.globals = {}
    for name, x in pairs(sd.globals) do self.globals[name] = x end
  end
  self.calls = sd.calls or sd.t
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

return { Optimizer = Optimizer, new = new_optimizer, convention_of = convention_of }
