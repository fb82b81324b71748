--[[ compat: the one place where Lua 5.4 and LuaJIT 2.1 differ.

optlab runs on Lua 5.4 (the default build) and on LuaJIT 2.1 (`make LUA=luajit`).
The stdlib, the experiments, the tests and the README's examples are written in the
language both share; what one of them lacks goes through this module (a global,
`compat`, loaded before every other module). The rules, for the stdlib and for user
scripts that should run on both (README, "Two VMs: Lua 5.4 and LuaJIT"):

  write                                   instead of (5.4 only)
  compat.idiv(a, b)                       a // b
  compat.is_integer(x)                    math.type(x) == "integer"   (x == math.floor(x) also works)
  compat.math_type(x)                     math.type(x), where integer-vs-float must survive a file
  compat.int_text(n)                      string.format("%d", n) of a value that may not be integral,
                                          or tostring(n) of an integer above 2^47 (LuaJIT prints %.14g)
  compat.band/bor/bxor(a, b), compat.lshift/rshift(a, n)   & | ~ << >>   (32-bit unsigned values)
  compat.pack(fmt, ...) / compat.unpack(fmt, s [, pos])     string.pack / string.unpack
  compat.f32(x)                           string.unpack("f", string.pack("f", x))
  compat.same_bits(a, b)                  string.pack("<d", a) == string.pack("<d", b)
  compat.utf8_len(s)                      utf8.len(s)
  compat.len(t)                           #t of a table with __len (a data set of your own)
  a plain local                           <const>, <close>
  a loop                                  table.move

Installed on LuaJIT with 5.4's meaning, so plain code may use them: table.pack,
table.unpack, math.tointeger (a number with an integral value, or a string holding one;
returns it, else nil), rawlen, debug.getuservalue (of a tensor), os.execute(cmd) returning
true|nil, "exit"|"signal", code, and io.popen(cmd) whose close() returns the same. goto, os.exit(code, true) and load(text, name, mode, env)
work on both as they are. Not available on LuaJIT: the utf8 library, math.type,
math.maxinteger/mininteger, integer division and bitwise operators, string.pack.

tests/lua/test_portable.lua finds 5.4-only constructs in stdlib/, experiments/, bench/ and
tests/lua/ (file:line and what to write instead), on both VMs: run it after adding code.

Numbers: LuaJIT has one number type, a double, so 3 and 3.0 are the same value and
print as "3" (5.4 prints 3.0 for a float). Whole numbers are exact up to 2^53. optlab
accepts 3.0 wherever it wants an integer, on both VMs, and its files (serial, manifests,
CSV) write whole numbers as integers on both, so a file reads back the same either way.
]]
local compat = {}

local jit = rawget(_G, "jit")
compat.luajit = jit ~= nil
compat.vm = jit and jit.version or _VERSION          -- "LuaJIT 2.1.0-beta3" or "Lua 5.4"

local floor, huge = math.floor, math.huge
local TWO53 = 9007199254740992

-- 5.4's operators, compiled only where the parser knows them.
local native = not compat.luajit and load([[
  return {
    idiv = function(a, b) return a // b end,
    band = function(a, b) return a & b end,
    bor = function(a, b) return a | b end,
    bxor = function(a, b) return a ~ b end,
    lshift = function(a, n) return (a << n) & 0xFFFFFFFF end,
    rshift = function(a, n) return (a & 0xFFFFFFFF) >> n end,
  }]])()

