/* Optimizer kernels against scalar double references written from each
 * framework's formula (not from the kernel's rearranged form), one step at a
 * time from the kernel's own float state; and 1 vs 2 threads bit for bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "reduce.h"

/* The kernels left: SGD, Adagrad, RMSprop, Adam and AdamW are declarations,
 * pinned to these kernels' former bits by tests/lua/test_declared_builtins.lua. */
enum { K_ADAMAX, K_NADAM, K_LION, K_RPROP, K_ADADELTA, K_RADAM, K_FTRL, K_ASGD };

typedef struct {
    int kind, conv;
    double lr, momentum, wd, eps, clip, gscale;   /* momentum: Ftrl's -lr_power */
    int dec;   /* decoupled weight decay for any optimizer (Keras 3, tf.keras 2.11+) */
} Cfg;

static const int64_t SIZES[] = {1, 7, 8, 33, 10001};

/* deterministic values in [-1, 1) */
static float urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static OLOptHyper hyper_at(const Cfg *c, int64_t t, double *mu_prod)
{
    OLOptHyper h = ol_optim_hyper_default();
    h.t = t;
    h.lr = c->lr * (1.0 - 0.02 * (double)t);   /* a decaying schedule */
    h.weight_decay = c->wd;
    h.eps = c->eps;
    h.rho = c->kind == K_ADADELTA ? 0.95 : 0.9;
    h.beta1 = 0.9;
    h.beta2 = c->kind == K_LION ? 0.99 : (c->kind == K_RADAM ? 0.9 : 0.999);
    h.convention = c->conv;
    h.decoupled = c->dec;
    h.clip_value = c->clip > 0 ? c->clip : INFINITY;
    h.l1 = 0.001; h.l2 = 0.01; h.l2_shrinkage = 0.01; h.beta = 0.1;
    h.lr_power = c->momentum != 0 ? -c->momentum : -0.5;   /* Ftrl: momentum carries -lr_power */
    h.lambd = 0.01; h.alpha = 0.75; h.t0 = 4;               /* ASGD: averaging from t = 6 */
    h.grad_scale = c->gscale > 0 ? c->gscale : 1.0;
    /* Nadam's momentum cache (Dozat; Keras and PyTorch: psi = 0.004, base 0.96) */
    h.mu_t = h.beta1 * (1.0 - 0.5 * pow(0.96, (double)t * 0.004));
    h.mu_next = h.beta1 * (1.0 - 0.5 * pow(0.96, (double)(t + 1) * 0.004));
    *mu_prod *= h.mu_t;
    h.mu_prod = *mu_prod;
    return h;
}

static int run_kernel(int kind, int64_t n, float *p, const float *g, float *s1,
                      float *s2, const OLOptHyper *h)
{
    switch (kind) {
    case K_ADAMAX: return ol_adamax_update(n, p, g, s1, s2, h);
    case K_NADAM: return ol_nadam_update(n, p, g, s1, s2, h);
    case K_LION: return ol_lion_update(n, p, g, s1, h);
    case K_RPROP: return ol_rprop_update(n, p, g, s1, s2, h);
    case K_RADAM: return ol_radam_update(n, p, g, s1, s2, h);
    case K_FTRL: return ol_ftrl_update(n, p, g, s1, s2, h);
    case K_ASGD: return ol_asgd_update(n, p, g, s1, h);
    default: return ol_adadelta_update(n, p, g, s1, s2, h);
    }
}

