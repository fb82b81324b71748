/* Dropout masks: the 16-lane Philox path must give exactly the scalar Philox stream
 * (element 4b+j = word j of counter b), write nothing past n, keep about 1-p of the
 * elements, and not depend on the thread count. */
#include <criterion/criterion.h>
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
