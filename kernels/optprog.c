/* Programs of declared optimizers: the evaluator (see optprog.h).
 *
 * Each span of OL_SPAN elements is walked in blocks of OL_PROG_LANES;
 * for each block the stage's instructions run top to bottom, each one a
 * simple loop the compiler vectorizes. A LOAD costs nothing: the register
 * just points into the buffer. Built with -fno-math-errno (Makefile) so that
 * sqrtf vectorizes, and -ffp-contract=off so vector body and tail round alike.
 */
#include "optprog.h"
#include "team.h"
#include "par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OL_PROG_MAXRED  16      /* reductions per stage                    */
#ifndef OL_PROG_AHEAD
#define OL_PROG_AHEAD   2048    /* prefetch distance, elements             */
#endif

const char *const ol_prog_op_names[OL_OP_COUNT] = {
#define OL_PROG_NAME(name) #name,
    OL_PROG_OPS(OL_PROG_NAME)
#undef OL_PROG_NAME
};

static int is_binary(int op) { return op >= OL_OP_ADD && op <= OL_OP_LE; }
static int is_unary(int op) { return op >= OL_OP_NEG && op <= OL_OP_COPY; }
static int is_fused(int op) { return op >= OL_OP_LIN2 && op <= OL_OP_SQRTMULADD; }

/* Operands an instruction reads: a; a, b; a, b, c; or a, b, c, e. */
static int n_operands(int op)
{
    if (is_unary(op) || op == OL_OP_STORE || op == OL_OP_SUM || op == OL_OP_SUMSQ || op == OL_OP_ROWSTORE ||
        op == OL_OP_COLSTORE) return 1;
    if (is_binary(op) || op == OL_OP_SQRTADD) return 2;
    if (op == OL_OP_WHERE || op == OL_OP_MULADD || op == OL_OP_MULSUB || op == OL_OP_SQRTMULADD) return 3;
    if (op == OL_OP_LIN2 || op == OL_OP_LIN2SQ || op == OL_OP_LINSUB || op == OL_OP_SUBMULDIV) return 4;
    return 0;    /* LOAD, ROWLOAD, COLLOAD */
}

/* ------------------------------------------------------------ scalar code */

static double sbin(int op, double x, double y)
{
    switch (op) {
    case OL_OP_ADD: return x + y;
    case OL_OP_SUB: return x - y;
    case OL_OP_MUL: return x * y;
    case OL_OP_DIV: return x / y;
    case OL_OP_POW: return pow(x, y);
    case OL_OP_MAX: return x > y ? x : y;
    case OL_OP_MIN: return x < y ? x : y;
    case OL_OP_GT: return x > y;
    case OL_OP_GE: return x >= y;
    case OL_OP_LT: return x < y;
    default: return x <= y;    /* OL_OP_LE */
    }
}

static double sun(int op, double x)
{
    switch (op) {
    case OL_OP_NEG: return -x;
    case OL_OP_SQRT: return sqrt(x);
    case OL_OP_ABS: return fabs(x);
    case OL_OP_SIGN: return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
    case OL_OP_EXP: return exp(x);
    case OL_OP_LOG: return log(x);
    default: return x;         /* OL_OP_COPY */
    }
}

static double sfused(int op, double a, double b, double c, double e)
{
    switch (op) {
    case OL_OP_LIN2: return a * b + c * e;
    case OL_OP_LIN2SQ: return a * b + c * (e * e);
    case OL_OP_LINSUB: return a * b - c * e;
    case OL_OP_MULADD: return a * b + c;
    case OL_OP_MULSUB: return c - a * b;
    case OL_OP_SUBMULDIV: return c - a * b / e;
    case OL_OP_SQRTADD: return sqrt(a) + b;
    default: return sqrt(a) * b + c;   /* OL_OP_SQRTMULADD */
    }
}

static void run_scalar(const OLInstr *c, int n, double *s, float *const *bufs)
{
    for (int i = 0; i < n; i++, c++) {
        if (is_binary(c->op)) s[c->dst] = sbin(c->op, s[c->a], s[c->b]);
        else if (is_unary(c->op)) s[c->dst] = sun(c->op, s[c->a]);
        else if (c->op == OL_OP_WHERE) s[c->dst] = s[c->a] != 0 ? s[c->b] : s[c->c];
        else if (is_fused(c->op)) s[c->dst] = sfused(c->op, s[c->a], s[c->b], s[c->c], s[c->e]);
        else if (c->op == OL_OP_LOAD) s[c->dst] = bufs[c->a][0];
        else if (c->op == OL_OP_STORE) bufs[c->dst][0] = (float)s[c->a];
    }
}

