/* Activations: element-wise (relu, leaky_relu, elu, tanh, sigmoid, gelu) and
 * row-wise over the last dimension (softmax, log_softmax).
 *
 * Conventions for every function here:
 *  - contiguous float buffers; in/out buffers must not alias (restrict);
 *  - backward OVERWRITES dx (it does not accumulate; callers that need to
 *    accumulate add dx themselves);
 *  - backward takes x or y, whichever gives the cheaper/stabler formula
 *    (stated per function);
 *  - results are bit-identical for any OpenMP thread count (no cross-element
 *    reductions; row-wise ops give a whole row to one thread).
 * Names and defaults follow PyTorch (torch.nn.functional).
 */
#ifndef OL_ACT_H
#define OL_ACT_H

#include <stddef.h>

/* relu: y = max(x, 0) (NaN propagates). Backward: dx = x > 0 ? dy : 0; y > 0 exactly when x > 0,
 * so the output y may be passed for x (the fused Dense/Conv2D ReLUs keep only y). */
void ol_relu_forward(size_t n, const float *restrict x, float *restrict y);
void ol_relu_backward(size_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx);

/* leaky_relu (PyTorch negative_slope, default 0.01): y = x < 0 ? alpha*x : x.
 * Backward from x. */
void ol_leaky_relu_forward(size_t n, const float *restrict x, float *restrict y, float alpha);
void ol_leaky_relu_backward(size_t n, const float *restrict x, const float *restrict dy,
                            float *restrict dx, float alpha);

/* elu (default alpha 1.0): y = x > 0 ? x : alpha*expm1(x). Backward from x. */
void ol_elu_forward(size_t n, const float *restrict x, float *restrict y, float alpha);
void ol_elu_backward(size_t n, const float *restrict x, const float *restrict dy,
                     float *restrict dx, float alpha);

/* tanh. Backward from y: dx = dy * (1 - y*y). */
void ol_tanh_forward(size_t n, const float *restrict x, float *restrict y);
void ol_tanh_backward(size_t n, const float *restrict y, const float *restrict dy,
                      float *restrict dx);

/* sigmoid, stable for large |x|. Backward from y: dx = dy * y * (1 - y). */
void ol_sigmoid_forward(size_t n, const float *restrict x, float *restrict y);
void ol_sigmoid_backward(size_t n, const float *restrict y, const float *restrict dy,
                         float *restrict dx);

/* gelu, PyTorch's `approximate` argument:
 *   OL_GELU_NONE (default): y = x * Phi(x) = 0.5*x*erfc(-x/sqrt2)  (exact; erfc
 *                           instead of 1+erf keeps precision for x << 0)
 *   OL_GELU_TANH:           y = 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715 x^3)))
 * Backward from x. */
enum { OL_GELU_NONE = 0, OL_GELU_TANH = 1 };
void ol_gelu_forward(size_t n, const float *restrict x, float *restrict y, int approximate);
void ol_gelu_backward(size_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx, int approximate);

/* softmax over the last dimension of a row-major [rows, cols] buffer
 * (max-subtracted, so any finite input is safe). Backward from y:
 * dx = y * (dy - sum_j dy_j*y_j). */
void ol_softmax_forward(int rows, int cols, const float *restrict x, float *restrict y);
void ol_softmax_backward(int rows, int cols, const float *restrict y,
                         const float *restrict dy, float *restrict dx);

/* log_softmax over the last dimension: y = x - max - log(sum exp(x - max)).
 * Backward from y: dx = dy - exp(y) * sum_j dy_j. */
void ol_log_softmax_forward(int rows, int cols, const float *restrict x, float *restrict y);
void ol_log_softmax_backward(int rows, int cols, const float *restrict y,
                             const float *restrict dy, float *restrict dx);

#endif
