/* 2-D max and average pooling, NCHW (PyTorch's MaxPool2d / AvgPool2d, ceil_mode=False):
 *   x [n, c, h, w] -> y [n, c, p, q],  p = (h + 2 pad_h - kh) / stride_h + 1 (same for q)
 * Padding is symmetric and at most half the kernel (as PyTorch requires).
 * Max pooling treats padding as -inf and propagates NaN. Average pooling uses
 * count_include_pad = true (PyTorch's default): every window is divided by kh*kw,
 * padded zeros included. Planes run in parallel; results do not depend on the thread count. */
#ifndef OL_POOL_H
#define OL_POOL_H

#include <stdint.h>

typedef struct {
    int n, c, h, w;
    int kh, kw;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int p, q;               /* output height, width (computed by ol_pool2d_shape_init) */
} ol_pool2d_shape;

enum {
    OL_POOL_OK = 0,
    OL_POOL_EDIM,      /* a size (n, c, h, w, kh, kw) is < 1 */
    OL_POOL_ESTRIDE,   /* stride < 1 */
    OL_POOL_EPAD,      /* padding < 0 or > kernel/2 */
    OL_POOL_EKERNEL,   /* kernel larger than the padded input */
    OL_POOL_ETOOBIG,   /* a plane has more than 2^31-1 elements (argmax is int32) */
};

/* Fills *sh and computes p, q. Returns 0 or an OL_POOL_E* code (message: ol_pool2d_strerror). */
int ol_pool2d_shape_init(ol_pool2d_shape *sh, int n, int c, int h, int w, int kh, int kw,
                         int stride_h, int stride_w, int pad_h, int pad_w);
const char *ol_pool2d_strerror(int code);

/* y = window maxima; idx[n, c, p, q] = argmax as the flat index ih*w + iw within its (n, c) plane
 * (PyTorch's return_indices convention), first maximum wins. */
void ol_maxpool2d_forward(const ol_pool2d_shape *sh, const float *restrict x, float *restrict y,
                          int32_t *restrict idx);
/* dx (overwritten) = dy routed to the recorded argmax positions (summed where windows overlap). */
void ol_maxpool2d_backward(const ol_pool2d_shape *sh, const float *restrict dy,
                           const int32_t *restrict idx, float *restrict dx);

/* y = window sums / (kh*kw) (count_include_pad = true). */
void ol_avgpool2d_forward(const ol_pool2d_shape *sh, const float *restrict x, float *restrict y);
/* dx (overwritten) = each dy / (kh*kw) spread over its window (padding positions dropped). */
void ol_avgpool2d_backward(const ol_pool2d_shape *sh, const float *restrict dy, float *restrict dx);

#endif
