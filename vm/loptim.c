/* Lua bindings of the optimizer kernels (kernels/optim.h).
 *
 *   h = C.optim_hyper{lr = ..., t = ..., convention = "torch", ...}
 *   C.optim_update(kind, h, label, index, p, g, s1, s2, s3 [, grad_scale])
 *
 * One C call per parameter tensor per step. The binding checks what the
 * kernels cannot: tensor types, a missing gradient, shapes, contiguity, and
 * the state buffers' sizes, and names the optimizer (label) and the field in
 * every error, raised at the user's file:line. */
#include <math.h>
#include "optim.h"
#include "reduce.h"
#include "lcheck.h"

#define OL_HYPER "optlab.OptimHyper"

static const char *const conv_names[] = {"textbook", "keras", "keras3", "torch", NULL};

static double num_field(lua_State *L, int idx, const char *k, double dflt)
{
    double v = dflt;
    if (lua_getfield(L, idx, k) != LUA_TNIL) {
        if (!lua_isnumber(L, -1)) ol_error(L, "optim_hyper: field '%s' must be a number, got %s", k, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static int bool_field(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* C.optim_hyper(table) -> hyper userdata: this step's resolved values. */
static int l_optim_hyper(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    OLOptHyper *h = lua_newuserdatauv(L, sizeof *h, 0);
    *h = ol_optim_hyper_default();
    h->lr = num_field(L, 1, "lr", 0);
    h->weight_decay = num_field(L, 1, "weight_decay", 0);
    h->beta1 = num_field(L, 1, "beta1", h->beta1);
    h->beta2 = num_field(L, 1, "beta2", h->beta2);
    h->eps = num_field(L, 1, "eps", 0);
    h->rho = num_field(L, 1, "rho", h->rho);
    h->etaminus = num_field(L, 1, "etaminus", h->etaminus);
    h->etaplus = num_field(L, 1, "etaplus", h->etaplus);
    h->step_min = num_field(L, 1, "step_min", h->step_min);
    h->step_max = num_field(L, 1, "step_max", h->step_max);
    h->mu_t = num_field(L, 1, "mu_t", 0);
    h->mu_next = num_field(L, 1, "mu_next", 0);
    h->mu_prod = num_field(L, 1, "mu_prod", 0);
    h->l1 = num_field(L, 1, "l1", 0);
    h->l2 = num_field(L, 1, "l2", 0);
    h->l2_shrinkage = num_field(L, 1, "l2_shrinkage", 0);
    h->beta = num_field(L, 1, "beta", 0);
    h->lr_power = num_field(L, 1, "lr_power", -0.5);
    h->lambd = num_field(L, 1, "lambd", 0);
    h->alpha = num_field(L, 1, "alpha", 0);
    h->t0 = num_field(L, 1, "t0", 0);
    h->grad_scale = num_field(L, 1, "grad_scale", 1);
    h->clip_value = num_field(L, 1, "clip_value", INFINITY);
    double t = num_field(L, 1, "t", 1);
    /* t comes from optimizer state, which a checkpoint may carry: a cast of
     * 1e300 to int64 would be undefined, and 2.5 is no step count. */
    if (!ol_double_to_int64(t, &h->t) || h->t < 1 || (double)h->t != t || t > 9007199254740992.0)
        ol_error(L, "optim_hyper: step count t must be a whole number in 1..2^53, got %.17g", t);
    lua_getfield(L, 1, "convention");
    h->convention = lua_isnil(L, -1) ? OL_CONV_TEXTBOOK : luaL_checkoption(L, -1, NULL, conv_names);
    lua_pop(L, 1);
    h->decoupled = bool_field(L, 1, "decoupled");
    luaL_setmetatable(L, OL_HYPER);
    return 1;
}

/* The built-ins with a hand-written kernel; SGD, Adagrad, RMSprop, Adam and
 * AdamW are declarations (stdlib/optim/builtin/, run by loptprog.c). */
static const char *const kinds[] = {"Adamax", "Nadam", "Lion", "Rprop", "Adadelta", "RAdam", "Ftrl", "ASGD", NULL};
enum { K_ADAMAX, K_NADAM, K_LION, K_RPROP, K_ADADELTA, K_RADAM, K_FTRL, K_ASGD };

/* A state buffer at stack index idx: nil (absent) or a contiguous tensor of n elements. */
static float *state_arg(lua_State *L, int idx, int64_t n, const char *label, int pi, int si)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    OLTensor *s = ol_totensor(L, idx);
    if (!s) ol_error(L, "%s: state buffer %d of parameter %d is not a tensor", label, si, pi);
    if (!ol_iscontiguous(s) || ol_numel(s) != n)
        ol_error(L, "%s: state buffer %d of parameter %d has %lld elements (contiguous: %s), expected %lld",
                 label, si, pi, (long long)ol_numel(s), ol_iscontiguous(s) ? "yes" : "no", (long long)n);
    ol_written(s); /* the update writes every state buffer it is given */
    return ol_data(s);
}

/* C.optim_update(kind, hyper, label, index, param, grad, s1, s2 [, grad_scale])
 * grad_scale, when given, replaces hyper's for this tensor: Keras's clipnorm
 * scales each tensor by its own norm. */
static int l_optim_update(lua_State *L)
{
    int kind = luaL_checkoption(L, 1, NULL, kinds);
    OLOptHyper hv = *(OLOptHyper *)luaL_checkudata(L, 2, OL_HYPER), *h = &hv;
    if (!lua_isnoneornil(L, 9)) {
        double s = luaL_checknumber(L, 9);
        if (!(s >= 0 && s <= 1)) ol_error(L, "optim_update: grad_scale must be in [0, 1], got %g", s);
        h->grad_scale = s;
    }
    const char *label = luaL_checkstring(L, 3);
    int pi = (int)luaL_checkinteger(L, 4);
    char a[160], b[160];
    OLTensor *p = ol_totensor(L, 5);
    if (!p) ol_error(L, "%s: parameter %d is not a tensor (got %s)", label, pi, luaL_typename(L, 5));
    if (lua_isnoneornil(L, 6))
        ol_error(L, "%s: parameter %d (shape %s) has no .grad: run backward first or set p.grad",
                 label, pi, ol_shapestr(p, a, sizeof a));
    OLTensor *g = ol_totensor(L, 6);
    if (!g) ol_error(L, "%s: .grad of parameter %d is not a tensor (got %s)", label, pi, luaL_typename(L, 6));
    if (!ol_sameshape(p, g))
        ol_error(L, "%s: .grad of parameter %d has shape %s, the parameter has shape %s",
                 label, pi, ol_shapestr(g, a, sizeof a), ol_shapestr(p, b, sizeof b));
    if (!ol_iscontiguous(p))
        ol_error(L, "%s: parameter %d (shape %s) is not contiguous: optimizers update parameters in place",
                 label, pi, ol_shapestr(p, a, sizeof a));
    g = ol_checkcontig(L, 6);
    const int64_t n = ol_numel(p);
    float *s1 = state_arg(L, 7, n, label, pi, 1);
    float *s2 = state_arg(L, 8, n, label, pi, 2);
    float *pd = ol_data(p);
    const float *gd = ol_data(g);
    if ((s1 && (s1 == pd || s1 == gd)) || (s2 && (s2 == pd || s2 == gd || s2 == s1)) || pd == gd)
        ol_error(L, "%s: parameter %d shares memory with its gradient or state", label, pi);
    ol_written(p);
    int rc;
    switch (kind) {
    case K_ADAMAX: rc = ol_adamax_update(n, pd, gd, s1, s2, h); break;
    case K_NADAM: rc = ol_nadam_update(n, pd, gd, s1, s2, h); break;
    case K_LION: rc = ol_lion_update(n, pd, gd, s1, h); break;
    case K_RPROP: rc = ol_rprop_update(n, pd, gd, s1, s2, h); break;
    case K_RADAM: rc = ol_radam_update(n, pd, gd, s1, s2, h); break;
    case K_FTRL: rc = ol_ftrl_update(n, pd, gd, s1, s2, h); break;
    case K_ASGD: rc = ol_asgd_update(n, pd, gd, s1, h); break;
    default: rc = ol_adadelta_update(n, pd, gd, s1, s2, h); break;
    }
    if (rc != 0)
        ol_error(L, "%s: invalid update for parameter %d (missing state buffer)", label, pi);
    return 0;
}

/* C.optim_grad_sqnorm(g) -> sum of squares in double: ol_sumsq, the sum
 * C.grad_norm takes, so a clip's norm and the logged one agree to the bit. */
static int l_grad_sqnorm(lua_State *L)
{
    OLTensor *g = ol_checkcontig(L, 1);
    lua_pushnumber(L, ol_sumsq(ol_numel(g), ol_data(g)));
    return 1;
}

/* C.optim_clip_value(g, c): clamp in place. */
static int l_clip_value(lua_State *L)
{
    OLTensor *g = ol_checkinplace(L, 1, "optim_clip_value", "the gradient");
    double c = luaL_checknumber(L, 2);
    if (!(c >= 0)) ol_error(L, "clip_value must be >= 0, got %g", c);
    ol_written(g);
    ol_clip_value(ol_numel(g), ol_data(g), (float)c);
    return 0;
}

/* C.optim.nesterov_point(p, v, save, alpha): save = p; p = p + alpha v. */
static int l_nesterov_point(lua_State *L)
{
    const char *op = "optim_nesterov_point";
    OLTensor *p = ol_checkinplace(L, 1, op, "the parameter"), *v = ol_checkcontig(L, 2);
    OLTensor *s = ol_checkinplace(L, 3, op, "the saved parameter");
    ol_checksameshape(L, op, p, "parameter", v, "velocity");
    ol_checksameshape(L, op, p, "parameter", s, "saved parameter");
    float alpha = (float)luaL_checknumber(L, 4);
    ol_written(p);
    ol_written(s);
    ol_nesterov_point(ol_numel(p), ol_data(p), ol_data(v), ol_data(s), alpha);
    return 0;
}

/* C.bench_copy(a, b) and C.bench_triad(a, b, c, s): bandwidth probes. */
static int l_bench_copy(lua_State *L)
{
    OLTensor *a = ol_checkinplace(L, 1, "bench_copy", "a"), *b = ol_checkcontig(L, 2);
    ol_checksameshape(L, "bench_copy", a, "a", b, "b");
    ol_written(a);
    ol_bench_copy(ol_numel(a), ol_data(a), ol_data(b));
    return 0;
}

static int l_bench_triad(lua_State *L)
{
    OLTensor *a = ol_checkinplace(L, 1, "bench_triad", "a"), *b = ol_checkcontig(L, 2), *c = ol_checkcontig(L, 3);
    ol_checksameshape(L, "bench_triad", a, "a", b, "b");
    ol_checksameshape(L, "bench_triad", a, "a", c, "c");
    float s = (float)luaL_checknumber(L, 4);
    ol_written(a);
    ol_bench_triad(ol_numel(a), ol_data(a), ol_data(b), ol_data(c), s);
    return 0;
}

/* C.optim_check(label, params): every parameter a contiguous tensor with a
 * .grad of its shape, checked before any is updated (no half-applied step). */
static int l_optim_check(lua_State *L)
{
    const char *label = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    char a[160], b[160];
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        OLTensor *p = ol_totensor(L, -1);
        if (!p) ol_error(L, "%s: parameter %d is not a tensor (got %s)", label, (int)i, luaL_typename(L, -1));
        if (!ol_iscontiguous(p))
            ol_error(L, "%s: parameter %d (shape %s) is not contiguous: optimizers update parameters in place",
                     label, (int)i, ol_shapestr(p, a, sizeof a));
        lua_getfield(L, -1, "grad");
        if (lua_isnil(L, -1))
            ol_error(L, "%s: parameter %d (shape %s) has no .grad: run backward first or set p.grad",
                     label, (int)i, ol_shapestr(p, a, sizeof a));
        OLTensor *g = ol_totensor(L, -1);
        if (!g) ol_error(L, "%s: .grad of parameter %d is not a tensor (got %s)", label, (int)i, luaL_typename(L, -1));
        if (!ol_sameshape(p, g))
            ol_error(L, "%s: .grad of parameter %d has shape %s, the parameter has shape %s",
                     label, (int)i, ol_shapestr(g, a, sizeof a), ol_shapestr(p, b, sizeof b));
        lua_pop(L, 2);
    }
    return 0;
}

static const luaL_Reg optim_funcs[] = {
    {"check", l_optim_check},
    {"hyper", l_optim_hyper}, {"update", l_optim_update},
    {"grad_sqnorm", l_grad_sqnorm}, {"clip_value", l_clip_value},
    {"nesterov_point", l_nesterov_point},
    {"bench_copy", l_bench_copy}, {"bench_triad", l_bench_triad},
    {NULL, NULL}
};

void ol_open_optim(lua_State *L)
{
    luaL_newmetatable(L, OL_HYPER);
    lua_pop(L, 1);
    ol_module(L, "optim", optim_funcs);
}
