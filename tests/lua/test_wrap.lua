-- Wrappers around any optimizer (stdlib/optim/wrap.lua): Lookahead against a
-- transcription of its authors' code, EMA and Polyak against float32
-- transcriptions of Keras's and torch's averaging, Accumulate against the
-- inner optimizer fed the mean gradient; resume, labels, help, errors, one
-- and two threads, and train.fit / experiment.compare evaluating with the
-- averaged weights. The rename of the textbook's literal Nesterov option.
local lib = require "lib"
local report = require "report"
local check, raises, identical = lib.check, lib.raises, lib.identical
local f32 = compat.f32
local fn = optim.fn

local T = {}

-- A declared optimizer (optim.define), to show the wrappers take any.
local SignMomentum = optim.define {
  name = "WrapTestSignum", doc = "Signum (Bernstein et al. 2018): m = b m + (1-b) g; p = p - lr sign(m)",
  hyper = { { "lr", 0.01, range = "[0, inf)" }, { "beta", 0.9, range = "[0, 1)" } },
  state = { m = 0 },
  update = function(p, g, s, h)
    s.m = h.beta * s.m + (1 - h.beta) * g
    return p - h.lr * fn.sign(s.m)
  end,
}

-- The quadratic J = 0.5 sum lam_i x_i^2: gradient lam * x, by tensor ops (same bits everywhere).
local function lam_of(n)
  local t = {}
  for i = 1, n do t[i] = 1 + 9 * (i - 1) / math.max(1, n - 1) end
  return tensor.from(t)
end
local function start(n)
  local t = {}
  for i = 1, n do t[i] = f32(1 + 0.5 * math.sin(i)) end
  return tensor.from(t)
end
local function run(opt, n, steps, x)
  local lam = lam_of(n)
  x = x or start(n)
  for _ = 1, steps do
    x.grad = x * lam
    opt:step { x }
  end
  return x
end

-- The authors' Lookahead.step (github.com/michaelrzhang/lookahead,
-- lookahead_pytorch.py), transcribed; their inner optimizer is ours:
--   loss = self.optimizer.step(closure); self._la_step += 1
--   if self._la_step >= self._total_la_steps:
--     self._la_step = 0
--     p.data.mul_(self.la_alpha).add_(1.0 - self.la_alpha, param_state['cached_params'])
--     param_state['cached_params'].copy_(p.data)
-- cached_params: the parameters at construction. Each tensor op rounds to float32.
local function authors_lookahead(inner, k, alpha, n, steps)
  local lam = lam_of(n)
  local x = start(n)
  local cached = x:totable()
  local la_step = 0
  for _ = 1, steps do
    x.grad = x * lam
    inner:step { x }
    la_step = la_step + 1
    if la_step >= k then
      la_step = 0
      local p = x:totable()
      local a, b = f32(alpha), f32(1.0 - alpha)
      for i = 1, n do
        p[i] = f32(f32(p[i] * a) + f32(b * cached[i]))
        cached[i] = p[i]
      end
      tensor.raw.copy_(x, tensor.from(p))     -- in place: the inner optimizer keys its state by the tensor
    end
  end
  return x
end

function T.lookahead_matches_the_authors_code()
  for _, case in ipairs {
    { function() return optim.Adam { lr = 0.05 } end, 5, 0.5 },
    { function() return optim.SGD { lr = 0.02, momentum = 0.9 } end, 3, 0.8 },     -- 0.8: the authors' default
    { function() return SignMomentum { lr = 0.01 } end, 4, 0.3 },
  } do
    local make, k, alpha = case[1], case[2], case[3]
    for _, n in ipairs { 7, 300 } do
      local got = run(optim.Lookahead(make(), { k = k, alpha = alpha }), n, 23)
      local want = authors_lookahead(make(), k, alpha, n, 23)
      identical(got, want, string.format("%s, k = %d, alpha = %g, n = %d", tostring(make()), k, alpha, n))
    end
  end
  -- alpha = 1: the slow weights follow the fast ones; Lookahead is the inner optimizer
  identical(run(optim.Lookahead(optim.Adam { lr = 0.05 }, { alpha = 1 }), 9, 17), run(optim.Adam { lr = 0.05 }, 9, 17), "alpha = 1")
  -- alpha = 0: every k steps the weights go back to where they started
  identical(run(optim.Lookahead(optim.Adam { lr = 0.05 }, { k = 4, alpha = 0 }), 9, 8), start(9), "alpha = 0")
