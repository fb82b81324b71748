/* Lua bindings of the layer kernels (kernels/act.h, loss.h, norm.h, rng.h,
 * linear.h, conv.h, pool.h): forward and backward of every op, as C.nn.*.
 * stdlib/nn.lua records them on the autograd tape; nothing here does.
 *
 * Every binding checks ranks and shapes before calling a kernel and names
 * the op and the shapes in its error. Inputs that are not contiguous are
 * copied (ol_pushcontiguous replaces the argument slot, which keeps the copy
 * alive for the call); outputs come from ol_pushtensor_empty, which reuses
 * cached blocks, since kernels overwrite every element. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "tensor.h"
#include "act.h"
#include "loss.h"
#include "norm.h"
#include "rng.h"

/* ---- argument helpers ------------------------------------------------- */

/* Argument idx as a contiguous tensor; the slot is replaced by the copy. */
static OLTensor *contig(lua_State *L, int idx)
{
    ol_checktensor(L, idx);
    OLTensor *t = ol_pushcontiguous(L, idx);
    lua_replace(L, idx);
    return t;
}

/* Optional tensor argument (nil/none -> NULL), made contiguous. */
static OLTensor *opt_contig(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    return contig(L, idx);
}

/* A tensor the kernel updates in place (running statistics): must already be contiguous. */
static OLTensor *inplace_arg(lua_State *L, int idx, const char *op, const char *what)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    OLTensor *t = ol_checktensor(L, idx);
    if (!ol_iscontiguous(t)) ol_error(L, "%s: %s is updated in place and must be contiguous", op, what);
    return t;
}

static const char *shp(const OLTensor *t, char *buf) { return ol_shapestr(t, buf, 160); }

static int to_int(lua_State *L, int64_t v, const char *op, const OLTensor *t)
{
    char s[160];
    if (v > INT32_MAX) ol_error(L, "%s: tensor of shape %s is too large for this kernel", op, shp(t, s));
    return (int)v;
}

static void same_shape(lua_State *L, const char *op, const OLTensor *a, const char *an,
                       const OLTensor *b, const char *bn)
{
    char s1[160], s2[160];
    if (!ol_sameshape(a, b))
        ol_error(L, "%s: %s %s and %s %s must have the same shape", op, an, shp(a, s1), bn, shp(b, s2));
}

/* The upstream gradient of a scalar loss: a number or a one-element tensor. */
static float scale_arg(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) return 1.0f;
    if (lua_type(L, idx) == LUA_TNUMBER) return (float)lua_tonumber(L, idx);
    OLTensor *g = ol_checktensor(L, idx);
    if (ol_numel(g) != 1) {
        char s[160];
        ol_error(L, "loss backward: the upstream gradient must have one element, got %s", shp(g, s));
    }
    return g->st->data[g->offset];
}

static void push_scalar(lua_State *L, double v)
{
    OLTensor *t = ol_pushtensor_empty(L, 0, NULL);
    ol_data(t)[0] = (float)v;
}

/* ---- class labels ----------------------------------------------------- */

/* Float class ids [n] -> int32 (a GC'd userdata pushed on the stack), each
 * checked to be an integer in [0, c): the error names the row and value. */
static const int32_t *labels_arg(lua_State *L, const char *op, const OLTensor *lab, int n, int c)
{
    const float *v = ol_data(lab);
    int32_t *out = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(int32_t), 0);
    for (int i = 0; i < n; i++) {
        float f = v[i];
        if (!(f == floorf(f)))
            ol_error(L, "%s: label %g at row %d is not an integer class id", op, (double)f, i + 1);
        if (f < 0 || f >= (float)c)
            ol_error(L, "%s: label %g at row %d is outside [0, %d) (class ids are 0-based)", op, (double)f, i + 1, c);
        out[i] = (int32_t)f;
    }
    return out;
}

/* Checks logits [n, c] and labels: [n] class ids (returns int32 ids, *soft = 0)
 * or [n, c] targets (returns NULL, *soft = 1). */
