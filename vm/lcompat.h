/* The few Lua 5.2+ API calls the bindings use, mapped onto LuaJIT's Lua 5.1
 * API, so that an optional LuaJIT build stays cheap. */
#ifndef OL_LCOMPAT_H
#define OL_LCOMPAT_H
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM < 502
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, l))
#define lua_rawlen lua_objlen
#define lua_setuservalue lua_setfenv
#define lua_getuservalue lua_getfenv
#define luaL_setfuncs(L, l, nup) luaL_register(L, NULL, l)
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata(L, sz)
#define lua_getiuservalue(L, i, n) (lua_getfenv(L, i), lua_type(L, -1))
#define lua_setiuservalue(L, i, n) (lua_setfenv(L, i), 1)
#define LUA_OK 0
static inline int lua_isinteger(lua_State *L, int i)
{
    if (!lua_isnumber(L, i)) return 0;
    lua_Number n = lua_tonumber(L, i);
    return n == (lua_Number)(lua_Integer)n;
}
#endif
#endif
