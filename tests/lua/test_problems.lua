-- problems.*: the test problems' spec tables, the noisy quadratic's Hessian and loss,
-- and a tuned comparison of one of them end to end (in this process).
local lib = require "lib"
local report = require "report"
local problems = require "problems"
local check, raises = lib.check, lib.raises

local T = {}

function T.a_problem_is_a_spec_table_the_callers_fields_replace_or_add_to()
  for _, name in ipairs(problems.names) do
    local s = problems[name]()
    check(s.name == name and type(s.model) == "function" and type(s.data) == "function", name .. ": fields")
    check(s.problem.name == name and s.problem.target.metric:match("^val_"), name .. ": target")
    check(compat.is_integer(s.epochs) and compat.is_integer(s.batch_size), name .. ": budget")
  end
  local s = problems.mlp_mnist { epochs = 2, optimizers = { "Adam" }, tune = { method = "random", trials = 2 } }
  check(s.epochs == 2 and s.batch_size == 128 and s.optimizers[1] == "Adam", "the caller's fields")
  check(s.tune.metric == "val_accuracy" and s.tune.mode == "max" and s.tune.trials == 2, "tune takes the problem's metric")
  check(problems.quadratic_deep { tune = { trials = 1 } }.tune.metric == "val_loss", "the quadratic is judged on val_loss")
  raises(function() return problems.mlp_mnsit end, "problems.mlp_mnsit is not a problem (did you mean 'mlp_mnist'?)")
  raises(function() problems.keras_cnn("fast") end, "expected a table of experiment.compare fields, got string")
end

