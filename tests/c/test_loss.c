/* Losses: forward against naive double references (including extreme logits),
 * backward against central finite differences of the double reference,
 * bad labels reported, 1-vs-2-thread bit equality on >= 1<<20 elements. */
#include "layer_testutil.h"
#include "loss.h"

#include <float.h>

enum { N = 9, C = 7 };

/* ---- double references ---- */

static double ref_lse(int c, const double *x) {
    double m = x[0], s = 0.0;
    for (int j = 1; j < c; j++)
        m = x[j] > m ? x[j] : m;
    for (int j = 0; j < c; j++)
        s += exp(x[j] - m);
    return m + log(s);
}

static double ref_ce(int n, int c, const double *x, const int32_t *y) {
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += ref_lse(c, x + i * c) - x[i * c + y[i]];
    return s / n;
}

static double ref_ce_soft(int n, int c, const double *x, const float *t) {
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double lse = ref_lse(c, x + i * c);
        for (int j = 0; j < c; j++)
            s -= t[i * c + j] * (x[i * c + j] - lse);
    }
    return s / n;
}

static double ref_mse(size_t n, const double *p, const float *t) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (p[i] - t[i]) * (p[i] - t[i]);
    return s / n;
}

/* -[t log p + (1-t) log(1-p)], p = sigmoid(x), with log p = -log1p(exp(-x)) and
 * log(1-p) = -log1p(exp(x)): log(1 - p) itself would put noise of 1e-16/(1-p)
 * into the finite differences at x = 20 (a different form from the kernel's). */
static double ref_bce(size_t n, const double *x, const float *t) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += t[i] * log1p(exp(-x[i])) + (1.0 - t[i]) * log1p(exp(x[i]));
    return s / n;
}

static void to_double(size_t n, const float *a, double *d) {
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
}

static void make_problem(uint64_t seed, float *logits, int32_t *labels, float *targets) {
    lt_fill(&seed, logits, N * C, -10.0f, 10.0f);
    for (int i = 0; i < N; i++)
        labels[i] = (int32_t)(lt_next(&seed) % C);
    if (targets) {
        lt_fill(&seed, targets, N * C, 0.0f, 1.0f);
        for (int i = 0; i < N - 1; i++) { /* rows sum to 1, except the last */
            double s = 0.0;
            for (int j = 0; j < C; j++)
                s += targets[i * C + j];
            for (int j = 0; j < C; j++)
                targets[i * C + j] = (float)(targets[i * C + j] / s);
        }
    }
}

/* ---- cross-entropy, class labels ---- */

Test(loss, cross_entropy_forward) {
    float x[N * C], p[N * C];
    int32_t y[N];
    double xd[N * C];
    make_problem(11, x, y, NULL);
    to_double(N * C, x, xd);
    float l = ol_cross_entropy_forward(N, C, x, y, p);
    LT_CLOSE("ce", 0, l, ref_ce(N, C, xd, y), 0, 1e-6);
    float l2 = ol_cross_entropy_forward(N, C, x, y, NULL);
    cr_assert(l == l2, "probs pointer changed the loss: %g vs %g", l, l2);
    for (int i = 0; i < N; i++) {
        double lse = ref_lse(C, xd + i * C);
        for (int j = 0; j < C; j++)
            LT_CLOSE("ce probs", i * C + j, p[i * C + j], exp(xd[i * C + j] - lse), 1e-38, 1e-6);
    }
}

Test(loss, cross_entropy_extreme_logits) {
    float x[3 * 3] = {1e4f, 0.0f, -1e4f, 1e4f, 0.0f, -1e4f, 1e4f, 0.0f, -1e4f}, p[9];
    int32_t y[3] = {0, 1, 2};
    float l = ol_cross_entropy_forward(3, 3, x, y, p);
    cr_assert(isfinite(l), "loss not finite: %g", l);
    LT_CLOSE("ce(1e4)", 0, l, (0.0 + 1e4 + 2e4) / 3, 0, 1e-6);
    for (int k = 0; k < 9; k++)
        cr_assert(isfinite(p[k]), "probs[%d] = %g", k, p[k]);
    float d[9];
    ol_cross_entropy_backward(3, 3, x, y, 1.0f, d);
    for (int k = 0; k < 9; k++)
        cr_assert(isfinite(d[k]), "dlogits[%d] = %g", k, d[k]);
    LT_CLOSE("dce(1e4)", 3, d[3], 1.0 / 3, 0, 1e-6); /* row 1: p = [1,0,0], label 1 */
    LT_CLOSE("dce(1e4)", 4, d[4], -1.0 / 3, 0, 1e-6);
}

