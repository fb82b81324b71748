#include "reduce.h"
#include "par.h"
#include <math.h>
#include <string.h>

/* Whole-buffer sums: ordered sums of par.h, lanes inside a block. */
static double sum_block(int64_t lo, int64_t hi, const void *a) { return ol_lanes_sum((const float *)a + lo, hi - lo, 0); }
static double sumsq_block(int64_t lo, int64_t hi, const void *a) { return ol_lanes_sum((const float *)a + lo, hi - lo, 1); }

double ol_sum(int64_t n, const float *a) { return ol_ordered_sum(n, OL_SUM_BLOCK, n, sum_block, a); }
double ol_sumsq(int64_t n, const float *a) { return ol_ordered_sum(n, OL_SUM_BLOCK, n, sumsq_block, a); }

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
    #pragma omp parallel for schedule(static) if (rows * len > OL_PAR_MIN && rows > 1)
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
    #pragma omp parallel for schedule(static) if (lines * len > OL_PAR_MIN && lines > 1)
    for (int64_t l = 0; l < lines; l++) {
        int64_t base = (l / inner) * len * inner + l % inner;
        double s = 0;
        for (int64_t k = 0; k < len; k++) {
            s += a[base + k * inner];
            out[base + k * inner] = (float)s;
        }
    }
}

typedef struct { const float *a, *b; int64_t sa, sb; } Dot;

static double dot_block(int64_t lo, int64_t hi, const void *ctx)
{
    const Dot *d = ctx;
    double s = 0;
    for (int64_t i = lo; i < hi; i++) s += (double)d->a[i * d->sa] * d->b[i * d->sb];
    return s;
}

double ol_dot(int64_t n, const float *a, int64_t sa, const float *b, int64_t sb)
{
    const Dot d = { a, b, sa, sb };
    return ol_ordered_sum(n, OL_SUM_BLOCK, n, dot_block, &d);
}

static void acc_span(double w, const unsigned char *x, double *acc, int64_t lo, int64_t len)
{
    for (int64_t i = lo; i < lo + len; i++) {
        float v;
        memcpy(&v, x + (size_t)i * sizeof(float), sizeof v);
        acc[i] += w * (double)v;
    }
}

void ol_acc_weighted(int64_t n, double w, const unsigned char *x, double *acc)
{
    OL_SPANS(n, acc_span(w, x, acc, lo, len));
}

static void finish_span(const double *acc, double div, float *out, int64_t lo, int64_t len)
{
    for (int64_t i = lo; i < lo + len; i++) out[i] = (float)(acc[i] / div);
}

void ol_acc_finish(int64_t n, const double *acc, double div, float *out)
{
    OL_SPANS(n, finish_span(acc, div, out, lo, len));
}
