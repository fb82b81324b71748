/* Pooling: one OpenMP iteration per (n, c) plane, so every output and every dx element is
 * written by exactly one thread in a fixed order (bit-identical across thread counts). */
#include "pool.h"
#include "par.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

int ol_pool2d_shape_init(ol_pool2d_shape *sh, int n, int c, int h, int w, int kh, int kw,
                         int stride_h, int stride_w, int pad_h, int pad_w)
{
    memset(sh, 0, sizeof *sh);
    if (n < 1 || c < 1 || h < 1 || w < 1 || kh < 1 || kw < 1) return OL_POOL_EDIM;
    if (stride_h < 1 || stride_w < 1) return OL_POOL_ESTRIDE;
    if (pad_h < 0 || pad_w < 0 || pad_h > kh / 2 || pad_w > kw / 2) return OL_POOL_EPAD;
    long long eh = (long long)h + 2LL * pad_h - kh, ew = (long long)w + 2LL * pad_w - kw;
    if (eh < 0 || ew < 0) return OL_POOL_EKERNEL;
    if ((long long)h * w > INT_MAX) return OL_POOL_ETOOBIG;
    *sh = (ol_pool2d_shape){ n, c, h, w, kh, kw, stride_h, stride_w, pad_h, pad_w,
                             (int)(eh / stride_h + 1), (int)(ew / stride_w + 1) };
    return OL_POOL_OK;
}

const char *ol_pool2d_strerror(int code)
{
    switch (code) {
    case OL_POOL_OK:      return "ok";
    case OL_POOL_EDIM:    return "pool2d: batch, channels, height, width and kernel size must be >= 1";
    case OL_POOL_ESTRIDE: return "pool2d: stride must be >= 1";
    case OL_POOL_EPAD:    return "pool2d: padding must be >= 0 and at most half the kernel size";
    case OL_POOL_EKERNEL: return "pool2d: kernel is larger than the padded input";
    case OL_POOL_ETOOBIG: return "pool2d: a plane has more than 2^31-1 elements";
    default:              return "pool2d: unknown error";
    }
}

/* Window [*lo, *hi) of input rows (or columns) for output o, clipped to the input. */
static inline void window(int o, int stride, int pad, int k, int size, int *lo, int *hi)
{
    int a = o * stride - pad, b = a + k;
    *lo = a > 0 ? a : 0;
    *hi = b < size ? b : size;
}

void ol_maxpool2d_forward(const ol_pool2d_shape *sh, const float *restrict x, float *restrict y,
                          int32_t *restrict idx)
{
    const int H = sh->h, W = sh->w, P = sh->p, Q = sh->q, planes = sh->n * sh->c;
    const size_t hw = (size_t)H * W, pq = (size_t)P * Q;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw > OL_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * hw;
        float *yp = y + pl * pq;
        int32_t *ip = idx + pl * pq;
        if (sh->kh == 2 && sh->kw == 2 && sh->stride_h == 2 && sh->stride_w == 2 &&
            sh->pad_h == 0 && sh->pad_w == 0) {
            /* the common 2x2/2 case: no clipping, four candidates in row-major order */
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++) {
                    int i0 = 2 * p * W + 2 * q, cand[4] = { i0, i0 + 1, i0 + W, i0 + W + 1 };
                    int best = i0;
                    float m = xp[i0];
                    for (int t = 1; t < 4; t++) {
                        float v = xp[cand[t]];
                        if (v > m || (isnan(v) && !isnan(m))) { m = v; best = cand[t]; }
                    }
                    yp[p * Q + q] = m;
                    ip[p * Q + q] = best;
                }
            continue;
        }
        for (int p = 0; p < P; p++) {
            int h0, h1;
            window(p, sh->stride_h, sh->pad_h, sh->kh, H, &h0, &h1);
            for (int q = 0; q < Q; q++) {
                int w0, w1;
                window(q, sh->stride_w, sh->pad_w, sh->kw, W, &w0, &w1);
                /* pad <= k/2 guarantees a non-empty window */
                float m = -INFINITY;
                int best = h0 * W + w0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        float v = xp[ih * W + iw];
                        if (v > m || (isnan(v) && !isnan(m))) { m = v; best = ih * W + iw; }
                    }
                yp[p * Q + q] = m;
                ip[p * Q + q] = best;
            }
        }
    }
}

void ol_maxpool2d_backward(const ol_pool2d_shape *sh, const float *restrict dy,
                           const int32_t *restrict idx, float *restrict dx)
{
    const int planes = sh->n * sh->c;
    const size_t hw = (size_t)sh->h * sh->w, pq = (size_t)sh->p * sh->q;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw > OL_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * hw;
        const float *dyp = dy + pl * pq;
        const int32_t *ip = idx + pl * pq;
        memset(dxp, 0, sizeof(float) * hw);
        for (size_t o = 0; o < pq; o++) dxp[ip[o]] += dyp[o];
    }
}

void ol_avgpool2d_forward(const ol_pool2d_shape *sh, const float *restrict x, float *restrict y)
{
    const int H = sh->h, W = sh->w, P = sh->p, Q = sh->q, planes = sh->n * sh->c;
    const size_t hw = (size_t)H * W, pq = (size_t)P * Q;
    const float inv = 1.0f / (float)(sh->kh * sh->kw);
#pragma omp parallel for schedule(static) if ((size_t)planes * hw > OL_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * hw;
        float *yp = y + pl * pq;
        for (int p = 0; p < P; p++) {
            int h0, h1;
            window(p, sh->stride_h, sh->pad_h, sh->kh, H, &h0, &h1);
            for (int q = 0; q < Q; q++) {
                int w0, w1;
                window(q, sh->stride_w, sh->pad_w, sh->kw, W, &w0, &w1);
                float s = 0.0f;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) s += xp[ih * W + iw];
                yp[p * Q + q] = s * inv;
            }
        }
    }
}

void ol_avgpool2d_backward(const ol_pool2d_shape *sh, const float *restrict dy, float *restrict dx)
{
    const int H = sh->h, W = sh->w, P = sh->p, Q = sh->q, planes = sh->n * sh->c;
    const size_t hw = (size_t)H * W, pq = (size_t)P * Q;
    const float inv = 1.0f / (float)(sh->kh * sh->kw);
#pragma omp parallel for schedule(static) if ((size_t)planes * hw > OL_PAR_MIN)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * hw;
        const float *dyp = dy + pl * pq;
        memset(dxp, 0, sizeof(float) * hw);
        for (int p = 0; p < P; p++) {
            int h0, h1;
            window(p, sh->stride_h, sh->pad_h, sh->kh, H, &h0, &h1);
            for (int q = 0; q < Q; q++) {
                int w0, w1;
                window(q, sh->stride_w, sh->pad_w, sh->kw, W, &w0, &w1);
                float g = dyp[p * Q + q] * inv;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) dxp[ih * W + iw] += g;
            }
        }
    }
}
