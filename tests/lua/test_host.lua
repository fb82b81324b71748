-- The host's start-up: idle OpenMP threads sleep (OMP_WAIT_POLICY=passive) unless the
-- user chose a policy, and the re-exec that sets it keeps arguments and stdin intact.
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

T.wait_policy_defaults_to_passive = function()
  local out = run("", [[-e 'print("policy=" .. tostring(os.getenv("OMP_WAIT_POLICY")))']])
  check(out:find("policy=passive", 1, true), "expected passive, got: " .. out)
end

T.wait_policy_respects_the_user = function()
  local out = run("OMP_WAIT_POLICY=active", [[-e 'print("policy=" .. tostring(os.getenv("OMP_WAIT_POLICY")))']])
  check(out:find("policy=active", 1, true), "OMP_WAIT_POLICY=active overridden: " .. out)
  out = run("GOMP_SPINCOUNT=1000", [[-e 'print("policy=" .. tostring(os.getenv("OMP_WAIT_POLICY")))']])
  check(out:find("policy=nil", 1, true), "GOMP_SPINCOUNT set, yet a policy was added: " .. out)
end

T.reexec_keeps_arguments_and_stdin = function()
  local p = io.popen("echo 'print(sys.threads(), ...)' | env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT " ..
    q(optlab) .. " --threads 2 - a 'b c' 2>&1")
  local out = p:read("a")
  p:close()
  check(out:find("2\ta\tb c", 1, true), "arguments or stdin lost across the re-exec: " .. out)
end

return T