static double sgn(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

/* One element, in double, as each source writes the update. */
static void ref_step(const Cfg *c, const OLOptHyper *h, double *p, double g,
                     double *s1, double *s2)
{
    const double lr = h->lr, eps = h->eps, t = (double)h->t;
    g = g * h->grad_scale;
    if (g > h->clip_value) g = h->clip_value;
    if (g < -h->clip_value) g = -h->clip_value;
    if (c->dec && c->kind != K_LION)
        *p -= lr * h->weight_decay * *p;       /* Keras 3: variable -= variable * wd * lr, first */
    else if (c->kind != K_LION) g += h->weight_decay * *p;
    switch (c->kind) {
    case K_ADAMAX: {
        *s1 = h->beta1 * *s1 + (1 - h->beta1) * g;
        double b1t = 1 - pow(h->beta1, t);
        if (c->conv == OL_CONV_TORCH) {
            *s2 = fmax(h->beta2 * *s2, fabs(g) + eps);
            *p -= lr / b1t * *s1 / *s2;
        } else {
            *s2 = fmax(h->beta2 * *s2, fabs(g));
            *p -= lr / b1t * *s1 / (*s2 + eps);
        }
        break;
    }
    case K_NADAM: {
        *s1 = h->beta1 * *s1 + (1 - h->beta1) * g;
        *s2 = h->beta2 * *s2 + (1 - h->beta2) * g * g;
        double vhat = *s2 / (1 - pow(h->beta2, t));
        double gp = g / (1 - h->mu_prod);
        double mp = *s1 / (1 - h->mu_prod * h->mu_next);
        double mbar = (1 - h->mu_t) * gp + h->mu_next * mp;
        *p -= lr * mbar / (sqrt(vhat) + eps);
        break;
    }
    case K_LION: {
        double u = sgn(h->beta1 * *s1 + (1 - h->beta1) * g);
        *p -= lr * (u + h->weight_decay * *p);
        *s1 = h->beta2 * *s1 + (1 - h->beta2) * g;
        break;
    }
    case K_ASGD: {      /* torch/optim/asgd.py, _single_tensor_asgd (eta, mu of the previous step) */
        double eta = t == 1 ? lr : lr / pow(1 + h->lambd * lr * (t - 1), h->alpha);
        double mu = t == 1 ? 1 : 1 / fmax(1, t - 1 - h->t0);
        *p = *p * (1 - h->lambd * eta) - eta * g;
        *s1 = mu == 1 ? *p : *s1 + (*p - *s1) * mu;
        break;
    }
    case K_FTRL: {      /* TensorFlow training_ops.cc, ApplyFtrlV2 */
        double np = -h->lr_power, l2 = h->l2 + h->beta / (2 * lr);
        double na = *s1 + g * g;
        *s2 += g + 2 * h->l2_shrinkage * *p - (pow(na, np) - pow(*s1, np)) / lr * *p;
        double y = pow(na, np) / lr + 2 * l2;
        *p = fabs(*s2) > h->l1 ? (sgn(*s2) * h->l1 - *s2) / y : 0;
        *s1 = na;
        break;
    }
    case K_RADAM: {     /* torch/optim/radam.py, _single_tensor_radam */
        *s1 = h->beta1 * *s1 + (1 - h->beta1) * g;
        *s2 = h->beta2 * *s2 + (1 - h->beta2) * g * g;
        double bc1 = 1 - pow(h->beta1, t), bc2 = 1 - pow(h->beta2, t);
        double rho_inf = 2 / (1 - h->beta2) - 1;
        double rho_t = rho_inf - 2 * t * pow(h->beta2, t) / bc2;
        if (rho_t > 5) {
            double rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
            *p -= *s1 / bc1 * lr * (sqrt(bc2) / (sqrt(*s2) + eps)) * rect;
        } else {
            *p -= *s1 / bc1 * lr;
        }
        break;
    }
    case K_RPROP: {
        double s = g * *s1;
        double f = s > 0 ? h->etaplus : (s < 0 ? h->etaminus : 1.0);
        *s2 = fmin(fmax(*s2 * f, h->step_min), h->step_max);
        if (s < 0) g = 0;
        *p -= sgn(g) * *s2;
        *s1 = g;
        break;
    }
    default: {  /* Adadelta */
        *s1 = 0.95 * *s1 + 0.05 * g * g;
        double d = sqrt(*s2 + eps) / sqrt(*s1 + eps) * g;
        *s2 = 0.95 * *s2 + 0.05 * d * d;
        *p -= lr * d;
    }
    }
}

typedef struct { float *p, *g, *s1, *s2; int64_t n; } Bufs;

static Bufs bufs_new(int64_t n, const Cfg *c, uint64_t seed)
{
    Bufs b = { malloc(n * 4), malloc(n * 4), calloc(n, 4), calloc(n, 4), n };
    for (int64_t i = 0; i < n; i++) b.p[i] = urand(&seed);
    if (c->kind == K_RPROP)
        for (int64_t i = 0; i < n; i++) b.s2[i] = (float)c->lr; /* step sizes start at lr */
    if (c->kind == K_FTRL)
        for (int64_t i = 0; i < n; i++) b.s1[i] = 0.1f;      /* initial_accumulator_value */
    return b;
}

static void bufs_free(Bufs *b) { free(b->p); free(b->g); free(b->s1); free(b->s2); }

static void fill_grad(Bufs *b, uint64_t *seed, int64_t t)
{
    for (int64_t i = 0; i < b->n; i++)
        b->g[i] = urand(seed) * (1.0f + 0.5f * (float)(t % 3)) + 0.1f;
}

#define NSTEPS 12

static void check_cfg(const Cfg *c, const char *name)
{
    for (size_t si = 0; si < sizeof SIZES / sizeof *SIZES; si++) {
        const int64_t n = SIZES[si];
        Bufs b = bufs_new(n, c, 42 + (uint64_t)n);
        double *p0 = malloc(n * sizeof(double));
        for (int64_t i = 0; i < n; i++) p0[i] = b.p[i];
        uint64_t gs = 7;
        double mu_prod = 1.0;
        double moved = 0;
        for (int64_t t = 1; t <= NSTEPS; t++) {
            fill_grad(&b, &gs, t);
            OLOptHyper h = hyper_at(c, t, &mu_prod);
            /* reference from the kernel's float state, before the kernel runs */
            double *rp = malloc(n * 3 * sizeof(double));
            float *old = malloc(n * 3 * sizeof(float));
            for (int64_t i = 0; i < n; i++) {
                rp[3 * i] = b.p[i]; rp[3 * i + 1] = b.s1[i]; rp[3 * i + 2] = b.s2[i];
                for (int k = 0; k < 3; k++) old[3 * i + k] = (float)rp[3 * i + k];
                ref_step(c, &h, &rp[3 * i], b.g[i], &rp[3 * i + 1], &rp[3 * i + 2]);
            }
            cr_assert_eq(run_kernel(c->kind, n, b.p, b.g, b.s1, b.s2, &h), 0, "%s", name);
            for (int64_t i = 0; i < n; i++) {
                const float got[3] = { b.p[i], b.s1[i], b.s2[i] };
                for (int k = 0; k < 3; k++) {
                    double want = rp[3 * i + k];
                    /* float rounding, relative to the terms' size (not only
                     * the result's: a momentum buffer may nearly cancel) */
                    double tol = 2e-6 * (fabs(want) + fabs(old[3 * i + k])) + 2e-7;
                    /* Ftrl's linear adds O(1) terms that cancel to a small sum */
                    if (c->kind == K_FTRL && k == 2) tol += 1e-6;
                    cr_assert(fabs(got[k] - want) <= tol,
                              "%s n=%ld t=%ld i=%ld field %d: kernel %.9g, reference %.9g",
                              name, (long)n, (long)t, (long)i, k, got[k], want);
                }
            }
            free(rp);
            free(old);
        }
        for (int64_t i = 0; i < n; i++) moved += fabs(b.p[i] - p0[i]);
        cr_assert(moved > 0, "%s n=%ld: parameters did not move", name, (long)n);
        free(p0);
        bufs_free(&b);
    }
}

static void check_threads(const Cfg *c, const char *name)
{
    const int64_t n = 100003;   /* several blocks, above the threading threshold */
    Bufs b[2];
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        b[k] = bufs_new(n, c, 5);
        uint64_t gs = 11;
        double mu_prod = 1.0;
        for (int64_t t = 1; t <= 3; t++) {
            fill_grad(&b[k], &gs, t);
            OLOptHyper h = hyper_at(c, t, &mu_prod);
            run_kernel(c->kind, n, b[k].p, b[k].g, b[k].s1, b[k].s2, &h);
        }
    }
    cr_assert(memcmp(b[0].p, b[1].p, n * 4) == 0, "%s: params differ with 1 and 2 threads", name);
    cr_assert(memcmp(b[0].s1, b[1].s1, n * 4) == 0, "%s: state differs with 1 and 2 threads", name);
    cr_assert(memcmp(b[0].s2, b[1].s2, n * 4) == 0, "%s: state differs with 1 and 2 threads", name);
    bufs_free(&b[0]);
    bufs_free(&b[1]);
}

