-- What users read says what it means: no undefined "the seed" (to a researcher
-- that is the random seed) in the README, the shipped experiments, the bench
-- notes or any help text; the Keras example CNN has a name that says what it is.
local lib = require "lib"
local help = require "help"
local check = lib.check

local T = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local ROOT = io.popen("cd '" .. here .. "/../..' && pwd"):read("*l")

-- "the seed", "seed's", "seed:" (as a source, e.g. "(seed: SGD"), "seed CNN";
-- random seeds ("same seed", "seeds=1,2", "manual_seed(seed)") stay.
local function offending(line)
  local l = line:lower()
  return l:find("the seed", 1, true) or l:find("seed's", 1, true) or l:find("seed:", 1, true)
    or l:find("seed cnn", 1, true) or l:find("seed_cnn", 1, true)
end

local function scan(path, bad)
  local f = assert(io.open(path))
  local n = 0
  for line in f:lines() do
    n = n + 1
    if offending(line) then bad[#bad + 1] = path:sub(#ROOT + 2) .. ":" .. n .. ": " .. line end
  end
  f:close()
end

function T.readme_experiments_and_bench_notes_do_not_say_the_seed()
  local bad = {}
  scan(ROOT .. "/README.md", bad)
  scan(ROOT .. "/bench/README.md", bad)
  scan(ROOT .. "/CONTRIBUTING.md", bad)
  for name in io.popen("ls '" .. ROOT .. "/experiments'"):lines() do
    if name:match("%.lua$") then scan(ROOT .. "/experiments/" .. name, bad) end
  end
  check(#bad == 0, "product text says 'the seed':\n" .. table.concat(bad, "\n"))
end

function T.help_texts_do_not_say_the_seed()
  help.text(tensor) -- loads the core docs
  local bad = {}
  for obj, text in pairs(help.docs) do
    for line in (text .. "\n"):gmatch("(.-)\n") do
      if offending(line) then bad[#bad + 1] = line end
    end
  end
  table.sort(bad)
  check(#bad == 0, "help texts say 'the seed':\n" .. table.concat(bad, "\n"))
end

function T.keras_example_cnn_has_a_name_that_says_what_it_is()
  check(type(nn.models.keras_mnist_cnn) == "function", "nn.models.keras_mnist_cnn")
  check(nn.models.seed_cnn == nil, "the old name nn.models.seed_cnn is gone")
  local m = nn.models.keras_mnist_cnn()
  local n = 0
  for _, p in ipairs(m:parameters()) do n = n + p:numel() end
  check(n == 1387594, "1,387,594 parameters, got " .. n)
  check(help.text(nn.models.keras_mnist_cnn):find("Keras", 1, true), "its help names the Keras example")
end

-- Every public function has a help entry. Public: the members of the global
-- modules, of their plain sub-tables (nn.functional, nn.init, nn.models), the
-- tensor methods, and the methods of layers, models and loaders. Internal and
-- left out: tensor.raw (the C kernels under autograd), tensor.autograd (its
-- machinery), report and compat (the run-folder writer, the VM shim), names
-- starting with "_".
local INTERNAL = { raw = true, autograd = true }

local function missing_in(prefix, t, out, depth, seen)
  if seen[t] then return end
  seen[t] = true
  for k, v in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then
      if type(v) == "function" and not help.docs[v] then out[#out + 1] = prefix .. k
      elseif type(v) == "table" and depth > 0 and not INTERNAL[k] and getmetatable(v) == nil and k ~= "specs" then
        missing_in(prefix .. k .. ".", v, out, depth - 1, seen)
      end
    end
  end
end

function T.every_public_function_has_a_help_entry()
  help.get(nil)
  local out, seen = {}, {}
  for _, m in ipairs { "tensor", "nn", "optim", "schedule", "data", "train", "experiment", "sys", "serial", "help" } do
    missing_in(m .. ".", rawget(_G, m), out, 1, seen)
  end
  missing_in("t:", getmetatable(tensor.zeros(1)).__index == nil and {} or require("optlab.core").methods, out, 0, seen)
  local model = nn.Sequential { input = { 2 }, nn.Dense { 3 } }
  local seq = getmetatable(model)
  while seq do
    if type(seq.__index) == "table" then missing_in("model:", seq.__index, out, 0, seen) end
    seq = getmetatable(seq.__index)
  end
  missing_in("data.Loader:", data.Loader, out, 0, seen)
  missing_in("opt:", getmetatable(optim.SGD {}).__index, out, 0, seen)
  table.sort(out)
  check(#out == 0, #out .. " public functions without a help entry: " .. table.concat(out, ", "))
end

function T.help_texts_of_the_issue()
  help.get(nil)
  check(help.text(experiment.compare):find("optimizers", 1, true), "experiment.compare has an entry")
  local lin = help.text(schedule.linear)
  for _, p in ipairs { "from", "to", "steps" } do check(lin:find("\n  " .. p .. " "), "schedule.linear names its parameter " .. p) end
  check(not help.text(tensor.empty):find("zero-filled", 1, true), "tensor.empty is not zero-filled")
  check(help.docs[tensor.no_grad] and help.docs[train.evaluate] and help.docs[tensor.zeros(1).backward], "no_grad, evaluate, backward")
end

return T
