-- Generates tests/lua/fixtures/builtin_digests.lua: the digests (tests/lua/builtin_digest.lua)
-- of the optimizers that were hand-written kernels in kernels/optim.c, and their labels,
-- recorded with the binary that still had those kernels, and checkpoints (opt:save) of
-- SGD, Adagrad, RMSprop, Adam and AdamW with the digest of their continuation.
-- test_declared_builtins checks the declarations that replaced them against these.
-- Run from the repository root:  ./optlab tools/gen_builtin_fixtures.lua
-- The entries and checkpoints of the optimizers that are declarations now
-- (builtin_digest.DECLARED) are kept as they are: no binary has their kernels any
-- more, and recomputing them with the declarations would make the test vacuous.
package.path = "tests/lua/?.lua;" .. package.path
local D = require "builtin_digest"
local FIX = "tests/lua/fixtures/builtin_digests.lua"
local old = io.open(FIX) and dofile(FIX) or {}
local declared = {}
for _, name in ipairs(D.DECLARED) do declared[name] = true end

local out = { "-- Written by tools/gen_builtin_fixtures.lua with the hand-written kernels of kernels/optim.c:",
              "-- key = configuration (builtin_digest.describe), digest of parameters and state, label.",
              "return {" }
for _, name in ipairs(D.NAMES) do
  for _, c in ipairs(D.CONFIGS[name]) do
    local key = D.describe(name, c[1], c[2])
    local digests, label = {}, nil
    if declared[name] then
      assert(old[key], key .. ": a declared optimizer's configuration has no kernel digest to keep")
      digests[1], label = old[key][1], old[key][2]
    else
      for threads = 1, 2 do
        sys.set_threads(threads)
        digests[threads], label = D.digest(name, c[1], c[2])
      end
      assert(digests[1] == digests[2], key .. ": 1 and 2 threads differ")
    end
    out[#out + 1] = string.format("  [%q] = { %q, %q },", key, digests[1], label)
  end
end
-- checkpoints: the state after CHECKPOINT_STEPS steps, and the digest after as many more
for i, c in ipairs(D.CHECKPOINTS) do
  if declared[c[1]] then
    out[#out + 1] = string.format("  [%q] = { %q },", D.checkpoint_file(i), old[D.checkpoint_file(i)][1])
    goto next
  end
  local params = { D.checkpoint_params() }
  local opt = optim[c[1]](c[2])
  D.run(opt, params, 0, D.CHECKPOINT_STEPS)
  opt:save("tests/lua/fixtures/" .. D.checkpoint_file(i))
  tensor.save("tests/lua/fixtures/" .. D.checkpoint_file(i, "params"), { a = params[1], b = params[2] })
  D.run(opt, params, D.CHECKPOINT_STEPS, 2 * D.CHECKPOINT_STEPS)
  out[#out + 1] = string.format("  [%q] = { %q },", D.checkpoint_file(i), D.hash(opt, params))
  ::next::
end
out[#out + 1] = "}"
local f = assert(io.open(FIX, "w"))
f:write(table.concat(out, "\n"), "\n")
f:close()
print("wrote tests/lua/fixtures/builtin_digests.lua: " .. (#out - 4) .. " configurations")