static void check_all(const Cfg *cfgs, size_t count, const char *kind)
{
    static const char *conv[] = {"textbook", "keras", "keras3", "torch"};
    for (size_t i = 0; i < count; i++) {
        char name[160];
        const Cfg *c = &cfgs[i];
        snprintf(name, sizeof name, "%s[%zu] %s mom=%g wd=%g clip=%g gscale=%g",
                 kind, i, conv[c->conv], c->momentum, c->wd, c->clip, c->gscale);
        check_cfg(c, name);
        check_threads(c, name);
    }
}

#define CHECK(kind, ...) do { const Cfg cs_[] = { __VA_ARGS__ }; \
    check_all(cs_, sizeof cs_ / sizeof *cs_, kind); } while (0)

#define T OL_CONV_TEXTBOOK
#define KE OL_CONV_KERAS
#define K3 OL_CONV_KERAS3
#define TO OL_CONV_TORCH

Test(optim, adamax)
{
    CHECK("Adamax",
          {K_ADAMAX, T, .lr = 0.002, .eps = 1e-7},
          {K_ADAMAX, KE, .lr = 0.002, .eps = 1e-7},
          {K_ADAMAX, TO, .lr = 0.002, .eps = 1e-8, .wd = 0.01});
}

Test(optim, nadam)
{
    CHECK("Nadam",
          {K_NADAM, T, .lr = 0.002, .eps = 1e-7},
          {K_NADAM, TO, .lr = 0.002, .eps = 1e-8, .wd = 0.01});
}

