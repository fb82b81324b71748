/* Reductions whose result does not depend on the thread count: sums over a
 * whole buffer are ordered sums (par.h); reductions along a dimension give
 * each output element one serial loop in a fixed order. */
#ifndef OL_REDUCE_H
#define OL_REDUCE_H
#include <stdint.h>

typedef enum {
    OL_RSUM, OL_RMAX, OL_RMIN, OL_RARGMAX, OL_RARGMIN, OL_RSUMSQ,
    OL_RPROD,      /* product, in double */
    OL_RLOGSUMEXP, /* log(sum(exp(x))), shifted by the row's max so no exp overflows */
    OL_RVAR,       /* variance, two passes in double, divided by max(0, len - p) */
    OL_RNORM       /* p-norm: p = 1, 2, inf, -inf (min |x|), 0 (count of nonzeros), any other p */
} ol_redop;

/* Sum (in double) of a contiguous buffer. */
double ol_sum(int64_t n, const float *a);
/* Sum of squares (in double) of a contiguous buffer: the only one. The
 * logged grad_norm, clipping by norm (C.grad_norm, C.optim_grad_sqnorm) and
 * t:sumsq() all come from here. */
double ol_sumsq(int64_t n, const float *a);

/* Reduce a strided [outer, len] view: out[o] = op over k of a[o*... + k*step].
 * `outer` rows are described by ndim/shape/strides of the non-reduced dims;
 * the reduced dim has length len and stride step. Arg ops write 0-based indices
 * (first occurrence). out is contiguous with one element per row. */
void ol_reduce(ol_redop op, int ndim, const int64_t *shape, const int64_t *strides,
               int64_t len, int64_t step, const float *a, float *out);
/* The same with the op's parameter p (the correction of OL_RVAR, the p of OL_RNORM). */
void ol_reduce_p(ol_redop op, double p, int ndim, const int64_t *shape, const int64_t *strides,
                 int64_t len, int64_t step, const float *a, float *out);

/* Running sums along the middle axis of a contiguous [outer, len, inner]
 * buffer, accumulated in double (as PyTorch does on the CPU). */
void ol_cumsum(int64_t outer, int64_t len, int64_t inner, const float *a, float *out);

/* sum of a[i*sa] * b[i*sb], in double, an ordered sum (par.h). */
double ol_dot(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb);

/* The data-parallel combination of shard gradients, one shard at a time in shard order:
 * acc[i] += w * x[i] in double, then out[i] = (float)(acc[i] / div). Each element sees the same
 * operations in the same order whatever the thread count, so the bits depend on the shards and
 * their order alone. x is float32 at any alignment (a tensor's data or the bytes of a Lua string). */
void ol_acc_weighted(int64_t n, double w, const unsigned char *x, double *acc);
void ol_acc_finish(int64_t n, const double *acc, double div, float *out);
#endif

