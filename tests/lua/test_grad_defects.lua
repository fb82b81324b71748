-- The autograd defects of issue 12, each pinned by the case that showed it,
-- with PyTorch 1.13's numbers (the torch line that produced each is in the
-- comment above it; inputs are float32) and a finite-difference check where
-- the op is smooth. Plus autograd for the ops and in-place primitives added
-- with the issue.
local lib = require "lib"
local gc = require "gradcheck"
local check, close, raises = lib.check, lib.close, lib.raises
local gradcheck = gc.gradcheck
local F = nn.functional

local T = {}

local TOL, ATOL = 1e-5, 1e-5

local function leaf(v) return tensor.from(v, { requires_grad = true }) end
local function rn(shape, seed) return tensor.randn(shape, { seed = seed, stream = 0 }) end
local function pos(shape, seed) return (tensor.rand(shape, { seed = seed, stream = 0 }) + 0.5):contiguous() end

-- d/dx of sum(fn(x) * R), R = 1, 2, 3, ... in the output's shape (as the torch
-- script's `(out * arange(1, n + 1).reshape(out.shape)).sum().backward()`).
local function weighted_grad(fn, x)
  x.grad = nil
  local out = fn(x)
  local R = tensor.arange(1, out:numel() + 1):reshape(out:shape())
  ;(out * R):sum():backward()
  return x.grad
end

-- 1. a number on the left of an operator keeps the gradient
function T.number_on_either_side_of_an_operator()
  local x = leaf { 3 }
  ;(x * x + 3 * x):sum():backward()
  close(x.grad, { 9 }, 0, "x*x + 3*x at 3") -- torch: (x*x + 3*x).sum().backward() -> 9
  x = leaf { 1, 2 }
  local y = 2 * x
  check(y.requires_grad, "2*x requires grad")
  y:sum():backward()
  close(x.grad, { 2, 2 }, 0, "(2*x):sum()")
  -- Rosenbrock at (-1.2, 1): torch: (100*(y - x**2)**2 + (1-x)**2).backward() -> -215.600037, -88.000015
  local a, b = leaf { -1.2 }, leaf { 1.0 }
  ;(100 * (b - a ^ 2) ^ 2 + (1 - a) ^ 2):sum():backward()
  close(a.grad, { -215.600037 }, TOL, "rosenbrock x")
  close(b.grad, { -88.000015 }, TOL, "rosenbrock y")
  -- each reversed operator at x = [0.5, -1.5, 2]; torch: f(x).sum().backward()
  local refs = {
    { "2 + x", function(v) return 2 + v end, { 1, 1, 1 } },
    { "2 - x", function(v) return 2 - v end, { -1, -1, -1 } },
    { "2 * x", function(v) return 2 * v end, { 2, 2, 2 } },
    { "2 / x", function(v) return 2 / v end, { -8, -0.888889, -0.5 } },
    -- torch 1.13 has no derivative for scalar % tensor; this is torch.remainder(torch.full_like(x, 2.), x)
    { "2 % x", function(v) return 2 % v end, { -4, 2, -1 } },
    { "0.5 * x^2", function(v) return 0.5 * v ^ 2 end, { 0.5, -1.5, 2 } },
  }
  for _, r in ipairs(refs) do
    x = leaf { 0.5, -1.5, 2.0 }
    r[2](x):sum():backward()
    check(x.grad ~= nil, r[1] .. ": no gradient")
    close(x.grad, r[3], TOL, r[1], ATOL)
  end
  -- and against finite differences, with broadcasting: number, then tensor, on the left
  for _, op in ipairs { "+", "-", "*", "/", "^" } do
    local f = load("return function(a) return 1.7 " .. op .. " a end")()
    gradcheck(f, { pos({ 3, 4 }, 1) }, { name = "1.7 " .. op .. " a" })
  end
end

-- 4. a number base: 2 ^ x raised in backward
function T.number_to_the_power_of_a_tensor()
  local x = leaf { 0.5, -1.5, 2.0 }
  ;(2 ^ x):sum():backward()
  close(x.grad, { 0.980258, 0.245065, 2.772589 }, TOL, "2 ^ x") -- torch: (2**x).sum().backward()
  x = leaf { 0.5, 0, 2.0 }
  ;(0 ^ x):sum():backward() -- torch: (0**x).sum().backward() -> 0, 0, 0
  close(x.grad, { 0, 0, 0 }, 0, "0 ^ x")
