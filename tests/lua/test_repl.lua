-- The REPL: its Lua half (pretty printing, completion, help) directly, the
-- terminal behaviour through tests/repl/test_repl.sh (tmux), one check per test.
local lib = require "lib"
local check = lib.check
local repl = require "repl"
local help = require "help"

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/lua"
local script = here .. "/../repl/test_repl.sh"
local optlab = os.getenv("OPTLAB") or "./optlab"

local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs one tmux-driven check; bounded by `timeout` whatever the REPL does.
local function tmux_check(name)
  return function()
    local cmd = string.format("OPTLAB=%s timeout 60 bash %s %s 2>&1",
      sh_quote(optlab), sh_quote(script), name)
    local p = io.popen(cmd)
    local out = p:read("a")
    local ok, _, code = p:close()
    if not ok then error(string.format("repl check '%s' failed (exit %s):\n%s", name, tostring(code), out), 0) end
    check(out:find("ok   repl." .. name, 1, true), "check did not report success:\n" .. out)
  end
end

-- optlab with stdin from a string; returns stdout, stderr and the exit status.
local function piped(input, args)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "w")); f:write(input); f:close()
  local p = io.popen(string.format("timeout 30 %s %s < %s 2>%s.err", sh_quote(optlab), args or "", tmp, tmp))
  local out = p:read("a")
  local _, _, code = p:close()
  local ef = io.open(tmp .. ".err"); local err = ef:read("a"); ef:close()
  os.remove(tmp); os.remove(tmp .. ".err")
  return out, err, code
end

local T = {}

T.tmux_complete = tmux_check("complete")
T.tmux_multiline = tmux_check("multiline")
T.tmux_print = tmux_check("print")
T.tmux_interrupt = tmux_check("interrupt")
T.tmux_history = tmux_check("history")
T.tmux_timing = tmux_check("timing")

function T.piped_statements()
  local out, err, code = piped("print(1+1)\n")
  check(out == "2\n", "echo 'print(1+1)' | optlab printed " .. string.format("%q", out))
  check(err == "" and code == 0, "stderr: " .. err)
  -- multi-line chunks, expression values, no prompts
  out, err, code = piped("function f(x)\n  return x * 3\nend\nf(5)\nlocal t = {}\nnil\n")
  check(out == "15\n", "multi-line chunk gave " .. string.format("%q", out))
  check(code == 0, "exit status " .. tostring(code) .. ": " .. err)
end

function T.piped_errors_name_their_line()
  local out, err, code = piped("x = 1\n\nerror('boom')\nprint(x)\ny = = 2\n")
  check(out == "1\n", "statements after an error still run: " .. string.format("%q", out))
  check(err:find("stdin:3: boom", 1, true), "runtime error should name line 3: " .. err)
  check(err:find("stdin:5:", 1, true), "syntax error should name line 5: " .. err)
  check(code == 1, "a failed statement makes the exit status 1, got " .. tostring(code))
  out, err = piped("for i = 1, 2 do\n")
  check(err:find("'end' expected", 1, true), "an unfinished chunk at end of input is an error: " .. err)
end

function T.dash_i_keeps_script_globals()
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "w")); f:write("kept = 41\nlocal hidden = 1\n"); f:close()
  local out = piped("kept + 1\nhidden\n", "-i " .. sh_quote(tmp))
  os.remove(tmp)
  check(out == "42\n", "-i after a script: " .. string.format("%q", out))
end

function T.pretty_cycles_depth_and_length()
  local c = { 1, 2, name = "c" }
  c.self = c
  local s = repl.pretty(c)
  check(s:find('^{1, 2, name = "c", self = <cycle: table: 0x%x+>}$'), s)
  -- a table reachable twice without a cycle prints twice
  local shared = { 1 }
  check(repl.pretty({ shared, shared }) == "{{1}, {1}}", repl.pretty({ shared, shared }))
  local deep = { a = { b = { c = { d = { 1 } } } } }
  check(repl.pretty(deep) == "{a = {b = {c = {...}}}}", repl.pretty(deep))
  local long = {}
  for i = 1, 100 do long[i] = i end
  s = repl.pretty(long)
  check(s:find("... (60 more)", 1, true), "100 items should stop at 40: " .. s)
  check(not s:find("100", 1, true), s)
  -- long tables go over several lines; keys sorted; odd keys bracketed
  s = repl.pretty({ zeta = string.rep("z", 40), alpha = string.rep("a", 40), [true] = 1, ["not a name"] = 2 })
  check(s == '{\n  alpha = "' .. string.rep("a", 40) .. '",\n  ["not a name"] = 2,\n  zeta = "'
            .. string.rep("z", 40) .. '",\n  [true] = 1\n}', s)
  check(repl.pretty("raw string") == "raw string")
  check(repl.pretty({ "a\nb" }) == '{"a\\nb"}', repl.pretty({ "a\nb" }))
  check(repl.pretty(3) == "3" and repl.pretty(0.5) == "0.5")
  check(repl.pretty({}) == "{}")
