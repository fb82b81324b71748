-- experiment.landscape{...}: optimizers racing across a test function from
-- one start, every step recorded, and a run folder like a comparison's:
--
--   return experiment.landscape {
--     name = "landscape-beale",
--     fn = "beale",                        -- or {"quadratic", condition = 50, angle = 30}, or your own
--     start = {1, 1.5}, steps = 300,
--     optimizers = { {label = "SGD", optimizer = optim.SGD{}}, {label = "Adam", optimizer = optim.Adam{}} },
--     noise = 0.1, seed = 1,              -- Gaussian noise added to every gradient (the same draws for all)
--     tune = { lr = {1e-3, 1e-2, 1e-1} }, -- each optimizer's best lr on the function first
--   }
--
-- Each optimizer starts from `start` (rounded to float32, the parameters'
-- type) and takes `steps` steps on the gradient autograd gives; with noise
-- sigma, step k's gradient gets sigma * N(0, I) drawn from Philox stream k of
-- `seed`, so every optimizer (and every tuning run) sees the same noise. A run
-- stops early when it diverges: a value or coordinate that is not finite,
-- or a point farther from the window than 100 times its diagonal.
--
-- The folder (runs/<name>/<UTC time>/) holds manifest.json (kind
-- "landscape"), trajectories.csv (every optimizer's point, value and exact
-- gradient norm at every step), summary.md, report.html, the pictures of
-- stdlib/landscape/plots.lua, and code/ (copies of the script and the
-- modules it required, which `optlab verify` reruns: stdlib/landscape/verify.lua).
local C = require "optlab.core"
local report = require "report"
local suggest = require "suggest"
local functions = require "landscape.functions"
local plots = require "landscape.plots"
local summary = require "landscape.summary"

local L = {}

local SPEC_KEYS = {
  name = true, description = true, fn = true, start = true, steps = true, optimizers = true, noise = true, seed = true,
  tune = true, tolerance = true, window = true, runs_dir = true, verbose = true, gnuplot = true, arg = true,
}

---------------------------------------------------------------- errors at the user's line

-- This file's folder's parent: stdlib/, whose frames are optlab's, not the user's.
local STDLIB = debug.getinfo(1, "S").source:match("^@(.*/)landscape/[^/]*$")

