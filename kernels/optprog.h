/* Programs of declared optimizers (optim.define, stdlib/optim/define.lua).
 *
 * A declaration's update rule, traced once, arrives here as a small program
 * over one parameter tensor and its buffers (p, g, state...):
 *
 *   scalar code  double slots: hyperparameters, t, constants, and everything
 *                computed from them once per step (bias corrections...), or
 *                once per tensor from a reduction (LAMB's trust ratio);
 *   vector code  float32 registers of OL_PROG_LANES elements, one instruction
 *                a vectorized loop over a block that stays in L1; an operand
 *                is a register (>= 0) or a scalar slot (< 0: slot -1-x,
 *                rounded to float), exactly as a hand-written kernel rounds
 *                its per-step scalars.
 *
 * The program runs in stages: vector stage k, then the scalar section that
 * follows it (which reads stage k's reductions). Section 0 runs before stage
 * 0. Stores are the last vector instructions of the last stage, so every
 * stage reads the buffers as they were before the step and a value needed
 * after a reduction is recomputed rather than kept.
 *
 * Determinism: the tensor is cut into OL_PROG_SPAN-element spans (a rule of
 * the size only), spans are spread over threads, and a reduction sums each
 * span in element order in double, then the spans in order: the same bits at
 * any thread count. Element arithmetic is float32 in the order written. */
#ifndef OL_OPTPROG_H
#define OL_OPTPROG_H

#include <stdint.h>

#define OL_PROG_LANES   256
#define OL_PROG_MAXREG  48      /* 48 x 256 floats = 48 KiB at most        */
#define OL_PROG_MAXBUF  16      /* p, g and up to 14 state buffers         */

/* Operations; scalar and vector code share the arithmetic ones. X-macro so
 * the Lua side gets the same numbering (C.optim_program_ops). */
#define OL_PROG_OPS(X)                                                         \
    X(ADD) X(SUB) X(MUL) X(DIV) X(POW) X(MAX) X(MIN)                           \
    X(GT) X(GE) X(LT) X(LE)                                                    \
    X(NEG) X(SQRT) X(ABS) X(SIGN) X(EXP) X(LOG) X(COPY)                        \
    X(WHERE)                                                                   \
    /* fused forms the compiler picks for single-use subexpressions; each rounds \
     * exactly as the separate operations would (no contraction):            \
     * LIN2 a*b + c*e, LIN2SQ a*b + c*(e*e), LINSUB a*b - c*e, MULADD a*b + c,\
     * MULSUB c - a*b,                                                         \
     * SUBMULDIV c - a*b/e,                                                   \
     * SQRTADD sqrt(a) + b, SQRTMULADD sqrt(a)*b + c */                       \
    X(LIN2) X(LIN2SQ) X(LINSUB) X(MULADD) X(MULSUB) X(SUBMULDIV) X(SQRTADD) X(SQRTMULADD)                        \
    X(LOAD)    /* vector: dst <- buffer a          scalar: slot <- buffer a[0] */ \
    X(STORE)   /* vector: buffer dst <- operand a  scalar: buffer dst[0] <- a  */ \
    X(SUM) X(SUMSQ) /* vector only: slot dst = sum of operand a (sum of squares) */ \
    /* rows and columns: the tensor seen as R x C, C its last dimension;    \
     * ROWLOAD/COLLOAD: dst = buffer a broadcast along rows (a[row]) or     \
     * columns (a[col]); ROWSTORE/COLSTORE: buffer dst[row] (dst[col]) =    \
     * operand a at each row's first element (at row 0): one write each */  \
    X(ROWLOAD) X(COLLOAD) X(ROWSTORE) X(COLSTORE)

typedef enum {
#define OL_PROG_ENUM(name) OL_OP_##name,
    OL_PROG_OPS(OL_PROG_ENUM)
#undef OL_PROG_ENUM
    OL_OP_COUNT
} OLProgOp;

/* dst: the register written (a buffer for STORE, a slot for SUM/SUMSQ);
 * a, b, c, e: operands; out: in the last stage, the buffer the result goes
 * straight to (the register then points there), or -1. */
typedef struct {
    int32_t op, dst, a, b, c, e, out;
} OLInstr;

/* What a buffer holds: one number (scalar code), n elements, R or C. */
enum { OL_BUF_ONE = 0, OL_BUF_ALL = 1, OL_BUF_ROWS = 2, OL_BUF_COLS = 3 };

typedef struct {
    int nslots, nregs, nbufs, nstages;
    int numel_slot;              /* slot set to the element count, or -1   */
    int nrows_slot, ncols_slot;  /* slots set to R and C, or -1             */
    OLInstr *vcode, *scode;
    int *vstart;                 /* stage k: vcode[vstart[k] .. vstart[k+1])  */
    int *sstart;                 /* section k: scode[sstart[k] .. sstart[k+1]), k = 0..nstages */
    unsigned char bufkind[OL_PROG_MAXBUF]; /* set by ol_prog_prepare: OL_BUF_*  */
} OLProg;

/* The names of the operations, indexed by OLProgOp. */
extern const char *const ol_prog_op_names[OL_OP_COUNT];

/* Check a program's indices, stage layout and that every register is written
 * before it is read; fill vecbuf. NULL if sound, else why not. */
const char *ol_prog_prepare(OLProg *P);

/* Run P on one tensor of n elements. slots holds P->nslots doubles with the
 * inputs (hyperparameters, t, constants) filled in; bufs[i] the buffers, each
 * of the size its bufkind says (n, R = n / ncols, C = ncols, or at least 1). Returns 0, or -1 if out of memory. */
int ol_prog_run(const OLProg *P, double *slots, int64_t n, int64_t ncols, float *const *bufs);

/* One step of ol_prog_run: section k and vector stage k, or (k == nstages)
 * the last section. A caller that sums reductions across tensors (a global
 * norm) or transforms a whole matrix between stages runs the stages of all
 * tensors in turn, keeping each tensor's slots between calls. */
int ol_prog_stage(const OLProg *P, double *slots, int64_t n, int64_t ncols, float *const *bufs, int k);

/* x seen as R x C: rows[i] = sum of row i, cols[j] = sum of column j (either
 * may be NULL), each summed in double in index order: the same bits at any
 * thread count. */
void ol_prog_rowcol_sum(const float *x, int64_t R, int64_t C, float *rows, float *cols);

#endif
