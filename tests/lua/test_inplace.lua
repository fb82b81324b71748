-- The raw (C) tensor methods of issue 12: fused in-place updates against
-- float64 references computed here in Lua, the storage version counter,
-- overlap errors, and the new forward ops (sin ... norm) against hand-computed
-- values. Autograd over them is tested in test_autograd and the differential suite.
local lib = require "lib"
local check, close, raises, identical = lib.check, lib.close, lib.raises, lib.identical
local C = require "optlab.core"
local R = tensor.raw
local unpack = table.unpack or unpack -- LuaJIT 2.1 without 5.2 compatibility

local T = {}

-- Reproducible values in [lo, hi): an LCG, no tensor code involved.
local state = 4242
local function rnd(lo, hi)
  state = (state * 1103515245 + 12345) % 2147483648
  return lo + (hi - lo) * state / 2147483648
end

local function rand_list(n, lo, hi)
  local t = {}
  for i = 1, n do t[i] = rnd(lo, hi) end
  return t
end

local function flat(t) return t:contiguous():reshape(-1):totable() end

-- ---- add_/sub_ with alpha (issue 12, defect 2) ---------------------------

function T.add_and_sub_honour_alpha()
  local x = tensor.from { 1, 2, 3 }
  x:add_(tensor.from { 10, 20, 30 }, 0.5)
  close(x, { 6, 12, 18 }, 0, "add_(u, 0.5)")
  x:sub_(tensor.from { 2, 4, 8 }, 2)
  close(x, { 2, 4, 2 }, 0, "sub_(u, 2)")
  x:add_(3, -2) -- a number with alpha: x + (-2)*3
  close(x, { -4, -2, -4 }, 0, "add_(3, -2)")
  x:sub_(1, 0.25)
  close(x, { -4.25, -2.25, -4.25 }, 0, "sub_(1, 0.25)")
  x:add_(tensor.from { 1, 1, 1 }) -- alpha defaults to 1
  close(x, { -3.25, -1.25, -3.25 }, 0, "add_(u)")
end

function T.adam_idiom_mul_then_add_with_alpha()
  -- PyTorch's m:mul_(b1):add_(g, 1 - b1) is b1*m + (1 - b1)*g, not b1*m + g
  local b1 = 0.9
  local m, g = tensor.from { 1, -2, 4 }, tensor.from { 10, 10, -10 }
  m:mul_(b1):add_(g, 1 - b1)
  local want = {}
  for i, v in ipairs { 1, -2, 4 } do want[i] = b1 * v + (1 - b1) * ({ 10, 10, -10 })[i] end
  close(m, want, 1e-6, "b1*m + (1-b1)*g")
end

-- ---- fused updates against float64 references -----------------------------

-- Each op on self [rows, cols] (contiguous and as a transposed view) with its
-- arguments full-shaped, broadcast rows [cols], broadcast columns [rows, 1]
-- and numbers. Sizes are odd so vector bodies and scalar tails both run, and
-- 301 x 123 > 32768 elements also takes the threaded path.
local function shapes_of(rows, cols)
  return { { rows, cols }, { cols }, { rows, 1 } }
end

-- v[i] for element (r, c) of a [rows, cols] broadcast of list l of shape s
local function at(l, s, r, c, cols)
  if #s == 2 and s[2] == 1 then return l[r] end
  if #s == 1 then return l[c] end
  return l[(r - 1) * cols + c]
end

local function check_update(name, call, ref, nargs, rows, cols, transposed)
  for _, s in ipairs(shapes_of(rows, cols)) do
    local n = 1
    for _, d in ipairs(s) do n = n * d end
    local base = rand_list(rows * cols, -2, 2)
    local args, lists = {}, {}
    for k = 1, nargs do
      lists[k] = rand_list(n, 0.5, 2) -- away from 0: divisors
      args[k] = tensor.from(lists[k]):reshape(s)
    end
    local x
    if transposed then
      -- self is a transposed view of a [cols, rows] tensor holding the same values
      local tl = {}
      for r = 1, rows do for c = 1, cols do tl[(c - 1) * rows + r] = base[(r - 1) * cols + c] end end
      x = tensor.from(tl):reshape(cols, rows):t()
    else
      x = tensor.from(base):reshape(rows, cols)
    end
    local v0 = x:_version()
    local r = call(x, unpack(args, 1, nargs))
    check(r == x, name .. " returns self")
    check(x:_version() == v0 + 1, name .. " bumps the version once")
    local got = flat(x)
    for i = 1, rows * cols do
      local rr, cc = math.floor((i - 1) / cols) + 1, (i - 1) % cols + 1
      local a = {}
      for k = 1, nargs do a[k] = at(lists[k], s, rr, cc, cols) end
      local want = ref(base[i], a[1], a[2])
      if not (math.abs(got[i] - want) <= 2e-6 * (1 + math.abs(want))) then
        error(string.format("%s, arg shape {%s}%s, element %d: got %.9g, want %.9g", name,
          table.concat(s, ","), transposed and ", transposed self" or "", i, got[i], want), 2)
      end
    end
  end
