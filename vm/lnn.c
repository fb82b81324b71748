/* Lua bindings of the layer kernels (kernels/act.h, loss.h, norm.h, rng.h,
 * linear.h, conv.h, pool.h): forward and backward of every op, as C.nn.*.
 * stdlib/nn.lua records them on the autograd tape; nothing here does.
 *
 * Every binding checks ranks and shapes before calling a kernel and names
 * the op and the shapes in its error (argument checks: lcheck.h). Inputs
 * that are not contiguous are copied (ol_checkcontig); outputs come from ol_pushtensor_empty, which reuses
 * cached blocks, since kernels overwrite every element. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "lcheck.h"
#include "par.h"
#include "act.h"
#include "loss.h"
#include "norm.h"
#include "rng.h"
#include "linear.h"
#include "conv.h"
#include "pool.h"

/* ---- argument helpers ------------------------------------------------- */

static const char *shp(const OLTensor *t, char *buf) { return ol_shapestr(t, buf, 160); }

static int to_int(lua_State *L, int64_t v, const char *op, const OLTensor *t)
{
    char s[160];
    if (v > INT32_MAX) ol_error(L, "%s: tensor of shape %s is too large for this kernel", op, shp(t, s));
    return (int)v;
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
    OLTensor *x = ol_checkcontig(L, 1);
    OLTensor *y = ol_pushtensor_empty(L, x->ndim, x->shape);
    size_t n = (size_t)ol_numel(x);
    const float *xp = ol_data(x);
    float *yp = ol_data(y);
    int rows, cols;
    switch (a) {
    case A_RELU: ol_relu_forward(n, xp, yp); break;
    case A_LEAKY: ol_leaky_relu_forward(n, xp, yp, (float)ol_optnum(L, 2, 0.01, "leaky_relu", "negative_slope")); break;
    case A_ELU: ol_elu_forward(n, xp, yp, (float)ol_optnum(L, 2, 1.0, "elu", "alpha")); break;
    case A_TANH: ol_tanh_forward(n, xp, yp); break;
    case A_SIGMOID: ol_sigmoid_forward(n, xp, yp); break;
    case A_GELU: ol_gelu_forward(n, xp, yp, (int)ol_optrange(L, 2, OL_GELU_NONE, 0, 1, "gelu", "approximate")); break;
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
    OLTensor *s = ol_checkcontig(L, 1), *dy = ol_checkcontig(L, 2);
    char name[40];
    snprintf(name, sizeof name, "%s backward", act_names[a]);
    ol_checksameshape(L, name, s, (a == A_TANH || a == A_SIGMOID || a >= A_SOFTMAX) ? "y" : "x", dy, "dy");
    OLTensor *dx = ol_pushtensor_empty(L, s->ndim, s->shape);
    size_t n = (size_t)ol_numel(s);
    const float *sp = ol_data(s), *g = ol_data(dy);
    float *d = ol_data(dx);
    int rows, cols;
    switch (a) {
    case A_RELU: ol_relu_backward(n, sp, g, d); break;
    case A_LEAKY: ol_leaky_relu_backward(n, sp, g, d, (float)ol_optnum(L, 3, 0.01, name, "negative_slope")); break;
    case A_ELU: ol_elu_backward(n, sp, g, d, (float)ol_optnum(L, 3, 1.0, name, "alpha")); break;
    case A_TANH: ol_tanh_backward(n, sp, g, d); break;
    case A_SIGMOID: ol_sigmoid_backward(n, sp, g, d); break;
    case A_GELU: ol_gelu_backward(n, sp, g, d, (int)ol_optrange(L, 3, OL_GELU_NONE, 0, 1, name, "approximate")); break;
    case A_SOFTMAX: rows_cols(L, name, s, &rows, &cols); ol_softmax_backward(rows, cols, sp, g, d); break;
    case A_LOG_SOFTMAX: rows_cols(L, name, s, &rows, &cols); ol_log_softmax_backward(rows, cols, sp, g, d); break;
    }
    return 1;
}

/* ---- losses ----------------------------------------------------------- */

/* cross_entropy_forward(logits [n, c], labels [n] | targets [n, c]) -> loss (0-d tensor) */
static int cross_entropy_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1), *y = ol_checkcontig(L, 2);
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
    OLTensor *x = ol_checkcontig(L, 1), *y = ol_checkcontig(L, 2);
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
    OLTensor *x = ol_checkcontig(L, 1), *y = ol_checkcontig(L, 2);
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

