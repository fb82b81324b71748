-- How do the textbook's algorithms compare side by side on the Keras example
-- CNN?  SGD with the textbook's linear decay eps_k = (1 - k/tau) eps_0 + (k/tau) eps_tau
-- (eps_tau = eps_0 / 100, tau = the last update of the 10th epoch, decayed
-- at every update), SGD with momentum, with
-- Nesterov momentum, AdaGrad, RMSProp, RMSProp with Nesterov momentum and
-- Adam, each exactly as the textbook's pseudocode writes it (optim's "textbook"
-- convention; Adam with the textbook's defaults rho1 = 0.9, rho2 = 0.999,
-- delta = 1e-8).  Same weights, same batches; only the update rule differs.
--
-- Time on a 2-core machine: 7 optimizers x 10 epochs on make data's 8,000
-- MNIST digits, about 1.4x mnist_optimizers.lua.  Quick look:
--   optlab experiments/textbook_optimizers.lua epochs=3 train_limit=2000
--
-- What to expect: the momentum methods and Adam/RMSProp reach high
-- val_accuracy within the first epochs; plain AdaGrad slows down as its
-- accumulator grows; the decayed SGD starts fast and flattens as eps_k falls.
return experiment.compare {
  name = "textbook-optimizers",
  description = "The textbook's algorithms (textbook convention) on the Keras example CNN and MNIST",
  data = function() return data.mnist() end,
  model = nn.models.keras_mnist_cnn,   -- the Keras example CNN (as in mnist_optimizers.lua)
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 64, epochs = 10, seed = 1,
  optimizers = {
    { label = "SGD+linear decay", optimizer = optim.SGD { lr = schedule.linear { from = 0.1, to = 0.001, steps = 10, unit = "epoch", per_step = true } } },
    { label = "Momentum", optimizer = optim.SGD { lr = 0.01, momentum = 0.9 } },
    { label = "Nesterov", optimizer = optim.SGD { lr = 0.01, momentum = 0.9, nesterov = true } },
    { label = "AdaGrad", optimizer = optim.Adagrad { lr = 0.01 } },
    { label = "RMSProp", optimizer = optim.RMSprop { lr = 0.001, rho = 0.9 } },
    { label = "RMSProp+Nesterov", optimizer = optim.RMSprop { lr = 0.001, rho = 0.9, momentum = 0.9, nesterov = true } },
    { label = "Adam", optimizer = optim.Adam { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } },
  },
}