end

-- EMA: Keras's _update_model_variables_moving_average (m = 0 at the first call),
-- transcribed in float32: a = m a + (1 - m) theta.
-- Polyak: torch.optim.swa_utils.AveragedModel's default avg_fn: a = theta at
-- the first update, then a + (theta - a) / (n_averaged + 1).
function T.averages_match_their_references()
  for _, make in ipairs { function() return optim.Adam { lr = 0.05 } end, function() return SignMomentum {} end } do
    local n, steps = 11, 30
    local lam = lam_of(n)
    local ema = optim.EMA(make(), { momentum = 0.9 })
    local pol = optim.Polyak(make())
    local plain = make()
    local x1, x2, x3 = start(n), start(n), start(n)
    local a_ema, a_pol, mean = {}, {}, {}
    for i = 1, n do mean[i] = 0 end
    for c = 1, steps do
      x1.grad, x2.grad, x3.grad = x1 * lam, x2 * lam, x3 * lam
      ema:step { x1 }; pol:step { x2 }; plain:step { x3 }
      local p = x3:totable()
      local m = c == 1 and 0 or f32(0.9)
      for i = 1, n do
        a_ema[i] = f32(f32(m * (a_ema[i] or 0)) + f32(f32(1 - m) * p[i]))
        a_pol[i] = c == 1 and p[i] or f32(a_pol[i] + f32(f32(p[i] - a_pol[i]) / c))
        mean[i] = mean[i] + p[i] / steps
      end
    end
    -- the wrappers leave the trajectory alone
    identical(x1, x3, tostring(ema) .. ": raw weights"); identical(x2, x3, tostring(pol) .. ": raw weights")
    identical(ema.state[x1].ema, tensor.from(a_ema), tostring(ema))
    identical(pol.state[x2].average, tensor.from(a_pol), tostring(pol))
    lib.close(pol.state[x2].average:totable(), mean, 1e-5, "Polyak = the mean of the iterates", 1e-6)
    -- finalize: the averages
    ema:finalize { x1 }; pol:finalize { x2 }
    identical(x1, tensor.from(a_ema), "EMA finalize"); identical(x2, tensor.from(a_pol), "Polyak finalize")
  end
end

-- Accumulate(opt, {steps = n}): the inner optimizer sees one update per n
-- calls, with the mean gradient (g_n + (g_1 + ... + g_{n-1})) / n.
function T.accumulate_is_the_inner_optimizer_on_the_mean_gradient()
  for _, make in ipairs { function() return optim.Adam { lr = 0.05, clip_norm = 0.5 } end, function() return SignMomentum {} end } do
    local n = 9
    local lam = lam_of(n)
    local acc = optim.Accumulate(make(), { steps = 3 })
    local inner = make()
    local x, y = start(n), start(n)
    local sum = tensor.zeros(n)
    for c = 1, 12 do
      local g = x * lam
      x.grad = g
      acc:step { x }
      identical(x.grad, g, "the caller's gradient is left as it was")
      if c % 3 ~= 0 then
        sum:add_(y * lam)
        identical(x, y, "no update at call " .. c)
      else
        y.grad = (y * lam):add_(sum):div_(3)
        inner:step { y }
        sum:zero_()
        identical(x, y, tostring(acc) .. " at call " .. c)
      end
    end
    check(acc.t == 4 and acc.inner.t == 4, "t counts updates: " .. tostring(acc.t))
  end
end

-- Keras's options are the wrappers: the same bits, the same label as before.
function T.keras_options_are_the_wrappers()
  local a = optim.Adam { lr = 0.05, use_ema = true, ema_momentum = 0.9, gradient_accumulation_steps = 2 }
  check(a.kind == "EMA" and a.inner.kind == "Accumulate" and a.inner.inner.name == "Adam", "EMA(Accumulate(Adam))")
  check(tostring(a) == "Adam(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-08, use_ema=true, ema_momentum=0.9, gradient_accumulation_steps=2)",
    "the label the options always gave: " .. tostring(a))
  local b = optim.EMA(optim.Accumulate(optim.Adam { lr = 0.05 }, { steps = 2 }), { momentum = 0.9 })
  local xa, xb = run(a, 8, 13), run(b, 8, 13)
  identical(xa, xb, "use_ema + gradient_accumulation_steps = EMA(Accumulate(...))")
  identical(a.state[xa].ema, b.state[xb].ema, "the same average")
  check(a.values.use_ema == true and a.name == "Adam", "the option-made wrapper keeps the optimizer's name and values")
