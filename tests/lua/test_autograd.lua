-- Autograd over the tensor ops of stdlib/tensor.lua: finite-difference checks
-- for every differentiable op (broadcasting, non-contiguous operands), tape
-- semantics and the backward() errors.
local lib = require "lib"
local gc = require "gradcheck"
local check, close, raises = lib.check, lib.close, lib.raises
local gradcheck, away, distinct = gc.gradcheck, gc.away_from_zero, gc.distinct

local T = {}

local function rn(shape, seed) return tensor.randn(shape, { seed = seed, stream = 0 }) end
local function pos(shape, seed) return (tensor.rand(shape, { seed = seed, stream = 0 }) + 0.5):contiguous() end

-- The checker itself must catch a wrong sign and a missing term.
function T.gradcheck_catches_wrong_backward()
  local autograd = tensor.autograd
  local function bad_square(x, wrong)
    local y = tensor.raw.mul(x, x)
    return autograd.record(y, "bad", { x }, function(g)
      if wrong == "sign" then return tensor.raw.mul(g, tensor.raw.mul(x, -2)) end
      return tensor.raw.mul(g, x) -- missing the factor 2 (one of the two product terms)
    end)
  end
  gradcheck(function(x) return x * x end, { rn({ 3, 4 }, 1) }) -- the right one passes
  raises(function() gradcheck(function(x) return bad_square(x, "sign") end, { rn({ 3, 4 }, 1) }) end, "analytic")
  raises(function() gradcheck(function(x) return bad_square(x, "term") end, { rn({ 3, 4 }, 1) }) end, "analytic")
end

function T.binary_ops_broadcasting()
  for _, op in ipairs { "add", "sub", "mul" } do
    local f = function(a, b) return a[op](a, b) end
    gradcheck(f, { rn({ 3, 4 }, 1), rn({ 3, 4 }, 2) }, { name = op .. " same shape" })
    gradcheck(f, { rn({ 2, 3, 4 }, 3), rn({ 4 }, 4) }, { name = op .. " [2,3,4] with [4]" })
    gradcheck(f, { rn({ 3, 1 }, 5), rn({ 1, 4 }, 6) }, { name = op .. " [3,1] with [1,4]" })
    gradcheck(function(a) return a[op](a, 1.5) end, { rn({ 5 }, 7) }, { name = op .. " scalar" })
  end
  gradcheck(function(a, b) return a / b end, { rn({ 3, 4 }, 1), pos({ 4 }, 2) }, { name = "div broadcast" })
  gradcheck(function(a, b) return a / b end, { rn({ 2, 1, 3 }, 3), pos({ 4, 1 }, 4) }, { name = "div [2,1,3]/[4,1]" })
  gradcheck(function(a, b) return a ^ b end, { pos({ 3, 4 }, 5), rn({ 3, 1 }, 6) }, { name = "pow tensor^tensor" })
  gradcheck(function(a) return a ^ 3 end, { rn({ 6 }, 7) }, { name = "pow scalar exponent" })
  gradcheck(function(a, b) return a:maximum(b) end, { distinct({ 3, 4 }, 1), (distinct({ 4 }, 2) + 0.1):contiguous() }, { name = "maximum", eps = 1e-3 })
  gradcheck(function(a, b) return a:minimum(b) end, { distinct({ 3, 4 }, 3), (distinct({ 3, 1 }, 4) + 0.1):contiguous() }, { name = "minimum", eps = 1e-3 })
end

function T.metamethods_and_scalar_first()
  gradcheck(function(a) return 2 - a * 3 + 1 / (a * a + 1) end, { rn({ 4 }, 1) }, { name = "mixed" })
  gradcheck(function(a) return -a end, { rn({ 4 }, 2) }, { name = "unm" })
end

