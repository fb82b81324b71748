/* Batch gather/convert against naive loops; the shuffle's permutation,
 * determinism, dependence on seed and epoch, uniformity, thread-independence. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

static uint8_t *random_bytes(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n);
    srand(seed);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(rand() & 0xFF);
    return b;
}

static int64_t *random_indices(int64_t b, int64_t n, unsigned seed)
{
    int64_t *idx = malloc((size_t)b * sizeof *idx);
    srand(seed);
    for (int64_t k = 0; k < b; k++) idx[k] = rand() % n;
    return idx;
}

Test(batch, images_match_naive_loop)
{
    const int64_t n = 300, row = 784, b = 97;
    uint8_t *src = random_bytes((size_t)(n * row), 1);
    int64_t *idx = random_indices(b, n, 2);
    float *dst = malloc((size_t)(b * row) * sizeof *dst);
    const float mean = 0.1307f, std = 0.3081f;
    cr_assert_eq(ol_batch_images(src, n, row, idx, b, mean, std, dst), 0);
    for (int64_t k = 0; k < b; k++)
        for (int64_t j = 0; j < row; j++) {
            uint8_t x = src[idx[k] * row + j];
            float want = ((float)x / 255.0f - mean) / std;
            cr_assert(memcmp(&dst[k * row + j], &want, sizeof want) == 0, "row %ld col %ld", (long)k, (long)j);
            double ref = ((double)x / 255.0 - (double)mean) / (double)std;
            cr_assert(fabs(dst[k * row + j] - ref) <= 1e-6 * (1 + fabs(ref)));
        }
    free(src); free(idx); free(dst);
}

Test(batch, mean0_std1_is_exactly_x_over_255)
{
    uint8_t src[256];
    int64_t idx[1] = {0};
    float dst[256];
    for (int v = 0; v < 256; v++) src[v] = (uint8_t)v;
    cr_assert_eq(ol_batch_images(src, 1, 256, idx, 1, 0.0f, 1.0f, dst), 0);
    for (int v = 0; v < 256; v++) {
        float want = (float)v / 255.0f;   /* Keras: x.astype('float32') / 255 */
        cr_expect(memcmp(&dst[v], &want, sizeof want) == 0, "value %d", v);
    }
    cr_expect_eq(dst[0], 0.0f);
    cr_expect_eq(dst[255], 1.0f);
}

Test(batch, identical_with_1_and_2_threads)
{
    const int64_t n = 1000, row = 784, b = 512;   /* 401k elements: the parallel path runs */
    uint8_t *src = random_bytes((size_t)(n * row), 3);
    int64_t *idx = random_indices(b, n, 4);
    float *d1 = malloc((size_t)(b * row) * sizeof(float)), *d2 = malloc((size_t)(b * row) * sizeof(float));
    float *o1 = malloc((size_t)(b * 10) * sizeof(float)), *o2 = malloc((size_t)(b * 10) * sizeof(float));
    uint8_t lab[1000];
    for (int i = 0; i < 1000; i++) lab[i] = (uint8_t)(src[i] % 10);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cr_assert_eq(ol_batch_images(src, n, row, idx, b, 0.5f, 0.25f, d1), 0);
    cr_assert_eq(ol_batch_onehot(lab, n, idx, b, 10, o1), 0);
    omp_set_num_threads(2);
    cr_assert_eq(ol_batch_images(src, n, row, idx, b, 0.5f, 0.25f, d2), 0);
    cr_assert_eq(ol_batch_onehot(lab, n, idx, b, 10, o2), 0);
    omp_set_num_threads(saved);
    cr_expect(memcmp(d1, d2, (size_t)(b * row) * sizeof(float)) == 0);
    cr_expect(memcmp(o1, o2, (size_t)(b * 10) * sizeof(float)) == 0);
    free(src); free(idx); free(d1); free(d2); free(o1); free(o2);
}

Test(batch, labels_int_float_and_onehot_match_naive)
{
    const int64_t n = 500, b = 200;
    uint8_t lab[500];
    srand(5);
    for (int i = 0; i < n; i++) lab[i] = (uint8_t)(rand() % 10);
    int64_t *idx = random_indices(b, n, 6);
    int32_t li[200];
    float lf[200], oh[2000];
    cr_assert_eq(ol_batch_labels(lab, n, idx, b, li), 0);
    cr_assert_eq(ol_batch_labels_f32(lab, n, idx, b, lf), 0);
    cr_assert_eq(ol_batch_onehot(lab, n, idx, b, 10, oh), 0);
    for (int64_t k = 0; k < b; k++) {
        cr_expect_eq(li[k], (int32_t)lab[idx[k]]);
        cr_expect_eq(lf[k], (float)lab[idx[k]]);
        double sum = 0;
        for (int c = 0; c < 10; c++) {
            cr_expect_eq(oh[k * 10 + c], c == lab[idx[k]] ? 1.0f : 0.0f);
            sum += oh[k * 10 + c];
        }
        cr_expect_eq(sum, 1.0);
    }
    free(idx);
}

