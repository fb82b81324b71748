/* Matrix products on BLIS. Operands are strided views (row and column
 * strides in elements), so transposes need no copy. */
#ifndef OL_GEMM_H
#define OL_GEMM_H
#include <stdint.h>

/* c[m,n] = alpha * a[m,k] b[k,n] + beta * c. */
void ol_gemm(int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t rsa, int64_t csa,
             const float *b, int64_t rsb, int64_t csb,
             float beta, float *c, int64_t rsc, int64_t csc);

/* Threads for BLIS and OpenMP alike: one pool, no oversubscription. */
void ol_threads_set(int n);
int ol_threads_get(void);
const char *ol_blis_version(void);
#endif
