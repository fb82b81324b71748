/* Tensor bindings, continued: the fused in-place updates optimizers are
 * written with, where, cat/stack, gather/scatter_add, cumsum, dot and the
 * reductions that take a parameter. Raw ops: autograd wraps them in
 * stdlib/tensor.lua. Registered in ltensor.c's method table. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ltensor.h"
#include "elementwise.h"
#include "gather.h"

/* The strides of u broadcast to t's shape, or an error naming op. */
static void fit(lua_State *L, const char *op, const OLTensor *t, const OLTensor *u, int64_t *st)
{
    char a[160], b[160];
    if (u->ndim > t->ndim || !broadcast_strides(u, t->ndim, t->shape, st))
        ol_error(L, "%s: argument of shape %s does not broadcast to the target of shape %s", op,
                 ol_shapestr(u, a, sizeof a), ol_shapestr(t, b, sizeof b));
}

/* ---- fused in-place updates ------------------------------------------- */

/* self:op(a [, b], s, s2): a at argument 2, b at 3 when nb == 2; each a
 * tensor broadcast to self's shape or a number. */
static int update(lua_State *L, ol_updop op, const char *name, int nb, float s, float s2)
{
    OLTensor *t = self(L);
    OLTensor tmp[2], *u[2] = {NULL, NULL};
    OLStorage tst[2];
    float val[2];
    int64_t st[2][OL_MAXDIM];
    for (int i = 0; i < nb; i++) {
        if (lua_isnoneornil(L, 2 + i)) arg_error(L, 2 + i, "tensor or number");
        u[i] = operand(L, 2 + i, &tmp[i], &tst[i], &val[i]);
        fit(L, name, t, u[i], st[i]);
        if (u[i] != &tmp[i]) ol_check_inplace(L, name, t, u[i]);
    }
    if (nb == 0) ol_check_inplace(L, name, t, NULL);
    ol_written(t);
    ol_update(op, t->ndim, t->shape, ol_data(t), t->stride,
              u[0] ? ol_data(u[0]) : NULL, st[0], u[1] ? ol_data(u[1]) : NULL, st[1], s, s2);
    lua_settop(L, 1);
    return 1;
}

/* t:addcmul_(t1, t2 [, value]): t += value * t1 * t2 */
int t_addcmul_(lua_State *L)
{
    return update(L, OL_UADDCMUL, "addcmul_", 2, (float)opt_number(L, 4, 1), 0);
}

/* t:addcdiv_(t1, t2 [, value]): t += value * t1 / t2 */
int t_addcdiv_(lua_State *L)
{
    return update(L, OL_UADDCDIV, "addcdiv_", 2, (float)opt_number(L, 4, 1), 0);
}

/* t:lerp_(end, weight): t += weight * (end - t), weight a number or a tensor */
int t_lerp_(lua_State *L)
{
    if (lua_type(L, 3) == LUA_TNUMBER) return update(L, OL_ULERP, "lerp_", 1, (float)lua_tonumber(L, 3), 0);
    if (!ol_totensor(L, 3)) arg_error(L, 3, "tensor or number (the weight)");
    return update(L, OL_ULERPT, "lerp_", 2, 0, 0);
}

/* t:clamp_(lo, hi): either may be nil */
int t_clamp_(lua_State *L)
{
    lua_settop(L, 3);
    float lo = lua_isnil(L, 2) ? -INFINITY : (float)check_number(L, 2);
    float hi = lua_isnil(L, 3) ? INFINITY : (float)check_number(L, 3);
    if (lo > hi) ol_error(L, "clamp_: min %g is greater than max %g", lo, hi);
    lua_settop(L, 1);
    return update(L, OL_UCLAMP, "clamp_", 0, lo, hi);
}

/* ---- where ------------------------------------------------------------ */

