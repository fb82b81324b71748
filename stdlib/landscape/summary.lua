-- The outputs of experiment.landscape (stdlib/landscape/run.lua): the
-- trajectories CSV, the pictures (stdlib/landscape/plots.lua), the table of
-- results and tuning, summary.md and report.html.
local report = require "report"
local plots = require "landscape.plots"

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function distance(fn, p)
  local best = nil
  for _, m in ipairs(fn.minima or {}) do
    local d = 0
    for i = 1, fn.dims do d = d + (p[i] - m[i]) ^ 2 end
    d = math.sqrt(d)
    if best == nil or d < best then best = d end
  end
  return best
end

local function short(v)
  if v == nil then return "-" end
  if v ~= v then return "nan" end
  if v == 0 then return "0" end
  local a = math.abs(v)
  if a >= 1e-3 and a < 1e5 then return string.format("%.4g", v) end
  return string.format("%.3e", v)
end

local function table_rows(ctx)
  local fn = ctx.fn
  local reach = fn.fmin and string.format("steps to f - f* <= %g", ctx.tolerance) or
                (ctx.target and string.format("steps to f <= %g", ctx.target) or "steps to target")
  local header = { "optimizer", "lr" .. (ctx.tune and " (tuned)" or ""), "final f" }
  if fn.fmin then header[#header + 1] = "final f - f*" end
  header[#header + 1] = "distance to nearest minimum"
  header[#header + 1] = reach
  -- unbounded below, running far away is where the descent leads, not a failure
  header[#header + 1] = fn.fmin and "diverged" or "ran off"
  local rows = {}
  for _, r in ipairs(ctx.runs) do
    local final = r.f[#r.f]
    local last = r.points[#r.points]
    local row = { r.display, short(r.lr), short(final) }
    if fn.fmin then row[#row + 1] = short(final and (final - fn.fmin)) end
    row[#row + 1] = short(last and distance(fn, last))
    row[#row + 1] = r.reached_at and tostring(r.reached_at) or (ctx.target and "not reached" or "-")
    row[#row + 1] = r.diverged_at and ("at step " .. r.diverged_at) or
                    (r.interrupted_at and ("Ctrl-C at step " .. r.interrupted_at) or "no")
    rows[#rows + 1] = row
  end
  return header, rows
end

local function tune_rows(ctx)
  local header = { "optimizer" }
  for _, lr in ipairs(ctx.tune.lr) do header[#header + 1] = "lr " .. short(lr) end
  local rows = {}
  for _, r in ipairs(ctx.runs) do
    local row = { r.display }
    for _, c in ipairs(r.candidates) do
      local s = c.diverged_at and ("diverged at " .. c.diverged_at) or
                (c.reached_at and ("reached at " .. c.reached_at) or ("f = " .. short(c.final)))
      if c.lr == r.lr then s = s .. " *" end
      row[#row + 1] = s
    end
    rows[#rows + 1] = row
  end
  return header, rows
end

---------------------------------------------------------------- the run folder

local function csv_text(ctx)
  local n = ctx.fn.dims
  local head = { "optimizer", "step" }
  for i = 1, n do head[#head + 1] = n == 2 and ({ "x", "y" })[i] or ("x" .. i) end
  head[#head + 1] = "f"
  head[#head + 1] = "grad_norm"
  local lines = { table.concat(head, ",") }
  for _, r in ipairs(ctx.runs) do
    local label = r.label:find('[,"\n\r]') and ('"' .. r.label:gsub('"', '""') .. '"') or r.label
    for k = 1, #r.points do
      local row = { label, tostring(k - 1) }
      for i = 1, n do row[#row + 1] = report.num(r.points[k][i]) end
      row[#row + 1] = report.num(r.f[k])
      row[#row + 1] = report.num(r.grad_norm[k])
      lines[#lines + 1] = table.concat(row, ",")
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- The plotting window: the function's (or the script's), else the box
-- around every path that stayed finite, with a margin.
local function plot_window(ctx)
  if ctx.window then return ctx.window end
  local lo, hi = { math.huge, math.huge }, { -math.huge, -math.huge }
  for _, r in ipairs(ctx.runs) do
    for _, p in ipairs(r.points) do
      for i = 1, 2 do
        if finite(p[i]) then lo[i], hi[i] = math.min(lo[i], p[i]), math.max(hi[i], p[i]) end
      end
    end
  end
  local w = {}
  for i = 1, 2 do
    if lo[i] > hi[i] then lo[i], hi[i] = -1, 1 end
    local pad = math.max((hi[i] - lo[i]) * 0.1, 0.5)
    w[i] = { lo[i] - pad, hi[i] + pad }
  end
  return w
end

local function write_pictures(ctx)
  local dir, fn = ctx.dir, ctx.fn
  local function put(name, text) report.write_file(dir .. "/" .. name, text) end
  local title = string.format("%s from (%s)%s", fn.title, table.concat(ctx.start_text, ", "),
                              ctx.noise > 0 and string.format(", gradient noise %g", ctx.noise) or "")
  local loss_text, lo, hi = plots.loss(ctx.runs, plots.rows(ctx.steps, 20000), fn.fmin)
  put("loss.dat", loss_text)
  put("loss.gp", plots.loss_gp(ctx.runs, fn.fmin, lo, hi, title, ctx.steps))
  local jobs = { { gp = "loss", name = "loss", outputs = { "svg", "png" } } }
  if fn.dims == 2 then
    local window = plot_window(ctx)
    local grid, zlo, zhi = plots.grid(fn, window, 160)
    put("grid.dat", grid)
    local rows = plots.rows(ctx.steps, 2000)
    put("paths.dat", plots.paths(ctx.runs, rows))
    put("contour.gp", plots.contour_gp(fn, window, ctx.start, ctx.runs, zlo, zhi, title))
    put("animation.gp", plots.animation_gp(fn, window, ctx.start, ctx.runs, zlo, zhi, title, rows))
    table.insert(jobs, 1, { gp = "contour", name = "contour", outputs = { "svg", "png" } })
    table.insert(jobs, 2, { gp = "animation", name = "contour", outputs = { "gif" } })
  end
  local r = plots.render(dir, jobs, ctx.gnuplot)
  if fn.dims ~= 2 and r.rendered then r.message = "a " .. fn.dims .. "-D function: no contour plot or animation" end
  return r
end

local function inline_svg(path)
  local s = report.read_file(path)
  if not s then return nil end
  return (s:gsub("^%s*<%?xml.-%?>%s*", ""):gsub("^%s*<!DOCTYPE.->%s*", ""))
end

local function write_summary(ctx, pics)
  local th, tr = table_rows(ctx)
  local md = { "# " .. ctx.name, "", "Script: `" .. ctx.manifest.script.path .. "`" ..
               (#ctx.given > 0 and (" with `" .. table.concat(ctx.given, " ") .. "`") or ""), "",
               ctx.description_line, "", report.md_table(th, tr), "" }
  if ctx.tune then
    local h, rows = tune_rows(ctx)
    md[#md + 1] = string.format("## Learning rates tried (%d steps each; * = chosen)", ctx.tune.steps)
    md[#md + 1] = ""
    md[#md + 1] = report.md_table(h, rows)
    md[#md + 1] = ""
  end
  md[#md + 1] = "Pictures: " .. (ctx.fn.dims == 2 and "contour.svg, contour.png, contour.gif (animated), " or "") ..
                "loss.svg, loss.png (`.gp` and `.dat` beside them to restyle); every step in trajectories.csv." ..
                (pics.rendered and "" or (" Not rendered: " .. tostring(pics.message)))
  report.write_file(ctx.dir .. "/summary.md", table.concat(md, "\n") .. "\n")
  local esc = report.html_escape
  local out = { "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
                "<title>" .. esc(ctx.name) .. "</title><style>",
                "body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }",
                "table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }",
                "th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }",
                "td.l, th:first-child { text-align: left; } th { background: #f2f2f2; }",
                "figure svg, figure img { max-width: 100%; height: auto; }",
                "pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; } .warn { color: #a40; }",
                "</style></head><body>", "<h1>" .. esc(ctx.name) .. "</h1>", "<p>" .. esc(ctx.description_line) .. "</p>",
                report.html_table(th, tr) }
  if ctx.tune then
    local h, rows = tune_rows(ctx)
    out[#out + 1] = string.format("<h2>Learning rates tried (%d steps each; * = chosen)</h2>", ctx.tune.steps)
    out[#out + 1] = report.html_table(h, rows)
  end
  out[#out + 1] = "<h2>Pictures</h2>"
  if not pics.rendered then out[#out + 1] = "<p class=warn>Not rendered: " .. esc(pics.message or "") .. "</p>" end
  local have = {}
  for _, f in ipairs(pics.files) do have[f] = true end
  if have["contour.svg"] then
    out[#out + 1] = "<figure>" .. (inline_svg(ctx.dir .. "/contour.svg") or "") ..
                    '<figcaption><a href="contour.svg">contour.svg</a> · <a href="contour.png">contour.png</a> · ' ..
                    '<a href="contour.gp">contour.gp</a></figcaption></figure>'
  end
  if have["contour.gif"] then
    out[#out + 1] = '<figure><img src="contour.gif" alt="the paths advancing"><figcaption><a href="contour.gif">contour.gif</a> · ' ..
                    '<a href="animation.gp">animation.gp</a></figcaption></figure>'
  end
  if have["loss.svg"] then
    out[#out + 1] = "<figure>" .. (inline_svg(ctx.dir .. "/loss.svg") or "") ..
                    '<figcaption><a href="loss.svg">loss.svg</a> · <a href="loss.png">loss.png</a> · ' ..
                    '<a href="loss.gp">loss.gp</a></figcaption></figure>'
  end
  out[#out + 1] = '<h2>Files</h2><p><a href="trajectories.csv">trajectories.csv</a> · <a href="summary.md">summary.md</a> · ' ..
                  '<a href="manifest.json">manifest.json</a></p>'
  out[#out + 1] = "<h2>Manifest</h2><pre>" .. esc(report.json(ctx.manifest)) .. "</pre></body></html>"
  report.write_file(ctx.dir .. "/report.html", table.concat(out, "\n") .. "\n")
  return th, tr
end

---------------------------------------------------------------- experiment.landscape

return { csv_text = csv_text, write_pictures = write_pictures, write_summary = write_summary, distance = distance }
