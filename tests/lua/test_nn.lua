-- nn: the functional ops and layers against finite differences and naive
-- loops, the Keras example CNN (summary, overfitting), training loops, dropout
-- determinism, save/load, errors and memory.
local lib = require "lib"
local gc = require "gradcheck"
local check, close, raises, identical = lib.check, lib.close, lib.raises, lib.identical
local gradcheck, away, distinct = gc.gradcheck, gc.away_from_zero, gc.distinct
local F = nn.functional

local T = {}

local function rn(shape, seed, s) return (tensor.randn(shape, { seed = seed, stream = 0 }) * (s or 1)):contiguous() end

-- Pseudo-random class ids in [0, c) (an LCG: the tests need no data module).
local function rand_labels(n, c, seed)
  local t, s = {}, seed or 1
  for i = 1, n do
    s = (s * 1103515245 + 12345) % 2147483648
    t[i] = compat.idiv(s, 65536) % c
  end
  return tensor.from(t)
end

local function seed_model()
  return nn.Sequential {
    input = { 1, 28, 28 },
    nn.Conv2D { 32, 3, activation = "relu" },
    nn.MaxPool2D { 2 },
    nn.Dropout(0.25),
    nn.Flatten(),
    nn.Dense { 256, activation = "relu" },
    nn.Dropout(0.5),
    nn.Dense { 10 },
  }
end

-- ---- naive references (Lua loops, double accumulation) -------------------

-- pads = {top, bottom, left, right}
local function naive_conv(x, w, b, stride, pads, dil)
  local X, W = x:totable(), w:totable()
  local B = b and b:totable()
  local n, c, h, wd = table.unpack(x:shape())
  local k, _, r, s = table.unpack(w:shape())
  local sh, sw = stride[1], stride[2]
  local dh, dw = dil[1], dil[2]
  local p = compat.idiv(h + pads[1] + pads[2] - dh * (r - 1) - 1, sh) + 1
  local q = compat.idiv(wd + pads[3] + pads[4] - dw * (s - 1) - 1, sw) + 1
  local out = {}
  for ni = 1, n do
    out[ni] = {}
    for ki = 1, k do
      out[ni][ki] = {}
      for pi = 1, p do
        out[ni][ki][pi] = {}
        for qi = 1, q do
          local acc = B and B[ki] or 0
          for ci = 1, c do
            for ri = 1, r do
              local ih = (pi - 1) * sh - pads[1] + (ri - 1) * dh + 1
              if ih >= 1 and ih <= h then
                for si = 1, s do
                  local iw = (qi - 1) * sw - pads[3] + (si - 1) * dw + 1
                  if iw >= 1 and iw <= wd then acc = acc + X[ni][ci][ih][iw] * W[ki][ci][ri][si] end
                end
              end
            end
          end
          out[ni][ki][pi][qi] = acc
        end
      end
    end
  end
  return tensor.from(out)
end

local function naive_pool(x, kind, k, stride, pad)
  local X = x:totable()
  local n, c, h, w = table.unpack(x:shape())
  local p = compat.idiv(h + 2 * pad[1] - k[1], stride[1]) + 1
  local q = compat.idiv(w + 2 * pad[2] - k[2], stride[2]) + 1
  local out = {}
  for ni = 1, n do
    out[ni] = {}
    for ci = 1, c do
      out[ni][ci] = {}
      for pi = 1, p do
        out[ni][ci][pi] = {}
        for qi = 1, q do
          local best, sum = -math.huge, 0
          for a = 1, k[1] do
            for b = 1, k[2] do
              local ih, iw = (pi - 1) * stride[1] - pad[1] + a, (qi - 1) * stride[2] - pad[2] + b
              if ih >= 1 and ih <= h and iw >= 1 and iw <= w then
                local v = X[ni][ci][ih][iw]
                best = math.max(best, v)
                sum = sum + v
              end
            end
          end
          out[ni][ci][pi][qi] = kind == "max" and best or sum / (k[1] * k[2])
        end
      end
    end
  end
  return tensor.from(out)
end

-- ---- activations ---------------------------------------------------------

function T.activations_gradcheck()
  gradcheck(F.relu, { away({ 4, 5 }, 1) }, { name = "relu" })
  gradcheck(function(x) return F.leaky_relu(x, 0.2) end, { away({ 4, 5 }, 2) }, { name = "leaky_relu" })
  gradcheck(function(x) return F.elu(x, 0.7) end, { away({ 4, 5 }, 3) }, { name = "elu" })
  gradcheck(F.tanh, { rn({ 4, 5 }, 4) }, { name = "tanh" })
  gradcheck(F.sigmoid, { rn({ 4, 5 }, 5, 2) }, { name = "sigmoid" })
  gradcheck(F.gelu, { rn({ 4, 5 }, 6, 2) }, { name = "gelu" })
  gradcheck(function(x) return F.gelu(x, "tanh") end, { rn({ 4, 5 }, 7, 2) }, { name = "gelu tanh" })
  gradcheck(F.softmax, { rn({ 3, 6 }, 8, 2) }, { name = "softmax" })
  gradcheck(F.log_softmax, { rn({ 3, 6 }, 9, 2) }, { name = "log_softmax" })
  gradcheck(function(x) return F.softmax(x, 1) end, { rn({ 4, 3 }, 10) }, { name = "softmax dim 1" })
  gradcheck(function(x) return F.log_softmax(x, 2) end, { rn({ 2, 4, 3 }, 11) }, { name = "log_softmax dim 2 of 3" })
  -- non-contiguous inputs: a transposed view of the leaf
  gradcheck(function(x) return F.relu(x:t()) end, { away({ 5, 4 }, 12) }, { name = "relu on a transpose" })
  gradcheck(function(x) return F.tanh(x:t()) end, { rn({ 5, 4 }, 13) }, { name = "tanh on a transpose" })
  gradcheck(function(x) return F.softmax(x:t()) end, { rn({ 5, 4 }, 14) }, { name = "softmax on a transpose" })
  gradcheck(function(x) return F.gelu(x:narrow(2, 2, 3)) end, { rn({ 4, 5 }, 15) }, { name = "gelu on a narrow" })
end

function T.activations_values()
  local x = tensor.from { -2, -0.5, 0.5, 3 }
  close(F.relu(x), tensor.from { 0, 0, 0.5, 3 }, 0, "relu")
  close(F.leaky_relu(x), tensor.from { -0.02, -0.005, 0.5, 3 }, 1e-6, "leaky_relu default slope 0.01")
  close(F.elu(x), tensor.from { math.exp(-2) - 1, math.exp(-0.5) - 1, 0.5, 3 }, 1e-6, "elu")
  close(F.sigmoid(x), (1 / (1 + (-x):exp())), 1e-6, "sigmoid")
  close(F.tanh(x), x:tanh(), 1e-6, "tanh")
  local s = F.softmax(tensor.from { { 1, 2, 3 }, { 0, 0, 0 } })
  close(s:sum(2), tensor.from { 1, 1 }, 1e-6, "softmax rows sum to 1")
  close(s[2], tensor.from { 1 / 3, 1 / 3, 1 / 3 }, 1e-6, "uniform row")
  close(F.log_softmax(tensor.from { { 1, 2, 3 } }):exp(), F.softmax(tensor.from { { 1, 2, 3 } }), 1e-6, "log_softmax")
  -- gelu(1) = 1 * Phi(1)
  close(F.gelu(tensor.from { 1 }), tensor.from { 0.8413447460685429 }, 1e-6, "gelu exact")
