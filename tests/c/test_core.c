/* The tensor core's kernels: Philox known answers, random fills (thread
 * independence and statistics), strided/broadcast element-wise ops and
 * reductions against naive loops, GEMM against a double-precision loop. */
#include <criterion/criterion.h>
#include <blis.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elementwise.h"
#include "gemm.h"
#include "reduce.h"
#include "rng.h"

/* The whole C suite runs BLIS with the kernel set optlab itself would choose. */
__attribute__((constructor)) static void choose_blis_kernels(void) { ol_blis_choose_arch(); }

static void set_threads(int n)
{
    omp_set_num_threads(n);
    bli_thread_set_num_threads(n);
}

static uint64_t seed_state = 0x1234567887654321ull;
static float frand(float lo, float hi) /* splitmix64: reproducible test data */
{
    uint64_t z = (seed_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (float)((double)(z >> 40) / 16777216.0);
}

static float *alloc_rand(size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) p[i] = frand(lo, hi);
    return p;
}

/* ---- Philox4x32-10: Random123's kat_vectors ---------------------------- */

/* ctr words c0..c3 map to (ctr_lo low, ctr_lo high, ctr_hi low, ctr_hi high),
 * key words k0, k1 to (key low, key high). */
static void kat(const uint32_t ctr[4], const uint32_t key[2], const uint32_t want[4])
{
    uint32_t got[4];
    ol_philox4x32((uint64_t)key[1] << 32 | key[0], (uint64_t)ctr[3] << 32 | ctr[2],
                  (uint64_t)ctr[1] << 32 | ctr[0], got);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(got[i], want[i], "word %d: got %08x, want %08x", i, got[i], want[i]);
}

