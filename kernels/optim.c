/* Optimizer updates, one fused pass per tensor (see optim.h for the formulas).
 *
 * Layout of every kernel: the per-step scalars are computed once in double and
 * rounded to float; then the tensor is cut into OL_SPAN-element spans
 * (OL_SPANS, par.h), spread over threads with schedule(static); each span
 * runs a small always-inlined loop whose variant flags are literal constants at the call site, so
 * the compiler emits one branch-free vectorized loop per variant.
 * This file is compiled with -fno-math-errno (Makefile) so that sqrtf
 * vectorizes; sqrt is correctly rounded either way, so nothing else changes.
 */
#include "optim.h"
#include "par.h"

#include <math.h>
#include <stddef.h>

#define INL static inline __attribute__((always_inline))

OLOptHyper ol_optim_hyper_default(void)
{
    OLOptHyper h = {0};
    h.grad_scale = 1.0;
    h.clip_value = INFINITY;
    h.t = 1;
    h.beta1 = 0.9; h.beta2 = 0.999; h.rho = 0.9;
    h.etaminus = 0.5; h.etaplus = 1.2; h.step_min = 1e-6; h.step_max = 50;
    return h;
}

/* The gradient as every update sees it: scaled (clip_norm), clamped
 * (clip_value), plus the L2 term. With scale 1, clip inf, wd 0 it is g.
 * Decoupled weight decay (Lion, and every optimizer of Keras 3 and
 * tf.keras 2.11+) instead shrinks the parameter first, p - (lr wd) p, and
 * adds no L2 term: dec = lr wd, wd = 0. Not p (1 - lr wd): float(1 - 1e-4)
 * is off by 3e-8, a bias that adds up step after step; lr wd itself rounds
 * harmlessly. With dec = 0, p - 0 p is p. */
typedef struct { float gs, cv, wd, dec; } Prep;

static Prep prep_of(const OLOptHyper *h, int decoupled)
{
    Prep q = { (float)h->grad_scale, (float)h->clip_value,
               decoupled ? 0.0f : (float)h->weight_decay,
               decoupled ? (float)(h->lr * h->weight_decay) : 0.0f };
    return q;
}

INL float decay(float p, Prep q) { return p - q.dec * p; }

INL float prep(float g, float p, Prep q)
{
    g = g * q.gs;
    g = g > q.cv ? q.cv : g;
    g = g < -q.cv ? -q.cv : g;
    return g + q.wd * p;
}

INL float signf_(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }
INL float maxf_(float a, float b) { return a > b ? a : b; }
INL float minf_(float a, float b) { return a < b ? a : b; }

static int bad(int64_t n, const float *p, const float *g)
{
    return n < 0 || (n > 0 && (p == NULL || g == NULL));
}

/* --------------------------------------------------------------- Adamax */

INL void adamax_span(int64_t len, float *restrict p, const float *restrict g,
                     float *restrict m, float *restrict u, Prep q, float b1,
                     float b11, float b2, float a, float e, const int torch)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float mi = b1 * m[i] + b11 * gi;
        m[i] = mi;
        float ag = fabsf(gi);
        float ui = torch ? maxf_(b2 * u[i], ag + e) : maxf_(b2 * u[i], ag);
        u[i] = ui;
        p[i] = pi - a * mi / (torch ? ui : ui + e);
    }
}

int ol_adamax_update(int64_t n, float *restrict p, const float *restrict g,
                     float *restrict m, float *restrict u, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && (m == NULL || u == NULL))) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    const float a = (float)(h->lr / (1.0 - pow(h->beta1, (double)h->t)));
    const float b1 = (float)h->beta1, b11 = (float)(1.0 - h->beta1), b2 = (float)h->beta2;
    const float e = (float)h->eps;
    if (h->convention == OL_CONV_TORCH)
        OL_SPANS(n, adamax_span(len, p + lo, g + lo, m + lo, u + lo, q, b1, b11, b2, a, e, 1));
    else
        OL_SPANS(n, adamax_span(len, p + lo, g + lo, m + lo, u + lo, q, b1, b11, b2, a, e, 0));
    return 0;
}

/* ---------------------------------------------------------------- Nadam */

INL void nadam_span(int64_t len, float *restrict p, const float *restrict g,
                    float *restrict m, float *restrict v, Prep q, float b1,
                    float b11, float b2, float b21, float c2, float e, float cg, float cm)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float mi = b1 * m[i] + b11 * gi;
        float vi = b2 * v[i] + b21 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float d = sqrtf(vi * c2) + e;
        p[i] = pi - (cg * gi + cm * mi) / d;
    }
}

