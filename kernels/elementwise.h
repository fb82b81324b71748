/* Element-wise arithmetic on strided float buffers, with NumPy broadcasting
 * expressed as stride 0 along broadcast dimensions. Every output element is
 * computed independently, so any thread split gives the same bits. */
#ifndef OL_ELEMENTWISE_H
#define OL_ELEMENTWISE_H
#include <stdint.h>

typedef enum {
    OL_ADD, OL_SUB, OL_MUL, OL_DIV, OL_POW, OL_MAXIMUM, OL_MINIMUM,
    OL_EQ, OL_NE, OL_LT, OL_LE, OL_GT, OL_GE
} ol_binop;

typedef enum {
    OL_NEG, OL_ABS, OL_EXP, OL_LOG, OL_SQRT, OL_SIGN, OL_SQUARE, OL_RECIPROCAL,
    OL_TANH, OL_SIGMOID, OL_RELU
} ol_unop;

/* out[i] = a[i] op b[i] over an ndim-shaped index space; each operand has its
 * own strides (in elements). out may alias a or b when their strides match. */
void ol_binary(ol_binop op, int ndim, const int64_t *shape,
               float *out, const int64_t *so,
               const float *a, const int64_t *sa,
               const float *b, const int64_t *sb);

/* out[i] = f(a[i]) with the same strided iteration. */
void ol_unary(ol_unop op, int ndim, const int64_t *shape,
              float *out, const int64_t *so, const float *a, const int64_t *sa);

/* out[i] = clamp(a[i], lo, hi) on contiguous buffers (NaN passes through). */
void ol_clamp(int64_t n, float *out, const float *a, float lo, float hi);

/* Strided copy (out = a), e.g. to make a view contiguous. */
void ol_copy(int ndim, const int64_t *shape, float *out, const int64_t *so,
             const float *a, const int64_t *sa);

/* out = value everywhere. */
void ol_fill(int ndim, const int64_t *shape, float *out, const int64_t *so, float value);

#endif