end

-- 3. an in-place write to a tensor the tape saved is caught at backward()
function T.inplace_after_use_is_detected()
  local x = leaf { 0.5, -1, 2 }
  local y = x:sigmoid()
  local z = (y * y):sum()
  y:mul_(0)
  local err = raises(function() z:backward() end, "modified by an inplace operation", "the issue's reproducer")
  check(err:find("[3]", 1, true) and err:find("mul", 1, true), "names the op and the shape: " .. err)
  check(x.grad == nil, "no partial gradient after the error")
  -- the saved output of exp, through a view of it
  local e = x:exp()
  local s = e:sum()
  e:t():add_(1)
  raises(function() s:backward() end, "modified by an inplace operation", "exp's output written through a view")
  -- writes to a tensor nothing saved are fine: add saves nothing
  local p = x * 1
  local q = (p + 1):sum()
  p:add_(5)
  x.grad = nil
  q:backward()
  close(x.grad, { 1, 1, 1 }, 0, "add saves nothing")
end

-- The nn ops check what they saved too (as PyTorch: relu saves its output, sigmoid
-- its output, linear its input and weight).
function T.inplace_after_use_in_nn_ops()
  local x = leaf { { 0.5, -1, 2 } }
  local h = x * 1
  local y = F.sigmoid(h)
  local loss = (y * 2):sum()
  y:mul_(2)
  raises(function() loss:backward() end, "modified by an inplace operation", "F.sigmoid's output")
  local w = leaf { { 1, 2, 3 }, { -1, 0.5, 2 } }
  h = x * 1
  loss = F.linear(h, w, nil):sum()
  h:add_(1)
  local err = raises(function() loss:backward() end, "modified by an inplace operation", "F.linear's input")
  check(err:find("linear", 1, true) and err:find("[1, 3]", 1, true), "names linear and [1, 3]: " .. err)
  -- relu reads its output only: writing its input afterwards is fine (PyTorch agrees)
  x.grad = nil
  h = x * 1
  loss = F.relu(h):sum()
  h:zero_()
  loss:backward()
  close(x.grad, { 1, 0, 1 }, 0, "relu after its input was zeroed")
end

-- An op saves what PyTorch saves, so the same writes are fine or errors on both
-- (found by the differential tests: min(dim) saved its output, remainder too).
function T.saved_tensors_are_pytorchs()
  local x = leaf { { 1, 3, -2 }, { 2, 0, 5 } }
  local v = x:min(2)
  v:mul_(2)
  v:sum():backward() -- torch: v = x.min(1)[0]; v.mul_(2); v.sum().backward()
  close(x.grad, { 0, 0, 2, 0, 2, 0 }, 0, "min(dim), output doubled in place")
  local a, b = leaf { 0.7, 2.5, -1.25 }, leaf { 0.3, 1.0, 0.5 }
  local r = a % b
  r:mul_(2)
  r:sum():backward() -- torch: r = torch.remainder(a, b); r.mul_(2); r.sum().backward()
  close(a.grad, { 2, 2, 2 }, 0, "remainder d/da")
  close(b.grad, { -4, -4, 6 }, 0, "remainder d/db")
  x = leaf { { 1, 3, -2 }, { 2, 0, 5 } }
  local p = x:prod(2)
  p:mul_(2) -- torch: p = x.prod(1); p.mul_(2); p.sum().backward() raises
  raises(function() p:sum():backward() end, "modified by an inplace operation", "prod's output")
end

function T.inplace_on_a_leaf_needs_no_grad()
  local w = leaf { 1, 2, 3 }
  local err = raises(function() w:add_(1) end, "a leaf tensor that requires grad", "add_ on a leaf")
  check(err:find("no_grad", 1, true), "says to use no_grad: " .. err)
  raises(function() w:mul_(2) end, "no_grad", "mul_ on a leaf")
  raises(function() w:narrow(1, 1, 2):zero_() end, "a view of a leaf tensor that requires grad", "a view of a leaf")
  close(w, { 1, 2, 3 }, 0, "the refused ops wrote nothing")
  -- inside no_grad (what optimizers do) it is free
  w.grad = tensor.from { 1, 1, 1 }
  tensor.no_grad(function() w:sub_(w.grad, 0.5) end)
  close(w, { 0.5, 1.5, 2.5 }, 0, "sub_ with alpha inside no_grad")
  check(w.requires_grad and w._node == nil, "w stays a leaf")
