/* ol_linear, ol_gemm: naive double references, central differences
 * of L = sum(y .* g), NULL paths, thread-count independence. */
#include <criterion/criterion.h>
#include <string.h>

#include "gemm.h"
#include "linear.h"
#include "nn_testutil.h"

typedef struct { int n, in, out; } ls;
static const ls cases[] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 33, 9 }, { 64, 256, 10 }, { 5, 300, 130 } };
static const ls seed = { 64, 5408, 256 };

/* y = x W^T + b in double; returns sum(y .* g) when g != NULL. */
static double ref_linear(ls c, const double *x, const double *w, const double *b, int relu,
                         const double *g, double *y, double *absy)
{
    double loss = 0.0;
    for (int i = 0; i < c.n; i++)
        for (int o = 0; o < c.out; o++) {
            double acc = b ? b[o] : 0.0, aa = b ? fabs(b[o]) : 0.0;
            for (int j = 0; j < c.in; j++) {
                double t = x[(size_t)i * c.in + j] * w[(size_t)o * c.in + j];
                acc += t; aa += fabs(t);
            }
            if (relu && acc < 0.0) acc = 0.0;
            if (y) y[(size_t)i * c.out + o] = acc;
            if (absy) absy[(size_t)i * c.out + o] = aa;
            if (g) loss += acc * g[(size_t)i * c.out + o];
        }
    return loss;
}

static void check_forward(ls c, int relu, int with_b)
{
    size_t nx = (size_t)c.n * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.n * c.out;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *b = malloc(4 * c.out), *y = malloc(4 * ny);
    nn_fill(x, nx, 1); nn_fill(w, nw, 2); nn_fill(b, c.out, 3); nn_fill_nan(y, ny);
    ol_linear_forward(c.n, c.in, c.out, x, w, with_b ? b : NULL, relu, y);
    double *xd = nn_todouble(x, nx), *wd = nn_todouble(w, nw), *bd = nn_todouble(b, c.out);
    double *yr = malloc(8 * ny), *ya = malloc(8 * ny);
    ref_linear(c, xd, wd, with_b ? bd : NULL, relu, NULL, yr, ya);
    for (size_t i = 0; i < ny; i++)
        cr_assert(fabs(y[i] - yr[i]) <= 1e-6 * ya[i] * sqrt(c.in + 1.0) * 4 + 1e-7,
                  "%dx%d->%d relu %d: y[%zu] = %.8g, reference %.8g", c.n, c.in, c.out, relu, i,
                  y[i], yr[i]);
    free(x); free(w); free(b); free(y); free(xd); free(wd); free(bd); free(yr); free(ya);
}

Test(linear, forward_matches_naive)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int v = 0; v < 4; v++) check_forward(cases[i], v & 1, !(v & 2));
    check_forward(seed, 1, 1);
}

/* Gradients vs central differences in double (L is linear in x, w, b: exact up to rounding).
 * Every coordinate for small shapes, a sample (every stride-th) for the Keras example CNN's. */
static void check_backward(ls c, size_t stride)
{
    size_t nx = (size_t)c.n * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.n * c.out;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *g = malloc(4 * ny);
    float *dx = malloc(4 * nx), *dw = malloc(4 * nw), *db = malloc(4 * c.out);
    nn_fill(x, nx, 4); nn_fill(w, nw, 5); nn_fill(g, ny, 6);
    nn_fill_nan(dx, nx); nn_fill_nan(dw, nw); nn_fill_nan(db, c.out);
    ol_linear_backward(c.n, c.in, c.out, x, w, g, dx, dw, db);
    double *xd = nn_todouble(x, nx), *wd = nn_todouble(w, nw), *gd = nn_todouble(g, ny);
    double *bd = calloc(c.out, 8);
    const double eps = 0.5;
    double tol_w = 1e-6 * sqrt(c.n) * 4 + 1e-6, tol_x = 1e-6 * sqrt(c.out) * 4 + 1e-6;
#define FD(p, i) ({ double o_ = p[i], lp_, lm_;                                  \
        p[i] = o_ + eps; lp_ = ref_linear(c, xd, wd, bd, 0, gd, NULL, NULL);      \
        p[i] = o_ - eps; lm_ = ref_linear(c, xd, wd, bd, 0, gd, NULL, NULL);      \
        p[i] = o_; (lp_ - lm_) / (2 * eps); })
    for (size_t i = 0; i < nw; i += stride) {
        double fd = FD(wd, i);
        cr_assert(fabs(dw[i] - fd) <= tol_w, "dw[%zu] = %.8g, finite difference %.8g", i, dw[i], fd);
    }
    for (size_t i = 0; i < nx; i += stride) {
        double fd = FD(xd, i);
        cr_assert(fabs(dx[i] - fd) <= tol_x, "dx[%zu] = %.8g, finite difference %.8g", i, dx[i], fd);
    }
    for (int i = 0; i < c.out; i += (int)(stride > 1 ? 17 : 1)) {
        double fd = FD(bd, i);
        cr_assert(fabs(db[i] - fd) <= tol_w, "db[%d] = %.8g, finite difference %.8g", i, db[i], fd);
    }
