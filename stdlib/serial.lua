-- Plain values <-> text, and values holding tensors <-> one tensor file.
-- Checkpoints, optimizer state files and experiment job/result files all
-- go through here. The text looks like a Lua table constructor so a person
-- can read it, but it is only ever PARSED by the grammar below, never loaded
-- as code: a file from elsewhere cannot run anything, and its nesting depth,
-- text size and item count are bounded.
--
--   value  := 'nil' | 'true' | 'false' | number | string | table | tensor
--   number := '-'? digits                              an integer (must fit 64 bits)
--           | '-'? digits ('.' digits)? ([eE] [+-]? digits)?   a float, with '.' or exponent
--           | '(0/0)' | '(1/0)' | '(-1/0)'             NaN, +inf, -inf
--   string := '"' (byte other than '"', '\' or a control byte
--                 | '\' ('\' | '"' | 'n' | 'r' | 't' | 'x' hex hex))* '"'
--   table  := '{' (item (',' item)* ','?)? '}'
--   item   := value | '[' (string | integer) ']' '=' value    (no key twice, no nil)
--   tensor := '@' string       (serial.load only: the file's tensor of that name)
-- Blanks (space, tab, CR, LF) may separate tokens.
local C = require "optlab.core"

local serial = {}

-- Limits a decoded text must respect (a hostile file cannot exhaust memory
-- or the stack); encode refuses values that would break them.
serial.max_depth = 200           -- nested tables
serial.max_text = 67108864         -- bytes of text (64 MiB)
serial.max_items = 4194304         -- values in all (4 Mi)

local function fail(msg) C.raise(msg) end

-- serial.readable(x [, decimals = 4]) -> how a loss or metric prints in
-- progress lines and tables: "%.4f", or "%.4e" beyond 1e6 in magnitude (a
-- diverging loss of 1e30 would print as 34 digits); nan, inf, -inf.
function serial.readable(x, decimals)
  decimals = decimals or 4
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" elseif x == -math.huge then return "-inf" end
  if math.abs(x) >= 1e6 then return string.format("%." .. decimals .. "e", x) end
  return string.format("%." .. decimals .. "f", x)
end

---------------------------------------------------------------- encode

-- serial.shortest(x) -> the shortest of %.15g, %.16g, %.17g that reads back
-- as the same finite double (%.17g always does). CSV cells use it too.
function serial.shortest(v)
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

-- a float always shows '.' or an exponent, so 1.0 reads back as a float
local function float_text(v)
  if v ~= v then return "(0/0)" end
  if v == math.huge then return "(1/0)" elseif v == -math.huge then return "(-1/0)" end
  local s = serial.shortest(v)
  if not s:find("[.e]") then s = s .. ".0" end
  return s
end

local ESC = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function string_text(s)
  return '"' .. s:gsub('[%z\1-\31\127"\\]', function(c) return ESC[c] or string.format("\\x%02x", c:byte()) end) .. '"'
end

-- integer keys first, ascending, then string keys in byte order
local function key_less(a, b)
  local ia, ib = compat.math_type(a) == "integer", compat.math_type(b) == "integer"
  if ia ~= ib then return ia end
  return a < b
end

-- "state.1.m": where a value sits, for error messages and tensor names
local function path_of(keys, depth)
  if depth == 0 then return "value" end
  local parts = {}
  for i = 1, depth do parts[i] = tostring(keys[i]) end
  return table.concat(parts, ".")
end

local function encode(v, ctx, depth)
  local out, t = ctx.out, type(v)
  if t == "nil" or t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "number" then out[#out + 1] = compat.math_type(v) == "integer" and string.format("%d", v) or float_text(v)
  elseif t == "string" then out[#out + 1] = string_text(v)
  elseif C.is_tensor(v) then
    if not ctx.tensors then
      fail(string.format("%s: '%s' is a tensor: serial.save(path, value) stores values with tensors", ctx.who, path_of(ctx.keys, depth)))
    end
    out[#out + 1] = "@" .. string_text(ctx.tensor_name(v, path_of(ctx.keys, depth)))
  elseif t == "table" then
    if ctx.open[v] then fail(string.format("%s: '%s' contains itself (a cycle)", ctx.who, path_of(ctx.keys, depth))) end
    if depth >= serial.max_depth then
      fail(string.format("%s: '%s' is nested deeper than %d tables", ctx.who, path_of(ctx.keys, depth), serial.max_depth))
    end
    ctx.open[v] = true
    out[#out + 1] = "{"
    local n, keys = 0, {}
    while rawget(v, n + 1) ~= nil do n = n + 1 end
    for k in next, v do
      if compat.math_type(k) == "integer" then
        if k < 1 or k > n then keys[#keys + 1] = k end
      elseif type(k) == "string" then keys[#keys + 1] = k
      else
        fail(string.format("%s: '%s' has a %s key (%s): keys must be strings or integers", ctx.who,
          path_of(ctx.keys, depth), compat.math_type(k) or type(k), tostring(k)))
      end
    end
    table.sort(keys, key_less)
    local first = true
    for i = 1, n do
      if not first then out[#out + 1] = "," end
      first = false
      ctx.keys[depth + 1] = i
      encode(rawget(v, i), ctx, depth + 1)
    end
    for _, k in ipairs(keys) do
      if not first then out[#out + 1] = "," end
      first = false
      out[#out + 1] = "[" .. (type(k) == "string" and string_text(k) or string.format("%d", k)) .. "]="
      ctx.keys[depth + 1] = k
      encode(rawget(v, k), ctx, depth + 1)
    end
    out[#out + 1] = "}"
    ctx.open[v] = nil
  else
    fail(string.format("%s: '%s' is a %s, which cannot be stored", ctx.who, path_of(ctx.keys, depth), t))
  end
end

local function encode_text(value, ctx)
  ctx.out, ctx.keys, ctx.open = {}, {}, {}
  encode(value, ctx, 0)
  local text = table.concat(ctx.out)
  if #text > serial.max_text then
    fail(string.format("%s: the value needs %d bytes of text, more than serial.max_text (%d)", ctx.who, #text, serial.max_text))
  end
  return text
end

-- serial.encode(value) -> text: nil, booleans, numbers (integers stay
-- integers, floats exact), strings and tables of them with string or
-- integer keys; the same value always gives the same text.
function serial.encode(value)
  return encode_text(value, { who = "serial.encode" })
end

---------------------------------------------------------------- decode

local LITERALS = { { "nil", nil }, { "true", true }, { "false", false },
                   { "(0/0)", 0 / 0 }, { "(1/0)", 1 / 0 }, { "(-1/0)", -1 / 0 } }
local UNESC = { [0x5C] = "\\", [0x22] = '"', [0x6E] = "\n", [0x72] = "\r", [0x74] = "\t" }

local function decode(text, where, tensors, used)
  if type(text) ~= "string" then fail(string.format("serial.decode: %s: expected a text, got %s", where, type(text))) end
  if #text > serial.max_text then
    fail(string.format("serial.decode: %s: %d bytes of text, more than serial.max_text (%d)", where, #text, serial.max_text))
  end
  local pos, len, items = 1, #text, 0
  local max_depth, max_items = serial.max_depth, serial.max_items

  local function err(msg, at)
    at = at or pos
    local near = at > len and "the text ends there: truncated?" or "near " .. string_text(text:sub(at, at + 15))
    fail(string.format("serial.decode: %s: %s at byte %d (%s)", where, msg, at, near))
  end
  local function skip() pos = text:find("[^ \t\r\n]", pos) or len + 1 end
  local function expect(byte, what)
    skip()
    if text:byte(pos) ~= byte then err("expected " .. what) end
    pos = pos + 1
  end

  local function str()
    local start, parts, i = pos, {}, pos + 1
    while true do
      local j = text:find('[%z\1-\31\127"\\]', i)
      if not j then err("unfinished string", start) end
      parts[#parts + 1] = text:sub(i, j - 1)
      local c = text:byte(j)
      if c == 0x22 then
        pos = j + 1
        return table.concat(parts)
      elseif c ~= 0x5C then
        err("a raw control byte in a string (write it as \\xHH)", j)
      end
      local e = text:byte(j + 1)
      if UNESC[e] then
        parts[#parts + 1], i = UNESC[e], j + 2
      elseif e == 0x78 and text:find("^%x%x", j + 2) then
        parts[#parts + 1], i = string.char(tonumber(text:sub(j + 2, j + 3), 16)), j + 4
      else
        err("a bad escape in a string", j)
      end
    end
  end

  local function num()
    local start = pos
    local _, e = text:find("^-?%d+", pos)
    if not e then err("expected a value") end
    local f = select(2, text:find("^%.%d+", e + 1)) or e
    f = select(2, text:find("^[eE][+-]?%d+", f + 1)) or f
    local n = tonumber(text:sub(pos, f))
    if f == e and n ~= 0 and compat.math_type(n) ~= "integer" then
      err(compat.luajit and "an integer of 2^53 or more (LuaJIT's exact range)" or "an integer out of the 64-bit range")
    end
    pos = f + 1
    -- digits that round to infinity (1e999): the grammar writes infinity as (1/0)
    if n == math.huge or n == -math.huge then err("a number beyond the float range (infinity is written (1/0))", start) end
    return n
  end

  local value
  local function table_(depth)
    if depth >= max_depth then err(string.format("tables nested deeper than %d", max_depth)) end
    pos = pos + 1
    local t, n = {}, 0
    skip()
    while text:byte(pos) ~= 0x7D do
      local at, k, v = pos, nil, nil
      if text:byte(pos) == 0x5B then
        pos = pos + 1
        skip()
        local c = text:byte(pos)
        if c == 0x22 then k = str()
        elseif c == 0x2D or (c and c >= 0x30 and c <= 0x39) then
          k = num()
          if compat.math_type(k) ~= "integer" then err("a float as a table key (keys are strings or integers)", at + 1) end
        else
          err("expected a string or an integer key")
        end
        expect(0x5D, "']'")
        expect(0x3D, "'='")
        v = value(depth + 1)
      else
        n = n + 1
        k, v = n, value(depth + 1)
      end
      if v == nil then err("a nil table entry", at) end
      if rawget(t, k) ~= nil then err("the key " .. tostring(k) .. " given twice in one table", at) end
      t[k] = v
      skip()
      local c = text:byte(pos)
      if c == 0x2C then pos = pos + 1; skip()
      elseif c ~= 0x7D then err("expected ',' or '}'") end
    end
    pos = pos + 1
    return t
  end

  function value(depth)
    skip()
    items = items + 1
    if items > max_items then err(string.format("more than serial.max_items (%d) values", max_items)) end
    local c = text:byte(pos)
    if c == 0x7B then return table_(depth)
    elseif c == 0x22 then return str()
    elseif c == 0x2D or (c and c >= 0x30 and c <= 0x39) then return num()
    elseif c == 0x40 then
      if not tensors then err("a tensor reference outside a tensor file") end
      local at = pos
      pos = pos + 1
      if text:byte(pos) ~= 0x22 then err("expected a tensor name (a string)") end
      local name = str()
      local t = tensors[name]
      if not t then err(string.format("a reference to tensor '%s', which the file does not hold", name), at) end
      used[name] = true
      return t
    end
    for _, lit in ipairs(LITERALS) do
      local word = lit[1]
      if text:sub(pos, pos + #word - 1) == word then
        pos = pos + #word
        return lit[2]
      end
    end
    err("expected a value")
  end

  local v = value(0)
  skip()
  if pos <= len then err("unexpected text after the value") end
  return v
end

-- serial.decode(text[, where]) -> value: reads serial.encode's text back.
-- Malformed text (or text beyond the limits above) is an error naming
-- `where` and the byte offset; nothing in the text is ever executed.
function serial.decode(text, where)
  return decode(text, where or "text")
end

---------------------------------------------------------------- files with tensors

-- serial.save(path, value): a value that may hold tensors, as ONE tensor
-- file (atomic, checksummed; vm/lserialize.c): each tensor a record named
-- by where it sits ("state.1.m"; a tensor held twice is stored once), the
-- rest serial.encode's text in the file's meta string.
function serial.save(path, value)
  local map, names = {}, {}
  local ctx = { who = "serial.save", tensors = map }
  function ctx.tensor_name(t, name)
    if names[t] then return names[t] end
    local base, k = name, 1
    while map[name] do k = k + 1; name = base .. "#" .. k end
    map[name], names[t] = t, name
    return name
  end
  C.serial.save(path, map, encode_text(value, ctx))
end

-- serial.load(path) -> value: reads serial.save's file back; every tensor
-- record must be referred to by the text and every reference must exist.
function serial.load(path)
  local tensors, text = C.serial.load(path)
  if C.is_tensor(tensors) then tensors = { [""] = tensors } end
  if text == nil then
    if tensors.__meta__ then
      fail(string.format("serial.load: '%s' was written by an older optlab (metadata in a '__meta__' tensor), "
        .. "which is no longer read: save it again", path))
    end
    fail(string.format("serial.load: '%s' holds only tensors (tensor.save), not a value saved by serial.save", path))
  end
  local used = {}
  local value = decode(text, "'" .. path .. "'", tensors, used)
  local extra = {}
  for name in pairs(tensors) do if not used[name] then extra[#extra + 1] = name end end
  if #extra > 0 then
    table.sort(extra)
    fail(string.format("serial.load: '%s' holds tensor '%s' that its value does not refer to", path, extra[1]))
  end
  return value
end

-- ---- help ------------------------------------------------------------------
local help = require "help"
do
  help.register(serial, "serial  values to text and files, parsed by a small grammar and never run as Lua")
  help.register(serial.encode, "serial.encode(value) -> text  nil, booleans, numbers (exact), strings and tables of them")
  help.register(serial.decode, "serial.decode(text [, where]) -> value  reads serial.encode's text back; malformed text is an error")
  help.register(serial.save, "serial.save(path, value)  a value that may hold tensors, as one atomic, checksummed file")
  help.register(serial.load, "serial.load(path) -> value  reads serial.save's file back")
  help.register(serial.readable, "serial.readable(x [, decimals = 4]) -> text  %.4f, or %.4e beyond 1e6 (progress lines and tables)")
  help.register(serial.shortest, "serial.shortest(x) -> text  the shortest of %.15g/%.16g/%.17g that reads back as x")
end

return serial
