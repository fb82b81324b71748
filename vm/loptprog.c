/* Lua bindings of declared optimizers' programs (kernels/optprog.h).
 *
 *   prog = C.optim_program{nslots =, nregs =, nbufs =, nstages =, numel_slot =,
 *                          vcode = {op, dst, a, b, c, e, out, ...}, scode = {...},
 *                          vstart = {...}, sstart = {...},
 *                          consts = {slot, value, ...}, inputs = {slot, ...}}
 *   C.optim_program_run(prog, values, label, index, p, g, s1, s2, ...)
 *   C.optim_program_ops  -- {ADD = 0, ...}: the operation codes
 *
 * stdlib/optim/define.lua makes the description by tracing an update rule;
 * it is checked here once (ol_prog_prepare) so that no description can make
 * the evaluator read or write outside its buffers. values are the inputs of
 * this step, in the order of `inputs` (0-based slots). */
#include <string.h>
#include "optprog.h"
#include "tensor.h"
#include "lcheck.h"

#define OL_PROGRAM "optlab.OptimProgram"
#define OL_SLOTS "optlab.OptimProgramSlots"
#define OL_PROG_MAXSLOT 1024

typedef struct {
    OLProg P;
    int ninputs;
    int *inputs;
    double *consts;          /* nslots values: the constants, 0 elsewhere */
} Program;

static int int_field(lua_State *L, const char *k, int lo, int hi)
{
    lua_getfield(L, 1, k);
    lua_Integer v = lua_tointeger(L, -1);
    if (!lua_isnumber(L, -1) || v < lo || v > hi) ol_error(L, "optim_program: field '%s' must be an integer in [%d, %d]", k, lo, hi);
    lua_pop(L, 1);
    return (int)v;
}

/* A list field of integers, copied into out (length n expected; n < 0: any). */
static int list_len(lua_State *L, const char *k)
{
    if (lua_getfield(L, 1, k) != LUA_TTABLE) ol_error(L, "optim_program: field '%s' must be a list", k);
    int n = (int)luaL_len(L, -1);
    lua_pop(L, 1);
    return n;
}

