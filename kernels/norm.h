/* Batch normalization over a row-major [N, C, HW] buffer (HW = H*W for
 * BatchNorm2d, 1 for BatchNorm1d on [N, C]); statistics per channel c over
 * the N*HW values. Follows PyTorch: y = (x - mean) * inv_std * gamma + beta,
 * inv_std = 1/sqrt(var + eps) (eps default 1e-5, momentum default 0.1).
 *
 *  - gamma/beta may be NULL (affine=False: gamma = 1, beta = 0);
 *  - running_mean/running_var may be NULL (track_running_stats=False);
 *  - per-channel sums run in double, in a fixed order, by one thread per
 *    channel: bit-identical for any OpenMP thread count;
 *  - backward OVERWRITES dx, dgamma and dbeta (callers accumulate).
 */
#ifndef OL_NORM_H
#define OL_NORM_H

enum {
    OL_NORM_OK = 0,
    OL_NORM_EBADSHAPE = -1,   /* N, C or HW < 1 */
    OL_NORM_ETOOFEWVALUES = -2, /* training needs N*HW > 1 ("Expected more than 1 value per channel") */
};

/* Training mode: normalize with batch statistics (biased variance), write
 * save_mean[C] and save_invstd[C] for backward, and update the running stats
 * in place: running = (1 - momentum) * running + momentum * batch_stat, the
 * variance term using the unbiased variance (N*HW / (N*HW - 1)). */
int ol_batch_norm_forward_train(int N, int C, int HW, const float *restrict x,
                                const float *restrict gamma, const float *restrict beta,
                                float eps, float momentum,
                                float *restrict running_mean, float *restrict running_var,
                                float *restrict y,
                                float *restrict save_mean, float *restrict save_invstd);

/* Backward of the training-mode forward (batch statistics are functions of x):
 *   xhat = (x - mean) * inv_std,  dbeta = sum dy,  dgamma = sum dy*xhat,
 *   dx = gamma * inv_std / m * (m*dy - dbeta - xhat*dgamma),  m = N*HW.
 * dgamma/dbeta may be NULL when not wanted; gamma NULL means 1. */
int ol_batch_norm_backward_train(int N, int C, int HW, const float *restrict x,
                                 const float *restrict dy, const float *restrict gamma,
                                 const float *restrict save_mean, const float *restrict save_invstd,
                                 float *restrict dx, float *restrict dgamma, float *restrict dbeta);

/* Eval mode: normalize with the running statistics (both required). */
int ol_batch_norm_forward_eval(int N, int C, int HW, const float *restrict x,
                               const float *restrict gamma, const float *restrict beta,
                               float eps, const float *restrict running_mean,
                               const float *restrict running_var, float *restrict y);

/* Backward of eval mode (statistics are constants):
 *   dx = dy * gamma * inv_std,  dgamma = sum dy*xhat,  dbeta = sum dy. */
int ol_batch_norm_backward_eval(int N, int C, int HW, const float *restrict x,
                                const float *restrict dy, const float *restrict gamma,
                                float eps, const float *restrict running_mean,
                                const float *restrict running_var,
                                float *restrict dx, float *restrict dgamma, float *restrict dbeta);

#endif
