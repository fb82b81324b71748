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

#define OL_PROGRAM "optlab.OptimProgram"
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

/* C.optim_program_run(prog, values, label, index, p, g, s1, ...): one tensor. */
static int l_program_run(lua_State *L)
{
    Program *pr = luaL_checkudata(L, 1, OL_PROGRAM);
    const OLProg *P = &pr->P;
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *label = luaL_checkstring(L, 3);
    int pi = (int)luaL_checkinteger(L, 4);
    if (lua_gettop(L) != 4 + P->nbufs)
        ol_error(L, "%s: parameter %d: the program takes %d buffers, got %d", label, pi, P->nbufs, lua_gettop(L) - 4);
    double s[OL_PROG_MAXSLOT];
    memcpy(s, pr->consts, (size_t)P->nslots * sizeof *s);
    for (int i = 0; i < pr->ninputs; i++) {
        lua_geti(L, 2, i + 1);
        if (!lua_isnumber(L, -1)) ol_error(L, "%s: program input %d is not a number", label, i + 1);
        s[pr->inputs[i]] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    float *bufs[OL_PROG_MAXBUF];
    char a[160];
    OLTensor *p = ol_totensor(L, 5);
    if (!p) ol_error(L, "%s: parameter %d is not a tensor", label, pi);
    const int64_t n = ol_numel(p);
    for (int i = 0; i < P->nbufs; i++) {
        OLTensor *t = ol_totensor(L, 5 + i);
        if (!t) ol_error(L, "%s: buffer %d of parameter %d is not a tensor (got %s)", label, i + 1, pi, luaL_typename(L, 5 + i));
        /* vector code walks n elements; scalar code touches element 0 only */
        if (!ol_iscontiguous(t) || (P->vecbuf[i] ? ol_numel(t) != n : ol_numel(t) < 1))
            ol_error(L, "%s: buffer %d of parameter %d (shape %s) must be contiguous with %s%lld elements",
                     label, i + 1, pi, ol_shapestr(t, a, sizeof a), P->vecbuf[i] ? "" : "at least ",
                     (long long)(P->vecbuf[i] ? n : 1));
        bufs[i] = ol_data(t);
        for (int j = 0; j < i; j++)
            if (bufs[j] == bufs[i] && (P->vecbuf[i] || P->vecbuf[j]))
                ol_error(L, "%s: parameter %d shares memory with its gradient or state", label, pi);
    }
    for (int i = 0; i < P->nbufs; i++)
        if (i != 1) ol_written(ol_totensor(L, 5 + i));    /* buffer 1 is the gradient */
    if (ol_prog_run(P, s, n, bufs) != 0) ol_error(L, "%s: out of memory", label);
    return 0;
}

static const luaL_Reg program_funcs[] = {
    {"optim_program", l_program}, {"optim_program_run", l_program_run},
    {NULL, NULL}
};

void ol_open_optprog(lua_State *L)
{
    luaL_newmetatable(L, OL_PROGRAM);
    lua_pop(L, 1);
    luaL_setfuncs(L, program_funcs, 0);
    lua_createtable(L, 0, OL_OP_COUNT);
    for (int i = 0; i < OL_OP_COUNT; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, ol_prog_op_names[i]);
    }
    lua_setfield(L, -2, "optim_program_ops");
}
