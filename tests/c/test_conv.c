/* ol_conv2d: forward vs naive double loops, backward vs central differences of
 * L = sum(y .* g) computed in double, NULL paths, thread-count independence. */
#include <criterion/criterion.h>
#include <string.h>

#include "conv.h"
#include "nn_testutil.h"

typedef struct { int n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw; } cs;

static const cs cases[] = {
    { 2, 3, 7, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1 },   /* 1x1 kernel, C > 1 */
    { 2, 3, 9, 8, 4, 3, 3, 2, 2, 0, 0, 1, 1 },   /* stride 2 */
    { 2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1 },   /* padding 1 ("same") */
    { 1, 2, 11, 10, 3, 3, 3, 1, 1, 0, 0, 2, 2 }, /* dilation 2 */
    { 3, 4, 9, 7, 2, 3, 2, 2, 1, 1, 0, 1, 2 },   /* odd sizes, mixed everything */
    { 2, 2, 5, 5, 3, 5, 5, 1, 1, 2, 2, 1, 1 },   /* kernel as large as the input, padded */
    { 2, 1, 6, 9, 3, 3, 3, 3, 2, 1, 2, 1, 1 },   /* C = 1, stride 3/2, padding > stride-1 */
    { 1, 3, 8, 8, 2, 1, 1, 2, 2, 0, 0, 1, 1 },   /* 1x1 stride 2 */
    { 2, 4, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1 },   /* stride 1 with 36 taps: im2col+GEMM, not direct */
    { 3, 2, 6, 19, 7, 2, 2, 1, 1, 0, 1, 1, 1 },  /* direct: 8 taps, odd K, padding on one axis */
};
static const cs seed = { 64, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1 };

static ol_conv2d_shape mkshape(cs c)
{
    ol_conv2d_shape s;
    int rc = ol_conv2d_shape_init(&s, c.n, c.c, c.h, c.w, c.k, c.r, c.s, c.sh, c.sw, c.ph, c.pw,
                                  c.dh, c.dw);
    cr_assert_eq(rc, 0, "shape init: %s", ol_conv2d_strerror(rc));
    return s;
}

/* Naive convolution in double; y may be NULL. Returns sum(y .* g) when g != NULL.
 * absy (optional) receives sum |b| + sum |w x| per output, the scale of its rounding error. */
static double ref_conv(const ol_conv2d_shape *s, const double *x, const double *w, const double *b,
                       int relu, const double *g, double *y, double *absy)
{
    double loss = 0.0;
    size_t o = 0;
    for (int n = 0; n < s->n; n++)
        for (int k = 0; k < s->k; k++)
            for (int p = 0; p < s->p; p++)
                for (int q = 0; q < s->q; q++, o++) {
                    double acc = b ? b[k] : 0.0, aa = b ? fabs(b[k]) : 0.0;
                    for (int c = 0; c < s->c; c++)
                        for (int i = 0; i < s->r; i++)
                            for (int j = 0; j < s->s; j++) {
                                int ih = p * s->stride_h + i * s->dil_h - s->pad_h;
                                int iw = q * s->stride_w + j * s->dil_w - s->pad_w;
                                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
                                double t = w[((k * s->c + c) * s->r + i) * s->s + j] *
                                           x[((size_t)(n * s->c + c) * s->h + ih) * s->w + iw];
                                acc += t;
                                aa += fabs(t);
                            }
                    if (relu && acc < 0.0) acc = 0.0;
                    if (y) y[o] = acc;
                    if (absy) absy[o] = aa;
                    if (g) loss += acc * g[o];
                }
    return loss;
}

typedef struct {
    ol_conv2d_shape s;
    size_t nx, nw, ny, nws;
    float *x, *w, *b, *y, *g, *dx, *dw, *db, *ws;
} conv_buf;

static conv_buf mkbuf(cs c, uint64_t seed_)
{
    conv_buf B = { .s = mkshape(c) };
    B.nx = (size_t)c.n * c.c * c.h * c.w;
    B.nw = (size_t)c.k * c.c * c.r * c.s;
    B.ny = (size_t)c.n * c.k * B.s.p * B.s.q;
    B.nws = ol_conv2d_workspace_floats(&B.s);
    B.x = malloc(sizeof(float) * B.nx); B.dx = malloc(sizeof(float) * B.nx);
    B.w = malloc(sizeof(float) * B.nw); B.dw = malloc(sizeof(float) * B.nw);
    B.b = malloc(sizeof(float) * c.k);  B.db = malloc(sizeof(float) * c.k);
    B.y = malloc(sizeof(float) * B.ny); B.g = malloc(sizeof(float) * B.ny);
    B.ws = malloc(sizeof(float) * B.nws);
    nn_fill(B.x, B.nx, seed_); nn_fill(B.w, B.nw, seed_ + 1); nn_fill(B.b, c.k, seed_ + 2);
    nn_fill(B.g, B.ny, seed_ + 3);
    /* garbage everywhere the kernel must overwrite */
    nn_fill_nan(B.y, B.ny); nn_fill_nan(B.dx, B.nx); nn_fill_nan(B.dw, B.nw);
    nn_fill_nan(B.db, c.k); nn_fill_nan(B.ws, B.nws);
    return B;
}

