-- optim.define: declared optimizers against the built-ins (same bits), against
-- float64 references (reductions, per-tensor scalars), at 1
-- and 2 threads; schedules, state_dict, clipping, errors at the user's line,
-- and the program checker refusing unsound programs.
local lib = require "lib"
local check, raises, identical = lib.check, lib.raises, lib.identical
local fn = optim.fn

local T = {}
local SIZES = { 1, 7, 300, 70001 }   -- 70001: more than one span, so threads share the work

-- The textbook forms of four built-ins, written in a script as the built-ins
-- round them (the built-ins are declarations too, stdlib/optim/builtin/, pinned
-- to the bits of the kernels they replaced by test_declared_builtins).
local D = {}
D.Adam = optim.define {
  name = "DeclAdam", doc = "Adam as kernels/optim.c writes it",
  hyper = { { "lr", 1e-3, range = "[0, inf)" }, { "beta1", 0.9, range = "[0, 1)" }, { "beta2", 0.999, range = "[0, 1)" },
            { "eps", 1e-8, range = "[0, inf)" } },
  state = { m = 0, v = 0 },
  update = function(p, g, s, h, t)
    s.m = h.beta1 * s.m + (1 - h.beta1) * g
    s.v = h.beta2 * s.v + (1 - h.beta2) * (g * g)
    return p - (h.lr / (1 - h.beta1 ^ t)) * s.m / (fn.sqrt(s.v) * (1 / fn.sqrt(1 - h.beta2 ^ t)) + h.eps)
  end,
}
D.SGD = optim.define {
  name = "DeclMomentum", doc = "the textbook's Algorithm 8.2",
  hyper = { { "lr", 0.01 }, { "momentum", 0.9 } },
  state = { v = 0 },
  update = function(p, g, s, h)
    s.v = h.momentum * s.v - h.lr * g
    return p + s.v
  end,
}
D.RMSprop = optim.define {
  name = "DeclRMSprop", doc = "the textbook's Algorithm 8.5",
  hyper = { { "lr", 0.001 }, { "rho", 0.9 }, { "eps", 1e-6 } },
  state = { r = 0 },
  update = function(p, g, s, h)
    s.r = h.rho * s.r + (1 - h.rho) * (g * g)
    return p - h.lr * g / (fn.sqrt(s.r) + h.eps)
  end,
}
D.Adagrad = optim.define {
  name = "DeclAdagrad", doc = "the textbook's Algorithm 8.4",
  hyper = { { "lr", 0.01 }, { "eps", 1e-7 } },
  state = { r = 0 },
  update = function(p, g, s, h)
    s.r = s.r + g * g
    return p - h.lr * g / (fn.sqrt(s.r) + h.eps)
  end,
}
local BUILTIN = {
  Adam = function() return optim.Adam { lr = 0.01 } end, SGD = function() return optim.SGD { lr = 0.01, momentum = 0.9 } end,
  RMSprop = function() return optim.RMSprop { lr = 0.01 } end, Adagrad = function() return optim.Adagrad { lr = 0.01 } end,
}

-- Run opt for `steps` steps on n elements from seeded gradients; returns p and the state.
local function run(opt, n, steps, seed)
  local p = tensor.randn(n, { seed = seed or 1 })
  for k = 1, steps do
    p.grad = tensor.randn(n, { seed = 100 + k })
    opt:step { p }
  end
  return p, opt
end

T.declared_textbook_forms_give_the_builtins_bits = function()
  for name, ctor in pairs(D) do
    for _, n in ipairs(SIZES) do
      for threads = 1, 2 do
        sys.set_threads(threads)
        local a = run(BUILTIN[name](), n, 30)
        local b = run(ctor { lr = 0.01 }, n, 30)
        identical(b, a, string.format("declared %s, n = %d, %d threads", name, n, threads))
      end
    end
  end
  sys.set_threads(2)
end