Test(optim, lion)
{
    CHECK("Lion",
          {K_LION, T, .lr = 1e-3},
          {K_LION, T, .lr = 1e-3, .wd = 0.1});
}

Test(optim, rprop)
{
    CHECK("Rprop",
          {K_RPROP, TO, .lr = 0.01},
          {K_RPROP, T, .lr = 0.01, .clip = 0.2});
}

Test(optim, adadelta)
{
    CHECK("Adadelta",
          {K_ADADELTA, T, .lr = 1.0, .eps = 1e-6},
          {K_ADADELTA, KE, .lr = 0.001, .eps = 1e-7, .wd = 0.01});
}

Test(optim, radam)
{
    /* beta2 = 0.9: rho_t passes 5 at t = 6, within the 12 steps: both branches */
    CHECK("RAdam",
          {K_RADAM, TO, .lr = 0.01, .eps = 1e-8},
          {K_RADAM, TO, .lr = 0.01, .eps = 1e-8, .wd = 0.01, .clip = 0.5});
}

Test(optim, asgd)
{
    CHECK("ASGD", {K_ASGD, TO, .lr = 0.05}, {K_ASGD, TO, .lr = 0.05, .wd = 0.01, .clip = 0.5});
}

Test(optim, ftrl)
{
    CHECK("Ftrl",
          {K_FTRL, KE, .lr = 0.1},
          {K_FTRL, K3, .lr = 0.1, .momentum = 0.3, .wd = 0.01, .dec = 1},
          {K_FTRL, KE, .lr = 0.1, .wd = 0.01, .clip = 0.5});
}