local function user_frame()
  for level = 2, 80 do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    local src = info.source
    if info.currentline > 0 and src:sub(1, 1) == "@" and not (STDLIB and src:sub(2, #STDLIB + 1) == STDLIB) then
      return info.short_src .. ":" .. info.currentline
    end
  end
  return nil
end

local current = nil   -- { script = path, text = its source } while a landscape call runs

-- `return experiment.landscape{...}` is a tail call: the script's frame is
-- gone. The error then names the script and the line that sets `key`.
local function location(key)
  local here = user_frame()
  if here then return here end
  if not current or not current.script then return nil end
  if key and current.text then
    local ln = 0
    for line in (current.text .. "\n"):gmatch("(.-)\n") do
      ln = ln + 1
      if line:match("^%s*" .. key .. "%s*=") or line:match("[{,]%s*" .. key .. "%s*=") then
        return current.script .. ":" .. ln
      end
    end
  end
  return current.script
end

local function fail(msg, key)
  local at = location(key)
  error((at and (at .. ": ") or "") .. msg, 0)
end

-- An error raised by other code (optim, experiment) while checking `key`:
-- kept as it is when it names a place, else placed like fail's.
local function checked(key, fn, ...)
  local ok, a, b = pcall(fn, ...)
  if ok then return a, b end
  local msg = tostring(a)
  if msg:match("^[^:\n]+:%d+: ") then error(msg, 0) end
  fail(msg, key)
end

---------------------------------------------------------------- configuration

local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

local function list_of_numbers(v, n)
  if type(v) ~= "table" or #v ~= n then return false end
  for i = 1, n do if not finite(v[i]) then return false end end
  return true
end

local function fn_names() return table.concat(functions.NAMES, ", ") end

-- fn: a name, {name, options...}, your own {f = function(x, y, ...) ... end, ...} or a function of x, y.
local function resolve_fn(v)
  local function by_name(name, opts)
    local ctor = functions[name]
    if type(name) ~= "string" or type(ctor) ~= "function" or name == "value" then
      fail(string.format("experiment.landscape: unknown test function '%s'%s (known: %s)", tostring(name),
                         suggest.phrase(tostring(name), functions.NAMES), fn_names()), "fn")
    end
    return checked("fn", ctor, opts)
  end
  if type(v) == "string" then return by_name(v, nil) end
  if type(v) == "function" then
    return { name = "f", title = "f(x, y)", dims = 2, params = {}, minima = {},
             f = function(xs) return v(xs[1], xs[2]) end, contours = "linear", user = true }
  end
  if type(v) == "table" and type(v[1]) == "string" then
    local opts = {}
    for k, x in pairs(v) do if k ~= 1 then opts[k] = x end end
    return by_name(v[1], opts)
  end
  if type(v) == "table" and type(v.f) == "function" and v.dims ~= nil and type(v.name) == "string" and v.params then
    return v   -- a table a constructor made
  end
  if type(v) == "table" and type(v.f) == "function" then
    local known = { f = true, name = true, minima = true, fmin = true, window = true, target = true, contours = true,
                    dims = true, title = true, stationary = true }
    for k in pairs(v) do
      if not known[k] then
        local names = {}
        for x in pairs(known) do names[#names + 1] = x end
        table.sort(names)
        fail(string.format("experiment.landscape: fn has an unknown field '%s'%s (fields: %s)", tostring(k),
                           suggest.phrase(tostring(k), names), table.concat(names, ", ")), "fn")
      end
    end
    local dims = v.dims or 2
    if not (compat.is_integer(dims) and dims >= 1) then fail("experiment.landscape: fn.dims must be a positive integer", "fn") end
    local minima = v.minima or {}
    if type(minima) ~= "table" then fail("experiment.landscape: fn.minima must be a list of points", "fn") end
    for i, m in ipairs(minima) do
      if not list_of_numbers(m, dims) then
        fail(string.format("experiment.landscape: fn.minima[%d] must be a point of %d finite numbers", i, dims), "fn")
      end
    end
    if v.fmin ~= nil and not finite(v.fmin) then fail("experiment.landscape: fn.fmin must be a finite number", "fn") end
    if v.target ~= nil and not finite(v.target) then fail("experiment.landscape: fn.target must be a finite number", "fn") end
    if v.contours ~= nil and v.contours ~= "log" and v.contours ~= "linear" then
      fail("experiment.landscape: fn.contours must be \"log\" or \"linear\"", "fn")
    end
    local user = v.f
    local fmin = v.fmin
    if fmin == nil and #minima > 0 then
      fmin = functions.value({ dims = dims, f = function(xs) return user(table.unpack(xs, 1, dims)) end }, minima[1])
    end
    return { name = v.name or "f", title = v.title or v.name or "f", dims = dims, params = {}, minima = minima,
             fmin = fmin, target = v.target, window = v.window, stationary = v.stationary,
             contours = v.contours or (fmin and "log" or "linear"), user = true,
             f = function(xs) return user(table.unpack(xs, 1, dims)) end }
  end
  fail(string.format("experiment.landscape: fn must be a test function's name (%s), {name, options...}, " ..
                     "a table {f = function(x, y) ... end, minima = ..., window = ...} or a function of x, y; got %s",
                     fn_names(), type(v)), "fn")
end

local function check_window(w, dims, key)
  if type(w) ~= "table" or #w < math.min(dims, 2) then
    fail(string.format("experiment.landscape: window must be {{xmin, xmax}, {ymin, ymax}}"), key)
  end
  for i = 1, math.min(dims, 2) do
    local r = w[i]
    if not (list_of_numbers(r, 2) and r[1] < r[2]) then
      fail(string.format("experiment.landscape: window[%d] must be {lo, hi} with lo < hi, finite", i), key)
    end
  end
end

-- Command-line keys of a landscape script: key=value.
local function parse_overrides(args)
  local PARSE = {
    steps = function(s) local n = math.tointeger(tonumber(s)); return (n and n > 0 and s:match("^%d+$")) and n or nil, "a positive integer" end,
    seed = function(s) local n = math.tointeger(tonumber(s)); return (n and s:match("^%d+$")) and n or nil, "a non-negative integer" end,
    noise = function(s) local v = tonumber(s); return (finite(v) and v >= 0) and v or nil, "a number >= 0" end,
    name = function(s) return (s:match("^[%w_.%-]+$") and not s:find("..", 1, true)) and s or nil, "a name of letters, digits, '_', '.', '-'" end,
    runs_dir = function(s) return s ~= "" and s or nil, "a folder path" end,
    verbose = function(s) return (s == "0" or s == "1") and tonumber(s) or nil, "0 or 1" end,
  }
  local keys = {}
  for k in pairs(PARSE) do keys[#keys + 1] = k end
  table.sort(keys)
  local values, given = {}, {}
  for i = 1, #(args or {}) do
    local a = args[i]
    local key, text = tostring(a):match("^([%w_]+)=(.*)$")
    if not key then
      fail(string.format("experiment.landscape: cannot read argument '%s': expected key=value (valid keys: %s)", tostring(a),
                         table.concat(keys, ", ")))
    end
    if not PARSE[key] then
      fail(string.format("experiment.landscape: unknown key '%s' in '%s' (valid keys: %s)", key, a, table.concat(keys, ", ")))
    end
    local v, want = PARSE[key](text)
    if v == nil then fail(string.format("experiment.landscape: %s=%s: expected %s", key, text, want)) end
    values[key] = v
    if key ~= "runs_dir" then given[#given + 1] = key .. "=" .. text end
  end
  return values, given
end

-- The optimizer `o` rebuilt with another lr (for tuning): its own class,
-- convention and the hyperparameters it was given.
local function with_lr(o, lr)
  local optim = require "optim"
  if type(o.name) ~= "string" or type(rawget(optim, o.name)) ~= "function" or type(o.given) ~= "table" then
    fail("experiment.landscape: tune needs optimizers built by optim (optim.SGD{...}, \"Adam\", ...), not " ..
         tostring(o.label or o.name or "this one"), "tune")
  end
  local hp = {}
  for k in pairs(o.given) do hp[k] = o.values[k] end
  hp.convention = o.values.convention
  hp.lr = lr
  return optim[o.name](hp)
end

---------------------------------------------------------------- one trajectory

-- Runs opt from start for `steps` steps. Returns { points, f, grad_norm,
-- reached_at, diverged_at } (points[k + 1] is the point after k steps).
function L.trajectory(fn, start, opt, steps, cfg)
  local tensor = require "tensor"
  local n = fn.dims
  local theta = tensor.from(start, { requires_grad = true })
  local out = { points = {}, f = {}, grad_norm = {} }
  local c, far = cfg.center, cfg.far
  for k = 0, steps do
    -- Ctrl-C (experiment.landscape catches it): stop here, keep what was done
    if sys.interrupted() then out.interrupted_at = k; break end
    theta.grad = nil
    local coords = {}
    for i = 1, n do coords[i] = theta:narrow(1, i, 1) end
    local value = fn.f(coords)
    local p = theta:detach():totable()
    local v = value:item()
    out.points[k + 1], out.f[k + 1] = p, v
    local bad = not finite(v)
    local dist = 0
    for i = 1, n do
      bad = bad or not finite(p[i])
      dist = dist + (p[i] - (c[i] or 0)) ^ 2
    end
    if bad or math.sqrt(dist) > far then
      out.grad_norm[k + 1] = 0 / 0
      out.diverged_at = k
      break
    end
    if out.reached_at == nil and v <= cfg.target then out.reached_at = k end
    value:sum():backward()
    local grad = theta.grad
    out.grad_norm[k + 1] = grad:norm():item()
    if k == steps then break end
    if cfg.noise > 0 then
      grad:add_(tensor.randn(n, { seed = cfg.seed, stream = k + 1 }), cfg.noise)
    end
    opt:step({ theta })
  end
  return out
end

-- Lower is better: reached the target (sooner, then lower), then not
-- reached (lower final value), then diverged.
local function score(t)
  if t.diverged_at then return { 3, 0, 0 } end
  local final = t.f[#t.f]
  if t.reached_at then return { 1, t.reached_at, final } end
  return { 2, final, 0 }
end
local function better(a, b)
  for i = 1, 3 do
    if a[i] ~= b[i] then return a[i] < b[i] end
  end
  return false
end

---------------------------------------------------------------- the table


local function landscape(experiment, I, spec)
  local where = "experiment.landscape"
  if type(spec) ~= "table" then fail(where .. ": expected a table, got " .. type(spec)) end
  for k in pairs(spec) do
    if type(k) ~= "string" or not SPEC_KEYS[k] then
      local ks = {}
      for x in pairs(SPEC_KEYS) do ks[#ks + 1] = x end
      table.sort(ks)
      fail(string.format("%s: unknown field '%s'%s (fields: %s)", where, tostring(k), suggest.phrase(tostring(k), ks),
                         table.concat(ks, ", ")), tostring(k))
    end
  end
  local redirect = experiment._redirect
  local args = spec.arg or rawget(_G, "arg")
  local ov, given = parse_overrides(args)
  local ctx = { given = given }
  ctx.name = ov.name or spec.name or "landscape"
  if type(ctx.name) ~= "string" or not I.word(ctx.name) then
    fail(where .. ": name must be a simple word (letters, digits, _ . -; not '.' or '..')", "name")
  end
  ctx.fn = resolve_fn(spec.fn)
  local fn, n = ctx.fn, ctx.fn.dims
  local start = spec.start or fn.start
  if start == nil then fail(where .. ": give start = {x, y}: your function has no default start", "fn") end
  if not list_of_numbers(start, n) then
    fail(string.format("%s: start must be a list of %d finite numbers (the point every optimizer starts from), got %s",
                       where, n, type(start) == "table" and ("a list of " .. #start .. " values") or type(start)), "start")
  end
  ctx.steps = ov.steps or spec.steps or 200
  -- every point is kept in memory and written out: 100,000 steps of 7 optimizers is ~100 MB
  if not (compat.is_integer(ctx.steps) and ctx.steps >= 1 and ctx.steps <= 100000) then
    fail(where .. ": steps must be an integer in [1, 100000], got " .. tostring(ctx.steps), "steps")
  end
  ctx.noise = ov.noise or spec.noise or 0
  if not (finite(ctx.noise) and ctx.noise >= 0) then fail(where .. ": noise must be a number >= 0, got " .. tostring(ctx.noise), "noise") end
  ctx.seed = ov.seed or spec.seed or 1
  if not (compat.is_integer(ctx.seed) and ctx.seed >= 0) then fail(where .. ": seed must be an integer >= 0", "seed") end
  ctx.tolerance = spec.tolerance or 1e-4
  if not (finite(ctx.tolerance) and ctx.tolerance > 0) then fail(where .. ": tolerance must be a number > 0", "tolerance") end
  ctx.target = fn.target or (fn.fmin and fn.fmin + ctx.tolerance) or nil
  ctx.window = spec.window or fn.window
  if ctx.window ~= nil then check_window(ctx.window, n, spec.window and "window" or "fn") end
  ctx.verbose = ov.verbose or spec.verbose or 1
  ctx.gnuplot = spec.gnuplot or experiment.gnuplot
  if spec.optimizers == nil then fail(where .. ": give optimizers = {...} (names, optim objects or {label = ..., optimizer = ...})", "optimizers") end
  local opts = checked("optimizers", I.resolve_optimizers, spec.optimizers, where)
  for _, e in ipairs(opts) do
    local o = checked("optimizers", e.make)
    if require("optim.wrap").needs_closure(o) then
      fail(where .. ": optimizer " .. e.label .. " has nesterov = \"literal\"; landscape takes one gradient per step at " ..
           "the parameters: use nesterov = true", "optimizers")
    end
  end
  if spec.tune ~= nil then
    local t = spec.tune
    if type(t) ~= "table" then fail(where .. ": tune must be {lr = {...}, steps = n}", "tune") end
    for k in pairs(t) do
      if k ~= "lr" and k ~= "steps" then fail(where .. ": tune has an unknown field '" .. tostring(k) .. "' (fields: lr, steps)", "tune") end
    end
    if type(t.lr) ~= "table" or #t.lr == 0 then fail(where .. ": tune.lr must be a non-empty list of learning rates", "tune") end
    for _, v in ipairs(t.lr) do
      if not (finite(v) and v > 0) then fail(where .. ": tune.lr must hold positive numbers, got " .. tostring(v), "tune") end
    end
    local ts = t.steps or ctx.steps
    if not (compat.is_integer(ts) and ts >= 1 and ts <= ctx.steps) then
      fail(where .. ": tune.steps must be an integer in [1, steps]", "tune")
    end
    ctx.tune = { lr = t.lr, steps = ts }
  end
  ctx.start = {}
  ctx.start_text = {}
  for i = 1, n do ctx.start[i] = start[i]; ctx.start_text[i] = string.format("%g", start[i]) end

  -- where "diverged" begins: 100 window diagonals from the window's centre
  local w = ctx.window or { { start[1] - 1, start[1] + 1 }, { (start[2] or 0) - 1, (start[2] or 0) + 1 } }
  local center, diag = {}, 0
  for i = 1, n do
    local r = w[i] or w[#w]
    center[i] = 0.5 * (r[1] + r[2])
    diag = diag + (r[2] - r[1]) ^ 2
  end
  local tcfg = { center = center, far = 100 * math.sqrt(diag), target = ctx.target or -math.huge, noise = ctx.noise,
                 seed = ctx.seed }

  -- the folder first (its manifest says "running"), then the runs
  local root = (redirect and redirect.runs_dir) or ov.runs_dir or spec.runs_dir or os.getenv("OPTLAB_RUNS") or "runs"
  ctx.dir = I.run_dir(root, ctx.name)
  os.remove(ctx.dir .. "/records")   -- a comparison's, empty here
  local quiet = redirect and redirect.quiet or ctx.verbose == 0
  local exe = experiment.optlab_exe()
  local commit, dirty = I.git_info()
  ctx.manifest = {
    kind = "landscape", name = ctx.name, description = spec.description,
    command = { overrides = report.array(given) },
    config = {
      fn = { name = fn.name, title = fn.title, dims = n, params = fn.params, minima = report.array(fn.minima or {}),
             fmin = fn.fmin, target = fn.target, window = ctx.window },
      start = report.array(ctx.start), steps = ctx.steps, noise = ctx.noise, seed = ctx.seed, tolerance = ctx.tolerance,
      target = ctx.target, divergence_radius = tcfg.far,
    },
    optlab = { version = C.version, commit = commit, dirty = dirty, executable = exe },
    lua = I.lua_release(exe), blis = sys.blis_version(), blis_kernels = sys.blis_arch(), threads = sys.threads(),
    cpu = I.cpu_model(), host = report.shell_line("uname -srm"), start_time = I.utc(os.time()), status = "running",
  }
  local script = current.script and I.abspath(current.script) or nil
  ctx.manifest.script = { path = script or "(not a file)" }
  if script then
    local base = script:match("([^/]*)$")
    if not base:match("^[%w_][%w_.%-]*$") then base = "script.lua" end
    ctx.manifest.script.copy = "code/" .. base
    ctx.manifest.script.sha256 = I.keep_copy(ctx, script, "code/" .. base)
  end
  I.sync_code(ctx)
  local mods = report.array()
  for _, m in pairs(ctx.code or {}) do mods[#mods + 1] = m end
  table.sort(mods, function(a, b) return a.name < b.name end)
  ctx.manifest.modules = mods
  report.write_file(ctx.dir .. "/manifest.json", report.json(ctx.manifest) .. "\n")
  ctx.description_line = string.format("%s (%d-D) from (%s), %d steps%s%s; every optimizer from the same start%s.",
    fn.title, n, table.concat(ctx.start_text, ", "), ctx.steps,
    ctx.noise > 0 and string.format(", Gaussian gradient noise %g (seed %d)", ctx.noise, ctx.seed) or "",
    ctx.tune and string.format(", lr tuned per optimizer over %d values", #ctx.tune.lr) or "",
    ctx.tune and ", each at its best lr" or "")
  if not quiet then
    print(string.format("landscape %s: %s, %d optimizers, %d steps; run folder %s", ctx.name, fn.title, #opts, ctx.steps, ctx.dir))
  end

  ctx.runs = {}
  local optlist = report.array()
  for i, e in ipairs(opts) do
    local r = { label = e.label, display = e.display, name = e.name }
    local make = e.make
    if ctx.tune then
      r.candidates = {}
      local best, bs = nil, nil
      for _, lr in ipairs(ctx.tune.lr) do
        if sys.interrupted() then break end
        local t = L.trajectory(fn, ctx.start, with_lr(e.make(), lr), ctx.tune.steps, tcfg)
        local s = score(t)
        r.candidates[#r.candidates + 1] = { lr = lr, reached_at = t.reached_at, diverged_at = t.diverged_at, final = t.f[#t.f] }
        if best == nil or better(s, bs) then best, bs = lr, s end
      end
      r.lr = best
      make = function() return with_lr(e.make(), best) end
    end
    if sys.interrupted() then ctx.interrupted = true break end
    local o = make()
    r.lr = r.lr or (o.values and type(o.values.lr) == "number" and o.values.lr or nil)
    local t = L.trajectory(fn, ctx.start, o, ctx.steps, tcfg)
    for k, v in pairs(t) do r[k] = v end
    ctx.runs[i] = r
    optlist[#optlist + 1] = { label = e.label, name = e.name, display = e.display, hyperparameters = e.hyper, lr = r.lr,
                              tuning = r.candidates and report.array(r.candidates) or nil }
    if t.interrupted_at then ctx.interrupted = true break end
  end
  ctx.manifest.config.optimizers = optlist
  if ctx.tune then ctx.manifest.config.tune = { lr = report.array(ctx.tune.lr), steps = ctx.tune.steps,
    rule = "fewest steps to the target, then the lowest final value; a diverged run last" } end
  local runs = report.array()
  for _, r in ipairs(ctx.runs) do
    runs[#runs + 1] = { optimizer = r.label, steps = #r.points - 1,
                        status = r.interrupted_at and "interrupted" or (r.diverged_at and "diverged" or "complete"),
                        reached_at = r.reached_at, diverged_at = r.diverged_at, final_value = r.f[#r.f],
                        final_point = report.array(r.points[#r.points]) }
  end
  ctx.manifest.runs = runs

  report.write_file(ctx.dir .. "/trajectories.csv", summary.csv_text(ctx))
  local pics = { rendered = false, files = {}, message = "stopped by Ctrl-C: not drawn" }
  if not ctx.interrupted then pics = summary.write_pictures(ctx) end
  ctx.interrupted = ctx.interrupted or sys.interrupted()
  ctx.manifest.plots = { rendered = pics.rendered, message = pics.message, files = report.array(pics.files) }
  -- interrupted: what ran is on record, and verify refuses the folder
  ctx.manifest.status = ctx.interrupted and "interrupted" or "complete"
  ctx.manifest.interrupted = ctx.interrupted and "Ctrl-C" or nil
  ctx.manifest.end_time = I.utc(os.time())
  report.write_file(ctx.dir .. "/manifest.json", report.json(ctx.manifest) .. "\n")
  local th, tr = summary.write_summary(ctx, pics)
  if not quiet then
    print()
    print(ctx.description_line)
    print(report.text_table(th, tr))
    if not pics.rendered then print("\nPictures not rendered: " .. tostring(pics.message)) end
    if ctx.interrupted then
      print(string.format("\nlandscape: stopped by Ctrl-C after %d of %d optimizers (exit status 130)", #ctx.runs, #opts))
    end
    print("\nRun folder: " .. ctx.dir)
  end
  local code = ctx.interrupted and 130 or 0
  local result = { dir = ctx.dir, fn = fn, runs = ctx.runs, manifest = ctx.manifest, plots = pics, exit_status = code }
  experiment._last = result
  if not redirect then
    experiment._exit_status = math.max(experiment._exit_status or 0, code)
    sys.set_exit_status(experiment._exit_status)
  end
  return result
end

-- experiment.landscape and experiment.test_functions, on the experiment
-- module; I: the experiment module's internals this shares (run folder,
-- optimizer entries, environment).
function L.attach(experiment, I)
  experiment.test_functions = {}
  for _, name in ipairs(functions.NAMES) do experiment.test_functions[name] = functions[name] end
  function experiment.landscape(spec)
    local a = type(spec) == "table" and type(spec.arg or rawget(_G, "arg")) == "table" and (spec.arg or rawget(_G, "arg"))[0]
    local prev = current
    current = { script = type(a) == "string" and report.exists(a) and a or nil }
    current.text = current.script and report.read_file(current.script)
    -- Ctrl-C sets a flag the steps poll: the folder is written with what ran
    local catching = sys.catch_interrupts(true)
    local ok, r = pcall(landscape, experiment, I, spec)
    sys.catch_interrupts(catching)
    current = prev
    if not ok then error(r, 0) end
    return r
  end
  local help = package.loaded.help
  if help then
    help.register(experiment.landscape, [[
experiment.landscape{fn, start, steps = 200, optimizers, noise = 0, seed = 1, tune, tolerance = 1e-4, name, ...} -> result
Runs every optimizer from the same start on a test function, records every step, and writes
runs/<name>/<UTC time>/: trajectories.csv, a contour plot with one path per optimizer (contour.svg/png),
its animation (contour.gif), f - f* against the step (loss.svg/png, log scale), a table (final value,
distance to the nearest minimum, steps to the tolerance, divergence), summary.md, report.html, manifest.json.
`optlab verify <folder>` reruns it and compares trajectories.csv bit for bit.
  fn          a name of experiment.test_functions ("beale"), {name, options...} ({"quadratic", condition = 50}),
              or your own {f = function(x, y) return ... end, minima = {{x, y}}, window = {{x0, x1}, {y0, y1}}}
  start       {x, y} (n numbers for an n-D function); default: the function's
  optimizers  as in experiment.compare: names (Keras defaults), optim objects, {label = ..., optimizer = ...}
  noise       sigma: every gradient gets sigma * N(0, I), seeded by `seed`, the same draws for every optimizer
  tune        {lr = {...}, steps = n}: each optimizer's lr picked on the function first (fewest steps to the
              tolerance, then the lowest final value), recorded in the manifest
  window      {{x0, x1}, {y0, y1}}: the plotting window (default: the function's)
Command-line key=value: steps, seed, noise, name, runs_dir, verbose.
result: {dir, fn, runs = {{label, display, lr, points, f, grad_norm, reached_at, diverged_at}}, manifest}.]])
    help.register(experiment.test_functions, [[
experiment.test_functions  optimizer test functions with known minima and a plotting window
rosenbrock{n, a, b}, beale, himmelblau, rastrigin{n, A}, ackley{n, a, b}, booth, saddle, monkey_saddle,
valley{slope, walls, length}, quadratic{condition, angle, n, scale}, cliff{height, steepness, at}.
Each returns {name, dims, f, minima, fmin, window, start, ...}; f(xs) takes one tensor per coordinate.]])
    local docs = {
      rosenbrock = "rosenbrock{n = 2, a = 1, b = 100}  sum of b(x[i+1] - x[i]^2)^2 + (a - x[i])^2; minimum (a, a^2) (n = 2) or (1, ..., 1)",
      beale = "beale()  (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2; minimum (3, 0.5)",
      himmelblau = "himmelblau()  (x^2 + y - 11)^2 + (x + y^2 - 7)^2; four minima of value 0, one at (3, 2)",
      rastrigin = "rastrigin{n = 2, A = 10}  A n + sum of x^2 - A cos(2 pi x); many local minima, the global one at 0",
      ackley = "ackley{n = 2, a = 20, b = 0.2}  -a exp(-b sqrt(mean x^2)) - exp(mean cos 2 pi x) + a + e; minimum 0 at 0",
      booth = "booth()  (x + 2y - 7)^2 + (2x + y - 5)^2; minimum (1, 3)",
      saddle = "saddle()  x^2 - y^2: a saddle point at 0, unbounded below; reached means f <= -1",
      monkey_saddle = "monkey_saddle()  x^3 - 3xy^2: a degenerate saddle at 0, unbounded below; reached means f <= -1",
      valley = "valley{slope = 0.1, walls = 10, length = 10}  slope (sqrt(1 + x^2) - 1) + walls y^2: a long narrow valley, minimum 0",
      quadratic = "quadratic{condition = 10, angle = 0, n = 2, scale = 1}  1/2 x'Ax, A's eigenvalues scale..scale*condition, axes turned by angle degrees",
      cliff = "cliff{height = 10, steepness = 40, at = 1}  (x^2 + y^2)/2 + height sigmoid(steepness (x - at)): a wall whose face explodes gradients",
    }
    for name, text in pairs(docs) do help.register(functions[name], "experiment.test_functions." .. text) end
  end
end

return L
