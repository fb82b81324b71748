/* ol_maxpool2d / ol_avgpool2d: naive references, central differences, thread independence. */
#include <criterion/criterion.h>
#include <string.h>

#include "nn_testutil.h"
#include "pool.h"

typedef struct { int n, c, h, w, kh, kw, sh, sw, ph, pw; } ps;
static const ps cases[] = {
    { 2, 3, 8, 8, 2, 2, 2, 2, 0, 0 },  /* the common 2x2/2 */
    { 2, 2, 7, 9, 2, 2, 2, 2, 0, 0 },  /* odd sizes: last row/column dropped */
    { 1, 3, 7, 7, 3, 3, 2, 2, 1, 1 },  /* 3x3/2, padding 1 */
    { 2, 2, 6, 5, 3, 3, 1, 1, 0, 0 },  /* overlapping windows */
    { 1, 2, 9, 6, 3, 2, 2, 1, 1, 1 },  /* rectangular kernel, mixed */
    { 64, 32, 26, 26, 2, 2, 2, 2, 0, 0 }, /* the Keras example CNN's */
};

static ol_pool2d_shape mk(ps c)
{
    ol_pool2d_shape s;
    int rc = ol_pool2d_shape_init(&s, c.n, c.c, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw);
    cr_assert_eq(rc, 0, "%s", ol_pool2d_strerror(rc));
    return s;
}

/* x as distinct values (a shuffled ramp, 0.01 apart): no ties, so max pooling is
 * differentiable with finite differences of step < 0.005. */
static void fill_distinct(float *x, size_t n, uint64_t seed)
{
    float *r = calloc(n ? n : 1, sizeof(float));
    nn_fill(r, n, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)i * 0.01f - (float)n * 0.005f;
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates with the random floats */
        size_t j = (size_t)((r[i] + 1.0f) * 0.5f * (float)(i + 1)) % (i + 1);
        float t = x[i]; x[i] = x[j]; x[j] = t;
    }
    free(r);
}

/* Reference pooling in double; max = 1 for max, 0 for average (count_include_pad). */
static double ref_pool(const ol_pool2d_shape *s, const double *x, int max, const double *g,
                       double *y, int32_t *idx)
{
    double loss = 0;
    size_t o = 0;
    for (int pl = 0; pl < s->n * s->c; pl++)
        for (int p = 0; p < s->p; p++)
            for (int q = 0; q < s->q; q++, o++) {
                double m = -INFINITY, sum = 0;
                int best = -1;
                for (int i = 0; i < s->kh; i++)
                    for (int j = 0; j < s->kw; j++) {
                        int ih = p * s->stride_h - s->pad_h + i, iw = q * s->stride_w - s->pad_w + j;
                        if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
                        double v = x[(size_t)pl * s->h * s->w + ih * s->w + iw];
                        sum += v;
                        if (v > m) { m = v; best = ih * s->w + iw; }
                    }
                double r = max ? m : sum / (s->kh * s->kw);
                if (y) y[o] = r;
                if (idx) idx[o] = best;
                if (g) loss += r * g[o];
            }
    return loss;
}

static void check(ps c, int max, size_t stride)
{
    ol_pool2d_shape s = mk(c);
    size_t nx = (size_t)c.n * c.c * c.h * c.w, ny = (size_t)c.n * c.c * s.p * s.q;
    float *x = malloc(4 * nx), *y = malloc(4 * ny), *g = malloc(4 * ny), *dx = malloc(4 * nx);
    int32_t *idx = malloc(4 * ny), *ridx = malloc(4 * ny);
    fill_distinct(x, nx, 3); nn_fill(g, ny, 4);
    nn_fill_nan(y, ny); nn_fill_nan(dx, nx);
    double *xd = nn_todouble(x, nx), *gd = nn_todouble(g, ny), *yr = malloc(8 * ny);
    ref_pool(&s, xd, max, NULL, yr, ridx);
    if (max) {
        ol_maxpool2d_forward(&s, x, y, idx);
        ol_maxpool2d_backward(&s, g, idx, dx);
    } else {
        ol_avgpool2d_forward(&s, x, y);
        ol_avgpool2d_backward(&s, g, dx);
    }
    double xmax = 0; /* float sums of kh*kw inputs round relative to the inputs, not to y */
    for (size_t i = 0; i < nx; i++) xmax = fmax(xmax, fabs(xd[i]));
    for (size_t i = 0; i < ny; i++) {
        cr_assert(fabs(y[i] - yr[i]) <= 4e-7 * xmax * c.kh * c.kw + 1e-7, "%s y[%zu] = %.8g, reference %.8g",
                  max ? "max" : "avg", i, y[i], yr[i]);
        if (max) cr_assert_eq(idx[i], ridx[i], "argmax[%zu]", i);
    }
    const double eps = 1e-3;
    for (size_t i = 0; i < nx; i += stride) {
        double o = xd[i], lp, lm;
        xd[i] = o + eps; lp = ref_pool(&s, xd, max, gd, NULL, NULL);
        xd[i] = o - eps; lm = ref_pool(&s, xd, max, gd, NULL, NULL);
        xd[i] = o;
        double fd = (lp - lm) / (2 * eps);
        cr_assert(fabs(dx[i] - fd) <= 1e-5 * (1 + fabs(fd)), "%s dx[%zu] = %.8g, finite difference %.8g",
                  max ? "max" : "avg", i, dx[i], fd);
    }
    free(x); free(y); free(g); free(dx); free(idx); free(ridx); free(xd); free(gd); free(yr);
}

