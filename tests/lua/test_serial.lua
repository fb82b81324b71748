-- serial: exact round trips of plain values and of values holding tensors,
-- and hostile input (code, deep nesting, truncation, garbage) rejected by
-- the parser with an error naming the source and offset, never executed.
local lib = require "lib"
local serial = require "serial"
local check, raises, identical = lib.check, lib.raises, lib.identical

local T = {}

local function bits(v) return compat.pack("<d", v) end

-- deep equality that tells integers from floats and compares floats by bits
-- (on LuaJIT, which has no integer subtype, "integer" is a whole number below 2^53)
local function same(a, b, where)
  where = where or "value"
  if type(a) ~= type(b) then error(where .. ": " .. type(a) .. " vs " .. type(b), 2) end
  if type(a) == "number" then
    local ta, tb = compat.math_type(a), compat.math_type(b)
    if ta ~= tb then error(where .. ": " .. ta .. " vs " .. tb, 2) end
    local ok
    if ta == "integer" then ok = a == b else ok = bits(a) == bits(b) or (a ~= a and b ~= b) end
    if not ok then error(string.format("%s: %s vs %s", where, tostring(a), tostring(b)), 2) end
  elseif type(a) == "table" then
    for k, v in pairs(a) do same(v, b[k], where .. "." .. tostring(k)) end
    for k in pairs(b) do if a[k] == nil then error(where .. ": extra key " .. tostring(k), 2) end end
  elseif a ~= b then
    error(string.format("%s: %q vs %q", where, tostring(a), tostring(b)), 2)
  end
end

local function round(v) return serial.decode(serial.encode(v)) end

local tmp_path = os.tmpname

function T.numbers_round_trip_exactly_and_integers_stay_integers()
  for _, v in ipairs { 0, 1, -1, 42, math.maxinteger or 2 ^ 53, math.mininteger or -2 ^ 53, 1.0, 0.0, 0.1, 1 / 3, 2 / 3, -2.5, 1e300,  -- 5.4 only
                       -1e-300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 123456789.125,
                       0.19248300793658557, 2 ^ 53, 2 ^ 53 + 2, 1e15, 1e16, 1e17, 3e-5 } do
    same(round(v), v, "number " .. tostring(v))
  end
  if compat.luajit then  -- one number type: 3.0 is 3, written as an integer
    check(serial.encode(3.0) == "3" and round(3.0) == 3 and serial.encode(2 ^ 53 + 2) ~= "9007199254740994", "3.0 is 3")
    -- integer text LuaJIT cannot hold exactly is refused, not rounded
    lib.raises(function() serial.decode("9007199254740993", "t") end, "an integer of 2^53 or more")
    check(serial.decode("9007199254740991", "t") == 2 ^ 53 - 1, "the largest exact integer")
  else
    check(math.type(round(3)) == "integer" and math.type(round(3.0)) == "float", "3 vs 3.0")  -- 5.4 only
    check(serial.encode(2.0) == "2.0", "2.0 stays a float")
  end
  check(serial.shortest(0.1) == "0.1" and serial.encode(0.1) == "0.1", "shortest decimal")
  local z = round(-0.0)
  check(z == 0 and 1 / z == -math.huge, "-0.0 keeps its sign")
  local nan = round(0 / 0)
  check(nan ~= nan, "NaN")
  check(round(math.huge) == math.huge and round(-math.huge) == -math.huge, "infinities")
  -- 20000 doubles from arbitrary bit patterns (a fixed LCG), every one bit-exact
  local x = compat.luajit and compat.ffi.new("uint64_t", 88172645463325252) or 88172645463325252  -- wraps mod 2^64
  for i = 1, 20000 do
    x = x * 6364136223846793005 + 1442695040888963407
    local d = compat.unpack("<d", compat.pack("<i8", x))
    if d == d then same(round(d), d, "double #" .. i) end
  end
end

