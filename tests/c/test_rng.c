/* Dropout masks: the 16-lane Philox path must give exactly the scalar Philox stream
 * (element 4b+j = word j of counter b), write nothing past n, keep about 1-p of the
 * elements, and not depend on the thread count; the bit-mask dropout must equal x times them. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static void reference_mask(uint64_t key, uint64_t stream, float p, float *out, size_t n)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, i / 4, r);
        out[i] = ol_u32_to_unit(r[i % 4]) >= p ? keep : 0.0f;
    }
}

static void check_size(size_t n, float p, uint64_t key, uint64_t stream)
{
    float *got = malloc((n + 8) * sizeof(float)), *want = malloc((n + 1) * sizeof(float));
    for (size_t i = 0; i < n + 8; i++) got[i] = -7.0f; /* sentinel past the end */
    reference_mask(key, stream, p, want, n);
    ol_rng_dropout_mask(key, stream, p, got, n);
    cr_assert(memcmp(got, want, n * sizeof(float)) == 0, "n=%zu p=%g: mask differs from scalar Philox", n, p);
    for (size_t i = n; i < n + 8; i++) cr_assert(got[i] == -7.0f, "n=%zu: wrote past the end at %zu", n, i);
    free(got); free(want);
}

Test(rng, dropout_mask_matches_scalar_philox_all_small_sizes)
{
    for (size_t n = 0; n <= 300; n++) check_size(n, 0.25f, 42, (uint64_t)n << 32 | 3);
}

Test(rng, dropout_mask_matches_scalar_philox_large_and_high_counters)
{
    check_size(64 * 5408, 0.25f, 1, (3ull << 32) | 17);
    check_size(64 * 256 + 5, 0.5f, 0xdeadbeefcafef00dull, ~0ull);
    check_size(100003, 0.9f, 7, 0);
}

Test(rng, dropout_mask_keeps_about_one_minus_p)
{
    size_t n = 1 << 20;
    float *m = malloc(n * sizeof(float));
    ol_rng_dropout_mask(5, 9, 0.25f, m, n);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(m[i] == 0.0f || m[i] == 1.0f / 0.75f);
        kept += m[i] != 0.0f;
    }
    double frac = (double)kept / n; /* sd of the fraction: sqrt(.25*.75/n) ~ 4e-4 */
    cr_assert(frac > 0.75 - 0.003 && frac < 0.75 + 0.003, "kept fraction %g", frac);
    free(m);
}

Test(rng, dropout_mask_thread_count_independent)
{
    size_t n = 64 * 5408 + 3;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ol_rng_dropout_mask(11, 12, 0.5f, a, n);
    omp_set_num_threads(2);
    ol_rng_dropout_mask(11, 12, 0.5f, b, n);
    omp_set_num_threads(saved);
    cr_assert(memcmp(a, b, n * sizeof(float)) == 0, "1 vs 2 threads differ");
    free(a); free(b);
}

/* ol_dropout_forward/backward (the mask as bits) against x times the float mask, bit for bit:
 * negative x (0 * x = -0), NaN and infinity (NaN * 0 = NaN) included; nothing written past n. */
static void check_bits(size_t n, float p, uint64_t key, uint64_t stream)
{
    float *x = malloc((n + 1) * sizeof(float)), *mask = malloc((n + 1) * sizeof(float));
    float *y = malloc((n + 8) * sizeof(float)), *dx = malloc((n + 8) * sizeof(float));
    uint64_t *bits = malloc(((n + 63) / 64 + 1) * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(i * 37 % 11) - 5) * 0.37f;
    if (n > 10) { x[3] = NAN; x[7] = -INFINITY; x[n - 1] = NAN; }
    reference_mask(key, stream, p, mask, n);
    for (size_t i = 0; i < n + 8; i++) y[i] = dx[i] = -7.0f;
    ol_dropout_forward(key, stream, p, 0, x, y, bits, n);
    ol_dropout_backward(p, bits, x, dx, n);
    for (size_t i = 0; i < n; i++) {
        float want = x[i] * mask[i];
        cr_assert(memcmp(&y[i], &want, 4) == 0, "n=%zu p=%g: y[%zu] = %g, x * mask = %g", n, p, i, y[i], want);
        cr_assert(memcmp(&dx[i], &want, 4) == 0, "n=%zu p=%g: dx[%zu] = %g, dy * mask = %g", n, p, i, dx[i], want);
        cr_assert_eq((bits[i / 64] >> (i % 64)) & 1, mask[i] != 0.0f, "n=%zu: bit %zu", n, i);
    }
    for (size_t i = n; i < n + 8; i++) cr_assert(y[i] == -7.0f && dx[i] == -7.0f, "n=%zu: wrote past the end", n);
    free(x); free(mask); free(y); free(dx); free(bits);
}

