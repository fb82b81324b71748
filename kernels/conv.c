/* 2-D convolution, images processed in parallel, by one of two strategies chosen by shape:
 *
 * - im2col + GEMM per image. Not one GEMM over the batch: measured on the Keras example CNN's first layer,
 *   the im2col of the whole batch and the [k, n*p*q] -> [n, k, p, q] scatter it needs cost more
 *   than the GEMM. Per image, the GEMM writes y in NCHW directly and col stays in L2. Each
 *   image's GEMM runs on one thread (ol_gemm_serial).
 * - direct, for stride 1 and at most OL_CONV_DIRECT_TAPS taps (the Keras example CNN's 1-channel 3x3): one
 *   vector multiply-add per tap over the zero-padded image read as one long row.
 *
 * Bias, ReLU and an optional max-pool run on each image's output while it is still in cache.
 *
 * Determinism: images are split into G = min(n, OL_CONV_GROUPS) fixed groups, which depend
 * on the shape only. Backward accumulates dw, db per group in image order, then sums the
 * groups in order: the same additions in the same order for any thread count.
 *
 * Workspace, per group: z (one image's raw output), then col [c*r*s, p*q] (GEMM) or the
 * padded image and its gradient (direct); after the groups, dw partials [G, k, c*r*s] and db
 * partials [G, k]. */
#include "conv.h"
#include "team.h"
#include "par.h"

#include "gemm.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define OL_CONV_GROUPS 16 /* >= threads to keep busy; more only costs workspace */
/* c*r*s at or below which a stride-1 conv runs the direct kernel: a GEMM with so short an inner
 * dimension spends its time packing (the Keras example CNN's conv1, 9 taps: 29 GFLOP/s as im2col+GEMM). */
#define OL_CONV_DIRECT_TAPS 32
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define OL_CONV_AVX2 1
#endif
#define VL 16 /* lanes of the direct kernel's loops; its buffers are whole vectors long */

int ol_conv2d_shape_init(ol_conv2d_shape *sh, int n, int c, int h, int w, int k, int r, int s,
                         int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w)
{
    memset(sh, 0, sizeof *sh);
    if (n < 1 || c < 1 || h < 1 || w < 1 || k < 1 || r < 1 || s < 1) return OL_CONV_EDIM;
    if (stride_h < 1 || stride_w < 1) return OL_CONV_ESTRIDE;
    if (dil_h < 1 || dil_w < 1) return OL_CONV_EDIL;
    if (pad_h < 0 || pad_w < 0) return OL_CONV_EPAD;
    /* 64-bit: large pads/dilations must not overflow int before the check */
    long long eh = (long long)h + 2LL * pad_h - (long long)dil_h * (r - 1) - 1;
    long long ew = (long long)w + 2LL * pad_w - (long long)dil_w * (s - 1) - 1;
    if (eh < 0 || ew < 0) return OL_CONV_EKERNEL;
    long long p = eh / stride_h + 1, q = ew / stride_w + 1;
    long long crs = (long long)c * r * s, l = (long long)n * p * q;
    if (p > INT_MAX || q > INT_MAX || crs > INT_MAX || l > INT_MAX) return OL_CONV_ETOOBIG;
    *sh = (ol_conv2d_shape){ n, c, h, w, k, r, s, stride_h, stride_w, pad_h, pad_w,
                             dil_h, dil_w, (int)p, (int)q };
    return OL_CONV_OK;
}

const char *ol_conv2d_strerror(int code)
{
    switch (code) {
    case OL_CONV_OK:      return "ok";
    case OL_CONV_EDIM:    return "conv2d: batch, channels, height, width, filters and kernel size must be >= 1";
    case OL_CONV_ESTRIDE: return "conv2d: stride must be >= 1";
    case OL_CONV_EDIL:    return "conv2d: dilation must be >= 1";
    case OL_CONV_EPAD:    return "conv2d: padding must be >= 0";
    case OL_CONV_EKERNEL: return "conv2d: (dilated) kernel is larger than the padded input";
    case OL_CONV_ETOOBIG: return "conv2d: tensor too large (a dimension of the im2col matrix exceeds 2^31-1)";
    default:              return "conv2d: unknown error";
    }
}

static int ngroups(const ol_conv2d_shape *sh)
{
    return sh->n < OL_CONV_GROUPS ? sh->n : OL_CONV_GROUPS;
}

/* 1x1, stride 1, no padding: im2col of an image is the image itself. */
static int col_is_x(const ol_conv2d_shape *sh)
{
    return sh->r == 1 && sh->s == 1 && sh->stride_h == 1 && sh->stride_w == 1 &&
           sh->pad_h == 0 && sh->pad_w == 0;
}

/* Geometry of the direct kernel. The image is copied zero-padded, planes of hp x wp; the raw
 * output z of channel k is computed at every position o = i*wp + j of the padded grid (as if
 * the image were one long row), so each tap is one unit-stride sweep. Columns j >= q are
 * wrap-around junk that nobody reads (forward) or zeros (backward). `span` covers the last
 * valid output, rounded up to whole vectors. */
