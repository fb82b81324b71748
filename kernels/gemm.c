#include "gemm.h"
#include <blis.h>
#include <omp.h>

void ol_gemm(int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t rsa, int64_t csa,
             const float *b, int64_t rsb, int64_t csb,
             float beta, float *c, int64_t rsc, int64_t csc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) { /* BLIS would scale c by beta; do it the same way here. */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * rsc + j * csc] = beta == 0 ? 0 : beta * c[i * rsc + j * csc];
        return;
    }
    bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha,
              (float *)a, rsa, csa, (float *)b, rsb, csb, &beta, c, rsc, csc);
}

static int threads = 1;

void ol_threads_set(int n)
{
    if (n < 1) n = 1;
    threads = n;
    omp_set_num_threads(n);
    bli_thread_set_num_threads(n);
}

int ol_threads_get(void) { return threads; }

const char *ol_blis_version(void) { return bli_info_get_version_str(); }