#undef FD
    free(x); free(w); free(g); free(dx); free(dw); free(db); free(xd); free(wd); free(gd); free(bd);
}

Test(linear, backward_matches_finite_differences)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_backward(cases[i], 1);
    check_backward(seed, 4099);
}

Test(linear, backward_null_dx_db)
{
    ls c = cases[4];
    size_t nx = (size_t)c.n * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.n * c.out;
    float *x = malloc(4 * nx), *w = malloc(4 * nw), *g = malloc(4 * ny), *dx = malloc(4 * nx);
    float *dw1 = malloc(4 * nw), *dw2 = malloc(4 * nw), *db = malloc(4 * c.out);
    nn_fill(x, nx, 7); nn_fill(w, nw, 8); nn_fill(g, ny, 9);
    ol_linear_backward(c.n, c.in, c.out, x, w, g, dx, dw1, db);
    nn_fill_nan(dw2, nw);
    ol_linear_backward(c.n, c.in, c.out, x, w, g, NULL, dw2, NULL);
    cr_assert(memcmp(dw1, dw2, 4 * nw) == 0, "dw differs without dx/db");
    free(x); free(w); free(g); free(dx); free(dw1); free(dw2); free(db);
}

Test(linear, bit_identical_1_vs_2_threads)
{
    ls cc[] = { seed, { 64, 256, 10 }, { 200, 1000, 300 } };
    for (int t = 0; t < 3; t++) {
        ls c = cc[t];
        size_t nx = (size_t)c.n * c.in, nw = (size_t)c.out * c.in, ny = (size_t)c.n * c.out;
        float *x = malloc(4 * nx), *w = malloc(4 * nw), *b = malloc(4 * c.out), *g = malloc(4 * ny);
        nn_fill(x, nx, 12); nn_fill(w, nw, 13); nn_fill(b, c.out, 14); nn_fill(g, ny, 15);
        float *o[2][4];
        for (int th = 1; th <= 2; th++) {
            nn_threads(th);
            float **r = o[th - 1];
            r[0] = malloc(4 * ny); r[1] = malloc(4 * nx); r[2] = malloc(4 * nw); r[3] = malloc(4 * c.out);
            ol_linear_forward(c.n, c.in, c.out, x, w, b, 1, r[0]);
            ol_linear_backward(c.n, c.in, c.out, x, w, g, r[1], r[2], r[3]);
        }
        nn_threads(2);
        cr_assert(memcmp(o[0][0], o[1][0], 4 * ny) == 0, "case %d: y differs", t);
        cr_assert(memcmp(o[0][1], o[1][1], 4 * nx) == 0, "case %d: dx differs", t);
        cr_assert(memcmp(o[0][2], o[1][2], 4 * nw) == 0, "case %d: dw differs", t);
        cr_assert(memcmp(o[0][3], o[1][3], 4 * c.out) == 0, "case %d: db differs", t);
        for (int a = 0; a < 2; a++) for (int j = 0; j < 4; j++) free(o[a][j]);
        free(x); free(w); free(b); free(g);
    }
}

/* The shape that made plain bli_sgemm differ between 1 and 2 threads (conv dW, k-contiguous
 * operands): ol_gemm must agree with itself, and with a double reference. */
Test(linear, sgemm_skinny_bit_identical)
{
    int m = 32, n = 9, k = 43264;
    float *a = malloc(4 * (size_t)m * k), *b = malloc(4 * (size_t)k * n), *c1 = malloc(4 * m * n),
          *c2 = malloc(4 * m * n);
    nn_fill(a, (size_t)m * k, 16); nn_fill(b, (size_t)k * n, 17);
    nn_threads(1);
    ol_gemm(m, n, k, 1.0f, a, k, 1, b, 1, k, 0.0f, c1, n, 1);
    nn_threads(2);
    ol_gemm(m, n, k, 1.0f, a, k, 1, b, 1, k, 0.0f, c2, n, 1);
    cr_assert(memcmp(c1, c2, 4 * m * n) == 0);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int l = 0; l < k; l++) s += (double)a[(size_t)i * k + l] * b[(size_t)j * k + l];
            cr_assert(fabs(c2[i * n + j] - s) < 1e-2, "c[%d,%d] = %g, reference %g", i, j, c2[i * n + j], s);
        }
    free(a); free(b); free(c1); free(c2);
}