end

function T.pretty_tensors()
  local t = tensor.from { { 1, 2 }, { 3, 4 } }
  check(repl.pretty(t) == tostring(t), repl.pretty(t))
  check(repl.pretty({ w = tensor.zeros(64, 10) }) == "{w = tensor(shape=[64, 10])}",
        repl.pretty({ w = tensor.zeros(64, 10) }))
  check(repl.pretty({ tensor.ones(2) }) == "{" .. tostring(tensor.ones(2)) .. "}")
  -- __tostring of a table is used, and its failure is reported, not raised
  local obj = setmetatable({}, { __tostring = function() return "<layer Dense>" end })
  check(repl.pretty(obj) == "<layer Dense>")
  local bad = setmetatable({}, { __tostring = function() error("oops") end })
  check(repl.pretty(bad):find("__tostring failed", 1, true), repl.pretty(bad))
  check(repl.pretty(print):find("(builtin)", 1, true))
  check(repl.pretty(T.pretty_tensors):find("test_repl.lua:%d+%)$"), repl.pretty(T.pretty_tensors))
end

function T.show_sets_underscore_and_skips_nil()
  local saved = _G._
  local tmp = os.tmpname()
  local f = io.open(tmp, "w")
  local old = io.output()
  io.output(f)
  repl.show(nil)
  repl.show()
  repl.show(7, nil, "x")
  io.output(old)
  f:close()
  f = io.open(tmp); local out = f:read("a"); f:close(); os.remove(tmp)
  local got = _G._
  _G._ = saved
  check(out == "7\tnil\tx\n", string.format("%q", out))
  check(got == 7, "_ should hold the first result, got " .. tostring(got))
end

local function same(a, b)
  return table.concat(a, ",") == table.concat(b, ",")
end

function T.complete_fields_methods_globals()
  _G.opt_test = { Adam = 1, Adagrad = 2, Adadelta = 3, AdamW = 4, SGD = 5, sub = { x = 1 } }
  local r = repl.complete("opt_test.Ad")
  check(same(r, { "opt_test.Adadelta", "opt_test.Adagrad", "opt_test.Adam", "opt_test.AdamW" }), table.concat(r, " "))
  check(same(repl.complete("opt_test.sub.") , { "opt_test.sub.x" }), table.concat(repl.complete("opt_test.sub."), " "))
  _G.opt_test = nil
  -- tensor methods from require("optlab.core").methods, fields from the tensor's own table
  _G.t_test = tensor.ones(2)
  _G.t_test.my_grad_field = true
  r = repl.complete("t_test:su")
  check(same(r, { "t_test:sub", "t_test:sub_", "t_test:sum", "t_test:sumsq" }), table.concat(r, " "))
  check(same(repl.complete("t_test:my_"), {}), "':' offers methods only")
  check(same(repl.complete("t_test.my_"), { "t_test.my_grad_field" }), table.concat(repl.complete("t_test.my_"), " "))
  _G.t_test = nil
  -- classes: methods behind a metatable's __index chain
  local Base = { summary = function() end }
  local Class = setmetatable({ forward = function() end }, { __index = Base })
  _G.model_test = setmetatable({ weight = 1 }, { __index = Class })
  check(same(repl.complete("model_test:su"), { "model_test:summary" }))
  check(same(repl.complete("model_test:"), { "model_test:forward", "model_test:summary" }))
  _G.model_test = nil
  -- strings' methods, globals and keywords, nothing for unknown paths
  _G.s_test = "abc"
  check(same(repl.complete("s_test:upp"), { "s_test:upper" }))
  _G.s_test = nil
  check(same(repl.complete("tensor.linsp"), { "tensor.linspace" }))
  check(same(repl.complete("functio"), { "function" }))
  check(same(repl.complete("tenso"), { "tensor" }))
  check(same(repl.complete("no_such_global.x"), {}))
  check(same(repl.complete("math..x"), {}))
  -- an __index that raises does not break completion
  _G.u_test = setmetatable({}, { __index = function() error("no") end })
  check(same(repl.complete("u_test.a.b"), {}))
  _G.u_test = nil
end