/* Keras 3 and tf.keras 2.11+ decay every optimizer's weights directly. */
Test(optim, decoupled_weight_decay)
{
    CHECK("decoupled",
          {K_ADAMAX, K3, .lr = 0.01, .eps = 1e-7, .wd = 0.05, .dec = 1},
          {K_NADAM, K3, .lr = 0.01, .eps = 1e-7, .wd = 0.05, .dec = 1},
          {K_ADADELTA, K3, .lr = 1.0, .eps = 1e-6, .wd = 0.05, .dec = 1},
          {K_RPROP, K3, .lr = 0.01, .wd = 0.05, .dec = 1});
}

Test(optim, missing_state_is_an_error)
{
    float p[4] = {0}, g[4] = {0}, s[4] = {0};
    OLOptHyper h = ol_optim_hyper_default();
    h.lr = 0.1;
    cr_assert_eq(ol_adamax_update(4, p, g, s, NULL, &h), OL_OPTIM_EINVAL);
    cr_assert_eq(ol_lion_update(4, p, g, NULL, &h), OL_OPTIM_EINVAL);
    cr_assert_eq(ol_lion_update(-1, p, g, s, &h), OL_OPTIM_EINVAL);
}

/* The norm clip_norm uses is ol_sumsq (reduce.h), an ordered sum of par.h:
 * sizes around a block (4096) and past one parallel round (256 blocks). */
Test(optim, sumsq_sizes)
{
    const int64_t sizes[] = {0, 1, 7, 4096, 4097, 1000003, 2 * 256 * 4096 + 5};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        const int64_t n = sizes[k];
        float *g = malloc((n + 1) * 4);
        uint64_t s = 3;
        double want = 0, want1 = 0;
        for (int64_t i = 0; i < n; i++) { g[i] = urand(&s); want += (double)g[i] * g[i]; want1 += g[i]; }
        omp_set_num_threads(1);
        double one = ol_sumsq(n, g), sum1 = ol_sum(n, g), dot1 = ol_dot(n, g, 1, g, 1);
        omp_set_num_threads(2);
        double two = ol_sumsq(n, g), sum2 = ol_sum(n, g), dot2 = ol_dot(n, g, 1, g, 1);
        cr_assert(memcmp(&one, &two, sizeof one) == 0, "n=%ld: %.17g vs %.17g", (long)n, one, two);
        cr_assert(memcmp(&sum1, &sum2, sizeof one) == 0, "sum n=%ld: %.17g vs %.17g", (long)n, sum1, sum2);
        cr_assert(memcmp(&dot1, &dot2, sizeof one) == 0, "dot n=%ld: %.17g vs %.17g", (long)n, dot1, dot2);
        cr_assert(fabs(one - want) <= 1e-12 * want, "n=%ld: %.17g, naive %.17g", (long)n, one, want);
        cr_assert(fabs(dot1 - want) <= 1e-12 * want, "dot n=%ld: %.17g, naive %.17g", (long)n, dot1, want);
        cr_assert(fabs(sum1 - want1) <= 1e-9, "sum n=%ld: %.17g, naive %.17g", (long)n, sum1, want1);
        free(g);
    }
}

Test(optim, clip_value)
{
    float g[9] = {-3, -1, -0.5f, 0, 0.25f, 0.5f, 2, INFINITY, -INFINITY};
    const float want[9] = {-1, -1, -0.5f, 0, 0.25f, 0.5f, 1, 1, -1};
    ol_clip_value(9, g, 1.0f);
    for (int i = 0; i < 9; i++) cr_assert_eq(g[i], want[i], "element %d: %g", i, g[i]);
}

Test(optim, nesterov_point_and_bench_helpers)
{
    float p[5] = {1, 2, 3, 4, 5}, v[5] = {1, -1, 2, 0, 0.5f}, save[5], a[5], b[5];
    ol_nesterov_point(5, p, v, save, 0.5f);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(save[i], (float)(i + 1));
        cr_assert_eq(p[i], (float)(i + 1) + 0.5f * v[i]);
    }
    ol_bench_copy(5, a, p);
    cr_assert(memcmp(a, p, sizeof a) == 0);
    ol_bench_triad(5, b, p, v, 2.0f);
    for (int i = 0; i < 5; i++) cr_assert_eq(b[i], p[i] + 2.0f * v[i]);
}