end

local updates = {
  { "add_(u, 0.3)", function(x, u) return x:add_(u, 0.3) end, function(o, a) return o + 0.3 * a end, 1 },
  { "sub_(u, 1.7)", function(x, u) return x:sub_(u, 1.7) end, function(o, a) return o - 1.7 * a end, 1 },
  { "mul_(u)", function(x, u) return x:mul_(u) end, function(o, a) return o * a end, 1 },
  { "div_(u)", function(x, u) return x:div_(u) end, function(o, a) return o / a end, 1 },
  { "addcmul_(a, b, 0.7)", function(x, a, b) return x:addcmul_(a, b, 0.7) end, function(o, a, b) return o + 0.7 * a * b end, 2 },
  { "addcmul_(a, b)", function(x, a, b) return x:addcmul_(a, b) end, function(o, a, b) return o + a * b end, 2 },
  { "addcdiv_(a, b, -0.5)", function(x, a, b) return x:addcdiv_(a, b, -0.5) end, function(o, a, b) return o - 0.5 * a / b end, 2 },
  { "addcdiv_(a, b)", function(x, a, b) return x:addcdiv_(a, b) end, function(o, a, b) return o + a / b end, 2 },
  { "lerp_(e, 0.25)", function(x, e) return x:lerp_(e, 0.25) end, function(o, e) return o + 0.25 * (e - o) end, 1 },
  { "lerp_(e, 0.75)", function(x, e) return x:lerp_(e, 0.75) end, function(o, e) return o + 0.75 * (e - o) end, 1 },
  { "lerp_(e, w)", function(x, e, w) return x:lerp_(e, w:sub(1)) end, function(o, e, w) return o + (w - 1) * (e - o) end, 2 },
  { "copy_(u)", function(x, u) return x:copy_(u) end, function(_, a) return a end, 1 },
  { "maximum_(u)", function(x, u) return x:maximum_(u) end, function(o, a) return math.max(o, a) end, 1 },
  { "clamp_(-0.5, 1)", function(x) return x:clamp_(-0.5, 1) end, function(o) return math.min(math.max(o, -0.5), 1) end, 0 },
  { "clamp_(nil, 0.2)", function(x) return x:clamp_(nil, 0.2) end, function(o) return math.min(o, 0.2) end, 0 },
  { "clamp_(0.1)", function(x) return x:clamp_(0.1) end, function(o) return math.max(o, 0.1) end, 0 },
  { "sqrt_()", function(x) return x:abs_():sqrt_() end, function(o) return math.sqrt(math.abs(o)) end, 0 },
  { "sign_()", function(x) return x:sign_() end, function(o) return o > 0 and 1 or (o < 0 and -1 or 0) end, 0 },
}

function T.fused_updates_match_float64_small()
  for _, u in ipairs(updates) do
    local name, call, ref, nargs = u[1], u[2], u[3], u[4]
    if name == "sqrt_()" then
      -- two in-place ops: two versions; checked on its own below
    else
      check_update(name, call, ref, nargs, 5, 7, false)
      check_update(name, call, ref, nargs, 5, 7, true)
    end
  end
  local x = tensor.from { 4, 9, 2 }
  close(x:sqrt_(), { 2, 3, math.sqrt(2) }, 1e-7, "sqrt_")
end

function T.fused_updates_match_float64_threaded_sizes()
  for _, u in ipairs(updates) do
    if u[1] ~= "sqrt_()" then check_update(u[1], u[2], u[3], u[4], 301, 123, false) end
  end
end

