/* Activations. Every loop body is the same scalar expression for every i, so
 * with -ffp-contract=off a vectorized body, its tail and any thread split all
 * round alike. Loops calling libm (expf, erfcf, tanhf) stay scalar: glibc's
 * vector math variants are only enabled under -ffast-math, which we forbid. */
#include "act.h"
#include "par.h"

#include <math.h>

static const float OL_SQRT1_2 = 0.70710678118654752440f;      /* 1/sqrt(2) */
static const float OL_INV_SQRT_2PI = 0.39894228040143267794f; /* 1/sqrt(2*pi) */
static const float OL_SQRT_2_PI = 0.79788456080286535588f;    /* sqrt(2/pi) */
static const float OL_GELU_C = 0.044715f;

/* ---- relu ---- */

void ol_relu_forward(size_t n, const float *restrict x, float *restrict y) {
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ol_relu_backward(size_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx) {
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

/* ---- leaky_relu ---- */

void ol_leaky_relu_forward(size_t n, const float *restrict x, float *restrict y, float alpha) {
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
}

void ol_leaky_relu_backward(size_t n, const float *restrict x, const float *restrict dy,
                            float *restrict dx, float alpha) {
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i];
}

/* ---- elu ---- */

void ol_elu_forward(size_t n, const float *restrict x, float *restrict y, float alpha) {
    /* expm1: exp(x)-1 would lose all digits for small |x| */
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
}

void ol_elu_backward(size_t n, const float *restrict x, const float *restrict dy,
                     float *restrict dx, float alpha) {
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * (alpha * expf(x[i]));
}

/* ---- tanh ---- */

void ol_tanh_forward(size_t n, const float *restrict x, float *restrict y) {
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

void ol_tanh_backward(size_t n, const float *restrict y, const float *restrict dy,
                      float *restrict dx) {
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* ---- sigmoid ---- */

void ol_sigmoid_forward(size_t n, const float *restrict x, float *restrict y) {
    /* exp of a non-positive argument only: never overflows */
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float e = expf(-fabsf(x[i]));
        y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

void ol_sigmoid_backward(size_t n, const float *restrict y, const float *restrict dy,
                         float *restrict dx) {
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * (y[i] * (1.0f - y[i]));
}

/* ---- gelu ---- */

void ol_gelu_forward(size_t n, const float *restrict x, float *restrict y, int approximate) {
    if (approximate == OL_GELU_TANH) {
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float u = OL_SQRT_2_PI * (v + OL_GELU_C * v * v * v);
            y[i] = 0.5f * v * (1.0f + tanhf(u));
        }
    } else {
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (size_t i = 0; i < n; i++)
            y[i] = 0.5f * x[i] * erfcf(-x[i] * OL_SQRT1_2);
    }
}

void ol_gelu_backward(size_t n, const float *restrict x, const float *restrict dy,
                      float *restrict dx, int approximate) {
    if (approximate == OL_GELU_TANH) {
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float v = x[i], v2 = v * v;
            float t = tanhf(OL_SQRT_2_PI * (v + OL_GELU_C * v2 * v));
            float du = OL_SQRT_2_PI * (1.0f + 3.0f * OL_GELU_C * v2);
            dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
        }
    } else {
        /* d/dx x*Phi(x) = Phi(x) + x*phi(x) */
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float cdf = 0.5f * erfcf(-v * OL_SQRT1_2);
            float pdf = OL_INV_SQRT_2PI * expf(-0.5f * v * v);
            dx[i] = dy[i] * (cdf + v * pdf);
        }
    }
}

/* ---- softmax / log_softmax: one row per iteration, sums in double ---- */

static float row_max(int cols, const float *restrict x) {
    float m = -INFINITY;
    for (int j = 0; j < cols; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

void ol_softmax_forward(int rows, int cols, const float *restrict x, float *restrict y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols > OL_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        float *yr = y + (size_t)r * cols;
        float m = row_max(cols, xr);
        double s = 0.0;
        for (int j = 0; j < cols; j++) {
            yr[j] = expf(xr[j] - m);
            s += yr[j];
        }
        float inv = (float)(1.0 / s);
        for (int j = 0; j < cols; j++)
            yr[j] *= inv;
    }
}

void ol_softmax_backward(int rows, int cols, const float *restrict y,
                         const float *restrict dy, float *restrict dx) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols > OL_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *yr = y + (size_t)r * cols, *dyr = dy + (size_t)r * cols;
        float *dxr = dx + (size_t)r * cols;
        double dot = 0.0;
        for (int j = 0; j < cols; j++)
            dot += (double)dyr[j] * yr[j];
        float d = (float)dot;
        for (int j = 0; j < cols; j++)
            dxr[j] = yr[j] * (dyr[j] - d);
    }
}

void ol_log_softmax_forward(int rows, int cols, const float *restrict x, float *restrict y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols > OL_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        float *yr = y + (size_t)r * cols;
        float m = row_max(cols, xr);
        double s = 0.0;
        for (int j = 0; j < cols; j++)
            s += expf(xr[j] - m);
        float lse = (float)log(s); /* >= 0: the max term contributes 1 */
        for (int j = 0; j < cols; j++)
            yr[j] = (xr[j] - m) - lse;
    }
}

void ol_log_softmax_backward(int rows, int cols, const float *restrict y,
                             const float *restrict dy, float *restrict dx) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols > OL_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *yr = y + (size_t)r * cols, *dyr = dy + (size_t)r * cols;
        float *dxr = dx + (size_t)r * cols;
        double s = 0.0;
        for (int j = 0; j < cols; j++)
            s += dyr[j];
        float sd = (float)s;
        for (int j = 0; j < cols; j++)
            dxr[j] = dyr[j] - expf(yr[j]) * sd;
    }
}
