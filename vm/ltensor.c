/* Lua bindings of the tensor object: creation, views, arithmetic with
 * broadcasting, reductions, matmul, indexing and printing. Autograd wraps
 * these in stdlib/tensor.lua; nothing here records a tape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensor.h"
#include "ltensor.h"
#include "elementwise.h"
#include "reduce.h"
#include "gemm.h"
#include "rng.h"

/* ---- argument helpers ------------------------------------------------- */

/* luaL_check* would raise at the immediate caller, which for most methods is
 * a stdlib wrapper (autograd): these raise at the user's line, like ol_error. */
void arg_error(lua_State *L, int idx, const char *expected)
{
    lua_Debug ar;
    const char *fn = "?";
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) fn = ar.name;
    ol_error(L, "bad argument #%d to '%s' (%s expected, got %s)", idx, fn, expected,
             lua_isnumber(L, idx) ? "a non-integer number" : luaL_typename(L, idx));
}

lua_Integer check_integer(lua_State *L, int idx)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok) arg_error(L, idx, "integer");
    return v;
}

lua_Number check_number(lua_State *L, int idx)
{
    int ok;
    lua_Number v = lua_tonumberx(L, idx, &ok);
    if (!ok) arg_error(L, idx, "number");
    return v;
}

lua_Integer opt_integer(lua_State *L, int idx, lua_Integer def)
{
    return lua_isnoneornil(L, idx) ? def : check_integer(L, idx);
}

lua_Number opt_number(lua_State *L, int idx, lua_Number def)
{
    return lua_isnoneornil(L, idx) ? def : check_number(L, idx);
}

/* A shape given as a table {2, 3} or as integers 2, 3 from index idx to the
 * last argument. Returns ndim. */
static int get_shape(lua_State *L, int idx, int64_t *shape)
{
    int ndim = 0;
    if (lua_istable(L, idx) && !ol_totensor(L, idx)) {
        int n = (int)lua_rawlen(L, idx);
        if (n > OL_MAXDIM) ol_error(L, "a tensor has at most %d dimensions, got %d", OL_MAXDIM, n);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            if (!lua_isinteger(L, -1)) ol_error(L, "shape entry %d is not an integer", i);
            shape[ndim++] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        return ndim;
    }
    for (int i = idx; lua_type(L, i) == LUA_TNUMBER; i++) {
        if (ndim == OL_MAXDIM) ol_error(L, "a tensor has at most %d dimensions", OL_MAXDIM);
        if (!lua_isinteger(L, i)) ol_error(L, "dimension %d is not an integer", ndim + 1);
        shape[ndim++] = lua_tointeger(L, i);
    }
    if (!lua_isnone(L, idx + ndim))   /* zeros("3") must not be a 0-d tensor */
        ol_error(L, "dimension %d is not an integer (got %s)", ndim + 1, luaL_typename(L, idx + ndim));
    return ndim;
}

/* A dimension argument: 1-based, negative counts from the end. Returns 0-based. */
int get_dim(lua_State *L, int idx, int ndim)
{
    lua_Integer d = check_integer(L, idx);
    int n = ndim > 0 ? ndim : 1;
    if (d < 0) d += n + 1;
    if (d < 1 || d > n) ol_error(L, "dimension %d out of range for a %d-dimensional tensor", (int)check_integer(L, idx), ndim);
    return (int)d - 1;
}

OLTensor *self(lua_State *L) { return ol_checktensor(L, 1); }

/* ---- creation --------------------------------------------------------- */

static int t_empty(lua_State *L)
{
    int64_t shape[OL_MAXDIM];
    int nd = get_shape(L, 1, shape);
    ol_pushtensor_empty(L, nd, shape);
    return 1;
}

static int t_zeros(lua_State *L)
{
    int64_t shape[OL_MAXDIM];
    int nd = get_shape(L, 1, shape);
    ol_pushtensor(L, nd, shape);
    return 1;
}

/* full({2, 3}, v) or full(2, 3, v): in the second form the last number is the value. */
static int t_full(lua_State *L)
{
    int64_t shape[OL_MAXDIM];
    int nd, vidx;
    if (lua_istable(L, 1)) { nd = get_shape(L, 1, shape); vidx = 2; }
    else {
        vidx = lua_gettop(L) > 0 ? lua_gettop(L) : 1;   /* the value is the last argument */
        nd = vidx - 1;
        if (nd > OL_MAXDIM) ol_error(L, "a tensor has at most %d dimensions, got %d", OL_MAXDIM, nd);
        for (int d = 0; d < nd; d++) {
            if (!lua_isinteger(L, d + 1)) ol_error(L, "dimension %d is not an integer", d + 1);
            shape[d] = lua_tointeger(L, d + 1);
        }
    }
    if (lua_type(L, vidx) != LUA_TNUMBER)
        ol_error(L, "tensor.full: the fill value must be a number, got %s", luaL_typename(L, vidx));
    float v = (float)lua_tonumber(L, vidx);
    OLTensor *t = ol_pushtensor_empty(L, nd, shape);
    ol_fill(nd, t->shape, ol_data(t), t->stride, v);
    return 1;
}

static int t_eye(lua_State *L)
{
    int64_t n = check_integer(L, 1), m = opt_integer(L, 2, n);
    int64_t shape[2] = {n, m};
    OLTensor *t = ol_pushtensor(L, 2, shape);
    for (int64_t i = 0; i < n && i < m; i++) ol_data(t)[i * m + i] = 1;
    return 1;
}

static int t_arange(lua_State *L)
{
    double a = check_number(L, 1), b, step = opt_number(L, 3, 1);
    if (lua_isnoneornil(L, 2)) { b = a; a = 0; } else b = check_number(L, 2);
    int64_t n;
    if (step == 0 || !((b - a) / step >= 0)) ol_error(L, "arange(%g, %g, %g): empty or endless range", a, b, step);
    if (!ol_double_to_int64(ceil((b - a) / step), &n) || n > OL_MAXNUMEL)
        ol_error(L, "arange(%g, %g, %g): too many elements", a, b, step);
    OLTensor *t = ol_pushtensor_empty(L, 1, &n);
    for (int64_t i = 0; i < n; i++) ol_data(t)[i] = (float)(a + i * step);
    return 1;
}

static int t_linspace(lua_State *L)
{
    double a = check_number(L, 1), b = check_number(L, 2);
    int64_t n = check_integer(L, 3);
    if (n < 1) ol_error(L, "linspace needs at least 1 point, got %d", (int)n);
    OLTensor *t = ol_pushtensor_empty(L, 1, &n);
    for (int64_t i = 0; i < n; i++) ol_data(t)[i] = (float)(n == 1 ? a : a + (b - a) * i / (n - 1));
    return 1;
}

