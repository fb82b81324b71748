-- The progress line of fit (Keras's), and the number formats it uses.
local base = require "train.base"
local serial, train = base.serial, base.train

-- ---- progress -------------------------------------------------------------

local function fmt_time(s)
  if s >= 1 or s == 0 then return string.format("%ds", math.floor(s + 0.5)) end
  return string.format("%dms", math.floor(s * 1000 + 0.5))
end

local function fmt_step(s)
  if s >= 1e-3 then return string.format("%dms/step", math.floor(s * 1000 + 0.5)) end
  return string.format("%dus/step", math.floor(s * 1e6 + 0.5))
end

local fmt_val = serial.readable

-- "1 epoch", "3 epochs"
local function epochs_text(n) return n == 1 and "1 epoch" or (compat.int_text(n) .. " epochs") end

local function bar(done, total, width)
  width = width or 30
  if done >= total then return "[" .. string.rep("=", width) .. "]" end
  local k = math.floor(width * done / total)
  return "[" .. string.rep("=", k > 0 and k - 1 or 0) .. (k > 0 and ">" or "") .. string.rep(".", width - math.max(k, 0)) .. "]"
end

-- The Keras line of a finished epoch. info: {label, epoch, epochs, step, steps,
-- seconds, step_seconds, values = {{name, value}, ...}, verbose}.
function train.progress_line(info)
  local parts = {}
  local head = (info.label and (info.label .. "  ") or "") .. string.format("Epoch %d/%d", info.epoch, info.epochs)
  if info.verbose == 2 then
    parts[1] = head .. " - " .. fmt_time(info.seconds) .. " " .. fmt_step(info.step_seconds)
  else
    parts[1] = string.format("%s  %d/%d %s %s %s", head, info.step, info.steps, bar(info.step, info.steps),
      fmt_time(info.seconds), fmt_step(info.step_seconds))
  end
  for _, kv in ipairs(info.values) do parts[#parts + 1] = kv[1] .. ": " .. fmt_val(kv[2]) end
  return table.concat(parts, " - ")
end

-- The in-place line during an epoch (terminal only): bar, ETA, running means.
function train.progress_partial(info)
  local head = (info.label and (info.label .. "  ") or "") .. string.format("Epoch %d/%d", info.epoch, info.epochs)
  local parts = { string.format("%s  %d/%d %s - ETA: %s", head, info.step, info.steps, bar(info.step, info.steps),
    fmt_time(info.eta)) }
  for _, kv in ipairs(info.values) do parts[#parts + 1] = kv[1] .. ": " .. fmt_val(kv[2]) end
  return table.concat(parts, " - ")
end

return { epochs_text = epochs_text, fmt_val = fmt_val }
