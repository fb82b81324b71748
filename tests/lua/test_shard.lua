-- `--shard i/n` and `optlab merge` (stdlib/experiment/shard.lua, merge.lua),
-- through the optlab binary, on a stand-in comparison: a synthetic fit whose
-- history depends on the initial weights, the optimizer and the seed (and a
-- per-step log, for steps.csv), so a run takes milliseconds. Everything is
-- written under a temporary folder.
local lib = require "lib"
local report = require "report"
local serial = require "serial"
local experiment = require "experiment"
local check = lib.check

local T = {}
local q = report.shell_quote
local EXE = lib.optlab_exe()
if EXE:sub(1, 1) ~= "/" then EXE = io.popen("readlink -f " .. q(EXE)):read("l") end

local TMP = lib.tmpdir()

-- STANDIN_KILL=<optimizer>@<seed>: SIGKILL to the process running that run, in its epoch 2.
local SCRIPT = [==[
local KILL = os.getenv("STANDIN_KILL")
local function Opt(name, lr)
  return { name = name, label = name .. "(lr=" .. lr .. ")", values = { lr = lr }, step = function() end }
end
local function Dataset(n)
  local mt = {}
  mt.__len = function(self) return self.n end
  mt.__index = { take = function(self, k) return setmetatable({ n = math.min(k, self.n) }, mt) end,
                 files = function() return {} end }
  return setmetatable({ n = n }, mt)
end
local function fit(model, opt, ds, cfg)
  local h = { loss = {}, accuracy = {}, val_loss = {}, val_accuracy = {}, lr = {}, seconds = {}, ms_per_step = {},
              steps = { step = {}, epoch = {}, loss = {}, lr = {} } }
  for e = 1, cfg.epochs do
    local x = model.w * 0.01 + opt.values.lr * e * 3 + cfg.seed * 0.01 + @OFFSET@
    h.loss[e], h.accuracy[e] = 1 / (1 + x), 1 - 0.9 / (1 + x)
    h.val_loss[e], h.val_accuracy[e] = 1.1 / (1 + x), 1 - 1 / (1 + x) + 0.001 * math.sin(e)
    h.lr[e], h.seconds[e], h.ms_per_step[e] = opt.values.lr, 0.5 + 0.01 * e, 25 + e
    for k = 1, 4 do
      local s = #h.steps.step + 1
      h.steps.step[s], h.steps.epoch[s], h.steps.loss[s], h.steps.lr[s] = s, e, 1 / (1 + x + k * 0.1), opt.values.lr
    end
    if KILL == opt.name .. "@" .. cfg.seed and e == 2 then
      local p = io.popen("kill -KILL $PPID") p:read("a") p:close()
    end
  end
  return h
end
return experiment.compare {
  name = "standin", data = function() return Dataset(1000), Dataset(200) end,
  model = function() return { w = tensor.randn(4):sum():item() } end,
  batch_size = 50, epochs = 3, seeds = { 1, 2 },
  optimizers = { Opt("A", 0.1), Opt("B", 0.01), Opt("C", 0.05) }, fit = fit,
}
]==]

local counter = 0
local function fresh(name) counter = counter + 1; return string.format("%s/%s%d", TMP, name, counter) end

-- A copy of the stand-in; offset changes its results (another script).
local function script(offset)
  local dir = fresh("s")
  report.mkdir_p(dir)
  report.write_file(dir .. "/standin.lua", (SCRIPT:gsub("@OFFSET@", tostring(offset or 0.001))))
  return dir .. "/standin.lua"
end

-- Runs optlab; returns exit status, stdout, stderr.
local function run(args, pre)
  local out, err = TMP .. "/stdout", TMP .. "/stderr"
  local ok, _, code = os.execute((pre or "") .. q(EXE) .. " " .. args .. " > " .. q(out) .. " 2> " .. q(err))
  return ok and 0 or code, report.read_file(out) or "", report.read_file(err) or ""
end

local function manifest(dir) return report.json_decode(report.read_file(dir .. "/manifest.json")) end

