-- How much does momentum help plain SGD, and does the answer depend on the
-- learning rate?  SGD with the textbook's typical momentum values alpha = 0, 0.5,
-- 0.9, 0.99 (an effective step of about 1/(1 - alpha) times eps) at eps = 0.01
-- and eps = 0.1, on the Keras example CNN and MNIST: 8 runs, same weights and batches.
--
-- Time on a 2-core machine: 8 runs x 5 epochs on make data's 8,000 digits,
-- about 0.8x mnist_optimizers.lua (try --jobs 2: same numbers, less waiting
-- when one run leaves a core idle).  Quick look:
--   optlab experiments/momentum_sweep.lua epochs=2 train_limit=2000
--
-- What to expect: at eps = 0.01, alpha = 0.9 clearly beats alpha = 0 and 0.5;
-- at eps = 0.1 the effective step of alpha = 0.99 (about 10) is too large and
-- the run stalls or diverges (a NaN stops that run only; the table shows it).
return experiment.compare {
  name = "momentum-sweep",
  description = "SGD with momentum 0, 0.5, 0.9, 0.99 at lr 0.01 and 0.1 on the Keras example CNN and MNIST",
  data = function() return data.mnist() end,
  model = nn.models.keras_mnist_cnn,   -- the Keras example CNN (as in mnist_optimizers.lua)
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 64, epochs = 5, seed = 1,
  optimizers = optim.sweep(optim.SGD, { lr = { 0.01, 0.1 }, momentum = { 0, 0.5, 0.9, 0.99 } }),
}
