-- Plain-Lua transcriptions of the textbook's pseudocode (Goodfellow et al.,
-- "Optimization for Training Deep Models", /work/shared/seed), written straight
-- from its Algorithms, element by element in double precision, with its
-- symbols: theta, v (velocity), r (accumulator), s (first moment), epsilon
-- (learning rate), alpha (momentum), rho, rho1, rho2, delta.
-- Each function performs ONE iteration of the algorithm's while-loop on
-- arrays, given the gradient estimate g_hat of this iteration.
local ref = {}

-- The fixed gradient sequence and initial parameters of the tests (also used
-- by tools/gen_optim_fixtures.lua). Rounded to float32, as the tensors hold them.
ref.f32 = compat.f32
function ref.grad(k, i) return ref.f32(math.sin(0.9 * k + 1.7 * i) * (1 + 0.5 * (k % 3)) + 0.05 * math.cos(0.3 * k * i)) end
function ref.param0(i) return ref.f32(1 + 0.5 * math.sin(i)) end

-- Round a double to the nearest float32 (ties to even) in plain arithmetic,
-- without string.pack, so that it also runs on LuaJIT.
function ref.round32(x)
  if x ~= x or x == 0 or x == math.huge or x == -math.huge then return x end
  local a = math.abs(x)
  local e = math.floor(math.log(a) / math.log(2))
  if 2 ^ e > a then e = e - 1 elseif 2 ^ (e + 1) <= a then e = e + 1 end
  if e < -126 then e = -126 end
  local q = 2 ^ (e - 23)
  local m = a / q
  local fm = math.floor(m)
  local frac = m - fm
  if frac > 0.5 or (frac == 0.5 and fm % 2 == 1) then fm = fm + 1 end
  local y = fm * q
  if y > 3.4028234663852886e38 then y = math.huge end
  return x < 0 and -y or y
end

-- The conventions' gradient sequence: ref.grad's shape, element i of n scaled by
-- 10^(-6 (i-1)/(n-1)), so the elements span magnitudes 1 to 1e-6 and where epsilon
-- sits matters (tools/gen_torch_fixtures.py computes the same floats).
function ref.span_grad(k, i, n)
  local g = math.sin(0.9 * k + 1.7 * i) * (1 + 0.5 * (k % 3)) + 0.05 * math.cos(0.3 * k * i)
  return ref.round32(g * 10 ^ (-6 * (i - 1) / (n - 1)))
end

-- Algorithm: SGD.  theta <- theta - epsilon_k g_hat
function ref.sgd(theta, g, epsilon_k)
  for i = 1, #theta do theta[i] = theta[i] - epsilon_k * g[i] end
end

-- Algorithm: SGD with momentum.  v <- alpha v - epsilon g_hat;  theta <- theta + v
function ref.momentum(theta, v, g, epsilon, alpha)
  for i = 1, #theta do
    v[i] = alpha * v[i] - epsilon * g[i]
    theta[i] = theta[i] + v[i]
  end
end

-- Algorithm: SGD with Nesterov momentum, literally. grad_at(theta_tilde)
-- returns g_hat at the interim point theta_tilde = theta + alpha v.
function ref.nesterov(theta, v, grad_at, epsilon, alpha)
  local tilde = {}
  for i = 1, #theta do tilde[i] = theta[i] + alpha * v[i] end
  local g = grad_at(tilde)
  for i = 1, #theta do
    v[i] = alpha * v[i] - epsilon * g[i]
    theta[i] = theta[i] + v[i]
  end
end

-- Algorithm: AdaGrad.  r <- r + g.g;  dtheta <- -epsilon/(delta + sqrt(r)) . g
function ref.adagrad(theta, r, g, epsilon, delta)
  for i = 1, #theta do
    r[i] = r[i] + g[i] * g[i]
    local dtheta = -epsilon / (delta + math.sqrt(r[i])) * g[i]
    theta[i] = theta[i] + dtheta
  end
end

-- Algorithm: RMSProp.  r <- rho r + (1-rho) g.g;  dtheta <- -epsilon/(delta + sqrt(r)) . g
function ref.rmsprop(theta, r, g, epsilon, rho, delta)
  for i = 1, #theta do
    r[i] = rho * r[i] + (1 - rho) * g[i] * g[i]
    local dtheta = -epsilon / (delta + math.sqrt(r[i])) * g[i]
    theta[i] = theta[i] + dtheta
  end
end

-- Algorithm: RMSProp with Nesterov momentum, literally (the textbook writes
-- epsilon/sqrt(r), without delta). grad_at(theta_tilde) as in ref.nesterov.
function ref.rmsprop_nesterov(theta, v, r, grad_at, epsilon, rho, alpha)
  local tilde = {}
  for i = 1, #theta do tilde[i] = theta[i] + alpha * v[i] end
  local g = grad_at(tilde)
  for i = 1, #theta do
    r[i] = rho * r[i] + (1 - rho) * g[i] * g[i]
    v[i] = alpha * v[i] - epsilon / math.sqrt(r[i]) * g[i]
    theta[i] = theta[i] + v[i]
  end
end

-- Algorithm: Adam. t is the time step after t <- t + 1. The textbook writes
-- sqrt(r_hat + delta) (eps_inside_sqrt = true); book_form = true uses
-- sqrt(r_hat) + delta, the book's and every framework's form (our default).
function ref.adam(theta, s, r, g, t, epsilon, rho1, rho2, delta, book_form)
  for i = 1, #theta do
    s[i] = rho1 * s[i] + (1 - rho1) * g[i]
    r[i] = rho2 * r[i] + (1 - rho2) * g[i] * g[i]
    local s_hat = s[i] / (1 - rho1 ^ t)
    local r_hat = r[i] / (1 - rho2 ^ t)
    local dtheta
    if book_form then dtheta = -epsilon * s_hat / (math.sqrt(r_hat) + delta)
    else dtheta = -epsilon * s_hat / math.sqrt(r_hat + delta) end
    theta[i] = theta[i] + dtheta
  end
end

-- The textbook's linear schedule (Section 8.3.1): e_k = (1 - k/tau) e0 + (k/tau) e_tau, then e_tau.
function ref.linear(k, e0, etau, tau)
  if k >= tau then return etau end
  return (1 - k / tau) * e0 + (k / tau) * etau
end

return ref
