-- train's shared ground: the modules it builds on, the train table and the error helper.
-- The parts: metrics (losses, metrics, evaluate), progress, checkpoint, callbacks
-- (stdlib/train/*.lua), distributed (data-parallel steps); stdlib/train.lua holds fit and loads the parts.
local C = require "optlab.core"
local serial = require "serial"
local data = require "data"
local suggest = require "suggest"

local train = {}

local function fail(msg) C.raise(msg) end

-- nn.functional, required when first used (nn does not need train, but loading train
-- should not load the layers).
local function functional() return require("nn").functional end

return { C = C, serial = serial, data = data, suggest = suggest, train = train, fail = fail, functional = functional }
