-- Schedules: values at chosen steps against their formulas.
local lib = require "lib"
local ref = require "ref_optim"
local check, close, raises = lib.check, lib.close, lib.raises

local T = {}

T.linear_at_0_half_tau_tau_2tau = function()
  local e0, et, tau = 0.1, 0.001, 1000
  local s = schedule.linear { from = e0, to = et, steps = tau }
  close(s(0), e0, 1e-15, "k = 0")
  close(s(tau / 2), 0.5 * e0 + 0.5 * et, 1e-15, "k = tau/2")
  close(s(tau), et, 1e-15, "k = tau")
  close(s(2 * tau), et, 1e-15, "k = 2 tau")
  for _, k in ipairs { 1, 250, 999 } do close(s(k), ref.linear(k, e0, et, tau), 1e-14, "k = " .. k) end
end

T.values_first_n = function()
  local v = schedule.values(schedule.linear { from = 1, to = 0, steps = 4 }, 6)
  close(v, { 1, 0.75, 0.5, 0.25, 0, 0 }, 1e-15, "values")
  close(schedule.values(function(k) return k * k end, 3), { 0, 1, 4 }, 0, "function of the step")
  close(schedule.values(0.3, 2), { 0.3, 0.3 }, 0, "number")
end

T.step_multistep_exponential_inverse_time = function()
  local s = schedule.step { initial = 1, step_size = 10, gamma = 0.5 }
  close({ s(0), s(9), s(10), s(25) }, { 1, 1, 0.5, 0.25 }, 1e-15, "step")
  local m = schedule.multistep { initial = 1, milestones = { 3, 7 }, gamma = 0.1 }
  close({ m(2), m(3), m(6), m(7) }, { 1, 0.1, 0.1, 0.01 }, 1e-14, "multistep")
  local e = schedule.exponential { initial = 2, rate = 0.5, steps = 4 }
  close({ e(0), e(2), e(4) }, { 2, 2 * 0.5 ^ 0.5, 1 }, 1e-14, "exponential")
  local es = schedule.exponential { initial = 2, rate = 0.5, steps = 4, staircase = true }
  close({ es(3), es(4) }, { 2, 1 }, 1e-15, "staircase")
  local it = schedule.inverse_time { initial = 1, rate = 0.5, steps = 2 }
  close({ it(0), it(4) }, { 1, 1 / (1 + 0.5 * 2) }, 1e-15, "inverse_time")
end

T.cosine_with_restarts = function()
  local c = schedule.cosine { initial = 1, steps = 10, min = 0.1 }
  close({ c(0), c(5), c(10), c(30) }, { 1, 0.55, 0.1, 0.1 }, 1e-14, "cosine")
  local r = schedule.cosine { initial = 1, steps = 10, restarts = true, t_mult = 2 }
  close({ r(10), r(20), r(30) }, { 1, 0.5, 1 }, 1e-14, "restarts at 10 and 30 (periods 10, 20)")
end

T.warmup_one_cycle_sequence = function()
  local w = schedule.warmup(4, schedule.constant(0.8))
  close({ w(0), w(2), w(4), w(100) }, { 0, 0.4, 0.8, 0.8 }, 1e-15, "warmup")
  local o = schedule.one_cycle { max = 1, steps = 100 }
  close(o(0), 1 / 25, 1e-12, "one_cycle start")
  close(o(29), 1, 1e-12, "one_cycle peak")
  close(o(99), 1 / 25 / 1e4, 1e-12, "one_cycle end")
  check(o(60) < 1 and o(60) > o(80), "one_cycle anneals")
  local q = schedule.sequence { { schedule.constant(1), steps = 3 }, { schedule.linear { from = 1, to = 0, steps = 2 } } }
  close(schedule.values(q, 6), { 1, 1, 1, 1, 0.5, 0 }, 1e-15, "sequence")
end

T.plateau_reduces_on_a_stalled_metric = function()
  local p = schedule.plateau { initial = 1, factor = 0.5, patience = 2 }
  for _, m in ipairs { 5, 4, 4, 4 } do p:observe(m) end
  close(p(0), 1, 0, "2 bad epochs: patience 2 not exceeded")
  p:observe(4)
  close(p(0), 0.5, 0, "reduced after 3 bad epochs")
  local x = tensor.from { 1 }
  x.grad = tensor.from { 1 }
  local opt = optim.SGD { lr = schedule.plateau { initial = 0.2, factor = 0.1, patience = 0 } }
  opt:observe(1); opt:observe(2)
  opt:step { x }
  close(opt:hyper().lr, 0.02, 1e-15, "optimizer forwards observe")
  local sd = opt:state_dict()
  check(sd.schedules.lr.value == opt:hyper().lr, "plateau state is in state_dict")
end

