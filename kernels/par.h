/* How the kernels use threads: when to go parallel, how work is cut into
 * spans, and how a sum is made independent of the thread count. Every kernel
 * (and every loop of vm/ that opens a parallel region) takes its threshold,
 * its spans and its sums from here.
 *
 * The contract, for any kernel, is: the same bits at any OMP_NUM_THREADS.
 * It holds because threads only ever decide WHO computes a value, never HOW:
 *   - element-wise work: each output element is a function of its own inputs;
 *     schedule(static) spans only pick the thread. The build's
 *     -ffp-contract=off makes a vectorized body and its scalar tail round
 *     alike, so where a span (or a thread's chunk) ends does not matter;
 *   - sums: ol_ordered_sum cuts [0, n) into blocks whose boundaries depend on
 *     n and the block size only; one thread sums a block in double in a fixed
 *     order, and the block partials are added in block order by one thread.
 *   - reductions along a dimension give each output one serial loop.
 * Never reduction(+:...) over floating point: its association follows the
 * thread count.
 * A training step's largest loops run on the team (team.h) rather than in an
 * OpenMP region, under the same contract: an item's bits never depend on the
 * thread or on where a range ends.
 */
#ifndef OL_PAR_H
#define OL_PAR_H

#include <stdint.h>

/* Below this much work (elements, or multiply-adds for row-wise kernels) a
 * kernel stays on one thread: waking the team costs more than it saves. */
#define OL_PAR_MIN 32768

/* The Philox fills of rng.c start threads only above this many values. */
#define OL_PAR_MIN_RNG 65536

/* Elements per span of the fused element-wise loops (optim.c): each span is
 * one call of a small inlined loop, 64 KiB per buffer. */
#define OL_SPAN 16384

/* Elements per block of an ordered sum, and blocks per parallel round (their
 * partials live on the stack, so no allocation can fail). */
#define OL_SUM_BLOCK 4096
#define OL_SUM_ROUND 256

/* Run CALL for every span [lo, lo + len) of [0, n), in parallel above
 * OL_PAR_MIN. CALL sees lo and len. */
#define OL_SPANS(n, CALL)                                                     \
    do {                                                                      \
        const int64_t n_ = (n);                                               \
        const int64_t nb_ = (n_ + OL_SPAN - 1) / OL_SPAN;                     \
        _Pragma("omp parallel for schedule(static) if (n_ > OL_PAR_MIN)")     \
        for (int64_t b_ = 0; b_ < nb_; b_++) {                                \
            const int64_t lo = b_ * OL_SPAN;                                  \
            const int64_t len = n_ - lo < OL_SPAN ? n_ - lo : OL_SPAN;        \
            CALL;                                                             \
        }                                                                     \
    } while (0)

/* The sum, in double, of items [lo, hi) of whatever ctx describes. */
typedef double (*ol_block_fn)(int64_t lo, int64_t hi, const void *ctx);

/* Ordered sum: block(lo, hi, ctx) over the blocks [0, b), [b, 2b), ... of
 * [0, n), added in block order. Blocks run in parallel when work (the
 * elements touched, which may exceed n when an item is a row) is above
 * OL_PAR_MIN. 0 for n <= 0. */
static inline double ol_ordered_sum(int64_t n, int64_t block, int64_t work,
                                    ol_block_fn f, const void *ctx)
{
    double total = 0.0, part[OL_SUM_ROUND];
    const int64_t nb = n > 0 ? (n + block - 1) / block : 0;
    for (int64_t b0 = 0; b0 < nb; b0 += OL_SUM_ROUND) {
        const int64_t cnt = nb - b0 < OL_SUM_ROUND ? nb - b0 : OL_SUM_ROUND;
        #pragma omp parallel for schedule(static) if (work > OL_PAR_MIN && cnt > 1)
        for (int64_t k = 0; k < cnt; k++) {
            const int64_t lo = (b0 + k) * block;
            part[k] = f(lo, n - lo < block ? n : lo + block, ctx);
        }
        for (int64_t k = 0; k < cnt; k++) total += part[k];
    }
    return total;
}

/* Inside a block: the sum (squares = 0) or the sum of squares (squares = 1)
 * of a contiguous run, in 8 double lanes (element i to lane i % 8) added
 * pairwise at the end: a fixed association that the compiler vectorizes. */
static inline double ol_lanes_sum(const float *restrict x, int64_t len, const int squares)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= len; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] += squares ? (double)x[i + j] * x[i + j] : (double)x[i + j];
    for (int j = 0; i < len; i++, j++) acc[j] += squares ? (double)x[i] * x[i] : (double)x[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

#endif