-- The serial run of a script, and its shards 1..n (the folders).
local function serial_run(path, extra)
  local dir = fresh("serial")
  local rc, out, err = run(q(path) .. " --jobs 1 --out " .. q(dir) .. " " .. (extra or ""))
  check(rc == 0, "serial run: exit status " .. tostring(rc) .. "\n" .. out .. err)
  return dir
end
local function shard_run(path, i, n, extra, pre)
  local dir = fresh("shard")
  local rc, out, err = run(q(path) .. " --shard " .. i .. "/" .. n .. " --out " .. q(dir) .. " " .. (extra or ""), pre)
  return dir, rc, out, err
end
local function shards(path, n, extra)
  local dirs = {}
  for i = 1, n do
    local dir, rc, out, err = shard_run(path, i, n, extra)
    check(rc == 0, "shard " .. i .. "/" .. n .. ": exit status " .. tostring(rc) .. "\n" .. out .. err)
    dirs[i] = dir
  end
  return dirs
end
local function merge(dirs, out)
  local args = {}
  for i, d in ipairs(dirs) do args[i] = q(d) end
  return run("merge " .. table.concat(args, " ") .. " --out " .. q(out))
end

local function records_of(dir)
  local out = {}
  for id = 1, 6 do
    local text = report.read_file(string.format("%s/records/run-%04d.lua", dir, id))
    out[id] = text and serial.decode(text, "record")
  end
  return out
end

