/* Batch gather/convert and the epoch shuffle. */
#include "batch.h"
#include "par.h"
#include "rng.h"
#include "team.h"

#include <math.h>
#include <string.h>

int64_t ol_batch_find_bad_index(const int64_t *idx, int64_t b, int64_t n)
{
    for (int64_t k = 0; k < b; k++)
        if (idx[k] < 0 || idx[k] >= n) return k;
    return -1;
}

/* One gather's arguments, for its row ranges on the team (team.h). Row k's bits depend only
 * on row k. The rows sit at random places of a data set far larger than the caches, so
 * each range prefetches the next row while it converts one: the row's ~13 cache lines
 * otherwise arrive one miss at a time (~60 us of a 64-image batch at 1 thread). */
typedef struct {
    const void *src;
    const int64_t *idx;
    int64_t row_len;
    size_t elt;            /* bytes per source element */
    const float *lut;      /* uint8 rows: the value of each byte */
    float mean, std;
    int plain;             /* float rows with mean 0, std 1: copied */
    float *dst;
} GatherJob;

static const char *gather_row(const GatherJob *j, int64_t k)
{
    return (const char *)j->src + (size_t)j->idx[k] * j->row_len * j->elt;
}

static void prefetch_row(const GatherJob *j, int64_t k)
{
    const char *s = gather_row(j, k);
    for (size_t b = 0; b < (size_t)j->row_len * j->elt; b += 64) __builtin_prefetch(s + b);
}

static void gather_rows(void *ctx, int64_t lo, int64_t hi)
{
    const GatherJob *j = ctx;
    const int64_t len = j->row_len;
    for (int64_t k = lo; k < hi; k++) {
        if (k + 1 < hi) prefetch_row(j, k + 1);
        float *restrict d = j->dst + k * len;
        if (j->lut) {
            const uint8_t *restrict s = (const uint8_t *)gather_row(j, k);
            for (int64_t i = 0; i < len; i++) d[i] = j->lut[s[i]];
        } else {
            const float *restrict s = (const float *)gather_row(j, k);
            if (j->plain) memcpy(d, s, (size_t)len * sizeof *d);
            else for (int64_t i = 0; i < len; i++) d[i] = (s[i] - j->mean) / j->std;
        }
    }
}

static void gather(GatherJob *j, int64_t b)
{
    if (b > 0) prefetch_row(j, 0);
    if (b * j->row_len > OL_PAR_MIN) ol_team_for(b, gather_rows, j);
    else gather_rows(j, 0, b);
}

int ol_batch_images(const uint8_t *restrict src, int64_t n, int64_t row_len,
                    const int64_t *restrict idx, int64_t b,
                    float mean, float std, float *restrict dst)
{
    if (n < 0 || b < 0 || row_len < 0 || !(std > 0.0f) || !isfinite(std) || !isfinite(mean))
        return OL_BATCH_EARG;
    if (ol_batch_find_bad_index(idx, b, n) >= 0) return OL_BATCH_EINDEX;
    /* Only 256 possible inputs: a table computed with the exact formula makes
     * the gather a lookup and keeps mean=0,std=1 bit-equal to x/255. */
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean) / std;
    GatherJob j = { .src = src, .idx = idx, .row_len = row_len, .elt = 1, .lut = lut, .dst = dst };
    gather(&j, b);
    return 0;
}

int ol_batch_rows_f32(const float *restrict src, int64_t n, int64_t row_len,
                      const int64_t *restrict idx, int64_t b,
                      float mean, float std, float *restrict dst)
{
    if (n < 0 || b < 0 || row_len < 0 || !(std > 0.0f) || !isfinite(std) || !isfinite(mean))
        return OL_BATCH_EARG;
    if (ol_batch_find_bad_index(idx, b, n) >= 0) return OL_BATCH_EINDEX;
    GatherJob j = { .src = src, .idx = idx, .row_len = row_len, .elt = sizeof(float), .mean = mean,
                    .std = std, .plain = mean == 0.0f && std == 1.0f, .dst = dst };
    gather(&j, b);
    return 0;
}

int ol_batch_labels(const uint8_t *restrict labels, int64_t n,
                    const int64_t *restrict idx, int64_t b, int32_t *restrict dst)
{
    if (n < 0 || b < 0) return OL_BATCH_EARG;
    if (ol_batch_find_bad_index(idx, b, n) >= 0) return OL_BATCH_EINDEX;
    for (int64_t k = 0; k < b; k++) dst[k] = labels[idx[k]];
    return 0;
}

int ol_batch_labels_f32(const uint8_t *restrict labels, int64_t n,
                        const int64_t *restrict idx, int64_t b, float *restrict dst)
{
    if (n < 0 || b < 0) return OL_BATCH_EARG;
    if (ol_batch_find_bad_index(idx, b, n) >= 0) return OL_BATCH_EINDEX;
    for (int64_t k = 0; k < b; k++) dst[k] = (float)labels[idx[k]];
    return 0;
}

int ol_batch_onehot(const uint8_t *restrict labels, int64_t n,
                    const int64_t *restrict idx, int64_t b, int nclasses,
                    float *restrict dst)
{
    if (n < 0 || b < 0 || nclasses < 1) return OL_BATCH_EARG;
    if (ol_batch_find_bad_index(idx, b, n) >= 0) return OL_BATCH_EINDEX;
    for (int64_t k = 0; k < b; k++)
        if (labels[idx[k]] >= nclasses) return OL_BATCH_EARG;
#pragma omp parallel for schedule(static) if (b * nclasses > OL_PAR_MIN)
    for (int64_t k = 0; k < b; k++) {
        float *restrict d = dst + k * nclasses;
        memset(d, 0, (size_t)nclasses * sizeof *d);
        d[labels[idx[k]]] = 1.0f;
    }
    return 0;
}

/* Fisher-Yates driven by Philox4x32 (kernels/rng.h): key = seed, counter =
 * (epoch, i | attempt << 48), so the draw for position i depends only on
 * (seed, epoch, i) and seed/epoch play different roles (no collision when
 * swapped). Each counter yields two 64-bit candidates; a candidate above the
 * largest multiple of the range is rejected (unbiased). */
static uint64_t draw64(uint64_t seed, uint64_t epoch, int64_t i, uint64_t attempt)
{
    uint32_t r[4];
    ol_philox4x32(seed, epoch, (uint64_t)i | ((attempt >> 1) << 48), r);
    return (attempt & 1) ? ((uint64_t)r[3] << 32 | r[2]) : ((uint64_t)r[1] << 32 | r[0]);
}

void ol_shuffle_indices(uint64_t seed, uint64_t epoch, int64_t n, int64_t *idx)
{
    if (n <= 0) return;
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        uint64_t range = (uint64_t)i + 1;
        uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;
        uint64_t r;
        for (uint64_t a = 0;; a++) {
            r = draw64(seed, epoch, i, a);
            if (r <= limit) break;
        }
        int64_t j = (int64_t)(r % range);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
