-- nn: layers, models and the functional ops they are made of.
--
-- nn.functional (also nn.F) wraps the C kernels of vm/lnn.c: each op runs its
-- forward in C and, when an input needs a gradient, records on the autograd
-- tape a closure that calls the C backward. Layers are small Lua objects
-- (Torch7 style) with forward(x) and parameters(); nn.Sequential chains them
-- and infers shapes from `input` as Keras does. Layout is NCHW (PyTorch);
-- class labels are 0-based class ids (the data's own ids), as in Keras and
-- PyTorch, not Lua's 1-based indices.
--
-- This file is what `require "nn"` loads; the code lives in stdlib/nn/ by concern:
--   base.lua          the nn and nn.functional tables, argument checks shared by the parts
--   functional.lua    nn.functional: activations, linear, conv, pooling, dropout, losses, batch norm
--   initializers.lua  nn.init: Keras's weight initializers
--   layers.lua        Dense, Conv2D, pools, Dropout, Flatten, BatchNorm, activation layers
--   sequential.lua    nn.Sequential
--   models.lua        nn.models (the Keras example CNN)
local nn = require "nn.base".nn
require "nn.functional"
require "nn.initializers"
require "nn.layers"
require "nn.sequential"
require "nn.models"
return nn
