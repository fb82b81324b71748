-- Does scheduling the learning rate beat a constant one in a short run?
-- SGD with momentum 0.9 from eps_0 = 0.05: constant, the textbook's linear decay
-- to eps_0 / 100 at the last epoch, step decay (halved every 3 epochs) and
-- cosine annealing to 0 (all per epoch), on the Keras example CNN and MNIST.
--
-- Time on a 2-core machine: 4 runs x 10 epochs on make data's 8,000 digits,
-- about 0.8x mnist_optimizers.lua.  Quick look:
--   optlab experiments/lr_schedules.lua epochs=3 train_limit=2000
--
-- What to expect: the same curve for the first epoch (every schedule starts
-- at 0.05); later the decaying schedules lower the training loss faster and
-- end with slightly higher val_accuracy than the constant rate.  The `lr`
-- column of metrics.csv shows each schedule's value per epoch.
local function sgd(lr) return optim.SGD { lr = lr, momentum = 0.9 } end
return experiment.compare {
  name = "lr-schedules",
  description = "Constant vs linear decay vs step vs cosine learning rates for SGD+momentum on the Keras example CNN",
  data = function() return data.mnist() end,
  model = nn.models.keras_mnist_cnn,   -- the Keras example CNN (as in mnist_optimizers.lua)
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 64, epochs = 10, seed = 1,
  optimizers = {
    { label = "constant", optimizer = sgd(0.05) },
    { label = "linear decay", optimizer = sgd(schedule.linear { from = 0.05, to = 0.0005, steps = 9, unit = "epoch" }) },
    { label = "step", optimizer = sgd(schedule.step { initial = 0.05, step_size = 3, gamma = 0.5, unit = "epoch" }) },
    { label = "cosine", optimizer = sgd(schedule.cosine { initial = 0.05, steps = 10, min = 0, unit = "epoch" }) },
  },
}
