/* Batch norm: forward (train and eval) against a double reference, running
 * statistics against PyTorch's update rule, backward to x, gamma and beta
 * against central finite differences of the double reference, shape errors,
 * 1-vs-2-thread bit equality on >= 1<<20 elements. */
#include "layer_testutil.h"
#include "norm.h"

#define EPS 1e-5f
#define MOM 0.1f

typedef struct {
    int N, C, HW;
    int train;               /* batch statistics, else running statistics */
    const float *rm, *rv;    /* running stats (eval) */
} bn_shape;

/* y = (x - mean) / sqrt(var + eps) * g + b in double; writes batch mean/var if asked */
static void ref_bn(const bn_shape *s, const double *x, const double *g, const double *b, double *y,
                   double *mean_out, double *var_out) {
    int N = s->N, C = s->C, HW = s->HW;
    double m = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double mean, var;
        if (s->train) {
            double sum = 0.0, ss = 0.0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++)
                    sum += x[(n * C + c) * HW + i];
            mean = sum / m;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++)
                    ss += (x[(n * C + c) * HW + i] - mean) * (x[(n * C + c) * HW + i] - mean);
            var = ss / m;
        } else {
            mean = s->rm[c];
            var = s->rv[c];
        }
        if (mean_out)
            mean_out[c] = mean;
        if (var_out)
            var_out[c] = var;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t k = (size_t)(n * C + c) * HW + i;
                y[k] = (x[k] - mean) / sqrt(var + EPS) * g[c] + b[c];
            }
    }
}

/* L = sum dy*y as a function of one parameter vector (x, gamma or beta) */
typedef struct {
    const bn_shape *s;
    double *x, *g, *b, *y;
    const float *dy;
} bn_loss;

static double bn_L(const bn_loss *L) {
    size_t n = (size_t)L->s->N * L->s->C * L->s->HW;
    ref_bn(L->s, L->x, L->g, L->b, L->y, NULL, NULL);
    double sum = 0.0;
    for (size_t k = 0; k < n; k++)
        sum += L->dy[k] * L->y[k];
    return sum;
}

static void fd_vec(const char *what, bn_loss *L, double *v, size_t n, const float *got) {
    for (size_t k = 0; k < n; k++) {
        double v0 = v[k], h = 1e-6 * (1.0 + fabs(v0));
        v[k] = v0 + h;
        double lp = bn_L(L);
        v[k] = v0 - h;
        double lm = bn_L(L);
        v[k] = v0;
        LT_CLOSE(what, k, got[k], (lp - lm) / (2 * h), 2e-6, 1e-4);
    }
}

static void run_case(int N, int C, int HW, int train, uint64_t seed) {
    size_t n = (size_t)N * C * HW;
    float *x = lt_alloc(n), *y = lt_alloc(n), *dy = lt_alloc(n), *dx = lt_alloc(n);
    float g[8], b[8], rm[8], rv[8], rm0[8], rv0[8], sm[8], si[8], dg[8], db[8];
    double *xd = malloc(n * sizeof *xd), *yd = malloc(n * sizeof *yd), gd[8], bd[8], mean[8], var[8];
    cr_assert(C <= 8 && xd && yd);
    uint64_t s = seed;
    lt_fill(&s, x, n, -3.0f, 5.0f);
    for (size_t k = 0; k < n; k += 7)
        x[k] *= 4.0f; /* uneven spread per channel */
    lt_fill(&s, dy, n, -1.0f, 1.0f);
    lt_fill(&s, g, C, 0.5f, 2.0f);
    lt_fill(&s, b, C, -1.0f, 1.0f);
    lt_fill(&s, rm, C, -0.5f, 0.5f);
    lt_fill(&s, rv, C, 0.5f, 2.0f);
    memcpy(rm0, rm, sizeof rm);
    memcpy(rv0, rv, sizeof rv);
    for (size_t k = 0; k < n; k++)
        xd[k] = x[k];
    for (int c = 0; c < C; c++)
        gd[c] = g[c], bd[c] = b[c];

    bn_shape sh = {N, C, HW, train, rm0, rv0};
    int rc;
    if (train) {
        rc = ol_batch_norm_forward_train(N, C, HW, x, g, b, EPS, MOM, rm, rv, y, sm, si);
        cr_assert_eq(rc, OL_NORM_OK);
        rc = ol_batch_norm_backward_train(N, C, HW, x, dy, g, sm, si, dx, dg, db);
    } else {
        rc = ol_batch_norm_forward_eval(N, C, HW, x, g, b, EPS, rm, rv, y);
        cr_assert_eq(rc, OL_NORM_OK);
        rc = ol_batch_norm_backward_eval(N, C, HW, x, dy, g, EPS, rm, rv, dx, dg, db);
    }
    cr_assert_eq(rc, OL_NORM_OK);

    ref_bn(&sh, xd, gd, bd, yd, mean, var);
    for (size_t k = 0; k < n; k++)
        LT_CLOSE("bn y", k, y[k], yd[k], 2e-6, 1e-5);
    if (train) {
        double m = (double)N * HW;
        for (int c = 0; c < C; c++) {
            LT_CLOSE("save_mean", c, sm[c], mean[c], 1e-7, 1e-6);
            LT_CLOSE("save_invstd", c, si[c], 1.0 / sqrt(var[c] + EPS), 0, 1e-6);
            LT_CLOSE("running_mean", c, rm[c], (1 - MOM) * rm0[c] + MOM * mean[c], 1e-7, 1e-6);
            LT_CLOSE("running_var", c, rv[c], (1 - MOM) * rv0[c] + MOM * var[c] * m / (m - 1), 0, 1e-6);
        }
    } else {
        cr_assert(memcmp(rm, rm0, sizeof rm) == 0 && memcmp(rv, rv0, sizeof rv) == 0,
                  "eval mode must not touch running stats");
    }

    bn_loss L = {&sh, xd, gd, bd, yd, dy};
    fd_vec("bn dx", &L, xd, n, dx);
    fd_vec("bn dgamma", &L, gd, C, dg);
    fd_vec("bn dbeta", &L, bd, C, db);
    free(x), free(y), free(dy), free(dx), free(xd), free(yd);
}