int ol_nadam_update(int64_t n, float *restrict p, const float *restrict g,
                    float *restrict m, float *restrict v, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && (m == NULL || v == NULL))) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    const double bc2 = 1.0 - pow(h->beta2, (double)h->t);
    /* Dozat: m_bar = (1-mu_t) g/(1-prod_t) + mu_{t+1} m/(1-prod_t mu_{t+1}) */
    const float cg = (float)(h->lr * (1.0 - h->mu_t) / (1.0 - h->mu_prod));
    const float cm = (float)(h->lr * h->mu_next / (1.0 - h->mu_prod * h->mu_next));
    OL_SPANS(n, nadam_span(len, p + lo, g + lo, m + lo, v + lo, q, (float)h->beta1,
                           (float)(1.0 - h->beta1), (float)h->beta2, (float)(1.0 - h->beta2),
                           (float)(1.0 / bc2), (float)h->eps, cg, cm));
    return 0;
}

/* ---------------------------------------------------------------- RAdam */

INL void radam_span(int64_t len, float *restrict p, const float *restrict g,
                    float *restrict m, float *restrict v, Prep q, float b1, float b11,
                    float b2, float b21, float a, float e, const int rect)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float mi = b1 * m[i] + b11 * gi;
        float vi = b2 * v[i] + b21 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = rect ? pi - a * mi / (sqrtf(vi) + e) : pi - a * mi;
    }
}

int ol_radam_update(int64_t n, float *restrict p, const float *restrict g,
                    float *restrict m, float *restrict v, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && (m == NULL || v == NULL))) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    const double t = (double)h->t, b2t = pow(h->beta2, t);
    const double bc1 = 1.0 - pow(h->beta1, t), bc2 = 1.0 - b2t;
    const double rho_inf = 2.0 / (1.0 - h->beta2) - 1.0;
    const double rho_t = rho_inf - 2.0 * t * b2t / bc2;
    const float b1 = (float)h->beta1, b11 = (float)(1.0 - h->beta1);
    const float b2 = (float)h->beta2, b21 = (float)(1.0 - h->beta2), e = (float)h->eps;
    if (rho_t > 5.0) {
        const double r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
        const float a = (float)(h->lr * r * sqrt(bc2) / bc1);
        OL_SPANS(n, radam_span(len, p + lo, g + lo, m + lo, v + lo, q, b1, b11, b2, b21, a, e, 1));
    } else {
        const float a = (float)(h->lr / bc1);
        OL_SPANS(n, radam_span(len, p + lo, g + lo, m + lo, v + lo, q, b1, b11, b2, b21, a, e, 0));
    }
    return 0;
}

/* ----------------------------------------------------------------- Ftrl */

/* pow(x, -lr_power) with TensorFlow's special case: sqrt for lr_power = -0.5 */
INL float ftrl_pow(float x, float np, const int half) { return half ? sqrtf(x) : powf(x, np); }

INL void ftrl_span(int64_t len, float *restrict p, const float *restrict g,
                   float *restrict acc, float *restrict lin, Prep q, float lr, float l1,
                   float l2x2, float shr2, float np, const int half)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float gs = gi + shr2 * pi;
        float na = acc[i] + gi * gi;
        float sn = ftrl_pow(na, np, half);
        float li = lin[i] + (gs - (sn - ftrl_pow(acc[i], np, half)) / lr * pi);
        lin[i] = li;
        float quad = sn / lr + l2x2;
        p[i] = fabsf(li) > l1 ? (signf_(li) * l1 - li) / quad : 0.0f;
        acc[i] = na;
    }
}

int ol_ftrl_update(int64_t n, float *restrict p, const float *restrict g,
                   float *restrict acc, float *restrict lin, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && (acc == NULL || lin == NULL)) || !(h->lr > 0)) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    const float lr = (float)h->lr, l1 = (float)h->l1;
    const float l2x2 = (float)(2.0 * (h->l2 + h->beta / (2.0 * h->lr)));
    const float shr2 = (float)(2.0 * h->l2_shrinkage), np = (float)(-h->lr_power);
    if (h->lr_power == -0.5)
        OL_SPANS(n, ftrl_span(len, p + lo, g + lo, acc + lo, lin + lo, q, lr, l1, l2x2, shr2, np, 1));
    else
        OL_SPANS(n, ftrl_span(len, p + lo, g + lo, acc + lo, lin + lo, q, lr, l1, l2x2, shr2, np, 0));
    return 0;
}

/* ----------------------------------------------------------------- ASGD */

INL void asgd_span(int64_t len, float *restrict p, const float *restrict g,
                   float *restrict ax, Prep q, float eta, float shrink, float mu, const int copy)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        pi = (pi - shrink * pi) - eta * gi;
        p[i] = pi;
        ax[i] = copy ? pi : ax[i] + (pi - ax[i]) * mu;
    }
}

int ol_asgd_update(int64_t n, float *restrict p, const float *restrict g,
                   float *restrict ax, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && ax == NULL)) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    const double k = (double)(h->t - 1);    /* torch computes eta and mu after the previous step */
    const double eta = h->t == 1 ? h->lr : h->lr / pow(1.0 + h->lambd * h->lr * k, h->alpha);
    const double mu = h->t == 1 ? 1.0 : 1.0 / fmax(1.0, k - h->t0);
    /* p - (lambd eta) p, not p (1 - lambd eta): see Prep */
    const float e = (float)eta, shrink = (float)(h->lambd * eta), m = (float)mu;
    if (mu == 1.0)
        OL_SPANS(n, asgd_span(len, p + lo, g + lo, ax + lo, q, e, shrink, m, 1));
    else
        OL_SPANS(n, asgd_span(len, p + lo, g + lo, ax + lo, q, e, shrink, m, 0));
    return 0;
}

