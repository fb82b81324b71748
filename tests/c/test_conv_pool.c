/* The fused conv + max-pool (ol_conv2d_maxpool_*) against its reference: ol_conv2d_forward then
 * ol_maxpool2d_forward, and their backwards chained. The fused op promises the same bits, so
 * every comparison is memcmp: outputs, argmax positions, dw, db and dx, with ties (ReLU zeros,
 * constant regions) and NaNs in the input; also across 1 and 2 threads. The shapes cover both
 * conv strategies (direct and im2col+GEMM), pools of 2 and 3, odd sizes (floor mode), and
 * widths below and above one vector of windows. */
#include <criterion/criterion.h>
#include <string.h>

#include "conv.h"
#include "nn_testutil.h"
#include "pool.h"

typedef struct { int n, c, h, w, k, r, s, sh, sw, ph, pw, pool; } pcs;

static const pcs cases[] = {
    { 8, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 2 },  /* the Keras example CNN's first layer: direct, 13 windows a row */
    { 3, 2, 9, 11, 5, 3, 3, 1, 1, 1, 1, 2 },    /* direct, padded, odd output (floor), K % 4 != 0 */
    { 2, 4, 12, 21, 3, 3, 3, 1, 1, 0, 0, 2 },   /* 36 taps: im2col+GEMM, 9 windows a row */
    { 2, 1, 20, 20, 6, 3, 3, 1, 1, 0, 0, 3 },   /* pool 3 */
    { 2, 3, 10, 34, 6, 2, 2, 2, 2, 0, 0, 2 },   /* stride 2: GEMM */
    { 2, 1, 9, 37, 7, 2, 2, 1, 1, 0, 0, 2 },    /* 4 taps (not a multiple of 3), odd K, 18 windows */
};

typedef struct {
    ol_conv2d_shape s;
    ol_pool2d_shape ps;
    size_t nx, nw, nz, ny;
    float *x, *w, *b, *ws, *g;
} fbuf;

static fbuf mk(pcs c, uint64_t seed, int ties, int nan)
{
    fbuf B;
    cr_assert_eq(ol_conv2d_shape_init(&B.s, c.n, c.c, c.h, c.w, c.k, c.r, c.s, c.sh, c.sw, c.ph, c.pw, 1, 1), 0);
    cr_assert(ol_conv2d_maxpool_check(&B.s, c.pool));
    cr_assert_eq(ol_pool2d_shape_init(&B.ps, c.n, c.k, B.s.p, B.s.q, c.pool, c.pool, c.pool, c.pool, 0, 0), 0);
    B.nx = (size_t)c.n * c.c * c.h * c.w;
    B.nw = (size_t)c.k * c.c * c.r * c.s;
    B.nz = (size_t)c.n * c.k * B.s.p * B.s.q;
    B.ny = (size_t)c.n * c.k * B.ps.p * B.ps.q;
    B.x = malloc(sizeof(float) * B.nx); B.w = malloc(sizeof(float) * B.nw);
    B.b = malloc(sizeof(float) * c.k); B.g = malloc(sizeof(float) * B.ny);
    B.ws = malloc(sizeof(float) * ol_conv2d_workspace_floats(&B.s));
    nn_fill(B.x, B.nx, seed); nn_fill(B.w, B.nw, seed + 1); nn_fill(B.b, c.k, seed + 2);
    nn_fill(B.g, B.ny, seed + 3);
    if (ties) /* constant stretches: equal conv outputs inside windows */
        for (size_t i = 0; i < B.nx; i++) if ((i / 5) % 3 == 0) B.x[i] = 0.25f;
    if (nan) B.x[B.nx / 2] = NAN, B.x[B.nx / 5] = NAN;
    return B;
}

static void fr(fbuf *B) { free(B->x); free(B->w); free(B->b); free(B->g); free(B->ws); }

/* Reference forward: z = conv (+ReLU), then pool; returns z, y, idx. */
static void ref_forward(fbuf *B, int relu, float *z, float *y, int32_t *idx)
{
    ol_conv2d_forward(&B->s, B->x, B->w, B->b, relu, z, B->ws);
    ol_maxpool2d_forward(&B->ps, z, y, idx);
}

static void check_forward(pcs c, int relu, int ties, int nan)
{
    fbuf B = mk(c, 31, ties, nan);
    float *z = malloc(sizeof(float) * B.nz), *yr = malloc(sizeof(float) * B.ny);
    float *y = malloc(sizeof(float) * B.ny);
    int32_t *idx = malloc(sizeof(int32_t) * B.ny);
    uint8_t *arg = malloc(B.ny);
    ref_forward(&B, relu, z, yr, idx);
    nn_fill_nan(y, B.ny);
    memset(arg, 0xee, B.ny);
    ol_conv2d_maxpool_forward(&B.s, c.pool, B.x, B.w, B.b, relu, y, arg, B.ws);
    cr_assert(memcmp(y, yr, sizeof(float) * B.ny) == 0, "case %dx%dx%dx%d pool %d relu %d: y differs",
              c.n, c.c, c.h, c.w, c.pool, relu);
    const int q2 = B.ps.q, pq2 = B.ps.p * B.ps.q;
    for (size_t e = 0; e < B.ny; e++) {
        int i = (int)(e % pq2) / q2, j = (int)(e % pq2) % q2;
        int ih = i * c.pool + arg[e] / c.pool, iw = j * c.pool + arg[e] % c.pool;
        cr_assert_eq(ih * B.s.q + iw, idx[e], "case %dx%dx%dx%d pool %d relu %d: argmax %zu differs", c.n,
                     c.c, c.h, c.w, c.pool, relu, e);
    }
    free(z); free(yr); free(y); free(idx); free(arg);
    fr(&B);
}

