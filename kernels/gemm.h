/* Single-precision GEMM on BLIS with results that do not depend on the thread count.
 *
 *   C[m, n] = A[m, k] B[k, n] + beta C     (general row/column strides, as BLIS's typed API)
 *
 * Why not plain bli_sgemm: BLIS 0.9's small/skinny ("sup") path picks its k blocking and
 * kernels from the number of threads, so e.g. a 32x9x43264 product differs in the last bits
 * between 1 and 2 threads. Here every BLIS call runs on ONE thread and the parallelism comes
 * from a partition of C that depends only on the shape, so each element of C is always
 * computed by the same kernel call. */
#ifndef OL_GEMM_H
#define OL_GEMM_H

#include <stddef.h>

/* Parallel over fixed tiles of C (OpenMP); use from serial code. */
void ol_sgemm(int m, int n, int k, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
              const float *b, ptrdiff_t rsb, ptrdiff_t csb, float beta,
              float *c, ptrdiff_t rsc, ptrdiff_t csc);

/* On the calling thread only: for callers that parallelize over independent GEMMs. */
void ol_sgemm_serial(int m, int n, int k, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *b, ptrdiff_t rsb, ptrdiff_t csb, float beta,
                     float *c, ptrdiff_t rsc, ptrdiff_t csc);

#endif
