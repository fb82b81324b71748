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

-- BLIS_ARCH_TYPE is read by BLIS with atoi: "" and "x" meant 0 (skx), and an id whose kernels
-- the CPU lacks (1 = knl: AVX-512PF/ER) or this BLIS lacks (2 = knc) killed optlab with
-- SIGILL or an abort at the first product. Now: a warning, and BLIS's own choice.
T.blis_arch_type_is_checked_against_the_cpu = function()
  local probe = [[-e 'print("arch=" .. sys.blis_arch() .. " sum=" .. tensor.ones(64, 64):matmul(tensor.ones(64, 64)):sum():item())']]
  local default = run("-u BLIS_ARCH_TYPE", probe)
  local arch = default:match("arch=(%S+)")
  check(arch and default:find("sum=262144", 1, true), "a plain run: " .. default)
  for _, v in ipairs { "", "x", "3x", "1", "2", "99" } do
    local out = run("BLIS_ARCH_TYPE=" .. q(v), probe)
    check(out:find("warning: BLIS_ARCH_TYPE='" .. v .. "'", 1, true), "BLIS_ARCH_TYPE=" .. v .. ": no warning: " .. out)
    check(out:find("arch=" .. arch .. " sum=262144", 1, true), "BLIS_ARCH_TYPE=" .. v .. ": not BLIS's own choice: " .. out)
  end
  local out = run("BLIS_ARCH_TYPE=-1", probe)
  check(not out:find("warning", 1, true) and out:find("arch=" .. arch, 1, true), "-1 lets BLIS choose: " .. out)
end

-- OPTLAB_THREADS was read with atoi and unbounded: "x" meant all cores, "1e9" one thread,
-- 100000 was taken as it was. It has the bounds of --threads now.
T.optlab_threads_is_checked_like_threads = function()
  local probe = [[-e 'print("threads=" .. sys.threads())' 2>&1; echo "rc=$?"]]
  for _, v in ipairs { "x", "0", "-3", "1e9", "100000", "" } do
    local out = run("OPTLAB_THREADS=" .. q(v), probe)
    check(out:find("OPTLAB_THREADS needs a number from 1 to 1024, got '" .. v .. "'", 1, true)
          and out:find("rc=1", 1, true) and not out:find("threads=", 1, true), "OPTLAB_THREADS=" .. v .. ": " .. out)
  end
  local out = run("OPTLAB_THREADS=2", probe)
  check(out:find("threads=2", 1, true) and out:find("rc=0", 1, true), "OPTLAB_THREADS=2: " .. out)
end

return T
