-- The built-ins with hand-written kernels in kernels/optim.c (SGD, Adagrad,
-- RMSprop, Adam, AdamW, Lion, Adadelta, Adamax, ASGD, Rprop, RAdam, Nadam,
-- Ftrl) are pinned to the digests of their parameters and state after 12
-- steps, for every convention each has, with and without weight decay (L2
-- or decoupled), clipping, schedules and each optimizer's options, at 1 and 2
-- threads (tests/lua/fixtures/builtin_digests.lua, written by
-- tools/gen_builtin_fixtures.lua with the kernels). A declaration that
-- replaces a kernel (listed in builtin_digest.DECLARED) must give the same
-- bits and labels. SGD, Adagrad, RMSprop, Adam and AdamW are declarations
-- now (stdlib/optim/builtin/, measured at the kernels' speed by
-- bench/bench_define.lua); declared forms of six of the others were measured
-- at 1.15-2.5x their kernels' time, so those kernels stay.
local lib = require "lib"
local D = require "builtin_digest"
local check = lib.check

local FIX = dofile(debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") .. "/fixtures/builtin_digests.lua")

local T = {}

for _, name in ipairs(D.NAMES) do
  T[name:lower() .. "_gives_the_kernels_bits"] = function()
    local threads0 = sys.threads()
    for _, c in ipairs(D.CONFIGS[name]) do
      local key = D.describe(name, c[1], c[2])
      local want = FIX[key]
      check(want, key .. ": no recorded digest (run tools/gen_builtin_fixtures.lua with the kernels)")
      for threads = 1, 2 do
        sys.set_threads(threads)
        local got, label = D.digest(name, c[1], c[2])
        check(got == want[1], string.format("%s at %d threads: digest %s, the kernel gave %s", key, threads, got, want[1]))
        check(label == want[2], string.format("%s: label %s, the kernel's was %s", key, label, want[2]))
      end
    end
    sys.set_threads(threads0)
  end
end

-- A checkpoint saved by a kernel's optimizer (tests/lua/fixtures/builtin_checkpoint_*.olt)
-- loads into today's optimizer of that name and continues with the kernel's bits.
T.kernel_checkpoints_load_and_continue = function()
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") .. "/fixtures/"
  for i, c in ipairs(D.CHECKPOINTS) do
    local file = D.checkpoint_file(i)
    local saved = tensor.load(dir .. D.checkpoint_file(i, "params"))
    local params = { saved.a, saved.b }
    local opt = optim[c[1]](c[2])
    opt:load(dir .. file, params)
    check(opt.t == D.CHECKPOINT_STEPS, file .. ": step count restored")
    D.run(opt, params, D.CHECKPOINT_STEPS, 2 * D.CHECKPOINT_STEPS)
    local got = D.hash(opt, params)
    check(got == FIX[file][1], string.format("%s (%s): continued to digest %s, the kernel's was %s", file, tostring(opt), got, FIX[file][1]))
  end
end

-- The converted ones are declarations, one file each in stdlib/optim/builtin/
-- (Adam's holds AdamW), and keep their names from other declarations.
T.converted_are_declarations = function()
  for _, name in ipairs(D.DECLARED) do
    local sp = optim.specs[name]
    check(sp and sp.kind == "Declared" and sp.builtin, name .. " is a built-in declaration")
    local file = name == "AdamW" and "adam" or name:lower()
    check(package.searchpath("optim.builtin." .. file, package.path), name .. ": stdlib/optim/builtin/" .. file .. ".lua")
    local ok, err = pcall(optim.define, { name = name, doc = "mine", hyper = {}, update = function(p) return p end })
    check(not ok and tostring(err):find(name .. " is a built-in optimizer", 1, true), name .. ": a declaration cannot take its name")
  end
end

-- kernels/optprog.c broadcasts scalar operands into lanes for where and the
-- generic fused loops (so that they vectorize): each mix of operand kinds
-- against plain Lua on the same floats.
local fn = optim.fn
local Kinds = optim.define {
  name = "WhereKinds", doc = "fn.where and a fused multiply-add on each mix of element and per-step operands",
  hyper = { { "lr", 0 }, { "a", 2 }, { "b", -3 }, { "on", 1 } },
  state = { vvv = 0, vsv = 0, vvs = 0, vss = 0, svv = 0, ssv = 0, fma = 0 },
  update = function(p, g, s, h)
    local c = fn.gt(g, 0)
    s.vvv, s.vsv, s.vvs, s.vss = fn.where(c, p, g), fn.where(c, h.a, g), fn.where(c, p, h.b), fn.where(c, h.a, h.b)
    s.svv, s.ssv = fn.where(fn.gt(h.on, 0), p, g), fn.where(fn.lt(h.on, 0), h.a, g)
    s.fma = (p - g) * h.a + g                  -- MULADD(vector, scalar, vector): the generic loop
    return p - h.lr * g
  end,
}

T.where_and_fused_forms_on_every_operand_kind = function()
  local f32 = compat.f32
  for _, n in ipairs { 5, 70001 } do
    for threads = 1, 2 do
      sys.set_threads(threads)
      local p, g = tensor.randn(n, { seed = 31 }), tensor.randn(n, { seed = 32 })
      local pv, gv = p:totable(), g:totable()
      p.grad = g
      local o = Kinds {}
      o:step { p }
      local st = o.state[p]
      local got = {}
      for k, t in pairs(st) do got[k] = t:totable() end
      for i = 1, n, n > 100 and 7 or 1 do
        local x, y, pos = pv[i], gv[i], gv[i] > 0
        local want = { vvv = pos and x or y, vsv = pos and 2 or y, vvs = pos and x or -3, vss = pos and 2 or -3,
                       svv = x, ssv = y, fma = f32(f32(f32(x - y) * 2) + y) }
        for k, w in pairs(want) do
          check(compat.same_bits(got[k][i], w), string.format("%s n=%d element %d at %d threads: %.9g, want %.9g", k, n, i, threads, got[k][i], w))
        end
      end
    end
  end
  sys.set_threads(2)
end

return T