function T.numbers_as_arguments()
  close(tensor.from { 1, 2 }:addcmul_(2, tensor.from { 3, 4 }, 0.5), { 4, 6 }, 0, "addcmul_ with a number")
  close(tensor.from { 1, 2 }:addcdiv_(tensor.from { 3, 4 }, 2), { 2.5, 4 }, 0, "addcdiv_ with a number")
  close(tensor.from { 1, 2 }:lerp_(3, 0.5), { 2, 2.5 }, 0, "lerp_ toward a number")
  close(tensor.from { 1, 2 }:mul_(3), { 3, 6 }, 0, "mul_ number")
  close(tensor.from { 1, 2 }:div_(4), { 0.25, 0.5 }, 0, "div_ number")
  close(tensor.from { 1, -2 }:maximum(0), { 1, 0 }, 0, "maximum(number)")
  close(R.maximum(0, tensor.from { 1, -2 }), { 1, 0 }, 0, "maximum(number, tensor)")
  close(R.minimum(0, tensor.from { 1, -2 }), { 0, -2 }, 0, "minimum(number, tensor)")
  close(C.maximum(tensor.from { 1, 5 }, tensor.from { 3, 2 }), { 3, 5 }, 0, "tensor.maximum")
  close(C.minimum(tensor.from { 1, 5 }, 2), { 1, 2 }, 0, "tensor.minimum")
end

function T.lerp_is_exact_at_the_ends()
  -- PyTorch's formula: weight 1 gives end exactly, where t + w*(e - t) may not
  local x = tensor.from { 0.1, 1e8 }
  x:lerp_(tensor.from { 0.3, -1e-8 }, 1)
  close(x, { tensor.from({ 0.3 }):item(), tensor.from({ -1e-8 }):item() }, 0, "lerp_ weight 1")
end

function T.clamp_keeps_nan_and_rejects_crossed_bounds()
  local x = tensor.from { 0 / 0, 5 }
  x:clamp_(0, 1)
  check(x[1] ~= x[1] and x[2] == 1, "NaN passes clamp_")
  raises(function() tensor.from { 1 }:clamp_(2, 1) end, "min 2 is greater than max 1")
end

function T.threads_give_identical_bits()
  local saved = sys.threads()
  local n = 70001
  local base = tensor.randn(n)
  local a, b = tensor.randn(n), tensor.rand(n):add_(0.5)
  local row = tensor.randn(7)
  local function run()
    local x = base:clone()
    x:add_(a, 0.37):sub_(b, 1.3):addcmul_(a, b, 0.2):addcdiv_(a, b, -0.7):lerp_(a, 0.6):lerp_(b, a:sigmoid())
    x:mul_(b):div_(b):clamp_(-1, 1)
    local m = base:narrow(1, 1, 70000):reshape(10000, 7):clone():add_(row, 0.5):addcmul_(row, row)
    local big = base:reshape(1, n)
    return x, m, big:logsumexp(2), big:var(2), R.norm(base, 3), base:cumsum(1), base:prod(), R.dot(a, b)
  end
  sys.set_threads(1)
  local one = { run() }
  sys.set_threads(2)
  local two = { run() }
  sys.set_threads(saved)
  for i = 1, #one do identical(one[i], two[i], "result " .. i .. " at 1 and 2 threads") end
end

-- ---- the version counter --------------------------------------------------

function T.every_inplace_write_bumps_the_version()
  local x = tensor.zeros(2, 3)
  local v = x:_version()
  local function bumped(what, f)
    f()
    check(x:_version() == v + 1, what .. ": version " .. x:_version() .. ", want " .. (v + 1))
    v = x:_version()
  end
  local u = tensor.ones(2, 3)
  bumped("add_", function() x:add_(u) end)
  bumped("sub_", function() x:sub_(1, 2) end)
  bumped("mul_", function() x:mul_(u) end)
  bumped("div_", function() x:div_(2) end)
  bumped("pow_", function() x:pow_(1) end)
  bumped("addcmul_", function() x:addcmul_(u, u) end)
  bumped("addcdiv_", function() x:addcdiv_(u, u) end)
  bumped("lerp_", function() x:lerp_(u, 0.5) end)
  bumped("clamp_", function() x:clamp_(0, 1) end)
  bumped("sqrt_", function() x:sqrt_() end)
  bumped("sign_", function() x:sign_() end)
  bumped("sin_", function() x:sin_() end)
  bumped("round_", function() x:round_() end)
  bumped("remainder_", function() x:remainder_(2) end)
  bumped("copy_", function() x:copy_(u) end)
  bumped("fill_", function() x:fill_(3) end)
  bumped("zero_", function() x:zero_() end)
  bumped("set", function() x:set(1, 2, 5) end)
  bumped("t[i] = row", function() x[1] = 4 end)
  bumped("scatter_add_", function() x:scatter_add_(1, tensor.from { { 1, 2, 1 } }, u) end)
  -- views share the storage, so they share its counter
  bumped("a view's add_", function() x:narrow(2, 2, 1):add_(1) end)
  bumped("a row's fill_", function() x[2]:fill_(1) end)
  check(x:t():_version() == v, "a view reads its storage's version")
  -- out-of-place ops and copies leave it alone
  local _ = x + 1, x:sum(), x:exp(), x:t():contiguous()
  check(x:_version() == v, "out-of-place ops do not bump")
  local c = x:clone()
  c:add_(1)
  check(x:_version() == v, "a clone has its own counter")