/* where(cond, a, b): cond nonzero picks a; any of them may be a number. */
int t_where(lua_State *L)
{
    OLTensor tmp[3], *u[3];
    OLStorage tst[3];
    float val[3];
    int64_t shape[OL_MAXDIM], st[3][OL_MAXDIM];
    int nd = 0;
    for (int i = 0; i < 3; i++) {
        if (lua_isnoneornil(L, i + 1)) arg_error(L, i + 1, "tensor or number");
        u[i] = operand(L, i + 1, &tmp[i], &tst[i], &val[i]);
        if (u[i]->ndim > nd) nd = u[i]->ndim;
    }
    for (int d = 0; d < nd; d++) {
        shape[d] = 1;
        for (int i = 0; i < 3; i++) {
            int k = d - (nd - u[i]->ndim);
            int64_t x = k >= 0 ? u[i]->shape[k] : 1;
            if (x != 1 && shape[d] != 1 && x != shape[d]) {
                char a[160], b[160], c[160];
                ol_error(L, "where: shapes %s, %s and %s cannot be broadcast together",
                         ol_shapestr(u[0], a, sizeof a), ol_shapestr(u[1], b, sizeof b), ol_shapestr(u[2], c, sizeof c));
            }
            if (x != 1) shape[d] = x;
        }
        for (int i = 0; i < 3; i++) { /* [1] with [0] is [0] */
            int k = d - (nd - u[i]->ndim);
            if (k >= 0 && u[i]->shape[k] == 0) shape[d] = 0;
        }
    }
    for (int i = 0; i < 3; i++) broadcast_strides(u[i], nd, shape, st[i]);
    OLTensor *o = ol_pushtensor_empty(L, nd, shape);
    ol_where(nd, shape, ol_data(o), o->stride, ol_data(u[0]), st[0], ol_data(u[1]), st[1],
             ol_data(u[2]), st[2]);
    return 1;
}

/* ---- cat and stack ---------------------------------------------------- */

/* Element i (0-based) of the list at argument 1, a tensor the list keeps alive. */
static OLTensor *list_at(lua_State *L, const char *op, lua_Integer i)
{
    lua_rawgeti(L, 1, i + 1);
    OLTensor *t = ol_totensor(L, -1);
    if (!t) ol_error(L, "%s: element %d of the list is a %s, not a tensor", op, (int)i + 1, luaL_typename(L, -1));
    lua_pop(L, 1);
    return t;
}

/* The length of the list of tensors at argument 1, every element checked. */
static lua_Integer list_arg(lua_State *L, const char *op)
{
    if (!lua_istable(L, 1) || ol_totensor(L, 1)) arg_error(L, 1, "list of tensors");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n == 0) ol_error(L, "%s: expected a non-empty list of tensors", op);
    for (lua_Integer i = 0; i < n; i++) list_at(L, op, i);
    return n;
}

/* cat(list [, dim = 1]): joins along an existing dimension. */
int t_cat(lua_State *L)
{
    lua_Integer n = list_arg(L, "cat");
    const OLTensor *t0 = list_at(L, "cat", 0);
    if (t0->ndim == 0) ol_error(L, "cat: 0-dimensional tensors cannot be joined: use stack");
    int d = lua_isnoneornil(L, 2) ? 0 : get_dim(L, 2, t0->ndim);
    int64_t shape[OL_MAXDIM];
    memcpy(shape, t0->shape, sizeof shape);
    shape[d] = 0;
    for (lua_Integer i = 0; i < n; i++) {
        const OLTensor *t = list_at(L, "cat", i);
        int ok = t->ndim == t0->ndim;
        for (int k = 0; ok && k < t0->ndim; k++) ok = k == d || t->shape[k] == t0->shape[k];
        if (!ok) {
            char a[160], b[160];
            ol_error(L, "cat: tensor %d has shape %s, tensor 1 has %s: they may differ only in dimension %d",
                     (int)i + 1, ol_shapestr(t, a, sizeof a), ol_shapestr(t0, b, sizeof b), d + 1);
        }
        if (!ol_add64(shape[d], t->shape[d], &shape[d]))   /* views from expand can be huge */
            ol_error(L, "cat: the joined dimension %d is too large", d + 1);
    }
    OLTensor *o = ol_pushtensor_empty(L, t0->ndim, shape);
    int64_t at = 0;
    for (lua_Integer i = 0; i < n; i++) {
        const OLTensor *t = list_at(L, "cat", i);
        ol_copy(t->ndim, t->shape, ol_data(o) + at * o->stride[d], o->stride, ol_data(t), t->stride);
        at += t->shape[d];
    }
    return 1;
}