end

-- 5. zero gradients where PyTorch has them
function T.zero_gradient_cases()
  local x = leaf { 0, 2 }
  ;(x ^ 0):sum():backward()
  close(x.grad, { 0, 0 }, 0, "x^0 at 0") -- torch: (x**0).sum().backward() -> 0, 0
  local e = leaf { 0, 2 }
  x = leaf { 0, 3 }
  ;(x ^ e):sum():backward() -- tensor exponent: torch: (x**e).sum().backward() -> x: 0, 6; e: 0, 9.887511
  close(x.grad, { 0, 6 }, 1e-6, "x^e at e = 0")
  close(e.grad, { 0, 9.887511 }, 1e-6, "d(x^e)/de at x = 0")
end

function T.norm_of_a_zero_vector()
  local x = leaf { 0, 0, 0 }
  x:norm():backward()
  close(x.grad, { 0, 0, 0 }, 0, "norm of a zero vector") -- torch: x.norm().backward() -> 0, 0, 0
  x = leaf { 0, 0 }
  x:norm(1):backward()
  close(x.grad, { 0, 0 }, 0, "1-norm of a zero vector")
end

-- 6. matmul of two vectors (a 0-d result)
function T.matmul_of_two_vectors()
  local a, b = leaf { 1, 2, 3 }, leaf { 4, -5, 6 }
  a:matmul(b):backward()
  close(a.grad, { 4, -5, 6 }, 0, "d/da") -- torch: (a @ b).backward()
  close(b.grad, { 1, 2, 3 }, 0, "d/db")
  gradcheck(function(p, q) return p:matmul(q) end, { rn({ 5 }, 1), rn({ 5 }, 2) }, { name = "vector . vector" })
  gradcheck(function(p, q) return p:dot(q) end, { rn({ 5 }, 3), rn({ 5 }, 4) }, { name = "dot" })
  gradcheck(function(p, q) return tensor.dot(p, q) end, { rn({ 4 }, 5), rn({ 4 }, 6) }, { name = "tensor.dot" })
end

-- 7. sumsq
function T.sumsq_is_differentiable()
  local x = leaf { 1, -2, 3 }
  x:sumsq():backward()
  close(x.grad, { 2, -4, 6 }, 0, "sumsq")
  gradcheck(function(a) return a:sumsq(2) end, { rn({ 3, 4 }, 1) }, { name = "sumsq dim" })
  gradcheck(function(a) return a:sumsq(1, true) end, { rn({ 3, 4 }, 2) }, { name = "sumsq dim keep" })
end

-- 8. t[i] on a matrix is a differentiable select
function T.indexing_a_matrix()
  local x = leaf { { 1, 2 }, { 3, 4 } }
  local r = x[2]
  ;(r * r):sum():backward()
  close(x.grad, { 0, 0, 6, 8 }, 0, "x[2]")
  gradcheck(function(a) return a[2] * a[1] + a[-1]:exp() end, { rn({ 3, 4 }, 1) }, { name = "a[2] * a[1] + a[-1]:exp()" })
  gradcheck(function(a) return a[2][3] end, { rn({ 2, 3, 4 }, 2) }, { name = "a[2][3] of a 3-D tensor" })
end