/* Nested tables to a tensor: the shape is read down the first elements, then
 * every element is checked against it. */
static void from_fill(lua_State *L, int idx, int d, int nd, const int64_t *shape, float **out)
{
    if (d == nd) {
        if (!lua_isnumber(L, idx)) ol_error(L, "tensor.from: expected a number, got %s", luaL_typename(L, idx));
        *(*out)++ = (float)lua_tonumber(L, idx);
        return;
    }
    if (!lua_istable(L, idx) || (int64_t)lua_rawlen(L, idx) != shape[d])
        ol_error(L, "tensor.from: ragged nested table (dimension %d should have length %d)", d + 1, (int)shape[d]);
    for (int64_t i = 1; i <= shape[d]; i++) {
        lua_rawgeti(L, idx, i);
        from_fill(L, lua_gettop(L), d + 1, nd, shape, out);
        lua_pop(L, 1);
    }
}

static int t_from(lua_State *L)
{
    if (lua_isnumber(L, 1)) {
        OLTensor *t = ol_pushtensor_empty(L, 0, NULL);
        ol_data(t)[0] = (float)lua_tonumber(L, 1);
        return 1;
    }
    if (!lua_istable(L, 1)) arg_error(L, 1, "table or number");
    int64_t shape[OL_MAXDIM];
    int nd = 0;
    lua_pushvalue(L, 1);
    while (lua_istable(L, -1)) {
        if (nd == OL_MAXDIM) ol_error(L, "tensor.from: more than %d levels of nesting", OL_MAXDIM);
        shape[nd++] = lua_rawlen(L, -1);
        lua_rawgeti(L, -1, 1);
    }
    lua_settop(L, 1);
    OLTensor *t = ol_pushtensor_empty(L, nd, shape);
    float *p = ol_data(t);
    from_fill(L, 1, 0, nd, shape, &p);
    return 1;
}

/* rand/randn: C.random(kind, shape, key, stream, a, b) — the stream bookkeeping
 * (global seed, one stream per call) lives in stdlib/tensor.lua. */
static int t_random(lua_State *L)
{
    const char *kind = luaL_checkstring(L, 1);
    int64_t shape[OL_MAXDIM];
    int nd = get_shape(L, 2, shape);
    uint64_t key = (uint64_t)check_integer(L, 3), stream = (uint64_t)check_integer(L, 4);
    double a = opt_number(L, 5, 0), b = opt_number(L, 6, 1);
    OLTensor *t = ol_pushtensor_empty(L, nd, shape);
    size_t n = (size_t)ol_numel(t);
    if (strcmp(kind, "uniform") == 0) ol_rng_uniform(key, stream, (float)a, (float)b, ol_data(t), n);
    else if (strcmp(kind, "normal") == 0) ol_rng_normal(key, stream, (float)a, (float)b, ol_data(t), n);
    else if (strcmp(kind, "dropout") == 0) {
        if (a < 0 || a >= 1) ol_error(L, "dropout rate must be in [0, 1), got %g", a);
        ol_rng_dropout_mask(key, stream, (float)a, ol_data(t), n);
    } else ol_error(L, "unknown distribution '%s'", kind);
    return 1;
}

/* ---- geometry and views ---------------------------------------------- */