Test(rng, dropout_bits_match_the_float_mask)
{
    for (size_t n = 0; n <= 200; n++) check_bits(n, 0.25f, 42, (uint64_t)n << 32 | 3);
    check_bits(64 * 5408, 0.25f, 1, (3ull << 32) | 17);
    check_bits(64 * 256 + 5, 0.5f, 0xdeadbeefcafef00dull, ~0ull);
    check_bits(100003, 0.9f, 7, 0);
    check_bits(1000, 0.0f, 7, 1);
    /* p just above a multiple of 2^-24: the integer threshold must round up */
    check_bits(100003, 0.25f + 1.0f / 16777216.0f * 0.5f, 3, 4);
}

/* With an offset, element i takes decision offset + i of the whole mask: a data-parallel shard
 * of a batch gets that batch's rows, whatever the offset's alignment to the kernel's chunks. */
static void check_offset(size_t offset, size_t n, float p, uint64_t key, uint64_t stream)
{
    float *mask = malloc((offset + n + 1) * sizeof(float)), *x = malloc((n + 1) * sizeof(float));
    float *y = malloc((n + 8) * sizeof(float));
    uint64_t *bits = malloc(((n + 63) / 64 + 1) * sizeof(uint64_t));
    reference_mask(key, stream, p, mask, offset + n);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 7);
    for (size_t i = 0; i < n + 8; i++) y[i] = -7.0f;
    ol_dropout_forward(key, stream, p, offset, x, y, bits, n);
    for (size_t i = 0; i < n; i++) {
        float want = x[i] * mask[offset + i];
        cr_assert(memcmp(&y[i], &want, 4) == 0, "offset %zu n=%zu: y[%zu] = %g, want %g", offset, n, i, y[i], want);
        cr_assert_eq((bits[i / 64] >> (i % 64)) & 1, mask[offset + i] != 0.0f, "offset %zu n=%zu: bit %zu", offset, n, i);
    }
    if (n % 64) cr_assert_eq(bits[n / 64] >> (n % 64), 0, "offset %zu n=%zu: bits past n", offset, n);
    for (size_t i = n; i < n + 8; i++) cr_assert(y[i] == -7.0f, "offset %zu n=%zu: wrote past the end", offset, n);
    free(mask); free(x); free(y); free(bits);
}

Test(rng, dropout_offset_takes_the_rows_of_the_whole_mask)
{
    size_t offsets[] = {0, 1, 3, 31, 32, 63, 64, 65, 127, 128, 129, 255, 256, 1000, 5408 * 3};
    size_t sizes[] = {0, 1, 5, 63, 64, 65, 130, 257, 5408 * 2 + 7};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++)
        for (size_t j = 0; j < sizeof sizes / sizeof *sizes; j++)
            check_offset(offsets[i], sizes[j], 0.25f, 9, (2ull << 32) | (uint64_t)j);
    /* a shard's mask rows equal those of the batch it is cut from: 6 rows of 5408 from row 5 */
    check_offset(5 * 5408, 6 * 5408, 0.5f, 1, (3ull << 32) | 7);
}

Test(rng, dropout_offset_thread_count_independent)
{
    size_t n = 40 * 5408 + 3, off = 7 * 5408 + 1;
    float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    uint64_t *ba = malloc((n + 63) / 64 * sizeof(uint64_t)), *bb = malloc((n + 63) / 64 * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) x[i] = (float)(i % 13) - 6.0f;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ol_dropout_forward(11, 12, 0.5f, off, x, a, ba, n);
    omp_set_num_threads(2);
    ol_dropout_forward(11, 12, 0.5f, off, x, b, bb, n);
    omp_set_num_threads(saved);
    cr_assert(memcmp(a, b, n * sizeof(float)) == 0, "1 vs 2 threads differ");
    cr_assert(memcmp(ba, bb, (n + 63) / 64 * sizeof(uint64_t)) == 0, "1 vs 2 threads: bits differ");
    free(x); free(a); free(b); free(ba); free(bb);
}
