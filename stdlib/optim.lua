-- Optimizers. Each is made from a table of hyperparameters and updates tensors
-- from their .grad in place, one fused C pass per tensor per step (the object:
-- optim/optimizer.lua; the built-ins' fields: optim/specs.lua):
--   local opt = optim.Adam{lr = 1e-3}
--   opt:step(model:parameters())          -- or any list of tensors with .grad
-- Every hyperparameter is a number, a schedule (stdlib/schedule.lua) or a
-- Lua function of k, the number of updates already done.
-- Formulas, defaults and conventions: README, "Optimizers".
local C = require "optlab.core"
local conventions = require "optim.conventions"
local keras_base = require "optim.keras_base"
local suggest = require "suggest"
local define = require "optim.define"
local wrap = require "optim.wrap"
local S = require "optim.specs"
local O = require "optim.optimizer"
local specs, finish_spec = S.specs, S.finish_spec
local Optimizer, new_optimizer, convention_of = O.Optimizer, O.new, O.convention_of

local optim = {}

local function fail(msg) C.raise(msg) end

for name, sp in pairs(specs) do
  optim[name] = function(hp) return keras_base.wrap(new_optimizer(sp, hp)) end
end
optim.NAdam = optim.Nadam

-- optim.get(name [, convention] [, overrides]): the optimizer `name` as the
-- convention's framework builds it, its forms and its defaults; without a
-- convention, Keras 2's (convention "keras"), as the Keras example's
-- model.compile(optimizer = 'Adam') got them (a declaration of the
-- literature: its own, "textbook", unless it declares a keras convention). Names and conventions are
-- case-insensitive; "pytorch" = "torch"; "NAdam" = "Nadam".
function optim.get(name, convention, overrides)
  if type(name) ~= "string" then fail("optim.get: expected an optimizer name, got " .. type(name)) end
  if type(convention) == "table" and overrides == nil then convention, overrides = nil, convention end
  if overrides ~= nil and type(overrides) ~= "table" then
    fail("optim.get: overrides must be a table of hyperparameters, got " .. type(overrides))
  end
  local sp
  for n, s in pairs(specs) do if n:lower() == name:lower() then sp = s end end
  if not sp then
    local names = {}
    for n in pairs(specs) do names[#names + 1] = n end
    table.sort(names)
    fail(string.format("optim.get: unknown optimizer '%s'%s (known: %s)", name, suggest.phrase(name, names),
      table.concat(names, ", ")))
  end
  -- a declaration of the literature has no Keras 2 form unless it declares one: without a
  -- convention it is its own (the textbook's), not labelled convention=keras
  local default = "keras"
  if sp.kind == "Declared" and not sp.builtin and not sp.conv_defaults.keras then default = "textbook" end
  local conv = convention_of(convention or (overrides and overrides.convention) or default, "optim.get")
  local has = conventions.defaults[conv]
  if has and not has[sp.name] and (sp.kind ~= "Declared" or sp.builtin) then    -- a declaration brings its own defaults
    local names = {}
    for n in pairs(has) do names[#names + 1] = n end
    table.sort(names)
    fail(string.format("optim.get: %s has no %s (convention '%s' has: %s)", conventions.framework[conv], sp.name,
      conv, table.concat(names, ", ")))
  end
  local hp = {}
  for k, v in pairs(overrides or {}) do hp[k] = v end
  hp.convention = conv
  local opt = new_optimizer(sp, hp)
  opt.given.lr = true
  opt.given.convention = nil
  opt.label = opt:describe()
  return keras_base.wrap(opt)
end

-- optim.sweep(optim.SGD, {lr = 0.01, momentum = {0, 0.5, 0.9, 0.99}}): one
-- optimizer per combination of the listed values (first key slowest).
function optim.sweep(ctor, grid)
  if type(ctor) ~= "function" then fail("optim.sweep: expected an optimizer constructor such as optim.SGD") end
  if type(grid) ~= "table" then fail("optim.sweep: expected a table of hyperparameters") end
  local keys, lists = {}, {}
  for k, v in pairs(grid) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = grid[k]
    if type(v) == "table" and getmetatable(v) == nil and #v > 0 and not (k == "betas" and type(v[1]) == "number") then
      lists[k] = v
    end
  end
  local out = {}
  local function rec(i, hp)
    if i > #keys then
      local copy = {}
      for k, v in pairs(hp) do copy[k] = v end
      out[#out + 1] = ctor(copy)
      return
    end
    local k = keys[i]
    if lists[k] then
      for _, v in ipairs(lists[k]) do hp[k] = v; rec(i + 1, hp) end
    else
      hp[k] = grid[k]; rec(i + 1, hp)
    end
  end
  rec(1, {})
  return out
end

-- optim.define{name =, doc =, hyper = {...}, state = {...}, update = function(p, g, s, h, t) ... end}:
-- an optimizer declared by its update rule, with everything a built-in has
-- (README "Write your own optimizer"; stdlib/optim/define.lua).
function optim.define(decl)
  local sp = define.spec(decl)
  local old = specs[sp.name]
  if old and (old.kind ~= "Declared" or old.builtin) then
    fail(string.format("optim.define: %s is a built-in optimizer; give yours another name", sp.name))
  end
  finish_spec(sp, sp.name)
  specs[sp.name] = sp
  local ctor = function(hp) return keras_base.wrap(new_optimizer(sp, hp)) end
  rawset(optim, sp.name, ctor)
  require("optim.help").declared(optim, sp, ctor)
  return ctor
end
optim.fn = define.fn

-- Wrappers around any optimizer (stdlib/optim/wrap.lua): weight averaging,
-- Lookahead, gradient accumulation.
optim.EMA, optim.Polyak, optim.Lookahead, optim.Accumulate = wrap.EMA, wrap.Polyak, wrap.Lookahead, wrap.Accumulate

-- Declared optimizers, one file each (adding one is adding its file),
-- registered as optim.<its name>: the built-ins that have no hand-written
-- kernel, in stdlib/optim/builtin/ (SGD, Adagrad, RMSprop, Adam and AdamW:
-- every convention's form, help as the kernels' built-ins, no other name may
-- take theirs), then the literature, in stdlib/optim/zoo/. A file returns a
-- declaration, or a list of them (adam.lua: Adam and AdamW, one update).
do
  package.loaded.optim = optim     -- a declaration may require "optim" for optim.fn
  local here = package.searchpath("optim.define", package.path)
  for _, folder in ipairs { "builtin", "zoo" } do
    local dir = here and here:gsub("define%.lua$", folder)
    local ok, files = pcall(C.sys.listdir, dir)
    if ok then table.sort(files) end
    for _, f in ipairs(ok and files or {}) do
      local base = f:match("^([%w_]+)%.lua$")
      if base then
        local decls = require("optim." .. folder .. "." .. base)
        if type(decls) ~= "table" then fail("stdlib/optim/" .. folder .. "/" .. f .. " must return a declaration table") end
        if decls.name then decls = { decls } end
        for _, decl in ipairs(decls) do
          optim.define(decl)
          specs[decl.name].builtin = folder == "builtin"
        end
      end
    end
  end
end

optim.specs = specs
require("optim.help").install(optim, specs, Optimizer)     -- help(optim.Adam): formula and every convention's defaults
wrap.install_help(optim)

-- optim.Adamm{...} would otherwise be "attempt to call a nil value": a
-- capitalized name that is no optimizer gets optim.get's "did you mean".
setmetatable(optim, { __index = function(_, key)
  if type(key) ~= "string" or not key:match("^%u") then return nil end
  local names = { "EMA", "Polyak", "Lookahead", "Accumulate" }     -- the wrappers
  for n in pairs(specs) do names[#names + 1] = n end
  table.sort(names)
  fail(string.format("optim.%s is not an optimizer%s (known: %s)", key, suggest.phrase(key, names), table.concat(names, ", ")))
end })
return optim
