-- train's shared ground: the modules it builds on, the train table and the error helper.
-- The parts: metrics (losses, metrics, evaluate), progress, checkpoint, callbacks
-- (stdlib/train/*.lua); stdlib/train.lua holds fit and loads the parts.
local C = require "optlab.core"
local serial = require "serial"
local data = require "data"
local suggest = require "suggest"

local train = {}

local function fail(msg) C.raise(msg) end

local function functional()
  local nn = rawget(_G, "nn") or (package.searchpath("nn", package.path) and require "nn")
  return nn and (nn.functional or nn.F)
end

return { C = C, serial = serial, data = data, suggest = suggest, train = train, fail = fail, functional = functional }
