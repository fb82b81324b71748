-- Shards: a comparison's runs cut into n slices, one per job of any scheduler
-- (a Slurm job array, HTCondor, GNU parallel), with no MPI and nothing shared
-- while they run.
--
--   optlab x.lua --shard 2/3 [overrides] [--out DIR]
--
-- runs the runs of slice 2 into a folder of its own; `optlab merge` (merge.lua)
-- makes the slices' folders one run folder, as a serial run writes it.
--
-- The rule: run id k belongs to shard ((k - 1) mod n) + 1. It depends only on the
-- run list and n, so every job computes the same slices without talking to the
-- others. Runs are numbered optimizer by optimizer (seeds within), so dealing
-- them out like cards gives every shard a share of every optimizer: a slow
-- optimizer does not make one shard the long pole, and the slices' sizes differ
-- by one run at most. (Contiguous blocks would put all of one optimizer's seeds
-- in one shard.)
local common = require "experiment.base"
local fail = common.fail
local report = common.report

local M = {}

M.RULE = "run id k belongs to shard ((k - 1) mod n) + 1"

function M.owner(id, n) return (id - 1) % n + 1 end

-- The ids shard `index` of `count` owns among `nruns` runs, in order.
function M.ids(index, count, nruns)
  local out = report.array()
  for id = 1, nruns do if M.owner(id, count) == index then out[#out + 1] = id end end
  return out
end

-- Whether this process runs `run`: always, unless the comparison is a shard.
function M.owns(ctx, run)
  return ctx.shard == nil or M.owner(run.id, ctx.shard.count) == ctx.shard.index
end

-- "i/n" -> i, n; or nil and why.
function M.parse(text)
  local i, n = tostring(text):match("^(%d+)/(%d+)$")
  if not i or #i > 9 or #n > 9 then
    return nil, "expected i/n, the i-th of n slices of the runs (--shard 1/3, --shard 2/3, --shard 3/3)"
  end
  i, n = math.floor(tonumber(i)), math.floor(tonumber(n))
  if n < 1 then return nil, "n must be at least 1" end
  if i < 1 or i > n then return nil, string.format("i must be from 1 to n (%d)", n) end
  return { index = i, count = n }
end

-- Takes `--shard i/n` and `--out DIR` out of a command line. Returns the
-- shard ({index, count}) or nil, the folder or nil, and the other arguments
-- (arg[0] kept), which are the overrides.
function M.take_args(args)
  if type(args) ~= "table" then return nil, nil, args end
  local rest, shard, out = { [0] = args[0] }, nil, nil
  local i = 1
  while args[i] ~= nil do
    local a = args[i]
    local key, text = nil, nil
    if a == "--shard" or a == "--out" then
      key, text = a:sub(3), args[i + 1]
      if text == nil then
        fail("experiment: " .. a .. " needs a value (" .. (key == "shard" and "--shard i/n" or "--out DIR") .. ")")
      end
      i = i + 1
    elseif a:match("^%-%-shard=") or a:match("^%-%-out=") then
      key, text = a:match("^%-%-(%a+)=(.*)$")
    end
    if key == "shard" then
      local s, why = M.parse(text)
      if not s then fail("experiment: --shard " .. text .. ": " .. why) end
      shard = s
    elseif key == "out" then
      if text == "" then fail("experiment: --out needs a folder path") end
      out = text
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return shard, out, rest
end

-- The folder of `--out DIR`: made now, and refused if it holds anything (a
-- run folder is written by one comparison; `optlab resume DIR` completes one).
function M.out_dir(dir)
  dir = dir:gsub("/+$", "")
  if dir == "" then dir = "/" end
  local p = io.popen("ls -A " .. report.shell_quote(dir) .. " 2>/dev/null")
  local first = p:read("l")
  p:close()
  if first then
    fail("experiment: --out " .. dir .. ": the folder exists and is not empty (`optlab resume " .. dir ..
         "` completes a run folder; choose a new folder for a new run)")
  end
  report.mkdir_p(dir .. "/records")
  return dir
end

-- What the manifest says of compare's slice (ctx.shard), and the line that says it.
function M.attach(ctx)
  local shard = ctx.shard
  if not shard then return end
  local ids = M.ids(shard.index, shard.count, #ctx.runs)
  ctx.manifest.shard = { index = shard.index, count = shard.count, rule = M.RULE, runs = ids }
  if not ctx.quiet then
    print(string.format("experiment: shard %d of %d: runs %s (%d of %d; %s)", shard.index, shard.count,
                        #ids > 0 and table.concat(ids, ", ") or "none", #ids, #ctx.runs, M.RULE))
  end
end

-- Runs of the comparison that other shards own, as lines for summary.md
-- and the terminal ("B seed 1: shard 2 of 3").
function M.others(ctx)
  local out = {}
  if not ctx.shard then return out end
  for _, run in ipairs(ctx.runs) do
    if not M.owns(ctx, run) then
      out[#out + 1] = string.format("%s seed %d: shard %d of %d", run.label, run.seed, M.owner(run.id, ctx.shard.count),
                                    ctx.shard.count)
    end
  end
  return out
end

-- summary.md's line on a merged folder (the manifest's `merged`, merge.lua).
function M.merged_line(merged)
  local names = {}
  for i, s in ipairs(type(merged.shards) == "table" and merged.shards or {}) do
    names[i] = tostring(type(s) == "table" and s.shard)
  end
  local missing = {}
  for i, k in ipairs(type(merged.missing_shards) == "table" and merged.missing_shards or {}) do
    missing[i] = string.format("%d/%d", k, merged.count or 0)
  end
  return string.format("Merged by `optlab merge` from shards %s%s.", table.concat(names, ", "),
                       #missing > 0 and string.format(" (missing: %s)", table.concat(missing, ", ")) or "")
end

return M