static size_t plane_p(const ol_conv2d_shape *sh)
{
    return (size_t)(sh->h + 2 * sh->pad_h) * (sh->w + 2 * sh->pad_w);
}

/* Tap offsets into the padded image are ints: images too large for them take im2col. */
int ol_conv2d_is_direct(const ol_conv2d_shape *sh)
{
    return !col_is_x(sh) && sh->stride_h == 1 && sh->stride_w == 1 && sh->dil_h == 1 && sh->dil_w == 1 &&
           sh->c * sh->r * sh->s <= OL_CONV_DIRECT_TAPS && (size_t)sh->c * plane_p(sh) + 2 * VL < INT_MAX;
}
static size_t span(const ol_conv2d_shape *sh)
{
    size_t l = (size_t)(sh->p - 1) * (sh->w + 2 * sh->pad_w) + sh->q;
    return (l + VL - 1) / VL * VL;
}

/* Layout of the raw output z of one image: channel k at k*z_ks, row i at i*z_ld. */
static size_t z_ld(const ol_conv2d_shape *sh)
{
    return ol_conv2d_is_direct(sh) ? (size_t)(sh->w + 2 * sh->pad_w) : (size_t)sh->q;
}
static size_t z_ks(const ol_conv2d_shape *sh)
{
    size_t pq = (size_t)sh->p * z_ld(sh);
    return ol_conv2d_is_direct(sh) ? (pq > span(sh) ? pq : span(sh)) : pq;
}

/* Per group: z, then the padded image and its gradient (direct) or col (im2col). */
static size_t group_floats(const ol_conv2d_shape *sh)
{
    size_t z = (size_t)sh->k * z_ks(sh);
    if (ol_conv2d_is_direct(sh)) return z + 2 * (sh->c * plane_p(sh) + VL);
    return z + (size_t)sh->c * sh->r * sh->s * sh->p * sh->q;
}

size_t ol_conv2d_workspace_floats(const ol_conv2d_shape *sh)
{
    size_t crs = (size_t)sh->c * sh->r * sh->s;
    return (size_t)ngroups(sh) * (group_floats(sh) + (size_t)sh->k * crs + (size_t)sh->k);
}

/* Range [*lo, *hi) of output columns q whose input column q*stride + off lies in [0, w). */
static void valid_range(int w, int outw, int stride, int off, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int t = w - 1 - off; /* last q satisfies q*stride <= t */
    int b = t < 0 ? 0 : t / stride + 1;
    *lo = a < outw ? a : outw;
    *hi = b < outw ? b : outw;
    if (*hi < *lo) *hi = *lo;
}

/* col[(c*r + i)*s + j][p*q] for one image; ld = row stride of col (the whole batch's L). */
static void im2col_image(const ol_conv2d_shape *sh, const float *restrict x, float *restrict col,
                         size_t ld)
{
    const int H = sh->h, W = sh->w, P = sh->p, Q = sh->q;
    for (int c = 0; c < sh->c; c++)
        for (int i = 0; i < sh->r; i++)
            for (int j = 0; j < sh->s; j++) {
                float *row = col + ((size_t)(c * sh->r + i) * sh->s + j) * ld;
                int off_w = j * sh->dil_w - sh->pad_w, lo, hi;
                valid_range(W, Q, sh->stride_w, off_w, &lo, &hi);
                for (int p = 0; p < P; p++, row += Q) {
                    int ih = p * sh->stride_h + i * sh->dil_h - sh->pad_h;
                    if (ih < 0 || ih >= H) { memset(row, 0, sizeof(float) * Q); continue; }
                    const float *src = x + ((size_t)c * H + ih) * W + off_w;
                    for (int q = 0; q < lo; q++) row[q] = 0.0f;
                    if (sh->stride_w == 1)
                        memcpy(row + lo, src + lo, sizeof(float) * (hi - lo));
                    else
                        for (int q = lo; q < hi; q++) row[q] = src[(size_t)q * sh->stride_w];
                    for (int q = hi; q < Q; q++) row[q] = 0.0f;
                }
            }
}

/* dx (one image, overwritten) = sum of dcol entries over the positions each input feeds.
 * Sequential in (c, i, j, p, q) order: the sum order is fixed. */
static void col2im_image(const ol_conv2d_shape *sh, const float *restrict col, size_t ld,
                         float *restrict dx)
{
    const int H = sh->h, W = sh->w, P = sh->p, Q = sh->q;
    memset(dx, 0, sizeof(float) * (size_t)sh->c * H * W);
    for (int c = 0; c < sh->c; c++)
        for (int i = 0; i < sh->r; i++)
            for (int j = 0; j < sh->s; j++) {
                const float *row = col + ((size_t)(c * sh->r + i) * sh->s + j) * ld;
                int off_w = j * sh->dil_w - sh->pad_w, lo, hi;
                valid_range(W, Q, sh->stride_w, off_w, &lo, &hi);
                for (int p = 0; p < P; p++, row += Q) {
                    int ih = p * sh->stride_h + i * sh->dil_h - sh->pad_h;
                    if (ih < 0 || ih >= H) continue;
                    float *dst = dx + ((size_t)c * H + ih) * W + off_w;
                    if (sh->stride_w == 1)
                        for (int q = lo; q < hi; q++) dst[q] += row[q];
                    else
                        for (int q = lo; q < hi; q++) dst[(size_t)q * sh->stride_w] += row[q];
                }
            }
}