end

-- ---- linear --------------------------------------------------------------

-- Every ReLU keeps NaN, as PyTorch's does (max(x, 0) with NaN propagated): the
-- fused ones (Dense/Conv2D activation = "relu", conv + ReLU + max-pool) and t:relu()
-- used to map it to 0, so a NaN bias never reached the loss.
function T.relu_keeps_nan_in_every_path()
  local nan = 0 / 0
  local function isnan(v) return v ~= v end
  local v = tensor.from { nan, -1, 2 }
  for name, y in pairs { ["t:relu()"] = v:relu(), ["F.relu"] = F.relu(v) } do
    check(isnan(y:get(1)) and y:get(2) == 0 and y:get(3) == 2, name .. " keeps NaN")
  end
  -- a NaN bias: its whole output column / channel is NaN, the others are not
  local x, w, b = rn({ 4, 6 }, 1), rn({ 5, 6 }, 2), tensor.zeros(5)
  b:set(3, nan)
  local y = F.linear(x, w, b, { activation = "relu" })
  for i = 1, 4 do
    for j = 1, 5 do check(isnan(y:get(i, j)) == (j == 3), string.format("linear+relu (%d, %d)", i, j)) end
  end
  -- conv: the direct kernel (9 taps) and im2col + GEMM (4 channels, 36 taps); the fused
  -- max-pool on rows of 19 windows (the 8-wide vector loop and its tail)
  for _, c in ipairs { 1, 4 } do
    local xc, wc, bc = rn({ 2, c, 40, 40 }, 3), rn({ 3, c, 3, 3 }, 4), tensor.zeros(3)
    bc:set(2, nan)
    local yc = F.conv2d(xc, wc, bc, { activation = "relu" })
    local yp = F.conv2d_max_pool2d(xc, wc, bc, { activation = "relu" }, 2)
    for k = 1, 3 do
      local sc, sp = yc:select(2, k):sum():item(), yp:select(2, k):sum():item()
      check(isnan(sc) == (k == 2) and isnan(sp) == (k == 2), "conv channel " .. k .. " with " .. c .. " input channels")
    end
    -- one NaN pixel: the fused pool has NaN exactly where conv, ReLU, then max-pool have
    local xn = xc:clone()
    xn:set(2, 1, 20, 33, nan)
    bc:set(2, 0)
    local fused = F.conv2d_max_pool2d(xn, wc, bc, { activation = "relu" }, 2)
    local apart = F.max_pool2d(F.conv2d(xn, wc, bc, { activation = "relu" }), 2)
    local nf, na = 0, 0
    local ft, at = fused:reshape(-1):totable(), apart:reshape(-1):totable()
    for i = 1, #ft do
      if isnan(ft[i]) then nf = nf + 1 end
      if isnan(at[i]) then na = na + 1 end
      check(isnan(ft[i]) == isnan(at[i]) and (isnan(ft[i]) or ft[i] == at[i]), "fused pool element " .. i)
    end
    check(nf > 0 and nf == na, "a NaN pixel reaches the pooled output: " .. nf .. " NaNs")
  end
  -- through a model: a NaN bias makes the loss NaN
  tensor.manual_seed(1)
  local m = nn.Sequential { input = { 6 }, nn.Dense { 8, activation = "relu" }, nn.Dense { 3 } }
  tensor.no_grad(function() m.layers[1].bias:set(1, nan) end)
  local loss = F.cross_entropy(m(rn({ 4, 6 }, 5)), tensor.from { 0, 1, 2, 0 })
  check(isnan(loss:item()), "the loss is NaN, got " .. loss:item())
end

-- Integer arguments of layers: stride = 0 was "attempt to divide by zero" inside nn.lua,
-- padding = 4294967297 was truncated to 1 by a cast to int, dilation = 0, stride = 1.5
-- and a 0 kernel were accepted. Each is an error at the user's line.
function T.layer_integer_arguments_are_checked()
  local x = tensor.zeros(1, 1, 8, 8)
  local w = tensor.zeros(2, 1, 3, 3)
  local cases = {
    { function() return nn.Conv2D { 4, 3, stride = 0 } end, "Conv2D: stride must be a whole number in 1..2147483647, got 0" },
    { function() return nn.Conv2D { 4, 3, padding = 4294967297 } end, "Conv2D: padding must be a whole number in 0..2147483647, got 4294967297" },
    { function() return nn.Conv2D { 4, 3, padding = { 1, -1 } } end, "Conv2D: padding must be a whole number in 0..2147483647, got -1" },
    { function() return nn.Conv2D { 4, 3, dilation = 0 } end, "Conv2D: dilation must be a whole number" },
    { function() return nn.Conv2D { 4, 3, strides = 1.5 } end, "Conv2D: stride must be a whole number in 1..2147483647, got 1.5" },
    { function() return nn.Conv2D { 4, { 3, 0 } } end, "Conv2D: kernel_size must be a whole number" },
    { function() return nn.MaxPool2D { 0 } end, "MaxPooling2D: kernel size must be a whole number" },
    { function() return nn.MaxPool2D { 2, stride = 0 } end, "MaxPooling2D: stride must be a whole number" },
    { function() return nn.AvgPool2D { 2, padding = 4294967297 } end, "AveragePooling2D: padding must be a whole number" },
    { function() return F.conv2d(x, w, nil, { stride = 0 }) end, "conv2d: stride must be a whole number" },
    { function() return F.conv2d(x, w, nil, { padding = 4294967297 }) end, "conv2d: padding must be a whole number" },
    { function() return F.max_pool2d(x, 2, 0) end, "stride must be a whole number" },
  }
  for i, c in ipairs(cases) do
    local e = raises(function() local r = c[1](); return r end, c[2], "case " .. i)
    check(e:find("test_nn.lua:", 1, true), "case " .. i .. " not at the user's line: " .. e)
  end
  -- the C binding, reached without nn.lua's check, refuses the truncation too
  local NN = require("optlab.core").nn
  raises(function() return NN.conv2d_forward(x, w, nil, 1, 1, 4294967297, 1, 1, false) end, "padding out of range")
  local ok = nn.Conv2D { 4, 3, stride = 2.0, padding = { 1, 0 } }
  check(ok.sh == 2 and ok.sw == 2, "a whole float stride is fine")
end

