-- compat (stdlib/compat.lua) gives the same answers on Lua 5.4 and LuaJIT; t:ffi() and
-- tensor.kernels() work on LuaJIT and say they need it on Lua 5.4. Runs on both VMs
-- (`make test` and `make test LUA=luajit`).
local lib = require "lib"
local check, raises = lib.check, lib.raises

local T = {}

function T.integer_division_floors()
  local cases = { { 7, 2, 3 }, { -7, 2, -4 }, { 7, -2, -4 }, { 6, 3, 2 }, { 0, 5, 0 }, { 2 ^ 40 + 1, 2, 2 ^ 39 } }
  for _, c in ipairs(cases) do
    check(compat.idiv(c[1], c[2]) == c[3], string.format("idiv(%s, %s) = %s", c[1], c[2], tostring(compat.idiv(c[1], c[2]))))
  end
  if not compat.luajit then  -- the same as 5.4's own operator, integer subtype included
    local native = load("return function(a, b) return a // b end")()
    check(math.type(compat.idiv(7, 2)) == math.type(native(7, 2)), "integer // integer stays an integer")  -- 5.4 only
  end
end

function T.integers_and_their_text()
  check(compat.is_integer(3) and compat.is_integer(3.0) and compat.is_integer(-2 ^ 53), "whole numbers")
  check(not compat.is_integer(2.5) and not compat.is_integer("3") and not compat.is_integer(0 / 0)
        and not compat.is_integer(math.huge), "not whole numbers")
  check(compat.math_type(2.5) == "float" and compat.math_type("x") == nil, "math_type")
  check(compat.math_type(-0.0) == "float", "-0 stays a float, so its sign survives a file")
  check(compat.int_text(2 ^ 53) == "9007199254740992" and compat.int_text(-42) == "-42", "int_text")
  raises(function() compat.int_text(0 / 0) end, "not a whole number")
  check(math.tointeger(3.0) == 3 and math.tointeger(2.5) == nil, "math.tointeger on both VMs")
  check(select("#", table.unpack({ 1, nil, 3 }, 1, 3)) == 3 and table.pack(1, nil).n == 2, "table.pack/unpack")
end

function T.bitwise_on_32_bit_values()
  check(compat.band(0xEDB88320, 0xFF) == 0x20 and compat.bor(0x80000000, 1) == 0x80000001, "band/bor")
  check(compat.bxor(0xFFFFFFFF, 0x0F0F0F0F) == 0xF0F0F0F0, "bxor keeps 0..2^32-1 (not negative)")
  check(compat.rshift(0xEDB88320, 1) == 0x76DC4190 and compat.lshift(0x80000001, 1) == 2, "shifts")
end