/* ---- direct kernel ---------------------------------------------------------------------- */

/* xp (c planes of hp x wp, then VL zeros) = x_n zero-padded. */
static void pad_image(const ol_conv2d_shape *sh, const float *restrict x, float *restrict xp)
{
    const int wp = sh->w + 2 * sh->pad_w;
    const size_t pl = plane_p(sh);
    if (sh->pad_h == 0 && sh->pad_w == 0) memcpy(xp, x, sizeof(float) * sh->c * pl);
    else {
        memset(xp, 0, sizeof(float) * sh->c * pl);
        for (int c = 0; c < sh->c; c++)
            for (int i = 0; i < sh->h; i++)
                memcpy(xp + c * pl + (size_t)(i + sh->pad_h) * wp + sh->pad_w,
                       x + ((size_t)c * sh->h + i) * sh->w, sizeof(float) * sh->w);
    }
    memset(xp + sh->c * pl, 0, sizeof(float) * VL);
}

/* Offsets of the taps (c, i, j) in the padded image, in (c, i, j) order. */
static void tap_offsets(const ol_conv2d_shape *sh, int *off)
{
    const int wp = sh->w + 2 * sh->pad_w, pl = (int)plane_p(sh);
    for (int c = 0, t = 0; c < sh->c; c++)
        for (int i = 0; i < sh->r; i++)
            for (int j = 0; j < sh->s; j++) off[t++] = c * pl + i * wp + j;
}

/* z[k][o] = sum over taps t of w[k][t] * xp[o + off[t]], for o < span: one fused
 * multiply-add per tap, taps in order, so the vector and scalar builds give the same bits.
 * Four channels at a time share each load of xp. */
static void direct_forward_image(const ol_conv2d_shape *sh, const float *restrict xp,
                                 const float *restrict w, float *restrict z)
{
    const int crs = sh->c * sh->r * sh->s;
    const size_t L = span(sh), ks = z_ks(sh);
    int off[OL_CONV_DIRECT_TAPS];
    tap_offsets(sh, off);
    int k = 0;
#ifdef OL_CONV_AVX2
    for (; k + 4 <= sh->k; k += 4) {
        const float *wk = w + (size_t)k * crs;
        float *zk = z + k * ks;
        for (size_t o = 0; o < L; o += VL) {
            __m256 a[4][2];
            for (int u = 0; u < 4; u++) a[u][0] = a[u][1] = _mm256_setzero_ps();
            for (int t = 0; t < crs; t++) {
                const float *src = xp + off[t] + o;
                const __m256 x0 = _mm256_loadu_ps(src), x1 = _mm256_loadu_ps(src + 8);
                for (int u = 0; u < 4; u++) {
                    const __m256 wt = _mm256_broadcast_ss(wk + (size_t)u * crs + t);
                    a[u][0] = _mm256_fmadd_ps(wt, x0, a[u][0]);
                    a[u][1] = _mm256_fmadd_ps(wt, x1, a[u][1]);
                }
            }
            for (int u = 0; u < 4; u++) {
                _mm256_storeu_ps(zk + u * ks + o, a[u][0]);
                _mm256_storeu_ps(zk + u * ks + o + 8, a[u][1]);
            }
        }
    }
#endif
    for (; k < sh->k; k++) {
        const float *wk = w + (size_t)k * crs;
        for (size_t o = 0; o < L; o += VL) {
            float a[VL] = { 0 };
            for (int t = 0; t < crs; t++)
                for (int l = 0; l < VL; l++) a[l] = fmaf(wk[t], xp[off[t] + o + l], a[l]);
            memcpy(z + k * ks + o, a, sizeof a);
        }
    }
}

/* dw[k][t] = sum over o < span of dz[k][o] * xp[o + off[t]]: 8 lanes, each summing every 8th
 * position in order, then the lanes in order (the same in the vector and scalar builds).
 * Two channels and three taps at a time: each load feeds several multiply-adds. db[k] (when
 * dbg != NULL) = the sum of dz[k] the same way, on the loads of the first taps. */
