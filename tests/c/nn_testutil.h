/* Shared helpers of the layer-kernel tests (conv, pool, linear). */
#ifndef NN_TESTUTIL_H
#define NN_TESTUTIL_H

#include <blis.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

/* Deterministic uniform floats in [-1, 1) (xorshift; tests must not depend on libc rand). */
static inline void nn_fill(float *a, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        a[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

static inline void nn_fill_nan(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}

static inline double *nn_todouble(const float *a, size_t n)
{
    double *d = calloc(n ? n : 1, sizeof(double)); /* calloc: -O1 -Wmaybe-uninitialized */
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

/* Both thread pools: ours (OpenMP) and BLIS's. */
static inline void nn_threads(int t)
{
    omp_set_num_threads(t);
    bli_thread_set_num_threads(t);
}

#endif
