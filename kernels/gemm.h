/* Matrix products on BLIS. Operands are strided views (row and column
 * strides in elements), so transposes need no copy. */
#ifndef OL_GEMM_H
#define OL_GEMM_H
#include <stddef.h>
#include <stdint.h>

/* c[m,n] = alpha * a[m,k] b[k,n] + beta * c, with results that do not depend
 * on the thread count. BLIS 0.9's small/skinny ("sup") path picks its k
 * blocking and kernels from the number of threads (a 32x9x43264 product
 * differs in the last bits between 1 and 2 threads), so every BLIS call here
 * runs on ONE thread and the parallelism comes from a partition of c into
 * tiles that depends only on the shape. Use from serial code. */
void ol_gemm(int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t rsa, int64_t csa,
             const float *b, int64_t rsb, int64_t csb,
             float beta, float *c, int64_t rsc, int64_t csc);

/* The same on the calling thread only, for callers that parallelize over
 * independent products (one image each, say). */
void ol_gemm_serial(int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t rsa, int64_t csa,
                    const float *b, int64_t rsb, int64_t csb,
                    float beta, float *c, int64_t rsc, int64_t csc);

/* Threads for BLIS and OpenMP alike: one pool, no oversubscription. */
void ol_threads_set(int n);
int ol_threads_get(void);
const char *ol_blis_version(void);
/* The BLIS sub-configuration (kernel set) in use, e.g. "skx" or "haswell". */
const char *ol_blis_arch(void);
/* Chooses BLIS's kernels where BLIS cannot (see gemm.c); call before the first BLIS call. */
void ol_blis_choose_arch(void);

#endif
