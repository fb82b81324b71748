/* Synthetic data sets for quick optimizer experiments. Every number comes
 * from Philox (kernels/rng.h) keyed by the caller's random seed, so a data set depends only
 * on its arguments, whatever the thread count. Return 0, or OL_SYNTH_EARG
 * for bad arguments (nothing written). */
#ifndef OL_SYNTH_H
#define OL_SYNTH_H
#include <stdint.h>

#define OL_SYNTH_EARG 1

/* k Gaussian blobs in f dimensions: centers uniform in [-box, box]^f,
 * example i has class i % k (balanced, interleaved) and
 * x = center + std * N(0, I). x [n, f], y [n] class ids. */
int ol_synth_blobs(uint64_t seed, int64_t n, int f, int k, float std, float box,
                   float *restrict x, float *restrict y);

/* Two interleaved spirals in 2-D (class i % 2): angle t = 2 pi turns sqrt(u),
 * radius t / (2 pi turns), the second spiral rotated by pi; plus
 * N(0, noise^2) per coordinate. x [n, 2], y [n]. */
int ol_synth_spirals(uint64_t seed, int64_t n, float noise, float turns,
                     float *restrict x, float *restrict y);

/* Linear regression y = x w + noise N(0,1), x ~ N(0, S) with S = Q diag(l) Q^T,
 * eigenvalues l log-spaced from 1 to cond (so S's condition number is cond)
 * and Q a random rotation (identity when rotate = 0). w ~ N(0, I).
 * x [n, d], y [n, 1], w [d]. */
int ol_synth_linreg(uint64_t seed, int64_t n, int d, double cond, float noise, int rotate,
                    float *restrict x, float *restrict y, float *restrict w);
#endif
