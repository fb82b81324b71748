-- Three test problems, three optimizers, each tuned with the same budget on each problem
-- (successive halving over 9 configurations, selection on validation), the best rerun
-- with three seeds and reported on the test set; then the ranks across problems and
-- Dolan and More's performance profile (README, "A fair comparison").
--
-- The budgets are cut from the problems' own (DeepOBS's 100 epochs) to fit a 2-core
-- machine: 7 minutes for 135 runs (6 min 59 s measured with `time` while other jobs kept the load
-- average at 5 to 7; 3 min of CPU). Each problem's folder verifies on its own, and the
-- benchmark's folder verifies them all:
--   optlab verify runs/benchmark-suite/<time>
return experiment.benchmark {
  name = "benchmark-suite",
  description = "SGD, Adam and Adadelta tuned on the noisy quadratic, an MLP on MNIST and the Keras example CNN",
  problems = {
    problems.quadratic_deep { epochs = 9 },
    problems.mlp_mnist { epochs = 3 },
    problems.keras_cnn { epochs = 3 },
  },
  optimizers = {
    { "SGD", lr = tune.log_uniform(1e-3, 1), momentum = tune.choice { 0, 0.9 } },
    { "Adam", lr = tune.log_uniform(1e-5, 1e-1) },
    { "Adadelta", lr = tune.log_uniform(1e-3, 10) },
  },
  tune = { method = "halving", trials = 9, eta = 3 },
  seeds = { 1, 2, 3 },
}
