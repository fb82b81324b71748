-- Optimizers: against the textbook's pseudocode (ref_optim.lua), against the
-- frameworks' per-step fixtures, Nesterov's two forms, clipping, errors,
-- state save/load, thread-count independence, and the textbook's momentum claim.
local lib = require "lib"
local ref = require "ref_optim"
local check, close, raises, identical = lib.check, lib.close, lib.raises, lib.identical

local T = {}
local SIZES = { 1, 7, 8, 33, 10001 }
local STEPS = 100

-- Relative 1e-6 over the whole tensor (||got - want|| <= 1e-6 ||want||), and
-- every element within 1e-5 of the largest: float32 rounding accumulates over 100 steps as
-- a random walk of ~3e-7 per element, a wrong formula shows as O(1).
local function agree(got, want, msg)
  local num, den, scale = 0, 0, 0
  for i = 1, #want do scale = math.max(scale, math.abs(want[i])) end
  for i = 1, #want do
    local d = got[i] - want[i]
    num, den = num + d * d, den + want[i] * want[i]
    if not (math.abs(d) <= 1e-5 * scale) then error(string.format("%s: element %d: got %.9g, expected %.9g", msg, i, got[i], want[i]), 2) end
  end
  if not (math.sqrt(num) <= 1e-6 * math.sqrt(den)) then
    error(string.format("%s: relative error %.3g > 1e-6", msg, math.sqrt(num / den)), 2)
  end
end

-- The fixed gradient sequence as tensors, with the exact floats for references.
local seq_cache = {}
local function sequence(n)
  if seq_cache[n] then return seq_cache[n] end
  local s = { p0 = {}, g = {}, gt = {} }
  for i = 1, n do s.p0[i] = ref.param0(i) end
  for k = 1, STEPS do
    local g = {}
    for i = 1, n do g[i] = ref.grad(k, i) end
    s.g[k], s.gt[k] = g, tensor.from(g)
  end
  seq_cache = { [n] = s }
  return s
end

local function copy(a) local b = {} for i = 1, #a do b[i] = a[i] end return b end
local function zeros(n) local b = {} for i = 1, n do b[i] = 0 end return b end

-- Run opt over the sequence; after each step call ref_step(k, g) and compare
-- the parameters with view(theta) every 10 steps and at the end.
local function against_seed(make_opt, ref_step, view, label)
  for _, n in ipairs(SIZES) do
    local s = sequence(n)
    local p = tensor.from(s.p0)
    local opt = make_opt()
    local theta = copy(s.p0)
    local st = { v = zeros(n), r = zeros(n), s = zeros(n) }
    for k = 1, STEPS do
      p.grad = s.gt[k]
      opt:step { p }
      ref_step(k, theta, st, s.g[k])
      if k % 10 == 0 then
        agree(p:totable(), view(theta, st, k), string.format("%s n=%d step %d", label, n, k))
      end
    end
  end
end

local function same(theta) return theta end

T.seed_sgd_linear_schedule = function()
  local lin = { from = 0.05, to = 0.005, steps = 60 }
  against_seed(function() return optim.SGD { lr = schedule.linear(lin) } end,
    function(k, theta, _, g) ref.sgd(theta, g, ref.linear(k - 1, lin.from, lin.to, lin.steps)) end, same, "SGD")
end

T.seed_momentum = function()
  against_seed(function() return optim.SGD { lr = 0.01, momentum = 0.9 } end,
    function(_, theta, st, g) ref.momentum(theta, st.v, g, 0.01, 0.9) end, same, "SGD momentum")
end

-- The one-gradient Nesterov form holds phi = theta + alpha v (README): with a
-- given gradient sequence the textbook's literal algorithm gives theta and v.
T.seed_nesterov = function()
  against_seed(function() return optim.SGD { lr = 0.01, momentum = 0.9, nesterov = true } end,
    function(_, theta, st, g) ref.nesterov(theta, st.v, function() return g end, 0.01, 0.9) end,
    function(theta, st) local phi = {} for i = 1, #theta do phi[i] = theta[i] + 0.9 * st.v[i] end return phi end,
    "SGD nesterov")