function T.linear_gradcheck()
  local x, w, b = rn({ 4, 5 }, 1), rn({ 3, 5 }, 2), rn({ 3 }, 3)
  gradcheck(F.linear, { x, w, b }, { name = "linear" })
  gradcheck(function(x, w) return F.linear(x, w) end, { rn({ 4, 5 }, 4), rn({ 3, 5 }, 5) }, { name = "linear no bias" })
  -- fused bias + ReLU: push pre-activations away from 0 with a large bias spread
  gradcheck(function(x, w, b) return F.linear(x, w, b, { activation = "relu" }) end,
    { rn({ 4, 5 }, 6, 0.3), rn({ 3, 5 }, 7, 0.3), tensor.from { -1.5, 0.6, 2 } }, { name = "linear+relu", eps = 1e-3 })
  gradcheck(function(x, w, b) return F.linear(x:t(), w:t(), b) end, { rn({ 5, 4 }, 8), rn({ 5, 3 }, 9), rn({ 3 }, 10) },
    { name = "linear with transposed input and weight" })
  gradcheck(function(x, w, b) return F.linear(x, w, b) end, { rn({ 2, 3, 5 }, 11), rn({ 4, 5 }, 12), rn({ 4 }, 13) },
    { name = "linear on [2, 3, 5]" })
  gradcheck(function(x, w, b) return F.linear(x, w, b, { activation = "tanh" }) end, { rn({ 3, 4 }, 14), rn({ 2, 4 }, 15), rn({ 2 }, 16) },
    { name = "linear+tanh" })
end

function T.linear_value()
  local x, w, b = rn({ 3, 4 }, 1), rn({ 2, 4 }, 2), rn({ 2 }, 3)
  close(F.linear(x, w, b), x:matmul(w:t()) + b, 1e-5, "x W^T + b", 1e-6)
  close(F.linear(x, w, b, { activation = "relu" }), (x:matmul(w:t()) + b):relu(), 1e-5, "relu fused", 1e-6)
end

-- ---- conv2d ---------------------------------------------------------------

-- {opts, x shape, w shape, pads {top, bottom, left, right} expected}
local conv_cases = {
  { {}, { 2, 2, 6, 5 }, { 3, 2, 3, 3 }, { 0, 0, 0, 0 }, "valid" },
  { { padding = "same" }, { 1, 2, 5, 6 }, { 2, 2, 3, 3 }, { 1, 1, 1, 1 }, "same, odd kernel" },
  { { padding = "same" }, { 1, 2, 5, 4 }, { 2, 2, 2, 2 }, { 0, 1, 0, 1 }, "same, even kernel (asymmetric)" },
  { { padding = "same", stride = 2 }, { 1, 1, 6, 7 }, { 2, 1, 3, 3 }, { 0, 1, 1, 1 }, "same, stride 2" },
  { { padding = 1, stride = 2 }, { 2, 2, 7, 6 }, { 3, 2, 3, 3 }, { 1, 1, 1, 1 }, "padding 1, stride 2" },
  { { padding = { 2, 1 }, stride = { 1, 2 } }, { 1, 2, 5, 6 }, { 2, 2, 3, 2 }, { 2, 2, 1, 1 }, "padding {2,1}, stride {1,2}" },
  { { dilation = 2 }, { 1, 2, 7, 7 }, { 2, 2, 3, 3 }, { 0, 0, 0, 0 }, "dilation 2" },
  { { dilation = { 2, 1 }, padding = "same" }, { 1, 1, 6, 6 }, { 2, 1, 3, 3 }, { 2, 2, 1, 1 }, "dilation {2,1}, same" },
}

function T.conv2d_forward_vs_naive()
  for i, c in ipairs(conv_cases) do
    local x, w, b = rn(c[2], 10 + i), rn(c[3], 20 + i), rn({ c[3][1] }, 30 + i)
    local o = c[1]
    local st = type(o.stride) == "table" and o.stride or { o.stride or 1, o.stride or 1 }
    local dl = type(o.dilation) == "table" and o.dilation or { o.dilation or 1, o.dilation or 1 }
    local want = naive_conv(x, w, b, st, c[4], dl)
    local got = F.conv2d(x, w, b, o)
    check(table.concat(got:shape(), ",") == table.concat(want:shape(), ","),
      c[5] .. ": shape " .. table.concat(got:shape(), ",") .. " vs " .. table.concat(want:shape(), ","))
    close(got, want, 1e-4, c[5], 1e-5)
    if o.padding == "same" then
      check(got:size(3) == compat.idiv(c[2][3] + st[1] - 1, st[1]) and got:size(4) == compat.idiv(c[2][4] + st[2] - 1, st[2]),
        c[5] .. ": Keras 'same' gives ceil(in / stride)")
    end
    close(F.conv2d(x, w, nil, o), naive_conv(x, w, nil, st, c[4], dl), 1e-4, c[5] .. " no bias", 1e-5)
  end
end

function T.conv2d_gradcheck()
  for i, c in ipairs(conv_cases) do
    gradcheck(function(x, w, b) return F.conv2d(x, w, b, c[1]) end,
      { rn(c[2], 40 + i), rn(c[3], 50 + i), rn({ c[3][1] }, 60 + i) }, { name = "conv2d " .. c[5] })
  end
  gradcheck(function(x, w) return F.conv2d(x, w, nil, { padding = 1 }) end, { rn({ 1, 2, 4, 4 }, 1), rn({ 2, 2, 3, 3 }, 2) },
    { name = "conv2d without bias" })
  -- non-contiguous input: NHWC leaf permuted to NCHW
  gradcheck(function(x, w, b) return F.conv2d(x:permute(1, 4, 2, 3), w, b, { stride = 2, padding = "same" }) end,
    { rn({ 2, 5, 5, 2 }, 3), rn({ 3, 2, 3, 3 }, 4), rn({ 3 }, 5) }, { name = "conv2d on a permuted input" })
  -- fused ReLU: biases spread far from 0 keep pre-activations off the kink
  gradcheck(function(x, w, b) return F.conv2d(x, w, b, { activation = "relu", padding = "same" }) end,
    { rn({ 1, 1, 4, 4 }, 6, 0.2), rn({ 3, 1, 3, 3 }, 7, 0.2), tensor.from { -2, 0.8, 2 } }, { name = "conv2d+relu", eps = 1e-3 })
end

-- ---- pooling ----------------------------------------------------------------

local pool_cases = {
  { { 2, 2 }, { 2, 2 }, { 0, 0 }, { 2, 3, 6, 6 }, "k2 s2" },
  { { 3, 3 }, { 2, 2 }, { 1, 1 }, { 1, 2, 7, 6 }, "k3 s2 pad 1" },
  { { 2, 2 }, { 1, 1 }, { 0, 0 }, { 1, 2, 4, 5 }, "k2 s1 (overlapping)" },
  { { 2, 3 }, { 1, 2 }, { 1, 1 }, { 1, 1, 5, 7 }, "k{2,3} s{1,2} pad 1" },
}

function T.pooling_forward_vs_naive()
  for i, c in ipairs(pool_cases) do
    local x = rn(c[4], 70 + i)
    close(F.max_pool2d(x, c[1], c[2], c[3]), naive_pool(x, "max", c[1], c[2], c[3]), 0, "max " .. c[5])
    close(F.avg_pool2d(x, c[1], c[2], c[3]), naive_pool(x, "avg", c[1], c[2], c[3]), 1e-5, "avg " .. c[5], 1e-6)
  end
  -- stride defaults to the kernel size (PyTorch, Keras)
  local x = rn({ 1, 1, 4, 4 }, 1)
  close(F.max_pool2d(x, 2), naive_pool(x, "max", { 2, 2 }, { 2, 2 }, { 0, 0 }), 0, "default stride")
