-- Assertions for the Lua tests. Each failure names what differed.
local lib = {}

function lib.check(cond, msg)
  if not cond then error(msg or "check failed", 2) end
end

-- |a - b| <= atol + rtol * |b|, for numbers or tensors.
function lib.close(a, b, rtol, msg, atol)
  rtol, atol = rtol or 1e-6, atol or 0
  if tensor.is_tensor(a) then a = a:contiguous():reshape(-1):totable() end
  if tensor.is_tensor(b) then b = b:contiguous():reshape(-1):totable() end
  if type(a) == "number" then a, b = { a }, { b } end
  if #a ~= #b then error((msg or "close") .. string.format(": %d values vs %d", #a, #b), 2) end
  for i = 1, #a do
    local x, y = a[i], b[i]
    if not (math.abs(x - y) <= atol + rtol * math.abs(y)) then
      error(string.format("%s: element %d: got %.9g, expected %.9g", msg or "close", i, x, y), 2)
    end
  end
end

-- Float32 judged fairly against a framework: got (optlab, float32) must be no
-- further from the framework's float64 run (f64) than twice the framework's own
-- float32 run (f32) is, in L2 over the values, plus a floor of 4 float32
-- half-ulps of the norm for steps where float32 lands on the float64 value.
-- Returns ok, optlab's distance, float32's distance, the allowed distance.
function lib.fair32(got, f32, f64)
  local d_ours, d_ref, norm = 0, 0, 0
  for i = 1, #f64 do
    d_ours = d_ours + (got[i] - f64[i]) ^ 2
    d_ref = d_ref + (f32[i] - f64[i]) ^ 2
    norm = norm + f64[i] ^ 2
  end
  d_ours, d_ref = math.sqrt(d_ours), math.sqrt(d_ref)
  local allowed = 2 * d_ref + 4 * 2 ^ -24 * math.sqrt(norm)
  return d_ours <= allowed, d_ours, d_ref, allowed
end

-- fn() must raise an error whose message matches pattern (plain find).
function lib.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then error((msg or "raises") .. ": no error raised, expected '" .. pattern .. "'", 2) end
  err = tostring(err)
  if not err:find(pattern, 1, true) then
    error((msg or "raises") .. ": error '" .. err .. "' does not mention '" .. pattern .. "'", 2)
  end
  return err
end

-- Bitwise equality of two tensors (same shape, same floats).
function lib.identical(a, b, msg)
  local sa, sb = table.concat(a:shape(), "x"), table.concat(b:shape(), "x")
  if sa ~= sb then error((msg or "identical") .. ": shapes " .. sa .. " vs " .. sb, 2) end
  local x, y = a:contiguous():reshape(-1):totable(), b:contiguous():reshape(-1):totable()
  for i = 1, #x do
    if not compat.same_bits(x[i], y[i]) then
      error(string.format("%s: element %d differs: %.9g vs %.9g", msg or "identical", i, x[i], y[i]), 2)
    end
  end
end

-- A test that cannot measure what it asserts in this build (RSS under a
-- sanitizer's quarantine) says so: the runner counts it as skipped, never passed.
local SKIP = {}
function lib.skip(reason) error(setmetatable({ reason = reason }, SKIP), 0) end
function lib.is_skip(e) return getmetatable(e) == SKIP end
-- The stock interpreter of the VM optlab was built on, and its C module ABI directory.
lib.stock_lua = compat.luajit and "luajit" or "lua5.4"
lib.lua_abi = compat.luajit and "5.1" or "5.4"

function lib.sanitized() return os.getenv("OPTLAB_SANITIZE") == "1" end

-- The optlab binary under test: $OPTLAB (make test sets it), else the one running.
function lib.optlab_exe() return os.getenv("OPTLAB") or require("experiment").optlab_exe() end

-- A new empty folder under the system's temporary directory, for a test file's runs.
function lib.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  require("report").mkdir_p(dir)
  return dir
end

-- The command that starts n ranks of a job on this one machine (Open MPI's mpirun,
-- more ranks than cores allowed, and as root when CI runs as root), or skips the
-- test, saying why, where there is no mpirun.
--
-- Under make sanitize the ranks keep AddressSanitizer and UBSan but not LeakSanitizer:
-- Open MPI leaves allocations of its own at MPI_Finalize (ompi_op_base_op_select and
-- plugins it has dlclose'd, whose frames LSan cannot name, so no suppression by library
-- can single them out). optlab's own leaks are checked by every test outside mpirun,
-- the binding's outside-a-job paths included.
local said_leaks = false
function lib.mpirun(n)
  local p = io.popen("command -v mpirun; id -u")
  local path, uid = p:read("l"), nil
  if path and not path:match("^/") then uid, path = path, nil else uid = p:read("l") end
  p:close()
  if not path then lib.skip("no mpirun on PATH (Debian's openmpi-bin; make deps installs it)") end
  local env = ""
  if lib.sanitized() then
    local asan = os.getenv("ASAN_OPTIONS")
    env = "env ASAN_OPTIONS=" .. (asan and asan ~= "" and (asan .. ":") or "") .. "detect_leaks=0 "
    if not said_leaks then
      said_leaks = true
      print("note: ranks under mpirun run without LeakSanitizer (Open MPI's own allocations at exit; tests/lua/lib.lua)")
    end
  end
  return string.format("%smpirun --oversubscribe%s -n %d ", env, uid == "0" and " --allow-run-as-root" or "", n)
end

-- Bytes for crafted files, in the Lua subset LuaJIT shares (no string.pack,
-- no bitwise operators): n as a little-endian unsigned integer of `bytes`
-- bytes (exact for n < 2^53 and for powers of two), and CRC-32 (zlib's).
function lib.le(n, bytes)
  local out = {}
  for i = 1, bytes do
    local b = n % 256
    out[i] = string.char(b)
    n = (n - b) / 256
  end
  return table.concat(out)
end

local function bxor(a, b)
  local r, p = 0, 1
  while a > 0 or b > 0 do
    local x, y = a % 2, b % 2
    if x ~= y then r = r + p end
    a, b, p = (a - x) / 2, (b - y) / 2, p * 2
  end
  return r
end

function lib.crc32(s)
  local crc = 4294967295
  for i = 1, #s do
    crc = bxor(crc, s:byte(i))
    for _ = 1, 8 do
      if crc % 2 == 1 then crc = bxor((crc - 1) / 2, 3988292384) else crc = crc / 2 end
    end
  end
  return bxor(crc, 4294967295)
end

return lib
