#include "rng.h"
#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ol_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32);
    uint32_t c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1; c3 = (uint32_t)p0; c0 = n0; c2 = n2;
        k0 += PHILOX_W0; k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void ol_rng_uniform(uint64_t key, uint64_t stream, float lo, float hi, float *out, size_t n)
{
    float span = hi - lo;
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t b = 0; b < (n + 3) / 4; b++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, b, r);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++)
            out[4 * b + j] = lo + span * ol_u32_to_unit(r[j]);
    }
}

void ol_rng_normal(uint64_t key, uint64_t stream, float mean, float std, float *out, size_t n)
{
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t b = 0; b < (n + 1) / 2; b++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, b, r);
        /* u1 in (0, 1] so the log is finite; 32-bit resolution from two words. */
        double u1 = ((double)r[0] + 1.0) / 4294967296.0;
        double u2 = (double)r[1] / 4294967296.0;
        double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        out[2 * b] = (float)(mean + std * rad * cos(th));
        if (2 * b + 1 < n) out[2 * b + 1] = (float)(mean + std * rad * sin(th));
    }
}

void ol_rng_dropout_mask(uint64_t key, uint64_t stream, float p, float *out, size_t n)
{
    float keep = 1.0f / (1.0f - p);
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t b = 0; b < (n + 3) / 4; b++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, b, r);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++)
            out[4 * b + j] = ol_u32_to_unit(r[j]) >= p ? keep : 0.0f;
    }
}
