/* 2-D convolution as per-image im2col + GEMM, images processed in parallel.
 *
 * Why per image and not one GEMM over the batch: measured on the seed's first layer
 * (64x1x28x28, 32 3x3 filters), the batch-wide GEMM itself is fast, but the im2col of the
 * whole batch and the [k, n*p*q] -> [n, k, p, q] scatter it needs cost more than the GEMM.
 * Per image, the GEMM writes y in NCHW directly, col stays in L2, and bias/ReLU run on data
 * still in cache. Each image's GEMM runs on one thread (ol_gemm_serial); the images are
 * spread over OpenMP threads.
 *
 * Determinism: images are split into G = min(n, OL_CONV_GROUPS) fixed groups, which depend
 * on the shape only. Backward accumulates dw, db per group in image order, then sums the
 * groups in order: the same additions in the same order for any thread count.
 *
 * Workspace, per group: col [c*r*s, p*q], dw partial [k, c*r*s], db partial [k]. */
#include "conv.h"

#include "gemm.h"

#include <limits.h>
#include <string.h>

#define OL_CONV_GROUPS 16 /* >= threads to keep busy; more only costs workspace */

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

size_t ol_conv2d_workspace_floats(const ol_conv2d_shape *sh)
{
    size_t crs = (size_t)sh->c * sh->r * sh->s, pq = (size_t)sh->p * sh->q;
    return (size_t)ngroups(sh) * (crs * pq + (size_t)sh->k * crs + (size_t)sh->k);
}

/* 1x1, stride 1, no padding: im2col of an image is the image itself. */
static int col_is_x(const ol_conv2d_shape *sh)
{
    return sh->r == 1 && sh->s == 1 && sh->stride_h == 1 && sh->stride_w == 1 &&
           sh->pad_h == 0 && sh->pad_w == 0;
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

/* Sum of a[0..n) in a fixed order: 16 double lanes (vectorizable without reassociation),
 * then the lanes in index order. Independent of the thread count by construction. */
static double sum_fixed(const float *restrict a, size_t n)
{
    double acc[16] = { 0 };
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j];
    for (int j = 0; i < n; i++, j++) acc[j] += a[i];
    double t = 0.0;
    for (int j = 0; j < 16; j++) t += acc[j];
    return t;
}

void ol_conv2d_forward(const ol_conv2d_shape *sh, const float *restrict x,
                       const float *restrict w, const float *restrict b, int relu,
                       float *restrict y, float *restrict ws)
{
    const int G = ngroups(sh), N = sh->n, K = sh->k, crs = sh->c * sh->r * sh->s;
    const int pq = sh->p * sh->q;
    const size_t chw = (size_t)sh->c * sh->h * sh->w;

#pragma omp parallel for schedule(static)
    for (int g = 0; g < G; g++) {
        float *col = ws + (size_t)g * crs * pq;
        for (int n = g * N / G; n < (g + 1) * N / G; n++) {
            const float *xn = x + n * chw;
            float *yn = y + (size_t)n * K * pq;
            if (col_is_x(sh)) col = (float *)xn;
            else im2col_image(sh, xn, col, pq);
            ol_gemm_serial(K, pq, crs, 1.0f, w, crs, 1, col, pq, 1, 0.0f, yn, pq, 1);
            for (int k = 0; k < K; k++) {
                float *restrict yk = yn + (size_t)k * pq;
                const float bk = b ? b[k] : 0.0f;
                if (relu)
                    for (int i = 0; i < pq; i++) { float v = yk[i] + bk; yk[i] = v > 0.0f ? v : 0.0f; }
                else if (b)
                    for (int i = 0; i < pq; i++) yk[i] += bk;
            }
        }
    }
}

void ol_conv2d_backward(const ol_conv2d_shape *sh, const float *restrict x,
                        const float *restrict w, const float *restrict dy, float *restrict dx,
                        float *restrict dw, float *restrict db, float *restrict ws)
{
    const int G = ngroups(sh), N = sh->n, K = sh->k, crs = sh->c * sh->r * sh->s;
    const int pq = sh->p * sh->q;
    const size_t chw = (size_t)sh->c * sh->h * sh->w, kcrs = (size_t)K * crs;
    float *dw_part = ws + (size_t)G * crs * pq, *db_part = dw_part + G * kcrs;

#pragma omp parallel for schedule(static)
    for (int g = 0; g < G; g++) {
        float *col = ws + (size_t)g * crs * pq;
        float *dwg = dw_part + g * kcrs, *dbg = db_part + (size_t)g * K;
        for (int n = g * N / G; n < (g + 1) * N / G; n++) {
            const int first = n == g * N / G;
            const float *xn = x + n * chw, *dyn = dy + (size_t)n * K * pq;
            if (col_is_x(sh)) col = (float *)xn;
            else im2col_image(sh, xn, col, pq);
            /* dw_g (+)= dy_n [k, pq] col^T [pq, crs]; col^T is col with swapped strides */
            ol_gemm_serial(K, crs, pq, 1.0f, dyn, pq, 1, col, 1, pq, first ? 0.0f : 1.0f, dwg, crs, 1);
            if (db)
                for (int k = 0; k < K; k++) {
                    float s = (float)sum_fixed(dyn + (size_t)k * pq, pq);
                    dbg[k] = first ? s : dbg[k] + s;
                }
            if (!dx) continue;
            float *dxn = dx + n * chw;
            if (col_is_x(sh)) { /* col2im is the identity: write dx_n = W^T dy_n directly */
                ol_gemm_serial(crs, pq, K, 1.0f, w, 1, crs, dyn, pq, 1, 0.0f, dxn, pq, 1);
                continue;
            }
            /* dcol = W^T [crs, k] dy_n [k, pq], over col (no longer needed) */
            col = ws + (size_t)g * crs * pq;
            ol_gemm_serial(crs, pq, K, 1.0f, w, 1, crs, dyn, pq, 1, 0.0f, col, pq, 1);
            col2im_image(sh, col, pq, dxn);
        }
    }

    /* groups summed in index order */
#pragma omp parallel for schedule(static) if (kcrs * G > 32768)
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
