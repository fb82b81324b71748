-- Generates tests/lua/fixtures/builtin_digests.lua: the digests (tests/lua/builtin_digest.lua)
-- of the optimizers that were hand-written kernels in kernels/optim.c, and their labels,
-- recorded with the binary that still had those kernels, and checkpoints (opt:save) of
-- SGD, Adagrad, RMSprop, Adam and AdamW with the digest of their continuation.
-- test_declared_builtins checks the declarations that replaced them against these.
-- Run from the repository root:  ./optlab tools/gen_builtin_fixtures.lua
package.path = "tests/lua/?.lua;" .. package.path
local D = require "builtin_digest"

local out = { "-- Written by tools/gen_builtin_fixtures.lua with the hand-written kernels of kernels/optim.c:",
              "-- key = configuration (builtin_digest.describe), digest of parameters and state, label.",
              "return {" }
for _, name in ipairs(D.NAMES) do
  for _, c in ipairs(D.CONFIGS[name]) do
    local key = D.describe(name, c[1], c[2])
    local digests, label = {}, nil
    for threads = 1, 2 do
      sys.set_threads(threads)
      digests[threads], label = D.digest(name, c[1], c[2])
    end
    assert(digests[1] == digests[2], key .. ": 1 and 2 threads differ")
    out[#out + 1] = string.format("  [%q] = { %q, %q },", key, digests[1], label)
  end
end
-- checkpoints: the state after CHECKPOINT_STEPS steps, and the digest after as many more
for i, c in ipairs(D.CHECKPOINTS) do
  local params = { D.checkpoint_params() }
  local opt = optim[c[1]](c[2])
  D.run(opt, params, 0, D.CHECKPOINT_STEPS)
  opt:save("tests/lua/fixtures/" .. D.checkpoint_file(i))
  tensor.save("tests/lua/fixtures/" .. D.checkpoint_file(i, "params"), { a = params[1], b = params[2] })
  D.run(opt, params, D.CHECKPOINT_STEPS, 2 * D.CHECKPOINT_STEPS)
  out[#out + 1] = string.format("  [%q] = { %q },", D.checkpoint_file(i), D.hash(opt, params))
end
out[#out + 1] = "}"
local f = assert(io.open("tests/lua/fixtures/builtin_digests.lua", "w"))
f:write(table.concat(out, "\n"), "\n")
f:close()
print("wrote tests/lua/fixtures/builtin_digests.lua: " .. (#out - 4) .. " configurations")
