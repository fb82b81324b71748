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
  { tensor.empty, "tensor.empty(...sizes)  an uninitialized (zero-filled) tensor" },
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
  { M.sumsq, "t:sumsq()  the sum of squares" },
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
}
for _, d in ipairs(docs) do
  if d[1] then help.register(d[1], d[2]) end
end
help.register(M, "tensor methods (t:name(...)); in-place forms end in \"_\"")

if C.sys then
  local sys = C.sys
  help.register(sys, "sys  clocks, threads and memory (Torch7's names)")
  help.register(sys.clock, "sys.clock()  monotonic wall time in seconds, for timing")
  help.register(sys.time, "sys.time()  the epoch time in seconds")
  help.register(sys.threads, "sys.threads()  the thread count of BLIS and optlab's kernels")
  help.register(sys.set_threads, "sys.set_threads(n)  sets the thread count (results stay bit-identical)")
  help.register(sys.rss, "sys.rss()  resident memory now, in bytes")
  help.register(sys.peak_rss, "sys.peak_rss()  peak resident memory, in bytes")
end

return true