end

function T.optimizer_steps_bump_parameters_and_state()
  local p = tensor.from { 1, 2, 3 }
  p.grad = tensor.from { 0.1, 0.2, 0.3 }
  local v0 = p:_version()
  local opt = optim.Adam { lr = 0.1 }
  opt:step { p }
  check(p:_version() > v0, "Adam's fused update bumps the parameter's version")
  local v1 = p:_version()
  opt:step { p }
  check(p:_version() > v1, "and again on the next step")
end

-- ---- overlap errors (issue 12, defect 10) ---------------------------------

function T.inplace_on_an_expanded_view_raises()
  local e = tensor.from { 1, 2 }:expand(3, 2)
  raises(function() e:add_(1) end, "single memory location")
  raises(function() e:mul_(tensor.ones(3, 2)) end, "single memory location")
  raises(function() e:addcmul_(tensor.ones(3, 2), tensor.ones(3, 2)) end, "single memory location")
  raises(function() e:sqrt_() end, "single memory location")
  raises(function() e:copy_(tensor.ones(3, 2)) end, "single memory location")
  -- size-1 dims may have any stride
  local one = tensor.from { 5 }:expand(1)
  one:add_(1)
  close(one, { 6 }, 0, "expand to size 1 stays writable")
end

function T.partial_overlap_with_the_source_raises()
  local x = tensor.from { { 1, 2 }, { 3, 4 } }
  local e = raises(function() x:add_(x:t()) end, "single memory location")
  check(e:find("test_inplace.lua:", 1, true), "raised at the test's line: " .. e)
  close(x, { 1, 2, 3, 4 }, 0, "x unchanged by the refused add_")
  raises(function() x:copy_(x:t()) end, "single memory location")
  raises(function() x:add_(x[1]) end, "single memory location") -- a row broadcast over x
  local v = tensor.from { 1, 2, 3, 4, 5 }
  raises(function() v:narrow(1, 1, 4):copy_(v:narrow(1, 2, 4)) end, "single memory location")
  raises(function() v:narrow(1, 2, 4):copy_(v:narrow(1, 1, 4)) end, "single memory location")
  raises(function() v:narrow(1, 1, 3):addcmul_(v:narrow(1, 3, 3), 1) end, "single memory location")
  raises(function() v:narrow(1, 1, 2):lerp_(1, v:narrow(1, 2, 2)) end, "single memory location")
  -- scatter_add_ reads its source while adding: even exactly the target is refused (as PyTorch)
  local s = tensor.from { { 1, 2 }, { 3, 4 } }
  raises(function() s:scatter_add_(1, tensor.from { { 2, 1 } }, s) end, "single memory location")
  local q = tensor.from { { 1, 2 }, { 2, 1 } }
  raises(function() q:scatter_add_(2, q:narrow(2, 1, 1), tensor.ones(2, 1)) end, "single memory location")
end

function T.exact_alias_and_disjoint_views_stay_legal()
  local x = tensor.from { 1, 2, 3 }
  x:add_(x)
  close(x, { 2, 4, 6 }, 0, "x:add_(x)")
  x:addcmul_(x, x, 0.5)
  close(x, { 4, 12, 24 }, 0, "x:addcmul_(x, x)")
  local m = tensor.from { { 1, 2 }, { 3, 4 } }
  m:select(2, 1):copy_(m:select(2, 2)) -- columns interleave in memory but share no element
  close(m, { 2, 2, 4, 4 }, 0, "column copied onto column")
  m[1]:add_(m[2], 2) -- rows: disjoint
  close(m, { 10, 10, 4, 4 }, 0, "row added to row")
  local v = tensor.from { 1, 2, 3, 4 }
  v:narrow(1, 1, 2):copy_(v:narrow(1, 3, 2))
  close(v, { 3, 4, 3, 4 }, 0, "disjoint narrows")
  local t = m:t()
  t:mul_(t) -- the same view on both sides
  close(m, { 100, 100, 16, 16 }, 0, "t:mul_(t) on a transposed view")
