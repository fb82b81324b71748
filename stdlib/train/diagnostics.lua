-- Diagnostics of the textbook's challenges (chapter 8.2), measured while training:
--   ill-conditioning   the two terms of the second-order change of the loss along a
--                      gradient step -eps*g: 1/2 eps^2 g'Hg against eps g'g (eq. 8.10)
--   curvature          the Hessian's largest eigenvalue (power iteration) against 2/lr,
--                      its smallest (Lanczos)
--   noisy gradients    the variance of minibatch gradients and the simple noise scale
--                      B = tr(Sigma)/|G|^2 (McCandlish et al., 2018, "An Empirical Model
--                      of Large-Batch Training")
-- on fixed probe batches, in evaluation mode (no dropout, batch norm on its running
-- statistics, no random numbers drawn), so a run with diagnostics trains exactly as
-- one without.
--
-- Hessian-vector products: optlab's autograd records closures that call the C
-- backward kernels directly, so backward builds no tape of its own and there is no
-- double backward. Hv is therefore taken by central differences of gradients,
--   Hd = (g(theta + d) - g(theta - d)) / 2,
-- where d is the displacement actually applied: d = (fl(theta + h v) - fl(theta - h v)) / 2,
-- computed in float32 (exact by Sterbenz's lemma), so the rounding of theta +- h v
-- does not enter. On a quadratic Hd is then exact up to the rounding of the two
-- gradients. The parameters are copied back bit for bit afterwards.
local base = require "train.base"
local train, fail = base.train, base.fail
local raw = tensor.raw

local D = {}
train.diagnostics = D

-- ---- vectors: lists of tensors, one per parameter ---------------------------

local function dot(a, b)
  local s = 0
  for i = 1, #a do s = s + raw.dot(raw.reshape(a[i], { -1 }), raw.reshape(b[i], { -1 })):item() end
  return s
end
local function norm(a) return math.sqrt(dot(a, a)) end
local function scale(a, c) for i = 1, #a do raw.mul_(a[i], c) end return a end
local function axpy(y, x, c) for i = 1, #y do raw.add_(y[i], x[i], c) end return y end   -- y += c x
local function clone(a) local o = {} for i = 1, #a do o[i] = raw.clone(a[i]) end return o end

-- A random unit vector shaped like params (Philox, keyed by seed: the global generator is untouched).
local function random_unit(params, seed)
  local v = {}
  for i, p in ipairs(params) do v[i] = raw.contiguous(tensor.randn(p:shape(), { seed = seed * 7919 + i })) end
  return scale(v, 1 / norm(v))
end

-- ---- gradients and Hessian-vector products ----------------------------------

-- The gradient of closure() at the parameters as they are: a list of fresh tensors, and the loss.
-- closure() computes the loss (a tensor) from the parameters.
function D.gradient(params, closure)
  for _, p in ipairs(params) do p.grad = nil end
  local loss = closure()
  local lv = loss:item()
  loss:backward()
  local g = {}
  for i, p in ipairs(params) do
    g[i] = p.grad or tensor.zeros(p:shape())
    p.grad = nil
  end
  return g, lv
end

-- The step of the central difference: |h v| = rel * max(|theta|, 1), about float32's
-- cube-root epsilon: truncation (h^2) and rounding (eps/h) balance there.
D.REL_STEP = 5e-3

-- H d for a direction v (a list of tensors): returns Hd and the displacement d
-- actually applied (parallel to v up to float32 rounding). theta0: the parameters'
-- values (clones), restored into the parameters afterwards.
function D.hvp(params, closure, v, theta0, rel)
  theta0 = theta0 or clone(params)
  local h = (rel or D.REL_STEP) * math.max(norm(theta0), 1) / norm(v)
  local plus, minus = {}, {}
  for i, p in ipairs(params) do
    raw.copy_(p, theta0[i]); raw.add_(p, v[i], h)
    plus[i] = raw.clone(p)
  end
  local gp = D.gradient(params, closure)
  for i, p in ipairs(params) do
    raw.copy_(p, theta0[i]); raw.add_(p, v[i], -h)
    minus[i] = raw.clone(p)
  end
  local gm = D.gradient(params, closure)
  for i, p in ipairs(params) do raw.copy_(p, theta0[i]) end
  local hd, d = {}, {}
  for i = 1, #params do
    d[i] = raw.mul_(raw.sub_(plus[i], minus[i]), 0.5)
    hd[i] = raw.mul_(raw.sub_(gp[i], gm[i]), 0.5)
  end
  return hd, d
end

-- Power iteration on Hessian-vector products, on H - shift I: the eigenvalue of
-- largest magnitude (at most `iters` products; stops when the Rayleigh quotient moves
-- by less than tol relative). Returns lambda (of H), the unit vector, the products used.
local function power(params, closure, o, theta0, shift)
  local v = random_unit(params, o.seed or 1)
  local lambda, used = nil, 0
  for k = 1, o.iters or 20 do
    local hd, d = D.hvp(params, closure, v, theta0, o.rel)
    if shift ~= 0 then axpy(hd, d, -shift) end
    used = k
    local dd = dot(d, d)
    local l = dot(d, hd) / dd
    local n = norm(hd)
    if n == 0 or n ~= n then lambda = l break end
    v = scale(hd, 1 / n)
    local done = lambda and math.abs(l - lambda) <= (o.tol or 1e-5) * math.abs(l)
    lambda = l
    if done then break end
  end
  return lambda + shift, v, used
end

-- The largest eigenvalue of the Hessian. Power iteration finds the one of largest
-- magnitude; when that is negative (a saddle's negative curvature dominates), a second
-- run on H - lambda I, whose spectrum is >= 0, finds the largest.
function D.power(params, closure, o)
  o = o or {}
  local theta0 = clone(params)
  local l, v, used = power(params, closure, o, theta0, 0)
  if l < 0 then
    local l2, v2, used2 = power(params, closure, o, theta0, l)
    return l2, v2, used + used2
  end
  return l, v, used
end

-- The eigenvalues of the symmetric tridiagonal matrix (a on the diagonal, b beside it)
-- below x: Sturm sequence count.
local function below(a, b, x)
  local count, q = 0, 1
  for i = 1, #a do
    local bb = i > 1 and b[i - 1] ^ 2 or 0
    q = a[i] - x - (i > 1 and bb / q or 0)
    if q == 0 then q = 1e-300 end
    if q < 0 then count = count + 1 end
  end
  return count
end

-- The k-th smallest eigenvalue of the tridiagonal matrix, by bisection.
local function tridiag_eig(a, b, k)
  local lo, hi = math.huge, -math.huge
  for i = 1, #a do
    local r = (i > 1 and math.abs(b[i - 1]) or 0) + (i < #a and math.abs(b[i]) or 0)
    lo, hi = math.min(lo, a[i] - r), math.max(hi, a[i] + r)
  end
  for _ = 1, 200 do
    local mid = (lo + hi) / 2
    if mid == lo or mid == hi then break end
    if below(a, b, mid) >= k then hi = mid else lo = mid end
  end
  return (lo + hi) / 2
end

-- Lanczos with full reorthogonalization (keeps `steps` vectors shaped like the
-- parameters): the extreme Ritz values estimate the smallest and largest eigenvalues.
-- Returns lambda_min, lambda_max, the Ritz values (ascending).
function D.lanczos(params, closure, o)
  o = o or {}
  local theta0 = clone(params)
  local q = random_unit(params, (o.seed or 1) + 1000003)
  local Q, a, b = { q }, {}, {}
  local m = o.steps or 20
  for j = 1, m do
    local w, d = D.hvp(params, closure, Q[j], theta0, o.rel)
    -- w = H d with d ~ Q[j]: rescale to H Q[j]
    local c = dot(d, Q[j]) / dot(d, d)
    scale(w, c)
    a[j] = dot(w, Q[j])
    for i = 1, j do axpy(w, Q[i], -dot(w, Q[i])) end   -- full reorthogonalization (twice is enough)
    for i = 1, j do axpy(w, Q[i], -dot(w, Q[i])) end
    if j == m then break end
    local nb = norm(w)
    if not (nb > 1e-6 * math.abs(a[j])) then break end   -- an invariant subspace: T is exact
    b[j] = nb
    Q[j + 1] = scale(w, 1 / nb)
  end
  local ritz = {}
  for k = 1, #a do ritz[k] = tridiag_eig(a, b, k) end
  return ritz[1], ritz[#ritz], ritz
end

-- Gradient noise from probe batches (closures, one per batch of size B):
-- grad_var = tr Cov(g_B) = sum |g_i - mean|^2 / (P - 1), the variance of a
-- minibatch gradient of size B; tr(Sigma) = B grad_var per example; |G|^2 unbiased as
-- |mean|^2 - tr(Sigma)/(P B) (McCandlish et al., appendix A), or |mean|^2 when noise
-- swamps it; noise_scale = tr(Sigma)/|G|^2.
function D.noise(params, closures, B)
  local P = #closures
  if P < 2 then fail("diagnostics: the gradient noise needs probe_batches >= 2, got " .. P) end
  local gs, mean = {}, nil
  for i, cl in ipairs(closures) do
    gs[i] = D.gradient(params, cl)
    if mean then axpy(mean, gs[i], 1) else mean = clone(gs[i]) end
  end
  scale(mean, 1 / P)
  local ss = 0
  for i = 1, P do
    local d = clone(gs[i])
    axpy(d, mean, -1)
    ss = ss + dot(d, d)
  end
  local grad_var = ss / (P - 1)
  local trace = B * grad_var
  local g2 = dot(mean, mean)
  local G2 = g2 - trace / (P * B)
  if not (G2 > 0) then G2 = g2 end
  return { grad_var = grad_var, noise_trace = trace, noise_scale = trace / G2 }
end

-- ---- in train.fit ----------------------------------------------------------

D.COLUMNS = { "hess_max", "sharpness", "hess_min", "ill_cond_gHg", "ill_cond_gg", "grad_var", "noise_scale" }
local KNOWN = { every = true, hessian = true, lanczos = true, noise = true, monitor = true, iters = true,
                lanczos_steps = true, probe_size = true, probe_batches = true, seed = true }

-- diagnostics = true | {every = "epoch" | k, hessian, lanczos, noise, monitor (each true by
-- default), iters = 20, lanczos_steps = 20, probe_size = batch_size, probe_batches = 8, seed = 1}
function D._options(o, batch_size, where)
  if o == nil or o == false then return nil end
  if o == true then o = {} end
  if type(o) ~= "table" then fail(where .. ": diagnostics must be true or a table {every, hessian, lanczos, noise, ...}") end
  local names = {}
  for k in pairs(KNOWN) do names[#names + 1] = k end
  table.sort(names)
  for k in pairs(o) do
    if not KNOWN[k] then fail(string.format("%s: unknown diagnostics option '%s' (valid: %s)", where, tostring(k), table.concat(names, ", "))) end
  end
  local c = { every = o.every or "epoch", iters = o.iters or 20, lanczos_steps = o.lanczos_steps or 20,
              probe_size = o.probe_size or batch_size, probe_batches = o.probe_batches or 8, seed = o.seed or 1 }
  for _, k in ipairs { "hessian", "lanczos", "noise", "monitor" } do c[k] = o[k] ~= false end
  if c.every ~= "epoch" and not (compat.is_integer(c.every) and c.every >= 1) then
    fail(where .. ": diagnostics.every must be \"epoch\" or a positive number of steps, got " .. tostring(c.every))
  end
  for _, k in ipairs { "iters", "lanczos_steps", "probe_size", "probe_batches" } do
    if not (compat.is_integer(c[k]) and c[k] >= 1) then
      fail(string.format("%s: diagnostics.%s must be a positive integer, got %s", where, k, tostring(c[k])))
    end
  end
  if c.noise and c.probe_batches < 2 then
    fail(where .. ": diagnostics.noise needs probe_batches >= 2 (the variance of the probe batches' gradients); got " .. c.probe_batches)
  end
  if not compat.is_integer(c.seed) then fail(where .. ": diagnostics.seed must be an integer") end
  return c
end

-- The probe batches: the first probe_batches batches of probe_size examples of a fixed
-- shuffle of the training set (seeded by diagnostics.seed, not by the run's seed).
function D._probes(c, train_ds, o)
  local data = base.data
  local loader = data.loader(train_ds, { batch_size = c.probe_size, shuffle = true, seed = c.seed, drop_last = true,
                                         normalize = o.normalize, one_hot = o.one_hot })
  local need = c.noise and c.probe_batches or 1
  if loader:steps() < need then
    fail(string.format("train.fit: diagnostics need %d probe batches of %d examples; the training set has %d examples",
                       need, c.probe_size, loader.n))
  end
  local out = {}
  for k = 1, need do
    local x, y = loader:batch(1, k)
    out[k] = { x = x, y = y }
  end
  return out
end

-- Measures every diagnostic asked for at the parameters as they are. forward(x) and
-- loss_fn(out, y) as fit has them; lr: the learning rate of the last step.
function D._measure(c, params, probes, forward, loss_fn, lr)
  local function closure_of(p) return function() return loss_fn(forward(p.x), p.y) end end
  local cl = closure_of(probes[1])
  local out = {}
  if c.hessian then
    out.hess_max = D.power(params, cl, { iters = c.iters, seed = c.seed })
    if lr and lr > 0 then out.sharpness = out.hess_max * lr / 2 end
  end
  if c.lanczos then out.hess_min = D.lanczos(params, cl, { steps = c.lanczos_steps, seed = c.seed }) end
  if c.monitor and lr then
    local g = D.gradient(params, cl)
    local hd, d = D.hvp(params, cl, g)
    -- g'Hg from d'Hd with d parallel to g
    local gg = dot(g, g)
    local gHg = dot(d, hd) / dot(d, d) * gg
    out.ill_cond_gHg, out.ill_cond_gg = 0.5 * lr * lr * gHg, lr * gg
  end
  if c.noise then
    local cls = {}
    for k, p in ipairs(probes) do cls[k] = closure_of(p) end
    local n = D.noise(params, cls, c.probe_size)
    out.grad_var, out.noise_scale = n.grad_var, n.noise_scale
  end
  for _, p in ipairs(params) do p.grad = nil end
  return out
end

-- ---- help ------------------------------------------------------------------
local help = require "help"
help.register(D, [[
train.diagnostics  Hessian eigenvalues, the textbook's ill-conditioning terms and the gradient noise scale
train.fit(..., {diagnostics = true | {every = "epoch" | k, hessian, lanczos, noise, monitor, iters = 20,
lanczos_steps = 20, probe_size = batch_size, probe_batches = 8, seed = 1}}) records them; the functions
below take params (a list of tensors) and closure() -> the loss (a tensor) at the parameters.]])
for _, d in ipairs {
  { D.gradient, "train.diagnostics.gradient(params, closure) -> grads, loss  the gradient at the parameters (fresh tensors)" },
  { D.hvp, "train.diagnostics.hvp(params, closure, v [, theta0, rel]) -> Hd, d  H times d ~ h v by central differences of gradients " ..
           "(no double backward in optlab's autograd); d is the displacement applied; the parameters are restored bit for bit" },
  { D.power, "train.diagnostics.power(params, closure [, {iters = 20, tol = 1e-5, seed = 1}]) -> lambda_max, v, products  " ..
             "power iteration on Hessian-vector products (shifted when a negative eigenvalue dominates)" },
  { D.lanczos, "train.diagnostics.lanczos(params, closure [, {steps = 20, seed = 1}]) -> lambda_min, lambda_max, ritz  " ..
               "Lanczos with full reorthogonalization; the Ritz values ascending" },
  { D.noise, "train.diagnostics.noise(params, closures, B) -> {grad_var, noise_trace, noise_scale}  the variance of the " ..
             "gradients of P probe batches of B examples and the simple noise scale tr(Sigma)/|G|^2 (McCandlish et al., 2018)" },
} do help.register(d[1], d[2]) end

return D