function T.strings_with_quotes_newlines_and_every_byte_round_trip()
  local all = {}
  for b = 0, 255 do all[#all + 1] = string.char(b) end
  all = table.concat(all)
  for _, s in ipairs { "", "plain", 'say "hi"', "back\\slash", "a\nb\r\nc\td", "\0\1\127", all, all:rep(3),
                       "]]=]", "@\"t1\"", "{1,2}", "(0/0)" } do
    same(round(s), s, "string")
  end
  local text = serial.encode("a\nb\0")
  check(not text:find("[%z\1-\31\127]"), "the text holds no control bytes: " .. text)
end

function T.nested_tables_round_trip_in_a_deterministic_text()
  local v = {
    1, 2.5, "three", { true, false }, {},
    name = "adam", [0] = "zero", [-7] = -7, [100] = { deep = { deeper = { 0.1 } } },
    [""] = "empty key", ["with space"] = { [1] = 1, [3] = 3 },
    history = { loss = { 0.5, 0.25, 1 / 3 }, acc = { 0.1, 0.9 } },
  }
  same(round(v), v, "nested")
  -- insertion order does not change the text
  local a, b = {}, {}
  for i = 1, 50 do a["k" .. i] = i; a[i * 3] = i * 0.5 end
  for i = 50, 1, -1 do b[i * 3] = i * 0.5; b["k" .. i] = i end
  check(serial.encode(a) == serial.encode(b), "same value, same text")
  -- the documented layout: the list part, then integer keys, then string keys
  check(serial.encode { 3, 1.5, a = "x\"", [10] = true, [-1] = 0 / 0 } == '{3,1.5,[-1]=(0/0),[10]=true,["a"]="x\\""}',
    serial.encode { 3, 1.5, a = "x\"", [10] = true, [-1] = 0 / 0 })
  -- hand-written text with blanks and a trailing comma parses too
  same(serial.decode(' {\n  1 ,\t2,\r\n  ["a"] = { [3] = -4e2 , } ,\n}\n', "hand"), { 1, 2, a = { [3] = -400.0 } })
  check(serial.decode("nil") == nil and serial.decode("true") == true and serial.decode(" false ") == false, "literals")
end

function T.encode_refuses_what_it_cannot_read_back()
  raises(function() serial.encode { f = print } end, "'f' is a function")
  local cyc = {}
  cyc.self = { up = cyc }
  raises(function() serial.encode(cyc) end, "contains itself")
  raises(function() serial.encode { [1.5] = 1 } end, "float key")
  raises(function() serial.encode { [true] = 1 } end, "boolean key")
  raises(function() serial.encode { w = tensor.zeros(2) } end, "serial.save")
  local deep = {}
  for _ = 1, serial.max_depth + 1 do deep = { deep } end
  raises(function() serial.encode(deep) end, "nested deeper than")
  -- a table shared twice (not a cycle) is fine
  local shared = { 1 }
  same(round { shared, shared }, { { 1 }, { 1 } }, "shared")
end

-- Each hostile text is refused by the parser: named source, byte offset,
-- and no side effect (a hook would set SERIAL_RAN if anything executed).
local HOSTILE = {
  { "(function() SERIAL_RAN = true; while true do end end)()", "expected a value at byte 1" },
  { "os.exit(1)", "expected a value at byte 1" },
  { "{x = os.exit(1)}", "expected a value at byte 2" },
  { "{1, 2, SERIAL_RAN}", "expected a value at byte 8" },
  { string.rep("{", 100000) .. string.rep("}", 100000), "nested deeper than 200" },
  { string.rep("{", 100000), "nested deeper than 200" },
  { '{1, 2, ["a"]="x"', "the text ends there: truncated?" },
  { '"unfinished', "unfinished string at byte 1" },
  { "{1,2} garbage", "unexpected text after the value at byte 7" },
  { "1 2", "unexpected text after the value at byte 3" },
  { "{[1]=1, 2, [1]=3}", "given twice" },
  { "{1, [1]=3}", "given twice" },
  { "{[1.5]=1}", "float as a table key" },
  { "{[true]=1}", "expected a string or an integer key" },
  { "{nil}", "a nil table entry" },
  { '{["a"]=nil}', "a nil table entry" },
  { "{,}", "expected a value" },
  { "{1,,2}", "expected a value" },
  { '"a\\q"', "bad escape" },
  { '"a\\x4"', "bad escape" },
  { '"line\nbreak"', "raw control byte" },
  { "99999999999999999999", compat.luajit and "2^53 or more" or "out of the 64-bit range" },
  { "0x10", "unexpected text after the value" },
  { "1e", "unexpected text after the value" },
  { "--[[comment]] 1", "expected a value" },
  { "[[long string]]", "expected a value" },
  { '@"t1"', "tensor reference outside a tensor file" },
  { "", "expected a value at byte 1" },
}

function T.hostile_texts_are_refused_without_running_anything()
  for _, h in ipairs(HOSTILE) do
    local e = raises(function() serial.decode(h[1], "job-7.lua") end, h[2], h[1]:sub(1, 40))
    check(e:find("job-7.lua", 1, true), "names where: " .. e)
    check(e:find("at byte %d+"), "names the offset: " .. e)
  end
  check(rawget(_G, "SERIAL_RAN") == nil, "nothing executed")
  -- every proper prefix of a valid text is an error, never a value
  local text = serial.encode { a = { 1, 2.5, "x\ny" }, b = { c = { d = true } }, [3] = -0.0 }
  for n = 0, #text - 1 do
    raises(function() serial.decode(text:sub(1, n), "prefix") end, "serial.decode: prefix", "prefix " .. n)
  end
  -- the size limits hold
  local saved = serial.max_items
  serial.max_items = 1000
  raises(function() serial.decode("{" .. string.rep("1,", 2000) .. "}", "big") end, "more than serial.max_items")
  serial.max_items = saved
  saved = serial.max_text
  serial.max_text = 100
  raises(function() serial.decode(string.rep(" ", 101) .. "1", "long") end, "more than serial.max_text")
  raises(function() serial.encode(string.rep("x", 200)) end, "more than serial.max_text")
  serial.max_text = saved
  raises(function() serial.decode(nil, "missing") end, "expected a text")
end

function T.values_with_tensors_are_one_tensor_file()
  local path = tmp_path()
  local w = tensor.randn(3, 4)
  local v = {
    model = { w = w, b = tensor.from { 1, 2, 3 }, scalar = tensor.from(7) },
    view = w:t(),                       -- non-contiguous
    tied = { w, w },                    -- one tensor held twice
    empty = tensor.zeros(0, 5),
    epoch = 3, lr = 0.1, name = "run \"1\"\n", flags = { true, false },
  }
  serial.save(path, v)
  local back = serial.load(path)
  identical(back.model.w, w, "w")
  identical(back.model.b, v.model.b, "b")
  check(back.model.scalar:dim() == 0 and back.model.scalar:item() == 7, "0-d")
  identical(back.view, w:t(), "non-contiguous view")
  check(back.tied[1] == back.tied[2] and back.tied[1] == back.model.w, "a shared tensor stays shared")
  check(back.empty:size(1) == 0 and back.empty:size(2) == 5, "empty")
  same({ back.epoch, back.lr, back.name, back.flags }, { v.epoch, v.lr, v.name, v.flags }, "plain part")
  -- the file is a tensor file whose records are named by where they sit
  local recs, meta = tensor.load(path)
  local names = {}
  for k in pairs(recs) do names[#names + 1] = k end
  table.sort(names)
  check(table.concat(names, " ") == "empty model.b model.scalar model.w view", table.concat(names, " "))
  check(type(meta) == "string" and meta:find('@"model.w"', 1, true), "references in the text")
  -- same value, same bytes
  local f = io.open(path, "rb"); local b1 = f:read("a"); f:close()
  serial.save(path, v)
  f = io.open(path, "rb"); local b2 = f:read("a"); f:close()
  check(b1 == b2, "deterministic file")
  -- a lone tensor and a value without tensors
  serial.save(path, w)
  identical(serial.load(path), w, "lone tensor")
  serial.save(path, { 1, 2, { x = "y" } })
  same(serial.load(path), { 1, 2, { x = "y" } }, "no tensors")
  -- a key that looks like a path does not collide with the real path
  local t1, t2 = tensor.from { 1 }, tensor.from { 2 }
  serial.save(path, { ["a.b"] = t1, a = { b = t2 } })
  local c = serial.load(path)
  identical(c["a.b"], t1, "dotted key")
  identical(c.a.b, t2, "nested key")
  os.remove(path)
end

-- A file whose meta text is `code` (written with tensor.save's meta argument,
-- so the checksum is valid and only the parser stands in the way).
local function hostile_file(path, code, tensors)
  tensor.save(path, tensors or {}, code)
end

function T.hostile_checkpoint_and_optimizer_files_are_refused()
  local path = tmp_path()
  local cases = {
    { "(function() SERIAL_RAN = true; while true do end end)()", "expected a value at byte 1" },
    { "os.exit(1)", "expected a value at byte 1" },
    { string.rep("{", 100000) .. string.rep("}", 100000), "nested deeper than 200" },
    { '{["version"]=1,["epoch"]=2', "truncated" },
    { '{["version"]=1} os.exit(1)', "unexpected text after the value" },
  }
  local opt = optim.Adam { lr = 0.01 }
  for _, h in ipairs(cases) do
    hostile_file(path, h[1])
    local e = raises(function() serial.load(path) end, h[2], "serial.load " .. h[1]:sub(1, 30))
    check(e:find(path, 1, true), "names the file: " .. e)
    raises(function() train.load_state(path) end, h[2], "checkpoint " .. h[1]:sub(1, 30))
    raises(function() opt:load(path) end, h[2], "optimizer " .. h[1]:sub(1, 30))
  end
  check(rawget(_G, "SERIAL_RAN") == nil, "nothing executed")
  -- references and records must match
  hostile_file(path, '{["w"]=@"missing"}', { w = tensor.zeros(2) })
  raises(function() serial.load(path) end, "tensor 'missing', which the file does not hold")
  hostile_file(path, '{["w"]=@"w"}', { w = tensor.zeros(2), x = tensor.zeros(1) })
  raises(function() serial.load(path) end, "holds tensor 'x' that its value does not refer to")
  -- plain tensor files, and checkpoints of the old layout
  tensor.save(path, { w = tensor.zeros(2) })
  raises(function() serial.load(path) end, "holds only tensors")
  tensor.save(path, { __meta__ = tensor.zeros(4), t1 = tensor.zeros(2) })
  raises(function() train.load_state(path) end, "older optlab")
  -- well-formed text of the wrong shape: a clear error from the module
  hostile_file(path, '{["name"]="Adam",["t"]=3,["state"]={{["m"]=5}}}')
  raises(function() opt:load(path) end, "state 'm' of parameter 1 is not a tensor")
  hostile_file(path, '{["name"]="SGD",["t"]=3}')
  raises(function() opt:load(path) end, "cannot load the state of a SGD optimizer")
  hostile_file(path, '{["version"]=1,["epoch"]=2,["step"]=0,["history"]={["epoch"]={1,2},["loss"]={1,1}},["callbacks"]={},' ..
                     '["rng"]={["seed"]=1,["stream"]=0},["params"]={5}}')
  raises(function() train.load_state(path) end, "checkpoint params[1] is not a tensor")
  hostile_file(path, '{["version"]=1,["epoch"]="2"}')
  raises(function() train.load_state(path) end, 'field epoch is "2"; expected an integer >= 0')
  hostile_file(path, '{["version"]=2}')
  raises(function() train.load_state(path) end, "not a version 1 training checkpoint")
  os.remove(path)
end

-- 1e999 was read as infinity, which the grammar writes (1/0): one value, one spelling.
function T.numbers_beyond_the_float_range_are_refused()
  for _, text in ipairs { "1e999", "-1e999", "{1, 2.5e400}", "{[\"x\"] = 99999e99999}" } do
    local e = raises(function() serial.decode(text, "state.txt") end, "a number beyond the float range", text)
    check(e:find("state.txt", 1, true) and e:find("at byte %d+"), "names where: " .. e)
  end
  check(serial.decode("(1/0)", "inf") == math.huge and serial.decode("(-1/0)", "inf") == -math.huge, "(1/0) still reads")
  check(serial.decode("1e-999", "tiny") == 0, "an underflow is 0, as strtod gives")
  check(serial.decode("1.7976931348623157e308", "max") == 1.7976931348623157e308, "the largest double reads")
end

return T