-- Every number of two tables of columns, bit for bit.
local function same_columns(a, b, what)
  check(type(a) == "table" and type(b) == "table", what .. ": missing")
  for k, col in pairs(a) do
    check(type(b[k]) == "table" and #b[k] == #col, what .. "." .. k .. ": length")
    for i = 1, #col do check(report.same_bits(col[i], b[k][i]), string.format("%s.%s[%d] differs", what, k, i)) end
  end
  for k in pairs(b) do check(a[k] ~= nil, what .. "." .. k .. ": only in one") end
end

-- summary.md's tables: without its Script line (a resumed folder names the
-- resolved arguments it ran), the merge's line and the schedule (times of day differ).
local function summary_tables(dir)
  local text = report.read_file(dir .. "/summary.md")
  text = text:gsub("\nScript: [^\n]*", ""):gsub("Merged by `optlab merge` [^\n]*\n\n", "")
  -- the threads column follows the schedule, which shards and a serial run do not share
  local lines, strip = {}, false
  for line in (text .. "\n"):gmatch("(.-)\n") do
    if line:find("^| optimizer |") then strip = line:find("| threads |$") ~= nil end
    if not line:find("^|") then strip = false end
    lines[#lines + 1] = strip and line:gsub("[^|]*|$", "") or line
  end
  return (table.concat(lines, "\n"):gsub("## Schedule.*$", ""))
end

-- time.dat's optimizers (its values are seconds, or core-seconds when the runs' thread
-- counts differ: the schedule decides that, and shards do not share a serial run's)
local function time_rows(text)
  local names = {}
  for line in text:gmatch("[^\n]+") do
    if not line:find("^#") then names[#names + 1] = line:match("^([^\t]*)") end
  end
  return table.concat(names, ",")
end

-- The views of a merged folder equal a serial run's: metrics.csv and steps.csv
-- byte for byte, the records' numbers bit for bit, the tables, the plots' data.
local function check_equal_to_serial(dir, ref, what)
  for _, f in ipairs { "metrics.csv", "steps.csv", "accuracy.dat", "loss.dat", "time.dat", "steps.dat", "schedule.dat" } do
    local a = report.read_file(ref .. "/" .. f)
    check(a ~= nil, what .. ": the serial run has no " .. f)
    if f == "time.dat" then
      check(time_rows(report.read_file(dir .. "/" .. f)) == time_rows(a), what .. ": time.dat's optimizers differ")
    else
      check(report.read_file(dir .. "/" .. f) == a, what .. ": " .. f .. " differs from a serial run's")
    end
  end
  check(summary_tables(dir) == summary_tables(ref), what .. ": summary.md's tables differ:\n" .. summary_tables(dir))
  local function html_tables(d) -- without the comparison's threads column, as summary_tables
    local t = report.read_file(d .. "/report.html"):match("<h2>Comparison.-<h2>Plots")
    local head, tbl, rest = (t or ""):match("^(.-)(<table.-</table>)(.*)$")
    if tbl and tbl:find("<th>threads</th></tr>", 1, true) then
      t = head .. tbl:gsub("<th>threads</th></tr>", "</tr>"):gsub("<td>[^<]*</td></tr>", "</tr>") .. rest
    end
    return t
  end
  check(html_tables(ref) and html_tables(dir) == html_tables(ref), what .. ": report.html's tables differ")
  local a, b = records_of(ref), records_of(dir)
  for id = 1, 6 do
    check(b[id] and b[id].status == a[id].status and b[id].label == a[id].label and b[id].seed == a[id].seed,
          what .. ": record " .. id)
    same_columns(a[id].history, b[id].history, what .. ": record " .. id .. " history")
    same_columns(a[id].logs.steps, b[id].logs.steps, what .. ": record " .. id .. " steps")
  end
end

function T.shards_1_to_3_then_merge_equal_a_serial_run_bit_for_bit()
  local path = script()
  local ref = serial_run(path, "epochs=3")
  -- shard 2 with worker processes, the others in their process
  local dirs = {}
  for i = 1, 3 do
    local dir, rc, out, err = shard_run(path, i, 3, "epochs=3" .. (i == 2 and " --jobs 2" or " --jobs 1"))
    check(rc == 0, "shard " .. i .. ": exit status " .. tostring(rc) .. "\n" .. out .. err)
    dirs[i] = dir
    -- a shard owns runs i and i + 3 (run id k is shard ((k - 1) mod 3) + 1); the others are not failures
    local m = manifest(dir)
    check(m.shard.index == i and m.shard.count == 3 and #m.shard.runs == 2 and m.shard.runs[1] == i and
          m.shard.runs[2] == i + 3, "shard " .. i .. "'s manifest: " .. report.json(m.shard))
    check(m.status == "complete" and #m.missing == 0, "shard " .. i .. " status " .. tostring(m.status))
    for id, r in ipairs(m.runs) do
      local mine = (id - 1) % 3 + 1 == i
      check((mine and r.status == "complete") or (not mine and r.status == "other_shard"),
            "shard " .. i .. " run " .. id .. ": " .. tostring(r.status))
      check(report.exists(string.format("%s/records/run-%04d.lua", dir, id)) == mine, "shard " .. i .. " record " .. id)
    end
    check(out:find("Runs of other shards (this folder is shard " .. i .. " of 3", 1, true) and
          not out:find("Missing", 1, true) and not out:find("not run", 1, true), "shard " .. i .. "'s output:\n" .. out)
    local md = report.read_file(dir .. "/summary.md")
    check(md:find("## Runs of other shards", 1, true) and not md:find("Missing", 1, true), "summary.md:\n" .. md)
  end
  -- merged in any order
  local out_dir = fresh("merged")
  local rc, out, err = merge({ dirs[3], dirs[1], dirs[2] }, out_dir)
  check(rc == 0, "merge: exit status " .. tostring(rc) .. "\n" .. out .. err)
  check(out:find("optlab merge: 3 of 3 shards (1 2 3) into " .. out_dir, 1, true), out)
  check_equal_to_serial(out_dir, ref, "merged")
  local m = manifest(out_dir)
  check(m.status == "complete" and #m.missing == 0 and m.shard == nil, "merged manifest status")
  check(m.merged and #m.merged.shards == 3 and m.merged.shards[2].shard == "2/3" and #m.merged.missing_shards == 0,
        "the manifest does not say which shards it was merged from")
  check(m.script.sha256 == manifest(ref).script.sha256 and report.read_file(out_dir .. "/code/standin.lua") == report.read_file(path),
        "the merged folder's code")
  local script_line = report.read_file(ref .. "/summary.md"):match("Script: [^\n]*")
  local md = report.read_file(out_dir .. "/summary.md")
  check(md:find(script_line .. "\n", 1, true) and md:find("\nMerged by `optlab merge` from shards 1/3, 2/3, 3/3.\n", 1, true),
        "summary.md does not name the script or say it was merged:\n" .. md)
  -- verify reruns the merged folder serially and finds it equal
  local vrc, vout = run("verify " .. q(out_dir))
  check(vrc == 0 and vout:find("OK, every metric matches bit for bit", 1, true), "verify of a merged folder:\n" .. vout)
  -- and a shard's folder verifies on its own: the rerun runs its slice only
  local vrc2, vout2 = run("verify " .. q(dirs[2]))
  check(vrc2 == 0 and vout2:find("--shard=2/3", 1, true) and vout2:find("OK, every metric matches bit for bit", 1, true) and
        select(2, vout2:gsub("epochs 1%-3: all 5 metrics match bit for bit", "")) == 2, "verify of a shard folder:\n" .. vout2)
end

function T.a_missing_shard_gives_a_folder_that_resume_completes_to_the_serial_run()
  local path = script()
  local ref = serial_run(path)
  local dirs = shards(path, 3)
  local out_dir = fresh("merged")
  local rc, out = merge({ dirs[1], dirs[3] }, out_dir)
  check(rc == 1, "merge with a shard missing: exit status " .. tostring(rc) .. "\n" .. out)
  check(out:find("shard 2/3 missing: its runs are listed as not run; `optlab resume " .. out_dir .. "` runs them", 1, true),
        "merge does not say a shard is missing:\n" .. out)
  local m = manifest(out_dir)
  check(m.status == "incomplete" and #m.missing == 2 and m.missing[1] == "A(lr=0.1) seed 2: not run" and
        m.missing[2] == "C(lr=0.05) seed 1: not run", "missing runs: " .. report.json(m.missing))
  check(m.runs[2].status == "missing" and m.runs[1].status == "complete" and #m.merged.missing_shards == 1, "runs")
  local md = report.read_file(out_dir .. "/summary.md")
  check(md:find("## Missing or incomplete runs", 1, true) and
        md:find("Merged by `optlab merge` from shards 1/3, 3/3 (missing: 2/3).", 1, true), "summary.md:\n" .. md)
  local vrc, vout = run("verify " .. q(out_dir))
  check(vrc ~= 0 and vout:find("the folder is incomplete", 1, true), "verify passed an incomplete merge:\n" .. vout)
  local rrc, rout, rerr = run("resume " .. q(out_dir))
  check(rrc == 0 and rout:find("4 of 6 runs finished before; running 2", 1, true), "resume:\n" .. rout .. rerr)
  check_equal_to_serial(out_dir, ref, "resumed merge")
  local m2 = manifest(out_dir)
  check(m2.status == "complete" and m2.merged and #m2.merged.missing_shards == 1, "the resumed manifest forgot the merge")
  local vrc2, vout2 = run("verify " .. q(out_dir))
  check(vrc2 == 0, "verify after resume:\n" .. vout2)
end

function T.resume_of_a_killed_shard_completes_that_shard_only()
  local path = script()
  local ref = serial_run(path)
  local dirs = shards(path, 3)
  -- shard 3 owns B seed 1 (run 3) and C seed 2 (run 6): killed in run 6
  local dir, rc = shard_run(path, 3, 3, "--jobs 1", "STANDIN_KILL=C@2 ")
  check(rc == 128 + 9, "the shard was not killed: " .. tostring(rc))
  local m = manifest(dir)
  check(m.status == "running" and m.runs[3].status == "complete" and m.runs[6].status == "pending" and
        m.runs[1].status == "other_shard", "killed shard's manifest")
  -- merged as it is, the killed shard's unfinished run is missing
  local early = fresh("merged")
  local erc, eout = merge({ dirs[1], dirs[2], dir }, early)
  check(erc == 1 and eout:find("shard 3/3 (" .. dir .. ") is unfinished", 1, true), "merge of a killed shard:\n" .. eout)
  local em = manifest(early)
  check(#em.missing == 1 and em.missing[1] == "C(lr=0.05) seed 2: not run" and em.runs[3].status == "complete",
        "merge of a killed shard: " .. report.json(em.missing))
  local rrc, rout, rerr = run("resume " .. q(dir))
  check(rrc == 0 and rout:find("1 of 2 runs finished before; running 1 (shard 3 of 3)", 1, true),
        "resume of a shard:\n" .. rout .. rerr)
  for id = 1, 6 do
    check(report.exists(string.format("%s/records/run-%04d.lua", dir, id)) == (id == 3 or id == 6),
          "resume ran run " .. id .. ", which is not the shard's")
  end
  check(manifest(dir).status == "complete", "the resumed shard is not complete")
  local out_dir = fresh("merged")
  local mrc, mout, merr = merge({ dirs[1], dirs[2], dir }, out_dir)
  check(mrc == 0, "merge: " .. mout .. merr)
  check_equal_to_serial(out_dir, ref, "merge of a resumed shard")
end

function T.merge_refuses_mismatched_scripts_overrides_n_versions_duplicates_and_bad_records()
  local path = script()
  local dirs = shards(path, 3, "epochs=2")
  local function refused(list, pattern, what)
    local out_dir = fresh("refused")
    local rc, out, err = merge(list, out_dir)
    check(rc ~= 0 and err:find(pattern, 1, true), what .. ": not refused with '" .. pattern .. "':\n" .. out .. err)
    check(not report.exists(out_dir), what .. ": a folder was written")
    return err
  end
  local function clone(dir)
    local to = fresh("clone")
    check(os.execute("cp -r " .. q(dir) .. " " .. q(to)), "cp -r")
    return to
  end
  local function edit(file, fn) report.write_file(file, fn(report.read_file(file))) end
  -- another script (the same name, one constant changed)
  local other = shard_run(script(0.002), 2, 3, "epochs=2")
  refused({ dirs[1], other }, dirs[1] .. " and " .. other .. " differ in script.sha256", "another script")
  -- other overrides
  local epochs3 = shard_run(path, 2, 3, "epochs=3")
  refused({ dirs[1], epochs3 }, " differ in command.overrides (epochs=2 vs epochs=3)", "other overrides")
  -- another n
  local of2 = shard_run(path, 2, 2, "epochs=2")
  refused({ dirs[1], of2 }, dirs[1] .. " and " .. of2 .. " differ in shard.count (3 vs 2)", "another n")
  -- another optlab
  local v = clone(dirs[2])
  edit(v .. "/manifest.json", function(t) return (t:gsub('"version": "[^"]*"', '"version": "0.0.1-other"', 1)) end)
  refused({ dirs[1], v }, " differ in optlab.version", "another optlab version")
  -- the same shard twice, or two copies of it
  refused({ dirs[1], dirs[2], dirs[1] }, dirs[1] .. " is given twice", "a folder given twice")
  local dup = clone(dirs[2])
  refused({ dirs[1], dirs[2], dup }, dirs[2] .. " and " .. dup .. " are both shard 2 of 3 (a duplicated shard)", "a duplicate")
  -- a shard holding another shard's record (overlap)
  local over = clone(dirs[1])
  os.execute("cp " .. q(dirs[2] .. "/records/run-0002.lua") .. " " .. q(over .. "/records/"))
  refused({ over, dirs[2] }, over .. " holds records/run-0002.lua, which is not shard 1 of 3's (overlapping shards)", "overlap")
  -- a folder that is not a shard's
  local whole = serial_run(path, "epochs=2")
  refused({ dirs[1], whole }, whole .. " is not the folder of a shard", "a serial folder")
  -- records are data, checked before they are trusted: a wrong type is refused by name ...
  local bad = clone(dirs[1])
  edit(bad .. "/records/run-0004.lua", function(t)
    local rec = serial.decode(t, "record")
    rec.history.loss[2] = "0.5"
    return serial.encode(rec)
  end)
  refused({ bad, dirs[2], dirs[3] }, bad .. "/records/run-0004.lua is not a valid record: history.loss[2] is a string, not a number",
          "a record with text for a number")
  -- ... and a record is never run
  local evil = clone(dirs[1])
  local marker = TMP .. "/evil-ran"
  report.write_file(evil .. "/records/run-0001.lua", "os.execute('touch " .. marker .. "') return {}")
  refused({ evil, dirs[2], dirs[3] }, evil .. "/records/run-0001.lua is not a valid record", "a record holding code")
  check(not report.exists(marker), "merge ran a record")
  -- a record of another run under this run's name
  local swapped = clone(dirs[1])
  os.execute("cp " .. q(dirs[1] .. "/records/run-0001.lua") .. " " .. q(swapped .. "/records/run-0004.lua"))
  refused({ swapped, dirs[2], dirs[3] }, "run-0004.lua is not a valid record: it is not the record of B(lr=0.01) seed 2",
          "a record under another run's name")
  -- a name that would climb out of runs/
  local climb = clone(dirs[1])
  edit(climb .. "/manifest.json", function(t) return (t:gsub('"name": "standin"', '"name": "../../escaped"', 1)) end)
  refused({ climb }, climb .. ": the manifest's name is not a simple word", "a name with '..'")
  -- usage
  local urc, _, uerr = run("merge")
  check(urc == 2 and uerr:find("usage: optlab merge", 1, true), "merge without folders: " .. uerr)
  local nrc, _, nerr = run("merge " .. q(TMP .. "/nowhere") .. " --out " .. q(fresh("x")))
  check(nrc ~= 0 and nerr:find("no manifest.json in " .. TMP .. "/nowhere", 1, true), "a missing folder: " .. nerr)
end

function T.shard_arguments_are_checked()
  local path = script()
  local cases = {
    { "--shard 0/3", "--shard 0/3: i must be from 1 to n (3)" },
    { "--shard 4/3", "--shard 4/3: i must be from 1 to n (3)" },
    { "--shard x", "--shard x: expected i/n, the i-th of n slices of the runs" },
    { "--shard 1/0", "--shard 1/0: n must be at least 1" },
    { "--shard=2", "--shard 2: expected i/n" },
    { "--shard", "--shard needs a value (--shard i/n)" },
  }
  for _, c in ipairs(cases) do
    local out_dir = fresh("bad")
    local rc, out, err = run(q(path) .. " --out " .. q(out_dir) .. " " .. c[1])
    check(rc ~= 0 and err:find(path .. ": experiment: " .. c[2], 1, true), c[1] .. ": not refused clearly:\n" .. out .. err)
    check(not report.exists(out_dir), c[1] .. ": a folder was made")
  end
  -- --out into a folder that holds something is refused; a new one is made
  local used = fresh("used")
  report.mkdir_p(used)
  report.write_file(used .. "/keep.txt", "x")
  local rc, _, err = run(q(path) .. " --shard 1/2 --out " .. q(used))
  check(rc ~= 0 and err:find("--out " .. used .. ": the folder exists and is not empty", 1, true), "--out into a used folder: " .. err)
  check(report.read_file(used .. "/keep.txt") == "x" and not report.exists(used .. "/manifest.json"), "the used folder changed")
  -- more shards than runs: a shard may own nothing, and says so
  local dir, rc2, out2 = shard_run(path, 7, 7)
  check(rc2 == 0 and out2:find("shard 7 of 7: runs none (0 of 6", 1, true) and #manifest(dir).shard.runs == 0,
        "an empty shard:\n" .. out2)
end

-- A tuned comparison's phases are chosen from the records of the phases before
-- (stdlib/experiment/tune.lua), which a shard does not have: refused at the
-- script's line before anything runs, not a shard that silently tunes alone.
function T.a_tuned_comparison_is_refused_as_a_shard()
  local dir = fresh("tuned")
  report.mkdir_p(dir)
  local path = dir .. "/tuned.lua"
  report.write_file(path, [==[
local ds = data.blobs { n = 120, centers = 3, features = 2, std = 2.5, seed = 7 }
local tr, te = ds:split { validation = 0.25 }
return experiment.compare {
  name = "tuned", data = { tr, te }, batch_size = 40, epochs = 1, seed = 1, verbose = 0,
  model = function() return nn.Sequential { nn.Dense(3) } end,
  optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) } },
  tune = { method = "random", trials = 2 },
}
]==])
  local out_dir = fresh("tuned_out")
  local rc, out, err = run(q(path) .. " --shard 1/2 --out " .. q(out_dir))
  check(rc ~= 0 and err:find(path .. ": experiment.compare: a tuned comparison runs in phases", 1, true) and err:find("cannot be cut into shards (--shard)", 1, true),
        "a tuned shard was not refused at the script's line:\n" .. out .. err)
  check(not report.exists(out_dir .. "/manifest.json"), "a tuned shard wrote a folder")
end

return T
