-- Lua 5.4 against LuaJIT, side by side in one run (`make bench` builds both optlabs; about
-- a minute). Each figure comes from bench/vm_worker.lua run by each VM's optlab at 1 thread,
-- the VMs alternating run by run so that machine noise hits both alike; medians of REPS runs.
--
--   optlab bench/bench_vm.lua            (OPTLAB_LUA54 / OPTLAB_LUAJIT name the two binaries;
--                                         default build/optlab and build/luajit/optlab)
--
-- Rows: a hand-written SGD update over a 1M-float tensor (t:get/t:set per element on each VM,
-- t:ffi() on LuaJIT, and optim.SGD's fused C pass as the floor); the Keras example CNN's
-- training step (batch 64, Adam) and the part of it spent outside C; start-up of `optlab -e ''`.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local root = here .. "/.."
local vms = {
  { name = "Lua 5.4", exe = os.getenv("OPTLAB_LUA54") or root .. "/build/optlab" },
  { name = "LuaJIT", exe = os.getenv("OPTLAB_LUAJIT") or root .. "/build/luajit/optlab" },
}
local REPS = tonumber(os.getenv("REPS") or 3)
for _, v in ipairs(vms) do
  if not io.open(v.exe) then
    print(string.format("bench_vm: no %s build at %s (make%s); skipped", v.name, v.exe, v.name == "LuaJIT" and " LUA=luajit" or ""))
    return
  end
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function result(exe, args, env)
  local p = io.popen(string.format("%s %s --threads 1 %s/vm_worker.lua %s 2>&1", env or "", q(exe), q(here), args))
  local out = p:read("a")
  p:close()
  local line = out:match("RESULT ([^\n]*)")
  if not line then error("bench_vm: " .. exe .. " " .. args .. " printed no RESULT:\n" .. out) end
  local r = {}
  for k, v in line:gmatch("(%S+)=(%S+)") do r[k] = tonumber(v) or v end
  return r
end
local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) / 2] or (t[n / 2] + t[n / 2 + 1]) / 2
end

-- name -> vm index -> list of values
local got = {}
local function add(key, i, v)
  got[key] = got[key] or { {}, {} }
  table.insert(got[key][i], v)
end

for rep = 1, REPS do
  for k = 1, 2 do
    local i = (rep + k) % 2 + 1 -- alternate which VM goes first
    local exe = vms[i].exe
    add("getset", i, result(exe, "loop getset 1000000 2").ns_per_elem)
    if i == 2 then add("ffi", i, result(exe, "loop ffi 1000000 5").ns_per_elem) end
    add("kernel", i, result(exe, "loop kernel 1000000 5").ns_per_elem)
    add("step", i, result(exe, "step 60 10").ms_per_step)
    add("lua_ms", i, result(exe, "step 60 10", "VM_BENCH_SPLIT=1").lua_ms)
  end
end
-- start-up: `optlab -e ''` (the stdlib loaded, nothing run), alternating, 20 runs each
for _ = 1, 20 do
  for i = 1, 2 do
    local t0 = sys.clock()
    os.execute(q(vms[i].exe) .. " -e '' >/dev/null 2>&1")
    add("startup", i, (sys.clock() - t0) * 1e3)
  end
end

local function m(key, i) return got[key] and #got[key][i] > 0 and median(got[key][i]) or nil end
local function cell(v, fmt) return v and string.format(fmt, v) or "-" end
local rows = {
  { "SGD loop, 1M floats, t:get / t:set (ns/element)", "getset", "%.1f" },
  { "SGD loop, 1M floats, t:ffi() (ns/element)", "ffi", "%.2f" },
  { "fused C kernel, optim.SGD (ns/element)", "kernel", "%.3f" },
  { "Keras example CNN, training step (ms)", "step", "%.2f" },
  { "  of which outside C: tape, layers, optimizer loop (ms)", "lua_ms", "%.2f" },
  { "start-up, optlab -e '' (ms)", "startup", "%.1f" },
}
print(string.format("Lua 5.4 vs LuaJIT, 1 thread, medians of %d runs (start-up: of 20)", REPS))
print()
print("| what | Lua 5.4 | LuaJIT | Lua 5.4 / LuaJIT |")
print("| --- | ---: | ---: | ---: |")
for _, r in ipairs(rows) do
  local a, b = m(r[2], 1), m(r[2], 2)
  print(string.format("| %s | %s | %s | %s |", r[1], cell(a, r[3]), cell(b, r[3]), (a and b) and string.format("%.2fx", a / b) or "-"))
end
local gs54, gsjit, ffi, kern = m("getset", 1), m("getset", 2), m("ffi", 2), m("kernel", 2)
print()
print(string.format("LuaJIT t:ffi() loop: %.0fx faster than get/set on Lua 5.4, %.0fx than get/set on LuaJIT; "
  .. "%.1fx the fused C kernel's time", gs54 / ffi, gsjit / ffi, ffi / kern))