end

T.seed_adagrad = function()
  against_seed(function() return optim.Adagrad { lr = 0.1, eps = 1e-7 } end,
    function(_, theta, st, g) ref.adagrad(theta, st.r, g, 0.1, 1e-7) end, same, "Adagrad")
end

T.seed_rmsprop = function()
  against_seed(function() return optim.RMSprop { lr = 0.01, rho = 0.9, eps = 1e-6 } end,
    function(_, theta, st, g) ref.rmsprop(theta, st.r, g, 0.01, 0.9, 1e-6) end, same, "RMSprop")
end

-- The textbook's RMSProp with Nesterov momentum has no delta: eps = 0 matches it.
T.seed_rmsprop_nesterov = function()
  against_seed(function() return optim.RMSprop { lr = 0.01, rho = 0.9, eps = 0, momentum = 0.5, nesterov = true } end,
    function(_, theta, st, g) ref.rmsprop_nesterov(theta, st.v, st.r, function() return g end, 0.01, 0.9, 0.5) end,
    function(theta, st) local phi = {} for i = 1, #theta do phi[i] = theta[i] + 0.5 * st.v[i] end return phi end,
    "RMSprop nesterov")
end

T.seed_adam_book_form = function()
  against_seed(function() return optim.Adam { lr = 0.01 } end,
    function(k, theta, st, g) ref.adam(theta, st.s, st.r, g, k, 0.01, 0.9, 0.999, 1e-8, true) end, same, "Adam")
end

T.seed_adam_eps_inside_sqrt = function()
  against_seed(function() return optim.Adam { lr = 0.01, eps = 1e-8, eps_inside_sqrt = true } end,
    function(k, theta, st, g) ref.adam(theta, st.s, st.r, g, k, 0.01, 0.9, 0.999, 1e-8, false) end, same, "Adam seed eps")
end

-- Keras: per-step fixtures from tools/gen_optim_fixtures.lua (ref_keras.lua's transcriptions
-- of Keras's updates, checked against Keras 3's golden tests in test_conventions).
T.keras_fixtures = function()
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") .. "/fixtures"
  local p = io.popen('ls "' .. dir .. '"/keras*.lua')
  local count = 0
  for file in p:lines() do
    local fx = dofile(file)
    local hp = {}
    for k, v in pairs(fx.hp) do hp[k] = v end
    if fx.linear then hp.lr = schedule.linear(fx.linear) end
    local opt = optim[fx.opt](hp)
    local n = #fx.steps[1]
    local s = sequence(n)
    local x = tensor.from(s.p0)
    for k = 1, #fx.steps do
      x.grad = s.gt[k]
      opt:step { x }
      agree(x:totable(), fx.steps[k], string.format("%s (%s) step %d", file:match("[^/]*$"), tostring(opt), k))
    end
    count = count + 1
  end
  p:close()
  check(count >= 15, "expected the keras fixture files, found " .. count)
end