-- 9. in-place ops inside the graph are recorded
function T.inplace_ops_in_the_graph()
  local x = leaf { 1, 2 }
  local y = x * 2
  y:mul_(3)
  y:sum():backward()
  close(x.grad, { 6, 6 }, 0, "y = x*2; y:mul_(3)")
  -- a plain accumulator takes the gradient of what is added to it
  x = leaf { 1, 2 }
  local acc = tensor.zeros { 2 }
  acc:add_(x)
  acc:add_(x * x)
  check(acc.requires_grad, "acc requires grad")
  acc:sum():backward()
  close(x.grad, { 3, 5 }, 0, "acc:add_(x)")
  -- a write through a view reaches the base; torch: y = x*1; y[0:1].mul_(5); (y*y).sum() -> 50, 4
  x = leaf { 1, 2 }
  y = x * 1
  y:narrow(1, 1, 1):mul_(5)
  ;(y * y):sum():backward()
  close(x.grad, { 50, 4 }, 0, "in place through a view")
  -- a view taken before the write reads the new value; torch: v = y[0:1]; y.mul_(3); v.sum() -> 6, 0
  x = leaf { 1, 2 }
  y = x * 2
  local v = y:narrow(1, 1, 1)
  y:mul_(3)
  v:sum():backward()
  close(x.grad, { 6, 0 }, 0, "a view of an overwritten tensor")
  -- graphs recorded before the write keep the old value; torch: z = y*1; y.mul_(3); (z+y).sum() -> 8, 8
  x = leaf { 1, 2 }
  y = x * 2
  local z = y * 1
  y:mul_(3)
  ;(z + y):sum():backward()
  close(x.grad, { 8, 8 }, 0, "earlier graph intact")
end

-- Writes by index are in-place ops too (t[i] = v, t:set(i, v)).
function T.index_writes_are_recorded()
  local x = leaf { 1, 2, 3 }
  local y = x * 2
  y[2] = 0
  y:sum():backward()
  close(x.grad, { 2, 0, 2 }, 0, "y = x*2; y[2] = 0") -- torch: y = x*2; y[1] = 0; y.sum() -> 2, 0, 2
  x.grad = nil
  y = x * 2
  y:set(3, 7)
  y:sum():backward()
  close(x.grad, { 2, 2, 0 }, 0, "y:set(3, 7)")
  -- torch: mm = m*1; mm[0] = tensor([9., 9]); (mm*mm).sum() -> 0, 0, 6, 8
  local m = leaf { { 1, 2 }, { 3, 4 } }
  local mm = m * 1
  mm[1] = tensor.from { 9, 9 }
  ;(mm * mm):sum():backward()
  close(m.grad, { 0, 0, 6, 8 }, 0, "a row overwritten")
  -- a plain tensor built from rows that need gradients joins the graph
  -- torch: p = zeros(2, 2); p[1] = q; (p*p).sum() -> q.grad = 10, 12
  local q = leaf { 5, 6 }
  local p = tensor.zeros(2, 2)
  p[2] = q
  ;(p * p):sum():backward()
  close(q.grad, { 10, 12 }, 0, "p[2] = q")
  -- on a leaf: refused outside no_grad, free inside
  local err = raises(function() x[1] = 5 end, "a view of a leaf tensor that requires grad", "x[1] = 5")
  check(err:find("[3]", 1, true), "names the leaf's shape: " .. err)
  raises(function() x:set(1, 5) end, "no_grad", "x:set(1, 5)")
  raises(function() m[1] = tensor.from { 0, 0 } end, "no_grad", "m[1] = row")
  tensor.no_grad(function() x[1] = 5; m[2] = 0 end)
  close(x, { 5, 2, 3 }, 0, "x[1] = 5 inside no_grad")
  close(m, { 1, 2, 0, 0 }, 0, "m[2] = 0 inside no_grad")
end

