-- Baselines that ship (stdlib/experiment/baselines.lua): a new optimizer ranked among a
-- benchmark's recorded results without rerunning them; a different protocol refused,
-- naming the field; an edited record refused; the shipped folder still the code's.
local lib = require "lib"
local report = require "report"
local check, raises = lib.check, lib.raises
local q = report.shell_quote

local T = {}

local function exe()
  local e = lib.optlab_exe()
  if e:sub(1, 1) ~= "/" then e = io.popen("readlink -f " .. q(e)):read("l") end
  return e
end

-- optlab <script> <args...> in dir: its output and whether it exited 0
local function run(dir, script, args)
  local p = io.popen("cd " .. q(dir) .. " && " .. q(exe()) .. " " .. q(script) .. " " .. (args or "") .. " 2>&1; echo \"exit $?\"")
  local out = p:read("a")
  p:close()
  return out, out:find("\nexit 0\n", 1, true) ~= nil or out:match("^exit 0") ~= nil
end

-- The tiny suite: two problems, a budget of seconds. Its fields are the protocol.
local SUITE = [==[
  problems = { problems.quadratic_deep { epochs = 2 }, problems.logistic_mnist { epochs = 1, train_limit = 400, val_limit = 200 } },
  tune = { method = "random", trials = 2 }, seeds = { 1, 2 }, verbose = 0,
]==]
local SGD = [[{ "SGD", lr = tune.log_uniform(1e-3, 1) }]]
local ADAM = [[{ "Adam", lr = tune.log_uniform(1e-4, 1e-1) }]]
local RMS = [[{ "RMSprop", lr = tune.log_uniform(1e-4, 1e-1) }]]

local function script(dir, file, name, optimizers, extra)
  report.write_file(dir .. "/" .. file, "return experiment.benchmark {\n  name = " .. string.format("%q", name) ..
                    ",\n  optimizers = { " .. table.concat(optimizers, ", ") .. " },\n" .. (extra or SUITE) .. "}\n")
end

local function folder_of(out) return out:match("Benchmark folder: ([^\n]+)") end

local function csv_rows(bdir)
  local rows = report.parse_csv(report.read_file(bdir .. "/benchmark.csv")).rows
  local by = {}
  for _, r in ipairs(rows) do by[r.problem .. "/" .. r.optimizer] = r end
  return rows, by
end

-- one baseline built for all the tests (a few seconds)
local shared = nil
local function baseline()
  if shared then return shared end
  local dir = os.tmpname()
  os.remove(dir)
  report.mkdir_p(dir)
  script(dir, "base.lua", "base", { SGD, ADAM })
  local out, ok = run(dir, "base.lua", "runs_dir=runs")
  check(ok, "the baseline benchmark failed:\n" .. out)
  shared = { dir = dir, base = dir .. "/" .. folder_of(out) }
  return shared
end