static int t_shape(lua_State *L)
{
    OLTensor *t = self(L);
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int t_stride(lua_State *L)
{
    OLTensor *t = self(L);
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->stride[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

static int t_size(lua_State *L)
{
    OLTensor *t = self(L);
    if (lua_isnoneornil(L, 2)) return t_shape(L);
    lua_pushinteger(L, t->shape[get_dim(L, 2, t->ndim)]);
    return 1;
}

static int t_dim(lua_State *L) { lua_pushinteger(L, self(L)->ndim); return 1; }
static int t_numel(lua_State *L) { lua_pushinteger(L, ol_numel(self(L))); return 1; }
static int t_is_contiguous(lua_State *L) { lua_pushboolean(L, ol_iscontiguous(self(L))); return 1; }

static int t_len(lua_State *L)
{
    OLTensor *t = self(L);
    if (t->ndim == 0) ol_error(L, "length of a 0-dimensional tensor");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

static int t_contiguous(lua_State *L) { ol_pushcontiguous(L, 1); return 1; }

static int t_clone(lua_State *L)
{
    OLTensor *t = self(L);
    OLTensor *c = ol_pushtensor_empty(L, t->ndim, t->shape);
    ol_copy(t->ndim, t->shape, ol_data(c), c->stride, ol_data(t), t->stride);
    return 1;
}

/* reshape/view: a view when the tensor is contiguous, else a copy (reshape)
 * or an error (view). One dimension may be -1. */
static int reshape_impl(lua_State *L, int copy_ok)
{
    OLTensor *t = self(L);
    int64_t shape[OL_MAXDIM], n = ol_numel(t), known = 1;
    int nd = get_shape(L, 2, shape), infer = -1;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == -1 && infer < 0) infer = d;
        else if (!ol_mul64(known, shape[d], &known)) {
            char b[160];
            ol_error(L, "cannot reshape to %s: too many elements", ol_dimsstr(nd, shape, b, sizeof b));
        }
    }
    if (infer >= 0 && known > 0 && n % known == 0) shape[infer] = n / known;
    char a[160], b[160];
    if ((infer >= 0 && (known == 0 || n % known != 0)) || (infer < 0 && known != n))
        ol_error(L, "cannot reshape a tensor of shape %s (%lld elements) to %s",
                 ol_shapestr(t, a, sizeof a), (long long)n, ol_dimsstr(nd, shape, b, sizeof b));
    if (!ol_iscontiguous(t)) {
        if (!copy_ok) ol_error(L, "view of a non-contiguous tensor of shape %s: use reshape or contiguous()",
                               ol_shapestr(t, a, sizeof a));
        ol_pushcontiguous(L, 1);
        t = ol_checktensor(L, -1);
    }
    int64_t stride[OL_MAXDIM], s = 1;
    for (int d = nd - 1; d >= 0; d--) { stride[d] = s; s *= shape[d]; }
    ol_pushview(L, t, nd, shape, stride, t->offset);
    return 1;
}
static int t_reshape(lua_State *L) { return reshape_impl(L, 1); }
static int t_view(lua_State *L) { return reshape_impl(L, 0); }

static int t_transpose(lua_State *L)
{
    OLTensor *t = self(L);
    int a = t->ndim < 2 ? 0 : t->ndim - 2, b = t->ndim < 2 ? 0 : t->ndim - 1;
    if (!lua_isnoneornil(L, 2)) { a = get_dim(L, 2, t->ndim); b = get_dim(L, 3, t->ndim); }
    int64_t shape[OL_MAXDIM], stride[OL_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(stride, t->stride, sizeof stride);
    shape[a] = t->shape[b]; shape[b] = t->shape[a];
    stride[a] = t->stride[b]; stride[b] = t->stride[a];
    ol_pushview(L, t, t->ndim, shape, stride, t->offset);
    return 1;
}

static int t_permute(lua_State *L)
{
    OLTensor *t = self(L);
    int64_t perm[OL_MAXDIM], shape[OL_MAXDIM], stride[OL_MAXDIM];
    int nd = get_shape(L, 2, perm), seen = 0;
    if (nd != t->ndim) ol_error(L, "permute needs %d dimensions, got %d", t->ndim, nd);
    for (int d = 0; d < nd; d++) {
        int64_t p = perm[d] < 0 ? perm[d] + nd : perm[d] - 1;
        if (p < 0 || p >= nd || (seen & (1 << p))) ol_error(L, "permute: bad or repeated dimension %d", (int)perm[d]);
        seen |= 1 << p;
        shape[d] = t->shape[p];
        stride[d] = t->stride[p];
    }
    ol_pushview(L, t, nd, shape, stride, t->offset);
    return 1;
}

/* narrow(dim, start, length), 1-based start. */
static int t_narrow(lua_State *L)
{
    OLTensor *t = self(L);
    int d = get_dim(L, 2, t->ndim);
    int64_t start = check_integer(L, 3), len = check_integer(L, 4);
    if (start < 0) start += t->shape[d] + 1;
    int64_t end;
    if (start < 1 || len < 0 || !ol_add64(start - 1, len, &end) || end > t->shape[d])
        ol_error(L, "narrow(%d, %lld, %lld) out of range for dimension of size %lld",
                 d + 1, (long long)start, (long long)len, (long long)t->shape[d]);
    int64_t shape[OL_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = len;
    ol_pushview(L, t, t->ndim, shape, t->stride, t->offset + (start - 1) * t->stride[d]);
    return 1;
}

static void push_select(lua_State *L, OLTensor *t, int d, int64_t i)
{
    if (i < 0) i += t->shape[d] + 1;
    if (i < 1 || i > t->shape[d])
        ol_error(L, "index %lld out of range for dimension %d of size %lld",
                 (long long)i, d + 1, (long long)t->shape[d]);
    int64_t shape[OL_MAXDIM], stride[OL_MAXDIM];
    int nd = 0;
    for (int k = 0; k < t->ndim; k++)
        if (k != d) { shape[nd] = t->shape[k]; stride[nd++] = t->stride[k]; }
    ol_pushview(L, t, nd, shape, stride, t->offset + (i - 1) * t->stride[d]);
}

static int t_select(lua_State *L)
{
    OLTensor *t = self(L);
    if (t->ndim == 0) ol_error(L, "select on a 0-dimensional tensor");
    push_select(L, t, get_dim(L, 2, t->ndim), check_integer(L, 3));
    return 1;
}

static int t_unsqueeze(lua_State *L)
{
    OLTensor *t = self(L);
    if (t->ndim == OL_MAXDIM) ol_error(L, "unsqueeze: already %d dimensions", OL_MAXDIM);
    int d = get_dim(L, 2, t->ndim + 1);
    int64_t shape[OL_MAXDIM], stride[OL_MAXDIM];
    for (int k = 0, j = 0; k <= t->ndim; k++) {
        if (k == d) {
            shape[k] = 1;
            stride[k] = j < t->ndim ? t->stride[j] * t->shape[j] : 1;
        } else { shape[k] = t->shape[j]; stride[k] = t->stride[j]; j++; }
    }
    ol_pushview(L, t, t->ndim + 1, shape, stride, t->offset);
    return 1;
}

static int t_squeeze(lua_State *L)
{
    OLTensor *t = self(L);
    int only = lua_isnoneornil(L, 2) ? -1 : get_dim(L, 2, t->ndim);
    int64_t shape[OL_MAXDIM], stride[OL_MAXDIM];
    int nd = 0;
    for (int k = 0; k < t->ndim; k++)
        if (!(t->shape[k] == 1 && (only < 0 || only == k))) { shape[nd] = t->shape[k]; stride[nd++] = t->stride[k]; }
    ol_pushview(L, t, nd, shape, stride, t->offset);
    return 1;
}

/* Broadcast strides of t against an output shape (right-aligned); 0 on
 * broadcast dims. Returns 0 when the shapes are incompatible. */
int broadcast_strides(const OLTensor *t, int nd, const int64_t *shape, int64_t *st)
{
    for (int d = 0; d < nd; d++) {
        int k = d - (nd - t->ndim);
        if (k < 0) st[d] = 0;
        else if (t->shape[k] == shape[d]) st[d] = t->shape[k] == 1 ? 0 : t->stride[k];
        else if (t->shape[k] == 1) st[d] = 0;
        else return 0;
    }
    return 1;
}

static int t_expand(lua_State *L)
{
    OLTensor *t = self(L);
    int64_t shape[OL_MAXDIM], stride[OL_MAXDIM];
    int nd = get_shape(L, 2, shape);
    char a[160], b[160];
    if (nd < t->ndim || !broadcast_strides(t, nd, shape, stride))
        ol_error(L, "cannot expand shape %s to %s", ol_shapestr(t, a, sizeof a), ol_dimsstr(nd, shape, b, sizeof b));
    ol_pushview(L, t, nd, shape, stride, t->offset);
    return 1;
}

/* ---- element-wise ---------------------------------------------------- */

/* A number operand becomes a 0-d tensor; the value lives in *tmp. */
OLTensor *operand(lua_State *L, int idx, OLTensor *tmp, OLStorage *tst, float *val)
{
    OLTensor *t = ol_totensor(L, idx);
    if (t) return t;
    if (!lua_isnumber(L, idx))
        ol_error(L, "arithmetic on a tensor and a %s", luaL_typename(L, idx));
    *val = (float)lua_tonumber(L, idx);
    tst->data = val; tst->size = 1; tst->refs = 1; tst->version = 0;
    memset(tmp, 0, sizeof *tmp);
    tmp->st = tst;
    return tmp;
}

static const char *const binop_names[] = {
    "add", "sub", "mul", "div", "pow", "maximum", "minimum",
    "eq", "ne", "lt", "le", "gt", "ge", "remainder", NULL
};

static int binary(lua_State *L, ol_binop op, int inplace)
{
    OLTensor ta, tb;
    OLStorage sa, sb;
    float va, vb;
    OLTensor *a = operand(L, 1, &ta, &sa, &va), *b = operand(L, 2, &tb, &sb, &vb);
    int64_t shape[OL_MAXDIM], stra[OL_MAXDIM], strb[OL_MAXDIM];
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    char s1[160], s2[160];
    for (int d = 0; d < nd; d++) {
        int ka = d - (nd - a->ndim), kb = d - (nd - b->ndim);
        int64_t x = ka >= 0 ? a->shape[ka] : 1, y = kb >= 0 ? b->shape[kb] : 1;
        if (x != y && x != 1 && y != 1)
            ol_error(L, "%s%s: shapes %s and %s cannot be broadcast together", binop_names[op],
                     inplace ? "_" : "", ol_shapestr(a, s1, sizeof s1), ol_shapestr(b, s2, sizeof s2));
        shape[d] = x == 1 ? y : x; /* [1] with [0] is [0], not [1] */
    }
    broadcast_strides(a, nd, shape, stra);
    broadcast_strides(b, nd, shape, strb);
    if (inplace) {
        if (a == &ta) ol_error(L, "%s_: the target must be a tensor", binop_names[op]);
        int same = nd == a->ndim;
        for (int d = 0; same && d < nd; d++) same = shape[d] == a->shape[d];
        if (!same) ol_error(L, "%s_: result of shape %s does not fit the target of shape %s",
                            binop_names[op], ol_dimsstr(nd, shape, s1, sizeof s1), ol_shapestr(a, s2, sizeof s2));
        char name[32];
        snprintf(name, sizeof name, "%s_", binop_names[op]);
        ol_check_inplace(L, name, a, b == &tb ? NULL : b);
        /* add_(u, alpha) and sub_(u, alpha): t + alpha*u in one pass */
        float alpha = (op == OL_ADD || op == OL_SUB) ? (float)opt_number(L, 3, 1) : 1;
        ol_written(a);
        if (op == OL_ADD || op == OL_SUB) {
            if (op == OL_SUB) alpha = -alpha;
            if (b == &tb) {
                vb = alpha * vb; /* the same product every element would compute */
                ol_binary(OL_ADD, nd, shape, ol_data(a), a->stride, ol_data(a), a->stride, &vb, strb);
            } else ol_update(OL_UAXPY, nd, shape, ol_data(a), a->stride, ol_data(b), strb, NULL, NULL, alpha, 0);
        } else ol_binary(op, nd, shape, ol_data(a), a->stride, ol_data(a), a->stride, ol_data(b), strb);
        lua_settop(L, 1);
        return 1;
    }
    OLTensor *o = ol_pushtensor_empty(L, nd, shape);
    ol_binary(op, nd, shape, ol_data(o), o->stride, ol_data(a), stra, ol_data(b), strb);
    return 1;
}

#define BINARY(name, op) \
    static int t_##name(lua_State *L) { return binary(L, op, 0); } \
    static int t_##name##_(lua_State *L) { return binary(L, op, 1); }
BINARY(add, OL_ADD)
BINARY(sub, OL_SUB)
BINARY(mul, OL_MUL)
BINARY(div, OL_DIV)
BINARY(pow, OL_POW)
BINARY(maximum, OL_MAXIMUM)
BINARY(minimum, OL_MINIMUM)
BINARY(eq, OL_EQ)
BINARY(ne, OL_NE)
BINARY(lt, OL_LT)
BINARY(le, OL_LE)
BINARY(gt, OL_GT)
BINARY(ge, OL_GE)
BINARY(remainder, OL_REMAINDER)

static const char *const unop_names[] = {
    "neg_", "abs_", "exp_", "log_", "sqrt_", "sign_", "square_", "reciprocal_",
    "tanh_", "sigmoid_", "relu_", "sin_", "cos_", "floor_", "round_", NULL
};

static int unary(lua_State *L, ol_unop op, int inplace)
{
    OLTensor *t = self(L);
    if (inplace) {
        ol_check_inplace(L, unop_names[op], t, NULL);
        ol_written(t);
        ol_unary(op, t->ndim, t->shape, ol_data(t), t->stride, ol_data(t), t->stride);
        lua_settop(L, 1);
        return 1;
    }
    OLTensor *o = ol_pushtensor_empty(L, t->ndim, t->shape);
    ol_unary(op, t->ndim, t->shape, ol_data(o), o->stride, ol_data(t), t->stride);
    return 1;
}

#define UNARY(name, op) \
    static int t_##name(lua_State *L) { return unary(L, op, 0); } \
    static int t_##name##_(lua_State *L) { return unary(L, op, 1); }
UNARY(neg, OL_NEG)
UNARY(abs, OL_ABS)
UNARY(exp, OL_EXP)
UNARY(log, OL_LOG)
UNARY(sqrt, OL_SQRT)
UNARY(sign, OL_SIGN)
UNARY(square, OL_SQUARE)
UNARY(reciprocal, OL_RECIPROCAL)
UNARY(tanh, OL_TANH)
UNARY(sigmoid, OL_SIGMOID)
UNARY(relu, OL_RELU)
UNARY(sin, OL_SIN)
UNARY(cos, OL_COS)
UNARY(floor, OL_FLOOR)
UNARY(round, OL_ROUND)

static int t_clamp(lua_State *L)
{
    lua_settop(L, 3);
    float lo = lua_isnil(L, 2) ? -INFINITY : (float)check_number(L, 2);
    float hi = lua_isnil(L, 3) ? INFINITY : (float)check_number(L, 3);
    if (lo > hi) ol_error(L, "clamp: min %g is greater than max %g", lo, hi);
    ol_pushcontiguous(L, 1);
    OLTensor *c = ol_checktensor(L, -1);
    OLTensor *o = ol_pushtensor_empty(L, c->ndim, c->shape);
    ol_clamp(ol_numel(c), ol_data(o), ol_data(c), lo, hi);
    return 1;
}

static int t_fill_(lua_State *L)
{
    OLTensor *t = self(L);
    float v = (float)check_number(L, 2);
    ol_written(t);
    ol_fill(t->ndim, t->shape, ol_data(t), t->stride, v);
    lua_settop(L, 1);
    return 1;
}

static int t_zero_(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushnumber(L, 0);
    return t_fill_(L);
}

/* copy_(src): src broadcasts to self's shape. */
static int t_copy_(lua_State *L)
{
    OLTensor *t = self(L), *s = ol_checktensor(L, 2);
    int64_t st[OL_MAXDIM];
    char a[160], b[160];
    if (s->ndim > t->ndim || !broadcast_strides(s, t->ndim, t->shape, st))
        ol_error(L, "copy_: source of shape %s does not fit the target of shape %s",
                 ol_shapestr(s, a, sizeof a), ol_shapestr(t, b, sizeof b));
    ol_check_inplace(L, "copy_", t, s);
    ol_written(t);
    ol_copy(t->ndim, t->shape, ol_data(t), t->stride, ol_data(s), st);
    lua_settop(L, 1);
    return 1;
}

/* ---- reductions ------------------------------------------------------- */

/* reduce(op, [dim [, keepdim]]) with dim at argument `at` and the op's
 * parameter p (ol_reduce_p): over everything gives a 0-d tensor. */
int reduce_at(lua_State *L, ol_redop op, double p, int at, double scale_by_len, int with_index)
{
    OLTensor *t = self(L);
    static const char *const names[] = {"sum", "max", "min", "argmax", "argmin", "sumsq",
                                        "prod", "logsumexp", "var", "norm"};
    /* the ops with a value for no elements: 0, 1, -inf, NaN (as PyTorch) */
    int empty_ok = op == OL_RSUM || op == OL_RSUMSQ || op >= OL_RPROD;
    int64_t n = ol_numel(t);
    if (lua_isnoneornil(L, at)) {
        if (n == 0 && !empty_ok)
            ol_error(L, "%s of an empty tensor", names[op]);
        OLTensor *c = ol_pushcontiguous(L, 1);
        float v;
        if (op == OL_RSUM) v = (float)(ol_sum(n, ol_data(c)) * (scale_by_len ? 1.0 / n : 1.0));
        else if (op == OL_RSUMSQ) v = (float)ol_sumsq(n, ol_data(c));
        else {
            int64_t one = 1;
            ol_reduce_p(op, p, 0, &one, &one, n, 1, ol_data(c), &v);
        }
        OLTensor *o = ol_pushtensor_empty(L, 0, NULL);
        ol_data(o)[0] = v;
        return 1;
    }
    int d = get_dim(L, at, t->ndim), keep = lua_toboolean(L, at + 1);
    if (t->ndim == 0) ol_error(L, "%s along a dimension of a 0-dimensional tensor", names[op]);
    if (t->shape[d] == 0 && !empty_ok) ol_error(L, "%s along an empty dimension", names[op]);
    int64_t rshape[OL_MAXDIM], rstride[OL_MAXDIM], oshape[OL_MAXDIM];
    int rn = 0, on = 0;
    for (int k = 0; k < t->ndim; k++) {
        if (k != d) { rshape[rn] = t->shape[k]; rstride[rn++] = t->stride[k]; }
        if (k != d) oshape[on++] = t->shape[k];
        else if (keep) oshape[on++] = 1;
    }
    OLTensor *o = ol_pushtensor_empty(L, on, oshape);
    ol_reduce_p(op, p, rn, rshape, rstride, t->shape[d], t->stride[d], ol_data(t), ol_data(o));
    if (scale_by_len) {
        int64_t m = ol_numel(o);
        for (int64_t i = 0; i < m; i++) ol_data(o)[i] /= (float)t->shape[d];
    }
    if (with_index) {
        OLTensor *ix = ol_pushtensor_empty(L, on, oshape);
        ol_reduce(op == OL_RMAX ? OL_RARGMAX : OL_RARGMIN, rn, rshape, rstride, t->shape[d], t->stride[d],
                  ol_data(t), ol_data(ix));
        int64_t m = ol_numel(ix);
        for (int64_t i = 0; i < m; i++) ol_data(ix)[i] += 1; /* 1-based, like every Lua index */
        return 2;
    }
    if (op == OL_RARGMAX || op == OL_RARGMIN) {
        int64_t m = ol_numel(o);
        for (int64_t i = 0; i < m; i++) ol_data(o)[i] += 1;
    }
    return 1;
}

static int reduce(lua_State *L, ol_redop op, double scale_by_len, int with_index)
{
    return reduce_at(L, op, 0, 2, scale_by_len, with_index);
}

static int t_sum(lua_State *L) { return reduce(L, OL_RSUM, 0, 0); }
static int t_mean(lua_State *L) { return reduce(L, OL_RSUM, 1, 0); }
static int t_max(lua_State *L) { return reduce(L, OL_RMAX, 0, !lua_isnoneornil(L, 2)); }
static int t_min(lua_State *L) { return reduce(L, OL_RMIN, 0, !lua_isnoneornil(L, 2)); }
static int t_sumsq(lua_State *L) { return reduce(L, OL_RSUMSQ, 0, 0); }

static int t_argmax(lua_State *L)
{
    int whole = lua_isnoneornil(L, 2); /* before reduce() pushes onto the stack */
    int r = reduce(L, OL_RARGMAX, 0, 0);
    if (whole) { OLTensor *o = ol_checktensor(L, -1); ol_data(o)[0] += 1; }
    return r;
}

static int t_argmin(lua_State *L)
{
    int whole = lua_isnoneornil(L, 2); /* before reduce() pushes onto the stack */
    int r = reduce(L, OL_RARGMIN, 0, 0);
    if (whole) { OLTensor *o = ol_checktensor(L, -1); ol_data(o)[0] += 1; }
    return r;
}

/* ---- matmul ----------------------------------------------------------- */

/* BLIS takes any row/column strides, but not overlapping or zero ones:
 * such operands (expanded views) are made contiguous first. */
static int blis_ok(int64_t m, int64_t n, int64_t rs, int64_t cs)
{
    if (m <= 1 || n <= 1) return rs != 0 && cs != 0;
    return (cs == 1 && rs >= n) || (rs == 1 && cs >= m);
}

/* The stride of a size-1 dimension is never followed, and views give it any
 * value (expand gives 0). Such a tensor counts as contiguous, so copying it
 * would not change the stride: give BLIS one it accepts instead. */
static void unit_strides(int64_t m, int64_t n, int64_t *rs, int64_t *cs)
{
    if (m <= 1 && n <= 1) *rs = *cs = 1;
    else if (m <= 1) *rs = n * *cs;
    else if (n <= 1) *cs = m * *rs;
}

static int t_matmul(lua_State *L)
{
    OLTensor *a = ol_checktensor(L, 1), *b = ol_checktensor(L, 2);
    char s1[160], s2[160];
    if (a->ndim == 0 || b->ndim == 0)
        ol_error(L, "matmul: both operands need at least 1 dimension, got %s and %s",
                 ol_shapestr(a, s1, sizeof s1), ol_shapestr(b, s2, sizeof s2));
    /* 1-D operands are a row (left) or column (right) vector, dropped again after. */
    int a1 = a->ndim == 1, b1 = b->ndim == 1;
    int64_t m = a1 ? 1 : a->shape[a->ndim - 2], k = a->shape[a->ndim - 1];
    int64_t kb = b1 ? b->shape[0] : b->shape[b->ndim - 2], n = b1 ? 1 : b->shape[b->ndim - 1];
    if (k != kb)
        ol_error(L, "matmul: shapes %s and %s do not match (%lld columns vs %lld rows)",
                 ol_shapestr(a, s1, sizeof s1), ol_shapestr(b, s2, sizeof s2), (long long)k, (long long)kb);
    int64_t rsa = a1 ? k * a->stride[0] : a->stride[a->ndim - 2], csa = a->stride[a->ndim - 1];
    int64_t rsb = b->stride[b1 ? 0 : b->ndim - 2], csb = b1 ? 1 : b->stride[b->ndim - 1];
    /* batch dims broadcast like element-wise ops */
    int ba = a->ndim > 2 ? a->ndim - 2 : 0, bb = b->ndim > 2 ? b->ndim - 2 : 0;
    int nb = ba > bb ? ba : bb;
    int64_t bshape[OL_MAXDIM], sta[OL_MAXDIM], stb[OL_MAXDIM];
    for (int d = 0; d < nb; d++) {
        int ka = d - (nb - ba), kb2 = d - (nb - bb);
        int64_t x = ka >= 0 ? a->shape[ka] : 1, y = kb2 >= 0 ? b->shape[kb2] : 1;
        if (x != y && x != 1 && y != 1)
            ol_error(L, "matmul: batch dimensions of %s and %s cannot be broadcast",
                     ol_shapestr(a, s1, sizeof s1), ol_shapestr(b, s2, sizeof s2));
        bshape[d] = x == 1 ? y : x;
        sta[d] = (ka >= 0 && a->shape[ka] != 1) ? a->stride[ka] : 0;
        stb[d] = (kb2 >= 0 && b->shape[kb2] != 1) ? b->stride[kb2] : 0;
    }
    unit_strides(m, k, &rsa, &csa);
    unit_strides(k, n, &rsb, &csb);
    int needa = !blis_ok(m, k, rsa, csa), needb = !blis_ok(k, n, rsb, csb);
    if ((needa || needb) && m * n * k != 0) {
        /* contiguous copies always pass blis_ok */
        lua_settop(L, 2);
        if (needa) { ol_pushcontiguous(L, 1); lua_replace(L, 1); }
        if (needb) { ol_pushcontiguous(L, 2); lua_replace(L, 2); }
        return t_matmul(L);
    }
    int64_t oshape[OL_MAXDIM];
    int on = 0;
    for (int d = 0; d < nb; d++) oshape[on++] = bshape[d];
    if (!a1) oshape[on++] = m;
    if (!b1) oshape[on++] = n;
    /* beta = 0 overwrites every element, so only the k = 0 product needs zeros */
    OLTensor *o = m * n * k == 0 ? ol_pushtensor(L, on, oshape) : ol_pushtensor_empty(L, on, oshape);
    if (m * n * k == 0) return 1;
    int64_t batches = 1;
    for (int d = 0; d < nb; d++) batches *= bshape[d];
    for (int64_t i = 0; i < batches; i++) {
        int64_t oa = 0, ob = 0, r = i;
        for (int d = nb - 1; d >= 0; d--) {
            oa += (r % bshape[d]) * sta[d];
            ob += (r % bshape[d]) * stb[d];
            r /= bshape[d];
        }
        ol_gemm(m, n, k, 1.0f, ol_data(a) + oa, rsa, csa, ol_data(b) + ob, rsb, csb,
                0.0f, ol_data(o) + i * m * n, n, 1);
    }
    return 1;
}

/* ---- element access --------------------------------------------------- */

static int64_t element_offset(lua_State *L, OLTensor *t, int first, int count)
{
    char s[160];
    if (count != t->ndim)
        ol_error(L, "expected %d indices for a tensor of shape %s, got %d", t->ndim, ol_shapestr(t, s, sizeof s), count);
    int64_t off = t->offset;
    for (int d = 0; d < count; d++) {
        int64_t i = check_integer(L, first + d);
        if (i < 0) i += t->shape[d] + 1;
        if (i < 1 || i > t->shape[d])
            ol_error(L, "index %lld out of range for dimension %d of size %lld (shape %s)",
                     (long long)check_integer(L, first + d), d + 1, (long long)t->shape[d], ol_shapestr(t, s, sizeof s));
        off += (i - 1) * t->stride[d];
    }
    return off;
}

static int t_get(lua_State *L)
{
    OLTensor *t = self(L);
    lua_pushnumber(L, t->st->data[element_offset(L, t, 2, lua_gettop(L) - 1)]);
    return 1;
}

static int t_set(lua_State *L)
{
    OLTensor *t = self(L);
    int top = lua_gettop(L);
    float v = (float)check_number(L, top);
    t->st->data[element_offset(L, t, 2, top - 2)] = v;
    ol_written(t);
    lua_settop(L, 1);
    return 1;
}

static int t_item(lua_State *L)
{
    OLTensor *t = self(L);
    char s[160];
    if (ol_numel(t) != 1) ol_error(L, "item() needs a one-element tensor, got shape %s", ol_shapestr(t, s, sizeof s));
    lua_pushnumber(L, ol_data(t)[0]);
    return 1;
}

static void totable(lua_State *L, const OLTensor *t, int d, int64_t off)
{
    if (d == t->ndim) { lua_pushnumber(L, t->st->data[off]); return; }
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        totable(L, t, d + 1, off + i * t->stride[d]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_totable(lua_State *L)
{
    OLTensor *t = self(L);
    if (t->ndim == 0) { lua_pushnumber(L, ol_data(t)[0]); return 1; }
    totable(L, t, 0, t->offset);
    return 1;
}

/* ---- metamethods ------------------------------------------------------ */

static int t_gc(lua_State *L)
{
    OLTensor *t = luaL_checkudata(L, 1, OL_TENSOR);
    if (t->st && --t->st->refs == 0) {
        ol_free_floats(t->st->data, t->st->size);
        free(t->st);
    }
    t->st = NULL;
    return 0;
}

/* Does the tensor at idx take part in autograd (t.requires_grad == true)? */
static int requires_grad(lua_State *L, int idx)
{
    int r = 0;
    if (lua_getiuservalue(L, idx, 1) == LUA_TTABLE) {
        lua_pushliteral(L, "requires_grad");
        r = lua_rawget(L, -2) == LUA_TBOOLEAN && lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return r;
}

/* t.field: methods first (upvalue 1), then t[i] views, then per-tensor fields. */
static int t_index(lua_State *L)
{
    OLTensor *t = ol_checktensor(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
        if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) { lua_pushnil(L); return 1; }
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
    }
    if (lua_isinteger(L, 2)) {
        if (t->ndim == 0) ol_error(L, "cannot index a 0-dimensional tensor");
        if (t->ndim == 1) {
            lua_pushnumber(L, t->st->data[element_offset(L, t, 2, 1)]);
            return 1;
        }
        if (!requires_grad(L, 1)) {
            push_select(L, t, 0, lua_tointeger(L, 2));
            return 1;
        }
        /* t[i] of a tensor in the graph is t:select(1, i) through the methods
           table, so that the autograd wrapper (stdlib/tensor.lua) records it */
        lua_getfield(L, lua_upvalueindex(1), "select");
        lua_pushvalue(L, 1);
        lua_pushinteger(L, 1);
        lua_pushvalue(L, 2);
        lua_call(L, 3, 1);
        return 1;
    }
    ol_error(L, "bad tensor index of type %s", luaL_typename(L, 2));
    return 0;
}

static int t_newindex(lua_State *L)
{
    OLTensor *t = ol_checktensor(L, 1);
    if (lua_isinteger(L, 2)) {
        if (t->ndim == 0) ol_error(L, "cannot index a 0-dimensional tensor");
        if (t->ndim == 1 && !requires_grad(L, 1)) {
            t->st->data[element_offset(L, t, 2, 1)] = (float)check_number(L, 3);
            ol_written(t);
            return 0;
        }
        /* t[i] = v is t:select(1, i):fill_(v) or :copy_(v), done by the method
           _setindex of stdlib/tensor.lua, so that autograd records the write (or
           refuses it on a leaf that requires grad) like any in-place op */
        if (lua_getfield(L, lua_upvalueindex(1), "_setindex") == LUA_TFUNCTION) {
            lua_pushvalue(L, 1);
            lua_pushvalue(L, 2);
            lua_pushvalue(L, 3);
            lua_call(L, 3, 0);
            return 0;
        }
        lua_pop(L, 1);
        push_select(L, t, 0, lua_tointeger(L, 2));
        lua_getfield(L, lua_upvalueindex(1), lua_isnumber(L, 3) ? "fill_" : "copy_");
        lua_insert(L, -2);
        lua_pushvalue(L, 3);
        lua_call(L, 2, 0);
        return 0;
    }
    if (lua_type(L, 2) != LUA_TSTRING) ol_error(L, "bad tensor index of type %s", luaL_typename(L, 2));
    const char *key = lua_tostring(L, 2);
    if (strcmp(key, "grad") == 0 && !lua_isnil(L, 3)) {
        OLTensor *g = ol_totensor(L, 3);
        char a[160], b[160];
        if (!g) ol_error(L, "grad must be a tensor or nil, got %s", luaL_typename(L, 3));
        if (!ol_sameshape(g, t))
            ol_error(L, "grad of shape %s does not match its tensor of shape %s",
                     ol_shapestr(g, a, sizeof a), ol_shapestr(t, b, sizeof b));
    }
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) ol_error(L, "cannot assign to method '%s' of a tensor", key);
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, 1);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

/* Printing like NumPy/PyTorch: one format for the whole tensor, summarized
 * with "..." past 1000 elements. */
typedef struct { luaL_Buffer *b; const char *fmt; int width, cell, summarize; } printer;

static void print_rec(printer *p, const OLTensor *t, int d, int64_t off, int indent)
{
    char s[64];
    if (d == t->ndim) {
        double v = t->st->data[off];
        if (isfinite(v)) snprintf(s, sizeof s, p->fmt, p->width, v);
        else snprintf(s, sizeof s, "%*s", p->cell, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        luaL_addstring(p->b, s);
        return;
    }
    luaL_addchar(p->b, '[');
    int64_t n = t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        if (p->summarize && n > 6 && i == 3) {
            luaL_addstring(p->b, d == t->ndim - 1 ? "..., " : "...,\n");
            if (d != t->ndim - 1) for (int k = 0; k < indent + 1; k++) luaL_addchar(p->b, ' ');
            i = n - 3;
        }
        print_rec(p, t, d + 1, off + i * t->stride[d], indent + 1);
        if (i + 1 < n) {
            if (d == t->ndim - 1) luaL_addstring(p->b, ", ");
            else {
                luaL_addchar(p->b, ',');
                for (int k = d; k < t->ndim - 1; k++) luaL_addchar(p->b, '\n');
                for (int k = 0; k < indent + 1; k++) luaL_addchar(p->b, ' ');
            }
        }
    }
    luaL_addchar(p->b, ']');
}

static int t_tostring(lua_State *L)
{
    OLTensor *t = self(L);
    int64_t n = ol_numel(t);
    double maxabs = 0, maxneg = 0, minabs = INFINITY; /* minabs: of the nonzero values */
    int integral = 1, negative = 0, nonfinite = 0;
    OLTensor *c = ol_pushcontiguous(L, 1);
    for (int64_t i = 0; i < n; i++) {
        double v = ol_data(c)[i];
        if (!isfinite(v)) { nonfinite = nonfinite > 3 ? nonfinite : (v < 0 ? 4 : 3); continue; }
        if (v < 0) { negative = 1; if (-v > maxneg) maxneg = -v; }
        if (fabs(v) > maxabs) maxabs = fabs(v);
        if (v != 0 && fabs(v) < minabs) minabs = fabs(v);
        if (v != floor(v)) integral = 0;
    }
    lua_pop(L, 1);
    printer p;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    p.b = &b;
    p.summarize = n > 1000;
    /* the widest integer part: the largest magnitude, or the largest negative and its sign */
    int digits = maxabs >= 1 ? (int)log10(maxabs) + 1 : 1;
    int negdigits = negative ? (maxneg >= 1 ? (int)log10(maxneg) + 1 : 1) + 1 : 0;
    if (negdigits > digits) digits = negdigits;
    int point = 0; /* the integral format prints a '.' after the width */
    if (integral && maxabs < 1e8) { p.fmt = "%*.0f."; p.width = digits; point = 1; }
    /* fixed point unless it would hide small values (NumPy's and PyTorch's rule) */
    else if (maxabs == 0 || (minabs >= 1e-4 && maxabs < 1e5 && maxabs / minabs <= 1e3)) { p.fmt = "%*.4f"; p.width = digits + 5; }
    else { p.fmt = "%*.4e"; p.width = 10 + negative; }
    /* nan, inf, -inf print bare (as in PyTorch), in the same column width */
    p.cell = p.width + point;
    if (nonfinite > p.cell) { p.cell = nonfinite; p.width = nonfinite - point; }
    luaL_addstring(&b, "tensor(");
    print_rec(&p, t, 0, t->offset, 7);
    char s[200], dims[160];
    snprintf(s, sizeof s, ", shape=%s, dtype=float32)", ol_shapestr(t, dims, sizeof dims));
    luaL_addstring(&b, s);
    luaL_pushresult(&b);
    return 1;
}

/* t:_version(): in-place writes to t's storage so far (shared by its views). */
static int t_version(lua_State *L) { lua_pushinteger(L, (lua_Integer)self(L)->st->version); return 1; }

static int is_tensor(lua_State *L) { lua_pushboolean(L, ol_totensor(L, 1) != NULL); return 1; }

/* C.raise(msg): raise an error at the user's file:line from stdlib code. */
static int raise(lua_State *L) { return ol_error(L, "%s", luaL_checkstring(L, 1)); }

static int live_bytes(lua_State *L) { lua_pushinteger(L, (lua_Integer)ol_live_bytes()); return 1; }

static const luaL_Reg methods[] = {
    {"shape", t_shape}, {"size", t_size}, {"stride", t_stride}, {"dim", t_dim},
    {"numel", t_numel}, {"is_contiguous", t_is_contiguous},
    {"contiguous", t_contiguous}, {"clone", t_clone}, {"reshape", t_reshape}, {"view", t_view},
    {"transpose", t_transpose}, {"t", t_transpose}, {"permute", t_permute}, {"narrow", t_narrow},
    {"select", t_select}, {"unsqueeze", t_unsqueeze}, {"squeeze", t_squeeze}, {"expand", t_expand},
    {"add", t_add}, {"sub", t_sub}, {"mul", t_mul}, {"div", t_div}, {"pow", t_pow},
    {"maximum", t_maximum}, {"minimum", t_minimum},
    {"eq", t_eq}, {"ne", t_ne}, {"lt", t_lt}, {"le", t_le}, {"gt", t_gt}, {"ge", t_ge},
    {"add_", t_add_}, {"sub_", t_sub_}, {"mul_", t_mul_}, {"div_", t_div_}, {"pow_", t_pow_},
    {"maximum_", t_maximum_}, {"minimum_", t_minimum_},
    {"eq_", t_eq_}, {"ne_", t_ne_}, {"lt_", t_lt_}, {"le_", t_le_}, {"gt_", t_gt_}, {"ge_", t_ge_},
    {"neg", t_neg}, {"abs", t_abs}, {"exp", t_exp}, {"log", t_log}, {"sqrt", t_sqrt},
    {"sign", t_sign}, {"square", t_square}, {"reciprocal", t_reciprocal},
    {"tanh", t_tanh}, {"sigmoid", t_sigmoid}, {"relu", t_relu},
    {"neg_", t_neg_}, {"abs_", t_abs_}, {"exp_", t_exp_}, {"log_", t_log_}, {"sqrt_", t_sqrt_},
    {"sign_", t_sign_}, {"square_", t_square_}, {"reciprocal_", t_reciprocal_},
    {"tanh_", t_tanh_}, {"sigmoid_", t_sigmoid_}, {"relu_", t_relu_},
    {"sin", t_sin}, {"cos", t_cos}, {"floor", t_floor}, {"round", t_round},
    {"sin_", t_sin_}, {"cos_", t_cos_}, {"floor_", t_floor_}, {"round_", t_round_},
    {"remainder", t_remainder}, {"remainder_", t_remainder_},
    {"clamp", t_clamp}, {"fill_", t_fill_}, {"zero_", t_zero_}, {"copy_", t_copy_},
    {"clamp_", t_clamp_}, {"addcmul_", t_addcmul_}, {"addcdiv_", t_addcdiv_}, {"lerp_", t_lerp_},
    {"gather", t_gather}, {"scatter_add_", t_scatter_add_},
    {"sum", t_sum}, {"mean", t_mean}, {"max", t_max}, {"min", t_min},
    {"argmax", t_argmax}, {"argmin", t_argmin}, {"sumsq", t_sumsq},
    {"prod", t_prod}, {"logsumexp", t_logsumexp}, {"var", t_var}, {"std", t_std}, {"norm", t_norm},
    {"cumsum", t_cumsum}, {"dot", t_dot}, {"_version", t_version},
    {"matmul", t_matmul}, {"get", t_get}, {"set", t_set}, {"item", t_item}, {"totable", t_totable},
    {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
    {"__gc", t_gc}, {"__len", t_len}, {"__tostring", t_tostring},
    {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul}, {"__div", t_div},
    {"__pow", t_pow}, {"__unm", t_neg}, {"__mod", t_remainder},
    {NULL, NULL}
};

static const luaL_Reg functions[] = {
    {"empty", t_empty}, {"zeros", t_zeros}, {"full", t_full}, {"eye", t_eye},
    {"arange", t_arange}, {"linspace", t_linspace}, {"from", t_from}, {"random", t_random},
    {"matmul", t_matmul}, {"is_tensor", is_tensor}, {"raise", raise}, {"live_bytes", live_bytes},
    {"where", t_where}, {"cat", t_cat}, {"stack", t_stack}, {"dot", t_dot},
    {"maximum", t_maximum}, {"minimum", t_minimum},
    {NULL, NULL}
};

void ol_open_tensor(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
    luaL_newmetatable(L, OL_TENSOR);
    luaL_setfuncs(L, metamethods, 0);
    lua_newtable(L); /* methods */
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "methods");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -3, "__index");
    lua_pushcclosure(L, t_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "meta");
    lua_pop(L, 1);
}