/* ----------------------------------------------------------------- Lion */

INL void lion_span(int64_t len, float *restrict p, const float *restrict g,
                   float *restrict m, Prep q, float b1, float b11, float b2,
                   float b21, float lr)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float c = b1 * m[i] + b11 * gi;
        p[i] = pi - lr * signf_(c);
        m[i] = b2 * m[i] + b21 * gi;
    }
}

int ol_lion_update(int64_t n, float *restrict p, const float *restrict g,
                   float *restrict m, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && m == NULL)) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, 1);   /* Lion's weight decay is decoupled */
    OL_SPANS(n, lion_span(len, p + lo, g + lo, m + lo, q, (float)h->beta1,
                          (float)(1.0 - h->beta1), (float)h->beta2,
                          (float)(1.0 - h->beta2), (float)h->lr));
    return 0;
}

/* ---------------------------------------------------------------- Rprop */

INL void rprop_span(int64_t len, float *restrict p, const float *restrict g,
                    float *restrict prev, float *restrict step, Prep q,
                    float em, float ep, float smin, float smax)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float s = gi * prev[i];
        float f = s > 0.0f ? ep : (s < 0.0f ? em : 1.0f);
        float st = minf_(maxf_(step[i] * f, smin), smax);
        step[i] = st;
        gi = s < 0.0f ? 0.0f : gi;     /* sign flip: skip this step, forget g */
        p[i] = pi - signf_(gi) * st;
        prev[i] = gi;
    }
}

int ol_rprop_update(int64_t n, float *restrict p, const float *restrict g,
                    float *restrict prev, float *restrict step, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && (prev == NULL || step == NULL))) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    OL_SPANS(n, rprop_span(len, p + lo, g + lo, prev + lo, step + lo, q, (float)h->etaminus,
                           (float)h->etaplus, (float)h->step_min, (float)h->step_max));
    return 0;
}

/* ------------------------------------------------------------- Adadelta */

INL void adadelta_span(int64_t len, float *restrict p, const float *restrict g,
                       float *restrict sq, float *restrict acc, Prep q,
                       float rho, float rho1, float e, float lr)
{
    for (int64_t i = 0; i < len; i++) {
        float pi = decay(p[i], q);
        float gi = prep(g[i], pi, q);
        float si = rho * sq[i] + rho1 * (gi * gi);
        sq[i] = si;
        float d = sqrtf(acc[i] + e) / sqrtf(si + e) * gi;
        acc[i] = rho * acc[i] + rho1 * (d * d);
        p[i] = pi - lr * d;
    }
}

int ol_adadelta_update(int64_t n, float *restrict p, const float *restrict g,
                       float *restrict sq, float *restrict acc, const OLOptHyper *h)
{
    if (bad(n, p, g) || (n > 0 && (sq == NULL || acc == NULL))) return OL_OPTIM_EINVAL;
    const Prep q = prep_of(h, h->decoupled);
    OL_SPANS(n, adadelta_span(len, p + lo, g + lo, sq + lo, acc + lo, q, (float)h->rho,
                              (float)(1.0 - h->rho), (float)h->eps, (float)h->lr));
    return 0;
}

/* ------------------------------------------------------------ clipping */

/* Norms for clip_norm are ol_sumsq (reduce.h), the same sum as the logged grad_norm. */

INL void clip_span(int64_t len, float *restrict g, float c)
{
    for (int64_t i = 0; i < len; i++) {
        float x = g[i];
        x = x > c ? c : x;
        g[i] = x < -c ? -c : x;
    }
}

void ol_clip_value(int64_t n, float *restrict g, float c)
{
    OL_SPANS(n, clip_span(len, g + lo, c));
}

INL void nesterov_point_span(int64_t len, float *restrict p, const float *restrict v,
                             float *restrict save, float alpha)
{
    for (int64_t i = 0; i < len; i++) {
        save[i] = p[i];
        p[i] = p[i] + alpha * v[i];
    }
}

void ol_nesterov_point(int64_t n, float *restrict p, const float *restrict v,
                       float *restrict save, float alpha)
{
    OL_SPANS(n, nesterov_point_span(len, p + lo, v + lo, save + lo, alpha));
}

/* -------------------------------------------------------- bandwidth probes */

void ol_bench_copy(int64_t n, float *restrict a, const float *restrict b)
{
    #pragma omp parallel for schedule(static) if(n > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) a[i] = b[i];
}

void ol_bench_triad(int64_t n, float *restrict a, const float *restrict b,
                    const float *restrict c, float s)
{
    #pragma omp parallel for schedule(static) if(n > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}