static void direct_dw_image(const ol_conv2d_shape *sh, const float *restrict xp,
                            const float *restrict dz, float *restrict dwg, float *restrict dbg,
                            int first)
{
    const int crs = sh->c * sh->r * sh->s;
    const size_t L = span(sh), ks = z_ks(sh);
    int off[OL_CONV_DIRECT_TAPS];
    tap_offsets(sh, off);
    float s[2][3], sb[2];
    for (int k = 0; k < sh->k; k += 2) {
        const int nk = sh->k - k < 2 ? 1 : 2;
        const float *d0 = dz + k * ks, *d1 = nk == 2 ? d0 + ks : d0;
        for (int t = 0; t < crs; t += 3) {
            const int nt = crs - t < 3 ? crs - t : 3;
            /* missing taps repeat the last one; their sums are dropped */
            const float *x0 = xp + off[t], *x1 = xp + off[t + (nt > 1)], *x2 = xp + off[t + nt - 1];
#ifdef OL_CONV_AVX2
            __m256 a[2][3], ab[2];
            for (int u = 0; u < 2; u++) a[u][0] = a[u][1] = a[u][2] = ab[u] = _mm256_setzero_ps();
            const int with_db = dbg && t == 0;
            for (size_t o = 0; o < L; o += 8) {
                const __m256 g0 = _mm256_loadu_ps(d0 + o), g1 = _mm256_loadu_ps(d1 + o);
                if (with_db) { ab[0] = _mm256_add_ps(ab[0], g0); ab[1] = _mm256_add_ps(ab[1], g1); }
                const __m256 v0 = _mm256_loadu_ps(x0 + o), v1 = _mm256_loadu_ps(x1 + o),
                             v2 = _mm256_loadu_ps(x2 + o);
                a[0][0] = _mm256_fmadd_ps(g0, v0, a[0][0]); a[1][0] = _mm256_fmadd_ps(g1, v0, a[1][0]);
                a[0][1] = _mm256_fmadd_ps(g0, v1, a[0][1]); a[1][1] = _mm256_fmadd_ps(g1, v1, a[1][1]);
                a[0][2] = _mm256_fmadd_ps(g0, v2, a[0][2]); a[1][2] = _mm256_fmadd_ps(g1, v2, a[1][2]);
            }
            for (int u = 0; u < 2; u++) {
                float lanes[8];
                for (int v = 0; v < 3; v++) {
                    _mm256_storeu_ps(lanes, a[u][v]);
                    s[u][v] = 0.0f;
                    for (int l = 0; l < 8; l++) s[u][v] += lanes[l];
                }
                _mm256_storeu_ps(lanes, ab[u]);
                sb[u] = 0.0f;
                for (int l = 0; l < 8; l++) sb[u] += lanes[l];
            }
#else
            const float *xs[3] = { x0, x1, x2 }, *ds[2] = { d0, d1 };
            for (int u = 0; u < 2; u++)
                for (int v = 0; v < 3; v++) {
                    float lanes[8] = { 0 };
                    for (size_t o = 0; o < L; o += 8)
                        for (int l = 0; l < 8; l++) lanes[l] = fmaf(ds[u][o + l], xs[v][o + l], lanes[l]);
                    s[u][v] = 0.0f;
                    for (int l = 0; l < 8; l++) s[u][v] += lanes[l];
                }
            for (int u = 0; u < 2; u++) {
                float lanes[8] = { 0 };
                for (size_t o = 0; o < L; o += 8)
                    for (int l = 0; l < 8; l++) lanes[l] += ds[u][o + l];
                sb[u] = 0.0f;
                for (int l = 0; l < 8; l++) sb[u] += lanes[l];
            }
#endif
            if (dbg && t == 0)
                for (int u = 0; u < nk; u++) dbg[k + u] = first ? sb[u] : dbg[k + u] + sb[u];
            for (int u = 0; u < nk; u++)
                for (int v = 0; v < nt; v++) {
                    float *d = dwg + (size_t)(k + u) * crs + t + v;
                    *d = first ? s[u][v] : *d + s[u][v];
                }
        }
    }
}

/* Given dz (zero outside the valid outputs): dw_g (+)= dz . xp per tap, db_g (+)= sum dz, and
 * dx_n (when dx != NULL) through dxp, the padded gradient (same layout as xp). */
static void direct_backward_image(const ol_conv2d_shape *sh, const float *restrict xp,
                                  const float *restrict w, const float *restrict dz,
                                  float *restrict dwg, float *restrict dbg, int first,
                                  float *restrict dxp, float *restrict dx)
{
    direct_dw_image(sh, xp, dz, dwg, dbg, first);
    if (!dx) return;
    const int wp = sh->w + 2 * sh->pad_w, crs = sh->c * sh->r * sh->s;
    const size_t pl = plane_p(sh), L = span(sh), ks = z_ks(sh);
    int off[OL_CONV_DIRECT_TAPS];
    tap_offsets(sh, off);
    memset(dxp, 0, sizeof(float) * (sh->c * pl + VL));
    for (int t = 0; t < crs; t++)
        for (int k = 0; k < sh->k; k++) {
            const float wt = w[(size_t)k * crs + t], *dzk = dz + k * ks;
            float *dst = dxp + off[t];
#pragma omp simd
            for (size_t o = 0; o < L; o++) dst[o] = fmaf(wt, dzk[o], dst[o]);
        }
    for (int c = 0; c < sh->c; c++)
        for (int i = 0; i < sh->h; i++)
            memcpy(dx + ((size_t)c * sh->h + i) * sh->w,
                   dxp + c * pl + (size_t)(i + sh->pad_h) * wp + sh->pad_w, sizeof(float) * sh->w);
}

/* ---- one image, either strategy ---------------------------------------------------------- */

/* Scratch of group g: z first, then xp and dxp (direct) or col. */
static float *group_z(const ol_conv2d_shape *sh, float *ws, int g)
{
    return ws + (size_t)g * group_floats(sh);
}
static float *group_scratch(const ol_conv2d_shape *sh, float *ws, int g)
{
    return group_z(sh, ws, g) + (size_t)sh->k * z_ks(sh);
}