if compat.luajit then
  local bit, ffi = require "bit", require "ffi"
  compat.ffi = ffi

  table.pack = table.pack or function(...) return { n = select("#", ...), ... } end
  table.unpack = table.unpack or unpack
  math.tointeger = math.tointeger or function(x)
    if type(x) == "string" then x = tonumber(x) end
    if type(x) == "number" and x == floor(x) and x >= -2 ^ 63 and x < 2 ^ 63 then return x end
    return nil
  end
  rawlen = rawlen or function(v) return #v end  -- without 5.2 compat, # never calls __len on tables
  debug.getuservalue = debug.getuservalue or function(u)
    -- vm/lcompat.h: user values are environment tables; a shared empty one means none
    local v = type(u) == "userdata" and debug.getfenv(u) or nil
    if v == nil or v == debug.getregistry()["optlab.no_user_value"] then return nil end
    return v
  end

  -- Exit statuses as 5.4 reports them: os.execute(cmd) -> true|nil, "exit"|"signal", code, and
  -- the close() of an io.popen(cmd, "r") file the same (LuaJIT gives the raw wait status, or true).
  local execute, popen = os.execute, io.popen
  local function status(st)
    if st % 256 == 0 then
      local code = (st - st % 256) / 256
      if code == 0 then return true, "exit", 0 end
      return nil, "exit", code
    end
    return nil, "signal", st % 128
  end
  function os.execute(cmd)
    if cmd == nil then return execute() ~= 0 end
    return status(execute(cmd))
  end
  function io.popen(cmd, mode)
    if mode ~= nil and mode ~= "r" then return popen(cmd, mode) end
    local where = os.tmpname()
    local f, err = popen("( " .. cmd .. "\n); echo $? > '" .. where .. "'", "r")
    if not f then os.remove(where) return f, err end
    -- a pipe read and dropped without close() still removes its status file when collected
    local pipe = { cleanup = ffi.gc(ffi.new("char[1]"), function() os.remove(where) end) }
    function pipe:close()
      f:close()
      local s = io.open(where)
      local code = s and tonumber(s:read("*a"))
      if s then s:close() end
      os.remove(where)
      if not code then return nil, "exit", 1 end
      if code > 128 then return nil, "signal", code - 128 end
      return status(code * 256)
    end
    return setmetatable(pipe, { __index = function(_, k)
      local m = f[k]
      return type(m) == "function" and function(_, ...) return m(f, ...) end or m
    end })
  end

  --- floor(a / b), as 5.4's // (exact for |a| < 2^52)
  function compat.idiv(a, b) return floor(a / b) end
  -- LuaJIT's bit library works on signed 32-bit values; these return 0..2^32-1 as 5.4 would.
  local function u32(x) return x % 4294967296 end
  function compat.band(a, b) return u32(bit.band(a, b)) end
  function compat.bor(a, b) return u32(bit.bor(a, b)) end
  function compat.bxor(a, b) return u32(bit.bxor(a, b)) end
  function compat.lshift(a, n) return u32(bit.lshift(a, n)) end
  function compat.rshift(a, n) return u32(bit.rshift(a, n)) end

  local box = ffi.new("union { double d; float f; uint64_t u; int64_t i; uint8_t b[8]; }")
  function compat.f32(x) box.f = x; return tonumber(box.f) end
  function compat.same_bits(a, b)
    box.d = a; local ua = box.u
    box.d = b; return ua == box.u
  end

  -- string.pack / string.unpack for the formats optlab uses: < > = (endianness),
  -- b B h H i4 I4 i8 I8 (integers: i8/I8 beyond 2^53 unpack as int64 cdata), f d.
  local ctype = { b = "int8_t", B = "uint8_t", h = "int16_t", H = "uint16_t", i4 = "int32_t", I4 = "uint32_t",
                  i8 = "int64_t", I8 = "uint64_t", f = "float", d = "double", i = "int32_t", I = "uint32_t" }
  local little = ffi.abi("le")
  local function items(fmt)
    local out, big = {}, not little
    for c, n in fmt:gmatch("([<>=!%a])(%d*)") do
      if c == "<" then big = false
      elseif c == ">" then big = true
      elseif c == "=" then big = not little
      elseif c ~= "!" then
        local t = ctype[c .. n] or (n == "" and ctype[c])
        if not t then error("compat.pack: unsupported format item '" .. c .. n .. "' in '" .. fmt .. "'", 3) end
        out[#out + 1] = { t = t, size = ffi.sizeof(t), swap = big == little }
      end
    end
    return out
  end
  local function bytes(s, swap) return swap and s:reverse() or s end
  function compat.pack(fmt, ...)
    local out = {}
    for k, it in ipairs(items(fmt)) do
      local v = select(k, ...)
      if type(v) ~= "number" and type(v) ~= "cdata" then
        error("compat.pack: argument " .. (k + 1) .. " is not a number (" .. fmt .. ")", 2)
      end
      local c = ffi.new(it.t, v)
      out[k] = bytes(ffi.string(ffi.cast("const uint8_t *", ffi.new(it.t .. "[1]", c)), it.size), it.swap)
    end
    return table.concat(out)
  end
  function compat.unpack(fmt, s, pos)
    pos = pos or 1
    local out = {}
    for k, it in ipairs(items(fmt)) do
      local chunk = s:sub(pos, pos + it.size - 1)
      if #chunk < it.size then error("compat.unpack: data string too short", 2) end
      local buf = ffi.new("uint8_t[?]", it.size)
      ffi.copy(buf, bytes(chunk, it.swap), it.size)
      local v = ffi.cast(it.t .. " *", buf)[0]
      if it.size == 8 and (it.t == "int64_t" or it.t == "uint64_t") then
        if v < TWO53 and (it.t == "uint64_t" or v > -TWO53) then v = tonumber(v) end
      else
        v = tonumber(v)
      end
      out[k] = v
      pos = pos + it.size
    end
    out[#out + 1] = pos
    return unpack(out)
  end
else
  compat.idiv, compat.band, compat.bor, compat.bxor = native.idiv, native.band, native.bor, native.bxor
  compat.lshift, compat.rshift = native.lshift, native.rshift
  compat.pack, compat.unpack = string.pack, string.unpack
  function compat.f32(x) return (string.unpack("f", string.pack("f", x))) end
  function compat.same_bits(a, b) return string.pack("<d", a) == string.pack("<d", b) end
end

--- x is a number with a whole value in int64 range (3 and 3.0 alike)
function compat.is_integer(x)
  return type(x) == "number" and x == floor(x) and x >= -2 ^ 63 and x < 2 ^ 63
end

--- "integer", "float" or nil, as math.type. On LuaJIT a whole number below 2^53 in size is
--- "integer" (-0 is "float"): the range where every integer is exact, so a value saved there
--- reads back equal on both VMs, and integer text beyond it can be refused instead of rounded.
if compat.luajit then
  function compat.math_type(x)
    if type(x) ~= "number" then return nil end
    if x == floor(x) and x > -TWO53 and x < TWO53 and not (x == 0 and 1 / x < 0) then return "integer" end
    return "float"
  end
else
  compat.math_type = math.type
end

--- the decimal text of a whole number (string.format("%d") on both VMs)
function compat.int_text(n)
  if n ~= n or n == huge or n == -huge then error("compat.int_text: " .. tostring(n) .. " is not a whole number", 2) end
  return string.format("%d", n)
end

--- #v, calling a table's __len as 5.4 does (LuaJIT's # ignores __len on tables)
function compat.len(v)
  local mt = type(v) == "table" and getmetatable(v)
  if mt and mt.__len then return mt.__len(v) end
  return #v
end

--- length in UTF-8 characters (bytes that do not continue a sequence)
function compat.utf8_len(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

return compat