static const int32_t *loss_targets(lua_State *L, const char *op, const OLTensor *x, const OLTensor *y,
                                   int *n, int *c, int *soft)
{
    char s1[160], s2[160];
    if (x->ndim != 2)
        ol_error(L, "%s: logits must be [batch, classes], got %s", op, shp(x, s1));
    *n = to_int(L, x->shape[0], op, x);
    *c = to_int(L, x->shape[1], op, x);
    if (y->ndim == 1 && y->shape[0] == x->shape[0]) {
        *soft = 0;
        return labels_arg(L, op, y, *n, *c);
    }
    if (y->ndim == 2 && ol_sameshape(x, y)) {
        *soft = 1;
        return NULL;
    }
    ol_error(L, "%s: labels must be class ids [%d] or one-hot targets [%d, %d] for logits %s, got %s",
             op, *n, *n, *c, shp(x, s1), shp(y, s2));
    return NULL;
}

/* ---- activations ------------------------------------------------------ */

enum { A_RELU, A_LEAKY, A_ELU, A_TANH, A_SIGMOID, A_GELU, A_SOFTMAX, A_LOG_SOFTMAX };
static const char *const act_names[] = {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu",
                                        "softmax", "log_softmax"};

/* Row-wise ops work on [rows, cols] over the last dimension. */
static void rows_cols(lua_State *L, const char *op, const OLTensor *x, int *rows, int *cols)
{
    char s[160];
    if (x->ndim < 1) ol_error(L, "%s: needs at least one dimension, got a scalar", op);
    int64_t c = x->shape[x->ndim - 1];
    *cols = to_int(L, c, op, x);
    *rows = to_int(L, c ? ol_numel(x) / c : 0, op, x);
    if (c == 0) ol_error(L, "%s: empty last dimension in %s", op, shp(x, s));
}

/* act_forward(x [, param]) -> y; param = alpha (leaky_relu, elu) or approximate (gelu: 0/1). */
static int act_forward(lua_State *L)
{
    int a = (int)lua_tointeger(L, lua_upvalueindex(1));
    OLTensor *x = contig(L, 1);
    OLTensor *y = ol_pushtensor_empty(L, x->ndim, x->shape);
    size_t n = (size_t)ol_numel(x);
    const float *xp = ol_data(x);
    float *yp = ol_data(y);
    int rows, cols;
    switch (a) {
    case A_RELU: ol_relu_forward(n, xp, yp); break;
    case A_LEAKY: ol_leaky_relu_forward(n, xp, yp, (float)luaL_optnumber(L, 2, 0.01)); break;
    case A_ELU: ol_elu_forward(n, xp, yp, (float)luaL_optnumber(L, 2, 1.0)); break;
    case A_TANH: ol_tanh_forward(n, xp, yp); break;
    case A_SIGMOID: ol_sigmoid_forward(n, xp, yp); break;
    case A_GELU: ol_gelu_forward(n, xp, yp, (int)luaL_optinteger(L, 2, OL_GELU_NONE)); break;
    case A_SOFTMAX: rows_cols(L, act_names[a], x, &rows, &cols); ol_softmax_forward(rows, cols, xp, yp); break;
    case A_LOG_SOFTMAX: rows_cols(L, act_names[a], x, &rows, &cols); ol_log_softmax_forward(rows, cols, xp, yp); break;
    }
    return 1;
}

/* act_backward(saved, dy [, param]) -> dx; `saved` is x (relu, leaky_relu, elu,
 * gelu) or y (tanh, sigmoid, softmax, log_softmax), as kernels/act.h states. */
