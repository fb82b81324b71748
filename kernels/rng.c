#include "rng.h"
#include "team.h"
#include "par.h"
#include <math.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ol_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32);
    uint32_t c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1; c3 = (uint32_t)p0; c0 = n0; c2 = n2;
        k0 += PHILOX_W0; k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void ol_rng_uniform(uint64_t key, uint64_t stream, float lo, float hi, float *out, size_t n)
{
    float span = hi - lo;
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN_RNG)
    for (size_t b = 0; b < (n + 3) / 4; b++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, b, r);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++)
            out[4 * b + j] = lo + span * ol_u32_to_unit(r[j]);
    }
}

void ol_rng_normal(uint64_t key, uint64_t stream, float mean, float std, float *out, size_t n)
{
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN_RNG)
    for (size_t b = 0; b < (n + 1) / 2; b++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, b, r);
        /* u1 in (0, 1] so the log is finite; 32-bit resolution from two words. */
        double u1 = ((double)r[0] + 1.0) / 4294967296.0;
        double u2 = (double)r[1] / 4294967296.0;
        double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        out[2 * b] = (float)(mean + std * rad * cos(th));
        if (2 * b + 1 < n) out[2 * b + 1] = (float)(mean + std * rad * sin(th));
    }
}

/* Philox4x32-10 on PHILOX_LANES consecutive counters (ctr_lo = base ..) at once with
 * AVX-512 or AVX2: the same arithmetic as ol_philox4x32, lane by lane (the compiler does not
 * vectorize the 32x32->64 high products by itself). The scalar function costs ~14 ns per
 * counter, which made dropout masks a tenth of a training step. out[w][l] = word w of
 * counter base + l. */
#if defined(__AVX512F__)
/* Two independent 16-lane chains, interleaved: one chain's multiplies wait on the previous
 * round (about 8 cycles of latency a round); two keep the vector units busy. */
#define PHILOX_LANES 32
#include <immintrin.h>

static inline void mulhilo16(__m512i m, __m512i c, __m512i *lo, __m512i *hi)
{
    __m512i even = _mm512_mul_epu32(c, m);                         /* even lanes */
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(c, 32), m);   /* odd lanes */
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

static void philox4x32_lanes(uint64_t key, uint64_t ctr_hi, uint64_t base, uint32_t out[4][PHILOX_LANES])
{
    uint32_t w0[PHILOX_LANES], w1[PHILOX_LANES];
    for (int l = 0; l < PHILOX_LANES; l++) {
        uint64_t lo = base + (uint64_t)l;
        w0[l] = (uint32_t)lo; w1[l] = (uint32_t)(lo >> 32);
    }
    __m512i c[2][4];
    for (int h = 0; h < 2; h++) {
        c[h][0] = _mm512_loadu_si512(w0 + 16 * h); c[h][1] = _mm512_loadu_si512(w1 + 16 * h);
        c[h][2] = _mm512_set1_epi32((int)(uint32_t)ctr_hi);
        c[h][3] = _mm512_set1_epi32((int)(uint32_t)(ctr_hi >> 32));
    }
    const __m512i m0 = _mm512_set1_epi32((int)PHILOX_M0), m1 = _mm512_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        const __m512i kv0 = _mm512_set1_epi32((int)k0), kv1 = _mm512_set1_epi32((int)k1);
        for (int h = 0; h < 2; h++) {
            __m512i lo0, hi0, lo1, hi1;
            mulhilo16(m0, c[h][0], &lo0, &hi0);
            mulhilo16(m1, c[h][2], &lo1, &hi1);
            c[h][0] = _mm512_xor_si512(_mm512_xor_si512(hi1, c[h][1]), kv0);
            c[h][2] = _mm512_xor_si512(_mm512_xor_si512(hi0, c[h][3]), kv1);
            c[h][1] = lo1; c[h][3] = lo0;
        }
        k0 += PHILOX_W0; k1 += PHILOX_W1;
    }
    for (int h = 0; h < 2; h++)
        for (int w = 0; w < 4; w++) _mm512_storeu_si512(out[w] + 16 * h, c[h][w]);
}
#elif defined(__AVX2__)
#define PHILOX_LANES 8
#include <immintrin.h>

/* lo, hi halves of the 32x32->64 products m * c, per 32-bit lane */
static inline void mulhilo8(__m256i m, __m256i c, __m256i *lo, __m256i *hi)
{
    __m256i even = _mm256_mul_epu32(c, m);                         /* lanes 0, 2, 4, 6 */
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(c, 32), m);   /* lanes 1, 3, 5, 7 */
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

