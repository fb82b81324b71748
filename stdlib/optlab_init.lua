-- Loads optlab's modules and makes them globals (tensor, nn, optim, ...).
-- `require "optlab"` from a stock Lua returns the same table.
local C = require "optlab.core"
-- First: on LuaJIT it installs table.pack/unpack and math.tointeger the others use.
compat = require "compat"

local M = { core = C, sys = C.sys, version = C.version, compat = compat }
sys = C.sys

local modules = { "help", "tensor", "nn", "optim", "schedule", "data", "train", "experiment", "report", "serial", "tune", "problems" }
for _, name in ipairs(modules) do
  local mod = require(name)
  M[name] = mod
  _G[name] = mod
end
return M
