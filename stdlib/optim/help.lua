-- help(optim.Adam) and friends: the textbook's formula, our defaults and each
-- convention's (optim/conventions.lua). Called once by stdlib/optim.lua. The
-- formulas of the kernels' built-ins are here; a declared built-in's
-- (optim/builtin/) is its doc.
local conventions = require "optim.conventions"

local FORMULAS = {
  Adamax = [[s as Adam;  u <- max(rho2*u, |g|);  theta <- theta - eps/(1-rho1^t) * s/(u + delta)]],
  Nadam = [[Adam with Nesterov momentum (Dozat 2016), momentum schedule mu_t = beta1*(1 - 0.5*0.96^(0.004 t))
(Keras 3 and tf.keras 2.11+, conventions keras3 and tf_keras: 0.96^t)]],
  RAdam = [[Adam's s and r; rho_t = rho_inf - 2t rho2^t/(1-rho2^t), rho_inf = 2/(1-rho2) - 1
rho_t <= 5: theta <- theta - eps s/(1-rho1^t);  else theta <- theta - eps r_t sqrt(1-rho2^t)/(1-rho1^t) s/(sqrt(r) + delta)
(r_t = sqrt((rho_t-4)(rho_t-2)rho_inf / ((rho_inf-4)(rho_inf-2)rho_t)), Liu et al. 2020, torch.optim.RAdam)]],
  Ftrl = [[FTRL-Proximal (McMahan et al. 2013) as TensorFlow/Keras: acc, linear per element;
gs = g + 2 l2_shrinkage theta;  na = acc + g*g;  linear += gs - (na^-p - acc^-p)/lr * theta  (p = lr_power)
theta = |linear| > l1 ? (sign(linear) l1 - linear) / (na^-p/lr + 2 (l2 + beta/(2 lr))) : 0;  acc = na]],
  ASGD = [[averaged SGD (torch.optim.ASGD): eta_t = lr/(1 + lambd lr (t-1))^alpha, mu_t = 1/max(1, t-1-t0)
theta <- theta - lambd eta theta - eta g;  ax <- ax + mu (theta - ax)  (ax: the average, in the state)]],
  Lion = [[theta <- theta - lr*(sign(beta1*m + (1-beta1)*g) + weight_decay*theta);  m <- beta2*m + (1-beta2)*g]],
  Rprop = [[per element: step *= etaplus if g*g_prev > 0, *= etaminus if < 0 (clamped); theta <- theta - sign(g)*step]],
  Adadelta = [[r <- rho*r + (1-rho)*g*g;  d = sqrt(u + delta)/sqrt(r + delta) * g;  u <- rho*u + (1-rho)*d*d
theta <- theta - lr*d]],
}

