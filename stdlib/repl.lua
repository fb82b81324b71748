-- The REPL's Lua half: how values print (pretty) and what Tab offers
-- (complete). vm/repl.c calls repl.show(...) with a chunk's results and
-- repl.complete(word) with the word before the cursor.
local C = require "optlab.core"

local repl = {
  max_depth = 3,   -- nested tables deeper than this print as {...}
  max_items = 40,  -- entries shown per table before "... N more"
  width = 78,      -- a table that fits on one line this wide stays on one line
}

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local
  nil not or repeat return then true until while]]):gmatch("%a+") do keywords[w] = true end

local function is_name(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not keywords[k]
end

local function quote(s)
  return (string.format("%q", s):gsub("\\\n", "\\n"))
end

local function shape_of(t)
  return "[" .. table.concat(t:shape(), ", ") .. "]"
end

local function fmt_function(f)
  local info = debug.getinfo(f, "S")
  if info and info.what ~= "C" and info.short_src then
    return string.format("%s (%s:%d)", tostring(f), info.short_src, info.linedefined)
  end
  return tostring(f) .. " (builtin)"
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  return ok and s or ("<" .. type(v) .. ": __tostring failed: " .. tostring(s) .. ">")
end

local compare_keys
do
  local order = { number = 1, string = 2, boolean = 3 }
  function compare_keys(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return (order[ta] or 9) < (order[tb] or 9) or ((order[ta] or 9) == (order[tb] or 9) and ta < tb) end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end
end

local fmt

-- A value inside a table: tensors shrink to their shape unless tiny.
local function fmt_nested(v, depth, seen, indent)
  if C.is_tensor(v) then
    if v:numel() <= 6 and v:dim() <= 1 then return safe_tostring(v) end
    return "tensor(shape=" .. shape_of(v) .. ")"
  end
  if type(v) == "string" then return quote(v) end
  return fmt(v, depth, seen, indent)
end

local function fmt_table(t, depth, seen, indent)
  if seen[t] then return "<cycle: " .. tostring(t) .. ">" end
  if depth >= repl.max_depth then
    return next(t) == nil and "{}" or "{...}"
  end
  seen[t] = true
  local parts, n = {}, rawlen(t)
  local shown, total = 0, 0
  for i = 1, n do
    total = total + 1
    if shown < repl.max_items then
      shown = shown + 1
      parts[#parts + 1] = fmt_nested(rawget(t, i), depth + 1, seen, indent + 2)
    end
  end
  local keys = {}
  for k in next, t do
    if not (compat.is_integer(k) and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, compare_keys)
  for _, k in ipairs(keys) do
    total = total + 1
    if shown < repl.max_items then
      shown = shown + 1
      local key = is_name(k) and k or "[" .. fmt_nested(k, repl.max_depth, seen, indent + 2) .. "]"
      parts[#parts + 1] = key .. " = " .. fmt_nested(rawget(t, k), depth + 1, seen, indent + 2)
    end
  end
  seen[t] = nil
  if total > shown then parts[#parts + 1] = string.format("... (%d more)", total - shown) end
  if #parts == 0 then return "{}" end
  local line = "{" .. table.concat(parts, ", ") .. "}"
  if #line + indent <= repl.width and not line:find("\n", 1, true) then return line end
  local pad = string.rep(" ", indent + 2)
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. string.rep(" ", indent) .. "}"
end

function fmt(v, depth, seen, indent)
  local tv = type(v)
  if tv == "table" then
    if has_tostring(v) then return safe_tostring(v) end
    return fmt_table(v, depth, seen, indent)
  elseif tv == "function" then
    return fmt_function(v)
  elseif tv == "string" then
    return quote(v)
  end
  return safe_tostring(v)
end

-- The text a value prints as in the REPL. Strings at the top print as they are.
function repl.pretty(v)
  if type(v) == "string" then return v end
  return fmt(v, 0, {}, 0)
end

-- Prints a chunk's results: nothing when all are nil; `_` keeps the first.
function repl.show(...)
  local n = select("#", ...)
  local any = false
  for i = 1, n do if select(i, ...) ~= nil then any = true end end
  if not any then return end
  local first = ...
  if first ~= nil then rawset(_G, "_", first) end
  local out = {}
  for i = 1, n do out[i] = repl.pretty((select(i, ...))) end
  io.write(table.concat(out, "\t"), "\n")
end

---- completion ----------------------------------------------------------------

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- Adds the string keys of t, and of the tables its metatables' __index
-- chain leads to (classes), to out.
local function add_keys(out, t, methods_only, seen)
  seen = seen or {}
  while type(t) == "table" and not seen[t] do
    seen[t] = true
    for k, v in next, t do
      -- metamethods (__index, __call...) are not what one types after "."
      if is_name(k) and k:sub(1, 2) ~= "__" and (not methods_only or callable(v)) then out[k] = true end
    end
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
  end
end

-- Names reachable from v with "." (fields) or ":" (methods).
local function members(v, methods_only)
  local out = {}
  if C.is_tensor(v) then
    add_keys(out, C.methods, methods_only)
    local fields = debug.getuservalue(v, 1)
    if type(fields) == "table" then add_keys(out, fields, methods_only) end
  elseif type(v) == "table" then
    add_keys(out, v, methods_only)
  elseif v ~= nil then
    -- userdata, strings: the methods behind their metatable's __index table
    local mt = debug.getmetatable(v)
    if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
      add_keys(out, rawget(mt, "__index"), methods_only)
    end
  end
  return out
end

local function index(v, k)
  if type(v) == "table" then
    local r = rawget(v, k)
    if r ~= nil then return r end
  end
  if v == nil then return nil end
  local ok, r = pcall(function() return v[k] end)
  return ok and r or nil
end

-- The value a path such as "model.layers[5]" or "optim" names, or nil:
-- names joined by "." and integer subscripts "[n]"; nothing is called.
local function resolve_path(path)
  local name, rest = path:match("^([%a_][%w_]*)(.*)$")
  if not name then return nil end
  local v = index(_G, name)
  while v ~= nil and rest ~= "" do
    local field, after = rest:match("^%.([%a_][%w_]*)(.*)$")
    if field then
      v, rest = index(v, field), after
    else
      local n, after2 = rest:match("^%[%s*(%d+)%s*%](.*)$")
      if not n then return nil end
      v, rest = index(v, tonumber(n)), after2
    end
  end
  return v
end

-- All full words that complete `word` (an identifier chain such as
-- "optim.Ad", "t:su" or "model.layers[5].ac"), sorted.
function repl.complete(word)
  local path, sep, partial = word:match("^(.-)([%.:])([%w_]*)$")
  local names, prefix
  if not path then
    partial = word:match("[%w_]*$")
    prefix = word:sub(1, #word - #partial)
    names = {}
    add_keys(names, _G, false)
    for k in pairs(keywords) do names[k] = true end
  else
    local v = resolve_path(path)
    if v == nil then
      -- "t[b.c": complete the chain after the last "[" (an expression inside it)
      local inner = word:match("%[([^%[%]]*)$")
      if inner and inner ~= word then
        local out = repl.complete(inner)
        local head = word:sub(1, #word - #inner)
        for i, w in ipairs(out) do out[i] = head .. w end
        return out
      end
      return {}
    end
    names = members(v, sep == ":")
    prefix = path .. sep
  end
  local out = {}
  for k in pairs(names) do
    if k:sub(1, #partial) == partial then out[#out + 1] = prefix .. k end
  end
  table.sort(out)
  return out
end

---- errors ----------------------------------------------------------------------

local stdlib_dir = (package.searchpath("repl", package.path) or ""):match("^(.*)/[^/]*$")

-- The text of an error at the prompt: the message and the user's frames of
-- its traceback; frames inside optlab's stdlib and C functions are left out
-- (":traceback" prints the whole of the last one, kept in repl.last_error).
function repl.error_text(msg)
  msg = tostring(msg)
  repl.last_error = msg
  local head, tb = msg:match("^(.-)\nstack traceback:\n(.*)$")
  if not head then return msg end
  local kept, hidden = {}, 0
  for line in (tb .. "\n"):gmatch("(.-)\n") do
    local internal = line:find("[C]:", 1, true) or line:find("(...tail calls...)", 1, true)
      or (stdlib_dir and line:find(stdlib_dir .. "/", 1, true))
    if internal then hidden = hidden + 1 else kept[#kept + 1] = line end
  end
  if hidden == 0 then return msg end
  -- a lone "stdin:N: in main chunk" repeats the message's own position
  if #kept == 1 then
    local where = kept[1]:match("^%s*(stdin:%d+:) in main chunk$")
    if where and head:sub(1, #where) == where then kept = {} end
  end
  local out = head
  if #kept > 0 then out = out .. "\nstack traceback:\n" .. table.concat(kept, "\n") end
  return out .. "\n(:traceback shows the full traceback)"
end

-- ":traceback": the last error at the prompt, with its full traceback.
function repl.traceback()
  io.stderr:write((repl.last_error or "no error yet"), "\n")
end

return repl
