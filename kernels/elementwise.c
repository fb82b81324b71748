#include "elementwise.h"
#include "par.h"
#include <math.h>
#include <stdbool.h>

static inline float binop(ol_binop op, float x, float y)
{
    switch (op) {
    case OL_ADD: return x + y;
    case OL_SUB: return x - y;
    case OL_MUL: return x * y;
    case OL_DIV: return x / y;
    case OL_POW: return powf(x, y);
    case OL_MAXIMUM: return (x > y || isnan(x)) ? x : y;
    case OL_MINIMUM: return (x < y || isnan(x)) ? x : y;
    case OL_EQ: return x == y;
    case OL_NE: return x != y;
    case OL_LT: return x < y;
    case OL_LE: return x <= y;
    case OL_GT: return x > y;
    case OL_GE: return x >= y;
    case OL_REMAINDER: {
        float r = fmodf(x, y); /* exact; then moved to the divisor's side */
        return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
    }
    }
    return 0;
}

static inline float unop(ol_unop op, float x)
{
    switch (op) {
    case OL_NEG: return -x;
    case OL_ABS: return fabsf(x);
    case OL_EXP: return expf(x);
    case OL_LOG: return logf(x);
    case OL_SQRT: return sqrtf(x);
    case OL_SIGN: return (float)((x > 0) - (x < 0));
    case OL_SQUARE: return x * x;
    case OL_RECIPROCAL: return 1.0f / x;
    case OL_TANH: return tanhf(x);
    case OL_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case OL_RELU: return x < 0 ? 0.0f : x;   /* NaN passes, as in PyTorch */
    case OL_SIN: return sinf(x);
    case OL_COS: return cosf(x);
    case OL_FLOOR: return floorf(x);
    case OL_ROUND: return nearbyintf(x); /* the default rounding mode: half to even */
    }
    return 0;
}

static int64_t numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

static bool is_contig(int ndim, const int64_t *shape, const int64_t *s)
{
    int64_t expect = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] != 1 && s[d] != expect) return false;
        expect *= shape[d];
    }
    return true;
}

static bool is_scalar(int ndim, const int64_t *s)
{
    for (int d = 0; d < ndim; d++) if (s[d] != 0) return false;
    return true;
}

/* Offset of row r (all dims but the last) in a strided buffer. */
static inline int64_t row_offset(int ndim, const int64_t *shape, const int64_t *s, int64_t r)
{
    int64_t off = 0;
    for (int d = ndim - 2; d >= 0; d--) {
        off += (r % shape[d]) * s[d];
        r /= shape[d];
    }
    return off;
}

/* The contiguous cases are split out so that each compiles to a vector loop. */
#define CONTIG_BINARY(OP, EXPR)                                                  \
    case OP:                                                                    \
        if (bscalar) {                                                          \
            _Pragma("omp parallel for schedule(static) if (n > OL_PAR_MIN)")       \
            for (int64_t i = 0; i < n; i++) { float x = a[i], y = b0; out[i] = EXPR; } \
        } else {                                                                \
            _Pragma("omp parallel for schedule(static) if (n > OL_PAR_MIN)")       \
            for (int64_t i = 0; i < n; i++) { float x = a[i], y = b[i]; out[i] = EXPR; } \
        }                                                                       \
        return;

void ol_binary(ol_binop op, int ndim, const int64_t *shape,
               float *out, const int64_t *so,
               const float *a, const int64_t *sa,
               const float *b, const int64_t *sb)
{
    int64_t n = numel(ndim, shape);
    if (n == 0) return;
    if (is_contig(ndim, shape, so) && is_contig(ndim, shape, sa) &&
        (is_contig(ndim, shape, sb) || is_scalar(ndim, sb))) {
        bool bscalar = !is_contig(ndim, shape, sb);
        float b0 = b[0];
        switch (op) {
        CONTIG_BINARY(OL_ADD, x + y)
        CONTIG_BINARY(OL_SUB, x - y)
        CONTIG_BINARY(OL_MUL, x * y)
        CONTIG_BINARY(OL_DIV, x / y)
        default: break;
        }
    }
    if (ndim == 0) { out[0] = binop(op, a[0], b[0]); return; }
    int64_t cols = shape[ndim - 1], rows = n / cols;
    int64_t co = so[ndim - 1], ca = sa[ndim - 1], cb = sb[ndim - 1];
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + row_offset(ndim, shape, so, r);
        const float *x = a + row_offset(ndim, shape, sa, r);
        const float *y = b + row_offset(ndim, shape, sb, r);
        for (int64_t j = 0; j < cols; j++) o[j * co] = binop(op, x[j * ca], y[j * cb]);
    }
}

void ol_unary(ol_unop op, int ndim, const int64_t *shape,
              float *out, const int64_t *so, const float *a, const int64_t *sa)
{
    int64_t n = numel(ndim, shape);
    if (n == 0) return;
    if (ndim == 0) { out[0] = unop(op, a[0]); return; }
    if (is_contig(ndim, shape, so) && is_contig(ndim, shape, sa)) {
        #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = unop(op, a[i]);
        return;
    }
    int64_t cols = shape[ndim - 1], rows = n / cols;
    int64_t co = so[ndim - 1], ca = sa[ndim - 1];
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + row_offset(ndim, shape, so, r);
        const float *x = a + row_offset(ndim, shape, sa, r);
        for (int64_t j = 0; j < cols; j++) o[j * co] = unop(op, x[j * ca]);
    }
}

void ol_clamp(int64_t n, float *out, const float *a, float lo, float hi)
{
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float x = a[i];
        out[i] = x < lo ? lo : (x > hi ? hi : x);
    }
}

