#include "gather.h"
#include "par.h"
#include <math.h>

#define MAXDIM 8 /* OL_MAXDIM: kernels do not include the VM's headers */

/* The index space split into lines along dim: the other dims (outer) and
 * the length and stride of dim in each operand. */
typedef struct {
    int nd;
    int64_t shape[MAXDIM], s[3][MAXDIM], len, step[3], lines;
} lines_t;

static void split(lines_t *L, int ndim, const int64_t *shape, int dim, const int64_t *const st[3])
{
    L->nd = 0;
    L->lines = 1;
    for (int d = 0; d < ndim; d++) {
        if (d == dim) continue;
        L->shape[L->nd] = shape[d];
        for (int k = 0; k < 3; k++) L->s[k][L->nd] = st[k][d];
        L->nd++;
        L->lines *= shape[d];
    }
    L->len = ndim ? shape[dim] : 1;
    for (int k = 0; k < 3; k++) L->step[k] = ndim ? st[k][dim] : 0;
}

static inline int64_t offset(const lines_t *L, int k, int64_t r)
{
    int64_t off = 0;
    for (int d = L->nd - 1; d >= 0; d--) {
        off += (r % L->shape[d]) * L->s[k][d];
        r /= L->shape[d];
    }
    return off;
}

int64_t ol_index_check(int ndim, const int64_t *shape, const float *idx, const int64_t *si, int64_t size)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0, r = i;
        for (int d = ndim - 1; d >= 0; d--) { off += (r % shape[d]) * si[d]; r /= shape[d]; }
        float v = idx[off];
        if (!(v >= 1 && v <= (float)size && v == floorf(v))) return i;
    }
    return -1;
}

void ol_gather(int ndim, const int64_t *shape, int dim, float *out, const int64_t *so,
               const float *a, const int64_t *sa, const float *idx, const int64_t *si)
{
    lines_t L;
    const int64_t *st[3] = {so, sa, si};
    split(&L, ndim, shape, dim, st);
    #pragma omp parallel for schedule(static) if (L.lines * L.len > OL_PAR_MIN)
    for (int64_t r = 0; r < L.lines; r++) {
        float *o = out + offset(&L, 0, r);
        const float *x = a + offset(&L, 1, r), *ix = idx + offset(&L, 2, r);
        for (int64_t k = 0; k < L.len; k++)
            o[k * L.step[0]] = x[((int64_t)ix[k * L.step[2]] - 1) * L.step[1]];
    }
}

void ol_scatter_add(int ndim, const int64_t *shape, int dim, float *o, const int64_t *so,
                    const float *idx, const int64_t *si, const float *src, const int64_t *ss)
{
    lines_t L;
    const int64_t *st[3] = {so, si, ss};
    split(&L, ndim, shape, dim, st);
    /* a line of o along dim receives only from the same line of src: lines are
     * independent, and within one the additions happen in index order */
    #pragma omp parallel for schedule(static) if (L.lines * L.len > OL_PAR_MIN)
    for (int64_t r = 0; r < L.lines; r++) {
        float *y = o + offset(&L, 0, r);
        const float *ix = idx + offset(&L, 1, r), *x = src + offset(&L, 2, r);
        for (int64_t k = 0; k < L.len; k++)
            y[((int64_t)ix[k * L.step[1]] - 1) * L.step[0]] += x[k * L.step[2]];
    }
}