end

-- ---- argument errors at the user's line -----------------------------------

function T.argument_errors_name_the_line()
  local x = tensor.ones(2, 3)
  local cases = {
    { function() x:add_(tensor.ones(2), 1) end, "add_: shapes [2, 3] and [2] cannot be broadcast" },
    { function() x:add_(tensor.ones(3, 2, 3)) end, "does not fit the target" },
    { function() x:add_(1, "a") end, "bad argument #3" },
    { function() x:addcmul_(tensor.ones(3)) end, "bad argument #3" },
    { function() x:addcmul_(tensor.ones(4), tensor.ones(3)) end, "does not broadcast to the target of shape [2, 3]" },
    { function() x:lerp_(tensor.ones(3)) end, "bad argument #3" },
    { function() x:lerp_(tensor.ones(3), "w") end, "bad argument #3" },
    { function() x:gather(2, tensor.from { { 1, 4 } }) end, "not a position in 1..3" },
    { function() x:gather(2, tensor.from { { 1.5 } }) end, "not a position" },
    { function() x:gather(2, tensor.from { 1 }) end, "does not fit" },
    { function() x:gather(3, tensor.from { { 1 } }) end, "dimension 3 out of range" },
    { function() x:scatter_add_(1, tensor.from { { 3 } }, x) end, "not a position in 1..2" },
    { function() C.cat({ x, tensor.ones(2, 2) }, 1) end, "may differ only in dimension 1" },
    { function() C.cat({}, 1) end, "non-empty list" },
    { function() C.cat({ x, 3 }) end, "element 2 of the list" },
    { function() C.stack({ x, tensor.ones(3, 2) }) end, "all must have the same shape" },
    { function() C.where(tensor.ones(2), x, tensor.ones(4)) end, "cannot be broadcast" },
    { function() R.dot(tensor.ones(2), tensor.ones(3)) end, "dot: expected two 1-D tensors" },
    { function() x:var(5) end, "dimension 5 out of range" },
    { function() R.norm(x, "fro") end, "bad argument #2" },
  }
  for i, c in ipairs(cases) do
    local e = raises(c[1], c[2], "case " .. i)
    check(e:find("test_inplace.lua:%d+:"), "case " .. i .. " raised at the test's line: " .. e)
  end
end

-- ---- new forward ops ------------------------------------------------------

function T.sin_cos_floor_round()
  local v = { -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -3.7, 3.7, 1e7 + 1 }
  local x = tensor.from(v)
  local s, c = x:sin(), x:cos()
  for i, a in ipairs(v) do
    local f = x[i] -- the float32 value
    close(s[i], math.sin(f), 1e-6, "sin", 1e-7)
    close(c[i], math.cos(f), 1e-6, "cos", 1e-7)
  end
  close(x:floor(), { -3, -2, -1, 0, 1, 2, 0, -4, 3, 1e7 + 1 }, 0, "floor")
  close(x:round(), { -2, -2, 0, 0, 2, 2, 0, -4, 4, 1e7 + 1 }, 0, "round: half to even")
  local y = x:clone()
  y:round_()
  identical(y, x:round(), "round_")
  y = x:clone()
  y:floor_()
  identical(y, x:floor(), "floor_")
  y = x:clone()
  y:sin_():cos_()
  identical(y, x:sin():cos(), "sin_ and cos_")
end

function T.remainder_is_floored_like_lua()
  local a = { 5, -5, 5, -5, 5.5, -0.75, 3, 0 }
  local b = { 3, 3, -3, -3, 2, 0.5, 3, 2 }
  local r = tensor.from(a):remainder(tensor.from(b))
  local m = tensor.from(a) % tensor.from(b)
  for i = 1, #a do
    close(r[i], a[i] % b[i], 0, "remainder " .. a[i] .. " % " .. b[i])
    close(m[i], a[i] % b[i], 0, "__mod " .. a[i] .. " % " .. b[i])
  end
  close(tensor.from { -1, 7 } % 4, { 3, 3 }, 0, "tensor % number")
  close(10 % tensor.from { 3, -3 }, { 1, -2 }, 0, "number % tensor")
  check((tensor.from { 1 } % 0)[1] ~= (tensor.from { 1 } % 0)[1], "x % 0 is NaN")
