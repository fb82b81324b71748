/* The C API the bindings are written against is Lua 5.4's. This header maps
 * the parts they use onto LuaJIT 2.1's Lua 5.1 API (`make LUA=luajit`), so the
 * bindings have no #ifs of their own. Every binding includes it (via host.h).
 *
 * LuaJIT 2.1 already has most of 5.2's auxiliary API whatever its build
 * options (luaL_setfuncs, luaL_newlib, luaL_testudata, luaL_traceback,
 * luaL_setmetatable, lua_tonumberx, lua_tointegerx, luaL_loadbufferx), so
 * only the rest is here. Debian's LuaJIT builds leave LUAJIT_ENABLE_LUA52COMPAT
 * off (table.pack/unpack absent, # ignores __len); nothing here relies on it.
 *
 * Semantics kept from 5.4 where 5.1 differs:
 *  - lua_isinteger / lua_tointegerx: a number with an integral value in
 *    int64 range (LuaJIT has one number type; 5.4's 3.0 is "not an integer",
 *    here it is one: scripts may write 3 or 3.0 alike, see README "Two VMs").
 *    lua_tointegerx refuses 2.5, as 5.4 does, instead of truncating.
 *  - lua_getfield, lua_rawget, lua_rawgeti, lua_gettable, lua_geti return the
 *    type of the value they pushed.
 *  - user values: 5.1 has one environment table per userdata, which defaults
 *    to the creator's globals; a shared empty table in the registry stands for
 *    "no user value", so lua_getiuservalue pushes nil for it as 5.4 does.
 *  - luaL_buffinitsize / luaL_pushresultsize: a userdata as the scratch space.
 *  - lua_resume(L, from, nargs, &nres), lua_rawgetp/setp, luaL_tolstring, and
 *    lua_warning (dropped, as 5.4 does while warnings are off).
 * luaL_Buffer itself differs: 5.4's keeps a slot on the stack from
 * luaL_buffinit on, 5.1's does not, so code must not address stack slots by
 * position while a buffer is open (vm/repl.c joins lines with lua_concat).
 * Lua numbers: lua_Integer is 64-bit on both, but LuaJIT stores every number
 * as a double, so integers beyond 2^53 do not survive a trip through Lua.
 */
#ifndef OL_LCOMPAT_H
#define OL_LCOMPAT_H
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM < 502
#include <luajit.h>
#include <math.h>

#ifdef HAVE_LUA_EXDATA2
#define OL_LUA_RELEASE LUAJIT_VERSION " (OpenResty branch)"
#else
#define OL_LUA_RELEASE LUAJIT_VERSION
#endif
#define OL_LUAJIT 1

#define LUA_OK 0
#define lua_rawlen(L, i) lua_objlen(L, i)
#define luaL_len(L, i) ((lua_Integer)lua_objlen(L, i))
#define lua_pushfail(L) lua_pushnil(L)

/* A macro's own name is not expanded again inside its body, so these call
 * the real 5.1 functions and then report the pushed value's type. */
#define lua_getfield(L, i, k) (lua_getfield(L, i, k), lua_type(L, -1))
#define lua_rawget(L, i) (lua_rawget(L, i), lua_type(L, -1))
#define lua_rawgeti(L, i, n) (lua_rawgeti(L, i, n), lua_type(L, -1))
#define lua_gettable(L, i) (lua_gettable(L, i), lua_type(L, -1))

static inline int lua_absindex(lua_State *L, int i)
{
    return i > 0 || i <= LUA_REGISTRYINDEX ? i : lua_gettop(L) + i + 1;
}

static inline int lua_geti(lua_State *L, int i, lua_Integer n)
{
    i = lua_absindex(L, i);
    lua_pushinteger(L, n);
    return lua_gettable(L, i);
}

static inline int ol_integral(lua_Number n, lua_Integer *out)
{
    /* [-2^63, 2^63): the doubles that convert to int64 without overflow */
    if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0) || n != floor(n)) return 0;
    if (out) *out = (lua_Integer)n;
    return 1;
}

