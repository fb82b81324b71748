-- help(x): documentation of modules, functions, layers and optimizers.
-- A registry keyed by the object itself, so each module keeps its docs next
-- to its code:
--   local help = require "help"
--   help.register(optim.Adam, [[
--   optim.Adam(params, {lr = 0.001, betas = {0.9, 0.999}, eps = 1e-8})
--   ...]])
-- The first line of a text is its title (a signature); help() lists the
-- modules (globals whose table has docs), help(mod) its documented members.
local help = {
  docs = setmetatable({}, { __mode = "k" }), -- object -> text
}

local core_loaded = false

local function first_line(text)
  return text:match("^[^\n]*")
end

-- Registers text as the documentation of obj; returns obj.
function help.register(obj, text)
  if obj == nil then error("help.register: nothing to document (got nil)", 2) end
  if type(text) ~= "string" then error("help.register: text must be a string, got " .. type(text), 2) end
  -- strip a common indentation, so docs may be written indented in the source
  local indent
  for l in text:gmatch("[^\n]+") do
    local sp = #l:match("^ *")
    if sp < #l and (not indent or sp < indent) then indent = sp end
  end
  if indent and indent > 0 then
    text = text:gsub("^" .. string.rep(" ", indent), ""):gsub("\n" .. string.rep(" ", indent), "\n")
  end
  help.docs[obj] = (text:gsub("^\n+", ""):gsub("%s+$", ""))
  return obj
end

local function read_lines(path)
  local f = path and io.open(path)
  if not f then return nil end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

local function strip_comments(block)
  for i, l in ipairs(block) do block[i] = l:gsub("^%s*%-%-+ ?", "") end
  return #block > 0 and table.concat(block, "\n") or nil
end

