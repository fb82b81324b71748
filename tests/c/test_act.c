/* Activations: forward against double references (random and extreme inputs),
 * backward against central finite differences of the double reference,
 * 1-vs-2-thread bit equality on >= 1<<20 elements. */
#include "act.h"
#include "layer_testutil.h"

/* ---- element-wise ops behind one signature ---- */

typedef struct {
    const char *name;
    void (*fwd)(size_t, const float *, float *, float);
    /* backward gets x and y; each op uses the one its header documents */
    void (*bwd)(size_t, const float *x, const float *y, const float *dy, float *dx, float);
    double (*ref)(double x, double p);
    float param;
    int kink_at_0; /* derivative undefined at 0: keep FD points away from it */
    double fwd_atol, fwd_rtol;
} ew_op;

static void relu_f(size_t n, const float *x, float *y, float p) { ol_relu_forward(n, x, y); }
static void relu_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_relu_backward(n, x, dy, dx);
}
static double relu_r(double x, double p) { return x < 0 ? 0 : x; }

static void leaky_f(size_t n, const float *x, float *y, float p) { ol_leaky_relu_forward(n, x, y, p); }
static void leaky_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_leaky_relu_backward(n, x, dy, dx, p);
}
static double leaky_r(double x, double p) { return x < 0 ? p * x : x; }

static void elu_f(size_t n, const float *x, float *y, float p) { ol_elu_forward(n, x, y, p); }
static void elu_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_elu_backward(n, x, dy, dx, p);
}
static double elu_r(double x, double p) { return x > 0 ? x : p * expm1(x); }

static void tanh_f(size_t n, const float *x, float *y, float p) { ol_tanh_forward(n, x, y); }
static void tanh_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_tanh_backward(n, y, dy, dx);
}
static double tanh_r(double x, double p) { return tanh(x); }

static void sigmoid_f(size_t n, const float *x, float *y, float p) { ol_sigmoid_forward(n, x, y); }
static void sigmoid_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_sigmoid_backward(n, y, dy, dx);
}
static double sigmoid_r(double x, double p) { return 1.0 / (1.0 + exp(-x)); }

static void gelu_f(size_t n, const float *x, float *y, float p) { ol_gelu_forward(n, x, y, OL_GELU_NONE); }
static void gelu_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_gelu_backward(n, x, dy, dx, OL_GELU_NONE);
}
static double gelu_r(double x, double p) { return 0.5 * x * erfc(-x / sqrt(2.0)); }

static void gelut_f(size_t n, const float *x, float *y, float p) { ol_gelu_forward(n, x, y, OL_GELU_TANH); }
static void gelut_b(size_t n, const float *x, const float *y, const float *dy, float *dx, float p) {
    ol_gelu_backward(n, x, dy, dx, OL_GELU_TANH);
}
static double gelut_r(double x, double p) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* Forward tolerances: a few ulp relative, atol below FLT_MIN (denormal results
 * of e.g. sigmoid(-100) carry few bits). gelu erfc(-x/sqrt2) amplifies the
 * rounding of its argument by ~|x|^2 for x << 0; the tanh form computes
 * 1 + tanh(u) which cancels for x << 0, so it gets an absolute floor. */
static const ew_op OPS[] = {
    {"relu", relu_f, relu_b, relu_r, 0.0f, 1, 1e-38, 0},
    {"leaky_relu", leaky_f, leaky_b, leaky_r, 0.01f, 1, 1e-38, 1e-7},
    {"elu", elu_f, elu_b, elu_r, 1.0f, 1, 1e-38, 3e-7},
    {"elu_alpha", elu_f, elu_b, elu_r, 0.5f, 1, 1e-38, 3e-7},
    {"tanh", tanh_f, tanh_b, tanh_r, 0.0f, 0, 1e-38, 3e-7},
    {"sigmoid", sigmoid_f, sigmoid_b, sigmoid_r, 0.0f, 0, 1e-38, 3e-7},
    {"gelu", gelu_f, gelu_b, gelu_r, 0.0f, 0, 1e-38, 2e-5},
    {"gelu_tanh", gelut_f, gelut_b, gelut_r, 0.0f, 0, 1e-6, 1e-6},
};
enum { NOPS = sizeof OPS / sizeof OPS[0] };

static const float SPECIAL[] = {0.0f, -0.0f, 1e-3f, -1e-3f, 0.5f, -0.5f, 3.0f, -3.0f, 20.0f,
                                -20.0f, 100.0f, -100.0f, 1000.0f, -1000.0f, 1e-30f, -1e-30f};
enum { NSPECIAL = sizeof SPECIAL / sizeof SPECIAL[0], NRAND = 4096 };

