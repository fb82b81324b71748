/* Losses. Reductions are the ordered sums of par.h: items (rows or elements)
 * in fixed blocks of about OL_SUM_BLOCK elements, each block summed in order
 * in double by one thread, the block partials then summed in order. Thread
 * count never enters. */
#include "loss.h"
#include "par.h"

#include <math.h>

/* Rows of c values per block of an ordered sum: about OL_SUM_BLOCK values. */
static int64_t row_block(int c) { return c < 1 || c >= OL_SUM_BLOCK ? 1 : OL_SUM_BLOCK / c; }

static float row_max(int c, const float *restrict x) {
    float m = -INFINITY;
    for (int j = 0; j < c; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* log(sum_j exp(x_j)) of one row, max-subtracted; writes softmax to p if p != NULL. */
static double row_logsumexp(int c, const float *restrict x, float *restrict p) {
    float m = row_max(c, x);
    double s = 0.0;
    for (int j = 0; j < c; j++)
        s += expf(x[j] - m);
    if (p) {
        float inv = (float)(1.0 / s);
        for (int j = 0; j < c; j++)
            p[j] = expf(x[j] - m) * inv;
    }
    return (double)m + log(s);
}

int ol_check_labels(int n, int c, const int32_t *labels) {
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c)
            return i;
    return -1;
}

/* ---- cross-entropy with class-index labels ---- */

typedef struct {
    int c;
    const float *logits, *targets;
    const int32_t *labels;
    float *probs;
} Rows;

static double ce_rows(int64_t lo, int64_t hi, const void *ctx) {
    const Rows *r = ctx;
    const int c = r->c;
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) {
        const float *x = r->logits + i * c;
        double lse = row_logsumexp(c, x, r->probs ? r->probs + i * c : NULL);
        int32_t k = r->labels[i];
        s += (k >= 0 && k < c) ? lse - x[k] : NAN;
    }
    return s;
}

float ol_cross_entropy_forward(int n, int c, const float *restrict logits,
                               const int32_t *restrict labels, float *restrict probs) {
    if (n <= 0)
        return NAN;
    const Rows r = { c, logits, NULL, labels, probs };
    return (float)(ol_ordered_sum(n, row_block(c), (int64_t)n * c, ce_rows, &r) / n);
}

void ol_cross_entropy_backward(int n, int c, const float *restrict logits,
                               const int32_t *restrict labels, float scale,
                               float *restrict dlogits) {
    float k = (float)((double)scale / n);
#pragma omp parallel for schedule(static) if ((size_t)n * c > OL_PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * c;
        float *d = dlogits + (size_t)i * c;
        int32_t y = labels[i];
        row_logsumexp(c, x, d); /* d = softmax */
        if (y < 0 || y >= c) {
            for (int j = 0; j < c; j++)
                d[j] = NAN;
            continue;
        }
        for (int j = 0; j < c; j++)
            d[j] = k * (d[j] - (j == y ? 1.0f : 0.0f));
    }
}

/* ---- cross-entropy with soft targets ---- */

static double ce_soft_rows(int64_t lo, int64_t hi, const void *ctx) {
    const Rows *r = ctx;
    const int c = r->c;
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) {
        const float *x = r->logits + i * c, *t = r->targets + i * c;
        double lse = row_logsumexp(c, x, r->probs ? r->probs + i * c : NULL);
        for (int j = 0; j < c; j++)
            s += (double)t[j] * (lse - x[j]);
    }
    return s;
}

float ol_cross_entropy_soft_forward(int n, int c, const float *restrict logits,
                                    const float *restrict targets, float *restrict probs) {
    if (n <= 0)
        return NAN;
    const Rows r = { c, logits, targets, NULL, probs };
    return (float)(ol_ordered_sum(n, row_block(c), (int64_t)n * c, ce_soft_rows, &r) / n);
}

void ol_cross_entropy_soft_backward(int n, int c, const float *restrict logits,
                                    const float *restrict targets, float scale,
                                    float *restrict dlogits) {
    float k = (float)((double)scale / n);
#pragma omp parallel for schedule(static) if ((size_t)n * c > OL_PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * c, *t = targets + (size_t)i * c;
        float *d = dlogits + (size_t)i * c;
        double ts = 0.0;
        for (int j = 0; j < c; j++)
            ts += t[j];
        float tsum = (float)ts;
        row_logsumexp(c, x, d); /* d = softmax */
        for (int j = 0; j < c; j++)
            d[j] = k * (d[j] * tsum - t[j]);
    }
}

/* ---- mean squared error ---- */

typedef struct { const float *a, *b; } Pair;

static double mse_block(int64_t lo, int64_t hi, const void *ctx) {
    const Pair *q = ctx;
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) {
        double d = (double)q->a[i] - q->b[i];
        s += d * d;
    }
    return s;
}

float ol_mse_forward(size_t n, const float *restrict pred, const float *restrict target) {
    if (n == 0)
        return NAN;
    const Pair q = { pred, target };
    return (float)(ol_ordered_sum((int64_t)n, OL_SUM_BLOCK, (int64_t)n, mse_block, &q) / n);
}

void ol_mse_backward(size_t n, const float *restrict pred, const float *restrict target,
                     float scale, float *restrict dpred) {
    float k = (float)(2.0 * scale / n);
#pragma omp parallel for simd schedule(static) if (parallel: n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dpred[i] = k * (pred[i] - target[i]);
}

/* ---- binary cross-entropy on logits ---- */

static double bce_block(int64_t lo, int64_t hi, const void *ctx) {
    const Pair *q = ctx;
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) {
        float x = q->a[i];
        /* = -[t log sigmoid(x) + (1-t) log(1-sigmoid(x))], never exp of a positive */
        s += (double)(x > 0.0f ? x : 0.0f) - (double)x * q->b[i] + log1pf(expf(-fabsf(x)));
    }
    return s;
}

float ol_binary_cross_entropy_with_logits_forward(size_t n, const float *restrict logits,
                                                  const float *restrict targets) {
    if (n == 0)
        return NAN;
    const Pair q = { logits, targets };
    return (float)(ol_ordered_sum((int64_t)n, OL_SUM_BLOCK, (int64_t)n, bce_block, &q) / n);
}

void ol_binary_cross_entropy_with_logits_backward(size_t n, const float *restrict logits,
                                                  const float *restrict targets, float scale,
                                                  float *restrict dlogits) {
    float k = (float)((double)scale / n);
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = logits[i], e = expf(-fabsf(x));
        float sig = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        dlogits[i] = k * (sig - targets[i]);
    }
}

/* ---- accuracy ---- */

int ol_accuracy_count(int n, int c, const float *restrict logits, const int32_t *restrict labels) {
    int count = 0; /* integer sum: exact, so the reduction order does not matter */
#pragma omp parallel for schedule(static) reduction(+ : count) if ((size_t)n * c > OL_PAR_MIN)
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * c;
        int best = 0;
        for (int j = 1; j < c; j++)
            if (x[j] > x[best])
                best = j;
        count += (c > 0 && labels[i] == best);
    }
    return count;
}