/* ------------------------------------------------------------ vector code */

/* Element loops. The destination may be the buffer an operand reads (an
 * in-place update such as p = p - a m / d writes p as it reads it): element
 * i reads only element i, so there is no dependence between iterations, and
 * ivdep (clang: assume_safety) lets the compiler vectorize without restrict. */
#if defined(__clang__)
#define OL_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define OL_IVDEP _Pragma("GCC ivdep")
#else
#define OL_IVDEP
#endif
#define FOR OL_IVDEP for (int i = 0; i < m; i++)

/* An operand: a register's elements, or a scalar broadcast. */
typedef struct { const float *v; float s; } Opnd;

#define LOOP(EXPR)                                                            \
    do {                                                                      \
        if (a.v && b.v) FOR { float x = a.v[i], y = b.v[i]; d[i] = (EXPR); } \
        else if (a.v)   FOR { float x = a.v[i], y = b.s;    d[i] = (EXPR); } \
        else if (b.v)   FOR { float x = a.s,    y = b.v[i]; d[i] = (EXPR); } \
        else            FOR { float x = a.s,    y = b.s;    d[i] = (EXPR); } \
    } while (0)

static void vbin(int op, int m, float *d, Opnd a, Opnd b)
{
    switch (op) {
    case OL_OP_ADD: LOOP(x + y); break;
    case OL_OP_SUB: LOOP(x - y); break;
    case OL_OP_MUL: LOOP(x * y); break;
    case OL_OP_DIV: LOOP(x / y); break;
    case OL_OP_POW: LOOP(powf(x, y)); break;
    case OL_OP_MAX: LOOP(x > y ? x : y); break;
    case OL_OP_MIN: LOOP(x < y ? x : y); break;
    case OL_OP_GT: LOOP(x > y ? 1.0f : 0.0f); break;
    case OL_OP_GE: LOOP(x >= y ? 1.0f : 0.0f); break;
    case OL_OP_LT: LOOP(x < y ? 1.0f : 0.0f); break;
    default: LOOP(x <= y ? 1.0f : 0.0f); break;
    }
}

#define ULOOP(EXPR)                                                           \
    do {                                                                      \
        if (a.v) FOR { float x = a.v[i]; d[i] = (EXPR); } \
        else     FOR { float x = a.s;    d[i] = (EXPR); } \
    } while (0)

static void vun(int op, int m, float *d, Opnd a)
{
    switch (op) {
    case OL_OP_NEG: ULOOP(-x); break;
    case OL_OP_SQRT: ULOOP(sqrtf(x)); break;
    case OL_OP_ABS: ULOOP(fabsf(x)); break;
    case OL_OP_SIGN: ULOOP(x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f)); break;
    case OL_OP_EXP: ULOOP(expf(x)); break;
    case OL_OP_LOG: ULOOP(logf(x)); break;
    default: ULOOP(x); break;
    }
}

/* A scalar operand broadcast into lanes (buf, m elements), so that a loop
 * reads vectors only: a test of the operand's kind per element keeps the
 * loop scalar, and in where, whose loads it makes conditional, a branch per
 * element that mispredicts on random signs. */
static Opnd lanes(Opnd o, int m, float *buf)
{
    if (o.v) return o;
    for (int i = 0; i < m; i++) buf[i] = o.s;
    o.v = buf;
    return o;
}

static void vwhere(int m, float *d, Opnd c, Opnd a, Opnd b)
{
    float ba[OL_PROG_LANES], bb[OL_PROG_LANES];
    a = lanes(a, m, ba);
    b = lanes(b, m, bb);
    if (!c.v) {                     /* a per-step condition: one side, whole */
        const float *s = c.s != 0.0f ? a.v : b.v;
        FOR d[i] = s[i];
        return;
    }
    FOR { float x = a.v[i], y = b.v[i]; d[i] = c.v[i] != 0.0f ? x : y; }
}

