/* Batch normalization. Channel c of sample n is the contiguous run
 * x[(n*C + c)*HW .. +HW). Each channel is handled start to finish by one
 * thread (sums in double, n then hw order), so results do not depend on the
 * thread count. Parallelism is over channels; with C == 1 it runs serially. */
#include "norm.h"
#include "par.h"

#include <math.h>
#include <stddef.h>

static int check_shape(int N, int C, int HW) {
    return (N < 1 || C < 1 || HW < 1) ? OL_NORM_EBADSHAPE : OL_NORM_OK;
}

/* ---- training mode ---- */

int ol_batch_norm_forward_train(int N, int C, int HW, const float *restrict x,
                                const float *restrict gamma, const float *restrict beta,
                                float eps, float momentum,
                                float *restrict running_mean, float *restrict running_var,
                                float *restrict y,
                                float *restrict save_mean, float *restrict save_invstd) {
    if (check_shape(N, C, HW))
        return OL_NORM_EBADSHAPE;
    size_t m = (size_t)N * HW;
    if (m < 2)
        return OL_NORM_ETOOFEWVALUES;
#pragma omp parallel for schedule(static) if (m * C > OL_PAR_MIN)
    for (int c = 0; c < C; c++) {
        /* two passes: mean, then centered squares (no cancellation of E[x^2]-E[x]^2) */
        double s = 0.0;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++)
                s += xc[i];
        }
        double mean = s / (double)m, ss = 0.0;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                double d = xc[i] - mean;
                ss += d * d;
            }
        }
        double var = ss / (double)m; /* biased: used to normalize */
        float mu = (float)mean, is = (float)(1.0 / sqrt(var + eps));
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW;
            float *yc = y + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++)
                yc[i] = (xc[i] - mu) * is * g + b;
        }
        save_mean[c] = mu;
        save_invstd[c] = is;
        if (running_mean)
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mu;
        if (running_var) {
            float unbiased = (float)(ss / (double)(m - 1));
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
        }
    }
    return OL_NORM_OK;
}

int ol_batch_norm_backward_train(int N, int C, int HW, const float *restrict x,
                                 const float *restrict dy, const float *restrict gamma,
                                 const float *restrict save_mean, const float *restrict save_invstd,
                                 float *restrict dx, float *restrict dgamma, float *restrict dbeta) {
    if (check_shape(N, C, HW))
        return OL_NORM_EBADSHAPE;
    size_t m = (size_t)N * HW;
#pragma omp parallel for schedule(static) if (m * C > OL_PAR_MIN)
    for (int c = 0; c < C; c++) {
        float mu = save_mean[c], is = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW, *dyc = dy + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sdy += dyc[i];
                sdyx += (double)dyc[i] * ((xc[i] - mu) * is);
            }
        }
        if (dbeta)
            dbeta[c] = (float)sdy;
        if (dgamma)
            dgamma[c] = (float)sdyx;
        /* dx = g*is*(dy - mean(dy) - xhat*mean(dy*xhat)) */
        float g = gamma ? gamma[c] : 1.0f;
        float k = g * is, mdy = (float)(sdy / (double)m), mdyx = (float)(sdyx / (double)m);
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW, *dyc = dy + ((size_t)n * C + c) * HW;
            float *dxc = dx + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                float xhat = (xc[i] - mu) * is;
                dxc[i] = k * ((dyc[i] - mdy) - xhat * mdyx);
            }
        }
    }
    return OL_NORM_OK;
}

/* ---- eval mode ---- */

int ol_batch_norm_forward_eval(int N, int C, int HW, const float *restrict x,
                               const float *restrict gamma, const float *restrict beta,
                               float eps, const float *restrict running_mean,
                               const float *restrict running_var, float *restrict y) {
    if (check_shape(N, C, HW))
        return OL_NORM_EBADSHAPE;
    size_t m = (size_t)N * HW;
#pragma omp parallel for schedule(static) if (m * C > OL_PAR_MIN)
    for (int c = 0; c < C; c++) {
        float mu = running_mean[c], is = (float)(1.0 / sqrt((double)running_var[c] + eps));
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW;
            float *yc = y + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++)
                yc[i] = (xc[i] - mu) * is * g + b;
        }
    }
    return OL_NORM_OK;
}

int ol_batch_norm_backward_eval(int N, int C, int HW, const float *restrict x,
                                const float *restrict dy, const float *restrict gamma,
                                float eps, const float *restrict running_mean,
                                const float *restrict running_var,
                                float *restrict dx, float *restrict dgamma, float *restrict dbeta) {
    if (check_shape(N, C, HW))
        return OL_NORM_EBADSHAPE;
    size_t m = (size_t)N * HW;
#pragma omp parallel for schedule(static) if (m * C > OL_PAR_MIN)
    for (int c = 0; c < C; c++) {
        float mu = running_mean[c], is = (float)(1.0 / sqrt((double)running_var[c] + eps));
        float k = (gamma ? gamma[c] : 1.0f) * is;
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * HW, *dyc = dy + ((size_t)n * C + c) * HW;
            float *dxc = dx + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                dxc[i] = dyc[i] * k;
                sdy += dyc[i];
                sdyx += (double)dyc[i] * ((xc[i] - mu) * is);
            }
        }
        if (dbeta)
            dbeta[c] = (float)sdy;
        if (dgamma)
            dgamma[c] = (float)sdyx;
    }
    return OL_NORM_OK;
}
