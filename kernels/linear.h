/* Fully connected layer (PyTorch's Linear / Keras's Dense), row-major:
 *   x [n, in], w [out, in] (PyTorch layout), b [out] (may be NULL), y [n, out]
 *   y = x W^T + b
 * Results are bit-identical for any number of OpenMP / BLIS threads. */
#ifndef OL_LINEAR_H
#define OL_LINEAR_H

#include <stddef.h>

/* y = x W^T + b, then max(y, 0) when relu != 0. One GEMM, then one fused bias(+ReLU) pass. */
void ol_linear_forward(int n, int in, int out, const float *restrict x,
                       const float *restrict w, const float *restrict b, int relu,
                       float *restrict y);

/* dx = dy W (skipped when dx is NULL), dw = dy^T x, db = column sums of dy (skipped when NULL).
 * dx, dw, db are OVERWRITTEN. dy is the gradient of the pre-activation output: for a fused
 * ReLU, mask dy first with ol_relu_backward (act.h) given the output. */
void ol_linear_backward(int n, int in, int out, const float *restrict x,
                        const float *restrict w, const float *restrict dy, float *restrict dx,
                        float *restrict dw, float *restrict db);


#endif