/* dL/dx for L(x) = scale * f(x), by central differences in double */
static void fd_check(const char *what, size_t n, const float *x, const float *got, double scale,
                     double (*f)(const double *, const void *), const void *ctx, double atol) {
    double *xd = malloc(n * sizeof *xd);
    cr_assert_not_null(xd);
    to_double(n, x, xd);
    for (size_t k = 0; k < n; k++) {
        double h = 1e-6 * (1.0 + fabs(xd[k])), x0 = xd[k];
        xd[k] = x0 + h;
        double fp = f(xd, ctx);
        xd[k] = x0 - h;
        double fm = f(xd, ctx);
        xd[k] = x0;
        LT_CLOSE(what, k, got[k], scale * (fp - fm) / (2 * h), atol, 1e-5);
    }
    free(xd);
}

static double f_ce(const double *x, const void *ctx) { return ref_ce(N, C, x, ctx); }
static double f_ce_soft(const double *x, const void *ctx) { return ref_ce_soft(N, C, x, ctx); }

Test(loss, cross_entropy_backward) {
    float x[N * C], d[N * C];
    int32_t y[N];
    make_problem(12, x, y, NULL);
    ol_cross_entropy_backward(N, C, x, y, 0.7f, d);
    fd_check("dce", N * C, x, d, 0.7, f_ce, y, 1e-7);
}

Test(loss, cross_entropy_soft_forward_backward) {
    float x[N * C], t[N * C], p[N * C], d[N * C];
    int32_t y[N];
    double xd[N * C];
    make_problem(13, x, y, t);
    to_double(N * C, x, xd);
    float l = ol_cross_entropy_soft_forward(N, C, x, t, p);
    LT_CLOSE("ce_soft", 0, l, ref_ce_soft(N, C, xd, t), 0, 1e-6);
    ol_cross_entropy_soft_backward(N, C, x, t, 1.3f, d);
    fd_check("dce_soft", N * C, x, d, 1.3, f_ce_soft, t, 1e-7);
}

Test(loss, cross_entropy_soft_onehot_matches_labels) {
    float x[N * C], t[N * C] = {0}, dh[N * C], ds[N * C];
    int32_t y[N];
    make_problem(14, x, y, NULL);
    for (int i = 0; i < N; i++)
        t[i * C + y[i]] = 1.0f;
    float lh = ol_cross_entropy_forward(N, C, x, y, NULL);
    float ls = ol_cross_entropy_soft_forward(N, C, x, t, NULL);
    LT_CLOSE("ce one-hot", 0, ls, lh, 0, 1e-6);
    ol_cross_entropy_backward(N, C, x, y, 1.0f, dh);
    ol_cross_entropy_soft_backward(N, C, x, t, 1.0f, ds);
    for (int k = 0; k < N * C; k++)
        LT_CLOSE("dce one-hot", k, ds[k], dh[k], 1e-9, 1e-6);
}

/* ---- bad labels ---- */

Test(loss, bad_labels_reported) {
    float x[N * C], d[N * C];
    int32_t y[N];
    make_problem(15, x, y, NULL);
    cr_assert_eq(ol_check_labels(N, C, y), -1);
    int acc_ok = ol_accuracy_count(N, C, x, y);
    y[4] = C; /* one past the end */
    y[6] = -1;
    cr_assert_eq(ol_check_labels(N, C, y), 4, "first bad label should be row 4");
    y[4] = 0;
    cr_assert_eq(ol_check_labels(N, C, y), 6, "negative label at row 6 not reported");
    y[4] = C;
    float l = ol_cross_entropy_forward(N, C, x, y, NULL);
    cr_assert(isnan(l), "forward with a bad label must return NaN, got %g", l);
    ol_cross_entropy_backward(N, C, x, y, 1.0f, d);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) {
            int bad = (i == 4 || i == 6);
            cr_assert(bad ? isnan(d[i * C + j]) : isfinite(d[i * C + j]), "dlogits[%d][%d] = %g", i, j,
                      d[i * C + j]);
        }
    cr_assert(ol_accuracy_count(N, C, x, y) <= acc_ok, "a bad label counted as correct");
}

/* ---- mse ---- */

enum { M = 1000 };
static double f_mse(const double *p, const void *t) { return ref_mse(M, p, t); }

Test(loss, mse_forward_backward) {
    float p[M], t[M], d[M];
    double pd[M];
    uint64_t s = 16;
    lt_fill(&s, p, M, -5.0f, 5.0f);
    lt_fill(&s, t, M, -5.0f, 5.0f);
    to_double(M, p, pd);
    LT_CLOSE("mse", 0, ol_mse_forward(M, p, t), ref_mse(M, pd, t), 0, 1e-6);
    ol_mse_backward(M, p, t, 0.5f, d);
    fd_check("dmse", M, p, d, 0.5, f_mse, t, 1e-8);
}

/* ---- binary cross-entropy with logits ---- */

static double f_bce(const double *x, const void *t) { return ref_bce(M, x, t); }