static int act_backward(lua_State *L)
{
    int a = (int)lua_tointeger(L, lua_upvalueindex(1));
    OLTensor *s = contig(L, 1), *dy = contig(L, 2);
    char name[40];
    snprintf(name, sizeof name, "%s backward", act_names[a]);
    same_shape(L, name, s, (a == A_TANH || a == A_SIGMOID || a >= A_SOFTMAX) ? "y" : "x", dy, "dy");
    OLTensor *dx = ol_pushtensor_empty(L, s->ndim, s->shape);
    size_t n = (size_t)ol_numel(s);
    const float *sp = ol_data(s), *g = ol_data(dy);
    float *d = ol_data(dx);
    int rows, cols;
    switch (a) {
    case A_RELU: ol_relu_backward(n, sp, g, d); break;
    case A_LEAKY: ol_leaky_relu_backward(n, sp, g, d, (float)luaL_optnumber(L, 3, 0.01)); break;
    case A_ELU: ol_elu_backward(n, sp, g, d, (float)luaL_optnumber(L, 3, 1.0)); break;
    case A_TANH: ol_tanh_backward(n, sp, g, d); break;
    case A_SIGMOID: ol_sigmoid_backward(n, sp, g, d); break;
    case A_GELU: ol_gelu_backward(n, sp, g, d, (int)luaL_optinteger(L, 3, OL_GELU_NONE)); break;
    case A_SOFTMAX: rows_cols(L, name, s, &rows, &cols); ol_softmax_backward(rows, cols, sp, g, d); break;
    case A_LOG_SOFTMAX: rows_cols(L, name, s, &rows, &cols); ol_log_softmax_backward(rows, cols, sp, g, d); break;
    }
    return 1;
}

/* ---- losses ----------------------------------------------------------- */

/* cross_entropy_forward(logits [n, c], labels [n] | targets [n, c]) -> loss (0-d tensor) */
static int cross_entropy_forward(lua_State *L)
{
    OLTensor *x = contig(L, 1), *y = contig(L, 2);
    int n, c, soft;
    const int32_t *lab = loss_targets(L, "cross_entropy", x, y, &n, &c, &soft);
    float loss = soft ? ol_cross_entropy_soft_forward(n, c, ol_data(x), ol_data(y), NULL)
                      : ol_cross_entropy_forward(n, c, ol_data(x), lab, NULL);
    push_scalar(L, loss);
    return 1;
}

/* cross_entropy_backward(logits, labels, gscale) -> dlogits */
static int cross_entropy_backward(lua_State *L)
{
    OLTensor *x = contig(L, 1), *y = contig(L, 2);
    float scale = scale_arg(L, 3);
    int n, c, soft;
    const int32_t *lab = loss_targets(L, "cross_entropy backward", x, y, &n, &c, &soft);
    OLTensor *dx = ol_pushtensor_empty(L, 2, x->shape);
    if (soft) ol_cross_entropy_soft_backward(n, c, ol_data(x), ol_data(y), scale, ol_data(dx));
    else ol_cross_entropy_backward(n, c, ol_data(x), lab, scale, ol_data(dx));
    return 1;
}

/* accuracy(logits [n, c], labels [n] | one-hot [n, c]) -> number of rows whose argmax is the label */
static int accuracy(lua_State *L)
{
    OLTensor *x = contig(L, 1), *y = contig(L, 2);
    int n, c, soft;
    const int32_t *lab = loss_targets(L, "accuracy", x, y, &n, &c, &soft);
    if (soft) { /* one-hot: the label is the target row's argmax (first on ties) */
        int32_t *ids = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(int32_t), 0);
        const float *t = ol_data(y);
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < c; j++) if (t[(size_t)i * c + j] > t[(size_t)i * c + best]) best = j;
            ids[i] = best;
        }
        lab = ids;
    }
    lua_pushinteger(L, ol_accuracy_count(n, c, ol_data(x), lab));
    return 1;
}

static void pair_check(lua_State *L, const char *op, const OLTensor *a, const OLTensor *b)
{
    char s1[160], s2[160];
    if (!ol_sameshape(a, b))
        ol_error(L, "%s: input %s and target %s must have the same shape", op, shp(a, s1), shp(b, s2));
}

/* mse_forward(pred, target) -> loss; mse_backward(pred, target, gscale) -> dpred */
static int mse_forward(lua_State *L)
{
    OLTensor *p = contig(L, 1), *t = contig(L, 2);
    pair_check(L, "mse", p, t);
    push_scalar(L, ol_mse_forward((size_t)ol_numel(p), ol_data(p), ol_data(t)));
    return 1;
}

static int mse_backward(lua_State *L)
{
    OLTensor *p = contig(L, 1), *t = contig(L, 2);
    pair_check(L, "mse backward", p, t);
    float scale = scale_arg(L, 3);
    OLTensor *d = ol_pushtensor_empty(L, p->ndim, p->shape);
    ol_mse_backward((size_t)ol_numel(p), ol_data(p), ol_data(t), scale, ol_data(d));
    return 1;
}

