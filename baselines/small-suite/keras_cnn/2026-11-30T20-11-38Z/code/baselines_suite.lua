-- The shipped baselines (baselines/small-suite/): the built-in optimizers the Keras
-- example compares (SGD, SGD with momentum 0.9, Adam, RMSprop, Adagrad), each tuned
-- with the same budget on the noisy quadratic, an MLP on MNIST and the Keras example
-- CNN: successive halving over 9 learning rates (9 at 1 epoch, the best 3 at 3 epochs;
-- selection on validation), the best rerun with seeds 1, 2 and 3 and reported on the
-- test set. A new optimizer is ranked among them without rerunning them (README, "A fair
-- comparison"):
--   optlab my_suite.lua baselines=baselines/small-suite
--
-- The budget is cut far below DeepOBS's (each problem's full budget, 100 epochs for the
-- MLP, for every point of a learning-rate grid, on the full data sets) to fit a machine of
-- 2 shared cores: 3 epochs, this machine's MNIST subset (8,000 training and 2,000 test
-- images), so that running it and `optlab verify baselines/small-suite` each take
-- minutes, not GPU-hours. Rankings at 3 epochs favour fast starters.
-- Regenerate it (then commit the folder) after any change of bits:
--   optlab experiments/baselines_suite.lua runs_dir=/tmp/b && rm -rf baselines/small-suite &&
--   cp -r /tmp/b/baselines-small/<time> baselines/small-suite
return experiment.benchmark {
  name = "baselines-small",
  description = "The built-in optimizers tuned on the noisy quadratic, an MLP on MNIST and the Keras example CNN",
  problems = {
    problems.quadratic_deep { epochs = 3 },
    problems.mlp_mnist { epochs = 3 },
    problems.keras_cnn { epochs = 3 },
  },
  optimizers = {
    { "SGD", lr = tune.log_uniform(1e-3, 1) },
    { "SGD", label = "Momentum", momentum = 0.9, lr = tune.log_uniform(1e-4, 1e-1) },
    { "Adam", lr = tune.log_uniform(1e-5, 1e-1) },
    { "RMSprop", lr = tune.log_uniform(1e-5, 1e-1) },
    { "Adagrad", lr = tune.log_uniform(1e-4, 1) },
  },
  tune = { method = "halving", trials = 9, eta = 3 },
  seeds = { 1, 2, 3 },
}