/* The raw convolution of image x_n (no bias) into z (layout z_ks, z_ld). */
static void conv_image(const ol_conv2d_shape *sh, const float *xn, const float *w, float *z,
                       float *scratch)
{
    const int crs = sh->c * sh->r * sh->s, pq = sh->p * sh->q;
    if (ol_conv2d_is_direct(sh)) {
        pad_image(sh, xn, scratch);
        direct_forward_image(sh, scratch, w, z);
        return;
    }
    const float *col = xn;
    if (!col_is_x(sh)) { im2col_image(sh, xn, scratch, pq); col = scratch; }
    ol_gemm_serial(sh->k, pq, crs, 1.0f, w, crs, 1, col, pq, 1, 0.0f, z, pq, 1);
}

/* Given dz = dL/dz of image n (layout z_ks, z_ld; zero in the direct layout's junk columns):
 * dw_g, db_g (overwritten when first, else accumulated) and dx_n (when dxn != NULL). */
static void backward_image(const ol_conv2d_shape *sh, const float *xn, const float *w,
                           const float *dz, float *dxn, float *dwg, float *dbg, int first,
                           float *scratch)
{
    const int K = sh->k, crs = sh->c * sh->r * sh->s, pq = sh->p * sh->q;
    if (ol_conv2d_is_direct(sh)) {
        float *xp = scratch, *dxp = scratch + sh->c * plane_p(sh) + VL;
        pad_image(sh, xn, xp);
        direct_backward_image(sh, xp, w, dz, dwg, dbg, first, dxp, dxn);
        return;
    }
    const float *col = xn;
    if (!col_is_x(sh)) { im2col_image(sh, xn, scratch, pq); col = scratch; }
    /* dw_g (+)= dz [k, pq] col^T [pq, crs]; col^T is col with swapped strides */
    ol_gemm_serial(K, crs, pq, 1.0f, dz, pq, 1, col, 1, pq, first ? 0.0f : 1.0f, dwg, crs, 1);
    if (dbg)
        for (int k = 0; k < K; k++) {
            float s = (float)ol_lanes_sum(dz + (size_t)k * pq, pq, 0);
            dbg[k] = first ? s : dbg[k] + s;
        }
    if (!dxn) return;
    if (col_is_x(sh)) { /* col2im is the identity: write dx_n = W^T dz directly */
        ol_gemm_serial(crs, pq, K, 1.0f, w, 1, crs, dz, pq, 1, 0.0f, dxn, pq, 1);
        return;
    }
    /* dcol = W^T [crs, k] dz [k, pq], over col (no longer needed) */
    ol_gemm_serial(crs, pq, K, 1.0f, w, 1, crs, dz, pq, 1, 0.0f, scratch, pq, 1);
    col2im_image(sh, scratch, pq, dxn);
}

/* dw, db = the group partials summed in index order. */
static void reduce_groups(const ol_conv2d_shape *sh, const float *dw_part, const float *db_part,
                          float *restrict dw, float *restrict db)
{
    const int G = ngroups(sh), K = sh->k;
    const size_t kcrs = (size_t)K * sh->c * sh->r * sh->s;
#pragma omp parallel for schedule(static) if (kcrs * G > OL_PAR_MIN)
    for (size_t i = 0; i < kcrs; i++) {
        float s = dw_part[i];
        for (int g = 1; g < G; g++) s += dw_part[g * kcrs + i];
        dw[i] = s;
    }
    if (db)
        for (int k = 0; k < K; k++) {
            float s = db_part[k];
            for (int g = 1; g < G; g++) s += db_part[(size_t)g * K + k];
            db[k] = s;
        }
}

/* ---- epilogues: bias, ReLU, max-pool ----------------------------------------------------- */

/* dst = act(src + bk); src == dst is allowed (GEMM output in place). The ReLU is
 * v < 0 ? 0 : v, PyTorch's, so a NaN reaches the loss (v > 0 ? v : 0 made it 0). */
static void bias_act_row(const float *src, float *dst, int n, float bk, int relu)
{
    if (relu) {
#pragma omp simd
        for (int q = 0; q < n; q++) { float v = src[q] + bk; dst[q] = v < 0.0f ? 0.0f : v; }
    } else {
#pragma omp simd
        for (int q = 0; q < n; q++) dst[q] = src[q] + bk;
    }
}

/* Whether candidate v replaces the running maximum m: greater, or the first NaN. Candidates
 * are met in window order, so the first maximum wins, as in ol_maxpool2d_forward. */
static inline int takes_max(float v, float m) { return v > m || (isnan(v) && !isnan(m)); }

#ifdef OL_CONV_AVX2
/* takes_max on 8 lanes (all ones where v replaces m). With the ReLU there is no NaN to
 * test: pool_row sends a row holding a NaN to the scalar loop instead. */
static inline __m256 takes_max8(__m256 v, __m256 m, int relu)
{
    __m256 t = _mm256_cmp_ps(v, m, _CMP_GT_OQ);
    if (!relu)
        t = _mm256_or_ps(t, _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(m, m, _CMP_ORD_Q)));
    return t;
}
#endif

