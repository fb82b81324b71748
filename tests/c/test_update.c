/* The kernels of issue 12: fused in-place updates (ol_update), where, the new
 * unary and binary ops, gather/scatter-add, cumsum, dot and the parametrized
 * reductions. Each against a scalar reference in the same float arithmetic
 * (so bit-identical: -ffp-contract=off, IEEE + - * /), over sizes that leave
 * vector bodies with scalar tails, broadcast operands, and 1 vs 2 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "elementwise.h"
#include "gather.h"
#include "reduce.h"

static uint64_t seed_state = 0x0123456789abcdefull;
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

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The reference: one element, written out again as the docs in elementwise.h say. */
static float ref_update(ol_updop op, float o, float a, float b, float s, float s2)
{
    switch (op) {
    case OL_UAXPY: return o + s * a;
    case OL_UADDCMUL: return o + s * a * b;
    case OL_UADDCDIV: return o + s * a / b;
    case OL_ULERP: return fabsf(s) < 0.5f ? o + s * (a - o) : a - (a - o) * (1.0f - s);
    case OL_ULERPT: return fabsf(b) < 0.5f ? o + b * (a - o) : a - (a - o) * (1.0f - b);
    case OL_UCLAMP: return o < s ? s : (o > s2 ? s2 : o);
    }
    return NAN;
}

static const ol_updop all_ops[] = {OL_UAXPY, OL_UADDCMUL, OL_UADDCDIV, OL_ULERP, OL_ULERPT, OL_UCLAMP};

/* Contiguous operands of odd and even lengths around the vector widths. */
Test(update, contiguous_matches_reference)
{
    static const int64_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000, 8193, 40001};
    for (size_t k = 0; k < sizeof all_ops / sizeof *all_ops; k++)
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            int64_t n = sizes[z];
            float *o = alloc_rand((size_t)n, -2, 2), *a = alloc_rand((size_t)n, -2, 2);
            float *b = alloc_rand((size_t)n, 0.25f, 2), *want = malloc((size_t)n * sizeof *want);
            float s = k == 3 ? 0.75f : 0.3f, s2 = 1.1f;
            if (all_ops[k] == OL_UCLAMP) s = -0.4f;
            for (int64_t i = 0; i < n; i++) want[i] = ref_update(all_ops[k], o[i], a[i], b[i], s, s2);
            int64_t st = 1;
            ol_update(all_ops[k], 1, &n, o, &st, a, &st, b, &st, s, s2);
            for (int64_t i = 0; i < n; i++)
                cr_assert(same_bits(o[i], want[i]), "op %d n %lld element %lld: %.9g vs %.9g",
                          (int)all_ops[k], (long long)n, (long long)i, o[i], want[i]);
            free(o); free(a); free(b); free(want);
        }
}

/* [rows, cols] target, a broadcast along rows ([cols], stride 0 on dim 0),
 * b along columns ([rows, 1]), and a transposed target. */
Test(update, broadcast_and_strided)
{
    const int64_t rows = 13, cols = 37, n = rows * cols, shape[2] = {rows, cols};
    for (size_t k = 0; k < sizeof all_ops / sizeof *all_ops; k++)
        for (int transposed = 0; transposed < 2; transposed++) {
            float *o = alloc_rand((size_t)n, -2, 2), *a = alloc_rand((size_t)cols, -2, 2);
            float *b = alloc_rand((size_t)rows, 0.25f, 2), *want = malloc((size_t)n * sizeof *want);
            int64_t so[2] = {cols, 1}, sa[2] = {0, 1}, sb[2] = {1, 0};
            if (transposed) { so[0] = 1; so[1] = rows; } /* element (r, c) at c*rows + r */
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++) {
                    int64_t at = r * so[0] + c * so[1];
                    want[at] = ref_update(all_ops[k], o[at], a[c], b[r], 0.3f, 1.0f);
                }
            ol_update(all_ops[k], 2, shape, o, so, a, sa, b, sb, 0.3f, 1.0f);
            for (int64_t i = 0; i < n; i++)
                cr_assert(same_bits(o[i], want[i]), "op %d transposed %d element %lld: %.9g vs %.9g",
                          (int)all_ops[k], transposed, (long long)i, o[i], want[i]);
            free(o); free(a); free(b); free(want);
        }
}

/* An op that reads neither operand (clamp) accepts NULLs; o may be its own operand. */
Test(update, null_operands_and_self_alias)
{
    float o[5] = {-3, -0.5f, 0, 0.5f, NAN};
    int64_t n = 5, st = 1;
    ol_update(OL_UCLAMP, 1, &n, o, &st, NULL, NULL, NULL, NULL, -1, 0.25f);
    cr_assert(o[0] == -1 && o[1] == -0.5f && o[2] == 0 && o[3] == 0.25f && isnan(o[4]));
    float x[3] = {1, 2, 3};
    n = 3;
    ol_update(OL_UADDCMUL, 1, &n, x, &st, x, &st, x, &st, 0.5f, 0);
    cr_assert(x[0] == 1.5f && x[1] == 4 && x[2] == 7.5f, "x + 0.5*x*x: %g %g %g", x[0], x[1], x[2]);
    float y = 2; /* 0-d */
    float a = 10;
    ol_update(OL_UAXPY, 0, NULL, &y, NULL, &a, NULL, NULL, NULL, -0.5f, 0);
    cr_assert_eq(y, -3.0f);
}