Test(core, philox_kat_zero)
{
    kat((uint32_t[]){0, 0, 0, 0}, (uint32_t[]){0, 0},
        (uint32_t[]){0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
}

Test(core, philox_kat_ones)
{
    kat((uint32_t[]){0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, (uint32_t[]){0xffffffff, 0xffffffff},
        (uint32_t[]){0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
}

Test(core, philox_kat_pi)
{
    kat((uint32_t[]){0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, (uint32_t[]){0xa4093822, 0x299f31d0},
        (uint32_t[]){0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

/* ---- random fills ------------------------------------------------------ */

#define NR 1000003 /* > the parallel threshold, odd so the 4-word tail is used */

typedef void (*fill_fn)(uint64_t, uint64_t, float *, size_t);
static void fill_uniform(uint64_t k, uint64_t s, float *o, size_t n) { ol_rng_uniform(k, s, -2.0f, 3.0f, o, n); }
static void fill_normal(uint64_t k, uint64_t s, float *o, size_t n) { ol_rng_normal(k, s, 1.5f, 2.0f, o, n); }
static void fill_dropout(uint64_t k, uint64_t s, float *o, size_t n) { ol_rng_dropout_mask(k, s, 0.3f, o, n); }

static void check_threads(fill_fn f)
{
    float *a = malloc(NR * sizeof *a), *b = malloc(NR * sizeof *b), *c = malloc(NR * sizeof *c);
    cr_assert(a && b && c);
    set_threads(1);
    f(42, 7, a, NR);
    set_threads(2);
    f(42, 7, b, NR);
    cr_assert(memcmp(a, b, NR * sizeof *a) == 0, "fill differs between 1 and 2 threads");
    /* a prefix of a longer fill is the shorter fill: value i depends on i only */
    f(42, 7, c, 1001);
    cr_assert(memcmp(a, c, 1001 * sizeof *a) == 0, "fill of 1001 is not a prefix of the fill of %d", NR);
    f(42, 8, c, NR);
    cr_assert(memcmp(a, c, NR * sizeof *a) != 0, "another stream gives the same numbers");
    f(43, 7, c, NR);
    cr_assert(memcmp(a, c, NR * sizeof *a) != 0, "another key gives the same numbers");
    free(a); free(b); free(c);
}

Test(core, rng_uniform_threads) { check_threads(fill_uniform); }
Test(core, rng_normal_threads) { check_threads(fill_normal); }
Test(core, rng_dropout_threads) { check_threads(fill_dropout); }

static void moments(const float *x, size_t n, double *mean, double *std)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (size_t i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(ss / (n - 1));
}

Test(core, rng_uniform_stats)
{
    size_t n = 1000000;
    float *x = malloc(n * sizeof *x);
    ol_rng_uniform(1, 0, -2.0f, 3.0f, x, n);
    size_t bins[10] = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert(x[i] >= -2.0f && x[i] < 3.0f, "x[%zu] = %g outside [-2, 3)", i, x[i]);
        bins[(int)((x[i] + 2.0f) / 0.5f)]++;
    }
    double mean, std;
    moments(x, n, &mean, &std);
    /* standard errors: 5/sqrt(12 n) = 0.0014 for the mean */
    cr_assert(fabs(mean - 0.5) < 0.01, "mean %g", mean);
    cr_assert(fabs(std - 5.0 / sqrt(12.0)) < 0.01, "std %g", std);
    for (int b = 0; b < 10; b++)
        cr_assert(fabs(bins[b] - 100000.0) < 2000, "bin %d has %zu of %zu", b, bins[b], n);
    free(x);
}

Test(core, rng_normal_stats)
{
    size_t n = 1000000;
    float *x = malloc(n * sizeof *x);
    ol_rng_normal(1, 0, 1.5f, 2.0f, x, n);
    double mean, std;
    moments(x, n, &mean, &std);
    size_t within1 = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(x[i]), "x[%zu] = %g", i, x[i]);
        within1 += fabs(x[i] - 1.5) < 2.0;
    }
    cr_assert(fabs(mean - 1.5) < 0.01, "mean %g", mean);
    cr_assert(fabs(std - 2.0) < 0.01, "std %g", std);
    cr_assert(fabs(within1 / (double)n - 0.682689) < 0.003, "P(|z|<1) = %g", within1 / (double)n);
    free(x);
}

Test(core, rng_dropout_stats)
{
    size_t n = 1000000;
    float *x = malloc(n * sizeof *x);
    ol_rng_dropout_mask(1, 0, 0.3f, x, n);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(x[i] == 0.0f || x[i] == 1.0f / 0.7f, "x[%zu] = %g", i, x[i]);
        zeros += x[i] == 0.0f;
    }
    double mean, std;
    moments(x, n, &mean, &std);
    cr_assert(fabs(zeros / (double)n - 0.3) < 0.003, "dropped fraction %g", zeros / (double)n);
    cr_assert(fabs(mean - 1.0) < 0.005, "mean %g (inverted dropout keeps the expectation)", mean);
    ol_rng_dropout_mask(1, 0, 0.0f, x, n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(x[i], 1.0f, "p=0 dropped element %zu", i);
    free(x);
}

/* ---- element-wise -------------------------------------------------------- */

static float ref_binop(ol_binop op, float x, float y)
{
    switch (op) {
    case OL_ADD: return x + y;
    case OL_SUB: return x - y;
    case OL_MUL: return x * y;
    case OL_DIV: return x / y;
    case OL_POW: return powf(x, y);
    case OL_MAXIMUM: return x >= y ? x : y;
    case OL_MINIMUM: return x <= y ? x : y;
    case OL_EQ: return x == y;
    case OL_NE: return x != y;
    case OL_LT: return x < y;
    case OL_LE: return x <= y;
    case OL_GT: return x > y;
    case OL_GE: return x >= y;
    case OL_REMAINDER: { float r = fmodf(x, y); return (r != 0 && (r < 0) != (y < 0)) ? r + y : r; }
    }
    return NAN;
}

/* out[i,j,k] = a[i,j,k] op b[j,0] where a is the transpose (permute 3,2,1)
 * of a contiguous [K,J,I] buffer and b a [J,1] column broadcast to [I,J,K];
 * the output is itself a strided view (every other element of a buffer). */
static void check_binary_strided(ol_binop op, int64_t I, int64_t J, int64_t K)
{
    int64_t shape[3] = {I, J, K};
    float *a = alloc_rand((size_t)(I * J * K), 0.5f, 2.0f);
    float *b = alloc_rand((size_t)J, 0.5f, 2.0f);
    for (int64_t j = 0; j < J; j += 3) b[j] = a[j * I]; /* some ties for max/min/eq */
    float *out = calloc((size_t)(2 * I * J * K), sizeof *out);
    int64_t sa[3] = {1, I, I * J};  /* a[i,j,k] at k*J*I + j*I + i */
    int64_t sb[3] = {0, 1, 0};
    int64_t so[3] = {2 * J * K, 2 * K, 2};
    ol_binary(op, 3, shape, out, so, a, sa, b, sb);
    for (int64_t i = 0; i < I; i++)
        for (int64_t j = 0; j < J; j++)
            for (int64_t k = 0; k < K; k++) {
                float want = ref_binop(op, a[k * J * I + j * I + i], b[j]);
                float got = out[i * so[0] + j * so[1] + k * so[2]];
                cr_assert(memcmp(&got, &want, sizeof got) == 0,
                          "op %d [%lld,%lld,%lld]: got %.9g, want %.9g", op,
                          (long long)i, (long long)j, (long long)k, got, want);
                cr_assert_eq(out[i * so[0] + j * so[1] + k * so[2] + 1], 0.0f, "wrote between strided elements");
            }
    free(a); free(b); free(out);
}

Test(core, binary_broadcast_strided)
{
    for (int op = OL_ADD; op <= OL_REMAINDER; op++) {
        check_binary_strided(op, 3, 5, 7);
        check_binary_strided(op, 1, 1, 1);
        check_binary_strided(op, 33, 40, 31); /* > the parallel threshold */
    }
}

/* The contiguous fast paths: tensor op tensor, tensor op scalar, scalar op
 * tensor (a broadcast), against the plain loop; bits equal across threads. */
Test(core, binary_contiguous_and_scalar)
{
    int64_t n = 100003, shape[1] = {n}, one[1] = {1}, zero[1] = {0};
    float *a = alloc_rand((size_t)n, -3, 3), *b = alloc_rand((size_t)n, 0.5f, 3);
    float *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
    float s = 1.75f;
    for (int op = OL_ADD; op <= OL_REMAINDER; op++) {
        for (int mode = 0; mode < 3; mode++) {
            const float *x = mode == 2 ? &s : a, *y = mode == 0 ? b : mode == 1 ? &s : b;
            const int64_t *sx = mode == 2 ? zero : one, *sy = mode == 1 ? zero : one;
            set_threads(1);
            ol_binary(op, 1, shape, o1, one, x, sx, y, sy);
            set_threads(2);
            ol_binary(op, 1, shape, o2, one, x, sx, y, sy);
            cr_assert(memcmp(o1, o2, n * sizeof *o1) == 0, "op %d mode %d: 1 vs 2 threads differ", op, mode);
            for (int64_t i = 0; i < n; i++) {
                float want = ref_binop(op, x[i * sx[0]], y[i * sy[0]]);
                if (isnan(want)) cr_assert(isnan(o1[i]), "op %d mode %d [%lld]", op, mode, (long long)i);
                else cr_assert(o1[i] == want, "op %d mode %d [%lld]: got %.9g, want %.9g",
                               op, mode, (long long)i, o1[i], want);
            }
        }
    }
    /* in place: out aliases a */
    memcpy(o1, a, n * sizeof *o1);
    ol_binary(OL_MUL, 1, shape, o1, one, o1, one, b, one);
    for (int64_t i = 0; i < n; i++) cr_assert(o1[i] == a[i] * b[i]);
    /* 0-d operands */
    float r;
    ol_binary(OL_SUB, 0, NULL, &r, NULL, &s, NULL, a, NULL);
    cr_assert(r == s - a[0]);
    free(a); free(b); free(o1); free(o2);
}

static double ref_unop(ol_unop op, double x)
{
    switch (op) {
    case OL_NEG: return -x;
    case OL_ABS: return fabs(x);
    case OL_EXP: return exp(x);
    case OL_LOG: return log(x);
    case OL_SQRT: return sqrt(x);
    case OL_SIGN: return (x > 0) - (x < 0);
    case OL_SQUARE: return x * x;
    case OL_RECIPROCAL: return 1.0 / x;
    case OL_TANH: return tanh(x);
    case OL_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case OL_RELU: return x > 0 ? x : 0;
    case OL_SIN: return sin(x);
    case OL_COS: return cos(x);
    case OL_FLOOR: return floor(x);
    case OL_ROUND: return nearbyint(x);
    }
    return NAN;
}

Test(core, unary_strided_and_contiguous)
{
    int64_t R = 37, Cn = 29; /* a: transpose of a contiguous [C, R] */
    for (int op = OL_NEG; op <= OL_ROUND; op++) {
        int positive = op == OL_LOG || op == OL_SQRT;
        float *a = alloc_rand((size_t)(R * Cn), positive ? 0.01f : -4.0f, 4.0f);
        a[0] = 0.0f;
        float *o = malloc((size_t)(R * Cn) * sizeof *o);
        int64_t shape[2] = {R, Cn}, sa[2] = {1, R}, so[2] = {Cn, 1};
        ol_unary(op, 2, shape, o, so, a, sa);
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < Cn; j++) {
                double want = ref_unop(op, a[j * R + i]);
                float got = o[i * Cn + j];
                if (isinf(want)) cr_assert(got == (float)want, "op %d [%lld,%lld]: got %g", op, (long long)i, (long long)j, got);
                else cr_assert(fabs(got - want) <= 2e-7 * fabs(want) + 1e-30,
                               "op %d [%lld,%lld]: got %.9g, want %.9g", op, (long long)i, (long long)j, got, want);
            }
        /* contiguous path and in place, bits equal to the strided path */
        float *c = malloc((size_t)(R * Cn) * sizeof *c);
        int64_t sc[2] = {Cn, 1};
        for (int64_t i = 0; i < R; i++) for (int64_t j = 0; j < Cn; j++) c[i * Cn + j] = a[j * R + i];
        ol_unary(op, 2, shape, c, sc, c, sc);
        cr_assert(memcmp(c, o, (size_t)(R * Cn) * sizeof *c) == 0, "op %d: contiguous in-place differs from strided", op);
        free(a); free(o); free(c);
    }
}

Test(core, copy_fill_clamp)
{
    int64_t shape[2] = {13, 11}, sa[2] = {1, 13}, so[2] = {11, 1};
    float *a = alloc_rand(143, -2, 2), *o = malloc(143 * sizeof *o);
    ol_copy(2, shape, o, so, a, sa);
    for (int i = 0; i < 13; i++) for (int j = 0; j < 11; j++) cr_assert(o[i * 11 + j] == a[j * 13 + i]);
    int64_t sf[2] = {22, 2}, half[2] = {6, 11};
    float *big = calloc(300, sizeof *big);
    ol_fill(2, half, big, sf, 3.5f);
    for (int i = 0; i < 300; i++)
        cr_assert(big[i] == ((i % 2 == 0 && i < 6 * 22) ? 3.5f : 0.0f), "fill [%d] = %g", i, big[i]);
    ol_clamp(143, o, a, -0.5f, 0.25f);
    for (int i = 0; i < 143; i++) cr_assert(o[i] == fminf(fmaxf(a[i], -0.5f), 0.25f));
    free(a); free(o); free(big);
}

/* ---- reductions ---------------------------------------------------------- */

Test(core, sum_threads_and_reference)
{
    int64_t n = 1000007;
    float *a = alloc_rand((size_t)n, -1, 1);
    double want = 0, want2 = 0;
    for (int64_t i = 0; i < n; i++) { want += a[i]; want2 += (double)a[i] * a[i]; }
    set_threads(1);
    double s1 = ol_sum(n, a), q1 = ol_sumsq(n, a);
    set_threads(2);
    double s2 = ol_sum(n, a), q2 = ol_sumsq(n, a);
    cr_assert(memcmp(&s1, &s2, sizeof s1) == 0, "sum: %.17g (1 thread) vs %.17g (2)", s1, s2);
    cr_assert(memcmp(&q1, &q2, sizeof q1) == 0, "sumsq: %.17g vs %.17g", q1, q2);
    cr_assert(fabs(s1 - want) < 1e-9, "sum %.17g want %.17g", s1, want);
    cr_assert(fabs(q1 - want2) < 1e-9 * want2, "sumsq %.17g want %.17g", q1, want2);
    cr_assert_eq(ol_sum(0, a), 0.0);
    cr_assert_eq(ol_sum(1, a), (double)a[0]);
    free(a);
}

static void ref_reduce(ol_redop op, const float *x, int64_t len, int64_t step, float *val)
{
    double s = 0;
    float best = x[0];
    int64_t at = 0;
    for (int64_t k = 0; k < len; k++) {
        float v = x[k * step];
        s += op == OL_RSUMSQ ? (double)v * v : v;
        if ((op == OL_RMAX || op == OL_RARGMAX) ? v > best : v < best) { best = v; at = k; }
    }
    *val = op == OL_RSUM || op == OL_RSUMSQ ? (float)s : (op == OL_RMAX || op == OL_RMIN) ? best : (float)at;
}

/* A [R, Cn] buffer reduced along each dimension, and as a whole (1e6+7
 * elements), with 1 and 2 threads: same bits, equal to the naive loop. */
Test(core, reduce_dims_threads)
{
    int64_t R = 1009, Cn = 991, n = R * Cn; /* 999919 */
    float *a = alloc_rand((size_t)n, -1, 1);
    a[5 * Cn + 7] = a[5 * Cn + 3] = 2.0f; /* a tie: the first occurrence wins */
    float *o1 = malloc(R * sizeof *o1 > Cn * sizeof *o1 ? R * sizeof *o1 : Cn * sizeof *o1);
    float *o2 = malloc(R * sizeof *o2 > Cn * sizeof *o2 ? R * sizeof *o2 : Cn * sizeof *o2);
    for (int op = OL_RSUM; op <= OL_RSUMSQ; op++) {
        for (int dim = 0; dim < 2; dim++) {
            int64_t rows = dim ? R : Cn, len = dim ? Cn : R, step = dim ? 1 : Cn;
            int64_t rshape[1] = {rows}, rstride[1] = {dim ? Cn : 1};
            set_threads(1);
            ol_reduce(op, 1, rshape, rstride, len, step, a, o1);
            set_threads(2);
            ol_reduce(op, 1, rshape, rstride, len, step, a, o2);
            cr_assert(memcmp(o1, o2, rows * sizeof *o1) == 0, "op %d dim %d: threads differ", op, dim);
            for (int64_t r = 0; r < rows; r++) {
                float want;
                ref_reduce(op, a + r * rstride[0], len, step, &want);
                cr_assert(o1[r] == want, "op %d dim %d row %lld: got %.9g, want %.9g", op, dim, (long long)r, o1[r], want);
            }
        }
    }
    cr_assert_eq(o1[0], o1[0]);
    free(a);
    /* the whole buffer of 1e6+7 as one row */
    int64_t N = 1000007, one = 1;
    a = alloc_rand((size_t)N, -1, 1);
    for (int op = OL_RSUM; op <= OL_RSUMSQ; op++) {
        float v1, v2, want;
        set_threads(1);
        ol_reduce(op, 0, &one, &one, N, 1, a, &v1);
        set_threads(2);
        ol_reduce(op, 0, &one, &one, N, 1, a, &v2);
        ref_reduce(op, a, N, 1, &want);
        cr_assert(memcmp(&v1, &v2, sizeof v1) == 0 && v1 == want, "op %d: %.9g / %.9g, want %.9g", op, v1, v2, want);
    }
    free(a); free(o1); free(o2);
}

Test(core, reduce_nan_propagates)
{
    float x[5] = {1, 5, NAN, 7, 2}, v;
    int64_t one = 1;
    ol_reduce(OL_RMAX, 0, &one, &one, 5, 1, x, &v);
    cr_assert(isnan(v), "max of a row with NaN is %g", v);
    ol_reduce(OL_RARGMIN, 0, &one, &one, 5, 1, x, &v);
    cr_assert_eq(v, 2.0f, "argmin points at the NaN");
}

/* ---- GEMM ---------------------------------------------------------------- */

/* c = alpha a b + beta c, with a[i,p] at a[i*rsa + p*csa] etc.; all checked
 * against a double loop, with a bound from the magnitudes summed. */
static void check_gemm(int64_t m, int64_t n, int64_t k, int64_t rsa, int64_t csa, int64_t rsb, int64_t csb,
                       int64_t rsc, int64_t csc, float alpha, float beta)
{
    size_t la = (size_t)((m ? m - 1 : 0) * rsa + (k ? k - 1 : 0) * csa + 1);
    size_t lb = (size_t)((k ? k - 1 : 0) * rsb + (n ? n - 1 : 0) * csb + 1);
    size_t lc = (size_t)((m ? m - 1 : 0) * rsc + (n ? n - 1 : 0) * csc + 1);
    float *a = alloc_rand(la, -1, 1), *b = alloc_rand(lb, -1, 1), *c = alloc_rand(lc, -1, 1);
    float *c0 = malloc(lc * sizeof *c0);
    memcpy(c0, c, lc * sizeof *c);
    ol_gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                double t = (double)a[i * rsa + p * csa] * b[p * rsb + j * csb];
                s += t;
                mag += fabs(t);
            }
            double want = alpha * s + (beta == 0 ? 0 : beta * c0[i * rsc + j * csc]);
            double tol = 4e-7 * (fabs(alpha) * mag + fabs(beta * c0[i * rsc + j * csc])) * (k > 4 ? sqrt((double)k) : 2);
            float got = c[i * rsc + j * csc];
            cr_assert(fabs(got - want) <= tol + 1e-30,
                      "gemm %lldx%lldx%lld [%lld,%lld]: got %.9g, want %.9g", (long long)m, (long long)n,
                      (long long)k, (long long)i, (long long)j, got, want);
        }
    free(a); free(b); free(c); free(c0);
}

Test(core, gemm_shapes)
{
    set_threads(2);
    check_gemm(1, 1, 1, 1, 1, 1, 1, 1, 1, 1.0f, 0.0f);
    check_gemm(17, 65, 33, 33, 1, 65, 1, 65, 1, 1.0f, 0.0f);   /* row-major */
    check_gemm(17, 65, 33, 1, 17, 1, 33, 65, 1, 1.0f, 0.0f);   /* both transposed (column-major) */
    check_gemm(17, 65, 33, 1, 17, 65, 1, 1, 17, 1.0f, 0.0f);   /* A^T, column-major C */
    check_gemm(17, 65, 33, 40, 1, 1, 35, 70, 1, 0.5f, 2.0f);   /* padded rows, alpha, beta */
    check_gemm(17, 65, 33, 66, 2, 3, 99, 130, 2, 1.0f, 1.0f);  /* general strides: no unit stride at all */
    check_gemm(64, 10, 256, 256, 1, 10, 1, 10, 1, 1.0f, 0.0f); /* the CNN's dense2 */
    check_gemm(1, 300, 200, 200, 1, 300, 1, 300, 1, 1.0f, 0.0f);  /* a row vector */
    check_gemm(300, 1, 200, 200, 1, 1, 1, 1, 1, 1.0f, 0.0f);      /* a column vector */
    set_threads(1);
    check_gemm(17, 65, 33, 1, 17, 1, 33, 65, 1, 1.0f, 0.0f);
}

Test(core, gemm_k_zero)
{
    float c[6] = {1, 2, 3, 4, 5, NAN}, a[1] = {7}, b[1] = {9};
    ol_gemm(2, 3, 0, 1.0f, a, 1, 1, b, 1, 1, 0.5f, c, 3, 1);
    for (int i = 0; i < 5; i++) cr_assert_eq(c[i], 0.5f * (i + 1), "k=0, beta=0.5: c[%d] = %g", i, c[i]);
    ol_gemm(2, 3, 0, 1.0f, a, 1, 1, b, 1, 1, 0.0f, c, 3, 1);
    for (int i = 0; i < 6; i++) cr_assert_eq(c[i], 0.0f, "k=0, beta=0 must overwrite (even NaN): c[%d] = %g", i, c[i]);
    ol_gemm(0, 3, 5, 1.0f, a, 1, 1, b, 1, 1, 0.0f, c, 3, 1); /* m = 0: nothing, no crash */
}

/* matmul allocates its output uninitialized: beta = 0 must overwrite C, NaN included */
Test(core, gemm_beta_zero_ignores_c)
{
    int64_t m = 17, n = 65, k = 33;
    float *a = alloc_rand((size_t)(m * k), -1, 1), *b = alloc_rand((size_t)(k * n), -1, 1);
    float *c = malloc((size_t)(m * n) * sizeof *c);
    for (int64_t i = 0; i < m * n; i++) c[i] = NAN;
    ol_gemm(m, n, k, 1, a, k, 1, b, n, 1, 0, c, n, 1);
    for (int64_t i = 0; i < m * n; i++) cr_assert(isfinite(c[i]), "c[%lld] = %g", (long long)i, c[i]);
    free(a); free(b); free(c);
}

/* A tiled product runs as one BLIS call per thread: 1, 2 and 3 threads cut c differently and
 * must give the same bits (BLIS's native path computes an element the same in any slice).
 * The Keras example CNN's dense GEMMs with their transposed operands, and odd shapes split along m or n. */
Test(core, gemm_threads_identical)
{
    struct { int64_t m, n, k; int ta, tb; } cs[] = {
        { 64, 256, 5408, 0, 1 },  /* dense forward, x W^T */
        { 256, 5408, 64, 1, 0 },  /* dense dW, dy^T x */
        { 64, 5408, 256, 0, 0 },  /* dense dx, dy W */
        { 1031, 97, 777, 1, 1 },  /* split along m, both transposed */
        { 45, 3001, 613, 0, 1 },
    };
    for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
        int64_t m = cs[t].m, n = cs[t].n, k = cs[t].k;
        int64_t rsa = cs[t].ta ? 1 : k, csa = cs[t].ta ? m : 1, rsb = cs[t].tb ? 1 : n, csb = cs[t].tb ? k : 1;
        float *a = alloc_rand((size_t)(m * k), -1, 1), *b = alloc_rand((size_t)(k * n), -1, 1);
        float *c[3];
        for (int th = 1; th <= 3; th++) {
            c[th - 1] = malloc((size_t)(m * n) * sizeof(float));
            set_threads(th);
            ol_gemm(m, n, k, 1, a, rsa, csa, b, rsb, csb, 0, c[th - 1], n, 1);
        }
        set_threads(2);
        for (int th = 2; th <= 3; th++)
            cr_assert(memcmp(c[0], c[th - 1], (size_t)(m * n) * sizeof(float)) == 0,
                      "%lldx%lldx%lld: gemm differs between 1 and %d threads", (long long)m, (long long)n,
                      (long long)k, th);
        free(a); free(b); free(c[0]); free(c[1]); free(c[2]);
    }
}
