-- The thread team (kernels/team.h) and the denormal mode it carries to every thread.
local lib = require "lib"
local check, raises = lib.check, lib.raises

local T = {}

local TINY = 1e-39 -- a float32 denormal

local function with_threads(n, fn)
  local old = sys.threads()
  sys.set_threads(n)
  local ok, err = pcall(fn)
  sys.set_threads(old)
  sys.set_flush_denormal(false)
  if not ok then error(err, 0) end
end

-- Off by default: IEEE arithmetic keeps denormals, as PyTorch does.
function T.denormals_are_kept_by_default()
  local t = tensor.full({ 4 }, TINY)
  check((t * 1):sum():item() > 0, "a denormal times 1 became 0 without set_flush_denormal")
end

-- On: flushed on the calling thread, on OpenMP's threads (a 1M-element product) and on the
-- team's (a GEMM cut into tiles, run by whichever thread comes first; 20 tries so the worker
-- takes some), and kept again once turned off.
function T.flush_denormal_reaches_every_thread()
  with_threads(2, function()
    local big = tensor.full({ 1000000 }, TINY)
    local a, b = tensor.full({ 64, 5408 }, TINY), tensor.ones({ 5408, 256 })
    check(sys.set_flush_denormal(true) == true, "set_flush_denormal should report support on x86")
    check((tensor.full({ 4 }, TINY) * 1):sum():item() == 0, "the calling thread kept a denormal")
    check((big * 1):max():item() == 0, "an OpenMP thread kept a denormal")
    for _ = 1, 20 do
      check(a:matmul(b):abs():max():item() == 0, "a team thread kept a denormal in a GEMM tile")
    end
    sys.set_flush_denormal(false)
    check((big * 1):min():item() > 0, "denormals still flushed after set_flush_denormal(false)")
    check(a:matmul(b):abs():min():item() > 0, "a team thread still flushes after set_flush_denormal(false)")
  end)
end

function T.flush_denormal_takes_a_boolean()
  local err = raises(function() sys.set_flush_denormal(1) end, "set_flush_denormal: expected true or false, got number")
  check(err:find("test_team.lua:%d+"), "the error should name the caller's line: " .. err)
end

-- The loops moved to the team give the same bits at 1 and 2 threads: a training step of the
-- Keras example CNN (GEMM tiles, conv groups, dropout, the Adam program's spans).
function T.a_step_on_the_team_is_thread_independent()
  local function run(threads)
    local out
    with_threads(threads, function()
      tensor.manual_seed(3)
      local model = nn.models.keras_mnist_cnn()
      local opt = optim.Adam { lr = 1e-3 }
      local x = tensor.rand({ 64, 1, 28, 28 }, { seed = 5 })
      local labels = {}
      for i = 1, 64 do labels[i] = (i * 7) % 10 end
      local y = tensor.from(labels)
      for _ = 1, 3 do
        model:zero_grad()
        nn.functional.cross_entropy(model(x), y):backward()
        opt:step(model:parameters())
      end
      out = model:parameters()
    end)
    return out
  end
  local one, two = run(1), run(2)
  for i = 1, #one do lib.identical(one[i], two[i], "parameter " .. i) end
end

return T
