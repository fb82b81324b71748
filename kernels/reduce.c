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
    ol_reduce_p(op, 0, ndim, shape, strides, len, step, a, out);
}

/* One row of the reductions that take a parameter. */
static float reduce_row(ol_redop op, double p, int64_t len, int64_t step, const float *x)
{
    switch (op) {
    case OL_RPROD: {
        double s = 1;
        for (int64_t k = 0; k < len; k++) s *= x[k * step];
        return (float)s;
    }
    case OL_RLOGSUMEXP: {
        double m = -INFINITY;
        for (int64_t k = 0; k < len; k++) {
            double v = x[k * step];
            if (isnan(v)) return NAN;
            if (v > m) m = v;
        }
        if (isinf(m)) m = 0; /* all -inf gives -inf, any +inf gives +inf */
        double s = 0;
        for (int64_t k = 0; k < len; k++) s += exp(x[k * step] - m);
        return (float)(log(s) + m);
    }
    case OL_RVAR: {
        double mean = 0, m2 = 0;
        for (int64_t k = 0; k < len; k++) mean += x[k * step];
        mean /= (double)len;
        for (int64_t k = 0; k < len; k++) { double d = x[k * step] - mean; m2 += d * d; }
        double dof = (double)len - p;
        return (float)(m2 / (dof > 0 ? dof : 0)); /* 0/0 = NaN, as PyTorch */
    }
    case OL_RNORM: {
        double s = 0;
        if (isinf(p)) {
            s = p > 0 ? 0 : INFINITY;
            for (int64_t k = 0; k < len; k++) {
                double v = fabs(x[k * step]);
                if (isnan(v)) return NAN;
                if (p > 0 ? v > s : v < s) s = v;
            }
            return (float)s;
        }
        if (p == 0) { for (int64_t k = 0; k < len; k++) s += x[k * step] != 0; return (float)s; }
        if (p == 1) { for (int64_t k = 0; k < len; k++) s += fabs(x[k * step]); return (float)s; }
        if (p == 2) {
            for (int64_t k = 0; k < len; k++) s += (double)x[k * step] * x[k * step];
            return (float)sqrt(s);
        }
        for (int64_t k = 0; k < len; k++) s += pow(fabs(x[k * step]), p);
        return (float)pow(s, 1 / p);
    }
    default: return NAN;
    }
}

void ol_reduce_p(ol_redop op, double p, int ndim, const int64_t *shape, const int64_t *strides,
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
        default:
            out[r] = reduce_row(op, p, len, step, x);
            break;
        }
    }
}

void ol_cumsum(int64_t outer, int64_t len, int64_t inner, const float *a, float *out)
{
    int64_t lines = outer * inner;
    #pragma omp parallel for schedule(static) if (lines * len > 32768 && lines > 1)
    for (int64_t l = 0; l < lines; l++) {
        int64_t base = (l / inner) * len * inner + l % inner;
        double s = 0;
        for (int64_t k = 0; k < len; k++) {
            s += a[base + k * inner];
            out[base + k * inner] = (float)s;
        }
    }
}

double ol_dot(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb)
{
    int64_t nb = (n + BLOCK - 1) / BLOCK;
    double stack[64], *part = nb <= 64 ? stack : malloc((size_t)nb * sizeof *part);
    if (!part) return NAN;
    #pragma omp parallel for schedule(static) if (nb > 8)
    for (int64_t blk = 0; blk < nb; blk++) {
        int64_t lo = blk * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
        double s = 0;
        for (int64_t i = lo; i < hi; i++) s += (double)a[i * sa] * b[i * sb];
        part[blk] = s;
    }
    double s = 0;
    for (int64_t blk = 0; blk < nb; blk++) s += part[blk];
    if (part != stack) free(part);
    return s;
}