/* binary_cross_entropy (with logits): forward(logits, targets) -> loss; backward(logits, targets, gscale) -> dlogits */
static int bce_forward(lua_State *L)
{
    OLTensor *x = contig(L, 1), *t = contig(L, 2);
    pair_check(L, "binary_cross_entropy", x, t);
    push_scalar(L, ol_binary_cross_entropy_with_logits_forward((size_t)ol_numel(x), ol_data(x), ol_data(t)));
    return 1;
}

static int bce_backward(lua_State *L)
{
    OLTensor *x = contig(L, 1), *t = contig(L, 2);
    pair_check(L, "binary_cross_entropy backward", x, t);
    float scale = scale_arg(L, 3);
    OLTensor *d = ol_pushtensor_empty(L, x->ndim, x->shape);
    ol_binary_cross_entropy_with_logits_backward((size_t)ol_numel(x), ol_data(x), ol_data(t), scale, ol_data(d));
    return 1;
}

/* ---- batch norm ------------------------------------------------------- */

/* x [N, C] or [N, C, d1, ...]: statistics per channel over N and the trailing dims. */
static void bn_dims(lua_State *L, const char *op, const OLTensor *x, int *N, int *C, int *HW)
{
    char s[160];
    if (x->ndim < 2) ol_error(L, "%s: input must be [batch, channels, ...], got %s", op, shp(x, s));
    int64_t hw = 1;
    for (int d = 2; d < x->ndim; d++) hw *= x->shape[d];
    *N = to_int(L, x->shape[0], op, x);
    *C = to_int(L, x->shape[1], op, x);
    *HW = to_int(L, hw, op, x);
    if (*N < 1 || *C < 1 || *HW < 1) ol_error(L, "%s: empty input %s", op, shp(x, s));
}

static void bn_vec(lua_State *L, const char *op, const OLTensor *v, const char *what, int C, const OLTensor *x)
{
    char s1[160], s2[160];
    if (v && !(v->ndim == 1 && v->shape[0] == C))
        ol_error(L, "%s: %s must be [%d] for input %s, got %s", op, what, C, shp(x, s1), shp(v, s2));
}

static void bn_status(lua_State *L, const char *op, int rc, const OLTensor *x)
{
    char s[160];
    if (rc == OL_NORM_ETOOFEWVALUES)
        ol_error(L, "%s: expected more than 1 value per channel when training, got input %s", op, shp(x, s));
    if (rc != OL_NORM_OK) ol_error(L, "%s: bad input shape %s", op, shp(x, s));
}

/* batch_norm_train(x, gamma, beta, running_mean, running_var, eps, momentum) -> y, save_mean, save_invstd
 * (running stats, when given, are updated in place) */
static int batch_norm_train(lua_State *L)
{
    const char *op = "batch_norm";
    OLTensor *x = contig(L, 1), *g = opt_contig(L, 2), *b = opt_contig(L, 3);
    OLTensor *rm = inplace_arg(L, 4, op, "running_mean"), *rv = inplace_arg(L, 5, op, "running_var");
    float eps = (float)luaL_optnumber(L, 6, 1e-5), mom = (float)luaL_optnumber(L, 7, 0.1);
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    bn_vec(L, op, g, "weight", C, x); bn_vec(L, op, b, "bias", C, x);
    bn_vec(L, op, rm, "running_mean", C, x); bn_vec(L, op, rv, "running_var", C, x);
    if ((rm == NULL) != (rv == NULL)) ol_error(L, "%s: give both running_mean and running_var or neither", op);
    int64_t c64 = C;
    OLTensor *y = ol_pushtensor_empty(L, x->ndim, x->shape);
    OLTensor *sm = ol_pushtensor_empty(L, 1, &c64);
    OLTensor *si = ol_pushtensor_empty(L, 1, &c64);
    int rc = ol_batch_norm_forward_train(N, C, HW, ol_data(x), g ? ol_data(g) : NULL, b ? ol_data(b) : NULL,
                                         eps, mom, rm ? ol_data(rm) : NULL, rv ? ol_data(rv) : NULL,
                                         ol_data(y), ol_data(sm), ol_data(si));
    bn_status(L, op, rc, x);
    return 3;
}