-- The methods every optimizer object has (Optimizer in stdlib/optim.lua).
local METHODS = {
  step = [=[opt:step(params [, closure [, grad_norm]])  one update of every tensor in params from its .grad (under no_grad,
like torch.optim's step). closure: a function that recomputes the loss (zeroing grads and calling
backward) and returns it; required by nesterov = "literal". Returns the closure's loss.
grad_norm (without a closure): the global L2 norm of the .grad, when the caller computed it already
(train.fit does, to log it); a global clip_norm then clips by it instead of computing it again.]=],
  zero_grad = [[opt:zero_grad(params)  zero the .grad of every tensor in params (model:zero_grad() does the same)]],
  finalize = [[opt:finalize(params)  with weight averaging (use_ema = true, optim.EMA, optim.Polyak), give the
parameters their averages (Keras's finalize_variable_values; train.fit calls it at the end); otherwise nothing]],
  swap_average = [[opt:swap_average(params)  with weight averaging (use_ema = true, optim.EMA, optim.Polyak), swap the
parameters with their averages (a second call swaps back; train.fit evaluates between the two); true if it swapped,
false for an optimizer without averages]],
  describe = [[opt:describe()  the label tostring(opt) shows, e.g. Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)]],
  resolve = [[opt:resolve(k)  the hyperparameter values for update k (0-based), schedules and decay applied]],
  hyper = [[opt:hyper()  the values the last step applied (lr, momentum, betas, ...), or those of the next]],
  set_epoch = [[opt:set_epoch(e)  the epoch schedules with unit = "epoch" read (train.fit sets it)]],
  observe = [[opt:observe(metric)  feed a monitored value to every plateau schedule (schedule.plateau)]],
  state_dict = [[opt:state_dict()  everything needed to resume bit-identically: step count, epoch, schedule
states and a copy of every buffer, in the parameters' order of first use]],
  load_state_dict = [[opt:load_state_dict(sd [, params])  restore a state_dict(); with params, attach each
buffer to its parameter now (checked against their number), else at the next step by position]],
  save = [[opt:save(path)  the state_dict in one file (serial.save)]],
  clipping = [[opt:clipping()  which clippings the update applies: {norm = clip_norm or global_clip_norm set, value = clip_value set}]],
  load = [[opt:load(path [, params])  load_state_dict from a file written by opt:save]],
}

local function kv(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. " = " .. tostring(t[k]) end
  return table.concat(out, ", ")
end

local M = {}

-- help(ctor) of a declared optimizer (optim.define): its doc, then its
-- hyperparameters in declaration order with defaults, ranges and aliases.
function M.declared(optim, sp, ctor)
  local help = require "help"
  local lines = { string.format("optim.%s{...}  (declared with optim.define)", sp.name), "", sp.doc, "", "hyperparameters:" }
  for _, h in ipairs(sp.decl.hyper) do
    local extra = {}
    if h.range then extra[#extra + 1] = "in " .. h.range end
    if h.alias then extra[#extra + 1] = "also " .. table.concat(h.alias, ", ") end
    lines[#lines + 1] = string.format("  %s = %s%s", h[1], tostring(h[2]), #extra > 0 and "  (" .. table.concat(extra, "; ") .. ")" or "")
  end
  local st = {}
  for _, k in ipairs(sp.state) do st[#st + 1] = k .. " = " .. tostring(sp.init[k]) end
  for _, k in ipairs(sp.scalars) do st[#st + 1] = k .. " = " .. tostring(sp.init[k]) .. " (one per tensor)" end
  if #st > 0 then lines[#lines + 1] = "state: " .. table.concat(st, ", ") end
  lines[#lines + 1] = "also: clip_norm, global_clip_norm, clip_value, use_ema, ema_momentum, ema_overwrite_frequency, "
    .. "gradient_accumulation_steps; any number may be a schedule."
  help.register(ctor, table.concat(lines, "\n"))
end

function M.install(optim, specs, Optimizer)
  local help = require "help"
  for name, text in pairs(METHODS) do help.register(Optimizer[name], text) end
  for name, sp in pairs(specs) do
    if sp.kind == "Declared" and not sp.builtin then goto continue end
    local text = string.format("optim.%s{%s}\n\n%s\n\nalso: weight_decay, clip_norm, global_clip_norm, clip_value, decay, use_ema, ema_momentum, "
      .. "ema_overwrite_frequency, gradient_accumulation_steps, convention = "
      .. "\"textbook\" | \"keras\" | \"tf_keras\" | \"keras3\" | \"torch\"; any value may be a schedule.", name, kv(sp.defaults),
      sp.kind == "Declared" and sp.doc or FORMULAS[name] or "")
    for _, c in ipairs(conventions.names) do
      local d = conventions.defaults[c] and conventions.defaults[c][name]
      if d then text = text .. string.format("\noptim.get(%q, %q): {%s}", name, c, kv(d)) end
    end
    help.register(optim[name], text)
    ::continue::
  end
  help.register(optim, [[optim: optimizers updating tensors in place from their .grad
optim.SGD, Adagrad, RMSprop, Adam, AdamW, Adamax, Nadam, RAdam, Lion, Ftrl, ASGD, Rprop, Adadelta{...}
opt:step(params [, closure]), opt:zero_grad(params), tostring(opt), opt:hyper(), opt:state_dict()
optim.get(name [, convention] [, overrides]): a framework's forms and defaults; optim.sweep(ctor, grid): a list of optimizers
wrappers around any optimizer: optim.EMA, optim.Polyak (weight averaging), optim.Lookahead, optim.Accumulate]])
  help.register(optim.get, "optim.get(name [, convention] [, overrides]): the optimizer as the convention's framework builds it "
    .. "(\"keras\" (default: tf.keras 2.10), \"tf_keras\", \"keras3\", \"torch\" or \"pytorch\", \"textbook\"), its forms and defaults")
  help.register(optim.sweep, "optim.sweep(ctor, {lr = 0.01, momentum = {0, 0.5, 0.9}}): one optimizer per combination of the listed values")
  help.register(optim.define, [[optim.define{name = "MyAdam", doc = "...", hyper = {{"lr", 1e-3, range = "[0, inf)"}, ...},
  state = {m = 0, v = 0}, update = function(p, g, s, h, t) ... return p - ... end}
An optimizer declared by its update rule, written as ordinary arithmetic on the element values p, g, s.<state>,
h.<hyperparameter> and the step t (1 at the first update), with optim.fn for sqrt, abs, sign, exp, log, max, min,
where, gt/ge/lt/le and the per-tensor reductions sum, sumsq, norm, mean, numel. Traced once, run as one fused
program per tensor. Returns a constructor like optim.Adam. README: "Write your own optimizer".]])
  local FN = {
    sqrt = "sqrt(x)", abs = "abs(x)", sign = "sign(x)  -1, 0 or 1", exp = "exp(x)", log = "log(x)", pow = "pow(x, y)  x^y, as x ^ y",
    max = "max(a, b)  a > b ? a : b", min = "min(a, b)  a < b ? a : b",
    gt = "gt(a, b)  1 if a > b else 0", ge = "ge(a, b)  1 if a >= b else 0", lt = "lt(a, b)  1 if a < b else 0", le = "le(a, b)  1 if a <= b else 0",
    where = "where(c, a, b)  a where c ~= 0, else b (per element, or per step on scalars)",
    sum = "sum(x)  the sum of x over the tensor (double, fixed order)", sumsq = "sumsq(x)  the sum of x^2 over the tensor",
    norm = "norm(x)  sqrt(sumsq(x))", mean = "mean(x)  sum(x) / numel()", numel = "numel()  the tensor's element count",
    global_sum = "global_sum(x)  the sum of x over every parameter (tensor by tensor, in the parameters' order)",
    global_sumsq = "global_sumsq(x)  the sum of x^2 over every parameter", global_norm = "global_norm(x)  sqrt(global_sumsq(x))",
    matrix = "matrix(x, f)  f(t) on x as a tensor of the parameter's shape (tensor ops, matmuls: Muon's Newton-Schulz)",
    row_sum = "row_sum(x)  at each element, the sum of its row (the tensor as R x C, C its last dimension)",
    col_sum = "col_sum(x)  at each element, the sum of its column", row_mean = "row_mean(x)  row_sum(x) / ncols()",
    col_mean = "col_mean(x)  col_sum(x) / nrows()", nrows = "nrows()  R: the element count over the last dimension",
    ncols = "ncols()  C: the last dimension (a vector is one row)",
    is_zero = "is_zero(h.x)  at tracing, true if the hyperparameter x is given as the number 0 (the program is made for it: "
      .. "SGD without momentum keeps no velocity)",
    is_constant = "is_constant(h.x)  at tracing, true if the hyperparameter x is a number, not a schedule",
  }
  for name, text in pairs(FN) do
    help.register(optim.fn[name], "optim.fn." .. text .. "  (in an optim.define update; on plain numbers outside one)")
  end
  help.register(optim.fn, "optim.fn: the math of update functions (optim.define): sqrt, abs, sign, exp, log, pow, max, min, "
    .. "where(c, a, b), gt, ge, lt, le (1 or 0); per tensor sum, sumsq, norm, mean, numel; across parameters global_sum, "
    .. "global_sumsq, global_norm; rows and columns row_sum, col_sum, row_mean, col_mean, nrows, ncols; matrix(x, f); "
    .. "at tracing is_zero, is_constant")
end

return M

