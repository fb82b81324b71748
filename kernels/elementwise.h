/* Element-wise arithmetic on strided float buffers, with NumPy broadcasting
 * expressed as stride 0 along broadcast dimensions. Every output element is
 * computed independently, so any thread split gives the same bits. */
#ifndef OL_ELEMENTWISE_H
#define OL_ELEMENTWISE_H
#include <stdint.h>

typedef enum {
    OL_ADD, OL_SUB, OL_MUL, OL_DIV, OL_POW, OL_MAXIMUM, OL_MINIMUM,
    OL_EQ, OL_NE, OL_LT, OL_LE, OL_GT, OL_GE,
    OL_REMAINDER /* floored, the sign of the divisor: torch.remainder and Lua's % */
} ol_binop;

typedef enum {
    OL_NEG, OL_ABS, OL_EXP, OL_LOG, OL_SQRT, OL_SIGN, OL_SQUARE, OL_RECIPROCAL,
    OL_TANH, OL_SIGMOID, OL_RELU, OL_SIN, OL_COS, OL_FLOOR,
    OL_ROUND /* half to even, like torch.round */
} ol_unop;

/* The fused in-place updates hand-written optimizers are made of:
 * o = f(o, a, b) with scalars s, s2, in one pass. */
typedef enum {
    OL_UAXPY,    /* o + s*a            add_(a, alpha = s), sub_ with s = -alpha */
    OL_UADDCMUL, /* o + s*a*b          addcmul_(a, b, value = s) */
    OL_UADDCDIV, /* o + s*a/b          addcdiv_(a, b, value = s) */
    OL_ULERP,    /* o + s*(a - o)      lerp_(a, weight = s), PyTorch's formula */
    OL_ULERPT,   /* o + b*(a - o)      lerp_(a, weight = tensor b) */
    OL_UCLAMP    /* min(max(o, s), s2) clamp_(s, s2); NaN passes through */
} ol_updop;

/* out[i] = a[i] op b[i] over an ndim-shaped index space; each operand has its
 * own strides (in elements). out may alias a or b when their strides match. */
void ol_binary(ol_binop op, int ndim, const int64_t *shape,
               float *out, const int64_t *so,
               const float *a, const int64_t *sa,
               const float *b, const int64_t *sb);

/* out[i] = f(a[i]) with the same strided iteration. */
void ol_unary(ol_unop op, int ndim, const int64_t *shape,
              float *out, const int64_t *so, const float *a, const int64_t *sa);

/* o[i] = f(o[i], a[i], b[i]) over an ndim-shaped index space, every operand
 * with its own strides (0 on broadcast dims); a and b may be NULL when op does
 * not read them. a or b may be o itself (same strides). */
void ol_update(ol_updop op, int ndim, const int64_t *shape, float *o, const int64_t *so,
               const float *a, const int64_t *sa, const float *b, const int64_t *sb,
               float s, float s2);

/* out[i] = cond[i] != 0 ? a[i] : b[i] (NaN counts as true, as nonzero). */
void ol_where(int ndim, const int64_t *shape, float *out, const int64_t *so,
              const float *cond, const int64_t *sc, const float *a, const int64_t *sa,
              const float *b, const int64_t *sb);

/* out[i] = clamp(a[i], lo, hi) on contiguous buffers (NaN passes through). */
void ol_clamp(int64_t n, float *out, const float *a, float lo, float hi);

/* Strided copy (out = a), e.g. to make a view contiguous. */
void ol_copy(int ndim, const int64_t *shape, float *out, const int64_t *so,
             const float *a, const int64_t *sa);

/* out = value everywhere. */
void ol_fill(int ndim, const int64_t *shape, float *out, const int64_t *so, float value);

#endif