Test(batch, bad_indices_and_arguments_write_nothing)
{
    uint8_t src[20] = {0};
    float dst[20];
    int32_t li[2];
    for (int i = 0; i < 20; i++) dst[i] = -7.0f;
    int64_t bad_hi[2] = {0, 2}, bad_lo[2] = {-1, 0}, ok[2] = {1, 0};
    cr_expect_eq(ol_batch_find_bad_index(bad_hi, 2, 2), 1);
    cr_expect_eq(ol_batch_find_bad_index(bad_lo, 2, 2), 0);
    cr_expect_eq(ol_batch_find_bad_index(ok, 2, 2), -1);
    cr_expect_eq(ol_batch_images(src, 2, 10, bad_hi, 2, 0, 1, dst), OL_BATCH_EINDEX);
    cr_expect_eq(ol_batch_images(src, 2, 10, bad_lo, 2, 0, 1, dst), OL_BATCH_EINDEX);
    cr_expect_eq(ol_batch_labels(src, 2, bad_hi, 2, li), OL_BATCH_EINDEX);
    cr_expect_eq(ol_batch_labels_f32(src, 2, bad_hi, 2, dst), OL_BATCH_EINDEX);
    cr_expect_eq(ol_batch_onehot(src, 2, bad_hi, 2, 10, dst), OL_BATCH_EINDEX);
    cr_expect_eq(ol_batch_images(src, 2, 10, ok, 2, 0, 0.0f, dst), OL_BATCH_EARG);
    cr_expect_eq(ol_batch_images(src, 2, 10, ok, 2, 0, -1.0f, dst), OL_BATCH_EARG);
    cr_expect_eq(ol_batch_images(src, 2, 10, ok, 2, NAN, 1.0f, dst), OL_BATCH_EARG);
    for (int i = 0; i < 20; i++) cr_expect_eq(dst[i], -7.0f, "untouched");
    uint8_t lab[2] = {3, 10};
    cr_expect_eq(ol_batch_onehot(lab, 2, ok, 2, 10, dst), OL_BATCH_EARG);   /* label 10 with 10 classes */
    cr_expect_eq(ol_batch_onehot(lab, 2, ok, 2, 0, dst), OL_BATCH_EARG);
    for (int i = 0; i < 20; i++) cr_expect_eq(dst[i], -7.0f, "untouched");
}

static int is_permutation(const int64_t *idx, int64_t n)
{
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (idx[i] < 0 || idx[i] >= n || seen[idx[i]]) ok = 0;
        else seen[idx[i]] = 1;
    }
    free(seen);
    return ok;
}

Test(batch, shuffle_is_a_permutation)
{
    int64_t sizes[] = {1, 2, 3, 10, 1000, 60000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        int64_t *idx = malloc((size_t)n * sizeof *idx);
        ol_shuffle_indices(42, 3, n, idx);
        cr_expect(is_permutation(idx, n), "n=%ld", (long)n);
        if (n >= 1000) {   /* and it actually moved things */
            int64_t fixed = 0;
            for (int64_t i = 0; i < n; i++) fixed += idx[i] == i;
            cr_expect_lt(fixed, 10, "n=%ld: %ld fixed points", (long)n, (long)fixed);
        }
        free(idx);
    }
    ol_shuffle_indices(1, 1, 0, NULL);   /* n = 0: nothing to do, no crash */
}

Test(batch, shuffle_depends_only_on_seed_and_epoch)
{
    const int64_t n = 10000;
    int64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    ol_shuffle_indices(7, 0, n, a);
    ol_shuffle_indices(7, 0, n, b);
    cr_expect(memcmp(a, b, n * sizeof *a) == 0, "same (seed, epoch): same order");
    ol_shuffle_indices(7, 1, n, b);
    cr_expect(memcmp(a, b, n * sizeof *a) != 0, "next epoch: different order");
    ol_shuffle_indices(8, 0, n, b);
    cr_expect(memcmp(a, b, n * sizeof *a) != 0, "other seed: different order");
    /* (seed, epoch) and (epoch, seed) must not collide */
    ol_shuffle_indices(0, 7, n, b);
    cr_expect(memcmp(a, b, n * sizeof *a) != 0, "swapped seed/epoch: different order");
    free(a); free(b);
}