static void fill_inputs(uint64_t seed, float *x, size_t n) {
    lt_fill(&seed, x, n, -8.0f, 8.0f);
    memcpy(x, SPECIAL, sizeof SPECIAL);
}

static void check_forward(const ew_op *op) {
    size_t n = NSPECIAL + NRAND;
    float *x = lt_alloc(n), *y = lt_alloc(n);
    fill_inputs(1, x, n);
    op->fwd(n, x, y, op->param);
    for (size_t i = 0; i < n; i++)
        LT_CLOSE(op->name, i, y[i], op->ref(x[i], op->param), op->fwd_atol, op->fwd_rtol);
    free(x);
    free(y);
}

/* dx against dy * (f(x+h) - f(x-h)) / 2h in double. Float error of the
 * kernels (e.g. 1 - y*y for tanh near saturation) stays below 1e-6 absolute;
 * a wrong sign or a missing term is off by O(1). */
static void check_backward(const ew_op *op) {
    size_t n = NSPECIAL + NRAND;
    float *x = lt_alloc(n), *y = lt_alloc(n), *dy = lt_alloc(n), *dx = lt_alloc(n);
    uint64_t s = 2;
    fill_inputs(3, x, n);
    lt_fill(&s, dy, n, -2.0f, 2.0f);
    if (op->kink_at_0)
        for (size_t i = 0; i < n; i++)
            if (fabsf(x[i]) < 1e-4f)
                x[i] = 0.25f;
    op->fwd(n, x, y, op->param);
    op->bwd(n, x, y, dy, dx, op->param);
    for (size_t i = 0; i < n; i++) {
        double h = 1e-6 * (1.0 + fabs(x[i]));
        double d = (op->ref(x[i] + h, op->param) - op->ref(x[i] - h, op->param)) / (2 * h);
        LT_CLOSE(op->name, i, dx[i], dy[i] * d, 1e-6, 1e-5);
    }
    free(x);
    free(y);
    free(dy);
    free(dx);
}

static void check_threads(const ew_op *op) {
    size_t n = LT_BIG;
    float *x = lt_alloc(n), *y = lt_alloc(n), *dy = lt_alloc(n);
    uint64_t s = 4;
    lt_fill(&s, x, n, -10.0f, 10.0f);
    lt_fill(&s, dy, n, -1.0f, 1.0f);
    op->fwd(n, x, y, op->param);
    LT_SAME_1_2_THREADS(n * sizeof(float), out, op->fwd(n, x, (float *)out, op->param));
    LT_SAME_1_2_THREADS(n * sizeof(float), out, op->bwd(n, x, y, dy, (float *)out, op->param));
    free(x);
    free(y);
    free(dy);
}

