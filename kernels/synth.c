#include "synth.h"
#include "par.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>

#define PI 3.14159265358979323846

/* Streams of the generator keyed by `seed`, one per use, so the parts are independent. */
enum { S_CENTERS = 1, S_NOISE, S_UNIFORM, S_ROTATION, S_WEIGHTS, S_TARGET_NOISE };

int ol_synth_blobs(uint64_t seed, int64_t n, int f, int k, float std, float box,
                   float *restrict x, float *restrict y)
{
    if (n < 0 || f < 1 || k < 1 || k > 256 || !(std >= 0.0f) || !(box >= 0.0f)) return OL_SYNTH_EARG;
    float *c = malloc((size_t)k * (size_t)f * sizeof *c);
    if (!c) return OL_SYNTH_EARG;
    ol_rng_uniform(seed, S_CENTERS, -box, box, c, (size_t)k * (size_t)f);
    ol_rng_normal(seed, S_NOISE, 0.0f, std, x, (size_t)(n * f));
#pragma omp parallel for schedule(static) if (n * f > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        int cls = (int)(i % k);
        y[i] = (float)cls;
        for (int j = 0; j < f; j++) x[i * f + j] += c[cls * f + j];
    }
    free(c);
    return 0;
}

int ol_synth_spirals(uint64_t seed, int64_t n, float noise, float turns,
                     float *restrict x, float *restrict y)
{
    if (n < 0 || !(noise >= 0.0f) || !(turns > 0.0f)) return OL_SYNTH_EARG;
    ol_rng_normal(seed, S_NOISE, 0.0f, noise, x, (size_t)(2 * n));
    ol_rng_uniform(seed, S_UNIFORM, 0.0f, 1.0f, y, (size_t)n);   /* y holds u until overwritten */
#pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        int cls = (int)(i % 2);
        double t = 2.0 * PI * turns * sqrt((double)y[i]);
        double r = t / (2.0 * PI * turns), a = t + PI * cls;
        x[2 * i] += (float)(r * cos(a));
        x[2 * i + 1] += (float)(r * sin(a));
        y[i] = (float)cls;
    }
    return 0;
}

/* q [d, d] = a random rotation: Gram-Schmidt (twice, for orthogonality to
 * rounding) on Gaussian rows. */
static void random_rotation(uint64_t seed, int d, double *q)
{
    float *g = malloc((size_t)d * (size_t)d * sizeof *g);
    ol_rng_normal(seed, S_ROTATION, 0.0f, 1.0f, g, (size_t)d * (size_t)d);
    for (int i = 0; i < d * d; i++) q[i] = g[i];
    free(g);
    for (int i = 0; i < d; i++) {
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < i; j++) {
                double dot = 0;
                for (int k = 0; k < d; k++) dot += q[i * d + k] * q[j * d + k];
                for (int k = 0; k < d; k++) q[i * d + k] -= dot * q[j * d + k];
            }
        double nrm = 0;
        for (int k = 0; k < d; k++) nrm += q[i * d + k] * q[i * d + k];
        nrm = sqrt(nrm);
        for (int k = 0; k < d; k++) q[i * d + k] /= nrm;
    }
}

int ol_synth_linreg(uint64_t seed, int64_t n, int d, double cond, float noise, int rotate,
                    float *restrict x, float *restrict y, float *restrict w)
{
    if (n < 0 || d < 1 || d > 4096 || !(cond >= 1.0) || !isfinite(cond) || !(noise >= 0.0f)) return OL_SYNTH_EARG;
    double *q = malloc((size_t)d * (size_t)d * sizeof *q), *s = malloc((size_t)d * sizeof *s);
    float *z = malloc((size_t)(n * d) * sizeof *z + 1), *e = malloc((size_t)n * sizeof *e + 1);
    if (!q || !s || !z || !e) { free(q); free(s); free(z); free(e); return OL_SYNTH_EARG; }
    for (int j = 0; j < d; j++) s[j] = sqrt(d == 1 ? 1.0 : pow(cond, (double)j / (d - 1)));
    if (rotate) random_rotation(seed, d, q);
    else for (int i = 0; i < d * d; i++) q[i] = (i % (d + 1)) == 0;
    ol_rng_normal(seed, S_NOISE, 0.0f, 1.0f, z, (size_t)(n * d));
    ol_rng_normal(seed, S_WEIGHTS, 0.0f, 1.0f, w, (size_t)d);
    ol_rng_normal(seed, S_TARGET_NOISE, 0.0f, noise, e, (size_t)n);
    /* x_i = Q^T-rows: x_i[k] = sum_j z_ij s_j q[j, k]  (cov = Q^T diag(s^2) Q) */
#pragma omp parallel for schedule(static) if (n * d > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double yi = 0;
        for (int k = 0; k < d; k++) {
            double v = 0;
            for (int j = 0; j < d; j++) v += (double)z[i * d + j] * s[j] * q[j * d + k];
            x[i * d + k] = (float)v;
            yi += (double)x[i * d + k] * w[k];
        }
        y[i] = (float)(yi + e[i]);
    }
    free(q); free(s); free(z); free(e);
    return 0;
}
