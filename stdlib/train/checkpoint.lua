-- The checkpoint file: train.save_state / train.load_state (checked field by field), and
-- capture / restore of the whole training state that fit and train.checkpoint use.
local base = require "train.base"
local C, serial, train, fail = base.C, base.serial, base.train, base.fail

-- ---- checkpoint file --------------------------------------------------------
-- One file (serial.save: atomic, checksummed, tensors as records, the rest as
-- text that is parsed, never run). A checkpoint may come from elsewhere, so
-- load_state checks the fields resume relies on before anything uses them.

function train.save_state(path, state)
  serial.save(path, state)
end

local function tensors_in(v, what, path)
  if v == nil then return end
  if type(v) ~= "table" then fail("train: " .. path .. ": checkpoint field " .. what .. " is not a table") end
  for k, t in pairs(v) do
    if not C.is_tensor(t) then fail(string.format("train: %s: checkpoint %s[%s] is not a tensor", path, what, tostring(k))) end
  end
end

-- A checkpoint is data from a file: every field is checked for what resume
-- relies on (CRC-32 finds accidents, not edits), each with its own message.
local function count(x) return type(x) == "number" and x == math.floor(x) and x >= 0 and x < 2 ^ 53 end
local function shown(v) return type(v) == "string" and string.format("%q", v) or tostring(v) end

function train.load_state(path)
  local st = serial.load(path)
  if type(st) ~= "table" or st.version ~= 1 then fail("train: " .. path .. " is not a version 1 training checkpoint") end
  local function bad(field, v, want)
    fail(string.format("train: %s: checkpoint field %s is %s; expected %s", path, field, shown(v), want))
  end
  local function length(field, n)
    fail(string.format("train: %s: checkpoint field %s has %d values; expected one per finished epoch (%d)", path, field, n, st.epoch))
  end
  for _, f in ipairs { "epoch", "step" } do
    if not count(st[f]) then bad(f, st[f], "an integer >= 0") end
  end
  for _, f in ipairs { "history", "callbacks", "rng" } do
    if type(st[f]) ~= "table" then bad(f, st[f], "a table") end
  end
  for _, f in ipairs { "seed", "batch_size", "n" } do
    if st[f] ~= nil and not count(st[f]) then bad(f, st[f], "an integer >= 0") end
  end
  if not (type(st.rng.seed) == "number" and st.rng.seed == math.floor(st.rng.seed)) or not count(st.rng.stream) then
    bad("rng", st.rng.seed, "{seed = integer, stream = integer >= 0} from tensor.get_rng_state()")
  end
  -- the history holds exactly the finished epochs
  for k, col in pairs(st.history) do
    if type(k) ~= "string" then bad("history", k, "columns by name") end
    if type(col) == "table" then
      local n = 0
      for i, v in pairs(col) do
        n = n + 1
        if not count(i) or i < 1 or type(v) ~= "number" then bad("history." .. k .. "[" .. shown(i) .. "]", v, "a number per epoch") end
      end
      if n ~= #col or #col > st.epoch then length("history." .. k, n) end
    elseif type(col) ~= "string" then bad("history." .. k, col, "a column of numbers") end
  end
  for _, k in ipairs { "epoch", "loss" } do
    local n = type(st.history[k]) == "table" and #st.history[k] or 0
    if n ~= st.epoch then length("history." .. k, n) end
  end
  if st.opt ~= nil then
    if type(st.opt) ~= "table" then bad("opt", st.opt, "an optimizer's state_dict()") end
    if not count(st.opt.t) then bad("opt.t", st.opt.t, "the optimizer's step count, an integer >= 0") end
    if st.opt.state ~= nil and type(st.opt.state) ~= "table" then bad("opt.state", st.opt.state, "a list of buffers per parameter") end
  end
  -- the per-step logs (step_stride, diagnostics every k steps): columns of numbers of one length
  for _, f in ipairs { "step_log", "diag_log" } do
    local log = st[f]
    if log ~= nil then
      if type(log) ~= "table" or type(log.step) ~= "table" then bad(f, log, "a table of columns with a step column") end
      for k, col in pairs(log) do
        if type(k) ~= "string" or type(col) ~= "table" then bad(f .. "." .. shown(k), col, "a column of numbers") end
        for i = 1, #log.step do
          if type(col[i]) ~= "number" then bad(f .. "." .. k .. "[" .. i .. "]", col[i], "a number per logged step") end
        end
      end
    end
  end
  tensors_in(st.params, "params", path)
  tensors_in(st.model_state, "model_state", path)
  return st
end

