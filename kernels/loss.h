/* Losses (mean reduction, as PyTorch's default reduction='mean') and accuracy.
 *
 *  - forward returns the loss as a float; it is summed in double in a fixed
 *    order (blocks whose size depends only on the problem size), so it is
 *    bit-identical for any OpenMP thread count;
 *  - backward OVERWRITES the gradient buffer with scale * dloss/dinput, where
 *    `scale` is the upstream gradient of the loss (1.0 for a plain loss);
 *  - an empty batch (n == 0) gives NaN, like PyTorch's mean of nothing.
 *
 * Labels are 0-based class indices in [0, c). Bad labels: the kernels never
 * index out of range; a row whose label is outside [0, c) makes the forward
 * return NaN and gets NaN gradients in backward. Callers that want a message
 * call ol_check_labels() first and name the offending row.
 */
#ifndef OL_LOSS_H
#define OL_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Index of the first row whose label is outside [0, c), or -1 if all are valid. */
int ol_check_labels(int n, int c, const int32_t *labels);

/* Cross-entropy on logits [n, c] with class-index labels [n] (PyTorch
 * F.cross_entropy / Keras SparseCategoricalCrossentropy(from_logits=True)):
 * fused, max-subtracted log-softmax + NLL, mean over the batch.
 * If probs is not NULL, softmax(logits) [n, c] is written there. */
float ol_cross_entropy_forward(int n, int c, const float *restrict logits,
                               const int32_t *restrict labels, float *restrict probs);
/* dlogits = scale * (softmax(logits) - onehot(label)) / n */
void ol_cross_entropy_backward(int n, int c, const float *restrict logits,
                               const int32_t *restrict labels, float scale,
                               float *restrict dlogits);

/* Cross-entropy with soft (or one-hot) targets [n, c] (PyTorch cross_entropy
 * with probability targets / Keras CategoricalCrossentropy(from_logits=True)):
 * loss = mean_i sum_j -targets_ij * log_softmax(logits)_ij. */
float ol_cross_entropy_soft_forward(int n, int c, const float *restrict logits,
                                    const float *restrict targets, float *restrict probs);
/* dlogits = scale * (softmax * sum_j targets_ij - targets) / n  (= softmax - targets
 * when each target row sums to 1) */
void ol_cross_entropy_soft_backward(int n, int c, const float *restrict logits,
                                    const float *restrict targets, float scale,
                                    float *restrict dlogits);

/* Mean squared error over all n elements: mean((pred - target)^2). */
float ol_mse_forward(size_t n, const float *restrict pred, const float *restrict target);
/* dpred = scale * 2 * (pred - target) / n */
void ol_mse_backward(size_t n, const float *restrict pred, const float *restrict target,
                     float scale, float *restrict dpred);

/* Binary cross-entropy on logits, mean over all n elements, in the stable form
 * max(x,0) - x*t + log1p(exp(-|x|)) (PyTorch binary_cross_entropy_with_logits). */
float ol_binary_cross_entropy_with_logits_forward(size_t n, const float *restrict logits,
                                                  const float *restrict targets);
/* dlogits = scale * (sigmoid(x) - t) / n */
void ol_binary_cross_entropy_with_logits_backward(size_t n, const float *restrict logits,
                                                  const float *restrict targets, float scale,
                                                  float *restrict dlogits);

/* Number of rows whose argmax (first maximum on ties) equals the label.
 * Rows with out-of-range labels never count. */
int ol_accuracy_count(int n, int c, const float *restrict logits, const int32_t *restrict labels);

#endif
