/* The team: the largest parallel loops of a training step (GEMM tiles, conv
 * image groups, optimizer spans) run here instead of in an OpenMP region.
 *
 * Why not OpenMP: a region ends in a barrier that waits for every thread,
 * including one that has not even woken up yet (~25 us on a VM) or one that
 * another process has pushed off its core (milliseconds). Here the caller
 * works from the first moment, the other threads take ranges as they come
 * free, and the caller waits only for ranges a thread has already taken.
 * A thread that is late finds nothing left and costs nothing.
 *
 * The contract: fn(ctx, lo, hi) computes items [lo, hi) of [0, n), and the
 * bits of item i must not depend on which thread runs it, nor on how [0, n)
 * was cut into ranges (the cut follows timing). Results then stay the same
 * at any thread count, as par.h requires of every kernel.
 *
 * ol_team_for runs fn(ctx, 0, n) in one call on one thread, or the ranges
 * on up to ol_threads_get() threads (the caller is one of them); nested
 * calls, calls from inside an OpenMP region and concurrent calls run
 * inline on the calling thread. Above OL_TEAM_MAX_ITEMS items, a thread takes
 * whole blocks of items at a time. */
#ifndef OL_TEAM_H
#define OL_TEAM_H

#include <stdint.h>

#define OL_TEAM_MAX_ITEMS (((int64_t)1 << 20) - 1) /* what the claim word holds */

typedef void (*ol_range_fn)(void *ctx, int64_t lo, int64_t hi);

void ol_team_for(int64_t n, ol_range_fn fn, void *ctx);

/* Flush denormal floats to zero (FTZ and DAZ) on every thread that runs optlab's kernels:
 * the caller, OpenMP's threads and the team's (threads started later inherit it from their
 * creator). PyTorch's torch.set_flush_denormal. Returns 0 where the CPU has no such mode. */
int ol_flush_denormal_set(int on);

#endif