function T.the_noisy_quadratic_has_deepobs_spectrum_and_loss()
  local q = problems._quadratic()
  local d = q.eigenvalues
  for i = 1, 100 do
    check((i <= 90 and d[i] >= 0 and d[i] <= 1) or (i > 90 and d[i] >= 30 and d[i] <= 60), "eigenvalue " .. i .. " = " .. d[i])
  end
  -- Q is a rotation: Q'Q = I
  local I = q.Q:transpose(1, 2):matmul(q.Q)
  local worst = 0
  for i = 1, 100 do for j = 1, 100 do worst = math.max(worst, math.abs(I[i][j] - (i == j and 1 or 0))) end end
  check(worst < 1e-5, "Q'Q differs from I by " .. worst)
  -- the model's mse is 1/2 (theta - x)' H (theta - x), averaged over examples (H = Q diag(d) Q', in doubles here)
  local spec = problems.quadratic_deep()
  local model = spec.model()
  local train = spec.data()
  local x = train:batch { 0, 1, 2 }
  local out = model(x)
  local F = require("nn").functional
  local mse = F.mse(out, tensor.zeros(3, 100)):item()
  local want = 0
  for b = 1, 3 do
    -- z = Q'(theta - x_b), theta = 1
    for j = 1, 100 do
      local z = 0
      for i = 1, 100 do z = z + q.Q[i][j] * (1 - x[b][i]) end
      want = want + 0.5 * d[j] * z * z
    end
  end
  want = want / 3
  lib.close(mse, want, 1e-4, "the quadratic's loss")
end

function T.the_autoencoders_targets_are_its_inputs_and_its_files_are_recorded()
  local ok, tr = pcall(function() return (problems.fashion_autoencoder().data()) end)
  if not ok then lib.skip("Fashion-MNIST is not installed (Debian's dataset-fashion-mnist): " .. tostring(tr)) end
  check(#tr == 10000 and tr:shape()[1] == 784, "10,000 examples of 784 values")
  local x, y = tr:batch { 0, 1, 9999 }
  check(x:size(1) == 3 and x:size(2) == 784 and y:size(2) == 784, "batch shapes")
  for b = 1, 3 do
    for i = 1, 784, 37 do
      check(x[b][i] == y[b][i] and x[b][i] >= 0 and x[b][i] <= 1, "the target is not the input at " .. b .. ", " .. i)
    end
  end
  local files = tr:files()
  check(#files == 2 and files[1]:find("train%-images"), "the autoencoder's set does not list its files: " .. table.concat(files, ", "))
end

function T.the_adding_problem_sums_the_marked_values_and_its_gradients_explode_without_clipping()
  local tr, te = problems.adding_rnn().data()
  check(#tr == 4000 and #te == 1000, "sizes")
  local x, y = tr:batch { 0, 1, 2, 3 }
  check(x:size(2) == 30 and x:size(3) == 2 and y:size(2) == 1, "shapes")
  for b = 1, 4 do
    local sum, marks, first, second = 0, 0, false, false
    for t = 1, 30 do
      if x[b][t][2] == 1 then
        marks = marks + 1
        sum = sum + x[b][t][1]
        if t <= 15 then first = true else second = true end
      end
    end
    check(marks == 2 and first and second, "example " .. b .. ": markers")
    lib.close(y[b][1], sum, 1e-6, "example " .. b .. ": target")
  end
  -- the textbook's cliff: plain SGD at lr 0.5 blows up within the first epoch, clipped it trains
  local function fit(opt)
    tensor.manual_seed(1)
    local spec = problems.adding_rnn()
    return train.fit(spec.model(), opt, tr, { epochs = 1, batch_size = 32, loss = "mse", metrics = {}, verbose = 0, seed = 1 })
  end
  local plain = fit(optim.SGD { lr = 0.5 })
  check(plain.stopped and #(plain.loss or {}) == 0, "unclipped SGD at lr 0.5 did not blow up: " .. tostring(plain.stopped))
  local clipped = fit(optim.SGD { lr = 0.5, clip_norm = 1 })
  check(not clipped.stopped and clipped.loss[1] < 1, "clipped SGD: loss " .. tostring(clipped.loss and clipped.loss[1]))
end

function T.a_tuned_comparison_of_the_quadratic_runs_and_selects_on_val_loss()
  local dir = os.tmpname()
  os.remove(dir)
  local r = experiment.compare(problems.quadratic_deep {
    epochs = 1, runs_dir = dir, verbose = 0, arg = {}, gnuplot = "no-such-gnuplot",
    optimizers = { { "SGD", lr = tune.log_uniform(1e-4, 1e-1) } },
    tune = { method = "random", trials = 3, seeds = { 1 } },
  })
  check(r.exit_status == 0, "exit status " .. tostring(r.exit_status))
  local rows = report.parse_csv(report.read_file(r.dir .. "/trials.csv")).rows
  check(#rows == 3 and rows[1].val_loss ~= "", "trials.csv")
  local best = rows[1]
  for _, row in ipairs(rows) do if tonumber(row.val_loss) < tonumber(best.val_loss) then best = row end end
  check(r.manifest.tune.best[1].trial == tonumber(best.trial), "the best is not the lowest val_loss")
  check(r.manifest.config.problem.name == "quadratic_deep", "the manifest names the problem")
  os.execute("rm -rf " .. report.shell_quote(dir))
end

-- experiment.benchmark: one tuned comparison per problem, each in its own folder, then
-- benchmark.csv with ranks that follow the means, and the performance profile.
local SUITE = [==[
return experiment.benchmark {
  name = "suite",
  problems = { problems.quadratic_deep { epochs = 2 }, problems.logistic_mnist { epochs = 1, train_limit = 600, val_limit = 300 } },
  optimizers = { { "SGD", lr = tune.log_uniform(1e-3, 1) }, { "Adam", lr = tune.log_uniform(1e-4, 1e-1) } },
  tune = { method = "random", trials = 2 }, seeds = { 1, 2 }, verbose = 0,
}
]==]

function T.a_benchmark_runs_each_problem_in_its_folder_and_ranks_them()
  local EXE = lib.optlab_exe()
  if EXE:sub(1, 1) ~= "/" then EXE = io.popen("readlink -f " .. report.shell_quote(EXE)):read("l") end
  local dir = os.tmpname()
  os.remove(dir)
  report.mkdir_p(dir)
  report.write_file(dir .. "/suite.lua", SUITE)
  local q = report.shell_quote
  local p = io.popen(q(EXE) .. " " .. q(dir .. "/suite.lua") .. " runs_dir=" .. q(dir .. "/runs") .. " 2>&1; echo \"exit $?\"")
  local out = p:read("a")
  p:close()
  check(out:find("exit 0", 1, true), "the benchmark failed:\n" .. out)
  local bdir = out:match("Benchmark folder: ([^\n]+)")
  local m = report.json_decode(report.read_file(bdir .. "/manifest.json"))
  check(m.kind == "benchmark" and m.status == "complete" and #m.problems == 2, "benchmark manifest")
  local rows = report.parse_csv(report.read_file(bdir .. "/benchmark.csv")).rows
  check(#rows == 4, "benchmark.csv rows " .. #rows)
  local by = {}
  for _, r in ipairs(rows) do
    by[r.problem] = by[r.problem] or {}
    by[r.problem][#by[r.problem] + 1] = r
    check(r.seeds == "2" and tonumber(r.mean), r.problem .. " " .. r.optimizer .. ": no test metric over 2 seeds")
    local lo, rank, hi = tonumber(r.rank_lo), tonumber(r.rank), tonumber(r.rank_hi)
    check(lo and hi and lo <= rank and rank <= hi and lo >= 1 and hi <= 2,
          string.format("%s %s: rank %s outside its interval %s-%s", r.problem, r.optimizer, r.rank, r.rank_lo, r.rank_hi))
    -- the winner reaches the target (its own final value) by its last epoch; steps count whole epochs
    if r.rank == "1" then
      check(tonumber(r.steps_to_target) and tonumber(r.target) == tonumber(r.mean), r.problem .. ": the winner never reached the target")
    end
  end
  -- rank 1 has the better mean: the lower test loss on the quadratic, the higher accuracy on MNIST
  local qd, lm = by.quadratic_deep, by.logistic_mnist
  local function better(a, b, low) if low then return tonumber(a.mean) < tonumber(b.mean) end return tonumber(a.mean) > tonumber(b.mean) end
  for _, pair in ipairs { { qd, true, "test_loss" }, { lm, false, "test_accuracy" } } do
    local r = pair[1]
    check(r[1].test_metric == pair[3], "test metric " .. r[1].test_metric)
    local first = r[1].rank == "1" and r[1] or r[2]
    local second = first == r[1] and r[2] or r[1]
    check(first.rank == "1" and second.rank == "2" and better(first, second, pair[2]), r[1].problem .. ": ranks do not follow the means")
  end
  -- each problem's folder is a tuned comparison that verifies on its own; verifying the benchmark's folder verifies each
  local function verify(folder)
    local vp = io.popen(q(EXE) .. " verify " .. q(folder) .. " 2>&1; echo \"exit $?\"")
    local vout = vp:read("a")
    vp:close()
    return vout
  end
  local vout = verify(bdir .. "/" .. m.problems[1].folder)
  check(vout:find("OK, every metric matches bit for bit", 1, true) and vout:find("exit 0", 1, true), "verify:\n" .. vout)
  vout = verify(bdir)
  check(vout:find("OK, the benchmark's 2 problems verify", 1, true) and vout:find("exit 0", 1, true) and
        select(2, vout:gsub("OK, every metric matches bit for bit", "")) == 2, "verify of the benchmark:\n" .. vout)
  -- a problem's folder that does not verify fails the benchmark's
  local victim = bdir .. "/" .. m.problems[2].folder .. "/trials.csv"
  report.write_file(victim, (report.read_file(victim):gsub("\nSGD,1,", "\nSGD,7,", 1)))
  vout = verify(bdir)
  check(vout:find("FAILED: not every problem of the benchmark verifies", 1, true) and vout:find("exit 1", 1, true),
        "verify of a benchmark with an edited trials.csv:\n" .. vout)
  -- the profile's data: every optimizer's rho climbs from 0 to 1
  local prof = report.read_file(bdir .. "/profile.dat")
  check(prof, "no profile.dat")
  local blocks = 0
  for block in (prof .. "\n\n\n"):gmatch("tau\t[^\n]*\n(.-)\n\n\n") do
    blocks = blocks + 1
    local last, prev = nil, -1
    for line in (block .. "\n"):gmatch("(.-)\n") do
      local rho = tonumber(line:match("\t(.*)$"))
      check(rho and rho >= prev, "rho falls in profile.dat")
      prev, last = rho, rho
    end
    check(last == 1, "an optimizer's profile ends at " .. tostring(last) .. ", not 1")
  end
  check(blocks == 2, "profile.dat has " .. blocks .. " optimizers, not 2")
  local html = report.read_file(bdir .. "/report.html")
  check(html and html:find("<h2>quadratic_deep</h2>", 1, true) and html:find("<h2>Across problems</h2>", 1, true),
        "report.html lacks the problems' tables")
  os.execute("rm -rf " .. q(dir))
end

return T
