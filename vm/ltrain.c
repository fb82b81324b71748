/* Helpers of the training loop (stdlib/train.lua) that must not walk
 * elements in Lua. */
#include <math.h>
#include <string.h>
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

/* ---- data-parallel steps (stdlib/train/distributed.lua) ---------------------------------
 * A shard's contribution to a step travels as bytes: its k scalars (loss, metrics) as doubles,
 * then the .grad of every parameter as float32, in parameter order. Packing and combining run
 * here so that no Lua loop walks elements; the bytes are what MPI allgathers. */

/* The parameter at params[i] and its .grad, contiguous, pushed; the parameter's numel. */
static OLTensor *shard_grad(lua_State *L, lua_Integer i, const char *op)
{
    lua_rawgeti(L, 1, i);
    OLTensor *p = ol_totensor(L, -1);
    if (!p) ol_error(L, "%s: parameter %d is not a tensor", op, (int)i);
    lua_getfield(L, -1, "grad");
    OLTensor *g = lua_isnil(L, -1) ? NULL : ol_totensor(L, -1);
    char b1[64], b2[64];
    if (!g)
        ol_error(L, "%s: parameter %d (shape %s) has no .grad after the shard's backward: every parameter must "
                    "take part in the loss", op, (int)i, ol_shapestr(p, b1, sizeof b1));
    if (!ol_sameshape(p, g))
        ol_error(L, "%s: the .grad of parameter %d is %s, the parameter %s", op, (int)i,
                 ol_shapestr(g, b1, sizeof b1), ol_shapestr(p, b2, sizeof b2));
    return ol_pushcontiguous(L, lua_gettop(L));
}

/* The number of elements of all the parameters (their .grads packed). */
static int64_t params_numel(lua_State *L, const char *op)
{
    int64_t n = 0;
    lua_Integer np = (lua_Integer)lua_rawlen(L, 1);
    for (lua_Integer i = 1; i <= np; i++) {
        lua_rawgeti(L, 1, i);
        OLTensor *p = ol_totensor(L, -1);
        if (!p) ol_error(L, "%s: parameter %d is not a tensor", op, (int)i);
        n += ol_numel(p);
        lua_pop(L, 1);
    }
    return n;
}

/* C.train.pack_shard(params, {s1, ..., sk}) -> string of 8k + 4N bytes. */
static int pack_shard(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer k = (lua_Integer)lua_rawlen(L, 2), np = (lua_Integer)lua_rawlen(L, 1);
    int64_t n = params_numel(L, "pack_shard");
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, (size_t)k * sizeof(double) + (size_t)n * sizeof(float));
    size_t at = 0;
    for (lua_Integer j = 1; j <= k; j++) {
        lua_rawgeti(L, 2, j);
        if (!lua_isnumber(L, -1)) ol_error(L, "pack_shard: scalar %d is not a number", (int)j);
        double v = lua_tonumber(L, -1);
        lua_pop(L, 1);
        memcpy(out + at, &v, sizeof v);
        at += sizeof v;
    }
    for (lua_Integer i = 1; i <= np; i++) {
        int top = lua_gettop(L);
        OLTensor *g = shard_grad(L, i, "pack_shard");
        memcpy(out + at, ol_data(g), (size_t)ol_numel(g) * sizeof(float));
        at += (size_t)ol_numel(g) * sizeof(float);
        lua_settop(L, top);
    }
    luaL_pushresultsize(&b, at);
    return 1;
}

/* C.train.combine_shards(params, blobs, counts, k [, skip]) -> s1, ..., sk: blobs (a list of
 * strings) hold whole shards, one after another, in shard order, after `skip` bytes of a
 * header each (0); counts[j] is shard j's number of
 * examples. Every parameter's .grad becomes sum_j counts[j] * g_j / sum(counts), and the
 * scalars likewise, in double, the shards added in order (ol_ordered_combine): the same bits
 * however the shards were spread over ranks. */
static int combine_shards(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    int k = (int)ol_checkrange(L, 4, 0, 64, "combine_shards", "scalar count");
    size_t skip = (size_t)ol_optrange(L, 5, 0, 0, 1 << 20, "combine_shards", "header bytes");
    int ns = (int)lua_rawlen(L, 3), nb = (int)lua_rawlen(L, 2);
    int64_t n = params_numel(L, "combine_shards");
    size_t shard = (size_t)k * sizeof(double) + (size_t)n * sizeof(float);
    if (ns < 1) ol_error(L, "combine_shards: no shards");
    /* the shards' bytes and weights; a userdata, so an error below frees them */
    const unsigned char **x = lua_newuserdatauv(L, (size_t)ns * (2 * sizeof *x + sizeof(double)), 0);
    const unsigned char **xs = x + ns; /* shard j's bytes of the parameter at hand */
    double *w = (double *)(void *)(xs + ns), total = 0;
    int j = 0;
    for (int bi = 1; bi <= nb; bi++) {
        size_t len;
        lua_rawgeti(L, 2, bi);
        const char *s = lua_tolstring(L, -1, &len);
        if (!s || lua_type(L, -1) != LUA_TSTRING) ol_error(L, "combine_shards: part %d is not a string", bi);
        if (len < skip || shard == 0 || (len - skip) % shard != 0)
            ol_error(L, "combine_shards: part %d has %zu bytes, not %zu of a header and a whole number of "
                        "%zu-byte shards (a rank with other parameters?)", bi, len, skip, shard);
        for (size_t at = skip; at < len; at += shard) {
            if (j == ns) ol_error(L, "combine_shards: the parts hold more than the %d shards counted", ns);
            x[j++] = (const unsigned char *)s + at;
        }
        lua_pop(L, 1); /* the strings stay alive in blobs */
    }
    if (j != ns) ol_error(L, "combine_shards: the parts hold %d shards, %d counted", j, ns);
    for (j = 0; j < ns; j++) {
        lua_rawgeti(L, 3, j + 1);
        w[j] = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (!(w[j] >= 0)) ol_error(L, "combine_shards: count %d is not a non-negative number", j + 1);
        total += w[j];
    }
    if (!(total > 0)) ol_error(L, "combine_shards: the shards hold no examples");
    int64_t at = 0;
    for (lua_Integer i = 1, np = (lua_Integer)lua_rawlen(L, 1); i <= np; i++) {
        lua_rawgeti(L, 1, i);
        OLTensor *p = ol_totensor(L, -1);
        OLTensor *g = ol_pushtensor_empty(L, p->ndim, p->shape);
        for (j = 0; j < ns; j++) xs[j] = x[j] + (size_t)k * sizeof(double) + (size_t)at * sizeof(float);
        ol_ordered_combine(ns, xs, w, total, ol_numel(p), ol_data(g));
        at += ol_numel(p);
        lua_setfield(L, -2, "grad");
        lua_pop(L, 1);
    }
    luaL_checkstack(L, k, "combine_shards");
    for (int s = 0; s < k; s++) {
        double acc = 0;
        for (j = 0; j < ns; j++) {
            double v;
            memcpy(&v, x[j] + (size_t)s * sizeof(double), sizeof v);
            acc += w[j] * v;
        }
        lua_pushnumber(L, acc / total);
    }
    return k;
}

static const luaL_Reg train_funcs[] = {
    {"grad_norm", grad_norm}, {"accuracy_count", accuracy_count}, {"isfinite", isfinite_num},
    {"pack_shard", pack_shard}, {"combine_shards", combine_shards}, {NULL, NULL}
};

void ol_open_train(lua_State *L) { ol_module(L, "train", train_funcs); }