static void freebuf(conv_buf *B)
{
    free(B->x); free(B->dx); free(B->w); free(B->dw); free(B->b); free(B->db);
    free(B->y); free(B->g); free(B->ws);
}

static void check_forward(cs c, int relu, int with_bias)
{
    conv_buf B = mkbuf(c, 11);
    ol_conv2d_forward(&B.s, B.x, B.w, with_bias ? B.b : NULL, relu, B.y, B.ws);
    double *xd = nn_todouble(B.x, B.nx), *wd = nn_todouble(B.w, B.nw), *bd = nn_todouble(B.b, c.k);
    double *yr = malloc(sizeof(double) * B.ny), *ya = malloc(sizeof(double) * B.ny);
    ref_conv(&B.s, xd, wd, with_bias ? bd : NULL, relu, NULL, yr, ya);
    for (size_t i = 0; i < B.ny; i++)
        cr_assert(fabs(B.y[i] - yr[i]) <= 1e-6 * ya[i] * (c.c * c.r * c.s + 1) + 1e-7,
                  "case %dx%dx%dx%d k%d %dx%d: y[%zu] = %.8g, reference %.8g", c.n, c.c, c.h, c.w,
                  c.k, c.r, c.s, i, B.y[i], yr[i]);
    free(xd); free(wd); free(bd); free(yr); free(ya);
    freebuf(&B);
}

Test(conv, forward_matches_naive)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check_forward(cases[i], 0, 1);
        check_forward(cases[i], 1, 1);
        check_forward(cases[i], 0, 0);
    }
}

Test(conv, forward_seed_shape)
{
    check_forward(seed, 1, 1);
    check_forward(seed, 0, 1);
}

/* Gradients against central differences of L = sum(y .* g) in double. L is linear in x, w, b,
 * so the difference is exact up to double rounding: tolerances are float-rounding sized.
 * stride_fd > 1 samples every stride_fd-th coordinate (large shapes). */
static void check_backward(cs c, size_t stride_fd)
{
    conv_buf B = mkbuf(c, 23);
    ol_conv2d_backward(&B.s, B.x, B.w, B.g, B.dx, B.dw, B.db, B.ws);
    double *xd = nn_todouble(B.x, B.nx), *wd = nn_todouble(B.w, B.nw), *bd = nn_todouble(B.b, c.k);
    double *gd = nn_todouble(B.g, B.ny);
    const double eps = 0.5;
    /* float accumulation over up to n*p*q terms of size <= 1 */
    double tol_w = 2e-7 * sqrt((double)c.n * B.s.p * B.s.q) * 8 + 1e-6;
    double tol_x = 2e-7 * c.k * c.r * c.s + 1e-6;
    for (size_t i = 0; i < B.nw; i += stride_fd) {
        double o = wd[i], lp, lm;
        wd[i] = o + eps; lp = ref_conv(&B.s, xd, wd, bd, 0, gd, NULL, NULL);
        wd[i] = o - eps; lm = ref_conv(&B.s, xd, wd, bd, 0, gd, NULL, NULL);
        wd[i] = o;
        double fd = (lp - lm) / (2 * eps);
        cr_assert(fabs(B.dw[i] - fd) <= tol_w * (1 + fabs(fd) * 1e-3),
                  "dw[%zu] = %.8g, finite difference %.8g", i, B.dw[i], fd);
    }
    for (int i = 0; i < c.k; i += (stride_fd > 1 ? 7 : 1)) {
        double o = bd[i], lp, lm;
        bd[i] = o + eps; lp = ref_conv(&B.s, xd, wd, bd, 0, gd, NULL, NULL);
        bd[i] = o - eps; lm = ref_conv(&B.s, xd, wd, bd, 0, gd, NULL, NULL);
        bd[i] = o;
        double fd = (lp - lm) / (2 * eps);
        cr_assert(fabs(B.db[i] - fd) <= tol_w, "db[%d] = %.8g, finite difference %.8g", i, B.db[i], fd);
    }
    for (size_t i = 0; i < B.nx; i += stride_fd * 37 / (stride_fd > 1 ? 1 : 37)) {
        double o = xd[i], lp, lm;
        xd[i] = o + eps; lp = ref_conv(&B.s, xd, wd, bd, 0, gd, NULL, NULL);
        xd[i] = o - eps; lm = ref_conv(&B.s, xd, wd, bd, 0, gd, NULL, NULL);
        xd[i] = o;
        double fd = (lp - lm) / (2 * eps);
        cr_assert(fabs(B.dx[i] - fd) <= tol_x, "dx[%zu] = %.8g, finite difference %.8g", i, B.dx[i], fd);
    }
    free(xd); free(wd); free(bd); free(gd);
    freebuf(&B);
}