/* mse_forward(pred, target) -> loss; mse_backward(pred, target, gscale) -> dpred */
static int mse_forward(lua_State *L)
{
    OLTensor *p = ol_checkcontig(L, 1), *t = ol_checkcontig(L, 2);
    ol_checksameshape(L, "mse", p, "input", t, "target");
    push_scalar(L, ol_mse_forward((size_t)ol_numel(p), ol_data(p), ol_data(t)));
    return 1;
}

static int mse_backward(lua_State *L)
{
    OLTensor *p = ol_checkcontig(L, 1), *t = ol_checkcontig(L, 2);
    ol_checksameshape(L, "mse backward", p, "input", t, "target");
    float scale = scale_arg(L, 3);
    OLTensor *d = ol_pushtensor_empty(L, p->ndim, p->shape);
    ol_mse_backward((size_t)ol_numel(p), ol_data(p), ol_data(t), scale, ol_data(d));
    return 1;
}

/* binary_cross_entropy (with logits): forward(logits, targets) -> loss; backward(logits, targets, gscale) -> dlogits */
static int bce_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1), *t = ol_checkcontig(L, 2);
    ol_checksameshape(L, "binary_cross_entropy", x, "input", t, "target");
    push_scalar(L, ol_binary_cross_entropy_with_logits_forward((size_t)ol_numel(x), ol_data(x), ol_data(t)));
    return 1;
}

static int bce_backward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1), *t = ol_checkcontig(L, 2);
    ol_checksameshape(L, "binary_cross_entropy backward", x, "input", t, "target");
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
    OLTensor *x = ol_checkcontig(L, 1), *g = ol_optcontig(L, 2), *b = ol_optcontig(L, 3);
    OLTensor *rm = lua_isnoneornil(L, 4) ? NULL : ol_checkinplace(L, 4, op, "running_mean");
    OLTensor *rv = lua_isnoneornil(L, 5) ? NULL : ol_checkinplace(L, 5, op, "running_var");
    float eps = (float)ol_optnum(L, 6, 1e-5, op, "eps"), mom = (float)ol_optnum(L, 7, 0.1, op, "momentum");
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    bn_vec(L, op, g, "weight", C, x); bn_vec(L, op, b, "bias", C, x);
    bn_vec(L, op, rm, "running_mean", C, x); bn_vec(L, op, rv, "running_var", C, x);
    if ((rm == NULL) != (rv == NULL)) ol_error(L, "%s: give both running_mean and running_var or neither", op);
    if (rm) { ol_written(rm); ol_written(rv); }
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
    OLTensor *x = ol_checkcontig(L, 1), *dy = ol_checkcontig(L, 2), *g = ol_optcontig(L, 3);
    OLTensor *sm = ol_checkcontig(L, 4), *si = ol_checkcontig(L, 5);
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    ol_checksameshape(L, op, x, "x", dy, "dy");
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
    OLTensor *x = ol_checkcontig(L, 1), *g = ol_optcontig(L, 2), *b = ol_optcontig(L, 3);
    OLTensor *rm = ol_checkcontig(L, 4), *rv = ol_checkcontig(L, 5);
    float eps = (float)ol_optnum(L, 6, 1e-5, op, "eps");
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
    OLTensor *x = ol_checkcontig(L, 1), *dy = ol_checkcontig(L, 2), *g = ol_optcontig(L, 3);
    OLTensor *rm = ol_checkcontig(L, 4), *rv = ol_checkcontig(L, 5);
    float eps = (float)ol_optnum(L, 6, 1e-5, op, "eps");
    int N, C, HW;
    bn_dims(L, op, x, &N, &C, &HW);
    ol_checksameshape(L, op, x, "x", dy, "dy");
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

/* A Philox key or stream: any integer, its bits taken as they are. */
static uint64_t u64_arg(lua_State *L, int idx, const char *op, const char *what)
{
    return (uint64_t)ol_checkrange(L, idx, INT64_MIN, INT64_MAX, op, what);
}

/* dropout_forward(x, p, key, stream [, offset]) -> y, mask: the decisions of
 * ol_rng_dropout_mask(key, stream) from element `offset` on (0: the start), kept as bits in a
 * userdata, y = x * (0 or 1/(1-p)). The mask depends only on (key, stream, index), never on
 * the thread count, so a shard of a batch given its offset draws the batch's mask rows.
 * dropout_backward(dy, mask) -> dx = dy * mask. */
#define DROPOUT_MASK "optlab.DropoutMask"
typedef struct { int64_t n; float p; uint64_t bits[]; } dropout_mask;