static void philox4x32_lanes(uint64_t key, uint64_t ctr_hi, uint64_t base, uint32_t out[4][PHILOX_LANES])
{
    uint32_t w0[PHILOX_LANES], w1[PHILOX_LANES];
    for (int l = 0; l < PHILOX_LANES; l++) {
        uint64_t lo = base + (uint64_t)l;
        w0[l] = (uint32_t)lo; w1[l] = (uint32_t)(lo >> 32);
    }
    __m256i c0 = _mm256_loadu_si256((const __m256i *)w0), c1 = _mm256_loadu_si256((const __m256i *)w1);
    __m256i c2 = _mm256_set1_epi32((int)(uint32_t)ctr_hi), c3 = _mm256_set1_epi32((int)(uint32_t)(ctr_hi >> 32));
    const __m256i m0 = _mm256_set1_epi32((int)PHILOX_M0), m1 = _mm256_set1_epi32((int)PHILOX_M1);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        __m256i lo0, hi0, lo1, hi1;
        mulhilo8(m0, c0, &lo0, &hi0);
        mulhilo8(m1, c2, &lo1, &hi1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c1 = lo1; c3 = lo0;
        k0 += PHILOX_W0; k1 += PHILOX_W1;
    }
    _mm256_storeu_si256((__m256i *)out[0], c0); _mm256_storeu_si256((__m256i *)out[1], c1);
    _mm256_storeu_si256((__m256i *)out[2], c2); _mm256_storeu_si256((__m256i *)out[3], c3);
}
#else
#define PHILOX_LANES 8
static void philox4x32_lanes(uint64_t key, uint64_t ctr_hi, uint64_t base, uint32_t out[4][PHILOX_LANES])
{
    for (int l = 0; l < PHILOX_LANES; l++) {
        uint32_t r[4];
        ol_philox4x32(key, ctr_hi, base + (uint64_t)l, r);
        for (int w = 0; w < 4; w++) out[w][l] = r[w];
    }
}
#endif

/* Dropout decisions as bits: element i is kept iff u_i >= p, u_i = ol_u32_to_unit(word i%4 of
 * counter i/4), tested in integers: (r >> 8) >= ceil(p * 2^24) is the same comparison, exactly.
 * keep_chunk gives the decisions of chunk c, elements CHUNK*c .. (those below n), as
 * CHUNK/64 words: bit i of word v = element CHUNK*c + 64v + i. */
#define CHUNK (4 * PHILOX_LANES > 64 ? 4 * PHILOX_LANES : 64)
static uint32_t keep_threshold(float p) { return (uint32_t)ceil((double)p * 16777216.0); }

static void keep_chunk(uint64_t key, uint64_t stream, uint32_t t, size_t c, size_t n,
                       uint64_t out[CHUNK / 64])
{
    memset(out, 0, sizeof(uint64_t) * (CHUNK / 64));
    const size_t b0 = CHUNK / 4 * c; /* first counter */
    if (CHUNK * (c + 1) <= n) {
        for (int blk = 0; blk < CHUNK / 4 / PHILOX_LANES; blk++) {
            uint32_t r[4][PHILOX_LANES];
            philox4x32_lanes(key, stream, b0 + (size_t)blk * PHILOX_LANES, r);
#if defined(__AVX512F__) && defined(__BMI2__)
            /* one compare per word j and 16 counters gives bit l = element 4l + j: spread with pdep */
            const __m512i tv = _mm512_set1_epi32((int)t);
            for (int h = 0; h < PHILOX_LANES / 16; h++)
                for (int j = 0; j < 4; j++) {
                    __mmask16 m = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(_mm512_loadu_si512(r[j] + 16 * h), 8), tv);
                    out[blk * PHILOX_LANES / 16 + h] |= _pdep_u64(m, 0x1111111111111111ULL << j);
                }
#else
            for (int l = 0; l < PHILOX_LANES; l++)
                for (int j = 0; j < 4; j++) {
                    size_t e = 4 * ((size_t)blk * PHILOX_LANES + l) + j;
                    out[e / 64] |= (uint64_t)((r[j][l] >> 8) >= t) << (e % 64);
                }
#endif
        }
        return;
    }
    for (size_t b = b0; b < b0 + CHUNK / 4 && 4 * b < n; b++) {
        uint32_t r[4];
        ol_philox4x32(key, stream, b, r);
        for (size_t j = 0; j < 4 && 4 * b + j < n; j++) {
            size_t e = 4 * (b - b0) + j;
            out[e / 64] |= (uint64_t)((r[j] >> 8) >= t) << (e % 64);
        }
    }
}