#ifdef OL_CONV_AVX2
/* pool_row's 2x2 windows, 8 at a time (a last, overlapping block covers the tail: its windows
 * are recomputed identically): each row's candidates split into even and odd columns; the
 * two columns of a row are merged first, then the rows, so that the left operand of every
 * merge is the earlier candidate (first maximum wins, exactly). Returns the first window
 * left to the scalar loop. Always inlined with a constant relu, so that each variant
 * compiles to its own loop. */
static inline __attribute__((always_inline)) int pool2_row8(const float *zk, size_t ld, int q2, float bk,
                                                             const int relu, float *restrict yi,
                                                             uint8_t *restrict ai)
{
    if (q2 < 8) return 0;
    const __m256 b = _mm256_set1_ps(bk), zero = _mm256_setzero_ps();
    /* the shuffles leave windows in lane order 0 1 4 5 2 3 6 7; one permute per output fixes it */
    const __m256i fix = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    __m256 nan = zero;   /* ReLU: lanes that met a NaN, which max_ps(v, 0) would turn into 0 */
    for (int j0 = 0; j0 < q2; j0 += 8) {
        const int j = j0 + 8 <= q2 ? j0 : q2 - 8;
        __m256 m[2], col[2];
        for (int a = 0; a < 2; a++) {
            const float *r = zk + a * ld + 2 * j;
            __m256 lo = _mm256_add_ps(_mm256_loadu_ps(r), b);
            __m256 hi = _mm256_add_ps(_mm256_loadu_ps(r + 8), b);
            if (relu) {
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(lo, hi, _CMP_UNORD_Q));
                lo = _mm256_max_ps(lo, zero); hi = _mm256_max_ps(hi, zero);
            }
            __m256 ev = _mm256_shuffle_ps(lo, hi, 0x88), od = _mm256_shuffle_ps(lo, hi, 0xDD);
            col[a] = takes_max8(od, ev, relu);
            m[a] = _mm256_blendv_ps(ev, od, col[a]);
        }
        const __m256 take = takes_max8(m[1], m[0], relu);
        _mm256_storeu_ps(yi + j, _mm256_permutevar8x32_ps(_mm256_blendv_ps(m[0], m[1], take), fix));
        /* arg = 2 * (row taken) + (column taken in that row), packed to bytes */
        __m256i av = _mm256_or_si256(
            _mm256_and_si256(_mm256_castps_si256(take), _mm256_set1_epi32(2)),
            _mm256_and_si256(_mm256_castps_si256(_mm256_blendv_ps(col[0], col[1], take)),
                             _mm256_set1_epi32(1)));
        av = _mm256_permutevar8x32_epi32(av, fix);
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(av), _mm256_extracti128_si256(av, 1));
        _mm_storel_epi64((__m128i *)(ai + j), _mm_packus_epi16(w16, w16));
    }
    /* A NaN: the scalar loop redoes the row, keeping it as PyTorch's ReLU does. Rare, so
     * the vector loop stays as fast as when the ReLU dropped NaN. */
    return relu && _mm256_movemask_ps(nan) ? 0 : q2;
}
#endif

/* Rows i*pool.. of channel plane zk (row stride ld) -> pooled row yi, ai (q2 outputs). */
static void pool_row(const float *zk, size_t ld, int pool, int q2, float bk, int relu,
                     float *restrict yi, uint8_t *restrict ai)
{
    int j = 0;
#ifdef OL_CONV_AVX2
    if (pool == 2) j = relu ? pool2_row8(zk, ld, q2, bk, 1, yi, ai) : pool2_row8(zk, ld, q2, bk, 0, yi, ai);
#endif
    for (; j < q2; j++) {
        const float *win = zk + (size_t)j * pool;
        float m = 0.0f;
        int best = 0;
        for (int a = 0, t = 0; a < pool; a++)
            for (int c = 0; c < pool; c++, t++) {
                float v = win[a * ld + c] + bk;
                if (relu) v = v < 0.0f ? 0.0f : v;
                if (t == 0 || takes_max(v, m)) { m = v; best = t; }
            }
        yi[j] = m;
        ai[j] = (uint8_t)best;
    }
}

/* The inverse route: dz at each window's maximum = dy (0 where the ReLU was off), every other
 * position of the window 0. Writes every position of the windows, nothing else. */
static void unpool_row(const float *restrict dyi, const float *restrict yi,
                       const uint8_t *restrict ai, int q2, int pool, int relu, float *dzk, size_t ld)
{
    int j = 0;
#ifdef OL_CONV_AVX2
    if (pool == 2) {
        const __m256 zero = _mm256_setzero_ps();
        for (int j0 = 0; q2 >= 8 && j0 < q2; j0 += 8) {
            j = j0 + 8 <= q2 ? j0 : q2 - 8;
            __m256 g = _mm256_loadu_ps(dyi + j);
            if (relu) g = _mm256_and_ps(g, _mm256_cmp_ps(_mm256_loadu_ps(yi + j), zero, _CMP_GT_OQ));
            const __m256i t = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ai + j)));
            for (int a = 0; a < 2; a++) {
                /* the window's (a, 0) and (a, 1) entries, then interleaved back into a row */
                __m256 ev = _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(2 * a))));
                __m256 od = _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(2 * a + 1))));
                __m256 lo = _mm256_unpacklo_ps(ev, od), hi = _mm256_unpackhi_ps(ev, od);
                float *r = dzk + a * ld + 2 * j;
                _mm256_storeu_ps(r, _mm256_permute2f128_ps(lo, hi, 0x20));
                _mm256_storeu_ps(r + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
            }
        }
        if (q2 >= 8) j = q2;
    }