/* Fused forms. The common operand kinds get their own loop (a scalar
 * broadcast, the rest vectors); any other mix takes the generic loop, over
 * lanes (an operand the form does not read is left as it is). */
#define V(o) o.v[i]
static void vfused(int op, int m, float *d, Opnd a, Opnd b, Opnd c, Opnd e)
{
    float ba[OL_PROG_LANES], bb[OL_PROG_LANES], bc[OL_PROG_LANES], be[OL_PROG_LANES];
#define GENERIC a = lanes(a, m, ba); b = lanes(b, m, bb); c = lanes(c, m, bc); e = lanes(e, m, be); FOR
    switch (op) {
    case OL_OP_LIN2:
        if (!a.v && b.v && !c.v && e.v) { FOR d[i] = a.s * b.v[i] + c.s * e.v[i]; }
        else if (!a.v && b.v && c.v && e.v) { FOR d[i] = a.s * b.v[i] + c.v[i] * e.v[i]; }
        else { GENERIC d[i] = V(a) * V(b) + V(c) * V(e); }
        break;
    case OL_OP_LIN2SQ:
        if (!a.v && b.v && !c.v && e.v) { FOR d[i] = a.s * b.v[i] + c.s * (e.v[i] * e.v[i]); }
        else { GENERIC d[i] = V(a) * V(b) + V(c) * (V(e) * V(e)); }
        break;
    case OL_OP_LINSUB:
        if (!a.v && b.v && !c.v && e.v) { FOR d[i] = a.s * b.v[i] - c.s * e.v[i]; }
        else { GENERIC d[i] = V(a) * V(b) - V(c) * V(e); }
        break;
    case OL_OP_MULADD:
        if (a.v && !b.v && !c.v) { FOR d[i] = a.v[i] * b.s + c.s; }
        else if (!a.v && b.v && c.v) { FOR d[i] = a.s * b.v[i] + c.v[i]; }
        else { GENERIC d[i] = V(a) * V(b) + V(c); }
        break;
    case OL_OP_MULSUB:
        if (!a.v && b.v && c.v) { FOR d[i] = c.v[i] - a.s * b.v[i]; }
        else { GENERIC d[i] = V(c) - V(a) * V(b); }
        break;
    case OL_OP_SUBMULDIV:
        if (!a.v && b.v && c.v && e.v) { FOR d[i] = c.v[i] - a.s * b.v[i] / e.v[i]; }
        else { GENERIC d[i] = V(c) - V(a) * V(b) / V(e); }
        break;
    case OL_OP_SQRTMULADD:
        if (a.v && !b.v && !c.v) { FOR d[i] = sqrtf(a.v[i]) * b.s + c.s; }
        else { GENERIC d[i] = sqrtf(V(a)) * V(b) + V(c); }
        break;
    default:  /* OL_OP_SQRTADD */
        if (a.v && !b.v) { FOR d[i] = sqrtf(a.v[i]) + b.s; }
        else { GENERIC d[i] = sqrtf(V(a)) + V(b); }
    }
}
#undef GENERIC
#undef V

/* A span's partial sum: its blocks' sums (par.h's fixed 8-lane association)
 * added in block order. */
static void vsum(int m, double *acc, Opnd a, int squares)
{
    if (!a.v) return;    /* rejected by ol_prog_prepare */
    *acc += squares ? ol_lanes_sum(a.v, m, 1) : ol_lanes_sum(a.v, m, 0);
}

typedef struct {
    const OLProg *P;
    const OLInstr *code;
    int ncode;
    const float *fs;     /* slots rounded to float */
    float *const *bufs;
    int64_t ncols;
} Stage;

static Opnd opnd(const float *const *ptr, const float *fs, int x)
{
    Opnd o = { NULL, 0.0f };
    if (x >= 0) o.v = ptr[x];
    else o.s = fs[-1 - x];
    return o;
}

/* One span [lo, lo + len): the stage's code over each block; partial gets
 * the span's sum for each reduction, in code order. */