end

-- Every wrapper, alone and stacked, built-in or declared: a state_dict in the
-- middle (mid-accumulation, mid-Lookahead-cycle), loaded into a fresh stack,
-- gives the same bits as running straight through; also through a file.
function T.state_dict_round_trip_resumes_bit_identically()
  local tmp = os.tmpname()
  for _, make in ipairs {
    function() return optim.EMA(optim.Adam { lr = 0.05 }, { momentum = 0.8, overwrite_frequency = 4 }) end,
    function() return optim.Polyak(SignMomentum {}) end,
    function() return optim.Lookahead(optim.Adam { lr = 0.05 }, { k = 3, alpha = 0.6 }) end,
    function() return optim.Accumulate(SignMomentum {}, { steps = 3 }) end,
    function() return optim.Polyak(optim.Lookahead(optim.Accumulate(SignMomentum { lr = 0.02 }, { steps = 2 }), { k = 3 })) end,
    function() return optim.Adam { lr = 0.05, use_ema = true, gradient_accumulation_steps = 3 } end,
  } do
    local straight = make()
    local xs = run(straight, 10, 19)
    for _, via_file in ipairs { false, true } do
      local first = make()
      local x = run(first, 10, 8)
      local sd = first:state_dict()
      if via_file then first:save(tmp) end
      local second = make()
      if via_file then second:load(tmp, { x }) else second:load_state_dict(sd) end
      run(second, 10, 11, x)
      identical(x, xs, tostring(second) .. (via_file and ": save/load" or ": state_dict"))
      check(second.t == straight.t and second.calls == straight.calls, "counts restored")
    end
  end
  os.remove(tmp)
  -- the state of another wrapper, or of the bare optimizer, is refused by name
  local sd = optim.Lookahead(optim.Adam {}):state_dict()
  raises(function() optim.EMA(optim.Adam {}):load_state_dict(sd) end, "EMA: cannot load the state of Lookahead")
  raises(function() optim.Adam { use_ema = true }:load_state_dict(optim.Adam {}:state_dict()) end, "without its EMA")
end