static int dropout_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1);
    double p = luaL_checknumber(L, 2);
    if (!(p >= 0 && p < 1)) ol_error(L, "dropout: rate must be in [0, 1), got %g", p);
    uint64_t key = u64_arg(L, 3, "dropout", "key"), stream = u64_arg(L, 4, "dropout", "stream");
    uint64_t offset = (uint64_t)ol_optrange(L, 5, 0, 0, INT64_MAX / 2, "dropout", "offset");
    int64_t n = ol_numel(x);
    OLTensor *y = ol_pushtensor_empty(L, x->ndim, x->shape);
    dropout_mask *m = lua_newuserdatauv(L, sizeof(dropout_mask) + (size_t)(n + 63) / 64 * sizeof(uint64_t), 0);
    m->n = n;
    m->p = (float)p;
    luaL_setmetatable(L, DROPOUT_MASK);
    ol_dropout_forward(key, stream, m->p, offset, ol_data(x), ol_data(y), m->bits, (size_t)n);
    return 2;
}

static int dropout_backward(lua_State *L)
{
    OLTensor *dy = ol_checkcontig(L, 1);
    dropout_mask *m = luaL_checkudata(L, 2, DROPOUT_MASK);
    if (ol_numel(dy) != m->n)
        ol_error(L, "dropout backward: dy has %lld elements, the mask %lld", (long long)ol_numel(dy), (long long)m->n);
    OLTensor *dx = ol_pushtensor_empty(L, dy->ndim, dy->shape);
    ol_dropout_backward(m->p, m->bits, ol_data(dy), ol_data(dx), (size_t)m->n);
    return 1;
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
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
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

/* ---- linear ----------------------------------------------------------- */

static void linear_dims(lua_State *L, const char *op, const OLTensor *x, const OLTensor *w, const OLTensor *b,
                        int *n, int *in, int *out)
{
    char s1[160], s2[160], s3[160];
    if (x->ndim != 2) ol_error(L, "%s: input must be [batch, in_features], got %s", op, shp(x, s1));
    if (w->ndim != 2 || w->shape[1] != x->shape[1])
        ol_error(L, "%s: weight must be [out_features, %lld] for input %s, got %s", op,
                 (long long)x->shape[1], shp(x, s1), shp(w, s2));
    if (b && !(b->ndim == 1 && b->shape[0] == w->shape[0]))
        ol_error(L, "%s: bias must be [%lld] for weight %s, got %s", op, (long long)w->shape[0], shp(w, s2), shp(b, s3));
    *n = to_int(L, x->shape[0], op, x);
    *in = to_int(L, x->shape[1], op, x);
    *out = to_int(L, w->shape[0], op, w);
}

/* linear_forward(x [n, in], w [out, in], b [out] | nil, relu) -> y = x W^T + b (then ReLU) */
static int linear_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1), *w = ol_checkcontig(L, 2), *b = ol_optcontig(L, 3);
    int relu = lua_toboolean(L, 4), n, in, out;
    linear_dims(L, "linear", x, w, b, &n, &in, &out);
    int64_t ys[2] = {n, out};
    OLTensor *y = ol_pushtensor_empty(L, 2, ys);
    ol_linear_forward(n, in, out, ol_data(x), ol_data(w), b ? ol_data(b) : NULL, relu, ol_data(y));
    return 1;
}

/* dy, masked by the fused ReLU's output y when y is given (a copy: upstream gradients are never modified) */
static OLTensor *masked_grad(lua_State *L, int dy_idx, int y_idx, const char *op)
{
    OLTensor *dy = ol_checkcontig(L, dy_idx);
    if (lua_isnoneornil(L, y_idx)) return dy;
    OLTensor *y = ol_checkcontig(L, y_idx);
    ol_checksameshape(L, op, y, "y", dy, "dy");
    OLTensor *g = ol_pushtensor_empty(L, dy->ndim, dy->shape);
    ol_relu_backward((size_t)ol_numel(dy), ol_data(y), ol_data(dy), ol_data(g));
    lua_replace(L, dy_idx);
    return g;
}

/* linear_backward(x, w, dy, y_relu | nil, want_dx, want_db) -> dx | nil, dw, db | nil */
static int linear_backward(lua_State *L)
{
    const char *op = "linear backward";
    OLTensor *x = ol_checkcontig(L, 1), *w = ol_checkcontig(L, 2);
    int n, in, out;
    linear_dims(L, op, x, w, NULL, &n, &in, &out);
    OLTensor *dy = masked_grad(L, 3, 4, op);
    char s1[160], s2[160];
    if (!(dy->ndim == 2 && dy->shape[0] == n && dy->shape[1] == out))
        ol_error(L, "%s: dy must be [%d, %d], got %s (input %s)", op, n, out, shp(dy, s1), shp(x, s2));
    int want_dx = lua_toboolean(L, 5), want_db = lua_toboolean(L, 6);
    lua_settop(L, 4);
    OLTensor *dx = NULL, *db = NULL;
    if (want_dx) dx = ol_pushtensor_empty(L, 2, x->shape); else lua_pushnil(L);
    OLTensor *dw = ol_pushtensor_empty(L, 2, w->shape);
    int64_t bs = out;
    if (want_db) db = ol_pushtensor_empty(L, 1, &bs); else lua_pushnil(L);
    ol_linear_backward(n, in, out, ol_data(x), ol_data(w), ol_data(dy), dx ? ol_data(dx) : NULL, ol_data(dw),
                       db ? ol_data(db) : NULL);
    return 3;
}

