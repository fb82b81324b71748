-- Autograd over the reductions: sums, means, extrema, var/std, cumsum, prod, norms.
local g = require "tensor.grad"
local C = g.C
local raw = g.raw
local record = g.record
local any = g.any
local posdim = g.posdim
local expand_back = g.expand_back
local def = g.def

-- ---- reductions --------------------------------------------------------
def("sum", function(a, dim, keep)
  local y = raw.sum(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "sum", { a }, function(g) return raw.contiguous(expand_back(g, sa, dim, keep)) end)
end)
def("mean", function(a, dim, keep)
  local y = raw.mean(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  local n = dim and sa[posdim(dim, #sa)] or a:numel()
  return record(y, "mean", { a }, function(g) return raw.div(expand_back(g, sa, dim, keep), n) end)
end)
def("sumsq", function(a, dim, keep)
  local y = raw.sumsq(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "sumsq", { a }, function(g) return raw.mul(raw.mul(expand_back(g, sa, dim, keep), a), 2) end, { a })
end)

-- max/min over everything: ties share the gradient evenly (torch's max());
-- along a dim: the gradient goes to the index returned (torch's max(dim)).
local function extremum(name)
  def(name, function(a, dim, keep)
    local y, idx = raw[name](a, dim, keep)
    if not any(a) then return y, idx end
    local sa = a:shape()
    record(y, name, { a }, function(g)
      if not dim then
        local mask = raw.eq(a, y)
        return raw.mul(mask, raw.div(g, raw.sum(mask)))
      end
      local d = posdim(dim, #sa)
      local ii = keep and idx or raw.unsqueeze(idx, d)
      local pos = {}
      for i = 1, #sa do pos[i] = 1 end
      pos[d] = sa[d]
      local onehot = raw.eq(raw.reshape(C.arange(1, sa[d] + 1), pos), ii)
      return raw.mul(onehot, expand_back(g, sa, dim, keep))
    end, dim and { idx } or { a, y }) -- what PyTorch saves: the indices, or input and result
    return y, idx
  end)
end
extremum("max")
extremum("min")

-- norm(p = 2, dim, keep): (sum |a|^p)^(1/p); p = math.huge is the max norm,
-- -math.huge the min, 0 counts the nonzeros. The gradient of a zero norm is 0
-- (PyTorch's subgradient), not NaN.
def("norm", function(a, p, dim, keep)
  p = p or 2
  if type(p) ~= "number" or p ~= p then C.raise("norm: p must be a number, got " .. tostring(p)) end
  local y = raw.norm(a, p, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "norm", { a }, function(g)
    local ge, ye = expand_back(g, sa, dim, keep), expand_back(y, sa, dim, keep)
    if p == 0 then return raw.mul(ge, 0) end
    if p == 1 then return raw.mul(ge, raw.sign(a)) end
    if p == math.huge or p == -math.huge then
      local mask = raw.eq(raw.abs(a), ye)
      local count = expand_back(raw.sum(mask, dim, keep), sa, dim, keep)
      return raw.div(raw.mul(raw.mul(ge, raw.sign(a)), mask), count)
    end
    local ysafe = raw.add(ye, raw.eq(ye, 0)) -- where the norm is 0, a is 0 too: gradient 0
    if p == 2 then return raw.mul(a, raw.div(ge, ysafe)) end
    -- sign(a) |a|^(p-1) / norm^(p-1)
    local num = raw.mul(raw.sign(a), raw.pow(raw.abs(a), p - 1))
    return raw.mul(ge, raw.div(num, raw.pow(ysafe, p - 1)))
  end, { a, y })
end)

-- logsumexp(dim, keep): d/da = exp(a - y), the softmax along dim.
def("logsumexp", function(a, dim, keep)
  local y = raw.logsumexp(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "logsumexp", { a }, function(g)
    return raw.mul(expand_back(g, sa, dim, keep), raw.exp(raw.sub(a, expand_back(y, sa, dim, keep))))
  end, { a, y })
end)

-- var/std([dim [, keep [, correction = 1]]]): dim nil = over all elements.
-- d var/da = 2 (a - mean) / (n - correction); d std/da = that / (2 std).
local function count_of(sa, dim)
  if not dim then
    local n = 1
    for i = 1, #sa do n = n * sa[i] end
    return n
  end
  return sa[posdim(dim, #sa)]
end
local function centered(a, dim)
  return raw.sub(a, dim and raw.mean(a, dim, true) or raw.mean(a))
end
def("var", function(a, dim, keep, correction)
  local corr = correction or 1
  local y = raw.var(a, dim, keep, corr)
  if not any(a) then return y end
  local sa = a:shape()
  local n = count_of(sa, dim)
  return record(y, "var", { a }, function(g)
    return raw.mul(expand_back(g, sa, dim, keep), raw.mul(centered(a, dim), 2 / (n - corr)))
  end, { a })
end)
def("std", function(a, dim, keep, correction)
  local corr = correction or 1
  local y = raw.std(a, dim, keep, corr)
  if not any(a) then return y end
  local sa = a:shape()
  local n = count_of(sa, dim)
  return record(y, "std", { a }, function(g)
    -- a zero std (all values equal) has gradient 0, as PyTorch's masked_fill
    local ye = expand_back(y, sa, dim, keep)
    local ysafe = raw.add(ye, raw.eq(ye, 0))
    return raw.div(raw.mul(expand_back(g, sa, dim, keep), centered(a, dim)), raw.mul(ysafe, n - corr))
  end, { a, y })
end)

-- cumsum(dim): the gradient is the reversed cumulative sum of g.
def("cumsum", function(a, dim)
  if dim == nil then C.raise("cumsum: dim is required") end
  local y = raw.cumsum(a, dim)
  if not any(a) then return y end
  return record(y, "cumsum", { a }, function(g)
    -- sum from i to the end = total - (sum up to i) + g_i
    return raw.add(raw.sub(raw.sum(g, dim, true), raw.cumsum(g, dim)), g)
  end)
end)

-- prod([dim [, keep]]): d/da_i = the product of the others, zeros included
-- (one zero: only that element has a gradient; two or more: none has).
def("prod", function(a, dim, keep)
  local y = raw.prod(a, dim, keep)
  if not any(a) then return y end
  local sa = a:shape()
  return record(y, "prod", { a }, function(g)
    local z = raw.eq(a, 0)
    local a1 = raw.add(a, z) -- zeros read as ones
    local pn = dim and raw.prod(a1, dim, true) or raw.prod(a1)
    local nz = dim and raw.sum(z, dim, true) or raw.sum(z)
    local at_nonzero = raw.mul(raw.div(pn, a1), raw.eq(nz, 0))
    local at_zero = raw.mul(pn, raw.eq(nz, 1))
    local d = raw.add(raw.mul(z, at_zero), raw.mul(raw.sub(1, z), at_nonzero))
    return raw.mul(expand_back(g, sa, dim, keep), d)
  end, { a, y }) -- y unread, but saved as PyTorch does, so the same writes are errors
end)

