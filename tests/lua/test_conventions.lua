-- Framework conventions (issue 15): forms and defaults as Keras and PyTorch have them.
-- Keras: the transcriptions in ref_keras.lua first pass Keras 3's own golden tests
-- (quoted below), then optlab must match them on 120 steps of gradients spanning
-- 1 to 1e-6, float32 judged fairly (lib.fair32). PyTorch: test_optim.torch_fixtures
-- (torch.optim's own numbers, tools/gen_torch_fixtures.py).
local lib = require "lib"
local ref = require "ref_optim"
local K = require "ref_keras"
local check, raises, close = lib.check, lib.raises, lib.close

local T = {}

-- keras/src/optimizers/*_test.py, test_correctness_with_golden: x = ones(10), one
-- step with first_grads = full(10, 0.01), then for i = 1..5: assertAllClose(x,
-- golden[i], rtol=5e-4, atol=5e-4) and a step with grads = arange(0.1, 1.1, 0.1).
local function tile(col) local g = {} for i, v in ipairs(col) do g[i] = {} for j = 1, 10 do g[i][j] = v end end return g end
local GOLDEN = {
  { "Adadelta", { lr = 1.0, rho = 0.8, eps = 1e-6 }, tile { 0.9978, 0.9947, 0.9915, 0.9882, 0.9849 } },
  { "Adagrad", { lr = 0.2, initial_accumulator = 0.3, eps = 1e-6 }, {
    { 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963, 0.9963 },
    { 0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209 },
    { 0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891 },
    { 0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579 },
    { 0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825 } } },
  { "Adam", { amsgrad = true }, tile { 0.999, 0.9982, 0.9974, 0.9965, 0.9955 } },
  { "Adamax", { lr = 0.2, beta1 = 0.85, beta2 = 0.95, eps = 1e-6 }, {
    { 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8 },
    { 0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691 },
    { 0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466 },
    { 0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848 },
    { 0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126 } } },
  { "AdamW", { lr = 1.0, weight_decay = 0.5, eps = 2 }, {
    { 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998, 0.4998 },
    { 0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382 },
    { 0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003 },
    { 0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258 },
    { 0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159 } } },
  { "Lion", {}, tile { 0.999, 0.998, 0.997, 0.996, 0.995 } },
  { "Nadam", { lr = 0.5, beta1 = 0.5, beta2 = 0.67, eps = 1e-5 }, {
    { 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281 },
    { -0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717 },
    { -0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084 },
    { -1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299 },
    { -1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454 } } },
  { "RMSprop", { centered = true }, tile { 0.9967, 0.9933, 0.9908, 0.9885, 0.9864 } },
  { "Ftrl", { lr = 0.05, lr_power = -0.2, initial_accumulator = 0.4, l1 = 0.05, l2 = 0.15, l2_shrinkage = 0.01, beta = 0.3 }, {
    { 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 },
    { -0.0034, -0.0077, -0.0118, -0.0157, -0.0194, -0.023, -0.0263, -0.0294, -0.0325, -0.0354 },
    { -0.0078, -0.0162, -0.0242, -0.0317, -0.0387, -0.0454, -0.0516, -0.0575, -0.0631, -0.0685 },
    { -0.0121, -0.0246, -0.0363, -0.0472, -0.0573, -0.0668, -0.0757, -0.0842, -0.0922, -0.0999 },
    { -0.0164, -0.0328, -0.0481, -0.0623, -0.0753, -0.0875, -0.099, -0.1098, -0.1201, -0.1299 } } },
  { "SGD", { nesterov = true }, {
    { 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999, 0.9999 },
    { 0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899 },
    { 0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799 },
    { 0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699 },
    { 0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599 } } },
}

local function golden_grads(step)
  local g = {}
  for i = 1, 10 do g[i] = step == 1 and K.f32(0.01) or K.f32(0.1 * i) end
  return g
end

-- run(step_fn) over the golden protocol; step_fn(grads) -> x (array of 10)
local function against_golden(name, golden, step_fn)
  local x
  for i = 1, 5 do
    x = step_fn(golden_grads(i))
    close(x, golden[i], 5e-4, string.format("%s golden step %d", name, i), 5e-4)
  end
end

-- The transcriptions reproduce Keras 3's golden values, in float32 and float64.
T.keras3_transcriptions_pass_keras_golden_tests = function()
  for _, case in ipairs(GOLDEN) do
    for _, r in ipairs { K.f32, false } do
      local o = K.new("keras3", case[1], case[2], r or nil)
      local x = {}
      for i = 1, 10 do x[i] = 1 end
      against_golden("transcription " .. case[1], case[3], function(g) o:step({ x }, { g }); return x end)
    end
  end
end

local function run_optlab(opt, x, g)
  x.grad = tensor.from(g)
  opt:step { x }
  return x:totable()
end

-- optlab's keras3 convention reproduces them too: among them Nadam's 0.96^t
-- momentum schedule and SGD(nesterov = True) with momentum 0.
T.keras3_golden_tests = function()
  for _, case in ipairs(GOLDEN) do
    local hp = { convention = "keras3" }
    for k, v in pairs(case[2]) do hp[k] = v end
    local opt = optim[case[1]](hp)
    local x = tensor.ones { 10 }
    against_golden("optlab " .. tostring(opt), case[3], function(g) return run_optlab(opt, x, g) end)
  end
end

-- Issue 15, one test per defect ----------------------------------------------

T.keras3_nadam_uses_the_096_power_t_schedule = function()
  local opt = optim.Nadam { convention = "keras3", lr = 0.5, beta1 = 0.5, beta2 = 0.67, eps = 1e-5 }
  local x = tensor.ones { 10 }
  against_golden("Nadam keras3", GOLDEN[7][3], function(g) return run_optlab(opt, x, g) end)
end

T.keras3_adagrad_starts_its_accumulator_at_0_1 = function()
  local opt = optim.Adagrad { convention = "keras3", lr = 0.1 }
  check(opt.values.initial_accumulator == 0.1, "Keras 3 Adagrad initial_accumulator_value 0.1")
  local o = K.new("keras3", "Adagrad", { lr = 0.1 })
  local x, want = tensor.from { 1, 1 }, { 1, 1 }
  for k = 1, 3 do
    local g = { K.f32(0.01 * k), K.f32(-0.002) }
    run_optlab(opt, x, g)
    o:step({ want }, { g })
  end
  close(x:totable(), want, 1e-6, "Adagrad keras3")
end

T.keras3_weight_decay_is_decoupled_for_every_optimizer = function()
  for _, name in ipairs { "SGD", "Adagrad", "RMSprop", "Adam", "Adamax", "Nadam", "Adadelta" } do
    local hp = { lr = 0.1, weight_decay = 0.2 }
    if name == "SGD" then hp.momentum = 0.5 end
    local cfg = {}
    for k, v in pairs(hp) do cfg[k] = v end
    cfg.convention = "keras3"
    local opt = optim[name](cfg)
    local o = K.new("keras3", name, hp)
    local x, want = tensor.from { 1.5, -0.5, 0.25 }, { K.f32(1.5), -0.5, 0.25 }
    for k = 1, 5 do
      local g = { K.f32(0.3 / k), K.f32(-0.01), K.f32(1e-4 * k) }
      run_optlab(opt, x, g)
      o:step({ want }, { g })
    end
    close(x:totable(), want, 1e-6, name .. " keras3 weight_decay", 2e-6)
  end
end

T.keras_clipnorm_clips_each_variable_global_clipnorm_all = function()
  for _, conv in ipairs { "keras", "tf_keras", "keras3" } do
    -- norms 5 and 0.5: clipnorm = 1 scales the first only
    local a, b = tensor.from { 1, 1 }, tensor.from { 1 }
    local opt = optim.SGD { convention = conv, lr = 1, clipnorm = 1 }
    a.grad, b.grad = tensor.from { 3, 4 }, tensor.from { 0.5 }
    opt:step { a, b }
    close(a:totable(), { 1 - 0.6, 1 - 0.8 }, 1e-6, conv .. " clipnorm, first variable")
    close(b:totable(), { 0.5 }, 1e-6, conv .. " clipnorm, second variable (under the norm)")
    -- global norm sqrt(25.25): both scaled by 1/5.02494
    a, b = tensor.from { 1, 1 }, tensor.from { 1 }
    opt = optim.SGD { convention = conv, lr = 1, global_clipnorm = 1 }
    a.grad, b.grad = tensor.from { 3, 4 }, tensor.from { 0.5 }
    opt:step { a, b }
    local s = 1 / math.sqrt(25.25)
    close(a:totable(), { 1 - 3 * s, 1 - 4 * s }, 1e-6, conv .. " global_clipnorm")
    close(b:totable(), { 1 - 0.5 * s }, 1e-6, conv .. " global_clipnorm")
    raises(function() optim.SGD { convention = conv, clipnorm = 1, global_clipnorm = 1 } end,
      "clipnorm and global_clipnorm cannot both be set")
    if conv ~= "keras" then
      raises(function() optim.SGD { convention = conv, clipnorm = 1, clipvalue = 1 } end, "only one of clipnorm, global_clipnorm and clipvalue")
    end
  end
  -- tf.keras <= 2.10 clips by value first, then by norm: {3, 4} -> {2, 2} -> {0.7071, 0.7071}
  local a = tensor.from { 1, 1 }
  local opt = optim.SGD { convention = "keras", lr = 1, clipvalue = 2, clipnorm = 1 }
  a.grad = tensor.from { 3, 4 }
  opt:step { a }
  close(a:totable(), { 1 - math.sqrt(0.5), 1 - math.sqrt(0.5) }, 1e-6, "keras clipvalue then clipnorm")
  -- PyTorch's clip_grad_norm_ is global: clip_norm stays global there
  local b
  a, b = tensor.from { 1, 1 }, tensor.from { 1 }
  opt = optim.SGD { convention = "torch", lr = 1, clip_norm = 1 }
  a.grad, b.grad = tensor.from { 3, 4 }, tensor.from { 0.5 }
  opt:step { a, b }
  local s = 1 / (math.sqrt(25.25) + 1e-6)
  close(b:totable(), { 1 - 0.5 * s }, 1e-6, "torch clip_norm is global")
end

T.nesterov_with_momentum_0_is_plain_sgd_except_in_torch = function()
  for _, conv in ipairs { "textbook", "keras", "tf_keras", "keras3" } do
    local opt = optim.SGD { convention = conv, lr = 0.1, nesterov = true }
    local x = tensor.from { 1, 2 }
    run_optlab(opt, x, { 0.5, -1 })
    close(x:totable(), { 0.95, 2.1 }, 1e-7, conv .. " nesterov momentum 0")
  end
  -- torch/optim/sgd.py: if nesterov and (momentum <= 0 or dampening != 0): raise ValueError
  raises(function() optim.SGD { convention = "torch", lr = 0.1, nesterov = true } end, "nesterov = true needs momentum > 0")
end

T.keras2_lion_default_lr_is_1e_4 = function()
  check(optim.get("Lion").values.lr == 1e-4, "tf.keras Lion learning_rate=0.0001, got " .. optim.get("Lion").values.lr)
  check(optim.Lion { convention = "keras" }.values.lr == 1e-4, "convention keras Lion lr")
  check(optim.Lion { convention = "keras3" }.values.lr == 1e-3, "Keras 3 Lion learning_rate=0.001")
end

-- torch/optim/*.py signatures (PyTorch 2.x; SGD's lr default since 2.2).
local TORCH = {
  SGD = { lr = 0.001, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false },
  Adagrad = { lr = 0.01, decay = 0, weight_decay = 0, initial_accumulator = 0, eps = 1e-10 },
  RMSprop = { lr = 0.01, rho = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false },
  Adam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, amsgrad = false },
  AdamW = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01, amsgrad = false },
  Adamax = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0 },
  Nadam = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, momentum_decay = 0.004 },
  Rprop = { lr = 0.01, etaminus = 0.5, etaplus = 1.2, step_min = 1e-6, step_max = 50 },
  Adadelta = { lr = 1.0, rho = 0.9, eps = 1e-6, weight_decay = 0 },
  RAdam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0 },
  ASGD = { lr = 0.01, lambd = 1e-4, alpha = 0.75, t0 = 1e6, weight_decay = 0 },
}

T.torch_defaults_are_reachable = function()
  local r = optim.RMSprop { convention = "torch" }
  check(r.values.lr == 0.01 and r.values.rho == 0.99 and r.values.eps == 1e-8, "torch.optim.RMSprop() defaults: " .. tostring(r))
  for name, d in pairs(TORCH) do
    for _, conv in ipairs { "torch", "pytorch", "PyTorch" } do
      local o = optim.get(name, conv)
      check(o.values.convention == "torch", name .. ": convention " .. conv)
      for k, v in pairs(d) do
        check(o.values[k] == v, string.format("optim.get(%q, %q).%s = %s, torch has %s", name, conv, k, tostring(o.values[k]), tostring(v)))
      end
    end
  end
end

T.keras_defaults_per_convention = function()
  for conv, list in pairs(K.DEFAULTS) do
    for name, d in pairs(list) do
      local o = optim.get(name:upper(), conv:upper())
      check(o.values.convention == conv, name .. " convention " .. conv)
      for k, v in pairs(d) do
        check(o.values[k] == v, string.format("optim.get(%q, %q).%s = %s, Keras has %s", name, conv, k, tostring(o.values[k]), tostring(v)))
      end
    end
  end
  -- optim.get(name) stays Keras 2 (what the Keras example ran)
  check(optim.get("adam").values.convention == "keras" and optim.get("adam").values.eps == 1e-7, "optim.get(name) is Keras 2")
  check(optim.get("SGD", { lr = 0.5 }).values.lr == 0.5, "optim.get(name, overrides) still works")
  -- a declaration of the literature has no Keras 2 form: optim.get("AdaBelief") was labelled convention=keras
  local ab = optim.get("AdaBelief")
  check(ab.values.convention == "textbook" and not tostring(ab):find("convention", 1, true),
    "optim.get of a declaration without a keras convention is its own: " .. tostring(ab))
  check(optim.get("AdaBelief", "torch").values.convention == "torch", "an asked convention is kept")
  check(optim.get("SGD", "torch", { momentum = 0.9 }).values.momentum == 0.9, "optim.get(name, convention, overrides)")
end

T.get_suggests_names_and_conventions = function()
  raises(function() optim.get("Adamm") end, "unknown optimizer 'Adamm' (did you mean 'Adam'?)")
  raises(function() optim.get("rmsprp", "torch") end, "did you mean 'RMSprop'?")
  raises(function() optim.get("Adam", "kears3") end, "did you mean 'keras3'?")
  raises(function() optim.get("Adam", "jax") end, "convention = \"jax\" is unknown")
  raises(function() optim.get("Rprop") end, "tf.keras 2.10 has no Rprop")
  raises(function() optim.get("Rprop", "keras3") end, "Keras 3 has no Rprop")
  raises(function() optim.get("Lion", "pytorch") end, "PyTorch has no Lion")
  check(optim.get("NAdam", "torch").name == "Nadam", "NAdam is Nadam")
  local e = raises(function() optim.get("Adam", "kears3") end, "optim.get")
  check(e:find("test_conventions.lua:", 1, true), "error at the user's line: " .. e)
end

-- Every optimizer x Keras convention against the transcriptions --------------

local N, STEPS, SPLIT = 8, 120, 5     -- two variables: elements 1-5 and 6-8

local function span_sequence()
  local seq = {}
  for k = 1, STEPS do
    local a, b = {}, {}
    for i = 1, N do
      local g = ref.span_grad(k, i, N)
      if i <= SPLIT then a[#a + 1] = g else b[#b + 1] = g end
    end
    seq[k] = { a, b }
  end
  return seq
end

local function p0()
  local a, b = {}, {}
  for i = 1, N do
    local v = K.f32(1 + 0.5 * math.sin(i))
    if i <= SPLIT then a[#a + 1] = v else b[#b + 1] = v end
  end
  return { a, b }
end

-- per convention: {name, overrides}; defaults come from optim.get / K.DEFAULTS
local VARIANTS = {
  { "SGD", {} }, { "SGD", { lr = 0.05, momentum = 0.9 } }, { "SGD", { lr = 0.05, momentum = 0.9, nesterov = true } },
  { "SGD", { lr = 0.05, nesterov = true } }, { "SGD", { lr = 0.05, clip_norm = 0.5 } },
  { "Adagrad", {} }, { "Adagrad", { lr = 0.05 } },
  { "RMSprop", {} }, { "RMSprop", { lr = 0.01, centered = true } }, { "RMSprop", { lr = 0.01, momentum = 0.5 } },
  { "RMSprop", { lr = 0.01, momentum = 0.5, centered = true } },
  { "Adam", {} }, { "Adam", { lr = 0.01, amsgrad = true } }, { "Adam", { lr = 0.01, global_clip_norm = 0.5 } },
  { "AdamW", {} }, { "AdamW", { lr = 0.01, weight_decay = 0.05 } },
  { "Adamax", {} }, { "Adamax", { lr = 0.01 } },
  { "Nadam", {} }, { "Nadam", { lr = 0.01 } },
  { "Lion", {} }, { "Lion", { lr = 0.001, weight_decay = 0.1 } },
  { "Adadelta", {} }, { "Adadelta", { lr = 1.0 } },
  { "Ftrl", {} }, { "Ftrl", { lr = 0.1, l1 = 0.001, l2 = 0.01, l2_shrinkage = 0.01, beta = 0.1 } },
  { "Ftrl", { lr = 0.1, lr_power = -0.3, l1 = 0.001 } },
}
local DECAYED = {     -- decoupled weight decay on every optimizer (Keras 3, tf.keras 2.11+)
  { "SGD", { lr = 0.05, momentum = 0.9, weight_decay = 0.01 } }, { "Adagrad", { lr = 0.05, weight_decay = 0.01 } },
  { "RMSprop", { lr = 0.01, weight_decay = 0.01 } }, { "Adam", { lr = 0.01, weight_decay = 0.01 } },
  { "Adamax", { lr = 0.01, weight_decay = 0.01 } }, { "Nadam", { lr = 0.01, weight_decay = 0.01 } },
  { "Adadelta", { lr = 1.0, weight_decay = 0.01 } }, { "Ftrl", { lr = 0.1, weight_decay = 0.01 } },
}
local LEGACY = {      -- Keras 2's decay = inverse-time decay of lr
  { "SGD", { lr = 0.05, momentum = 0.9, decay = 0.01 } }, { "Adam", { lr = 0.01, decay = 0.01 } },
  { "Adagrad", { lr = 0.05, decay = 0.01 } },
}

local function flat(vars) local out = {} for _, v in ipairs(vars) do for _, x in ipairs(v) do out[#out + 1] = x end end return out end

local function judge(conv, name, hp, seq, worst)
  local o64, o32 = K.new(conv, name, hp), K.new(conv, name, hp, K.f32)
  local v64, v32 = p0(), p0()
  local opt = optim.get(name, conv, hp)
  local init = p0()
  local a, b = tensor.from(init[1]), tensor.from(init[2])
  local ratio = 0
  for k = 1, STEPS do
    o64:step(v64, seq[k])
    o32:step(v32, seq[k])
    a.grad, b.grad = tensor.from(seq[k][1]), tensor.from(seq[k][2])
    opt:step { a, b }
    local got, f32, f64 = flat { a:totable(), b:totable() }, flat(v32), flat(v64)
    local ok, d_ours, d_ref, allowed = lib.fair32(got, f32, f64)
    if not ok then
      error(string.format("%s vs Keras (%s) step %d: distance from Keras float64 %.3g, float32 Keras's %.3g (allowed %.3g)",
        tostring(opt), conv, k, d_ours, d_ref, allowed), 0)
    end
    ratio = math.max(ratio, d_ours / allowed)
  end
  worst[#worst + 1] = string.format("%s %.2f", tostring(opt):gsub(", convention=[%w_]+", ""), ratio)
end

T.every_optimizer_matches_its_keras_convention = function()
  local seq = span_sequence()
  for _, conv in ipairs { "keras", "tf_keras", "keras3" } do
    local worst = {}
    for _, v in ipairs(VARIANTS) do judge(conv, v[1], v[2], seq, worst) end
    if conv ~= "keras" then for _, v in ipairs(DECAYED) do judge(conv, v[1], v[2], seq, worst) end end
    if conv == "keras" then for _, v in ipairs(LEGACY) do judge(conv, v[1], v[2], seq, worst) end end
    print(string.format("  %s: optlab's distance from Keras float64 / allowed, worst step: %s", conv, table.concat(worst, ", ")))
  end
end

-- torch.optim.ASGD's average ax (the parameters are checked by test_optim.torch_fixtures), from
-- torch/optim/asgd.py _single_tensor_asgd: step += 1; grad += wd param; param *= 1 - lambd eta;
-- param -= eta grad; ax = mu == 1 ? param : ax + (param - ax) mu;
-- eta = lr / (1 + lambd lr step)^alpha; mu = 1 / max(1, step - t0)   (eta, mu start at lr, 1)
T.torch_asgd_keeps_the_average = function()
  local lr, lambd, alpha, t0 = 0.05, 0.01, 0.5, 3
  local opt = optim.get("ASGD", "torch", { lr = lr, lambd = lambd, alpha = alpha, t0 = t0 })
  local x = tensor.from { 1, -0.5 }
  local p, ax, eta, mu = { 1, -0.5 }, { 0, 0 }, lr, 1
  for step = 1, 12 do
    local g = { K.f32(math.sin(step)), K.f32(0.1 * math.cos(step)) }
    run_optlab(opt, x, g)
    for i = 1, 2 do
      p[i] = p[i] * (1 - lambd * eta) - eta * g[i]
      ax[i] = mu == 1 and p[i] or ax[i] + (p[i] - ax[i]) * mu
    end
    eta = lr / (1 + lambd * lr * step) ^ alpha
    mu = 1 / math.max(1, step - t0)
  end
  close(x:totable(), p, 1e-6, "ASGD parameters")
  close(opt.state[x].ax:totable(), ax, 1e-6, "ASGD average ax")
end

-- Keras's base-optimizer options: use_ema / ema_momentum / ema_overwrite_frequency and
-- gradient_accumulation_steps (base_optimizer.py), and finalize at the end.
T.keras_ema_and_gradient_accumulation = function()
  local seq = span_sequence()
  local cases = {
    { "Adam", { lr = 0.01, use_ema = true, ema_momentum = 0.9 } },
    { "SGD", { lr = 0.05, momentum = 0.9, use_ema = true, ema_overwrite_frequency = 7 } },
    { "RMSprop", { lr = 0.01, gradient_accumulation_steps = 3 } },
    { "Nadam", { lr = 0.01, gradient_accumulation_steps = 4, use_ema = true, ema_momentum = 0.95, ema_overwrite_frequency = 5 } },
    { "AdamW", { lr = 0.01, gradient_accumulation_steps = 2, global_clip_norm = 0.5 } },
  }
  for _, case in ipairs(cases) do
    local name, hp = case[1], case[2]
    local o64, o32 = K.new("keras3", name, hp), K.new("keras3", name, hp, K.f32)
    local v64, v32 = p0(), p0()
    local opt = optim.get(name, "keras3", hp)
    local init = p0()
    local a, b = tensor.from(init[1]), tensor.from(init[2])
    local function compare(k)
      local ok, d, d32, allowed = lib.fair32(flat { a:totable(), b:totable() }, flat(v32), flat(v64))
      if not ok then
        error(string.format("%s call %s: distance from Keras float64 %.3g, float32's %.3g (allowed %.3g)",
          tostring(opt), tostring(k), d, d32, allowed), 0)
      end
    end
    for k = 1, STEPS do
      o64:apply(v64, seq[k])
      o32:apply(v32, seq[k])
      a.grad, b.grad = tensor.from(seq[k][1]), tensor.from(seq[k][2])
      opt:step { a, b }
      compare(k)
    end
    local n = hp.gradient_accumulation_steps or 1
    check(opt.t == math.floor(STEPS / n), string.format("%s: %d updates in %d calls", tostring(opt), opt.t, STEPS))
    o64:finalize(v64); o32:finalize(v32); opt:finalize { a, b }
    compare("finalize")
  end
  raises(function() optim.Adam { gradient_accumulation_steps = 1 } end, "gradient_accumulation_steps = 1 must be an integer >= 2")
  raises(function() optim.Adam { use_ema = true, ema_overwrite_frequency = 0.5 } end, "must be an integer >= 1")
  raises(function() optim.Adam { ema_momentum = 1.5 } end, "ema_momentum = 1.5 must be in [0, 1]")
end

-- Keras 2's decay = inverse-time decay: lr / (1 + decay k), k = updates done.
T.keras2_decay_is_inverse_time = function()
  local o = optim.get("SGD", { lr = 0.1, decay = 0.5 })
  local x = tensor.from { 0 }
  for k = 0, 3 do
    x.grad = tensor.from { 1 }
    o:step { x }
    close(o:hyper().lr, 0.1 / (1 + 0.5 * k), 1e-12, "lr at update " .. k)
  end
  -- Keras 2's Nadam reads decay as its momentum schedule's decay (schedule_decay)
  check(optim.get("Nadam", { decay = 0.01 }).values.momentum_decay == 0.01, "Nadam decay = schedule_decay")
end

-- Experiment tables drop only the Keras 2 convention from labels, not keras3's digit.
T.experiment_labels_keep_other_conventions = function()
  local es = require("experiment")._finalize {
    { label = tostring(optim.get("Adam", "keras3")), name = "Adam" }, { label = tostring(optim.get("Adam")), name = "Adam" } }
  check(es[1].display == "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-07, convention=keras3)", es[1].display)
  check(es[2].display == "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-07)", es[2].display)
end

-- The README's optimizer x convention defaults table says what optim.get gives.
T.readme_defaults_table_is_true = function()
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  local f = assert(io.open(here .. "/../../README.md", "rb"))
  local text = f:read("a")
  f:close()
  local at = text:find("<!-- defaults table:", 1, true)
  check(at, "README: the defaults table's marker")
  local convs, rows = nil, 0
  for line in (text:sub(at) .. "\n"):gmatch("(.-)\n") do
    if line:match("^| optimizer") then
      convs = {}
      for c in line:gmatch("|%s*([%w_]+)%s*") do convs[#convs + 1] = c end
      table.remove(convs, 1)
    elseif convs and line:match("^|%s*%a") then
      local cells = {}
      for c in line:gmatch("|%s*([^|]-)%s*%f[|]") do cells[#cells + 1] = c end
      local name = table.remove(cells, 1)
      for j, conv in ipairs(convs) do
        local cell = cells[j]
        if cell == "—" then
          raises(function() optim.get(name, conv) end, "has no " .. name)
        else
          local v = optim.get(name, conv).values
          for item in cell:gmatch("[^,]+") do
            local key, val = item:match("^%s*([%w_]+)%s+(%S+)%s*$")
            check(key, "README defaults table: cannot read '" .. item .. "'")
            local want = {}
            if key == "betas" then local a, b = val:match("^(.-)/(.-)$"); want.beta1, want.beta2 = tonumber(a), tonumber(b)
            elseif key == "etas" then local a, b = val:match("^(.-)/(.-)$"); want.etaminus, want.etaplus = tonumber(a), tonumber(b)
            elseif key == "steps" then local a, b = val:match("^(.-)/(.-)$"); want.step_min, want.step_max = tonumber(a), tonumber(b)
            else want[key] = tonumber(val) end
            for k, x in pairs(want) do
              check(v[k] == x, string.format("README says %s under %s has %s %s; optim.get gives %s", name, conv, k, tostring(x), tostring(v[k])))
            end
          end
        end
      end
      rows = rows + 1
    elseif convs and rows > 0 then
      break
    end
  end
  check(rows == 13, "README defaults table: expected 13 optimizers, read " .. rows)
end

return T