/* ---- conv2d ----------------------------------------------------------- */

/* Sizes, strides, paddings: ints for the kernels. */
static int int_arg(lua_State *L, int idx, const char *op, const char *what)
{
    return (int)ol_checkrange(L, idx, 0, INT32_MAX, op, what);
}

typedef struct { int top, bottom, left, right; } pads;

/* Padding argument: "valid", "same" (Keras: output = ceil(in / stride); an odd
 * total puts the extra row/column at the bottom/right), a number, or {ph, pw}. */
static pads resolve_pads(lua_State *L, int idx, int h, int w, int r, int s, int sh, int sw, int dh, int dw)
{
    pads p = {0, 0, 0, 0};
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *m = lua_tostring(L, idx);
        if (strcmp(m, "valid") == 0) return p;
        if (strcmp(m, "same") != 0) ol_error(L, "conv2d: padding must be 'valid', 'same', a number or {ph, pw}, got '%s'", m);
        int oh = (h + sh - 1) / sh, ow = (w + sw - 1) / sw;
        int th = (oh - 1) * sh + dh * (r - 1) + 1 - h, tw = (ow - 1) * sw + dw * (s - 1) + 1 - w;
        if (th < 0) th = 0;
        if (tw < 0) tw = 0;
        p.top = th / 2; p.bottom = th - p.top; p.left = tw / 2; p.right = tw - p.left;
        return p;
    }
    if (lua_isinteger(L, idx)) {
        p.top = p.bottom = p.left = p.right = int_arg(L, idx, "conv2d", "padding");
    } else if (lua_istable(L, idx) && lua_rawlen(L, idx) == 2) {
        lua_rawgeti(L, idx, 1); lua_rawgeti(L, idx, 2);
        if (!lua_isinteger(L, -2) || !lua_isinteger(L, -1)) ol_error(L, "conv2d: padding {ph, pw} must hold integers");
        p.top = p.bottom = int_arg(L, -2, "conv2d", "padding");   /* no silent truncation to int */
        p.left = p.right = int_arg(L, -1, "conv2d", "padding");
        lua_pop(L, 2);
    } else ol_error(L, "conv2d: padding must be 'valid', 'same', a number or {ph, pw}, got %s", luaL_typename(L, idx));
    if (p.top < 0 || p.left < 0) ol_error(L, "conv2d: padding must be >= 0, got %d, %d", p.top, p.left);
    return p;
}

/* Checks x [n,c,h,w] and w [k,c,r,s] and fills the kernel's shape. Arguments at
 * conv_at.. are stride_h, stride_w, padding, dil_h, dil_w. When the padding is
 * asymmetric, sh describes a copy of x padded explicitly (*pd tells how). */