end

function T.pooling_gradcheck()
  for i, c in ipairs(pool_cases) do
    gradcheck(function(x) return F.max_pool2d(x, c[1], c[2], c[3]) end, { distinct(c[4], i) },
      { name = "max_pool2d " .. c[5], eps = 1e-3 })
    gradcheck(function(x) return F.avg_pool2d(x, c[1], c[2], c[3]) end, { rn(c[4], 80 + i) }, { name = "avg_pool2d " .. c[5] })
  end
  gradcheck(function(x) return F.max_pool2d(x:permute(1, 4, 2, 3), 2) end, { distinct({ 1, 4, 4, 2 }, 9) },
    { name = "max_pool2d on a permuted input", eps = 1e-3 })
  gradcheck(function(x) return F.avg_pool2d(x:permute(1, 4, 2, 3), 2, 1) end, { rn({ 1, 3, 3, 2 }, 10) },
    { name = "avg_pool2d on a permuted input" })
end

-- ---- conv + max-pool, fused --------------------------------------------------

function T.conv2d_max_pool2d_gradcheck()
  -- pre-activations spread away from 0 and from each other: no kink or tie within eps
  gradcheck(function(x, w, b) return F.conv2d_max_pool2d(x, w, b, { activation = "relu" }, 2) end,
    { distinct({ 2, 1, 7, 6 }, 3), rn({ 3, 1, 3, 3 }, 4, 0.5), tensor.from { -0.3, 0.8, 2 } },
    { name = "conv2d+relu+max_pool2d (direct)", eps = 1e-3 })
  gradcheck(function(x, w, b) return F.conv2d_max_pool2d(x, w, b, { padding = 1 }, 3) end,
    { distinct({ 1, 4, 6, 6 }, 5), rn({ 2, 4, 3, 3 }, 6, 0.5), rn({ 2 }, 7) },
    { name = "conv2d+max_pool2d (im2col, pool 3)", eps = 1e-3 })
end

-- The Keras example CNN runs conv+ReLU+pool fused inside Sequential; calling its layers one by one
-- runs them apart. Outputs and every gradient must agree bit for bit.
local function check_fusion(m, x, lab, what, pairs_fused)
  local st = m:rng_state()
  local real, calls = F.conv2d_max_pool2d, 0
  F.conv2d_max_pool2d = function(...) calls = calls + 1; return real(...) end
  local ok, fused = pcall(m, x)
  F.conv2d_max_pool2d = real
  if not ok then error(fused, 0) end
  check(calls == pairs_fused, what .. ": " .. calls .. " fused conv+pool calls, expected " .. pairs_fused)
  F.cross_entropy(fused, lab):backward()
  local grads = {}
  for i, p in ipairs(m:parameters()) do grads[i] = p.grad; p.grad = nil end
  m:set_rng_state(st)
  local h = x
  for _, layer in ipairs(m.layers) do h = layer:forward(h) end
  F.cross_entropy(h, lab):backward()
  identical(fused, h, what .. ": model output, fused vs layer by layer")
  for i, p in ipairs(m:parameters()) do identical(grads[i], p.grad, what .. ": gradient of " .. p.name) end
end

function T.sequential_fusion_is_bit_identical()
  tensor.manual_seed(3)
  check_fusion(seed_model(), rn({ 16, 1, 28, 28 }, 8), rand_labels(16, 10, 4), "seed model", 1)
  -- 3 channels, an even kernel with Keras "same" (asymmetric padding), pool 3, a second conv
  -- whose 72 taps take the im2col path, no activation on it
  local m = nn.Sequential {
    input = { 3, 13, 12 },
    nn.Conv2D { 8, 2, padding = "same", activation = "relu" }, nn.MaxPool2D { 3 },
    nn.Conv2D { 4, 3, padding = 1 }, nn.MaxPool2D { 2 },
    nn.Flatten(), nn.Dense { 5 },
  }
  check_fusion(m, rn({ 5, 3, 13, 12 }, 9), rand_labels(5, 5, 2), "two conv+pool pairs", 2)
end

function T.conv2d_max_pool2d_errors()
  local x, w = rn({ 1, 1, 6, 6 }, 1), rn({ 2, 1, 3, 3 }, 2)
  raises(function() F.conv2d_max_pool2d(x, w, nil, { activation = "tanh" }, 2) end, "activation must be nil or 'relu'")
  raises(function() F.conv2d_max_pool2d(x, w, nil, {}, 5) end, "pool size 5 must be 2..16 and fit the 4x4 conv output")
  raises(function() F.conv2d_max_pool2d(x, w, nil, {}, 1) end, "pool size 1")
end

-- ---- dropout ------------------------------------------------------------------

