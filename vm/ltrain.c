/* Helpers of the training loop (stdlib/train.lua) that must not walk
 * elements in Lua. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tensor.h"
#include "lcheck.h"
#include "reduce.h"
#include "host.h"

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
 * The gradient of a batch cut into shards is sum_j n_j g_j / sum_j n_j (n_j the shard's
 * examples, g_j its mean gradient), added shard after shard in shard order in double and
 * rounded once: the same operations, hence the same bits, whichever rank computed which shard.
 * A ShardSum holds the running sums (the elements of every parameter, then k scalars: loss and
 * metrics) and, on a rank of a job, the bytes of its own shards for the others (a one-byte
 * header, then per shard the k scalars as doubles and every parameter's .grad as float32 in
 * parameter order) and the gathered bytes of every rank. All live in C and are reused from
 * step to step, so that no Lua loop walks elements and no step allocates tens of megabytes
 * afresh: past glibc's mmap threshold (32 MiB at most) every such allocation is a fresh mmap,
 * page-faulted in and unmapped each step, which made a step of 12 shards several times slower. */
#define SHARD_SUM "optlab.ShardSum"
typedef struct {
    int64_t n;           /* elements of all the parameters */
    int k;               /* scalars a shard */
    double total;        /* examples added so far */
    double *acc;         /* n + k running sums */
    unsigned char *buf;  /* "G", then this rank's packed shards */
    size_t len, cap;
    ol_gather gather;    /* every rank's bytes, after shard_exchange */
} shard_sum;

static int shard_gc(lua_State *L)
{
    shard_sum *s = luaL_checkudata(L, 1, SHARD_SUM);
    free(s->acc);
    free(s->buf);
    ol_gather_free(&s->gather);
    s->acc = NULL;
    s->buf = NULL;
    return 0;
}

/* The parameter at params[i] (the table at index idx) and its .grad, contiguous, pushed. */
static OLTensor *shard_grad(lua_State *L, int idx, lua_Integer i, const char *op)
{
    lua_rawgeti(L, idx, i);
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

/* The ShardSum at index 1 and the parameters' table at 2, checked to hold s->n elements. */
static shard_sum *check_sum(lua_State *L, const char *op)
{
    shard_sum *s = luaL_checkudata(L, 1, SHARD_SUM);
    if (!s->acc) ol_error(L, "%s: the ShardSum was freed", op);
    luaL_checktype(L, 2, LUA_TTABLE);
    int64_t n = 0;
    for (lua_Integer i = 1, np = (lua_Integer)lua_rawlen(L, 2); i <= np; i++) {
        lua_rawgeti(L, 2, i);
        OLTensor *p = ol_totensor(L, -1);
        if (!p) ol_error(L, "%s: parameter %d is not a tensor", op, (int)i);
        n += ol_numel(p);
        lua_pop(L, 1);
    }
    if (n != s->n) ol_error(L, "%s: the parameters hold %lld elements, the ShardSum %lld", op, (long long)n, (long long)s->n);
    return s;
}

static double shard_scalar(lua_State *L, int idx, int j, const char *op)
{
    lua_rawgeti(L, idx, j);
    if (lua_type(L, -1) != LUA_TNUMBER) ol_error(L, "%s: scalar %d is not a number", op, j);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* C.train.shard_sum(params, k) -> a ShardSum for these parameters and k scalars a shard. */
static int shard_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int k = (int)ol_checkrange(L, 2, 0, 64, "shard_sum", "scalar count");
    shard_sum *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SHARD_SUM);
    for (lua_Integer i = 1, np = (lua_Integer)lua_rawlen(L, 1); i <= np; i++) {
        lua_rawgeti(L, 1, i);
        OLTensor *p = ol_totensor(L, -1);
        if (!p) ol_error(L, "shard_sum: parameter %d is not a tensor", (int)i);
        s->n += ol_numel(p);
        lua_pop(L, 1);
    }
    s->k = k;
    s->acc = calloc((size_t)(s->n + k), sizeof(double));
    if (!s->acc) ol_error(L, "shard_sum: out of memory for %lld sums", (long long)(s->n + k));
    return 1;
}