static void conv_setup(lua_State *L, const char *op, const OLTensor *x, const OLTensor *w, const OLTensor *b,
                       int conv_at, ol_conv2d_shape *sh, pads *pd, int *explicit_pad)
{
    char s1[160], s2[160], s3[160];
    if (x->ndim != 4) ol_error(L, "%s: input must be [batch, channels, height, width] (NCHW), got %s", op, shp(x, s1));
    if (w->ndim != 4) ol_error(L, "%s: weight must be [out_channels, in_channels, kh, kw], got %s", op, shp(w, s2));
    if (w->shape[1] != x->shape[1])
        ol_error(L, "%s: weight %s expects %lld input channels, input %s has %lld", op, shp(w, s2),
                 (long long)w->shape[1], shp(x, s1), (long long)x->shape[1]);
    if (b && !(b->ndim == 1 && b->shape[0] == w->shape[0]))
        ol_error(L, "%s: bias must be [%lld] for weight %s, got %s", op, (long long)w->shape[0], shp(w, s2), shp(b, s3));
    int n = to_int(L, x->shape[0], op, x), c = to_int(L, x->shape[1], op, x);
    int h = to_int(L, x->shape[2], op, x), wd = to_int(L, x->shape[3], op, x);
    int k = to_int(L, w->shape[0], op, w), r = to_int(L, w->shape[2], op, w), s = to_int(L, w->shape[3], op, w);
    int sth = int_arg(L, conv_at, op, "stride"), stw = int_arg(L, conv_at + 1, op, "stride");
    int dh = int_arg(L, conv_at + 3, op, "dilation"), dw = int_arg(L, conv_at + 4, op, "dilation");
    if (sth < 1 || stw < 1) ol_error(L, "%s: stride must be >= 1, got %d, %d", op, sth, stw);
    if (dh < 1 || dw < 1) ol_error(L, "%s: dilation must be >= 1, got %d, %d", op, dh, dw);
    *pd = resolve_pads(L, conv_at + 2, h, wd, r, s, sth, stw, dh, dw);
    *explicit_pad = pd->top != pd->bottom || pd->left != pd->right;
    int rc = *explicit_pad
        ? ol_conv2d_shape_init(sh, n, c, h + pd->top + pd->bottom, wd + pd->left + pd->right, k, r, s, sth, stw, 0, 0, dh, dw)
        : ol_conv2d_shape_init(sh, n, c, h, wd, k, r, s, sth, stw, pd->top, pd->left, dh, dw);
    if (rc) ol_error(L, "%s: %s (input %s, weight %s, stride %d,%d, padding %d,%d, dilation %d,%d)", op,
                     ol_conv2d_strerror(rc), shp(x, s1), shp(w, s2), sth, stw, pd->top, pd->left, dh, dw);
}

/* A zero-padded copy of x [n,c,h,w] (asymmetric "same"), pushed on the stack. */
static OLTensor *pad_copy(lua_State *L, const OLTensor *x, pads pd)
{
    int64_t n = x->shape[0], c = x->shape[1], h = x->shape[2], w = x->shape[3];
    int64_t ps[4] = {n, c, h + pd.top + pd.bottom, w + pd.left + pd.right};
    OLTensor *xp = ol_pushtensor(L, 4, ps);
    const float *src = ol_data(x);
    float *dst = ol_data(xp);
    #pragma omp parallel for schedule(static) if (n * c * h * w > OL_PAR_MIN)
    for (int64_t pl = 0; pl < n * c; pl++)
        for (int64_t i = 0; i < h; i++)
            memcpy(dst + (pl * ps[2] + i + pd.top) * ps[3] + pd.left, src + (pl * h + i) * w, (size_t)w * sizeof(float));
    return xp;
}

static float *workspace(lua_State *L, const ol_conv2d_shape *sh)
{
    int64_t n = (int64_t)ol_conv2d_workspace_floats(sh);
    return ol_data(ol_pushtensor_empty(L, 1, &n));
}

/* The outputs of a conv backward, pushed as dx | nil, dw, db | nil. The kernel writes dxin, the
 * gradient of the input it saw: with explicit padding a padded copy, cropped into dx afterwards
 * (crop_padded); otherwise dx itself. */
typedef struct { OLTensor *dxin, *dx, *dw, *db; } conv_grads;

static conv_grads push_conv_grads(lua_State *L, const OLTensor *x, const OLTensor *w, const ol_conv2d_shape *sh,
                                  int explicit_pad, int want_dx, int want_db)
{
    conv_grads g = {NULL, NULL, NULL, NULL};
    if (want_dx) {
        int64_t ps[4] = {sh->n, sh->c, sh->h, sh->w};
        g.dxin = ol_pushtensor_empty(L, 4, ps);
    }
    if (!want_dx) lua_pushnil(L);
    else if (!explicit_pad) { lua_pushvalue(L, -1); g.dx = g.dxin; }
    else g.dx = ol_pushtensor_empty(L, 4, x->shape);
    g.dw = ol_pushtensor_empty(L, 4, w->shape);
    int64_t bs = sh->k;
    if (want_db) g.db = ol_pushtensor_empty(L, 1, &bs); else lua_pushnil(L);
    return g;
}

/* dx = the padded gradient dxin with the explicit padding cropped off. */
static void crop_padded(const OLTensor *dxin, OLTensor *dx, const ol_conv2d_shape *sh, pads pd)
{
    int64_t h = dx->shape[2], wd = dx->shape[3];
    const float *src = ol_data(dxin);
    float *dst = ol_data(dx);
    for (int64_t pl = 0; pl < (int64_t)sh->n * sh->c; pl++)
        for (int64_t i = 0; i < h; i++)
            memcpy(dst + (pl * h + i) * wd, src + (pl * sh->h + i + pd.top) * sh->w + pd.left, (size_t)wd * sizeof(float));
}