static void run_threads(int threads, int64_t n, float *const in[3], float *out_updates, float *out_misc)
{
    omp_set_num_threads(threads);
    int64_t st = 1, shape2[2] = {n / 101, 101}, rs[1] = {101};
    memcpy(out_updates, in[0], (size_t)n * sizeof(float));
    for (size_t k = 0; k < sizeof all_ops / sizeof *all_ops; k++)
        ol_update(all_ops[k], 1, &n, out_updates, &st, in[1], &st, in[2], &st, 0.7f, 1.5f);
    ol_cumsum(n / 101, 101, 1, in[0], out_misc);
    float r[4 * 1000];
    ol_reduce_p(OL_RVAR, 1, 1, shape2, rs, 101, 1, in[0], r);
    ol_reduce_p(OL_RLOGSUMEXP, 0, 1, shape2, rs, 101, 1, in[0], r + 1000);
    ol_reduce_p(OL_RNORM, 3, 1, shape2, rs, 101, 1, in[0], r + 2000);
    ol_reduce_p(OL_RPROD, 0, 1, shape2, rs, 101, 1, in[2], r + 3000);
    memcpy(out_misc + n, r, sizeof r);
    double d = ol_dot(n, in[0], 1, in[1], 1);
    memcpy(out_misc + n + 4000, &d, sizeof d);
}

Test(update, threads_bit_identical)
{
    const int64_t n = 101 * 1000; /* above the kernels' parallel thresholds */
    float *in[3] = {alloc_rand((size_t)n, -1, 1), alloc_rand((size_t)n, -1, 1), alloc_rand((size_t)n, 0.5f, 1.5f)};
    size_t misc = (size_t)n + 4000 + 2;
    float *u1 = malloc((size_t)n * sizeof(float)), *u2 = malloc((size_t)n * sizeof(float));
    float *m1 = calloc(misc, sizeof(float)), *m2 = calloc(misc, sizeof(float));
    int saved = omp_get_max_threads();
    run_threads(1, n, in, u1, m1);
    run_threads(2, n, in, u2, m2);
    omp_set_num_threads(saved);
    cr_assert(memcmp(u1, u2, (size_t)n * sizeof(float)) == 0, "fused updates differ between 1 and 2 threads");
    cr_assert(memcmp(m1, m2, misc * sizeof(float)) == 0, "cumsum/reductions/dot differ between 1 and 2 threads");
    free(in[0]); free(in[1]); free(in[2]); free(u1); free(u2); free(m1); free(m2);
}

Test(update, where_broadcasts)
{
    const int64_t shape[2] = {2, 3};
    float cond[2] = {1, 0}, a[3] = {1, 2, 3}, b = -1, out[6];
    int64_t so[2] = {3, 1}, sc[2] = {1, 0}, sa[2] = {0, 1}, sb[2] = {0, 0};
    ol_where(2, shape, out, so, cond, sc, a, sa, &b, sb);
    float want[6] = {1, 2, 3, -1, -1, -1};
    for (int i = 0; i < 6; i++) cr_assert_eq(out[i], want[i], "element %d", i);
    float c2[3] = {0, NAN, 2}, o2[3];
    int64_t n = 3, one = 1;
    ol_where(1, &n, o2, &one, c2, &one, a, &one, want + 3, &one);
    cr_assert(o2[0] == -1 && o2[1] == 2 && o2[2] == 3, "NaN and nonzero pick a");
}

Test(update, round_floor_sin_cos_remainder)
{
    float x[8] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.7f, -3.7f}, y[8];
    float round_want[8] = {-2, -2, -0.0f, 0, 2, 2, 4, -4}, floor_want[8] = {-3, -2, -1, 0, 1, 2, 3, -4};
    int64_t n = 8, one = 1;
    ol_unary(OL_ROUND, 1, &n, y, &one, x, &one);
    for (int i = 0; i < 8; i++) cr_assert(same_bits(y[i], round_want[i]), "round(%g) = %g", x[i], y[i]);
    ol_unary(OL_FLOOR, 1, &n, y, &one, x, &one);
    for (int i = 0; i < 8; i++) cr_assert_eq(y[i], floor_want[i], "floor(%g) = %g", x[i], y[i]);
    ol_unary(OL_SIN, 1, &n, y, &one, x, &one);
    for (int i = 0; i < 8; i++) cr_assert(fabs(y[i] - sin(x[i])) < 1e-6, "sin(%g)", x[i]);
    ol_unary(OL_COS, 1, &n, y, &one, x, &one);
    for (int i = 0; i < 8; i++) cr_assert(fabs(y[i] - cos(x[i])) < 1e-6, "cos(%g)", x[i]);
    float a[6] = {5, -5, 5, -5, 5.5f, -0.75f}, b[6] = {3, 3, -3, -3, 2, 0.5f}, r[6];
    float rem_want[6] = {2, 1, -1, -2, 1.5f, 0.25f};
    n = 6;
    ol_binary(OL_REMAINDER, 1, &n, r, &one, a, &one, b, &one);
    for (int i = 0; i < 6; i++) cr_assert_eq(r[i], rem_want[i], "%g %% %g = %g", a[i], b[i], r[i]);
}