Test(batch, shuffle_identical_with_1_and_2_threads)
{
    const int64_t n = 100000;   /* above the parallel threshold of the initial fill */
    int64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ol_shuffle_indices(123, 9, n, a);
    omp_set_num_threads(2);
    ol_shuffle_indices(123, 9, n, b);
    omp_set_num_threads(saved);
    cr_expect(memcmp(a, b, n * sizeof *a) == 0);
    free(a); free(b);
}

Test(batch, shuffle_is_uniform_over_permutations)
{
    /* All 24 orders of 4 items, 24000 epochs: each ~1000 times (sd ~31). */
    int counts[24] = {0};
    for (uint64_t e = 0; e < 24000; e++) {
        int64_t idx[4];
        ol_shuffle_indices(2024, e, 4, idx);
        /* Lehmer code -> rank in 0..23 */
        int rank = 0;
        for (int i = 0; i < 4; i++) {
            int smaller = 0;
            for (int j = i + 1; j < 4; j++) smaller += idx[j] < idx[i];
            rank = rank * (4 - i) + smaller;
        }
        counts[rank]++;
    }
    double chi2 = 0;
    for (int r = 0; r < 24; r++) {
        cr_expect(counts[r] > 850 && counts[r] < 1150, "permutation %d seen %d times", r, counts[r]);
        chi2 += (counts[r] - 1000.0) * (counts[r] - 1000.0) / 1000.0;
    }
    cr_expect_lt(chi2, 60.0, "chi-square %.1f with 23 degrees of freedom", chi2);   /* p ~ 4e-5 */
    /* And the position of item 0 over a larger n is uniform too. */
    int pos[10] = {0};
    for (uint64_t e = 0; e < 20000; e++) {
        int64_t idx[10];
        ol_shuffle_indices(5, e, 10, idx);
        for (int i = 0; i < 10; i++) if (idx[i] == 0) pos[i]++;
    }
    for (int i = 0; i < 10; i++) cr_expect(pos[i] > 1800 && pos[i] < 2200, "position %d: %d", i, pos[i]);
}

Test(batch, float_rows_match_naive_loop_and_reject_bad_input)
{
    const int64_t n = 200, row = 37, b = 1000;   /* b*row > 32768: the parallel path */
    float *src = malloc((size_t)(n * row) * sizeof *src);
    srand(5);
    for (int64_t i = 0; i < n * row; i++) src[i] = (float)rand() / RAND_MAX * 8.0f - 4.0f;
    int64_t *idx = random_indices(b, n, 6);
    float *d1 = malloc((size_t)(b * row) * sizeof *d1), *d2 = malloc((size_t)(b * row) * sizeof *d2);
    cr_assert_eq(ol_batch_rows_f32(src, n, row, idx, b, 0.0f, 1.0f, d1), 0);
    for (int64_t k = 0; k < b; k++)
        cr_assert(memcmp(d1 + k * row, src + idx[k] * row, (size_t)row * sizeof *d1) == 0, "row %ld", (long)k);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cr_assert_eq(ol_batch_rows_f32(src, n, row, idx, b, 0.5f, 2.0f, d1), 0);
    omp_set_num_threads(2);
    cr_assert_eq(ol_batch_rows_f32(src, n, row, idx, b, 0.5f, 2.0f, d2), 0);
    omp_set_num_threads(saved);
    cr_expect(memcmp(d1, d2, (size_t)(b * row) * sizeof *d1) == 0, "1 vs 2 threads");
    for (int64_t k = 0; k < b; k++)
        for (int64_t j = 0; j < row; j++) {
            double ref = ((double)src[idx[k] * row + j] - 0.5) / 2.0;
            cr_assert(fabs(d1[k * row + j] - ref) <= 1e-6 * (1 + fabs(ref)), "row %ld col %ld", (long)k, (long)j);
        }
    idx[3] = n;
    d1[0] = 123.0f;
    cr_expect_eq(ol_batch_rows_f32(src, n, row, idx, b, 0.0f, 1.0f, d1), OL_BATCH_EINDEX);
    cr_expect_eq(d1[0], 123.0f, "nothing written on a bad index");
    cr_expect_eq(ol_batch_rows_f32(src, n, row, idx, b, 0.0f, 0.0f, d1), OL_BATCH_EARG);
    free(src); free(idx); free(d1); free(d2);
}