static void run_span(const Stage *S, int64_t lo, int64_t len, double *partial)
{
    float regs[OL_PROG_MAXREG][OL_PROG_LANES] __attribute__((aligned(64)));
    const float *ptr[OL_PROG_MAXREG];
    for (int64_t off = 0; off < len; off += OL_PROG_LANES) {
        const int m = (int)(len - off < OL_PROG_LANES ? len - off : OL_PROG_LANES);
        const int64_t at = lo + off;
        int r = 0;
        for (int k = 0; k < S->ncode; k++) {
            const OLInstr *c = &S->code[k];
            /* a value only stored is computed straight into its buffer */
            float *d = c->out >= 0 ? S->bufs[c->out] + at : c->dst >= 0 && c->dst < OL_PROG_MAXREG ? regs[c->dst] : NULL;
            switch (c->op) {
            case OL_OP_LOAD:
                ptr[c->dst] = S->bufs[c->a] + at;
                continue;
            case OL_OP_STORE: {
                Opnd a = opnd(ptr, S->fs, c->a);
                float *out = S->bufs[c->dst] + at;
                if (a.v) { if (a.v != out) memcpy(out, a.v, (size_t)m * sizeof *out); }
                else FOR out[i] = a.s;
                continue;
            }
            case OL_OP_ROWLOAD: case OL_OP_COLLOAD: {
                const float *src = S->bufs[c->a];
                int64_t r = at / S->ncols, col = at % S->ncols;
                if (c->op == OL_OP_ROWLOAD)
                    for (int i = 0; i < m; i++) { d[i] = src[r]; if (++col == S->ncols) { col = 0; r++; } }
                else
                    for (int i = 0; i < m; i++) { d[i] = src[col]; if (++col == S->ncols) col = 0; }
                ptr[c->dst] = d;
                continue;
            }
            case OL_OP_ROWSTORE: case OL_OP_COLSTORE: {
                Opnd a = opnd(ptr, S->fs, c->a);
                float *out = S->bufs[c->dst];
                int64_t r = at / S->ncols, col = at % S->ncols;
                for (int i = 0; i < m; i++) {
                    if (c->op == OL_OP_ROWSTORE ? col == 0 : r == 0) out[c->op == OL_OP_ROWSTORE ? r : col] = a.v ? a.v[i] : a.s;
                    if (++col == S->ncols) { col = 0; r++; }
                }
                continue;
            }
            case OL_OP_SUM: case OL_OP_SUMSQ:
                vsum(m, partial + r++, opnd(ptr, S->fs, c->a), c->op == OL_OP_SUMSQ);
                continue;
            case OL_OP_WHERE:
                vwhere(m, d, opnd(ptr, S->fs, c->a), opnd(ptr, S->fs, c->b), opnd(ptr, S->fs, c->c));
                break;
            case OL_OP_LIN2: case OL_OP_LIN2SQ: case OL_OP_LINSUB: case OL_OP_MULADD: case OL_OP_MULSUB: case OL_OP_SUBMULDIV: case OL_OP_SQRTADD: case OL_OP_SQRTMULADD:
                vfused(c->op, m, d, opnd(ptr, S->fs, c->a), opnd(ptr, S->fs, c->b), opnd(ptr, S->fs, c->c),
                       opnd(ptr, S->fs, c->e));
                break;
            default:
                if (is_binary(c->op)) vbin(c->op, m, d, opnd(ptr, S->fs, c->a), opnd(ptr, S->fs, c->b));
                else vun(c->op, m, d, opnd(ptr, S->fs, c->a));
            }
            ptr[c->dst] = d;
        }
    }
}

/* Spans [lo, hi) of a stage; each span's sums go to its own row of partial. */
typedef struct { const Stage *S; int64_t n; double *partial; int nred; } SpanJob;

static void run_spans(void *ctx, int64_t lo, int64_t hi)
{
    const SpanJob *j = ctx;
    for (int64_t b = lo; b < hi; b++) {
        const int64_t s = b * OL_SPAN, len = j->n - s < OL_SPAN ? j->n - s : OL_SPAN;
        run_span(j->S, s, len, j->partial ? j->partial + b * j->nred : NULL);
    }
}

