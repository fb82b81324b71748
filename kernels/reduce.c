#include "reduce.h"
#include <math.h>
#include <stdlib.h>

#define BLOCK 4096

static double block_reduce(int64_t n, const float *a, int squares)
{
    int64_t nb = (n + BLOCK - 1) / BLOCK;
    double stack[64], *part = nb <= 64 ? stack : malloc((size_t)nb * sizeof *part);
    if (!part) return NAN;
    #pragma omp parallel for schedule(static) if (nb > 8)
    for (int64_t b = 0; b < nb; b++) {
        int64_t lo = b * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
        double s = 0;
        if (squares) for (int64_t i = lo; i < hi; i++) s += (double)a[i] * a[i];
        else         for (int64_t i = lo; i < hi; i++) s += a[i];
        part[b] = s;
    }
    double s = 0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    if (part != stack) free(part);
    return s;
}

double ol_sum(int64_t n, const float *a) { return block_reduce(n, a, 0); }
double ol_sumsq(int64_t n, const float *a) { return block_reduce(n, a, 1); }

static inline int64_t row_offset(int ndim, const int64_t *shape, const int64_t *s, int64_t r)
{
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        off += (r % shape[d]) * s[d];
        r /= shape[d];
    }
    return off;
}

void ol_reduce(ol_redop op, int ndim, const int64_t *shape, const int64_t *strides,
               int64_t len, int64_t step, const float *a, float *out)
{
    int64_t rows = 1;
    for (int d = 0; d < ndim; d++) rows *= shape[d];
    #pragma omp parallel for schedule(static) if (rows * len > 32768 && rows > 1)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = a + row_offset(ndim, shape, strides, r);
        switch (op) {
        case OL_RSUM: case OL_RSUMSQ: {
            double s = 0;
            if (op == OL_RSUM) for (int64_t k = 0; k < len; k++) s += x[k * step];
            else for (int64_t k = 0; k < len; k++) s += (double)x[k * step] * x[k * step];
            out[r] = (float)s;
            break;
        }
        case OL_RMAX: case OL_RARGMAX: case OL_RMIN: case OL_RARGMIN: {
            int max = op == OL_RMAX || op == OL_RARGMAX;
            float best = x[0];
            int64_t at = 0;
            for (int64_t k = 1; k < len && !isnan(best); k++) {
                float v = x[k * step];
                if (isnan(v) || (max ? v > best : v < best)) { best = v; at = k; }
            }
            out[r] = (op == OL_RMAX || op == OL_RMIN) ? best : (float)at;
            break;
        }
        }
    }
}