Test(conv_pool, forward_is_conv_then_pool_bit_for_bit)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int relu = 0; relu < 2; relu++) {
            check_forward(cases[i], relu, 0, 0);
            check_forward(cases[i], relu, 1, 0);
            check_forward(cases[i], relu, 0, 1);
        }
}

/* Fused backward into out[0..2] = dx, dw, db. */
static void fused_backward(fbuf *B, pcs c, int relu, float **out)
{
    float *y = malloc(sizeof(float) * B->ny);
    uint8_t *arg = malloc(B->ny);
    ol_conv2d_maxpool_forward(&B->s, c.pool, B->x, B->w, B->b, relu, y, arg, B->ws);
    ol_conv2d_maxpool_backward(&B->s, c.pool, B->x, B->w, y, arg, relu, B->g, out[0], out[1], out[2], B->ws);
    free(y); free(arg);
}

static void check_backward(pcs c, int relu, int ties)
{
    fbuf B = mk(c, 47, ties, 0);
    /* reference: pool backward, ReLU mask on the conv output, conv backward */
    float *z = malloc(sizeof(float) * B.nz), *yr = malloc(sizeof(float) * B.ny);
    float *dz = malloc(sizeof(float) * B.nz);
    int32_t *idx = malloc(sizeof(int32_t) * B.ny);
    ref_forward(&B, relu, z, yr, idx);
    ol_maxpool2d_backward(&B.ps, B.g, idx, dz);
    if (relu)
        for (size_t i = 0; i < B.nz; i++) if (!(z[i] > 0.0f)) dz[i] = 0.0f;
    float *ref[3], *got[3];
    size_t sz[3] = { B.nx, B.nw, (size_t)c.k };
    for (int t = 0; t < 3; t++) {
        ref[t] = malloc(sizeof(float) * sz[t]); got[t] = malloc(sizeof(float) * sz[t]);
        nn_fill_nan(got[t], sz[t]);
    }
    ol_conv2d_backward(&B.s, B.x, B.w, dz, ref[0], ref[1], ref[2], B.ws);
    fused_backward(&B, c, relu, got);
    const char *what[3] = { "dx", "dw", "db" };
    for (int t = 0; t < 3; t++)
        cr_assert(memcmp(ref[t], got[t], sizeof(float) * sz[t]) == 0, "case %dx%dx%dx%d pool %d relu %d: %s differs",
                  c.n, c.c, c.h, c.w, c.pool, relu, what[t]);
    /* without dx and db: the same dw, and dx left alone */
    float *dw2 = malloc(sizeof(float) * B.nw), *dx2 = malloc(sizeof(float) * B.nx);
    memset(dx2, 0x5a, sizeof(float) * B.nx);
    float *part[3] = { NULL, dw2, NULL };
    fused_backward(&B, c, relu, part);
    cr_assert(memcmp(dw2, ref[1], sizeof(float) * B.nw) == 0, "dw differs without dx/db");
    for (int t = 0; t < 3; t++) { free(ref[t]); free(got[t]); }
    free(z); free(yr); free(dz); free(idx); free(dw2); free(dx2);
    fr(&B);
}

Test(conv_pool, backward_is_the_chained_backwards_bit_for_bit)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int relu = 0; relu < 2; relu++) {
            check_backward(cases[i], relu, 0);
            check_backward(cases[i], relu, 1);
        }
}

Test(conv_pool, bit_identical_1_vs_2_threads)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pcs c = cases[i];
        fbuf B = mk(c, 5, 1, 0);
        size_t sz[3] = { B.nx, B.nw, (size_t)c.k };
        float *out[2][3];
        for (int th = 1; th <= 2; th++) {
            nn_threads(th);
            for (int t = 0; t < 3; t++) out[th - 1][t] = malloc(sizeof(float) * sz[t]);
            fused_backward(&B, c, 1, out[th - 1]);
        }
        nn_threads(2);
        for (int t = 0; t < 3; t++) {
            cr_assert(memcmp(out[0][t], out[1][t], sizeof(float) * sz[t]) == 0, "case %zu: output %d differs", i, t);
            free(out[0][t]); free(out[1][t]);
        }
        fr(&B);
    }
}

Test(conv_pool, strategy_and_checks)
{
    ol_conv2d_shape s;
    ol_conv2d_shape_init(&s, 64, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1);
    cr_assert(ol_conv2d_is_direct(&s), "the Keras example CNN's conv1 runs the direct kernel");
    cr_assert(ol_conv2d_maxpool_check(&s, 2) && ol_conv2d_maxpool_check(&s, 13));
    cr_assert(!ol_conv2d_maxpool_check(&s, 1) && !ol_conv2d_maxpool_check(&s, 27) && !ol_conv2d_maxpool_check(&s, 17));
    ol_conv2d_shape_init(&s, 2, 4, 12, 21, 3, 3, 3, 1, 1, 0, 0, 1, 1);
    cr_assert(!ol_conv2d_is_direct(&s), "36 taps: im2col + GEMM");
    ol_conv2d_shape_init(&s, 2, 1, 12, 21, 3, 3, 3, 2, 2, 0, 0, 1, 1);
    cr_assert(!ol_conv2d_is_direct(&s), "stride 2: im2col + GEMM");
    ol_conv2d_shape_init(&s, 2, 8, 12, 21, 3, 1, 1, 1, 1, 0, 0, 1, 1);
    cr_assert(!ol_conv2d_is_direct(&s), "1x1: a plain GEMM on the image");
}