/* batch_norm_train_backward(x, dy, gamma, save_mean, save_invstd) -> dx, dgamma, dbeta */
static int batch_norm_train_backward(lua_State *L)
{
    const char *op = "batch_norm backward";
    OLTensor *x = contig(L, 1), *dy = contig(L, 2), *g = opt_contig(L, 3);
    OLTensor *sm = contig(L, 4), *si = contig(L, 5);
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    same_shape(L, op, x, "x", dy, "dy");
    bn_vec(L, op, g, "weight", C, x); bn_vec(L, op, sm, "save_mean", C, x); bn_vec(L, op, si, "save_invstd", C, x);
    int64_t c64 = C;
    OLTensor *dx = ol_pushtensor_empty(L, x->ndim, x->shape);
    OLTensor *dg = ol_pushtensor_empty(L, 1, &c64);
    OLTensor *db = ol_pushtensor_empty(L, 1, &c64);
    bn_status(L, op, ol_batch_norm_backward_train(N, C, HW, ol_data(x), ol_data(dy), g ? ol_data(g) : NULL,
                                                  ol_data(sm), ol_data(si), ol_data(dx), ol_data(dg), ol_data(db)), x);
    return 3;
}

/* batch_norm_eval(x, gamma, beta, running_mean, running_var, eps) -> y */
static int batch_norm_eval(lua_State *L)
{
    const char *op = "batch_norm (eval)";
    OLTensor *x = contig(L, 1), *g = opt_contig(L, 2), *b = opt_contig(L, 3);
    OLTensor *rm = contig(L, 4), *rv = contig(L, 5);
    float eps = (float)luaL_optnumber(L, 6, 1e-5);
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    bn_vec(L, op, g, "weight", C, x); bn_vec(L, op, b, "bias", C, x);
    bn_vec(L, op, rm, "running_mean", C, x); bn_vec(L, op, rv, "running_var", C, x);
    OLTensor *y = ol_pushtensor_empty(L, x->ndim, x->shape);
    bn_status(L, op, ol_batch_norm_forward_eval(N, C, HW, ol_data(x), g ? ol_data(g) : NULL, b ? ol_data(b) : NULL,
                                                eps, ol_data(rm), ol_data(rv), ol_data(y)), x);
    return 1;
}

/* batch_norm_eval_backward(x, dy, gamma, running_mean, running_var, eps) -> dx, dgamma, dbeta */
static int batch_norm_eval_backward(lua_State *L)
{
    const char *op = "batch_norm (eval) backward";
    OLTensor *x = contig(L, 1), *dy = contig(L, 2), *g = opt_contig(L, 3);
    OLTensor *rm = contig(L, 4), *rv = contig(L, 5);
    float eps = (float)luaL_optnumber(L, 6, 1e-5);
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    same_shape(L, op, x, "x", dy, "dy");
    bn_vec(L, op, g, "weight", C, x); bn_vec(L, op, rm, "running_mean", C, x); bn_vec(L, op, rv, "running_var", C, x);
    int64_t c64 = C;
    OLTensor *dx = ol_pushtensor_empty(L, x->ndim, x->shape);
    OLTensor *dg = ol_pushtensor_empty(L, 1, &c64);
    OLTensor *db = ol_pushtensor_empty(L, 1, &c64);
    bn_status(L, op, ol_batch_norm_backward_eval(N, C, HW, ol_data(x), ol_data(dy), g ? ol_data(g) : NULL, eps,
                                                 ol_data(rm), ol_data(rv), ol_data(dx), ol_data(dg), ol_data(db)), x);
    return 3;
}

/* ---- dropout and initializers ----------------------------------------- */

static uint64_t u64_arg(lua_State *L, int idx, const char *op, const char *what)
{
    if (!lua_isinteger(L, idx)) ol_error(L, "%s: %s must be an integer, got %s", op, what, luaL_typename(L, idx));
    return (uint64_t)lua_tointeger(L, idx);
}

