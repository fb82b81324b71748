-- experiment.landscape and experiment.test_functions (stdlib/landscape/):
-- gradients against closed forms, the known minima, SGD on a quadratic
-- against its closed-form trajectory, the seeded gradient noise, lr tuning,
-- divergence, the pictures, `optlab verify`, and errors at the user's line.
-- Most runs skip gnuplot (gnuplot = a command that is not there); one
-- renders every picture. Folders go under a temporary folder.
local lib = require "lib"
local report = require "report"
local experiment = require "experiment"
local check, close = lib.check, lib.close

local T = {}
local TF = experiment.test_functions
local q = report.shell_quote
local EXE = lib.optlab_exe()
if EXE:sub(1, 1) ~= "/" then EXE = io.popen("readlink -f " .. q(EXE)):read("l") end
local TMP = lib.tmpdir()
local NO_GNUPLOT = "optlab-test-no-such-gnuplot"

local function run(args)
  local out, err = TMP .. "/out.txt", TMP .. "/err.txt"
  local ok, how, code = os.execute(q(EXE) .. " " .. args .. " > " .. q(out) .. " 2> " .. q(err))
  local rc = ok and 0 or (how == "exit" and code or 128 + (code or 0))
  return rc, report.read_file(out) or "", report.read_file(err) or ""
end

-- experiment.landscape in this process, quietly, into TMP.
local function landscape(spec)
  spec.arg = spec.arg or {}
  spec.runs_dir = spec.runs_dir or TMP .. "/runs"
  spec.verbose = 0
  if spec.gnuplot == nil then spec.gnuplot = NO_GNUPLOT end
  return experiment.landscape(spec)
end

-- f and its gradient at a point, through autograd (float32), as numbers.
local function eval(fn, p)
  local theta = tensor.from(p, { requires_grad = true })
  local xs = {}
  for i = 1, #p do xs[i] = theta:narrow(1, i, 1) end
  local v = fn.f(xs):sum()
  v:backward()
  return v:item(), theta.grad:totable()
end

local function sigmoid(z) return 1 / (1 + math.exp(-z)) end

-- Closed-form gradients, in doubles, each written from the formula on paper.
local GRADS = {
  rosenbrock = function(p, o)
    local a, b, g = o.a or 1, o.b or 100, {}
    for i = 1, #p do
      g[i] = 0
      if i > 1 then g[i] = g[i] + 2 * b * (p[i] - p[i - 1] ^ 2) end
      if i < #p then g[i] = g[i] - 4 * b * p[i] * (p[i + 1] - p[i] ^ 2) - 2 * (a - p[i]) end
    end
    return g
  end,
  beale = function(p)
    local x, y = p[1], p[2]
    local t1, t2, t3 = 1.5 - x + x * y, 2.25 - x + x * y ^ 2, 2.625 - x + x * y ^ 3
    return { 2 * t1 * (y - 1) + 2 * t2 * (y ^ 2 - 1) + 2 * t3 * (y ^ 3 - 1), 2 * t1 * x + 4 * t2 * x * y + 6 * t3 * x * y ^ 2 }
  end,
  himmelblau = function(p)
    local x, y = p[1], p[2]
    local a, b = x * x + y - 11, x + y * y - 7
    return { 4 * x * a + 2 * b, 2 * a + 4 * y * b }
  end,
  rastrigin = function(p, o)
    local A, g = o.A or 10, {}
    for i = 1, #p do g[i] = 2 * p[i] + 2 * math.pi * A * math.sin(2 * math.pi * p[i]) end
    return g
  end,
  ackley = function(p, o)
    local a, b, n = o.a or 20, o.b or 0.2, #p
    local ss, cs = 0, 0
    for i = 1, n do ss = ss + p[i] ^ 2; cs = cs + math.cos(2 * math.pi * p[i]) end
    local r = math.sqrt(ss / n)
    local g = {}
    for i = 1, n do
      g[i] = a * b * math.exp(-b * r) * p[i] / (n * r) + math.exp(cs / n) * 2 * math.pi / n * math.sin(2 * math.pi * p[i])
    end
    return g
  end,
  booth = function(p)
    local u, v = p[1] + 2 * p[2] - 7, 2 * p[1] + p[2] - 5
    return { 2 * u + 4 * v, 4 * u + 2 * v }
  end,
  saddle = function(p) return { 2 * p[1], -2 * p[2] } end,
  monkey_saddle = function(p) return { 3 * p[1] ^ 2 - 3 * p[2] ^ 2, -6 * p[1] * p[2] } end,
  valley = function(p, o)
    local s, k = o.slope or 0.1, o.walls or 10
    return { s * p[1] / math.sqrt(1 + p[1] ^ 2), 2 * k * p[2] }
  end,
  quadratic = function(p, o)
    -- A = R diag(1, condition) R', R the rotation by angle (2-D)
    local th = (o.angle or 0) * math.pi / 180
    local c, s, l1, l2 = math.cos(th), math.sin(th), 1, o.condition or 10
    local A = { { c * c * l1 + s * s * l2, c * s * (l1 - l2) }, { c * s * (l1 - l2), s * s * l1 + c * c * l2 } }
    return { A[1][1] * p[1] + A[1][2] * p[2], A[2][1] * p[1] + A[2][2] * p[2] }
  end,
  cliff = function(p, o)
    local H, k, c = o.height or 10, o.steepness or 40, o.at or 1
    local s = sigmoid(k * (p[1] - c))
    return { p[1] + H * k * s * (1 - s), p[2] }
  end,
}