function T.unary_ops()
  local smooth = {
    neg = rn, exp = rn, tanh = rn, sigmoid = rn, square = rn,
    log = pos, sqrt = pos, reciprocal = pos,
  }
  for op, gen in pairs(smooth) do
    gradcheck(function(a) return a[op](a) end, { gen({ 3, 5 }, 11) }, { name = op })
    -- non-contiguous operand: a transposed view of the leaf
    gradcheck(function(a) return a:t()[op](a:t()) end, { gen({ 5, 3 }, 12) }, { name = op .. " on a transpose" })
  end
  for _, op in ipairs { "abs", "relu" } do
    gradcheck(function(a) return a[op](a) end, { away({ 3, 5 }, 13) }, { name = op })
    gradcheck(function(a) return a:t()[op](a:t()) end, { away({ 5, 3 }, 14) }, { name = op .. " transposed" })
  end
  gradcheck(function(a) return a:clamp(-0.5, 0.7) end, { distinct({ 4, 5 }, 3) }, { name = "clamp", eps = 1e-3 })
end

function T.reductions()
  gradcheck(function(a) return a:sum() end, { rn({ 3, 4 }, 1) }, { name = "sum all" })
  gradcheck(function(a) return a:sum(1) end, { rn({ 3, 4 }, 2) }, { name = "sum dim 1" })
  gradcheck(function(a) return a:sum(2, true) end, { rn({ 3, 4 }, 3) }, { name = "sum dim 2 keep" })
  gradcheck(function(a) return a:sum(-1) end, { rn({ 2, 3, 4 }, 4) }, { name = "sum dim -1" })
  gradcheck(function(a) return a:mean() end, { rn({ 3, 4 }, 5) }, { name = "mean all" })
  gradcheck(function(a) return a:mean(1) end, { rn({ 3, 4 }, 6) }, { name = "mean dim 1" })
  gradcheck(function(a) return a:t():mean(2, true) end, { rn({ 3, 4 }, 7) }, { name = "mean of a transpose" })
  gradcheck(function(a) return a:max() end, { distinct({ 3, 4 }, 8) }, { name = "max all", eps = 1e-3 })
  gradcheck(function(a) return (a:max(2)) end, { distinct({ 3, 4 }, 9) }, { name = "max dim", eps = 1e-3 })
  gradcheck(function(a) return (a:min(1, true)) end, { distinct({ 3, 4 }, 10) }, { name = "min dim keep", eps = 1e-3 })
  gradcheck(function(a) return a:min() end, { distinct({ 5 }, 11) }, { name = "min all", eps = 1e-3 })
  gradcheck(function(a) return a:norm() end, { rn({ 3, 4 }, 12) }, { name = "norm" })
end

function T.ties_share_the_gradient_of_max()
  local a = tensor.from { 1, 3, 3, 2 }
  a.requires_grad = true
  a:max():backward()
  close(a.grad, tensor.from { 0, 0.5, 0.5, 0 }, 0, "max ties")
end

function T.matmul_shapes()
  gradcheck(function(a, b) return a:matmul(b) end, { rn({ 3, 4 }, 1), rn({ 4, 2 }, 2) }, { name = "2d" })
  gradcheck(function(a, b) return a:matmul(b) end, { rn({ 4 }, 3), rn({ 4, 2 }, 4) }, { name = "1d x 2d" })
  gradcheck(function(a, b) return a:matmul(b) end, { rn({ 3, 4 }, 5), rn({ 4 }, 6) }, { name = "2d x 1d" })
  gradcheck(function(a, b) return a:matmul(b) end, { rn({ 2, 3, 4 }, 7), rn({ 4, 2 }, 8) }, { name = "batched x 2d (broadcast)" })
  gradcheck(function(a, b) return a:t():matmul(b:t()) end, { rn({ 4, 3 }, 9), rn({ 2, 4 }, 10) }, { name = "transposed operands" })
  gradcheck(function(a, b) return tensor.matmul(a, b) end, { rn({ 2, 2, 3 }, 11), rn({ 2, 3, 2 }, 12) }, { name = "batched" })
end