function T.labels_and_help()
  check(tostring(optim.Lookahead(optim.Adam {})) == "Lookahead(Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08), k=5, alpha=0.5)",
    tostring(optim.Lookahead(optim.Adam {})))
  check(tostring(optim.EMA(optim.SGD { lr = 0.1 })) == "EMA(SGD(lr=0.1), momentum=0.99)", tostring(optim.EMA(optim.SGD { lr = 0.1 })))
  check(tostring(optim.Polyak(SignMomentum {})) == "Polyak(WrapTestSignum(lr=0.01, beta=0.9))", tostring(optim.Polyak(SignMomentum {})))
  check(tostring(optim.Accumulate(optim.SGD {}, { steps = 4 })) == "Accumulate(SGD(lr=0.01), steps=4)", "Accumulate label")
  check(tostring(optim.EMA(optim.Lookahead(optim.SGD {}, { k = 2 }), { momentum = 0.9 })) ==
    "EMA(Lookahead(SGD(lr=0.01), k=2, alpha=0.5), momentum=0.9)", "stacked label")
  local help = require "help"
  help.get(nil)
  for _, name in ipairs { "EMA", "Polyak", "Lookahead", "Accumulate" } do
    check(help.docs[optim[name]], "help(optim." .. name .. ")")
  end
  check(help.text(optim.Lookahead):find("1907.08610", 1, true), "Lookahead's help cites the paper")
  check(help.text(optim.Polyak):find("8.7.3", 1, true), "Polyak's help names the textbook's section")
  local missing = {}
  for k, v in pairs(getmetatable(optim.EMA(optim.SGD {})).__index) do
    if type(v) == "function" and k:sub(1, 1) ~= "_" and not help.docs[v] then missing[#missing + 1] = k end
  end
  table.sort(missing)
  check(#missing == 0, "wrapper methods without help: " .. table.concat(missing, ", "))
end

function T.errors_at_the_users_line()
  local e = raises(function() optim.Lookahead(nil) end, "optim.Lookahead: expected an optimizer to wrap")
  check(e:find("test_wrap.lua:", 1, true), "at the user's line: " .. e)
  raises(function() optim.Lookahead(optim.Adam {}, { kk = 3 }) end, "unknown option 'kk' (did you mean 'k'?)")
  raises(function() return optim.LookAhead end, "optim.LookAhead is not an optimizer (did you mean 'Lookahead'?)")
  raises(function() optim.Lookahead(optim.Adam {}, { k = 0 }) end, "k = 0 must be an integer >= 1")
  raises(function() optim.Lookahead(optim.Adam {}, { alpha = 1.5 }) end, "alpha = 1.5 must be a number in [0, 1]")
  raises(function() optim.EMA(optim.Adam {}, { momentum = -0.1 }) end, "momentum = -0.1 must be a number in [0, 1]")
  raises(function() optim.Accumulate(optim.Adam {}) end, "optim.Accumulate: steps = nil must be an integer >= 2")
  raises(function() optim.Accumulate(optim.Adam {}, { steps = 2.5 }) end, "steps = 2.5 must be an integer >= 2")
  raises(function() optim.Lookahead(optim.SGD { momentum = 0.9, nesterov = "literal" }) end,
    "has nesterov = \"literal\"")
  local x = tensor.from { 1, 2 }
  raises(function() optim.Accumulate(optim.Adam {}, { steps = 2 }):step { x } end, "parameter 1 has no .grad")
  -- train.fit finds the literal Nesterov inside a wrapper too
  raises(function() train.check_optimizer(optim.EMA(optim.SGD { momentum = 0.9, nesterov = "literal" }), "here") end,
    "here: SGD(lr=0.01, momentum=0.9, nesterov=literal) has nesterov = \"literal\"")
end

-- The textbook's literal look-ahead Nesterov was `lookahead = true`, a name
-- Lookahead (Zhang et al.) now needs: it is nesterov = "literal", and the old
-- spelling says so. (Fails on the code before the rename, which took
-- lookahead = true and refused nesterov = "literal".)
function T.literal_nesterov_is_named_apart_from_lookahead()
  local e = raises(function() optim.SGD { lr = 0.1, momentum = 0.9, nesterov = true, lookahead = true } end,
    "SGD: lookahead = ... is now nesterov = \"literal\"")
  check(e:find("optim.Lookahead(", 1, true) and e:find("test_wrap.lua:", 1, true), e)
  raises(function() optim.RMSprop { momentum = 0.9, nesterov = true, lookahead = true } end, "is now nesterov = \"literal\"")
  raises(function() optim.Adam { lookahead = true } end, "Adam has no such form; Lookahead (Zhang et al. 2019) is optim.Lookahead")
  raises(function() optim.SGD { nesterov = "literal" } end, "needs momentum > 0")
  -- a declaration may still name a hyperparameter lookahead
  local D = optim.define { name = "WrapTestLookaheadField", doc = "p - lr g", hyper = { { "lr", 0.1 }, { "lookahead", 0 } },
    update = function(p, g, s, h) return p - h.lr * g + h.lookahead * g end }
  check(D { lookahead = 0.5 }.values.lookahead == 0.5, "a declared lookahead hyperparameter")
  local opt = optim.SGD { lr = 0.02, momentum = 0.9, nesterov = "literal" }
  check(tostring(opt) == "SGD(lr=0.02, momentum=0.9, nesterov=literal)", tostring(opt))
  raises(function() opt:step { tensor.from { 1 } } end, "nesterov = \"literal\" needs a closure")
end

-- A stack over a tensor larger than one span: the same bits at 1 and 2 threads.
function T.one_and_two_threads_identical()
  local out = {}
  local before = sys.threads()
  for threads = 1, 2 do
    sys.set_threads(threads)
    local opt = optim.Polyak(optim.Lookahead(optim.Accumulate(SignMomentum { lr = 0.003 }, { steps = 2 }), { k = 3 }))
    local e = optim.EMA(optim.Adam { lr = 0.01, clip_norm = 1 }, { momentum = 0.9 })
    local x = run(opt, 70001, 13)
    local y = run(e, 70001, 13)
    out[threads] = { x, opt.state[x].average, y, e.state[y].ema }
  end
  sys.set_threads(before)
  for i = 1, 4 do identical(out[1][i], out[2][i], "1 vs 2 threads, tensor " .. i) end
end

---------------------------------------------------------------- train.fit and experiment.compare

local function blobs()
  local ds = data.blobs { n = 600, centers = 3, features = 4, std = 1.5, seed = 5 }
  return ds:split { validation = 0.25 }
end
local function model()
  tensor.manual_seed(3)
  return nn.Sequential { input = { 4 }, nn.Dense(12, { activation = "relu" }), nn.Dense(3) }
end

-- train.fit validates with the averaged weights and trains on from the raw
-- ones: the training losses are those of the bare optimizer, the validation
-- losses those of the averages, and the model ends with the averages. (On
-- the code before, use_ema validated the raw weights.)
function T.fit_evaluates_with_the_averaged_weights()
  local tr, va = blobs()
  local o = { epochs = 3, batch_size = 25, verbose = 0, validation = va }
  local plain = train.fit(model(), optim.Adam { lr = 0.01, clip_norm = 1 }, tr, o)
  for _, make in ipairs {
    function() return optim.Adam { lr = 0.01, clip_norm = 1, use_ema = true, ema_momentum = 0.9 } end,
    function() return optim.EMA(optim.Adam { lr = 0.01, clip_norm = 1 }, { momentum = 0.9 }) end,
    function() return optim.Polyak(optim.Adam { lr = 0.01, clip_norm = 1 }) end,
  } do
    local opt = make()
    local m = model()
    local seen = {}
    local probe = { on_epoch_end = function(e, logs)
      -- the averages, put in by hand: the validation loss fit logged is theirs
      local raw = {}
      for i, p in ipairs(m:parameters()) do
        local st = opt.state[p]
        raw[i] = p:clone()
        tensor.raw.copy_(p, st.ema or st.average)
      end
      seen[e] = train.evaluate(m, va, { batch_size = 25 }).loss
      for i, p in ipairs(m:parameters()) do tensor.raw.copy_(p, raw[i]) end
      check(compat.same_bits(seen[e], logs.val_loss), string.format("%s epoch %d: val_loss %.9g, with the averages %.9g",
        tostring(opt), e, logs.val_loss, seen[e]))
    end }
    local h = train.fit(m, opt, tr, { epochs = 3, batch_size = 25, verbose = 0, validation = va, callbacks = { probe } })
    for e = 1, 3 do
      check(compat.same_bits(h.loss[e], plain.loss[e]), tostring(opt) .. ": training goes on from the raw weights, epoch " .. e)
      check(h.val_loss[e] ~= plain.val_loss[e], tostring(opt) .. ": validation is not that of the raw weights")
    end
    for _, p in ipairs(m:parameters()) do identical(p, opt.state[p].ema or opt.state[p].average, "ends with the averages") end
  end
end

-- Schedule-Free (optim.define's average = "x") evaluates at x, as its authors'
-- optimizer.eval(): fit's validation loss is x's, training goes on from the
-- parameter (y), and the model ends at x; swap_average swaps and swaps back
-- bit for bit. (On the code before, swap_average was false: validation ran at y.)
function T.schedule_free_evaluates_at_its_average_x()
  local tr, va = blobs()
  for _, name in ipairs { "ScheduleFreeSGD", "ScheduleFreeAdamW" } do
    local p = tensor.randn(50, { seed = 3 })
    local opt = optim[name] { lr = 0.05 }
    check(opt:swap_average { p } == false, name .. ": nothing to swap before the first step")
    for k = 1, 4 do
      p.grad = tensor.randn(50, { seed = 10 + k })
      opt:step { p }
    end
    local y, x = p:clone(), opt.state[p].x:clone()
    check(not compat.same_bits(y:sum():item(), x:sum():item()), name .. ": y and x differ after 4 steps")
    check(opt:swap_average { p } == true, name .. ": swap_average swaps in x")
    identical(p, x, name .. ": the parameter is x")
    identical(opt.state[p].x, y, name .. ": the state keeps y")
    check(opt:swap_average { p } == true, name .. ": a second call swaps back")
    identical(p, y, name .. ": y is back")
    identical(opt.state[p].x, x, name .. ": x is back")

    local m = model()
    opt = optim[name] { lr = name == "ScheduleFreeSGD" and 0.2 or 0.01 }
    local probe = { on_epoch_end = function(e, logs)
      local raw = {}
      for i, q in ipairs(m:parameters()) do raw[i] = q:clone(); tensor.raw.copy_(q, opt.state[q].x) end
      local at_x = train.evaluate(m, va, { batch_size = 25 }).loss
      for i, q in ipairs(m:parameters()) do tensor.raw.copy_(q, raw[i]) end
      local at_y = train.evaluate(m, va, { batch_size = 25 }).loss
      check(compat.same_bits(at_x, logs.val_loss), string.format("%s epoch %d: val_loss %.9g, at x %.9g", name, e, logs.val_loss, at_x))
      check(at_x ~= at_y, string.format("%s epoch %d: y's loss %.9g is not x's", name, e, at_y))
    end }
    train.fit(m, opt, tr, { epochs = 2, batch_size = 25, verbose = 0, validation = va, callbacks = { probe } })
    for _, q in ipairs(m:parameters()) do identical(q, opt.state[q].x, name .. ": the model ends at x") end
  end
end

-- train.fit's checkpoint and resume through a wrapper stack: bit-identical.
function T.fit_resumes_a_wrapper_bit_identically()
  local tr, va = blobs()
  local tmp = os.tmpname()
  local function make() return optim.EMA(optim.Lookahead(SignMomentum { lr = 0.005 }, { k = 4 }), { momentum = 0.9 }) end
  local o = function(extra)
    local t = { batch_size = 30, verbose = 0, validation = va, seed = 4 }
    for k, v in pairs(extra) do t[k] = v end
    return t
  end
  local m1 = model()
  local full = train.fit(m1, make(), tr, o { epochs = 3 })
  train.fit(model(), make(), tr, o { epochs = 2, callbacks = { train.checkpoint { path = tmp } } })
  local m2 = model()
  local resumed = train.fit(m2, make(), tr, o { epochs = 3, resume = tmp })
  os.remove(tmp)
  check(compat.same_bits(resumed.val_loss[3], full.val_loss[3]) and compat.same_bits(resumed.loss[3], full.loss[3]), "epoch 3 the same")
  for i, p in ipairs(m1:parameters()) do identical(m2:parameters()[i], p, "weights after resume") end
end

-- experiment.compare runs wrappers, declared optimizers inside them too; a
-- wrapper object is reset for each run; its record is train.fit's.
function T.compare_runs_wrappers()
  local experiment = require "experiment"
  local tmp = os.tmpname()
  os.remove(tmp)
  local tr, va = blobs()
  local ema = optim.EMA(SignMomentum { lr = 0.005 }, { momentum = 0.9 })
  local res = experiment.compare {
    name = "wrap", epochs = 2, batch_size = 25, seeds = { 1, 2 }, verbose = 0, runs_dir = tmp, arg = {},
    data = { tr, va }, model = function() return nn.Sequential { input = { 4 }, nn.Dense(12, { activation = "relu" }), nn.Dense(3) } end,
    optimizers = { ema, optim.Lookahead(optim.Adam { lr = 0.01 }, { k = 3 }), { "Adam", use_ema = true } },
  }
  check(res.exit_status == 0, "compare succeeded")
  for _, rec in ipairs(res.records) do check(rec.status == "complete", rec.label .. ": " .. tostring(rec.status) .. " " .. tostring(rec.error)) end
  -- the EMA run of seed 2 is what train.fit gives a fresh EMA from the same start
  tensor.manual_seed(2)
  local m = nn.Sequential { input = { 4 }, nn.Dense(12, { activation = "relu" }), nn.Dense(3) }
  local h = train.fit(m, optim.EMA(SignMomentum { lr = 0.005 }, { momentum = 0.9 }), tr,
    { epochs = 2, batch_size = 25, verbose = 0, validation = va, seed = 2 })
  local rec
  for _, r in ipairs(res.records) do if r.opt == 1 and r.seed == 2 then rec = r end end
  check(compat.same_bits(rec.history.val_loss[2], h.val_loss[2]), "the record is train.fit's with the averages")
  local hyper = res.manifest.config.optimizers[1].hyperparameters
  check(hyper.optimizer == "WrapTestSignum(lr=0.005, beta=0.9)" and hyper.momentum == 0.9, "manifest: plain data")
  report.shell_line("rm -rf " .. report.shell_quote(tmp))
end

return T