function T.dropout_mask_and_gradient()
  local x = tensor.full({ 100, 100 }, 1)
  local y = F.dropout(x, 0.3, { key = 5, stream = 9 })
  local vals = y:reshape(-1):totable()
  local zeros = 0
  for _, v in ipairs(vals) do
    check(v == 0 or math.abs(v - 1 / 0.7) < 1e-6, "mask values are 0 or 1/(1-p), got " .. v)
    if v == 0 then zeros = zeros + 1 end
  end
  check(math.abs(zeros / #vals - 0.3) < 0.02, "about 30% dropped, got " .. zeros / #vals)
  identical(y, F.dropout(x, 0.3, { key = 5, stream = 9 }), "same key and stream, same mask")
  local other = F.dropout(x, 0.3, { key = 5, stream = 10 })
  check((other - y):abs():sum():item() > 0, "another stream gives another mask")
  check(F.dropout(x, 0.3, { training = false }) == x, "identity when not training")
  gradcheck(function(a) return F.dropout(a, 0.4, { key = 1, stream = 2 }) end, { rn({ 6, 7 }, 1) }, { name = "dropout" })
end

-- Masks depend on (seed, layer, step) only: reruns and 1 vs 2 threads agree bit for bit.
function T.dropout_masks_identical_across_reruns_and_threads()
  local threads = sys.threads()
  local function run(nthreads)
    sys.set_threads(nthreads)
    tensor.manual_seed(3)
    local model = nn.Sequential { input = { 300 }, nn.Dropout(0.5), nn.Dense { 50 }, nn.Dropout(0.25) }
    local x = tensor.full({ 64, 300 }, 1)
    local outs = {}
    for i = 1, 3 do outs[i] = model(x) end
    return outs, model
  end
  local ok, err = pcall(function()
    local a, ma = run(1)
    local b = run(1)
    local c = run(2)
    for i = 1, 3 do
      identical(a[i], b[i], "rerun step " .. i)
      identical(a[i], c[i], "1 vs 2 threads step " .. i)
    end
    check((a[1] - a[2]):abs():sum():item() > 0, "each step draws a new mask")
    -- resuming from rng_state reproduces the next masks
    local st = ma:rng_state()
    local x = tensor.full({ 64, 300 }, 1)
    local n1 = ma(x)
    ma:set_rng_state(st)
    identical(ma(x), n1, "set_rng_state resumes the mask sequence")
    ma:set_rng_state(st)
    ma:set_seed(99)
    check((ma(x) - n1):abs():sum():item() > 0, "set_seed changes the masks")
    ma:evaluate()
    identical(ma(x), ma(x), "evaluation mode: no dropout")
  end)
  sys.set_threads(threads)
  if not ok then error(err, 0) end
end

-- ---- losses -------------------------------------------------------------------

local function naive_ce(logits, labels)
  local L, y = logits:totable(), labels:totable()
  local total = 0
  for i = 1, #L do
    local m = -math.huge
    for _, v in ipairs(L[i]) do m = math.max(m, v) end
    local s = 0
    for _, v in ipairs(L[i]) do s = s + math.exp(v - m) end
    total = total + (m + math.log(s) - L[i][y[i] + 1])
  end
  return total / #L
end

function T.cross_entropy_values_and_gradients()
  local logits = rn({ 5, 4 }, 1, 2)
  local labels = tensor.from { 0, 3, 1, 1, 2 }
  close(F.cross_entropy(logits, labels):item(), naive_ce(logits, labels), 1e-5, "cross_entropy vs naive")
  local onehot = tensor.zeros(5, 4)
  for i, c in ipairs(labels:totable()) do onehot:set(i, c + 1, 1) end
  close(F.cross_entropy(logits, onehot):item(), naive_ce(logits, labels), 1e-5, "one-hot targets")
  gradcheck(function(x) return F.cross_entropy(x, labels) end, { rn({ 5, 4 }, 2, 2) }, { name = "cross_entropy labels" })
  gradcheck(function(x) return F.cross_entropy(x, onehot) end, { rn({ 5, 4 }, 3, 2) }, { name = "cross_entropy one-hot" })
  gradcheck(function(x) return F.cross_entropy(x:t(), labels) end, { rn({ 4, 5 }, 4, 2) }, { name = "cross_entropy transposed logits" })
  -- stable for huge logits
  local big = tensor.from { { 1000, 0, -1000 } }
  check(math.abs(F.cross_entropy(big, tensor.from { 0 }):item()) < 1e-6, "no overflow")
end

function T.cross_entropy_label_errors()
  local x = rn({ 3, 4 }, 1)
  local e = raises(function() F.cross_entropy(x, tensor.from { 0, 1.5, 2 }) end, "label 1.5 at row 2 is not an integer")
  check(e:find("test_nn.lua", 1, true), "error points at the user's script line: " .. e)
  raises(function() F.cross_entropy(x, tensor.from { 0, 1, 4 }) end, "label 4 at row 3 is outside [0, 4)")
  raises(function() F.cross_entropy(x, tensor.from { -1, 1, 2 }) end, "label -1 at row 1")
  raises(function() F.cross_entropy(x, tensor.from { 0, 1 }) end, "labels must be class ids [3] or one-hot targets [3, 4]")
  raises(function() F.cross_entropy(x:reshape(12), tensor.from { 0 }) end, "logits must be [batch, classes], got [12]")
  raises(function() F.accuracy(x, tensor.from { 0, 0, 9 }) end, "accuracy: label 9 at row 3")
end

function T.softmax_output_fuses_into_cross_entropy()
  -- cross_entropy on a softmax output works on the logits behind it: same loss, same gradient
  local z1, z2 = rn({ 4, 3 }, 1), rn({ 4, 3 }, 1)
  local labels = tensor.from { 2, 0, 1, 1 }
  local l1 = F.cross_entropy(F.softmax(z1), labels)
  local l2 = F.cross_entropy(z2, labels)
  close(l1:item(), l2:item(), 1e-6, "loss")
  z1.requires_grad, z2.requires_grad = true, true
  F.cross_entropy(F.softmax(z1), labels):backward()
  F.cross_entropy(z2, labels):backward()
  identical(z1.grad, z2.grad, "gradient skips the softmax")
  check(F.accuracy(F.softmax(z1), labels) == F.accuracy(z1, labels), "accuracy on probabilities")
end

function T.mse_and_bce()
  local p, t = rn({ 3, 4 }, 1), rn({ 3, 4 }, 2)
  close(F.mse(p, t):item(), ((p - t) ^ 2):mean():item(), 1e-5, "mse value")
  gradcheck(F.mse, { rn({ 3, 4 }, 3), rn({ 3, 4 }, 4) }, { name = "mse (both arguments)" })
  gradcheck(function(a, b) return F.mse(a:t(), b) end, { rn({ 4, 3 }, 5), rn({ 3, 4 }, 6) }, { name = "mse transposed" })
  local x, y = rn({ 2, 5 }, 7, 2), tensor.rand({ 2, 5 }, { seed = 8, stream = 0 })
  local naive = (x:relu() - x * y + (1 + (-(x:abs())):exp()):log()):mean()
  close(F.binary_cross_entropy(x, y):item(), naive:item(), 1e-5, "bce value")
  gradcheck(F.binary_cross_entropy, { rn({ 2, 5 }, 9, 2), tensor.rand({ 2, 5 }, { seed = 10, stream = 0 }) },
    { name = "binary_cross_entropy (logits and targets)" })
  raises(function() F.mse(p, rn({ 4, 3 }, 1)) end, "mse: input [3, 4] and target [4, 3] must have the same shape")
end

function T.accuracy_counts()
  local logits = tensor.from { { 0.1, 0.9, 0 }, { 2, 1, 0 }, { 0, 0, 3 }, { 1, 1, 0 } }
  check(F.accuracy(logits, tensor.from { 1, 0, 1, 0 }) == 3, "3 correct (a tie goes to the first maximum)")
  local onehot = tensor.from { { 0, 1, 0 }, { 0, 0, 1 }, { 0, 0, 1 }, { 1, 0, 0 } }
  check(F.accuracy(logits, onehot) == 3, "one-hot labels")
end

-- ---- batch norm -------------------------------------------------------------------

function T.batch_norm_gradcheck_and_running_stats()
  gradcheck(function(x, g, b) return F.batch_norm(x, nil, nil, g, b, true) end,
    { rn({ 6, 3 }, 1), rn({ 3 }, 2), rn({ 3 }, 3) }, { name = "batch_norm train [N, C]" })
  gradcheck(function(x, g, b) return F.batch_norm(x, nil, nil, g, b, true) end,
    { rn({ 2, 3, 3, 2 }, 4), rn({ 3 }, 5), rn({ 3 }, 6) }, { name = "batch_norm train [N, C, H, W]" })
  gradcheck(function(x) return F.batch_norm(x:permute(1, 4, 2, 3), nil, nil, nil, nil, true) end,
    { rn({ 2, 3, 2, 3 }, 7) }, { name = "batch_norm train, permuted, no affine" })
  local rm, rv = rn({ 3 }, 8), (tensor.rand({ 3 }, { seed = 9, stream = 0 }) + 0.5):contiguous()
  gradcheck(function(x, g, b) return F.batch_norm(x, rm, rv, g, b, false) end,
    { rn({ 4, 3, 2, 2 }, 10), rn({ 3 }, 11), rn({ 3 }, 12) }, { name = "batch_norm eval" })
  -- running statistics: (1 - m) * old + m * batch, unbiased variance
  local x = rn({ 8, 2 }, 13)
  local mean, var = tensor.zeros(2), tensor.full({ 2 }, 1)
  F.batch_norm(x, mean, var, nil, nil, true, 0.1)
  local bm = x:mean(1)
  local bv = ((x - bm) ^ 2):sum(1) / 7
  close(mean, bm * 0.1, 1e-5, "running mean", 1e-6)
  close(var, bv * 0.1 + 0.9, 1e-5, "running var")
  -- train output is normalized per channel
  local y = F.batch_norm(rn({ 16, 3 }, 14, 5), nil, nil, nil, nil, true)
  close(y:mean(1), tensor.zeros(3), 0, "zero mean", 1e-5)
  raises(function() F.batch_norm(rn({ 4, 3 }, 1), nil, nil, rn({ 2 }, 1), nil, true) end, "weight must be [3]")
end

-- ---- layers --------------------------------------------------------------------------

-- Gradient of every layer w.r.t. its input and its parameters.
function T.layers_gradcheck()
  local function layer_check(layer, x, name, opts)
    opts = opts or {}
    layer(x) -- builds the layer from the input shape
    local inputs = { x }
    for _, p in ipairs(layer:parameters()) do inputs[#inputs + 1] = p end
    opts.name = name
    gradcheck(function(xx) if layer.step then layer.step = 0 end return layer(xx) end, inputs, opts)
  end
  tensor.manual_seed(1)
  layer_check(nn.Dense { 3 }, rn({ 4, 5 }, 1), "Dense")
  layer_check(nn.Dense { 3, activation = "tanh" }, rn({ 4, 5 }, 2), "Dense tanh")
  layer_check(nn.Dense { 3, activation = "softmax" }, rn({ 4, 5 }, 3), "Dense softmax")
  layer_check(nn.Dense { 3, use_bias = false }, rn({ 4, 5 }, 4), "Dense without bias")
  layer_check(nn.Dense { 3, activation = "relu", bias_initializer = "constant", value = 1.5 }, rn({ 4, 5 }, 5, 0.2),
    "Dense relu", { eps = 1e-3 })
  layer_check(nn.Conv2D { 2, 3 }, rn({ 2, 2, 5, 5 }, 6), "Conv2D")
  layer_check(nn.Conv2D { 2, { 2, 3 }, stride = 2, padding = "same" }, rn({ 1, 2, 5, 6 }, 7), "Conv2D same stride 2")
  layer_check(nn.Conv2D { 2, 3, dilation_rate = 2, strides = 1 }, rn({ 1, 1, 6, 6 }, 8), "Conv2D dilated (Keras spelling)")
  layer_check(nn.MaxPool2D { 2 }, distinct({ 1, 2, 4, 4 }, 3), "MaxPool2D", { eps = 1e-3 })
  layer_check(nn.MaxPooling2D { 3, stride = 2, padding = 1 }, distinct({ 1, 2, 5, 5 }, 4), "MaxPooling2D", { eps = 1e-3 })
  layer_check(nn.AvgPool2D { 2, stride = 1 }, rn({ 1, 2, 4, 3 }, 9), "AvgPool2D")
  layer_check(nn.Dropout(0.5), rn({ 4, 6 }, 10), "Dropout")
  layer_check(nn.Flatten(), rn({ 2, 3, 2, 2 }, 11), "Flatten")
  local bn = nn.BatchNorm()
  layer_check(bn, rn({ 5, 3 }, 12), "BatchNorm train")
  bn:evaluate()
  layer_check(bn, rn({ 5, 3 }, 13), "BatchNorm eval")
  layer_check(nn.BatchNorm(), rn({ 2, 3, 2, 2 }, 14), "BatchNorm 2d")
  layer_check(nn.ReLU(), away({ 3, 4 }, 15), "ReLU")
  layer_check(nn.LeakyReLU { 0.1 }, away({ 3, 4 }, 16), "LeakyReLU")
  layer_check(nn.ELU(), away({ 3, 4 }, 17), "ELU")
  layer_check(nn.Tanh(), rn({ 3, 4 }, 18), "Tanh")
  layer_check(nn.Sigmoid(), rn({ 3, 4 }, 19), "Sigmoid")
  layer_check(nn.GELU(), rn({ 3, 4 }, 20), "GELU")
  layer_check(nn.Softmax(), rn({ 3, 4 }, 21), "Softmax")
end

-- A whole small CNN: every parameter's gradient through conv, pool, flatten, dense and the loss.
function T.sequential_cnn_gradcheck()
  tensor.manual_seed(2)
  local model = nn.Sequential {
    input = { 1, 6, 6 },
    nn.Conv2D { 2, 3, padding = "same", activation = "tanh" },
    nn.AvgPool2D { 2 },
    nn.Flatten(),
    nn.Dense { 4, activation = "sigmoid" },
    nn.Dense { 3 },
  }
  local x = rn({ 2, 1, 6, 6 }, 1)
  local labels = tensor.from { 2, 0 }
  local params = model:parameters()
  local inputs = { x }
  for _, p in ipairs(params) do inputs[#inputs + 1] = p end
  gradcheck(function(xx) return F.cross_entropy(model(xx), labels) end, inputs, { name = "small CNN" })
end

function T.seed_model_summary_and_parameters()
  tensor.manual_seed(1)
  local model = seed_model()
  local text, total = model:summary(false)
  check(total == 1387594, "total params " .. tostring(total))
  check(text:find("Total params: 1,387,594", 1, true), "summary prints 1,387,594:\n" .. text)
  check(text:find("conv2d (Conv2D)             (None, 32, 26, 26)        320", 1, true), "conv row:\n" .. text)
  check(text:find("(None, 5408)", 1, true) and text:find("1384704", 1, true) and text:find("2570", 1, true), "rows:\n" .. text)
  check(text:find("max_pooling2d (MaxPooling2D)", 1, true), "Keras names")
  check(text:find("dropout_1 (Dropout)", 1, true), "numbered names")
  local names = {}
  for i, p in ipairs(model:parameters()) do
    names[i] = p.name
    check(p.requires_grad, "parameters require grad")
  end
  check(table.concat(names, " ") == "1.weight 1.bias 5.weight 5.bias 7.weight 7.bias", table.concat(names, " "))
  check(model:count_params() == 1387594, "count_params")
  -- Keras spellings and the softmax activation give the same parameter count
  local keras = nn.Sequential {
    input = { 1, 28, 28 },
    nn.Conv2D { 32, { 3, 3 }, activation = "relu" },
    nn.MaxPooling2D { pool_size = { 2, 2 } },
    nn.Dropout(0.25),
    nn.Flatten(),
    nn.Dense { 256, activation = "relu" },
    nn.Dropout(0.5),
    nn.Dense { 10, activation = "softmax" },
  }
  check(keras:count_params() == 1387594, "Keras spelling")
  local out = keras(tensor.rand(2, 1, 28, 28))
  close(out:sum(2), tensor.from { 1, 1 }, 1e-5, "softmax output")
end

function T.initializers()
  tensor.manual_seed(7)
  local a = nn.Dense { 50 }
  a(tensor.zeros(1, 100))
  tensor.manual_seed(7)
  local b = nn.Dense { 50 }
  b(tensor.zeros(1, 100))
  identical(a.weight, b.weight, "manual_seed gives identical weights")
  local limit = math.sqrt(6 / 150)
  check(a.weight:max():item() <= limit and a.weight:min():item() >= -limit, "glorot_uniform within the limit")
  check(a.weight:max():item() > 0.9 * limit, "glorot_uniform fills its range")
  close(a.bias:abs():sum():item(), 0, 0, "zero bias")
  local function std_of(t) return math.sqrt(((t - t:mean()) ^ 2):mean():item()) end
  for name, want in pairs { he_normal = math.sqrt(2 / 400), lecun_normal = math.sqrt(1 / 400),
    glorot_normal = math.sqrt(2 / 600) } do
    local d = nn.Dense { 200, kernel_initializer = name }
    d(tensor.zeros(1, 400))
    close(std_of(d.weight), want, 0.05, name .. " std")
    local bound = 2 * want / 0.87962566103423978
    check(d.weight:abs():max():item() <= bound * 1.0001, name .. " truncated at 2 std")
  end
  local h = nn.Conv2D { 16, 3, kernel_initializer = "he_uniform", bias_initializer = nn.init.constant(0.5) }
  h(tensor.zeros(1, 4, 5, 5))
  check(h.weight:abs():max():item() <= math.sqrt(6 / 36), "he_uniform limit uses fan_in = c*kh*kw")
  close(h.bias, tensor.full({ 16 }, 0.5), 0, "constant bias")
  local z = nn.Dense { 3, kernel_initializer = "zeros" }
  z(tensor.zeros(1, 2))
  close(z.weight:abs():sum():item(), 0, 0, "zeros")
  raises(function() nn.Dense { 3, kernel_initializer = "bogus" }(tensor.zeros(1, 2)) end, "unknown kernel_initializer 'bogus'")
end

function T.shape_errors_name_the_layer()
  local model = seed_model()
  raises(function() model(tensor.zeros(4, 784)) end, "Sequential: expected input of shape [batch, 1, 28, 28], got [4, 784]")
  local d = nn.Dense { 10 }
  d(tensor.zeros(2, 5))
  local e = raises(function() d(tensor.zeros(2, 6)) end, "Dense: expected input of shape [batch, 5], got [2, 6]")
  check(e:find("test_nn.lua", 1, true), "the error points at the user's line: " .. e)
  raises(function() nn.Sequential { input = { 784 }, nn.Conv2D { 8, 3 } } end,
    "Conv2D (layer 1): expected input [batch, channels, height, width] (NCHW), got input shape [784]")
  raises(function() nn.Sequential { input = { 1, 4, 4 }, nn.Conv2D { 8, 5 } } end, "Conv2D (layer 1): a 5x5 kernel does not fit")
  raises(function() nn.Sequential { input = { 3 }, nn.Dense { 4, name = "hidden" }, nn.Dense { 0 } } end,
    "Dense: units must be a positive integer, got 0")
  raises(function() nn.Sequential { input = { 3 }, 42 } end, "entry 1 is not a layer")
  raises(function() nn.Dense { 3, activation = "swish" } end, "unknown activation 'swish'")
  raises(function() F.conv2d(tensor.zeros(1, 3, 5, 5), tensor.zeros(2, 2, 3, 3)) end,
    "conv2d: weight [2, 2, 3, 3] expects 2 input channels, input [1, 3, 5, 5] has 3")
  raises(function() F.linear(tensor.zeros(2, 3), tensor.zeros(4, 5)) end, "linear: weight must be [out_features, 3] for input [2, 3], got [4, 5]")
  raises(function() F.max_pool2d(tensor.zeros(2, 3), 2) end, "max_pool2d: input must be [batch, channels, height, width]")
  -- a named layer is named in errors
  local named = nn.Sequential { input = { 3 }, nn.Dense { 4, name = "hidden" } }
  raises(function() named.layers[1](tensor.zeros(1, 5)) end, "Dense 'hidden' (layer 1): expected input of shape [batch, 3], got [1, 5]")
end

-- A user layer: a table with forward and parameters, built from tensor ops, trains like the others.
function T.user_layer_trains()
  tensor.manual_seed(4)
  local Scale = {}
  Scale.__index = Scale
  local function new_scale(n)
    local s = setmetatable({ gamma = tensor.full({ n }, 0.5), beta = tensor.zeros(n) }, Scale)
    s.gamma.name, s.beta.name = "gamma", "beta"
    return s
  end
  function Scale:forward(x) return x * self.gamma + self.beta end
  function Scale:parameters() return { self.gamma, self.beta } end
  local model = nn.Sequential { input = { 4 }, nn.Dense { 8, activation = "tanh" }, new_scale(8), nn.Dense { 2 } }
  local names = {}
  for i, p in ipairs(model:parameters()) do names[i] = p.name end
  check(table.concat(names, " ") == "1.weight 1.bias 2.gamma 2.beta 3.weight 3.bias", table.concat(names, " "))
  check(model:count_params() == 4 * 8 + 8 + 16 + 8 * 2 + 2, "user parameters counted")
  check(model:summary(false):find("(None, 8)", 1, true), "shape inferred through the user layer")
  local x = tensor.randn(32, 4)
  local y = (x:narrow(2, 1, 1):reshape(32):gt(0))
  local first, last
  for step = 1, 200 do
    local loss = F.cross_entropy(model(x), y)
    model:zero_grad()
    loss:backward()
    tensor.no_grad(function() for _, p in ipairs(model:parameters()) do p:sub_(p.grad * 0.5) end end)
    first = first or loss:item()
    last = loss:item()
  end
  check(last < 0.3 * first, string.format("loss fell from %.4f to %.4f", first, last))
  check((model.layers[2].gamma - 0.5):abs():sum():item() > 0, "the user layer's parameters moved")
  -- its gradient is right too
  local s = new_scale(3)
  gradcheck(function(xx) return s:forward(xx) end, { rn({ 2, 3 }, 1), s.gamma, s.beta }, { name = "user layer" })
end

function T.mlp_learns_xor()
  tensor.manual_seed(11)
  local x = tensor.from { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }
  local y = tensor.from { { 0 }, { 1 }, { 1 }, { 0 } }
  local model = nn.Sequential { input = { 2 }, nn.Dense { 8, activation = "tanh" }, nn.Dense { 1 } }
  local loss
  for step = 1, 1500 do
    loss = F.binary_cross_entropy(model(x), y)
    model:zero_grad()
    loss:backward()
    tensor.no_grad(function() for _, p in ipairs(model:parameters()) do p:sub_(p.grad * 0.5) end end)
  end
  local p = F.sigmoid(model(x)):reshape(4):totable()
  check(p[1] < 0.1 and p[2] > 0.9 and p[3] > 0.9 and p[4] < 0.1,
    string.format("XOR predictions %.3f %.3f %.3f %.3f (loss %.4f)", p[1], p[2], p[3], p[4], loss:item()))
end

-- The Keras example CNN memorizes 256 random images with random labels (the data module is not
-- on this branch): 100% training accuracy within a few hundred plain-SGD steps.
function T.keras_mnist_cnn_overfits_256_images()
  tensor.manual_seed(5)
  local model = seed_model()
  local n, bs = 256, 64
  local x = tensor.rand(n, 1, 28, 28)
  local labels = rand_labels(n, 10, 5)
  local lr, steps_taken, acc = 0.05, 0, 0
  local first_loss, last_loss
  for step = 1, 400 do
    local b = (step - 1) % compat.idiv(n, bs)
    local xb, yb = x:narrow(1, b * bs + 1, bs), labels:narrow(1, b * bs + 1, bs)
    local loss = F.cross_entropy(model(xb), yb)
    model:zero_grad()
    loss:backward()
    tensor.no_grad(function() for _, p in ipairs(model:parameters()) do p:sub_(p.grad * lr) end end)
    first_loss = first_loss or loss:item()
    last_loss = loss:item()
    steps_taken = step
    if step % 20 == 0 then
      model:evaluate()
      acc = tensor.no_grad(function() return F.accuracy(model(x), labels) end)
      model:train()
      if acc == n then break end
    end
  end
  print(string.format("    Keras example CNN: %d/%d correct after %d steps (loss %.3f -> %.3f)", acc, n, steps_taken, first_loss, last_loss))
  check(acc == n, string.format("training accuracy %d/%d after %d steps", acc, n, steps_taken))
end

function T.save_and_load()
  local dir = os.tmpname()
  os.remove(dir)
  local path = dir .. ".olt"
  tensor.manual_seed(1)
  local a = nn.Sequential { input = { 2, 4, 4 }, nn.Conv2D { 3, 3 }, nn.BatchNorm(), nn.Flatten(), nn.Dense { 2 } }
  a(tensor.randn(4, 2, 4, 4)) -- moves the running statistics
  a:save(path)
  tensor.manual_seed(2)
  local b = nn.Sequential { input = { 2, 4, 4 }, nn.Conv2D { 3, 3 }, nn.BatchNorm(), nn.Flatten(), nn.Dense { 2 } }
  b:load(path)
  for name, t in pairs(a:state()) do identical(b:state()[name], t, "loaded " .. name) end
  a:evaluate(); b:evaluate()
  local x = tensor.randn(3, 2, 4, 4)
  identical(a(x), b(x), "same outputs after load")
  local wrong_shape = nn.Sequential { input = { 2, 4, 4 }, nn.Conv2D { 4, 3 }, nn.BatchNorm(), nn.Flatten(), nn.Dense { 2 } }
  local before = wrong_shape:parameters()[1]:clone()
  raises(function() wrong_shape:load(path) end, "'1.bias' is [4] in the model but [3]")
  identical(wrong_shape:parameters()[1], before, "a refused load changes nothing")
  local wrong_names = nn.Sequential { input = { 2, 4, 4 }, nn.Conv2D { 3, 3 }, nn.Flatten(), nn.Dense { 2 } }
  raises(function() wrong_names:load(path) end, "has no tensor '3.bias'")
  local extra = nn.Sequential { input = { 2, 4, 4 }, nn.Conv2D { 3, 3 }, nn.BatchNorm { affine = false }, nn.Flatten(), nn.Dense { 2 } }
  raises(function() extra:load(path) end, "holds '2.bias', '2.weight', which this model does not have")
  tensor.save(path, tensor.zeros(2))
  raises(function() a:load(path) end, "holds a lone tensor")
  os.remove(path)
end

function T.train_and_evaluate_modes()
  tensor.manual_seed(3)
  local model = nn.Sequential { input = { 3 }, nn.Dense { 4 }, nn.BatchNorm(), nn.Dropout(0.5) }
  check(model.training and model.layers[3].training, "training by default")
  model:evaluate()
  check(not model.training and not model.layers[2].training and not model.layers[3].training, "evaluate")
  local x = tensor.randn(6, 3)
  identical(model(x), model(x), "deterministic in evaluation")
  model:train()
  check(model.layers[3].training, "train")
  model(x):sum():backward()
  check(model:parameters()[1].grad ~= nil, "grads filled")
  model:zero_grad()
  check(model:parameters()[1].grad == nil, "zero_grad clears")
end

-- Memory: a training loop's RSS at step 100 and step 2000 must not grow beyond a small margin.
function T.memory_does_not_grow()
  if lib.sanitized() then lib.skip("RSS is not measurable under AddressSanitizer's quarantine") end
  tensor.manual_seed(9)
  local model = nn.Sequential { input = { 1, 8, 8 }, nn.Conv2D { 4, 3, activation = "relu" }, nn.MaxPool2D { 2 },
    nn.Flatten(), nn.Dense { 32, activation = "relu" }, nn.Dropout(0.2), nn.Dense { 10 } }
  local x = tensor.rand(32, 1, 8, 8)
  local y = rand_labels(32, 10, 9)
  -- Three measures after a full collection: tensor storage still referenced
  -- (exact), the Lua heap (no tape or node kept), and RSS (C memory outside
  -- both). A collection every 100 steps keeps RSS about leaks, not about how
  -- far either VM's collector lets garbage run ahead.
  local C = require "optlab.core"
  local at = {}
  for step = 1, 2000 do
    local loss = F.cross_entropy(model(x), y)
    model:zero_grad()
    loss:backward()
    tensor.no_grad(function() for _, p in ipairs(model:parameters()) do p:sub_(p.grad * 0.01) end end)
    if step % 100 == 0 then collectgarbage(); collectgarbage() end
    if step == 100 or step == 2000 then
      at[step] = { live = C.live_bytes(), heap = collectgarbage("count") * 1024, rss = sys.rss() }
    end
  end
  local a, b = at[100], at[2000]
  print(string.format("    RSS at step 100: %.1f MiB, at step 2000: %.1f MiB; Lua heap %.0f -> %.0f KiB",
                      a.rss / 1048576, b.rss / 1048576, a.heap / 1024, b.heap / 1024))
  check(b.live == a.live, string.format("tensor storage grew from %d to %d bytes", a.live, b.live))
  check(b.heap <= a.heap + 256 * 1024, string.format("the Lua heap grew from %d to %d bytes", a.heap, b.heap))
  check(b.rss <= a.rss + 4 * 1048576, string.format("RSS grew from %d to %d bytes", a.rss, b.rss))
end

-- nn.Dense(16, {activation = "relu"}) (Keras's Dense(16, activation="relu"))
-- applies its options: the table used to be ignored silently.
T.layer_options_after_a_positional_argument = function()
  local d = nn.Dense(4, { activation = "relu", use_bias = false })
  check(d.activation == "relu", "activation: " .. tostring(d.activation))
  local m = nn.Sequential { input = { 3 }, d }
  local y = m(tensor.randn({ 8, 3 }, { seed = 1 }))
  check(y:min():item() >= 0, "relu applied")
  check(#m:parameters() == 1, "no bias: " .. #m:parameters())
end

return T
