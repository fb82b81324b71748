#include "gemm.h"
#include "team.h"
#include <blis.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

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

const char *ol_blis_arch(void) { return bli_arch_string(bli_arch_query_id()); }

/* BLIS 0.9 counts a CPU's AVX-512 FMA units from its model name, and without one it falls
 * back from its "skx" kernels to the AVX2 "haswell" ones. Cloud VMs hide the model name
 * ("Intel(R) Xeon(R) Processor"): on our 2-core VM, which has two units, that fallback ran
 * sgemm 1024^3 at 114 GFLOP/s instead of 171 and the Keras example CNN's dense dW at 87 instead of 156.
 * So on an Intel CPU with the AVX-512 subsets skx uses and a brand string without a model
 * number (nothing for BLIS to look up), optlab asks for skx. A user's BLIS_ARCH_TYPE wins.
 * The choice depends on the CPU only: every run on a machine uses the same kernels. */
#if defined(__x86_64__)
/* Whether this CPU runs the kernels of BLIS arch id `id` (the features BLIS's
 * own cpuid checks ask for); 0 for ids this BLIS has no kernels for. */
static int arch_runs_here(long id)
{
    __builtin_cpu_init();
#define HAS(f) __builtin_cpu_supports(f)
    int avx2 = HAS("avx") && HAS("fma") && HAS("avx2");
    switch (id) {
    case BLIS_ARCH_SKX:
        return avx2 && HAS("avx512f") && HAS("avx512dq") && HAS("avx512bw") && HAS("avx512vl");
    case BLIS_ARCH_KNL: return HAS("avx512f") && HAS("avx512pf") && HAS("avx512er") && HAS("avx512cd");
    case BLIS_ARCH_HASWELL: case BLIS_ARCH_ZEN3: case BLIS_ARCH_ZEN2: case BLIS_ARCH_ZEN: return avx2;
    case BLIS_ARCH_SANDYBRIDGE: return HAS("avx");
    case BLIS_ARCH_PENRYN: return HAS("sse3") && HAS("ssse3");
    case BLIS_ARCH_EXCAVATOR: case BLIS_ARCH_STEAMROLLER: case BLIS_ARCH_PILEDRIVER:
        return HAS("avx") && HAS("fma") && HAS("fma4");
    case BLIS_ARCH_BULLDOZER: return HAS("avx") && HAS("fma4");
    case BLIS_ARCH_GENERIC: return 1;
    default: return 0;   /* knc, other CPU families: not in this BLIS (it aborts) */
    }
#undef HAS
}
#endif

/* A user's BLIS_ARCH_TYPE is a kernel set chosen by number (BLIS's enum arch_t; -1: let BLIS
 * choose). BLIS reads it with atoi, so "" or "x" mean 0 (skx), and kernels the CPU lacks die
 * with SIGILL at the first product. Anything but a number naming kernels this CPU runs is
 * dropped with a warning, and BLIS chooses as if it were unset. */
static void check_user_arch(void)
{
#if defined(__x86_64__)
    const char *v = getenv("BLIS_ARCH_TYPE");
    if (!v) return;
    char *end;
    errno = 0;
    long id = strtol(v, &end, 10);
    const char *why = NULL;
    if (end == v || *end || errno) why = "is not a number";
    else if (id != -1 && !arch_runs_here(id)) why = "names kernels this CPU cannot run (or this BLIS lacks)";
    if (!why) return;
    fprintf(stderr, "optlab: warning: BLIS_ARCH_TYPE='%s' %s; BLIS chooses its kernels itself\n", v, why);
    unsetenv("BLIS_ARCH_TYPE");
#endif
}

void ol_blis_choose_arch(void)
{
    check_user_arch();
#if defined(__x86_64__)
    if (getenv("BLIS_ARCH_TYPE")) return;
    __builtin_cpu_init();
    if (!__builtin_cpu_is("intel") || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq") ||
        !__builtin_cpu_supports("avx512cd") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl"))
        return;
    unsigned int r[12] = { 0 };
    if ((unsigned int)__get_cpuid_max(0x80000000u, NULL) < 0x80000004u) return;
    for (unsigned int i = 0; i < 3; i++) __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    const char *brand = (const char *)r;
    for (size_t i = 0; i < sizeof r; i++)
        if (isdigit((unsigned char)brand[i])) return; /* a model number: BLIS decides */
    setenv("BLIS_ARCH_TYPE", "0", 0);              /* BLIS_ARCH_SKX */
#endif
}

/* ---- GEMM ---------------------------------------------------------- */

/* A tile of c gets at least this many flops: each tile packs its operands
 * again, and below ~2^26 flops that costs more than the parallelism gains
 * (the Keras example CNN's dense layer ran at 90 GFLOP/s in 16 tiles, 104 in 2). */
#define TILE_MIN_FLOPS (1 << 26)
#define MAX_TILES 16
#define TILE_ALIGN 16 /* tile edges on multiples of the micro-kernel's 16-wide dimension */

/* One single-threaded BLIS call. native: skip BLIS's small/skinny ("sup") path for its
 * packing one, whose result for an element of c does not depend on how c is partitioned. */
static void gemm_call(int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t rsa, int64_t csa,
                      const float *b, int64_t rsb, int64_t csb,
                      float beta, float *c, int64_t rsc, int64_t csc, int native)
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
    if (native) bli_rntm_disable_l3_sup(&rntm);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (float *)a, rsa, csa,
                 (float *)b, rsb, csb, &beta, c, rsc, csc, NULL, &rntm);
}

void ol_gemm_serial(int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t rsa, int64_t csa,
                    const float *b, int64_t rsb, int64_t csb,
                    float beta, float *c, int64_t rsc, int64_t csc)
{
    gemm_call(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, 0);
}

typedef struct {
    int64_t m, n, k;
    float alpha;
    const float *a;
    int64_t rsa, csa;
    const float *b;
    int64_t rsb, csb;
    float beta;
    float *c;
    int64_t rsc, csc;
    int along_n;
    int64_t len, step;
} GemmTiles;

static void gemm_tiles(void *ctx, int64_t lo, int64_t hi)
{
    const GemmTiles *t = ctx;
    int64_t o = lo * t->step, end = hi * t->step < t->len ? hi * t->step : t->len;
    if (t->along_n)
        gemm_call(t->m, end - o, t->k, t->alpha, t->a, t->rsa, t->csa, t->b + o * t->csb, t->rsb,
                  t->csb, t->beta, t->c + o * t->csc, t->rsc, t->csc, 1);
    else
        gemm_call(end - o, t->n, t->k, t->alpha, t->a + o * t->rsa, t->rsa, t->csa, t->b, t->rsb,
                  t->csb, t->beta, t->c + o * t->rsc, t->rsc, t->csc, 1);
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
    /* Tiled products take BLIS's native path, in which an element of c comes out the same
     * whatever slice of c the call computes (tested in tests/c/test_core.c over shapes and
     * splits); so a range of tiles taken by one thread runs as one call, and a single thread
     * makes one call for the whole product instead of repacking an operand per tile (the Keras
     * example CNN's dense forward: 1.84 -> 1.58 ms). */
    GemmTiles t = { m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc, along_n, len, step };
    ol_team_for(tiles, gemm_tiles, &t);
}
