-- `optlab verify <folder>` of a landscape run (manifest kind "landscape"):
-- stdlib/rerun.lua checks the folder's copies of the code, then hands over
-- here. The folder's copy of the script runs again into a temporary folder
-- and every number of trajectories.csv must match bit for bit, as must each
-- optimizer's learning rate and outcome.
-- A landscape run does no matrix products, so BLIS's kernel set plays no part.
local report = require "report"

local V = {}

local KEYS = { optimizer = true, step = true }

-- Compares two trajectories.csv texts. Returns ok, the per-optimizer lines,
-- the first difference and the compared columns.
function V.compare(recorded, rerun_csv)
  local a, b = report.parse_csv(recorded), report.parse_csv(rerun_csv)
  local cols = {}
  for _, k in ipairs(a.header) do if not KEYS[k] then cols[#cols + 1] = k end end
  local first = nil
  if table.concat(a.header, ",") ~= table.concat(b.header, ",") then
    first = string.format("trajectories.csv has the columns %s, the rerun %s", table.concat(a.header, ","), table.concat(b.header, ","))
  end
  if #cols == 0 or not (a.header[1] == "optimizer" and a.header[2] == "step") then
    first = first or "trajectories.csv does not start with the columns optimizer,step"
  end
  local function key(r) return tostring(r.optimizer) .. "\0" .. tostring(r.step) end
  local index, seen = {}, {}
  for _, r in ipairs(b.rows) do index[key(r)] = r end
  local per, order = {}, {}
  local function entry(name)
    if not per[name] then per[name] = { steps = 0, bad = {} }; order[#order + 1] = name end
    return per[name]
  end
  for _, r in ipairs(a.rows) do
    local p = entry(r.optimizer)
    p.steps = p.steps + 1
    local other, diff = index[key(r)], nil
    if seen[key(r)] then diff = "the row appears twice in trajectories.csv"
    elseif not other then diff = "the rerun has no such row" end
    seen[key(r)] = true
    if other and not diff then
      for _, k in ipairs(cols) do
        -- equal bits, not equal text: LuaJIT and Lua 5.4 print a halfway 17th digit differently
        if not report.same_bits(report.parse_num(r[k]), report.parse_num(other[k])) then
          diff = string.format("%s: recorded %s, rerun %s", k, r[k] == "" and "(empty)" or tostring(r[k]),
                               (other[k] == nil or other[k] == "") and "(empty)" or other[k])
          break
        end
      end
    end
    if diff then
      p.bad[#p.bad + 1] = "step " .. r.step .. " " .. diff
      first = first or string.format("%s, step %s, %s (trajectories.csv line %d)", r.optimizer, r.step, diff, r._line)
    end
  end
  for _, r in ipairs(b.rows) do
    if not seen[key(r)] then
      local p = entry(r.optimizer)
      p.bad[#p.bad + 1] = "step " .. r.step .. " missing from trajectories.csv"
      first = first or string.format("%s, step %s: the row is missing from trajectories.csv", r.optimizer, r.step)
    end
  end
  if #a.rows == 0 then first = first or "trajectories.csv has no rows" end
  local lines = {}
  for _, name in ipairs(order) do
    local p = per[name]
    if #p.bad == 0 then
      lines[#lines + 1] = string.format("  %-28s %d steps: %s match bit for bit", name, p.steps, table.concat(cols, ", "))
    else
      lines[#lines + 1] = string.format("  %-28s MISMATCH in %d of %d rows; first: %s", name, #p.bad, p.steps, p.bad[1])
    end
  end
  return first == nil, lines, first, cols
end

local function num_text(v) return type(v) == "number" and report.num(v) or tostring(v) end

-- dir, its manifest m, run_copy(args) -> ok, err (rerun.lua's: the folder's
-- code only) and the copy's command line. Returns true when it matches.
function V.main(dir, m, run_copy, args)
  local experiment = require "experiment"
  print(string.format("optlab verify: will run %s (the folder's copy of %s, SHA-256 checked): " ..
                      "verifying a run folder runs its code", table.concat({ args[0], table.unpack(args) }, " "),
                      tostring(m.script.path)))
  local recorded = report.read_file(dir .. "/trajectories.csv")
  if not recorded then io.stderr:write("optlab verify: no trajectories.csv in " .. dir .. "\n"); return false end
  if m.status ~= "complete" or m.end_time == nil then
    print("optlab verify: FAILED: the landscape run never completed (the manifest says \"" .. tostring(m.status) ..
          "\"); run its script again")
    return false
  end
  local tmp = os.tmpname()
  os.remove(tmp)
  report.mkdir_p(tmp)
  experiment._redirect = { runs_dir = tmp, quiet = true }
  local ok, err = run_copy(args)
  experiment._redirect = nil
  local last = experiment._last
  local fresh = ok and last and last.manifest and last.manifest.kind == "landscape" and last.dir and
                report.read_file(last.dir .. "/trajectories.csv") or nil
  os.execute("rm -rf " .. report.shell_quote(tmp))   -- pass or fail, no temporary folder stays
  if not fresh then
    io.stderr:write("optlab verify: the rerun failed: " ..
                    tostring(err or "the script did not call experiment.landscape") .. "\n")
    return false
  end
  local problems = {}
  local a = type(m.config) == "table" and m.config.optimizers or {}
  local b = last.manifest.config.optimizers or {}
  if #a ~= #b then problems[#problems + 1] = string.format("the manifest lists %d optimizers, the rerun %d", #a, #b) end
  for i = 1, math.min(#a, #b) do
    if a[i].label ~= b[i].label or num_text(a[i].lr) ~= num_text(b[i].lr) then
      problems[#problems + 1] = string.format("optimizer %d: recorded %s at lr %s, rerun %s at lr %s", i, tostring(a[i].label),
                                              num_text(a[i].lr), tostring(b[i].label), num_text(b[i].lr))
    end
  end
  local ra, rb = type(m.runs) == "table" and m.runs or {}, last.manifest.runs or {}
  for i = 1, math.min(#ra, #rb) do
    if ra[i].status ~= rb[i].status or num_text(ra[i].steps) ~= num_text(rb[i].steps) then
      problems[#problems + 1] = string.format("%s: recorded %s after %s steps, rerun %s after %s steps", tostring(ra[i].optimizer),
                                              tostring(ra[i].status), num_text(ra[i].steps), tostring(rb[i].status), num_text(rb[i].steps))
    end
  end
  local pok, same, lines, first, cols = pcall(V.compare, recorded, fresh)
  if not pok then problems[#problems + 1] = tostring(same); same, lines, cols = false, {}, {} end
  print(string.format("optlab verify: %s against a rerun in %s, now removed (trajectories.csv: %s per step)", dir, tmp,
                      table.concat(cols, ", ")))
  for _, l in ipairs(lines) do print(l) end
  for _, p in ipairs(problems) do print("  " .. p) end
  if same and #problems == 0 then
    print("optlab verify: OK, every trajectory matches bit for bit")
    return true
  end
  print("optlab verify: MISMATCH; first difference: " .. tostring(first or problems[1]))
  return false
end

return V