#define EW_TESTS(idx, tag)                                 \
    Test(act, tag##_forward) { check_forward(&OPS[idx]); }   \
    Test(act, tag##_backward) { check_backward(&OPS[idx]); } \
    Test(act, tag##_threads) { check_threads(&OPS[idx]); }
EW_TESTS(0, relu)
EW_TESTS(1, leaky_relu)
EW_TESTS(2, elu)
EW_TESTS(3, elu_alpha)
EW_TESTS(4, tanh)
EW_TESTS(5, sigmoid)
EW_TESTS(6, gelu)
EW_TESTS(7, gelu_tanh)

Test(act, relu_propagates_nan) {
    float x[2] = {NAN, -1.0f}, y[2];
    ol_relu_forward(2, x, y);
    cr_assert(isnan(y[0]) && y[1] == 0.0f);
}

Test(act, gelu_flag_selects_formula) {
    /* the two forms differ by ~1e-4 near x = -2; the flag must pick one */
    float x = -2.0f, ye, yt;
    ol_gelu_forward(1, &x, &ye, OL_GELU_NONE);
    ol_gelu_forward(1, &x, &yt, OL_GELU_TANH);
    LT_CLOSE("gelu(-2)", 0, ye, gelu_r(-2.0, 0), 0, 1e-5);
    LT_CLOSE("gelu_tanh(-2)", 0, yt, gelut_r(-2.0, 0), 0, 1e-5);
    cr_assert(fabs(ye - yt) > 1e-5, "gelu and gelu_tanh agree too closely: %g %g", ye, yt);
}

/* ---- softmax / log_softmax ---- */

static void ref_softmax_row(int c, const double *x, double *y, int log_form) {
    double m = x[0], s = 0.0;
    for (int j = 1; j < c; j++)
        m = x[j] > m ? x[j] : m;
    for (int j = 0; j < c; j++)
        s += exp(x[j] - m);
    for (int j = 0; j < c; j++)
        y[j] = log_form ? x[j] - m - log(s) : exp(x[j] - m) / s;
}

enum { R = 6, C = 17 };

static void make_rows(float *x) {
    uint64_t s = 5;
    lt_fill(&s, x, R * C, -10.0f, 10.0f);
    /* a row with a huge spread: naive exp would overflow */
    for (int j = 0; j < C; j++)
        x[C + j] = (float)(1000 - 1000 * (j % 3));
    /* a row of equal entries */
    for (int j = 0; j < C; j++)
        x[2 * C + j] = 88.0f;
}

static void check_rows_forward(int log_form) {
    float x[R * C], y[R * C];
    double xd[C], yd[C];
    make_rows(x);
    (log_form ? ol_log_softmax_forward : ol_softmax_forward)(R, C, x, y);
    for (int r = 0; r < R; r++) {
        for (int j = 0; j < C; j++)
            xd[j] = x[r * C + j];
        ref_softmax_row(C, xd, yd, log_form);
        for (int j = 0; j < C; j++)
            LT_CLOSE(log_form ? "log_softmax" : "softmax", r * C + j, y[r * C + j], yd[j],
                     log_form ? 2e-6 : 1e-38, 1e-6);
    }
}

Test(act, softmax_forward) { check_rows_forward(0); }
Test(act, log_softmax_forward) { check_rows_forward(1); }

Test(act, softmax_extreme_row) {
    float x[3] = {1000.0f, 0.0f, -1000.0f}, y[3], ly[3];
    ol_softmax_forward(1, 3, x, y);
    ol_log_softmax_forward(1, 3, x, ly);
    cr_assert(y[0] == 1.0f && y[1] == 0.0f && y[2] == 0.0f, "softmax = [%g %g %g]", y[0], y[1], y[2]);
    cr_assert(ly[0] == 0.0f && ly[1] == -1000.0f && ly[2] == -2000.0f, "log_softmax = [%g %g %g]",
              ly[0], ly[1], ly[2]);
}

/* d/dx_k of L = sum_j dy_j f(x)_j, by central differences on the double reference */
static void check_rows_backward(int log_form) {
    float x[R * C], y[R * C], dy[R * C], dx[R * C];
    double xd[C], yp[C], ym[C];
    uint64_t s = 6;
    make_rows(x);
    lt_fill(&s, dy, R * C, -1.0f, 1.0f);
    (log_form ? ol_log_softmax_forward : ol_softmax_forward)(R, C, x, y);
    (log_form ? ol_log_softmax_backward : ol_softmax_backward)(R, C, y, dy, dx);
    for (int r = 0; r < R; r++) {
        for (int k = 0; k < C; k++) {
            for (int j = 0; j < C; j++)
                xd[j] = x[r * C + j];
            double h = 1e-6 * (1.0 + fabs(xd[k]));
            xd[k] += h;
            ref_softmax_row(C, xd, yp, log_form);
            xd[k] -= 2 * h;
            ref_softmax_row(C, xd, ym, log_form);
            double g = 0.0;
            for (int j = 0; j < C; j++)
                g += dy[r * C + j] * (yp[j] - ym[j]) / (2 * h);
            LT_CLOSE(log_form ? "log_softmax'" : "softmax'", r * C + k, dx[r * C + k], g, 1e-6, 1e-5);
        }
    }
}

Test(act, softmax_backward) { check_rows_backward(0); }
Test(act, log_softmax_backward) { check_rows_backward(1); }

static void check_rows_threads(int log_form) {
    int rows = 16411, cols = 64; /* 1,050,304 elements */
    size_t n = (size_t)rows * cols;
    float *x = lt_alloc(n), *y = lt_alloc(n), *dy = lt_alloc(n);
    uint64_t s = 7;
    lt_fill(&s, x, n, -30.0f, 30.0f);
    lt_fill(&s, dy, n, -1.0f, 1.0f);
    void (*fwd)(int, int, const float *, float *) = log_form ? ol_log_softmax_forward : ol_softmax_forward;
    void (*bwd)(int, int, const float *, const float *, float *) =
        log_form ? ol_log_softmax_backward : ol_softmax_backward;
    fwd(rows, cols, x, y);
    LT_SAME_1_2_THREADS(n * sizeof(float), out, fwd(rows, cols, x, (float *)out));
    LT_SAME_1_2_THREADS(n * sizeof(float), out, bwd(rows, cols, y, dy, (float *)out));
    free(x);
    free(y);
    free(dy);
}

Test(act, softmax_threads) { check_rows_threads(0); }
Test(act, log_softmax_threads) { check_rows_threads(1); }