function T.a_new_optimizer_ranks_among_the_baselines_as_if_all_had_run_together()
  local b = baseline()
  script(b.dir, "mine.lua", "mine", { RMS })
  local out, ok = run(b.dir, "mine.lua", "runs_dir=runs baselines=" .. q(b.base))
  check(ok, "the benchmark against baselines failed:\n" .. out)
  local mine = b.dir .. "/" .. folder_of(out)
  -- the same three optimizers run together
  script(b.dir, "all.lua", "all", { SGD, ADAM, RMS })
  local aout, aok = run(b.dir, "all.lua", "runs_dir=runs")
  check(aok, "the joint benchmark failed:\n" .. aout)
  local rows, by = csv_rows(mine)
  local _, joint = csv_rows(b.dir .. "/" .. folder_of(aout))
  check(#rows == 6, "benchmark.csv has " .. #rows .. " rows, not 2 problems x 3 optimizers")
  for key, r in pairs(by) do
    local j = joint[key]
    check(j, key .. " is missing from the joint run")
    check(r.baseline == (r.optimizer == "RMSprop" and "no" or "yes"), key .. ": baseline column " .. tostring(r.baseline))
    for _, col in ipairs { "mean", "std", "rank", "rank_lo", "rank_hi", "target", "steps_to_target", "hyperparameters" } do
      check(r[col] == j[col], string.format("%s: %s is %s against the baselines, %s run together", key, col, r[col], j[col]))
    end
    check(r.cpu ~= "", key .. ": no CPU recorded")
  end
  -- the baselines were read, not rerun: the new folder holds only RMSprop's runs
  local m = report.json_decode(report.read_file(mine .. "/manifest.json"))
  check(m.baselines and m.baselines.folder == b.base, "the manifest does not name the baselines")
  local pm = report.json_decode(report.read_file(mine .. "/" .. m.problems[1].folder .. "/manifest.json"))
  for _, r in ipairs(pm.runs) do check(r.optimizer:match("^RMSprop"), "a baseline was rerun: " .. tostring(r.optimizer)) end
  -- the performance profile counts all three
  local prof = report.read_file(mine .. "/profile.dat")
  check(select(2, prof:gsub("\ntau\t", "")) + (prof:match("^tau\t") and 1 or 0) == 3, "profile.dat lacks an optimizer")
  local summary = report.read_file(mine .. "/summary.md")
  check(summary:find("SGD (baseline)", 1, true) and summary:find("Rows marked (baseline) are read from", 1, true), summary)
end

function T.the_problems_tune_and_seeds_default_to_the_baselines()
  local b = baseline()
  report.write_file(b.dir .. "/short.lua", "return experiment.benchmark { name = 'short', verbose = 0, optimizers = { " .. RMS .. " } }\n")
  local out, ok = run(b.dir, "short.lua", "runs_dir=runs baselines=" .. q(b.base))
  check(ok, "a benchmark with only optimizers and baselines= failed:\n" .. out)
  local bdir = b.dir .. "/" .. folder_of(out)
  local rows = csv_rows(bdir)
  check(#rows == 6, "benchmark.csv has " .. #rows .. " rows")
  -- the seeds taken from the baselines' JSON are integers (seed 1, not 1.0), so verify's rerun finds every run
  local p = io.popen("cd " .. q(b.dir) .. " && " .. q(exe()) .. " verify " .. q(bdir) .. " 2>&1; echo \"exit $?\"")
  local vout = p:read("a")
  p:close()
  check(vout:find("OK, the benchmark's 2 problems verify", 1, true) and vout:find("exit 0", 1, true), "verify:\n" .. vout)
end

function T.a_different_protocol_is_refused_naming_the_field()
  local b = baseline()
  local function try(fields)
    local spec = { optimizers = { { "RMSprop", lr = tune.log_uniform(1e-4, 1e-1) } }, baselines = b.base, arg = {},
                   problems = { problems.quadratic_deep { epochs = 2 }, problems.logistic_mnist { epochs = 1, train_limit = 400, val_limit = 200 } },
                   tune = { method = "random", trials = 2 }, seeds = { 1, 2 } }
    for k, v in pairs(fields) do spec[k] = v end
    return function() experiment.benchmark(spec) end
  end
  raises(try { tune = { method = "random", trials = 3 } }, "are not comparable: tune.trials is 2 there, 3 here")
  raises(try { tune = { method = "halving", trials = 2 } }, "tune.method is \"random\" there, \"halving\" here")
  raises(try { seeds = { 1, 2, 3 } }, "seeds[3] is not given there, 3 here")
  raises(try { problems = { problems.quadratic_deep { epochs = 3 }, problems.logistic_mnist { epochs = 1, train_limit = 400, val_limit = 200 } } },
         "problems[1].epochs is 2 there, 3 here (problem quadratic_deep)")
  raises(try { problems = { problems.quadratic_deep { epochs = 2 } } }, "ran other problems (quadratic_deep, logistic_mnist) than this benchmark's (quadratic_deep)")
  raises(try { optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) } } }, "already have SGD: give yours another label")
  raises(try { baselines = b.dir }, "no " .. b.dir .. "/manifest.json")
  -- the same protocol passes every check and stops only at running (no script file here)
  raises(try {}, "run it as a script file")
end