Test(loss, bce_with_logits_forward_backward) {
    float x[M], t[M], d[M];
    double xd[M];
    uint64_t s = 17;
    lt_fill(&s, x, M, -20.0f, 20.0f);
    lt_fill(&s, t, M, 0.0f, 1.0f);
    for (int i = 0; i < M; i += 3)
        t[i] = (float)(i % 2); /* hard 0/1 targets too */
    to_double(M, x, xd);
    LT_CLOSE("bce", 0, ol_binary_cross_entropy_with_logits_forward(M, x, t), ref_bce(M, xd, t), 0, 1e-6);
    ol_binary_cross_entropy_with_logits_backward(M, x, t, 2.0f, d);
    fd_check("dbce", M, x, d, 2.0, f_bce, t, 1e-8);
}

Test(loss, bce_with_logits_extreme) {
    float x[4] = {1e4f, -1e4f, 1e4f, -1e4f}, t[4] = {1, 0, 0, 1}, d[4];
    float l = ol_binary_cross_entropy_with_logits_forward(4, x, t);
    LT_CLOSE("bce(1e4)", 0, l, (0 + 0 + 1e4 + 1e4) / 4.0, 0, 1e-6);
    ol_binary_cross_entropy_with_logits_backward(4, x, t, 1.0f, d);
    float want[4] = {0, 0, 0.25f, -0.25f};
    for (int i = 0; i < 4; i++)
        LT_CLOSE("dbce(1e4)", i, d[i], want[i], 0, 0);
}

/* ---- accuracy ---- */

Test(loss, accuracy_count_first_max) {
    enum { NA = 200, CA = 5 };
    float x[NA * CA];
    int32_t y[NA];
    uint64_t s = 18;
    for (int k = 0; k < NA * CA; k++)
        x[k] = (float)(lt_next(&s) % 3); /* many ties */
    for (int i = 0; i < NA; i++)
        y[i] = (int32_t)(lt_next(&s) % CA);
    int want = 0;
    for (int i = 0; i < NA; i++) {
        int best = 0;
        for (int j = 0; j < CA; j++)
            if (x[i * CA + j] > x[i * CA + best])
                best = j;
        want += best == y[i];
    }
    cr_assert_eq(ol_accuracy_count(NA, CA, x, y), want);
    float tie[3] = {2, 2, 1};
    int32_t l0 = 0, l1 = 1;
    cr_assert_eq(ol_accuracy_count(1, 3, tie, &l0), 1, "tie must go to the first max");
    cr_assert_eq(ol_accuracy_count(1, 3, tie, &l1), 0, "tie must go to the first max");
}

Test(loss, empty_batch_is_nan) {
    cr_assert(isnan(ol_cross_entropy_forward(0, 3, NULL, NULL, NULL)));
    cr_assert(isnan(ol_mse_forward(0, NULL, NULL)));
}

/* ---- determinism across thread counts ---- */

Test(loss, threads_cross_entropy) {
    int n = 1 << 17, c = 8; /* 1<<20 logits */
    size_t nc = (size_t)n * c;
    float *x = lt_alloc(nc), *t = lt_alloc(nc);
    int32_t *y = malloc(n * sizeof *y);
    uint64_t s = 19;
    lt_fill(&s, x, nc, -20.0f, 20.0f);
    lt_fill(&s, t, nc, 0.0f, 0.25f);
    for (int i = 0; i < n; i++)
        y[i] = (int32_t)(lt_next(&s) % c);
    LT_SAME_1_2_THREADS(sizeof(float) * (nc + 1), out,
                        *(float *)out = ol_cross_entropy_forward(n, c, x, y, (float *)out + 1));
    LT_SAME_1_2_THREADS(sizeof(float) * nc, out, ol_cross_entropy_backward(n, c, x, y, 1.0f, (float *)out));
    LT_SAME_1_2_THREADS(sizeof(float), out, *(float *)out = ol_cross_entropy_soft_forward(n, c, x, t, NULL));
    LT_SAME_1_2_THREADS(sizeof(float) * nc, out,
                        ol_cross_entropy_soft_backward(n, c, x, t, 1.0f, (float *)out));
    LT_SAME_1_2_THREADS(sizeof(int), out, *(int *)out = ol_accuracy_count(n, c, x, y));
    free(x);
    free(t);
    free(y);
}

Test(loss, threads_mse_bce) {
    size_t n = LT_BIG;
    float *x = lt_alloc(n), *t = lt_alloc(n);
    uint64_t s = 20;
    lt_fill(&s, x, n, -20.0f, 20.0f);
    lt_fill(&s, t, n, 0.0f, 1.0f);
    LT_SAME_1_2_THREADS(sizeof(float), out, *(float *)out = ol_mse_forward(n, x, t));
    LT_SAME_1_2_THREADS(sizeof(float) * n, out, ol_mse_backward(n, x, t, 1.0f, (float *)out));
    LT_SAME_1_2_THREADS(sizeof(float), out,
                        *(float *)out = ol_binary_cross_entropy_with_logits_forward(n, x, t));
    LT_SAME_1_2_THREADS(sizeof(float) * n, out,
                        ol_binary_cross_entropy_with_logits_backward(n, x, t, 1.0f, (float *)out));
    free(x);
    free(t);
}
