-- Docs of what has no Lua file to keep them in: the C core's tensor
-- functions and methods (vm/ltensor.c) and sys (vm/lsys.c). Loaded by help
-- on first use. Lua modules register their own docs next to their code.
local help = require "help"
local C = require "optlab.core"
local tensor = package.loaded.tensor or require "tensor"
local M = C.methods

help.register(tensor, [[
tensor  float32 n-d arrays on BLIS (PyTorch's names and conventions)
Create: tensor.zeros(2, 3), tensor.ones{2, 3}, tensor.from{{1, 2}, {3, 4}}, tensor.randn(64, 10).
Methods: t:shape(), t:sum(), t:matmul(u), in-place forms end in "_" (t:add_(u)).
Arithmetic (+ - * / ^) broadcasts; per-tensor fields (t.grad, t.name) are free to set.
help(t) on a tensor lists its methods.]])

local docs = {
  { tensor.empty, "tensor.empty(...sizes)  a tensor whose values are not set (whatever the memory held): fill it before reading" },
  { tensor.zeros, "tensor.zeros(...sizes)  a tensor of zeros; sizes as numbers or one table" },
  { tensor.ones, "tensor.ones(...sizes)  a tensor of ones" },
  { tensor.full, "tensor.full(sizes..., value)  a tensor filled with value" },
  { tensor.eye, "tensor.eye(n [, m])  the n x m identity matrix (m defaults to n)" },
  { tensor.arange, "tensor.arange([start,] stop [, step])  start, start+step, ... below stop (1-d)" },
  { tensor.linspace, "tensor.linspace(a, b, n)  n evenly spaced points from a to b inclusive" },
  { tensor.from, "tensor.from(table)  a tensor from nested Lua tables: tensor.from{{1, 2}, {3, 4}}" },
  { tensor.matmul, "tensor.matmul(a, b), t:matmul(u)  matrix product (BLIS sgemm), batched over leading dimensions" },
  { tensor.is_tensor, "tensor.is_tensor(v)  true if v is a tensor" },
  { tensor.zeros_like, "tensor.zeros_like(t)  zeros of t's shape" },
  { tensor.ones_like, "tensor.ones_like(t)  ones of t's shape" },
  { tensor.manual_seed, "tensor.manual_seed(seed)  seeds the global generator (a non-negative integer)" },
  { tensor.seed, "tensor.seed()  the current global seed" },
  { tensor.rand, "tensor.rand(...sizes [, {seed=, stream=}])  uniform numbers in [0, 1)" },
  { tensor.randn, "tensor.randn(...sizes [, {seed=, stream=}])  standard normal numbers" },
  { tensor.uniform, "tensor.uniform(shape, lo, hi [, opts])  uniform numbers in [lo, hi)" },
  { tensor.normal, "tensor.normal(shape, mean, std [, opts])  normal numbers" },
  { M.shape, "t:shape()  the sizes as a table {d1, d2, ...}" },
  { M.size, "t:size([dim])  the sizes, or the size of one dimension" },
  { M.numel, "t:numel()  the number of elements" },
  { M.dim, "t:dim()  the number of dimensions" },
  { M.reshape, "t:reshape(...sizes)  the same elements in a new shape (-1 infers one size)" },
  { M.view, "t:view(...sizes)  reshape without a copy (t must be contiguous)" },
  { M.transpose, "t:transpose([d1, d2])  swaps two dimensions (a view); t:t() for matrices" },
  { M.contiguous, "t:contiguous()  t, or a contiguous copy if t is a strided view" },
  { M.clone, "t:clone()  a contiguous copy" },
  { M.sum, "t:sum([dim])  the sum, of all elements or along dim (fixed-order, thread-count independent)" },
  { M.mean, "t:mean([dim])  the mean, of all elements or along dim" },
  { M.max, "t:max([dim])  the maximum" },
  { M.min, "t:min([dim])  the minimum" },
  { M.argmax, "t:argmax([dim])  the index of the maximum (1-based)" },
  { M.sumsq, "t:sumsq([dim [, keepdim]])  the sum of squares, over everything or along dim" },
  { M.item, "t:item()  the value of a one-element tensor as a number" },
  { M.totable, "t:totable()  nested Lua tables of the values" },
  { M.fill_, "t:fill_(v)  sets every element to v, in place" },
  { M.copy_, "t:copy_(src)  copies src (broadcast) into t, in place" },
  { M.add_, "t:add_(u [, alpha=1])  t += alpha*u, in place, one pass (u a tensor broadcast to t, or a number)" },
  { M.sub_, "t:sub_(u [, alpha=1])  t -= alpha*u, in place" },
  { M.mul_, "t:mul_(u)  t *= u, in place (u broadcast, or a number)" },
  { M.div_, "t:div_(u)  t /= u, in place" },
  { M.addcmul_, "t:addcmul_(t1, t2 [, value=1])  t += value*t1*t2, in place, one pass (PyTorch's addcmul_)" },
  { M.addcdiv_, "t:addcdiv_(t1, t2 [, value=1])  t += value*t1/t2, in place, one pass (PyTorch's addcdiv_)" },
  { M.lerp_, "t:lerp_(end, weight)  t += weight*(end - t), in place; weight a number or a tensor (PyTorch's lerp_)" },
  { M.sqrt_, "t:sqrt_()  square root, in place" },
  { M.sign_, "t:sign_()  -1, 0 or 1, in place" },
  { M.clamp_, "t:clamp_(lo, hi)  values limited to [lo, hi], in place; either bound may be nil" },
  { M.clamp, "t:clamp(lo, hi)  values limited to [lo, hi]" },
  { M.maximum, "t:maximum(u), tensor.maximum(a, b)  element-wise max, tensor or number on either side (NaN wins)" },
  { M.minimum, "t:minimum(u), tensor.minimum(a, b)  element-wise min, tensor or number on either side (NaN wins)" },
  { M._version, "t:_version()  how many in-place writes t's storage (shared by its views) has had" },
  { M.sin, "t:sin()  sine; t:sin_() in place" },
  { M.cos, "t:cos()  cosine; t:cos_() in place" },
  { M.floor, "t:floor()  rounded down; t:floor_() in place (gradient 0)" },
  { M.round, "t:round()  rounded to the nearest integer, halves to even like torch.round; t:round_() in place" },
  { M.remainder, "t:remainder(u), t % u  floored remainder, the sign of the divisor (Lua's %, torch.remainder)" },
  { tensor.where, "tensor.where(cond, a, b)  a where cond is nonzero, else b; a, b tensors or numbers, broadcast" },
  { tensor.cat, "tensor.cat(list [, dim=1])  joins tensors along an existing dimension" },
  { tensor.stack, "tensor.stack(list [, dim=1])  joins tensors of one shape along a new dimension" },
  { M.gather, "t:gather(dim, index)  values of t at the 1-based positions index holds along dim (torch.gather)" },
  { M.scatter_add_, "t:scatter_add_(dim, index, src)  t[index] += src along dim, in place (torch's scatter_add_)" },
  { M.logsumexp, "t:logsumexp([dim [, keepdim]])  log(sum(exp(t))), shifted by the max so it does not overflow" },
  { M.var, "t:var([dim [, keepdim [, correction=1]]])  variance (correction 1: unbiased, torch's default)" },
  { M.std, "t:std([dim [, keepdim [, correction=1]]])  standard deviation" },
  { M.cumsum, "t:cumsum(dim)  running sums along dim" },
  { M.prod, "t:prod([dim [, keepdim]])  the product" },
  { M.dot, "t:dot(u), tensor.dot(a, b)  the dot product of two 1-D tensors" },
  { M.norm, "t:norm([p=2 [, dim [, keepdim]]])  the p-norm: p = 1, 2, math.huge (max |x|), any other p" },
  { tensor.no_grad, "tensor.no_grad(fn, ...)  calls fn(...) with autograd off (no graph is recorded) and returns its results;\n" ..
                    "for optimizer-style updates of parameters and for evaluation" },
  { tensor.save, "tensor.save(path, t | {name = t, ...} [, meta])  writes tensors to one file (atomic, checksummed)" },
  { tensor.load, "tensor.load(path) -> t | {name = t, ...}, meta  reads tensor.save's file" },
  { tensor.get_rng_state, "tensor.get_rng_state() -> {seed, stream}  the global generator's state" },
  { tensor.set_rng_state, "tensor.set_rng_state(state)  restores a state from tensor.get_rng_state()" },
  { tensor.next_stream, "tensor.next_stream() -> seed, stream  a fresh stream of the global generator (for modules drawing their own numbers)" },
  { M.backward, "t:backward([grad])  gradients of t (a scalar, or weighted by grad of t's shape) into the .grad of every\n" ..
                "tensor with requires_grad that contributed to it (accumulated: zero them between steps)" },
  { M.detach, "t:detach()  the same values and memory with no autograd history" },
  { M.requires_grad_, "t:requires_grad_([on = true])  marks t as a leaf whose gradient backward computes; returns t" },
  { M.add, "t:add(u [, alpha=1]), t + u  t + alpha*u (u a tensor, broadcast, or a number)" },
  { M.sub, "t:sub(u [, alpha=1]), t - u  t - alpha*u" },
  { M.mul, "t:mul(u), t * u  element-wise product (broadcast)" },
  { M.div, "t:div(u), t / u  element-wise quotient (broadcast)" },
  { M.pow, "t:pow(p), t ^ p  element-wise power" },
  { M.neg, "t:neg(), -t  negation" },
  { M.abs, "t:abs()  absolute value" },
  { M.sign, "t:sign()  -1, 0 or 1 (gradient 0)" },
  { M.sqrt, "t:sqrt()  square root" },
  { M.square, "t:square()  t*t" },
  { M.exp, "t:exp()  e^t" },
  { M.log, "t:log()  natural logarithm" },
  { M.reciprocal, "t:reciprocal()  1/t" },
  { M.relu, "t:relu()  max(t, 0)" },
  { M.sigmoid, "t:sigmoid()  1/(1 + e^-t)" },
  { M.tanh, "t:tanh()  hyperbolic tangent" },
  { M.eq, "t:eq(u)  1 where t == u, else 0 (float32; u a tensor or a number)" },
  { M.ne, "t:ne(u)  1 where t ~= u, else 0" },
  { M.lt, "t:lt(u)  1 where t < u, else 0" },
  { M.le, "t:le(u)  1 where t <= u, else 0" },
  { M.gt, "t:gt(u)  1 where t > u, else 0" },
  { M.ge, "t:ge(u)  1 where t >= u, else 0" },
  { M.argmin, "t:argmin([dim])  the index of the minimum (1-based)" },
  { M.get, "t:get(i, j, ...)  one element (1-based indices) as a number" },
  { M.set, "t:set(i, j, ..., v)  sets one element (1-based indices)" },
  { M.narrow, "t:narrow(dim, start, length)  a view of `length` entries from `start` (1-based) along dim" },
  { M.select, "t:select(dim, index)  a view of one slice (1-based index), without dim" },
  { M.permute, "t:permute(d1, d2, ...)  a view with the dimensions reordered" },
  { M.expand, "t:expand(...sizes)  a view broadcasting size-1 dimensions (no copy)" },
  { M.squeeze, "t:squeeze([dim])  a view without size-1 dimensions (or only dim)" },
  { M.unsqueeze, "t:unsqueeze(dim)  a view with a new size-1 dimension at dim" },
  { M.stride, "t:stride([dim])  the strides (in elements)" },
  { M.is_contiguous, "t:is_contiguous()  true if t's elements are laid out densely in row-major order" },
  { M.t, "t:t()  the transpose of a matrix (a view)" },
  { M.zero_, "t:zero_()  sets every element to 0, in place" },
}
for _, d in ipairs(docs) do
  if d[1] then help.register(d[1], d[2]) end
end
-- In-place forms (name ending in "_") that have no entry of their own point
-- at the out-of-place one.
for name, fn in pairs(M) do
  if type(fn) == "function" and name:sub(-1) == "_" and name:sub(1, 1) ~= "_" and not help.docs[fn] then
    local base = M[name:sub(1, -2)]
    local bdoc = base and help.docs[base]
    if bdoc then
      help.register(fn, string.format("t:%s(...)  in place: %s", name, bdoc:match("^[^\n]*")))
    end
  end
end
help.register(M, "tensor methods (t:name(...)); in-place forms end in \"_\"")

if C.sys then
  local sys = C.sys
  help.register(sys, "sys  clocks, threads and memory (Torch7's names)")
  help.register(sys.clock, "sys.clock()  monotonic wall time in seconds, for timing")
  help.register(sys.time, "sys.time()  the epoch time in seconds")
  help.register(sys.threads, "sys.threads()  the thread count of BLIS and optlab's kernels")
  help.register(sys.set_threads, "sys.set_threads(n)  sets the thread count (results stay bit-identical)")
  help.register(sys.set_flush_denormal, "sys.set_flush_denormal(on) -> supported  flush denormal floats to zero on every thread (PyTorch's torch.set_flush_denormal; off by default: IEEE)")
  help.register(sys.rss, "sys.rss()  resident memory now, in bytes")
  help.register(sys.peak_rss, "sys.peak_rss()  peak resident memory, in bytes")
  help.register(sys.blis_version, "sys.blis_version()  the version of the BLIS library optlab uses")
  help.register(sys.blis_arch, "sys.blis_arch()  the BLIS kernel set in use (\"skx\", \"haswell\", ...)")
  help.register(sys.isatty, "sys.isatty(fd)  true if file descriptor fd (1 = stdout) is a terminal")
  help.register(sys.getcwd, "sys.getcwd()  the current directory")
  help.register(sys.listdir, "sys.listdir(path)  the names in a directory, sorted bytewise, without . and ..")
  help.register(sys.catch_interrupts, "sys.catch_interrupts(on) -> was  while on, Ctrl-C sets a flag (sys.interrupted()) instead of stopping")
  help.register(sys.interrupted, "sys.interrupted()  true once Ctrl-C was pressed while interrupts are caught")
  help.register(sys.set_exit_status, "sys.set_exit_status(code)  the exit status optlab returns when the script ends")
  help.register(sys.spawn, "sys.spawn(argv [, opts]) -> pid  starts a process (no shell)")
  help.register(sys.wait, "sys.wait(pid) -> code  waits for a process from sys.spawn")
  help.register(sys.wait_any, "sys.wait_any{pid, ...} -> pid, how, code  waits for the first of these processes to end (sys.wait's how and code)")
end

return true
