-- The README stays true: its ```lua blocks run as written.
-- Every ```lua block carries a marker on the line just above it:
--   <!-- test: run -->                    run through the optlab binary, exit status 0
--   <!-- test: run contains="text" -->    ... and the output contains text
--   <!-- test: syntax -->                 only compiled (needs files or minutes to run)
-- A plain ``` block marked <!-- test: output --> is the output of the last run block:
-- compared line by line, timings ("2s 17ms/step") excepted.
local lib = require "lib"
local check = lib.check

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ROOT = io.popen("cd '" .. here .. "/../..' && pwd"):read("l")
local README = ROOT .. "/README.md"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local EXE = os.getenv("OPTLAB") or (io.popen("readlink -f " .. sh_quote(ROOT .. "/optlab")):read("l"))
if EXE:sub(1, 1) ~= "/" then EXE = ROOT .. "/" .. EXE end

-- Blocks in order: {kind = "run"|"syntax"|"output"|"unmarked", line, code, contains, output}
local function parse(text)
  local blocks, marker, cur, last_run = {}, nil, nil, nil
  local n = 0
  for line in (text .. "\n"):gmatch("(.-)\n") do
    n = n + 1
    if cur then
      if line:match("^```%s*$") then
        if cur.kind == "skip" then
          -- nothing to keep
        elseif cur.kind == "output" then
          check(last_run, "README line " .. cur.line .. ": output block without a run block before it")
          last_run.output = table.concat(cur.lines, "\n")
        else
          cur.code = table.concat(cur.lines, "\n") .. "\n"
          blocks[#blocks + 1] = cur
          if cur.kind == "run" then last_run = cur end
        end
        cur = nil
      else
        cur.lines[#cur.lines + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      local kind, contains = "unmarked", nil
      if marker then
        kind = marker:match("^(%a+)")
        contains = marker:match('contains="(.-)"')
      end
      cur = { kind = kind, line = n, lines = {}, contains = contains }
      marker = nil
    elseif line:match("^```") then
      -- output of the last run block, or another language (sh, ...): not run here
      cur = { kind = marker == "output" and "output" or "skip", line = n, lines = {} }
      marker = nil
    else
      local m = line:match("^<!%-%-%s*test:%s*(.-)%s*%-%->%s*$")
      if m then marker = m elseif line:match("%S") then marker = nil end
    end
  end
  check(cur == nil, "README: a code block is not closed")
  return blocks
end

local f = assert(io.open(README, "rb"))
local BLOCKS = parse(f:read("a"))
f:close()

local function normalize(s)
  s = s:gsub("%d+m?s %d+m?s/step", "Ns Nms/step") -- Keras prints 980ms under a second
  local lines = {}
  for l in (s .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = (l:gsub("%s+$", "")) end
  while #lines > 0 and lines[#lines] == "" do lines[#lines] = nil end
  return lines
end

local function run_block(b)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. sh_quote(dir)))
  local script = dir .. "/example.lua"
  local w = assert(io.open(script, "wb"))
  w:write(b.code)
  w:close()
  local p = io.popen("cd " .. sh_quote(dir) .. " && " .. sh_quote(EXE) .. " example.lua 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  os.execute("rm -rf " .. sh_quote(dir))
  check(ok, string.format("README line %d: exit status %s:\n%s", b.line, tostring(code), out))
  if b.contains then
    check(out:find(b.contains, 1, true), string.format("README line %d: output lacks '%s':\n%s", b.line, b.contains, out))
  end
  if b.output then
    local got, want = normalize(out), normalize(b.output)
    for i = 1, math.max(#got, #want) do
      check(got[i] == want[i], string.format("README line %d: output line %d is\n  %s\nthe README shows\n  %s",
        b.line, i, tostring(got[i]), tostring(want[i])))
    end
  end
end

local T = {}

function T.every_lua_block_is_marked()
  check(#BLOCKS >= 5, "README: found only " .. #BLOCKS .. " lua blocks")
  local runs = 0
  for _, b in ipairs(BLOCKS) do
    check(b.kind == "run" or b.kind == "syntax",
      string.format("README line %d: ```lua block needs <!-- test: run --> or <!-- test: syntax --> (got %s)", b.line, b.kind))
    if b.kind == "run" then runs = runs + 1 end
  end
  check(runs >= 3, "README: only " .. runs .. " runnable blocks")
end

-- The checker itself: a wrong output and a failing script are caught.
function T.checker_catches_wrong_output()
  lib.raises(function() run_block { line = 0, code = 'print("a")\n', output = "b" } end, "output line 1 is")
  lib.raises(function() run_block { line = 0, code = 'error("boom")\n' } end, "exit status")
  lib.raises(function() run_block { line = 0, code = 'print(1)\n', contains = "2" } end, "output lacks")
  run_block { line = 0, code = 'print("x 3s 61ms/step")\n', output = "x 1s 17ms/step" }
end

-- The table of promises under faults names real tests: each name in its
-- last column is a test somewhere under tests/.
function T.every_promise_names_a_test_that_exists()
  local fh = assert(io.open(README, "rb"))
  local text = fh:read("a")
  fh:close()
  local section = text:match("\n### What optlab promises under faults and bad input\n(.-)\n#")
  check(section, "README: no section 'What optlab promises under faults and bad input'")
  local rows = 0
  for line in section:gmatch("[^\n]+") do
    local last = line:match("^|.*|%s*([^|]-)%s*|%s*$")
    if last and not line:match("^| :%-%-") and last ~= "test" then
      rows = rows + 1
      local names = 0
      for name in last:gmatch("`([%w_]+)`") do
        names = names + 1
        local r = os.execute("grep -rqw " .. sh_quote(name) .. " " .. sh_quote(ROOT .. "/tests") .. " 2>/dev/null")
        -- true on Lua 5.4, 0 on LuaJIT
        check(r == true or r == 0, "README's table of promises names a test '" .. name .. "' that is not under tests/")
      end
      check(names > 0, "README's table of promises: a row names no test: " .. line)
    end
  end
  check(rows >= 10, "README's table of promises has only " .. rows .. " rows")
end

for _, b in ipairs(BLOCKS) do
  local name = string.format("%s_line_%03d", b.kind, b.line)
  if b.kind == "run" then
    T[name] = function() run_block(b) end
  elseif b.kind == "syntax" then
    T[name] = function()
      local fn, err = load(b.code, "=README.md:" .. b.line)
      check(fn, err)
    end
  end
end

return T