int ol_prog_stage(const OLProg *P, double *slots, int64_t n, int64_t ncols, float *const *bufs, int k)
{
    if (k < 0 || k > P->nstages || ncols < 1) return -1;
    if (P->numel_slot >= 0) slots[P->numel_slot] = (double)n;
    if (P->ncols_slot >= 0) slots[P->ncols_slot] = (double)ncols;
    if (P->nrows_slot >= 0) slots[P->nrows_slot] = (double)(n / ncols);
    run_scalar(P->scode + P->sstart[k], P->sstart[k + 1] - P->sstart[k], slots, bufs);
    if (k == P->nstages) return 0;    /* the last section: stores of scalar state */
    float *fs = malloc((size_t)(P->nslots > 0 ? P->nslots : 1) * sizeof *fs);
    if (!fs) return -1;
    for (int i = 0; i < P->nslots; i++) fs[i] = (float)slots[i];
    const int64_t nspans = (n + OL_SPAN - 1) / OL_SPAN;
    Stage S = { P, P->vcode + P->vstart[k], P->vstart[k + 1] - P->vstart[k], fs, bufs, ncols };
    int nred = 0, red[OL_PROG_MAXRED];
    for (int i = 0; i < S.ncode; i++)
        if (S.code[i].op == OL_OP_SUM || S.code[i].op == OL_OP_SUMSQ) red[nred++] = S.code[i].dst;
    double *partial = NULL;      /* nspans x nred: each span's sums, added in span order */
    if (nred) {
        partial = calloc((size_t)(nspans > 0 ? nspans : 1) * (size_t)nred, sizeof *partial);
        if (!partial) { free(fs); return -1; }
    }
    SpanJob job = { &S, n, partial, nred };
    if (n > OL_PAR_MIN) ol_team_for(nspans, run_spans, &job);
    else run_spans(&job, 0, nspans);
    for (int j = 0; j < nred; j++) {
        double total = 0.0;
        for (int64_t b = 0; b < nspans; b++) total += partial[b * nred + j];
        slots[red[j]] = total;
    }
    free(partial);
    free(fs);
    return 0;
}

int ol_prog_run(const OLProg *P, double *slots, int64_t n, int64_t ncols, float *const *bufs)
{
    for (int k = 0; k <= P->nstages; k++)
        if (ol_prog_stage(P, slots, n, ncols, bufs, k) != 0) return -1;
    return 0;
}

void ol_prog_rowcol_sum(const float *x, int64_t R, int64_t C, float *rows, float *cols)
{
    if (rows) {
        #pragma omp parallel for schedule(static) if(R * C > OL_PAR_MIN)
        for (int64_t i = 0; i < R; i++) {
            double acc = 0.0;
            for (int64_t j = 0; j < C; j++) acc += x[i * C + j];
            rows[i] = (float)acc;
        }
    }
    if (cols) {
        /* blocks of columns per thread, each column summed down the rows in order */
        #pragma omp parallel for schedule(static) if(R * C > OL_PAR_MIN)
        for (int64_t j0 = 0; j0 < C; j0 += 64) {
            double acc[64] = {0};
            const int64_t w = C - j0 < 64 ? C - j0 : 64;
            for (int64_t i = 0; i < R; i++)
                for (int64_t j = 0; j < w; j++) acc[j] += x[i * C + j0 + j];
            for (int64_t j = 0; j < w; j++) cols[j0 + j] = (float)acc[j];
        }
    }
}

/* ------------------------------------------------------------ validation */

static int slot_ok(const OLProg *P, int x) { return x >= 0 && x < P->nslots; }

/* A buffer takes one size: the first vector use sets it. */
static int set_kind(OLProg *P, int b, unsigned char kind)
{
    if (b < 2 && kind != OL_BUF_ALL) return 0;
    if (P->bufkind[b] != OL_BUF_ONE && P->bufkind[b] != kind) return 0;
    P->bufkind[b] = kind;
    return 1;
}

/* A vector operand: a register written earlier in the stage, or a slot. */
static int vopnd_ok(const OLProg *P, const unsigned char *def, int x)
{
    return x >= 0 ? (x < P->nregs && def[x]) : slot_ok(P, -1 - x);
}