/* conv2d_forward(x, w, b | nil, stride_h, stride_w, padding, dil_h, dil_w, relu) -> y */
static int conv2d_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1), *w = ol_checkcontig(L, 2), *b = ol_optcontig(L, 3);
    int relu = lua_toboolean(L, 9), explicit_pad;
    ol_conv2d_shape sh;
    pads pd;
    conv_setup(L, "conv2d", x, w, b, 4, &sh, &pd, &explicit_pad);
    lua_settop(L, 9);
    const OLTensor *xin = explicit_pad ? pad_copy(L, x, pd) : x;
    float *ws = workspace(L, &sh);
    int64_t ys[4] = {sh.n, sh.k, sh.p, sh.q};
    OLTensor *y = ol_pushtensor_empty(L, 4, ys);
    ol_conv2d_forward(&sh, ol_data(xin), ol_data(w), b ? ol_data(b) : NULL, relu, ol_data(y), ws);
    return 1;
}

/* conv2d_backward(x, w, dy, y_relu | nil, stride_h, stride_w, padding, dil_h, dil_w, want_dx, want_db)
 *   -> dx | nil, dw, db | nil */
static int conv2d_backward(lua_State *L)
{
    const char *op = "conv2d backward";
    OLTensor *x = ol_checkcontig(L, 1), *w = ol_checkcontig(L, 2);
    int explicit_pad;
    ol_conv2d_shape sh;
    pads pd;
    conv_setup(L, op, x, w, NULL, 5, &sh, &pd, &explicit_pad);
    OLTensor *dy = masked_grad(L, 3, 4, op);
    char s1[160];
    if (!(dy->ndim == 4 && dy->shape[0] == sh.n && dy->shape[1] == sh.k && dy->shape[2] == sh.p && dy->shape[3] == sh.q))
        ol_error(L, "%s: dy must be [%d, %d, %d, %d], got %s", op, sh.n, sh.k, sh.p, sh.q, shp(dy, s1));
    int want_dx = lua_toboolean(L, 10), want_db = lua_toboolean(L, 11);
    lua_settop(L, 11);
    const OLTensor *xin = explicit_pad ? pad_copy(L, x, pd) : x;
    float *ws = workspace(L, &sh);
    conv_grads g = push_conv_grads(L, x, w, &sh, explicit_pad, want_dx, want_db);
    ol_conv2d_backward(&sh, ol_data(xin), ol_data(w), ol_data(dy), g.dxin ? ol_data(g.dxin) : NULL,
                       ol_data(g.dw), g.db ? ol_data(g.db) : NULL, ws);
    if (want_dx && explicit_pad) crop_padded(g.dxin, g.dx, &sh, pd);
    return 3;
}

/* ---- pooling ---------------------------------------------------------- */

#define POOL_INDEX "optlab.PoolIndex"
typedef struct { int64_t n; int32_t idx[]; } pool_index;

/* Arguments at 2.. (forward) or at at.. : kh, kw, stride_h, stride_w, pad_h, pad_w. */
static void pool_setup(lua_State *L, const char *op, const OLTensor *x, int at, ol_pool2d_shape *sh)
{
    char s1[160];
    if (x->ndim != 4) ol_error(L, "%s: input must be [batch, channels, height, width] (NCHW), got %s", op, shp(x, s1));
    int kh = int_arg(L, at, op, "kernel size"), kw = int_arg(L, at + 1, op, "kernel size");
    int sth = int_arg(L, at + 2, op, "stride"), stw = int_arg(L, at + 3, op, "stride");
    int ph = int_arg(L, at + 4, op, "padding"), pw = int_arg(L, at + 5, op, "padding");
    int rc = ol_pool2d_shape_init(sh, to_int(L, x->shape[0], op, x), to_int(L, x->shape[1], op, x),
                                  to_int(L, x->shape[2], op, x), to_int(L, x->shape[3], op, x),
                                  kh, kw, sth, stw, ph, pw);
    if (rc) ol_error(L, "%s: %s (input %s, kernel %dx%d, stride %d,%d, padding %d,%d)", op, ol_pool2d_strerror(rc),
                     shp(x, s1), kh, kw, sth, stw, ph, pw);
}

static void pool_dy(lua_State *L, const char *op, const OLTensor *dy, const ol_pool2d_shape *sh)
{
    char s1[160];
    if (!(dy->ndim == 4 && dy->shape[0] == sh->n && dy->shape[1] == sh->c && dy->shape[2] == sh->p && dy->shape[3] == sh->q))
        ol_error(L, "%s: dy must be [%d, %d, %d, %d], got %s", op, sh->n, sh->c, sh->p, sh->q, shp(dy, s1));
}