-- The in-place primitives inside the graph. torch: x = [0.5, 1.5, 2.5], u = [1, -2, 3],
-- w = [2, 1, 0.5]; a = x*1; a.<op>; (a*a).sum().backward()
function T.inplace_primitives_in_the_graph()
  local cases = {
    { "add_(u, 0.3)", function(a, u) a:add_(u, 0.3) end, { 1.6, 1.8, 6.8 }, { 0.48, 0.54, 2.04 } },
    { "sub_(u, 0.3)", function(a, u) a:sub_(u, 0.3) end, { 0.4, 4.2, 3.2 }, { -0.12, -1.26, -0.96 } },
    { "addcmul_(u, w, 0.5)", function(a, u, w) a:addcmul_(u, w, 0.5) end, { 3, 1, 6.5 }, { 3, 0.5, 1.625 }, { 1.5, -1, 9.75 } },
    { "addcdiv_(u, w, 0.5)", function(a, u, w) a:addcdiv_(u, w, 0.5) end, { 1.5, 1, 11 }, { 0.375, 0.5, 11 }, { -0.1875, 1, -66 } },
    { "lerp_(u, 0.25)", function(a, u) a:lerp_(u, 0.25) end, { 0.9375, 0.9375, 3.9375 }, { 0.3125, 0.3125, 1.3125 } },
    { "lerp_(u, w*0.1)", function(a, u, w) a:lerp_(u, w * 0.1) end, { 0.96, 2.07, 4.7975 }, { 0.24, 0.23, 0.2525 }, { 0.06, -0.805, 0.2525 } },
    { "clamp_(1, 2)", function(a) a:clamp_(1, 2) end, { 0, 3, 0 } },
  }
  for _, c in ipairs(cases) do
    local x, u, w = leaf { 0.5, 1.5, 2.5 }, leaf { 1, -2, 3 }, leaf { 2, 1, 0.5 }
    local a = x * 1
    c[2](a, u, w)
    ;(a * a):sum():backward()
    close(x.grad, c[3], TOL, c[1] .. " d/dx", ATOL)
    if c[4] then close(u.grad, c[4], TOL, c[1] .. " d/du", ATOL) end
    if c[5] then close(w.grad, c[5], TOL, c[1] .. " d/dw", ATOL) end
  end
  -- torch: a = x*1; a.sqrt_(); (a*a*a).sum() -> 1.06066, 1.837117, 2.371708
  local x = leaf { 0.5, 1.5, 2.5 }
  local a = x * 1
  a:sqrt_()
  ;(a * a * a):sum():backward()
  close(x.grad, { 1.06066, 1.837117, 2.371708 }, TOL, "sqrt_")
  -- torch: a = x*1; a.sign_(); (a*x).sum() -> 1, 1, 1 (sign_ passes no gradient)
  x = leaf { 0.5, 1.5, 2.5 }
  a = x * 1
  a:sign_()
  ;(a * x):sum():backward()
  close(x.grad, { 1, 1, 1 }, 0, "sign_")
  -- torch: a = x*1; a.copy_(u*u); (a*x).sum() -> x: 1, 4, 9; u: 1, -6, 15
  local u
  x, u = leaf { 0.5, 1.5, 2.5 }, leaf { 1, -2, 3 }
  a = x * 1
  a:copy_(u * u)
  ;(a * x):sum():backward()
  close(x.grad, { 1, 4, 9 }, 0, "copy_ d/dx")
  close(u.grad, { 1, -6, 15 }, 0, "copy_ d/du")
  -- and against finite differences
  local function inplace_fd(name, f, gen)
    gradcheck(f, gen, { name = name })
  end
  inplace_fd("add_ alpha", function(p, q) return (p * 1):add_(q, -1.5) end, { rn({ 3, 4 }, 1), rn({ 4 }, 2) })
  inplace_fd("mul_", function(p, q) return (p * 1):mul_(q) end, { rn({ 3, 4 }, 3), rn({ 3, 1 }, 4) })
  inplace_fd("div_", function(p, q) return (p * 1):div_(q) end, { rn({ 3, 4 }, 5), pos({ 4 }, 6) })
  inplace_fd("addcmul_", function(p, q, r) return (p * 1):addcmul_(q, r, 0.7) end, { rn({ 3, 4 }, 7), rn({ 4 }, 8), rn({ 3, 4 }, 9) })
  inplace_fd("addcdiv_", function(p, q, r) return (p * 1):addcdiv_(q, r, 0.7) end, { rn({ 3, 4 }, 10), rn({ 3, 4 }, 11), pos({ 3, 4 }, 12) })
  inplace_fd("lerp_", function(p, q, r) return (p * 1):lerp_(q, r) end, { rn({ 3, 4 }, 13), rn({ 3, 4 }, 14), pos({ 4 }, 15) })
  inplace_fd("sqrt_", function(p) return (p * 1):sqrt_() end, { pos({ 3, 4 }, 16) })
  inplace_fd("sin_ cos_", function(p) return (p * 1):sin_():cos_() end, { rn({ 3, 4 }, 17) })
  inplace_fd("copy_ broadcast", function(p, q) return (p * 1):copy_(q) * p end, { rn({ 3, 4 }, 18), rn({ 4 }, 19) })
