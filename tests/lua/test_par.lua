-- kernels/par.h is the one home of how C code uses threads (issue 16): the
-- parallel thresholds, the spans and the ordered sums. A kernel that opens a
-- parallel region with a threshold of its own, or a file that parallelizes
-- without par.h, is named here with its line.
local lib = require "lib"
local check = lib.check

local T = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ROOT = io.popen("cd '" .. here .. "/../..' && pwd"):read("l")

local function sources()
  local out = {}
  local p = io.popen("cd '" .. ROOT .. "' && ls kernels/*.c kernels/*.h vm/*.c vm/*.h")
  for f in p:lines() do out[#out + 1] = f end
  p:close()
  return out
end

local function read(f)
  local h = assert(io.open(ROOT .. "/" .. f))
  local s = h:read("a")
  h:close()
  return s
end

function T.parallel_regions_take_their_threshold_from_par_h()
  local bad, count = {}, 0
  for _, f in ipairs(sources()) do
    local src, n = read(f), 0
    local opens = false
    for line in (src .. "\n"):gmatch("(.-)\n") do
      n = n + 1
      local literal = false
      if line:find("omp parallel", 1, true) then
        opens = true
        count = count + 1
        local cond = line:match("if%s*(%b())")
        literal = cond and cond:find("%d%d%d") and true or false
      end
      local alias = f ~= "kernels/par.h" and (line:find("32768", 1, true) or line:find("OMP_MIN", 1, true) or line:find("%f[%w_]PAR_MIN"))
      if literal or alias then bad[#bad + 1] = f .. ":" .. n .. ": " .. line end
    end
    -- gemm.c cuts a product into tiles by flops (TILE_MIN_FLOPS), edges on the
    -- BLIS micro-kernel's width: a policy of its own, kept beside the kernel;
    -- team.c's one region sets the denormal mode on every OpenMP thread
    if opens and f ~= "kernels/par.h" and f ~= "kernels/gemm.c" and f ~= "kernels/team.c" and not src:find('#include "par.h"', 1, true) then
      bad[#bad + 1] = f .. ": opens parallel regions without par.h"
    end
  end
  check(count > 20, "the scan found " .. count .. " parallel regions")
  check(#bad == 0, "thresholds outside kernels/par.h:\n" .. table.concat(bad, "\n"))
end

return T