Test(conv, backward_matches_finite_differences)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_backward(cases[i], 1);
}

Test(conv, backward_seed_shape_sampled)
{
    check_backward(seed, 13);
}

/* dx = NULL and db = NULL skip work but give the same dw, bit for bit; dx untouched. */
Test(conv, backward_null_dx_db)
{
    cs cc[] = { cases[2], seed };
    for (int t = 0; t < 2; t++) {
        conv_buf B = mkbuf(cc[t], 5);
        ol_conv2d_backward(&B.s, B.x, B.w, B.g, B.dx, B.dw, B.db, B.ws);
        float *dw2 = malloc(sizeof(float) * B.nw), *dx2 = malloc(sizeof(float) * B.nx);
        nn_fill_nan(dw2, B.nw);
        memset(dx2, 0x5a, sizeof(float) * B.nx);
        ol_conv2d_backward(&B.s, B.x, B.w, B.g, NULL, dw2, NULL, B.ws);
        cr_assert(memcmp(dw2, B.dw, sizeof(float) * B.nw) == 0, "dw differs without dx/db");
        for (size_t i = 0; i < B.nx; i++) {
            uint32_t u; memcpy(&u, &dx2[i], 4);
            cr_assert_eq(u, 0x5a5a5a5au);
        }
        free(dw2); free(dx2);
        freebuf(&B);
    }
}

Test(conv, bit_identical_1_vs_2_threads)
{
    cs cc[] = { seed, cases[4], { 8, 16, 15, 15, 24, 3, 3, 1, 1, 1, 1, 1, 1 } };
    for (int t = 0; t < 3; t++) {
        conv_buf B = mkbuf(cc[t], 77);
        float *out[2][4];
        for (int th = 1; th <= 2; th++) {
            nn_threads(th);
            float **o = out[th - 1];
            o[0] = malloc(sizeof(float) * B.ny); o[1] = malloc(sizeof(float) * B.nx);
            o[2] = malloc(sizeof(float) * B.nw); o[3] = malloc(sizeof(float) * cc[t].k);
            ol_conv2d_forward(&B.s, B.x, B.w, B.b, 1, o[0], B.ws);
            ol_conv2d_backward(&B.s, B.x, B.w, B.g, o[1], o[2], o[3], B.ws);
        }
        nn_threads(2);
        cr_assert(memcmp(out[0][0], out[1][0], sizeof(float) * B.ny) == 0, "case %d: y differs", t);
        cr_assert(memcmp(out[0][1], out[1][1], sizeof(float) * B.nx) == 0, "case %d: dx differs", t);
        cr_assert(memcmp(out[0][2], out[1][2], sizeof(float) * B.nw) == 0, "case %d: dw differs", t);
        cr_assert(memcmp(out[0][3], out[1][3], sizeof(float) * cc[t].k) == 0, "case %d: db differs", t);
        for (int a = 0; a < 2; a++) for (int j = 0; j < 4; j++) free(out[a][j]);
        freebuf(&B);
    }
}

Test(conv, shape_errors)
{
    ol_conv2d_shape s;
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1), 0);
    cr_assert_eq(s.p, 26); cr_assert_eq(s.q, 26);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 7, 9, 1, 3, 3, 2, 2, 1, 1, 2, 1), 0);
    cr_assert_eq(s.p, 3); cr_assert_eq(s.q, 5);  /* (7+2-4-1)/2+1, (9+2-2-1)/2+1 */
    cr_assert_eq(ol_conv2d_shape_init(&s, 0, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1), OL_CONV_EDIM);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 28, 28, 32, 3, 3, 0, 1, 0, 0, 1, 1), OL_CONV_ESTRIDE);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 28, 28, 32, 3, 3, 1, 1, -1, 0, 1, 1), OL_CONV_EPAD);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 0), OL_CONV_EDIL);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 2, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1), OL_CONV_EKERNEL);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1, 1, 5, 28, 32, 3, 3, 1, 1, 0, 0, 3, 1), OL_CONV_EKERNEL);
    cr_assert_eq(ol_conv2d_shape_init(&s, 1 << 20, 1, 3000, 3000, 1, 1, 1, 1, 1, 0, 0, 1, 1),
                 OL_CONV_ETOOBIG);
    cr_assert(strstr(ol_conv2d_strerror(OL_CONV_EPAD), "padding") != NULL);
}