void ol_copy(int ndim, const int64_t *shape, float *out, const int64_t *so,
             const float *a, const int64_t *sa)
{
    int64_t n = numel(ndim, shape);
    if (n == 0) return;
    if (ndim == 0) { out[0] = a[0]; return; }
    if (is_contig(ndim, shape, so) && is_contig(ndim, shape, sa)) {
        #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = a[i];
        return;
    }
    int64_t cols = shape[ndim - 1], rows = n / cols;
    int64_t co = so[ndim - 1], ca = sa[ndim - 1];
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + row_offset(ndim, shape, so, r);
        const float *x = a + row_offset(ndim, shape, sa, r);
        for (int64_t j = 0; j < cols; j++) o[j * co] = x[j * ca];
    }
}

void ol_fill(int ndim, const int64_t *shape, float *out, const int64_t *so, float value)
{
    int64_t n = numel(ndim, shape);
    if (n == 0) return;
    if (ndim == 0) { out[0] = value; return; }
    int64_t cols = shape[ndim - 1], rows = n / cols, co = so[ndim - 1];
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + row_offset(ndim, shape, so, r);
        for (int64_t j = 0; j < cols; j++) o[j * co] = value;
    }
}


/* ---- fused in-place updates ------------------------------------------ */

/* One row of n elements. The unit-stride branch is split out so that it
 * compiles to a vector loop; the strided one does the same arithmetic in the
 * same order, so where a row is cut never changes a bit. */
#define UPDATE_ROW(EXPR)                                                        \
    if (co == 1 && ca == 1 && cb == 1) {                                        \
        for (int64_t i = 0; i < n; i++) { float x = o[i], y = a[i], z = b[i]; (void)y; (void)z; o[i] = EXPR; } \
    } else {                                                                    \
        for (int64_t i = 0; i < n; i++) {                                       \
            float x = o[i * co], y = a[i * ca], z = b[i * cb]; (void)y; (void)z; \
            o[i * co] = EXPR;                                                   \
        }                                                                       \
    }                                                                           \
    break;

static void update_row(ol_updop op, int64_t n, float *o, int64_t co, const float *a, int64_t ca,
                       const float *b, int64_t cb, float s, float s2)
{
    switch (op) {
    case OL_UAXPY: UPDATE_ROW(x + s * y)
    /* PyTorch's order of operations: (value * t1) * t2, (value * t1) / t2 */
    case OL_UADDCMUL: UPDATE_ROW(x + s * y * z)
    case OL_UADDCDIV: UPDATE_ROW(x + s * y / z)
    /* PyTorch's lerp: exact at weight 0 and at weight 1 */
    case OL_ULERP: UPDATE_ROW(fabsf(s) < 0.5f ? x + s * (y - x) : y - (y - x) * (1.0f - s))
    case OL_ULERPT: UPDATE_ROW(fabsf(z) < 0.5f ? x + z * (y - x) : y - (y - x) * (1.0f - z))
    case OL_UCLAMP: UPDATE_ROW(x < s ? s : (x > s2 ? s2 : x))
    }
}

#define UPDATE_CHUNK 8192

void ol_update(ol_updop op, int ndim, const int64_t *shape, float *o, const int64_t *so,
               const float *a, const int64_t *sa, const float *b, const int64_t *sb,
               float s, float s2)
{
    int64_t n = numel(ndim, shape);
    if (n == 0) return;
    /* an operand op does not read: o itself, so every load stays in bounds */
    if (!a) { a = o; sa = so; }
    if (!b) { b = o; sb = so; }
    if (ndim == 0) { update_row(op, 1, o, 1, a, 1, b, 1, s, s2); return; }
    if (is_contig(ndim, shape, so) && is_contig(ndim, shape, sa) && is_contig(ndim, shape, sb)) {
        int64_t chunks = (n + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
        #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
        for (int64_t c = 0; c < chunks; c++) {
            int64_t lo = c * UPDATE_CHUNK, len = n - lo < UPDATE_CHUNK ? n - lo : UPDATE_CHUNK;
            update_row(op, len, o + lo, 1, a + lo, 1, b + lo, 1, s, s2);
        }
        return;
    }
    int64_t cols = shape[ndim - 1], rows = n / cols;
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        update_row(op, cols, o + row_offset(ndim, shape, so, r), so[ndim - 1],
                   a + row_offset(ndim, shape, sa, r), sa[ndim - 1],
                   b + row_offset(ndim, shape, sb, r), sb[ndim - 1], s, s2);
}

void ol_where(int ndim, const int64_t *shape, float *out, const int64_t *so,
              const float *cond, const int64_t *sc, const float *a, const int64_t *sa,
              const float *b, const int64_t *sb)
{
    int64_t n = numel(ndim, shape);
    if (n == 0) return;
    if (ndim == 0) { out[0] = cond[0] != 0 ? a[0] : b[0]; return; }
    int64_t cols = shape[ndim - 1], rows = n / cols;
    int64_t co = so[ndim - 1], cc = sc[ndim - 1], ca = sa[ndim - 1], cb = sb[ndim - 1];
    #pragma omp parallel for schedule(static) if (n > OL_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + row_offset(ndim, shape, so, r);
        const float *c = cond + row_offset(ndim, shape, sc, r);
        const float *x = a + row_offset(ndim, shape, sa, r), *y = b + row_offset(ndim, shape, sb, r);
        for (int64_t j = 0; j < cols; j++) o[j * co] = c[j * cc] != 0 ? x[j * ca] : y[j * cb];
    }
}
