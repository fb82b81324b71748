#include "gemm.h"

#include <blis.h>

/* A tile of C gets at least this many flops: below it the OpenMP and packing overhead of an
 * extra call outweighs the parallelism. */
#define TILE_MIN_FLOPS (1 << 22)
#define MAX_TILES 16
#define TILE_ALIGN 16 /* tile edges on multiples of the micro-kernel's 16-wide dimension */

void ol_sgemm_serial(int m, int n, int k, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *b, ptrdiff_t rsb, ptrdiff_t csb, float beta,
                     float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    if (m <= 0 || n <= 0) return;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    float one = 1.0f;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, (float *)a, rsa, csa,
                 (float *)b, rsb, csb, &beta, c, rsc, csc, NULL, &rntm);
}

void ol_sgemm(int m, int n, int k, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
              const float *b, ptrdiff_t rsb, ptrdiff_t csb, float beta,
              float *c, ptrdiff_t rsc, ptrdiff_t csc)
{
    if (m <= 0 || n <= 0) return;
    /* Tiles along the longer side of C; their number follows from the shape alone. */
    double flops = 2.0 * m * n * (k > 0 ? k : 1);
    int along_n = n >= m, len = along_n ? n : m;
    int tiles = (int)(flops / TILE_MIN_FLOPS);
    if (tiles > MAX_TILES) tiles = MAX_TILES;
    int step = tiles > 1 ? (len + tiles - 1) / tiles : len;
    step = (step + TILE_ALIGN - 1) / TILE_ALIGN * TILE_ALIGN;
    if (step >= len) {
        ol_sgemm_serial(m, n, k, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
        return;
    }
    tiles = (len + step - 1) / step;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < tiles; t++) {
        int o = t * step, sz = len - o < step ? len - o : step;
        if (along_n)
            ol_sgemm_serial(m, sz, k, a, rsa, csa, b + o * csb, rsb, csb, beta, c + o * csc, rsc, csc);
        else
            ol_sgemm_serial(sz, n, k, a + o * rsa, rsa, csa, b, rsb, csb, beta, c + o * rsc, rsc, csc);
    }
}
