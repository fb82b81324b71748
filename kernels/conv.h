/* 2-D convolution (cross-correlation, as PyTorch's Conv2d), NCHW.
 *
 *   x [n, c, h, w]   input
 *   w [k, c, r, s]   weight (PyTorch layout)
 *   b [k]            bias, may be NULL
 *   y [n, k, p, q]   output, p = (h + 2 pad_h - dil_h (r-1) - 1) / stride_h + 1 (same for q)
 *
 * Padding is symmetric (top = bottom, left = right); "same" is resolved by the caller.
 * Results are bit-identical for any number of OpenMP / BLIS threads.
 */
#ifndef OL_CONV_H
#define OL_CONV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n, c, h, w;         /* input */
    int k, r, s;            /* output channels, kernel height, kernel width */
    int stride_h, stride_w;
    int pad_h, pad_w;
    int dil_h, dil_w;
    int p, q;               /* output height, width (computed by ol_conv2d_shape_init) */
} ol_conv2d_shape;

/* Error codes of ol_conv2d_shape_init (0 = ok). */
enum {
    OL_CONV_OK = 0,
    OL_CONV_EDIM,       /* a size (n, c, h, w, k, r, s) is < 1 */
    OL_CONV_ESTRIDE,    /* stride < 1 */
    OL_CONV_EDIL,       /* dilation < 1 */
    OL_CONV_EPAD,       /* padding < 0 */
    OL_CONV_EKERNEL,    /* dilated kernel larger than the padded input: empty output */
    OL_CONV_ETOOBIG,    /* an operand or the workspace would exceed 2^31-1 elements per GEMM dimension */
};

/* Fills *sh and computes p, q. Returns 0, or an OL_CONV_E* code (message: ol_conv2d_strerror). */
int ol_conv2d_shape_init(ol_conv2d_shape *sh, int n, int c, int h, int w, int k, int r, int s,
                         int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w);
const char *ol_conv2d_strerror(int code);

/* Whether the shape runs the direct kernel (stride 1, dilation 1, few taps) rather than
 * im2col + GEMM. The two round differently, so results depend on it; it depends on the shape only. */
int ol_conv2d_is_direct(const ol_conv2d_shape *sh);

/* Floats of scratch memory ol_conv2d_forward / ol_conv2d_backward need (the same for both). */
size_t ol_conv2d_workspace_floats(const ol_conv2d_shape *sh);

/* y = conv(x, w) + b, then max(y, 0) when relu != 0. */
void ol_conv2d_forward(const ol_conv2d_shape *sh, const float *restrict x,
                       const float *restrict w, const float *restrict b, int relu,
                       float *restrict y, float *restrict ws);

/* Given dy = dL/dy (of the pre-activation output: mask ReLU first, ol_relu_backward in act.h):
 * dx = dL/dx (skipped when NULL), dw = dL/dw, db = dL/db (skipped when NULL).
 * dx, dw and db are OVERWRITTEN, not accumulated. */
void ol_conv2d_backward(const ol_conv2d_shape *sh, const float *restrict x,
                        const float *restrict w, const float *restrict dy, float *restrict dx,
                        float *restrict dw, float *restrict db, float *restrict ws);

/* Conv + bias (+ ReLU) + max-pool pool x pool / stride pool (floor), fused per image while
 * the conv output is in cache: y [n, k, p/pool, q/pool], arg [same] = the offset a*pool + c of
 * each maximum in its window. Bit for bit the same y as ol_conv2d_forward then
 * ol_maxpool2d_forward. ol_conv2d_maxpool_check: 1 when pool (2..16) fits the output. */
int ol_conv2d_maxpool_check(const ol_conv2d_shape *sh, int pool);
void ol_conv2d_maxpool_forward(const ol_conv2d_shape *sh, int pool, const float *restrict x,
                               const float *restrict w, const float *restrict b, int relu,
                               float *restrict y, uint8_t *restrict arg, float *restrict ws);
/* Given dy = dL/dy of the pooled output and the forward's y and arg: dx (when not NULL), dw,
 * db (when not NULL), overwritten. The same workspace size as ol_conv2d_backward. */
void ol_conv2d_maxpool_backward(const ol_conv2d_shape *sh, int pool, const float *restrict x,
                                const float *restrict w, const float *restrict y,
                                const uint8_t *restrict arg, int relu, const float *restrict dy,
                                float *restrict dx, float *restrict dw, float *restrict db,
                                float *restrict ws);

#endif