Test(pool, maxpool_forward_backward)
{
    for (size_t i = 0; i + 1 < sizeof cases / sizeof *cases; i++) check(cases[i], 1, 1);
    check(cases[5], 1, 9973);
}

Test(pool, avgpool_forward_backward)
{
    for (size_t i = 0; i + 1 < sizeof cases / sizeof *cases; i++) check(cases[i], 0, 1);
    check(cases[5], 0, 9973);
}

/* count_include_pad: a corner window of a padded 3x3 pool holds 4 real inputs, divided by 9 */
Test(pool, avgpool_counts_padding)
{
    ol_pool2d_shape s = mk((ps){ 1, 1, 2, 2, 3, 3, 1, 1, 1, 1 });
    float x[4] = { 1, 2, 3, 4 }, y[4], dx[4], dy[4] = { 9, 0, 0, 0 };
    ol_avgpool2d_forward(&s, x, y);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(y[i], 10.0f / 9.0f, 1e-6);
    ol_avgpool2d_backward(&s, dy, dx);
    for (int i = 0; i < 4; i++) cr_assert_float_eq(dx[i], 1.0f, 1e-6);
}

/* NaN propagates (PyTorch), and padding never wins over real inputs */
Test(pool, maxpool_nan_and_padding)
{
    ol_pool2d_shape s = mk((ps){ 1, 1, 2, 2, 2, 2, 2, 2, 0, 0 });
    float x[4] = { 1, NAN, 3, 2 }, y[1];
    int32_t idx[1];
    ol_maxpool2d_forward(&s, x, y, idx);
    cr_assert(isnan(y[0])); cr_assert_eq(idx[0], 1);
    s = mk((ps){ 1, 1, 2, 2, 3, 3, 2, 2, 1, 1 });
    float xn[4] = { -5, -4, -3, -2 };
    ol_maxpool2d_forward(&s, xn, y, idx);
    cr_assert_eq(y[0], -2.0f); cr_assert_eq(idx[0], 3);
}

Test(pool, bit_identical_1_vs_2_threads)
{
    ps c = cases[5];
    ol_pool2d_shape s = mk(c);
    size_t nx = (size_t)c.n * c.c * c.h * c.w, ny = (size_t)c.n * c.c * s.p * s.q;
    float *x = malloc(4 * nx), *g = malloc(4 * ny), *y[2][2], *dx[2][2];
    int32_t *idx[2];
    nn_fill(x, nx, 5); nn_fill(g, ny, 6);
    for (int t = 0; t < 2; t++) {
        nn_threads(t + 1);
        for (int m = 0; m < 2; m++) { y[t][m] = malloc(4 * ny); dx[t][m] = malloc(4 * nx); }
        idx[t] = malloc(4 * ny);
        ol_maxpool2d_forward(&s, x, y[t][0], idx[t]);
        ol_maxpool2d_backward(&s, g, idx[t], dx[t][0]);
        ol_avgpool2d_forward(&s, x, y[t][1]);
        ol_avgpool2d_backward(&s, g, dx[t][1]);
    }
    nn_threads(2);
    cr_assert(memcmp(idx[0], idx[1], 4 * ny) == 0);
    for (int m = 0; m < 2; m++) {
        cr_assert(memcmp(y[0][m], y[1][m], 4 * ny) == 0, "y differs (%s)", m ? "avg" : "max");
        cr_assert(memcmp(dx[0][m], dx[1][m], 4 * nx) == 0, "dx differs (%s)", m ? "avg" : "max");
    }
    for (int t = 0; t < 2; t++) {
        for (int m = 0; m < 2; m++) { free(y[t][m]); free(dx[t][m]); }
        free(idx[t]);
    }
    free(x); free(g);
}

Test(pool, shape_errors)
{
    ol_pool2d_shape s;
    cr_assert_eq(ol_pool2d_shape_init(&s, 64, 32, 26, 26, 2, 2, 2, 2, 0, 0), 0);
    cr_assert_eq(s.p, 13); cr_assert_eq(s.q, 13);
    cr_assert_eq(ol_pool2d_shape_init(&s, 1, 1, 7, 7, 2, 2, 2, 2, 0, 0), 0);
    cr_assert_eq(s.p, 3);
    cr_assert_eq(ol_pool2d_shape_init(&s, 1, 0, 7, 7, 2, 2, 2, 2, 0, 0), OL_POOL_EDIM);
    cr_assert_eq(ol_pool2d_shape_init(&s, 1, 1, 7, 7, 2, 2, 0, 2, 0, 0), OL_POOL_ESTRIDE);
    cr_assert_eq(ol_pool2d_shape_init(&s, 1, 1, 7, 7, 2, 2, 2, 2, 2, 0), OL_POOL_EPAD);
    cr_assert_eq(ol_pool2d_shape_init(&s, 1, 1, 1, 7, 2, 2, 2, 2, 0, 0), OL_POOL_EKERNEL);
    cr_assert(strstr(ol_pool2d_strerror(OL_POOL_EPAD), "padding") != NULL);
}