function T.an_edited_baseline_record_is_refused_and_verify_flags_it()
  local b = baseline()
  local copy = b.dir .. "/edited"
  os.execute("rm -rf " .. q(copy) .. " && cp -r " .. q(b.base) .. " " .. q(copy))
  local m = report.json_decode(report.read_file(copy .. "/manifest.json"))
  local csv = copy .. "/" .. m.problems[2].folder .. "/metrics.csv"
  -- SGD's seed 2 reported a better accuracy at its last epoch than it had
  local text = report.read_file(csv)
  local lines = {}
  for line in (text .. ""):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local head = report.parse_csv(lines[1] .. "\n").header or {}
  local col = nil
  for i, h in ipairs(head) do if h == "val_accuracy" then col = i end end
  check(col, "metrics.csv has no val_accuracy column: " .. lines[1])
  local edited = false
  for i = #lines, 2, -1 do
    local cells = {}
    for c in (lines[i] .. ","):gmatch("([^,]*),") do cells[#cells + 1] = c end
    if cells[2] == "SGD" and not edited then
      cells[col] = "0.999"
      lines[i], edited = table.concat(cells, ","), true
    end
  end
  check(edited, "no SGD row in " .. csv)
  report.write_file(csv, table.concat(lines, "\n") .. "\n")
  raises(function()
    experiment.benchmark { optimizers = { { "RMSprop", lr = tune.log_uniform(1e-4, 1e-1) } }, baselines = copy, arg = {} }
  end, "the baselines' record of SGD on logistic_mnist was edited")
  local p = io.popen(q(exe()) .. " verify " .. q(copy) .. " 2>&1; echo \"exit $?\"")
  local out = p:read("a")
  p:close()
  check(out:find("FAILED: not every problem of the benchmark verifies", 1, true) and out:find("exit 1", 1, true),
        "verify of the edited baselines:\n" .. out)
end

function T.times_measured_on_another_cpu_are_flagged_with_it()
  local b = baseline()
  local copy = b.dir .. "/elsewhere"
  os.execute("rm -rf " .. q(copy) .. " && cp -r " .. q(b.base) .. " " .. q(copy))
  local m = report.json_decode(report.read_file(copy .. "/manifest.json"))
  for _, p in ipairs(m.problems) do
    local f = copy .. "/" .. p.folder .. "/manifest.json"
    local text, n = report.read_file(f):gsub('"cpu": *"[^"]*"', '"cpu": "Other CPU 9000"')
    check(n == 1, f .. ": no cpu field to change")
    report.write_file(f, text)
  end
  script(b.dir, "far.lua", "far", { RMS })
  local out, ok = run(b.dir, "far.lua", "runs_dir=runs baselines=" .. q(copy))
  check(ok, "the benchmark against baselines of another CPU failed:\n" .. out)
  local bdir = b.dir .. "/" .. folder_of(out)
  local rows = csv_rows(bdir)
  local here = require("experiment.env").cpu_model()
  for _, r in ipairs(rows) do
    if r.baseline == "yes" then check(r.cpu == "Other CPU 9000", "a baseline row's cpu is " .. r.cpu)
    else check(r.cpu ~= "Other CPU 9000" and r.cpu == here, "the new row's cpu is " .. r.cpu) end
  end
  local summary = report.read_file(bdir .. "/summary.md")
  check(summary:find("were measured on another machine (Other CPU 9000)", 1, true), "summary.md does not flag the CPU:\n" .. summary)
  -- a reached target of a baseline carries the CPU it was timed on
  local reached = false
  for _, r in ipairs(rows) do reached = reached or (r.baseline == "yes" and r.steps_to_target ~= "") end
  check(not reached or summary:find(" s, on Other CPU 9000)", 1, true), "a baseline's seconds to target are not flagged:\n" .. summary)
end

-- The shipped baselines are the code's: the same optlab version, problem definitions and protocol
-- as experiments/baselines_suite.lua records, every record consistent with its metrics.csv. A change
-- that fails this needs the baselines regenerated (CONTRIBUTING.md); `make verify-baselines` checks the bits.
function T.the_shipped_baselines_match_the_code()
  local dir = "baselines/small-suite"
  local m = report.json_decode(report.read_file(dir .. "/manifest.json"))
  check(m.protocol.optlab_version == require("optlab.core").version,
        "the shipped baselines are of optlab " .. tostring(m.protocol.optlab_version) .. ": regenerate them (CONTRIBUTING.md)")
  -- every check passes: the benchmark stops only where it would start running
  raises(function()
    experiment.benchmark { optimizers = { { "SGD", label = "mine", lr = tune.log_uniform(1e-3, 1) } }, baselines = dir, arg = {} }
  end, "run it as a script file")
  -- and the suite's script still describes the same protocol
  local text = report.read_file("experiments/baselines_suite.lua")
  check(text:find(string.format("trials = %d", m.protocol.tune.trials), 1, true) and text:find('method = "' .. m.protocol.tune.method .. '"', 1, true),
        "experiments/baselines_suite.lua no longer has the shipped baselines' tune: regenerate them")
end

-- last in name order: the shared baseline's temporary folder goes
function T.z_the_temporary_baseline_is_removed()
  if shared then
    os.execute("rm -rf " .. q(shared.dir))
    check(not report.exists(shared.dir), "could not remove " .. shared.dir)
  end
  shared = nil
end

return T
