-- LuaJIT's FFI on tensors: t:ffi() gives a float* to a tensor's floats, so a
-- per-element loop written in Lua compiles to machine code with no binding call
-- per element; tensor.kernels() gives optlab's C kernels as FFI functions
-- (declared once, in vm/ffi_cdef.h, which the build checks against the kernels).
-- On Lua 5.4 both raise an error that names the LuaJIT build.
local C = require "optlab.core"
local help = require "help"

return function(tensor)
  local ffi = compat.ffi
  local function need_luajit(what)
    C.raise(what .. " needs optlab's LuaJIT build (make LUA=luajit); this optlab runs on " .. compat.vm)
  end

  -- A pointer keeps its tensor alive while the pointer itself is alive (weak keys:
  -- the entry goes with the pointer). Pointer arithmetic (p + 1) makes a new
  -- pointer without that anchor: keep a reference to the tensor as well.
  local anchors = setmetatable({}, { __mode = "k" })

  function tensor.methods.ffi(t)
    if not ffi then need_luajit("t:ffi()") end
    local p, n = C.ffi.data_ptr(t)
    local fp = ffi.cast("float *", p)
    anchors[fp] = t
    return fp, n
  end
  help.register(tensor.methods.ffi, [[
t:ffi() -> p, n   (LuaJIT build only)
A float* to the tensor's n floats, 0-based: p[0] .. p[n-1]. Reads and writes go
straight to the tensor's memory, and a loop over them is compiled by LuaJIT:
  local p, n = w:ffi()
  local g = w.grad:ffi()
  for i = 0, n - 1 do p[i] = p[i] - lr * g[i] end
The tensor must be contiguous (t:contiguous() copies). The pointer is valid while
the tensor lives: keep a reference to the tensor as long as you use the pointer.
No autograd: writes through it are not recorded (as in tensor.no_grad). Bounds are
not checked: p[n] is memory outside the tensor. On Lua 5.4 it raises an error.]])

  local kernels
  function tensor.kernels()
    if not ffi then need_luajit("tensor.kernels()") end
    if not kernels then
      ffi.cdef(C.ffi.cdef())
      local lib = C.ffi.library()
      kernels = lib and ffi.load(lib) or ffi.C
    end
    return kernels
  end
  help.register(tensor.kernels, [[
tensor.kernels() -> K   (LuaJIT build only)
optlab's C kernels as FFI functions on raw float pointers (from t:ffi()), e.g.
  local K = tensor.kernels()
  local p, n = t:ffi()
  print(K.ol_sum(n, p))            -- the same sum as t:sum(), in double
  K.ol_clamp(n, p, p, -1, 1)       -- in place
The list and the signatures: vm/ffi_cdef.h (reductions, clamp, activations, mse,
Philox random numbers, GEMM). No shape checks: the caller passes valid pointers
and sizes.]])
end