/* max_pool2d_forward(x, kh, kw, sh, sw, ph, pw) -> y, argmax indices (opaque, for backward) */
static int max_pool2d_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1);
    ol_pool2d_shape sh;
    pool_setup(L, "max_pool2d", x, 2, &sh);
    int64_t ys[4] = {sh.n, sh.c, sh.p, sh.q};
    OLTensor *y = ol_pushtensor_empty(L, 4, ys);
    int64_t n = ol_numel(y);
    pool_index *pi = lua_newuserdatauv(L, sizeof(pool_index) + (size_t)n * sizeof(int32_t), 0);
    pi->n = n;
    luaL_setmetatable(L, POOL_INDEX);
    ol_maxpool2d_forward(&sh, ol_data(x), ol_data(y), pi->idx);
    return 2;
}

/* max_pool2d_backward(x, dy, indices, kh, kw, sh, sw, ph, pw) -> dx (x gives the shape) */
static int max_pool2d_backward(lua_State *L)
{
    const char *op = "max_pool2d backward";
    OLTensor *x = ol_checktensor(L, 1), *dy = ol_checkcontig(L, 2);
    pool_index *pi = luaL_checkudata(L, 3, POOL_INDEX);
    ol_pool2d_shape sh;
    pool_setup(L, op, x, 4, &sh);
    pool_dy(L, op, dy, &sh);
    if (pi->n != ol_numel(dy)) ol_error(L, "%s: the indices come from a different forward", op);
    OLTensor *dx = ol_pushtensor_empty(L, 4, x->shape);
    ol_maxpool2d_backward(&sh, ol_data(dy), pi->idx, ol_data(dx));
    return 1;
}

/* avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw) -> y */
static int avg_pool2d_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1);
    ol_pool2d_shape sh;
    pool_setup(L, "avg_pool2d", x, 2, &sh);
    int64_t ys[4] = {sh.n, sh.c, sh.p, sh.q};
    OLTensor *y = ol_pushtensor_empty(L, 4, ys);
    ol_avgpool2d_forward(&sh, ol_data(x), ol_data(y));
    return 1;
}

/* avg_pool2d_backward(x, dy, kh, kw, sh, sw, ph, pw) -> dx (x gives the shape) */
static int avg_pool2d_backward(lua_State *L)
{
    const char *op = "avg_pool2d backward";
    OLTensor *x = ol_checktensor(L, 1), *dy = ol_checkcontig(L, 2);
    ol_pool2d_shape sh;
    pool_setup(L, op, x, 3, &sh);
    pool_dy(L, op, dy, &sh);
    OLTensor *dx = ol_pushtensor_empty(L, 4, x->shape);
    ol_avgpool2d_backward(&sh, ol_data(dy), ol_data(dx));
    return 1;
}

/* ---- conv2d + max-pool, fused ------------------------------------------ */

#define CONV_POOL_ARG "optlab.ConvPoolArg"
typedef struct { int64_t n; uint8_t arg[]; } conv_pool_arg;

static int pool_arg(lua_State *L, int idx, const ol_conv2d_shape *sh)
{
    int pool = int_arg(L, idx, "conv2d_max_pool2d", "pool size");
    if (!ol_conv2d_maxpool_check(sh, pool))
        ol_error(L, "conv2d_max_pool2d: pool size %d must be 2..16 and fit the %dx%d conv output", pool, sh->p, sh->q);
    return pool;
}

/* conv2d_maxpool_forward(x, w, b | nil, stride_h, stride_w, padding, dil_h, dil_w, relu, pool)
 *   -> y, arg: max_pool2d(conv2d(x, w, b) (+ReLU), pool) and the argmax offsets for backward */
static int conv2d_maxpool_forward(lua_State *L)
{
    OLTensor *x = ol_checkcontig(L, 1), *w = ol_checkcontig(L, 2), *b = ol_optcontig(L, 3);
    int relu = lua_toboolean(L, 9), explicit_pad;
    ol_conv2d_shape sh;
    pads pd;
    conv_setup(L, "conv2d_max_pool2d", x, w, b, 4, &sh, &pd, &explicit_pad);
    int pool = pool_arg(L, 10, &sh);
    lua_settop(L, 10);
    const OLTensor *xin = explicit_pad ? pad_copy(L, x, pd) : x;
    float *ws = workspace(L, &sh);
    int64_t ys[4] = {sh.n, sh.k, sh.p / pool, sh.q / pool};
    OLTensor *y = ol_pushtensor_empty(L, 4, ys);
    int64_t n = ol_numel(y);
    conv_pool_arg *a = lua_newuserdatauv(L, sizeof(conv_pool_arg) + (size_t)n, 0);
    a->n = n;
    luaL_setmetatable(L, CONV_POOL_ARG);
    ol_conv2d_maxpool_forward(&sh, pool, ol_data(xin), ol_data(w), b ? ol_data(b) : NULL, relu, ol_data(y),
                              a->arg, ws);
    return 2;
}