/* dropout_forward(x, p, key, stream) -> y, mask: mask = ol_rng_dropout_mask(key, stream)
 * (0 or 1/(1-p), inverted dropout), y = x * mask. The mask depends only on
 * (key, stream, shape): reruns and thread counts give the same one. */
static int dropout_forward(lua_State *L)
{
    OLTensor *x = contig(L, 1);
    double p = luaL_checknumber(L, 2);
    if (!(p >= 0 && p < 1)) ol_error(L, "dropout: rate must be in [0, 1), got %g", p);
    uint64_t key = u64_arg(L, 3, "dropout", "key"), stream = u64_arg(L, 4, "dropout", "stream");
    size_t n = (size_t)ol_numel(x);
    OLTensor *y = ol_pushtensor_empty(L, x->ndim, x->shape);
    OLTensor *m = ol_pushtensor_empty(L, x->ndim, x->shape);
    float *mp = ol_data(m), *yp = ol_data(y);
    const float *xp = ol_data(x);
    ol_rng_dropout_mask(key, stream, (float)p, mp, n);
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) yp[i] = xp[i] * mp[i];
    return 2;
}

/* truncated_normal(shape, key, stream, std) -> tensor: N(0, std^2) redrawn
 * outside two standard deviations (Keras's TruncatedNormal). Redraws for
 * element i use counter (stream ^ round << 56, i), so the result depends only
 * on (key, stream), never on the thread count. */
static int truncated_normal(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t shape[OL_MAXDIM];
    int nd = (int)lua_rawlen(L, 1);
    if (nd > OL_MAXDIM) ol_error(L, "truncated_normal: at most %d dimensions", OL_MAXDIM);
    for (int i = 0; i < nd; i++) {
        lua_rawgeti(L, 1, i + 1);
        shape[i] = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    uint64_t key = u64_arg(L, 2, "truncated_normal", "key"), stream = u64_arg(L, 3, "truncated_normal", "stream");
    float std = (float)luaL_checknumber(L, 4);
    OLTensor *t = ol_pushtensor_empty(L, nd, shape);
    size_t n = (size_t)ol_numel(t);
    float *o = ol_data(t);
    ol_rng_normal(key, stream, 0.0f, 1.0f, o, n);
    #pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        float z = o[i];
        for (uint64_t round = 1; fabsf(z) > 2.0f; round++) {
            uint32_t r[4];
            ol_philox4x32(key, stream ^ (round << 56), i, r);
            double u1 = ((double)r[0] + 1.0) / 4294967296.0, u2 = (double)r[1] / 4294967296.0;
            z = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
        o[i] = z * std;
    }
    return 1;
}

/* ---- registration ----------------------------------------------------- */


static const luaL_Reg nn_funcs[] = {
    {"cross_entropy_forward", cross_entropy_forward}, {"cross_entropy_backward", cross_entropy_backward},
    {"accuracy", accuracy},
    {"mse_forward", mse_forward}, {"mse_backward", mse_backward},
    {"binary_cross_entropy_forward", bce_forward}, {"binary_cross_entropy_backward", bce_backward},
    {"batch_norm_train", batch_norm_train}, {"batch_norm_train_backward", batch_norm_train_backward},
    {"batch_norm_eval", batch_norm_eval}, {"batch_norm_eval_backward", batch_norm_eval_backward},
    {"dropout_forward", dropout_forward}, {"truncated_normal", truncated_normal},
    {NULL, NULL}
};

void ol_open_nn(lua_State *L)
{
    lua_newtable(L);
    luaL_setfuncs(L, nn_funcs, 0);
    for (int a = 0; a < (int)(sizeof act_names / sizeof act_names[0]); a++) {
        char name[40];
        lua_pushinteger(L, a);
        lua_pushcclosure(L, act_forward, 1);
        snprintf(name, sizeof name, "%s_forward", act_names[a]);
        lua_setfield(L, -2, name);
        lua_pushinteger(L, a);
        lua_pushcclosure(L, act_backward, 1);
        snprintf(name, sizeof name, "%s_backward", act_names[a]);
        lua_setfield(L, -2, name);
    }
    lua_setfield(L, -2, "nn");
}
