-- The host's start-up: OpenMP threads spin only briefly before they sleep (GOMP_SPINCOUNT set
-- by vm/main.c) unless the user chose a policy, and the re-exec that sets it keeps arguments
-- and stdin intact.
local lib = require "lib"
local check = lib.check

local optlab = os.getenv("OPTLAB") or "./optlab"
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run(env, args)
  local p = io.popen(string.format("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT %s %s %s 2>&1", env, q(optlab), args))
  local out = p:read("a")
  p:close()
  return out
end

local T = {}

T.short_spin_by_default = function()
  local out = run("", [[-e 'print("spin=" .. tostring(os.getenv("GOMP_SPINCOUNT")))']])
  local n = tonumber(out:match("spin=(%d+)"))
  check(n and n <= 100000, "expected a short GOMP_SPINCOUNT, got: " .. out)
end

T.wait_policy_respects_the_user = function()
  local probe = [[-e 'print("policy=" .. tostring(os.getenv("OMP_WAIT_POLICY")) .. " spin=" .. tostring(os.getenv("GOMP_SPINCOUNT")))']]
  local out = run("OMP_WAIT_POLICY=active", probe)
  check(out:find("policy=active spin=nil", 1, true), "OMP_WAIT_POLICY=active overridden: " .. out)
  out = run("GOMP_SPINCOUNT=777", probe)
  check(out:find("policy=nil spin=777", 1, true), "the user's GOMP_SPINCOUNT changed: " .. out)
end

T.reexec_keeps_arguments_and_stdin = function()
  local p = io.popen("echo 'print(sys.threads(), ...)' | env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT " ..
    q(optlab) .. " --threads 2 - a 'b c' 2>&1")
  local out = p:read("a")
  p:close()
  check(out:find("2\ta\tb c", 1, true), "arguments or stdin lost across the re-exec: " .. out)
end

return T