-- PyTorch: torch.optim's own trajectories (tools/gen_torch_fixtures.py), run by torch in
-- float32 and in float64. float32 rounding is judged fairly: at every step optlab must be no
-- further from torch-float64 than twice float32 torch's own distance from it (L2 over the
-- parameters), plus a floor of a few float32 half-ulps for steps where float32 torch lands
-- exactly on the float64 value (lib.fair32).
T.torch_fixtures = function()
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") .. "/fixtures"
  local f = assert(io.open(dir .. "/torch_optim.txt", "rb"))
  local fixtures = serial.decode(f:read("a"), "torch_optim.txt")
  f:close()
  local worst = {}
  for _, fx in ipairs(fixtures) do
    local hp = {}
    for k, v in pairs(fx.hp) do hp[k] = v end
    if fx.linear then hp.lr = schedule.linear(fx.linear) end
    -- fx.get: torch's defaults through optim.get(name, "torch") (issue 15)
    local opt = fx.get and optim.get(fx.opt, fx.get, hp) or optim[fx.opt](hp)
    local n = #fx.f64[1]
    local s = sequence(n)
    local gt = s.gt
    if fx.grads == "span" then     -- elements spanning 1 to 1e-6 (ref.span_grad)
      gt = {}
      for k = 1, #fx.f64 do
        local g = {}
        for i = 1, n do g[i] = ref.span_grad(k, i, n) end
        gt[k] = tensor.from(g)
      end
    end
    local x = tensor.from(s.p0)
    local ratio = 0
    for k = 1, #fx.f64 do
      x.grad = gt[k]
      opt:step { x }
      local ok, d_ours, d_torch, allowed = lib.fair32(x:totable(), fx.f32[k], fx.f64[k])
      if not ok then
        error(string.format("%s (%s, vs %s) step %d: distance from torch float64 %.3g, float32 torch's %.3g (allowed %.3g)",
          fx.name, tostring(opt), fx.torch, k, d_ours, d_torch, allowed), 0)
      end
      ratio = math.max(ratio, d_ours / (allowed - d_torch))
    end
    worst[#worst + 1] = string.format("%s %.2f", fx.name, ratio)
  end
  check(#fixtures >= 32, "expected the torch.optim fixtures, found " .. #fixtures)
  print("  optlab's distance from torch float64 / float32 torch's, worst step: " .. table.concat(worst, ", "))
end

-- Under a schedule the conventions' momentum forms differ (README); at a constant lr they agree.
T.conventions_agree_at_constant_lr_only = function()
  local function run(conv, lr)
    local x = tensor.from { 1, -2, 3 }
    local o = optim.SGD { lr = lr, momentum = 0.9, convention = conv }
    for k = 1, 30 do x.grad = tensor.from { ref.grad(k, 1), ref.grad(k, 2), ref.grad(k, 3) }; o:step { x } end
    return x:totable()
  end
  close(run("torch", 0.01), run("textbook", 0.01), 1e-5, "constant lr")
  local lin = schedule.linear { from = 0.05, to = 0.001, steps = 20 }
  local a, b = run("torch", lin), run("textbook", lin)
  check(math.abs(a[1] - b[1]) > 1e-3, "torch and textbook momentum should differ under a schedule")
end

-- Quadratic J = 0.5 sum lam_i x_i^2, gradient lam . x computed in C tensor ops.
local function quadratic(n, cond)
  local lam = {}
  for i = 1, n do lam[i] = 1 + (cond - 1) * (i - 1) / (n - 1) end
  return tensor.from(lam)
end

T.nesterov_equivalent_form_vs_literal = function()
  for _, kind in ipairs { "SGD", "RMSprop" } do
    local lam = quadratic(16, 10)
    local hp = { lr = 0.02, momentum = 0.9, nesterov = true }
    if kind == "RMSprop" then hp = { lr = 0.002, momentum = 0.5, nesterov = true, eps = 1e-6 } end
    local x1, x2 = tensor.ones(16), tensor.ones(16)
    local eq = optim[kind](hp)
    local lhp = {}
    for k, v in pairs(hp) do lhp[k] = v end
    lhp.nesterov = "literal"
    local lit = optim[kind](lhp)
    for _ = 1, 60 do
      eq:step({ x1 }, function() x1.grad = x1 * lam end)
      lit:step({ x2 }, function() x2.grad = x2 * lam end)
    end
    -- phi = theta + alpha v
    local alpha = hp.momentum
    local theta = x2:totable()
    local v = lit.state[x2].velocity:totable()
    local phi = {}
    for i = 1, 16 do phi[i] = theta[i] + alpha * v[i] end
    close(x1:totable(), phi, 1e-4, kind .. " nesterov forms", 1e-6)
    close(eq.state[x1].velocity:totable(), v, 1e-4, kind .. " velocities", 1e-6)
  end
end

T.nesterov_literal_matches_the_textbook = function()
  local lam = quadratic(7, 10)
  local laml = lam:totable()
  local x = tensor.ones(7)
  local opt = optim.SGD { lr = 0.02, momentum = 0.9, nesterov = "literal" }
  local theta, v = zeros(7), zeros(7)
  for i = 1, 7 do theta[i] = 1 end
  for _ = 1, 50 do
    opt:step({ x }, function() x.grad = x * lam end)
    ref.nesterov(theta, v, function(t) local g = {} for i = 1, 7 do g[i] = laml[i] * t[i] end return g end, 0.02, 0.9)
  end
  close(x:totable(), theta, 1e-5, "literal Nesterov", 1e-7)
end

-- The textbook (Section 8.3.2): momentum reaches a tolerance in far fewer steps than plain SGD.
T.momentum_beats_sgd_on_condition_100 = function()
  local lam = quadratic(32, 100)
  local function steps_to_tol(opt)
    local x = tensor.ones(32)
    for k = 1, 20000 do
      x.grad = x * lam
      opt:step { x }
      if math.sqrt(x:sumsq():item()) < 1e-4 then return k end
    end
    return math.huge
  end
  local plain = steps_to_tol(optim.SGD { lr = 0.01 })
  local mom = steps_to_tol(optim.SGD { lr = 0.01, momentum = 0.9 })
  check(mom * 3 < plain, string.format("momentum %d steps vs plain SGD %d steps", mom, plain))
end

T.clip_norm_and_clip_value = function()
  local a, b = tensor.from { 3, 0 }, tensor.from { 0, 4 }
  a.grad, b.grad = tensor.from { 3, 0 }, tensor.from { 0, 4 }   -- global norm 5
  local opt = optim.SGD { lr = 1, clip_norm = 1 }
  opt:step { a, b }
  local s = 1 / (5 + 1e-6)
  close(a:totable(), { 3 - 3 * s, 0 }, 1e-6, "clip_norm a")
  close(b:totable(), { 0, 4 - 4 * s }, 1e-6, "clip_norm b")
  close(opt:hyper().grad_scale, s, 1e-12, "applied scale")
  local c = tensor.from { 1, 1, 1 }
  c.grad = tensor.from { -5, 0.25, 7 }
  optim.SGD { lr = 1, clip_value = 0.5 }:step { c }
  close(c:totable(), { 1.5, 0.75, 0.5 }, 1e-7, "clip_value")
  close(c.grad:totable(), { -5, 0.25, 7 }, 0, "the gradient itself is left alone")
end

T.weight_decay_is_l2 = function()
  local x = tensor.from { 2 }
  x.grad = tensor.from { 1 }
  optim.SGD { lr = 0.1, weight_decay = 0.5 }:step { x }
  close(x:item(), 2 - 0.1 * (1 + 0.5 * 2), 1e-7, "SGD weight decay")
  local y = tensor.from { 2 }
  y.grad = tensor.from { 0 }
  optim.AdamW { lr = 0.1, weight_decay = 0.5 }:step { y }
  close(y:item(), 2 * (1 - 0.05), 1e-6, "AdamW decoupled decay with zero gradient")
end

T.errors_name_optimizer_and_field = function()
  local e = raises(function() optim.SGD { lerning_rate = 0.1 } end, "SGD: unknown hyperparameter 'lerning_rate'")
  check(e:find("test_optim.lua:", 1, true), "error carries the user's file:line: " .. e)
  raises(function() optim.SGD { lr = -1 } end, "SGD: lr = -1 must be in [0")
  raises(function() optim.Adam { beta1 = 1 } end, "Adam: beta1 = 1 must be in [0, 1)")
  raises(function() optim.Adam { beta2 = -0.1 } end, "Adam: beta2")
  raises(function() optim.RMSprop { rho = 1.5 } end, "RMSprop: rho = 1.5 must be in [0, 1]")
  raises(function() optim.SGD { momentum = 1 } end, "SGD: momentum = 1")
  raises(function() optim.SGD { nesterov = "yes" } end, "SGD: nesterov must be true, false or \"literal\", got \"yes\"")
  raises(function() optim.SGD { nesterov = true, convention = "torch" } end, "SGD: nesterov = true needs momentum > 0 under convention 'torch'")
  raises(function() optim.SGD { lr = 0.1, convention = "tf" } end, 'SGD: convention = "tf" is unknown')
  raises(function() optim.RMSprop { momentum = 0.9, nesterov = true, convention = "torch" } end, "RMSprop: nesterov = true")
  raises(function() optim.Adam { lr = "big" } end, "Adam: lr must be a number, a schedule")
  local x = tensor.from { 1, 2 }
  raises(function() optim.Adam {}:step { x } end, "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08): parameter 1 (shape [2]) has no .grad")
  -- a gradient of another shape is refused already when assigned (core)
  raises(function() x.grad = tensor.from { 1, 2, 3 } end, "does not match")
  -- a schedule producing an out-of-range value, at the step it does so
  local y = tensor.from { 1 }
  y.grad = tensor.from { 1 }
  local o = optim.SGD { lr = function(k) return 0.1 - 0.05 * k end }
  o:step { y }; o:step { y }; o:step { y }   -- k = 0, 1, 2: lr 0.1, 0.05, 0
  raises(function() o:step { y } end, "SGD: lr = -0.05 (from its schedule at step 3)")
end

local function run_adam_like(opt, x, from, to)
  for k = from, to do
    x.grad = tensor.from { ref.grad(k, 1), ref.grad(k, 2), ref.grad(k, 3), ref.grad(k, 4) }
    opt:step { x }
  end
end

T.save_load_resumes_bit_identically = function()
  local makers = {
    function() return optim.Adam { lr = schedule.cosine { initial = 0.01, steps = 40 }, amsgrad = true } end,
    function() return optim.Nadam { lr = 0.01 } end,
    function() return optim.SGD { lr = 0.01, momentum = 0.9, nesterov = true, convention = "torch" } end,
    function() return optim.Rprop {} end,
    function() return optim.RMSprop { lr = 0.01, momentum = 0.5, centered = true } end,
  }
  local path = os.tmpname()
  for _, make in ipairs(makers) do
    local a = tensor.from { 1, 2, 3, 4 }
    local oa = make()
    run_adam_like(oa, a, 1, 50)
    oa:save(path)
    local b = a:clone()
    run_adam_like(oa, a, 51, 100)
    local ob = make()
    ob:load(path)
    run_adam_like(ob, b, 51, 100)
    identical(a, b, tostring(oa) .. " resumed")
    check(ob.t == 100, "step count restored")
    -- state_dict round trip in memory too
    local c = tensor.from { 1, 2, 3, 4 }
    local oc = make()
    run_adam_like(oc, c, 1, 30)
    local sd, cc = oc:state_dict(), c:clone()
    run_adam_like(oc, c, 31, 60)
    local od = make()
    od:load_state_dict(sd, { cc })
    run_adam_like(od, cc, 31, 60)
    identical(c, cc, tostring(oc) .. " state_dict")
  end
  os.remove(path)
  raises(function() optim.SGD {}:load_state_dict(optim.Adam {}:state_dict()) end, "cannot load the state of a Adam optimizer")
end

T.one_and_two_threads_identical = function()
  local n = 100003
  local g = tensor.randn(n, { seed = 3 })
  local p0 = tensor.randn(n, { seed = 4 })
  for _, make in ipairs {
    function() return optim.Adam { lr = 0.01 } end,
    function() return optim.SGD { lr = 0.01, momentum = 0.9, nesterov = true, clip_norm = 10 } end,
    function() return optim.RMSprop { lr = 0.01, centered = true, momentum = 0.9 } end,
    function() return optim.Lion {} end,
  } do
    local out = {}
    for threads = 1, 2 do
      sys.set_threads(threads)
      local p = p0:clone()
      p.grad = g
      local o = make()
      for _ = 1, 3 do o:step { p } end
      out[threads] = p
    end
    identical(out[1], out[2], "1 vs 2 threads")
  end
end

T.labels_get_sweep_hyper_zero_grad = function()
  check(tostring(optim.Adam { lr = 0.001 }) == "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)", tostring(optim.Adam { lr = 0.001 }))
  local ks = optim.get("Adam")
  check(ks.values.convention == "keras" and ks.values.eps == 1e-7, "Keras Adam defaults")
  local ad = optim.get("adadelta")
  check(ad.values.lr == 0.001 and ad.values.rho == 0.95 and ad.values.eps == 1e-7, "Keras Adadelta defaults")
  local ag = optim.get("Adagrad")
  check(ag.values.lr == 0.001 and ag.values.initial_accumulator == 0.1 and ag.values.eps == 1e-7, "Keras Adagrad defaults")
  local rm = optim.get("RMSprop")
  check(rm.values.lr == 0.001 and rm.values.rho == 0.9 and rm.values.eps == 1e-7, "Keras RMSprop defaults")
  check(optim.get("SGD").values.lr == 0.01, "Keras SGD lr")
  raises(function() optim.get("Adamm") end, "optim.get: unknown optimizer 'Adamm'")
  local sw = optim.sweep(optim.SGD, { lr = 0.01, momentum = { 0, 0.5, 0.9, 0.99 } })
  check(#sw == 4, "four optimizers")
  check(tostring(sw[3]) == "SGD(lr=0.01, momentum=0.9)", tostring(sw[3]))
  check(#optim.sweep(optim.Adam, { lr = { 0.1, 0.01 }, beta1 = { 0.8, 0.9, 0.95 } }) == 6, "cross product")
  local x = tensor.from { 1, 2 }
  x.grad = tensor.from { 1, 1 }
  local o = optim.SGD { lr = schedule.linear { from = 0.1, to = 0.0, steps = 10 }, momentum = schedule.constant(0.5) }
  o:step { x }; o:step { x }
  close(o:hyper().lr, 0.09, 1e-12, "lr applied at the last step")
  close(o:hyper().momentum, 0.5, 0, "momentum applied")
  o:zero_grad { x }
  close(x.grad:totable(), { 0, 0 }, 0, "zero_grad")
end

function T.help_shows_defaults_and_formula()
  local help = require "help"
  for _, name in ipairs { "SGD", "Adagrad", "RMSprop", "Adam", "Adadelta" } do
    local text = help.text(optim[name])
    check(text and text:find("optim." .. name .. "{", 1, true), name .. ": help has no signature")
    check(text:find("lr = ", 1, true), name .. ": help lists no defaults")
  end
  check(help.text(optim.Adam):find("sqrt(r_hat + delta)", 1, true), "Adam help shows the textbook's epsilon form")
  -- issue 16: the Nesterov line named no delta although the kernel adds it
  check(help.text(optim.RMSprop):find("v <- alpha*v - eps/(delta + sqrt(r)) * g", 1, true), "RMSprop's Nesterov formula shows delta")
end

-- Issue 16: a mistyped optimizer was "attempt to call a nil value"; now it is
-- named, with the closest optimizer, at the user's line.
function T.unknown_optimizer_constructor_says_did_you_mean()
  local err = raises(function() return optim.Adamm { lr = 0.1 } end, "optim.Adamm is not an optimizer (did you mean 'Adam'?)")
  check(err:find("test_optim.lua:", 1, true), "at the user's line: " .. err)
  check(optim.specs ~= nil and optim.Adam ~= nil and rawget(optim, "lowercase_probe") == nil, "known names still work")
  check(optim.lowercase_probe == nil, "a lowercase unknown key is plain nil")
end

-- A value a convention sets away from our default shows in the label
-- (issue 16: tostring(optim.get("Adagrad")) hid initial_accumulator = 0.1).
T.label_shows_what_a_convention_moved = function()
  local label = tostring(optim.get("Adagrad"))
  check(label:find("initial_accumulator=0.1", 1, true), label)
  check(tostring(optim.Adagrad {}) == "Adagrad(lr=0.01, eps=1e-07)", tostring(optim.Adagrad {}))
end

return T