-- name, options, points
local CASES = {
  { "rosenbrock", {}, { { -1.5, 2 }, { 0.3, -0.7 }, { 1.2, 1.1 } } },
  { "rosenbrock", { n = 4 }, { { -1, 0.5, 1.5, -0.3 }, { 0.2, 0.1, 0.9, 1.1 } } },
  { "rosenbrock", { a = 2, b = 50 }, { { 1.5, 3 }, { -0.5, 0.5 } } },
  { "beale", {}, { { 1, 1.5 }, { 2.5, -0.3 }, { -1.2, 0.7 } } },
  { "himmelblau", {}, { { 0, 0 }, { 1.5, -2.5 }, { -3, 3.5 } } },
  { "rastrigin", {}, { { 2.5, 3.7 }, { -0.3, 0.45 } } },
  { "rastrigin", { n = 3, A = 5 }, { { 1.2, -2.1, 0.6 } } },
  { "ackley", {}, { { -3.7, 3.2 }, { 0.4, -0.1 } } },
  { "ackley", { n = 3 }, { { 1.1, -0.4, 2.2 } } },
  { "booth", {}, { { -8, -7 }, { 2, 1 } } },
  { "saddle", {}, { { 1, 0.001 }, { -0.7, 1.2 } } },
  { "monkey_saddle", {}, { { 1, 0.001 }, { -0.6, 0.9 } } },
  { "valley", {}, { { -9, 0.8 }, { 0.5, -0.05 } } },
  { "valley", { slope = 0.5, walls = 3 }, { { -3, 0.4 } } },
  { "quadratic", { condition = 10, angle = 30 }, { { -1.6, 1.1 }, { 0.7, 0.2 } } },
  { "quadratic", { condition = 100, angle = -75 }, { { 1, 1 } } },
  { "cliff", {}, { { 3.5, 2 }, { 1.05, 0.5 }, { 0.9, -1 } } },
  { "cliff", { height = 5, steepness = 40, at = 2 }, { { 2.02, 0.1 } } },
}

function T.every_gradient_matches_its_closed_form()
  local covered = {}
  for _, c in ipairs(CASES) do
    local name, opts, points = c[1], c[2], c[3]
    local fn = TF[name](opts)
    covered[name] = true
    for _, p in ipairs(points) do
      local _, g = eval(fn, p)
      local want = GRADS[name](p, opts)
      local scale = 1
      for i = 1, #want do scale = math.max(scale, math.abs(want[i])) end
      for i = 1, #want do
        check(math.abs(g[i] - want[i]) <= 2e-5 * scale,
              string.format("%s %s at (%s): d/dx%d autograd %.9g, closed form %.9g", name, report.json(opts),
                            table.concat(p, ", "), i, g[i], want[i]))
      end
    end
  end
  for _, name in ipairs { "rosenbrock", "beale", "himmelblau", "rastrigin", "ackley", "booth", "saddle", "monkey_saddle",
                          "valley", "quadratic", "cliff" } do
    check(covered[name], name .. " has no gradient case")
  end
end

