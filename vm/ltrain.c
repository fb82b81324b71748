/* Helpers of the training loop (stdlib/train.lua) that must not walk
 * elements in Lua. */
#include <math.h>
#include "tensor.h"
#include "reduce.h"

/* C.grad_norm(params) -> global L2 norm of the .grad of every parameter,
 * and the number of gradients found. Per-tensor sums of squares use the
 * fixed-block reduction (kernels/reduce.h), added in parameter order in
 * double: the same value for any thread count. */
static int grad_norm(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    double s = 0.0;
    int found = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (!ol_totensor(L, -1)) ol_error(L, "grad_norm: parameter %d is not a tensor", (int)i);
        lua_getfield(L, -1, "grad");
        if (!lua_isnil(L, -1)) {
            if (!ol_totensor(L, -1)) ol_error(L, "grad_norm: the .grad of parameter %d is not a tensor", (int)i);
            OLTensor *g = ol_pushcontiguous(L, lua_gettop(L));
            s += ol_sumsq(ol_numel(g), ol_data(g));
            found++;
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    lua_pushnumber(L, sqrt(s));
    lua_pushinteger(L, found);
    return 2;
}

static int isfinite_num(lua_State *L)
{
    lua_pushboolean(L, isfinite(luaL_checknumber(L, 1)));
    return 1;
}

static const luaL_Reg train_funcs[] = {
    {"grad_norm", grad_norm}, {"isfinite", isfinite_num}, {NULL, NULL}
};

void ol_open_train(lua_State *L) { luaL_setfuncs(L, train_funcs, 0); }
