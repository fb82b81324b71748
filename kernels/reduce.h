/* Reductions whose result does not depend on the thread count: sums over a
 * whole buffer use fixed 4096-element blocks summed in order; reductions along
 * a dimension give each output element one serial loop in a fixed order. */
#ifndef OL_REDUCE_H
#define OL_REDUCE_H
#include <stdint.h>

typedef enum { OL_RSUM, OL_RMAX, OL_RMIN, OL_RARGMAX, OL_RARGMIN, OL_RSUMSQ } ol_redop;

/* Sum (in double) of a contiguous buffer. */
double ol_sum(int64_t n, const float *a);
/* Sum of squares (in double) of a contiguous buffer. */
double ol_sumsq(int64_t n, const float *a);

/* Reduce a strided [outer, len] view: out[o] = op over k of a[o*... + k*step].
 * `outer` rows are described by ndim/shape/strides of the non-reduced dims;
 * the reduced dim has length len and stride step. Arg ops write 0-based indices
 * (first occurrence). out is contiguous with one element per row. */
void ol_reduce(ol_redop op, int ndim, const int64_t *shape, const int64_t *strides,
               int64_t len, int64_t step, const float *a, float *out);
#endif