/* stack(list [, dim = 1]): joins along a new dimension. */
int t_stack(lua_State *L)
{
    lua_Integer n = list_arg(L, "stack");
    const OLTensor *t0 = list_at(L, "stack", 0);
    if (t0->ndim == OL_MAXDIM) ol_error(L, "stack: the result would have more than %d dimensions", OL_MAXDIM);
    int d = lua_isnoneornil(L, 2) ? 0 : get_dim(L, 2, t0->ndim + 1);
    for (lua_Integer i = 1; i < n; i++) {
        const OLTensor *t = list_at(L, "stack", i);
        if (!ol_sameshape(t, t0)) {
            char a[160], b[160];
            ol_error(L, "stack: tensor %d has shape %s, tensor 1 has %s: all must have the same shape",
                     (int)i + 1, ol_shapestr(t, a, sizeof a), ol_shapestr(t0, b, sizeof b));
        }
    }
    int64_t shape[OL_MAXDIM], vstride[OL_MAXDIM];
    for (int k = 0, j = 0; k <= t0->ndim; k++) shape[k] = k == d ? n : t0->shape[j++];
    OLTensor *o = ol_pushtensor_empty(L, t0->ndim + 1, shape);
    for (int k = 0, j = 0; k <= t0->ndim; k++) if (k != d) vstride[j++] = o->stride[k];
    for (lua_Integer i = 0; i < n; i++) {
        const OLTensor *t = list_at(L, "stack", i);
        ol_copy(t0->ndim, t0->shape, ol_data(o) + i * o->stride[d], vstride, ol_data(t), t->stride);
    }
    return 1;
}

/* ---- gather and scatter_add ------------------------------------------- */

/* Raise unless every entry of index is a position in [1, size]. */
static void check_index(lua_State *L, const char *op, const OLTensor *ix, int64_t size, int dim)
{
    int64_t bad = ol_index_check(ix->ndim, ix->shape, ol_data(ix), ix->stride, size);
    if (bad < 0) return;
    int64_t off = 0, r = bad;
    for (int d = ix->ndim - 1; d >= 0; d--) { off += (r % ix->shape[d]) * ix->stride[d]; r /= ix->shape[d]; }
    ol_error(L, "%s: index %g (element %lld of the index) is not a position in 1..%lld of dimension %d",
             op, (double)ol_data(ix)[off], (long long)bad + 1, (long long)size, dim + 1);
}

/* The index tensor at argument 3, its dims no larger than t's except at dim. */
static OLTensor *index_arg(lua_State *L, const char *op, const OLTensor *t, int dim, const OLTensor *src)
{
    OLTensor *ix = ol_totensor(L, 3);
    if (!ix) arg_error(L, 3, "tensor (the index)");
    char a[160], b[160];
    int ok = ix->ndim == t->ndim;
    for (int d = 0; ok && d < t->ndim; d++)
        ok = (d == dim || ix->shape[d] <= t->shape[d]) && (!src || ix->shape[d] <= src->shape[d]);
    if (!ok || (src && src->ndim != t->ndim))
        ol_error(L, "%s: index of shape %s does not fit a tensor of shape %s%s%s along dimension %d", op,
                 ol_shapestr(ix, a, sizeof a), ol_shapestr(t, b, sizeof b),
                 src ? " and a source of shape " : "", src ? ol_shapestr(src, a, sizeof a) : "", dim + 1);
    check_index(L, op, ix, t->ndim ? t->shape[dim] : 1, dim);
    return ix;
}

/* t:gather(dim, index): out[i][j] = t[index[i][j]][j] for dim 1, as torch.gather. */
int t_gather(lua_State *L)
{
    OLTensor *t = self(L);
    int dim = get_dim(L, 2, t->ndim);
    OLTensor *ix = index_arg(L, "gather", t, dim, NULL);
    OLTensor *o = ol_pushtensor_empty(L, ix->ndim, ix->shape);
    ol_gather(ix->ndim, ix->shape, dim, ol_data(o), o->stride, ol_data(t), t->stride, ol_data(ix), ix->stride);
    return 1;
}