/* C.train.shard_add(sum, params, count, {scalars}): adds the shard whose mean gradient is in
 * the parameters' .grad (computed here: no bytes), weighted by its count of examples. */
static int shard_add(lua_State *L)
{
    shard_sum *s = check_sum(L, "shard_add");
    double w = luaL_checknumber(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    if (!(w > 0)) ol_error(L, "shard_add: a shard's count of examples must be positive, got %g", w);
    for (int j = 0; j < s->k; j++) s->acc[s->n + j] += w * shard_scalar(L, 4, j + 1, "shard_add");
    int64_t at = 0;
    for (lua_Integer i = 1, np = (lua_Integer)lua_rawlen(L, 2); i <= np; i++) {
        int top = lua_gettop(L);
        OLTensor *g = shard_grad(L, 2, i, "shard_add");
        ol_acc_weighted(ol_numel(g), w, (const unsigned char *)ol_data(g), s->acc + at);
        at += ol_numel(g);
        lua_settop(L, top);
    }
    s->total += w;
    return 0;
}

/* C.train.shard_pack(sum, params, {scalars}): appends the shard's bytes for the other ranks. */
static int shard_pack(lua_State *L)
{
    shard_sum *s = check_sum(L, "shard_pack");
    luaL_checktype(L, 3, LUA_TTABLE);
    size_t need = (size_t)s->k * sizeof(double) + (size_t)s->n * sizeof(float);
    if (s->len == 0) need += 1;   /* the header byte, before the first shard */
    if (s->len + need > s->cap) {
        size_t cap = s->cap ? s->cap : need;
        while (cap < s->len + need) cap *= 2;
        unsigned char *b = realloc(s->buf, cap);
        if (!b) ol_error(L, "shard_pack: out of memory for %zu bytes", cap);
        s->buf = b;
        s->cap = cap;
    }
    unsigned char *out = s->buf + s->len;
    if (s->len == 0) *out++ = 'G';
    for (int j = 0; j < s->k; j++) {
        double v = shard_scalar(L, 3, j + 1, "shard_pack");
        memcpy(out + (size_t)j * sizeof v, &v, sizeof v);
    }
    out += (size_t)s->k * sizeof(double);
    for (lua_Integer i = 1, np = (lua_Integer)lua_rawlen(L, 2); i <= np; i++) {
        int top = lua_gettop(L);
        OLTensor *g = shard_grad(L, 2, i, "shard_pack");
        memcpy(out, ol_data(g), (size_t)ol_numel(g) * sizeof(float));
        out += (size_t)ol_numel(g) * sizeof(float);
        lua_settop(L, top);
    }
    s->len += need;
    return 0;
}

/* C.train.shard_exchange(sum[, word]) -> {head of rank 0, head of rank 1, ...}: every rank
 * sends "G" and its packed shards (or, given a word, that word instead: "E" and an error) and
 * receives every rank's bytes into the ShardSum. A rank's head is "G" for packed shards (added
 * by shard_add_gathered), else the whole word it sent. The packed shards are emptied. */
static int shard_exchange(lua_State *L)
{
    shard_sum *s = luaL_checkudata(L, 1, SHARD_SUM);
    if (!s->acc) ol_error(L, "shard_exchange: the ShardSum was freed");
    size_t wl = 0;
    const char *w = luaL_optlstring(L, 2, NULL, &wl);
    if (w) ol_mpi_allgather(L, w, wl, &s->gather);
    else ol_mpi_allgather(L, s->len ? s->buf : (const unsigned char *)"G", s->len ? s->len : 1, &s->gather);
    s->len = 0;
    lua_createtable(L, s->gather.ranks, 0);
    for (int r = 0; r < s->gather.ranks; r++) {
        const char *b = (const char *)s->gather.all + s->gather.displs[r];
        size_t n = (size_t)s->gather.counts[r];
        lua_pushlstring(L, b, n > 0 && b[0] == 'G' ? 1 : n);
        lua_rawseti(L, -2, r + 1);
    }
    return 1;
}

/* C.train.shard_add_gathered(sum, params, rank, {counts}): adds the shards rank `rank` (1-based)
 * sent in the last shard_exchange, one after another, weighted by counts. */
static int shard_add_gathered(lua_State *L)
{
    shard_sum *s = check_sum(L, "shard_add_gathered");
    int r = (int)ol_checkrange(L, 3, 1, s->gather.ranks, "shard_add_gathered", "rank");
    luaL_checktype(L, 4, LUA_TTABLE);
    const unsigned char *b = s->gather.all + s->gather.displs[r - 1];
    size_t len = (size_t)s->gather.counts[r - 1];
    int m = (int)lua_rawlen(L, 4);
    size_t shard = (size_t)s->k * sizeof(double) + (size_t)s->n * sizeof(float);
    if (len < 1 || b[0] != 'G' || len - 1 != (size_t)m * shard)
        ol_error(L, "shard_add_gathered: rank %d sent %zu bytes, not a header and %d shards of %zu bytes "
                    "(a rank with other parameters?)", r - 1, len, m, shard);
    for (int j = 0; j < m; j++) {
        const unsigned char *p = b + 1 + (size_t)j * shard;
        double w = shard_scalar(L, 4, j + 1, "shard_add_gathered");
        if (!(w > 0)) ol_error(L, "shard_add_gathered: count %d must be positive, got %g", j + 1, w);
        for (int q = 0; q < s->k; q++) {
            double v;
            memcpy(&v, p + (size_t)q * sizeof v, sizeof v);
            s->acc[s->n + q] += w * v;
        }
        ol_acc_weighted(s->n, w, p + (size_t)s->k * sizeof(double), s->acc);
        s->total += w;
    }
    return 0;
}

/* C.train.shard_finish(sum, params) -> s1, ..., sk: every parameter's .grad becomes a new
 * tensor, sum / examples rounded to float32, and the scalars sum / examples; the sums restart. */
static int shard_finish(lua_State *L)
{
    shard_sum *s = check_sum(L, "shard_finish");
    if (!(s->total > 0)) ol_error(L, "shard_finish: no shard was added");
    int64_t at = 0;
    for (lua_Integer i = 1, np = (lua_Integer)lua_rawlen(L, 2); i <= np; i++) {
        lua_rawgeti(L, 2, i);
        OLTensor *p = ol_totensor(L, -1);
        OLTensor *g = ol_pushtensor_empty(L, p->ndim, p->shape);
        ol_acc_finish(ol_numel(p), s->acc + at, s->total, ol_data(g));
        at += ol_numel(p);
        lua_setfield(L, -2, "grad");
        lua_pop(L, 1);
    }
    luaL_checkstack(L, s->k, "shard_finish");
    for (int q = 0; q < s->k; q++) lua_pushnumber(L, s->acc[s->n + q] / s->total);
    memset(s->acc, 0, (size_t)(s->n + s->k) * sizeof(double));
    s->total = 0;
    return s->k;
}

static const luaL_Reg train_funcs[] = {
    {"grad_norm", grad_norm}, {"accuracy_count", accuracy_count}, {"isfinite", isfinite_num},
    {"shard_sum", shard_new}, {"shard_add", shard_add}, {"shard_pack", shard_pack},
    {"shard_exchange", shard_exchange}, {"shard_add_gathered", shard_add_gathered}, {"shard_finish", shard_finish}, {NULL, NULL}
};

void ol_open_train(lua_State *L)
{
    luaL_newmetatable(L, SHARD_SUM);
    lua_pushcfunction(L, shard_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    ol_module(L, "train", train_funcs);
}
