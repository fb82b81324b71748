/* Linear layer: the GEMMs go to BLIS through ol_gemm (thread-count independent tiling),
 * bias/ReLU and the column sums of db are element-wise passes. db sums rows in index order
 * inside each column, and columns are independent: deterministic. */
#include "linear.h"
#include "par.h"

#include "gemm.h"

#include <string.h>

void ol_linear_forward(int n, int in, int out, const float *restrict x,
                       const float *restrict w, const float *restrict b, int relu,
                       float *restrict y)
{
    /* W^T [in, out] is w read with swapped strides: no copy */
    ol_gemm(n, out, in, 1.0f, x, in, 1, w, 1, in, 0.0f, y, out, 1);
    if (!b && !relu) return;
    /* ReLU as v < 0 ? 0 : v, PyTorch's: NaN passes through (one maxps either way). */
#pragma omp parallel for schedule(static) if ((size_t)n * out > OL_PAR_MIN)
    for (int i = 0; i < n; i++) {
        float *restrict yi = y + (size_t)i * out;
        if (b && relu)
            for (int j = 0; j < out; j++) { float v = yi[j] + b[j]; yi[j] = v < 0.0f ? 0.0f : v; }
        else if (b)
            for (int j = 0; j < out; j++) yi[j] += b[j];
        else
            for (int j = 0; j < out; j++) yi[j] = yi[j] < 0.0f ? 0.0f : yi[j];
    }
}

void ol_linear_backward(int n, int in, int out, const float *restrict x,
                        const float *restrict w, const float *restrict dy, float *restrict dx,
                        float *restrict dw, float *restrict db)
{
    /* dW [out, in] = dy^T [out, n] x [n, in] */
    ol_gemm(out, in, n, 1.0f, dy, 1, out, x, in, 1, 0.0f, dw, in, 1);
    if (dx) /* dx [n, in] = dy [n, out] W [out, in] */
        ol_gemm(n, in, out, 1.0f, dy, out, 1, w, in, 1, 0.0f, dx, in, 1);
    if (db) {
        /* rows added in index order; the inner loop runs across columns, so it vectorizes
         * without reassociating any column's sum */
        memset(db, 0, sizeof(float) * (size_t)out);
        for (int i = 0; i < n; i++) {
            const float *restrict di = dy + (size_t)i * out;
            for (int j = 0; j < out; j++) db[j] += di[j];
        }
    }
}

