-- The literature's optimizers (issue 17), declared in stdlib/optim/zoo/, against plain-Lua
-- transcriptions of their AUTHORS' code (ref_literature.lua). First the transcriptions
-- themselves: against the authors' classes run in PyTorch (fixtures/literature_authors.lua)
-- and the authors' own tests. Then each declaration on float32 tensors of 1, 7, 3x5 and
-- 45013 elements (above the threads' threshold) for 100 steps, judged against the
-- transcription by lib.fair32 (no further from its float64 run than twice its float32 run
-- is), bit-identical with 1 and 2 threads, and in train.fit.
local lib = require "lib"
local L = require "ref_literature"
local check, close = lib.check, lib.close

local T = {}

local f32 = compat.f32
local function base(k, i) return math.sin(0.9 * k + 1.7 * i) * (1 + 0.5 * (k % 3)) + 0.05 * math.cos(0.3 * k * i) end

-- The sequence of fixtures/literature_authors.lua: two tensors, gradients spanning 1 to 1e-6.
local function xcheck_run(o, sizes, steps, mats)
  local xs, off = {}, 0
  for ti, n in ipairs(sizes) do
    local p = {}
    for i = 1, n do p[i] = f32(1 + 0.5 * math.sin(i + off)) end
    xs[ti] = { p = p }
    if mats then xs[ti].rows, xs[ti].cols = mats[ti][1], mats[ti][2] end
    off = off + n
  end
  for k = 1, steps do
    local gs, o2 = {}, 0
    for ti, x in ipairs(xs) do
      local n = #x.p
      gs[ti] = {}
      for i = 1, n do gs[ti][i] = f32(base(k, i + o2) * 10 ^ (-6 * (i + o2 - 1) / (n + o2 - 1))) end
      o2 = o2 + n
    end
    o:step(xs, gs)
  end
  local out = {}
  for _, x in ipairs(xs) do for _, v in ipairs(x.p) do out[#out + 1] = v end end
  return out
end

T.references_match_the_authors_code = function()
  local cases = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/fixtures/literature_authors.lua")
  check(#cases >= 20, "fixture cases")
  for _, c in ipairs(cases) do
    local o, sizes
    if c.opt == "Prodigy" then o = L.prodigy(c.hp)
    elseif c.opt == "Muon" then o = L.muon(c.hp)
    else o = L.new(c.opt, c.hp) end
    if c.mats then sizes = { c.mats[1][1] * c.mats[1][2], c.mats[2][1] * c.mats[2][2] } else sizes = { 7, 15 } end
    close(xcheck_run(o, sizes, 30, c.mats), c.want, 1e-12, c.name .. " vs the authors' code", 1e-14)
  end
end

-- sail-sg/Adan tests.py test_original_vs_new: the memory-saving form equals AdanOriginal.
T.adan_reference_matches_the_authors_original_form = function()
  for _, hp in ipairs { {}, { lr = 0.01, weight_decay = 0.1 }, { lr = 0.01, weight_decay = 0.1, no_prox = true } } do
    close(xcheck_run(L.new("Adan", hp), { 7, 15 }, 30), xcheck_run(L.new("AdanOriginal", hp), { 7, 15 }, 30), 1e-12,
          "Adan vs AdanOriginal", 1e-14)
  end
end

-- facebookresearch/qhoptim test_qhadam.py test_adam_equiv: QHAdam with nus = (1, 1) is Adam
-- (lr 3e-4, weight_decay 0.5e-4 as the test has it): here the textbook's Adam (ref_optim).
T.qhadam_with_unit_nus_is_adam = function()
  local ref = require "ref_optim"
  local hp = { lr = 3e-4, weight_decay = 0.5e-4, eps = 1e-8 }
  local got = xcheck_run(L.new("QHAdam", hp), { 7, 15 }, 30)
  local theta, off = {}, 0
  for _, n in ipairs { 7, 15 } do
    local p, s, r = {}, {}, {}
    for i = 1, n do p[i], s[i], r[i] = f32(1 + 0.5 * math.sin(i + off)), 0, 0 end
    for k = 1, 30 do
      local g = {}
      for i = 1, n do
        g[i] = f32(base(k, i + off) * 10 ^ (-6 * (i + off - 1) / (n + off - 1))) + hp.weight_decay * p[i]
      end
      ref.adam(p, s, r, g, k, hp.lr, 0.9, 0.999, hp.eps, true)
    end
    for i = 1, n do theta[#theta + 1] = p[i] end
    off = off + n
  end
  close(got, theta, 1e-10, "QHAdam(nus = 1, 1) vs Adam")
end

-- Adafactor's factored second moment is exact when the squared gradients form a rank-1 matrix
-- (Shazeer & Stern 2018, section 3): gradients g_ij(k) = c_k u_i w_j give the same steps factored
-- and unfactored (up to the 1e-30 added to every square).
T.adafactor_reference_factored_equals_unfactored_on_rank_one = function()
  local R, Cn = 4, 6
  local function run(factored, beta1)
    local o = L.adafactor { factored = factored, beta1 = beta1 }
    local p = {}
    for j = 1, R * Cn do p[j] = f32(1 + 0.5 * math.sin(j)) end
    local x = { p = p, rows = R, cols = Cn }
    for k = 1, 30 do
      local g = {}
      for r = 1, R do for c = 1, Cn do g[(r - 1) * Cn + c] = (1 + 0.5 * math.sin(k)) * (0.2 + r) * math.cos(c + 0.3) end end
      o:step({ x }, { g })
    end
    return p
  end
  close(run(true, 0), run(false, 0), 1e-12, "factored vs unfactored")
  close(run(true, 0.9), run(false, 0.9), 1e-12, "factored vs unfactored, beta1 = 0.9")
  local moved = run(true, 0)
  check(math.abs(moved[1] - f32(1 + 0.5 * math.sin(1))) > 1e-4, "the parameters moved")
end

-- Declared versus transcribed. Each case: the optimizer, the hyperparameters given to both.
local CASES = {
  { "AdaBelief", {} }, { "AdaBelief", { lr = 0.01, weight_decay = 0.1 } },
  { "AdaBelief", { lr = 0.01, rectify = false, weight_decouple = false, weight_decay = 0.05 } },
  { "AdaBelief", { lr = 0.01, fixed_decay = true, weight_decay = 0.01, degenerated_to_sgd = false } },
  { "Adan", {} }, { "Adan", { lr = 0.01, weight_decay = 0.1 } }, { "Adan", { lr = 0.01, weight_decay = 0.1, no_prox = true } },
  { "LAMB", {} }, { "LAMB", { lr = 0.01, weight_decay = 0 } }, { "LAMB", { lr = 0.01, weight_decay = 0, use_nvlamb = true } },
  { "LAMB", { lr = 0.01, adam_w_mode = false, bias_correction = false, grad_averaging = false } },
  { "LARS", {} }, { "LARS", { lr = 0.5, momentum = 0.9, weight_decay = 0.01 } },
  { "LARS", { lr = 0.5, momentum = 0.9, nesterov = true } }, { "LARS", { lr = 0.5, momentum = 0.8, dampening = 0.3 } },
  { "Yogi", {} }, { "Yogi", { lr = 0.05, l2 = 0.1 } }, { "Yogi", { lr = 0.05, l1 = 0.01, l2 = 0.1 } },
  { "Yogi", { beta1 = 0, initial_accumulator = 0.01 } },
  { "AdaBound", {} }, { "AdaBound", { lr = 0.01, final_lr = 0.05, gamma = 0.1, weight_decay = 0.01 } },
  { "QHAdam", {} }, { "QHAdam", { lr = 0.01, nu1 = 0.7, beta1 = 0.995, weight_decay = 0.01 } },
  { "QHAdam", { lr = 0.01, nu1 = 0.7, nu2 = 0.8, weight_decay = 0.05, decouple_weight_decay = true } },
  { "AggMo", {} }, { "AggMo", { lr = 0.01, beta1 = 0.5, beta3 = 0.999, weight_decay = 0.01 } },
  { "NovoGrad", {} }, { "NovoGrad", { lr = 0.01, weight_decay = 0.01 } },
  { "NovoGrad", { lr = 0.01, weight_decay = 0.01, reg_inside_moment = true, init_zero = true } },
  { "NovoGrad", { lr = 0.01, bias_correction = false, grad_averaging = false } },
  { "SGDW", { lr = 0.05 } }, { "SGDW", { lr = 0.05, momentum = 0.9, weight_decay = 1e-3, lr_decay = 0.01 } },
  { "SGDW", { lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 1e-3 } },
  { "SGDW", { lr = 0.05, momentum = 0.9, dampening = 0.5 } },
  { "Signum", {} }, { "Signum", { lr = 0.001, weight_decay = 0.01, wd_lh = 0.1 } },
  { "Signum", { lr = 0.001, momentum = 0, weight_decay = 0.01 } },
  { "ScheduleFreeSGD", {} }, { "ScheduleFreeSGD", { lr = 0.5, warmup_steps = 5, weight_decay = 0.01, r = 0.5 } },
  { "ScheduleFreeAdamW", {} },
  { "ScheduleFreeAdamW", { lr = 0.01, warmup_steps = 5, weight_decay = 0.1, decay_at_z = true, inner_momentum = 0.9, r = 1 } },
  { "MADGRAD", {} }, { "MADGRAD", { lr = 0.05, momentum = 0, weight_decay = 0.01 } },
  { "MADGRAD", { lr = 0.05, momentum = 0.5, weight_decay = 0.1, decouple_decay = true } },
  { "AdEMAMix", {} }, { "AdEMAMix", { lr = 1e-2, beta3_warmup = 45, alpha_warmup = 45, weight_decay = 0.1 } },
  { "AdEMAMix", { lr = 1e-2, beta1 = 0.0, beta2 = 0.99, beta3 = 0.999, alpha = 5.0, beta3_warmup = 20, alpha_warmup = 10 } },
  { "Prodigy", {} }, { "Prodigy", { weight_decay = 0.1, use_bias_correction = true, safeguard_warmup = true, d_coef = 2.0 } },
  { "Prodigy", { lr = 0.5, weight_decay = 0.01, decouple = false, beta3 = 0.99, growth_rate = 1.05 } },
  { "Prodigy", { beta1 = 0, lr = 0.1 } },
  { "Adafactor", {} }, { "Adafactor", { relative_step = false, lr = 0.003, multiply_by_parameter_scale = false } },
  { "Adafactor", { multiply_by_parameter_scale = false, decay_exponent = 0.5, clipping_threshold = 2 } },
  { "Muon", {}, "matrices" }, { "Muon", { lr = 0.05, weight_decay = 0.1, momentum = 0.3 }, "matrices" },
}

local STEPS = 100
local PERIOD = 53          -- the 45013-element tensor repeats every 53 elements (a prime: no block size divides it)
local SHAPES = { { 1 }, { 7 }, { 3, 5 }, { 45013 } }
local CHECK = { [1] = true, [2] = true, [3] = true, [5] = true, [10] = true, [20] = true, [35] = true, [50] = true,
                [75] = true, [STEPS] = true }     -- the steps judged (each one expands 45013 elements)

-- Held tensors for the transcription: unique values and multiplicities (a 2-d tensor held
-- whole is also rows x cols, for Adafactor's factored moment and Muon).
local function layout(shapes)
  local out, off = {}, 0
  for ti, shape in ipairs(shapes) do
    local n = 1
    for _, d in ipairs(shape) do n = n * d end
    local u = math.min(n, PERIOD)
    local w
    if n > u then
      w = {}
      for j = 1, u do w[j] = 0 end
      for i = 1, n do local j = (i - 1) % u + 1; w[j] = w[j] + 1 end
    end
    out[ti] = { shape = shape, n = n, u = u, w = w, off = off }
    if #shape == 2 and n == u then out[ti].rows, out[ti].cols = shape[1], shape[2] end
    off = off + u
  end
  return out
end
local LAYOUTS = {
  default = layout(SHAPES),
  matrices = layout { { 3, 5 }, { 5, 3 }, { 4, 4 }, { 6, 8 } },             -- Muon: matrices only
  big_matrix = layout { { 150, 300 } },                                     -- Muon above the threads' threshold
}
local function grad_value(k, lay, j)
  local scale = lay.u > 1 and 10 ^ (-6 * (j - 1) / (lay.u - 1)) or 1
  return f32(base(k, j + lay.off) * scale)
end
local function param_value(lay, j) return f32(1 + 0.5 * math.sin(j + lay.off)) end
local function expand(lay, vals)       -- held values -> the tensor's elements, in order
  if lay.n == lay.u then return vals end
  local out = {}
  for i = 1, lay.n do out[i] = vals[(i - 1) % lay.u + 1] end
  return out
end

-- The gradient tensors of every step, built once per layout.
local GRADS = {}
local function grads(which)
  if GRADS[which] then return GRADS[which] end
  local G = {}
  for k = 1, STEPS do
    G[k] = {}
    for ti, lay in ipairs(LAYOUTS[which]) do
      local held = {}
      for j = 1, lay.u do held[j] = grad_value(k, lay, j) end
      G[k][ti] = { held = held, t = tensor.from(expand(lay, held)):reshape(lay.shape) }
    end
  end
  GRADS[which] = G
  return G
end

local function flat(lists)
  local out = {}
  for _, l in ipairs(lists) do for _, v in ipairs(l) do out[#out + 1] = v end end
  return out
end

local function declared_available(name)
  if type(optim.define) ~= "function" then lib.skip("optim.define is not in this build") end
  check(type(optim[name]) == "function" or type(optim[name]) == "table", "optim." .. name .. " is registered")
end

-- Runs one case: the declared optimizer with `threads` threads and (when judge) the transcription
-- in float64 and float32 alongside, checking lib.fair32 at the CHECK steps. Returns the final
-- tensors and the worst distance / allowed.
local function run_case(name, hp, threads, judge, which, steps)
  which, steps = which or "default", steps or STEPS
  local G, LAYOUT = grads(which), LAYOUTS[which]
  local saved = sys.threads()
  sys.set_threads(threads)
  local ok, res = pcall(function()
    local opt = optim[name](hp)
    local o64, o32 = L.new(name, hp), L.new(name, hp, L.f32)
    local ts, x64, x32 = {}, {}, {}
    for ti, lay in ipairs(LAYOUT) do
      local held = {}
      for j = 1, lay.u do held[j] = param_value(lay, j) end
      ts[ti] = tensor.from(expand(lay, held)):reshape(lay.shape)
      x64[ti] = { p = L.copy(held), w = lay.w, rows = lay.rows, cols = lay.cols }
      x32[ti] = { p = L.copy(held), w = lay.w, rows = lay.rows, cols = lay.cols }
    end
    local worst = 0
    for k = 1, steps do
      for ti = 1, #ts do ts[ti].grad = G[k][ti].t end
      opt:step(ts)
      if judge then
        local gs = {}
        for ti = 1, #ts do gs[ti] = G[k][ti].held end
        o64:step(x64, gs)
        o32:step(x32, gs)
        if CHECK[k] then
          local got, a, b = {}, {}, {}
          for ti, lay in ipairs(LAYOUT) do
            got[ti] = ts[ti]:contiguous():reshape(-1):totable()
            a[ti], b[ti] = expand(lay, x32[ti].p), expand(lay, x64[ti].p)
          end
          local fine, d, dref, allowed = lib.fair32(flat(got), flat(a), flat(b))
          if not fine then
            error(string.format("%s %s step %d: distance from the authors' float64 %.3g, their float32's %.3g (allowed %.3g)",
              name, serial.encode(hp), k, d, dref, allowed), 0)
          end
          worst = math.max(worst, d / allowed)
        end
      end
    end
    return { tensors = ts, worst = worst, opt = opt }
  end)
  sys.set_threads(saved)
  if not ok then error(res, 0) end
  return res
end

T.declarations_match_their_authors_code = function()
  local worst, order = {}, {}
  for _, c in ipairs(CASES) do
    declared_available(c[1])
    local r = run_case(c[1], c[2], 1, true, c[3])
    if not worst[c[1]] then order[#order + 1] = c[1]; worst[c[1]] = 0 end
    worst[c[1]] = math.max(worst[c[1]], r.worst)
  end
  local line = {}
  for _, n in ipairs(order) do line[#line + 1] = string.format("%s %.2f", n, worst[n]) end
  print("  distance from the authors' float64 / allowed, worst case and step: " .. table.concat(line, ", "))
end

-- (30 steps: enough for every state to have been written and read back)
T.declarations_bit_identical_with_1_and_2_threads = function()
  local seen = {}
  for _, c in ipairs(CASES) do
    if not seen[c[1]] then
      seen[c[1]] = true
      declared_available(c[1])
      local where = c[1] == "Muon" and "big_matrix" or c[3]
      local a, b = run_case(c[1], c[2], 1, false, where, 30), run_case(c[1], c[2], 2, false, where, 30)
      for ti = 1, #a.tensors do
        lib.identical(a.tensors[ti], b.tensors[ti], c[1] .. " tensor " .. ti .. " at 1 and 2 threads")
      end
    end
  end
end

-- Stopping after 40 steps, saving the state to a file and resuming in a new optimizer gives the
-- same bits as 80 steps in one go: the states that start at the first step (Schedule-Free's z and
-- x, Adan's previous gradient, NovoGrad's norm, QHAdam's weights, AdaBound's base lr) resume.
T.declarations_resume_from_a_saved_state = function()
  local path = os.tmpname()
  local seen = {}
  for _, c in ipairs(CASES) do
    local name, hp = c[1], c[2]
    if not seen[name] then
      seen[name] = true
      declared_available(name)
      local G, LAYOUT = grads(c[3] or "default"), LAYOUTS[c[3] or "default"]
      local function fresh()
        local ts = {}
        for ti, lay in ipairs(LAYOUT) do
          local held = {}
          for j = 1, lay.u do held[j] = param_value(lay, j) end
          ts[ti] = tensor.from(expand(lay, held)):reshape(lay.shape)
        end
        return ts
      end
      local function steps(opt, ts, from, to)
        for k = from, to do
          for ti = 1, #ts do ts[ti].grad = G[k][ti].t end
          opt:step(ts)
        end
      end
      local a = fresh()
      steps(optim[name](hp), a, 1, 80)
      local b, opt = fresh(), optim[name](hp)
      steps(opt, b, 1, 40)
      serial.save(path, { opt = opt:state_dict(), params = b })
      local saved = serial.load(path)
      local opt2 = optim[name](hp)
      opt2:load_state_dict(saved.opt, saved.params)
      steps(opt2, saved.params, 41, 80)
      for ti = 1, #a do lib.identical(saved.params[ti], a[ti], name .. " resumed, tensor " .. ti) end
    end
  end
  os.remove(path)
end

-- Each declared optimizer trains a small network in train.fit: the loss falls, the state saves.
T.declarations_work_in_train_fit = function()
  local LR = { SGDW = 0.05, Signum = 0.003, ScheduleFreeSGD = 0.2, LARS = 2.0, AggMo = 0.05, Yogi = 0.01,
               AdaBound = 0.01, NovoGrad = 0.01, LAMB = 0.01 }
  local seen = {}
  for _, c in ipairs(CASES) do
    local name = c[1]
    if not seen[name] then
      seen[name] = true
      declared_available(name)
      local ds = data.blobs { n = 240, centers = 3, features = 4, std = 1.0, seed = 5 }
      tensor.manual_seed(2)
      local bias = name ~= "Muon"        -- Muon refuses vectors, as its author's does
      local model = nn.Sequential { input = { 4 }, nn.Dense { 16, activation = "relu", use_bias = bias },
                                    nn.Dense { 3, use_bias = bias } }
      local opt = optim[name] { lr = LR[name] or 0.01 }
      local h = train.fit(model, opt, ds, { epochs = 4, batch_size = 24, verbose = 0, loss = "cross_entropy" })
      check(#h.loss == 4, name .. ": 4 epochs")
      check(h.loss[4] < h.loss[1], string.format("%s: loss %.4f -> %.4f does not fall", name, h.loss[1], h.loss[4]))
      local sd = opt:state_dict()
      check(type(sd) == "table", name .. ": state_dict")
    end
  end
end

return T