#endif
    for (; j < q2; j++) {
        float g = relu && !(yi[j] > 0.0f) ? 0.0f : dyi[j];
        for (int a = 0, t = 0; a < pool; a++)
            for (int c = 0; c < pool; c++, t++)
                dzk[a * ld + (size_t)j * pool + c] = t == ai[j] ? g : 0.0f;
    }
}

/* ---- entry points ------------------------------------------------------------------------ */

/* One call's arguments, for the group loops below: groups [lo, hi) of images run on the team
 * (team.h); a group writes only its own images and partials, so which thread runs it does not
 * matter. A range runs on one thread, so its groups share group lo's scratch, which stays in
 * L2 from image to image (16 cold buffers a call cost the Keras CNN's first layer ~10%). */
typedef struct {
    const ol_conv2d_shape *sh;
    int pool, relu;
    const float *x, *w, *b, *y, *dy;
    float *out, *dx, *ws, *dw_part, *db_part;
    uint8_t *arg;           /* the pooled maxima's window offsets, written forward */
    const uint8_t *arg_in;  /* ... and read backward */
} ConvJob;

static void forward_groups(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *j = ctx;
    const ol_conv2d_shape *sh = j->sh;
    const int G = ngroups(sh), N = sh->n, K = sh->k, P = sh->p, Q = sh->q;
    const size_t chw = (size_t)sh->c * sh->h * sh->w, pq = (size_t)P * Q;
    const size_t ks = z_ks(sh), ld = z_ld(sh);
    const int direct = ol_conv2d_is_direct(sh);
    float *scratch = group_scratch(sh, j->ws, (int)lo);
    for (int g = (int)lo; g < hi; g++) {
        for (int n = g * N / G; n < (g + 1) * N / G; n++) {
            float *yn = j->out + (size_t)n * K * pq;
            /* im2col+GEMM writes y_n in place; the direct kernel's padded grid goes via z */
            float *z = direct ? group_z(sh, j->ws, (int)lo) : yn;
            conv_image(sh, j->x + n * chw, j->w, z, scratch);
            for (int k = 0; k < K; k++)
                for (int p = 0; p < P; p++)
                    bias_act_row(z + k * ks + p * ld, yn + k * pq + (size_t)p * Q, Q,
                                 j->b ? j->b[k] : 0.0f, j->relu);
        }
    }
}

void ol_conv2d_forward(const ol_conv2d_shape *sh, const float *restrict x,
                       const float *restrict w, const float *restrict b, int relu,
                       float *restrict y, float *restrict ws)
{
    ConvJob j = { .sh = sh, .relu = relu, .x = x, .w = w, .b = b, .out = y, .ws = ws };
    ol_team_for(ngroups(sh), forward_groups, &j);
}

static void backward_groups(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *j = ctx;
    const ol_conv2d_shape *sh = j->sh;
    const int G = ngroups(sh), N = sh->n, K = sh->k, P = sh->p, Q = sh->q;
    const size_t chw = (size_t)sh->c * sh->h * sh->w, pq = (size_t)P * Q;
    const size_t kcrs = (size_t)K * sh->c * sh->r * sh->s, ks = z_ks(sh), ld = z_ld(sh);
    const int direct = ol_conv2d_is_direct(sh);
    float *scratch = group_scratch(sh, j->ws, (int)lo), *dz = group_z(sh, j->ws, (int)lo);
    if (direct) memset(dz, 0, sizeof(float) * K * ks);
    for (int g = (int)lo; g < hi; g++) {
        for (int n = g * N / G; n < (g + 1) * N / G; n++) {
            const float *dyn = j->dy + (size_t)n * K * pq;
            if (direct) /* into the padded grid; its junk columns stay zero */
                for (int k = 0; k < K; k++)
                    for (int p = 0; p < P; p++)
                        memcpy(dz + k * ks + p * ld, dyn + k * pq + (size_t)p * Q, sizeof(float) * Q);
            backward_image(sh, j->x + n * chw, j->w, direct ? dz : dyn, j->dx ? j->dx + n * chw : NULL,
                           j->dw_part + g * kcrs, j->db_part ? j->db_part + (size_t)g * K : NULL,
                           n == g * N / G, scratch);
        }
    }
}

void ol_conv2d_backward(const ol_conv2d_shape *sh, const float *restrict x,
                        const float *restrict w, const float *restrict dy, float *restrict dx,
                        float *restrict dw, float *restrict db, float *restrict ws)
{
    const int G = ngroups(sh);
    const size_t kcrs = (size_t)sh->k * sh->c * sh->r * sh->s;
    float *dw_part = ws + (size_t)G * group_floats(sh), *db_part = dw_part + G * kcrs;
    ConvJob j = { .sh = sh, .x = x, .w = w, .dy = dy, .dx = dx, .ws = ws, .dw_part = dw_part,
                  .db_part = db ? db_part : NULL };
    ol_team_for(G, backward_groups, &j);
    reduce_groups(sh, dw_part, db_part, dw, db);
}

