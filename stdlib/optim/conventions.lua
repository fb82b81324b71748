-- The frameworks' conventions: the release each follows, the update forms it
-- selects in kernels/optim.c, and the defaults of every optimizer it has, as
-- read from the sources (README, "Conventions"):
--   keras     tf.keras.optimizers of TensorFlow 2.0-2.10 (tf.keras.optimizers.legacy
--             from 2.11): tf_keras/optimizers/legacy/*.py, dense updates through
--             TensorFlow's training_ops.cc kernels. Lion and AdamW only exist from
--             tf.keras 2.11 (tf_keras/optimizers/{lion,adamw}.py): their forms.
--   tf_keras  tf.keras.optimizers of TensorFlow 2.11-2.15 (the tf_keras package):
--             tf_keras/optimizers/*.py. Keras 3's forms, Keras 2's defaults.
--   keras3    Keras 3: keras/src/optimizers/*.py.
--   torch     PyTorch 2.x torch.optim (torch/optim/*.py).
--   textbook  the textbook's pseudocode (Goodfellow et al., ch. 8, Algorithms 8.1-8.7), optlab's default.
local M = {}

M.names = { "textbook", "keras", "tf_keras", "keras3", "torch" }

-- Update forms in the kernels (OLConvention): tf.keras 2.11+ computes as Keras 3.
M.form = { textbook = "textbook", keras = "keras", tf_keras = "keras3", keras3 = "keras3", torch = "torch" }

M.release = {
  textbook = "Goodfellow, Bengio, Courville, Deep Learning, ch. 8 (the Algorithms as written)",
  keras = "TensorFlow 2.0-2.10 tf.keras.optimizers (= tf.keras.optimizers.legacy in 2.11+); Lion, AdamW from tf.keras 2.11",
  tf_keras = "TensorFlow 2.11-2.15 tf.keras.optimizers (package tf_keras)",
  keras3 = "Keras 3 keras.optimizers (3.0 and later)",
  torch = "PyTorch 2.x torch.optim",
}

-- Keras 3 and tf.keras 2.11+ decay every optimizer's weights directly,
-- theta <- theta - lr wd theta before the update (base optimizer,
-- _apply_weight_decay); the others add wd theta to the gradient (L2).
M.decoupled = { keras3 = true, tf_keras = true }

-- Weight decay in an update rule (optim.define), as the built-ins apply it:
-- decoupled (AdamW, and every optimizer of Keras 3 and tf.keras 2.11+), the
-- parameter shrinks first, p - (lr wd) p, and no L2 term is added; else the
-- gradient gets the L2 term, g + wd p. Not p (1 - lr wd): float(1 - 1e-4) is
-- off by 3e-8, a bias that adds up step after step; lr wd itself rounds
-- harmlessly. Only the decay in use is computed (none with weight_decay = 0):
-- the hand-written kernels computed p - 0 p and g + 0 p too, which differ
-- from p and g only where p is -0 (made +0) or not finite (made NaN), and
-- cost two passes a step (bench/bench_define.lua measured them at 1.3-1.9x).
-- p, g (after clipping), h (the update's hyperparameters); -> p, g.
function M.weight_decay(p, g, h, decoupled)
  if require("optim.trace").fn.is_zero(h.weight_decay) then return p, g end
  if decoupled == nil then decoupled = M.decoupled[h.convention] or false end
  if decoupled then return p - (h.lr * h.weight_decay) * p, g end
  return p, g + h.weight_decay * p
end

-- Keras's clipnorm clips each variable by its own norm (the others: one global norm).
M.keras_family = { keras = true, tf_keras = true, keras3 = true }

local ALIAS = { pytorch = "torch", ["tf-keras"] = "tf_keras", tfkeras = "tf_keras", ["keras2"] = "keras" }

-- Canonical name of a convention (case-insensitive, "pytorch" = "torch"), or nil.
function M.normalize(c)
  if type(c) ~= "string" then return nil end
  local l = c:lower()
  l = ALIAS[l] or l
  if M.form[l] then return l end
  return nil
end

local keras2 = {
  SGD = { lr = 0.01, momentum = 0, nesterov = false },
  Adagrad = { lr = 0.001, initial_accumulator = 0.1, eps = 1e-7 },
  RMSprop = { lr = 0.001, rho = 0.9, momentum = 0, eps = 1e-7, centered = false },
  Adam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, amsgrad = false },
  AdamW = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7, weight_decay = 0.004, amsgrad = false },
  Adamax = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7 },
  Nadam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-7 },
  Lion = { lr = 1e-4, beta1 = 0.9, beta2 = 0.99 },
  Adadelta = { lr = 0.001, rho = 0.95, eps = 1e-7 },
  Ftrl = { lr = 0.001, lr_power = -0.5, initial_accumulator = 0.1, l1 = 0, l2 = 0, l2_shrinkage = 0, beta = 0 },
}

local function with(t, changes)
  local out = {}
  for name, d in pairs(t) do
    out[name] = {}
    for k, v in pairs(d) do out[name][k] = v end
    for k, v in pairs(changes[name] or {}) do out[name][k] = v end
  end
  return out
end

-- Defaults per convention and optimizer, over the textbook ones (optim.specs);
-- no entry: the framework has no such optimizer.
M.defaults = {
  keras = keras2,
  -- tf_keras/optimizers/rmsprop.py alone defaults ema_overwrite_frequency to 100 (used with use_ema)
  tf_keras = with(keras2, { RMSprop = { ema_overwrite_frequency = 100 } }),
  keras3 = with(keras2, { Lion = { lr = 0.001 } }),
  torch = {
    SGD = { lr = 0.001, momentum = 0, dampening = 0, nesterov = false },
    Adagrad = { lr = 0.01, initial_accumulator = 0, eps = 1e-10, decay = 0 },
    RMSprop = { lr = 0.01, rho = 0.99, eps = 1e-8, momentum = 0, centered = false },
    Adam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, amsgrad = false },
    AdamW = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01, amsgrad = false },
    Adamax = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 },
    Nadam = { lr = 0.002, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, momentum_decay = 0.004 },
    Rprop = { lr = 0.01, etaminus = 0.5, etaplus = 1.2, step_min = 1e-6, step_max = 50 },
    RAdam = { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 },
    ASGD = { lr = 0.01, lambd = 1e-4, alpha = 0.75, t0 = 1e6 },
    Adadelta = { lr = 1.0, rho = 0.9, eps = 1e-6 },
  },
}

-- Framework names for messages.
M.framework = { textbook = "the textbook", keras = "tf.keras 2.10", tf_keras = "tf.keras 2.11-2.15",
                keras3 = "Keras 3", torch = "PyTorch" }

return M
