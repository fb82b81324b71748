-- The built-ins that were hand-written kernels in kernels/optim.c and are now
-- declarations (stdlib/optim/zoo/: Lion, Adadelta, ...) give the kernels'
-- bits: the digests of parameters and state after 12 steps, for every
-- convention each has, with and without weight decay (L2 or decoupled),
-- clipping, schedules and each optimizer's options, at 1 and 2 threads,
-- against the digests the kernels gave (tests/lua/fixtures/builtin_digests.lua,
-- written by tools/gen_builtin_fixtures.lua). The labels stay the kernels' too.
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

-- The converted ones are declarations, one file each in stdlib/optim/zoo/.
T.converted_are_declarations = function()
  for _, name in ipairs(D.DECLARED) do
    local sp = optim.specs[name]
    check(sp and sp.kind == "Declared", name .. " is a declaration")
    check(package.searchpath("optim.zoo." .. name:lower(), package.path), name .. ": stdlib/optim/zoo/" .. name:lower() .. ".lua")
  end
end

return T