function T.help_registry()
  local mod = { run = function() end, plain = function() end }
  _G.help_test_mod = mod
  help.register(mod, [[
    help_test_mod  a module for the test
    More words.]])
  help.register(mod.run, "help_test_mod.run(n)  runs n times")
  check(help.get(mod) == "help_test_mod  a module for the test\nMore words.", help.get(mod))
  local text = help.text(mod)
  check(text:find("More words.", 1, true) and text:find("  run  help_test_mod.run(n)  runs n times", 1, true), text)
  check(text:find("also: plain", 1, true), text)
  local list = help.text()
  check(list:find("help_test_mod  help_test_mod  a module for the test", 1, true), list)
  check(list:find("tensor", 1, true), "help() should list tensor: " .. list)
  check(help.text("run") == "help_test_mod.run(n)  runs n times", help.text("run"))
  check(help.text("help_test_mod.run") == "help_test_mod.run(n)  runs n times")
  check(help.text(nil):find("got nil", 1, true))
  check(help.text(tensor.zeros):find("tensor.zeros(", 1, true))
  check(help.text(tensor.ones(2)):find("t:shape()", 1, true), "help(t) lists tensor methods")
  check(help.text(mod.plain):find("no documentation for the function defined at", 1, true))
  lib.raises(function() help.register(nil, "x") end, "nothing to document")
  lib.raises(function() help.register(mod, 3) end, "text must be a string")
  _G.help_test_mod = nil
end

function T.help_falls_back_to_source_comments()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. sh_quote(dir))
  local f = assert(io.open(dir .. "/helpsrc_mod.lua", "w"))
  f:write("-- A module header.\n-- Second line.\nlocal M = {}\n\n-- Doubles x.\n-- Returns a number.\nfunction M.double(x) return 2 * x end\n\nfunction M.bare() end\nreturn M\n")
  f:close()
  local saved = package.path
  package.path = dir .. "/?.lua;" .. package.path
  local mod = require "helpsrc_mod"
  package.path = saved
  local ok1, t1 = pcall(help.text, mod)
  local ok2, t2 = pcall(help.text, mod.double)
  local ok3, t3 = pcall(help.text, mod.bare)
  package.loaded.helpsrc_mod = nil
  os.remove(dir .. "/helpsrc_mod.lua"); os.remove(dir)
  check(ok1 and t1:find("^A module header.\nSecond line.") ~= nil, tostring(t1))
  check(ok2 and t2 == "Doubles x.\nReturns a number.", tostring(t2))
  check(ok3 and t3:find("no documentation for the function defined at", 1, true), tostring(t3))
end

-- model:summary() at the prompt prints its table once, with no stray number
-- after it (it used to return the text and the count, which the REPL printed too).
function T.piped_summary_prints_once()
  local out, err = piped("m = nn.Sequential{input = {2}, nn.Dense{3}}\nm:summary()\n")
  local _, n = out:gsub("Total params", "")
  check(n == 1, "the table printed " .. n .. " times:\n" .. out .. err)
  check(not out:find("\t9", 1, true) and out:match("_\n$"), "a stray value after the table:\n" .. out)
  local text, total = nn.Sequential { input = { 2 }, nn.Dense { 3 } }:summary(false)
  check(text:find("Total params: 9", 1, true) and total == 9, "summary(false) still returns text, total")
end

-- An error at the prompt shows the user's frame, not optlab's stdlib; the
-- full traceback on request with :traceback.
function T.piped_errors_show_the_users_frame()
  local out, err = piped("x = tensor.zeros(2)\nx:matmul(tensor.zeros(3))\nfunction f() error('in f') end\nf()\n:traceback\n")
  check(err:find("stdin:2: matmul: shapes [2] and [3]", 1, true), "the error names the user's line: " .. err)
  local first = err:match("^(.-)stdin:3: in f")
  check(first and not first:find("stdlib/", 1, true) and not first:find("[C]:", 1, true),
        "stdlib and C frames are hidden: " .. err)
  check(err:find("stdin:3: in function 'f'", 1, true) and err:find("stdin:4: in main chunk", 1, true), "user frames stay: " .. err)
  local full = err:match("in main chunk\n%(:traceback shows the full traceback%)\n(.*)$")
  check(full and full:find("[C]: in function 'error'", 1, true), ":traceback prints the last error in full: " .. tostring(full))
end

-- Completion offers no metamethods and walks integer subscripts.
function T.complete_hides_metamethods_and_follows_subscripts()
  _G.m_test = nn.Sequential { input = { 2 }, nn.Dense { 3, activation = "relu" }, nn.Dense { 2 } }
  for _, w in ipairs { "m_test:", "m_test.", "m_test.layers[2]." } do
    local r = repl.complete(w)
    check(#r > 0, "something completes after " .. w)
    for _, c in ipairs(r) do check(not c:find("%.__") and not c:find(":__"), w .. " offers a metamethod: " .. c) end
  end
  local r = repl.complete("m_test.layers[2].un")
  check(same(r, { "m_test.layers[2].units" }), "model.layers[2].un -> " .. table.concat(r, " "))
  check(same(repl.complete("m_test.layers[ 1 ]:forw"), { "m_test.layers[ 1 ]:forward" }), "spaces in the subscript")
  check(same(repl.complete("m_test.layers[9]."), {}), "no layer 9")
  _G.m_test = nil
  -- inside a subscript, the expression's own chain completes
  check(same(repl.complete("t[math.pi"), { "t[math.pi" }), table.concat(repl.complete("t[math.pi"), " "))
end

return T
