/* What LuaJIT's FFI needs from the host (stdlib/ffi_tensor.lua): a tensor's
 * float pointer, and the declarations of the kernels it may call.
 *
 * The declarations are vm/ffi_cdef.h, compiled here after the real kernel
 * headers: C accepts a repeated prototype only if it has the same type, so a
 * kernel whose signature changes breaks this build until the FFI's copy
 * follows. The same text, embedded as a string by the Makefile
 * (ffi_cdef.inc), is what ffi.cdef gets. Built on both VMs, so the check
 * runs in the default build too; on Lua 5.4 nothing calls it. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include "tensor.h"
#include "lcheck.h"
#include "act.h"
#include "elementwise.h"
#include "gemm.h"
#include "loss.h"
#include "reduce.h"
#include "rng.h"
#include "ffi_cdef.h"

static const char cdef[] =
#include "ffi_cdef.inc"
    ;

static int ffi_cdef(lua_State *L) { lua_pushstring(L, cdef); return 1; }

/* C.data_ptr(t) -> lightuserdata to t's first float, element count. Only
 * for contiguous tensors: a pointer and a length describe nothing else. */
static int data_ptr(lua_State *L)
{
    OLTensor *t = ol_checktensor(L, 1);
    if (!ol_iscontiguous(t)) {
        char s[160];
        ol_error(L, "t:ffi(): the tensor (shape %s) is not contiguous; call t:contiguous() first "
                    "(a copy: keep it, write through it, copy_ it back)", ol_shapestr(t, s, sizeof s));
    }
    lua_pushlightuserdata(L, ol_data(t));
    lua_pushinteger(L, (lua_Integer)ol_numel(t));
    return 2;
}

/* C.ffi_library() -> nil when the kernels are in the global namespace
 * (ffi.C: the optlab executable, linked with -E), else the path of the
 * shared object to ffi.load (optlab.so under a stock luajit). */
static int ffi_library(lua_State *L)
{
    Dl_info info;
    if (dlsym(RTLD_DEFAULT, "ol_sum") == (void *)ol_sum) { lua_pushnil(L); return 1; }
    if (dladdr((void *)ol_sum, &info) && info.dli_fname) lua_pushstring(L, info.dli_fname);
    else lua_pushnil(L);
    return 1;
}

static const luaL_Reg functions[] = {
    {"cdef", ffi_cdef}, {"data_ptr", data_ptr}, {"library", ffi_library},
    {NULL, NULL}
};

void ol_open_ffi(lua_State *L) { ol_module(L, "ffi", functions); }