-- LAMB-like: a per-tensor trust ratio from two norms (two stages), checked
-- against the same arithmetic in float64 on the float32 inputs.
local Trust = optim.define {
  name = "TrustTest", doc = "u = m-ish update; p - lr |p|/|u| u",
  hyper = { { "lr", 0.1 }, { "beta", 0.5 } },
  state = { m = 0 },
  update = function(p, g, s, h)
    s.m = h.beta * s.m + (1 - h.beta) * g
    local u = s.m + 0.01 * p
    local ratio = fn.norm(p) / fn.norm(u)
    return p - h.lr * ratio * u
  end,
}

-- NovoGrad-like: a per-tensor second moment (scalars), and a mean.
local Layer = optim.define {
  name = "LayerTest", doc = "per-tensor v from |g|^2; centered by the mean",
  hyper = { { "lr", 0.05 }, { "beta2", 0.9 } },
  scalars = { v = 0 },
  update = function(p, g, s, h)
    s.v = h.beta2 * s.v + (1 - h.beta2) * fn.sumsq(g)
    return p - h.lr * (g - fn.mean(g)) / (fn.sqrt(s.v) + 1e-8)
  end,
}

local function f32(x) return tensor.from({ x }):item() end

T.reductions_match_a_float64_reference = function()
  for _, n in ipairs { 1, 300, 70001 } do
    -- Trust: one step from m = 0
    local p = tensor.randn(n, { seed = 3 })
    local g = tensor.randn(n, { seed = 4 })
    local pv, gv = p:totable(), g:totable()
    p.grad = g
    local opt = Trust {}
    opt:step { p }
    local sp, su, u = 0, 0, {}
    for i = 1, n do
      local m = f32(f32(0.5 * 0) + f32(0.5 * gv[i]))
      u[i] = f32(m + f32(0.01 * pv[i]))
      sp, su = sp + pv[i] * pv[i], su + u[i] * u[i]
    end
    local ratio = f32(math.sqrt(sp) / math.sqrt(su))
    local got = p:totable()
    for i = 1, n, math.max(1, math.floor(n / 50)) do
      local want = pv[i] - f32(f32(0.1) * ratio) * u[i]
      check(math.abs(got[i] - want) <= 1e-6 * math.max(1, math.abs(want)),
        string.format("Trust n=%d element %d: got %.9g, want %.9g", n, i, got[i], want))
    end
    -- Layer: the scalar state after one step is (1 - beta2) |g|^2, stored as float
    local q = tensor.randn(n, { seed = 5 })
    q.grad = g
    local lo = Layer {}
    lo:step { q }
    local sq = 0
    for i = 1, n do sq = sq + gv[i] * gv[i] end
    local v = lo.state[q].v:item()
    check(math.abs(v - 0.1 * sq) <= 1e-6 * 0.1 * sq, string.format("Layer n=%d: v = %.9g, want %.9g", n, v, 0.1 * sq))
  end
end

T.reductions_same_bits_at_any_thread_count = function()
  for _, ctor in ipairs { Trust, Layer } do
    local out = {}
    for threads = 1, 2 do
      sys.set_threads(threads)
      out[threads] = run(ctor {}, 200003, 5)
    end
    identical(out[1], out[2], tostring(ctor {}) .. ": 1 vs 2 threads")
  end
  sys.set_threads(2)
end

-- Across all parameters: a global norm (clipping inside the declaration),
-- a global state counting steps, and a matrix stage (Newton-Schulz as in Muon).
local GClip = optim.define {
  name = "GlobalClipTest", doc = "SGD clipped by the global gradient norm",
  hyper = { { "lr", 0.1 }, { "c", 1.0 } },
  globals = { steps = 0 },
  update = function(p, g, s, h)
    s.steps = s.steps + 1
    return p - h.lr * (h.c / fn.max(h.c, fn.global_norm(g))) * g
  end,
}

-- Newton-Schulz iteration towards the nearest orthogonal matrix (Muon's
-- quintic, Jordan et al. 2024: a = 3.4445, b = -4.7750, c = 2.0315).
local function newton_schulz(m, steps)
  if m:dim() ~= 2 then return m end
  local x = m / (m:norm() + 1e-7)
  local tall = m:shape()[1] > m:shape()[2]
  if tall then x = x:t() end
  for _ = 1, steps do
    local a = x:matmul(x:t())
    local b = a * -4.7750 + a:matmul(a) * 2.0315
    x = x * 3.4445 + b:matmul(x)
  end
  if tall then x = x:t() end
  return x:contiguous()