end

function T.where_broadcasts_and_takes_numbers()
  local cond = tensor.from { { 1 }, { 0 } }
  local w = C.where(cond, tensor.from { 1, 2, 3 }, -1)
  close(w, { 1, 2, 3, -1, -1, -1 }, 0, "where [2,1] cond, [3] a, number b")
  check(table.concat(w:shape(), ",") == "2,3", "where shape")
  close(C.where(tensor.from { 0, 2, 0 / 0 }, 5, tensor.from { 7, 8, 9 }), { 7, 5, 5 }, 0, "nonzero and NaN are true")
end

function T.cat_and_stack()
  local a, b = tensor.from { { 1, 2 }, { 3, 4 } }, tensor.from { { 5, 6 } }
  local c = C.cat({ a, b })
  close(c, { 1, 2, 3, 4, 5, 6 }, 0, "cat dim 1 (default)")
  c = C.cat({ a, tensor.from { { 7 }, { 8 } }, a:t() }, -1)
  check(table.concat(c:shape(), ",") == "2,5", "cat dim -1 shape")
  close(c, { 1, 2, 7, 1, 3, 3, 4, 8, 2, 4 }, 0, "cat dim 2 of views")
  local s = C.stack({ tensor.from { 1, 2, 3 }, tensor.from { 4, 5, 6 } }, 2)
  check(table.concat(s:shape(), ",") == "3,2", "stack dim 2 shape")
  close(s, { 1, 4, 2, 5, 3, 6 }, 0, "stack dim 2")
  s = C.stack({ a, a:t() })
  close(s, { 1, 2, 3, 4, 1, 3, 2, 4 }, 0, "stack dim 1 (default)")
  s = C.stack({ tensor.from(1), tensor.from(2) })
  close(s, { 1, 2 }, 0, "stack 0-d tensors")
  s = C.stack({ a, a }, -1)
  check(table.concat(s:shape(), ",") == "2,2,2", "stack dim -1 shape")
  close(s, { 1, 1, 2, 2, 3, 3, 4, 4 }, 0, "stack dim -1")
  local many = {}
  for i = 1, 5000 do many[i] = tensor.from(i) end -- no limit on the list's length
  local st = C.stack(many)
  check(st:numel() == 5000 and st[5000] == 5000 and C.cat({ st, st }):numel() == 10000, "stack of 5000")
end

function T.gather_and_scatter_add()
  local x = tensor.from { { 1, 2, 3 }, { 4, 5, 6 } }
  close(x:gather(2, tensor.from { { 3, 1 }, { 2, 2 } }), { 3, 1, 5, 5 }, 0, "gather dim 2")
  close(x:gather(1, tensor.from { { 2, 1, 2 } }), { 4, 2, 6 }, 0, "gather dim 1")
  close(x:t():gather(-1, tensor.from { { 2 }, { 1 }, { 2 } }), { 4, 2, 6 }, 0, "gather on a view, dim -1")
  -- scatter_add_ is gather's adjoint: <gather(x, i), y> == <x, scatter_add(0, i, y)>
  local idx = tensor.from { { 3, 1, 3, 3 }, { 2, 2, 1, 3 } }
  local y = tensor.from { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } }
  local z = tensor.zeros(2, 3):scatter_add_(2, idx, y)
  close(z, { 2, 0, 1 + 3 + 4, 7, 5 + 6, 8 }, 0, "scatter_add_ dim 2 sums repeated positions")
  local x2 = tensor.from { { 1, 2, 3 }, { 4, 5, 6 } }
  close((x2:gather(2, idx) * y):sum():item(), (x2 * z):sum():item(), 0, "adjoint")
  local w = tensor.ones(3, 2):scatter_add_(1, tensor.from { { 3, 1 } }, tensor.from { { 10, 20 }, { 30, 40 } })
  close(w, { 1, 21, 1, 1, 11, 1 }, 0, "scatter_add_ dim 1, smaller index than source")
end

