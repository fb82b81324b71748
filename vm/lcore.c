/* The C core as one Lua table, `require "optlab.core"`: every binding file
 * adds its functions here. Also the `optlab` module for a stock lua5.4. */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "host.h"
#include "tensor.h"
#include "lcheck.h"

void ol_open_tensor(lua_State *L);
void ol_open_sys(lua_State *L);
void ol_open_serialize(lua_State *L);
void ol_open_data(lua_State *L);
void ol_open_train(lua_State *L);
void ol_open_signal(lua_State *L);
void ol_open_proc(lua_State *L);
void ol_open_optim(lua_State *L);
void ol_open_optprog(lua_State *L);
void ol_open_nn(lua_State *L);
void ol_open_ffi(lua_State *L);
void ol_open_mpi(lua_State *L);

static void (*const openers[])(lua_State *L) = {
    ol_open_tensor,
    ol_open_sys,
    ol_open_serialize,
    ol_open_data,
    ol_open_train,
    ol_open_signal,
    ol_open_proc,
    ol_open_optim,
    ol_open_optprog,
    ol_open_nn,
    ol_open_ffi,
    ol_open_mpi,
};

void ol_module(lua_State *L, const char *name, const luaL_Reg *funcs)
{
    if (lua_getfield(L, -1, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
    luaL_setfuncs(L, funcs, 0);
    lua_pop(L, 1);
}

int luaopen_optlab_core(lua_State *L)
{
    lua_newtable(L);
    for (size_t i = 0; i < sizeof openers / sizeof openers[0]; i++) openers[i](L);
    lua_pushstring(L, OPTLAB_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}

/* `require "optlab"` from a stock interpreter: find stdlib/ next to this
 * shared object, then run stdlib/optlab.lua, which returns the modules. */
int luaopen_optlab(lua_State *L)
{
    Dl_info info;
    char dir[PATH_MAX] = "";
    if (dladdr((void *)luaopen_optlab, &info) && info.dli_fname) {
        /* Never unload: lua_close dlcloses C modules, which would unmap
         * libgomp under its parked worker threads (a segfault at exit). */
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        char *real = realpath(info.dli_fname, NULL);
        if (real) {
            snprintf(dir, sizeof dir, "%s", real);
            free(real);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = '\0';
        }
    }
    if (ol_host_setup(L, dir) != 0) return lua_error(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "optlab_init");
    lua_call(L, 1, 1);
    return 1;
}
