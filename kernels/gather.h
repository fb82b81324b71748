/* Gather along one dimension and its adjoint, scatter-add (torch.gather and
 * Tensor.scatter_add_). Index tensors hold 1-based positions as floats, like
 * every index in optlab. Each output line along the dimension is written by
 * one thread in a fixed order, so any thread count gives the same bits. */
#ifndef OL_GATHER_H
#define OL_GATHER_H
#include <stdint.h>

/* The flat (row-major) position of the first entry of idx, an ndim-shaped
 * strided tensor, that is not an integer in [1, size]; -1 when all are. */
int64_t ol_index_check(int ndim, const int64_t *shape, const float *idx, const int64_t *si, int64_t size);

/* out[i..] = a[i.. with i[dim] replaced by idx[i..]] over idx's shape. */
void ol_gather(int ndim, const int64_t *shape, int dim, float *out, const int64_t *so,
               const float *a, const int64_t *sa, const float *idx, const int64_t *si);

/* o[i.. with i[dim] replaced by idx[i..]] += src[i..] over idx's shape. */
void ol_scatter_add(int ndim, const int64_t *shape, int dim, float *o, const int64_t *so,
                    const float *idx, const int64_t *si, const float *src, const int64_t *ss);
#endif
