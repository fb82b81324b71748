-- Which of Keras's five classic optimizers trains the Keras example CNN on MNIST
-- best in 10 epochs?  The Keras example's protocol exactly: the Conv2D(32, 3x3, relu) ->
-- MaxPooling2D(2) -> Dropout(0.25) -> Flatten -> Dense(256, relu) ->
-- Dropout(0.5) -> Dense(10, softmax) network, categorical cross-entropy,
-- batch 64, 10 epochs, validation on the test set, and
-- Adadelta, Adagrad, Adam, RMSprop and SGD with Keras's defaults (optim.get).
-- Every optimizer starts from the same initial weights and sees the same
-- batches in the same order: only the optimizer differs.
--
-- Time on a 2-core machine: about a minute with `make data`'s 8,000/2,000
-- real MNIST digits (40 s measured: `make run`, 2 cores shared by the runs, idle machine;
-- 2.5 minutes while other builds shared the cores); about 7x longer with
-- the full 60,000/10,000 MNIST in data/mnist.  Quick look:
--   optlab experiments/mnist_optimizers.lua epochs=2 train_limit=2000 optimizers=Adam,SGD
--
-- What to expect (the Keras example's table, full MNIST): Adam and RMSprop near 0.99
-- val_accuracy after a few epochs, SGD (lr 0.01, no momentum) climbing to
-- ~0.97, Adagrad ~0.93 and Adadelta far behind (~0.83): Keras's Adadelta
-- default lr = 0.001 makes it crawl.  With 8,000 images every curve is
-- lower and the gaps wider; the ranking is the Keras example's.
return experiment.compare {
  name = "mnist-optimizers",
  description = "The Keras example CNN on MNIST with Adadelta, Adagrad, Adam, RMSprop and SGD (Keras defaults)",
  data = function() return data.mnist() end,   -- train, test
  model = function()
    return nn.Sequential {
      input = { 1, 28, 28 },
      nn.Conv2D { 32, kernel_size = 3, activation = "relu" },
      nn.MaxPool2D { pool_size = 2 },
      nn.Dropout { 0.25 },
      nn.Flatten(),
      nn.Dense { 256, activation = "relu" },
      nn.Dropout { 0.5 },
      nn.Dense { 10, activation = "softmax" },
    }
  end,
  loss = "cross_entropy", metrics = { "accuracy" },
  batch_size = 64, epochs = 10, seed = 1,
  optimizers = { "Adadelta", "Adagrad", "Adam", "RMSprop", "SGD" },
}
