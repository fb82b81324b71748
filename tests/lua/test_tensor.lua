-- The tensor core from Lua: every op against a naive Lua loop over t:get,
-- views, creation, indexing, printing, save/load, RNG, errors, the CLI.
local lib = require "lib"
local check, close, raises, identical = lib.check, lib.close, lib.raises, lib.identical

local T = {}

local OPTLAB = os.getenv("OPTLAB") or "./optlab"

-- ---- helpers -------------------------------------------------------------

local f32 = compat.f32

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

-- fn(idx) for every 1-based multi-index of shape, row-major.
local function each(shape, fn)
  local n = numel(shape)
  local idx = {}
  for d = 1, #shape do idx[d] = 1 end
  for _ = 1, n do
    fn(idx)
    for d = #shape, 1, -1 do
      idx[d] = idx[d] + 1
      if idx[d] <= shape[d] then break end
      idx[d] = 1
    end
  end
end

local function get(t, idx) return t:get(table.unpack(idx)) end
local function set(t, idx, v)
  local a = { table.unpack(idx) }
  a[#a + 1] = v
  t:set(table.unpack(a))
end

local function same_shape(t, shape, msg)
  local s = t:shape()
  local a, b = table.concat(s, ","), table.concat(shape, ",")
  if a ~= b then error((msg or "shape") .. ": got [" .. a .. "], want [" .. b .. "]", 2) end
end

-- Reproducible floats in [lo, hi): an LCG, no tensor code involved.
local state = 12345
local function rnd(lo, hi)
  state = (state * 1103515245 + 12345) % 2147483648
  return f32((lo or -2) + ((hi or 2) - (lo or -2)) * state / 2147483648)
end

local function randt(shape, lo, hi)
  local t = tensor.zeros(shape)
  each(shape, function(idx) set(t, idx, rnd(lo, hi)) end)
  return t
end

-- Every element of got equals want(idx) (exactly, or within rtol).
local function check_each(got, shape, want, rtol, msg)
  same_shape(got, shape, msg)
  each(shape, function(idx)
    local g, w = get(got, idx), want(idx)
    local ok
    if w ~= w then ok = g ~= g
    elseif g == w then ok = true
    elseif rtol then ok = math.abs(g - w) <= rtol * math.abs(w) + 1e-30
    else ok = g == w end
    if not ok then
      error(string.format("%s at [%s]: got %.9g, want %.9g", msg or "value", table.concat(idx, ","), g, w), 3)
    end
  end)
end

local function bshape(sa, sb)
  local nd, out = math.max(#sa, #sb), {}
  for d = 1, nd do
    local x, y = sa[d - (nd - #sa)] or 1, sb[d - (nd - #sb)] or 1
    assert(x == y or x == 1 or y == 1)
    out[d] = (x == 1) and y or x
  end
  return out
end

-- The element of t (or the number t) that broadcasts to output index idx.
local function bget(t, idx)
  if type(t) == "number" then return t end
  local s, nd, sub = t:shape(), #idx, {}
  for k = 1, #s do sub[k] = s[k] == 1 and 1 or idx[k + nd - #s] end
  if #s == 0 then return t:item() end
  return t:get(table.unpack(sub))
end

local BINOPS = {
  add = function(x, y) return x + y end,
  sub = function(x, y) return x - y end,
  mul = function(x, y) return x * y end,
  div = function(x, y) return x / y end,
  maximum = function(x, y) return math.max(x, y) end,
  minimum = function(x, y) return math.min(x, y) end,
  eq = function(x, y) return x == y and 1 or 0 end,
  ne = function(x, y) return x ~= y and 1 or 0 end,
  lt = function(x, y) return x < y and 1 or 0 end,
  le = function(x, y) return x <= y and 1 or 0 end,
  gt = function(x, y) return x > y and 1 or 0 end,
  ge = function(x, y) return x >= y and 1 or 0 end,
}

-- a op b (tensors or numbers) against the loop; + - * / of floats rounded
-- once to float are exact, so they are compared bit for bit.
local function check_binary(name, a, b, msg)
  local sa = type(a) == "number" and {} or a:shape()
  local sb = type(b) == "number" and {} or b:shape()
  local shape = bshape(sa, sb)
  local fn = BINOPS[name]
  local recv = type(a) == "number" and b or a
  local got = recv[name](a, b)
  check_each(got, shape, function(idx) return f32(fn(bget(a, idx), bget(b, idx))) end, nil,
             (msg or "") .. " " .. name)
end

-- ---- element-wise ----------------------------------------------------------

function T.binary_broadcasting()
  local cases = {
    { randt { 3, 1 }, randt { 4 } },
    { randt { 2, 3, 4 }, randt { 3, 1 } },
    { randt { 3, 1 }, randt { 1, 5 } },
    { randt { 2, 3, 4 }, randt { 4 } },
    { randt { 4 }, randt { 2, 3, 4 } },
    { randt { 1 }, randt { 7 } },
    { randt { 1, 1 }, randt { 1, 1 } },
    { randt { 7, 1, 5 }, randt { 1, 3, 1 } },
    { tensor.from(1.5), randt { 2, 3 } },
    { randt { 2, 3 }, tensor.from(-0.5) },
    { randt { 2, 3 }, 0.75 },
    { 0.75, randt { 2, 3 } },
  }
  for i, c in ipairs(cases) do
    for name in pairs(BINOPS) do check_binary(name, c[1], c[2], "case " .. i) end
  end
  -- ties for the comparisons and maximum/minimum
  local a, b = tensor.from { 1, 2, 3 }, tensor.from { { 1 }, { 2 }, { 3 } }
  for name in pairs(BINOPS) do check_binary(name, a, b, "ties") end
end

function T.binary_empty_broadcast()
  -- [1] with [0] broadcasts to [0] (NumPy), never reads the empty operand
  same_shape(tensor.ones(1) + tensor.zeros(0), { 0 })
  same_shape(tensor.zeros(0) + tensor.ones(1), { 0 })
  same_shape(tensor.ones(3, 1) * tensor.zeros(0), { 3, 0 })
  same_shape(tensor.zeros(0, 1) - tensor.ones(1, 4), { 0, 4 })
  -- and a batch of 1 with a batch of 0 is an empty batch, not one read out of an empty tensor
  same_shape(tensor.ones(1, 2, 3):matmul(tensor.ones(0, 3, 4)), { 0, 2, 4 })
  same_shape(tensor.ones(0, 2, 3):matmul(tensor.ones(1, 3, 4)), { 0, 2, 4 })
end

function T.binary_metamethods_and_scalars()
  local a, b = randt { 3, 4 }, randt({ 3, 4 }, 0.5, 2)
  check_each(a + b, { 3, 4 }, function(i) return f32(get(a, i) + get(b, i)) end)
  check_each(a - b, { 3, 4 }, function(i) return f32(get(a, i) - get(b, i)) end)
  check_each(a * b, { 3, 4 }, function(i) return f32(get(a, i) * get(b, i)) end)
  check_each(a / b, { 3, 4 }, function(i) return f32(get(a, i) / get(b, i)) end)
  check_each(-a, { 3, 4 }, function(i) return -get(a, i) end)
  check_each(2 - a, { 3, 4 }, function(i) return f32(2 - get(a, i)) end)
  check_each(a - 2, { 3, 4 }, function(i) return f32(get(a, i) - 2) end)
  check_each(3 / b, { 3, 4 }, function(i) return f32(3 / get(b, i)) end)
  check_each(b / 3, { 3, 4 }, function(i) return f32(get(b, i) / 3) end)
  check_each(0.5 * a, { 3, 4 }, function(i) return f32(0.5 * get(a, i)) end)
  check_each(b ^ 2, { 3, 4 }, function(i) return get(b, i) ^ 2 end, 1e-6)
  check_each(2 ^ b, { 3, 4 }, function(i) return 2 ^ get(b, i) end, 1e-6)
  check_each(b:pow(a), { 3, 4 }, function(i) return get(b, i) ^ get(a, i) end, 1e-6)
end

-- The operand kinds a kernel must handle: strided views of every sort.
local function views()
  local base = randt { 4, 5, 6 }
  return base, {
    transpose = { base:transpose(1, 3), { 6, 5, 4 }, function(i) return base:get(i[3], i[2], i[1]) end },
    t2 = { base:select(1, 2):t(), { 6, 5 }, function(i) return base:get(2, i[2], i[1]) end },
    narrow = { base:narrow(2, 2, 3), { 4, 3, 6 }, function(i) return base:get(i[1], i[2] + 1, i[3]) end },
    select = { base:select(2, 3), { 4, 6 }, function(i) return base:get(i[1], 3, i[2]) end },
    permute = { base:permute(3, 1, 2), { 6, 4, 5 }, function(i) return base:get(i[2], i[3], i[1]) end },
    expand = { base:narrow(3, 2, 1):expand(4, 5, 3), { 4, 5, 3 }, function(i) return base:get(i[1], i[2], 2) end },
    neg_narrow = { base:narrow(-1, -2, 2), { 4, 5, 2 }, function(i) return base:get(i[1], i[2], i[3] + 4) end },
  }
end

function T.views_read_right()
  local _, vs = views()
  for name, v in pairs(vs) do
    check_each(v[1], v[2], v[3], nil, name)
    check_each(v[1]:contiguous(), v[2], v[3], nil, name .. ":contiguous")
    check_each(v[1]:clone(), v[2], v[3], nil, name .. ":clone")
  end
end

function T.binary_noncontiguous()
  local _, vs = views()
  for vname, v in pairs(vs) do
    local other = randt(v[2])
    for name in pairs(BINOPS) do
      check_binary(name, v[1], other, vname .. " left")
      check_binary(name, other, v[1], vname .. " right")
      check_binary(name, v[1], v[1], vname .. " both")
      check_binary(name, v[1], 0.25, vname .. " scalar")
    end
    -- broadcast a view against a row
    local row = randt { v[2][#v[2]] }
    check_binary("add", v[1], row, vname .. " + row")
  end
end

local UNOPS = {
  neg = function(x) return -x end,
  abs = function(x) return math.abs(x) end,
  exp = function(x) return math.exp(x) end,
  log = function(x) return math.log(x) end,
  sqrt = function(x) return math.sqrt(x) end,
  sign = function(x) return x > 0 and 1 or (x < 0 and -1 or 0) end,
  square = function(x) return x * x end,
  reciprocal = function(x) return 1 / x end,
  tanh = function(x) local e = math.exp(2 * x); return (e - 1) / (e + 1) end,
  sigmoid = function(x) return 1 / (1 + math.exp(-x)) end,
  relu = function(x) return x > 0 and x or 0 end,
}

function T.unary_ops()
  local base = randt({ 5, 7 }, -3, 3)
  base:set(1, 1, 0)
  local pos = randt({ 5, 7 }, 0.01, 4)
  for name, fn in pairs(UNOPS) do
    local src = (name == "log" or name == "sqrt") and pos or base
    for _, v in ipairs { src, src:t(), src:narrow(2, 2, 4), src:select(1, 3) } do
      local shape = v:shape()
      local want = function(i) return fn(get(v, i)) end
      check_each(v[name](v), shape, want, 2e-7, name)
      local c = v:clone()
      check_each(c[name .. "_"](c), shape, want, 2e-7, name .. "_")
    end
  end
  local v = base:t()
  check_each(v:clamp(-1, 0.5), { 7, 5 }, function(i) return math.min(math.max(get(v, i), -1), 0.5) end)
  check_each(v:clamp(nil, 0.5), { 7, 5 }, function(i) return math.min(get(v, i), 0.5) end)
  check_each(v:clamp(0), { 7, 5 }, function(i) return math.max(get(v, i), 0) end)
  raises(function() v:clamp(1, 0) end, "greater than max")
end

function T.inplace_through_views()
  local base = randt { 4, 6 }
  local orig = base:clone()
  local v = base:narrow(2, 2, 3)            -- [4, 3], non-contiguous
  v:add_(10)
  v:mul_(tensor.from { 1, 2, 3 })            -- broadcast row
  check_each(base, { 4, 6 }, function(i)
    local x = orig:get(i[1], i[2])
    if i[2] >= 2 and i[2] <= 4 then return f32(f32(x + 10) * (i[2] - 1)) end
    return x
  end, nil, "add_/mul_ through a narrow view")
  local t = base:t()
  t:sub_(base:t())
  check_each(base, { 4, 6 }, function() return 0 end, nil, "sub_ of itself through a transpose")
  raises(function() tensor.zeros(3):add_(tensor.zeros(2, 3)) end, "does not fit the target")
  for name in pairs(BINOPS) do
    local a, b = randt { 3, 4 }, randt { 4 }
    local want = a[name](a, b)
    local r = a[name .. "_"](a, b)
    check(rawequal(r, a), name .. "_ returns its target")
    identical(a, want, name .. "_ equals " .. name)
  end
end

-- ---- matmul --------------------------------------------------------------

local function ref_matmul(a, b)
  local sa, sb = a:shape(), b:shape()
  local m, k, n = sa[1], sa[2], sb[2]
  assert(k == sb[1])
  local out = {}
  for i = 1, m do
    out[i] = {}
    for j = 1, n do
      local s = 0
      for p = 1, k do s = s + a:get(i, p) * b:get(p, j) end
      out[i][j] = s
    end
  end
  return out
end

-- within a float GEMM's rounding of the double sums
local function mm_close(got, a, b, msg)
  local want, k = ref_matmul(a, b), a:shape()[2]
  same_shape(got, { a:shape()[1], b:shape()[2] }, msg)
  each(got:shape(), function(i)
    local g, w = get(got, i), want[i[1]][i[2]]
    if math.abs(g - w) > 1e-6 * k * 4 then
      error(string.format("%s at [%d,%d]: got %.9g, want %.9g", msg, i[1], i[2], g, w), 2)
    end
  end)
end

function T.matmul_2d()
  local a, b = randt { 1, 1 }, randt { 1, 1 }
  mm_close(a:matmul(b), a, b, "1x1")
  a, b = randt { 17, 33 }, randt { 33, 65 }
  mm_close(a:matmul(b), a, b, "17x33 x 33x65")
  mm_close(tensor.matmul(a, b), a, b, "tensor.matmul")
  local at, bt = randt({ 33, 17 }):t(), randt({ 65, 33 }):t()
  mm_close(at:matmul(b), at, b, "A^T B")
  mm_close(a:matmul(bt), a, bt, "A B^T")
  mm_close(at:matmul(bt), at, bt, "A^T B^T")
  local an = randt({ 20, 40 }):narrow(1, 2, 17):narrow(2, 3, 33)
  mm_close(an:matmul(b), an, b, "narrowed A")
  local sel = randt({ 33, 3, 65 }):select(2, 2) -- rows of stride 195
  mm_close(a:matmul(sel), a, sel, "selected B")
  -- expanded (stride 0) operands, and size-1 dims with stride 0
  local e = randt({ 33, 1 }):expand(33, 65)
  mm_close(a:matmul(e), a, e, "expanded B")
  local c = randt({ 3, 1 }):expand(3, 1)
  local r = randt { 1, 4 }
  mm_close(c:matmul(r), c, r, "[3,1] with stride 0 x [1,4]")
  local row = randt({ 1, 5 }):expand(1, 5)
  local col = randt { 5, 2 }
  mm_close(row:matmul(col), row, col, "[1,5] with row stride 0")
  -- k = 0 gives zeros
  local z = tensor.zeros(3, 0):matmul(tensor.zeros(0, 4))
  check_each(z, { 3, 4 }, function() return 0 end, nil, "k = 0")
end

function T.matmul_1d()
  local v, w, m = randt { 5 }, randt { 5 }, randt { 5, 3 }
  local dot = v:matmul(w)
  check(dot:dim() == 0, "vector . vector is 0-d")
  local s = 0
  for i = 1, 5 do s = s + v[i] * w[i] end
  close(dot:item(), s, 1e-6, "dot")
  local vm = v:matmul(m)
  same_shape(vm, { 3 })
  local want = ref_matmul(v:reshape(1, 5), m)
  for j = 1, 3 do close(vm[j], want[1][j], 1e-6, "v m") end
  local mv = m:t():matmul(v)
  same_shape(mv, { 3 })
  for j = 1, 3 do close(mv[j], want[1][j], 1e-6, "m^T v") end
end

function T.matmul_batched()
  local a, b = randt { 3, 4, 5 }, randt { 3, 5, 2 }
  local c = a:matmul(b)
  same_shape(c, { 3, 4, 2 })
  for i = 1, 3 do mm_close(c[i], a[i], b[i], "batch " .. i) end
  -- broadcast batch: [2,1,4,5] x [3,5,6] -> [2,3,4,6]
  local x, y = randt { 2, 1, 4, 5 }, randt { 3, 5, 6 }
  local z = x:matmul(y)
  same_shape(z, { 2, 3, 4, 6 })
  for i = 1, 2 do for j = 1, 3 do mm_close(z[i][j], x[i][1], y[j], "broadcast batch") end end
  -- 2-D with batched, transposed batch
  local w = randt { 4, 5 }
  local yt = randt({ 3, 6, 5 }):transpose(2, 3)
  local zz = w:matmul(yt)
  same_shape(zz, { 3, 4, 6 })
  for j = 1, 3 do mm_close(zz[j], w, yt[j], "2-D x transposed batch") end
  local bt = randt({ 5, 3, 2 }):permute(2, 1, 3) -- [3,5,2] batch stride 2
  local cb = a:matmul(bt)
  for i = 1, 3 do mm_close(cb[i], a[i], bt[i], "permuted batch") end
end

function T.matmul_errors()
  local e = raises(function() return tensor.zeros(2, 3):matmul(tensor.zeros(4, 5)) end, "matmul")
  check(e:find("[2, 3]", 1, true) and e:find("[4, 5]", 1, true), "names both shapes: " .. e)
  e = raises(function() return tensor.zeros(2, 2, 3):matmul(tensor.zeros(3, 3, 4)) end, "cannot be broadcast")
  check(e:find("[2, 2, 3]", 1, true) and e:find("[3, 3, 4]", 1, true), e)
  raises(function() return tensor.matmul(tensor.from(1), tensor.zeros(3)) end, "at least 1 dimension")
end

-- ---- reductions ----------------------------------------------------------

local function ref_reduce(t, dim, keep, fn, init)
  local s = t:shape()
  local out = {}
  for d = 1, #s do if d ~= dim then out[#out + 1] = s[d] elseif keep then out[#out + 1] = 1 end end
  local vals = {}
  each(s, function(idx)
    local key = {}
    for d = 1, #s do if d ~= dim then key[#key + 1] = idx[d] end end
    key = table.concat(key, ",")
    vals[key] = fn(vals[key] or init(), get(t, idx), idx[dim])
  end)
  return out, function(idx)
    local key = {}
    for d = 1, #idx do key[d] = idx[d] end
    if keep then table.remove(key, dim) end
    return vals[table.concat(key, ",")]
  end
end

function T.reductions_along_dims()
  local base = randt { 3, 4, 5 }
  base:set(2, 2, 2, 3); base:set(2, 3, 2, 3)  -- ties for max along dim 2
  base:set(1, 1, 4, -3); base:set(1, 1, 5, -3) -- ties for min along dim 3
  for _, t in ipairs { base, base:permute(3, 1, 2), base:narrow(2, 2, 3) } do
    local nd = t:dim()
    for dim = 1, nd do
      for _, keep in ipairs { false, true } do
        local dd = (dim == nd and keep) and -1 or dim -- negative dims too
        local tag = string.format("dim %d keep %s", dim, keep)
        local shape, want = ref_reduce(t, dim, keep, function(acc, x) return { acc[1] + x, acc[2] + 1 } end,
                                       function() return { 0, 0 } end)
        check_each(t:sum(dd, keep), shape, function(i) return f32(want(i)[1]) end, nil, "sum " .. tag)
        check_each(t:mean(dd, keep), shape, function(i) return f32(f32(want(i)[1]) / want(i)[2]) end, nil, "mean " .. tag)
        for _, mm in ipairs { { "max", function(a, b) return a > b end }, { "min", function(a, b) return a < b end } } do
          local _, best = ref_reduce(t, dim, keep, function(acc, x, k)
            if acc[1] == nil or mm[2](x, acc[1]) then return { x, k } end
            return acc
          end, function() return {} end)
          local v, ix = t[mm[1]](t, dd, keep)
          check_each(v, shape, function(i) return best(i)[1] end, nil, mm[1] .. " values " .. tag)
          check_each(ix, shape, function(i) return best(i)[2] end, nil, mm[1] .. " indices " .. tag)
          local ai = t["arg" .. mm[1]](t, dd, keep)
          check_each(ai, shape, function(i) return best(i)[2] end, nil, "arg" .. mm[1] .. " " .. tag)
        end
      end
    end
  end
end

function T.sumsq_along_dim_exact()
  local t = randt { 4, 9 }
  local s = t:sumsq(2)
  for i = 1, 4 do
    local acc = 0
    for j = 1, 9 do acc = acc + t:get(i, j) ^ 2 end
    check(s[i] == f32(acc), "sumsq row " .. i)
  end
end

function T.reductions_over_everything()
  local t = randt { 6, 7 }:t()
  local s, n, mx, mn, amx, amn, ss = 0, 0, -math.huge, math.huge, 0, 0, 0
  each(t:shape(), function(i)
    local x = get(t, i)
    n = n + 1
    s, ss = s + x, ss + x * x
    if x > mx then mx, amx = x, n end
    if x < mn then mn, amn = x, n end
  end)
  for _, r in ipairs { t:sum(), t:mean(), t:max(), t:min(), t:argmax(), t:argmin(), t:norm() } do
    check(r:dim() == 0, "reductions over everything are 0-d")
  end
  close(t:sum():item(), s, 1e-6, "sum")
  close(t:mean():item(), s / n, 1e-6, "mean")
  check(t:max():item() == mx and t:min():item() == mn, "max/min")
  check(t:argmax():item() == amx and t:argmin():item() == amn, "argmax/argmin are 1-based flat indices (row-major)")
  close(t:norm():item(), math.sqrt(ss), 1e-6, "norm")
  close(t:sumsq():item(), ss, 1e-6, "sumsq")
  check(tensor.zeros(0):sum():item() == 0, "empty sum is 0")
  raises(function() tensor.zeros(0):max() end, "empty")
  raises(function() tensor.zeros(2, 3):sum(3) end, "dimension 3 out of range")
end

-- ---- views, reshape ----------------------------------------------------

function T.views_alias_storage()
  local base = tensor.zeros(3, 4)
  base:select(1, 2):set(3, 7)
  check(base:get(2, 3) == 7, "select view writes the base")
  base[3][4] = 5
  check(base:get(3, 4) == 5, "t[i][j] = v writes the base")
  base:t():set(1, 2, 9)
  check(base:get(2, 1) == 9, "transpose view writes the base")
  base:narrow(2, 2, 2):fill_(1)
  check(base:get(1, 2) == 1 and base:get(3, 3) == 1 and base:get(1, 4) == 0, "narrow fill_ writes the base")
  base:reshape(12):set(12, 42)
  check(base:get(3, 4) == 42, "reshape of a contiguous tensor is a view")
  base:view(2, 6):set(1, 1, -1)
  check(base:get(1, 1) == -1, "view aliases")
  base:unsqueeze(1):squeeze():set(1, 1, -2)
  check(base:get(1, 1) == -2, "unsqueeze/squeeze alias")
  base:permute(2, 1):select(1, 4):set(2, 8)
  check(base:get(2, 4) == 8, "permute alias")
  base[2] = 3
  for j = 1, 4 do check(base:get(2, j) == 3, "t[i] = number fills the row") end
  base[1] = tensor.from { 1, 2, 3, 4 }
  for j = 1, 4 do check(base:get(1, j) == j, "t[i] = tensor copies the row") end
  local e = base:narrow(1, 1, 1):expand(5, 4)
  base:set(1, 1, 100)
  check(e:get(5, 1) == 100, "expand is a view")
  check(rawequal(base:contiguous(), base), "contiguous() of a contiguous tensor is itself")
  check(not rawequal(base:t():contiguous(), base:t()), "contiguous() of a transpose copies")
  local c = base:clone()
  c:set(1, 1, 0)
  check(base:get(1, 1) == 100, "clone does not alias")
end

function T.reshape_and_view()
  local base = randt { 3, 4 }
  local t = base:t()
  check(not t:is_contiguous(), "a transpose is not contiguous")
  local r = t:reshape(-1)
  same_shape(r, { 12 })
  local k = 0
  each({ 4, 3 }, function(i) k = k + 1; check(r[k] == get(t, i), "reshape keeps row-major order") end)
  r:set(1, 1234)
  check(base:get(1, 1) ~= 1234, "reshape of a non-contiguous tensor copies")
  same_shape(t:reshape(2, -1, 3), { 2, 2, 3 })
  same_shape(base:reshape { 6, 2 }, { 6, 2 })
  local e = raises(function() t:view(12) end, "view of a non-contiguous tensor")
  check(e:find("[4, 3]", 1, true), e)
  e = raises(function() base:reshape(5, 3) end, "cannot reshape")
  check(e:find("[3, 4]", 1, true) and e:find("[5, 3]", 1, true), e)
  raises(function() base:reshape(-1, 5) end, "cannot reshape")
  same_shape(tensor.zeros(2, 1, 3, 1):squeeze(), { 2, 3 })
  same_shape(tensor.zeros(2, 1, 3, 1):squeeze(2), { 2, 3, 1 })
  same_shape(tensor.zeros(2, 3):unsqueeze(-1), { 2, 3, 1 })
  same_shape(tensor.zeros(2, 3):unsqueeze(1), { 1, 2, 3 })
  raises(function() tensor.zeros(2, 3):expand(3, 3) end, "cannot expand")
  raises(function() tensor.zeros(2, 3):narrow(2, 3, 2) end, "out of range")
  raises(function() tensor.zeros(2, 3):permute(1, 1) end, "permute")
end

-- ---- creation ------------------------------------------------------------

function T.creation()
  for _, z in ipairs { tensor.zeros { 2, 3 }, tensor.zeros(2, 3) } do
    check_each(z, { 2, 3 }, function() return 0 end, nil, "zeros")
  end
  check_each(tensor.ones(2, 3), { 2, 3 }, function() return 1 end, nil, "ones")
  check_each(tensor.ones { 4 }, { 4 }, function() return 1 end, nil, "ones{}")
  check_each(tensor.full({ 2, 3 }, 7.5), { 2, 3 }, function() return 7.5 end, nil, "full{}")
  check_each(tensor.full(2, 3, 7.5), { 2, 3 }, function() return 7.5 end, nil, "full(2, 3, v)")
  check_each(tensor.full(2, 3, 7), { 2, 3 }, function() return 7 end, nil, "full(2, 3, 7)")
  check_each(tensor.eye(3), { 3, 3 }, function(i) return i[1] == i[2] and 1 or 0 end, nil, "eye")
  check_each(tensor.eye(2, 4), { 2, 4 }, function(i) return i[1] == i[2] and 1 or 0 end, nil, "eye(2, 4)")
  check_each(tensor.arange(5), { 5 }, function(i) return i[1] - 1 end, nil, "arange(5)")
  check_each(tensor.arange(2, 5), { 3 }, function(i) return i[1] + 1 end, nil, "arange(2, 5)")
  check_each(tensor.arange(1, 2, 0.25), { 4 }, function(i) return 1 + (i[1] - 1) * 0.25 end, nil, "arange step")
  check_each(tensor.arange(5, 0, -2), { 3 }, function(i) return 5 - 2 * (i[1] - 1) end, nil, "arange down")
  check_each(tensor.linspace(0, 1, 5), { 5 }, function(i) return (i[1] - 1) / 4 end, nil, "linspace")
  check_each(tensor.linspace(3, 3, 1), { 1 }, function() return 3 end, nil, "linspace 1 point")
  check_each(tensor.from { { 1, 2, 3 }, { 4, 5, 6 } }, { 2, 3 }, function(i) return (i[1] - 1) * 3 + i[2] end, nil, "from")
  check_each(tensor.from { { { 1 }, { 2 } } }, { 1, 2, 1 }, function(i) return i[2] end, nil, "from 3-D")
  local s = tensor.from(2.5)
  check(s:dim() == 0 and s:item() == 2.5, "from(number) is 0-d")
  same_shape(tensor.from {}, { 0 })
  local e = raises(function() tensor.from { { 1, 2 }, { 3 } } end, "ragged")
  raises(function() tensor.from { { 1, 2 }, 3 } end, "ragged")
  raises(function() tensor.from { 1, { 2 } } end, "expected a number")
  raises(function() tensor.from { 1, "x" } end, "expected a number")
  raises(function() tensor.zeros(2, -1) end, "negative dimension")
  raises(function() tensor.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end, "at most 8")
  raises(function() tensor.arange(0, 1, 0) end, "arange")
  raises(function() tensor.linspace(0, 1, 0) end, "at least 1 point")
  check(e ~= nil)
  local g = tensor.zeros(2, 2, { requires_grad = true })
  check(g.requires_grad == true, "creation options")
  same_shape(tensor.zeros_like(randt { 2, 5 }), { 2, 5 })
end

-- ---- indexing --------------------------------------------------------------

function T.indexing()
  local t = tensor.from { { 1, 2, 3 }, { 4, 5, 6 } }
  local row = t[2]
  check(tensor.is_tensor(row), "t[i] of a 2-D tensor is a view")
  same_shape(row, { 3 })
  check(row[1] == 4 and (compat.luajit or math.type(row[1]) == "float"), "t[i] of a 1-D tensor is a number")  -- 5.4 only
  check(t[-1][-1] == 6 and t[1][-3] == 1, "negative indices count from the end")
  check(t:get(2, 3) == 6 and t:get(-2, -1) == 3, "get")
  check(rawequal(t:set(1, 1, 10), t) and t:get(1, 1) == 10, "set returns the tensor and writes")
  check(#t == 2 and #t[1] == 3, "#t is the first dimension")
  local sh = t:shape()
  check(type(sh) == "table" and sh[1] == 2 and sh[2] == 3 and #sh == 2, "shape is a table")
  check(t:numel() == 6 and t:size(2) == 3 and t:size(-1) == 3 and t:dim() == 2, "numel/size/dim")
  check(tensor.from { 3 }:item() == 3 and tensor.ones(1, 1, 1):item() == 1, "item")
  local e = raises(function() return t:item() end, "one-element")
  check(e:find("[2, 3]", 1, true), e)
  local tt = t:totable()
  check(tt[2][3] == 6 and #tt == 2 and #tt[1] == 3, "totable")
  t.name = "w"
  check(t.name == "w", "per-tensor fields")
end

function T.index_errors()
  local t = tensor.zeros(2, 3)
  local e = raises(function() return t[3] end, "index 3 out of range for dimension 1 of size 2")
  e = raises(function() return t[1][4] end, "index 4 out of range for dimension 1 of size 3")
  e = raises(function() return t:get(1, 5) end, "index 5 out of range for dimension 2 of size 3")
  e = raises(function() return t:get(-3, 1) end, "out of range for dimension 1 of size 2")
  e = raises(function() t:set(0, 1, 1) end, "index 0 out of range for dimension 1")
  raises(function() return t:get(1) end, "expected 2 indices")
  raises(function() return t:select(3, 1) end, "dimension 3 out of range")
  raises(function() return t:select(1, 9) end, "index 9 out of range for dimension 1 of size 2")
  raises(function() return tensor.from(1)[1] end, "0-dimensional")
  raises(function() return #tensor.from(1) end, "0-dimensional")
  raises(function() return t[{}] end, "bad tensor index")
  raises(function() t.add = 1 end, "cannot assign to method")
end

function T.broadcast_error_messages()
  local e = raises(function() return tensor.zeros(2, 3) + tensor.zeros(4) end, "cannot be broadcast")
  check(e:find("[2, 3]", 1, true) and e:find("[4]", 1, true), "names both shapes: " .. e)
  e = raises(function() return tensor.zeros(2, 3):mul(tensor.zeros(3, 2)) end, "cannot be broadcast")
  check(e:find("[2, 3]", 1, true) and e:find("[3, 2]", 1, true), e)
  raises(function() return tensor.zeros(2) + "x" end, "arithmetic on a tensor")
  raises(function() return tensor.zeros(2) + {} end, "arithmetic on a tensor")
end

-- ---- printing --------------------------------------------------------------

function T.tostring_formats()
  check(tostring(tensor.from { 1, 2, 3 }) == "tensor([1., 2., 3.], shape=[3], dtype=float32)", tostring(tensor.from { 1, 2, 3 }))
  local s = tostring(tensor.from { { 1, -20 }, { 300, 4 } })
  check(s == "tensor([[  1., -20.],\n        [300.,   4.]], shape=[2, 2], dtype=float32)", s)
  s = tostring(tensor.from { 1.5, -0.25 })
  check(s == "tensor([ 1.5000, -0.2500], shape=[2], dtype=float32)", s)
  s = tostring(tensor.from { 1e-6, 1 })
  check(s:find("1.0000e-06", 1, true) and s:find("1.0000e+00", 1, true), s)
  s = tostring(tensor.from { 0.001, 2.5 })
  check(s == "tensor([1.0000e-03, 2.5000e+00], shape=[2], dtype=float32)", "ratio > 1000 is scientific: " .. s)
  s = tostring(tensor.from { 1e9, 2 })
  check(s:find("1.0000e+09", 1, true), s)
  s = tostring(tensor.from(3))
  check(s == "tensor(3., shape=[], dtype=float32)", s)
  s = tostring(tensor.from { 1, 0 / 0, 1 / 0, -1 / 0 })
  check(s:find("nan", 1, true) and s:find("inf", 1, true) and s:find("-inf", 1, true), s)
  check(not s:find("nan.", 1, true) and not s:find("inf.", 1, true), "non-finite values print without a point: " .. s)
  s = tostring(tensor.arange(1000))
  check(not s:find("...", 1, true), "1000 elements are printed in full")
  s = tostring(tensor.arange(1001))
  check(s:find("[   0.,    1.,    2., ...,  998.,  999., 1000.]", 1, true) and #s < 200, s)
  s = tostring(tensor.arange(2000):reshape(20, 100))
  check(s:find("...", 1, true) and #s < 600 and s:find("shape=[20, 100]", 1, true), s)
  s = tostring(tensor.from { { 1, 2 }, { 3, 4 } }:t())
  check(s:find("[[1., 3.],", 1, true), "prints views in their own order: " .. s)
  check(tostring(tensor.zeros(0)):find("[]", 1, true), "empty")
end

-- ---- save / load -----------------------------------------------------------

local function readall(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function writeall(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = compat.band(c, 1) ~= 0 and compat.bxor(0xEDB88320, compat.rshift(c, 1)) or compat.rshift(c, 1) end
  CRC[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do c = compat.bxor(CRC[compat.band(compat.bxor(c, s:byte(i)), 0xFF)], compat.rshift(c, 8)) end
  return compat.bxor(c, 0xFFFFFFFF)
end
local function with_crc(body) return body .. compat.pack("<I4", crc32(body)) end

function T.save_load_round_trip()
  local path = os.tmpname()
  local base = randt { 3, 4, 5 }
  local v = base:permute(3, 1, 2)
  tensor.save(path, v)
  local back = tensor.load(path)
  identical(back, v, "single non-contiguous tensor")
  check(back:is_contiguous(), "loaded tensors are contiguous")
  tensor.save(path, { w = base:t(), b = tensor.from { 1, 2 }, s = tensor.from(3), e = tensor.zeros(0, 2) })
  local tab = tensor.load(path)
  identical(tab.w, base:t(), "named w")
  identical(tab.b, tensor.from { 1, 2 }, "named b")
  check(tab.s:dim() == 0 and tab.s:item() == 3, "0-d")
  same_shape(tab.e, { 0, 2 })
  -- the documented layout, byte by byte
  tensor.save(path, tensor.from { { 1.5, 2 } })
  local bytes = readall(path)
  local want = "OLTENSOR" .. compat.pack("<I4I4I4I4i8i8ff", 1, 1, 0, 2, 1, 2, 1.5, 2)
  check(bytes == with_crc(want), "format as documented in vm/lserialize.c")
  -- same tensors, same bytes (names sorted)
  tensor.save(path, { a = tensor.ones(2), b = tensor.zeros(3) })
  local b1 = readall(path)
  tensor.save(path, { b = tensor.zeros(3), a = tensor.ones(2) })
  check(readall(path) == b1, "deterministic bytes")
  os.remove(path)
end

-- Version 2 carries a meta string (serial.save's text); version 1 files,
-- byte for byte as documented, still load, and saves without meta stay version 1.
function T.save_load_meta_string_is_format_version_2()
  local path = os.tmpname()
  local meta = 'text with "quotes"\n\0 and bytes \255'
  tensor.save(path, { x = tensor.from { { 1.5, 2 } } }, meta)
  local want = "OLTENSOR" .. compat.pack("<I4I4", 2, #meta) .. meta ..
    compat.pack("<I4I4", 1, 1) .. "x" .. compat.pack("<I4i8i8ff", 2, 1, 2, 1.5, 2)
  check(readall(path) == with_crc(want), "version 2 layout as documented in vm/lserialize.c")
  local tab, m = tensor.load(path)
  identical(tab.x, tensor.from { { 1.5, 2 } }, "tensor beside meta")
  check(m == meta, "meta string read back")
  tensor.save(path, {}, "")
  local none, empty = tensor.load(path)
  check(next(none) == nil and empty == "", "no tensors, empty meta")
  -- an old (version 1) file: the tensors and no second value
  writeall(path, with_crc("OLTENSOR" .. compat.pack("<I4I4I4I4i8i8ff", 1, 1, 0, 2, 1, 2, 1.5, 2)))
  check(select("#", tensor.load(path)) == 1, "version 1 gives one value")
  identical(tensor.load(path), tensor.from { { 1.5, 2 } }, "version 1 still loads")
  -- a meta length past the end, with a valid checksum
  writeall(path, with_crc("OLTENSOR" .. compat.pack("<I4I4", 2, 1000) .. "short"))
  raises(function() tensor.load(path) end, "meta text needs 1000 bytes")
  raises(function() tensor.save(path, {}, {}) end, "string expected")
  os.remove(path)
end

function T.load_rejects_bad_files()
  local path = os.tmpname()
  local t = randt { 5, 6 }
  tensor.save(path, t)
  local good = readall(path)
  -- truncated at every length, never a crash
  for _, n in ipairs { 0, 4, 8, 19, 20, 27, 40, #good - 5, #good - 1 } do
    writeall(path, good:sub(1, n))
    local e = raises(function() tensor.load(path) end, "tensor.load", "truncated to " .. n)
    check(e:find("corrupt", 1, true) or e:find("bad magic", 1, true), e)
  end
  -- a flipped byte in the data
  writeall(path, good:sub(1, 60) .. string.char(compat.bxor(good:byte(61), 0x10)) .. good:sub(62))
  raises(function() tensor.load(path) end, "checksum mismatch")
  -- wrong magic
  writeall(path, "NOTATENS" .. good:sub(9))
  raises(function() tensor.load(path) end, "bad magic")
  -- garbage after the checksum
  writeall(path, good .. "xyz")
  raises(function() tensor.load(path) end, "corrupt")
  -- hostile, with valid checksums
  local hdr = "OLTENSOR" .. compat.pack("<I4", 1)
  writeall(path, with_crc(hdr .. compat.pack("<I4I4I4i8i8", 1, 0, 2, 1099511627776, 1099511627776)))
  local e = raises(function() tensor.load(path) end, "does not fit the file")
  check(e:find("1099511627776", 1, true), "names the dimension: " .. e)
  writeall(path, with_crc(hdr .. compat.pack("<I4I4I4i8i8", 1, 0, 2, 3037000500, 3037000500)))
  raises(function() tensor.load(path) end, "does not fit the file")
  writeall(path, with_crc(hdr .. compat.pack("<I4I4I4i8", 1, 0, 1, -5)))
  raises(function() tensor.load(path) end, "corrupt")
  writeall(path, with_crc(hdr .. compat.pack("<I4I4I4", 1, 0, 9)))
  raises(function() tensor.load(path) end, "9 dimensions")
  writeall(path, with_crc(hdr .. compat.pack("<I4", 0xFFFFFFFF)))
  raises(function() tensor.load(path) end, "claims")
  writeall(path, with_crc(hdr .. compat.pack("<I4I4", 1, 0xFFFFFFF0)))
  raises(function() tensor.load(path) end, "truncated or corrupt")
  writeall(path, with_crc(hdr .. compat.pack("<I4I4I4i8ff", 1, 0, 1, 2, 1, 2) .. "junk"))
  raises(function() tensor.load(path) end, "unexpected bytes after the last tensor")
  writeall(path, with_crc("OLTENSOR" .. compat.pack("<I4I4", 3, 0)))  -- 2 is the meta version
  raises(function() tensor.load(path) end, "version 3")
  raises(function() tensor.load(path .. ".does-not-exist") end, "cannot open")
  raises(function() tensor.load("/") end, "not a regular file")
  raises(function() tensor.save(path, { 1, 2 }) end, "names")
  raises(function() tensor.save(path, { x = 1 }) end, "not a tensor")
  raises(function() tensor.save("/nonexistent-dir/x.t", t) end, "cannot write")
  os.remove(path)
end

-- ---- random numbers ------------------------------------------------------

function T.rng_determinism()
  tensor.manual_seed(5)
  local a, a2 = tensor.randn(1000), tensor.rand(3, 7)
  tensor.manual_seed(5)
  local b, b2 = tensor.randn(1000), tensor.rand(3, 7)
  identical(a, b, "same seed, same randn")
  identical(a2, b2, "same seed, same rand")
  tensor.manual_seed(6)
  local c = tensor.randn(1000)
  check(a:ne(c):sum():item() > 900, "another seed gives other numbers")
  identical(tensor.rand(10, { seed = 3, stream = 4 }), tensor.rand(10, { seed = 3, stream = 4 }), "explicit seed")
  local threads = sys.threads()
  local r = {}
  for _, n in ipairs { 1, 2 } do
    sys.set_threads(n)
    check(sys.threads() == n, "set_threads")
    tensor.manual_seed(11)
    r[n] = { tensor.randn(300001), tensor.rand(200003), tensor.uniform({ 70001 }, -3, 3),
             tensor.normal({ 9, 9999 }, 2, 0.5) }
  end
  sys.set_threads(threads)
  for i = 1, 4 do identical(r[1][i], r[2][i], "1 vs 2 threads, draw " .. i) end
  local u = r[1][3]
  check(u:min():item() >= -3 and u:max():item() < 3, "uniform range")
  close(u:mean():item(), 0, 0, "uniform mean", 0.03)
  local z = r[1][1]
  close(z:mean():item(), 0, 0, "randn mean", 0.01)
  close(((z - z:mean()):square():mean()):sqrt():item(), 1, 0.01, "randn std")
  raises(function() tensor.manual_seed(-1) end, "non-negative integer")
end

function T.thread_independent_ops()
  local threads = sys.threads()
  tensor.manual_seed(1)
  local a, b = tensor.randn(517, 1031), tensor.randn(1031)
  local r = {}
  for _, n in ipairs { 1, 2 } do
    sys.set_threads(n)
    r[n] = { a:sum(), a:mean(2), a:sum(1), a:max(1), (a + b):exp(), a:t():contiguous(), a:matmul(b), a:norm() }
  end
  sys.set_threads(threads)
  for i = 1, #r[1] do identical(r[1][i], r[2][i], "op " .. i .. " with 1 vs 2 threads") end
end

-- ---- the host: errors at the script's line, CLI, module, memory -----------

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, how, code = p:close()
  return out, ok and 0 or code, how
end

local function script(body)
  local base = os.tmpname()
  os.remove(base)
  local path = base .. "_script.lua"
  writeall(path, body)
  return path
end

function T.error_carries_script_line()
  local path = script("local a = tensor.zeros(2, 3)\nlocal b = tensor.zeros(4, 5)\n\nlocal c = a + b\n")
  local out, code = run(OPTLAB .. " " .. path)
  local name = path:match("[^/]+$")
  check(code ~= 0, "exit status is non-zero: " .. tostring(code))
  check(out:find(name .. ":4:", 1, true), "names the script's line 4: " .. out)
  check(out:find("[2, 3]", 1, true) and out:find("[4, 5]", 1, true), "names both shapes: " .. out)
  os.remove(path)
  -- from inside a function of the script, through stdlib wrappers (matmul)
  path = script("local function f(x)\n  local y = x:matmul(tensor.ones(4, 2))\n  return y\nend\nprint('before')\nf(tensor.ones(2, 3))\n")
  out, code = run(OPTLAB .. " " .. path)
  name = path:match("[^/]+$")
  check(code ~= 0 and out:find("before", 1, true), out)
  check(out:find(name .. ":2:", 1, true) and out:find("[2, 3]", 1, true) and out:find("[4, 2]", 1, true), out)
  check(out:find("traceback", 1, true), "a traceback is printed: " .. out)
  os.remove(path)
  -- a bad index, and a C-level error in a file: still the script's line
  -- a bad argument type, through the autograd wrapper of sum
  path = script("local t = tensor.zeros(2, 3)\nlocal s = t:sum('x')\n")
  out, code = run(OPTLAB .. " " .. path)
  check(code ~= 0 and out:find(path:match("[^/]+$") .. ":2: bad argument #2 to 'sum'", 1, true), out)
  os.remove(path)
  path = script("local t = tensor.zeros(3)\n\nprint(t[7])\n")
  out, code = run(OPTLAB .. " " .. path)
  check(code ~= 0 and out:find(path:match("[^/]+$") .. ":3: index 7 out of range", 1, true), out)
  os.remove(path)
end

function T.cli()
  local out, code = run(OPTLAB .. " --version")
  local vm = compat.luajit and "LuaJIT 2%.1[^,]*" or "Lua 5%.4[%.%d]*"
  check(code == 0 and out:match("^optlab %S+ %(" .. vm .. ", BLIS [%d%.]+ %a[%w_]* kernels, %d+ threads?%)"), out)
  out = run(OPTLAB .. " --threads 1 --version")
  check(out:find("1 thread)", 1, true), out)
  out = run(OPTLAB .. " --threads 1 -e 'print(sys.threads())'")
  check(out == "1\n", out)
  out = run("OPTLAB_THREADS=1 " .. OPTLAB .. " -e 'print(sys.threads())'")
  check(out == "1\n", out)
  out, code = run(OPTLAB .. " --threads 0 -e 'print(1)'")
  check(code ~= 0 and out:find("--threads", 1, true), out)
  out = run(OPTLAB .. " -e 'print(tensor.ones(2, 3):matmul(tensor.ones(3, 4)):sum():item())'")
  check(out == tostring(24.0) .. "\n", out)  -- 24.0 on Lua 5.4, 24 on LuaJIT
  out, code = run(OPTLAB .. " -e 'error(\"boom\")'")
  check(code ~= 0 and out:find("boom", 1, true), out)
  -- arg as the stock lua sets it
  local path = script("local t = {} for i = -3, #arg do t[#t + 1] = i .. '=' .. tostring(arg[i]) end\n" ..
                      "print(table.concat(t, ' ')) print(select('#', ...), ...)\n")
  out = run(OPTLAB .. " --threads 1 " .. path .. " x 'y z'")
  local want = "-3=" .. OPTLAB .. " -2=--threads -1=1 0=" .. path .. " 1=x 2=y z\n2\tx\ty z\n"
  check(out == want, "arg: got\n" .. out .. "want\n" .. want)
  local stock = run(lib.stock_lua .. " " .. path .. " x 'y z'")
  check(stock:gsub("^%S+ %S+ %S+ ", "") == out:gsub("^%S+ %S+ %S+ ", ""), "same as " .. lib.stock_lua .. ": " .. stock)
  -- with no script, arg[0] is the interpreter (like lua5.4 -e)
  out = run(OPTLAB .. " -e 'print(arg[0], arg[1], arg[2])'")
  check(out == OPTLAB .. "\t-e\tprint(arg[0], arg[1], arg[2])\n", "arg with -e only: " .. out)
  os.remove(path)
end

-- Every exit path closes the Lua state. LeakSanitizer finds a state left open
-- only when no stale pointer to it survives in a register or on the stack, which
-- made `--version` fail under `make sanitize` on some machines only; telling it
-- not to scan them makes the check deterministic. Outside a sanitizer build the
-- option is ignored and this checks exit codes and output.
function T.cli_exits_leave_nothing_open()
  local env = "LSAN_OPTIONS=use_stacks=0:use_registers=0 "
  local path = script("error('boom from a script')\n")
  local cases = {
    { "--version", 0, "^optlab " },
    { "--threads 1 --version", 0, "1 thread%)\n$" },
    { "-e 'print(1)'", 0, "^1\n$" },
    { "-e 'error(\"boom\")'", 1, "boom" },
    { path, 1, "boom from a script" },
    { "verify /nonexistent-optlab-run", 1, "no manifest.json" },
  }
  for _, c in ipairs(cases) do
    local out, code = run(env .. OPTLAB .. " " .. c[1])
    check(not out:find("LeakSanitizer", 1, true), c[1] .. ": leak report\n" .. out)
    check(code == c[2] and out:find(c[3]), c[1] .. ": exit " .. tostring(code) .. ", output\n" .. out)
  end
  os.remove(path)
end

function T.stock_lua_require()
  local dir = OPTLAB:match("^(.*)/[^/]*$") or "."
  -- ./optlab is a symlink to build/optlab; optlab.so is built next to the binary
  local so = dir .. "/optlab.so"
  if not io.open(so) then so = dir .. "/build/optlab.so" end
  check(io.open(so), "optlab.so is built: " .. so)
  local cpath = so:gsub("optlab%.so$", "?.so")
  local chunk = "package.cpath = '" .. cpath .. ";' .. package.cpath; local o = require 'optlab'; " ..
                "local t = o.tensor.ones(2, 3):matmul(o.tensor.ones(3, 4)); " ..
                "print(o.tensor == tensor, t:shape()[1], t:shape()[2], (t + 1):sum():item(), o.sys.threads() > 0)"
  local cmd = lib.stock_lua .. " -e \"" .. chunk .. "\""
  local out, code = run(cmd)
  if out:find("ASan runtime", 1, true) then -- a sanitizer build: preload its runtime into the stock lua
    local p = io.popen("cc -print-file-name=libasan.so")
    local asan = p:read("l")
    p:close()
    cmd = "LD_PRELOAD=" .. asan .. " ASAN_OPTIONS=detect_leaks=0 " .. cmd
    out, code = run(cmd)
  end
  check(code == 0 and out == "true\t2\t4\t" .. tostring(32.0) .. "\ttrue\n", lib.stock_lua .. " require 'optlab': " .. out)
  -- exiting with OpenMP workers parked once crashed; it is racy, so try a few times
  for _ = 1, 3 do
    out, code = run(cmd)
    check(code == 0, lib.stock_lua .. " exits cleanly after using optlab: " .. out)
  end
end

function T.memory_stays_flat()
  if lib.sanitized() then lib.skip("RSS is not measurable under AddressSanitizer's quarantine") end
  collectgarbage()
  local before = sys.rss()
  for _ = 1, 10000 do
    local t = tensor.zeros(262144) -- 1 MB, touched
    t[1] = 1
  end
  local mid = sys.rss()
  local a = tensor.ones(262144)
  for _ = 1, 500 do a = (a * 1.0001 + 0.5):sqrt() end
  collectgarbage()
  local after = sys.rss()
  check(mid - before < 400e6, string.format("10,000 x 1 MB tensors grew RSS by %.0f MB", (mid - before) / 1e6))
  check(after - before < 400e6, string.format("500 arithmetic steps grew RSS by %.0f MB", (after - before) / 1e6))
end

function T.contiguous_of_a_leaf_stays_a_leaf()
  local p = tensor.ones(2, 3, { requires_grad = true })
  local q = p:contiguous()
  check(rawequal(q, p), "contiguous() of a contiguous tensor is itself")
  check(p._node == nil, "p must stay a leaf")
  p:t():contiguous():sum():backward()
  check(p.grad ~= nil, "the gradient reaches the leaf through a transposed copy")
  lib.close(p.grad, tensor.ones(2, 3), 0, "grad of sum")
end

-- BLIS's kernel set: the user's BLIS_ARCH_TYPE wins; otherwise an Intel CPU with AVX-512 whose
-- model name BLIS cannot read (no model number) gets "skx", not BLIS's "haswell" fallback.
function T.blis_kernel_choice()
  local info = io.open("/proc/cpuinfo"):read("a")
  local flags, model = info:match("\nflags%s*:%s*([^\n]*)") or "", info:match("model name%s*:%s*([^\n]*)") or ""
  local has = function(f) return (" " .. flags .. " "):find(" " .. f .. " ", 1, true) ~= nil end
  if has("avx2") and has("fma") then
    local out = run("BLIS_ARCH_TYPE=3 " .. OPTLAB .. " -e 'print(sys.blis_arch())'")
    check(out == "haswell\n", "BLIS_ARCH_TYPE=3 is the user's choice: " .. out)
  end
  local avx512 = has("avx512f") and has("avx512dq") and has("avx512cd") and has("avx512bw") and has("avx512vl")
  if not (avx512 and info:find("GenuineIntel", 1, true) and not model:find("%d")) then
    lib.skip("the CPU is not an AVX-512 Intel part without a model number (" .. model .. ")")
  end
  local out = run("env -u BLIS_ARCH_TYPE " .. OPTLAB .. " -e 'print(sys.blis_arch())'")
  check(out == "skx\n", "AVX-512 without a model name: skx kernels, got " .. out)
end

-- BLIS's small/skinny path blocks by thread count; matmul must not.
function T.matmul_same_bits_with_1_and_2_threads()
  local before = sys.threads()
  local cases = { { { 32, 9 }, { 9, 43264 } }, { { 32, 43264 }, { 43264, 9 } }, { { 64, 5408 }, { 5408, 256 } } }
  for _, c in ipairs(cases) do
    local a, b = tensor.randn(c[1], { seed = 3 }), tensor.randn(c[2], { seed = 4 })
    sys.set_threads(1)
    local one = a:matmul(b)
    sys.set_threads(2)
    local two = a:matmul(b)
    sys.set_threads(before)
    identical(one, two, "matmul " .. table.concat(c[1], "x") .. " * " .. table.concat(c[2], "x"))
  end
end

-- The layout `make install PREFIX=...` creates: bin/optlab, share/optlab/stdlib, lib/lua/5.4/optlab.so.
function T.installed_layout_finds_its_stdlib()
  local exe = os.getenv("OPTLAB") or "./optlab"
  local build = io.popen("readlink -f " .. exe):read("l"):match("^(.*)/[^/]*$")
  local pfx = os.tmpname()
  os.remove(pfx)
  -- the stdlib goes through the Makefile's own rule, so a sub-folder it forgets fails here
  local sh = string.format([[set -e; p=%q; abi=%s; mkdir -p $p/bin $p/lib/lua/$abi
    make -s install-stdlib PREFIX=$p DESTDIR=
    cp %q/optlab $p/bin/
    cp %q/optlab.so $p/lib/lua/$abi/
    cd /; $p/bin/optlab -e 'io.write(tensor.ones(2, 3):sum():item())'; echo
    LUA_CPATH="$p/lib/lua/$abi/?.so" %s -e 'io.write(require("optlab").tensor.eye(3):sum():item())']],
    pfx, lib.lua_abi, build, build, lib.stock_lua)
  if lib.sanitized() then lib.skip("a stock lua5.4 cannot load a sanitizer build's module") end
  local script = pfx .. ".sh"
  local f = assert(io.open(script, "w"))
  f:write(sh)
  f:close()
  local out = io.popen("sh " .. script .. " 2>&1"):read("a")
  os.execute(string.format("rm -rf %q %q", pfx, script))
  check(out == "6\n3", "installed binary and module run: " .. out)
end

-- A stdlib missing one of its modules is an error at start-up that names it. optlab_init
-- used to skip a module it could not find ("not there yet"), so `experiment` was silently nil.
function T.a_stdlib_missing_a_module_is_an_error_naming_it()
  local exe = os.getenv("OPTLAB") or "./optlab"
  local build = io.popen("readlink -f " .. exe):read("l"):match("^(.*)/[^/]*$")
  local pfx = os.tmpname()
  os.remove(pfx)
  local out = io.popen(string.format([[set -e; p=%q; mkdir -p $p/bin; make -s install-stdlib PREFIX=$p DESTDIR=
    cp %q/optlab $p/bin/; rm $p/share/optlab/stdlib/experiment.lua
    cd /; $p/bin/optlab -e 'print(type(experiment))' 2>&1 || echo "exit $?"]], pfx, build)):read("a")
  os.execute(string.format("rm -rf %q", pfx))
  check(out:find("module 'experiment' not found", 1, true) and out:find("exit %d"),
        "start-up fails naming the missing module: " .. out)
end

return T