const char *ol_prog_prepare(OLProg *P)
{
    if (P->nregs < 0 || P->nregs > OL_PROG_MAXREG) return "too many registers";
    if (P->nbufs < 0 || P->nbufs > OL_PROG_MAXBUF) return "too many buffers";
    if (P->nslots < 0 || P->nstages < 1) return "bad slot or stage count";
    if (P->numel_slot >= P->nslots || P->ncols_slot >= P->nslots || P->nrows_slot >= P->nslots) return "bad size slot";
    if (P->vstart[0] != 0 || P->sstart[0] != 0) return "stages must start at 0";
    for (int k = 0; k < P->nstages; k++)
        if (P->vstart[k + 1] < P->vstart[k]) return "vector stages out of order";
    for (int k = 0; k <= P->nstages; k++)
        if (P->sstart[k + 1] < P->sstart[k]) return "scalar sections out of order";
    memset(P->bufkind, OL_BUF_ONE, sizeof P->bufkind);
    P->bufkind[0] = P->bufkind[1] = OL_BUF_ALL;     /* p and g are always whole tensors */
    for (int i = 0; i < P->sstart[P->nstages + 1]; i++) {
        const OLInstr *c = &P->scode[i];
        if (c->op < 0 || c->op >= OL_OP_COUNT || c->op == OL_OP_SUM || c->op == OL_OP_SUMSQ) return "bad scalar op";
        if (c->op == OL_OP_STORE) {
            if (c->dst < 0 || c->dst >= P->nbufs || !slot_ok(P, c->a)) return "bad scalar store";
        } else if (c->op == OL_OP_LOAD) {
            if (!slot_ok(P, c->dst) || c->a < 0 || c->a >= P->nbufs) return "bad scalar load";
        } else {
            const int ops[4] = { c->a, c->b, c->c, c->e };
            if (!slot_ok(P, c->dst)) return "bad scalar destination";
            for (int j = 0; j < n_operands(c->op); j++)
                if (!slot_ok(P, ops[j])) return "bad scalar operand";
        }
    }
    for (int k = 0; k < P->nstages; k++) {
        unsigned char def[OL_PROG_MAXREG] = {0};
        int nred = 0;
        for (int i = P->vstart[k]; i < P->vstart[k + 1]; i++) {
            const OLInstr *c = &P->vcode[i];
            if (c->op < 0 || c->op >= OL_OP_COUNT) return "bad vector op";
            const int ops[4] = { c->a, c->b, c->c, c->e };
            if (c->out < -1 || c->out >= P->nbufs || (c->out >= 0 && !is_binary(c->op) && !is_unary(c->op) &&
                                                      !is_fused(c->op) && c->op != OL_OP_WHERE))
                return "bad vector output";
            if (c->out >= 0 && !set_kind(P, c->out, OL_BUF_ALL)) return "buffer used at two sizes";
            if (c->op == OL_OP_LOAD || c->op == OL_OP_ROWLOAD || c->op == OL_OP_COLLOAD) {
                if (c->dst < 0 || c->dst >= P->nregs || c->a < 0 || c->a >= P->nbufs) return "bad vector load";
                if (!set_kind(P, c->a, c->op == OL_OP_LOAD ? OL_BUF_ALL : c->op == OL_OP_ROWLOAD ? OL_BUF_ROWS : OL_BUF_COLS))
                    return "buffer used at two sizes";
                def[c->dst] = 1;
                continue;
            }
            for (int j = 0; j < n_operands(c->op); j++)
                if (!vopnd_ok(P, def, ops[j])) return "bad vector operand";
            if (c->op == OL_OP_STORE || c->op == OL_OP_ROWSTORE || c->op == OL_OP_COLSTORE) {
                if (c->dst < 0 || c->dst >= P->nbufs) return "bad vector store";
                if (!set_kind(P, c->dst, c->op == OL_OP_STORE ? OL_BUF_ALL : c->op == OL_OP_ROWSTORE ? OL_BUF_ROWS : OL_BUF_COLS))
                    return "buffer used at two sizes";
            } else if (c->op == OL_OP_SUM || c->op == OL_OP_SUMSQ) {
                if (!slot_ok(P, c->dst) || c->a < 0) return "bad reduction";
                if (++nred > OL_PROG_MAXRED) return "too many reductions in a stage";
            } else {
                if (c->dst < 0 || c->dst >= P->nregs) return "bad vector destination";
                /* operands and destination never share a register */
                for (int j = 0; j < n_operands(c->op); j++)
                    if (ops[j] == c->dst) return "destination register is also an operand";
                def[c->dst] = 1;
            }
        }
    }
    return NULL;
}
