#include "gemm.h"
#include <blis.h>
#include <omp.h>

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

/* ---- GEMM ---------------------------------------------------------- */

/* A tile of c gets at least this many flops: each tile packs its operands
 * again, and below ~2^26 flops that costs more than the parallelism gains
 * (the seed's dense layer ran at 90 GFLOP/s in 16 tiles, 104 in 2). */
#define TILE_MIN_FLOPS (1 << 26)
#define MAX_TILES 16
#define TILE_ALIGN 16 /* tile edges on multiples of the micro-kernel's 16-wide dimension */

void ol_gemm_serial(int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t rsa, int64_t csa,
                    const float *b, int64_t rsb, int64_t csb,
                    float beta, float *c, int64_t rsc, int64_t csc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { /* BLIS would scale c by beta; do it the same way here */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * rsc + j * csc] = beta == 0 ? 0 : beta * c[i * rsc + j * csc];
        return;
    }
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (float *)a, rsa, csa,
                 (float *)b, rsb, csb, &beta, c, rsc, csc, NULL, &rntm);
}

void ol_gemm(int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t rsa, int64_t csa,
             const float *b, int64_t rsb, int64_t csb,
             float beta, float *c, int64_t rsc, int64_t csc)
{
    if (m <= 0 || n <= 0) return;
    /* Tiles along the longer side of c; their number follows from the shape alone. */
    double flops = 2.0 * m * n * (k > 0 ? k : 1);
    int along_n = n >= m;
    int64_t len = along_n ? n : m;
    int64_t tiles = (int64_t)(flops / TILE_MIN_FLOPS);
    if (tiles > MAX_TILES) tiles = MAX_TILES;
    int64_t step = tiles > 1 ? (len + tiles - 1) / tiles : len;
    step = (step + TILE_ALIGN - 1) / TILE_ALIGN * TILE_ALIGN;
    if (step >= len) {
        ol_gemm_serial(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
        return;
    }
    tiles = (len + step - 1) / step;
    #pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tiles; t++) {
        int64_t o = t * step, sz = len - o < step ? len - o : step;
        if (along_n)
            ol_gemm_serial(m, sz, k, alpha, a, rsa, csa, b + o * csb, rsb, csb, beta, c + o * csc, rsc, csc);
        else
            ol_gemm_serial(sz, n, k, alpha, a + o * rsa, rsa, csa, b, rsb, csb, beta, c + o * rsc, rsc, csc);
    }
}