function T.logsumexp_is_stable()
  local x = tensor.from { { 1, 2, 3 }, { 1000, 1000, -1000 }, { -1e30, -1e30, -1e30 } }
  local want = {
    math.log(math.exp(1) + math.exp(2) + math.exp(3)),
    1000 + math.log(2),
    -1e30 + math.log(3),
  }
  close(x:logsumexp(2), want, 1e-6, "logsumexp along dim 2")
  close(x:logsumexp(2, true):shape()[2], 1, 0, "keepdim")
  local ninf = tensor.from { -math.huge, -math.huge }
  check(ninf:logsumexp(1):item() == -math.huge, "all -inf gives -inf")
  check(tensor.from({ 1, math.huge }):logsumexp(1):item() == math.huge, "+inf gives +inf")
  close(tensor.from { 0, 0, 0, 0 }:logsumexp(), { math.log(4) }, 1e-6, "over everything")
end

function T.var_and_std()
  local v = { 2, 4, 4, 4, 5, 5, 7, 9 }
  local x = tensor.from(v)
  close(x:var(), { 32 / 7 }, 1e-6, "var: unbiased by default")
  close(x:var(nil, false, 0), { 4 }, 1e-6, "var correction 0")
  close(x:std(nil, false, 0), { 2 }, 1e-6, "std correction 0")
  local m = tensor.from { { 1, 2, 3, 4 }, { 2, 2, 2, 2 } }
  close(m:var(2), { 5 / 3, 0 }, 1e-6, "var along dim 2")
  close(m:std(1, true), { math.sqrt(0.5), 0, math.sqrt(0.5), math.sqrt(2) }, 1e-6, "std along dim 1")
  check(table.concat(m:std(1, true):shape(), ",") == "1,4", "keepdim")
  -- a large offset: one pass of sum and sum of squares in float32 would lose it all
  local big = tensor.from { 1e4 + 1, 1e4 + 2, 1e4 + 3 }
  close(big:var(), { 1 }, 1e-6, "var of values near 1e4")
  check(tensor.from({ 3 }):var():item() ~= tensor.from({ 3 }):var():item(), "var of one element (correction 1) is NaN")
end

function T.cumsum_prod_dot()
  local x = tensor.from { { 1, 2, 3 }, { 4, 5, 6 } }
  close(x:cumsum(2), { 1, 3, 6, 4, 9, 15 }, 0, "cumsum dim 2")
  close(x:cumsum(1), { 1, 2, 3, 5, 7, 9 }, 0, "cumsum dim 1")
  close(x:t():cumsum(-1), { 1, 5, 2, 7, 3, 9 }, 0, "cumsum of a view along -1")
  close(x:prod(), { 720 }, 0, "prod")
  close(x:prod(2), { 6, 120 }, 0, "prod dim 2")
  check(table.concat(x:prod(1, true):shape(), ",") == "1,3", "prod keepdim")
  close(tensor.zeros(0):prod(), { 1 }, 0, "empty prod is 1")
  close(R.dot(tensor.from { 1, 2, 3 }, tensor.from { 4, 5, 6 }), { 32 }, 0, "dot")
  close(C.dot(x:select(2, 1), x:select(2, 3)), { 1 * 3 + 4 * 6 }, 0, "dot of strided views")
  local n, a, b, want = 10001, {}, {}, 0
  for i = 1, n do
    a[i], b[i] = rnd(-1, 1), rnd(-1, 1)
  end
  local ta, tb = tensor.from(a), tensor.from(b)
  for i = 1, n do want = want + ta[i] * tb[i] end
  close(R.dot(ta, tb), { want }, 1e-6, "dot accumulates in double")
end

function T.norm_takes_p()
  local x = tensor.from { 3, -4 }
  local norm = R.norm
  close(norm(x), { 5 }, 0, "norm default p = 2")
  close(norm(x, 1), { 7 }, 0, "norm(1)")
  close(norm(x, math.huge), { 4 }, 0, "norm(inf)")
  close(norm(x, -math.huge), { 3 }, 0, "norm(-inf)")
  close(norm(x, 0), { 2 }, 0, "norm(0) counts nonzeros")
  close(norm(x, 3), { (27 + 64) ^ (1 / 3) }, 1e-6, "norm(3)")
  local m = tensor.from { { 3, 4 }, { 6, 8 } }
  close(norm(m, 2, 2), { 5, 10 }, 1e-7, "norm along dim 2")
  close(norm(m, 1, 1, true), { 9, 12 }, 0, "norm(1) along dim 1, keepdim")
  close(norm(tensor.zeros(3)), { 0 }, 0, "norm of zeros")
end

return T
