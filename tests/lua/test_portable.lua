-- The stdlib (its sub-folders too), the experiments, the benchmarks and the tests are written in the language Lua 5.4
-- and LuaJIT 2.1 share (README, "Writing scripts that run on both"): this test names the file
-- and line of anything else, so code written for one VM is caught by the other's CI run too.
-- stdlib/compat.lua is the one file allowed to use what only one VM has; a test line that does
-- so on purpose (behind `if not compat.luajit`) ends with the comment `-- 5.4 only`.
local lib = require "lib"
local check = lib.check

local T = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ROOT = io.popen("cd '" .. here .. "/../..' && pwd"):read("l")

local function files()
  local out = {}
  local p = io.popen("cd '" .. ROOT .. "' && ls stdlib/*.lua stdlib/*/*.lua experiments/*.lua bench/*.lua tests/lua/*.lua 2>/dev/null")
  for f in p:lines() do
    if f ~= "stdlib/compat.lua" then out[#out + 1] = f end
  end
  p:close()
  return out
end

-- The source with comments and string literals blanked out (newlines kept, so lines still count).
local function code_only(src)
  local out, i, n = {}, 1, #src
  local function blank(s) return (s:gsub("[^\n]", " ")) end
  while i <= n do
    local c = src:sub(i, i)
    local long = src:match("^%-%-%[(=*)%[", i) or src:match("^%[(=*)%[", i)
    if src:sub(i, i + 1) == "--" then
      local eq = src:match("^%-%-%[(=*)%[", i)
      local j
      if eq then
        j = select(2, src:find("]" .. eq .. "]", i, true)) or n
      else
        j = (src:find("\n", i, true) or n + 1) - 1
      end
      out[#out + 1] = blank(src:sub(i, j)); i = j + 1
    elseif long then
      local j = select(2, src:find("]" .. long .. "]", i, true)) or n
      out[#out + 1] = blank(src:sub(i, j)); i = j + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = src:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "\n" then break
        else j = j + 1 end
      end
      out[#out + 1] = c .. blank(src:sub(i + 1, j - 1)) .. c; i = j + 1
    else
      out[#out + 1] = c; i = i + 1
    end
  end
  return table.concat(out)
end

-- What only Lua 5.4 has, as it appears in code (after comments and strings are gone).
local ONLY_54 = {
  { "//", "integer division: compat.idiv(a, b)" },
  { "<<", "shift: compat.lshift" }, { ">>", "shift: compat.rshift" },
  { "[^~]~[^=]", "bitwise xor: compat.bxor" }, { "[^&]&[^&]", "bitwise and: compat.band" },
  { "|", "bitwise or: compat.bor" },
  { "<const>", "a plain local" }, { "<close>", "a plain local and an explicit close" },
  { "math%.type%s*%(", "compat.is_integer or compat.math_type" },
  { "math%.maxinteger", "2^53 - 1 is LuaJIT's largest exact integer" }, { "math%.mininteger", "-(2^53 - 1)" },
  { "string%.pack", "compat.pack" }, { "string%.unpack", "compat.unpack" },
  { "utf8%.", "compat.utf8_len (LuaJIT has no utf8 library)" },
}

function T.stdlib_experiments_benchmarks_and_tests_use_the_common_language()
  local bad = {}
  for _, f in ipairs(files()) do
    local src = assert(io.open(ROOT .. "/" .. f)):read("a")
    local lines = {}
    for l in (src .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
    local ln = 0
    for line in (code_only(src) .. "\n"):gmatch("(.-)\n") do
      ln = ln + 1
      for _, rule in ipairs(ONLY_54) do
        if (" " .. line .. " "):find(rule[1]) and not lines[ln]:find("%-%- 5%.4 only%s*$") then
          bad[#bad + 1] = string.format("%s:%d: %s  -> %s", f, ln, lines[ln]:gsub("^%s+", ""), rule[2])
        end
      end
    end
    if compat.luajit then  -- the parser itself is the final word
      local ok, err = loadfile(ROOT .. "/" .. f)
      if not ok then bad[#bad + 1] = "LuaJIT cannot parse it: " .. err end
    end
  end
  check(#bad == 0, "Lua 5.4 only (see stdlib/compat.lua):\n  " .. table.concat(bad, "\n  "))
end

-- The scanner itself: what it must find, and what it must leave alone.
function T.the_scanner_sees_code_not_comments_or_strings()
  local code = code_only("local a = 7 // 2 -- 1 // 2\nlocal s = \"a // b\" .. [[x << y]]\n--[==[ math.type( ]==] x = 1")
  check(code:find("7 // 2", 1, true) and not code:find("1 // 2", 1, true), "comment blanked: " .. code)
  check(not code:find("a // b", 1, true) and not code:find("<<", 1, true), "strings blanked: " .. code)
  check(not code:find("math.type", 1, true) and code:find("x = 1", 1, true), "long comment blanked: " .. code)
  check(select(2, code:gsub("\n", "")) == 2, "lines kept")
end

return T