Test(norm, batch_norm_2d_train) { run_case(4, 3, 5, 1, 31); }
Test(norm, batch_norm_1d_train) { run_case(6, 5, 1, 1, 32); }
Test(norm, batch_norm_2d_eval) { run_case(4, 3, 5, 0, 33); }
Test(norm, batch_norm_two_values_per_channel) { run_case(2, 2, 1, 1, 34); }

Test(norm, batch_norm_no_affine_no_running_stats) {
    enum { N = 5, C = 2, HW = 3, NN = N * C * HW };
    float x[NN], y[NN], ya[NN], sm[C], si[C], g[C] = {1, 1}, b[C] = {0, 0};
    float dy[NN], dx[NN], dxa[NN];
    uint64_t s = 35;
    lt_fill(&s, x, NN, -2.0f, 2.0f);
    lt_fill(&s, dy, NN, -1.0f, 1.0f);
    cr_assert_eq(ol_batch_norm_forward_train(N, C, HW, x, NULL, NULL, EPS, MOM, NULL, NULL, y, sm, si), 0);
    cr_assert_eq(ol_batch_norm_forward_train(N, C, HW, x, g, b, EPS, MOM, NULL, NULL, ya, sm, si), 0);
    cr_assert(memcmp(y, ya, sizeof y) == 0, "NULL gamma/beta must act as 1/0");
    cr_assert_eq(ol_batch_norm_backward_train(N, C, HW, x, dy, NULL, sm, si, dx, NULL, NULL), 0);
    cr_assert_eq(ol_batch_norm_backward_train(N, C, HW, x, dy, g, sm, si, dxa, NULL, NULL), 0);
    cr_assert(memcmp(dx, dxa, sizeof dx) == 0, "NULL gamma must act as 1 in backward");
}

Test(norm, batch_norm_bad_shapes) {
    float x[4] = {1, 2, 3, 4}, y[4], sm[4], si[4], rm[4] = {0}, rv[4] = {1, 1, 1, 1};
    cr_assert_eq(ol_batch_norm_forward_train(0, 1, 1, x, NULL, NULL, EPS, MOM, NULL, NULL, y, sm, si),
                 OL_NORM_EBADSHAPE);
    cr_assert_eq(ol_batch_norm_forward_train(1, 4, 1, x, NULL, NULL, EPS, MOM, NULL, NULL, y, sm, si),
                 OL_NORM_ETOOFEWVALUES, "one value per channel must be refused in training");
    cr_assert_eq(ol_batch_norm_forward_eval(1, 4, 1, x, NULL, NULL, EPS, rm, rv, y), OL_NORM_OK,
                 "eval mode works on a single sample");
    cr_assert_eq(ol_batch_norm_forward_eval(1, 0, 1, x, NULL, NULL, EPS, rm, rv, y), OL_NORM_EBADSHAPE);
    cr_assert_eq(ol_batch_norm_backward_train(1, 1, -1, x, x, NULL, sm, si, y, NULL, NULL),
                 OL_NORM_EBADSHAPE);
}

Test(norm, batch_norm_threads) {
    int N = 64, C = 16, HW = 1024; /* 1<<20 values */
    size_t n = (size_t)N * C * HW;
    float *x = lt_alloc(n), *dy = lt_alloc(n), g[16], b[16], rm[16], rv[16], sm[16], si[16];
    uint64_t s = 36;
    lt_fill(&s, x, n, -3.0f, 7.0f);
    lt_fill(&s, dy, n, -1.0f, 1.0f);
    lt_fill(&s, g, C, 0.5f, 2.0f);
    lt_fill(&s, b, C, -1.0f, 1.0f);
    lt_fill(&s, rm, C, -0.5f, 0.5f);
    lt_fill(&s, rv, C, 0.5f, 2.0f);
    /* out = [y (n) | save_mean | save_invstd | running_mean | running_var] */
    size_t bytes = (n + 4 * (size_t)C) * sizeof(float);
    LT_SAME_1_2_THREADS(bytes, out, {
        float *o = (float *)out;
        memcpy(o + n + 2 * C, rm, sizeof rm);
        memcpy(o + n + 3 * C, rv, sizeof rv);
        ol_batch_norm_forward_train(N, C, HW, x, g, b, EPS, MOM, o + n + 2 * C, o + n + 3 * C, o,
                                    o + n, o + n + C);
    });
    float *y = lt_alloc(n); /* forward once more for save_mean/save_invstd */
    ol_batch_norm_forward_train(N, C, HW, x, g, b, EPS, MOM, NULL, NULL, y, sm, si);
    free(y);
    LT_SAME_1_2_THREADS((n + 2 * (size_t)C) * sizeof(float), out, {
        float *o = (float *)out;
        ol_batch_norm_backward_train(N, C, HW, x, dy, g, sm, si, o, o + n, o + n + C);
    });
    LT_SAME_1_2_THREADS(n * sizeof(float), out,
                        ol_batch_norm_forward_eval(N, C, HW, x, g, b, EPS, rm, rv, (float *)out));
    LT_SAME_1_2_THREADS((n + 2 * (size_t)C) * sizeof(float), out, {
        float *o = (float *)out;
        ol_batch_norm_backward_eval(N, C, HW, x, dy, g, EPS, rm, rv, o, o + n, o + n + C);
    });
    free(x);
    free(dy);
}