-- One contract, PyTorch's scheduler.step(metric): README's Training section once said
-- opt:observe(monitor, value), which got "attempt to compare string with number" from
-- inside schedule.lua. A wrong call is now an error naming the contract, at the caller's line.
T.plateau_observe_takes_the_value_alone = function()
  local here = debug.getinfo(1, "S").short_src
  local function refused(fn, what, want)
    local ok, err = pcall(fn)
    check(not ok, what .. ": refused")
    err = tostring(err)
    check(err:find("observe(metric) takes the monitored value alone", 1, true), what .. ": names the contract: " .. err)
    check(err:find(here, 1, true) == 1, what .. ": at the caller's line: " .. err)
    if want then check(err:find(want, 1, true), what .. ": says " .. want .. ": " .. err) end
  end
  local p = schedule.plateau { initial = 1, factor = 0.5, patience = 0 }
  refused(function() p:observe("val_loss", 0.5) end, "schedule, (name, value)", "not opt:observe(name, value)")
  refused(function() p:observe(0.5, "val_loss") end, "schedule, (value, name)", "a second argument")
  refused(function() p:observe(nil) end, "schedule, nil")
  local opt = optim.SGD { lr = schedule.plateau { initial = 0.2, factor = 0.1, patience = 0 } }
  refused(function() opt:observe("val_loss", 0.5) end, "optimizer, (name, value)", "not opt:observe(name, value)")
  p:observe(3); p:observe(4)
  close(p(0), 0.5, 0, "the right call still works after the refused ones")
end

T.epoch_unit = function()
  local s = schedule.step { initial = 1, step_size = 1, gamma = 0.5, unit = "epoch" }
  close(s:at(123, 2), 0.25, 0, "epoch 2")
  local sp = schedule.step { initial = 1, step_size = 1, gamma = 0.5, unit = "epoch", steps_per_epoch = 10 }
  close({ sp(9), sp(10), sp(25) }, { 1, 0.5, 0.25 }, 0, "steps_per_epoch")
  raises(function() s(5) end, "needs opt:set_epoch")
  local x = tensor.from { 1 }
  x.grad = tensor.from { 1 }
  local opt = optim.SGD { lr = s }
  opt:set_epoch(3)
  opt:step { x }
  close(opt:hyper().lr, 0.125, 0, "optimizer passes its epoch")
end

T.schedules_for_momentum_and_betas = function()
  local x = tensor.from { 1, 2 }
  x.grad = tensor.from { 0.5, -0.5 }
  local opt = optim.SGD { lr = 0.01, momentum = schedule.linear { from = 0.5, to = 0.99, steps = 2000 } }
  for _ = 1, 1001 do opt:step { x } end
  close(opt:hyper().momentum, 0.745, 1e-12, "momentum at k = 1000")
  local a = optim.Adam { beta1 = function(k) return k < 5 and 0.5 or 0.9 end }
  for _ = 1, 6 do a:step { x } end
  close(a:hyper().beta1, 0.9, 0, "beta1 from a function")
  check(tostring(opt):find("momentum=linear(0.5->0.99/2000)", 1, true), tostring(opt))
end

T.bad_options = function()
  raises(function() schedule.linear { from = 1, to = 0 } end, "schedule.linear: 'steps' must be a number")
  raises(function() schedule.linear { from = 1, to = 0, steps = 10, stepz = 1 } end, "unknown option 'stepz'")
  raises(function() schedule.step { initial = 1, step_size = 2, unit = "batch" } end, "unit must be")
  raises(function() schedule.multistep { initial = 1, milestones = { 5, 3 } } end, "milestones must increase")
end

-- experiments/textbook_optimizers.lua promises the textbook's linear decay
-- eps_k = (1 - k/tau) eps_0 + (k/tau) eps_tau with eps_tau = eps_0/100 over its 10
-- epochs: it must move at every update and reach eps_0/100 exactly at the last
-- (it used to be a per-epoch staircase ending at 0.0109 for 0.1 -> 0.001).
function T.textbook_experiment_decays_lr_every_step_to_exactly_lr_over_100()
  local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  local spec
  local env = setmetatable({ experiment = { compare = function(s) spec = s; return s end } }, { __index = _G })
  local chunk = assert(loadfile(here .. "/../../experiments/textbook_optimizers.lua", "t", env))
  if setfenv then setfenv(chunk, env) end
  chunk()
  local opt = spec.optimizers[1].optimizer
  check(spec.optimizers[1].label:find("linear", 1, true), "the first optimizer is SGD with linear decay")
  local ds = data.blobs { n = 40, features = 2, centers = 2, seed = 3 }
  tensor.manual_seed(1)
  local model = nn.Sequential { input = { 2 }, nn.Dense { 2 } }
  local lrs = {}
  train.fit(model, opt, ds, { epochs = spec.epochs, batch_size = 8, verbose = 0,
    callbacks = { { on_batch_end = function() lrs[#lrs + 1] = opt:hyper().lr end } } })
  check(#lrs == 50, "5 updates x 10 epochs, got " .. #lrs)
  check(lrs[#lrs] == 0.1 / 100, string.format("ends at exactly lr/100 = 0.001, got %.17g", lrs[#lrs]))
  for i = 2, #lrs do
    check(lrs[i] < lrs[i - 1], string.format("decays at every update: update %d has %.9g after %.9g", i, lrs[i], lrs[i - 1]))
  end
  close(lrs[25], 0.5 * 0.1 + 0.5 * 0.001, 1e-12, "halfway (k = tau/2)")
end

return T