/* t:scatter_add_(dim, index, src): t[index[i][j]][j] += src[i][j] for dim 1,
 * as Tensor.scatter_add_ (gather's backward). */
int t_scatter_add_(lua_State *L)
{
    OLTensor *t = self(L);
    int dim = get_dim(L, 2, t->ndim);
    OLTensor *src = ol_totensor(L, 4);
    if (!src) arg_error(L, 4, "tensor (the source)");
    OLTensor *ix = index_arg(L, "scatter_add_", t, dim, src);
    ol_check_inplace(L, "scatter_add_", t, NULL);
    /* t's elements are read back as they are added to, in index order: a
     * source or index in t's memory, even exactly t, would see partial sums */
    if (ol_shares_memory(L, t, src) || ol_shares_memory(L, t, ix))
        ol_error(L, "scatter_add_: the source or the index and the target refer to a single memory "
                    "location: clone() them first");
    ol_written(t);
    ol_scatter_add(ix->ndim, ix->shape, dim, ol_data(t), t->stride, ol_data(ix), ix->stride, ol_data(src), src->stride);
    lua_settop(L, 1);
    return 1;
}

/* ---- scans, products, norms ------------------------------------------- */

/* t:cumsum(dim) */
int t_cumsum(lua_State *L)
{
    OLTensor *t = self(L);
    int d = get_dim(L, 2, t->ndim);
    OLTensor *c = ol_pushcontiguous(L, 1);
    OLTensor *o = ol_pushtensor_empty(L, t->ndim, t->shape);
    int64_t outer = 1, inner = 1, len = t->ndim ? t->shape[d] : 1;
    for (int k = 0; k < t->ndim; k++) {
        if (k < d) outer *= t->shape[k];
        if (k > d) inner *= t->shape[k];
    }
    ol_cumsum(outer, len, inner, ol_data(c), ol_data(o));
    return 1;
}

/* dot(a, b) for two 1-D tensors of one length: a 0-d tensor. */
int t_dot(lua_State *L)
{
    OLTensor *a = ol_checktensor(L, 1), *b = ol_checktensor(L, 2);
    if (a->ndim != 1 || b->ndim != 1 || a->shape[0] != b->shape[0]) {
        char s1[160], s2[160];
        ol_error(L, "dot: expected two 1-D tensors of the same size, got %s and %s",
                 ol_shapestr(a, s1, sizeof s1), ol_shapestr(b, s2, sizeof s2));
    }
    double v = ol_dot(a->shape[0], ol_data(a), a->stride[0], ol_data(b), b->stride[0]);
    OLTensor *o = ol_pushtensor_empty(L, 0, NULL);
    ol_data(o)[0] = (float)v;
    return 1;
}

/* t:prod([dim [, keepdim]]) */
int t_prod(lua_State *L) { return reduce_at(L, OL_RPROD, 0, 2, 0, 0); }

/* t:logsumexp([dim [, keepdim]]) */
int t_logsumexp(lua_State *L) { return reduce_at(L, OL_RLOGSUMEXP, 0, 2, 0, 0); }

/* t:var([dim [, keepdim [, correction = 1]]]): correction 1 is the unbiased
 * estimate (torch's default), 0 the population variance. */
int t_var(lua_State *L)
{
    double correction = opt_number(L, 4, 1);
    return reduce_at(L, OL_RVAR, correction, 2, 0, 0);
}

int t_std(lua_State *L)
{
    t_var(L);
    OLTensor *o = ol_checktensor(L, -1);
    int64_t n = ol_numel(o);
    for (int64_t i = 0; i < n; i++) ol_data(o)[i] = sqrtf(ol_data(o)[i]);
    return 1;
}

/* t:norm([p = 2 [, dim [, keepdim]]]): p any number, math.huge for the max norm. */
int t_norm(lua_State *L)
{
    double p = opt_number(L, 2, 2);
    return reduce_at(L, OL_RNORM, p, 3, 0, 0);
}
