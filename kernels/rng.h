/* Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 * Value i of a stream depends only on (key, stream, i): fills parallelize
 * freely and give the same numbers whatever the thread count. */
#ifndef OL_RNG_H
#define OL_RNG_H
#include <stddef.h>
#include <stdint.h>

void ol_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4]);

/* out[i] uniform in [lo, hi): 24-bit mantissa from word i%4 of counter (stream, i/4). */
void ol_rng_uniform(uint64_t key, uint64_t stream, float lo, float hi, float *out, size_t n);
/* out[i] ~ N(mean, std^2) by Box-Muller on counter (stream, i/2). */
void ol_rng_normal(uint64_t key, uint64_t stream, float mean, float std, float *out, size_t n);
/* out[i] = 1/(1-p) with probability 1-p, else 0 (an inverted-dropout mask). */
void ol_rng_dropout_mask(uint64_t key, uint64_t stream, float p, float *out, size_t n);
/* The same mask as bits, applied: bit i%64 of bits[i/64] = element i kept ((n+63)/64 words),
 * y = x * mask, bit for bit what x times ol_rng_dropout_mask's floats gives (NaN and -0
 * included). Backward: dx = dy * mask. With an offset, element i takes the decision of element
 * offset + i of the mask: a slice of a batch (a data-parallel shard) gets the rows of the whole
 * batch's mask. */
void ol_dropout_forward(uint64_t key, uint64_t stream, float p, uint64_t offset, const float *x,
                        float *y, uint64_t *bits, size_t n);
void ol_dropout_backward(float p, const uint64_t *bits, const float *dy, float *dx, size_t n);

static inline float ol_u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }
#endif