end
local Orth = optim.define {
  name = "OrthTest", doc = "p - lr * orthogonalize(momentum)",
  hyper = { { "lr", 0.02 }, { "beta", 0.95 } },
  state = { m = 0 },
  update = function(p, g, s, h)
    s.m = h.beta * s.m + g
    return p - h.lr * fn.matrix(s.m, function(t) return newton_schulz(t, 10) end)
  end,
}

T.global_reductions_and_state = function()
  local shapes = { { 70001 }, { 3 }, { 20, 30 } }
  local function setup()
    local ps = {}
    for i, sh in ipairs(shapes) do
      ps[i] = tensor.randn(sh, { seed = i })
      ps[i].grad = tensor.randn(sh, { seed = 10 + i }) * (i == 1 and 0.01 or 1)
    end
    return ps
  end
  local ps = setup()
  local before, total = {}, 0
  for i, p in ipairs(ps) do
    before[i] = p:reshape(-1):totable()
    for _, x in ipairs(p.grad:reshape(-1):totable()) do total = total + x * x end
  end
  local o = GClip {}
  o:step(ps)
  local scale = f32(0.1 * (1 / math.max(1, math.sqrt(total))))
  for i, p in ipairs(ps) do
    local got, g = p:reshape(-1):totable(), p.grad:reshape(-1):totable()
    for j = 1, #got, 97 do
      local want = f32(before[i][j] - f32(scale * g[j]))
      check(got[j] == want, string.format("tensor %d element %d: got %.9g, want %.9g", i, j, got[j], want))
    end
  end
  check(o.globals.steps == 1, "the global counted one step")
  -- resume from a state_dict: the global comes back
  o:step(ps)
  local o2 = GClip {}
  o2:load_state_dict(o:state_dict(), ps)
  check(o2.globals.steps == 2, "global restored: " .. tostring(o2.globals.steps))
  -- a global is a double: 2^24 + 1 steps are counted exactly (float32 would stop at 2^24)
  local Count = optim.define { name = "CountTest", doc = "counts in a global", hyper = { { "lr", 0 } },
    globals = { n = 2 ^ 24 }, update = function(p, g, s) s.n = s.n + 1; return p end }
  -- over three tensors, once a step (every tensor computes it; it is kept once)
  local oc, qs = Count {}, { tensor.zeros(2), tensor.zeros(3), tensor.zeros(4) }
  for _, q in ipairs(qs) do q.grad = tensor.zeros(q:shape()) end
  oc:step(qs)
  check(oc.globals.n == 2 ^ 24 + 1, "global kept in double, once a step: " .. string.format("%.17g", oc.globals.n))
  -- same bits at 1 and 2 threads
  local out = {}
  for threads = 1, 2 do
    sys.set_threads(threads)
    local q = setup()
    local oo = GClip {}
    for _ = 1, 3 do oo:step(q) end
    out[threads] = q[1]
  end
  sys.set_threads(2)
  identical(out[1], out[2], "global norm: 1 vs 2 threads")
end

T.matrix_stage_orthogonalizes = function()
  local p = tensor.zeros({ 16, 8 })
  p.grad = tensor.randn({ 16, 8 }, { seed = 9 })
  local o = Orth { lr = 1 }
  o:step { p }
  -- p = -orth(g): the columns of a 16 x 8 orthogonalized matrix are near orthonormal
  local gram = p:t():matmul(p):reshape(-1):totable()
  local worst = 0
  for i = 1, 8 do
    for j = 1, 8 do worst = math.max(worst, math.abs(gram[(i - 1) * 8 + j] - (i == j and 1 or 0))) end
  end
  check(worst < 0.35, "Newton-Schulz (5 quintic steps leave singular values in ~[0.7, 1.2]): |U^T U - I| = " .. worst)
  -- a 1-D parameter passes through f unchanged (f decides per shape, at run time)
  local b = tensor.zeros(5)
  b.grad = tensor.ones(5)
  Orth { lr = 1 }:step { b }
  check(b:totable()[1] == -1, "bias: p - lr g")
  raises(function()
    local Bad = optim.define { name = "BadMat", doc = "d", hyper = { { "lr", 1 } },
      update = function(p, g) return p - fn.matrix(g, function(t) return t:reshape(-1):narrow(1, 1, 2) end) end }
    local q = tensor.zeros({ 2, 2 }); q.grad = tensor.ones({ 2, 2 })
    Bad {}:step { q }
  end, "must return a tensor of the parameter's shape 2x2, got 2")
