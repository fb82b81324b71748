-- What do the textbook's challenges look like while the Keras example CNN trains?
-- Adam, plain SGD and SGD with momentum, three seeds each, with train.fit's
-- diagnostics on: the Hessian's largest eigenvalue (power iteration) against 2/lr,
-- its smallest (Lanczos), the textbook's ill-conditioning terms 1/2 eps^2 g'Hg and
-- eps g'g, and the gradient noise scale B = tr(Sigma)/|G|^2 (McCandlish et al.,
-- 2018), on 8 fixed probe batches at the end of every epoch.
--
-- Time on a 2-core machine: 9 runs x 3 epochs on 2,048 digits, about 5 minutes,
-- most of it the diagnostics (about 3 s per measurement: some 90 gradients of the
-- CNN on a probe batch of 64).  Quick look: seeds=1 epochs=2.
--
-- What to expect: per step, loss curves with min-max bands over seeds
-- (steps.png, also against training seconds); the learning-rate schedules
-- (schedule.png); in diagnostics.png lambda_max stays far below 2/lr for Adam and
-- plain SGD (sharpness = lambda_max lr / 2 well under 1), the smallest eigenvalue
-- is negative (the loss is not convex: saddle directions), and the noise scale
-- grows as the loss falls (larger batches stay useful later in training).
return experiment.compare {
  name = "mnist-diagnostics",
  description = "Adam, SGD and SGD with momentum on the Keras example CNN, three seeds, with Hessian and noise diagnostics",
  data = function() return data.mnist() end,
  model = nn.models.keras_mnist_cnn,
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 64, epochs = 3, seeds = { 1, 2, 3 }, train_limit = 2048, val_limit = 1000,
  diagnostics = true,
  optimizers = {
    "Adam", "SGD",
    { label = "SGD+momentum", optimizer = optim.SGD { lr = schedule.cosine { initial = 0.05, steps = 96 }, momentum = 0.9 } },
  },
}