/* y[0..m) = x * (bit i of bits ? keep : 0): the same product as with a float mask. */
static void apply_bits(uint64_t bits, float keep, const float *restrict x, float *restrict y, size_t m)
{
#if defined(__AVX512F__)
    if (m == 64) {
        const __m512 kv = _mm512_set1_ps(keep);
        for (int c = 0; c < 4; c++) {
            __m512 f = _mm512_maskz_mov_ps((__mmask16)(bits >> (16 * c)), kv);
            _mm512_storeu_ps(y + 16 * c, _mm512_mul_ps(_mm512_loadu_ps(x + 16 * c), f));
        }
        return;
    }
#endif
    for (size_t i = 0; i < m; i++) y[i] = x[i] * ((bits >> i & 1) ? keep : 0.0f);
}

void ol_rng_dropout_mask(uint64_t key, uint64_t stream, float p, float *out, size_t n)
{
    const float keep = 1.0f / (1.0f - p);
    const uint32_t t = keep_threshold(p);
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN_RNG)
    for (size_t c = 0; c < (n + CHUNK - 1) / CHUNK; c++) {
        uint64_t bits[CHUNK / 64];
        keep_chunk(key, stream, t, c, n, bits);
        for (size_t i = CHUNK * c; i < n && i < CHUNK * (c + 1); i++)
            out[i] = (bits[(i % CHUNK) / 64] >> (i % 64) & 1) ? keep : 0.0f;
    }
}

/* ol_dropout_forward's arguments, for its chunk ranges on the team (team.h) */
typedef struct {
    uint64_t key, stream, offset;
    uint32_t t;
    float keep;
    const float *x;
    float *y;
    uint64_t *bits;
    size_t n;
} DropoutJob;

static void dropout_chunks(void *ctx, int64_t lo, int64_t hi)
{
    const DropoutJob *j = ctx;
    const size_t n = j->n, words = (n + 63) / 64, total = (size_t)j->offset + n;
    const unsigned sh = (unsigned)(j->offset % CHUNK);
    for (size_t c = (size_t)lo; c < (size_t)hi; c++) {
        /* local chunk c is global elements offset + CHUNK*c ..: the tail of global chunk g from
         * bit sh, then the head of chunk g + 1 (needed only when the offset is not aligned) */
        size_t g = (size_t)(j->offset / CHUNK) + c;
        uint64_t cb[2 * (CHUNK / 64)];
        keep_chunk(j->key, j->stream, j->t, g, total, cb);
        if (sh) keep_chunk(j->key, j->stream, j->t, g + 1, total, cb + CHUNK / 64);
        for (size_t v = 0; v < CHUNK / 64 && c * (CHUNK / 64) + v < words; v++) {
            size_t w = c * (CHUNK / 64) + v, at = sh + 64 * v, m = n - 64 * w < 64 ? n - 64 * w : 64;
            uint64_t word = cb[at / 64] >> (at % 64);
            if (at % 64) word |= cb[at / 64 + 1] << (64 - at % 64);
            if (m < 64) word &= ((uint64_t)1 << m) - 1; /* no decisions past n, as at offset 0 */
            j->bits[w] = word;
            apply_bits(word, j->keep, j->x + 64 * w, j->y + 64 * w, m);
        }
    }
}

void ol_dropout_forward(uint64_t key, uint64_t stream, float p, uint64_t offset, const float *x,
                        float *y, uint64_t *bits, size_t n)
{
    DropoutJob j = { key, stream, offset, keep_threshold(p), 1.0f / (1.0f - p), x, y, bits, n };
    const int64_t chunks = (int64_t)((n + CHUNK - 1) / CHUNK);
    if (n > OL_PAR_MIN_RNG) ol_team_for(chunks, dropout_chunks, &j);
    else dropout_chunks(&j, 0, chunks);
}

/* ol_dropout_backward's arguments, for its blocks of CHUNK elements on the team */
typedef struct {
    float keep;
    const uint64_t *bits;
    const float *dy;
    float *dx;
    size_t n;
} DropoutBackJob;

static void dropout_back_chunks(void *ctx, int64_t lo, int64_t hi)
{
    const DropoutBackJob *j = ctx;
    const size_t n = j->n, words = (n + 63) / 64;
    for (size_t w = (size_t)lo * (CHUNK / 64); w < (size_t)hi * (CHUNK / 64) && w < words; w++)
        apply_bits(j->bits[w], j->keep, j->dy + 64 * w, j->dx + 64 * w, n - 64 * w < 64 ? n - 64 * w : 64);
}

void ol_dropout_backward(float p, const uint64_t *bits, const float *dy, float *dx, size_t n)
{
    DropoutBackJob j = { 1.0f / (1.0f - p), bits, dy, dx, n };
    const int64_t chunks = (int64_t)((n + CHUNK - 1) / CHUNK);
    if (n > OL_PAR_MIN_RNG) ol_team_for(chunks, dropout_back_chunks, &j);
    else dropout_back_chunks(&j, 0, chunks);
}