function T.views()
  gradcheck(function(a) return a:reshape(4, 3) * a:reshape(4, 3) end, { rn({ 3, 4 }, 1) }, { name = "reshape" })
  gradcheck(function(a) return a:view(12):exp() end, { rn({ 3, 4 }, 2) }, { name = "view" })
  gradcheck(function(a) return a:transpose(1, 3):exp() end, { rn({ 2, 3, 4 }, 3) }, { name = "transpose" })
  gradcheck(function(a) return a:permute(3, 1, 2):tanh() end, { rn({ 2, 3, 4 }, 4) }, { name = "permute" })
  gradcheck(function(a) return a:permute({ 2, 3, 1 }):tanh() end, { rn({ 2, 3, 4 }, 5) }, { name = "permute table" })
  gradcheck(function(a) return a:narrow(2, 2, 2):exp() end, { rn({ 3, 4 }, 6) }, { name = "narrow" })
  gradcheck(function(a) return a:select(1, 2):exp() end, { rn({ 3, 4 }, 7) }, { name = "select" })
  gradcheck(function(a) return a:unsqueeze(2):exp() end, { rn({ 3, 4 }, 8) }, { name = "unsqueeze" })
  gradcheck(function(a) return a:squeeze():exp() end, { rn({ 3, 1, 4 }, 9) }, { name = "squeeze" })
  gradcheck(function(a) return a:expand(3, 4):tanh() end, { rn({ 1, 4 }, 10) }, { name = "expand" })
  gradcheck(function(a) return a:t():contiguous():exp() end, { rn({ 3, 4 }, 11) }, { name = "contiguous" })
  gradcheck(function(a) return a:clone() * a end, { rn({ 3, 4 }, 12) }, { name = "clone" })
end

function T.gradients_accumulate_until_zeroed()
  local a = tensor.from({ 1, 2, 3 }, { requires_grad = true })
  check(a.requires_grad == true, "requires_grad option")
  ;(a * 2):sum():backward()
  ;(a * 3):sum():backward()
  close(a.grad, tensor.from { 5, 5, 5 }, 0, "accumulated")
  a.grad = nil
  ;(a * a):sum():backward()
  close(a.grad, tensor.from { 2, 4, 6 }, 0, "after zeroing")
end

function T.shared_input_sums_paths()
  local a = tensor.from { 0.5, -1, 2 }
  a.requires_grad = true
  local b = a * a
  ;(b + a * 3 + b):sum():backward() -- d/da (2a^2 + 3a) = 4a + 3
  close(a.grad, tensor.from { 5, -1, 11 }, 1e-6, "diamond graph")
end

function T.no_grad_and_detach()
  local a = tensor.from({ 1, 2 }, { requires_grad = true })
  local y = tensor.no_grad(function() return a * 2 end)
  check(not y.requires_grad, "no_grad output must not require grad")
  local d = (a * 2):detach()
  check(not d.requires_grad, "detach")
  local z = (d * a):sum()
  z:backward()
  close(a.grad, tensor.from { 2, 4 }, 0, "detached factor is a constant")
  -- no_grad restores recording after an error
  pcall(tensor.no_grad, function() error("boom") end)
  check(((a * 1):sum()).requires_grad, "recording back on after an error in no_grad")
end

function T.backward_errors()
  local a = tensor.from({ 1, 2, 3 }, { requires_grad = true })
  raises(function() (a * 2):backward() end, "non-scalar", "non-scalar without grad")
  raises(function() tensor.from({ 1 }):sum():backward() end, "does not require grad", "no grad needed")
  local loss = (a * a):sum()
  loss:backward()
  raises(function() loss:backward() end, "already freed", "twice through a freed tape")
  -- with an explicit gradient a non-scalar is fine; a wrong-shaped one is not
  local y = a * 2
  raises(function() y:backward(tensor.from { 1, 1 }) end, "does not match")
  a.grad = nil
  y:backward(tensor.from { 1, 0, 2 })
  close(a.grad, tensor.from { 2, 0, 4 }, 0, "explicit upstream gradient")
end

function T.tape_released_after_backward()
  local a = tensor.from({ 1, 2, 3 }, { requires_grad = true })
  local w = setmetatable({}, { __mode = "v" })
  do
    local mid = a * a
    w[1] = mid
    local loss = mid:sum()
    loss:backward()
  end
  collectgarbage()
  collectgarbage()
  check(w[1] == nil, "an intermediate of a finished backward must be collectable")
end

return T
