-- report.html: one self-contained page with the tables, the plots inline and the manifest.
local report = require "report.base".report
local html_escape = require "report.tables".html_escape

---------------------------------------------------------------- report.html

local CSS = [[
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
td.l, th:first-child { text-align: left; }
th { background: #f2f2f2; }
figure { margin: 1.5em 0; }
figure svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.warn { color: #a40; }
]]

local function inline_svg(path)
  local s = report.read_file(path)
  if not s then return nil end
  s = s:gsub("^%s*<%?xml.-%?>%s*", ""):gsub("^%s*<!DOCTYPE.->%s*", "")
  return s
end

-- experiment.benchmark's page: intro text, sections { {title, header, rows, link = a problem's
-- folder}, ... }, then the plots (names of SVGs in dir, inline) and the manifest.
function report.benchmark_html(dir, title, intro, sections, plots, manifest)
  local out = { "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
                "<title>" .. html_escape(title) .. "</title><style>" .. CSS .. "</style></head><body>",
                "<h1>" .. html_escape(title) .. "</h1>", "<p>" .. html_escape(intro) .. "</p>" }
  for _, sec in ipairs(sections) do
    out[#out + 1] = "<h2>" .. html_escape(sec.title) .. "</h2>"
    if sec.link then
      out[#out + 1] = string.format('<p>Run folder: <a href="%s/report.html">%s</a></p>', html_escape(sec.link), html_escape(sec.link))
    end
    out[#out + 1] = report.html_table(sec.header, sec.rows)
  end
  for _, name in ipairs(plots) do
    local svg = inline_svg(dir .. "/" .. name .. ".svg")
    if svg then
      out[#out + 1] = "<figure>" .. svg .. string.format('<figcaption><a href="%s.svg">%s.svg</a> · <a href="%s.png">%s.png</a> · ' ..
        '<a href="%s.gp">%s.gp</a> · <a href="%s.dat">%s.dat</a></figcaption></figure>', name, name, name, name, name, name, name, name)
    end
  end
  out[#out + 1] = '<h2>Files</h2><p><a href="benchmark.csv">benchmark.csv</a> · <a href="summary.md">summary.md</a> · ' ..
                  '<a href="manifest.json">manifest.json</a></p>'
  out[#out + 1] = "<h2>Manifest</h2><pre>" .. html_escape(report.json(manifest)) .. "</pre></body></html>"
  return table.concat(out, "\n") .. "\n"
end

-- One self-contained page: tables, plots (inline SVG), the manifest. sections (optional):
-- { {title =, text =, header =, rows =}, ... } before the comparison (a tuned comparison's tuning).
function report.html(dir, title, summary, nseeds, manifest, missing, plots, sections)
  local th, tr = report.table_rows(summary)
  local eh, er = report.epoch_rows(summary, "val_accuracy")
  local out = { "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
                "<title>" .. html_escape(title) .. "</title><style>" .. CSS .. "</style></head><body>",
                "<h1>" .. html_escape(title) .. "</h1>" }
  local cfg = manifest.config or {}
  out[#out + 1] = string.format("<p>Started %s, ended %s; %s epochs, batch %s, seeds %s; optlab %s (%s), %s threads, %s.</p>",
    html_escape(manifest.start_time or "?"), html_escape(manifest.end_time or "(not finished)"),
    html_escape(tostring(cfg.epochs)), html_escape(tostring(cfg.batch_size)),
    html_escape(table.concat(cfg.seeds or {}, ", ")), html_escape(manifest.optlab and manifest.optlab.version or "?"),
    html_escape(manifest.optlab and manifest.optlab.commit or "?"), html_escape(tostring(manifest.threads)),
    html_escape(manifest.cpu or "?"))
  if missing and #missing > 0 then
    out[#out + 1] = "<p class=warn><b>Incomplete:</b> " .. html_escape(table.concat(missing, "; ")) .. "</p>"
  end
  for _, sec in ipairs(sections or {}) do
    out[#out + 1] = "<h2>" .. html_escape(sec.title) .. "</h2>"
    if sec.text then out[#out + 1] = "<p>" .. html_escape(sec.text) .. "</p>" end
    if sec.header then out[#out + 1] = report.html_table(sec.header, sec.rows) end
  end
  out[#out + 1] = "<h2>Comparison</h2>"
  if nseeds > 1 then out[#out + 1] = string.format("<p>mean±std (sample, n-1) over %d seeds.</p>", nseeds) end
  out[#out + 1] = report.html_table(th, tr)
  out[#out + 1] = "<h2>val_accuracy per epoch</h2>" .. report.html_table(eh, er)
  local dh, dr = report.diagnostics_rows(summary)
  if dh then
    out[#out + 1] = "<h2>Diagnostics (final epoch)</h2><p>train.fit's diagnostics on fixed probe batches: the Hessian's " ..
      "largest eigenvalue (power iteration) and sharpness = λmax·lr/2 (gradient descent is unstable above 1), its smallest " ..
      "eigenvalue (Lanczos), the textbook's ill-conditioning terms ½ε²gᵀHg and εgᵀg, the variance of probe-batch gradients " ..
      "and the simple noise scale B = tr(Σ)/|G|². Per epoch in metrics.csv.</p>" .. report.html_table(dh, dr)
  end
  out[#out + 1] = "<h2>Plots</h2>"
  for _, name in ipairs(plots.names or report.PLOTS) do
    local svg = plots.rendered and inline_svg(dir .. "/" .. name .. ".svg")
    out[#out + 1] = "<figure>"
    if svg then out[#out + 1] = svg
    else out[#out + 1] = "<p class=warn>" .. html_escape(name) .. " not rendered: " .. html_escape(plots.message or "") .. "</p>" end
    out[#out + 1] = string.format('<figcaption><a href="%s.svg">%s.svg</a> · <a href="%s.png">%s.png</a> · ' ..
      '<a href="%s.gp">%s.gp</a> · <a href="%s.dat">%s.dat</a></figcaption></figure>',
      name, name, name, name, name, name, name, name)
  end
  if manifest.schedule then out[#out + 1] = report.schedule_html(manifest.schedule) end
  out[#out + 1] = '<h2>Files</h2><p><a href="metrics.csv">metrics.csv</a> · <a href="summary.md">summary.md</a> · ' ..
                  '<a href="manifest.json">manifest.json</a></p>'
  out[#out + 1] = "<h2>Manifest</h2><pre>" .. html_escape(report.json(manifest)) .. "</pre>"
  out[#out + 1] = "</body></html>"
  return table.concat(out, "\n") .. "\n"
end
