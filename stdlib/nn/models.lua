-- nn.models: ready-made models.
local base = require "nn.base"
local nn, help = base.nn, base.help

-- The Keras example CNN, for experiments that vary everything but the model.
nn.models = {}
function nn.models.keras_mnist_cnn(opts)
  opts = opts or {}
  return nn.Sequential {
    input = opts.input or { 1, 28, 28 },
    nn.Conv2D { 32, kernel_size = 3, activation = "relu" },
    nn.MaxPool2D { pool_size = 2 },
    nn.Dropout { 0.25 },
    nn.Flatten(),
    nn.Dense { 256, activation = "relu" },
    nn.Dropout { 0.5 },
    nn.Dense { opts.classes or 10, activation = "softmax" },
  }
end
do
  help.register(nn.models.keras_mnist_cnn, [[nn.models.keras_mnist_cnn{classes = 10, input = {1, 28, 28}}
The Keras example CNN (the Keras MNIST example comparing five optimizers): Conv2D(32, 3x3, relu) -> MaxPool2D(2) -> Dropout(0.25) -> Flatten
-> Dense(256, relu) -> Dropout(0.5) -> Dense(10, softmax); 1,387,594 parameters.]])
end
