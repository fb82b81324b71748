/* Argument checks shared by the bindings: see lcheck.h. */
#include "lcheck.h"

OLTensor *ol_checkcontig(lua_State *L, int idx)
{
    OLTensor *t = ol_checktensor(L, idx);
    if (ol_iscontiguous(t)) return t;
    t = ol_pushcontiguous(L, idx);
    lua_replace(L, idx);
    return t;
}

OLTensor *ol_optcontig(lua_State *L, int idx)
{
    return lua_isnoneornil(L, idx) ? NULL : ol_checkcontig(L, idx);
}

OLTensor *ol_checkinplace(lua_State *L, int idx, const char *op, const char *what)
{
    OLTensor *t = ol_totensor(L, idx);
    if (!t) ol_error(L, "%s: %s must be a tensor, got %s", op, what, luaL_typename(L, idx));
    if (!ol_iscontiguous(t)) {
        char s[160];
        ol_error(L, "%s: %s (shape %s) is updated in place and must be contiguous", op, what,
                 ol_shapestr(t, s, sizeof s));
    }
    return t;
}

void ol_checksameshape(lua_State *L, const char *op, const OLTensor *a, const char *an,
                       const OLTensor *b, const char *bn)
{
    char s1[160], s2[160];
    if (!ol_sameshape(a, b))
        ol_error(L, "%s: %s %s and %s %s must have the same shape", op, an,
                 ol_shapestr(a, s1, sizeof s1), bn, ol_shapestr(b, s2, sizeof s2));
}

lua_Integer ol_checkrange(lua_State *L, int idx, lua_Integer lo, lua_Integer hi,
                          const char *op, const char *what)
{
    int ok = 0;
    lua_Integer v = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &ok) : 0;
    if (!ok) {
        if (lua_type(L, idx) == LUA_TNUMBER)
            ol_error(L, "%s: %s must be an integer, got %g", op, what, (double)lua_tonumber(L, idx));
        ol_error(L, "%s: %s must be an integer, got %s", op, what, luaL_typename(L, idx));
    }
    if (v < lo || v > hi)
        ol_error(L, "%s: %s out of range, expected %lld..%lld, got %lld", op, what, (long long)lo,
                 (long long)hi, (long long)v);
    return v;
}

lua_Integer ol_optrange(lua_State *L, int idx, lua_Integer dflt, lua_Integer lo, lua_Integer hi,
                        const char *op, const char *what)
{
    return lua_isnoneornil(L, idx) ? dflt : ol_checkrange(L, idx, lo, hi, op, what);
}

double ol_optnum(lua_State *L, int idx, double dflt, const char *op, const char *what)
{
    if (lua_isnoneornil(L, idx)) return dflt;
    if (lua_type(L, idx) != LUA_TNUMBER)
        ol_error(L, "%s: %s must be a number, got %s", op, what, luaL_typename(L, idx));
    return lua_tonumber(L, idx);
}
