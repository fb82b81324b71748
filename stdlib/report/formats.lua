-- The run folder's data files: JSON (manifest.json) and CSV (metrics.csv), written and read.
local base = require "report.base"
local report, fail, finite = base.report, base.fail, base.finite

---------------------------------------------------------------- JSON

local cjson_ok, cjson = pcall(require, "cjson")

-- (not cjson.encode: it escapes every '/', which makes paths hard to read)
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local map = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t', ['\r'] = '\\r' }
    return map[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t and (n > 0 or getmetatable(t) == report.array_mt)
end
report.array_mt = {}
-- Marks a table as a JSON array even when empty.
function report.array(t) return setmetatable(t or {}, report.array_mt) end

-- Indented JSON with sorted keys (readable and diffable); numbers round-trip.
function report.json(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if not finite(v) then return json_string(report.num(v)) end
    return report.num(v)
  elseif t == "string" then return json_string(v)
  elseif t == "table" then
    local inner = indent .. "  "
    local parts = {}
    if is_array(v) then
      if #v == 0 then return "[]" end
      local scalar = true
      for _, x in ipairs(v) do if type(x) == "table" then scalar = false end end
      for _, x in ipairs(v) do parts[#parts + 1] = report.json(x, inner) end
      if scalar then return "[" .. table.concat(parts, ", ") .. "]" end
      return "[\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    if #keys == 0 then return "{}" end
    for _, k in ipairs(keys) do
      local x = v[k]
      if x == nil then x = v[tonumber(k)] end
      parts[#parts + 1] = json_string(k) .. ": " .. report.json(x, inner)
    end
    return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
  end
  return json_string(tostring(v))
end

function report.json_decode(text, where)
  if not cjson_ok then fail("report: reading JSON needs lua-cjson (Debian package lua-cjson)") end
  local ok, v = pcall(cjson.decode, text)
  if not ok then fail("report: " .. (where or "JSON") .. " is not valid JSON: " .. tostring(v)) end
  return v
end

---------------------------------------------------------------- CSV

-- History columns: the agreed ones first, timing last, anything else between.
report.TIMING = { seconds = true, ms_per_step = true, samples_per_s = true, wall_seconds = true }
local FIRST = { "loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm" }
local LAST = { "seconds", "ms_per_step", "samples_per_s" }
local KEYS = { "run", "optimizer", "seed", "epoch" }

-- Number of epochs a history holds.
function report.epochs_of(h)
  if type(h) ~= "table" then return 0 end
  local n = 0
  for k, v in pairs(h) do
    if type(v) == "table" and k ~= "epoch" then n = math.max(n, #v) end
  end
  return n
end

-- The metric columns found in any of the records' histories.
function report.columns(records)
  local seen = {}
  for _, r in ipairs(records) do
    for k, v in pairs(r.history or {}) do
      if type(k) == "string" and type(v) == "table" and k ~= "epoch" then seen[k] = true end
    end
  end
  local cols, used = {}, {}
  for _, k in ipairs(FIRST) do if seen[k] then cols[#cols + 1] = k; used[k] = true end end
  local mid = {}
  for k in pairs(seen) do
    if not used[k] and not report.TIMING[k] then mid[#mid + 1] = k end
  end
  table.sort(mid)
  for _, k in ipairs(mid) do cols[#cols + 1] = k; used[k] = true end
  for _, k in ipairs(LAST) do if seen[k] then cols[#cols + 1] = k end end
  return cols
end

local function csv_cell(s)
  s = tostring(s)
  if s:find('[,"\n\r]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end
report.csv_cell = csv_cell

-- metrics.csv: one row per run (optimizer x seed) x epoch, every history field.
function report.csv(records)
  local cols = report.columns(records)
  local header = {}
  for _, k in ipairs(KEYS) do header[#header + 1] = k end
  for _, k in ipairs(cols) do header[#header + 1] = k end
  local lines = { table.concat(header, ",") }
  for _, r in ipairs(records) do
    local h = r.history
    for e = 1, report.epochs_of(h) do
      local row = { tostring(r.id), csv_cell(r.label), tostring(r.seed), tostring(e) }
      for _, k in ipairs(cols) do
        local col = h[k]
        row[#row + 1] = report.num(type(col) == "table" and col[e] or nil)
      end
      lines[#lines + 1] = table.concat(row, ",")
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The per-step logs of the records (rec.logs[field], columns of numbers by step) as CSV:
-- steps.csv (field "steps") and diagnostics.csv (field "diagnostics"). One row per run x
-- logged step: run, optimizer, seed, step, epoch, then loss, lr, grad_norm, the other
-- columns by name, wall_seconds last. keep_moving: a column other than those first ones
-- is kept only when it moves within some run (a schedule of momentum, say), so a
-- constant hyperparameter does not fill the file. Returns nil when no record has the log.
local LOG_FIRST = { "loss", "lr", "grad_norm" }
-- cache (optional, weak-keyed by record): the formatted rows of records seen before with
-- the same columns, so a view rewritten after every run formats each run once.
function report.log_csv(records, field, keep_moving, cache)
  local seen, any = {}, false
  for _, r in ipairs(records) do
    local log = r.logs and r.logs[field]
    if type(log) == "table" and type(log.step) == "table" then
      any = true
      for k, col in pairs(log) do
        if k ~= "step" and k ~= "epoch" and type(col) == "table" then
          local moves = not keep_moving
          for i = 2, #col do if not report.same_bits(col[i], col[1]) then moves = true break end end
          seen[k] = seen[k] or moves
        end
      end
    end
  end
  if not any then return nil end
  local cols, used = {}, {}
  for _, k in ipairs(LOG_FIRST) do if seen[k] ~= nil then cols[#cols + 1] = k; used[k] = true end end
  local mid = {}
  for k, moves in pairs(seen) do if moves and not used[k] and k ~= "wall_seconds" then mid[#mid + 1] = k end end
  table.sort(mid)
  for _, k in ipairs(mid) do cols[#cols + 1] = k end
  if seen.wall_seconds ~= nil then cols[#cols + 1] = "wall_seconds" end
  local header = { "run", "optimizer", "seed", "step", "epoch" }
  for _, k in ipairs(cols) do header[#header + 1] = k end
  local lines = { table.concat(header, ",") }
  local sig = field .. ":" .. lines[1]
  for _, r in ipairs(records) do
    local log = r.logs and r.logs[field]
    if type(log) == "table" and type(log.step) == "table" then
      local c = cache and cache[r] and cache[r][field]
      if c and c.sig == sig then
        if c.text ~= "" then lines[#lines + 1] = c.text end
      else
        local mine = {}
        for i = 1, #log.step do
          local row = { tostring(r.id), csv_cell(r.label), tostring(r.seed), report.num(log.step[i]), report.num(log.epoch and log.epoch[i]) }
          for _, k in ipairs(cols) do row[#row + 1] = report.num(log[k] and log[k][i]) end
          mine[#mine + 1] = table.concat(row, ",")
        end
        local text = table.concat(mine, "\n")
        if cache then
          cache[r] = cache[r] or {}
          cache[r][field] = { sig = sig, text = text }
        end
        if #mine > 0 then lines[#lines + 1] = text end
      end
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Parses RFC 4180 CSV into { header = {...}, rows = { {col = text} } }.
function report.parse_csv(text)
  local records, row, field, i, n = {}, {}, {}, 1, #text
  local quoted = false
  while i <= n do
    local c = text:sub(i, i)
    if quoted then
      if c == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1 else quoted = false end
      else field[#field + 1] = c end
    elseif c == '"' then quoted = true
    elseif c == "," then row[#row + 1] = table.concat(field); field = {}
    elseif c == "\n" or c == "\r" then
      if c == "\r" and text:sub(i + 1, i + 1) == "\n" then i = i + 1 end
      row[#row + 1] = table.concat(field); field = {}
      records[#records + 1] = row; row = {}
    else field[#field + 1] = c end
    i = i + 1
  end
  if #field > 0 or #row > 0 then row[#row + 1] = table.concat(field); records[#records + 1] = row end
  local header = table.remove(records, 1) or {}
  local rows = {}
  for ln, r in ipairs(records) do
    if #r ~= #header then fail(string.format("report: metrics.csv line %d has %d fields, the header %d", ln + 1, #r, #header)) end
    local t = {}
    for j, k in ipairs(header) do t[k] = r[j] end
    t._line = ln + 1
    rows[#rows + 1] = t
  end
  return { header = header, rows = rows }
end