Test(update, gather_scatter_add_adjoint)
{
    /* a [4, 5], index [3, 5] along dim 0 (1-based), src [3, 6] (wider than index) */
    const int64_t ashape[2] = {4, 5}, ishape[2] = {3, 5};
    float *a = alloc_rand(20, -1, 1), *src = alloc_rand(18, -1, 1), idx[15], g[15], z[20] = {0};
    for (int i = 0; i < 15; i++) idx[i] = (float)(1 + (i * 7) % 4);
    int64_t sa[2] = {5, 1}, si[2] = {5, 1}, so[2] = {5, 1}, ss[2] = {6, 1};
    cr_assert_eq(ol_index_check(2, ishape, idx, si, ashape[0]), -1);
    ol_gather(2, ishape, 0, g, so, a, sa, idx, si);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 5; c++)
            cr_assert_eq(g[r * 5 + c], a[((int)idx[r * 5 + c] - 1) * 5 + c]);
    ol_scatter_add(2, ishape, 0, z, sa, idx, si, src, ss);
    /* <gather(a), src> == <a, scatter_add(0, src)>, both over the index's extent */
    double lhs = 0, rhs = 0;
    for (int r = 0; r < 3; r++) for (int c = 0; c < 5; c++) lhs += (double)g[r * 5 + c] * src[r * 6 + c];
    for (int i = 0; i < 20; i++) rhs += (double)a[i] * z[i];
    cr_assert(fabs(lhs - rhs) < 1e-5, "adjoint: %g vs %g", lhs, rhs);
    idx[7] = 5;
    cr_assert_eq(ol_index_check(2, ishape, idx, si, 4), 7, "index 5 out of 1..4 at flat position 7");
    idx[7] = 1.5f;
    cr_assert_eq(ol_index_check(2, ishape, idx, si, 4), 7, "a non-integer index");
    free(a); free(src);
}

Test(update, cumsum_and_reductions)
{
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    ol_cumsum(2, 3, 1, x, y); /* [2, 3] along dim 1 */
    float w1[6] = {1, 3, 6, 4, 9, 15};
    for (int i = 0; i < 6; i++) cr_assert_eq(y[i], w1[i]);
    ol_cumsum(1, 2, 3, x, y); /* along dim 0 */
    float w0[6] = {1, 2, 3, 5, 7, 9};
    for (int i = 0; i < 6; i++) cr_assert_eq(y[i], w0[i]);
    int64_t one = 1;
    float v[8] = {2, 4, 4, 4, 5, 5, 7, 9}, r;
    ol_reduce_p(OL_RVAR, 0, 0, &one, &one, 8, 1, v, &r);
    cr_assert_float_eq(r, 4.0f, 1e-6);
    ol_reduce_p(OL_RVAR, 1, 0, &one, &one, 8, 1, v, &r);
    cr_assert_float_eq(r, 32.0f / 7, 1e-6);
    float big[3] = {1000, 1000, -INFINITY};
    ol_reduce_p(OL_RLOGSUMEXP, 0, 0, &one, &one, 3, 1, big, &r);
    cr_assert_float_eq(r, 1000 + logf(2), 1e-3);
    float ninf[2] = {-INFINITY, -INFINITY};
    ol_reduce_p(OL_RLOGSUMEXP, 0, 0, &one, &one, 2, 1, ninf, &r);
    cr_assert(isinf(r) && r < 0);
    float p[2] = {3, -4};
    double ps[6] = {1, 2, INFINITY, -INFINITY, 0, 3}, want[6] = {7, 5, 4, 3, 2, cbrt(91)};
    for (int i = 0; i < 6; i++) {
        ol_reduce_p(OL_RNORM, ps[i], 0, &one, &one, 2, 1, p, &r);
        cr_assert_float_eq(r, (float)want[i], 1e-5, "norm p=%g: %g", ps[i], r);
    }
    ol_reduce_p(OL_RPROD, 0, 0, &one, &one, 6, 1, x, &r);
    cr_assert_eq(r, 720.0f);
    cr_assert_eq(ol_dot(3, x, 2, x + 1, 2), 2.0 + 12 + 30); /* strided */
}