-- Undocumented code still has its comments: a module's file header, the
-- comment block right above a Lua function's definition.
function help.source_doc(obj)
  local block = {}
  if type(obj) == "function" then
    local info = debug.getinfo(obj, "S")
    local lines = info.source:sub(1, 1) == "@" and read_lines(info.source:sub(2))
    if not lines then return nil end
    for i = info.linedefined - 1, 1, -1 do
      if not lines[i]:match("^%s*%-%-") then break end
      table.insert(block, 1, lines[i])
    end
  elseif type(obj) == "table" then
    for name, mod in pairs(package.loaded) do
      if mod == obj and type(name) == "string" then
        local path = package.searchpath(name, package.path)
        for _, v in pairs(obj) do -- or the file its functions come from
          if path then break end
          local info = type(v) == "function" and debug.getinfo(v, "S")
          if info and info.source:sub(1, 1) == "@" then path = info.source:sub(2) end
        end
        local lines = read_lines(path)
        for _, l in ipairs(lines or {}) do
          if not l:match("^%s*%-%-") then break end
          block[#block + 1] = l
        end
        break
      end
    end
  end
  return strip_comments(block)
end

-- The documentation text of obj, or nil.
function help.get(obj)
  if not core_loaded then
    core_loaded = true
    pcall(require, "help_core")
  end
  if obj == nil then return nil end
  return help.docs[obj]
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do if type(k) == "string" then ks[#ks + 1] = k end end
  table.sort(ks)
  return ks
end

-- Modules: globals that are documented tables.
function help.modules()
  help.get(nil)
  local out = {}
  for _, name in ipairs(sorted_keys(_G)) do
    local v = rawget(_G, name)
    if type(v) == "table" and name ~= "_G" and name ~= "_" and (help.docs[v] or package.loaded[name] == v and help.source_doc(v)) then
      out[#out + 1] = name
    end
  end
  return out
end

local function resolve(name)
  local v = _G
  for part in name:gmatch("[^.:]+") do
    if type(v) ~= "table" and type(v) ~= "userdata" then return nil end
    local ok, r = pcall(function() return v[part] end)
    if not ok then return nil end
    v = r
  end
  return v
end

local function member_lines(mod)
  local lines = {}
  local width = 0
  local names = sorted_keys(mod)
  for _, k in ipairs(names) do if help.docs[mod[k]] then width = math.max(width, #k) end end
  for _, k in ipairs(names) do
    local doc = help.docs[mod[k]]
    if doc then lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", k, first_line(doc)) end
  end
  local undocumented = {}
  for _, k in ipairs(names) do
    if not help.docs[mod[k]] and k:sub(1, 1) ~= "_" then undocumented[#undocumented + 1] = k end
  end
  if #undocumented > 0 then lines[#lines + 1] = "  also: " .. table.concat(undocumented, ", ") end
  return lines
end

-- The text help(x) prints.
function help.text(...)
  local n = select("#", ...)
  local x = ...
  if n == 0 then
    local lines = { "Modules (help(name) for one of them, e.g. help(tensor) or help(tensor.zeros)):" }
    local mods = help.modules()
    local width = 0
    for _, m in ipairs(mods) do width = math.max(width, #m) end
    for _, m in ipairs(mods) do
      local doc = help.docs[rawget(_G, m)] or help.source_doc(rawget(_G, m))
      lines[#lines + 1] = string.format("  %-" .. width .. "s  %s", m, first_line(doc))
    end
    return table.concat(lines, "\n")
  end
  if x == nil then
    return "help: got nil -- is the name spelled right? help() lists the modules"
  end
  if type(x) == "string" and help.get(x) == nil then
    local v = resolve(x)
    if v ~= nil then return help.text(v) end
    -- a title that starts with the name ("Adam" finds "optim.Adam(...)")
    local found = {}
    for obj, text in pairs(help.docs) do
      local name = first_line(text):match("^[%w_.:]+") or ""
      if name == x or name:sub(-#x - 1) == "." .. x or name:sub(-#x - 1) == ":" .. x then
        found[#found + 1] = text
      end
    end
    table.sort(found)
    if #found > 0 then return table.concat(found, "\n\n") end
    return "help: no documentation for '" .. x .. "'"
  end
  local doc = help.get(x) or help.source_doc(x)
  local tensor_C = package.loaded["optlab.core"]
  if tensor_C and tensor_C.is_tensor(x) then
    return "a tensor of shape [" .. table.concat(x:shape(), ", ") .. "]\n\n" .. (help.text(tensor_C.methods))
  end
  if doc and type(x) == "table" then
    local lines = member_lines(x)
    if #lines > 0 then return doc .. "\n\n" .. table.concat(lines, "\n") end
    return doc
  end
  if doc then return doc end
  if type(x) == "function" then
    local info = debug.getinfo(x, "S")
    if info.what == "C" then return "help: no documentation for this builtin function" end
    return string.format("help: no documentation for the function defined at %s:%d", info.short_src, info.linedefined)
  end
  if type(x) == "table" then
    local mt = getmetatable(x)
    local class = type(mt) == "table" and type(rawget(mt, "__index")) == "table" and rawget(mt, "__index")
    if class and help.get(class) then return help.text(class) end
    local lines = member_lines(x)
    if #lines > 0 then return "a table; documented fields:\n" .. table.concat(lines, "\n") end
    local keys = sorted_keys(x)
    return "help: no documentation for this table" .. (#keys > 0 and ("; its fields: " .. table.concat(keys, ", ")) or "")
  end
  return "help: no documentation for a " .. type(x) .. " value"
end

setmetatable(help, {
  __call = function(_, ...)
    io.write(help.text(...), "\n")
  end,
})

help.register(help, [[
help(x)  documentation of a module, function, layer or optimizer
help()           lists the modules
help(tensor)     a module: its text and its documented members
help(optim.Adam) one function or class; help("Adam") finds it by name
Modules register docs next to their code with help.register(obj, text);
the first line of text is the title shown in listings.]])
help.register(help.register, "help.register(obj, text)  documents obj (a module, function, class); returns obj")
help.register(help.text, "help.text(x)  the text help(x) prints")
help.register(help.get, "help.get(obj)  the registered text of obj, or nil")
help.register(help.modules, "help.modules()  names of the documented global modules")
help.register(help.source_doc, "help.source_doc(obj)  the comment block above a Lua function (or a module's file header), for what has no entry")

return help
