/* Helpers of the training loop (stdlib/train.lua) that must not walk
 * elements in Lua. */
#include <math.h>
#include "tensor.h"
#include "lcheck.h"
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

/* First index of the largest of n values (NaN never wins). */
static int64_t argmax_row(const float *v, int64_t n, int64_t stride)
{
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++) if (v[j * stride] > v[best * stride]) best = j;
    return best;
}

/* C.accuracy_count(out [B, C], y [B] class ids or [B, C] one-hot) -> rows whose
 * first argmax equals the label. */
static int accuracy_count(lua_State *L)
{
    OLTensor *o = ol_checktensor(L, 1), *y = ol_checktensor(L, 2);
    char b1[64], b2[64];
    if (o->ndim != 2 || !((y->ndim == 1 && y->shape[0] == o->shape[0]) || (y->ndim == 2 && ol_sameshape(o, y))))
        ol_error(L, "accuracy: expected outputs [B, C] and labels [B] or one-hot [B, C], got %s and %s",
                 ol_shapestr(o, b1, sizeof b1), ol_shapestr(y, b2, sizeof b2));
    const float *od = ol_data(o), *yd = ol_data(y);
    int64_t count = 0;
    for (int64_t i = 0; i < o->shape[0]; i++) {
        int64_t p = argmax_row(od + i * o->stride[0], o->shape[1], o->stride[1]);
        int64_t want;
        if (y->ndim == 1) {
            /* a class id: checked before the cast (1e30 or NaN to int64 is undefined) */
            float f = yd[i * y->stride[0]];
            if (!(f == floorf(f) && f >= 0 && f < (float)o->shape[1]))
                ol_error(L, "accuracy: label %g at row %lld is not a class id in [0, %lld)", (double)f,
                         (long long)i + 1, (long long)o->shape[1]);
            want = (int64_t)f;
        } else want = argmax_row(yd + i * y->stride[0], y->shape[1], y->stride[1]);
        count += p == want;
    }
    lua_pushinteger(L, count);
    return 1;
}

static const luaL_Reg train_funcs[] = {
    {"grad_norm", grad_norm}, {"accuracy_count", accuracy_count}, {"isfinite", isfinite_num}, {NULL, NULL}
};

void ol_open_train(lua_State *L) { ol_module(L, "train", train_funcs); }