int ol_conv2d_maxpool_check(const ol_conv2d_shape *sh, int pool)
{
    return pool >= 2 && pool <= 16 && sh->p >= pool && sh->q >= pool;
}

static void maxpool_forward_groups(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *j = ctx;
    const ol_conv2d_shape *sh = j->sh;
    const int pool = j->pool, G = ngroups(sh), N = sh->n, K = sh->k, P2 = sh->p / pool, Q2 = sh->q / pool;
    const size_t chw = (size_t)sh->c * sh->h * sh->w, pq2 = (size_t)P2 * Q2;
    const size_t ks = z_ks(sh), ld = z_ld(sh);
    float *z = group_z(sh, j->ws, (int)lo), *scratch = group_scratch(sh, j->ws, (int)lo);
    for (int g = (int)lo; g < hi; g++) {
        for (int n = g * N / G; n < (g + 1) * N / G; n++) {
            conv_image(sh, j->x + n * chw, j->w, z, scratch);
            for (int k = 0; k < K; k++) {
                const size_t o = ((size_t)n * K + k) * pq2;
                for (int i = 0; i < P2; i++)
                    pool_row(z + k * ks + (size_t)i * pool * ld, ld, pool, Q2, j->b ? j->b[k] : 0.0f,
                             j->relu, j->out + o + (size_t)i * Q2, j->arg + o + (size_t)i * Q2);
            }
        }
    }
}

/* y = window maxima of act(z + b); arg = the window offset of each, first maximum wins and NaN
 * propagates, as ol_maxpool2d_forward does, so the result is bit for bit conv then pool. */
void ol_conv2d_maxpool_forward(const ol_conv2d_shape *sh, int pool, const float *restrict x,
                               const float *restrict w, const float *restrict b, int relu,
                               float *restrict y, uint8_t *restrict arg, float *restrict ws)
{
    ConvJob j = { .sh = sh, .pool = pool, .relu = relu, .x = x, .w = w, .b = b, .out = y,
                  .arg = arg, .ws = ws };
    ol_team_for(ngroups(sh), maxpool_forward_groups, &j);
}

static void maxpool_backward_groups(void *ctx, int64_t lo, int64_t hi)
{
    const ConvJob *j = ctx;
    const ol_conv2d_shape *sh = j->sh;
    const int pool = j->pool, G = ngroups(sh), N = sh->n, K = sh->k, P2 = sh->p / pool, Q2 = sh->q / pool;
    const size_t chw = (size_t)sh->c * sh->h * sh->w, pq2 = (size_t)P2 * Q2;
    const size_t kcrs = (size_t)K * sh->c * sh->r * sh->s, ks = z_ks(sh), ld = z_ld(sh);
    float *dz = group_z(sh, j->ws, (int)lo), *scratch = group_scratch(sh, j->ws, (int)lo);
    memset(dz, 0, sizeof(float) * K * ks);
    for (int g = (int)lo; g < hi; g++) {
        for (int n = g * N / G; n < (g + 1) * N / G; n++) {
            /* dz = dy routed to each window's maximum, masked by the ReLU (y > 0 there);
             * positions outside the windows stay zero from the memset above */
            for (int k = 0; k < K; k++) {
                const size_t o = ((size_t)n * K + k) * pq2;
                for (int i = 0; i < P2; i++)
                    unpool_row(j->dy + o + (size_t)i * Q2, j->y + o + (size_t)i * Q2,
                               j->arg_in + o + (size_t)i * Q2, Q2, pool, j->relu,
                               dz + k * ks + (size_t)i * pool * ld, ld);
            }
            backward_image(sh, j->x + n * chw, j->w, dz, j->dx ? j->dx + n * chw : NULL,
                           j->dw_part + g * kcrs, j->db_part ? j->db_part + (size_t)g * K : NULL,
                           n == g * N / G, scratch);
        }
    }
}

void ol_conv2d_maxpool_backward(const ol_conv2d_shape *sh, int pool, const float *restrict x,
                                const float *restrict w, const float *restrict y,
                                const uint8_t *restrict arg, int relu, const float *restrict dy,
                                float *restrict dx, float *restrict dw, float *restrict db,
                                float *restrict ws)
{
    const int G = ngroups(sh);
    const size_t kcrs = (size_t)sh->k * sh->c * sh->r * sh->s;
    float *dw_part = ws + (size_t)G * group_floats(sh), *db_part = dw_part + G * kcrs;
    ConvJob j = { .sh = sh, .pool = pool, .relu = relu, .x = x, .w = w, .y = y, .dy = dy, .dx = dx,
                  .ws = ws, .dw_part = dw_part, .db_part = db ? db_part : NULL, .arg_in = arg };
    ol_team_for(G, maxpool_backward_groups, &j);
    reduce_groups(sh, dw_part, db_part, dw, db);
}