-- The full training state: model (state_dict if it has one, else its
-- parameters), optimizer, generators, loader position, history, callbacks.
local function capture(ctx)
  local model, opt = ctx.model, ctx.opt
  local st = { version = 1, epoch = ctx.epoch, step = 0, seed = ctx.loader.seed, batch_size = ctx.loader.batch_size,
    n = ctx.loader.n, history = ctx.history, rng = tensor.get_rng_state(), callbacks = {},
    step_log = ctx.step_log, diag_log = ctx.diag_log }
  if type(model) == "table" and model.state_dict then st.model = model:state_dict()
  elseif type(model) == "table" and type(model.state) == "function" then st.model_state = model:state()  -- nn: parameters + buffers by name
  else
    st.params = {}
    for i, p in ipairs(ctx.params) do st.params[i] = p end
  end
  if type(model) == "table" and model.rng_state then st.model_rng = model:rng_state() end
  if opt.state_dict then st.opt = opt:state_dict() end
  for i, cb in ipairs(ctx.callbacks) do
    if cb.state_dict then st.callbacks[i] = cb:state_dict() end
  end
  return st
end

local function restore(ctx, st, path)
  local model, opt = ctx.model, ctx.opt
  if st.epoch > ctx.epochs then
    fail(string.format("train: resume from %s: it is at epoch %d, beyond this fit's epochs = %d", path, st.epoch, ctx.epochs))
  end
  if st.seed ~= ctx.loader.seed or st.batch_size ~= ctx.loader.batch_size or st.n ~= ctx.loader.n then
    fail(string.format("train: resume from %s: it was written with seed=%s, batch_size=%s, %s examples; this run has seed=%s, batch_size=%s, %s examples",
      path, tostring(st.seed), tostring(st.batch_size), tostring(st.n), tostring(ctx.loader.seed), tostring(ctx.loader.batch_size), tostring(ctx.loader.n)))
  end
  if st.model then
    if not model.load_state_dict then fail("train: resume from " .. path .. ": the model has no load_state_dict") end
    model:load_state_dict(st.model)
  elseif st.model_state then
    local live = model:state()
    for k, t in pairs(live) do
      local s = st.model_state[k]
      if not s then fail("train: resume from " .. path .. ": no tensor '" .. k .. "' for this model") end
      if table.concat(s:shape(), "x") ~= table.concat(t:shape(), "x") then
        fail(string.format("train: resume from %s: '%s' has shape [%s], the model's is [%s]", path, k,
          table.concat(s:shape(), ", "), table.concat(t:shape(), ", ")))
      end
    end
    for k, t in pairs(live) do tensor.raw.copy_(t, st.model_state[k]) end
  else
    if #st.params ~= #ctx.params then
      fail(string.format("train: resume from %s: it has %d parameters, the model %d", path, #st.params, #ctx.params))
    end
    for i, p in ipairs(ctx.params) do
      local s = st.params[i]
      if table.concat(s:shape(), "x") ~= table.concat(p:shape(), "x") then
        fail(string.format("train: resume from %s: parameter %d has shape [%s], the model's is [%s]", path, i,
          table.concat(s:shape(), ", "), table.concat(p:shape(), ", ")))
      end
      tensor.raw.copy_(p, s)
    end
  end
  if st.model_rng and model.set_rng_state then model:set_rng_state(st.model_rng) end
  if st.opt and opt.load_state_dict then
    -- with the parameters, so the optimizer checks every buffer against them now
    local ok, err = pcall(opt.load_state_dict, opt, st.opt, ctx.params)
    if not ok then fail("train: resume from " .. path .. ": " .. tostring(err):gsub("^[^:\n]*:%d+: ", "")) end
  end
  tensor.set_rng_state(st.rng)
  for i, cb in ipairs(ctx.callbacks) do
    if cb.load_state_dict and st.callbacks[i] ~= nil then
      local ok, err = pcall(cb.load_state_dict, cb, st.callbacks[i])
      if not ok then
        fail("train: resume from " .. path .. ": callback " .. i .. ": " .. tostring(err):gsub("^[^:\n]*:%d+: ", ""))
      end
    end
  end
  for k, v in pairs(st.history) do ctx.history[k] = v end
  -- into the tables fit appends to; a log this fit keeps and the checkpoint lacks is an error
  for _, f in ipairs { "step_log", "diag_log" } do
    if ctx[f] then
      if not st[f] then
        fail(string.format("train: resume from %s: it holds no %s (the fit that wrote it had %s off)", path, f,
                           f == "step_log" and "step_stride" or "diagnostics every k steps"))
      end
      for k, v in pairs(st[f]) do ctx[f][k] = v end
    end
  end
  return st.epoch
end

return { capture = capture, restore = restore, count = count }
