-- The schedule of a comparison (the manifest's `schedule`, made by
-- stdlib/experiment/sched.lua): which run ran when and on how many threads,
-- as a sentence, a table and a text timeline for summary.md and report.html.
local report = require "report.base".report

local function secs(x) return string.format("%.1f", x) end

-- The thread counts of one run: "1", or "1; 2 from 45.3 s (epoch 9, step 12)".
local function threads_text(r)
  local parts = {}
  for i, c in ipairs(r.threads or {}) do
    if i == 1 then parts[1] = tostring(c.n)
    else
      parts[#parts + 1] = string.format("%d from %s s%s", c.n, secs(c.at),
        c.epoch and string.format(" (epoch %d, step %d)", c.epoch, c.step or 0) or "")
    end
  end
  return #parts > 0 and table.concat(parts, "; ") or "?"
end

-- One line per run, `width` columns from the first start to the last end;
-- each column shows the run's thread count at its middle (+ for 10 or more).
local function timeline(s, width)
  local total = s.seconds or 0
  local label_w = 0
  for _, r in ipairs(s.runs) do label_w = math.max(label_w, #r.run) end
  local out = {}
  for _, r in ipairs(s.runs) do
    local cells = {}
    for col = 1, width do
      local t = total * (col - 0.5) / width
      local ch = " "
      if t >= r.start and t < r["end"] then
        local n = 0
        for _, c in ipairs(r.threads or {}) do if c.at <= t then n = c.n end end
        ch = n >= 10 and "+" or tostring(n)
      end
      cells[col] = ch
    end
    out[#out + 1] = string.format("%-" .. label_w .. "s  |%s|", r.run, table.concat(cells))
  end
  local right = secs(total) .. " s"
  out[#out + 1] = string.rep(" ", label_w + 2) .. "0 s" .. string.rep(" ", math.max(1, width + 2 - 3 - #right)) .. right
  return out
end

-- The sentence, the table (header, rows) and the timeline lines of a schedule.
function report.schedule_parts(s)
  local n = #s.runs
  local how = s.processes and string.format("up to %d at once, one process each", s.at_once) or "one after another in one process"
  local sentence = string.format("%d run%s on %d core%s, %s: %s s from the first start to the last end, %s threads at work on average.",
    n, n == 1 and "" or "s", s.cores or 0, s.cores == 1 and "" or "s", how, secs(s.seconds or 0),
    s.threads_on_average and string.format("%.2f", s.threads_on_average) or "?")
  if s.ranks then
    -- an MPI job: the ranks are the workers; which one ran what, on which host
    local hosts, nh = {}, 0
    for _, r in ipairs(s.runs) do if r.host and not hosts[r.host] then hosts[r.host], nh = true, nh + 1 end end
    sentence = string.format("%d run%s over %d MPI ranks on %d host%s, one run at a time each: %s s from the first start " ..
                             "to the last end, %s threads at work on average.", n, n == 1 and "" or "s", s.ranks, nh,
                             nh == 1 and "" or "s", secs(s.seconds or 0),
                             s.threads_on_average and string.format("%.2f", s.threads_on_average) or "?")
  end
  local rows = {}
  for _, r in ipairs(s.runs) do
    rows[#rows + 1] = { r.run, secs(r.start), secs(r["end"]), threads_text(r) }
    if s.ranks then table.insert(rows[#rows], 2, r.rank and string.format("%d (%s)", r.rank, tostring(r.host)) or "") end
  end
  local header = { "run", "start (s)", "end (s)", "threads" }
  if s.ranks then table.insert(header, 2, "rank (host)") end
  return sentence, header, rows, timeline(s, 60)
end

-- summary.md's section.
function report.schedule_md(s)
  local sentence, header, rows, tl = report.schedule_parts(s)
  return table.concat({ "## Schedule", "", sentence, "", report.md_table(header, rows), "", "```",
                        table.concat(tl, "\n"), "```", "" }, "\n")
end

-- report.html's section.
function report.schedule_html(s)
  local sentence, header, rows, tl = report.schedule_parts(s)
  return "<h2>Schedule</h2><p>" .. report.html_escape(sentence) .. "</p>" .. report.html_table(header, rows) ..
         "<pre>" .. report.html_escape(table.concat(tl, "\n")) .. "</pre>"
end

return report
