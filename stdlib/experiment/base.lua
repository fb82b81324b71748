-- experiment's shared ground: the experiment table, the modules it builds on, and fail,
-- which names the user's file:line. The parts (stdlib/experiment/*.lua): spec (the spec,
-- overrides and optimizers), env (data and the machine), folder (the run folder), runs
-- (one run, and the --jobs workers); stdlib/experiment.lua holds compare.
local C = require "optlab.core"
local report = require "report"
local serial = require "serial"

local experiment = {}

-- Modules loaded before any script ran (optlab's own): the run folder keeps
-- copies of the others, which the script required.
local PRELOADED = {}
for k in pairs(package.loaded) do PRELOADED[k] = true end

-- Errors name the user's file:line: the first frame outside stdlib/, or the
-- experiment script (`return experiment.compare{...}` is a tail call, so its
-- frame is gone).
local current_script = nil   -- set by compare (set_script)
local function fail(msg)
  local here = debug.getinfo(1, "S").source
  for level = 2, 50 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= here and info.source:sub(1, 1) == "@" and info.currentline > 0 and
       not info.source:find("/stdlib/", 1, true) then
      error(info.source:sub(2) .. ":" .. info.currentline .. ": " .. msg, 0)
    end
  end
  error((current_script and (current_script .. ": ") or "") .. msg, 0)
end

return { C = C, report = report, serial = serial, experiment = experiment, PRELOADED = PRELOADED,
         fail = fail,
         set_script = function(path) current_script = path end }