end

-- Rows and columns (Adafactor's factored second moment): against float64,
-- on a matrix, a vector (one row) and a matrix large enough for threads.
local Factored = optim.define {
  name = "FactoredTest", doc = "r, c: EMAs of the row and column means of g^2; v = r c / mean(r)",
  hyper = { { "lr", 0.1 }, { "beta2", 0.9 } },
  rows = { r = 0 }, cols = { c = 0 },
  update = function(p, g, s, h)
    local g2 = g * g + 1e-30
    s.r = h.beta2 * s.r + (1 - h.beta2) * fn.row_mean(g2)
    s.c = h.beta2 * s.c + (1 - h.beta2) * fn.col_mean(g2)
    return p - h.lr * g / fn.sqrt(s.r * s.c / fn.mean(s.r))
  end,
}

T.rows_and_columns_match_a_float64_reference = function()
  for _, shape in ipairs { { 3, 4 }, { 7 }, { 300, 257 } } do
    local p = tensor.randn(shape, { seed = 1 })
    local g = tensor.randn(shape, { seed = 2 })
    p.grad = g
    local R, C = 1, shape[#shape]
    for i = 1, #shape - 1 do R = R * shape[i] end
    local pv, gv = p:reshape(-1):totable(), g:reshape(-1):totable()
    local o = Factored {}
    o:step { p }
    local r, c, mr = {}, {}, 0
    for i = 1, R do r[i] = 0 end
    for j = 1, C do c[j] = 0 end
    for i = 1, R do
      for j = 1, C do
        local x = gv[(i - 1) * C + j] ^ 2
        r[i], c[j] = r[i] + x / C, c[j] + x / R
      end
    end
    for i = 1, R do r[i] = 0.1 * r[i]; mr = mr + r[i] / R end
    local got, worst = p:reshape(-1):totable(), 0
    for i = 1, R do
      for j = 1, C do
        local k = (i - 1) * C + j
        local want = pv[k] - 0.1 * gv[k] / math.sqrt(r[i] * 0.1 * c[j] / mr)
        worst = math.max(worst, math.abs(got[k] - want) / (math.abs(pv[k]) + math.abs(want)))
      end
    end
    check(worst < 1e-6, string.format("%s: worst relative error %.3g", table.concat(shape, "x"), worst))
    check(#o.state[p].r:totable() == R and #o.state[p].c:totable() == C, "row and column state sizes")
  end
  local out = {}
  for threads = 1, 2 do
    sys.set_threads(threads)
    out[threads] = run(Factored {}, 200003, 3)
  end
  sys.set_threads(2)
  identical(out[1], out[2], "rows and columns: 1 vs 2 threads")
end

T.schedules_and_resume = function()
  -- lr from a schedule, then a state_dict mid-run resumes bit for bit
  local function make() return D.Adam { lr = schedule.linear { from = 0.01, to = 0.001, steps = 20 } } end
  local a = run(make(), 300, 20)
  local o1 = make()
  local p = run(o1, 300, 10)
  local sd = o1:state_dict()
  local o2 = make()
  o2:load_state_dict(sd, { p })
  for k = 11, 20 do
    p.grad = tensor.randn(300, { seed = 100 + k })
    o2:step { p }
  end
  identical(p, a, "declared Adam resumed from a state_dict")
  check(o2:hyper().lr < 0.01, "the schedule moved lr")
end

T.clipping_as_the_builtins = function()
  local Plain = optim.define { name = "PlainSGD", doc = "p - lr g", hyper = { { "lr", 0.1 } },
    update = function(p, g, s, h) return p - h.lr * g end }
  for _, clip in ipairs { { clip_value = 0.5 }, { clip_norm = 1.0 }, { global_clip_norm = 1.0, convention = "keras" } } do
    local hp1, hp2 = { lr = 0.1 }, { lr = 0.1 }
    for k, v in pairs(clip) do hp1[k], hp2[k] = v, v end
    local a = run(optim.SGD(hp1), 70001, 3)
    local b = run(Plain(hp2), 70001, 3)
    local label = next(clip)
    identical(b, a, "declared SGD with " .. label)
  end
end

T.label_help_and_aliases = function()
  check(tostring(D.Adam { learning_rate = 0.5 }) == "DeclAdam(lr=0.5, beta1=0.9, beta2=0.999, eps=1e-08)", tostring(D.Adam { learning_rate = 0.5 }))
  local Al = optim.define { name = "AliasTest", doc = "doc text here",
    hyper = { { "lr", 0.1, alias = { "learning_rate" } }, { "beta1", 0.9, range = "[0, 1)", alias = { "beta_1" } } },
    state = { m = "lr" },
    update = function(p, g, s, h) s.m = h.beta1 * s.m; return p - s.m * g end }
  local o = Al { beta_1 = 0.5 }
  check(o.values.beta1 == 0.5, "alias beta_1")
  local p = tensor.ones(3); p.grad = tensor.ones(3)
  o:step { p }
  check(math.abs(o.state[p].m:totable()[1] - f32(0.5 * f32(0.1))) < 1e-9, "state m starts at lr")
  -- a state may start as a copy of the parameter
  local FromP = optim.define { name = "FromPTest", doc = "z starts at p", hyper = { { "lr", 0.5 } }, state = { z = "p" },
    update = function(p, g, s, h) s.z = s.z - h.lr * g; return s.z end }
  local q = tensor.from { 1, 2, 3 }
  q.grad = tensor.ones(3)
  FromP {}:step { q }
  check(q:totable()[3] == 2.5, "z = p - lr g from z = p: " .. q:totable()[3])
  local help = require "help"
  local text = help.text and help.text(Al) or nil
  if text then check(text:find("doc text here", 1, true) and text:find("beta1 = 0.9", 1, true), text) end
end

T.declared_trains_in_fit = function()
  -- the same run with the built-in and the declared Adam: the same history, bit for bit
  local hist = {}
  for i, opt in ipairs { optim.Adam { lr = 0.01 }, D.Adam { lr = 0.01 } } do
    local ds = data.blobs { n = 400, centers = 3, features = 5, std = 1.5, seed = 3 }
    tensor.manual_seed(11)
    local model = nn.Sequential { input = { 5 }, nn.Dense(8, { activation = "relu" }), nn.Dense(3) }
    hist[i] = train.fit(model, opt, ds, { epochs = 3, batch_size = 20, loss = "cross_entropy", verbose = 0 })
  end
  local a, b = hist[1].loss, hist[2].loss
  check(#a == 3 and #b == 3, "three epochs")
  for e = 1, 3 do check(a[e] == b[e], string.format("epoch %d loss: built-in %.17g, declared %.17g", e, a[e], b[e])) end
  check(a[3] < a[1], "the loss fell")
end

-- Errors: at the user's file:line, naming the optimizer and the field.
local function fails(f, ...)
  local ok, err = pcall(f)
  check(not ok, "no error raised, expected: " .. table.concat({ ... }, " ... "))
  err = tostring(err)
  for _, part in ipairs { ... } do
    check(err:find(part, 1, true), string.format("error '%s' does not mention '%s'", err, part))
  end
end

T.errors_name_the_optimizer_and_the_field = function()
  local base = { name = "Bad", doc = "d", hyper = { { "lr", 0.1, range = "[0, 1]" } }, state = { m = 0 } }
  local function with(update)
    local d = {}
    for k, v in pairs(base) do d[k] = v end
    d.update = update
    return optim.define(d)
  end
  local HERE = "test_define.lua:"
  fails(function() with(function(p, g, s, h) return p - h.lrr * g end) {} end,
    HERE, "Bad: update reads hyperparameter 'lrr'", "did you mean 'lr'")
  fails(function() with(function(p, g, s, h) s.mm = g; return p end) {} end,
    HERE, "Bad: update assigns state 'mm'", "did you mean 'm'")
  fails(function() with(function(p, g, s, h) s.m = "x"; return p end) {} end, HERE, "Bad: update assigns a string to state 'm'")
  fails(function() with(function(p, g, s, h) return nil end) {} end, HERE, "Bad: update must return the new parameter")
  fails(function() with(function(p, g, s, h) return {} end) {} end, HERE, "Bad: update returned a table")
  fails(function() with(function(p, g, s, h) if g > p then return p end return p end) {} end,
    HERE, "Bad: update: a traced value cannot steer an `if`", "optim.fn.where")
  if not require("compat").luajit then   -- LuaJIT compares a number with a table before any metamethod
    fails(function() with(function(p, g, s, h) if g > 0 then return p end return p end) {} end,
      HERE, "Bad: update: a traced value cannot steer an `if`")
  end
  fails(function() with(function(p, g, s, h) return p - g * "2" end) {} end, HERE, "Bad: update: cannot multiply a string")
  fails(function() with(function(p, g, s, h) return p - g.x end) {} end, HERE, "Bad: update: a traced value has no field 'x'")
  fails(function() with(function(p, g, s, h) return p - h.lr * g end) { lr = 2 } end, HERE, "Bad: lr = 2 must be in [0, 1]")
  fails(function() with(function(p, g, s, h) return p - h.lr * g end) { lrr = 2 } end,
    HERE, "Bad: unknown hyperparameter 'lrr'", "did you mean 'lr'")
  fails(function()
    local o = with(function(p, g, s, h) return p - h.lr * g end) { lr = function(k) return k + 0.5 end }
    local p = tensor.ones(2); p.grad = tensor.ones(2)
    o:step { p }; o:step { p }
  end, HERE, "Bad: lr = 1.5 (from its schedule at step 1) must be in [0, 1]")
  fails(function() optim.define { name = "Bad", doc = "d", hyper = { { "lr", 0.1, range = "0..1" } }, update = function(p) return p end } end,
    HERE, "optim.define Bad: hyperparameter 'lr': range must look like")
  fails(function() optim.define { name = "Adam", doc = "d", hyper = {}, update = function(p) return p end } end,
    HERE, "Adam is a built-in optimizer")
  fails(function() optim.define { name = "Bad", doc = "d", hyper = {}, updates = function(p) return p end } end,
    HERE, "unknown field 'updates'", "did you mean 'update'")
  fails(function() optim.define { name = "Bad", doc = "d", hyper = {}, globals = { d = 0 },
    update = function(p, g, s) s.d = fn.sum(g); return p end } {} end, HERE, "global 'd' is one number for all parameters")
  fails(function() optim.define { name = "Bad", doc = "d", hyper = {}, scalars = { v = 0 },
    update = function(p, g, s) s.v = g; return p end } {} end, HERE, "state 'v' is one number per tensor")
end

-- A comparison script that declares its optimizer: by object and by name,
-- in --jobs 2 workers; the manifest records its hyperparameters and
-- `optlab verify` reruns it bit for bit.
T.declared_in_compare_jobs_and_verify = function()
  local report = require "report"
  local experiment = require "experiment"
  local q = report.shell_quote
  local exe = lib.optlab_exe()
  local dir = os.tmpname()
  os.remove(dir)
  report.mkdir_p(dir)
  report.write_file(dir .. "/decl.lua", [[
local fn = optim.fn
optim.define {
  name = "SignMomentum", doc = "sign of an EMA of g (Signum, Bernstein et al. 2018)",
  hyper = { { "lr", 0.01, range = "[0, inf)" }, { "beta", 0.9, range = "[0, 1)" } },
  state = { m = 0 },
  update = function(p, g, s, h) s.m = h.beta * s.m + (1 - h.beta) * g; return p - h.lr * fn.sign(s.m) end,
}
local ds = data.blobs { n = 300, centers = 3, features = 4, std = 1.5, seed = 7 }
local tr, va = ds:split { validation = 0.25 }
return experiment.compare {
  name = "declared", data = { tr, va }, batch_size = 30, epochs = 2, seeds = { 1 }, verbose = 0,
  model = function() return nn.Sequential { input = { 4 }, nn.Dense(8, { activation = "relu" }), nn.Dense(3) } end,
  optimizers = { optim.SignMomentum { lr = 0.02 }, "SignMomentum", "SGD" },
}
]])
  local function run(args)
    local p = io.popen(q(exe) .. " " .. args .. " 2>&1")
    local out = p:read("a")
    local ok = p:close()
    return ok, out
  end
  local ok, out = run(q(dir .. "/decl.lua") .. " runs_dir=" .. q(dir .. "/runs") .. " --jobs 2")
  check(ok, "the comparison failed:\n" .. out)
  local folder = out:match("Run folder: ([^\n]+)")
  check(folder, "no run folder in:\n" .. out)
  local m = report.json_decode(report.read_file(folder .. "/manifest.json"))
  local found
  for _, o in ipairs(m.config and m.config.optimizers or {}) do
    if o.label == "SignMomentum(lr=0.02, beta=0.9)" then found = o end
  end
  check(found and found.hyperparameters and found.hyperparameters.lr == 0.02 and found.hyperparameters.beta == 0.9,
    "manifest entry of the declared optimizer: " .. report.read_file(folder .. "/manifest.json"))
  local vok, vout = run("--threads 1 verify " .. q(folder))
  check(vok and vout:find("OK, every metric matches bit for bit", 1, true), "verify:\n" .. vout)
  os.execute("rm -rf " .. q(dir))
end

-- A hand-made program can never read or write outside its buffers.
T.program_checker_refuses_unsound_programs = function()
  local C = require "optlab.core"
  local O = C.optim.program_ops
  local function prog(vcode, extra)
    local d = { nslots = 2, nregs = 2, nbufs = 2, nstages = 1, numel_slot = -1, nrows_slot = -1, ncols_slot = -1,
                vcode = vcode, scode = {},
                vstart = { 0, #vcode / 7 }, sstart = { 0, 0, 0 }, consts = {}, inputs = {} }
    for k, v in pairs(extra or {}) do d[k] = v end
    return C.optim.program(d)
  end
  raises(function() prog { O.ADD, 0, 1, 1, 0, 0, -1 } end, "bad vector operand")          -- reads a register never written
  raises(function() prog { O.LOAD, 0, 5, 0, 0, 0, -1 } end, "bad vector load")             -- buffer 5 of 2
  raises(function() prog { O.LOAD, 0, 0, 0, 0, 0, -1, O.STORE, 9, 0, 0, 0, 0, -1 } end, "bad vector store")
  raises(function() prog { O.LOAD, 0, 0, 0, 0, 0, -1, O.NEG, 0, 0, 0, 0, 0, -1 } end, "destination register is also an operand")
  raises(function() prog { O.LOAD, 0, 0, 0, 0, 0, -1, O.NEG, 1, -7, 0, 0, 0, -1 } end, "bad vector operand")  -- slot 6 of 2
  raises(function() prog({ 99, 0, 0, 0, 0, 0, -1 }) end, "bad vector op")
  raises(function() prog({}, { nregs = 100 }) end, "nregs")
  -- and a sound one runs, checking its buffers' sizes
  local ok = prog { O.LOAD, 0, 0, 0, 0, 0, -1, O.NEG, 1, 0, 0, 0, 0, -1, O.STORE, 0, 1, 0, 0, 0, -1 }
  local p, g = tensor.ones(5), tensor.ones(5)
  C.optim.program_run(ok, {}, "t", 1, p, g)
  check(p:totable()[3] == -1, "p = -p")
  raises(function() C.optim.program_run(ok, {}, "t", 1, p, tensor.ones(4)) end, "buffer 2 of parameter 1")
end

return T
