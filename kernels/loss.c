/* Losses. Reductions are deterministic: items (rows or elements) are split
 * into at most OL_SUM_BLOCKS contiguous blocks whose length depends only on
 * the item count; each block is summed in order in double by one thread and
 * the block partials are then summed in order. Thread count never enters.
 * (Private to the losses; general reductions live in reduce.c.) */
#include "loss.h"

#include <math.h>

#define OL_PAR_MIN 32768 /* below this many elements, stay on one thread */
#define OL_SUM_BLOCKS 64

/* Block length, a multiple of `grain`, such that n items need <= OL_SUM_BLOCKS blocks. */
static size_t block_len(size_t n, size_t grain) {
    size_t units = (n + grain - 1) / grain;
    return grain * ((units + OL_SUM_BLOCKS - 1) / OL_SUM_BLOCKS);
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

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

float ol_cross_entropy_forward(int n, int c, const float *restrict logits,
                               const int32_t *restrict labels, float *restrict probs) {
    if (n <= 0)
        return NAN;
    size_t len = block_len((size_t)n, 1), nblk = ((size_t)n + len - 1) / len;
    double part[OL_SUM_BLOCKS];
#pragma omp parallel for schedule(static) if ((size_t)n * c > OL_PAR_MIN)
    for (size_t b = 0; b < nblk; b++) {
        double s = 0.0;
        for (size_t i = b * len; i < min_sz((size_t)n, (b + 1) * len); i++) {
            const float *x = logits + i * c;
            double lse = row_logsumexp(c, x, probs ? probs + i * c : NULL);
            int32_t k = labels[i];
            s += (k >= 0 && k < c) ? lse - x[k] : NAN;
        }
        part[b] = s;
    }
    double total = 0.0;
    for (size_t b = 0; b < nblk; b++)
        total += part[b];
    return (float)(total / n);
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

float ol_cross_entropy_soft_forward(int n, int c, const float *restrict logits,
                                    const float *restrict targets, float *restrict probs) {
    if (n <= 0)
        return NAN;
    size_t len = block_len((size_t)n, 1), nblk = ((size_t)n + len - 1) / len;
    double part[OL_SUM_BLOCKS];
#pragma omp parallel for schedule(static) if ((size_t)n * c > OL_PAR_MIN)
    for (size_t b = 0; b < nblk; b++) {
        double s = 0.0;
        for (size_t i = b * len; i < min_sz((size_t)n, (b + 1) * len); i++) {
            const float *x = logits + i * c, *t = targets + i * c;
            double lse = row_logsumexp(c, x, probs ? probs + i * c : NULL);
            for (int j = 0; j < c; j++)
                s += (double)t[j] * (lse - x[j]);
        }
        part[b] = s;
    }
    double total = 0.0;
    for (size_t b = 0; b < nblk; b++)
        total += part[b];
    return (float)(total / n);
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

float ol_mse_forward(size_t n, const float *restrict pred, const float *restrict target) {
    if (n == 0)
        return NAN;
    size_t len = block_len(n, 4096), nblk = (n + len - 1) / len;
    double part[OL_SUM_BLOCKS];
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t b = 0; b < nblk; b++) {
        double s = 0.0;
        for (size_t i = b * len; i < min_sz(n, (b + 1) * len); i++) {
            double d = (double)pred[i] - target[i];
            s += d * d;
        }
        part[b] = s;
    }
    double total = 0.0;
    for (size_t b = 0; b < nblk; b++)
        total += part[b];
    return (float)(total / n);
}

void ol_mse_backward(size_t n, const float *restrict pred, const float *restrict target,
                     float scale, float *restrict dpred) {
    float k = (float)(2.0 * scale / n);
#pragma omp parallel for simd schedule(static) if (n > OL_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        dpred[i] = k * (pred[i] - target[i]);
}

/* ---- binary cross-entropy on logits ---- */

float ol_binary_cross_entropy_with_logits_forward(size_t n, const float *restrict logits,
                                                  const float *restrict targets) {
    if (n == 0)
        return NAN;
    size_t len = block_len(n, 4096), nblk = (n + len - 1) / len;
    double part[OL_SUM_BLOCKS];
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (size_t b = 0; b < nblk; b++) {
        double s = 0.0;
        for (size_t i = b * len; i < min_sz(n, (b + 1) * len); i++) {
            float x = logits[i];
            /* = -[t log sigmoid(x) + (1-t) log(1-sigmoid(x))], never exp of a positive */
            s += (double)(x > 0.0f ? x : 0.0f) - (double)x * targets[i]
                 + log1pf(expf(-fabsf(x)));
        }
        part[b] = s;
    }
    double total = 0.0;
    for (size_t b = 0; b < nblk; b++)
        total += part[b];
    return (float)(total / n);
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
