-- Does the Keras example's ranking of optimizers hold on a harder data set?  The
-- Keras example's protocol (its CNN, batch 64, 10 epochs, Adadelta, Adagrad, Adam,
-- RMSprop, SGD with Keras's defaults) on Fashion-MNIST's 60,000 training and
-- 10,000 test images (Debian's dataset-fashion-mnist, installed by make deps).
--
-- Time on a 2-core machine: under 5 minutes (279 s with --threads 2, the
-- same with --jobs 2), 7.5x mnist_optimizers.lua's images per epoch.
--
-- Quick look:
--   optlab experiments/fashion_mnist_optimizers.lua epochs=2 train_limit=10000 optimizers=Adam,SGD
--
-- What to expect: lower accuracies than MNIST everywhere (Adam and RMSprop
-- around 0.90-0.92 val_accuracy, shirts vs T-shirts vs pullovers are hard),
-- the same order as the Keras example's MNIST table, Adadelta again far behind.
return experiment.compare {
  name = "fashion-mnist-optimizers",
  description = "The Keras example CNN and optimizers on Fashion-MNIST (60,000/10,000)",
  data = function() return data.fashion_mnist() end,
  model = nn.models.keras_mnist_cnn,   -- the Keras example CNN (as in mnist_optimizers.lua)
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 64, epochs = 10, seed = 1,
  optimizers = { "Adadelta", "Adagrad", "Adam", "RMSprop", "SGD" },
}