function T.pack_and_unpack_bytes()
  check(compat.pack("<I4", 1) == "\1\0\0\0" and compat.pack(">I4", 1) == "\0\0\0\1", "endianness")
  check(compat.pack("<d", 1.5) == "\0\0\0\0\0\0\248\63", "double bytes")
  check(compat.pack("<i8", -2) == "\254\255\255\255\255\255\255\255", "int64 bytes")
  local s = compat.pack("<I4i8fd", 7, -5, 0.5, 0.1)
  local a, b, c, d, nxt = compat.unpack("<I4i8fd", s)
  check(a == 7 and b == -5 and c == 0.5 and d == 0.1 and nxt == #s + 1, "round trip")
  check(compat.f32(0.1) == 0.100000001490116119384765625, "f32 rounds to the nearest float")
  -- a double's bits as an int64, plus one: the next double up (exact on both VMs)
  local bumped = compat.unpack("<d", compat.pack("<i8", compat.unpack("<i8", compat.pack("<d", 0.1)) + 1))
  check(bumped > 0.1 and bumped - 0.1 < 2e-17, "next double after 0.1")
  check(compat.same_bits(0.1, 0.1) and not compat.same_bits(0.0, -0.0), "same_bits tells -0 from 0")
end

function T.lengths()
  check(compat.utf8_len("±é a") == 4, "UTF-8 characters")
  local t = setmetatable({}, { __len = function() return 42 end })
  check(compat.len(t) == 42 and compat.len({ 1, 2 }) == 2 and compat.len("abc") == 3, "len calls __len")
end

function T.exit_statuses_as_lua_5_4_reports_them()
  local ok, how, code = os.execute("exit 3")
  check(ok == nil and how == "exit" and code == 3, "os.execute: " .. tostring(ok) .. " " .. tostring(how) .. " " .. tostring(code))
  check(os.execute("true") == true, "os.execute success is true")
  local p = io.popen("echo hi; exit 2")
  local out = p:read("a")
  local pok, phow, pcode = p:close()
  check(out == "hi\n" and pok == nil and phow == "exit" and pcode == 2, "popen close: " .. tostring(pcode))
  p = io.popen("printf 'a\\nb\\n'")
  local lines = {}
  for l in p:lines() do lines[#lines + 1] = l end
  check(table.concat(lines, ",") == "a,b" and p:close() == true, "popen lines and a clean close")
end

-- ---- FFI -------------------------------------------------------------------

function T.ffi_pointer_writes_the_tensor()
  local w = tensor.randn(1000, { seed = 7 })
  if not compat.luajit then
    local e = raises(function() w:ffi() end, "needs optlab's LuaJIT build (make LUA=luajit)")
    check(e:find("test_compat.lua:", 1, true), "the error names the caller's line: " .. e)
    raises(function() tensor.kernels() end, "tensor.kernels() needs optlab's LuaJIT build")
    return
  end
  local g = tensor.randn(1000, { seed = 8 })
  local want = {}
  local wt, gt = w:totable(), g:totable()
  for i = 1, #wt do want[i] = compat.f32(wt[i] - 0.01 * gt[i]) end
  local p, n = w:ffi()
  local gp = g:ffi()
  check(n == 1000 and tostring(p):find("float *", 1, true), "a float* and the element count")
  for i = 0, n - 1 do p[i] = p[i] - 0.01 * gp[i] end   -- the hand-written SGD step
  local got = w:totable()
  for i = 1, n do check(got[i] == want[i], "element " .. i .. ": " .. got[i] .. " vs " .. want[i]) end
  -- a contiguous view points at its own first element
  local m = tensor.arange(0, 12):reshape(3, 4)
  local rp, rn = m[2]:ffi()
  check(rn == 4 and rp[0] == 4 and rp[3] == 7, "row 2 of a matrix")
  rp[0] = -1
  check(m:get(2, 1) == -1, "writes land in the parent's storage")
  local e = raises(function() m:t():ffi() end, "not contiguous")
  check(e:find("test_compat.lua:", 1, true) and e:find("t:contiguous()", 1, true), e)
  raises(function() tensor.methods.ffi({}) end, "tensor")
end

function T.ffi_pointer_keeps_its_tensor_alive()
  if not compat.luajit then lib.skip("t:ffi() is LuaJIT's (its Lua 5.4 error: ffi_pointer_writes_the_tensor)") end
  local p = tensor.full({ 4096 }, 3):ffi()  -- no reference to the tensor kept
  for _ = 1, 3 do collectgarbage() end
  for _ = 1, 50 do local _ = tensor.zeros(4096) + 5 end  -- reuses freed storage if the tensor were gone
  check(p[0] == 3 and p[4095] == 3, "the tensor behind a live pointer was freed")
end

function T.ffi_kernels_match_the_tensor_ops()
  if not compat.luajit then lib.skip("tensor.kernels() is LuaJIT's (its Lua 5.4 error: ffi_pointer_writes_the_tensor)") end
  local K = tensor.kernels()
  local t = tensor.randn(10000, { seed = 3 })
  local p, n = t:ffi()
  check(compat.f32(K.ol_sum(n, p)) == t:sum():item(), "ol_sum")
  local c = t:clone()
  local cp = c:ffi()
  K.ol_clamp(n, cp, cp, -0.5, 0.5)
  lib.identical(c, t:clamp(-0.5, 0.5), "ol_clamp in place")
  local y = tensor.empty(n)
  K.ol_tanh_forward(n, p, (y:ffi()))
  lib.identical(y, t:tanh(), "ol_tanh_forward")
  -- every declared kernel resolves
  local text = require("optlab.core").ffi.cdef()
  local names = 0
  for name in text:gmatch("[%w_]+ %*?(ol_[%w_]+)%(") do
    names = names + 1
    check(pcall(function() return K[name] end), "kernel " .. name .. " is not exported")
  end
  check(names >= 10, "declarations found: " .. names)
end

-- vm/lffi.c compiles vm/ffi_cdef.h after the kernels' own headers: a declaration that
-- drifted from its kernel must stop the build. Compile it against an edited copy.
function T.ffi_declarations_are_checked_by_the_compiler()
  local root = (os.getenv("OPTLAB") or "./optlab"):match("^(.*)/build/") or "."
  local dir = os.tmpname()
  os.remove(dir)
  local function compile(edit)
    local src = assert(io.open(root .. "/vm/ffi_cdef.h")):read("a")
    local edited, n = src:gsub("double ol_sum%(int64_t n,", edit)
    check(n == 1, "ol_sum's declaration is in vm/ffi_cdef.h")
    os.execute("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/ffi_cdef.h", "w")); f:write(edited); f:close()
    f = assert(io.open(dir .. "/ffi_cdef.inc", "w")); f:write('""'); f:close()
    -- lffi.c beside the copy: #include "ffi_cdef.h" looks in the including file's folder first
    os.execute(string.format("cp %q/vm/lffi.c %q/", root, dir))
    local cmd = string.format("cd %q && cc -std=c11 -D_GNU_SOURCE -fsyntax-only -Ikernels -Ivm " ..
      "$(pkg-config --cflags %s) %q/lffi.c 2>&1", root, compat.luajit and "luajit" or "lua5.4", dir)
    local p = io.popen(cmd)
    local out = p:read("a")
    local ok = p:close()
    return ok, out
  end
  local ok, out = compile("double ol_sum(int64_t n,")
  check(ok, "the shipped declarations compile: " .. out)
  ok, out = compile("double ol_sum(int n,")
  os.execute("rm -rf " .. dir)
  check(not ok and out:find("conflicting types for", 1, true) and out:find("ol_sum", 1, true), "a drifted prototype is an error: " .. out)
end

-- The other VM's optlab, when both are built (CI: `make test`, then `make test LUA=luajit`):
-- the same training gives the same bits, and a file either writes the other reads back equal.
local CROSS = [[
local mode, path = ...
if mode == "train" then
  tensor.manual_seed(1)
  local ds = data.blobs { n = 256, centers = 3, features = 4, std = 1, seed = 1 }
  local model = nn.Sequential { input = { 4 }, nn.Dense { 16, activation = "tanh" }, nn.Dropout(0.2), nn.Dense { 3 } }
  local opt = optim.Adam { lr = schedule.cosine { initial = 0.05, steps = 24 } }
  local h = train.fit(model, opt, ds, { epochs = 3, batch_size = 32, seed = 1, verbose = 0 })
  for e = 1, 3 do io.write(string.format("%.17g %.17g %.17g\n", h.loss[e], h.accuracy[e], h.lr[e])) end
  io.write(string.format("%.17g\n", model:parameters()[1]:sum():item()))
elseif mode == "write" then
  serial.save(path, { epoch = 3, big = 2 ^ 40, x = 0.1, neg = -0.0, t = tensor.arange(0, 5), s = "ä" })
else
  local v = serial.load(path)
  io.write(string.format("%s %s %s %.17g %s %.17g %s", compat.math_type(v.epoch), compat.int_text(v.big),
    compat.math_type(v.x), v.x, tostring(1 / v.neg), v.t:sum():item(), v.s))
end
]]

function T.same_results_and_files_on_both_vms()
  local exe = os.getenv("OPTLAB") or "./optlab"
  local root = exe:match("^(.*)/build/")
  if not root then lib.skip("OPTLAB is not a build of this tree: " .. exe) end
  local other = root .. (compat.luajit and "/build/optlab" or "/build/luajit/optlab")
  if not io.open(other) then lib.skip("the other VM's optlab is not built (" .. other .. ")") end
  local script, file = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w")); f:write(CROSS); f:close()
  local function run(bin, args)
    local p = io.popen(string.format("%s --threads 1 %s %s 2>&1", bin, script, args))
    local out = p:read("a")
    check(p:close(), bin .. " " .. args .. ": " .. out)
    return out
  end
  if not lib.sanitized() then  -- the sanitizer build has other compiler flags (no -march=native)
    local here, there = run(exe, "train"), run(other, "train")
    check(here == there, "training differs between the VMs:\n" .. here .. "vs\n" .. there)
  end
  run(exe, "write " .. file)
  local want = "integer 1099511627776 float 0.10000000000000001 -inf 10 ä"
  check(run(other, "read " .. file) == want, "written here, read there: " .. run(other, "read " .. file))
  run(other, "write " .. file)
  check(run(exe, "read " .. file) == want, "written there, read here: " .. run(exe, "read " .. file))
  os.remove(script); os.remove(file)
end

return T