static inline int ol_lua_isinteger(lua_State *L, int i)
{
    return lua_type(L, i) == LUA_TNUMBER && ol_integral(lua_tonumber(L, i), NULL);
}
#define lua_isinteger(L, i) ol_lua_isinteger(L, i)

static inline lua_Integer ol_lua_tointegerx(lua_State *L, int i, int *isnum)
{
    lua_Integer v = 0;
    int ok = lua_isnumber(L, i) && ol_integral(lua_tonumber(L, i), &v);
    if (isnum) *isnum = ok;
    return v;
}
#define lua_tointegerx(L, i, isnum) ol_lua_tointegerx(L, i, isnum)

/* user values */
#define OL_NOUV_KEY "optlab.no_user_value"
static inline void ol_push_nouv(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, OL_NOUV_KEY) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, OL_NOUV_KEY);
}

static inline void *lua_newuserdatauv(lua_State *L, size_t sz, int nuv)
{
    void *p = lua_newuserdata(L, sz);
    if (nuv > 0) { ol_push_nouv(L); lua_setfenv(L, -2); }
    return p;
}

/* Only user value 1 exists. */
static inline int lua_getiuservalue(lua_State *L, int i, int n)
{
    (void)n;
    lua_getfenv(L, i);
    ol_push_nouv(L);
    int none = lua_rawequal(L, -1, -2) || lua_isnil(L, -2);
    lua_pop(L, 1);
    if (none) { lua_pop(L, 1); lua_pushnil(L); }
    return lua_type(L, -1);
}

static inline int lua_setiuservalue(lua_State *L, int i, int n)
{
    (void)n;
    i = lua_absindex(L, i);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); ol_push_nouv(L); }
    return lua_setfenv(L, i);
}

/* Light-userdata keys (5.2+): t[p] without metamethods. */
static inline int lua_rawgetp(lua_State *L, int i, const void *p)
{
    i = lua_absindex(L, i);
    lua_pushlightuserdata(L, (void *)p);
    return lua_rawget(L, i);
}
static inline void lua_rawsetp(lua_State *L, int i, const void *p)
{
    i = lua_absindex(L, i);
    lua_pushlightuserdata(L, (void *)p);
    lua_insert(L, -2);
    lua_rawset(L, i);
}

/* 5.4's lua_resume(L, from, nargs, &nresults); 5.1's leaves the results
 * (all of the thread's stack) on L and has no `from`. Defined before the
 * macro, so this body calls the real 5.1 function. */
static inline int ol_lua_resume(lua_State *L, lua_State *from, int nargs, int *nres)
{
    (void)from;
    int status = lua_resume(L, nargs);
    if (nres) *nres = lua_gettop(L);
    return status;
}
#define lua_resume(L, from, nargs, nres) ol_lua_resume(L, from, nargs, nres)

/* 5.4's warnings are off unless a script turns them on; 5.1 has none. */
#define lua_warning(L, msg, tocont) ((void)(L), (void)(msg), (void)(tocont))

/* luaL_tolstring: tostring(v) with its __tostring, as print shows it. */
static inline const char *luaL_tolstring(lua_State *L, int i, size_t *len)
{
    i = lua_absindex(L, i);
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, i);
    lua_call(L, 1, 1);
    return lua_tolstring(L, -1, len);
}

/* luaL_buffinitsize hands out a userdata of sz bytes; luaL_pushresultsize
 * turns its first n bytes into a string that replaces it. */
static inline char *ol_buffinitsize(lua_State *L, luaL_Buffer *b, size_t sz)
{
    b->L = L;
    return (char *)lua_newuserdata(L, sz);
}
static inline void ol_pushresultsize(luaL_Buffer *b, size_t n)
{
    lua_pushlstring(b->L, (const char *)lua_touserdata(b->L, -1), n);
    lua_remove(b->L, -2);
}
#define luaL_buffinitsize(L, b, sz) ol_buffinitsize(L, b, sz)
#define luaL_pushresultsize(b, n) ol_pushresultsize(b, n)

#else
#define OL_LUA_RELEASE LUA_RELEASE
#define OL_LUAJIT 0
#endif
#endif
