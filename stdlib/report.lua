-- Reports of an optimizer comparison: the printed tables, the run folder's
-- files (metrics.csv, manifest.json, summary.md, gnuplot plots, report.html).
-- Everything here works on plain data (run records with their histories), so
-- it does not need nn, optim or train. Every file is written atomically.
--
-- This file is what `require "report"` loads; the code lives in stdlib/report/ by concern:
--   base.lua     the report table, files and shell, number helpers
--   formats.lua  JSON (manifest.json) and CSV (metrics.csv)
--   tables.lua   summary statistics over seeds, the printed tables, summary.md
--   plots.lua    gnuplot .dat/.gp files and SVG/PNG plots, log axes, the per-epoch plots
--   steps.lua    the per-step plots (loss per step and per second, schedules) and the diagnostics'
--   html.lua     report.html
--   schedule.lua which run ran when, on how many threads (summary.md, report.html)
local report = require "report.base".report
require "report.formats"
require "report.tables"
require "report.plots"
require "report.html"
require "report.schedule"
return report