static void list_ints(lua_State *L, const char *k, int *out, int n)
{
    lua_getfield(L, 1, k);
    for (int i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        double v = lua_tonumber(L, -1);
        if (!lua_isnumber(L, -1) || !(v >= -(1 << 20) && v <= (1 << 20)) || v != (double)(int)v)
            ol_error(L, "optim_program: %s[%d] is not an integer", k, i + 1);
        out[i] = (int)v;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int l_program(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int nslots = int_field(L, "nslots", 0, OL_PROG_MAXSLOT);
    int nstages = int_field(L, "nstages", 1, 64);
    int nv = list_len(L, "vcode"), ns = list_len(L, "scode");
    int nc = list_len(L, "consts"), ni = list_len(L, "inputs");
    if (nv % 7 || ns % 7 || nc % 2) ol_error(L, "optim_program: code comes in groups of 7, consts in pairs");
    if (list_len(L, "vstart") != nstages + 1 || list_len(L, "sstart") != nstages + 2)
        ol_error(L, "optim_program: vstart needs nstages + 1 entries, sstart nstages + 2");
    size_t size = sizeof(Program) + (size_t)(nv + ns) / 7 * sizeof(OLInstr) +
                  (size_t)(2 * nstages + 3 + ni) * sizeof(int) + (size_t)(nslots ? nslots : 1) * sizeof(double);
    Program *pr = lua_newuserdatauv(L, size, 0);
    memset(pr, 0, size);
    char *mem = (char *)(pr + 1);
    OLProg *P = &pr->P;
    P->vcode = (OLInstr *)mem; mem += (size_t)nv / 7 * sizeof(OLInstr);
    P->scode = (OLInstr *)mem; mem += (size_t)ns / 7 * sizeof(OLInstr);
    pr->consts = (double *)mem; mem += (size_t)(nslots ? nslots : 1) * sizeof(double);
    P->vstart = (int *)mem; mem += (size_t)(nstages + 1) * sizeof(int);
    P->sstart = (int *)mem; mem += (size_t)(nstages + 2) * sizeof(int);
    pr->inputs = (int *)mem;
    P->nslots = nslots;
    P->nstages = nstages;
    P->nregs = int_field(L, "nregs", 0, OL_PROG_MAXREG);
    P->nbufs = int_field(L, "nbufs", 2, OL_PROG_MAXBUF);
    P->numel_slot = int_field(L, "numel_slot", -1, nslots - 1);
    P->nrows_slot = int_field(L, "nrows_slot", -1, nslots - 1);
    P->ncols_slot = int_field(L, "ncols_slot", -1, nslots - 1);
    list_ints(L, "vcode", (int *)P->vcode, nv);    /* OLInstr is 7 int32 */
    list_ints(L, "scode", (int *)P->scode, ns);
    list_ints(L, "vstart", P->vstart, nstages + 1);
    list_ints(L, "sstart", P->sstart, nstages + 2);
    if (P->vstart[nstages] != nv / 7 || P->sstart[nstages + 1] != ns / 7)
        ol_error(L, "optim_program: the stages do not cover the code");
    list_ints(L, "inputs", pr->inputs, ni);
    pr->ninputs = ni;
    for (int i = 0; i < ni; i++)
        if (pr->inputs[i] < 0 || pr->inputs[i] >= nslots) ol_error(L, "optim_program: input slot out of range");
    lua_getfield(L, 1, "consts");
    for (int i = 0; i < nc; i += 2) {
        lua_geti(L, -1, i + 1);
        lua_geti(L, -2, i + 2);
        int s = (int)lua_tonumber(L, -2);
        if (s < 0 || s >= nslots || !lua_isnumber(L, -1)) ol_error(L, "optim_program: bad constant %d", i / 2 + 1);
        pr->consts[s] = lua_tonumber(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    const char *why = ol_prog_prepare(P);
    if (why) ol_error(L, "optim_program: %s", why);
    luaL_setmetatable(L, OL_PROGRAM);
    return 1;
}

/* The parameter's columns: its last dimension (the tensor seen as R x C). */
static int64_t ncols_of(const OLTensor *p)
{
    return p->ndim > 0 && p->shape[p->ndim - 1] > 0 ? p->shape[p->ndim - 1] : 1;
}

/* The buffers at stack index first.. (p, g, state...): checked, pointers in
 * bufs; returns p's element count. */
static int64_t check_buffers(lua_State *L, const OLProg *P, int first, const char *label, int pi, float **bufs)
{
    char a[160];
    if (lua_gettop(L) != first - 1 + P->nbufs)
        ol_error(L, "%s: parameter %d: the program takes %d buffers, got %d", label, pi, P->nbufs, lua_gettop(L) - first + 1);
    OLTensor *p = ol_totensor(L, first);
    if (!p) ol_error(L, "%s: parameter %d is not a tensor", label, pi);
    const int64_t n = ol_numel(p), C = ncols_of(p);
    static const char *const kinds[] = {"at least 1", "", "", ""};
    for (int i = 0; i < P->nbufs; i++) {
        OLTensor *t = ol_totensor(L, first + i);
        if (!t) ol_error(L, "%s: buffer %d of parameter %d is not a tensor (got %s)", label, i + 1, pi, luaL_typename(L, first + i));
        /* vector code walks n elements (or R rows, C columns); scalar code touches element 0 only */
        const int kind = P->bufkind[i];
        const int64_t want = kind == OL_BUF_ALL ? n : kind == OL_BUF_ROWS ? n / C : kind == OL_BUF_COLS ? C : 1;
        if (!ol_iscontiguous(t) || (kind == OL_BUF_ONE ? ol_numel(t) < 1 : ol_numel(t) != want))
            ol_error(L, "%s: buffer %d of parameter %d (shape %s) must be contiguous with %s%lld elements",
                     label, i + 1, pi, ol_shapestr(t, a, sizeof a), kind == OL_BUF_ONE ? "at least " : kinds[kind],
                     (long long)want);
        bufs[i] = ol_data(t);
        for (int j = 0; j < i; j++)
            if (bufs[j] == bufs[i] && (P->bufkind[i] != OL_BUF_ONE || P->bufkind[j] != OL_BUF_ONE))
                ol_error(L, "%s: parameter %d shares memory with its gradient or state", label, pi);
    }
    for (int i = 0; i < P->nbufs; i++)
        if (i != 1) ol_written(ol_totensor(L, first + i));    /* buffer 1 is the gradient */
    return n;
}

/* values (a list, in the order of `inputs`) into slots over the constants. */
static void set_inputs(lua_State *L, const Program *pr, int idx, double *s, const char *label)
{
    memcpy(s, pr->consts, (size_t)pr->P.nslots * sizeof *s);
    for (int i = 0; i < pr->ninputs; i++) {
        lua_geti(L, idx, i + 1);
        if (!lua_isnumber(L, -1)) ol_error(L, "%s: program input %d is not a number", label, i + 1);
        s[pr->inputs[i]] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
}

/* C.optim_program_run(prog, values, label, index, p, g, s1, ...): one tensor, every stage. */
static int l_program_run(lua_State *L)
{
    Program *pr = luaL_checkudata(L, 1, OL_PROGRAM);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *label = luaL_checkstring(L, 3);
    int pi = (int)luaL_checkinteger(L, 4);
    float *bufs[OL_PROG_MAXBUF];
    const int64_t n = check_buffers(L, &pr->P, 5, label, pi, bufs);
    double s[OL_PROG_MAXSLOT];
    set_inputs(L, pr, 2, s, label);
    if (ol_prog_run(&pr->P, s, n, ncols_of(ol_totensor(L, 5)), bufs) != 0) ol_error(L, "%s: out of memory", label);
    return 0;
}

/* Slots kept between stages: C.optim_program_slots(prog) -> slots. */
typedef struct { int n; double v[]; } Slots;

static int l_program_slots(lua_State *L)
{
    Program *pr = luaL_checkudata(L, 1, OL_PROGRAM);
    Slots *sl = lua_newuserdatauv(L, sizeof(Slots) + (size_t)(pr->P.nslots ? pr->P.nslots : 1) * sizeof(double), 0);
    sl->n = pr->P.nslots;
    memcpy(sl->v, pr->consts, (size_t)pr->P.nslots * sizeof(double));
    luaL_setmetatable(L, OL_SLOTS);
    return 1;
}

/* C.optim_program_slot(slots, i [, value]) -> the value of slot i (0-based), after setting it. */
static int l_program_slot(lua_State *L)
{
    Slots *sl = luaL_checkudata(L, 1, OL_SLOTS);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 0 || i >= sl->n) ol_error(L, "optim_program_slot: slot %d of %d", (int)i, sl->n);
    if (!lua_isnoneornil(L, 3)) sl->v[i] = luaL_checknumber(L, 3);
    lua_pushnumber(L, sl->v[i]);
    return 1;
}

/* C.optim_program_stage(prog, slots, values | nil, k, label, index, p, g, s1, ...):
 * stage k of one tensor (values, when given, set the inputs first). */
static int l_program_stage(lua_State *L)
{
    Program *pr = luaL_checkudata(L, 1, OL_PROGRAM);
    Slots *sl = luaL_checkudata(L, 2, OL_SLOTS);
    if (sl->n != pr->P.nslots) ol_error(L, "optim_program_stage: slots of another program");
    int k = (int)luaL_checkinteger(L, 4);
    const char *label = luaL_checkstring(L, 5);
    int pi = (int)luaL_checkinteger(L, 6);
    if (k < 0 || k > pr->P.nstages) ol_error(L, "%s: stage %d of %d", label, k, pr->P.nstages);
    float *bufs[OL_PROG_MAXBUF];
    const int64_t n = check_buffers(L, &pr->P, 7, label, pi, bufs);
    if (!lua_isnil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        set_inputs(L, pr, 3, sl->v, label);
    }
    if (ol_prog_stage(&pr->P, sl->v, n, ncols_of(ol_totensor(L, 7)), bufs, k) != 0) ol_error(L, "%s: out of memory", label);
    return 0;
}

/* C.optim_rowcol_sum(x, param, rows | nil, cols | nil): x (param's size) seen
 * as R x C like param; rows (R floats) and cols (C floats) get the sums. */
static int l_rowcol_sum(lua_State *L)
{
    OLTensor *x = ol_checktensor(L, 1), *p = ol_checktensor(L, 2);
    const int64_t n = ol_numel(p), C = ncols_of(p), R = n / C;
    if (ol_numel(x) != n || !ol_iscontiguous(x)) ol_error(L, "optim_rowcol_sum: x must be contiguous with the parameter's size");
    float *out[2] = {NULL, NULL};
    const int64_t size[2] = {R, C};
    for (int i = 0; i < 2; i++) {
        if (lua_isnoneornil(L, 3 + i)) continue;
        OLTensor *t = ol_checktensor(L, 3 + i);
        if (!ol_iscontiguous(t) || ol_numel(t) != size[i])
            ol_error(L, "optim_rowcol_sum: %s must be contiguous with %lld elements", i ? "cols" : "rows", (long long)size[i]);
        ol_written(t);
        out[i] = ol_data(t);
    }
    ol_prog_rowcol_sum(ol_data(x), R, C, out[0], out[1]);
    return 0;
}

static const luaL_Reg program_funcs[] = {
    {"program", l_program}, {"program_run", l_program_run},
    {"program_slots", l_program_slots}, {"program_slot", l_program_slot},
    {"program_stage", l_program_stage}, {"rowcol_sum", l_rowcol_sum},
    {NULL, NULL}
};

void ol_open_optprog(lua_State *L)
{
    luaL_newmetatable(L, OL_PROGRAM);
    lua_pop(L, 1);
    luaL_newmetatable(L, OL_SLOTS);
    lua_pop(L, 1);
    ol_module(L, "optim", program_funcs);
    lua_getfield(L, -1, "optim");
    lua_createtable(L, 0, OL_OP_COUNT);
    for (int i = 0; i < OL_OP_COUNT; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, ol_prog_op_names[i]);
    }
    lua_setfield(L, -2, "program_ops");
    lua_pop(L, 1);
}
