-- report's shared ground: the report table, files and shell (atomic writes, quoting), and
-- the number helpers every view uses. The parts: formats (JSON, CSV), tables (summary
-- statistics and the printed tables), plots (gnuplot), html (report.html).
local C = require "optlab.core"
local serial = require "serial"

local report = {}

local function fail(msg) C.raise(msg) end

---------------------------------------------------------------- files, shell

-- Single-quoted for /bin/sh.
function report.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local q = report.shell_quote

-- Write to a temporary name in the same folder, then rename: a reader (or an
-- interrupted run) never sees half a file.
function report.write_file(path, text)
  local tmp = path .. ".part"
  local f, err = io.open(tmp, "wb")
  if not f then fail("report: cannot write '" .. path .. "': " .. tostring(err)) end
  local ok, werr = f:write(text)
  local cok, cerr = f:close()
  if not ok or not cok then
    os.remove(tmp)
    fail("report: cannot write '" .. path .. "': " .. tostring(werr or cerr))
  end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); fail("report: cannot rename '" .. tmp .. "': " .. tostring(rerr)) end
end

function report.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function report.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

function report.mkdir_p(dir)
  local ok = os.execute("mkdir -p " .. q(dir))
  if not ok then fail("report: cannot create folder '" .. dir .. "'") end
end

-- First line of a shell command's output, or nil.
function report.shell_line(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  if not p then return nil end
  local line = p:read("l")
  p:close()
  if line == "" then return nil end
  return line
end

-- SHA-256 of a file via coreutils' sha256sum (nil if unreadable).
function report.sha256(path)
  local line = report.shell_line("sha256sum " .. q(path))
  return line and line:match("^(%x+)") or nil
end

---------------------------------------------------------------- numbers

-- Shortest decimal that reads back as the same double (%.17g at most).
function report.num(v)
  if v == nil then return "" end
  if compat.math_type(v) == "integer" then return string.format("%d", v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" elseif v == -math.huge then return "-inf" end
  return serial.shortest(v)
end

-- The inverse of report.num (nil for an empty cell).
function report.parse_num(s)
  if s == nil or s == "" then return nil end
  if s == "nan" or s == "-nan" then return 0 / 0 end
  if s == "inf" then return math.huge elseif s == "-inf" then return -math.huge end
  return tonumber(s)
end

-- Bit-for-bit equality (NaN equals NaN; nil equals nil).
function report.same_bits(a, b)
  if a == nil or b == nil then return a == b end
  if a ~= a and b ~= b then return true end
  if compat.math_type(a) == "integer" and compat.math_type(b) == "integer" then return a == b end
  return compat.same_bits(a, b)
end

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- mean and sample standard deviation (n - 1) of the finite values of a list.
local function mean_std(list)
  local n, s = 0, 0
  local any_nan = false
  for _, v in ipairs(list) do
    if finite(v) then n, s = n + 1, s + v else any_nan = true end
  end
  if n == 0 then return any_nan and 0 / 0 or nil, nil, 0 end
  local m = s / n
  if n == 1 then return m, nil, 1 end
  local ss = 0
  for _, v in ipairs(list) do if finite(v) then ss = ss + (v - m) ^ 2 end end
  return m, math.sqrt(ss / (n - 1)), n
end
report.mean_std = mean_std

return { C = C, serial = serial, report = report, fail = fail, q = q, finite = finite, mean_std = mean_std }