end

-- 11. F.linear with its fused ReLU on 1-D and 3-D inputs
function T.linear_relu_any_rank()
  local w, b = gc.away_from_zero({ 3, 4 }, 2), rn({ 3 }, 3)
  for _, shape in ipairs { { 4 }, { 2, 5, 4 } } do
    gradcheck(function(x, ww, bb) return F.linear(x, ww, bb, { activation = "relu" }) end,
      { gc.away_from_zero(shape, 1), w:clone(), b:clone() }, { name = "linear+relu " .. #shape .. "-D", eps = 1e-3 })
  end
end

-- 12. .grad is never shared
function T.grad_tensors_are_not_shared()
  local g = tensor.ones { 3 }
  local u, w = leaf { 1, 2, 3 }, leaf { 4, 5, 6 }
  ;(u + w):backward(g)
  u.grad:mul_(2)
  close(w.grad, { 1, 1, 1 }, 0, "w.grad after u.grad:mul_(2)")
  close(g, { 1, 1, 1 }, 0, "the gradient given to backward()")
  local x = leaf { 1, 2 }
  x:sum():backward(g:narrow(1, 1, 1):reshape {})
  x.grad:add_(1)
  close(g, { 1, 1, 1 }, 0, "a leaf's own backward")
  x = leaf { 1, 2, 3 }
  x:backward(g)
  x.grad:mul_(3)
  close(g, { 1, 1, 1 }, 0, "backward() on the leaf itself")
  -- through views and products
  u, w = leaf { 1, 2, 3 }, leaf { 4, 5, 6 }
  ;(u:view(3, 1) * 1 + w:view(3, 1)):backward(tensor.ones(3, 1))
  u.grad:mul_(2)
  close(w.grad, { 1, 1, 1 }, 0, "w.grad after u.grad:mul_(2), through views")
  u, w = leaf { 1, 2, 3 }, leaf { 4, 5, 6 }
  ;(u * w):sum():backward()
  u.grad:mul_(2)
  close(w.grad, { 1, 2, 3 }, 0, "w.grad after u.grad:mul_(2), through mul")
end

-- 13. detach shares storage and strides
function T.detach_is_a_view()
  local m = tensor.randn { 3, 4 }
  local t = m:t()
  local d = t:detach()
  check(d:stride()[1] == t:stride()[1] and d:stride()[2] == t:stride()[2], "strides kept")
  d[2][1] = 99
  close(m:get(1, 2), 99, 0, "a write to the detached view reaches the source")
  check(not d.requires_grad, "no history")
end

-- 14., 15. softmax / log_softmax along any dim: contiguous, one value
function T.softmax_along_any_dim()
  local x = tensor.from { { 1, 2, 3 }, { 0.5, -1, 2 } }
  local s = F.softmax(x, 1)
  check(s:is_contiguous(), "softmax(x, 1) contiguous")
  -- torch: torch.tensor([[1.,2,3],[0.5,-1,2]]).softmax(0)
  close(s:view(6), { 0.622459, 0.952574, 0.731059, 0.377541, 0.047426, 0.268941 }, TOL, "softmax dim 1")
  check(F.log_softmax(x, 1):is_contiguous(), "log_softmax(x, 1) contiguous")
  gradcheck(function(a) return F.log_softmax(a, 1) end, { rn({ 3, 4 }, 1) }, { name = "log_softmax dim 1" })
end

function T.log_softmax_returns_one_value()
  local x = tensor.from { { 1, 2, 3 }, { 0.5, -1, 2 } }
  check(select("#", F.log_softmax(x)) == 1, "F.log_softmax returns one value")
  check(select("#", F.log_softmax(x, 1)) == 1, "F.log_softmax(x, 1) returns one value")
end

-- 16. norm(p)
function T.norm_honours_p()
  close(tensor.from({ 3, -4 }):norm(1):item(), 7, 0, "norm(1) of [3, -4]")
  close(tensor.from({ 3, -4 }):norm():item(), 5, 1e-7, "norm() of [3, -4]")
  local x = leaf { 3, -4 }
  x:norm(1):backward()
  close(x.grad, { 1, -1 }, 0, "norm(1) gradient") -- torch: x.norm(1).backward()
  -- torch: x.norm(3, dim=1).sum().backward()
  x = leaf { { 1, -2, 0.5 }, { 0, 3, -1 } }
  x:norm(3, 2):sum():backward()
  close(x.grad, { 0.229005, -0.916019, 0.057251, 0, 0.976046, -0.10845 }, TOL, "norm(3, dim)", ATOL)
  -- torch: x.norm(float('inf')).backward()
  x = leaf { { 1, -2, 0.5 }, { 0, 3, -1 } }
  x:norm(math.huge):backward()
  close(x.grad, { 0, 0, 0, 0, 1, 0 }, 0, "norm(inf)")
  gradcheck(function(a) return a:norm(2, 1, true) end, { rn({ 3, 4 }, 1) }, { name = "norm(2, dim, keep)" })
  gradcheck(function(a) return a:norm(1.5) end, { gc.away_from_zero({ 3, 4 }, 2) }, { name = "norm(1.5)" })
end

-- The ops added with issue 12. torch: x = [[0.3, -1.2, 2], [1.5, 0.1, -0.7]];
-- out = f(x); (out * arange(1, n + 1).reshape(out.shape)).sum().backward()
function T.new_ops_against_torch()
  local X = { { 0.3, -1.2, 2.0 }, { 1.5, 0.1, -0.7 } }
  local refs = {
    { "sin", function(x) return x:sin() end, { 0.955337, 0.724715, -1.248441, 0.282949, 4.975021, 4.589053 } },
    { "cos", function(x) return x:cos() end, { -0.29552, 1.864078, -2.727892, -3.98998, -0.499167, 3.865306 } },
    { "logsumexp(2)", function(x) return x:logsumexp(2) end, { 0.149319, 0.033318, 0.817364, 1.473405, 0.363337, 0.163258 } },
    { "var(1)", function(x) return x:var(1) end, { -1.2, -2.6, 8.1, 1.2, 2.6, -8.099999 } },
    { "std()", function(x) return x:std() end, { -0.005403, -0.248522, 0.270132, 0.189093, -0.037819, -0.167482 } },
    -- torch.var(x, 1, unbiased=False)
    { "var(2, false, 0)", function(x) return x:var(2, false, 0) end, { -0.044444, -1.044445, 1.088889, 1.6, -0.266667, -1.333333 } },
    { "cumsum(2)", function(x) return x:cumsum(2) end, { 6, 5, 3, 15, 11, 6 } },
    { "prod(2)", function(x) return x:prod(2) end, { -2.4, 0.6, -0.36, -0.14, -2.1, 0.3 } },
    { "prod()", function(x) return x:prod() end, { 0.252, -0.063, 0.0378, 0.0504, 0.756, -0.108 } },
    -- torch: x.gather(1, tensor([[2, 0], [1, 1]])) (0-based there)
    { "gather", function(x) return x:gather(2, tensor.from { { 3, 1 }, { 2, 2 } }) end, { 2, 0, 1, 0, 7, 0 } },
    -- torch.where(x > 0, x*x, -x)
    { "where", function(x) return tensor.where(x:gt(0), x * x, -x) end, { 0.6, -2, 12, 12, 1, -6 } },
    { "cat", function(x) return tensor.cat({ x, x * 2 }, 1) end, { 15, 18, 21, 24, 27, 30 } },
    { "stack", function(x) return tensor.stack({ x, x:exp() }, 2) end, { 6.399435, 3.505971, 47.334335, 51.816891, 20.156879, 14.959023 } },
    { "floor(x) * x", function(x) return x:floor() * x end, { 0, -4, 6, 4, 0, -6 } },
    { "x % 0.7", function(x) return x % 0.7 end, { 1, 2, 3, 4, 5, 6 } },
  }
  for _, r in ipairs(refs) do
    local g = weighted_grad(r[2], leaf(X))
    check(g ~= nil, r[1] .. ": no gradient")
    close(g, r[3], 1e-4, r[1], ATOL)
  end
  -- torch: tensor([2., 0, 3]).prod().backward() -> 0, 6, 0
  local z = leaf { 2, 0, 3 }
  z:prod():backward()
  close(z.grad, { 0, 6, 0 }, 0, "prod with one zero")
  z = leaf { 2, 0, 0 }
  z:prod():backward()
  close(z.grad, { 0, 0, 0 }, 0, "prod with two zeros")
end

function T.new_ops_against_finite_differences()
  gradcheck(function(a) return a:logsumexp(1, true) end, { rn({ 3, 4 }, 1) }, { name = "logsumexp keep" })
  gradcheck(function(a) return a:logsumexp() end, { rn({ 3, 4 }, 2) }, { name = "logsumexp all" })
  gradcheck(function(a) return a:std(2, true) end, { rn({ 3, 4 }, 3) }, { name = "std dim keep" })
  gradcheck(function(a) return a:var() end, { rn({ 3, 4 }, 4) }, { name = "var all" })
  gradcheck(function(a) return a:t():cumsum(1) end, { rn({ 3, 4 }, 5) }, { name = "cumsum of a transpose" })
  gradcheck(function(a) return a:prod(1) end, { rn({ 3, 4 }, 6) }, { name = "prod dim" })
  gradcheck(function(a, b) return tensor.where(a:gt(0), a, b) end, { gc.away_from_zero({ 3, 4 }, 7), rn({ 4 }, 8) }, { name = "where broadcast" })
  gradcheck(function(a) return tensor.where(a:gt(0), a, 0.5) end, { gc.away_from_zero({ 3, 4 }, 9) }, { name = "where number" })
  gradcheck(function(a, b) return tensor.cat({ a, b:t() }, 2) end, { rn({ 3, 2 }, 10), rn({ 4, 3 }, 11) }, { name = "cat dim 2" })
  gradcheck(function(a, b) return tensor.stack({ a, b }, -1) end, { rn({ 3, 2 }, 12), rn({ 3, 2 }, 13) }, { name = "stack dim -1" })
  gradcheck(function(a) return a:gather(1, tensor.from { { 1, 3, 3 }, { 2, 1, 3 } }) end, { rn({ 3, 3 }, 14) }, { name = "gather dim 1 repeats" })
  gradcheck(function(a, b) return a % b end, { pos({ 3, 4 }, 15), pos({ 4 }, 16) }, { name = "tensor % tensor", eps = 1e-3 })
  gradcheck(function(a) return tensor.maximum(a, 0.1) + tensor.minimum(0.2, a) end, { gc.distinct({ 3, 4 }, 17) }, { name = "maximum/minimum number", eps = 1e-3 })
end

-- Found by the differential tests: d(a % b)/db is minus the quotient the forward
-- used, not floor(a / b) in float32 (0.7 / 0.1 rounds to 7 although 0.7 % 0.1 is
-- 0.1, a quotient of 6); and a zero std has gradient 0, not NaN.
function T.remainder_quotient_and_zero_std()
  local a, b = tensor.from { 0.7, 1.0, 0.3, -0.5 }, leaf { 0.1, 0.2, 0.1, 0.1 }
  -- torch: torch.remainder(a, b).sum().backward() -> -6, -4, -3, 5
  ;(a % b):sum():backward()
  close(b.grad, { -6, -4, -3, 5 }, 0, "d(a % b)/db")
  local x = leaf { 1.5, 1.5, 1.5 }
  x:std():backward() -- torch: x.std().backward() -> 0, 0, 0
  close(x.grad, { 0, 0, 0 }, 0, "std of equal values")
  x = leaf(1.5)
  x:std(nil, false, 0):backward()
  close(x.grad, { 0 }, 0, "std of a 0-d tensor, correction 0")
end

-- In-place on a tensor whose grad a leaf accumulates: optimizers' path still works.
function T.training_loop_by_hand()
  local w = leaf { 1, -1 }
  for _ = 1, 3 do
    w.grad = nil
    local loss = (2 * w * w):sum()
    loss:backward()
    tensor.no_grad(function() w:sub_(w.grad, 0.1) end)
  end
  -- w <- w - 0.1 * 4w = 0.6 w, three times
  close(w, { 0.216, -0.216 }, 1e-6, "three SGD steps")
end

return T