/* conv2d_maxpool_backward(x, w, dy, y, arg, stride_h, stride_w, padding, dil_h, dil_w, relu, pool,
 *   want_dx, want_db) -> dx | nil, dw, db | nil */
static int conv2d_maxpool_backward(lua_State *L)
{
    const char *op = "conv2d_max_pool2d backward";
    OLTensor *x = ol_checkcontig(L, 1), *w = ol_checkcontig(L, 2), *dy = ol_checkcontig(L, 3), *y = ol_checkcontig(L, 4);
    conv_pool_arg *a = luaL_checkudata(L, 5, CONV_POOL_ARG);
    int explicit_pad;
    ol_conv2d_shape sh;
    pads pd;
    conv_setup(L, op, x, w, NULL, 6, &sh, &pd, &explicit_pad);
    int relu = lua_toboolean(L, 11), pool = pool_arg(L, 12, &sh);
    int want_dx = lua_toboolean(L, 13), want_db = lua_toboolean(L, 14);
    char s1[160];
    int64_t n = (int64_t)sh.n * sh.k * (sh.p / pool) * (sh.q / pool);
    if (!(dy->ndim == 4 && dy->shape[0] == sh.n && dy->shape[1] == sh.k && dy->shape[2] == sh.p / pool &&
          dy->shape[3] == sh.q / pool))
        ol_error(L, "%s: dy must be [%d, %d, %d, %d], got %s", op, sh.n, sh.k, sh.p / pool, sh.q / pool, shp(dy, s1));
    ol_checksameshape(L, op, dy, "dy", y, "y");
    if (a->n != n) ol_error(L, "%s: the indices come from a different forward", op);
    lua_settop(L, 14);
    const OLTensor *xin = explicit_pad ? pad_copy(L, x, pd) : x;
    float *ws = workspace(L, &sh);
    conv_grads g = push_conv_grads(L, x, w, &sh, explicit_pad, want_dx, want_db);
    ol_conv2d_maxpool_backward(&sh, pool, ol_data(xin), ol_data(w), ol_data(y), a->arg, relu, ol_data(dy),
                               g.dxin ? ol_data(g.dxin) : NULL, ol_data(g.dw), g.db ? ol_data(g.db) : NULL, ws);
    if (want_dx && explicit_pad) crop_padded(g.dxin, g.dx, &sh, pd);
    return 3;
}

/* ---- registration ----------------------------------------------------- */


static const luaL_Reg nn_funcs[] = {
    {"linear_forward", linear_forward}, {"linear_backward", linear_backward},
    {"conv2d_forward", conv2d_forward}, {"conv2d_backward", conv2d_backward},
    {"conv2d_maxpool_forward", conv2d_maxpool_forward}, {"conv2d_maxpool_backward", conv2d_maxpool_backward},
    {"max_pool2d_forward", max_pool2d_forward}, {"max_pool2d_backward", max_pool2d_backward},
    {"avg_pool2d_forward", avg_pool2d_forward}, {"avg_pool2d_backward", avg_pool2d_backward},
    {"cross_entropy_forward", cross_entropy_forward}, {"cross_entropy_backward", cross_entropy_backward},
    {"accuracy", accuracy},
    {"mse_forward", mse_forward}, {"mse_backward", mse_backward},
    {"binary_cross_entropy_forward", bce_forward}, {"binary_cross_entropy_backward", bce_backward},
    {"batch_norm_train", batch_norm_train}, {"batch_norm_train_backward", batch_norm_train_backward},
    {"batch_norm_eval", batch_norm_eval}, {"batch_norm_eval_backward", batch_norm_eval_backward},
    {"dropout_forward", dropout_forward}, {"dropout_backward", dropout_backward},
    {"truncated_normal", truncated_normal},
    {NULL, NULL}
};

void ol_open_nn(lua_State *L)
{
    luaL_newmetatable(L, POOL_INDEX);
    lua_pop(L, 1);
    luaL_newmetatable(L, CONV_POOL_ARG);
    lua_pop(L, 1);
    luaL_newmetatable(L, DROPOUT_MASK);
    lua_pop(L, 1);
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