-- At each known minimum: f = fmin, the gradient vanishes, and every point
-- 0.01 away is higher. Saddles: no minimum, a vanishing gradient at the
-- stationary point, and directions going down.
function T.known_minima_are_minima()
  for _, c in ipairs(CASES) do
    local name, opts = c[1], c[2]
    local fn = TF[name](opts)
    check(type(fn.window) == "table" and #fn.window == fn.dims, name .. ": a window per coordinate")
    for i = 1, fn.dims do check(fn.window[i][1] < fn.window[i][2], name .. ": window " .. i) end
    if name == "saddle" or name == "monkey_saddle" then
      check(#fn.minima == 0 and fn.fmin == nil and fn.target, name .. ": unbounded below, a target instead")
      local v, g = eval(fn, fn.stationary[1])
      check(v == 0 and g[1] == 0 and g[2] == 0, name .. ": stationary at the origin")
      check(fn.f({ tensor.from { 0.1 }, tensor.from { 0.5 } }):item() < 0, name .. ": goes below 0")
    else
      check(#fn.minima >= 1 and type(fn.fmin) == "number", name .. ": has minima")
      for _, m in ipairs(fn.minima) do
        local v, g = eval(fn, m)
        close(v, fn.fmin, 0, name .. ": f at the minimum", 2e-5)
        if name ~= "ackley" then   -- its minimum is a kink (the gradient of sqrt at 0)
          for i = 1, fn.dims do
            check(math.abs(g[i]) <= 2e-3, string.format("%s: gradient %d at the minimum is %.3g", name, i, g[i]))
          end
        end
        for i = 1, fn.dims do
          for _, d in ipairs { -0.01, 0.01 } do
            local p = {}
            for j = 1, fn.dims do p[j] = m[j] end
            p[i] = p[i] + d
            local vn = eval(fn, p)
            check(vn > v, string.format("%s: f(%s) = %.9g is not above f at the minimum %.9g", name, table.concat(p, ", "), vn, v))
          end
        end
      end
    end
  end
  -- the four minima of Himmelblau, and the cliff's, computed rather than typed
  check(#TF.himmelblau().minima == 4, "Himmelblau has four minima")
  local cl = TF.cliff()
  check(cl.minima[1][1] < 0 and cl.minima[1][1] > -0.01, "the cliff's minimum is pushed just left of 0 by the wall")
end

function T.options_are_checked()
  lib.raises(function() TF.quadratic { conditon = 5 } end, "unknown option 'conditon' (did you mean 'condition'?)")
  lib.raises(function() TF.quadratic { condition = 0.5 } end, "condition must be >= 1")
  lib.raises(function() TF.rosenbrock { n = 1 } end, "n must be an integer in [2, 1000]")
  lib.raises(function() TF.rosenbrock { n = 3, a = 2 } end, "only for n = 2")
  lib.raises(function() TF.cliff { height = -1 } end, "height must be > 0")
  lib.raises(function() TF.beale(3) end, "expected a table of options")
end

-- SGD on 1/2 x'Ax: x_k = (I - lr A)^k x_0 exactly; float32 follows it.
function T.sgd_on_a_quadratic_follows_the_closed_form()
  local lr, steps = 0.05, 120
  local r = landscape { fn = { "quadratic", condition = 10, angle = 30 }, start = { -1.6, 1.1 }, steps = steps,
                        optimizers = { optim.SGD { lr = lr } } }
  local run = r.runs[1]
  check(#run.points == steps + 1 and not run.diverged_at, "every step recorded")
  local A = r.fn.hessian
  local x = { compat.f32(-1.6), compat.f32(1.1) }
  for k = 0, steps do
    local p = run.points[k + 1]
    close(p, x, 0, "step " .. k, 2e-6)
    local f = 0.5 * (A[1][1] * x[1] ^ 2 + 2 * A[1][2] * x[1] * x[2] + A[2][2] * x[2] ^ 2)
    close(run.f[k + 1], f, 1e-5, "f at step " .. k, 1e-9)
    x = { x[1] - lr * (A[1][1] * x[1] + A[1][2] * x[2]), x[2] - lr * (A[2][1] * x[1] + A[2][2] * x[2]) }
  end
  -- a table a constructor made is taken as it is
  local again = landscape { fn = TF.quadratic { condition = 10, angle = 30 }, start = { -1.6, 1.1 }, steps = steps,
                            optimizers = { optim.SGD { lr = lr } } }
  check(report.read_file(again.dir .. "/trajectories.csv") == report.read_file(r.dir .. "/trajectories.csv"),
        "fn = experiment.test_functions.quadratic{...} runs as fn = {\"quadratic\", ...}")
  -- 4-D: eigenvalues 1, 10^(1/3), 10^(2/3), 10 on the axes; each coordinate is a geometric sequence
  local r4 = landscape { fn = { "quadratic", condition = 10, n = 4 }, start = { 1, -1, 0.5, 0.25 }, steps = 40,
                         optimizers = { optim.SGD { lr = 0.1 } } }
  for k = 0, 40 do
    for i = 1, 4 do
      local lam = 10 ^ ((i - 1) / 3)
      local want = compat.f32(({ 1, -1, 0.5, 0.25 })[i]) * (1 - 0.1 * lam) ^ k
      close(r4.runs[1].points[k + 1][i], want, 0, string.format("4-D, coordinate %d, step %d", i, k), 2e-6)
    end
  end
end

-- noise: the gradient of step k gets sigma * tensor.randn(n, {seed = seed, stream = k + 1}),
-- the same draws for every optimizer; the same seed gives the same bits.
function T.gradient_noise_is_seeded_documented_and_shared()
  local lr, sigma = 0.05, 0.5
  local spec = function(seed)
    return { fn = { "quadratic", condition = 4, angle = 20 }, start = { 1, -1 }, steps = 30, noise = sigma, seed = seed,
             optimizers = { { label = "one", optimizer = optim.SGD { lr = lr } }, { label = "two", optimizer = optim.SGD { lr = lr } } } }
  end
  local a, b, c = landscape(spec(3)), landscape(spec(3)), landscape(spec(4))
  local csv_a = report.read_file(a.dir .. "/trajectories.csv")
  local csv_b = report.read_file(b.dir .. "/trajectories.csv")
  check(csv_a == csv_b, "the same seed gives the same trajectories, bit for bit")
  check(csv_a ~= report.read_file(c.dir .. "/trajectories.csv"), "another seed gives other noise")
  for k = 1, 31 do close(a.runs[1].points[k], a.runs[2].points[k], 0, "both optimizers see the same noise") end
  -- recover the noise from SGD's steps: x_{k+1} = x_k - lr (A x_k + sigma xi_k)
  local A = a.fn.hessian
  local pts = a.runs[1].points
  for k = 0, 29 do
    local x, y = pts[k + 1], pts[k + 2]
    local xi = tensor.randn(2, { seed = 3, stream = k + 1 }):totable()
    for i = 1, 2 do
      local g = A[i][1] * x[1] + A[i][2] * x[2]
      local got = ((x[i] - y[i]) / lr - g) / sigma
      check(math.abs(got - xi[i]) < 1e-3, string.format("step %d, coordinate %d: noise %.6g, expected %.6g", k, i, got, xi[i]))
    end
  end
  -- and without noise the path is another one
  local s = spec(3)
  s.noise = 0
  check(landscape(s).runs[1].points[5][1] ~= pts[5][1], "noise changes the path")
end

-- tune: each optimizer's lr from the grid (fewest steps to the tolerance), in the manifest
function T.tune_picks_each_optimizers_best_lr_and_records_the_grid()
  local r = landscape { fn = { "quadratic", condition = 10 }, start = { 1, 1 }, steps = 200, tolerance = 1e-6,
                        tune = { lr = { 0.01, 0.1, 0.18, 0.3 } },
                        optimizers = { { label = "SGD", optimizer = optim.SGD { lr = 1 } },
                                       { label = "Adam", optimizer = optim.Adam { lr = 1, beta1 = 0.5 } } } }
  -- SGD: lr 0.3 diverges (0.3 * 10 > 2); 0.18 contracts both directions fastest (|1 - 0.18 l| <= 0.82)
  local sgd = r.runs[1]
  check(sgd.lr == 0.18, "SGD's tuned lr is 0.18, got " .. tostring(sgd.lr))
  local cfg = r.manifest.config
  check(cfg.tune and cfg.tune.steps == 200 and #cfg.tune.lr == 4, "the grid is in the manifest")
  local cands = cfg.optimizers[1].tuning
  check(#cands == 4 and cands[4].diverged_at and cands[1].reached_at == nil and cands[3].reached_at < cands[2].reached_at,
        "the candidates' outcomes are recorded: " .. report.json(cands))
  check(cfg.optimizers[1].lr == 0.18 and cfg.optimizers[2].lr == r.runs[2].lr, "the chosen lr per optimizer")
  -- the final run is the tuning run of the chosen lr, and the hyperparameters other than lr are kept
  check(sgd.reached_at == cands[3].reached_at, "the chosen run reaches the tolerance when its tuning run did")
  local o = require("landscape.run")
  check(o.trajectory ~= nil, "trajectory is exposed")
  check(r.manifest.config.optimizers[2].hyperparameters.beta1 == 0.5, "Adam keeps beta1 = 0.5")
  local table_text = report.read_file(r.dir .. "/summary.md")
  check(table_text:find("lr (tuned)", 1, true) and table_text:find("Learning rates tried", 1, true), table_text)
end

-- a run that diverges is a result: the table and the manifest say at which step
function T.divergence_is_recorded_and_the_folder_completes()
  local r = landscape { fn = "rosenbrock", start = { -1.5, 2 }, steps = 50,
                        optimizers = { { label = "too fast", optimizer = optim.SGD { lr = 0.1 } },
                                       { label = "fine", optimizer = optim.SGD { lr = 1e-4 } } } }
  local bad, good = r.runs[1], r.runs[2]
  check(bad.diverged_at and bad.diverged_at < 50 and #bad.points == bad.diverged_at + 1, "diverged, recorded up to there")
  check(not good.diverged_at and #good.points == 51, "the other runs to the end")
  check(r.manifest.status == "complete" and r.manifest.runs[1].status == "diverged", "manifest")
  local md = report.read_file(r.dir .. "/summary.md")
  check(md:find("at step " .. bad.diverged_at, 1, true), "the table names the step:\n" .. md)
  check(not r.plots.rendered and r.plots.message:find("gnuplot is not installed", 1, true), "no gnuplot: said so")
  check(report.exists(r.dir .. "/contour.gp") and report.exists(r.dir .. "/paths.dat"), "scripts and data written anyway")
end

-- with gnuplot: the contour plot (SVG, PNG), the animated GIF and the loss plot
function T.pictures_are_rendered()
  if not report.gnuplot_command() then lib.skip("gnuplot is not installed") end
  local r = landscape { fn = "himmelblau", start = { 0, 0 }, steps = 60, gnuplot = "gnuplot",
                        optimizers = { { label = "SGD", optimizer = optim.SGD { lr = 0.01 } },
                                       { label = "Adam", optimizer = optim.Adam { lr = 0.1 } } } }
  check(r.plots.rendered, "rendered: " .. tostring(r.plots.message))
  for _, f in ipairs { "contour.svg", "contour.png", "contour.gif", "loss.svg", "loss.png" } do
    check(report.exists(r.dir .. "/" .. f), f .. " is missing")
  end
  local gif = report.read_file(r.dir .. "/contour.gif")
  check(gif:sub(1, 6) == "GIF89a" and gif:find("NETSCAPE2.0", 1, true), "an animated GIF (looping)")
  check(#gif < 2e6, "the GIF stays small: " .. #gif .. " bytes")
  local png = report.read_file(r.dir .. "/contour.png")
  check(png:sub(2, 4) == "PNG", "a PNG")
  check(report.read_file(r.dir .. "/contour.svg"):find("Adam", 1, true), "the legend names the optimizers")
  local html = report.read_file(r.dir .. "/report.html")
  check(html:find('src="contour.gif"', 1, true) and html:find("<svg", 1, true), "report.html shows the pictures")
  -- the loss axis: one labelled tic per decade of f - f*
  local gp = report.read_file(r.dir .. "/loss.gp")
  check(gp:find("set logscale y", 1, true) and gp:find('"0.01" 0.01', 1, true), "log-scale tics:\n" .. gp)
  -- a flat function has an empty colour range, which gnuplot refuses: it gets one
  local flat = landscape { fn = function(x, y) return x * 0 + y * 0 end, start = { 1, 2 }, steps = 3, gnuplot = "gnuplot",
                           optimizers = { optim.SGD { lr = 0.1 } } }
  check(flat.plots.rendered, "a flat function: " .. tostring(flat.plots.message))
end

-- the plots' data stay small on long runs; trajectories.csv keeps every step
function T.long_runs_keep_every_step_and_plot_a_sample()
  local plots = require "landscape.plots"
  local r10 = plots.rows(10, 2000)
  check(#r10 == 11 and r10[11] == 10, "short runs: every step")
  local r = plots.rows(4999, 2000)
  check(#r <= 2001 and r[1] == 0 and r[2] == 3 and r[#r] == 4999, "every 3rd step and the last: " .. #r)
  local run = landscape { fn = "saddle", steps = 4999, optimizers = { optim.SGD { lr = 1e-4 } } }
  local n = 0
  for _ in report.read_file(run.dir .. "/trajectories.csv"):gmatch("\n") do n = n + 1 end
  check(n == 5001, "trajectories.csv: a header and 5,000 rows, got " .. n)
  local paths = report.read_file(run.dir .. "/paths.dat")
  local rows, last = 0, nil
  for line in paths:gmatch("([^\n]*)\n") do
    if line:sub(1, 1) ~= "#" then rows = rows + 1; last = line:match("^(%d+)") end
  end
  check(rows == #r and last == "4999", "paths.dat: " .. rows .. " rows ending at step " .. tostring(last))
  local gp = report.read_file(run.dir .. "/animation.gp")
  local frames = gp:match('\nframes = "([^"]*)"')
  local count = select(2, frames:gsub("%d+", ""))
  check(count == 80 + 12 and gp:find('\nsteps = "0 ', 1, true), "80 frames and the last held: " .. count)
  lib.raises(function() landscape { fn = "saddle", steps = 100001, optimizers = { "SGD" } } end, "steps must be an integer in [1, 100000]")
  -- f of a function unbounded below spans decades of both signs: a signed log axis, tics in f's values
  local tics = plots.symlog_tics(-2e5, 1)
  check(tics:find('"0" 0', 1, true) and tics:find('"-100" -2.00432', 1, true) and tics:find('"-10000" -4.00004', 1, true) and
        tics:find('"1" 0.30103', 1, true), tics)
end

local function script(name, body)
  local path = TMP .. "/" .. name
  report.write_file(path, body)
  return path
end

local SCRIPT = [[
return experiment.landscape {
  name = "verify-me", fn = "beale", start = {1, 1.5}, steps = 40, noise = 0.2, seed = 7,
  gnuplot = "optlab-test-no-such-gnuplot",
  tune = { lr = {0.001, 0.01} },
  optimizers = { { label = "SGD", optimizer = optim.SGD{} }, { label = "Adam", optimizer = optim.Adam{} } },
}
]]

local function newest(dir)
  local p = io.popen("ls -d " .. q(dir) .. "/*/ | tail -1")
  local d = p:read("l")
  p:close()
  return d and d:gsub("/$", "")
end

function T.verify_passes_and_detects_a_forged_trajectories_csv()
  local path = script("verify_me.lua", SCRIPT)
  local runs = TMP .. "/vruns"
  local rc, out, err = run(q(path) .. " runs_dir=" .. q(runs))
  check(rc == 0, "the run failed:\n" .. out .. err)
  local folder = newest(runs .. "/verify-me")
  local m = report.json_decode(report.read_file(folder .. "/manifest.json"))
  check(m.kind == "landscape" and m.status == "complete" and m.script.copy, "manifest")
  local vrc, vout = run("--threads 1 verify " .. q(folder))
  check(vrc == 0 and vout:find("OK, every trajectory matches bit for bit", 1, true), "verify:\n" .. vout)
  -- forge one number by one unit in the last place
  local text = report.read_file(folder .. "/trajectories.csv")
  local c = report.parse_csv(text)
  local row = c.rows[10]
  local v = report.parse_num(row.y)
  local bumped = compat.unpack("<d", compat.pack("<i8", compat.unpack("<i8", compat.pack("<d", v)) + 1))
  local forged = text:gsub("\n" .. row.optimizer .. "," .. row.step .. ",([^,]*)," .. row.y:gsub("%p", "%%%0") .. ",",
                           "\n" .. row.optimizer .. "," .. row.step .. ",%1," .. report.num(bumped) .. ",", 1)
  check(forged ~= text, "forging failed")
  report.write_file(folder .. "/trajectories.csv", forged)
  local vrc2, vout2 = run("verify " .. q(folder))
  check(vrc2 ~= 0, "verify passed a forged trajectories.csv:\n" .. vout2)
  check(vout2:find(string.format("first difference: %s, step %s, y: recorded %s", row.optimizer, row.step, report.num(bumped)), 1, true),
        "the first difference is named:\n" .. vout2)
  -- a deleted row
  local lines = {}
  for l in (text .. ""):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  table.remove(lines, 20)
  report.write_file(folder .. "/trajectories.csv", table.concat(lines, "\n") .. "\n")
  local vrc3, vout3 = run("verify " .. q(folder))
  check(vrc3 ~= 0 and vout3:find("missing from trajectories.csv", 1, true), "a deleted row:\n" .. vout3)
  -- a changed tuned lr in the manifest is a changed folder too (the copies are checked, the lr compared)
  report.write_file(folder .. "/trajectories.csv", text)
  local mj = report.json_decode(report.read_file(folder .. "/manifest.json"))
  local chosen = mj.config.optimizers[1].lr
  mj.config.optimizers[1].lr = chosen == 0.01 and 0.001 or 0.01
  report.write_file(folder .. "/manifest.json", report.json(mj))
  local vrc4, vout4 = run("verify " .. q(folder))
  check(vrc4 ~= 0 and vout4:find("optimizer 1: recorded SGD at lr " .. report.num(mj.config.optimizers[1].lr) ..
                                 ", rerun SGD at lr " .. report.num(chosen), 1, true), "a forged lr:\n" .. vout4)
  -- resume says what to do instead
  local rrc, _, rerr = run("resume " .. q(folder))
  check(rrc ~= 0 and rerr:find("is a landscape run", 1, true), "resume:\n" .. rerr)
end

-- the same double may print two ways: LuaJIT rounds a halfway 17th digit up,
-- glibc to even (1.64963531494140625 exactly); verify compares bits, not text
function T.verify_compares_bits_not_text()
  local V = require "landscape.verify"
  local head = "optimizer,step,x,y,f,grad_norm\n"
  local a = head .. "SGD,0,1.6496353149414063,0.5,2,3\n"
  local b = head .. "SGD,0,1.6496353149414062,0.5,2,3\n"
  check(report.parse_num("1.6496353149414063") == report.parse_num("1.6496353149414062"), "one double, two texts")
  local ok, lines, first = V.compare(a, b)
  check(ok, "the same bits in other text: " .. tostring(first))
  check(lines[1]:find("1 steps: x, y, f, grad_norm match bit for bit", 1, true), lines[1])
  local ok2, _, first2 = V.compare(a, head .. "SGD,0,1.6496353149414065,0.5,2,3\n")
  check(not ok2 and first2:find("SGD, step 0, x: recorded 1.6496353149414063, rerun 1.6496353149414065", 1, true), first2)
end

-- Ctrl-C: the step stops, the folder keeps what ran and says so, exit status 130, verify refuses it
function T.ctrl_c_stops_at_a_step_and_writes_what_ran()
  local path = script("interrupt_me.lua", [[
local calls = 0
return experiment.landscape { name = "int", steps = 50, gnuplot = "optlab-test-no-such-gnuplot",
  fn = { f = function(x, y)
    calls = calls + 1
    -- io.popen, not os.execute: system() ignores SIGINT in the caller while it waits
    if calls == 80 then io.popen("kill -INT $PPID"):read("a") end
    return x * x + y * y
  end, minima = { { 0, 0 } } },
  start = { 1, 1 },
  optimizers = { { label = "A", optimizer = optim.SGD { lr = 0.1 } }, { label = "B", optimizer = optim.SGD { lr = 0.2 } },
                 { label = "C", optimizer = optim.SGD { lr = 0.3 } } } }
]])
  local runs = TMP .. "/iruns"
  local rc, out = run(q(path) .. " runs_dir=" .. q(runs))
  check(rc == 130 and out:find("stopped by Ctrl-C after 2 of 3 optimizers", 1, true), "rc " .. rc .. ":\n" .. out)
  check(out:find("Ctrl-C at step 28", 1, true), "the table says where B stopped:\n" .. out)
  local folder = newest(runs .. "/int")
  local m = report.json_decode(report.read_file(folder .. "/manifest.json"))
  check(m.status == "interrupted" and m.interrupted == "Ctrl-C" and #m.runs == 2 and m.runs[1].status == "complete" and
        m.runs[2].status == "interrupted" and m.runs[2].steps == 27, "manifest: " .. report.json(m.runs))
  local vrc, vout = run("verify " .. q(folder))
  check(vrc ~= 0 and vout:find("never completed", 1, true), "verify of an interrupted folder:\n" .. vout)
end

-- errors name the user's file and line
function T.bad_fn_start_and_optimizers_are_errors_at_the_users_line()
  local here = debug.getinfo(1, "S").short_src
  local function at(line, fn, want)
    local err = lib.raises(fn, want)
    check(err:find(here .. ":" .. line .. ":", 1, true), "not at " .. here .. ":" .. line .. ": " .. err)
  end
  local base = { optimizers = { "SGD" }, steps = 3 }
  local function spec(extra)
    local s = {}
    for k, v in pairs(base) do s[k] = v end
    for k, v in pairs(extra) do s[k] = v end
    return s
  end
  local l = debug.getinfo(1, "l").currentline
  at(l + 1, function() landscape(spec { fn = "beal" }) end, "unknown test function 'beal' (did you mean 'beale'?)")
  at(l + 2, function() landscape(spec { fn = 42 }) end, "fn must be a test function's name")
  at(l + 3, function() landscape(spec { fn = { "quadratic", conditon = 3 } }) end, "did you mean 'condition'?")
  at(l + 4, function() landscape(spec { fn = "beale", start = { 1 } }) end, "start must be a list of 2 finite numbers")
  at(l + 5, function() landscape(spec { fn = "beale", start = { 1, 0 / 0 } }) end, "start must be a list of 2 finite numbers")
  at(l + 6, function() landscape(spec { fn = "beale", optimizers = { "Adamm" } }) end, "did you mean 'Adam'?")
  at(l + 7, function() landscape(spec { fn = "beale", optimizers = { 42 } }) end, "optimizer entry of type number")
  at(l + 8, function() landscape(spec { fn = "beale", optimizers = {} }) end, "'optimizers' must be a non-empty list")
  at(l + 9, function() landscape(spec { fn = "beale", stpes = 3 }) end, "unknown field 'stpes' (did you mean 'steps'?)")
  at(l + 10, function() landscape(spec { fn = "beale", noise = -1 }) end, "noise must be a number >= 0")
  at(l + 11, function() landscape(spec { fn = "beale", tune = { lr = { 0 } } }) end, "tune.lr must hold positive numbers")
  at(l + 12, function() landscape(spec { fn = { f = 3 } }) end, "fn must be a test function's name")
  -- return experiment.landscape{...} is a tail call: the error names the script and the field's line
  local path = script("bad_start.lua", 'return experiment.landscape {\n  fn = "beale",\n  start = {1, 2, 3},\n' ..
                      '  optimizers = {"SGD"},\n}\n')
  local rc, _, err = run(q(path) .. " runs_dir=" .. q(TMP .. "/bad"))
  check(rc ~= 0 and err:find(path .. ":3: experiment.landscape: start must be a list of 2", 1, true), err)
  local path2 = script("bad_opt.lua", 'return experiment.landscape {\n  fn = "beale",\n  optimizers = {"SGD",\n' ..
                       '    "Adamm"},\n}\n')
  local rc2, _, err2 = run(q(path2) .. " runs_dir=" .. q(TMP .. "/bad"))
  check(rc2 ~= 0 and err2:find(path2 .. ":3: ", 1, true) and err2:find("did you mean 'Adam'?", 1, true), err2)
  check(not report.exists(TMP .. "/bad"), "a bad spec made no folder")
  -- a user's own function, with its minimum
  local r = landscape { fn = { name = "bowl", f = function(x, y) return (x - 1) ^ 2 + 2 * y * y end, minima = { { 1, 0 } } },
                        start = { -1, 1 }, steps = 5, optimizers = { optim.SGD { lr = 0.1 } } }
  check(r.fn.fmin == 0 and r.runs[1].f[1] == 6, "a user's function: f(-1, 1) = 6, fmin from its minimum")
end

return T
