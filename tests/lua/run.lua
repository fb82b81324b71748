-- Runs tests/lua/test_*.lua: each returns a table of name -> function.
-- usage: optlab tests/lua/run.lua [pattern]
-- Ends with "lua: N passed, M failed" and exits non-zero on any failure.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local pattern = arg[1]

local files = {}
local p = io.popen('ls "' .. dir .. '"/test_*.lua 2>/dev/null')
for f in p:lines() do files[#files + 1] = f end
p:close()
table.sort(files)

local lib = require "lib"
local passed, failed, skipped, failures = 0, 0, 0, {}
for _, file in ipairs(files) do
  local mod = file:match("([^/]+)%.lua$")
  local chunk, err = loadfile(file)
  local tests = chunk and (function()
    local ok, t = pcall(chunk)
    if not ok then err = t; return nil end
    return t
  end)()
  if not tests then
    failed = failed + 1
    failures[#failures + 1] = mod .. ": " .. tostring(err)
    print("FAIL " .. mod .. " (could not load)")
  else
    local names = {}
    for name in pairs(tests) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local full = mod .. "." .. name
      if not pattern or full:find(pattern, 1, true) then
        local t0 = sys.clock()
        local ok, e = xpcall(tests[name], function(err)
          return lib.is_skip(err) and err or debug.traceback(err)
        end)
        local dt = sys.clock() - t0
        if not ok and lib.is_skip(e) then
          skipped = skipped + 1
          print(string.format("skip %-60s %7.3fs  (%s)", full, dt, e.reason))
        elseif ok then
          passed = passed + 1
          print(string.format("ok   %-60s %7.3fs", full, dt))
        else
          failed = failed + 1
          failures[#failures + 1] = full .. ": " .. tostring(e)
          print(string.format("FAIL %-60s %7.3fs", full, dt))
        end
      end
    end
  end
end
for _, f in ipairs(failures) do print("\n" .. f) end
print(string.format("lua: %d passed, %d failed, %d skipped", passed, failed, skipped))
os.exit(failed == 0 and 0 or 1)
